"""The `store` group: moving a practice between a data directory and PostgreSQL."""

import click

from medsec.cli.common import pass_app
from medsec.cli.options import folder_path, quiet_option, renamed_option
from medsec.cli.output import inform, output_options, render, say


@click.group("store")
def store_group():
    """Move the practice to another store.

    \b
    Examples:
      medsec store copy --into postgresql://db.clinic.lan/medsec
      medsec --store postgresql://db.clinic.lan/medsec store copy --into ./clinic
    """


@store_group.command("copy")
@renamed_option("--into", "target", was="--to", required=True, metavar="TARGET", type=click.Path(),
                callback=folder_path,
                help="A PostgreSQL URL (postgresql://HOST/DB), or a new or empty folder for a data directory.")
@click.option("--force", is_flag=True,
              help="Copy into a target that holds records or configuration (a re-run after an interrupted copy).")
@click.option("--password-env", default=None, metavar="NAME",
              help="With a PostgreSQL TARGET: the environment variable that holds its password.")
@click.option("--batch", default=5000, show_default=True, type=click.IntRange(1, 100_000),
              help="Records per transaction on the target.")
@quiet_option
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
      medsec store copy --into postgresql://db.clinic.lan/medsec
      medsec store copy --into ./clinic-copy
      medsec store copy --into ./clinic-copy --force --json
    """
    from medsec.practice.storecopy import copy_store, refuse_differences, shown_target
    from medsec.progress import asked_to_be_quiet, on_terminal

    with on_terminal() as progress:
        # On a terminal, where the copy is, on one line; elsewhere (a log, a script) a line per
        # batch committed, as before; nothing with --quiet.
        checked = copy_store(app, target, force=force, password_env=password_env, batch=batch,
                             progress=progress.note if progress.enabled else
                             None if asked_to_be_quiet() else say)
    render(checked, fmt, ["kind", "count", "match"])
    refuse_differences(checked, target)
    if fmt == "table":
        inform(f"copied to {shown_target(target)}")
    if app.store.vault is not None:  # (a copy is written plain, whichever store it goes to)
        say("note: the copy is not encrypted at rest: encrypt it there (medsec encrypt; on PostgreSQL, the "
            "database's disk: README)")
