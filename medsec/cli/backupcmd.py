"""`medsec backup`, `restore` and `upgrade`: the store as a whole, kept, brought back, brought forward."""

import os

import click

from medsec.cli.common import pass_app
from medsec.cli.options import output_path
from medsec.cli.output import output_options, render, say
from medsec.errors import InvalidInput


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False), callback=output_path)
@output_options
@pass_app
def backup_command(app, fmt, file):
    """Back the practice up to a .tar.gz FILE.

    A consistent snapshot, taken while others keep working. A practice kept
    in PostgreSQL is first copied (and verified) into a private temporary
    data directory beside FILE: the backup has the same format, and
    restores into a data directory anywhere.

    \b
    Examples:
      medsec backup ./clinic-backup.tar.gz
    """
    from medsec.store.backup import backup  # tarfile and its compressors (~7 ms): only backup pays for them

    if not app.location.url:
        render(backup(app, file), fmt)
        return
    import tempfile

    from medsec.context import AppContext
    from medsec.practice.storecopy import copy_store, refuse_differences

    with tempfile.TemporaryDirectory(prefix=".medsec-backup-", dir=os.path.dirname(os.path.abspath(file))) as tmp:
        folder = os.path.join(tmp, "practice")
        refuse_differences(copy_store(app, folder), folder)
        summary = backup(AppContext(data_dir=folder, user=app.user, command=app.command), file)
    app.audit("backup")
    render(summary, fmt)


def _refuse_on_postgresql(app, command: str) -> None:
    """A backup is restored into a data directory; onto PostgreSQL it goes with `store copy`."""
    if app.location.url:
        raise InvalidInput(f"{command} replaces a data directory; this practice is kept in PostgreSQL",
                           hint="restore into a new data directory (medsec --data-dir DIR restore FILE), then "
                                "'medsec --data-dir DIR store copy --into URL' into a new database; or use pg_dump "
                                "(docs/postgresql.md)")


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--recovery-key-file", type=click.Path(dir_okay=False), default=None,
              help="An encrypted backup not under this session's key: the recovery key, first line of FILE.")
@output_options
@pass_app
def restore_command(app, fmt, file, recovery_key_file):
    """Replace the data directory with a backup.

    The old data directory is kept aside; a backup made by an older medsec
    is upgraded first. A backup of a practice encrypted at rest is opened
    with the signed-in session's key, or with the recovery key (the
    practice gone, or its key rotated since); one changed outside medsec is
    refused before anything is replaced.

    \b
    Examples:
      medsec restore ./clinic-backup.tar.gz
      medsec restore ./clinic-backup.tar.gz --recovery-key-file /media/usb/recovery-key.txt
    """
    _refuse_on_postgresql(app, "restore")
    from medsec.security.encryption import backup_unlock
    from medsec.store.backup import restore  # tarfile, its compressors (~7 ms): only restore pays for them

    render(restore(app, file, backup_unlock(app, recovery_key_file)), fmt)


@click.command("upgrade")
@output_options
@pass_app
def upgrade_command(app, fmt):
    """Upgrade the store to this medsec.

    Brings a store written by an older medsec to this version; safe to run
    again. On PostgreSQL the migrations run in one transaction under a lock,
    so two terminals cannot upgrade at once. Take a backup first.

    \b
    Examples:
      medsec backup ./before-upgrade.tar.gz
      medsec upgrade
    """
    if app.location.url:
        from medsec.store.postgres import PgStore  # psycopg: only a PostgreSQL store pays for it

        result = dict(PgStore(app.data_dir, app.location.url, app.location.password_env).upgrade())
        where = result["store"]
    else:
        from medsec.store.upgrade import upgrade  # yaml and the migrations (~11 ms): only upgrade pays for them

        result = dict(upgrade(os.path.abspath(app.data_dir)))
        where = result["data_dir"]
    if fmt != "table":
        render(result, fmt)
    elif result["steps"]:
        say(f"upgraded {where} from schema {result['from']} to {result['to']}")
        for step in result["steps"]:
            say(f"  {step}")
    else:
        say(f"{where} is at schema {result['to']}: nothing to do")
