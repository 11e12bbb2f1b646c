"""The intake forms of a patient: their answers checked, what they would change, and each form's status.

Forms are data (medsec.intakeforms). Whatever medium brings the answers (a PDF packet read back,
the kiosk's page), they arrive as text keyed `<form>.<field>` and are checked here, one rule per
field type, with every problem named by its field: nothing a patient typed reaches a record
without passing the same rules `patient edit` applies. A patient record keeps, per form, when it
was received and signed, by whom, and when it renews (`intake`); check-in and the day sheet read
that status from here.
"""

import base64
import binascii
import functools
import re
from collections.abc import Callable
from datetime import date
from typing import Any, NamedTuple

from medsec.errors import InvalidInput
from medsec.identifiers import email_valid, parse_phone, state_valid, zip_valid
from medsec.intakeforms import (
    ADULT_AGE,
    SIGNATURE_MAX,
    Field,
    Form,
    bundled_from,
    practice_forms,
    required_forms,
    text_in,
)
from medsec.records.patients import RELATIONSHIPS, SEXES, TEXT_LIMITS, age_on, clean, clean_fields, parse_dob
from medsec.text import clean_text, shown

PHOTO_LIMIT = 10 * 1024 * 1024
DRAWN_LIMIT = 512 * 1024  # a finger's signature as PNG is a few kilobytes
IMAGE_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
YES = {"yes", "on", "true", "1", "/yes", "x", "sí", "si"}  # a checkbox ticked: a browser's "on", a PDF's /Yes
_NO = {"", "no", "off", "false", "0", "/off"}
# What a patient is told of an answer that does not pass, in the forms' languages (the kiosk's page
# says the same as the patient types: medsec.workflows.kiosk_page).
MESSAGES = {
    "required": {"en": "this is required", "es": "este dato es obligatorio"},
    "tick": {"en": "this must be ticked", "es": "debe marcarse"},
    "future": {"en": "the date cannot be in the future", "es": "la fecha no puede ser futura"},
    "minor": {"en": "a parent or legal guardian signs for a patient under 18",
              "es": "uno de los padres o el tutor legal firma por un paciente menor de 18 años"},
    "sign": {"en": "sign by typing your full name", "es": "firme escribiendo su nombre completo"},
    "relationship": {"en": "give your relationship to the patient", "es": "indique su parentesco"},
    "name": {"en": "give your name", "es": "indique su nombre"},
}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}")


class Upload(NamedTuple):
    """A file a patient gave (a photo of the insurance card): its name, type and bytes."""

    name: str
    content_type: str
    data: bytes


def settings(app) -> dict:
    return app.config("intake.yaml") or {}


@functools.cache
def _bundled(root: str) -> dict[str, Form]:
    from medsec.config import load_packaged

    return bundled_from(functools.partial(load_packaged, root))


def forms(app) -> dict[str, Form]:
    """The practice's forms (the bundled ones' parse cached in its data directory)."""
    return practice_forms(settings(app), _bundled(app.data_dir))


def required(app) -> tuple[str, ...]:
    """The forms every patient of the practice keeps current."""
    return required_forms(settings(app), _bundled(app.data_dir))


class Catalog(NamedTuple):
    """The practice's forms as a command reads them once (the day sheet, a day's due visits):
    intake.yaml, its forms by id, and those every patient keeps current."""

    settings: dict
    forms: dict[str, Form]
    required: tuple[str, ...]


def catalog(app) -> Catalog:
    intake, bundled = settings(app), _bundled(app.data_dir)
    return Catalog(intake, practice_forms(intake, bundled), required_forms(intake, bundled))


def pick_forms(app, names: list[str] | tuple[str, ...]) -> list[Form]:
    """The forms named, in the order given; an unknown name is bad input."""
    known = forms(app)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidInput(f"no intake form {shown(unknown[0])}", hint=f"forms: {', '.join(known)}")
    return [known[n] for n in dict.fromkeys(names)]


def image_type(data: bytes) -> str | None:
    return next((kind for magic, kind in IMAGE_TYPES.items() if data.startswith(magic)), None)


# -- one answer ---------------------------------------------------------------------------
def _date(value: str, today: date, field: Field) -> str:
    if not _DATE.fullmatch(value):
        raise InvalidInput(f"{value[:20]!r} is not a date (YYYY-MM-DD)")
    if field.fills in ("patient.dob", "coverage.subscriber_dob"):
        try:
            return parse_dob(value, today)
        except InvalidInput as e:
            raise InvalidInput(e.message.removeprefix("dob: ")) from None
    try:
        if "/" in value:
            month, day, year = (int(p) for p in value.split("/"))
            return date(year, month, day).isoformat()
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise InvalidInput(f"{value!r} is not a real date") from None


def _choice(value: str, field: Field) -> str:
    for choice in field.choices:
        if value == choice.value or value.casefold() in {label.casefold() for label in choice.label.values()}:
            return choice.value
    raise InvalidInput(f"{shown(value)} is not one of {', '.join(c.value for c in field.choices)}")


def _payer(app, value: str) -> str:
    payers = {str(p["id"]).upper(): str(p["id"]) for p in app.config("payers.yaml").get("payers", [])}
    names = {str(p.get("name", "")).casefold(): str(p["id"]) for p in app.config("payers.yaml").get("payers", [])}
    found = payers.get(value.upper()) or names.get(value.casefold())
    if found is None:
        raise InvalidInput(f"{shown(value)} is not one of the practice's insurers ({', '.join(payers) or 'none'})")
    return found


def _checkbox(value: str) -> bool:
    folded = value.strip().casefold()
    if folded in YES:
        return True
    if folded in _NO:
        return False
    raise InvalidInput(f"{shown(value)} is neither yes nor no")


def _email(text: str) -> str:
    if not email_valid(text):
        raise InvalidInput(f"{shown(text)} is not an email address")
    return text.lower()


def _state(text: str) -> str:
    if not state_valid(text.upper()):
        raise InvalidInput(f"{shown(text)} is not a US state code (two letters, like MA)")
    return text.upper()


def _zip(text: str) -> str:
    if not zip_valid(text):
        raise InvalidInput(f"{shown(text)} is not a 5- or 9-digit ZIP")
    return text


def _sex(text: str) -> str:
    if text.lower() not in SEXES:
        raise InvalidInput(f"{shown(text)} is not one of M, F, X, U")
    return SEXES[text.lower()]


def _plain(text: str, field: Field) -> str:
    if field.fills == "coverage.relationship" and text not in RELATIONSHIPS:
        raise InvalidInput(f"{shown(text)} is not one of {', '.join(RELATIONSHIPS)}")
    return text


# Each type's rule for a non-empty answer: (app, field, text, today) -> the value kept.
_RULES: dict[str, Callable[..., Any]] = {
    "date": lambda app, field, text, today: _date(text, today, field),
    "phone": lambda app, field, text, today: parse_phone(text, field.id),
    "email": lambda app, field, text, today: _email(text),
    "state": lambda app, field, text, today: _state(text),
    "zip": lambda app, field, text, today: _zip(text),
    "sex": lambda app, field, text, today: _sex(text),
    "choice": lambda app, field, text, today: _choice(text, field),
    "payer": lambda app, field, text, today: _payer(app, text),
}


def _typed(app, field: Field, value: str, today: date) -> Any:
    """One answer by its field's type: the value a record keeps, or InvalidInput (the reason)."""
    if field.type == "checkbox":
        return _checkbox(value)
    text = clean_text(value, field.name, field.max, multiline=field.type == "textarea").strip()
    if not text:
        return ""
    rule = _RULES.get(field.type)
    return _as_record_keeps(field, rule(app, field, text, today) if rule else _plain(text, field), today)


def _as_record_keeps(field: Field, value: Any, today: date) -> Any:
    """An answer that fills the record passed through the record's own rule for that field (a
    practice's form may be laxer than `patient edit`): what is refused there is refused here."""
    part, _, key = (field.fills or "").partition(".")
    if part == "patient":
        return clean_fields({key: value}, today, partial=True)[key]
    if part == "coverage" and key in TEXT_LIMITS:
        return clean(key, value).strip()
    return value


def _photo(upload: Upload | None) -> dict | None:
    if upload is None or not upload.data:
        return None
    if len(upload.data) > PHOTO_LIMIT:
        raise InvalidInput(f"the photo is over {PHOTO_LIMIT // 1024 // 1024} MB")
    kind = image_type(upload.data)
    if kind is None:
        raise InvalidInput("the photo is not a JPEG or PNG image")
    return {"content_type": kind, "size": len(upload.data)}


def drawn_signature(value: str) -> bytes:
    """The PNG of a signature drawn on the kiosk (a data: URL), or InvalidInput."""
    prefix = "data:image/png;base64,"
    if not value.startswith(prefix) or len(value) > DRAWN_LIMIT * 4 // 3 + len(prefix) + 4:
        raise InvalidInput("a drawn signature must be a PNG image")
    try:
        data = base64.b64decode(value[len(prefix):], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("a drawn signature must be a PNG image") from None
    if image_type(data) != "image/png":
        raise InvalidInput("a drawn signature must be a PNG image")
    return data


# -- a set of answers -------------------------------------------------------------------------
class Checked(NamedTuple):
    """Answers that passed: per form, field -> value; the files given (`<form>.<field>` ->
    Upload, drawn signatures as PNG uploads too); and the problems (`<form>.<field>` -> reason)."""

    answers: dict[str, dict[str, Any]]
    files: dict[str, Upload]
    problems: dict[str, str]


def check_answers(app, chosen: list[Form], raw: dict[str, str], uploads: dict[str, Upload], patient: dict,
                  language: str = "en") -> Checked:
    """Every answer of the `chosen` forms checked against its field; a name that is no field of
    them (a forged or stale one) is a problem too, so nothing unexpected is ever kept."""
    today = app.today()
    by_name = {f.name: f for form in chosen for f in form.fields}
    drawn = {f"{form.id}.signature_drawn" for form in chosen if form.signature}
    problems: dict[str, str] = {}
    for name in list(raw) + list(uploads):
        if name not in by_name and name not in drawn:
            problems[shown(name, 80)] = "no such field on these forms"
    answers: dict[str, dict[str, Any]] = {form.id: {} for form in chosen}
    files: dict[str, Upload] = {}
    for name, field in by_name.items():
        try:
            value = _answer(app, field, raw, uploads, files, today)
        except InvalidInput as e:
            problems[name] = e.message
            continue
        if value not in ("", False, None):
            answers[field.form][field.id] = value
        elif field.required and not field.implicit:
            problems[name] = text_in(MESSAGES["tick" if field.type == "checkbox" else "required"], language)
    for form in chosen:
        if form.signature:
            _check_signature(form, answers[form.id], raw, files, patient, today, problems, language)
    return Checked(answers, files, problems)


def _answer(app, field: Field, raw: dict[str, str], uploads: dict[str, Upload], files: dict[str, Upload],
            today: date) -> Any:
    """One field's answer checked (a photo's bytes kept in `files`); InvalidInput says why not."""
    if field.type != "photo":
        return _typed(app, field, str(raw.get(field.name, "")), today)
    if raw.get(field.name):
        raise InvalidInput("a photo must be uploaded as a file")
    upload = uploads.get(field.name)
    info = _photo(upload)
    if info is None or upload is None:
        return None
    files[field.name] = Upload(clean_text(upload.name, "file name", 255).strip() or field.id, info["content_type"],
                               upload.data)
    return {"file": files[field.name].name, **info}


def _drawn(form: Form, answers: dict, raw: dict, files: dict, problems: dict) -> bool:
    """Whether a signature was drawn; a drawn one that is no PNG is a problem."""
    drawn = str(raw.get(f"{form.id}.signature_drawn", ""))
    if drawn:
        try:
            files[f"{form.id}.signature_drawn"] = Upload("signature.png", "image/png", drawn_signature(drawn))
            answers["signature_drawn"] = True
        except InvalidInput as e:
            problems[f"{form.id}.signature_drawn"] = e.message
    return bool(drawn)


def _check_signature(form: Form, answers: dict, raw: dict, files: dict, patient: dict, today: date,
                     problems: dict, language: str) -> None:
    """A signed form: who signed (a parent or guardian for a minor, with name and relationship),
    when (not in the future), and the signature itself (typed or drawn)."""
    def problem(field_id: str, message: str) -> None:
        problems.setdefault(f"{form.id}.{field_id}", text_in(MESSAGES[message], language))

    answers.setdefault("signed_on", today.isoformat())
    if str(answers["signed_on"]) > today.isoformat():
        problem("signed_on", "future")
    drawn = _drawn(form, answers, raw, files, problems)
    if not answers.get("signature") and not drawn:
        problem("signature", "sign")
    _check_signer(answers, patient, today, problem)


def _check_signer(answers: dict, patient: dict, today: date, problem: Callable[[str, str], None]) -> None:
    """A minor's form is signed by a parent or guardian, who gives name and relationship; a
    patient signing for themselves is named from the record when the name is left empty."""
    answers.setdefault("signer", "patient")
    signed = min(date.fromisoformat(str(answers["signed_on"])), today)  # the day signed decides, not today
    minor = bool(patient.get("dob")) and age_on(patient["dob"], signed) < ADULT_AGE
    if minor and answers["signer"] != "guardian":
        problem("signer", "minor")
    if answers["signer"] == "guardian":
        if not answers.get("signer_relationship"):
            problem("signer_relationship", "relationship")
        if not answers.get("signer_name"):
            problem("signer_name", "name")
    elif not answers.get("signer_name"):
        answers["signer_name"] = f"{patient.get('first', '')} {patient.get('last', '')}".strip()[:SIGNATURE_MAX]


# -- what the answers would change ----------------------------------------------------------
def prefill(app, chosen: list[Form], patient: dict) -> dict[str, str]:
    """`<form>.<field>` -> what the record holds for the fields a form fills (the packet's and the
    kiosk's pre-filled values); a signed form's signer name and date are left to the signer."""
    coverage: dict = next((c for c in patient.get("coverages", []) if c.get("rank") == "primary"), {})
    values: dict[str, str] = {}
    for form in chosen:
        for field in form.fields:
            part, _, key = (field.fills or "").partition(".")
            held = patient.get(key) if part == "patient" else coverage.get(key) if part == "coverage" else None
            if held not in (None, ""):
                values[field.name] = str(held)
    return values


def changes(app, chosen: list[Form], answers: dict[str, dict[str, Any]], patient: dict) -> list[dict]:
    """The record fields the answers change: [{field, label, old, new}], `field` being
    "patient.<field>" or "coverage.<field>" (the primary coverage). An empty answer changes
    nothing (a form does not clear what the record holds)."""
    coverage: dict = next((c for c in patient.get("coverages", []) if c.get("rank") == "primary"), {})
    out = []
    for form in chosen:
        for field in form.fields:
            part, _, key = (field.fills or "").partition(".")
            if part not in ("patient", "coverage") or answers[form.id].get(field.id) in (None, ""):
                continue
            new = answers[form.id][field.id]
            old = patient.get(key, "") if part == "patient" else coverage.get(key, "")
            if str(new) != str(old or ""):
                out.append({"field": field.fills, "label": text_in(field.label, "en"), "old": old or "", "new": new})
    return out


# -- status --------------------------------------------------------------------------------
def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def expires_on(form: Form, signed: date) -> str | None:
    """When a form completed on `signed` must be renewed (None: it does not renew)."""
    return _add_months(signed, form.renew_months).isoformat() if form.renew_months else None


def form_status(app, patient: dict, day: date, known: Catalog | None = None) -> list[dict]:
    """Each of the practice's forms for `patient` on `day`: status (missing, current, expiring,
    expired; or `outdated` when the form's wording changed since it was signed), when received
    and signed, by whom, when it expires, and whether every patient must keep it current.
    `known`: the catalog a command read once for many patients (default: read here)."""
    known = known or catalog(app)
    expiring = int(known.settings.get("expiring_days", 30))
    wanted = known.required
    held = patient.get("intake") or {}
    rows = []
    for form in known.forms.values():
        entry = held.get(form.id) or {}
        status = "missing"
        if entry:
            expires = entry.get("expires")
            if expires and expires <= day.isoformat():
                status = "expired"
            elif int(entry.get("version", 1)) < form.version:
                status = "outdated"
            elif expires and (date.fromisoformat(expires) - day).days <= expiring:
                status = "expiring"
            else:
                status = "current"
        rows.append({"form": form.id, "title": text_in(form.title, "en"), "status": status,
                     "required": form.id in wanted, "received": entry.get("received", ""),
                     "signed": entry.get("signed", ""), "signed_by": entry.get("signed_by", ""),
                     "expires": entry.get("expires", ""), "source": entry.get("source", ""),
                     "submission": entry.get("submission", "")})
    return rows


def needed(app, patient: dict, day: date, known: Catalog | None = None) -> list[dict]:
    """The required forms not current on `day` (missing, expired, outdated or expiring)."""
    return [row for row in form_status(app, patient, day, known) if row["required"] and row["status"] != "current"]


def to_fill(app, patient: dict, day: date) -> list[str]:
    """The forms a packet or a link asks for by default: those the patient needs on `day`, else
    every required form (a patient whose forms are all current renews them)."""
    return [row["form"] for row in needed(app, patient, day)] or list(required(app))


def needed_words(rows: list[dict]) -> list[str]:
    """Check-in's words for what `needed` found: "consent-to-treat form (missing)",
    "insurance form (expires 2026-12-01)"."""
    return [f"{row['form']} form ({'expires ' + row['expires'] if row['status'] == 'expiring' else row['status']})"
            for row in rows]


NO_FORMS = "\u2014"  # the forms column of a visit whose patient needs none


def needed_short(app, patient: dict, day: date, known: Catalog | None = None) -> tuple[str, list[dict]]:
    """The intake forms a patient needs on `day`, short for a table ("consent, insurance"; "all"
    when every required form is missing; NO_FORMS when none), and their rows (`needed`). `known`:
    the forms read once for a day's visits (catalog)."""
    known = known or catalog(app)
    rows = needed(app, patient, day, known)
    if not rows:
        return NO_FORMS, []
    if len(rows) == len(known.required) and all(r["status"] == "missing" for r in rows):
        return "all", rows
    first_words = [f.split("-")[0] for f in known.forms]
    return ", ".join(w if first_words.count(w := r["form"].split("-")[0]) == 1 else r["form"] for r in rows), rows
