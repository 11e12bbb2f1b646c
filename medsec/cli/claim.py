"""`medsec claim`: insurance claims from charges to payment."""

import click

from medsec.billing import claims as svc
from medsec.cli.choices import ListsValues
from medsec.cli.common import pass_app
from medsec.cli.names import PAYER
from medsec.cli.options import (
    appt_option,
    date_range_options,
    day_span,
    dry_run_option,
    input_format_option,
    list_options,
    note_option,
    output_file_option,
    patient_option,
    quiet_option,
)
from medsec.cli.output import inform, output_options, render, say


def claim_file_options(func):
    """The options `claim export` and `claim batch` share: which format, where, and how."""
    decorators = [
        click.option("--format", "fmt_name", required=True, metavar="NAME", cls=ListsValues, values="claim-formats",
                     help="The claim format: x12-837p, cms1500 ... (see 'medsec plugins')."),
        output_file_option(help="The file to write ('-': standard output).", required=True),
        click.option("--no-mark", is_flag=True, help="Do not mark the claims submitted."),
        click.option("--usage", type=click.Choice(["T", "P"]), default="T", show_default=True,
                     help="X12 test (T) or production (P)."),
        click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (--format names the document)."),
        quiet_option,
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


@click.group()
def claim():
    """Insurance claims from charges to payment.

    Create, scrub, export and track claims; post remittances.

    \b
    Examples:
      medsec claim create --appt A1
      medsec claim validate C1
      medsec claim export C1 --format x12-837p -o ./C1.837
    """


@claim.command("create")
@patient_option("patient_id", help="Claim this patient's unbilled charges.")
@appt_option("appt_id", help="Claim this visit's unbilled charges.")
@click.option("--rank", type=click.Choice(["primary", "secondary", "tertiary"]), default="primary",
              show_default=True, help="Which of the patient's coverages to bill.")
@output_options
@pass_app
def create(app, fmt, patient_id, appt_id, rank):
    """Create claims for unbilled charges.

    One claim per provider, for a patient's or a visit's unbilled charges;
    the scrubber's findings are printed on stderr.

    \b
    Examples:
      medsec claim create --appt A1
      medsec claim create --patient P140 --rank secondary
    """
    created = svc.create_claims(app, patient_id=patient_id, appt_id=appt_id, rank=rank)
    for record in created:
        for problem in svc.scrub(app, record, app.today()):
            say(f"{record['id']}: {problem}")
    render([svc.summary_row(c) for c in created], fmt, svc.COLUMNS)


@claim.command("validate")
@click.argument("claim_id")
@output_options
@pass_app
def validate(app, fmt, claim_id):
    """Scrub a claim; a clean draft becomes ready.

    A claim with problems stays a draft: exit 1, with every problem listed.

    \b
    Examples:
      medsec claim validate C1
    """
    render(svc.summary_row(svc.validate(app, claim_id)), fmt, svc.COLUMNS)


@claim.command("export")
@click.argument("claim_id")
@claim_file_options
@pass_app
def export(app, claim_id, fmt_name, output, no_mark, usage, as_json):
    """Write one claim in a claim format.

    \b
    Examples:
      medsec claim export C1 --format x12-837p -o ./C1.837
      medsec claim export C1 --format cms1500 -o ./C1.pdf --no-mark
    """
    from medsec.billing.claim_export import export as run  # pluggy (~4 ms): claim list and show need not pay

    result = run(app, [claim_id], fmt_name, output, mark=not no_mark, usage=usage)
    if as_json:
        render(result, "json")
    else:
        inform(f"wrote {result['file']} ({result['format']}, control {result['control_number']})")


@claim.command("batch")
@click.option("--payer", type=PAYER, required=True, help="Payer: its id or name from payers.yaml.", cls=ListsValues,
              values="payers")
@claim_file_options
@pass_app
def batch(app, payer, fmt_name, output, no_mark, usage, as_json):
    """Every ready claim for a payer, in one file.

    One file, one interchange.

    \b
    Examples:
      medsec claim batch --payer HARBOR --format x12-837p -o ./harbor.837
    """
    from medsec.billing.claim_export import batch as run  # pluggy (~4 ms): claim list and show need not pay
    from medsec.progress import on_terminal

    with on_terminal() as progress:
        result = run(app, payer, fmt_name, output, mark=not no_mark, usage=usage, progress=progress)
    if as_json:
        render(result, "json")
    else:
        inform(f"wrote {result['file']} ({result['format']}, {len(result['claims'])} claims, "
               f"control {result['control_number']})")


@claim.command("list")
@click.option("--status", default=None, help=f"Only this status: {', '.join(svc.STATUSES)}.")
@click.option("--payer", type=PAYER, default=None, help="Only this payer's (an id or name from payers.yaml).",
              cls=ListsValues, values="payers")
@patient_option()
@date_range_options(first="no limit", last="no limit", what="a claim was created")
@list_options
@output_options
@pass_app
def list_(app, fmt, status, payer, patient, start, end, limit):
    """Claims, filtered by status, payer or patient.

    \b
    Examples:
      medsec claim list --status ready
      medsec claim list --patient P140 --json
      medsec claim list --from 2026-11-01 --to 2026-11-30 --format csv -o november.csv
    """
    first, last = day_span(app, start, end)
    render([svc.summary_row(c) for c in svc.list_claims(app, status=status, payer=payer, patient=patient,
                                                        first=first, last=last, limit=limit)], fmt, svc.COLUMNS)


@claim.command("show")
@click.argument("claim_id")
@output_options
@pass_app
def show(app, fmt, claim_id):
    """One claim: lines, history and adjudications.

    \b
    Examples:
      medsec claim show C1 --json
    """
    record = svc.get_claim(app, claim_id)
    app.audit("read", [record["id"], record["patient_id"]])
    render(record, fmt)


@claim.command("status")
@click.argument("claim_id")
@click.argument("status", type=click.Choice(svc.STATUSES))
@note_option(help="A note for the claim's history.")
@output_options
@pass_app
def status(app, fmt, claim_id, status, note):
    """Move a claim to another STATUS.

    Each change is kept in the claim's history; a change the claim's
    workflow does not allow is refused (exit 1).

    \b
    Examples:
      medsec claim status C1 submitted --note "sent through the payer portal"
    """
    render(svc.summary_row(svc.set_status(app, claim_id, status, note)), fmt, svc.COLUMNS)


@claim.command("post-remit")
@click.argument("path", type=click.Path(dir_okay=False))
@input_format_option("remittance-formats")
@dry_run_option(help="Match and report every payment; post nothing.")
@quiet_option
@output_options
@pass_app
def post_remit(app, fmt, path, input_format, dry_run):
    """Post a remittance file (an X12 835).

    Payments, write-offs, patient shares and denials go to their claims;
    payments that match no claim are listed on stderr.

    \b
    Examples:
      medsec claim post-remit ./era.835 --dry-run
      medsec claim post-remit ./era.835
    """
    from medsec.billing.remittances import post  # pluggy (~4 ms): claim list and show need not pay

    summary = post(app, path, input_format=input_format, dry_run=dry_run)
    for miss in summary["unmatched"]:
        say(f"unmatched: {miss['claim_id']} ({miss['reason']}), paid {miss['paid']}")
    if fmt == "table":
        render(summary["posted"], fmt, ["claim_id", "status", "paid", "written_off", "patient_responsibility",
                                        "reasons"])
    else:
        render(summary, fmt)
