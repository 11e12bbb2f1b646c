"""`medsec refill`: refill requests in the physicians' queues, and their decisions."""

import click

from medsec.cli.common import pass_app
from medsec.cli.options import (
    date_range_options,
    day_span,
    list_options,
    mine_option,
    note_option,
    patient_argument,
    patient_option,
    provider_option,
    status_filter_option,
)
from medsec.cli.output import output_options, render, say
from medsec.workflows import refills as svc


@click.group()
def refill():
    """Refill requests and physicians' decisions.

    \b
    Examples:
      medsec refill request P1 --drug atorvastatin --dose "20 mg once daily" --pharmacy "CVS Main St" --via phone
      medsec refill list --mine
      medsec refill approve RX1 --note "90 days, 1 refill"
    """


@refill.command("request")
@patient_argument()
@click.option("--drug", required=True, help="The medication, e.g. atorvastatin.")
@click.option("--dose", required=True, help="Strength and directions, e.g. '20 mg once daily'.")
@click.option("--pharmacy", required=True, help="The pharmacy's name.")
@click.option("--pharmacy-fax", default=None, help="Where the decision is faxed.")
@click.option("--via", type=click.Choice(svc.VIAS), required=True, help="How the request came in.")
@provider_option(param="physician_id", was="--for",
                 help="The prescribing physician (default: the physician of the patient's latest visit).")
@note_option()
@output_options
@pass_app
def request(app, fmt, patient_id, drug, dose, pharmacy, pharmacy_fax, via, physician_id, note):
    """Queue a refill request for the physician.

    \b
    Examples:
      medsec refill request P1 --drug atorvastatin --dose "20 mg once daily" \\
          --pharmacy "CVS Main St" --pharmacy-fax 617-555-0177 --via phone
    """
    render(svc.request(app, patient_id, drug=drug, dose=dose, pharmacy=pharmacy, via=via, pharmacy_fax=pharmacy_fax,
                       physician_id=physician_id, note=note), fmt)


@refill.command("list")
@provider_option(param="for_staff", help="Only this physician's queue (a staff id or name).", was="--for")
@mine_option("my queue")
@status_filter_option(svc.STATUSES + ["all"], "pending", "requests")
@click.option("--overdue", is_flag=True, help=f"Pending for more than {svc.DECISION_DAYS} days.")
@patient_option("patient_id")
@date_range_options(first="no limit", last="no limit", what="a refill was requested")
@list_options
@output_options
@pass_app
def list_(app, fmt, for_staff, mine, status, overdue, patient_id, start, end, limit):
    """Refill requests, oldest first.

    \b
    Examples:
      medsec refill list
      medsec refill list --mine --overdue
      medsec refill list --provider S1 --status all --from 2026-12-01
    """
    first, last = day_span(app, start, end)
    render(svc.list_refills(app, status=status, for_staff=for_staff, mine=mine, overdue=overdue,
                            patient_id=patient_id, limit=limit, first=first, last=last), fmt, svc.COLUMNS)


@refill.command("show")
@click.argument("refill_id")
@output_options
@pass_app
def show(app, fmt, refill_id):
    """One request with its decision and notices.

    \b
    Examples:
      medsec refill show RX1
    """
    render(svc.show_refill(app, refill_id), fmt)


def _decide(app, fmt, refill_id, note, approve):
    record = svc.decide(app, refill_id, approve, note)
    for notice in record["notices"]:
        if notice["status"] == "failed":
            say(f"medsec: warning: the {notice['for']} was not told: {notice['reason']} (a task is open for it)")
    render(record, fmt)


@refill.command("approve")
@click.argument("refill_id")
@note_option(help="A note for the pharmacy and the patient.")
@output_options
@pass_app
def approve(app, fmt, refill_id, note):
    """Approve a refill (physicians only).

    The pharmacy and the patient are told.

    \b
    Examples:
      medsec refill approve RX1 --note "90 days, 1 refill"
    """
    _decide(app, fmt, refill_id, note, True)


@refill.command("deny")
@click.argument("refill_id")
@note_option(help="A note for the pharmacy and the patient.")
@output_options
@pass_app
def deny(app, fmt, refill_id, note):
    """Deny a refill (physicians only).

    The pharmacy and the patient are told.

    \b
    Examples:
      medsec refill deny RX1 --note "needs a visit first"
    """
    _decide(app, fmt, refill_id, note, False)
