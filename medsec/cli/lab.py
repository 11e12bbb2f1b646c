"""`medsec lab`: lab and diagnostic orders, their results and the patient's notice."""

import click

from medsec.cli.common import pass_app
from medsec.cli.options import (
    date_option,
    date_range_options,
    day_span,
    dry_run_option,
    list_options,
    note_option,
    patient_argument,
    patient_option,
    quiet_option,
    when_option,
)
from medsec.cli.output import output_options, render, say
from medsec.workflows import lab_results
from medsec.workflows import labs as svc


@click.group()
def lab():
    """Lab orders, until the patient is told.

    Order tests at outside facilities, file their results, and tell the
    patient when the physician has reviewed them.

    \b
    Examples:
      medsec lab order P1 --facility "Quest Boston" --test "Lipid panel" --fasting
      medsec lab list --pending
      medsec lab list --unmatched
    """


@lab.command("order")
@patient_argument()
@click.option("--facility", required=True, help="The lab or imaging center doing the test.")
@click.option("--test", required=True, help="What is ordered, e.g. 'Lipid panel'.")
@date_option("--due", help="Results expected by", default_text=f"{svc.DEFAULT_DUE_DAYS} days from today")
@click.option("--fasting", is_flag=True, help="The patient must fast before the test.")
@when_option("--appt-at", help="The patient's appointment at the facility (status: scheduled)")
@note_option()
@output_options
@pass_app
def order(app, fmt, patient_id, facility, test, due, fasting, appt_at, note):
    """Order a test for a patient.

    The order number is the record id (LB12).

    \b
    Examples:
      medsec lab order P1 --facility "Quest Boston" --test "Lipid panel" --fasting
      medsec lab order P1 --facility "City Imaging" --test "Chest X-ray" --appt-at "fri 10:00"
    """
    render(svc.order(app, patient_id, facility=facility, test=test, due=due, fasting=fasting, appt_at=appt_at,
                     note=note), fmt)


@lab.command("status")
@click.argument("lab_id")
@click.argument("status", type=click.Choice(svc.STATUSES))
@when_option("--appt-at", help="With 'scheduled': the appointment at the facility")
@note_option()
@output_options
@pass_app
def status(app, fmt, lab_id, status, appt_at, note):
    """Move a lab order to another STATUS by hand.

    \b
    Examples:
      medsec lab status LB1 scheduled --appt-at "2026-12-03 08:00"
      medsec lab status LB1 reviewed
    """
    render(svc.set_status(app, lab_id, status, note=note, appt_at=appt_at), fmt)


@lab.command("result")
@click.argument("lab_id")
@click.option("--file", "path", required=True, type=click.Path(dir_okay=False), help="The report, PDF or TIFF.")
@note_option()
@output_options
@pass_app
def result(app, fmt, lab_id, path, note):
    """File a result report with its order.

    The report is stored by content hash; the order becomes resulted.

    \b
    Examples:
      medsec lab result LB1 --file ./lipids.pdf
    """
    render(svc.attach_report(app, lab_id, path, note), fmt)


@lab.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@dry_run_option(help="Show what would match; write nothing.")
@quiet_option
@output_options
@pass_app
def import_(app, fmt, file, dry_run):
    """Import HL7 v2 results (ORU^R01 messages).

    Results that match no order wait in 'medsec lab list --unmatched'.

    \b
    Examples:
      medsec lab import ./results.hl7 --dry-run
      medsec lab import ./results.hl7
    """
    summary = lab_results.import_file(app, file, dry_run=dry_run)
    items = summary.pop("items")
    for item in items:
        if item["status"] == "unmatched":
            say(f"unmatched: {item['placer_number'] or item['filler_number']} ({item['test']}): {item['reason']}")
    render(items if fmt != "table" else summary, fmt, lab_results.RESULT_COLUMNS)


@lab.command("match")
@click.argument("result_id")
@click.option("--order", "order_id", required=True, help="The lab order (LB id) the result belongs to.")
@click.option("--force", is_flag=True, help="File it even though the message names another patient.")
@output_options
@pass_app
def match(app, fmt, result_id, order_id, force):
    """File an unmatched result with its order.

    RESULT_ID is the result's LR id.

    \b
    Examples:
      medsec lab match LR3 --order LB1
    """
    render(lab_results.match(app, result_id, order_id, force=force), fmt)


@lab.command("list")
@click.option("--pending", is_flag=True, help="Orders still waiting for a result.")
@click.option("--overdue", is_flag=True, help="Orders waiting for a result past their due date.")
@click.option("--unmatched", is_flag=True, help="Received results that match no order (LR ids).")
@click.option("--status", type=click.Choice(svc.STATUSES), default=None, help="Only orders with this status.")
@patient_option("patient_id")
@date_range_options(first="no limit", last="no limit", what="an order was placed (--unmatched: a result came in)")
@list_options
@output_options
@pass_app
def list_(app, fmt, pending, overdue, unmatched, status, patient_id, start, end, limit):
    """Lab orders, oldest first.

    With --unmatched, the results that match no order.

    \b
    Examples:
      medsec lab list --pending
      medsec lab list --overdue --patient P1
      medsec lab list --unmatched --from 2026-12-01
    """
    first, last = day_span(app, start, end)
    if unmatched:
        render(lab_results.list_unmatched(app, limit, first=first, last=last), fmt, lab_results.RESULT_COLUMNS)
        return
    render(svc.list_orders(app, status=status, pending=pending, overdue=overdue, patient_id=patient_id,
                           limit=limit, first=first, last=last), fmt, svc.COLUMNS)


@lab.command("show")
@click.argument("record_id")
@output_options
@pass_app
def show(app, fmt, record_id):
    """One lab order, or one received result.

    RECORD_ID is an order (LB id) or a received result (LR id).

    \b
    Examples:
      medsec lab show LB1
      medsec lab show LR3 --json
    """
    record = svc.show(app, record_id)
    if fmt != "table":
        render(record, fmt)
        return
    observations = record.pop("observations")
    render(record, fmt)
    if observations:
        click.echo()
        render(observations, fmt, ["result_id", "code", "name", "value", "units", "range", "flag", "status"])


@lab.command("notify")
@click.argument("lab_id")
@output_options
@pass_app
def notify(app, fmt, lab_id):
    """Tell the patient reviewed results are ready.

    The message, on the patient's channel, carries no result content.

    \b
    Examples:
      medsec lab notify LB1
    """
    render(svc.notify(app, lab_id), fmt)
