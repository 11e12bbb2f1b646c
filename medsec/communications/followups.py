"""Follow-up calls due: after a no-show, after a visit with a follow-up interval,
and recall letters nobody answered by booking."""

import itertools
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


def due_followups(app, today: date | None = None, limit: int | None = None) -> list[dict]:
    """Patients to call: recent no-shows, visits whose follow-up interval has passed and recall
    letters left unanswered, each only while the patient has booked nothing since; by due date."""
    schedule = Schedule.load(app)
    view = app.store.snapshot()
    today = today or app.today()
    out: list[dict] = []
    seen: set[tuple] = set()
    for patient_id, due, reason, since in itertools.chain(_after_visits(view, schedule, today),
                                                          _unanswered_recalls(view, today)):
        if (patient_id, reason) in seen:
            continue
        seen.add((patient_id, reason))
        patient = get_patient(app, patient_id, view=view)
        out.append({"due": due.isoformat(), "patient_id": patient["id"],
                    "patient": f"{patient['last']}, {patient['first']}", "phone": patient.get("phone", ""),
                    "reason": reason, "since": since})
    out.sort(key=lambda r: (r["due"], r["patient_id"]))
    out = out[:limit] if limit else out
    app.audit("list", [r["patient_id"] for r in out])
    return out


def _after_visits(view, schedule: Schedule, today: date):
    """(patient id, due, reason, since) for the appointments of the days that can still need a call."""
    horizon = max([NO_SHOW_WINDOW] + [int(s.get("follow_up_days") or 0) for s in schedule.types.values()]) + 30
    for offset in range(horizon, -1, -1):
        day = today - timedelta(days=offset)
        for appt in view.day(APPOINTMENTS, day.isoformat()):
            if appt.get("patient_id"):
                yield from _visit_followups(view, schedule, appt, today, recent=offset <= NO_SHOW_WINDOW)


def _visit_followups(view, schedule: Schedule, appt: dict, today: date, *, recent: bool):
    """A call after a `recent` no-show, or after a visit whose type's follow-up interval has passed."""
    start = datetime.fromisoformat(appt["start"])
    if appt["status"] == "no-show" and recent and not _came_back(view, appt):
        yield appt["patient_id"], start.date(), f"no-show {appt['id']}", appt["start"]
    interval = int((schedule.types.get(appt["type"]) or {}).get("follow_up_days") or 0)
    if appt["status"] == "checked-out" and interval:
        due = start.date() + timedelta(days=interval)
        if due <= today and not _came_back(view, appt):
            yield appt["patient_id"], due, f"follow-up due after {appt['id']} ({interval} days)", appt["start"]


def _came_back(view, appt: dict) -> bool:
    return _booked_after(_appointments_of(view, appt["patient_id"]), appt["start"], appt["id"])


def _unanswered_recalls(view, today: date):
    """(patient id, due, reason, since) for recall letters sent RECALL_WAIT days ago or more, not answered."""
    for letter in view.scan(MAIL):
        if letter["direction"] != "out" or letter["template"] != "recall-letter" or letter["status"] != "sent":
            continue
        sent = datetime.fromisoformat(letter["created"]).date()
        due = sent + timedelta(days=RECALL_WAIT)
        if due <= today and not _booked_after(_appointments_of(view, letter["patient_id"]), letter["created"]):
            yield letter["patient_id"], due, f"recall letter {letter['id']} unanswered", letter["created"]
