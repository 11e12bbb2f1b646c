"""`medsec appt`: the physicians' calendar, from booking to check-out."""

from datetime import timedelta

import click

from medsec import clock
from medsec.cli.common import pass_app
from medsec.cli.options import (
    appt_type_option,
    date_option,
    date_range_options,
    day_span,
    document_path,
    dry_run_option,
    list_options,
    note_option,
    patient_argument,
    patient_option,
    provider_option,
    quiet_option,
    reason_option,
    status_filter_option,
    when_option,
)
from medsec.cli.output import inform, output_options, render, say, table_width
from medsec.errors import InvalidInput
from medsec.scheduling import appointments as svc
from medsec.scheduling import nextfree
from medsec.scheduling import waitlist as wl
from medsec.scheduling.slots import free_slots
from medsec.scheduling.walkins import walk_in

MAX_SLOT_DAYS = 366  # the days `appt slots` searches at most


def _day(app, text, field):
    """A day a command reads, within the horizon (clock.HORIZON_YEARS of today)."""
    return clock.parse_date(text, app.tz, field, horizon=True)


def _range(app, start, end, default_days=0):
    """--from/--to: days within the horizon, in order, spanning no more than it."""
    first = _day(app, start, "--from") if start else app.today()
    last = _day(app, end, "--to") if end else first + timedelta(days=default_days)
    clock.check_range(first, last)
    return first, last


@click.group()
def appt():
    """Book, move and track appointments.

    \b
    Examples:
      medsec appt day tomorrow --provider S1
      medsec appt slots --any --type follow-up --first
      medsec appt book P1 --provider S1 --at "2026-12-02 13:00" --type follow-up
    """


NEXT = "next"  # --at next: the first free slot that fits


def next_search_options(func):
    """--after and --within: where `--at next` looks for the first free slot."""
    func = click.option("--within", default=None, metavar="DURATION",
                        help=f"With --at next: look this far past --after: 10d, 2w, 3m (months) "
                             f"(default: {nextfree.DEFAULT_WITHIN}).")(func)
    return click.option("--after", default=None, metavar="WHEN",
                        help="With --at next: not before this day or time, e.g. 'tue 13:00' (default: now).")(func)


def _slot_chooser():
    """A person at a terminal picks the slot (medsec.cli.names.choose); None in scripts."""
    from medsec.cli.names import choose, interactive

    return choose if interactive(click.get_current_context()) else None


def _next_only(at: str, **given) -> None:
    """Options that go with --at next only: refused with a time (exit 2)."""
    if at.strip().lower() != NEXT:
        named = [f"--{name.replace('_', '-')}" for name, value in given.items() if value]
        if named:
            raise InvalidInput(f"{', '.join(named)} go{'es' if len(named) == 1 else ''} with --at next",
                               hint="give --at next to take the first free slot, or leave them out")


@appt.command("book")
@patient_argument()
@provider_option(help="The provider (a staff id or name); with --at next, default: any who performs the type.")
@click.option("--any", "any_provider", is_flag=True, help="With --at next: whoever is free first (the default).")
@when_option("--at", "at", help="Start, or next: the first free slot that fits", required=True)
@appt_type_option()
@next_search_options
@click.option("--room", default=None, help="A room from practice.yaml (default: any that suits).")
@click.option("--duration", type=click.IntRange(min=1, max=1440), default=None, help="Minutes (default: the type's).")
@click.option("--repeat", default=None, metavar="RRULE", help="A series, e.g. FREQ=WEEKLY;INTERVAL=8;COUNT=6.")
@reason_option(help="The reason for the visit (on the day sheet).")
@note_option()
@click.option("--allow-past", is_flag=True, help="Record a visit that already happened.")
@click.option("--allow-established", is_flag=True,
              help="Book a new-patient type for a patient seen before.")
@output_options
@pass_app
def book(app, fmt, patient_id, provider, any_provider, at, type_name, after, within, room, duration, repeat, reason,
         note, allow_past, allow_established):
    """Book an appointment, or a series.

    Refused (exit 1) if anything overlaps. PATIENT is an id or a name
    (only an exact, unique match is used without asking).
    --at next takes the first free slot that fits, the patient's other
    visits included: with --provider, or any provider who performs the
    type; a person at a terminal is offered the next few to pick from.
    A new-patient type (appointment-types.yaml `new_patient: true`) for
    a patient seen in the last 3 years is refused unless
    --allow-established.

    \b
    Examples:
      medsec appt book P1 --provider S1 --at "2026-12-02 13:00" --type follow-up
      medsec appt book P1 --provider S1 --at "2026-12-03 09:00" --type follow-up \\
          --reason "cough for two weeks"
      medsec appt book "luis oconnell" --type follow-up --at next
      medsec appt book P2 --type follow-up --at next --provider voss --after "tue 13:00" --within 2w
      medsec appt book P3 --provider S9 --at "mon 09:00" --type follow-up \\
          --repeat "FREQ=WEEKLY;COUNT=3"
    """
    _next_only(at, any=any_provider, after=after, within=within)
    if at.strip().lower() == NEXT:
        if provider and any_provider:
            raise InvalidInput("give --provider or --any, not both")
        if repeat or room or allow_past:
            raise InvalidInput("--at next books one visit in a room that is free: leave out --repeat, --room "
                               "and --allow-past", hint="or give the time with --at WHEN")
        if not allow_established:
            svc.refuse_established_now(app, patient_id, type_name)
        records = nextfree.book_next(app, patient_id, type_name=type_name, provider=provider, after=after,
                                     within=within, duration=duration, note=note, choose=_slot_chooser())
        if reason:
            records = [svc.set_reason(app, r["id"], reason) for r in records]
    else:
        if not provider:
            raise InvalidInput("give --provider (a staff id or name)", hint="or --at next for the first free slot")
        records = svc.book(app, patient_id, provider=provider, at=at, type_name=type_name, room=room,
                           duration=duration, note=note, repeat=repeat, allow_past=allow_past, reason=reason,
                           check_new=not allow_established)
    render(records[0] if len(records) == 1 else records, fmt, svc.LIST_COLUMNS)


@appt.command("slots")
@provider_option(help="One provider's slots (a staff id or name); or give --any.")
@click.option("--any", "any_provider", is_flag=True, help="Every provider who performs the type.")
@appt_type_option()
@date_range_options(first="today", last="--days from --from")
@click.option("--days", type=click.IntRange(1, MAX_SLOT_DAYS), default=7, show_default=True,
              help="How many days to search (or give --to).")
@click.option("--first", is_flag=True, help="Only the earliest slot.")
@patient_option(help="Leave out times this patient is already booked.")
@list_options
@output_options
@pass_app
def slots(app, fmt, provider, any_provider, type_name, start, end, days, first, patient, limit):
    """Free slots for a type of appointment.

    \b
    Examples:
      medsec appt slots --provider S1 --type follow-up --from 2026-12-01 --limit 3
      medsec appt slots --any --type follow-up --first
      medsec appt slots --provider S1 --type physical --from mon --to fri
    """
    if bool(provider) == any_provider:
        raise InvalidInput("give --provider ID or --any")
    begin = _day(app, start, "--from") if start else app.today()
    if end:
        if click.get_current_context().get_parameter_source("days") is click.core.ParameterSource.COMMANDLINE:
            raise InvalidInput("give --to or --days, not both")
        last = _day(app, end, "--to")
        clock.check_range(begin, last)
        days = (last - begin).days + 1
        if days > MAX_SLOT_DAYS:
            raise InvalidInput(f"--from {begin} to --to {last} is more than {MAX_SLOT_DAYS} days",
                               hint="search a shorter range")
    found = free_slots(app, provider=provider, type_name=type_name, start=begin,
                       days=days, first=first, patient=patient, limit=limit)
    render(found, fmt, ["start", "end", "provider", "room"])


@appt.command("list")
@date_range_options(first="today", last="the first day; with --patient, two years on")
@provider_option()
@patient_option()
@click.option("--status", default=None, help=f"Only this status: {', '.join(svc.STATUSES)}.")
@list_options
@output_options
@pass_app
def list_(app, fmt, start, end, provider, patient, status, limit):
    """Appointments in a date range.

    \b
    Examples:
      medsec appt list --patient P3
      medsec appt list --from mon --to fri --provider S2 --status booked
    """
    first, last = _range(app, start, end, 365 * 2 if patient and not end else 0)
    render(svc.list_appointments(app, start=first, end=last, provider=provider, patient=patient,
                                 status=status, limit=limit), fmt, svc.LIST_COLUMNS,
           empty=_none_on(first, last, provider))


def _none_on(first, last, provider=None) -> str:
    """What an empty list of appointments says on stderr: 'no appointments on Tue Jan 5'."""
    days = (f"on {clock.day_for_people(first)}" if first == last
            else f"from {clock.day_for_people(first)} to {clock.day_for_people(last)}")
    return f"no appointments {f'for {provider} ' if provider else ''}{days}"


@appt.command("day")
@click.argument("day", required=False)
@provider_option()
@click.option("--send", "send_to", default=None, metavar="STAFF_ID",
              help="Send the sheet as a PDF to this staff member (email, or the printer outbox).")
@click.option("--printer", is_flag=True, help="With --send: to the printer outbox, not by email.")
@list_options
@output_options
@pass_app
def day(app, fmt, day, provider, send_to, printer, limit):
    """The day sheet for DAY (default: today).

    Time, patient, visit type, new or established, reason for the
    visit, status, exam room, balance due, primary coverage (its
    eligibility state, or why it does not cover the day) and provider of
    every visit; JSON and CSV add the type's description, payer and
    eligibility apart, the provider's name and provider_away (the
    provider is on time off that day; "kept: provider away" when
    `staff off --keep` kept the visit). A table narrower than 100
    columns leaves out new/established.

    --send STAFF_ID delivers the sheet as a PDF: by email to the address
    on the roster, or with --printer (or no email channel) to the
    printer outbox; a staff member with no email needs --printer.

    \b
    Examples:
      medsec appt day
      medsec appt day tomorrow --provider S1
      medsec appt day mon --format csv -o monday.csv
      medsec appt day tomorrow --provider S1 --send S1 --printer
    """
    from medsec.reports import daysheet  # billing's accounts: only the day sheet pays for them

    when = _day(app, day, "DAY") if day else app.today()
    if printer and not send_to:
        raise InvalidInput("--printer goes with --send STAFF_ID")
    if send_to:
        if limit:
            raise InvalidInput("--limit does not go with --send: the sheet sent has every visit")
        sent = daysheet.send_day_sheet(app, when, provider, send_to, printer=printer)
        if fmt == "table":
            where = (f"by email to {sent['address']}" if sent["kind"] == "email"
                     else f"to the printer outbox ({sent['delivery_id']})")
            inform(f"day sheet for {clock.day_for_people(when)} ({sent['visits']} visits) sent to {sent['to']} {where}")
        else:
            render(sent, fmt)
        return
    rows = daysheet.day_sheet(app, when, provider, limit)
    render(rows, fmt, daysheet.columns(rows, fmt, table_width()), empty=_none_on(when, when, provider))


@appt.command("show")
@click.argument("appt_id")
@output_options
@pass_app
def show(app, fmt, appt_id):
    """One appointment with its history.

    \b
    Examples:
      medsec appt show A369 --json
    """
    render(svc.show_appointment(app, appt_id), fmt)


@appt.command("status")
@click.argument("appt_id")
@click.argument("status", type=click.Choice(svc.STATUSES))
@reason_option()
@click.option("--room", default=None, help="With roomed: the exam room (one of practice.yaml's rooms).")
@output_options
@pass_app
def status(app, fmt, appt_id, status, reason, room):
    """Move an appointment to another STATUS.

    \b
    Examples:
      medsec appt status A368 confirmed
      medsec appt status A4 roomed
      medsec appt status A4 roomed --room exam1
    """
    render(svc.set_status(app, appt_id, status, reason, room=room), fmt, svc.LIST_COLUMNS)


@appt.command("checkin")
@click.argument("appt_id")
@output_options
@pass_app
def checkin(app, fmt, appt_id):
    """Check a patient in; list the intake missing.

    \b
    Examples:
      medsec appt checkin A4
    """
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
@reason_option(required=True)
@click.option("--series", is_flag=True, help="This and every later occurrence of its series.")
@output_options
@pass_app
def cancel(app, fmt, appt_id, reason, series):
    """Cancel an appointment (or its series).

    Cancellations less than 24 hours ahead are flagged late; the freed slot
    is offered to matching waitlist entries.

    \b
    Examples:
      medsec appt cancel A368 --reason "patient called"
      medsec appt cancel A369 --series --reason "moving away"
    """
    records = svc.cancel(app, appt_id, reason, series)
    _print_offers(records)
    render(records if series else records[0], fmt, svc.LIST_COLUMNS + ["late_cancel"])


@appt.command("reschedule")
@click.argument("appt_id")
@when_option("--at", "at", help="The new start, or next: the first free slot that fits", required=True)
@reason_option()
@click.option("--series", is_flag=True, help="Move this and every later occurrence by the same shift.")
@provider_option(help="Move to this provider (a staff id or name who performs the type).")
@click.option("--any", "any_provider", is_flag=True, help="With --at next: whoever performs the type is free first.")
@next_search_options
@output_options
@pass_app
def reschedule(app, fmt, appt_id, at, reason, series, provider, any_provider, after, within):
    """Move an appointment or the rest of a series.

    --at next moves it to the first free slot that fits (with its
    provider unless --provider or --any, as long as it was); a person at
    a terminal is offered the next few to pick from.

    \b
    Examples:
      medsec appt reschedule A369 --at "2026-12-01 10:30"
      medsec appt reschedule A369 --at next --after "tue 13:00"
      medsec appt reschedule A369 --at "2026-12-01 14:00" --provider S2 \\
          --reason "Dr S9 in surgery"
    """
    _next_only(at, any=any_provider, after=after, within=within)
    if at.strip().lower() == NEXT:
        if provider and any_provider:
            raise InvalidInput("give --provider or --any, not both")
        if series:
            raise InvalidInput("--at next moves one visit; give the time with --at WHEN to move a series")
        records = nextfree.reschedule_next(app, appt_id, provider=provider, any_provider=any_provider, after=after,
                                           within=within, reason=reason, choose=_slot_chooser())
    else:
        records = svc.reschedule(app, appt_id, at, reason, series, provider=provider)
    render(records if series else records[0], fmt, svc.LIST_COLUMNS)


@appt.command("walkin")
@patient_argument()
@provider_option(help="See this provider (a staff id or name).")
@click.option("--any", "any_provider", is_flag=True, help="Whoever is free first (the default).")
@appt_type_option(required=False, default="follow-up")
@output_options
@pass_app
def walkin(app, fmt, patient_id, provider, any_provider, type_name):
    """Fit a walk-in into today's first opening.

    Prints the time, the patients ahead and the expected wait.

    \b
    Examples:
      medsec appt walkin P4
      medsec appt walkin P4 --provider S1 --type new-patient
    """
    record = walk_in(app, patient_id, provider=None if any_provider else provider, type_name=type_name)
    if fmt == "table":
        say(f"{record['id']} with {record['provider']} at {record['start'][11:16]}: "
            f"{record['patients_ahead']} ahead, about {record['expected_wait_minutes']} min wait")
    render(record, fmt)


@appt.command("noshow")
@click.option("--auto", is_flag=True, required=True, help="Mark past unattended visits (for cron).")
@click.option("--grace", type=click.IntRange(0, 240), default=15, show_default=True, help="Minutes late.")
@dry_run_option(help="List the visits it would mark; change nothing.")
@quiet_option
@output_options
@pass_app
def noshow(app, fmt, auto, grace, dry_run):
    """Mark missed visits as no-shows (for cron).

    A booked visit that started more than GRACE minutes ago becomes a no-show.

    \b
    Examples:
      medsec appt noshow --auto --dry-run
      medsec appt noshow --auto --grace 30
    """
    render(svc.mark_no_shows(app, grace, dry_run), fmt, svc.LIST_COLUMNS)


@appt.group("waitlist")
def waitlist():
    """Patients waiting for an earlier appointment.

    \b
    Examples:
      medsec appt waitlist add P2 --type follow-up --provider S1 --before 2026-12-15
      medsec appt waitlist list
    """


@waitlist.command("add")
@patient_argument()
@appt_type_option()
@provider_option(help="Only this provider (a staff id or name; default: any).")
@date_option("--before", help="Only slots up to this day")
@click.option("--times", type=click.Choice(["any", "mornings", "afternoons"]), default="any", show_default=True,
              help="Only slots at these times of day.")
@note_option()
@output_options
@pass_app
def waitlist_add(app, fmt, patient_id, type_name, provider, before, times, note):
    """Put a patient on the waitlist.

    \b
    Examples:
      medsec appt waitlist add P2 --type follow-up --provider S1 --before 2026-12-15
      medsec appt waitlist add P7 --type physical --times mornings
    """
    render(wl.add_entry(app, patient_id, type_name=type_name, provider=provider, before=before,
                        times=times, note=note), fmt)


@waitlist.command("list")
@status_filter_option(["waiting", "removed", "all"], "waiting", "entries")
@date_range_options(first="no limit", last="no limit", what="a patient was added")
@list_options
@output_options
@pass_app
def waitlist_list(app, fmt, status, start, end, limit):
    """The waitlist, oldest first.

    \b
    Examples:
      medsec appt waitlist list --status all --json
      medsec appt waitlist list --from 2026-12-01 --limit 10
    """
    first, last = day_span(app, start, end)
    render(wl.list_entries(app, status, first=first, last=last, limit=limit), fmt, wl.COLUMNS)


@waitlist.command("remove")
@click.argument("entry_id")
@output_options
@pass_app
def waitlist_remove(app, fmt, entry_id):
    """Take an entry off the waitlist.

    \b
    Examples:
      medsec appt waitlist remove W7
    """
    render(wl.remove_entry(app, entry_id), fmt, wl.COLUMNS)


@appt.command("export")
@click.option("--ics", "path", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              callback=document_path, help="The .ics file to write ('-': standard output).")
@provider_option()
@date_range_options(first="today", last="90 days on")
@click.option("--with-ids", is_flag=True, help="Add patient and provider ids (X-MEDSEC-*).")
@quiet_option
@output_options
@pass_app
def export(app, fmt, path, provider, start, end, with_ids):
    """Write appointments to an iCalendar file.

    Patients appear by initials only unless --with-ids.

    \b
    Examples:
      medsec appt export --ics ./week.ics --from 2026-11-30 --to 2026-12-04
      medsec appt export --ics ./s1.ics --provider S1 --with-ids
    """
    from medsec.scheduling.calendar_ics import export_ics  # ~1 ms that the other appt commands need not pay

    first, last = _range(app, start, end, 90)
    render(export_ics(app, path, start=first, end=last, provider=provider, with_ids=with_ids), fmt)


@appt.command("import")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@provider_option(help="The provider (a staff id or name) for events without X-MEDSEC-PROVIDER.")
@dry_run_option()
@quiet_option
@output_options
@pass_app
def import_(app, fmt, path, provider, dry_run):
    """Book the events of an .ics FILE.

    An event whose UID was imported before is skipped.

    \b
    Examples:
      medsec appt import week.ics --dry-run
      medsec appt import week.ics --provider S1
    """
    from medsec.progress import on_terminal
    from medsec.scheduling.calendar_ics import import_ics  # ~1 ms that the other appt commands need not pay

    with on_terminal() as progress:
        summary = import_ics(app, path, provider=provider, dry_run=dry_run, progress=progress)
    render(summary, fmt)
