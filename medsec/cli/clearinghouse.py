"""`medsec clearinghouse`: the X12 files exchanged with the clearinghouse and payers."""

import click

from medsec.cli.common import pass_app
from medsec.cli.options import dry_run_option, quiet_option
from medsec.cli.output import output_options, render, say


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
    from medsec.billing.edi import import_file  # pluggy and the importers: loaded only here

    summary = import_file(app, path, dry_run=dry_run)
    for miss in summary.get("unmatched", []):
        say(f"unmatched: {miss.get('reason') or miss}")
    render(summary, fmt)
