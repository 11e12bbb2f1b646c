"""Time off and the visits it strands: which booked visits fall in a provider's time off, and
where each could go instead (`staff off --reschedule`).

A visit is stranded when it is still to happen (booked or confirmed, with a patient, not started
yet) and its provider is off that day. Its new place is the patient's first free slot of the same type, from
the start of its day on (not before now): with another provider who performs the type, or with
the same provider on a day outside the time off. The places are planned together, so no two
stranded visits are offered the same provider's, patient's or room's time.
"""

from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from medsec import clock
from medsec.errors import MedsecError
from medsec.records.patients import get_patient
from medsec.records.staff import get_staff
from medsec.scheduling import availability as av
from medsec.scheduling.nextfree import DEFAULT_WITHIN, after_duration, parse_duration
from medsec.scheduling.schedule import Schedule, find_slots
from medsec.store.catalog import APPOINTMENTS

OPEN = ("booked", "confirmed")  # still to happen: cancelled, no-show and seen visits are not stranded
LIST_COLUMNS = ["id", "start", "patient_id", "patient", "type", "status"]


class Move(NamedTuple):
    """Where a stranded visit goes: its record now, and its new start, end, provider and room."""

    visit: dict
    start: datetime
    end: datetime
    provider: str
    room: str


def _patient_name(app, view, patient_id: str) -> str:
    try:
        patient = get_patient(app, patient_id, view=view)
    except MedsecError:  # a chart restricted from whoever acts: its id only
        return ""
    return f"{patient.get('first', '')} {patient.get('last', '')}".strip()


def stranded(app, staff_id: str, first: date, last: date) -> list[dict]:
    """The visits of `staff_id` from `first` to `last` (both included) still to happen (booked or
    confirmed, not started yet: one in the past is a no-show to record, not a visit to move), by start:
    each appointment's record with the patient's name (`patient`) added."""
    member = get_staff(app, staff_id)
    view = app.store.snapshot()
    out = [{**a, "patient": _patient_name(app, view, a["patient_id"])}
           for a in open_visits(app, view, member["id"], first, last)]
    if out:
        app.audit("list", {a["id"] for a in out} | {a["patient_id"] for a in out})
    return out


def open_visits(app, view, staff_id: str, first: date, last: date) -> list[dict]:
    """The records of `staff_id`'s visits from `first` to `last` still to happen, by start (as
    `stranded` lists them; `view` may be a transaction's, to check they are still the same)."""
    found = []
    for offset in range((last - first).days + 1):
        iso = (first + timedelta(days=offset)).isoformat()
        found += [a for a in view.day(APPOINTMENTS, iso, staff_id)
                  if a.get("provider") == staff_id and a["status"] in OPEN and a.get("patient_id")
                  and clock.stored_moment(a["start"], app.tz) > app.now()]
    return sorted(found, key=lambda a: (a["start"], int(a["id"][1:])))


def schedule_while_away(app, staff_id: str, first: date, last: date) -> Schedule:
    """The schedule as it will be once `staff_id` is off from `first` to `last`."""
    schedule = Schedule.load(app)
    member = schedule.member(staff_id)
    span = {"from": first.isoformat(), "to": last.isoformat(), "reason": "time off"}
    staff = {**schedule.staff, member["id"]: {**member, "time_off": list(member.get("time_off") or []) + [span]}}
    return schedule._replace(staff=staff)


def _clashes(slot: av.Slot, patient: str, planned: list[Move], schedule: Schedule, type_name: str) -> bool:
    """Whether `slot` takes time already planned for another stranded visit (provider, patient or room)."""
    _, buffer = schedule.length(type_name)
    wanted = (slot.start, slot.end + buffer)
    for move in planned:
        held = (move.start, move.end + schedule.buffer_of(move.visit))
        if move.provider == slot.provider and av.overlaps(wanted, held):
            return True
        if move.visit.get("patient_id") == patient and av.overlaps((slot.start, slot.end), (move.start, move.end)):
            return True
        if slot.room and move.room == slot.room and av.overlaps(wanted, held):
            return True
    return False


def plan_moves(app, staff_id: str, first: date, last: date, visits: list[dict],
               within: str = DEFAULT_WITHIN) -> tuple[list[Move], list[dict]]:
    """(moves, visits with no place): each visit's first free slot of its type while `staff_id`
    is off, searched for `within` from the start of its day (not before now)."""
    schedule = schedule_while_away(app, staff_id, first, last)
    view = app.store.snapshot()
    moving = {v["id"] for v in visits}
    planned: list[Move] = []
    unplaced: list[dict] = []
    for visit in visits:
        move = _place(view, schedule, visit, planned, moving, within)
        if move is None:
            unplaced.append(visit)
        else:
            planned.append(move)
    return planned, unplaced


def _place(view, schedule: Schedule, visit: dict, planned: list[Move], moving: set[str], within: str) -> Move | None:
    start = clock.stored_moment(visit["start"], schedule.tz)
    minutes = int((clock.stored_moment(visit["end"], schedule.tz) - start).total_seconds() // 60)
    not_before = max(datetime.combine(start.date(), time(0), schedule.tz), schedule.now)
    end = after_duration(not_before, *parse_duration(within))
    providers = [m["id"] for m in schedule.performers(visit["type"])]
    if not providers:
        return None
    limit = 16 + 12 * len(planned)
    while True:
        found = find_slots(view, schedule, providers=providers, type_name=visit["type"], start_day=not_before.date(),
                           days=(end.date() - not_before.date()).days + 1, patient=visit["patient_id"],
                           duration=minutes, not_before=not_before, limit=limit, exclude=moving)
        for slot in found:
            if slot.start >= end:
                return None
            if not _clashes(slot, visit["patient_id"], planned, schedule, visit["type"]):
                return Move(visit, slot.start, slot.end, slot.provider, slot.room)
        if len(found) < limit:
            return None
        limit *= 4
