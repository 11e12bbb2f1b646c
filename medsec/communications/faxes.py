"""Faxes: incoming ones filed (unmatched ones queued), outgoing ones sent with a cover."""

from datetime import date

from medsec import clock, documents
from medsec.communications import fields, messaging
from medsec.errors import EnvironmentFailure, InvalidInput, Refused
from medsec.identifiers import format_phone, phone_valid
from medsec.inputs import ATTACHMENT, read_input
from medsec.plugin_types import DeliveryError, Message
from medsec.records.patients import get_patient
from medsec.store.catalog import FAXES
from medsec.text import shown

COLUMNS = ["id", "created", "direction", "number", "patient_id", "pages", "status", "subject"]


def _read_document(path: str) -> tuple[bytes, str]:
    """The fax's bytes (kept as read, so what is filed is what was checked) and its kind."""
    data = read_input(path, ATTACHMENT)
    kind = documents.kind_of(data)
    if kind is None:
        raise InvalidInput(f"{shown(path)} is not a PDF or TIFF file")
    return data, kind


def _number(value: str, option: str) -> str:
    value = fields.line(value, option)
    if not phone_valid(value):
        raise InvalidInput(f"{option} {shown(value)} is not a fax number")
    return format_phone(value)


def receive(app, path: str, *, sender: str, patient_id: str | None = None, subject: str = "") -> dict:
    name, subject = fields.file_name(path), fields.line(subject, "--subject")
    number = _number(sender, "--number")
    data, kind = _read_document(path)
    patient = get_patient(app, patient_id)["id"] if patient_id else ""
    sha, size = app.store.attach_bytes(data)
    with app.store.transaction() as txn:
        (fax_id,) = txn.reserve_ids(FAXES)
        record = {"id": fax_id, "created": clock.iso(app.now()), "direction": "in", "number": number,
                  "patient_id": patient, "pages": documents.pdf_pages(data) if kind == "pdf" else 1,
                  "status": "filed" if patient else "unassigned", "subject": subject, "by": app.user,
                  "files": [{"sha256": sha, "name": name, "size": size, "kind": kind}],
                  "delivery_id": "", "channel": ""}
        txn.put(FAXES, record)
        app.after_commit(txn, "message_created", [{**record, "kind": "fax"}], "message")
    app.audit("fax", [fax_id] + ([patient] if patient else []))
    return record


def assign(app, fax_id: str, patient_id: str) -> dict:
    patient = get_patient(app, patient_id)["id"]
    with app.store.transaction() as txn:
        old = get_fax(app, fax_id, view=txn)
        if old["direction"] != "in":
            raise Refused(f"{old['id']} is an outgoing fax")
        record = {**old, "patient_id": patient, "status": "filed"}
        txn.put(FAXES, record, old)
    app.audit("fax", [record["id"], patient])
    return record


def send(app, path: str, *, to: str, patient_id: str | None = None, cover: bool = False,
         subject: str = "", note: str = "") -> dict:
    """Send a PDF/TIFF; recorded only once the gateway has taken it."""
    name, subject, note = fields.file_name(path), fields.line(subject, "--subject"), fields.body(note, "--note")
    number = _number(to, "--number")
    data, kind = _read_document(path)
    patient = get_patient(app, patient_id)["id"] if patient_id else ""
    r = messaging.route(app, "fax")
    pages = documents.pdf_pages(data) if kind == "pdf" else 1
    mime = "application/pdf" if kind == "pdf" else "image/tiff"
    attachments = [(name, mime, data)]
    if cover:
        rendered = messaging.render(app, "fax-cover", {
            "practice": messaging.practice_context(app),
            "fax": {"to": number, "pages": pages + 1, "subject": subject, "note": note}})
        attachments.insert(0, ("cover.pdf", "application/pdf", documents.text_to_pdf(rendered.text, "Fax cover")))
        pages += 1
    message = Message(kind="fax", to=number, subject=subject, body=note, attachments=attachments,
                      meta={"patient_id": patient, "pages": pages})
    try:
        delivery = messaging.deliver(app, r, message)
    except DeliveryError as e:
        error = EnvironmentFailure if e.temporary else Refused
        raise error(f"fax to {number} not sent: {e}", hint="try again later" if e.temporary else None) from None
    sha, size = app.store.attach_bytes(data)
    with app.store.transaction() as txn:
        (fax_id,) = txn.reserve_ids(FAXES)
        record = {"id": fax_id, "created": clock.iso(app.now()), "direction": "out", "number": number,
                  "patient_id": patient, "pages": pages, "status": "sent", "subject": subject, "by": app.user,
                  "files": [{"sha256": sha, "name": name, "size": size, "kind": kind}],
                  "cover": cover, "delivery_id": delivery, "channel": r.name}
        txn.put(FAXES, record)
        app.after_commit(txn, "message_created", [{**record, "kind": "fax"}], "message")
    app.audit("fax", [fax_id] + ([patient] if patient else []))
    return record


def get_fax(app, fax_id: str, view=None) -> dict:
    return (view or app.store.snapshot()).require(FAXES, fax_id, "fax", "see 'medsec fax list'")


def list_faxes(app, *, status: str | None = None, direction: str | None = None,
               limit: int | None = None, first: date | None = None, last: date | None = None) -> list[dict]:
    """Faxes in the order received or sent (the last `limit`); `first`/`last`: on those days."""
    view = app.store.snapshot()
    out = [f for f in view.scan(FAXES)
           if (not status or f["status"] == status) and (not direction or f["direction"] == direction)
           and clock.on_days(f["created"], first, last)]
    out = out[-limit:] if limit else out
    app.audit("list", [f["id"] for f in out] + [f["patient_id"] for f in out if f["patient_id"]])
    return out
