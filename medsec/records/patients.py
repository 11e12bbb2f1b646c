"""Patients: registration, lookup, edits, coverages, notes, attachments, merge, restricted charts."""

import functools
import os
import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import NamedTuple

from medsec import clock
from medsec.errors import InvalidInput, NotFound, Refused
from medsec.identifiers import email_valid, parse_phone, phone_digits, state_valid, zip_valid
from medsec.records.namematch import NameIndex, fits_by_prefix, fits_closely, name_forms
from medsec.records.restrictions import as_listed, check_access, known_roles, merged_restriction
from medsec.store.catalog import PATIENT_RECORDS, PATIENTS
from medsec.text import clean_text, fold, shown, words
from medsec.vocabulary import CHANNEL_KINDS

FIELDS = ["first", "last", "dob", "sex", "phone", "email", "address", "city", "state", "zip",
          "language", "preferred_channel", "reminders", "guarantor", "external_id"]
SEXES = {"m": "M", "male": "M", "f": "F", "female": "F", "x": "X", "other": "X", "u": "U", "unknown": "U"}
RELATIONSHIPS = ["self", "spouse", "child", "other"]
RANKS = ["primary", "secondary", "tertiary"]
SUMMARY_COLUMNS = ["id", "last", "first", "dob", "phone", "status"]

# The most characters each text a patient's record keeps may hold. Every one
# refuses control and bidi characters (medsec.text.clean_text); only a note
# keeps line breaks. Names: 60, well past real names (and the old rule);
# subscriber: a whole name. Street address: 200, two envelope lines with room
# to spare. Ids other systems give (external id, member id, group): 64, past
# any payer's. Coded fields (sex, state, ZIP, language, phone, email) get room
# for a mistyped value, so that their own rule names what is wrong with it.
TEXT_LIMITS = {
    "first": 60, "last": 60, "address": 200, "city": 60, "external_id": 64, "guarantor": 20,
    "sex": 20, "phone": 40, "email": 254, "state": 40, "zip": 20, "language": 20,
    "preferred_channel": 20, "dob": 40,
    "payer": 64, "member_id": 64, "group": 64, "subscriber": 120,
    "note": 4000, "reason": 200, "label": 200, "file name": 255,
}
MULTILINE = frozenset({"note"})


def clean(field: str, value) -> str:
    """`value` as a record may keep it: no control characters, within the field's limit."""
    return clean_text(value, field, TEXT_LIMITS[field], multiline=field in MULTILINE)


# -- validation -------------------------------------------------------------
def parse_dob(value, today: date) -> str:
    text = str(value).strip()
    if not (re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) or re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text)):
        raise InvalidInput(f"dob: cannot read date of birth {shown(text)} (use YYYY-MM-DD)")
    try:
        dob = clock.parse_date(text, field="date of birth")
    except InvalidInput as e:
        raise InvalidInput(f"dob: {e.message}") from None
    if dob > today:
        raise InvalidInput(f"dob: date of birth {dob} is in the future")
    if dob.year < 1880:
        raise InvalidInput(f"dob: date of birth {dob} is implausibly early")
    return dob.isoformat()


def age_on(dob: str, day: date) -> int:
    """The age in whole years on `day` of a patient born on `dob` (ISO)."""
    born = date.fromisoformat(dob)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _clean_name(key: str, value: str) -> str:
    if not value:
        raise InvalidInput(f"{key}: a name cannot be empty")
    if not any(ch.isalpha() for ch in value):
        raise InvalidInput(f"{key}: {shown(value)} is not a name")
    return value


def _clean_sex(value) -> str:
    if str(value).lower() not in SEXES:
        raise InvalidInput(f"sex: {shown(value)} is not one of M, F, X, U")
    return SEXES[str(value).lower()]


def _clean_email(value: str) -> str:
    if not email_valid(value):
        raise InvalidInput(f"email: {shown(value)} is not an email address")
    return value.lower()


def _clean_state(value: str) -> str:
    code = value.upper()
    if not state_valid(code):
        raise InvalidInput(f"state: {shown(value)} is not a US state code (two letters, like MA or PR)")
    return code


def _clean_zip(value: str) -> str:
    if not zip_valid(value):
        raise InvalidInput(f"zip: {shown(value)} is not a 5- or 9-digit ZIP")
    return value


def _clean_language(value: str) -> str:
    value = value.lower()
    if not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{2,8})?", value):
        raise InvalidInput(f"language: {shown(value)} is not a language code like en or es")
    return value


def _clean_channel(value: str) -> str:
    if value not in CHANNEL_KINDS:
        raise InvalidInput(f"preferred_channel: {shown(value)} is not one of {', '.join(CHANNEL_KINDS)}")
    return value


def _clean_guarantor(value: str) -> str:
    """'self', or a patient id in its own spelling; whether that patient exists is
    checked against the records when the change is made (resolve_guarantor)."""
    if value.lower() == "self":
        return "self"
    try:
        return PATIENTS.format_id(PATIENTS.number(value))
    except InvalidInput:
        raise InvalidInput(f"guarantor: {shown(value)} is neither a patient id (like P42) nor 'self'") from None


# Fields with a rule beyond clean text; the others (address, city, external_id) are kept as typed.
_CLEANERS: dict[str, Callable] = {
    "first": functools.partial(_clean_name, "first"), "last": functools.partial(_clean_name, "last"),
    "sex": _clean_sex, "phone": parse_phone, "email": _clean_email, "state": _clean_state, "zip": _clean_zip,
    "language": _clean_language, "preferred_channel": _clean_channel, "guarantor": _clean_guarantor,
}
# Fields that may be left blank: their rule applies only to a value.
_OPTIONAL = frozenset({"phone", "email", "state", "zip", "language", "preferred_channel", "guarantor"})


def _clean_value(key: str, value, today: date):
    if key == "reminders":
        return bool(value)
    value = clean(key, value).strip()
    if key == "dob":
        return parse_dob(value, today)
    if key in _OPTIONAL and not value:
        return value
    cleaner = _CLEANERS.get(key)
    return cleaner(value) if cleaner else value


def clean_fields(raw: dict, today: date, partial: bool = False) -> dict:
    """Validated, normalised patient fields; InvalidInput names the field."""
    out: dict = {}
    for key, value in raw.items():
        if value is None:
            continue
        if key not in FIELDS:
            raise InvalidInput(f"unknown patient field {shown(key)}")
        out[key] = _clean_value(key, value, today)
    if not partial:
        for key in ("first", "last", "dob"):
            if not out.get(key):
                raise InvalidInput(f"{key} is required")
    return out


def resolve_guarantor(view, fields: dict) -> dict:
    """`fields` with a guarantor id that names a registered patient; a merged id
    becomes the record it was merged into (the same person). A guarantor no
    record holds is bad input (exit 2), refused before anything is written."""
    guarantor = fields.get("guarantor")
    if not guarantor or guarantor == "self":
        return fields
    record = view.get(PATIENTS, guarantor)
    seen = set()
    while record is not None and record.get("status") == "merged" and record["id"] not in seen:
        seen.add(record["id"])
        record = view.get(PATIENTS, record.get("merged_into") or guarantor)
    if record is None or record.get("status") == "merged":
        raise InvalidInput(f"guarantor: there is no patient {guarantor}",
                           hint="give a registered patient's id, or 'self'")
    return {**fields, "guarantor": record["id"]}


def duplicate_key(p: dict) -> tuple:
    return (" ".join(words(p.get("first", ""))), " ".join(words(p.get("last", ""))), p.get("dob"))


def find_duplicates(view, fields: dict) -> list[str]:
    """Ids of live patients with the same name and date of birth."""
    if not fields.get("dob"):
        return []
    key = duplicate_key(fields)
    ids = view.lookup("patient-dob", fields["dob"])
    return [p["id"] for p in view.get_many(PATIENTS, ids)
            if p.get("status") != "merged" and duplicate_key(p) == key]


def new_record(patient_id: str, fields: dict, stamp: str) -> dict:
    record = {"id": patient_id, "first": "", "last": "", "dob": "", "sex": "U", "phone": "",
              "email": "", "address": "", "city": "", "state": "", "zip": "", "language": "en",
              "preferred_channel": "", "reminders": True, "guarantor": "", "external_id": ""}
    record.update(fields)
    record.update({"status": "active", "coverages": [], "notes": [], "attachments": [],
                   "created": stamp, "updated": stamp})
    return record


# -- commands -------------------------------------------------------------
def add_patient(app, raw: dict, allow_duplicate: bool = False) -> dict:
    fields = clean_fields(raw, app.today())
    with app.store.transaction() as txn:
        fields = resolve_guarantor(txn, fields)
        dupes = find_duplicates(txn, fields)
        if dupes and not allow_duplicate:
            raise Refused(f"a patient with the same name and date of birth exists: {', '.join(dupes)}",
                          hint="use --allow-duplicate if this is a different person")
        (patient_id,) = txn.reserve_ids(PATIENTS)
        record = new_record(patient_id, fields, clock.iso(app.now()))
        txn.put(PATIENTS, record)
        app.after_commit(txn, "patient_created", [record], "patient")
    app.audit("create", [patient_id])
    return record


def get_patient(app, patient_id: str, follow: bool = True, view=None) -> dict:
    """The patient; a merged id leads to its survivor when `follow`.

    Every look-up of a patient by id, in every domain, goes through here, so this is where a
    restricted chart is refused to a role it is not open to (check_access): a new command that
    finds its patient here cannot forget the check.
    """
    record = _find_patient(view or app.store.snapshot(), patient_id, follow)
    check_access(app, record)
    return record


def _find_patient(view, patient_id: str, follow: bool) -> dict:
    """The patient record of `patient_id` (its survivor when merged and `follow`), unchecked."""
    record = view.require(PATIENTS, patient_id, "patient", "find one with 'medsec patient find NAME'")
    seen = {record["id"]}
    while follow and record.get("status") == "merged" and record.get("merged_into"):
        record = view.get(PATIENTS, record["merged_into"])
        if record is None or record["id"] in seen:
            raise NotFound(f"patient {patient_id.upper()} was merged into a record that is missing")
        seen.add(record["id"])
    return record


def show_patient(app, patient_id: str) -> dict:
    record = get_patient(app, patient_id)
    app.audit("read", [record["id"]])
    return record


def edit_patient(app, patient_id: str, raw: dict, clear: Sequence[str] = ()) -> dict:
    changes = clean_fields(raw, app.today(), partial=True)
    for key in clear:
        if key in ("first", "last", "dob"):
            raise InvalidInput(f"{key} cannot be cleared")
        if key not in FIELDS:
            raise InvalidInput(f"unknown patient field {shown(key)}")
        changes[key] = ""
    if not changes:
        raise InvalidInput("nothing to change", hint="give at least one field option")
    return change_patient(app, patient_id, lambda old, txn: {**old, **resolve_guarantor(txn, changes)})


def _require_live(record: dict) -> None:
    if record.get("status") == "merged":
        raise Refused(f"{record['id']} was merged into {record.get('merged_into')}; change that record")


def change_patient(app, patient_id: str, change, action: str = "update") -> dict:
    """Read, change and write one live patient under the lock; audited.

    `change(old, txn)` returns the new record (or raises to refuse); the
    transaction is there to check other records the change names.
    """
    with app.store.transaction() as txn:
        old = get_patient(app, patient_id, follow=False, view=txn)
        _require_live(old)
        record = {**change(old, txn), "updated": clock.iso(app.now())}
        txn.put(PATIENTS, record, old)
    app.audit(action, [record["id"]])
    return record


def archive_patient(app, patient_id: str, reason: str = "", restore: bool = False) -> dict:
    wanted = "active" if restore else "archived"
    reason = clean("reason", reason).strip()

    def change(old, _txn):
        if old["status"] == wanted:
            raise Refused(f"{old['id']} is already {wanted}")
        return {**old, "status": wanted, "archive_reason": "" if restore else reason}

    return change_patient(app, patient_id, change, "restore" if restore else "archive")


class _Search(NamedTuple):
    """What find_patients looks for, read and checked: name words, ISO date of birth, phone digits."""

    words: list[str]
    dob: str | None
    digits: str | None

    @classmethod
    def read(cls, name: str | None, dob: str | None, phone: str | None) -> "_Search":
        if not (name or dob or phone):
            raise InvalidInput("nothing to search for", hint="give a name, date of birth, phone or id")
        query_words = words(name) if name else []
        if name and not query_words:
            raise InvalidInput(f"{shown(name)} has no letters or digits to search for")
        iso_dob = parse_dob(dob, date.max) if dob else None
        digits = phone_digits(phone) if phone else None
        if digits is not None and len(digits) < 4:
            raise InvalidInput(f"phone: give at least 4 digits, got {shown(phone)}")
        return cls(query_words, iso_dob, digits)

    def index_hits(self, view, closely: bool = False) -> set[str]:
        """Ids that every given criterion's index lists (the name's: by prefix, or `closely`)."""
        hits = []
        if self.words:
            names = NameIndex(view, "patient-name")
            hits.append(names.close_candidates(self.words) if closely else names.prefix_candidates(self.words))
        if self.dob:
            hits.append(set(view.lookup("patient-dob", self.dob)))
        if self.digits:
            hits.append({i for ids in view.lookup_suffix("patient-phone", self.digits).values() for i in ids})
        return set.intersection(*hits)

    def matches(self, p: dict, closely: bool = False) -> bool:
        """The record itself fits (an index may be stale or ahead of a commit in progress): the
        words typed start its name's words, punctuation ignored (medsec.records.namematch), or
        `closely`, each within a typo of one."""
        fits = fits_closely if closely else fits_by_prefix
        return ((not self.words or fits(self.words, name_forms(p["first"], p["last"])))
                and (not self.dob or p.get("dob") == self.dob)
                and (not self.digits or phone_digits(p.get("phone") or "").endswith(self.digits)))


def _with_query(kind: str, value: str, name: str | None, dob: str | None, phone: str | None):
    """name, dob and phone with the query's value as one of them (a name adds to --name)."""
    if kind == "dob" and not dob:
        dob = value
    elif kind == "phone" and not phone:
        phone = value
    elif kind == "name":
        name = f"{name} {value}" if name else value
    return name, dob, phone


def _found_by_id(app, view, patient_id: str) -> list[dict]:
    try:
        return [get_patient(app, patient_id, view=view)]
    except NotFound:
        return []


def _found_by_search(view, search: _Search, closely: bool = False) -> list[dict]:
    ids = sorted(search.index_hits(view, closely), key=lambda i: int(i[1:]))
    found = [p for p in view.get_many(PATIENTS, ids) if p.get("status") != "merged" and search.matches(p, closely)]
    return sorted(found, key=lambda p: (fold(p["last"]), fold(p["first"]), p["dob"], int(p["id"][1:])))


def find_patients(app, query: str | None = None, *, name: str | None = None, dob: str | None = None,
                  phone: str | None = None, include_archived: bool = False,
                  limit: int | None = None, close_spellings: bool = False) -> list[dict]:
    """Patients matching every criterion given; QUERY is read as id, date, phone or name.
    `close_spellings` (for people, not scripts): when no name starts so, the names a typo away,
    in their place; a script asking for matches gets only matches."""
    view = app.store.snapshot()
    kind, value = classify_query(query) if query else ("", "")
    if kind == "id":
        found = _filter_status(_found_by_id(app, view, value), include_archived)
    else:
        search = _Search.read(*_with_query(kind, value, name, dob, phone))
        found = _filter_status(_found_by_search(view, search), include_archived)
        if not found and search.words and close_spellings:
            found = _filter_status(_found_by_search(view, search, closely=True), include_archived)
        found = found[:limit]
    app.audit("search", [p["id"] for p in found])
    return [as_listed(app, p) for p in found]


def newest_patients(app, count: int) -> list[dict]:
    """The `count` active patients registered last, newest first; audited as a search."""
    view = app.store.snapshot()
    last = view.counters().get(PATIENTS.prefix, 0)
    ids = [PATIENTS.format_id(n) for n in range(last, max(0, last - 4 * count), -1)]
    found = [p for p in view.get_many(PATIENTS, ids) if p.get("status") == "active"][:count]
    app.audit("search", [p["id"] for p in found])
    return [as_listed(app, p) for p in found]


def _filter_status(records, include_archived):
    return [p for p in records if include_archived or p.get("status") == "active"]


def classify_query(query: str) -> tuple[str, str]:
    q = query.strip()
    if re.fullmatch(r"[pP]\d+", q):
        return "id", q
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}", q):
        return "dob", q
    if re.fullmatch(r"[\d\s()+.-]+", q) and len(re.sub(r"\D", "", q)) >= 4:
        return "phone", q
    return "name", q


def list_patients(app, status: str = "active", limit: int | None = None) -> list[dict]:
    view = app.store.snapshot()
    out = []
    for p in view.scan(PATIENTS):
        if status != "all" and p.get("status") != status:
            continue
        out.append(p)
        if limit is not None and len(out) >= limit:
            break
    app.audit("list", [p["id"] for p in out])
    return [as_listed(app, p) for p in out]


# -- coverage ---------------------------------------------------------------
def add_coverage(app, patient_id: str, *, payer: str, member_id: str, group: str = "",
                 rank: str = "primary", subscriber: str = "", subscriber_dob: str = "",
                 relationship: str = "self", start: str = "", end: str = "",
                 replace: bool = False) -> dict:
    if rank not in RANKS:
        raise InvalidInput(f"rank {shown(rank)} is not one of {', '.join(RANKS)}")
    if relationship not in RELATIONSHIPS:
        raise InvalidInput(f"relationship {shown(relationship)} is not one of {', '.join(RELATIONSHIPS)}")
    texts = {key: clean(key, value).strip() for key, value in
             (("payer", payer), ("member_id", member_id), ("group", group), ("subscriber", subscriber))}
    if not texts["member_id"]:
        raise InvalidInput("member id is required")
    if relationship != "self" and not texts["subscriber"]:
        raise InvalidInput("a subscriber name is required when the patient is not the subscriber")
    coverage = {"rank": rank, "payer": _payer_id(app, texts["payer"]), "member_id": texts["member_id"],
                "group": texts["group"], "relationship": relationship, "subscriber": texts["subscriber"],
                "subscriber_dob": parse_dob(subscriber_dob, app.today()) if subscriber_dob else "",
                "start": app.parse_date(start).isoformat() if start else "",
                "end": app.parse_date(end).isoformat() if end else ""}
    _check_period(coverage)

    def change(old, _txn):
        kept = [c for c in old["coverages"] if c["rank"] != rank]
        if len(kept) != len(old["coverages"]) and not replace:
            raise Refused(f"{old['id']} already has a {rank} coverage", hint="use --replace to change it")
        return {**old, "coverages": sorted(kept + [coverage], key=lambda c: RANKS.index(c["rank"]))}

    change_patient(app, patient_id, change)
    return coverage


def _payer_id(app, payer: str) -> str:
    """The payers.yaml id of `payer` (typed in any case)."""
    payers = {str(p["id"]).upper(): p for p in app.config("payers.yaml").get("payers", [])}
    if payer.upper() not in payers:
        known = ", ".join(sorted(payers)) or "none in payers.yaml"
        raise InvalidInput(f"unknown payer {shown(payer)}", hint=f"known payers: {known}")
    return str(payers[payer.upper()]["id"])


def _check_period(coverage: dict) -> None:
    if coverage.get("start") and coverage.get("end") and coverage["end"] < coverage["start"]:
        raise InvalidInput(f"end {coverage['end']} is before the coverage's start {coverage['start']}")


def _coverage_changes(app, raw: dict) -> dict:
    """The coverage fields given (None: unchanged; "" clears an optional one), read as add_coverage reads them."""
    out: dict = {}
    for key, value in raw.items():
        if value is None:
            continue
        if key in ("payer", "member_id", "group", "subscriber"):
            value = clean(key, value).strip()
            out[key] = _payer_id(app, value) if key == "payer" else value
        elif key == "relationship":
            if value not in RELATIONSHIPS:
                raise InvalidInput(f"relationship {shown(value)} is not one of {', '.join(RELATIONSHIPS)}")
            out[key] = value
        elif key == "subscriber_dob":
            try:
                out[key] = parse_dob(value, app.today()) if str(value).strip() else ""
            except InvalidInput as e:
                raise InvalidInput(f"subscriber_dob: {e.message.removeprefix('dob: ')}") from None
        elif key in ("start", "end"):
            out[key] = app.parse_date(value, f"--{key}").isoformat() if str(value).strip() else ""
        else:
            raise InvalidInput(f"unknown coverage field {shown(key)}")
    return out


def _change_coverage(app, patient_id: str, rank: str, changes: dict, action: str) -> dict:
    """The `rank` coverage with `changes`, checked as a whole and written; audited as `action`.
    A new payer or member id drops the eligibility state (it answered for the old one)."""
    if rank not in RANKS:
        raise InvalidInput(f"rank {shown(rank)} is not one of {', '.join(RANKS)}")
    found: dict = {}

    def change(old, _txn):
        mine = [c for c in old["coverages"] if c["rank"] == rank]
        if not mine:
            raise NotFound(f"{old['id']} has no {rank} coverage", hint="add one with 'medsec patient coverage add'")
        new = {**mine[0], **changes}
        if any(new.get(k) != mine[0].get(k) for k in ("payer", "member_id")):
            new.pop("eligibility", None)
        if not new.get("member_id"):
            raise InvalidInput("member id is required")
        if new.get("relationship", "self") != "self" and not new.get("subscriber"):
            raise InvalidInput("a subscriber name is required when the patient is not the subscriber")
        _check_period(new)
        found["coverage"] = new
        return {**old, "coverages": [new if c is mine[0] else c for c in old["coverages"]]}

    change_patient(app, patient_id, change, action)
    return found["coverage"]


def edit_coverage(app, patient_id: str, rank: str, **raw) -> dict:
    """Change fields of the patient's `rank` coverage (payer, member_id, group, relationship,
    subscriber, subscriber_dob, start, end); the coverage as written."""
    changes = _coverage_changes(app, raw)
    if not changes:
        raise InvalidInput("nothing to change", hint="give at least one field option")
    return _change_coverage(app, patient_id, rank, changes, "update")


def end_coverage(app, patient_id: str, rank: str, on: str) -> dict:
    """Set the end of the patient's `rank` coverage to `on`; the coverage as written."""
    if not str(on or "").strip():
        raise InvalidInput("--on: give the coverage's last day")
    return _change_coverage(app, patient_id, rank, {"end": app.parse_date(on, "--on").isoformat()}, "update")


def remove_coverage(app, patient_id: str, rank: str) -> dict:
    def change(old, _txn):
        kept = [c for c in old["coverages"] if c["rank"] != rank]
        if len(kept) == len(old["coverages"]):
            raise NotFound(f"{old['id']} has no {rank} coverage")
        return {**old, "coverages": kept}

    return change_patient(app, patient_id, change)


# -- notes and attachments ---------------------------------------------------
def add_note(app, patient_id: str, text: str) -> dict:
    text = clean("note", text).strip()
    if not text:
        raise InvalidInput("a note cannot be empty")
    note = {"at": clock.iso(app.now()), "by": app.user, "text": text}
    change_patient(app, patient_id, lambda old, _txn: {**old, "notes": old["notes"] + [note]})
    return note


def attach_file(app, patient_id: str, path: str, label: str = "") -> dict:
    label, name = clean("label", label).strip(), clean("file name", os.path.basename(path))
    get_patient(app, patient_id, follow=False)  # fail fast before copying
    # The content lands first: a crash leaves at most an unreferenced file.
    sha, size = app.store.attach_file(path)
    attachment = {"sha256": sha, "name": name, "size": size,
                  "label": label, "added": clock.iso(app.now()), "by": app.user}
    change_patient(app, patient_id, lambda old, _txn: {**old, "attachments": old["attachments"] + [attachment]},
                   "attach")
    return attachment


# -- restricted charts (medsec.records.restrictions) ----------------------------
def opened(app, record: dict, view=None) -> dict:
    """`record` (an appointment, a claim, a refill ... read by its own id), once whoever acts may
    open the chart of the patient it names (check_access); every domain's get-by-id goes through
    here, so a record cannot be opened around its patient's restriction. Signed in only: in open
    mode nothing is restricted, and nothing more is read."""
    principal = app.principal
    if principal is not None and principal.session is not None and record.get("patient_id"):
        get_patient(app, record["patient_id"], view=view)
    return record


def restrict_patient(app, patient_id: str, roles: Sequence[str] = (), clear: bool = False) -> dict:
    """Restrict a patient's chart to `roles`, or lift the restriction (`clear`); audited.

    Whoever holds patients.restrict (the command's permission) may change a restriction without
    opening the chart (this reads no more than the id), so a manager who restricted a chart to the
    physicians can lift it again. Returns the id and the roles, nothing of the chart.
    """
    if clear == bool(roles):
        raise InvalidInput("give --to-role ROLE (repeatable) or --clear, not both" if clear else
                           "give --to-role ROLE (repeatable), or --clear to lift the restriction")
    wanted = [] if clear else known_roles(app, roles)
    with app.store.transaction() as txn:
        old = _find_patient(txn, patient_id, follow=False)
        _require_live(old)
        if clear and not old.get("restricted_to"):
            raise Refused(f"{old['id']} is not restricted")
        record = {k: v for k, v in old.items() if k != "restricted_to"}
        if wanted:
            record["restricted_to"] = wanted
        txn.put(PATIENTS, {**record, "updated": clock.iso(app.now())}, old)
    app.audit("restrict", [old["id"]], outcome=f"ok: restricted to {', '.join(wanted)}" if wanted
              else "ok: restriction lifted")
    return {"id": old["id"], "restricted_to": wanted}


# -- merge --------------------------------------------------------------------
def merge_patients(app, duplicate_id: str, survivor_id: str) -> dict:
    """Move everything of the duplicate to the survivor; leave a redirect."""
    with app.store.transaction() as txn:
        dup = get_patient(app, duplicate_id, follow=False, view=txn)
        keep = get_patient(app, survivor_id, follow=False, view=txn)
        if dup["id"] == keep["id"]:
            raise InvalidInput("cannot merge a patient into itself")
        _require_live(dup)
        _require_live(keep)
        stamp = clock.iso(app.now())
        merged = dict(keep)
        for key in FIELDS:
            if not merged.get(key) and dup.get(key):
                merged[key] = dup[key]
        ranks = {c["rank"] for c in keep["coverages"]}
        have = {(c["payer"], c["member_id"]) for c in keep["coverages"]}
        extra = [c for c in dup["coverages"] if (c["payer"], c["member_id"]) not in have]
        for c in extra:
            if c["rank"] in ranks:  # the survivor's coverage wins its rank
                free = [r for r in RANKS if r not in ranks]
                if not free:
                    continue
                c = {**c, "rank": free[0]}
            ranks.add(c["rank"])
            merged["coverages"] = merged["coverages"] + [c]
        merged["coverages"] = sorted(merged["coverages"], key=lambda c: RANKS.index(c["rank"]))
        merged["notes"] = sorted(keep["notes"] + dup["notes"], key=lambda n: n["at"])
        shas = {a["sha256"] for a in keep["attachments"]}
        merged["attachments"] = keep["attachments"] + [a for a in dup["attachments"] if a["sha256"] not in shas]
        merged["intake"] = _merged_intake(dup.get("intake") or {}, keep.get("intake") or {})
        merged["merged_from"] = keep.get("merged_from", []) + [dup["id"]]
        restricted = merged_restriction(dup, keep)
        if restricted:
            merged["restricted_to"] = restricted
        merged["updated"] = stamp
        redirect = {**dup, "status": "merged", "merged_into": keep["id"], "updated": stamp}
        txn.put_many(PATIENTS, [merged, redirect], {keep["id"]: keep, dup["id"]: dup})
        moved = _move_records(txn, dup["id"], keep["id"], stamp, str(app.user))
    app.audit("merge", [dup["id"], keep["id"], *moved])
    return merged


def _merged_intake(dup: dict, keep: dict) -> dict:
    """Each intake form's status from whichever record has it signed (else received) last
    (medsec.records.intake)."""
    def when(entry: dict) -> tuple[str, str]:
        return str(entry.get("signed") or entry.get("received", ""))[:10], str(entry.get("received", ""))

    forms = {**dup, **keep}
    for form, entry in dup.items():
        if form in keep and when(entry) > when(keep[form]):
            forms[form] = entry
    return forms


def _move_records(txn, from_id: str, to_id: str, stamp: str, by: str) -> list[str]:
    """Give everything that names the duplicate (appointments, calls, charges,
    claims, payments, labs, referrals, refills, tasks, mail ...) to the survivor.
    A signed record keeps the patient id it was signed for, so that its
    signature still holds and shows the merge (signoffs.mark_merged)."""
    from medsec.security.signoffs import mark_merged

    moved = []
    for kind, index in PATIENT_RECORDS.items():
        if index:
            ids = txn.lookup(index, from_id)
            olds = [r for r in txn.get_many(kind, ids) if r.get("patient_id") == from_id]
        else:
            olds = [r for r in txn.scan(kind) if r.get("patient_id") == from_id]
        txn.put_many(kind, [{**mark_merged(r, stamp, by), "patient_id": to_id, "updated": stamp} for r in olds],
                     {r["id"]: r for r in olds})
        moved += [r["id"] for r in olds]
    return moved
