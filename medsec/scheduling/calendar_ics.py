"""iCalendar (RFC 5545) export and UID-idempotent import of appointments.

Export writes one VEVENT per appointment, and one per series with RRULE,
EXDATE for cancelled or missing occurrences and RECURRENCE-ID overrides for
occurrences moved on their own. Patient data stays minimal: the type and
the patient's initials, plus X-MEDSEC-* ids only with `with_ids`.
"""

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from medsec import __version__, clock
from medsec.errors import InvalidInput, Refused
from medsec.inputs import ICS, read_input
from medsec.outputs import write_output
from medsec.progress import Progress
from medsec.records.patients import get_patient
from medsec.scheduling import recurrence
from medsec.scheduling.schedule import HOLD, Schedule, conflicts, hold
from medsec.store.catalog import APPOINTMENTS
from medsec.text import clean_text, shown

MAX_UID_CHARS = 255
# The free-text properties of an imported event, with their length limits.
_TEXTS = [("summary", 500, False), ("location", 200, False), ("description", 10_000, True)]
_CONTENT_LINE = re.compile(r"^[A-Za-z0-9-]+(;[A-Za-z0-9-]+=(\"[^\"]*\"|[^;:,\"]*)(,(\"[^\"]*\"|[^;:,\"]*))*)*:")


# -- export -------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def _vtimezone(tzid: str, years: tuple[int, int] | None = None):
    """The VTIMEZONE of `tzid`: its transitions from 1970 to 2038, or only over `years` (first, last)."""
    from icalendar import Timezone

    if years is None:
        return Timezone.from_tzid(tzid)
    return Timezone.from_tzid(tzid, first_date=date(years[0], 1, 1), last_date=date(years[1], 12, 31))


def add_timezones(cal, years: tuple[int, int] | None = None) -> None:
    """Calendar.add_missing_timezones, with each VTIMEZONE built once per process.

    Building one from the tz database takes ~2 ms, paid per reminder otherwise. `years` (first,
    last): a calendar whose events all fall in those years (one appointment's, a year either side)
    carries only their transitions (RFC 5545 3.6.5 needs no more), not the 140 or so of 1970-2038
    that each message would otherwise serialize again.
    """
    for tzid in sorted(cal.get_missing_tzids()):
        try:
            cal.subcomponents.insert(len(cal.timezones), _vtimezone(tzid, years))
        except ValueError:
            continue  # not in the tz database: add_missing_timezones skips it too


def _initials(patient: dict) -> str:
    return "".join(f"{n.strip()[0]}." for n in (patient.get("first", ""), patient.get("last", "")) if n.strip())


def _collect(app, view, start: date, end: date, provider: str | None) -> list[dict]:
    out = []
    day = start
    while day <= end:
        for appt in view.day(APPOINTMENTS, day.isoformat()):
            if provider is None or appt["provider"] == provider:
                out.append(appt)
        day += timedelta(days=1)
    return out


def _series_of(view, series_id: str) -> list[dict]:

    ids = view.lookup("appt-series", series_id)
    return sorted((r for r in view.get_many(APPOINTMENTS, ids) if r.get("series_id") == series_id),
                  key=lambda r: r["series"]["index"])


def _event(appt: dict, patient: dict | None, tz, with_ids: bool, stamp: datetime):
    from icalendar import Event

    event = Event()
    event.add("uid", appt["uid"])
    event.add("dtstamp", stamp)
    event.add("dtstart", clock.stored_moment(appt["start"], tz))
    event.add("dtend", clock.stored_moment(appt["end"], tz))
    who = _initials(patient) if patient else ""
    event.add("summary", f"{appt['type']} - {who}" if who else appt["type"])
    if appt.get("room"):
        event.add("location", appt["room"])
    event.add("status", "CONFIRMED")
    event.add("sequence", max(0, len(appt.get("history") or []) - 1))
    if with_ids:
        event.add("x-medsec-id", appt["id"])
        event.add("x-medsec-provider", appt["provider"])
        event.add("x-medsec-type", appt["type"])
        if appt.get("patient_id"):
            event.add("x-medsec-patient", appt["patient_id"])
    return event


def export_ics(app, path: str, *, start: date, end: date, provider: str | None = None,
               with_ids: bool = False) -> dict:
    from icalendar import Calendar

    schedule = Schedule.load(app)
    tz = schedule.tz
    provider = schedule.member(provider)["id"] if provider else None
    view = app.store.snapshot()
    found = _collect(app, view, start, end, provider)
    stamp = clock.now().astimezone(UTC).replace(microsecond=0)
    cal = Calendar()
    cal.add("prodid", f"-//medsec//medsec {__version__}//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", schedule.practice.get("name", "medsec"))
    patients: dict[str, dict] = {}

    def patient_of(appt):
        pid = appt.get("patient_id")
        if pid and pid not in patients:
            patients[pid] = get_patient(app, pid, view=view)
        return patients.get(pid)

    done_series = set()
    count = 0
    for appt in found:
        if appt.get("series_id"):
            if appt["series_id"] in done_series:
                continue
            done_series.add(appt["series_id"])
            members = _series_of(view, appt["series_id"])
            for event in _series_events(members, patient_of(members[0]), schedule, with_ids, stamp):
                cal.add_component(event)
                count += 1
        elif appt["status"] != "cancelled":
            cal.add_component(_event(appt, patient_of(appt), tz, with_ids, stamp))
            count += 1
    add_timezones(cal)
    write_output(path, cal.to_ical(), data_dir=app.data_dir)
    app.audit("export", [a["id"] for a in found] + list(patients))
    return {"file": path, "events": count, "appointments": len(found), "with_ids": with_ids}


def _original(member: dict) -> str:
    return member.get("recurrence_id") or member["start"]


def _series_events(members: list[dict], patient: dict | None, schedule: Schedule, with_ids: bool, stamp):
    """The master VEVENT (RRULE, EXDATEs) and the moved occurrences' overrides.

    A stored rule this version would refuse (older versions took any) is not
    expanded: the series' visits are written as events of their own instead.
    """
    tz = schedule.tz
    first = members[0]
    dtstart = clock.stored_moment(_original(first), tz)
    rule = recurrence.rule_text(first["series"]["rrule"] or "")
    try:
        starts = recurrence.expand(rule, dtstart.replace(tzinfo=None), schedule.now.date(),
                                   limit=recurrence.MAX_COUNT)
    except InvalidInput:
        return [_event({**m, "uid": f"{m['id']}.{m['uid']}"}, patient, tz, with_ids, stamp)
                for m in members if m["status"] != "cancelled"]
    length = datetime.fromisoformat(first["end"]) - datetime.fromisoformat(first["start"])
    master_record = {**first, "start": clock.iso(dtstart), "end": clock.iso(clock.later(dtstart, length))}
    master = _event(master_record, patient, tz, with_ids, stamp)
    if with_ids:
        master.pop("x-medsec-id")
        master.add("x-medsec-series", first["series_id"])
    from icalendar import vRecur

    master.add("rrule", vRecur.from_ical(rule))
    by_original = {clock.stored_moment(_original(m), tz).replace(tzinfo=None): m for m in members}
    overrides = []
    for moment in starts:
        member = by_original.get(moment)
        local = moment.replace(tzinfo=tz)
        if member is None or member["status"] == "cancelled":
            master.add("exdate", local)
        elif member["start"] != clock.iso(local):
            override = _event(member, patient, tz, with_ids, stamp)
            override.add("recurrence-id", local)
            overrides.append(override)
    return [master, *overrides]


# -- import -------------------------------------------------------------------
def _check_syntax(text: str, path: str) -> None:
    """A malformed content line is reported with its line number."""
    depth = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line[0] in " \t":
            continue  # blank, or a folded continuation
        if not _CONTENT_LINE.match(line):
            raise InvalidInput(f"{path}:{number}: not an iCalendar content line: {shown(line, 60)}")
        name, _, value = line.partition(":")
        if name.upper() == "BEGIN":
            depth.append(value.strip().upper())
        elif name.upper() == "END" and (not depth or depth.pop() != value.strip().upper()):
            raise InvalidInput(f"{path}:{number}: END:{value.strip()} does not close an open component")
    if depth:
        raise InvalidInput(f"{path}: BEGIN:{depth[-1]} is never closed")


def read_events(path: str):
    from icalendar import Calendar

    try:
        text = read_input(path, ICS).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"cannot read {path!r} as text") from None
    _check_syntax(text, path)
    try:
        cal = Calendar.from_ical(text)
    except ValueError as e:
        raise InvalidInput(f"{path}: not a valid calendar: {e}") from None
    return list(cal.walk("VEVENT"))


def _moment(prop, tz, today: date) -> datetime:
    """A DTSTART, DTEND, EXDATE or RECURRENCE-ID as a moment in `tz`, within the horizon."""
    value = getattr(prop, "dt", None)
    if not isinstance(value, datetime):
        raise ValueError("all-day events cannot be booked" if isinstance(value, date) else "not a date and time")
    try:
        moment = value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)
    except OverflowError:
        moment = value.replace(tzinfo=None)  # the edge of the calendar: refused below
    first, last = clock.window_around(today)
    if not first <= moment.date() <= last:
        raise ValueError(f"{value:%Y-%m-%d} is more than {clock.HORIZON_YEARS} years from today")
    return moment


def _span(event, tz, today: date) -> tuple[datetime, datetime]:
    if "dtstart" not in event or "dtend" not in event:
        raise ValueError("an event needs DTSTART and DTEND")
    start, end = _moment(event["dtstart"], tz, today), _moment(event["dtend"], tz, today)
    if end <= start:
        raise ValueError(f"DTEND {end:%Y-%m-%d %H:%M} is not after DTSTART {start:%Y-%m-%d %H:%M}")
    return start, end


# One instance of a calendar event: start, end, the VEVENT it comes from, and
# its RECURRENCE-ID when it is a moved instance of a series.
Occurrence = tuple[datetime, datetime, object, str | None]
MAX_IMPORTED_SERIES = 500  # occurrences of one imported series


def _exdates(master, tz, today: date) -> set[datetime]:
    """The EXDATEs of a series' master event, as naive local moments."""
    found = master.get("exdate")
    groups = found if isinstance(found, list) else [found] if found else []
    return {_moment(d, tz, today).replace(tzinfo=None) for group in groups for d in group.dts}


def _occurrences(master, overrides, tz, today: date) -> list[Occurrence]:
    """(start, end, event, recurrence id) for every instance of one UID."""
    if master is None:
        return [(*_span(o, tz, today), o, None) for o in overrides]
    start, end = _span(master, tz, today)
    rule = _rrule_of(master)
    if rule is None:
        return [(start, end, master, None)]
    exdates = _exdates(master, tz, today)
    moved = {_moment(o["recurrence-id"], tz, today).replace(tzinfo=None): o for o in overrides}
    starts = recurrence.expand(rule, start.replace(tzinfo=None), today, limit=MAX_IMPORTED_SERIES, field="RRULE")
    out: list[Occurrence] = []
    for moment in starts:
        if moment in exdates:
            continue
        local = moment.replace(tzinfo=tz)
        if moment in moved:
            o = moved[moment]
            out.append((*_span(o, tz, today), o, clock.iso(local)))
        else:
            out.append((local, local + (end - start), master, None))
    return out


@dataclass
class _ImportPlan:
    """What a calendar import would book (per UID: its RRULE and its appointments) and what stops it."""

    batches: list[tuple[str | None, list[dict]]] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # bad data (exit 2)
    problems: list[str] = field(default_factory=list)  # double bookings (exit 1)
    skipped: int = 0  # UIDs imported or exported before

    @property
    def total(self) -> int:
        return sum(len(batch) for _, batch in self.batches)


def _by_uid(events: list, path: str) -> dict[str, dict]:
    """The events grouped by UID: the master event and the overrides (RECURRENCE-ID) of each."""
    groups: dict[str, dict] = {}
    for event in events:
        uid = clean_text(event.get("uid") or "", f"{path}: UID", MAX_UID_CHARS)
        if not uid:
            raise InvalidInput(f"{path}: an event has no UID")
        group = groups.setdefault(uid, {"master": None, "overrides": []})
        if "recurrence-id" in event:
            group["overrides"].append(event)
        else:
            group["master"] = event
    return groups


def _event_fields(app, view, schedule: Schedule, uid: str, head, group: dict,
                  default_provider: str | None) -> tuple[str, str, str, list]:
    """(provider, patient id, type, instances) of one UID; InvalidInput names the UID when it cannot be booked."""
    who = str(head.get("x-medsec-provider") or default_provider or "")
    if not who:
        raise InvalidInput(f"{uid}: no X-MEDSEC-PROVIDER; give --provider for events from other calendars")
    try:
        member = schedule.member(who)
        patient_id = str(head.get("x-medsec-patient") or "")
        if patient_id:
            patient_id = get_patient(app, patient_id, view=view)["id"]
        type_name = str(head.get("x-medsec-type") or HOLD)
        schedule.type(type_name)
        for event in filter(None, [group["master"], *group["overrides"]]):
            _check_texts(event)
        instances = _occurrences(group["master"], group["overrides"], schedule.tz, schedule.now.date())
    except (ValueError, KeyError) as e:
        raise InvalidInput(f"{uid}: {e}") from None
    except (InvalidInput, Refused) as e:
        raise InvalidInput(f"{uid}: {e.message}") from None
    return member["id"], patient_id, type_name, instances


def _rrule_of(master) -> str | None:
    """The RRULE of a UID's master event; None for a single event."""
    if not master or "rrule" not in master:
        return None
    rule = master["rrule"]
    if isinstance(rule, list):
        raise ValueError("an event may have one RRULE")
    return rule.to_ical().decode()


def _check_texts(event) -> None:
    """The event's free text holds no control character (InvalidInput naming the property)."""
    for name, limit, multiline in _TEXTS:
        if name in event:
            clean_text(str(event[name]), name.upper(), limit, multiline)


def _place(view, schedule: Schedule, uid: str, fields: tuple, caches: dict) -> tuple[list[dict], list[str]]:
    """The appointments of one UID's instances that are free, and the double bookings of the others.

    `caches` holds a day cache per day (date -> `conflicts`' day_cache): what
    the import has planned so far is held in its day's cache only, since
    each check looks through all of its cache's planned records (one cache
    for the whole import made a 20,000-event import quadratic: a minute).
    """
    provider, patient_id, type_name, instances = fields
    batch, problems = [], []
    for start, end, event, recurrence_id in instances:
        room = str(event.get("location") or "")
        room = room if schedule.room_exists(room) else ""
        cache = caches.setdefault(start.date(), {})
        found = conflicts(view, schedule, provider=provider, patient=patient_id or None, type_name=type_name,
                          start=start, end=end, room=room, day_cache=cache, check_hours=False)
        if found:
            problems.append(f"{uid} at {start:%Y-%m-%d %H:%M}: {'; '.join(found)}")
            continue
        record = {"patient_id": patient_id, "provider": provider, "type": type_name,
                  "start": clock.iso(start), "end": clock.iso(end), "room": room,
                  "recurrence_id": recurrence_id or "", "uid": uid}
        batch.append(record)
        hold(cache, record)
    return batch, problems


def _plan_import(app, view, schedule: Schedule, groups: dict[str, dict], default_provider: str | None,
                 progress: Progress) -> _ImportPlan:
    """What each UID not seen before would book (cancelled events book nothing)."""
    plan = _ImportPlan()
    caches: dict = {}  # date -> that day's cache (see _place)
    progress.start("placing events", len(groups))
    for uid, group in groups.items():
        progress.advance()
        if view.lookup("appt-uid", uid):
            plan.skipped += 1
            continue
        head = group["master"] or group["overrides"][0]
        try:
            fields = _event_fields(app, view, schedule, uid, head, group, default_provider)
        except InvalidInput as e:
            plan.invalid.append(e.message)
            continue
        if str(head.get("status", "")).upper() == "CANCELLED":
            continue
        batch, problems = _place(view, schedule, uid, fields, caches)
        plan.batches.append((_rrule_of(group["master"]), batch))
        plan.problems += problems
    return plan


def _imported_records(app, ids: list[str], batches: list[tuple[str | None, list[dict]]]) -> list[dict]:
    """The appointment records of the planned batches, a series for each batch with an RRULE."""
    stamp = clock.iso(app.now())
    records, cursor = [], iter(ids)
    for rrule, batch in batches:
        batch_ids = [next(cursor) for _ in batch]
        for i, (appt_id, fields) in enumerate(zip(batch_ids, batch, strict=True)):
            series_id = batch_ids[0] if rrule else ""
            records.append({
                "id": appt_id, **fields, "status": "booked", "note": "imported from calendar",
                "series_id": series_id,
                "series": {"rrule": rrule, "index": i, "count": len(batch)} if rrule else None,
                "source": "ics", "created": stamp, "updated": stamp, "checked_in": "",
                "cancel_reason": "", "late_cancel": False,
                "history": [{"at": stamp, "by": app.user, "action": "imported", "status": "booked"}],
            })
    return records


def import_ics(app, path: str, *, provider: str | None = None, dry_run: bool = False,
               progress: Progress | None = None) -> dict:
    """Book the events of a calendar; a UID already imported or exported is skipped. `progress`
    shows each stage on the terminal (medsec.progress)."""
    progress = progress or Progress.off()
    schedule = Schedule.load(app)
    progress.start("reading the calendar")
    events = read_events(path)
    groups = _by_uid(events, path)
    default_provider = schedule.member(provider)["id"] if provider else None
    with app.store.transaction() as txn:
        plan = _plan_import(app, txn, schedule, groups, default_provider, progress)
        if plan.invalid or plan.problems:
            error = InvalidInput if plan.invalid else Refused
            raise error(f"{len(plan.invalid) + len(plan.problems)} event(s) cannot be booked; nothing was imported",
                        details=(plan.invalid + plan.problems)[:50])
        total = plan.total
        ids = [] if dry_run else txn.reserve_ids(APPOINTMENTS, total)
        if not dry_run and total:
            progress.start(f"booking {total:,} appointments")
            records = _imported_records(app, ids, plan.batches)
            txn.put_many(APPOINTMENTS, records)
            app.after_commit(txn, "appointment_booked", records, "appointment")
    if ids:
        app.audit("import", ids)
    return {"file": path, "events": len(events), "booked": 0 if dry_run else len(ids),
            "would_book": total if dry_run else 0, "skipped_known_uids": plan.skipped, "dry_run": dry_run}
