"""`medsec lab`: lab and diagnostic orders, their results and the patient's notice."""

import click

from medsec.cli.common import limit_option, pass_app
from medsec.cli.output import output_options, render, say
from medsec.workflows import labs as svc


@click.group()
def lab():
    """Order tests at outside facilities and follow them until the patient is told."""


@lab.command("order")
@click.argument("patient_id")
@click.option("--facility", required=True, help="The lab or imaging center doing the test.")
@click.option("--test", required=True, help="What is ordered, e.g. 'Lipid panel'.")
@click.option("--due", default=None, help=f"Results expected by (default: {svc.DEFAULT_DUE_DAYS} days from today).")
@click.option("--fasting", is_flag=True, help="The patient must fast before the test.")
@click.option("--appt-at", default=None, help="The patient's appointment at the facility (status: scheduled).")
@click.option("--note", default="")
@output_options
@pass_app
def order(app, fmt, patient_id, facility, test, due, fasting, appt_at, note):
    """Order a test for PATIENT; the order number is the record id (LB12)."""
    render(svc.order(app, patient_id, facility=facility, test=test, due=due, fasting=fasting, appt_at=appt_at,
                     note=note), fmt)


@lab.command("status")
@click.argument("lab_id")
@click.argument("status", type=click.Choice(svc.STATUSES))
@click.option("--appt-at", default=None, help="With 'scheduled': the appointment at the facility.")
@click.option("--note", default="")
@output_options
@pass_app
def status(app, fmt, lab_id, status, appt_at, note):
    """Move an order along by hand (scheduled, collected, reviewed, patient-notified, cancelled)."""
    render(svc.set_status(app, lab_id, status, note=note, appt_at=appt_at), fmt)


@lab.command("result")
@click.argument("lab_id")
@click.option("--file", "path", required=True, type=click.Path(dir_okay=False), help="The report, PDF or TIFF.")
@click.option("--note", default="")
@output_options
@pass_app
def result(app, fmt, lab_id, path, note):
    """File a result report with an order (stored by content hash); the order becomes resulted."""
    render(svc.attach_report(app, lab_id, path, note), fmt)


@lab.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Show what would match; write nothing.")
@output_options
@pass_app
def import_(app, fmt, file, dry_run):
    """Import HL7 v2 ORU^R01 results; unmatched ones wait in 'lab list --unmatched'."""
    from medsec.workflows import lab_results

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
    """File an unmatched result (LR id) with its order."""
    from medsec.workflows import lab_results

    render(lab_results.match(app, result_id, order_id, force=force), fmt)


@lab.command("list")
@click.option("--pending", is_flag=True, help="Orders still waiting for a result.")
@click.option("--overdue", is_flag=True, help="Orders waiting for a result past their due date.")
@click.option("--unmatched", is_flag=True, help="Received results that match no order (LR ids).")
@click.option("--status", type=click.Choice(svc.STATUSES), default=None)
@click.option("--patient", "patient_id", default=None)
@limit_option
@output_options
@pass_app
def list_(app, fmt, pending, overdue, unmatched, status, patient_id, limit):
    """Lab orders, oldest first (or the unmatched results queue)."""
    if unmatched:
        from medsec.workflows import lab_results

        render(lab_results.list_unmatched(app, limit), fmt, lab_results.RESULT_COLUMNS)
        return
    render(svc.list_orders(app, status=status, pending=pending, overdue=overdue, patient_id=patient_id,
                           limit=limit), fmt, svc.COLUMNS)


@lab.command("show")
@click.argument("record_id")
@output_options
@pass_app
def show(app, fmt, record_id):
    """One order with its observations, or one received result (LR id)."""
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
    """Tell the patient their reviewed results are ready (no result content), on their channel."""
    render(svc.notify(app, lab_id), fmt)
