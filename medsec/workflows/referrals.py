"""Referrals: outgoing ones to specialists and facilities, incoming ones from other practices.

Outgoing: draft -> authorization-pending -> sent -> appointment-scheduled ->
report-received -> closed. One that needs the payer's authorization starts in
authorization-pending; only `send` (which carries the referral letter) makes
a referral sent. Incoming: received -> appointment-scheduled -> closed. Any
open referral may be closed (the patient declined, went elsewhere ...).

Each state but the last has a next step with an owner and a due date (STEPS);
an open task mirrors it and is marked done when the referral moves on. The
referral is overdue when today is past that due date:

  draft                   the front desk sends it          2 days (urgent: 1)
  authorization-pending   the biller gets authorization    5 days (urgent: 2)
  sent                    no appointment scheduled yet     14 days (urgent: 3)
  appointment-scheduled   no consult report yet            14 days after the appointment (urgent: 7)
  report-received         the physician reviews, closes    7 days (urgent: 2)
  received (incoming)     the front desk books the patient 7 days (urgent: 2)
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from medsec import clock, documents, templating
from medsec.communications import fields, messaging
from medsec.errors import EnvironmentFailure, InvalidInput, Refused
from medsec.identifiers import format_phone, npi_valid, phone_valid
from medsec.plugin_types import DeliveryError, Message
from medsec.records.patients import clean_fields, find_duplicates, get_patient, new_record, opened
from medsec.records.staff import get_staff
from medsec.scheduling.appointments import get_appointment
from medsec.scheduling.schedule import Schedule
from medsec.scheduling.slots import free_slots
from medsec.store.catalog import PATIENTS, REFERRALS
from medsec.text import shown
from medsec.workflows.care_team import physician, queue_for, usual_physician
from medsec.workflows.tasks import finish_tasks, open_task

STATUSES = ["draft", "authorization-pending", "sent", "appointment-scheduled", "report-received", "received",
            "closed"]
OPEN = [s for s in STATUSES if s != "closed"]
# Changes made with `referral status`; `sent` comes only with `referral send`.
TRANSITIONS = {
    ("out", "draft"): {"authorization-pending", "closed"},
    ("out", "authorization-pending"): {"closed"},
    ("out", "sent"): {"appointment-scheduled", "closed"},
    ("out", "appointment-scheduled"): {"appointment-scheduled", "report-received", "closed"},
    ("out", "report-received"): {"closed"},
    ("in", "received"): {"appointment-scheduled", "closed"},
    ("in", "appointment-scheduled"): {"appointment-scheduled", "closed"},
}
VIAS = ["fax", "mail"]
COLUMNS = ["id", "created", "direction", "patient_id", "to", "from", "urgent", "status", "due"]
ADDRESS = 500  # a postal address, several lines
AUTH_NUMBER = 60  # a payer's authorization number


@dataclass(frozen=True)
class Step:
    """The next step of a referral in one state: whose it is, what, and how many days it may take."""

    owners: tuple[str, ...]  # roles, first one someone on the roster holds; "physician" is the referring one
    text: str
    days: int
    urgent_days: int


STEPS = {
    ("out", "draft"): Step(("front-desk",), "send referral {id} to {party}", 2, 1),
    ("out", "authorization-pending"): Step(("biller", "front-desk"),
                                           "get the payer's authorization for referral {id} to {party}", 5, 2),
    ("out", "sent"): Step(("front-desk",), "confirm {party} booked the appointment for referral {id}", 14, 3),
    ("out", "appointment-scheduled"): Step(("front-desk",), "get the consult report of referral {id} from {party}",
                                           14, 7),
    ("out", "report-received"): Step(("physician",), "review the consult report of referral {id}, then close it",
                                     7, 2),
    ("in", "received"): Step(("front-desk",), "book the patient referred by {party} ({id})", 7, 2),
}


def _ids(record: dict) -> list[str]:
    return [record["id"], record["patient_id"]]


def _history(app, status: str, note: str = "") -> dict:
    return {"at": clock.iso(app.now()), "by": app.user, "status": status, "note": note}


def _fax_number(value: str | None, option: str = "--fax") -> str:
    value = fields.line(value, option)
    if not value:
        return ""
    if not phone_valid(value):
        raise InvalidInput(f"{option} {shown(value)} is not a fax number")
    return format_phone(value)


def diagnoses(app, codes) -> list[dict]:
    """ICD-10-CM codes with their descriptions (medsec.coding.codes.diagnoses); bad input otherwise."""
    from medsec.coding.codes import diagnoses as read  # imports pluggy: listing referrals need not pay for it

    return read(app, codes)


def _owner(app, step: Step, record: dict) -> str:
    if step.owners == ("physician",):
        return record["physician"] or "physician"
    return queue_for(app, step.owners)


def _enter(app, txn, record: dict, status: str, note: str = "", since: date | None = None) -> dict:
    """`record` moved to `status`: its last step's task done, the new step's task opened, due date set."""
    finish_tasks(app, txn, record["tasks"], f"referral {record['id']} is {status}")
    step = STEPS.get((record["direction"], status))
    due, tasks = "", record["tasks"]
    if step:
        due_day = (since or app.today()) + timedelta(days=step.urgent_days if record["urgent"] else step.days)
        task = open_task(app, txn, text=step.text.format(id=record["id"], party=record["to"] or record["from"]),
                         owner=_owner(app, step, record), due=due_day, patient_id=record["patient_id"],
                         priority="urgent" if record["urgent"] else "normal", source=record["id"])
        due, tasks = due_day.isoformat(), tasks + [task["id"]]
    return {**record, "status": status, "due": due, "tasks": tasks, "updated": clock.iso(app.now()),
            "history": record["history"] + [_history(app, status, note)]}


def _new(app, referral_id: str, patient_id: str, direction: str, **fields) -> dict:
    return {"id": referral_id, "direction": direction, "patient_id": patient_id, "to": "", "from": "",
            "reason": "", "dx": [], "urgent": False, "auth_required": False, "auth_number": "", "fax": "",
            "address": "", "physician": "", "appointment": "", "appointment_id": "", "sent": None,
            "status": "", "due": "", "created": clock.iso(app.now()), "by": app.user, "updated": "",
            "history": [], "tasks": [], **fields}


def _require_active(patient: dict) -> None:
    if patient["status"] != "active":
        raise Refused(f"{patient['id']} is {patient['status']}", hint="restore the patient first")


# -- outgoing -----------------------------------------------------------------
def add(app, patient_id: str, *, to: str, reason: str, dx: list[str], urgent: bool = False,
        auth_required: bool = False, fax: str | None = None, address: str = "", physician_id: str | None = None,
        note: str = "") -> dict:
    """An outgoing referral; the referring physician defaults to the patient's usual one."""
    to, reason = fields.line(to, "--specialist", required=True), fields.body(reason, "--reason", required=True)
    address, note = fields.body(address, "--address", ADDRESS), fields.body(note, "--note")
    if not dx:
        raise InvalidInput("give at least one --dx diagnosis code")
    codes = diagnoses(app, dx)
    number = _fax_number(fax)
    referrer = physician(app, physician_id, "--provider") if physician_id else None
    with app.store.transaction() as txn:
        patient = get_patient(app, patient_id, view=txn)
        _require_active(patient)
        referrer = referrer or usual_physician(app, patient["id"], txn)
        (referral_id,) = txn.reserve_ids(REFERRALS)
        record = _new(app, referral_id, patient["id"], "out", to=to, reason=reason, dx=codes, urgent=urgent,
                      auth_required=auth_required, fax=number, address=address,
                      physician=referrer["id"] if referrer else "")
        record = _enter(app, txn, record, "authorization-pending" if auth_required else "draft", note)
        txn.put(REFERRALS, record)
    app.audit("referral", _ids(record))
    return record


def _letter(app, record: dict, patient: dict) -> templating.Rendered:
    member = get_staff(app, record["physician"]) if record["physician"] else {}
    return messaging.render(app, "referral-letter", {
        "practice": messaging.practice_context(app), "patient": messaging.patient_context(patient),
        "physician": {"name": member.get("name", ""), "npi": member.get("npi", "")},
        "referral": {k: record[k] for k in ("id", "to", "reason", "dx", "urgent", "auth_number")}})


def _letter_by_mail(app, record: dict, rendered, pdf: bytes) -> str:
    """Post the letter through the letter route; its delivery id."""
    letter = (f"referral-{record['id']}.pdf", "application/pdf", pdf)
    meta = {"patient_id": record["patient_id"], "referral_id": record["id"]}
    return messaging.deliver(app, messaging.route(app, "letter"), Message(
        kind="letter", to=record["address"], subject=rendered.subject, body=rendered.text, attachments=[letter],
        meta=meta))


def _letter_by_fax(app, record: dict, rendered, pdf: bytes) -> dict:
    """Fax the letter behind the cover sheet; the fax as recorded in the fax log."""
    from medsec.communications import faxes  # (only a referral sent by fax needs it)

    return faxes.send_documents(
        app, to=record["fax"], documents=[(f"referral-{record['id']}.pdf", "application/pdf", pdf)],
        patient_id=record["patient_id"], recipient=record["to"], purpose="referral",
        what=f"referral letter {record['id']}", link=record["id"], subject=rendered.subject,
        note=f"Referral of a patient to {record['to']}.", body=rendered.text,
        meta={"referral_id": record["id"]})


def send(app, referral_id: str, *, via: str | None = None, fax: str | None = None, address: str | None = None,
         auth_number: str | None = None, note: str = "") -> dict:
    """Send the referral letter by fax (with a cover) or as a letter; the referral becomes sent.

    One waiting on authorization goes only with the authorization number
    (`auth_number`), which the letter quotes. Nothing is written unless the
    channel took the message.
    """
    if via and via not in VIAS:
        raise InvalidInput(f"--via {shown(via)} is not one of {', '.join(VIAS)}")
    address, note = fields.body(address, "--address", ADDRESS), fields.body(note, "--note")
    auth_number = fields.line(auth_number, "--auth", AUTH_NUMBER)
    view = app.store.snapshot()
    record = get_referral(app, referral_id, view)
    if record["direction"] != "out":
        raise Refused(f"{record['id']} is an incoming referral")
    if record["status"] not in ("draft", "authorization-pending"):
        raise Refused(f"{record['id']} is {record['status']}; only a draft or one waiting on authorization is sent")
    record = {**record, "fax": _fax_number(fax) or record["fax"], "address": address or record["address"],
              "auth_number": auth_number or record["auth_number"]}
    if record["status"] == "authorization-pending" and not record["auth_number"]:
        raise Refused(f"{record['id']} is waiting on the payer's authorization",
                      hint="give --auth NUMBER once it is granted")
    via = via or ("fax" if record["fax"] else "mail")
    if via == "fax" and not record["fax"]:
        raise InvalidInput(f"{record['id']} has no fax number for {record['to']}", hint="give --fax NUMBER")
    if via == "mail" and not record["address"]:
        raise InvalidInput(f"{record['id']} has no postal address for {record['to']}", hint="give --address TEXT")
    rendered = _letter(app, record, get_patient(app, record["patient_id"], view=view))
    pdf = documents.text_to_pdf(rendered.text, rendered.subject)
    try:
        if via == "fax":
            fax_record = _letter_by_fax(app, record, rendered, pdf)
            sent = {"channel": fax_record["channel"], "to": fax_record["number"],
                    "delivery_id": fax_record["delivery_id"], "fax_id": fax_record["id"]}
        else:
            sent = {"channel": messaging.route(app, "letter").name, "to": record["address"],
                    "delivery_id": _letter_by_mail(app, record, rendered, pdf)}
    except DeliveryError as e:
        error = EnvironmentFailure if e.temporary else Refused
        raise error(f"referral {record['id']} not sent: {e}", hint="try again later" if e.temporary else None) \
            from None
    sent = {"at": clock.iso(app.now()), "via": via, **sent}
    with app.store.transaction() as txn:
        old = get_referral(app, referral_id, txn)
        if old["status"] != record["status"]:
            raise Refused(f"{old['id']} changed to {old['status']} meanwhile")
        new = _enter(app, txn, {**old, **{k: record[k] for k in ("fax", "address", "auth_number")}, "sent": sent},
                     "sent", note)
        txn.put(REFERRALS, new, old)
    app.audit("referral", _ids(new))
    return new


# -- incoming -----------------------------------------------------------------
def _match_or_create(app, txn, patient_id, first, last, dob, phone) -> tuple[dict, bool]:
    """The named patient, or the one with this name and date of birth, or a new one."""
    if patient_id:
        if first or last or dob:
            raise InvalidInput("give --patient or --first/--last/--dob, not both")
        return get_patient(app, patient_id, view=txn), False
    if not (first and last and dob):
        raise InvalidInput("name the patient: --patient ID, or --first, --last and --dob")
    fields = clean_fields({"first": first, "last": last, "dob": dob, "phone": phone}, app.today())
    same = find_duplicates(txn, fields)
    if len(same) > 1:
        raise Refused(f"several patients have that name and date of birth: {', '.join(same)}",
                      hint="give --patient ID")
    if same:
        return get_patient(app, same[0], view=txn), False
    (new_id,) = txn.reserve_ids(PATIENTS)
    patient = new_record(new_id, fields, clock.iso(app.now()))
    txn.put(PATIENTS, patient)
    app.after_commit(txn, "patient_created", [patient], "patient")
    return patient, True


def receive(app, *, sender: str, reason: str, patient_id: str | None = None, first: str | None = None,
            last: str | None = None, dob: str | None = None, phone: str | None = None, dx: Sequence[str] = (),
            urgent: bool = False, type_name: str = "new-patient", provider: str | None = None,
            note: str = "", referrer_npi: str = "", auth_number: str = "") -> dict:
    """An incoming referral for a known or new patient, with the first free slot proposed.

    The referrer's NPI and the payer's authorization number, when given, go on the
    claims for the visit it is linked to (2310A referring provider, REF*G1).

    The proposal (`proposed`) is not booked: 'medsec appt book' does that,
    then 'medsec referral status ID appointment-scheduled --appt A..'.
    """
    sender, reason = fields.line(sender, "--referrer", required=True), fields.body(reason, "--reason", required=True)
    note = fields.body(note, "--note")
    auth_number = fields.line(auth_number, "--auth", AUTH_NUMBER)
    referrer_npi = (referrer_npi or "").strip()
    if referrer_npi and not npi_valid(referrer_npi):
        raise InvalidInput(f"--referrer-npi {shown(referrer_npi)} is not a valid NPI (10 digits, Luhn check)")
    codes = diagnoses(app, dx)
    schedule = Schedule.load(app)  # an unknown type or provider is bad input before anything is written
    if provider:
        schedule.check_performer(provider, type_name)
    else:
        schedule.type(type_name)
    with app.store.transaction() as txn:
        patient, created = _match_or_create(app, txn, patient_id, first, last, dob, phone)
        _require_active(patient)
        (referral_id,) = txn.reserve_ids(REFERRALS)
        record = _new(app, referral_id, patient["id"], "in", **{"from": sender}, reason=reason, dx=codes,
                      urgent=urgent, auth_number=auth_number, referrer_npi=referrer_npi)
        record = _enter(app, txn, record, "received", note)
        txn.put(REFERRALS, record)
    if created:
        app.audit("create", [patient["id"]])
    app.audit("referral", _ids(record))
    slots = free_slots(app, provider=provider, type_name=type_name, start=app.today(), days=14 if urgent else 60,
                       first=True, patient=patient["id"])
    return {**record, "patient_created": created, "proposed": {**slots[0], "type": type_name} if slots else None}


# -- both ---------------------------------------------------------------------
def get_referral(app, referral_id: str, view=None) -> dict:
    found = (view or app.store.snapshot()).require(REFERRALS, referral_id, "referral", "see 'medsec referral list'")
    return opened(app, found, view)


def show_referral(app, referral_id: str) -> dict:
    record = get_referral(app, referral_id)
    app.audit("read", _ids(record))
    return record


def is_overdue(record: dict, today: date) -> bool:
    return record["status"] in OPEN and bool(record["due"]) and record["due"] < today.isoformat()


def list_referrals(app, *, status: str = "open", overdue: bool = False, direction: str | None = None,
                   patient_id: str | None = None, limit: int | None = None, first: date | None = None,
                   last: date | None = None) -> list[dict]:
    """Referrals by due date (soonest first); `open` is every status but closed; `first`/`last`:
    made or received on those days."""
    if status not in STATUSES + ["open", "all"]:
        raise InvalidInput(f"--status {shown(status)} is not one of {', '.join(STATUSES + ['open', 'all'])}")
    view = app.store.snapshot()
    if patient_id:
        pid = get_patient(app, patient_id, view=view)["id"]
        found = view.get_many(REFERRALS, view.lookup("referral-patient", pid))
    else:
        found = view.scan(REFERRALS)
    wanted = OPEN if status == "open" else (STATUSES if status == "all" else [status])
    today = app.today()
    out = [r for r in found if r["status"] in wanted and (not direction or r["direction"] == direction)
           and (not overdue or is_overdue(r, today)) and clock.on_days(r["created"], first, last)]
    out.sort(key=lambda r: (r["due"] or "9999-12-31", REFERRALS.number(r["id"])))
    out = out[:limit] if limit else out
    app.audit("list", [i for r in out for i in _ids(r)])
    return out


def _appointment(app, record: dict, appt_at: str | None, appt_id: str | None) -> tuple[str, str]:
    """(start, our appointment id) for appointment-scheduled: the specialist's time, or our booking."""
    if appt_id:
        if record["direction"] != "in":
            raise InvalidInput("--appt names one of our appointments: it goes with incoming referrals",
                               hint="give --appt-at WHEN (the appointment at the specialist)")
        appt = get_appointment(app, appt_id)
        if appt.get("patient_id") != record["patient_id"] or appt["status"] == "cancelled":
            raise Refused(f"{appt['id']} is not a live appointment of {record['patient_id']}")
        return appt["start"], appt["id"]
    if not appt_at:
        raise InvalidInput("appointment-scheduled needs --appt-at WHEN (or --appt ID for an incoming referral)")
    return clock.iso(clock.parse_datetime(appt_at, app.tz, "--appt-at")), ""


def report_by_fax(app, txn, referral_id: str, fax_id: str, note: str = "") -> tuple[dict, dict]:
    """Stage in `txn`: the consult report came in as fax `fax_id`, so an outgoing referral that was
    sent (or whose appointment is booked) is report-received, its next step the physician's review.
    (old, new); Refused for any other referral."""
    old = get_referral(app, referral_id, txn)
    if old["direction"] != "out" or old["status"] not in ("sent", "appointment-scheduled"):
        what = "an incoming referral" if old["direction"] != "out" else old["status"]
        raise Refused(f"{old['id']} is {what}; a consult report answers an outgoing referral that was sent")
    record = _enter(app, txn, {**old, "reports": old.get("reports", []) + [fax_id]}, "report-received",
                    note or f"consult report received by fax {fax_id}")
    txn.put(REFERRALS, record, old)
    return old, record


def set_status(app, referral_id: str, status: str, *, note: str = "", appt_at: str | None = None,
               appt_id: str | None = None) -> dict:
    """Move a referral along by hand; invalid changes are refused (exit 1)."""
    if status not in STATUSES:
        raise InvalidInput(f"unknown status {shown(status)}", hint=f"one of {', '.join(STATUSES)}")
    if (appt_at or appt_id) and status != "appointment-scheduled":
        raise InvalidInput("--appt-at and --appt go with status appointment-scheduled")
    note = fields.body(note, "--note")
    current = get_referral(app, referral_id)
    appointment = _appointment(app, current, appt_at, appt_id) if status == "appointment-scheduled" else None
    with app.store.transaction() as txn:
        old = get_referral(app, referral_id, txn)
        allowed = TRANSITIONS.get((old["direction"], old["status"]), set())
        if status not in allowed:
            hint = f"send it with 'medsec referral send {old['id']}'" if status == "sent" else \
                (f"from {old['status']}: {', '.join(sorted(allowed))}" if allowed else f"{old['status']} is final")
            raise Refused(f"{old['id']} is {old['status']}; it cannot become {status}", hint=hint)
        record, since = old, None
        if appointment:
            record = {**old, "appointment": appointment[0], "appointment_id": appointment[1]}
            since = datetime.fromisoformat(appointment[0]).astimezone(app.tz).date()
        record = _enter(app, txn, record, status, note, since)
        txn.put(REFERRALS, record, old)
    app.audit("referral", _ids(record))
    return record
