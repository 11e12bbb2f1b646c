"""`medsec call`: phone calls and messages taken at the front desk."""

import click

from medsec.cli.common import pass_app
from medsec.cli.options import (
    date_range_options,
    day_span,
    list_options,
    mine_option,
    note_option,
    patient_option,
    renamed_option,
    staff_option,
    status_filter_option,
    urgent_option,
)
from medsec.cli.output import output_options, render
from medsec.communications import calls as svc
from medsec.errors import InvalidInput


@click.group()
def call():
    """Phone messages: log, assign, return, close.

    \b
    Examples:
      medsec call log --phone 617-555-0100 --reason "refill question" --staff S1 --urgent
      medsec call list --mine
    """


@call.command("log")
@renamed_option("--phone", "phone", was="--from", default=None, metavar="NUMBER",
                help="The caller's number (a patient who has it is found).")
@patient_option(help="The patient who called (an id or a name), instead of --phone.")
@click.option("--reason", required=True, help="What the call is about.")
@staff_option("for_staff", help="Who the message is for (a staff id or name).", was="--for")
@click.option("--line", type=click.IntRange(1, 99), default=None, help="Phone line it came in on.")
@urgent_option()
@output_options
@pass_app
def log(app, fmt, phone, patient, reason, for_staff, line, urgent):
    """Take a phone message.

    Who called is --phone (a caller's number that a patient has finds that
    patient) or --patient.

    \b
    Examples:
      medsec call log --phone 617-555-0100 --reason "refill question" --staff S1 --urgent
      medsec call log --patient P42 --reason "lab results?" --line 2
    """
    if (phone is None) == (patient is None):
        raise InvalidInput("give who called: --phone NUMBER or --patient PATIENT (one of them)")
    caller = patient if patient is not None else phone
    render(svc.log_call(app, caller=caller, reason=reason, for_staff=for_staff, line=line, urgent=urgent), fmt)


@call.command("list")
@status_filter_option(["open", "closed", "all"], "open", "calls")
@mine_option("calls for me")
@staff_option("for_staff", help="Only calls for this staff member (a staff id or name).", was="--for")
@date_range_options(first="no limit", last="no limit", what="a call was taken")
@click.option("--line", type=click.IntRange(1, svc.MAX_LINE), default=None,
              help="Only calls that came in on this phone line.")
@list_options
@output_options
@pass_app
def list_(app, fmt, status, mine, for_staff, start, end, line, limit):
    """Open calls, urgent first, then oldest first.

    Each call shows the phone line it came in on (empty when not given).

    \b
    Examples:
      medsec call list
      medsec call list --mine --json
      medsec call list --line 2
      medsec call list --status closed --staff S4 --from mon -o calls.csv --format csv
    """
    first, last = day_span(app, start, end)
    render(svc.list_calls(app, status=status, mine=mine, for_staff=for_staff, limit=limit, first=first, last=last,
                          line=line), fmt, svc.COLUMNS)


@call.command("show")
@click.argument("call_id")
@output_options
@pass_app
def show(app, fmt, call_id):
    """One call with every attempt to return it.

    \b
    Examples:
      medsec call show T1 --json
    """
    record = svc.get_call(app, call_id)
    app.audit("read", [record["id"]] + ([record["patient_id"]] if record["patient_id"] else []))
    render(record, fmt)


@call.command("link")
@click.argument("call_id")
@patient_option(help="The patient who called (an id or a name).", required=True)
@output_options
@pass_app
def link(app, fmt, call_id, patient):
    """Link a call to the patient who made it.

    For a call from a caller not known then (registered since). A call
    already linked to another patient is refused (exit 1).

    \b
    Examples:
      medsec call link T4 --patient P9
    """
    render(svc.link_patient(app, call_id, patient), fmt, svc.COLUMNS)


@call.command("assign")
@click.argument("call_id")
@staff_option("staff_id", help="Who takes the call over (a staff id or name).", required=True, was="--to")
@output_options
@pass_app
def assign(app, fmt, call_id, staff_id):
    """Give a call to a staff member.

    \b
    Examples:
      medsec call assign T1 --staff S4
    """
    render(svc.assign(app, call_id, staff_id), fmt, svc.COLUMNS)


@call.command("return")
@click.argument("call_id")
@note_option(help="What was said or left.", required=True)
@click.option("--outcome", type=click.Choice(svc.OUTCOMES), default="reached", show_default=True,
              help="How the attempt went.")
@output_options
@pass_app
def return_(app, fmt, call_id, note, outcome):
    """Record an attempt to call back.

    Every attempt is kept with the call.

    \b
    Examples:
      medsec call return T1 --note "left voicemail" --outcome left-message
    """
    render(svc.return_call(app, call_id, note, outcome), fmt, svc.COLUMNS)


@call.command("close")
@click.argument("call_id")
@note_option(help="How it was settled.")
@output_options
@pass_app
def close(app, fmt, call_id, note):
    """Close a call.

    \b
    Examples:
      medsec call close T1 --note "refill sent to pharmacy"
    """
    render(svc.close(app, call_id, note), fmt, svc.COLUMNS)
