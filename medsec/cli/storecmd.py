"""The `store` group: moving a practice between a data directory and PostgreSQL."""

import click

from medsec.cli.common import pass_app
from medsec.cli.output import output_options, render, say


@click.group("store")
def store_group():
    """Move the practice to another store.

    \b
    Examples:
      medsec store copy --to postgresql://db.clinic.lan/medsec
      medsec --store postgresql://db.clinic.lan/medsec store copy --to ./clinic
    """


@store_group.command("copy")
@click.option("--to", "target", required=True, metavar="TARGET", type=click.Path(),
              help="A PostgreSQL URL (postgresql://HOST/DB), or a new or empty folder for a data directory.")
@click.option("--force", is_flag=True,
              help="Copy into a target that holds records or configuration (a re-run after an interrupted copy).")
@click.option("--password-env", default=None, metavar="NAME",
              help="With a PostgreSQL TARGET: the environment variable that holds its password.")
@click.option("--batch", default=5000, show_default=True, type=click.IntRange(1, 100_000),
              help="Records per transaction on the target.")
@output_options
@pass_app
def store_copy(app, fmt, target, force, password_env, batch):
    """Copy the whole practice to another store.

    Every record, configuration file, id counter, attachment and audit
    entry of this practice (a data directory or PostgreSQL) goes to TARGET:
    a PostgreSQL database (its store is created when it holds none) or a
    folder that becomes a data directory. A target that holds records or
    configuration already is refused (exit 2) unless --force. Then both are
    compared, kind by kind (count and a SHA-256 of the records): a
    difference is exit 3. An interrupted copy is finished by running it
    again with --force. The URL must not hold a password. Templates and
    the outbox stay in this folder: copy templates/ by hand.

    \b
    Examples:
      medsec store copy --to postgresql://db.clinic.lan/medsec
      medsec store copy --to ./clinic-copy
      medsec store copy --to ./clinic-copy --force --json
    """
    from medsec.practice.storecopy import copy_store, refuse_differences, shown_target

    checked = copy_store(app, target, force=force, password_env=password_env, batch=batch,
                         progress=say)
    render(checked, fmt, ["kind", "count", "match"])
    refuse_differences(checked, target)
    if fmt == "table":
        say(f"copied to {shown_target(target)}")
