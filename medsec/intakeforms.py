"""Intake forms as data: what each form asks, in which languages, what it fills, when it renews.

A form is a YAML definition (docs/intake.md has the schema): the bundled ones live in
templates/intake/ (registration, insurance, consent to treat, the privacy-notice acknowledgment,
the financial policy, a release of information; English and Spanish), and a practice adds or
overrides forms in intake.yaml (`forms:`) and drops bundled ones (`disabled:`). One definition
serves every medium: the paper packet's PDF fields, the kiosk's web page and the answers a
submission keeps are all named `<form>.<field>`.

Kept in the kernel (no domain imported) because configcheck checks intake.yaml with it.
"""

import functools
import os
import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

FIELD_TYPES = ("text", "textarea", "date", "phone", "email", "state", "zip", "sex", "choice", "checkbox", "payer",
               "photo")
PATIENT_TARGETS = ("first", "last", "dob", "sex", "phone", "email", "address", "city", "state", "zip", "language",
                   "preferred_channel")
COVERAGE_TARGETS = ("payer", "member_id", "group", "subscriber", "subscriber_dob", "relationship")
DEFAULT_MAX = {"text": 200, "textarea": 2000}
MAX_LIMIT = 4000  # no field holds more than this, whatever a definition says
FORM_ID = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
FIELD_ID = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
LANGUAGE = re.compile(r"[a-z]{2,3}")
FORM_KEYS = ("form", "version", "title", "text", "renew_months", "signature", "fields")
FIELD_KEYS = ("id", "type", "label", "required", "fills", "max", "help", "choices")
INTAKE_KEYS = ("forms", "disabled", "required", "expiring_days", "kiosk")
KIOSK_KEYS = ("url", "link_hours", "code_attempts")
# The forms every patient keeps current unless intake.yaml says otherwise, in the order a packet has them.
DEFAULT_REQUIRED = ("registration", "insurance", "consent-to-treat", "privacy-notice", "financial-policy")
ADULT_AGE = 18


class Choice(NamedTuple):
    value: str
    label: dict[str, str]


class Field(NamedTuple):
    """One question of a form. `name` is its name everywhere: `<form>.<field>`."""

    form: str
    id: str
    type: str
    label: dict[str, str]
    required: bool = False
    fills: str | None = None  # "patient.<field>", "coverage.<field>" or "attachment"
    max: int = 200
    help: dict[str, str] = {}
    choices: tuple[Choice, ...] = ()
    implicit: bool = False  # a field of the signature block

    @property
    def name(self) -> str:
        return f"{self.form}.{self.id}"


class Form(NamedTuple):
    id: str
    version: int
    title: dict[str, str]
    text: dict[str, str]
    renew_months: int
    signature: bool
    fields: tuple[Field, ...]  # with the signature block's fields last when signed
    source: str  # "bundled" or "intake.yaml"

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.title)

    def field(self, field_id: str) -> Field | None:
        return next((f for f in self.fields if f.id == field_id), None)


def _both(en: str, es: str) -> dict[str, str]:
    return {"en": en, "es": es}


# The signature block every signed form ends with (signature: true), in the bundled languages; a
# practice's form in another language shows these in English.
SIGNATURE_BLOCK = (
    ("signer", "choice", _both("Signed by", "Firmado por"), True,
     (Choice("patient", _both("The patient", "El paciente")),
      Choice("guardian", _both("A parent or legal guardian", "Uno de los padres o el tutor legal")))),
    ("signer_name", "text", _both("Name of the person signing", "Nombre de quien firma"), True, ()),
    ("signer_relationship", "text", _both("Relationship to the patient (parent, guardian...)",
                                          "Parentesco con el paciente (padre, madre, tutor...)"), False, ()),
    ("signed_on", "date", _both("Date", "Fecha"), True, ()),
    ("signature", "text", _both("Signature (type your full name)", "Firma (escriba su nombre completo)"), True, ()),
)
SIGNATURE_FIELDS = tuple(row[0] for row in SIGNATURE_BLOCK)
SIGNATURE_MAX = 120


def text_in(texts: dict[str, str], language: str) -> str:
    """A form's text in `language`, else English, else its first language."""
    return texts.get(language) or texts.get("en") or next(iter(texts.values()), "")


# -- checking a definition -----------------------------------------------------------------
Report = Callable[[list, str], None]  # (path, message)


def _texts(report: Report, value: Any, path: list, languages: Iterable[str] | None, what: str) -> dict[str, str]:
    """A {language: text} mapping; with `languages`, holding exactly those."""
    if isinstance(value, str) and value.strip():
        value = {"en": value}
    if not isinstance(value, dict) or not value:
        report(path, f"{what} must be a text per language, like {{en: ..., es: ...}}")
        return {}
    out = {}
    for language, text in value.items():
        if not isinstance(language, str) or not LANGUAGE.fullmatch(language):
            report(path + [language], f"{language!r} is not a language code like en or es")
        elif not isinstance(text, str) or not text.strip():
            report(path + [language], f"{what} in {language} must be text")
        else:
            out[language] = text.strip()
    if languages is not None:
        missing = [lang for lang in languages if lang not in out]
        if missing:
            report(path, f"{what} has no {', '.join(missing)} text (the form's languages: {', '.join(languages)})")
    return out


def _whole(report: Report, value: Any, path: list, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        report(path, f"{path[-1]} must be a whole number from {low} to {high}")
        return default
    return value


def _fills(report: Report, value: Any, path: list, kind: str) -> str | None:
    if value is None:
        return None
    text = str(value)
    part, _, field = text.partition(".")
    known = (part == "patient" and field in PATIENT_TARGETS) or (part == "coverage" and field in COVERAGE_TARGETS) \
        or (text == "attachment" and kind == "photo")
    if not known:
        report(path, f"fills {text[:60]!r}: not one of patient.<{'|'.join(PATIENT_TARGETS)}>, "
                     f"coverage.<{'|'.join(COVERAGE_TARGETS)}>, attachment (photos)")
        return None
    if text == "attachment" or kind != "photo":
        return text
    report(path, "a photo can only fill: attachment")
    return None


def _choices(report: Report, data: dict, path: list, kind: str, languages: tuple[str, ...]) -> tuple[Choice, ...]:
    if kind != "choice":
        if data.get("choices") is not None:
            report(path + ["choices"], "only a choice field has choices")
        return ()
    choices = []
    for i, entry in enumerate(data.get("choices") or []):
        where = path + ["choices", i]
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), str) or not entry["value"]:
            report(where, "a choice is {value: WORD, label: {en: ..., es: ...}}")
            continue
        choices.append(Choice(entry["value"], _texts(report, entry.get("label"), where + ["label"], languages,
                                                     "a choice's label")))
    if not choices:
        report(path + ["choices"], "a choice field needs choices")
    return tuple(choices)


def _field_id(report: Report, data: dict, path: list) -> str | None:
    field_id = data.get("id")
    if not isinstance(field_id, str) or not FIELD_ID.fullmatch(field_id) or len(field_id) > 40:
        report(path + ["id"], "id must be lower-case words joined by _ (at most 40 characters)")
        return None
    if field_id in SIGNATURE_FIELDS + ("signature_drawn",):
        report(path + ["id"], f"{field_id} is a field of the signature block (signature: true)")
        return None
    return field_id


def _field(report: Report, form_id: str, data: Any, path: list, languages: tuple[str, ...]) -> Field | None:
    if not isinstance(data, dict):
        report(path, "a field must be a mapping with id, type and label")
        return None
    for key in data:
        if key not in FIELD_KEYS:
            report(path + [key], f"{key}: unknown setting of a field ({', '.join(FIELD_KEYS)})")
    field_id, kind = _field_id(report, data, path), data.get("type", "text")
    if kind not in FIELD_TYPES:
        report(path + ["type"], f"type {str(kind)[:40]!r} is not one of {', '.join(FIELD_TYPES)}")
        return None
    if field_id is None:
        return None
    required = data.get("required", False)
    if not isinstance(required, bool):
        report(path + ["required"], "required must be true or false")
    help_text = data.get("help")
    return Field(form_id, field_id, kind, _texts(report, data.get("label"), path + ["label"], languages, "label"),
                 required is True, _fills(report, data.get("fills"), path + ["fills"], kind),
                 _whole(report, data.get("max"), path + ["max"], 1, MAX_LIMIT, DEFAULT_MAX.get(kind, 200)),
                 {} if help_text is None else _texts(report, help_text, path + ["help"], languages, "help"),
                 _choices(report, data, path, kind, languages))


def _fields(report: Report, form_id: str, raw: Any, path: list, languages: tuple[str, ...]) -> list[Field]:
    if not isinstance(raw, list):
        report(path, "fields must be a list")
        return []
    fields: list[Field] = []
    for i, entry in enumerate(raw):
        field = _field(report, form_id, entry, path + [i], languages)
        if field is not None and any(f.id == field.id for f in fields):
            report(path + [i, "id"], f"field {field.id} is defined twice")
        elif field is not None:
            fields.append(field)
    return fields


def parse_form(data: Any, report: Report, source: str, path: list | None = None) -> Form | None:
    """A form definition read and checked; each problem goes to `report(path, message)`."""
    path = path or []
    if not isinstance(data, dict):
        report(path, "a form must be a mapping (form, title, fields ...)")
        return None
    for key in data:
        if key not in FORM_KEYS:
            report(path + [key], f"{key}: unknown setting of a form ({', '.join(FORM_KEYS)})")
    form_id = data.get("form")
    if not isinstance(form_id, str) or not FORM_ID.fullmatch(form_id) or len(form_id) > 40:
        report(path + ["form"], "form must be its id: lower-case words joined by - (at most 40 characters)")
        return None
    title = _texts(report, data.get("title"), path + ["title"], None, "title")
    languages = tuple(title) or ("en",)
    text = {} if data.get("text") is None else _texts(report, data["text"], path + ["text"], languages, "text")
    signature = data.get("signature", False)
    if not isinstance(signature, bool):
        report(path + ["signature"], "signature must be true or false")
    fields = _fields(report, form_id, data.get("fields") or [], path + ["fields"], languages)
    if not fields and signature is not True:
        report(path + ["fields"], "a form needs at least one field (or signature: true)")
    if signature is True:
        fields.extend(Field(form_id, name, kind, label, required, None, SIGNATURE_MAX, {}, choices, True)
                      for name, kind, label, required, choices in SIGNATURE_BLOCK)
    return Form(form_id, _whole(report, data.get("version"), path + ["version"], 1, 10_000, 1), title, text,
                _whole(report, data.get("renew_months"), path + ["renew_months"], 0, 120, 12), signature is True,
                tuple(fields), source)


class FormError(ValueError):
    """A bundled form that does not read (a broken install)."""


def bundled_from(load: Callable[[str], Any]) -> dict[str, Form]:
    """The forms medsec ships (templates/intake/*.yaml), by id, in a packet's order; `load(path)`
    gives a file's parsed YAML (medsec.records.intake caches it in the data directory)."""
    import medsec_templates

    folder = os.path.join(os.path.dirname(medsec_templates.__file__), "intake")
    forms: dict[str, Form] = {}
    order = {f"{form}.yaml": i for i, form in enumerate(DEFAULT_REQUIRED)}
    for name in sorted(os.listdir(folder), key=lambda n: (order.get(n, len(order)), n)):
        if not name.endswith(".yaml"):
            continue
        problems: list[str] = []

        def report(path: list, message: str, found: list[str] = problems) -> None:
            found.append(f"{'.'.join(map(str, path))}: {message}")

        form = parse_form(load(os.path.join(folder, name)), report, "bundled")
        if form is None or problems:
            raise FormError(f"templates/intake/{name}: {problems[0] if problems else 'not a form'}")
        forms[form.id] = form
    return forms


def _parse(path: str) -> Any:
    from medsec.yamlfile import Limits, parse_bounded

    with open(path, encoding="utf-8") as f:
        return parse_bounded(os.path.basename(path), f.read(), Limits(size=1_000_000, nodes=250_000))[0]


@functools.cache
def bundled_forms() -> dict[str, Form]:
    """The bundled forms, parsed here (`config check`, and code without a data directory)."""
    return bundled_from(_parse)


def practice_forms(intake: dict | None, bundled: dict[str, Form] | None = None) -> dict[str, Form]:
    """The practice's forms: the `bundled` ones, overridden and added to by intake.yaml's `forms`,
    without its `disabled` ones. intake.yaml was checked when it was read (check_intake)."""
    intake = intake or {}
    forms = dict(bundled_forms() if bundled is None else bundled)
    for entry in intake.get("forms") or []:
        form = parse_form(entry, lambda p, m: None, "intake.yaml")
        if form is not None:
            forms[form.id] = form
    for form_id in intake.get("disabled") or []:
        forms.pop(form_id, None)
    return forms


def required_forms(intake: dict | None, bundled: dict[str, Form] | None = None) -> tuple[str, ...]:
    """The forms every patient keeps current (intake.yaml `required`; by default all bundled but
    the release of information, which is signed on request)."""
    forms = practice_forms(intake, bundled)
    wanted = (intake or {}).get("required")
    return tuple(f for f in (DEFAULT_REQUIRED if wanted is None else wanted) if f in forms)


def check_intake(report: Report, data: Any) -> None:
    """intake.yaml: the practice's own forms (`forms`, each a definition), bundled ones it does
    not use (`disabled`), the forms every patient keeps current (`required`), how many days
    before its renewal a form shows as expiring (`expiring_days`, 0..180) and the kiosk's
    settings (`kiosk`: `url`, the https:// address on the practice's network that links sent to
    patients name; `link_hours` 1..720, how long a patient's link lasts; `code_attempts`
    3..100, the wrong codes a tablet may type in an hour)."""
    if data is None:
        return
    if not isinstance(data, dict):
        report([], "intake.yaml must be a mapping")
        return
    for key in data:
        if key not in INTAKE_KEYS:
            report([key], f"{key}: unknown setting (intake.yaml holds {', '.join(INTAKE_KEYS)})")
    known = set(bundled_forms())
    forms = data.get("forms") or []
    if not isinstance(forms, list):
        report(["forms"], "forms must be a list of form definitions")
        forms = []
    for i, entry in enumerate(forms):
        form = parse_form(entry, functools.partial(_report_at, report, ["forms", i]), "intake.yaml")
        if form is not None:
            known.add(form.id)
    _check_form_names(report, data, known)
    _whole(report, data.get("expiring_days"), ["expiring_days"], 0, 180, 30)
    _check_kiosk(report, data.get("kiosk"))


def _report_at(report: Report, prefix: list, path: list, message: str) -> None:
    report(prefix + path, message)


def _check_form_names(report: Report, data: dict, known: set[str]) -> None:
    for key in ("disabled", "required"):
        names = data.get(key)
        if names is not None and not isinstance(names, list):
            report([key], f"{key} must be a list of form ids")
            continue
        for i, name in enumerate(names or []):
            if not isinstance(name, str) or name not in known:
                report([key, i], f"{key}: no form {str(name)[:40]!r} (forms: {', '.join(sorted(known))})")
    def named(key: str) -> set[str]:
        names = data.get(key)
        return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()

    for name in sorted(named("required") & named("disabled")):
        report(["required"], f"form {name} is both required and disabled")


def _check_kiosk(report: Report, kiosk: Any) -> None:
    if kiosk is None:
        return
    if not isinstance(kiosk, dict):
        report(["kiosk"], "kiosk must be a mapping")
        return
    for key in kiosk:
        if key not in KIOSK_KEYS:
            report(["kiosk", key], f"kiosk.{key}: unknown setting ({', '.join(KIOSK_KEYS)})")
    url = kiosk.get("url")
    if url is not None and not (isinstance(url, str) and re.fullmatch(r"https://[^\s/?#]+(/[^\s?#]*)?", url)):
        report(["kiosk", "url"], "kiosk.url must be the https:// address patients reach the kiosk at, "
                                 "like https://checkin.clinic.lan:8470/")
    _whole(report, kiosk.get("link_hours"), ["kiosk", "link_hours"], 1, 720, 24)
    _whole(report, kiosk.get("code_attempts"), ["kiosk", "code_attempts"], 3, 100, 30)
