"""Clinical documents signed, printed on the letterhead, filed in the chart, sent; addenda.

`sign`: only the document's author (the acting user matched to the roster) signs a draft, which
holds no `[?word]` mark left by the transcriber. The signature (medsec.security.signoffs, kind
"document signature") covers the patient, author, kind, title, recipient, text, the document it
adds to, who signed when and the signed PDF's hash; the signed PDF (template clinical-letter on the practice's
letterhead) is kept in the store and filed in the patient's chart (`attachments`), the author's
task to sign it is done: all in one transaction, on the draft as it was checked.

`addendum`: what is said after signing is a new draft (`addendum_to`), signed like any other; a
signed document's PDF carries its signed addenda after it.

`send`: a signed document (with its signed addenda) by fax (the fax log, behind the cover
sheet) or by email (the mail log, the PDF attached), both in the accounting of disclosures: a
consult letter, report, visit note or operative summary is sent for treatment, a
prior-authorization letter for payment (exempt from the accounting); a letter or a sick note
is accounted for. The same destination twice needs `again`; a send is claimed on the document
first (`sending`), so two terminals never send it at once.
"""

from datetime import timedelta

from medsec import clock, documents
from medsec.communications import fields, messaging
from medsec.errors import EnvironmentFailure, InvalidInput, NotFound, Refused
from medsec.identifiers import format_phone, phone_valid
from medsec.plugin_types import DeliveryError, Message
from medsec.records.patients import get_patient
from medsec.records.staff import acting_members, get_staff
from medsec.store.catalog import DOCS, MAIL, PATIENTS
from medsec.text import shown
from medsec.workflows import clinical_docs as docs
from medsec.workflows.tasks import finish_tasks

TEMPLATE = "clinical-letter"
SENDING_STALE = timedelta(minutes=15)  # a send claimed longer ago than this was a run that died
VIAS = ["fax", "email"]
# Why a document goes out, by kind (medsec.reports.disclosures: the words before the colon decide
# whether the accounting of disclosures lists it as required).
PURPOSES = {"consult": "treatment", "report": "treatment", "note": "treatment", "operative": "treatment",
            "prior-auth": "prior authorization", "letter": "letter", "sick-note": "sick note"}


def _ids(record: dict) -> list[str]:
    return [record["id"], record["patient_id"]]


def _number(doc_id: str) -> str:
    """A malformed id is bad input (exit 2), whoever acts."""
    DOCS.number(doc_id)
    return doc_id.strip().upper()


def _author(app, record: dict, verb: str = "sign") -> dict:
    """The acting user as the document's author, while their role may sign; Refused (exit 1) for
    anyone else."""
    for member in acting_members(app):
        if member["id"] != record["author"]:
            continue
        if not member.get("active", True):
            raise Refused(f"{member['id']} ({member.get('name') or member['id']}) was deactivated and may no "
                          f"longer {verb} {record['id']}", hint="another physician writes it anew: medsec doc new")
        if not docs.may_sign(app, member):
            raise Refused(f"{member['id']} ({member.get('role') or 'no role'}) may not {verb} documents: "
                          "the role does not hold documents.sign",
                          hint="an administrator grants permissions to roles (roles.yaml)")
        return member
    try:
        name = get_staff(app, record["author"]).get("name") or record["author"]
    except NotFound:  # an author no longer on the roster: the id says enough
        name = record["author"]
    raise Refused(f"only {record['author']} ({name}), the author of {record['id']}, may {verb} it, "
                  f"and {shown(app.user)} is not", hint="act as the author: --user or MEDSEC_USER "
                  "(staff id, login or email)")


def _require_signable(record: dict) -> None:
    docs.require_draft(record, "be signed again")
    text = record.get("text") or ""
    if not text.strip():
        raise Refused(f"{record['id']} has no text to sign", hint=f"write it first: medsec doc edit {record['id']}")
    unsure = docs.UNSURE.findall(text)
    if unsure:
        raise Refused(f"{record['id']} still holds {len(unsure)} word{'s' if len(unsure) != 1 else ''} marked "
                      f"unsure, the first [?{unsure[0]}]",
                      hint=f"correct them and remove the marks: medsec doc edit {record['id']}")


# -- the letter --------------------------------------------------------------------------------------
def _signer_of(app, record: dict) -> dict | None:
    signed = record.get("signed")
    if record.get("status") != "signed" or not signed:
        return None
    try:
        member = get_staff(app, signed["by"])
    except NotFound:  # a signer no longer on the roster
        member = {}
    at = str(signed.get("at", ""))
    return {"id": signed["by"], "name": member.get("name") or signed["by"], "npi": member.get("npi", ""),
            "on": f"{at[:10]} {at[11:16]}".strip(), "date": at[:10]}


def _document_context(app, record: dict) -> dict:
    return {"id": record["id"], "kind": record["kind"], "kind_name": docs.KIND_NAMES[record["kind"]],
            "title": record.get("title") or "", "text": record.get("text") or "", "status": record["status"],
            "addendum_to": record.get("addendum_to") or "", "created": record["created"][:10],
            "signed": _signer_of(app, record)}


def render_letter(app, view, record: dict, patient: dict | None = None):
    """The document on the practice's letterhead (template clinical-letter), with its signed
    addenda after it (none for an addendum itself); medsec.templating.Rendered."""
    patient = patient or get_patient(app, record["patient_id"], view=view)
    to = record.get("to") or {}
    later = [] if record.get("addendum_to") else [a for a in docs.addenda(view, record) if a["status"] == "signed"]
    author = get_staff(app, record["author"])
    signed = _signer_of(app, record)
    return messaging.render(app, TEMPLATE, {
        "practice": messaging.practice_context(app), "patient": messaging.patient_context(patient),
        "date": signed["date"] if signed else app.today().isoformat(),
        "to": {"name": to.get("name", ""), "address": to.get("address", ""), "fax": to.get("fax", ""),
               "email": to.get("email", "")},
        "author": {"id": author["id"], "name": author.get("name", ""), "npi": author.get("npi", "")},
        "document": _document_context(app, record),
        "addenda": [_document_context(app, a) for a in later]})


def letter_pdf(app, view, record: dict, patient: dict | None = None) -> bytes:
    rendered = render_letter(app, view, record, patient)
    return documents.text_to_pdf(rendered.text, rendered.subject)


def _file_name(record: dict) -> str:
    return f"{record['kind']}-{record['id']}.pdf"


def pdf(app, doc_id: str, output: str) -> dict:
    """`doc pdf`: the document on the letterhead, written to `output` ('-': standard output)."""
    from medsec.outputs import check_output, write_output

    doc_id = _number(doc_id)
    check_output(output, app.data_dir)
    view = app.store.snapshot()
    record = docs.get_doc(app, doc_id, view)
    data = letter_pdf(app, view, record)
    written = write_output(output, data, data_dir=app.data_dir)
    app.audit("export", _ids(record))
    return {"id": record["id"], "patient_id": record["patient_id"], "status": record["status"], "file": written,
            "bytes": len(data)}


# -- signing -----------------------------------------------------------------------------------------
def sign(app, doc_id: str) -> dict:
    """Sign a draft as its author: signature, the signing task done, the PDF filed in the chart."""
    from medsec.security import signoffs  # (cryptography: only a sign-off pays for it)

    doc_id = _number(doc_id)
    view = app.store.snapshot()
    draft = docs.get_doc(app, doc_id, view)
    author = _author(app, draft)
    _require_signable(draft)
    signer = signoffs.Signer(app, view)  # the author's key, opened before the transaction
    now = clock.iso(app.now())
    signed = {**draft, "status": "signed", "signed": {"by": author["id"], "at": now}}
    patient = get_patient(app, draft["patient_id"], view=view)
    data = letter_pdf(app, view, signed, patient)
    sha, size = app.store.attach_bytes(data)  # the content lands first: a crash leaves an unreferenced file
    what = docs.KIND_NAMES[draft["kind"]]
    if draft.get("addendum_to"):
        what = f"addendum to {what} {draft['addendum_to']}:"
    label = f"{what} {draft['id']}, signed {now[:10]}"
    with app.store.transaction() as txn:
        old = docs.get_doc(app, doc_id, txn)
        if old != draft:
            raise Refused(f"{doc_id} was changed while it was being signed", hint=f"read it again and sign: "
                          f"medsec doc show {doc_id}")
        finish_tasks(app, txn, old.get("tasks") or [], f"{what} {old['id']} signed")
        record = signer.sign(signoffs.DOC_SIGNATURE, {**signed, "filed": {"sha256": sha, "at": now}})
        txn.put(DOCS, record, old)
        chart = get_patient(app, old["patient_id"], view=txn)
        attachment = {"sha256": sha, "name": _file_name(old), "size": size, "label": label, "added": now,
                      "by": app.user}
        txn.put(PATIENTS, {**chart, "attachments": chart.get("attachments", []) + [attachment], "updated": now},
                chart)
    app.audit("doc-sign", _ids(record) + ([chart["id"]] if chart["id"] != record["patient_id"] else []),
              outcome=f"ok: signed by {author['id']}, filed {sha[:12]}")
    return record


# -- addenda -----------------------------------------------------------------------------------------
def addendum(app, doc_id: str, text: str, author_id: str | None = None) -> dict:
    """A new draft adding to a signed document: same patient, kind and recipient; its author (by
    default the original's) signs it with `doc sign`."""
    doc_id = _number(doc_id)
    text = docs.clean_text(text)
    if author_id:
        try:
            get_staff(app, author_id)
        except NotFound:
            raise InvalidInput(f"--author {shown(author_id)}: no such staff member", hint="see 'medsec staff list'") \
                from None
    with app.store.transaction() as txn:
        original = docs.get_doc(app, doc_id, txn)
        if original["status"] != "signed":
            raise Refused(f"{original['id']} is a draft, not signed yet: edit the draft instead",
                          hint=f"medsec doc edit {original['id']}")
        if original.get("addendum_to"):
            raise Refused(f"{original['id']} is an addendum to {original['addendum_to']}",
                          hint=f"add to the document itself: medsec doc addendum {original['addendum_to']} --file FILE")
        record = docs.new_document(app, txn, patient_id=original["patient_id"],
                                   author_id=author_id or original["author"], kind=original["kind"], text=text,
                                   source="typed", title=original.get("title") or "", to=original.get("to") or {},
                                   addendum_to=original["id"])
    app.audit("doc", _ids(record) + [original["id"]])
    return record


# -- sending -----------------------------------------------------------------------------------------
def _destination(fax: str | None, email: str | None) -> tuple[str, str]:
    """(via, to): --fax or --email, else the document's recipient's fax, then email."""
    if fax and email:
        raise InvalidInput("give --fax or --email, not both")
    if fax is not None:
        fax = fields.line(fax, "--fax", required=True)
        if not phone_valid(fax):
            raise InvalidInput(f"--fax {shown(fax)} is not a fax number")
        return "fax", format_phone(fax)
    if email is not None:
        email = fields.line(email, "--email", required=True)
        if "@" not in email or " " in email or email.startswith("@") or email.endswith("@"):
            raise InvalidInput(f"--email {shown(email)} is not an email address")
        return "email", email
    return "", ""


def send(app, doc_id: str, *, fax: str | None = None, email: str | None = None, again: bool = False) -> dict:
    """Send a signed document (with its signed addenda) by fax or email; the document with the send
    recorded in `sends`. Nothing is written unless the channel took it."""
    doc_id = _number(doc_id)
    via, to = _destination(fax, email)
    view = app.store.snapshot()
    record = docs.get_doc(app, doc_id, view)
    if record["status"] != "signed":
        raise Refused(f"{record['id']} is a draft: only a signed document is sent",
                      hint=f"its author signs it first: medsec doc sign {record['id']}")
    recipient = record.get("to") or {}
    if not via:
        if recipient.get("fax"):
            via, to = "fax", recipient["fax"]
        elif recipient.get("email"):
            via, to = "email", recipient["email"]
        else:
            raise InvalidInput(f"{record['id']} names no fax number or email address to send it to",
                               hint="give --fax NUMBER or --email ADDRESS")
    _refuse_resend(record, via, to, again)
    patient = get_patient(app, record["patient_id"], view=view)
    rendered = render_letter(app, view, record, patient)
    data = documents.text_to_pdf(rendered.text, rendered.subject)
    name = recipient.get("name") or ""
    kind_name = docs.KIND_NAMES[record["kind"]]
    purpose = f"{PURPOSES[record['kind']]}: {kind_name} {record['id']}"
    what = f"{kind_name} {record['id']}"
    _claim(app, doc_id, via, to, again)
    try:
        if via == "fax":
            from medsec.communications import faxes  # (only a document sent by fax needs it)

            sent_fax = faxes.send_documents(
                app, to=to, documents=[(_file_name(record), "application/pdf", data)],
                patient_id=record["patient_id"], recipient=name, purpose=purpose, what=what, link=record["id"],
                subject=rendered.subject, note=f"{kind_name.capitalize()} {record['id']}.", body=rendered.text,
                meta={"doc_id": record["id"]})
            entry = {"via": "fax", "to": sent_fax["number"], "fax_id": sent_fax["id"],
                     "channel": sent_fax["channel"], "delivery_id": sent_fax["delivery_id"]}
        else:
            entry = _email(app, record, to, name, purpose, what, rendered, data)
    except DeliveryError as e:
        _release(app, doc_id, None)
        error = EnvironmentFailure if e.temporary else Refused
        raise error(f"{record['id']} not sent by {via} to {to}: {e}",
                    hint="try again later" if e.temporary else None) from None
    except BaseException:
        _release(app, doc_id, None)
        raise
    entry = {"at": clock.iso(app.now()), "by": app.user, **entry}
    new = _release(app, doc_id, entry)
    app.audit("doc-send", _ids(new) + [entry.get("fax_id") or entry["mail_id"]], outcome=f"ok: {via} to {to}")
    return new


def _refuse_resend(record: dict, via: str, to: str, again: bool) -> None:
    sent = [s for s in record.get("sends") or [] if s.get("via") == via and s.get("to") == to]
    if sent and not again:
        raise Refused(f"{record['id']} was sent by {via} to {to} at {sent[-1].get('at', '?')}",
                      hint="send it once more with --again")


def _claim(app, doc_id: str, via: str, to: str, again: bool) -> None:
    """Mark the document as being sent, in one transaction, so two terminals never send it at once.
    A send that started and never finished (the process died: the fax may have gone) is not taken
    for a failure: it is sent again only with `again`, once the fax or mail log was looked at."""
    now = app.now()
    with app.store.transaction() as txn:
        old = docs.get_doc(app, doc_id, txn)
        _refuse_resend(old, via, to, again)
        sending = old.get("sending")
        if sending:
            since = clock.stored_moment(sending["at"], app.tz)
            if now - since < SENDING_STALE:
                raise Refused(f"{old['id']} is being sent by {sending['via']} to {sending['to']} "
                              f"(by {sending['by']}, since {sending['at'][:16]})", hint="see 'medsec doc show' soon")
            if not again:
                raise Refused(f"a send of {old['id']} by {sending['via']} to {sending['to']} started at "
                              f"{sending['at'][:16]} and did not finish: it may have gone out",
                              hint=f"see 'medsec {'fax' if sending['via'] == 'fax' else 'mail'} list'; "
                                   "--again sends it once more")
        txn.put(DOCS, {**old, "sending": {"via": via, "to": to, "at": clock.iso(now), "by": app.user}}, old)


def _release(app, doc_id: str, entry: dict | None) -> dict:
    """The claim done: the send recorded in `sends` (`entry`), or not (None); the document."""
    with app.store.transaction() as txn:
        old = docs.get_doc(app, doc_id, txn)
        new = {k: v for k, v in old.items() if k != "sending"}
        if entry is not None:
            new["sends"] = (old.get("sends") or []) + [entry]
        txn.put(DOCS, new, old)
    return new


def _email(app, record: dict, to: str, name: str, purpose: str, what: str, rendered, data: bytes) -> dict:
    """Email the PDF (its cover text names no patient), logged in the mail log; the send's entry."""
    route = messaging.route(app, "email")
    practice = messaging.practice_context(app)
    body = (f"Please find attached {what} from {practice['name'] or 'our practice'}.\n\n"
            f"This message is confidential and intended only for {name or to}. If you received it in error, "
            f"please tell us{(' at ' + practice['phone']) if practice['phone'] else ''} and delete it.\n")
    file_name = _file_name(record)
    message = Message(kind="email", to=to, subject=rendered.subject, body=body, html=None,
                      attachments=[(file_name, "application/pdf", data)],
                      meta={"patient_id": record["patient_id"], "doc_id": record["id"]})
    try:
        delivery = messaging.deliver(app, route, message)
    except DeliveryError as e:  # the attempt is audited with the patient, as a fax's is
        why = "the mail server did not answer or failed for now" if e.temporary else "the mail server refused it"
        app.audit("mail", [record["patient_id"]], outcome=f"not sent: {why}")
        raise
    sha, size = app.store.attach_bytes(data)
    with app.store.transaction() as txn:
        (mail_id,) = txn.reserve_ids(MAIL)
        mail = {"id": mail_id, "created": clock.iso(app.now()), "direction": "out", "from": "",
                "subject": rendered.subject, "patient_id": record["patient_id"],
                "files": [{"sha256": sha, "name": file_name, "size": size}], "template": TEMPLATE,
                "channel": route.name, "status": "sent", "by": app.user, "delivery_id": delivery, "body": body,
                "to": to, "recipient": name or to, "purpose": purpose, "link": record["id"], "what": what}
        txn.put(MAIL, mail)
        app.after_commit(txn, "message_created", [{**mail, "kind": "mail"}], "message")
    return {"via": "email", "to": to, "mail_id": mail_id, "channel": route.name, "delivery_id": delivery}
