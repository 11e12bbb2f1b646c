"""`medsec call`: phone calls and messages taken at the front desk."""

import click

from medsec.cli.common import limit_option, pass_app
from medsec.cli.output import output_options, render
from medsec.communications import calls as svc


@click.group()
def call():
    """Log calls, assign them, return them, close them."""


@call.command("log")
@click.option("--from", "caller", required=True, help="The caller's number, or a patient id.")
@click.option("--reason", required=True)
@click.option("--for", "for_staff", default=None, help="Staff id the message is for.")
@click.option("--line", type=click.IntRange(1, 99), default=None, help="Phone line it came in on.")
@click.option("--urgent", is_flag=True)
@output_options
@pass_app
def log(app, fmt, caller, reason, for_staff, line, urgent):
    """Take a message (a known number finds its patient)."""
    render(svc.log_call(app, caller=caller, reason=reason, for_staff=for_staff, line=line, urgent=urgent), fmt)


@call.command("list")
@click.option("--status", type=click.Choice(["open", "closed", "all"]), default="open")
@click.option("--mine", is_flag=True, help="Calls for me (--user matched to a staff id, login or email).")
@click.option("--for", "for_staff", default=None)
@limit_option
@output_options
@pass_app
def list_(app, fmt, status, mine, for_staff, limit):
    """Open calls, urgent first, then oldest first."""
    render(svc.list_calls(app, status=status, mine=mine, for_staff=for_staff, limit=limit), fmt, svc.COLUMNS)


@call.command("show")
@click.argument("call_id")
@output_options
@pass_app
def show(app, fmt, call_id):
    """One call with every attempt to return it."""
    record = svc.get_call(app, call_id)
    app.audit("read", [record["id"]] + ([record["patient_id"]] if record["patient_id"] else []))
    render(record, fmt)


@call.command("assign")
@click.argument("call_id")
@click.option("--to", "staff_id", required=True)
@output_options
@pass_app
def assign(app, fmt, call_id, staff_id):
    """Give a call to a staff member."""
    render(svc.assign(app, call_id, staff_id), fmt, svc.COLUMNS)


@call.command("return")
@click.argument("call_id")
@click.option("--note", required=True)
@click.option("--outcome", type=click.Choice(svc.OUTCOMES), default="reached")
@output_options
@pass_app
def return_(app, fmt, call_id, note, outcome):
    """Record an attempt to call back (attempts are kept)."""
    render(svc.return_call(app, call_id, note, outcome), fmt, svc.COLUMNS)


@call.command("close")
@click.argument("call_id")
@click.option("--note", default="")
@output_options
@pass_app
def close(app, fmt, call_id, note):
    """Close a call."""
    render(svc.close(app, call_id, note), fmt, svc.COLUMNS)
