"""`medsec refill`: refill requests in the physicians' queues, and their decisions."""

import click

from medsec.cli.common import limit_option, pass_app
from medsec.cli.output import output_options, render, say
from medsec.workflows import refills as svc


@click.group()
def refill():
    """Take refill requests; physicians approve or deny them."""


@refill.command("request")
@click.argument("patient_id")
@click.option("--drug", required=True)
@click.option("--dose", required=True, help="Strength and directions, e.g. '20 mg once daily'.")
@click.option("--pharmacy", required=True, help="The pharmacy's name.")
@click.option("--pharmacy-fax", default=None, help="Where the decision is faxed.")
@click.option("--via", type=click.Choice(svc.VIAS), required=True, help="How the request came in.")
@click.option("--for", "physician_id", default=None,
              help="The prescribing physician (default: the physician of the patient's latest visit).")
@click.option("--note", default="")
@output_options
@pass_app
def request(app, fmt, patient_id, drug, dose, pharmacy, pharmacy_fax, via, physician_id, note):
    """Put a refill request in the physician's queue."""
    render(svc.request(app, patient_id, drug=drug, dose=dose, pharmacy=pharmacy, via=via, pharmacy_fax=pharmacy_fax,
                       physician_id=physician_id, note=note), fmt)


@refill.command("list")
@click.option("--for", "for_staff", default=None, help="A physician's queue.")
@click.option("--mine", is_flag=True, help="My queue (--user matched to a staff id, login or email).")
@click.option("--status", type=click.Choice(svc.STATUSES + ["all"]), default="pending")
@click.option("--overdue", is_flag=True, help=f"Pending for more than {svc.DECISION_DAYS} days.")
@click.option("--patient", "patient_id", default=None)
@limit_option
@output_options
@pass_app
def list_(app, fmt, for_staff, mine, status, overdue, patient_id, limit):
    """Refill requests, oldest first."""
    render(svc.list_refills(app, status=status, for_staff=for_staff, mine=mine, overdue=overdue,
                            patient_id=patient_id, limit=limit), fmt, svc.COLUMNS)


@refill.command("show")
@click.argument("refill_id")
@output_options
@pass_app
def show(app, fmt, refill_id):
    """One request with its decision and notices."""
    render(svc.show_refill(app, refill_id), fmt)


def _decide(app, fmt, refill_id, note, approve):
    record = svc.decide(app, refill_id, approve, note)
    for notice in record["notices"]:
        if notice["status"] == "failed":
            say(f"medsec: warning: the {notice['for']} was not told: {notice['reason']} (a task is open for it)")
    render(record, fmt)


@refill.command("approve")
@click.argument("refill_id")
@click.option("--note", default="")
@output_options
@pass_app
def approve(app, fmt, refill_id, note):
    """Approve (physicians only); the pharmacy and the patient are told."""
    _decide(app, fmt, refill_id, note, True)


@refill.command("deny")
@click.argument("refill_id")
@click.option("--note", default="")
@output_options
@pass_app
def deny(app, fmt, refill_id, note):
    """Deny (physicians only); the pharmacy and the patient are told."""
    _decide(app, fmt, refill_id, note, False)
