"""Mail: incoming post logged and filed; letters and emails generated from templates."""

import csv
import re
from datetime import date

from medsec import clock, documents, templating
from medsec.communications import fields, messaging
from medsec.errors import InvalidInput, MedsecError, Refused
from medsec.inputs import ID_LIST, open_text
from medsec.plugin_types import DeliveryError, Message
from medsec.records.patients import get_patient
from medsec.scheduling.appointments import get_appointment
from medsec.scheduling.schedule import Schedule
from medsec.store.catalog import MAIL
from medsec.text import clean_text, shown

VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
COLUMNS = ["id", "created", "direction", "patient_id", "template", "channel", "status", "subject"]
KINDS = ("letter", "email")


def receive(app, *, sender: str, subject: str, patient_id: str | None = None, scan: str | None = None) -> dict:
    sender, subject = fields.line(sender, "--sender", required=True), fields.line(subject, "--subject")
    name = fields.file_name(scan) if scan else ""
    patient = get_patient(app, patient_id)["id"] if patient_id else ""
    files = []
    if scan:
        sha, size = app.store.attach_file(scan)
        files.append({"sha256": sha, "name": name, "size": size})
    with app.store.transaction() as txn:
        (mail_id,) = txn.reserve_ids(MAIL)
        record = {"id": mail_id, "created": clock.iso(app.now()), "direction": "in", "from": sender,
                  "subject": subject, "patient_id": patient, "files": files, "template": "", "channel": "",
                  "status": "filed" if patient else "unassigned", "by": app.user, "delivery_id": ""}
        txn.put(MAIL, record)
        app.after_commit(txn, "message_created", [{**record, "kind": "mail"}], "message")
    app.audit("mail", [mail_id] + ([patient] if patient else []))
    return record


ID_LIMIT = 40  # far longer than any patient id: a longer cell is not one


def read_id_list(path: str) -> list[str]:
    """Patient ids from a CSV with a `patient_id` column (`remind followups`, `appt list`), else an
    `id` column (`patient find --format csv`), or one id per line.

    A cell holding a control character or longer than ID_LIMIT is bad input naming its line.
    """
    try:
        with open_text(path, ID_LIST) as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError:
        raise InvalidInput(f"cannot read {shown(path)}: not UTF-8 text") from None
    except csv.Error as e:
        raise InvalidInput(f"cannot read {shown(path)}: not CSV ({e})") from None
    if not rows:
        return []
    header = [c.strip().lower() for c in rows[0]]
    # a list of visits or calls has its own id and the patient's in patient_id; `patient find` an id
    named = "patient_id" if "patient_id" in header else "id" if "id" in header else None
    col, first = (header.index(named), 2) if named else (0, 1)
    ids = [(number, r[col].strip()) for number, r in enumerate(rows[first - 1:], first) if len(r) > col]
    return [clean_text(cell, f"{shown(path)}, line {number}", ID_LIMIT) for number, cell in ids if cell]


def parse_vars(pairs: list[str] | tuple[str, ...]) -> dict:
    """`--var KEY=VALUE` (repeatable) as the templates' `vars`: a KEY of letters, digits and _
    (not starting with a digit), a VALUE of one line; anything else, or a KEY twice, is bad input."""
    out: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not VAR_NAME.fullmatch(key):
            raise InvalidInput(f"--var {shown(pair)}: use KEY=VALUE, KEY of letters, digits and _ "
                               "(e.g. --var flu_clinic=Saturday)")
        if key in out:
            raise InvalidInput(f"--var {key} is given twice")
        out[key] = fields.line(value, f"--var {key}")
    return out


def send(app, *, patients: list[str], template: str, kind: str = "letter", appointment: str | None = None,
         channel: str | None = None, dry_run: bool = False, variables: dict | None = None) -> dict:
    """Mail merge: one letter or email per patient; a failure is reported, not fatal. `variables`
    (from --var) reach the template as `vars`; each record keeps the text sent (`mail show`)."""
    if kind not in KINDS:
        raise InvalidInput(f"--channel {shown(kind)}: use letter or email")
    if not patients:
        raise InvalidInput("no patients to write to", hint="give --patient ID or --to-list FILE")
    r = messaging.route(app, kind, channel)
    _require_template(app, template)
    missing = sorted(templating.attributes_used(app.store.root, template, "vars") - set(variables or {}))
    if missing:
        raise InvalidInput(f"template {template} needs {', '.join(f'--var {k}=VALUE' for k in missing)}")
    schedule = Schedule.load(app)
    appt_context = None
    if appointment:
        appt_context = messaging.appointment_context(app, get_appointment(app, appointment), schedule)
    practice = messaging.practice_context(app)
    variables = variables or {}
    results = [_send_to(app, r, pid, kind, template, practice, appt_context, dry_run, variables)
               for pid in patients]
    sent = [e for e in results if e["status"] == "sent"]
    if sent:
        _record_sent(app, r.name, template, sent, variables)
    for e in results:
        e.pop("body", None)
    app.audit("mail", [e.get("id") for e in sent if e.get("id")] + [e["patient_id"] for e in results])
    counts = {s: sum(e["status"] == s for e in results) for s in ("sent", "failed", "would-send")}
    return {"template": template, "channel": r.name, **counts, "dry_run": dry_run, "letters": results}


def _require_template(app, template: str) -> None:
    templating.require_valid(app.store.root, [template])
    if template not in templating.available(app.store.root):
        raise InvalidInput(f"no template {shown(template)}",
                           hint=f"templates: {', '.join(templating.available(app.store.root))}")


def _send_to(app, route, patient_id: str, kind: str, template: str, practice: dict, appt_context: dict | None,
             dry_run: bool, variables: dict) -> dict:
    """One patient's letter or email, sent (or not, in a dry run); the entry reports how it went."""
    entry = {"patient_id": patient_id.upper(), "status": "", "reason": "", "to": ""}
    try:
        patient = get_patient(app, patient_id)
        entry["patient_id"] = patient["id"]
        message = _message(app, patient, kind, template, practice, appt_context, variables)
        entry["to"] = message.to
        if dry_run:
            entry["status"] = "would-send"
        else:
            entry.update(delivery_id=messaging.deliver(app, route, message), status="sent", subject=message.subject,
                         body=message.body)
    except (MedsecError, DeliveryError) as e:
        entry.update(status="failed", reason=getattr(e, "message", None) or str(e))
    return entry


def _message(app, patient: dict, kind: str, template: str, practice: dict, appt_context: dict | None,
             variables: dict | None = None) -> Message:
    """The patient's rendered letter (with its PDF) or email; refused without an address to send it to."""
    context = {"practice": practice, "patient": messaging.patient_context(patient), "vars": variables or {}}
    if appt_context:
        context["appointment"] = appt_context
    rendered = messaging.render(app, template, context, patient.get("language") or "en")
    to = messaging.address_for(patient, kind)
    if not to:
        raise Refused(f"no {'email address' if kind == 'email' else 'postal address'} on file")
    attachments = []
    if kind == "letter":
        attachments.append((f"{template}.pdf", "application/pdf",
                            documents.text_to_pdf(rendered.text, rendered.subject)))
    return Message(kind=kind, to=to, subject=rendered.subject, body=rendered.text, html=rendered.html,
                   attachments=attachments, meta={"patient_id": patient["id"], "template": template})


def _record_sent(app, channel: str, template: str, sent: list[dict], variables: dict) -> None:
    """Log each sent entry as a mail record (with the text sent and the --var values), and give
    the entry its id."""
    stamp = clock.iso(app.now())
    with app.store.transaction() as txn:
        ids = txn.reserve_ids(MAIL, len(sent))
        records = [{"id": mid, "created": stamp, "direction": "out", "from": "", "subject": e["subject"],
                    "patient_id": e["patient_id"], "files": [], "template": template, "channel": channel,
                    "status": "sent", "by": app.user, "delivery_id": e["delivery_id"], "body": e["body"],
                    "vars": variables}
                   for mid, e in zip(ids, sent, strict=True)]
        txn.put_many(MAIL, records)
        app.after_commit(txn, "message_created", [{**r, "kind": "mail"} for r in records], "message")
    for mid, e in zip(ids, sent, strict=True):
        e["id"] = mid


def get_mail(app, mail_id: str) -> dict:
    return app.store.snapshot().require(MAIL, mail_id, "mail item", "see 'medsec mail list'")


def list_mail(app, *, direction: str | None = None, status: str | None = None,
              limit: int | None = None, first: date | None = None, last: date | None = None) -> list[dict]:
    """Post in and out in the order logged (the last `limit`); `first`/`last`: on those days. A letter's
    text and values stay out of the listing (`mail show` has them): a list shows who and what, not the letters."""
    view = app.store.snapshot()
    out = [{k: v for k, v in m.items() if k not in ("body", "vars")} for m in view.scan(MAIL)
           if (not direction or m["direction"] == direction) and (not status or m["status"] == status)
           and clock.on_days(m["created"], first, last)]
    out = out[-limit:] if limit else out
    app.audit("list", [m["id"] for m in out] + [m["patient_id"] for m in out if m["patient_id"]])
    return out
