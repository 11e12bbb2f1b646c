"""`medsec appt`: the physicians' calendar, from booking to check-out."""

from datetime import timedelta

import click

from medsec.cli.common import limit_option, pass_app
from medsec.cli.output import output_options, render, say
from medsec.scheduling import appointments as svc


def _range(app, start, end, default_days=0):
    first = app.parse_date(start, "--from") if start else app.today()
    last = app.parse_date(end, "--to") if end else first + timedelta(days=default_days)
    return first, last


@click.group()
def appt():
    """Book, move and track appointments."""


@appt.command("book")
@click.argument("patient_id")
@click.option("--provider", required=True, help="Staff id of the provider.")
@click.option("--at", "at", required=True, help="When: '2026-12-01 09:30', 'tue 14:00', or a slot's start.")
@click.option("--type", "type_name", required=True, help="Appointment type (appointment-types.yaml).")
@click.option("--room", default=None, help="A room from practice.yaml (default: any that suits).")
@click.option("--duration", type=click.IntRange(min=1, max=1440), default=None, help="Minutes (default: the type's).")
@click.option("--repeat", default=None, metavar="RRULE", help="A series, e.g. FREQ=WEEKLY;INTERVAL=8;COUNT=6.")
@click.option("--note", default="")
@click.option("--allow-past", is_flag=True, help="Record a visit that already happened.")
@output_options
@pass_app
def book(app, fmt, patient_id, provider, at, type_name, room, duration, repeat, note, allow_past):
    """Book an appointment (or a series); refused if anything overlaps."""
    records = svc.book(app, patient_id, provider=provider, at=at, type_name=type_name, room=room,
                       duration=duration, note=note, repeat=repeat, allow_past=allow_past)
    render(records[0] if len(records) == 1 else records, fmt, svc.LIST_COLUMNS)


@appt.command("slots")
@click.option("--provider", default=None, help="One provider's slots.")
@click.option("--any", "any_provider", is_flag=True, help="Every provider who performs the type.")
@click.option("--type", "type_name", required=True)
@click.option("--from", "start", default=None, help="First day (default: today).")
@click.option("--days", type=click.IntRange(1, 366), default=7, show_default=True)
@click.option("--first", is_flag=True, help="Only the earliest slot.")
@click.option("--patient", default=None, help="Leave out times the patient is already booked.")
@limit_option
@output_options
@pass_app
def slots(app, fmt, provider, any_provider, type_name, start, days, first, patient, limit):
    """Free slots for a type of appointment."""
    from medsec.scheduling.slots import free_slots

    if bool(provider) == any_provider:
        from medsec.errors import InvalidInput

        raise InvalidInput("give --provider ID or --any")
    found = free_slots(app, provider=provider, type_name=type_name,
                       start=app.parse_date(start, "--from") if start else app.today(),
                       days=days, first=first, patient=patient, limit=limit)
    render(found, fmt, ["start", "end", "provider", "room"])


@appt.command("list")
@click.option("--from", "start", default=None, help="First day (default: today).")
@click.option("--to", "end", default=None, help="Last day (default: the first).")
@click.option("--provider", default=None)
@click.option("--patient", default=None)
@click.option("--status", default=None)
@limit_option
@output_options
@pass_app
def list_(app, fmt, start, end, provider, patient, status, limit):
    """Appointments in a date range."""
    first, last = _range(app, start, end, 365 * 2 if patient and not end else 0)
    render(svc.list_appointments(app, start=first, end=last, provider=provider, patient=patient,
                                 status=status, limit=limit), fmt, svc.LIST_COLUMNS)


@appt.command("day")
@click.argument("day", required=False)
@click.option("--provider", default=None)
@output_options
@pass_app
def day(app, fmt, day, provider):
    """The day sheet: time, patient, type, status, room, balance due."""
    from medsec.reports.daysheet import day_sheet

    when = app.parse_date(day, "DAY") if day else app.today()
    render(day_sheet(app, when, provider), fmt,
           ["time", "id", "patient", "patient_id", "type", "status", "room", "balance_due", "provider"])


@appt.command("show")
@click.argument("appt_id")
@output_options
@pass_app
def show(app, fmt, appt_id):
    """One appointment with its history."""
    render(svc.show_appointment(app, appt_id), fmt)


@appt.command("status")
@click.argument("appt_id")
@click.argument("status", type=click.Choice(svc.STATUSES))
@click.option("--reason", default="")
@output_options
@pass_app
def status(app, fmt, appt_id, status, reason):
    """Move an appointment along: confirmed, arrived, roomed, seen, checked-out ..."""
    render(svc.set_status(app, appt_id, status, reason), fmt, svc.LIST_COLUMNS)


@appt.command("checkin")
@click.argument("appt_id")
@output_options
@pass_app
def checkin(app, fmt, appt_id):
    """Check a patient in and list the intake still missing."""
    record = svc.checkin(app, appt_id)
    if fmt == "table":
        say(f"{record['id']} arrived; missing: {', '.join(record['missing_intake']) or 'nothing'}")
    render(record, fmt)


def _print_offers(records):
    for record in records:
        for offer in record.get("waitlist_offers", []):
            say(f"waitlist {offer['waitlist_id']}: offer {offer['slot']} to {offer['patient_id']}")


@appt.command("cancel")
@click.argument("appt_id")
@click.option("--reason", required=True)
@click.option("--series", is_flag=True, help="This and every later occurrence of its series.")
@output_options
@pass_app
def cancel(app, fmt, appt_id, reason, series):
    """Cancel (late cancellations under 24 h are flagged); offers the slot to the waitlist."""
    records = svc.cancel(app, appt_id, reason, series)
    _print_offers(records)
    render(records if series else records[0], fmt, svc.LIST_COLUMNS + ["late_cancel"])


@appt.command("reschedule")
@click.argument("appt_id")
@click.option("--at", "at", required=True)
@click.option("--reason", default="")
@click.option("--series", is_flag=True, help="Move this and every later occurrence by the same shift.")
@click.option("--provider", default=None, help="Move to this provider (who must perform the type).")
@output_options
@pass_app
def reschedule(app, fmt, appt_id, at, reason, series, provider):
    """Move an appointment (or the rest of its series), to another provider with --provider."""
    records = svc.reschedule(app, appt_id, at, reason, series, provider=provider)
    render(records if series else records[0], fmt, svc.LIST_COLUMNS)


@appt.command("walkin")
@click.argument("patient_id")
@click.option("--provider", default=None)
@click.option("--any", "any_provider", is_flag=True, help="Whoever is free first (the default).")
@click.option("--type", "type_name", default="follow-up", show_default=True)
@output_options
@pass_app
def walkin(app, fmt, patient_id, provider, any_provider, type_name):
    """Fit a walk-in into today's earliest opening and estimate the wait."""
    from medsec.scheduling.walkins import walk_in

    record = walk_in(app, patient_id, provider=None if any_provider else provider, type_name=type_name)
    if fmt == "table":
        say(f"{record['id']} with {record['provider']} at {record['start'][11:16]}: "
            f"{record['patients_ahead']} ahead, about {record['expected_wait_minutes']} min wait")
    render(record, fmt)


@appt.command("noshow")
@click.option("--auto", is_flag=True, required=True, help="Mark past unattended visits (for cron).")
@click.option("--grace", type=click.IntRange(0, 240), default=15, show_default=True, help="Minutes late.")
@click.option("--dry-run", is_flag=True)
@output_options
@pass_app
def noshow(app, fmt, auto, grace, dry_run):
    """Mark booked visits that started over GRACE minutes ago as no-shows."""
    render(svc.mark_no_shows(app, grace, dry_run), fmt, svc.LIST_COLUMNS)


@appt.group("waitlist")
def waitlist():
    """Patients waiting for an earlier appointment."""


@waitlist.command("add")
@click.argument("patient_id")
@click.option("--type", "type_name", required=True)
@click.option("--provider", default=None, help="Only this provider (default: any).")
@click.option("--before", default=None, help="Only slots up to this date.")
@click.option("--times", type=click.Choice(["any", "mornings", "afternoons"]), default="any")
@click.option("--note", default="")
@output_options
@pass_app
def waitlist_add(app, fmt, patient_id, type_name, provider, before, times, note):
    """Put a patient on the waitlist."""
    from medsec.scheduling import waitlist as wl

    render(wl.add_entry(app, patient_id, type_name=type_name, provider=provider, before=before,
                        times=times, note=note), fmt)


@waitlist.command("list")
@click.option("--status", type=click.Choice(["waiting", "removed", "all"]), default="waiting")
@output_options
@pass_app
def waitlist_list(app, fmt, status):
    """The waitlist, oldest first."""
    from medsec.scheduling import waitlist as wl

    render(wl.list_entries(app, status), fmt, wl.COLUMNS)


@waitlist.command("remove")
@click.argument("entry_id")
@output_options
@pass_app
def waitlist_remove(app, fmt, entry_id):
    """Take an entry off the waitlist."""
    from medsec.scheduling import waitlist as wl

    render(wl.remove_entry(app, entry_id), fmt, wl.COLUMNS)


@appt.command("export")
@click.option("--ics", "path", required=True, type=click.Path(dir_okay=False), help="The .ics file to write.")
@click.option("--provider", default=None)
@click.option("--from", "start", default=None, help="First day (default: today).")
@click.option("--to", "end", default=None, help="Last day (default: 90 days on).")
@click.option("--with-ids", is_flag=True, help="Add patient and provider ids (X-MEDSEC-*).")
@output_options
@pass_app
def export(app, fmt, path, provider, start, end, with_ids):
    """Write appointments as an iCalendar file (initials only unless --with-ids)."""
    from medsec.scheduling.calendar_ics import export_ics

    first, last = _range(app, start, end, 90)
    render(export_ics(app, path, start=first, end=last, provider=provider, with_ids=with_ids), fmt)


@appt.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--provider", default=None, help="Provider for events without X-MEDSEC-PROVIDER.")
@click.option("--dry-run", is_flag=True)
@output_options
@pass_app
def import_(app, fmt, path, provider, dry_run):
    """Book the events of an .ics file (a UID seen before is skipped)."""
    from medsec.scheduling.calendar_ics import import_ics

    render(import_ics(app, path, provider=provider, dry_run=dry_run), fmt)
