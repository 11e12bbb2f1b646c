"""Encryption at rest: `medsec encrypt`, `medsec rekey`, `security keys`, `security recover`, `outbox`."""

import os

import click

from medsec.cli.common import pass_app
from medsec.cli.options import list_options, output_file_option
from medsec.cli.output import output_options, render, say
from medsec.errors import InvalidInput

_RECOVERY_OUT = click.option(
    "--recovery-key-out", type=click.Path(dir_okay=False), default=None, metavar="FILE",
    help="Write the new recovery key to FILE (a new file, mode 600) instead of printing it.")


def recovery_writer(app, path: str | None):
    """What shows a new recovery key: written to `path` (a new private file outside the data
    directory), else printed on standard output in a box to copy. Checked before anything runs."""
    from medsec.outputs import check_output

    if path is not None:
        target = check_output(path, app.data_dir)
        if os.path.exists(target):
            raise InvalidInput(f"--recovery-key-out: {path} exists; name a new file (a recovery key is never "
                               "written over another)")

        def write(text: str) -> None:
            from medsec.outputs import write_output

            write_output(target, (text + "\n").encode(), data_dir=app.data_dir)
            say(f"recovery key written to {target}: print it, keep it in the safe, delete the file")

        return write

    def show(text: str) -> None:
        click.echo(f"Recovery key (shown once; write it down and keep it in the safe):\n\n    {text}\n")

    return show


def _files_done(progress, doing: str):
    """What `rewrite_files` tells after each batch, as the progress line ("encrypting: 512 files")."""
    return (lambda done: progress.note(f"{doing}: {done:,} files")) if progress.enabled else None


@click.command("encrypt")
@_RECOVERY_OUT
@output_options
@pass_app
def encrypt_command(app, fmt, recovery_key_out):
    """Encrypt the data directory at rest, in place.

    Every record, index, attachment and outbox message is encrypted
    (AES-256-GCM) under one data key, wrapped in a key slot for each staff
    member and service token, and for a recovery key printed once. Safe to
    kill: run it again and it finishes. Other sessions end (sign in again).

    \b
    Examples:
      medsec encrypt
      medsec encrypt --recovery-key-out /media/usb/recovery-key.txt
    """
    from medsec.progress import on_terminal
    from medsec.security.encryption import encrypt

    with on_terminal() as progress:
        summary = encrypt(app, recovery_writer(app, recovery_key_out), _files_done(progress, "encrypting"))
    render(summary, fmt)


@click.command("rekey")
@click.option("--new-recovery-key", is_flag=True,
              help="Also replace the recovery key (the old one then opens only older backups).")
@_RECOVERY_OUT
@output_options
@pass_app
def rekey_command(app, fmt, new_recovery_key, recovery_key_out):
    """Rotate the data key of an encrypted practice.

    Every file is encrypted again under a new data key and every key slot
    given it; other sessions end. Safe to kill: run it again and it
    finishes. The recovery key stays unless --new-recovery-key.

    \b
    Examples:
      medsec rekey
      medsec rekey --new-recovery-key --recovery-key-out /media/usb/recovery-key.txt
    """
    from medsec.security.encryption import rekey

    if recovery_key_out and not new_recovery_key:
        raise InvalidInput("--recovery-key-out is for --new-recovery-key")
    from medsec.progress import on_terminal

    with on_terminal() as progress:
        summary = rekey(app, recovery_writer(app, recovery_key_out), new_recovery_key,
                        _files_done(progress, "re-encrypting"))
    render(summary, fmt)


@click.command("keys")
@output_options
@pass_app
def security_keys(app, fmt):
    """Who holds a key slot to the encrypted data.

    One row per staff member, service token and the recovery key, with the
    data keys its slot opens.

    \b
    Examples:
      medsec security keys
    """
    from medsec.security.encryption import key_slots

    render(key_slots(app), fmt, empty="no key slots: this practice is not encrypted at rest")


@click.command("recover")
@click.argument("staff_id")
@click.option("--recovery-key-file", type=click.Path(dir_okay=False), default=None,
              help="The recovery key, first line of FILE (mode 600); else asked on the terminal.")
@click.option("--passphrase-file", type=click.Path(dir_okay=False), default=None,
              help="The member's new passphrase, first line of FILE (mode 600); else asked twice.")
@output_options
@pass_app
def security_recover(app, fmt, staff_id, recovery_key_file, passphrase_file):
    """Set a passphrase with the recovery key.

    The way back into an encrypted practice when no administrator's
    passphrase is known: the recovery key opens the data key, and
    STAFF_ID gets a new passphrase and a key slot. Audited.

    \b
    Examples:
      medsec security recover S1 --recovery-key-file /media/usb/recovery-key.txt
    """
    from medsec.records.staff import get_staff
    from medsec.security.encryption import read_recovery_key, recover
    from medsec.security.passphrase import check_strength, read_passphrase

    member = get_staff(app, staff_id)
    if member.get("active") is False:
        raise InvalidInput(f"{member['id']} is deactivated: recover an active member")
    secret = read_recovery_key(recovery_key_file)
    text = read_passphrase(file=passphrase_file, fd=None, prompt=f"new passphrase for {member['id']}: ",
                           confirm=passphrase_file is None)
    check_strength(text, staff_id=member["id"], name=str(member.get("name") or ""))
    render(recover(app, secret, member["id"], text), fmt)


@click.group("outbox")
def outbox_group():
    """Messages the outbox channel wrote.

    Letters to print and the messages of dry runs. In a practice
    encrypted at rest they are encrypted: read them here.

    \b
    Examples:
      medsec outbox list
    """


@outbox_group.command("list")
@list_options
@output_options
@pass_app
def outbox_list(app, fmt, limit):
    """List the outbox's messages, newest first.

    \b
    Examples:
      medsec outbox list
    """
    from medsec.store.outbox import messages

    rows = messages(app.store.root)[:limit]
    app.audit("outbox-list")
    render(rows, fmt, empty="the outbox is empty")


@outbox_group.command("show")
@click.argument("name")
@output_file_option()
@pass_app
def outbox_show(app, name, output):
    """Print one outbox message.

    NAME is a file name from `medsec outbox list`; -o writes it to FILE.

    \b
    Examples:
      medsec outbox show letter-0a1b2c3d4e5f6a7b.json
      medsec outbox show letter-0a1b2c3d4e5f6a7b.json -o ~/print/letter.json
    """
    from medsec.outputs import write_output
    from medsec.store.outbox import message

    data = message(app.store.root, name)
    app.audit("outbox-show", [name])
    if output:
        write_output(output, data, data_dir=app.data_dir)
    else:
        click.echo(data, nl=False)  # bytes: written as they are
