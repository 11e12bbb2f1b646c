"""Appointments: booking (single and series), status flow, cancel, reschedule, lists."""

from datetime import date, datetime, timedelta

from medsec import clock
from medsec.errors import InvalidInput, Refused
from medsec.records.coverage import coverage_on
from medsec.records.patients import age_on, get_patient, opened
from medsec.scheduling import recurrence, waitlist
from medsec.scheduling.schedule import (
    HOLD,
    Schedule,
    conflicts,
    find_slots,
    free_room,
    hold,
    needs_room,
    room_free,
)
from medsec.store.catalog import APPOINTMENTS
from medsec.text import shown

STATUSES = ["booked", "confirmed", "arrived", "roomed", "seen", "checked-out", "cancelled", "no-show",
            "left-without-being-seen"]
TRANSITIONS = {
    "booked": {"confirmed", "arrived", "cancelled", "no-show"},
    "confirmed": {"arrived", "cancelled", "no-show"},
    "arrived": {"roomed", "left-without-being-seen"},
    "roomed": {"seen", "left-without-being-seen"},
    "seen": {"checked-out"},
}
LATE_CANCEL = timedelta(hours=24)
MAX_SERIES = 104
# A patient seen (a visit seen or checked out) within this many years before a visit is
# established for it (the CPT rule for new and established patients); anyone else is new.
ESTABLISHED_YEARS = 3
SEEN_STATUSES = ("seen", "checked-out")
LIST_COLUMNS = ["id", "start", "patient_id", "provider", "type", "status", "room"]


# -- reading ----------------------------------------------------------------
def get_appointment(app, appt_id: str, view=None) -> dict:
    found = (view or app.store.snapshot()).require(APPOINTMENTS, appt_id, "appointment", "see 'medsec appt list'")
    return opened(app, found, view)


def show_appointment(app, appt_id: str) -> dict:
    record = get_appointment(app, appt_id)
    app.audit("read", [record["id"], record.get("patient_id")])
    return record


def list_appointments(app, *, start: date, end: date, provider: str | None = None,
                      patient: str | None = None, status: str | None = None,
                      limit: int | None = None) -> list[dict]:
    """Appointments from `start` to `end` (both included), by start time."""
    if end < start:
        raise InvalidInput(f"--to {end} is before --from {start}")
    if status and status not in STATUSES:
        raise InvalidInput(f"unknown status {status!r}", hint=f"one of {', '.join(STATUSES)}")
    view = app.store.snapshot()
    provider = provider.upper() if provider else None
    if patient:
        patient = get_patient(app, patient, view=view)["id"]
        first, last = start.isoformat(), end.isoformat()
        found = [a for a in view.get_many(APPOINTMENTS, view.lookup("appt-patient", patient))
                 if first <= a["start"][:10] <= last]
    else:
        found = [a for i in range((end - start).days + 1)
                 for a in view.day(APPOINTMENTS, (start + timedelta(days=i)).isoformat(), provider)]
    out = []
    for appt in found:
        if provider and appt.get("provider") != provider:
            continue
        if patient and appt.get("patient_id") != patient:  # index hits are verified here
            continue
        if status and appt["status"] != status:
            continue
        out.append(appt)
    out.sort(key=lambda a: (a["start"], a["provider"], int(a["id"][1:])))
    if limit:
        out = out[:limit]
    app.audit("list", {a["id"] for a in out} | {a["patient_id"] for a in out if a.get("patient_id")})
    return out


def last_seen(view, patient_id: str, before: str) -> dict | None:
    """The patient's latest visit seen or checked out that started before `before` (an ISO
    moment) and within ESTABLISHED_YEARS of it, or None: the patient is new for that visit."""
    day = date.fromisoformat(before[:10])
    since = day.replace(year=day.year - ESTABLISHED_YEARS, day=min(day.day, 28) if day.month == 2 else day.day)
    seen = [a for a in view.get_many(APPOINTMENTS, view.lookup("appt-patient", patient_id))
            if a.get("patient_id") == patient_id and a["status"] in SEEN_STATUSES
            and since.isoformat() <= a["start"][:10] and a["start"] < before]
    return max(seen, key=lambda a: a["start"], default=None)


def refuse_established(view, schedule: Schedule, patient_id: str, type_name: str, start: str) -> None:
    """Refused (exit 1) when `type_name` is a new-patient type (appointment-types.yaml
    `new_patient: true`) and the patient was seen before `start` (see last_seen)."""
    if not schedule.type(type_name).get("new_patient"):
        return
    seen = last_seen(view, patient_id, start)
    if seen is None:
        return
    others = [n for n, spec in schedule.types.items() if not spec.get("new_patient") and n != HOLD]
    instead = "follow-up" if "follow-up" in others else (others[0] if others else "another type")
    raise Refused(f"{patient_id} is an established patient (seen {seen['start'][:10]}, {seen['id']}); "
                  f"{type_name} is for new patients",
                  hint=f"book --type {instead}, or give --allow-established to book {type_name} anyway")


def refuse_established_now(app, patient_id: str, type_name: str) -> None:
    """refuse_established for a visit from now on (`appt book --at next`)."""
    view = app.store.snapshot()
    patient = get_patient(app, patient_id, view=view)
    refuse_established(view, Schedule.load(app), patient["id"], type_name, clock.iso(app.now()))


# -- booking ----------------------------------------------------------------
def occurrence_starts(start: datetime, rrule: str | None, tz, today: date) -> list[datetime]:
    """The series' starts at the same local wall-clock time (DST-safe); the rule is checked first."""
    if not rrule:
        return [start]
    naive = recurrence.expand(rrule, start.replace(tzinfo=None), today, limit=MAX_SERIES)
    return [m.replace(tzinfo=tz) for m in naive]


def _next_free_hint(view, schedule: Schedule, provider: str, type_name: str, after: datetime,
                    duration: int | None) -> str:
    slots = find_slots(view, schedule, providers=[provider], type_name=type_name, start_day=after.date(),
                       days=28, duration=duration, not_before=max(after, schedule.now), limit=3)
    if not slots:
        return "no free slot in the next 4 weeks"
    return "next free: " + ", ".join(f"{s.start:%a %Y-%m-%d %H:%M}" for s in slots)


def _check_room(schedule: Schedule, room: str, type_name: str) -> None:
    """A room chosen by hand must exist and be one that can host the type."""
    if not schedule.room_exists(room):
        raise InvalidInput(f"unknown room {room!r}", hint="rooms are listed in practice.yaml")
    allowed = schedule.rooms_for(type_name)
    if allowed and room not in allowed:
        raise InvalidInput(f"room {room} cannot host {type_name} (use {', '.join(allowed)})")


def _plan_occurrences(view, schedule: Schedule, starts: list[datetime], length: timedelta, *, provider: str,
                      patient_id: str, type_name: str, room: str | None) -> tuple[list[tuple], list[str]]:
    """(start, end, room) of each occurrence that can be booked, and why each other one cannot."""
    cache: dict = {}
    planned, problems = [], []
    with_room = needs_room(schedule, type_name)
    for moment in starts:
        end = moment + length
        chosen = room or (free_room(view, schedule, type_name, moment, end, day_cache=cache) if with_room else "")
        if with_room and not chosen:
            problems.append(f"{moment:%Y-%m-%d %H:%M}: no room for {type_name} is free")
            continue
        found = conflicts(view, schedule, provider=provider, patient=patient_id, type_name=type_name,
                          start=moment, end=end, room=chosen or "", day_cache=cache)
        if found:
            problems.append(f"{moment:%Y-%m-%d %H:%M}: {'; '.join(found)}")
            continue
        planned.append((moment, end, chosen or ""))
        # later occurrences of the series must not collide with this one
        hold(cache, {"start": moment.isoformat(), "end": end.isoformat(), "provider": provider,
                     "patient_id": patient_id, "room": chosen or "", "type": type_name})
    return planned, problems


def _not_booked(problems: list[str], wanted: int, hint: str) -> Refused:
    """The refusal: the reason one appointment cannot be booked, or how many of a series' cannot."""
    if wanted == 1:
        return Refused(f"cannot book: {problems[0].split(': ', 1)[1]}", hint=hint)
    return Refused(f"cannot book the series: {len(problems)} of {wanted} occurrences conflict; "
                   f"nothing was booked", hint=hint, details=problems)


def _new_appointments(app, ids: list[str], planned: list[tuple], *, patient_id: str, provider: str,
                      type_name: str, note: str, repeat: str | None, reason: str = "") -> list[dict]:
    """The records of a booking: one per planned (start, end, room), a series when `repeat` is given."""
    instance = app.config("medsec.yaml").get("instance", "local")
    stamp = clock.iso(app.now())
    series_id = ids[0] if repeat else ""
    return [{
        "id": appt_id, "patient_id": patient_id, "provider": provider, "type": type_name,
        "start": clock.iso(moment), "end": clock.iso(end), "room": room, "status": "booked",
        "note": note, "reason": reason, "series_id": series_id,
        "series": {"rrule": repeat, "index": i, "count": len(planned)} if repeat else None,
        "uid": f"{series_id or appt_id}-{instance}@medsec", "source": "medsec",
        "created": stamp, "updated": stamp, "checked_in": "", "cancel_reason": "",
        "late_cancel": False,
        "history": [{"at": stamp, "by": app.user, "action": "booked", "status": "booked"}],
    } for i, (appt_id, (moment, end, room)) in enumerate(zip(ids, planned, strict=True))]


def book(app, patient_id: str, *, provider: str, at: str, type_name: str, room: str | None = None,
         duration: int | None = None, note: str = "", repeat: str | None = None,
         allow_past: bool = False, reason: str = "", check_new: bool = False) -> list[dict]:
    """Book one appointment, or a whole series (all or none). `reason`: the reason for the
    visit (the day sheet shows it); `check_new`: refuse a new-patient type for a patient
    already seen (refuse_established)."""
    schedule = Schedule.load(app)
    start = clock.parse_datetime(at, schedule.tz, "--at")
    schedule.check_performer(provider, type_name)
    length, _ = schedule.length(type_name, duration)
    starts = occurrence_starts(start, repeat, schedule.tz, schedule.now.date())
    if not allow_past and start < schedule.now:
        raise InvalidInput(f"{start:%Y-%m-%d %H:%M} is in the past", hint="use --allow-past to record it")
    if room:
        _check_room(schedule, room, type_name)
    provider = schedule.member(provider)["id"]
    with app.store.transaction() as txn:
        patient = get_patient(app, patient_id, view=txn)
        if patient["status"] != "active":
            raise Refused(f"{patient['id']} is {patient['status']}", hint="restore the patient first")
        if check_new:
            refuse_established(txn, schedule, patient["id"], type_name, clock.iso(start))
        planned, problems = _plan_occurrences(txn, schedule, starts, length, provider=provider,
                                              patient_id=patient["id"], type_name=type_name, room=room)
        if problems:
            hint = _next_free_hint(txn, schedule, provider, type_name, start, duration)
            raise _not_booked(problems, len(starts), hint)
        ids = txn.reserve_ids(APPOINTMENTS, len(planned))
        records = _new_appointments(app, ids, planned, patient_id=patient["id"], provider=provider,
                                    type_name=type_name, note=note, repeat=repeat, reason=reason)
        txn.put_many(APPOINTMENTS, records)
        app.after_commit(txn, "appointment_booked", records, "appointment")
    app.audit("book", ids + [patient["id"]])
    return records


# -- changes ----------------------------------------------------------------
def _history(app, action: str, **fields) -> dict:
    return {"at": clock.iso(app.now()), "by": app.user, "action": action, **fields}


def _series_members(view, appt: dict, from_start: str | None = None) -> list[dict]:
    """The occurrences of appt's series (from `from_start` on), verified."""

    if not appt.get("series_id"):
        return [appt]
    ids = view.lookup("appt-series", appt["series_id"])
    members = [r for r in view.get_many(APPOINTMENTS, ids) if r.get("series_id") == appt["series_id"]]
    if from_start:
        members = [r for r in members if r["start"] >= from_start]
    return sorted(members, key=lambda r: r["start"])


def _exam_room(app, room: str | None, status: str) -> str | None:
    """`--room` of a visit roomed: one of practice.yaml's rooms (bad input otherwise)."""
    if room is None:
        return None
    if status != "roomed":
        raise InvalidInput(f"--room goes with roomed, not {status}", hint="medsec appt status ID roomed --room ROOM")
    schedule = Schedule.load(app)
    known = [str(r["id"]) for r in schedule.practice.get("rooms") or [] if isinstance(r, dict) and "id" in r]
    if not known:
        raise InvalidInput(f"--room {shown(room)}: no rooms are configured",
                           hint="list them in practice.yaml: rooms: [{id: exam1, name: Exam room 1, kind: exam}]")
    if room.strip() not in known:
        raise InvalidInput(f"--room {shown(room)} is not a room of the practice", hint=f"rooms: {', '.join(known)}")
    return room.strip()


def _check_roomed_in(app, room: str, type_name: str) -> None:
    """A visit is roomed where its type is hosted (appointment-types.yaml `rooms`, `room_kind`),
    a visit of a type that names none in an exam room (kind exam, or no kind): not an operating room."""
    schedule = Schedule.load(app)
    suited = schedule.rooms_for(type_name) or [str(r["id"]) for r in schedule.practice.get("rooms") or []
                                               if isinstance(r, dict) and r.get("kind", "exam") == "exam"]
    if room not in suited:
        raise InvalidInput(f"--room {shown(room)} is not a room for a {type_name} visit",
                           hint=f"rooms for it: {', '.join(suited) or 'none'}")


def set_status(app, appt_id: str, status: str, reason: str = "", room: str | None = None) -> dict:
    """Move a visit to `status`; a visit roomed may name its exam `room` (practice.yaml `rooms`)."""
    if status not in STATUSES:
        raise InvalidInput(f"unknown status {status!r}", hint=f"one of {', '.join(STATUSES)}")
    room = _exam_room(app, room, status)
    if status == "cancelled":
        return cancel(app, appt_id, reason)[0]
    now = app.now()
    with app.store.transaction() as txn:
        old = get_appointment(app, appt_id, view=txn)
        if room is not None:  # bad input first, then a refusal
            _check_roomed_in(app, room, old["type"])
        if status not in TRANSITIONS.get(old["status"], set()):
            raise Refused(f"{old['id']} is {old['status']}; it cannot become {status}",
                          hint=_allowed_hint(old["status"]))
        start = clock.stored_moment(old["start"], app.tz)
        if status == "arrived" and start.date() != now.date():
            raise Refused(f"{old['id']} is on {start.date()}; check-in happens on the appointment's day")
        if status == "no-show" and now < start:
            raise Refused(f"{old['id']} has not started yet ({start:%H:%M}); it cannot be a no-show")
        record = {**old, "status": status, "updated": clock.iso(now),
                  "history": old["history"] + [_history(app, "status", status=status, **(
                      {"reason": reason} if reason else {}))]}
        if status == "arrived":
            record["checked_in"] = clock.iso(now)
        if room is not None:
            record["room"] = room
            record["history"][-1]["room"] = room
        txn.put(APPOINTMENTS, record, old)
        app.after_commit(txn, "appointment_status_changed", [record], "appointment", old_status=old["status"])
    app.audit("status", [record["id"], record.get("patient_id")])
    return record


def set_reason(app, appt_id: str, reason: str) -> dict:
    """Record the reason for a visit (the day sheet shows it)."""
    with app.store.transaction() as txn:
        old = get_appointment(app, appt_id, view=txn)
        record = {**old, "reason": reason, "updated": clock.iso(app.now()),
                  "history": old["history"] + [_history(app, "reason", reason=reason)]}
        txn.put(APPOINTMENTS, record, old)
    app.audit("edit", [record["id"], record.get("patient_id")])
    return record


def _allowed_hint(status: str) -> str:
    allowed = sorted(TRANSITIONS.get(status, set()))
    return f"from {status}: {', '.join(allowed)}" if allowed else f"{status} is final"


def _still_open(view, first: dict, series: bool) -> list[dict]:
    """The visits a cancel or a move applies to: `first` (and with `series` the rest of its
    series), those still booked or confirmed."""
    targets = _series_members(view, first, first["start"]) if series else [first]
    return [t for t in targets if t["status"] in ("booked", "confirmed")]


def cancel(app, appt_id: str, reason: str = "", series: bool = False) -> list[dict]:
    """Cancel one appointment (or the rest of its series); the slot is freed."""
    if not reason.strip():
        raise InvalidInput("a cancellation needs --reason")
    now = app.now()
    with app.store.transaction() as txn:
        first = get_appointment(app, appt_id, view=txn)
        targets = _still_open(txn, first, series)
        if not targets:
            raise Refused(f"{first['id']} is {first['status']}; only booked or confirmed visits can be cancelled")
        updated = []
        for old in targets:
            start = clock.stored_moment(old["start"], app.tz)
            late = start - now < LATE_CANCEL
            updated.append({**old, "status": "cancelled", "cancel_reason": reason, "late_cancel": late,
                            "updated": clock.iso(now),
                            "history": old["history"] + [_history(app, "cancelled", status="cancelled",
                                                                  reason=reason, late=late)]})
        txn.put_many(APPOINTMENTS, updated, {o["id"]: o for o in targets})
        future = [u for u in updated if datetime.fromisoformat(u["start"]) > now]
        offers = waitlist.offer_freed(txn, app, future)
        for record in updated:
            mine = [o for o in offers if o["slot"] == record["start"] and o["provider"] == record["provider"]]
            record["waitlist_offers"] = mine  # shown to the user; not stored
            app.after_commit(txn, "appointment_cancelled", [record], "appointment", offers=mine)
    app.audit("cancel", [u["id"] for u in updated] + [first.get("patient_id")]
              + [o["patient_id"] for o in offers])
    return updated


def _shifted(old: dict, day_shift: timedelta, new_start: datetime, tz) -> tuple[datetime, datetime]:
    """Where `old` moves: its day shifted by `day_shift`, at new_start's wall-clock time, as long as before.

    The same wall-clock shift for every occurrence of a series, across DST.
    """
    old_start = clock.stored_moment(old["start"], tz)
    old_end = clock.stored_moment(old["end"], tz)
    moment = datetime.combine(old_start.date() + day_shift, new_start.timetz())
    return moment, moment + (old_end - old_start)


def _room_after_move(view, schedule: Schedule, old: dict, start: datetime, end: datetime, moving: set[str],
                     cache: dict) -> str | None:
    """The visit's room if it is free at the new time, else another that can host its type (None if none is)."""
    room = old.get("room", "")
    if not room or room_free(view, schedule, old["type"], room, start, end, moving, cache):
        return room
    if needs_room(schedule, old["type"]):
        return free_room(view, schedule, old["type"], start, end, moving, cache)
    return room  # a type that needs no room keeps the one it had


def _moved_record(app, old: dict, start: datetime, end: datetime, room: str | None, provider: str,
                  reason: str, now: datetime) -> dict:
    """`old` booked again at its new time (and with its new provider), the move in its history."""
    change = {"previous": old["start"], "reason": reason}
    if provider != old["provider"]:
        change["previous_provider"] = old["provider"]
    record = {**old, "start": clock.iso(start), "end": clock.iso(end), "room": room or "",
              "provider": provider, "status": "booked", "updated": clock.iso(now),
              "history": old["history"] + [_history(app, "rescheduled", status="booked", **change)]}
    if old.get("series_id"):
        # which occurrence of the series' rule this was (iCalendar RECURRENCE-ID)
        record["recurrence_id"] = old.get("recurrence_id") or old["start"]
    return record


def _plan_moves(app, view, schedule: Schedule, targets: list[dict], *, day_shift: timedelta, new_start: datetime,
                new_provider: str | None, reason: str) -> tuple[list[dict], list[str]]:
    """The moved records of `targets` that fit at their new time, and why each other one does not."""
    moving = {t["id"] for t in targets}
    cache: dict = {}
    updated, problems = [], []
    for old in targets:
        moment, end = _shifted(old, day_shift, new_start, schedule.tz)
        room = _room_after_move(view, schedule, old, moment, end, moving, cache)
        if room is None:
            problems.append(f"{moment:%Y-%m-%d %H:%M}: no room for {old['type']} is free")
            continue
        who = new_provider or old["provider"]
        found = conflicts(view, schedule, provider=who, patient=old.get("patient_id"),
                          type_name=old["type"], start=moment, end=end, room=room or "",
                          exclude=moving, day_cache=cache)
        if found:
            problems.append(f"{moment:%Y-%m-%d %H:%M}: {'; '.join(found)}")
            continue
        record = _moved_record(app, old, moment, end, room, who, reason, schedule.now)
        updated.append(record)
        hold(cache, record)
    return updated, problems


def reschedule(app, appt_id: str, at: str, reason: str = "", series: bool = False,
               allow_past: bool = False, provider: str | None = None) -> list[dict]:
    """Move one appointment (or the rest of its series by the same shift),
    to another provider too when `provider` is given."""
    schedule = Schedule.load(app)
    new_start = clock.parse_datetime(at, schedule.tz, "--at")
    if not allow_past and new_start < schedule.now:
        raise InvalidInput(f"{new_start:%Y-%m-%d %H:%M} is in the past")
    with app.store.transaction() as txn:
        first = get_appointment(app, appt_id, view=txn)
        targets = _still_open(txn, first, series)
        if not targets:
            raise Refused(f"{first['id']} is {first['status']}; only booked or confirmed visits can move")
        new_provider = schedule.check_performer(provider, first["type"])["id"] if provider else None
        first_start = clock.stored_moment(first["start"], schedule.tz)
        updated, problems = _plan_moves(app, txn, schedule, targets, day_shift=new_start.date() - first_start.date(),
                                        new_start=new_start, new_provider=new_provider, reason=reason)
        if problems:
            hint = _next_free_hint(txn, schedule, new_provider or first["provider"], first["type"], new_start, None)
            raise Refused(f"cannot reschedule: {problems[0].split(': ', 1)[1]}", hint=hint,
                          details=problems if len(problems) > 1 else None)
        txn.put_many(APPOINTMENTS, updated, {o["id"]: o for o in targets})
        for record, old in zip(updated, targets, strict=True):
            app.after_commit(txn, "appointment_rescheduled", [record], "appointment", old_start=old["start"])
    app.audit("reschedule", [u["id"] for u in updated] + [first.get("patient_id")])
    return updated


def checkin(app, appt_id: str) -> dict:
    """Mark arrived; report the intake still missing from the patient's record: contact details,
    coverage, a minor's guarantor, and the required intake forms not current on the visit's day
    (records.intake.needed_words: "consent-to-treat form (missing)", "insurance form (expires 2026-12-01)")."""
    appt = set_status(app, appt_id, "arrived")
    patient = get_patient(app, appt["patient_id"])
    missing = [label for field, label in (("phone", "phone number"), ("address", "address"),
                                          ("zip", "ZIP"), ("email", "email"), ("sex", "sex"))
               if not patient.get(field) or (field == "sex" and patient[field] == "U")]
    day = clock.stored_moment(appt["start"], app.tz).date()
    if not patient.get("coverages"):
        missing.append("insurance coverage (or self-pay)")
    else:
        _, problem = coverage_on(patient, day)
        if problem:
            missing.append(f"insurance coverage in force on {day} ({problem})")
    party = patient.get("responsible_party")  # a guarantor: a patient id, or a named responsible party
    if not (patient.get("guarantor") or isinstance(party, dict) and party.get("name")) \
            and age_on(patient["dob"], app.today()) < 18:
        missing.append("guarantor (patient is a minor)")
    from medsec.records import intake as intake_forms  # the forms' definitions: only check-in reads them

    missing += intake_forms.needed_words(intake_forms.needed(app, patient, day))
    return {**appt, "missing_intake": missing}


def mark_no_shows(app, grace_minutes: int = 15, dry_run: bool = False) -> list[dict]:
    """For cron: booked/confirmed visits that started over `grace` ago, today and the last week."""
    now = app.now()
    cutoff = now - timedelta(minutes=grace_minutes)
    changed = []
    with app.store.transaction() as txn:
        for offset in range(7, -1, -1):
            day = (now.date() - timedelta(days=offset)).isoformat()
            olds = [a for a in txn.day(APPOINTMENTS, day)
                    if a["status"] in ("booked", "confirmed")
                    and datetime.fromisoformat(a["start"]) <= cutoff and a.get("patient_id")]
            for old in olds:
                changed.append((old, {**old, "status": "no-show", "updated": clock.iso(now),
                                      "history": old["history"] + [_history(app, "status", status="no-show",
                                                                            reason="automatic")]}))
        if changed and not dry_run:
            txn.put_many(APPOINTMENTS, [new for _, new in changed], {o["id"]: o for o, _ in changed})
            for old, new in changed:
                app.after_commit(txn, "appointment_status_changed", [new], "appointment",
                                 old_status=old["status"])
    if changed and not dry_run:
        app.audit("no-show", [new["id"] for _, new in changed])
    return [new for _, new in changed]

