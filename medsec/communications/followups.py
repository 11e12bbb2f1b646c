"""Follow-up calls due: after a no-show, after a visit with a follow-up interval,
and recall letters nobody answered by booking."""

from datetime import date, datetime, timedelta

from medsec.records.patients import get_patient
from medsec.scheduling.schedule import Schedule
from medsec.store.catalog import APPOINTMENTS, MAIL

NO_SHOW_WINDOW = 30  # days looked back for no-shows
RECALL_WAIT = 14  # days a recall letter may go unanswered
COLUMNS = ["due", "patient_id", "patient", "phone", "reason", "since"]


def _appointments_of(view, patient_id: str) -> list[dict]:
    ids = view.lookup("appt-patient", patient_id)
    return [a for a in view.get_many(APPOINTMENTS, ids) if a.get("patient_id") == patient_id]


def _booked_after(appts: list[dict], moment: str, exclude: str = "") -> bool:
    """Another live appointment booked or held after `moment`: the patient came back to us."""
    return any(a["id"] != exclude and a["status"] not in ("cancelled", "no-show")
               and (a["start"] > moment or a["created"] > moment) for a in appts)


def due_followups(app, today: date | None = None) -> list[dict]:
    schedule = Schedule.load(app)
    view = app.store.snapshot()
    today = today or app.today()
    out: list[dict] = []
    seen: set[tuple] = set()

    def add(patient_id: str, due: date, reason: str, since: str):
        if (patient_id, reason) in seen:
            return
        seen.add((patient_id, reason))
        patient = get_patient(app, patient_id, view=view)
        out.append({"due": due.isoformat(), "patient_id": patient["id"],
                    "patient": f"{patient['last']}, {patient['first']}", "phone": patient.get("phone", ""),
                    "reason": reason, "since": since})

    horizon = max([NO_SHOW_WINDOW] + [int(s.get("follow_up_days") or 0) for s in schedule.types.values()]) + 30
    for offset in range(horizon, -1, -1):
        day = today - timedelta(days=offset)
        for appt in view.day(APPOINTMENTS, day.isoformat()):
            if not appt.get("patient_id"):
                continue
            start = datetime.fromisoformat(appt["start"])
            if appt["status"] == "no-show" and offset <= NO_SHOW_WINDOW:
                if not _booked_after(_appointments_of(view, appt["patient_id"]), appt["start"], appt["id"]):
                    add(appt["patient_id"], start.date(), f"no-show {appt['id']}",
                        appt["start"])
            interval = int((schedule.types.get(appt["type"]) or {}).get("follow_up_days") or 0)
            if appt["status"] == "checked-out" and interval:
                due = start.date() + timedelta(days=interval)
                if due <= today and not _booked_after(_appointments_of(view, appt["patient_id"]), appt["start"],
                                                      appt["id"]):
                    add(appt["patient_id"], due, f"follow-up due after {appt['id']} ({interval} days)",
                        appt["start"])
    for letter in view.scan(MAIL):
        if letter["direction"] != "out" or letter["template"] != "recall-letter" or letter["status"] != "sent":
            continue
        sent = datetime.fromisoformat(letter["created"]).date()
        due = sent + timedelta(days=RECALL_WAIT)
        if due <= today and not _booked_after(_appointments_of(view, letter["patient_id"]), letter["created"]):
            add(letter["patient_id"], due, f"recall letter {letter['id']} unanswered", letter["created"])
    out.sort(key=lambda r: (r["due"], r["patient_id"]))
    app.audit("list", [r["patient_id"] for r in out])
    return out
