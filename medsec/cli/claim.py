"""`medsec claim`: insurance claims from charges to payment."""

import click

from medsec.billing import claims as svc
from medsec.cli.common import pass_app
from medsec.cli.output import output_options, render, say


@click.group()
def claim():
    """Create, scrub, export and track insurance claims; post remittances."""


@claim.command("create")
@click.option("--patient", "patient_id", default=None)
@click.option("--appt", "appt_id", default=None)
@click.option("--rank", type=click.Choice(["primary", "secondary", "tertiary"]), default="primary")
@output_options
@pass_app
def create(app, fmt, patient_id, appt_id, rank):
    """Claims for a patient's (or a visit's) unbilled charges, one per provider."""
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
    """Scrub a claim; a clean draft becomes ready (exit 1 lists every problem)."""
    render(svc.summary_row(svc.validate(app, claim_id)), fmt, svc.COLUMNS)


@claim.command("export")
@click.argument("claim_id")
@click.option("--format", "fmt_name", required=True, help="x12-837p, cms1500 ...")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--no-mark", is_flag=True, help="Do not mark the claim submitted.")
@click.option("--usage", type=click.Choice(["T", "P"]), default="T", help="X12 test or production.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (--format names the document).")
@pass_app
def export(app, claim_id, fmt_name, output, no_mark, usage, as_json):
    """Write one claim in a claim format."""
    from medsec.billing.claim_export import export as run

    result = run(app, [claim_id], fmt_name, output, mark=not no_mark, usage=usage)
    if as_json:
        render(result, "json")
    else:
        say(f"wrote {result['file']} ({result['format']}, control {result['control_number']})")


@claim.command("batch")
@click.option("--payer", required=True)
@click.option("--format", "fmt_name", required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--no-mark", is_flag=True)
@click.option("--usage", type=click.Choice(["T", "P"]), default="T")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (--format names the document).")
@pass_app
def batch(app, payer, fmt_name, output, no_mark, usage, as_json):
    """Every ready claim for a payer in one file (one interchange)."""
    from medsec.billing.claim_export import batch as run

    result = run(app, payer, fmt_name, output, mark=not no_mark, usage=usage)
    if as_json:
        render(result, "json")
    else:
        say(f"wrote {result['file']} ({result['format']}, {len(result['claims'])} claims, "
            f"control {result['control_number']})")


@claim.command("list")
@click.option("--status", default=None)
@click.option("--payer", default=None)
@click.option("--patient", default=None)
@output_options
@pass_app
def list_(app, fmt, status, payer, patient):
    """Claims, filtered by status, payer or patient."""
    render([svc.summary_row(c) for c in svc.list_claims(app, status=status, payer=payer, patient=patient)],
           fmt, svc.COLUMNS)


@claim.command("show")
@click.argument("claim_id")
@output_options
@pass_app
def show(app, fmt, claim_id):
    """One claim with its lines, history and adjudications."""
    record = svc.get_claim(app, claim_id)
    app.audit("read", [record["id"], record["patient_id"]])
    render(record, fmt)


@claim.command("status")
@click.argument("claim_id")
@click.argument("status", type=click.Choice(svc.STATUSES))
@click.option("--note", default="")
@output_options
@pass_app
def status(app, fmt, claim_id, status, note):
    """Move a claim along (accepted, rejected, appealed, closed ...), kept in its history."""
    render(svc.summary_row(svc.set_status(app, claim_id, status, note)), fmt, svc.COLUMNS)


@claim.command("post-remit")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--input-format", default=None)
@click.option("--dry-run", is_flag=True)
@output_options
@pass_app
def post_remit(app, fmt, path, input_format, dry_run):
    """Post a remittance (835): payments, write-offs, patient shares, denials."""
    from medsec.billing.remittances import post

    summary = post(app, path, input_format=input_format, dry_run=dry_run)
    for miss in summary["unmatched"]:
        say(f"unmatched: {miss['claim_id']} ({miss['reason']}), paid {miss['paid']}")
    if fmt == "table":
        render(summary["posted"], fmt, ["claim_id", "status", "paid", "written_off", "patient_responsibility",
                                        "reasons"])
    else:
        render(summary, fmt)
