"""`medsec meeting`: staff meetings with iCalendar invitations by email."""

import click

from medsec import clock
from medsec.cli.common import pass_app
from medsec.cli.options import (
    date_range_options,
    list_options,
    reason_option,
    renamed_option,
    staff_option,
    status_filter_option,
    when_option,
)
from medsec.cli.output import output_options, render, say
from medsec.errors import EnvironmentFailure
from medsec.workflows import meetings as svc


def _render_sent(record: dict, fmt: str) -> None:
    """Print the meeting (it is recorded either way) and say who was not reached.

    An attendee with no email address is a warning (exit 0: nothing to retry
    until someone adds it); a channel that failed is the environment (exit 3).
    """
    failed, skipped = record.pop("failed"), record.pop("skipped")
    render(record, fmt)
    for notice in skipped + failed:
        say(f"{notice['staff_id']}: not sent: {notice['reason']}")
    again = f"send again with 'medsec meeting invite {record['id']}'"
    if failed:
        raise EnvironmentFailure(f"{len(failed)} of the {record['id']} notices not sent",
                                 hint=f"the meeting is recorded; {again}")
    if skipped:
        say(f"the meeting is recorded; add the email addresses, then {again}")


@click.group()
def meeting():
    """Staff meetings: schedule, list, cancel.

    \b
    Examples:
      medsec meeting schedule --title "Flu season" --at "2026-12-01 12:00" --duration 45 --staff S1,S2
      medsec meeting list
    """


@meeting.command("schedule")
@click.option("--title", required=True, help="What the meeting is about.")
@when_option("--at", "at", help="Start", required=True)
@click.option("--duration", type=int, default=None, metavar="MINUTES", help="Minutes (or give --end).")
@when_option("--end", "until", help="End, instead of --duration")
@renamed_option("--staff", "attendees", was="--attendees", required=True, metavar="STAFF",
                help="Who attends: staff ids, comma-separated: S1,S2.")
@click.option("--room", default="", help="A room from practice.yaml.")
@click.option("--force", is_flag=True, help="Book it in a break between the attendees' hours (needs --reason).")
@reason_option(help="Why it is forced (everyone agreed), kept with the meeting.")
@output_options
@pass_app
def schedule(app, fmt, title, at, duration, until, attendees, room, force, reason):
    """Book a meeting and email the invitations.

    The meeting is booked when all attendees and the room are free. When it
    does not suit everyone, nothing is booked (exit 1) and the next time that
    suits all, within 14 days, is proposed.

    A meeting in a break between the attendees' hours (the lunch hour) is
    booked with --force and a --reason, kept with the meeting and audited.
    Nothing else is forced: an attendee who is off or already booked (a
    patient's visit or another meeting), a room taken or a closure still
    refuse it.

    \b
    Examples:
      medsec meeting schedule --title "Flu season" --at "2026-12-01 12:00" \\
          --duration 45 --staff S1,S2,S4 --room conference
      medsec meeting schedule --title "Lunch and learn" --at "2026-12-02 12:00" \\
          --duration 45 --staff S1,S2 --force --reason "all agreed at the huddle"
    """
    _render_sent(svc.schedule_meeting(app, title=title, at=at, duration=duration, until=until,
                                      attendees=attendees, room=room, force=force, reason=reason), fmt)


@meeting.command("list")
@date_range_options(first="today", last="no limit")
@status_filter_option(svc.STATUSES + ["all"], "scheduled", "meetings")
@staff_option("attendee", help="Only meetings with this staff member (an id or a name).", was="--attendee")
@list_options
@output_options
@pass_app
def list_(app, fmt, start, end, status, attendee, limit):
    """Meetings from today on, earliest first.

    \b
    Examples:
      medsec meeting list
      medsec meeting list --staff S2 --to +2w
    """
    first = clock.parse_date(start, app.tz, "--from", horizon=True) if start else app.today()
    last = clock.parse_date(end, app.tz, "--to", horizon=True) if end else None
    if last:
        clock.check_range(first, last)
    render(svc.list_meetings(app, start=first, end=last, status=status, attendee=attendee, limit=limit), fmt,
           svc.COLUMNS)


@meeting.command("cancel")
@click.argument("meeting_id")
@output_options
@pass_app
def cancel(app, fmt, meeting_id):
    """Cancel a meeting and email the cancellation.

    The cancellation has the invitation's UID and a higher SEQUENCE, so
    calendars remove the meeting.

    \b
    Examples:
      medsec meeting cancel MT1
    """
    _render_sent(svc.cancel(app, meeting_id), fmt)


@meeting.command("invite")
@click.argument("meeting_id")
@output_options
@pass_app
def invite(app, fmt, meeting_id):
    """Resend a meeting's notices that failed.

    The invitation (or cancellation) goes to the attendees it has not reached.

    \b
    Examples:
      medsec meeting invite MT1
    """
    _render_sent(svc.invite_again(app, meeting_id), fmt)


@meeting.command("show")
@click.argument("meeting_id")
@output_options
@pass_app
def show(app, fmt, meeting_id):
    """One meeting with every notice sent.

    \b
    Examples:
      medsec meeting show MT1 --json
    """
    record = svc.get_meeting(app, meeting_id)
    app.audit("read", [record["id"]])
    render(record, fmt)
