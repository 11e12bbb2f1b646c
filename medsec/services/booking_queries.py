"""Read-only schedule views: free slots and the day sheet."""

from datetime import date, datetime
from decimal import Decimal

from medsec import clock
from medsec.services.patients import get_patient
from medsec.services.records import APPOINTMENTS
from medsec.services.scheduling import Schedule, find_slots


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


def day_sheet(app, day: date, provider: str | None = None) -> list[dict]:
    """Every appointment of the day with the patient's name and what the
    patient owes the practice (balance_due, empty when nothing), by time."""
    from medsec.services.billing import account

    schedule = Schedule.load(app)
    provider = schedule.member(provider)["id"] if provider else None
    view = app.store.snapshot()
    rows = []
    dues: dict[str, str] = {}
    for appt in sorted(view.day(APPOINTMENTS, day.isoformat(), provider), key=lambda a: (a["start"], a["provider"])):
        name = due = ""
        if appt.get("patient_id"):
            patient = get_patient(app, appt["patient_id"], view=view)
            name = f"{patient['last']}, {patient['first']}"
            if patient["id"] not in dues:
                owed = account(view, patient["id"])["patient_due"]
                dues[patient["id"]] = owed if Decimal(owed) > 0 else ""
            due = dues[patient["id"]]
        start = datetime.fromisoformat(appt["start"]).astimezone(schedule.tz)
        rows.append({"time": f"{start:%H:%M}", "id": appt["id"], "patient": name,
                     "patient_id": appt.get("patient_id", ""), "type": appt["type"], "status": appt["status"],
                     "room": appt.get("room", ""), "balance_due": due, "provider": appt["provider"],
                     "start": appt["start"], "end": appt["end"]})
    app.audit("list", [r["id"] for r in rows] + [r["patient_id"] for r in rows if r["patient_id"]])
    return rows
