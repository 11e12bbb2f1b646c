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
from medsec.workflows import loinc
from medsec.workflows.care_team import physician as physician_member
from medsec.workflows.tasks import finish_tasks, open_task

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
CONFIG = "labs.yaml"
# OBX-8 abnormal flags: critical ones (HH, LL, AA, and << >>) open an urgent review and a call-the-patient
# task; the others a high-priority review. A result with no abnormal flag is reviewed too (normal priority).
CRITICAL_FLAGS = frozenset({"HH", "LL", "AA", "<<", ">>"})
ABNORMAL_FLAGS = frozenset({"H", "L", "A", "<", ">"}) | CRITICAL_FLAGS
REVIEW_DAYS = {"urgent": 0, "high": 1, "normal": 3}  # a review task's due date, from the day the result came
# The patient notice's wording, chosen by the reviewer (`lab review --wording`); the results-ready
# template words each one (en, es). `message` is the reviewer's own text (--message).
WORDINGS = ["normal", "abnormal-followup", "call-office", "appointment", "message"]
DEFAULT_WORDING = "call-office"  # what every notice said before the reviewer chose


def history_entry(app, status: str, note: str = "", **extra) -> dict:
    return {"at": clock.iso(app.now()), "by": app.user, "status": status, "note": note, **extra}


def audit_ids(record: dict) -> list[str]:
    return [record["id"]] + ([record["patient_id"]] if record.get("patient_id") else [])


def diagnoses(app, codes) -> list[dict]:
    """ICD-10-CM codes with their descriptions (medsec.coding.codes.diagnoses); bad input otherwise."""
    from medsec.coding.codes import diagnoses as read  # imports pluggy: listing orders need not pay for it

    return read(app, codes)


def lab_entries(app) -> list[dict]:
    """The performing labs of labs.yaml (`labs:`), as written."""
    return [e for e in (app.config(CONFIG) or {}).get("labs") or [] if isinstance(e, dict)]


def lab_settings(app, name: str) -> dict:
    """The lab `name` (its id or name, any case) of labs.yaml; InvalidInput (exit 2) when there is none."""
    wanted = name.strip().casefold()
    for entry in lab_entries(app):
        if wanted in (str(entry.get("id", "")).casefold(), str(entry.get("name", "")).casefold()):
            return entry
    known = ", ".join(str(e.get("id") or e.get("name")) for e in lab_entries(app))
    raise InvalidInput(f"--lab {shown(name)} is not in {CONFIG}",
                       hint=f"labs: {known}" if known else f"add it under 'labs:' in {CONFIG}, or give --facility")


def _tests(texts) -> list[dict]:
    out = []
    for text in texts:
        out.append(loinc.entry(fields.line(text, "--test", required=True)))
    if not out:
        raise InvalidInput("give at least one --test (a panel such as LIPID, a LOINC code, or free text)")
    return out


def _facility(app, lab: str | None, facility: str | None) -> tuple[str, str]:
    """(lab id from labs.yaml or '', the facility's name): one of --lab and --facility."""
    if lab and facility:
        raise InvalidInput("--lab and --facility contradict each other: a lab of labs.yaml, or a free-text one")
    if lab:
        entry = lab_settings(app, fields.line(lab, "--lab", required=True))
        return str(entry.get("id") or entry.get("name")), str(entry.get("name") or entry.get("id"))
    if facility is None:
        raise InvalidInput("give the performing lab: --lab (labs.yaml) or --facility TEXT")
    return "", fields.line(facility, "--facility", required=True)


def order(app, patient_id: str, *, facility: str | None = None, test: str | None = None,
          tests: list[str] | tuple[str, ...] = (), physician: str | None = None, dx: list[str] | tuple[str, ...] = (),
          lab: str | None = None, due: str | None = None, fasting: bool = False, appt_at: str | None = None,
          note: str = "") -> dict:
    """A new order by an ordering physician, for diagnoses (ICD-10-CM) and tests (LOINC where known),
    at a lab of labs.yaml or a free-text facility; with an appointment there it starts as `scheduled`."""
    lab_id, facility = _facility(app, lab, facility)
    entries = _tests(([test] if test is not None else []) + list(tests))
    note = fields.body(note, "--note")
    due_day = clock.parse_date(due, app.tz, "--due", horizon=True) if due else \
        app.today() + timedelta(days=DEFAULT_DUE_DAYS)
    if due_day < app.today():
        raise InvalidInput(f"--due {due_day} is in the past")
    appointment = clock.iso(clock.parse_datetime(appt_at, app.tz, "--appt-at")) if appt_at else ""
    if not physician or not physician.strip():
        raise InvalidInput("give the ordering physician with --physician (a staff id)")
    ordering = physician_member(app, physician, "--physician")["id"]
    if not dx:
        raise InvalidInput("give at least one --dx diagnosis code (ICD-10-CM), the reason for the test")
    diagnosis = diagnoses(app, dx)
    with app.store.transaction() as txn:
        patient = get_patient(app, patient_id, view=txn)
        if patient["status"] != "active":
            raise Refused(f"{patient['id']} is {patient['status']}", hint="restore the patient first")
        (lab_id_,) = txn.reserve_ids(LABS)
        status = "scheduled" if appointment else "ordered"
        record = {"id": lab_id_, "patient_id": patient["id"], "facility": facility, "lab": lab_id,
                  "test": "; ".join(t["name"] for t in entries), "tests": entries, "physician": ordering,
                  "diagnoses": diagnosis, "fasting": fasting, "due": due_day.isoformat(), "appointment": appointment,
                  "status": status, "ordered": clock.iso(app.now()), "by": app.user, "note": note,
                  "filler_number": "", "results": [], "files": [], "notified": None, "tasks": [],
                  "call_tasks": [], "sent": [], "notice": {},
                  "history": [history_entry(app, status, note)]}
        txn.put(LABS, record)
    app.audit("lab", audit_ids(record))
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
    app.audit("read", audit_ids(record) + record["results"])
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
    app.audit("list", [i for o in out for i in audit_ids(o)])
    return out


def change_order(app, lab_id: str, change) -> dict:
    with app.store.transaction() as txn:
        old = get_order(app, lab_id, view=txn)
        record = change(old)
        txn.put(LABS, record, old)
    app.audit("lab", audit_ids(record))
    return record


def may_review(app) -> None:
    """Refuse (exit 1, audited) marking results reviewed unless the acting person's role holds
    labs.review: the signed-in member's (the gate's roles), or in an open practice a roster
    member named by --user/MEDSEC_USER (someone not on the roster is not checked)."""
    principal = getattr(app, "principal", None)
    if principal is not None and principal.session is not None:
        from medsec.security.principal import require

        require(app, "labs.review", "marking a lab result reviewed")
        return
    from medsec.records.staff import acting_members
    from medsec.security.permissions import role_permissions

    members = acting_members(app)
    if not members:
        return
    roles = role_permissions(app.config("roles.yaml") or None)
    if not any("labs.review" in roles.get(str(m.get("role")), frozenset()) for m in members):
        member = members[0]
        raise Refused(f"{member['id']} ({member.get('role')}) may not mark lab results reviewed: it needs the "
                      "permission 'labs.review'",
                      hint="a physician reviews results, or a role roles.yaml grants labs.review to")


def _notice_choice(wording: str | None, message: str) -> dict:
    message = fields.body(message, "--message")
    if message and wording not in (None, "message"):
        raise InvalidInput("--wording and --message contradict each other: --message is the wording")
    chosen = "message" if message else (wording or DEFAULT_WORDING)
    if chosen not in WORDINGS:
        raise InvalidInput(f"--wording {shown(chosen)} is not one of {', '.join(WORDINGS)}")
    if chosen == "message" and not message:
        raise InvalidInput("--wording message needs --message TEXT")
    return {"wording": chosen, "message": message}


def set_status(app, lab_id: str, status: str, *, note: str = "", appt_at: str | None = None,
               wording: str | None = None, message: str = "") -> dict:
    """Move an order along by hand; `scheduled` may carry (or move) the facility appointment;
    `reviewed` (only by a role with labs.review) closes the review tasks and records the notice's wording."""
    if status not in STATUSES:
        raise InvalidInput(f"unknown status {shown(status)}", hint=f"one of {', '.join(STATUSES)}")
    if appt_at and status != "scheduled":
        raise InvalidInput("--appt-at goes with status scheduled")
    note = fields.body(note, "--note")
    appointment = clock.iso(clock.parse_datetime(appt_at, app.tz, "--appt-at")) if appt_at else None
    notice = _notice_choice(wording, message) if status == "reviewed" else None
    signer = None
    if status == "reviewed":  # a review is signed (cryptography: only a sign-off pays for it)
        may_review(app)
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
                  "history": old["history"] + [history_entry(app, status, note)]}
        if signer is None:
            return record
        record["notice"] = {**(notice or {}), "by": app.user, "at": clock.iso(app.now())}
        # What was reviewed: the results and report files the order holds now (a later result
        # appends to them and asks for a new review; this one's signature stays valid).
        review = {"at": clock.iso(app.now()), "by": app.user, "note": note, "results": list(old["results"]),
                  "files": [f.get("sha256") for f in old["files"]]}
        return signer.sign(signoffs.LAB_REVIEW, {**record, "review": review})

    with app.store.transaction() as txn:
        old = get_order(app, lab_id, view=txn)
        record = change(old)
        if status == "reviewed":
            finish_tasks(app, txn, list(old.get("tasks") or []), f"lab result {old['id']} reviewed")
        txn.put(LABS, record, old)
    app.audit("lab", audit_ids(record))
    return record


def review(app, lab_id: str, *, wording: str | None = None, message: str = "", note: str = "") -> dict:
    """Mark a resulted order reviewed, choosing the wording of the patient's notice."""
    return set_status(app, lab_id, "reviewed", note=note, wording=wording, message=message)


def with_result(app, old: dict, *, result_id: str = "", file: dict | None = None, filler: str = "",
                note: str = "", files: list[dict] | None = None) -> dict:
    """The order once a result came in: resulted again, whatever it was (a correction needs review)."""
    if old["status"] == "cancelled":
        raise Refused(f"{old['id']} is cancelled", hint="a result for it stays in 'medsec lab list --unmatched'")
    added = ([file] if file else []) + list(files or [])
    return {**old, "status": "resulted", "filler_number": filler or old["filler_number"],
            "results": old["results"] + ([result_id] if result_id else []),
            "files": old["files"] + added,
            "history": old["history"] + [history_entry(app, "resulted", note, result_id=result_id)]}


def flag_level(flags) -> str:
    """The review's priority for a result's OBX-8 flags: urgent (critical), high (abnormal), normal."""
    found = {str(f).strip().upper() for f in flags if f}
    if found & CRITICAL_FLAGS:
        return "urgent"
    return "high" if found & ABNORMAL_FLAGS else "normal"


def _owner_of(order: dict) -> str:
    """The ordering physician (an older order without one: the physicians' queue)."""
    return order.get("physician") or "physician"


def open_review_tasks(app, txn, order: dict, level: str, what: str) -> dict:
    """`order` with the ordering physician's review task opened in `txn` (and, for a critical
    result, a call-the-patient task for the nurses, else the physician)."""
    from medsec.records.staff import roster

    due = app.today() + timedelta(days=REVIEW_DAYS[level])
    words = {"urgent": "CRITICAL", "high": "abnormal", "normal": "normal"}[level]
    task = open_task(app, txn, text=f"Review {words} lab result {order['id']} ({order.get('test', '')}): {what}",
                     owner=_owner_of(order), due=due, patient_id=order["patient_id"], priority=level,
                     source=order["id"])
    call_tasks = list(order.get("call_tasks") or [])
    if level == "urgent":
        nurses = any(m.get("role") == "nurse" and m.get("active", True) for m in roster(app))
        call = open_task(app, txn, text=f"Call the patient about the critical lab result {order['id']}",
                         owner="nurse" if nurses else _owner_of(order), due=due, patient_id=order["patient_id"],
                         priority="urgent", source=order["id"])
        call_tasks.append(call["id"])
    return {**order, "tasks": list(order.get("tasks") or []) + [task["id"]], "call_tasks": call_tasks}


def result_document(app, lab_id: str, *, files: list[dict], source: str, note: str = "") -> dict:
    """A result that came as documents (a scanned or faxed report: stored attachment entries
    {sha256, name, size, kind}) filed with its order: resulted, the files kept, the ordering
    physician's review task opened. `source` says where it came from ("file", "fax FX3")."""
    note = fields.body(note, "--note")
    stamp = clock.iso(app.now())
    entries = [{**f, "received": f.get("received") or stamp, "source": source} for f in files]
    with app.store.transaction() as txn:
        old = get_order(app, lab_id, view=txn)
        record = with_result(app, old, files=entries, note=note or f"report from {source}")
        record = open_review_tasks(app, txn, record, "normal", f"report from {source}")
        txn.put(LABS, record, old)
    app.audit("lab", audit_ids(record) + record["tasks"][-1:])
    return record


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
    entry = {"sha256": sha, "name": name, "size": size, "kind": kind}
    return result_document(app, lab_id, files=[entry], source="file", note=note)


def notify(app, lab_id: str) -> dict:
    """Tell the patient results are ready (template results-ready: no result content) on their channel."""
    view = app.store.snapshot()
    record = get_order(app, lab_id, view)
    if record["status"] != "reviewed":
        raise Refused(f"{record['id']} is {record['status']}; only reviewed results are announced",
                      hint=f"'medsec lab review {record['id']}' once a physician has seen them"
                      if record["status"] == "resulted" else None)
    patient = get_patient(app, record["patient_id"], view=view)
    kind = messaging.preferred_kind(patient)
    r = messaging.route(app, kind)
    to = messaging.address_for(patient, kind)
    if not to:
        raise Refused(f"{patient['id']} has no {kind} contact on file",
                      hint=f"add one with 'medsec patient edit {patient['id']}'")
    chosen = record.get("notice") or {}
    notice_context = {"wording": chosen.get("wording") or DEFAULT_WORDING, "message": chosen.get("message") or ""}
    rendered = messaging.render(app, "results-ready", {"practice": messaging.practice_context(app),
                                                       "patient": messaging.patient_context(patient),
                                                       "notice": notice_context},
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
    notice = {"at": clock.iso(app.now()), "channel": r.name, "kind": kind, "to": to, "delivery_id": delivery,
              "wording": notice_context["wording"]}

    def change(old):
        if old["status"] != "reviewed":
            raise Refused(f"{old['id']} changed to {old['status']} meanwhile")
        return {**old, "status": "patient-notified", "notified": notice,
                "history": old["history"] + [history_entry(app, "patient-notified", f"{kind} via {r.name}")]}

    return change_order(app, lab_id, change)
