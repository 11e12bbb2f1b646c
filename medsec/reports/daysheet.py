"""The day sheet: every visit of a day with what each patient owes.

Cross-domain by design (scheduling and billing), so it lives here, above
both, and neither of them imports the other for it.
"""

from datetime import date, datetime
from decimal import Decimal

from medsec.billing.accounts import account
from medsec.records.coverage import coverage_label
from medsec.records.patients import get_patient
from medsec.scheduling.schedule import Schedule
from medsec.store.catalog import APPOINTMENTS


def day_sheet(app, day: date, provider: str | None = None, limit: int | None = None) -> list[dict]:
    """Every appointment of the day (the first `limit`) with the patient's name, what the
    patient owes the practice (balance_due, empty when nothing) and the primary coverage on
    that day (medsec.records.coverage.coverage_label: "HARBOR active", "HARBOR ended
    2026-12-31", "self-pay"), by time."""
    schedule = Schedule.load(app)
    provider = schedule.member(provider)["id"] if provider else None
    view = app.store.snapshot()
    rows = []
    dues: dict[str, str] = {}
    appts = sorted(view.day(APPOINTMENTS, day.isoformat(), provider), key=lambda a: (a["start"], a["provider"]))
    for appt in appts[:limit] if limit else appts:
        name = due = covered = ""
        if appt.get("patient_id"):
            patient = get_patient(app, appt["patient_id"], view=view)
            name = f"{patient['last']}, {patient['first']}"
            covered = coverage_label(patient, day)
            if patient["id"] not in dues:
                owed = account(view, patient["id"])["patient_due"]
                dues[patient["id"]] = owed if Decimal(owed) > 0 else ""
            due = dues[patient["id"]]
        start = datetime.fromisoformat(appt["start"]).astimezone(schedule.tz)
        rows.append({"time": f"{start:%H:%M}", "id": appt["id"], "patient": name,
                     "patient_id": appt.get("patient_id", ""), "type": appt["type"], "status": appt["status"],
                     "room": appt.get("room", ""), "balance_due": due, "coverage": covered,
                     "provider": appt["provider"],
                     "start": appt["start"], "end": appt["end"]})
    app.audit("list", [r["id"] for r in rows] + [r["patient_id"] for r in rows if r["patient_id"]])
    return rows
