"""`medsec meeting`: staff meetings with iCalendar invitations by email."""

import click

from medsec.cli.common import limit_option, pass_app
from medsec.cli.output import output_options, render, say
from medsec.errors import Refused
from medsec.workflows import meetings as svc


def _render_sent(record: dict, fmt: str) -> None:
    """Print the meeting; exit 1 when an attendee could not be reached (the meeting itself stands)."""
    failed = record.pop("failed")
    render(record, fmt)
    for notice in failed:
        say(f"{notice['staff_id']}: not sent: {notice['reason']}")
    if failed:
        raise Refused(f"{len(failed)} of the {record['id']} notices not sent",
                      hint=f"the meeting is recorded; send again with 'medsec meeting invite {record['id']}'")


@click.group()
def meeting():
    """Schedule staff meetings, list them, cancel them."""


@meeting.command("schedule")
@click.option("--title", required=True)
@click.option("--at", "at", required=True, help="Start, e.g. '2026-12-01 12:00'.")
@click.option("--duration", type=int, default=None, help="Minutes (or give --end).")
@click.option("--end", "until", default=None, help="End time, instead of --duration.")
@click.option("--attendees", required=True, help="Staff ids, comma-separated: S1,S2.")
@click.option("--room", default="", help="A room from practice.yaml.")
@output_options
@pass_app
def schedule(app, fmt, title, at, duration, until, attendees, room):
    """Book a meeting when all attendees and the room are free, and email the invitations.

    When it does not suit everyone, nothing is booked (exit 1) and the next
    time that suits all, within 14 days, is proposed.
    """
    _render_sent(svc.schedule_meeting(app, title=title, at=at, duration=duration, until=until,
                                      attendees=attendees, room=room), fmt)


@meeting.command("list")
@click.option("--from", "start", default=None, help="First day (default: today).")
@click.option("--to", "end", default=None, help="Last day (default: no limit).")
@click.option("--status", type=click.Choice(svc.STATUSES + ["all"]), default="scheduled")
@click.option("--attendee", default=None, help="Only meetings with this staff member.")
@limit_option
@output_options
@pass_app
def list_(app, fmt, start, end, status, attendee, limit):
    """Meetings from today on, earliest first."""
    first = app.parse_date(start, "--from") if start else app.today()
    last = app.parse_date(end, "--to") if end else None
    render(svc.list_meetings(app, start=first, end=last, status=status, attendee=attendee, limit=limit), fmt,
           svc.COLUMNS)


@meeting.command("cancel")
@click.argument("meeting_id")
@output_options
@pass_app
def cancel(app, fmt, meeting_id):
    """Cancel a meeting and email the cancellation (same UID, higher SEQUENCE)."""
    _render_sent(svc.cancel(app, meeting_id), fmt)


@meeting.command("invite")
@click.argument("meeting_id")
@output_options
@pass_app
def invite(app, fmt, meeting_id):
    """Send the invitation (or cancellation) again to attendees it has not reached."""
    _render_sent(svc.invite_again(app, meeting_id), fmt)


@meeting.command("show")
@click.argument("meeting_id")
@output_options
@pass_app
def show(app, fmt, meeting_id):
    """One meeting with every invitation and cancellation sent."""
    record = svc.get_meeting(app, meeting_id)
    app.audit("read", [record["id"]])
    render(record, fmt)
