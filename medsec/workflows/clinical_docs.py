"""Clinical documents: letters, consults, reports and notes, dictated or typed, signed by their author.

A document is written for one patient by one author (a staff member on the roster) and starts as
a `draft`: transcribed from a dictation (medsec.workflows.dictation) or typed (`doc new`). The
secretary corrects the draft (`doc edit`); its author signs it (`doc sign`), which freezes the
text: what is said later is an addendum, a document of its own (`addendum_to`) with its own
signature. A signed document is printed on the practice's letterhead (`doc pdf`), filed in the
patient's chart and sent to whom it is addressed (`doc send`: fax or email through the channels,
logged in the fax log and the accounting of disclosures).

The record (kind DOCS, ids D1, D2 ...):

    id, patient_id, author (staff id), kind (KINDS), title, to ({name, fax, email, address,
    referral} or {}), created, by, status ("draft" | "signed"), text, source ("dictation" |
    "typed"), audio ({sha256, size, name, format, seconds} or None), transcript ({engine,
    words: [[text, start, end, confidence] ...], seconds, decode_seconds, unsure} or None),
    edits ([{at, by, chars}]), signed ({by, at} or None), signature (medsec.security.signoffs),
    addendum_to ("" or the signed document's id), sends ([{at, by, via, to, fax_id | delivery_id}]),
    filed ({sha256, at} or None: the signed PDF in the patient's chart), tasks ([task ids])

Words the transcriber was unsure of are written `[?word]` in a draft; a draft that still holds
one cannot be signed.

Every draft opens its author's task to sign it, due dictation.yaml's `sign_within_days` (default
3) after it was written: unsigned documents older than that are overdue in the author's task list.
"""

import re
from datetime import date, timedelta

from medsec import clock
from medsec.communications import fields
from medsec.errors import InvalidInput, Refused
from medsec.identifiers import format_phone, phone_valid
from medsec.records.patients import get_patient, opened
from medsec.records.staff import get_staff
from medsec.store.catalog import DOCS, REFERRALS
from medsec.text import shown
from medsec.workflows.tasks import open_task

KINDS = ["letter", "consult", "report", "note", "sick-note", "prior-auth", "operative"]
KIND_NAMES = {"letter": "letter", "consult": "consult letter", "report": "report", "note": "visit note",
              "sick-note": "sick note", "prior-auth": "prior-authorization letter", "operative": "operative summary"}
STATUSES = ["draft", "signed"]
COLUMNS = ["id", "created", "patient_id", "author", "kind", "title", "to", "source", "status"]
CONFIG = "dictation.yaml"
DEFAULT_SIGN_WITHIN_DAYS = 3
TEXT_LIMIT = 200_000  # characters: a long operative report is some 20,000
UNSURE = re.compile(r"\[\?([^\]\s]*)\]")  # a word the transcriber was unsure of: [?word]


def settings(app) -> dict:
    """dictation.yaml as written ({} when the practice has none)."""
    found = app.config(CONFIG) or {}
    return found if isinstance(found, dict) else {}


def sign_within_days(app) -> int:
    return int(settings(app).get("sign_within_days", DEFAULT_SIGN_WITHIN_DAYS))


def _ids(record: dict) -> list[str]:
    return [record["id"], record["patient_id"]]


def may_sign(app, member: dict) -> bool:
    """Whether a roster member's role holds documents.sign (roles.yaml, else the defaults): only
    such a member authors a document, in an open practice too."""
    from medsec.security.permissions import role_permissions

    roles = role_permissions(app.config("roles.yaml") or None)
    return bool(member.get("active", True)) and "documents.sign" in roles.get(str(member.get("role")), frozenset())


def signing_author(app, author_id: str) -> dict:
    """The roster member `author_id` names, once they may sign documents; Refused (exit 1) for
    anyone else (a front-desk member, a deactivated physician)."""
    author = get_staff(app, author_id)
    if not may_sign(app, author):
        state = f"{author.get('role') or 'no role'}" + ("" if author.get("active", True) else ", deactivated")
        raise Refused(f"{author['id']} ({author.get('name') or author['id']}, {state}) may not sign documents, "
                      "so cannot author one", hint="name the physician who signs it: --author STAFF")
    return author


def clean_text(text: str | None, what: str = "the text", required: bool = True) -> str:
    """A document's text: printable (tabs and newlines kept), within TEXT_LIMIT, not empty."""
    value = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    bad = next((c for c in value if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0
                or c in "\u2028\u2029\ufeff" or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069), None)
    if bad is not None:
        raise InvalidInput(f"{what} holds a control character (U+{ord(bad):04X})")
    if len(value) > TEXT_LIMIT:
        raise InvalidInput(f"{what} is {len(value):,} characters; the limit is {TEXT_LIMIT:,}")
    value = value.strip("\n") + "\n" if value.strip() else ""
    if required and not value:
        raise InvalidInput(f"{what} is empty")
    return value


def recipient(app, view, to: str | None, fax: str | None = None, email: str | None = None,
              address: str | None = None) -> dict:
    """Whom a document is addressed to: a referral's other party (`to` = RF id: its name, fax and
    address), or a name with --fax / --email / --address; {} when not addressed."""
    to = fields.line(to, "--recipient")
    fax, email = fields.line(fax, "--fax"), fields.line(email, "--email")
    address = fields.body(address, "--address")
    if fax and not phone_valid(fax):
        raise InvalidInput(f"--fax {shown(fax)} is not a fax number")
    if email and ("@" not in email or " " in email):
        raise InvalidInput(f"--email {shown(email)} is not an email address")
    if not to:
        if fax or email or address:
            raise InvalidInput("--fax, --email and --address need --recipient NAME (or --recipient REFERRAL)")
        return {}
    found = {"name": to, "fax": format_phone(fax) if fax else "", "email": email, "address": address,
             "referral": ""}
    if to[:2].upper() == REFERRALS.prefix and to[2:].isdigit():
        referral = opened(app, view.require(REFERRALS, to, "referral", "see 'medsec referral list'"), view)
        party = referral.get("to") or referral.get("from") or ""
        found = {"name": party, "fax": found["fax"] or referral.get("fax", ""), "email": email,
                 "address": address or referral.get("address", ""), "referral": referral["id"]}
    return found


def check_new(app, view, *, patient_id: str, author_id: str, kind: str, title: str) -> tuple[dict, dict, str]:
    """What a new document needs: a known kind, a title on one line, an active patient and an author
    who may sign; (patient, author, title), else InvalidInput or Refused."""
    if kind not in KINDS:
        raise InvalidInput(f"--kind {shown(kind)} is not one of {', '.join(KINDS)}")
    title = fields.line(title, "--title")
    patient = get_patient(app, patient_id, view=view)
    if patient["status"] != "active":
        raise Refused(f"{patient['id']} is {patient['status']}", hint="restore the patient first")
    return patient, signing_author(app, author_id), title


def new_document(app, txn, *, patient_id: str, author_id: str, kind: str, text: str, source: str,
                 title: str = "", to: dict | None = None, audio: dict | None = None,
                 transcript: dict | None = None, addendum_to: str = "") -> dict:
    """Stage a new draft in `txn` and its author's task to sign it; the record.

    The patient must be active; the author an active staff member whose role may sign. Typed and dictated
    documents both come through here.
    """
    patient, author, title = check_new(app, txn, patient_id=patient_id, author_id=author_id, kind=kind,
                                       title=title)
    (doc_id,) = txn.reserve_ids(DOCS)
    due = app.today() + timedelta(days=sign_within_days(app))
    what = KIND_NAMES[kind] + (f" (addendum to {addendum_to})" if addendum_to else "")
    task = open_task(app, txn, text=f"sign {what} {doc_id}", owner=author["id"], due=due,
                     patient_id=patient["id"], source=doc_id)
    record = {"id": doc_id, "patient_id": patient["id"], "author": author["id"], "kind": kind, "title": title,
              "to": to or {}, "created": clock.iso(app.now()), "by": app.user, "status": "draft", "text": text,
              "source": source, "audio": audio, "transcript": transcript, "edits": [], "signed": None,
              "addendum_to": addendum_to, "sends": [], "filed": None, "tasks": [task["id"]]}
    txn.put(DOCS, record)
    return record


def type_document(app, patient_id: str, *, author_id: str, kind: str, text: str, title: str = "",
                  to: str | None = None, to_fax: str | None = None, to_email: str | None = None,
                  to_address: str | None = None) -> dict:
    """`doc new`: a typed document (no audio), a draft in its author's queue."""
    text = clean_text(text)
    with app.store.transaction() as txn:
        record = new_document(app, txn, patient_id=patient_id, author_id=author_id, kind=kind, text=text,
                              source="typed", title=title, to=recipient(app, txn, to, to_fax, to_email, to_address))
    app.audit("doc", _ids(record))
    return record


def get_doc(app, doc_id: str, view=None) -> dict:
    found = (view or app.store.snapshot()).require(DOCS, doc_id, "document", "see 'medsec doc list'")
    return opened(app, found, view)


def require_draft(record: dict, verb: str = "change") -> None:
    """Refused (exit 1) unless `record` is a draft: a signed document's text is frozen."""
    if record["status"] != "draft":
        signed = record.get("signed") or {}
        raise Refused(f"{record['id']} was signed by {signed.get('by', '?')} at {signed.get('at', '?')}: "
                      f"its text is frozen and cannot {verb}",
                      hint=f"add an addendum: medsec doc addendum {record['id']} --file FILE")


def addenda(view, record: dict) -> list[dict]:
    """The addenda of a signed document, oldest first."""
    found = view.get_many(DOCS, view.lookup("doc-patient", record["patient_id"]))
    return sorted((d for d in found if d.get("addendum_to") == record["id"]), key=lambda d: DOCS.number(d["id"]))


def show_doc(app, doc_id: str) -> dict:
    """One document with the ids of its addenda (audited as a read)."""
    view = app.store.snapshot()
    record = get_doc(app, doc_id, view)
    app.audit("read", _ids(record))
    return {**record, "addenda": [d["id"] for d in addenda(view, record)]}


def is_overdue(record: dict, today: date, days: int) -> bool:
    return record["status"] == "draft" and record["created"][:10] < (today - timedelta(days=days)).isoformat()


def list_docs(app, *, unsigned: bool = False, mine: bool = False, author: str | None = None,
              patient_id: str | None = None, kind: str | None = None, limit: int | None = None,
              first: date | None = None, last: date | None = None) -> list[dict]:
    """Documents, oldest first, as rows (COLUMNS, the recipient's name as `to`). `mine`: the acting
    user's, as author; `unsigned`: drafts only (from the signing queue's index)."""
    from medsec.records.staff import acting_members

    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"--kind {shown(kind)} is not one of {', '.join(KINDS)}")
    view = app.store.snapshot()
    authors: set[str] | None = None
    if mine:
        authors = {m["id"] for m in acting_members(app)}
    elif author:
        authors = {get_staff(app, author)["id"]}
    if patient_id:
        found = view.get_many(DOCS, view.lookup("doc-patient", get_patient(app, patient_id, view=view)["id"]))
    elif unsigned and authors is not None:
        found = view.get_many(DOCS, [i for a in sorted(authors) for i in view.lookup("doc-unsigned", a)])
    else:
        found = view.scan(DOCS)
    out = [d for d in found if (not unsigned or d["status"] == "draft") and (authors is None or d["author"] in authors)
           and (kind is None or d["kind"] == kind) and clock.on_days(d["created"], first, last)]
    out.sort(key=lambda d: DOCS.number(d["id"]))
    out = out[:limit] if limit else out
    app.audit("list", [i for d in out for i in _ids(d)])
    return [{**{c: d.get(c, "") for c in COLUMNS}, "to": (d.get("to") or {}).get("name", "")} for d in out]
