"""Free slots: the openings a booking can take, across providers and days."""

from datetime import date

from medsec import clock
from medsec.records.patients import get_patient
from medsec.scheduling.schedule import Schedule, find_slots


def free_slots(app, *, provider: str | None, type_name: str, start: date, days: int, first: bool = False,
               patient: str | None = None, limit: int | None = None) -> list[dict]:
    schedule = Schedule.load(app)
    if provider:
        providers = [schedule.check_performer(provider, type_name)["id"]]
    else:
        providers = [m["id"] for m in schedule.performers(type_name)]
    view = app.store.snapshot()
    if patient:
        patient = get_patient(app, patient, view=view)["id"]
    found = find_slots(view, schedule, providers=providers, type_name=type_name, start_day=start,
                       days=days, first=first, patient=patient, limit=limit)
    return [{"start": clock.iso(s.start), "end": clock.iso(s.end), "provider": s.provider, "room": s.room}
            for s in found]
