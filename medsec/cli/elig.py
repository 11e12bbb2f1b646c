"""`medsec elig`: asking payers whether patients are covered (X12 270 out, 271 in)."""

from datetime import timedelta

import click

from medsec.cli.common import pass_app
from medsec.cli.options import (
    PATIENT,
    date_option,
    date_range_options,
    day_span,
    destination_options,
    dry_run_option,
    list_options,
    patient_option,
    quiet_option,
)
from medsec.cli.output import inform, output_options, render

SERVICE_TYPE_HELP = "X12 service type code to ask about (repeatable; default 30, health benefit plan coverage)."


def _summary(result: dict, fmt: str | None) -> None:
    for skip in result["skipped"]:
        inform(f"skipped {skip['patient_id']}: {skip['reason']}")  # self-pay is no problem for cron
    if fmt:
        render(result, fmt)
    elif result["inquiries"]:
        verb = "sent" if result["transport"] else "wrote"
        inform(f"{verb} {result['file']}: {len(result['inquiries'])} inquiries "
               f"({', '.join(i['id'] for i in result['inquiries'][:10])}"
               f"{' ...' if len(result['inquiries']) > 10 else ''}), control {result['control']}")
    else:
        inform(f"nobody to ask about on {result['service_date']}: nothing written")


@click.group()
def elig():
    """Insurance eligibility checks (270/271).

    Ask payers whether patients' coverages are active on a day (an X12
    270 written for the clearinghouse), then import the payers' answers
    (the 271): each answer sets the coverage's eligibility state, which
    check-in and the day sheet show.

    \b
    Examples:
      medsec elig check P1 --date 2026-11-27 -o ./elig.270
      medsec elig import ./elig.271
    """


@elig.command("check")
@click.argument("patients", nargs=-1, required=True, type=PATIENT, metavar="PATIENT...")
@date_option("--date", "day", help="Service date to ask about", default_text="today")
@click.option("--service-type", "service_types", multiple=True, metavar="CODE", help=SERVICE_TYPE_HELP)
@destination_options("270")
@click.option("--test", "test_file", is_flag=True, help="A test file (X12 ISA15 T).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@quiet_option
@pass_app
def check(app, patients, day, service_types, output, send, clearinghouse, test_file, as_json):
    """Ask payers about patients' coverages.

    One inquiry (EL id, the 270's trace number) per coverage in force on
    the date; patients without one are listed as skipped.

    \b
    Examples:
      medsec elig check P1 P2 --date 2026-11-27 -o ./elig.270
      medsec elig check P1 --service-type 30 --service-type 98 -o ./p1.270
    """
    from medsec.billing.eligibility import check as run  # pluggy and the 270 writer: only here

    on = app.parse_date(day, "--date") if day else app.today()
    result = run(app, list(patients), on, service_types, output=output, send=send, clearinghouse=clearinghouse,
                 usage="T" if test_file else None)
    _summary(result, "json" if as_json else None)


@elig.command("batch")
@date_option("--for", "day", help="Everyone booked that day", default_text="tomorrow")
@click.option("--service-type", "service_types", multiple=True, metavar="CODE", help=SERVICE_TYPE_HELP)
@destination_options("270")
@click.option("--test", "test_file", is_flag=True, help="A test file (X12 ISA15 T).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@quiet_option
@pass_app
def batch(app, day, service_types, output, send, clearinghouse, test_file, as_json):
    """Ask about everyone booked on a day.

    Every patient with a visit that day (cancelled ones left out); for
    cron, with --quiet. Nobody to ask about is not an error: nothing is
    written.

    \b
    Examples:
      medsec elig batch --for tomorrow -o ./tomorrow.270
      medsec elig batch --for tomorrow --send --quiet
    """
    from medsec.billing.eligibility import batch as run  # pluggy and the 270 writer: only here

    on = app.parse_date(day, "--for") if day else app.today() + timedelta(days=1)
    result = run(app, on, output=output, send=send, clearinghouse=clearinghouse, service_types=service_types,
                 usage="T" if test_file else None)
    _summary(result, "json" if as_json else None)


@elig.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@dry_run_option(help="Read and match everything; record nothing.")
@quiet_option
@output_options
@pass_app
def import_(app, fmt, path, dry_run):
    """Import a payer's 271 answer.

    The same as 'medsec clearinghouse import' for a 271: each answer
    goes to its inquiry (by trace) and to the patient's coverage; a file
    already imported is refused (exit 1); answers that match nothing are
    listed on stderr and kept on the file's record.

    \b
    Examples:
      medsec elig import ./elig.271 --dry-run
      medsec elig import ./elig.271
    """
    from medsec.cli.clearinghouse import import_and_show

    import_and_show(app, fmt, path, dry_run, expect="271")


@elig.command("list")
@patient_option()
@click.option("--status", type=click.Choice(["sent", "answered"]), default=None,
              help="Only inquiries still waiting (sent) or answered.")
@date_range_options(first="no limit", last="no limit", what="an inquiry was made")
@list_options
@output_options
@pass_app
def list_(app, fmt, patient, status, start, end, limit):
    """Eligibility inquiries, newest first.

    \b
    Examples:
      medsec elig list --status sent
      medsec elig list --patient P1 --json
    """
    from medsec.billing.eligibility import COLUMNS, list_inquiries

    first, last = day_span(app, start, end)
    render(list_inquiries(app, patient=patient, status=status, first=first, last=last, limit=limit), fmt, COLUMNS,
           empty="no eligibility inquiries")


@elig.command("show")
@click.argument("el_id", metavar="EL_ID")
@output_options
@pass_app
def show(app, fmt, el_id):
    """One inquiry and the payer's answer.

    \b
    Examples:
      medsec elig show EL1
    """
    from medsec.billing.eligibility import get_inquiry

    render(get_inquiry(app, el_id), fmt)
