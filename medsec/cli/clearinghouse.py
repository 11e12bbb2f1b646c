"""`medsec clearinghouse`: the X12 files exchanged with the clearinghouse and payers."""

import click

from medsec.cli.common import pass_app
from medsec.cli.options import date_range_options, day_span, dry_run_option, list_options, quiet_option
from medsec.cli.output import inform, output_options, render, say

# What a file's record says of it: sent (out), imported or posted (in), and what a 999 said of a batch.
FILE_STATUSES = ["sent", "imported", "posted", "accepted", "accepted with errors", "partially accepted", "rejected"]


@click.group()
def clearinghouse():
    """Files exchanged with the clearinghouse.

    Import what came back (999 and 277CA acknowledgments, 277 claim status,
    271 eligibility, 835 remittances), each file once.

    \b
    Examples:
      medsec clearinghouse import ./ack.999
    """


@clearinghouse.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@dry_run_option(help="Read and match everything; record nothing.")
@quiet_option
@output_options
@pass_app
def import_(app, fmt, path, dry_run):
    """Import a 999, 277CA, 277, 271 or 835 file.

    What it holds is read from the file itself; a file already imported is
    refused (exit 1). Answers that match nothing are listed on stderr and kept
    on the file's record.

    \b
    Examples:
      medsec clearinghouse import ./ack.999 --dry-run
      medsec clearinghouse import ./claims.277
    """
    import_and_show(app, fmt, path, dry_run)


def import_and_show(app, fmt: str, path: str, dry_run: bool, expect: str | None = None) -> None:
    """Import one received file (`expect`: only that transaction) and print its summary; what
    matched nothing on stderr."""
    from medsec.billing.edi import import_file  # pluggy and the importers: loaded only here

    summary = import_file(app, path, dry_run=dry_run, expect=expect)
    for miss in summary.get("unmatched", []):
        say(f"unmatched: {miss.get('reason') or miss}")
    render(summary, fmt)


@clearinghouse.command("poll")
@click.option("--clearinghouse", "clearinghouse_id", metavar="ID", default=None,
              help="Which clearinghouse (an id of clearinghouses.yaml; default: the first).")
@dry_run_option(help="Fetch and match everything; import nothing.")
@quiet_option
@output_options
@pass_app
def poll(app, fmt, clearinghouse_id, dry_run):
    """Fetch and import every answer waiting.

    Each file is imported once (by its content): one already imported is
    skipped. A file that cannot be imported is listed on stderr and the
    others are still imported (exit 1 at the end). Remote files are deleted
    only with delete_after_import: true in clearinghouses.yaml.

    \b
    Examples:
      medsec clearinghouse poll --dry-run
      medsec clearinghouse poll -q          # from cron
      medsec clearinghouse poll --clearinghouse AVAILITY --json
    """
    from medsec.billing.transports import poll as run  # pluggy and the transport: loaded only here
    from medsec.errors import Refused

    summary = run(app, clearinghouse_id, dry_run=dry_run)
    for done in summary["imported"]:
        if done["unmatched"]:
            say(f"{done['name']}: {done['unmatched']} answers matched nothing (see 'medsec clearinghouse show "
                f"{done['file'] or '...'}')")
    for failed in summary["failed"]:
        say(f"{failed['name']}: {failed['error']}")
    if fmt == "table":
        inform(f"{summary['clearinghouse']}: {summary['waiting']} waiting, {len(summary['imported'])} imported, "
               f"{len(summary['skipped'])} already imported, {len(summary['failed'])} failed"
               + (" (dry run)" if dry_run else ""))
        render(summary["imported"], fmt, ["name", "file", "transaction", "unmatched"], empty="")
    else:
        render(summary, fmt)
    if summary["failed"]:
        raise Refused(f"{len(summary['failed'])} of {summary['waiting']} files not imported")


@clearinghouse.command("list")
@click.option("--direction", type=click.Choice(["in", "out"]), default=None, help="Only files received or sent.")
@click.option("--transaction", default=None, metavar="TYPE", help="Only this transaction: 837P, 999, 277CA, 835 ...")
@click.option("--status", type=click.Choice(FILE_STATUSES), default=None, help="Only files with this status.")
@click.option("--unmatched", is_flag=True, help="Only files holding answers that matched nothing.")
@date_range_options(first="no limit", last="no limit", what="a file was sent or received")
@list_options
@output_options
@pass_app
def list_(app, fmt, direction, transaction, status, unmatched, start, end, limit):
    """Files sent and received, newest first.

    \b
    Examples:
      medsec clearinghouse list
      medsec clearinghouse list --direction in --unmatched --json
    """
    from medsec.billing.transports import COLUMNS, files

    first, last = day_span(app, start, end)
    render(files(app, direction=direction, transaction=transaction, status=status, unmatched=unmatched,
                 first=first, last=last, limit=limit), fmt, COLUMNS, empty="no clearinghouse files")


@clearinghouse.command("show")
@click.argument("file_id", metavar="EF_ID")
@output_options
@pass_app
def show(app, fmt, file_id):
    """One file's record and unmatched answers.

    \b
    Examples:
      medsec clearinghouse show EF1 --json
    """
    from medsec.billing.transports import show as run

    render(run(app, file_id), fmt)


@clearinghouse.command("test")
@click.option("--clearinghouse", "clearinghouse_id", metavar="ID", default=None,
              help="Which clearinghouse (an id of clearinghouses.yaml; default: the first).")
@output_options
@pass_app
def test(app, fmt, clearinghouse_id):
    """Connect and list the files waiting.

    Checks a clearinghouse's settings and credentials; imports nothing.
    A refused login, an unknown host key or no answer is exit 3.

    \b
    Examples:
      medsec clearinghouse test
      medsec clearinghouse test --clearinghouse AVAILITY --json
    """
    from medsec.billing.transports import session

    with session(app, clearinghouse_id) as s:
        waiting = s.inbox()
    render({"clearinghouse": s.id, "transport": s.transport, "connected": True, "waiting": waiting}, fmt)
