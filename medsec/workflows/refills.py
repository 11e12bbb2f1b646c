"""Refill requests: taken by phone, fax or portal, decided by a physician, announced to pharmacy and patient.

A request lands in its physician's queue: a task due in DECISION_DAYS days,
after which the request is overdue. Only a physician approves or denies it
(the acting user, matched to the roster by id, login or email). The decision
is committed first; then the pharmacy is told by fax (template
refill-decision-pharmacy) and the patient on their preferred channel
(template refill-decision-patient, which names no drug and no dose). A notice
that cannot go out leaves a task for the front desk rather than undoing the
physician's decision. The decision carries the physician's signature
(medsec.security.signoffs), made in the transaction that records it.
"""

from datetime import date, timedelta

from medsec import clock, documents
from medsec.communications import fields, messaging
from medsec.errors import InvalidInput, MedsecError, Refused
from medsec.identifiers import format_phone, phone_valid
from medsec.plugin_types import DeliveryError, Message
from medsec.records.patients import get_patient, opened
from medsec.records.staff import acting_members, get_staff
from medsec.store.catalog import REFILLS
from medsec.text import shown
from medsec.workflows.care_team import physician, usual_physician
from medsec.workflows.tasks import finish_tasks, open_task

VIAS = ["phone", "fax", "portal"]
STATUSES = ["pending", "approved", "denied"]
DECISION_DAYS = 2
COLUMNS = ["id", "created", "patient_id", "drug", "dose", "pharmacy", "via", "physician", "due", "status"]


def _ids(record: dict) -> list[str]:
    return [record["id"], record["patient_id"]]


def request(app, patient_id: str, *, drug: str, dose: str, pharmacy: str, via: str,
            pharmacy_fax: str | None = None, physician_id: str | None = None, note: str = "") -> dict:
    """A refill request in a physician's queue: `physician_id`, else the patient's usual physician."""
    drug, dose = fields.line(drug, "--drug", required=True), fields.line(dose, "--dose", required=True)
    pharmacy, note = fields.line(pharmacy, "--pharmacy", required=True), fields.body(note, "--note")
    pharmacy_fax = fields.line(pharmacy_fax, "--pharmacy-fax")
    if via not in VIAS:
        raise InvalidInput(f"--via {shown(via)} is not one of {', '.join(VIAS)}")
    if pharmacy_fax and not phone_valid(pharmacy_fax):
        raise InvalidInput(f"--pharmacy-fax {shown(pharmacy_fax)} is not a fax number")
    prescriber = physician(app, physician_id, "--provider") if physician_id else None
    with app.store.transaction() as txn:
        patient = get_patient(app, patient_id, view=txn)
        if patient["status"] != "active":
            raise Refused(f"{patient['id']} is {patient['status']}", hint="restore the patient first")
        prescriber = prescriber or usual_physician(app, patient["id"], txn)
        if prescriber is None:
            raise InvalidInput(f"{patient['id']} has no usual physician (no appointment with one)",
                               hint="give --provider PHYSICIAN")
        (refill_id,) = txn.reserve_ids(REFILLS)
        due = app.today() + timedelta(days=DECISION_DAYS)
        task = open_task(app, txn, text=f"decide refill request {refill_id}", owner=prescriber["id"], due=due,
                         patient_id=patient["id"], source=refill_id)
        record = {"id": refill_id, "created": clock.iso(app.now()), "by": app.user, "patient_id": patient["id"],
                  "drug": drug, "dose": dose, "pharmacy": pharmacy,
                  "pharmacy_fax": format_phone(pharmacy_fax) if pharmacy_fax else "", "via": via,
                  "physician": prescriber["id"], "note": note, "due": due.isoformat(), "status": "pending",
                  "decision": None, "notices": [], "tasks": [task["id"]]}
        txn.put(REFILLS, record)
    app.audit("refill", _ids(record))
    return record


def get_refill(app, refill_id: str, view=None) -> dict:
    found = (view or app.store.snapshot()).require(REFILLS, refill_id, "refill request", "see 'medsec refill list'")
    return opened(app, found, view)


def show_refill(app, refill_id: str) -> dict:
    record = get_refill(app, refill_id)
    app.audit("read", _ids(record))
    return record


def is_overdue(record: dict, today: date) -> bool:
    return record["status"] == "pending" and record["due"] < today.isoformat()


def list_refills(app, *, status: str = "pending", for_staff: str | None = None, mine: bool = False,
                 overdue: bool = False, patient_id: str | None = None, limit: int | None = None,
                 first: date | None = None, last: date | None = None) -> list[dict]:
    """Requests, oldest first: a physician's queue with `for_staff` (or `mine`); `first`/`last`:
    requested on those days."""
    if status not in STATUSES + ["all"]:
        raise InvalidInput(f"--status {shown(status)} is not one of {', '.join(STATUSES + ['all'])}")
    view = app.store.snapshot()
    wanted: set[str] | None  # the physicians whose queue is asked for; None: everyone's
    if mine:
        wanted = {m["id"] for m in acting_members(app)}
    else:
        wanted = {get_staff(app, for_staff)["id"]} if for_staff else None
    if patient_id:
        pid = get_patient(app, patient_id, view=view)["id"]
        found = view.get_many(REFILLS, view.lookup("refill-patient", pid))
    else:
        found = view.scan(REFILLS)
    today = app.today()
    out = [r for r in found if (status == "all" or r["status"] == status)
           and (wanted is None or r["physician"] in wanted) and (not overdue or is_overdue(r, today))
           and clock.on_days(r["created"], first, last)]
    out.sort(key=lambda r: REFILLS.number(r["id"]))
    out = out[:limit] if limit else out
    app.audit("list", [i for r in out for i in _ids(r)])
    return out


def _acting_physician(app, verb: str) -> dict:
    for member in acting_members(app):
        if member.get("role") == "physician" and member.get("active", True):
            return member
    raise Refused(f"only a physician may {verb} a refill request, and {shown(app.user)} is no physician on the roster",
                  hint="act as the physician: --user or MEDSEC_USER (staff id, login or email)")


def _send(app, kind: str, to: str, template: str, context: dict, meta: dict, language: str = "en") -> dict:
    """Render and deliver one notice; its outcome, failures included, as a dict to keep."""
    notice = {"at": clock.iso(app.now()), "template": template, "kind": kind, "to": to, "channel": "",
              "delivery_id": "", "status": "failed", "reason": ""}
    try:
        if not to:
            raise Refused(f"no {kind} contact on file")
        rendered = messaging.render(app, template, context, language)
        pdf = documents.text_to_pdf(rendered.text, rendered.subject)
        if kind == "fax":  # into the fax log, behind the cover sheet
            from medsec.communications import faxes

            refill = context["refill"]
            fax = faxes.send_documents(
                app, to=to, documents=[(f"{template}.pdf", "application/pdf", pdf)], patient_id=meta["patient_id"],
                recipient=refill["pharmacy"], purpose="refill decision",
                what=f"refill decision {refill['id']} ({refill['decision']})", link=refill["id"],
                subject=rendered.subject, note=f"Refill request {refill['id']}: {refill['decision']}.",
                body=rendered.text, meta=meta)
            notice.update(channel=fax["channel"], delivery_id=fax["delivery_id"], fax_id=fax["id"], status="sent")
            return notice
        r = messaging.route(app, kind)
        attachments = [(f"{template}.pdf", "application/pdf", pdf)] if kind in ("fax", "letter") else []
        message = Message(kind=kind, to=to, subject=rendered.subject, body=rendered.text, html=rendered.html,
                          attachments=attachments, meta=meta)
        notice.update(channel=r.name, delivery_id=messaging.deliver(app, r, message), status="sent")
    except (MedsecError, DeliveryError) as e:
        notice["reason"] = getattr(e, "message", None) or str(e)
    return notice


def _notify(app, record: dict, prescriber: dict) -> list[dict]:
    """Fax the pharmacy, message the patient (no drug named); both outcomes."""
    patient = get_patient(app, record["patient_id"])
    practice = messaging.practice_context(app)
    meta = {"patient_id": patient["id"], "refill_id": record["id"]}
    requested = record["created"][:10]
    pharmacy = _send(app, "fax", record["pharmacy_fax"], "refill-decision-pharmacy", {
        "practice": practice, "patient": messaging.patient_context(patient),
        "physician": {"name": prescriber.get("name", ""), "npi": prescriber.get("npi", "")},
        "refill": {"id": record["id"], "requested": requested, "drug": record["drug"], "dose": record["dose"],
                   "pharmacy": record["pharmacy"], "pharmacy_fax": record["pharmacy_fax"],
                   "decision": record["status"], "note": record["decision"]["note"]}}, meta)
    kind = messaging.preferred_kind(patient)
    patient_notice = _send(app, kind, messaging.address_for(patient, kind), "refill-decision-patient", {
        "practice": practice, "patient": messaging.patient_context(patient),
        "refill": {"id": record["id"], "requested": requested, "pharmacy": record["pharmacy"],
                   "decision": record["status"]}}, meta, patient.get("language") or "en")
    return [{"for": "pharmacy", **pharmacy}, {"for": "patient", **patient_notice}]


def attach_fax(app, txn, refill_id: str, fax: dict, note: str = "") -> tuple[dict, dict]:
    """Stage in `txn`: an incoming fax (a pharmacy's) about this request kept with it, noted in its
    history. (old, new)."""
    old = get_refill(app, refill_id, txn)
    entry = {"at": clock.iso(app.now()), "by": app.user, "fax": fax["id"],
             "note": note or f"fax {fax['id']} from {fax['number']} attached"}
    record = {**old, "faxes": old.get("faxes", []) + [fax["id"]], "history": old.get("history", []) + [entry]}
    txn.put(REFILLS, record, old)
    return old, record


def decide(app, refill_id: str, approve: bool, note: str = "") -> dict:
    """Approve or deny as the acting physician, then notify pharmacy and patient."""
    status = "approved" if approve else "denied"
    REFILLS.number(refill_id)  # a malformed id is bad input (exit 2), whoever is acting
    note = fields.body(note, "--note")
    prescriber = _acting_physician(app, "approve" if approve else "deny")
    from medsec.security import signoffs  # (cryptography: only a sign-off pays for it)

    signer = signoffs.Signer(app)  # the physician's key, opened before the transaction
    with app.store.transaction() as txn:
        old = get_refill(app, refill_id, txn)
        if old["status"] != "pending":
            raise Refused(f"{old['id']} is already {old['status']}")
        finish_tasks(app, txn, old["tasks"], f"refill request {old['id']} {status}")
        record = signer.sign(signoffs.REFILL_DECISION, {
            **old, "status": status, "decision": {"at": clock.iso(app.now()), "by": prescriber["id"], "note": note}})
        txn.put(REFILLS, record, old)
    app.audit("refill", _ids(record))
    notices = _notify(app, record, prescriber)
    with app.store.transaction() as txn:
        old = get_refill(app, refill_id, txn)
        tasks = [open_task(app, txn, text=f"tell the {n['for']} that refill request {old['id']} was {status} "
                           f"({n['reason']})", owner="front-desk", due=app.today(), patient_id=old["patient_id"],
                           priority="high", source=old["id"])
                 for n in notices if n["status"] == "failed"]
        record = {**old, "notices": notices, "tasks": old["tasks"] + [t["id"] for t in tasks]}
        txn.put(REFILLS, record, old)
    app.audit("notify", _ids(record))
    return record
