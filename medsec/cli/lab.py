"""`medsec lab`: lab and diagnostic orders, their results and the patient's notice."""

import click

from medsec.cli.common import pass_app
from medsec.cli.names import STAFF
from medsec.cli.options import (
    date_option,
    date_range_options,
    day_span,
    dry_run_option,
    list_options,
    note_option,
    output_file_option,
    patient_argument,
    patient_option,
    quiet_option,
    when_option,
)
from medsec.cli.output import inform, output_options, render, say
from medsec.errors import InvalidInput
from medsec.workflows import lab_orders, lab_results
from medsec.workflows import labs as svc


@click.group()
def lab():
    """Lab orders, until the patient is told.

    Order tests at outside labs (ordering physician, diagnoses, LOINC-coded
    tests), print the requisition, send the HL7 order, file the results,
    review them and tell the patient.

    \b
    Examples:
      medsec lab order P1 --physician S1 --dx E78.5 --test LIPID --facility "Quest Boston" --fasting
      medsec lab list --pending
      medsec lab list --unmatched
    """


@lab.command("order")
@patient_argument()
@click.option("--physician", type=STAFF, metavar="STAFF", default=None,
              help="The ordering physician (a staff id or name). Required.")
@click.option("--dx", multiple=True, metavar="CODE", help="A diagnosis (ICD-10-CM), the reason; repeatable.")
@click.option("--test", "tests", multiple=True, metavar="TEST",
              help="A panel (LIPID, CBC, CMP, A1C, TSH ...), a LOINC code, or free text; repeatable.")
@click.option("--lab", "lab_name", default=None, metavar="LAB", help="The performing lab, from labs.yaml.")
@click.option("--facility", default=None, help="Or a lab not in labs.yaml, by name (no interface).")
@date_option("--due", help="Results expected by", default_text=f"{svc.DEFAULT_DUE_DAYS} days from today")
@click.option("--fasting", is_flag=True, help="The patient must fast before the test.")
@when_option("--appt-at", help="The patient's appointment at the facility (status: scheduled)")
@click.option("--send", "send_now", is_flag=True, help="Send the HL7 order to the lab's interface at once.")
@note_option()
@output_options
@pass_app
def order(app, fmt, patient_id, physician, dx, tests, lab_name, facility, due, fasting, appt_at, send_now, note):
    """Order a test for a patient.

    The order number is the record id (LB12). Tests named by a key of the
    bundled table (LIPID, CBC, CMP, BMP, HEPATIC, A1C, TSH, FT4, UA,
    URINE-CULTURE, PSA, GLUCOSE, CREATININE, FERRITIN) carry their LOINC code.

    \b
    Examples:
      medsec lab order P1 --physician S1 --dx E78.5 --test LIPID --facility "Quest Boston" --fasting
      medsec lab order P1 --physician S1 --dx R05.9 --test "Chest X-ray" \\
        --facility "City Imaging" --appt-at "fri 10:00"
    """
    if send_now:  # before the order is written
        lab_orders.check_sendable(app, lab_name, facility)
    record = svc.order(app, patient_id, facility=facility, tests=tests, physician=physician, dx=dx, lab=lab_name,
                       due=due, fasting=fasting, appt_at=appt_at, note=note)
    if send_now:
        sent = lab_orders.send(app, record["id"])
        say(f"{record['id']}: HL7 order {sent['control_id']} sent to {sent['where']}")
        record = svc.get_order(app, record["id"])
    render(record, fmt)


@lab.command("requisition")
@click.argument("lab_id")
@output_file_option(help="Write the requisition PDF to FILE.", required=True)
@pass_app
def requisition(app, lab_id, output):
    """Print a lab order's requisition (PDF).

    Patient, insurance, ordering physician and NPI, diagnoses, tests with
    their LOINC codes, fasting.

    \b
    Examples:
      medsec lab requisition LB1 -o ./requisition-LB1.pdf
    """
    say(f"wrote {lab_orders.requisition(app, lab_id, output)['file']}")


@lab.command("send")
@click.argument("lab_id")
@output_file_option(help="Write the HL7 message to FILE instead of sending it.")
@click.option("--again", is_flag=True, help="Send an order the lab's interface has had once more.")
@output_options
@pass_app
def send(app, fmt, lab_id, output, again):
    """Send a lab order to the lab (HL7 ORM^O01).

    Through the interface labs.yaml gives the order's lab (a transport:
    folder, sftp ...); the order records the message's control id, when
    and where it went. An order sent before is refused (exit 1) unless
    --again: the same order number in a message with a new control id.

    \b
    Examples:
      medsec lab send LB1 -o ./LB1.hl7
      medsec lab send LB1
      medsec lab send LB1 --again
    """
    sent = lab_orders.send(app, lab_id, output=output, again=again)
    if output:  # the file alone: stdout carries nothing
        say(f"wrote {sent['where']} (HL7 order {sent['control_id']})")
        return
    render(sent, fmt)


@lab.command("review")
@click.argument("lab_id")
@click.option("--wording", type=click.Choice(svc.WORDINGS), default=None,
              help=f"The patient notice's wording (default: {svc.DEFAULT_WORDING}).")
@click.option("--message", default="", help="Your own words for the patient's notice.")
@note_option()
@output_options
@pass_app
def review(app, fmt, lab_id, wording, message, note):
    """Mark results reviewed; choose the notice.

    Needs the permission labs.review (physicians; nurses where roles.yaml
    grants it). Closes the review tasks; 'medsec lab notify' then sends
    the patient the chosen wording.

    \b
    Examples:
      medsec lab review LB1 --wording normal
      medsec lab review LB1 --wording abnormal-followup --note "recheck in 6 months"
    """
    render(svc.review(app, lab_id, wording=wording, message=message, note=note), fmt)


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
@click.argument("report", required=False, type=click.Path(dir_okay=False))
@click.option("--file", "path", default=None, type=click.Path(dir_okay=False), help="The report, PDF or TIFF.")
@note_option()
@output_options
@pass_app
def result(app, fmt, lab_id, report, path, note):
    """File a result report with its order.

    The report (PDF or TIFF, as REPORT or --file) is stored by content
    hash; the order becomes resulted and the ordering physician gets a
    review task.

    \b
    Examples:
      medsec lab result LB1 ./lipids.pdf
      medsec lab result LB1 --file ./lipids.pdf
    """
    if bool(report) == bool(path):
        raise InvalidInput("give the report file once: REPORT or --file")
    render(svc.attach_report(app, lab_id, report or path, note), fmt)


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


@lab.command("poll")
@click.option("--lab", "lab_id", metavar="ID", default=None,
              help="Only this lab of labs.yaml (default: every lab with an interface).")
@dry_run_option(help="Fetch and match everything; import nothing.")
@quiet_option
@output_options
@pass_app
def poll(app, fmt, lab_id, dry_run):
    """Fetch and import the results waiting.

    From each lab's interface in labs.yaml (its transport's inbox), every
    file imported as 'medsec lab import' imports it: a message already
    imported is skipped. A file that cannot be imported is listed on stderr
    and the others are still imported (exit 1 at the end). Files are removed
    from the inbox only with delete_after_import: true in the interface.

    \b
    Examples:
      medsec lab poll --dry-run
      medsec lab poll -q          # from cron
    """
    from medsec.errors import Refused

    summary = lab_orders.poll(app, lab_id, dry_run=dry_run)
    for failed in summary["failed"]:
        say(f"{failed['lab']}: {failed['name']}: {failed['error']}")
    if fmt == "table":
        inform(f"{', '.join(summary['labs']) or 'no lab with an interface'}: {summary['waiting']} waiting, "
               f"{len(summary['imported'])} imported, {len(summary['failed'])} failed"
               + (" (dry run)" if dry_run else ""))
        render(summary["imported"], fmt, ["lab", "name", "results", "matched", "unmatched", "skipped_duplicates"],
               empty="")
    else:
        render(summary, fmt)
    if summary["failed"]:
        raise Refused(f"{len(summary['failed'])} of {summary['waiting']} files not imported")


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
