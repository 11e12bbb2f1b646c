"""Walk-ins: the earliest opening today, and an honest wait estimate."""

from datetime import datetime, timedelta

from medsec import clock
from medsec.errors import Refused
from medsec.records.patients import get_patient
from medsec.scheduling.appointments import book, set_status
from medsec.scheduling.schedule import Schedule, find_slots
from medsec.store.catalog import APPOINTMENTS


def _status_time(appt: dict, status: str) -> datetime | None:
    for event in reversed(appt.get("history") or []):
        if event.get("status") == status:
            return datetime.fromisoformat(event["at"])
    return None


def estimate_wait(day_records: list[dict], schedule: Schedule, provider: str, slot_start: datetime,
                  now: datetime, exclude: str = "") -> dict:
    """When `provider` can really see a new patient, from the queue in the clinic.

    The patient being seen (roomed) takes their type's duration from when
    they were roomed; patients who have arrived are seen in order of their
    booked times, each taking their duration, never before their booked
    time. The walk-in is seen at that moment, or at its slot if later.
    """
    mine = [a for a in day_records if a.get("provider") == provider and a["id"] != exclude]
    free_at = now
    late = timedelta(0)
    for appt in mine:
        if appt["status"] == "roomed":
            roomed = _status_time(appt, "roomed") or now
            length = datetime.fromisoformat(appt["end"]) - datetime.fromisoformat(appt["start"])
            free_at = max(free_at, roomed + length)
            late = max(late, roomed - datetime.fromisoformat(appt["start"]))
    queue = sorted((a for a in mine if a["status"] == "arrived"), key=lambda a: a["start"])
    for appt in queue:
        start = datetime.fromisoformat(appt["start"])
        length = datetime.fromisoformat(appt["end"]) - start
        begins = max(free_at, start)
        late = max(late, begins - start)
        free_at = begins + length
    expected = max(free_at, slot_start)
    return {
        "patients_ahead": len(queue) + sum(a["status"] == "roomed" for a in mine),
        "running_late_minutes": int(late.total_seconds() // 60),
        "expected_start": clock.iso(expected.astimezone(schedule.tz)),
        "expected_wait_minutes": max(0, int((expected - now).total_seconds() // 60)),
    }


def walk_in(app, patient_id: str, *, provider: str | None = None, type_name: str = "follow-up",
            note: str = "walk-in") -> dict:
    """Book the earliest opening today and say how long the wait will be."""
    schedule = Schedule.load(app)
    providers = [schedule.check_performer(provider, type_name)["id"]] if provider else \
        [m["id"] for m in schedule.performers(type_name)]
    view = app.store.snapshot()
    now = schedule.now
    patient = get_patient(app, patient_id, view=view)["id"]  # a typed id is checked before the indexes use it
    options = find_slots(view, schedule, providers=providers, type_name=type_name, start_day=now.date(),
                         days=1, not_before=now, patient=patient)
    if not options:
        who = provider.upper() if provider else "any provider"
        raise Refused(f"no opening today for a {type_name} with {who}",
                      hint="try another provider (--any) or book a later day ('medsec appt slots')")
    # Among the earliest slots, the provider whose queue is shortest.
    records = view.day(APPOINTMENTS, now.date().isoformat())
    first_start = options[0].start
    candidates = [s for s in options if s.start == first_start]
    best = min(candidates, key=lambda s: estimate_wait(records, schedule, s.provider, s.start, now)
               ["expected_wait_minutes"])
    (appt,) = book(app, patient_id, provider=best.provider, at=best.start.isoformat(), type_name=type_name,
                   room=best.room or None, note=note)
    appt = set_status(app, appt["id"], "arrived")  # a walk-in is already in the waiting room
    records = app.store.snapshot().day(APPOINTMENTS, now.date().isoformat())
    wait = estimate_wait(records, schedule, best.provider, best.start, now, exclude=appt["id"])
    return {**appt, **wait}
