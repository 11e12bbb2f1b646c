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

COLUMNS = ["id", "created", "direction", "number", "recipient", "patient_id", "pages", "link", "status",
           "attempts", "subject"]
# An outgoing fax: queued (not yet taken), sent (the gateway took it), then what the gateway reports.
STATUSES = ["queued", "sent", "delivered", "busy", "no-answer", "failed"]
# Keys an older record may lack, with what they mean there.
DEFAULTS = {"recipient": "", "purpose": "", "what": "", "link": "", "attempts": 0, "note": "", "history": []}
COVER_NAME = "cover.pdf"


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
                  "delivery_id": "", "channel": "", **DEFAULTS, "what": name}
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


def cover_sheet(app, *, number: str, recipient: str, pages: int, subject: str, note: str) -> bytes:
    """The practice's cover sheet (template fax-cover, with its confidentiality notice) as a PDF."""
    rendered = messaging.render(app, "fax-cover", {
        "practice": messaging.practice_context(app),
        "fax": {"to": f"{recipient}, {number}" if recipient else number, "recipient": recipient, "number": number,
                "pages": pages, "subject": subject, "note": note}})
    return documents.text_to_pdf(rendered.text, "Fax cover")


def _pages(data: bytes, mime: str) -> int:
    return documents.pdf_pages(data) if mime == "application/pdf" else 1


def send_documents(app, *, to: str, documents: list[tuple[str, str, bytes]], patient_id: str = "",
                   recipient: str = "", purpose: str = "", what: str = "", link: str = "", subject: str = "",
                   note: str = "", body: str | None = None, cover: bool = True, meta: dict | None = None) -> dict:
    """Fax `documents` ((name, mime, bytes), in order) to `to`, behind the practice's cover sheet unless
    `cover` is False, and record the fax in the log (FAXES) with what it was, to whom and why.

    A DeliveryError from the channel is raised as it is (each caller has its own way of failing);
    nothing is recorded then but the attempt in the audit log, with the patient. `body` is the
    message's text for channels that keep one (the fax channel sends only the files); by default the note.
    """
    number = _number(to, "--number")
    if not documents:
        raise InvalidInput("nothing to fax")
    r = messaging.route(app, "fax")
    attachments = list(documents)
    pages = sum(_pages(data, mime) for _name, mime, data in documents)
    if cover:
        pages += 1
        attachments.insert(0, (COVER_NAME, "application/pdf", cover_sheet(
            app, number=number, recipient=recipient, pages=pages, subject=subject, note=note)))
    message = Message(kind="fax", to=number, subject=subject, body=note if body is None else body,
                      attachments=attachments, meta={"patient_id": patient_id, "pages": pages, **(meta or {})})
    try:
        delivery = messaging.deliver(app, r, message)
    except DeliveryError as e:  # the attempt is audited with the patient: it may have reached the gateway
        why = "the gateway did not answer or failed for now" if e.temporary else "the gateway refused it"
        app.audit("fax", [patient_id] if patient_id else [], outcome=f"not sent: {why}")
        raise
    files = []
    for name, mime, data in attachments:
        sha, size = app.store.attach_bytes(data)
        files.append({"sha256": sha, "name": name, "size": size, "kind": documents_kind(mime), "mime": mime})
    now = clock.iso(app.now())
    with app.store.transaction() as txn:
        (fax_id,) = txn.reserve_ids(FAXES)
        record = {"id": fax_id, "created": now, "direction": "out", "number": number, "patient_id": patient_id,
                  "pages": pages, "status": "sent", "subject": subject, "by": app.user, "files": files,
                  "cover": cover, "delivery_id": delivery, "channel": r.name, "recipient": recipient,
                  "purpose": purpose, "what": what or ", ".join(n for n, _m, _d in documents), "link": link,
                  "attempts": 1, "note": note,
                  "history": [{"at": now, "by": app.user, "status": "sent", "attempt": 1, "delivery_id": delivery}]}
        txn.put(FAXES, record)
        app.after_commit(txn, "message_created", [{**record, "kind": "fax"}], "message")
    app.audit("fax", [fax_id] + ([patient_id] if patient_id else []))
    return record


def documents_kind(mime: str) -> str:
    return "pdf" if mime == "application/pdf" else "tiff"


def resend(app, record: dict) -> str:
    """Send an outgoing fax's stored files again, as they went the first time; the new delivery id."""
    attachments = []
    for f in record["files"]:
        data = app.store.attachment(f["sha256"])
        if data is None:
            raise EnvironmentFailure(f"{record['id']}: the stored file {f['name']} is missing",
                                     hint="run 'medsec store check'")
        attachments.append((f["name"], f.get("mime") or ("application/pdf" if f["kind"] == "pdf" else "image/tiff"),
                            data))
    r = messaging.route(app, "fax", record.get("channel") or None)
    message = Message(kind="fax", to=record["number"], subject=record["subject"], body=record.get("note", ""),
                      attachments=attachments, meta={"patient_id": record["patient_id"], "pages": record["pages"],
                                                     "fax_id": record["id"]})
    return messaging.deliver(app, r, message)


def send(app, path: str, *, to: str, patient_id: str | None = None, cover: bool = True, recipient: str = "",
         purpose: str = "", subject: str = "", note: str = "") -> dict:
    """Send a PDF/TIFF (behind a cover sheet unless `cover` is False); recorded once the gateway has taken it."""
    name, subject, note = fields.file_name(path), fields.line(subject, "--subject"), fields.body(note, "--note")
    recipient, purpose = fields.line(recipient, "--to"), fields.line(purpose, "--purpose")
    number = _number(to, "--number")
    data, kind = _read_document(path)
    patient = get_patient(app, patient_id)["id"] if patient_id else ""
    mime = "application/pdf" if kind == "pdf" else "image/tiff"
    try:
        return send_documents(app, to=number, documents=[(name, mime, data)], patient_id=patient,
                              recipient=recipient, purpose=purpose, what=subject or name, subject=subject,
                              note=note, cover=cover)
    except DeliveryError as e:
        error = EnvironmentFailure if e.temporary else Refused
        raise error(f"fax to {number} not sent: {e}", hint="try again later" if e.temporary else None) from None


def get_fax(app, fax_id: str, view=None) -> dict:
    return {**DEFAULTS, **(view or app.store.snapshot()).require(FAXES, fax_id, "fax", "see 'medsec fax list'")}


def list_faxes(app, *, status: str | None = None, direction: str | None = None,
               limit: int | None = None, first: date | None = None, last: date | None = None) -> list[dict]:
    """Faxes in the order received or sent (the last `limit`); `first`/`last`: on those days."""
    view = app.store.snapshot()
    out = [{**DEFAULTS, **f} for f in view.scan(FAXES)
           if (not status or f["status"] == status) and (not direction or f["direction"] == direction)
           and clock.on_days(f["created"], first, last)]
    out = out[-limit:] if limit else out
    app.audit("list", [f["id"] for f in out] + [f["patient_id"] for f in out if f["patient_id"]])
    return out
