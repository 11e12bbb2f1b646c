"""Lab and diagnostic orders: ordered at an outside facility, followed until the patient is told.

States: ordered -> scheduled -> collected -> resulted -> reviewed ->
patient-notified (and cancelled before a result). A result, whether a
scanned report (`attach_report`) or an HL7 message (`lab_results`), always
puts the order back to `resulted`, so a corrected result is reviewed again.
"""

from datetime import date, timedelta

from medsec import clock, documents
from medsec.communications import fields, messaging
from medsec.errors import EnvironmentFailure, InvalidInput, Refused
from medsec.inputs import ATTACHMENT, read_input
from medsec.plugin_types import DeliveryError, Message
from medsec.records.patients import get_patient, opened
from medsec.store.catalog import LAB_RESULTS, LABS
from medsec.text import shown

STATUSES = ["ordered", "scheduled", "collected", "resulted", "reviewed", "patient-notified", "cancelled"]
AWAITING = ("ordered", "scheduled", "collected")  # no result yet
# Status changes staff make by hand; `resulted` comes only with a result.
TRANSITIONS = {
    "ordered": {"scheduled", "collected", "cancelled"},
    "scheduled": {"scheduled", "collected", "cancelled"},
    "collected": {"cancelled"},
    "resulted": {"reviewed"},
    "reviewed": {"patient-notified"},
}
DEFAULT_DUE_DAYS = 14  # an order with no due date still turns overdue, so none is forgotten
COLUMNS = ["id", "ordered", "patient_id", "test", "facility", "fasting", "appointment", "due", "status"]


def _history(app, status: str, note: str = "", **extra) -> dict:
    return {"at": clock.iso(app.now()), "by": app.user, "status": status, "note": note, **extra}


def _audit_ids(record: dict) -> list[str]:
    return [record["id"]] + ([record["patient_id"]] if record.get("patient_id") else [])


def order(app, patient_id: str, *, facility: str, test: str, due: str | None = None, fasting: bool = False,
          appt_at: str | None = None, note: str = "") -> dict:
    """A new order; with an appointment at the facility it starts as `scheduled`."""
    facility, test = fields.line(facility, "--facility", required=True), fields.line(test, "--test", required=True)
    note = fields.body(note, "--note")
    due_day = clock.parse_date(due, app.tz, "--due", horizon=True) if due else \
        app.today() + timedelta(days=DEFAULT_DUE_DAYS)
    if due_day < app.today():
        raise InvalidInput(f"--due {due_day} is in the past")
    appointment = clock.iso(clock.parse_datetime(appt_at, app.tz, "--appt-at")) if appt_at else ""
    with app.store.transaction() as txn:
        patient = get_patient(app, patient_id, view=txn)
        if patient["status"] != "active":
            raise Refused(f"{patient['id']} is {patient['status']}", hint="restore the patient first")
        (lab_id,) = txn.reserve_ids(LABS)
        status = "scheduled" if appointment else "ordered"
        record = {"id": lab_id, "patient_id": patient["id"], "facility": facility, "test": test,
                  "fasting": fasting, "due": due_day.isoformat(), "appointment": appointment,
                  "status": status, "ordered": clock.iso(app.now()), "by": app.user, "note": note,
                  "filler_number": "", "results": [], "files": [], "notified": None,
                  "history": [_history(app, status, note)]}
        txn.put(LABS, record)
    app.audit("lab", _audit_ids(record))
    return record


def get_order(app, lab_id: str, view=None) -> dict:
    """One order; NotFound (exit 1) when there is none."""
    return opened(app, (view or app.store.snapshot()).require(LABS, lab_id, "lab order", "see 'medsec lab list'"), view)


def get_result(app, result_id: str, view=None) -> dict:
    """One received result (LR id); NotFound when there is none."""
    return (view or app.store.snapshot()).require(LAB_RESULTS, result_id, "lab result",
                                                  "see 'medsec lab list --unmatched'")


def show(app, record_id: str) -> dict:
    """An order with its results' observations, or one received result (an LR id)."""
    view = app.store.snapshot()
    if str(record_id).strip().upper().startswith(LAB_RESULTS.prefix):
        record = get_result(app, record_id, view)
        app.audit("read", [record["id"]] + ([record["order_id"]] if record["order_id"] else []))
        return record
    record = get_order(app, record_id, view)
    observations = [{"result_id": r["id"], **o} for r in view.get_many(LAB_RESULTS, record["results"])
                     for o in r["observations"]]
    app.audit("read", _audit_ids(record) + record["results"])
    return {**record, "observations": observations}


def is_overdue(record: dict, today: date) -> bool:
    """Still waiting for a result after its due date."""
    return record["status"] in AWAITING and record["due"] < today.isoformat()


def list_orders(app, *, status: str | None = None, pending: bool = False, overdue: bool = False,
                patient_id: str | None = None, limit: int | None = None, first: date | None = None,
                last: date | None = None) -> list[dict]:
    """Orders, oldest first; `pending` awaits a result, `overdue` awaits one past its due date;
    `first`/`last`: ordered on those days."""
    if status and status not in STATUSES:
        raise InvalidInput(f"unknown status {shown(status)}", hint=f"one of {', '.join(STATUSES)}")
    view = app.store.snapshot()
    if patient_id:
        pid = get_patient(app, patient_id, view=view)["id"]
        found = view.get_many(LABS, view.lookup("lab-patient", pid))
    else:
        found = list(view.scan(LABS))
    today = app.today()
    out = [o for o in found if (not status or o["status"] == status) and (not pending or o["status"] in AWAITING)
           and (not overdue or is_overdue(o, today)) and clock.on_days(o["ordered"], first, last)]
    out.sort(key=lambda o: LABS.number(o["id"]))
    out = out[:limit] if limit else out
    app.audit("list", [i for o in out for i in _audit_ids(o)])
    return out


def _change(app, lab_id: str, change) -> dict:
    with app.store.transaction() as txn:
        old = get_order(app, lab_id, view=txn)
        record = change(old)
        txn.put(LABS, record, old)
    app.audit("lab", _audit_ids(record))
    return record


def set_status(app, lab_id: str, status: str, *, note: str = "", appt_at: str | None = None) -> dict:
    """Move an order along by hand; `scheduled` may carry (or move) the facility appointment."""
    if status not in STATUSES:
        raise InvalidInput(f"unknown status {shown(status)}", hint=f"one of {', '.join(STATUSES)}")
    if appt_at and status != "scheduled":
        raise InvalidInput("--appt-at goes with status scheduled")
    note = fields.body(note, "--note")
    appointment = clock.iso(clock.parse_datetime(appt_at, app.tz, "--appt-at")) if appt_at else None
    signer = None
    if status == "reviewed":  # a review is signed (cryptography: only a sign-off pays for it)
        from medsec.security import signoffs

        signer = signoffs.Signer(app)

    def change(old):
        allowed = TRANSITIONS.get(old["status"], set())
        if status not in allowed:
            hint = "a result sets it: 'medsec lab result' or 'medsec lab import'" if status == "resulted" else \
                (f"from {old['status']}: {', '.join(sorted(allowed))}" if allowed else f"{old['status']} is final")
            raise Refused(f"{old['id']} is {old['status']}; it cannot become {status}", hint=hint)
        if status == "scheduled" and not (appointment or old["appointment"]):
            raise InvalidInput("status scheduled needs --appt-at (the appointment at the facility)")
        record = {**old, "status": status, "appointment": appointment or old["appointment"],
                  "history": old["history"] + [_history(app, status, note)]}
        if signer is None:
            return record
        # What was reviewed: the results and report files the order holds now (a later result
        # appends to them and asks for a new review; this one's signature stays valid).
        review = {"at": clock.iso(app.now()), "by": app.user, "note": note, "results": list(old["results"]),
                  "files": [f.get("sha256") for f in old["files"]]}
        return signer.sign(signoffs.LAB_REVIEW, {**record, "review": review})

    return _change(app, lab_id, change)


def with_result(app, old: dict, *, result_id: str = "", file: dict | None = None, filler: str = "",
                note: str = "") -> dict:
    """The order once a result came in: resulted again, whatever it was (a correction needs review)."""
    if old["status"] == "cancelled":
        raise Refused(f"{old['id']} is cancelled", hint="a result for it stays in 'medsec lab list --unmatched'")
    return {**old, "status": "resulted", "filler_number": filler or old["filler_number"],
            "results": old["results"] + ([result_id] if result_id else []),
            "files": old["files"] + ([file] if file else []),
            "history": old["history"] + [_history(app, "resulted", note, result_id=result_id)]}


def attach_report(app, lab_id: str, path: str, note: str = "") -> dict:
    """A result report (PDF or TIFF), stored by content hash; the order becomes `resulted`."""
    name, note = fields.file_name(path), fields.body(note, "--note")
    data = read_input(path, ATTACHMENT)  # kept as read: what is filed is what was checked
    kind = documents.kind_of(data)
    if kind is None:
        raise InvalidInput(f"{shown(path)} is not a PDF or TIFF file")
    order = get_order(app, lab_id)
    if order["status"] == "cancelled":  # refuse before copying the file in
        raise Refused(f"{order['id']} is cancelled")
    sha, size = app.store.attach_bytes(data)
    entry = {"sha256": sha, "name": name, "size": size, "kind": kind,
             "received": clock.iso(app.now())}
    return _change(app, lab_id, lambda old: with_result(app, old, file=entry, note=note))


def notify(app, lab_id: str) -> dict:
    """Tell the patient results are ready (template results-ready: no result content) on their channel."""
    view = app.store.snapshot()
    record = get_order(app, lab_id, view)
    if record["status"] != "reviewed":
        raise Refused(f"{record['id']} is {record['status']}; only reviewed results are announced",
                      hint=f"'medsec lab status {record['id']} reviewed' once a physician has seen them"
                      if record["status"] == "resulted" else None)
    patient = get_patient(app, record["patient_id"], view=view)
    kind = messaging.preferred_kind(patient)
    r = messaging.route(app, kind)
    to = messaging.address_for(patient, kind)
    if not to:
        raise Refused(f"{patient['id']} has no {kind} contact on file",
                      hint=f"add one with 'medsec patient edit {patient['id']}'")
    rendered = messaging.render(app, "results-ready", {"practice": messaging.practice_context(app),
                                                       "patient": messaging.patient_context(patient)},
                                patient.get("language") or "en")
    attachments = [("results-ready.pdf", "application/pdf", documents.text_to_pdf(rendered.text, rendered.subject))] \
        if kind == "letter" else []
    message = Message(kind=kind, to=to, subject=rendered.subject, body=rendered.text, html=rendered.html,
                      attachments=attachments, meta={"patient_id": patient["id"], "template": "results-ready"})
    try:
        delivery = messaging.deliver(app, r, message)
    except DeliveryError as e:
        error = EnvironmentFailure if e.temporary else Refused
        raise error(f"results notice for {record['id']} not sent: {e}",
                    hint="try again later" if e.temporary else None) from None
    notice = {"at": clock.iso(app.now()), "channel": r.name, "kind": kind, "to": to, "delivery_id": delivery}

    def change(old):
        if old["status"] != "reviewed":
            raise Refused(f"{old['id']} changed to {old['status']} meanwhile")
        return {**old, "status": "patient-notified", "notified": notice,
                "history": old["history"] + [_history(app, "patient-notified", f"{kind} via {r.name}")]}

    return _change(app, lab_id, change)
