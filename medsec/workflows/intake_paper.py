"""Intake on paper: a fillable PDF packet pre-filled from the record, and the filled packet read back.

`packet` draws the patient's forms with reportlab, one or more letter pages a form: the
practice's name, the form's title and text, then each question as a label and an AcroForm field
named `<form>.<field>` (registration.street_address ...), pre-filled with what the record holds.
The packet says what it is in its document information (`/MedsecIntake`: the patient, the
appointment, the language, the forms and their versions, when issued, a random id and the names
of its fields), so `import_pdf` reads back only our own packets (pypdf): anything else (not a PDF,
encrypted, no or a garbled marker, a field the packet did not have, over 20 MB, a patient who does
not exist) is refused before anything is written. What a filled packet holds becomes a pending
submission (medsec.workflows.intake.submit) that the desk reviews and applies; a file already
imported is refused unless asked for again.

Text on the page uses DejaVu Sans Mono (bundled), so accents and names such as Łucja print as
they are. The field values keep the exact text; the appearance reportlab draws for a field uses a
standard font, so a character outside Latin-1 is drawn approximately there until the viewer
redraws the field (the packet asks it to: NeedAppearances).
"""

import contextlib
import hashlib
import io
import json
import os
import secrets
import unicodedata
from collections.abc import Callable
from datetime import date
from typing import Any, cast

from medsec import clock
from medsec.digests import equal
from medsec.errors import InvalidInput, NotFound
from medsec.intakeforms import LANGUAGE, Field, Form, text_in
from medsec.records import intake as forms_of
from medsec.records.patients import get_patient
from medsec.text import shown
from medsec.workflows import intake as submissions

MARKER = "/MedsecIntake"
KEY_HOLDER = "(intake packets)"  # the credential holding the key packet markers are sealed with
KEYWORDS = "medsec-intake"
IMPORT_LIMIT = 20 * 1024 * 1024
FONT = "DejaVuSansMono"
PAGE_W, PAGE_H = 612.0, 792.0  # US letter, in points
MARGIN = 54.0
FIELD_H = 18.0
PHOTO_H = 70.0
BLANK = " "  # a combo box's "nothing chosen"
WORDS = {
    "date_hint": {"en": "YYYY-MM-DD", "es": "AAAA-MM-DD"},
    "one_of": {"en": "one of", "es": "uno de"},
    "attach": {"en": "Attach a copy of your card here", "es": "Adjunte aquí una copia de su tarjeta"},
    "patient": {"en": "Patient", "es": "Paciente"},
    "required": {"en": "* required", "es": "* obligatorio"},
    "page": {"en": "Page", "es": "Página"},
    "self_pay": {"en": "(none: I pay myself)", "es": "(ninguna: pago por mi cuenta)"},
    "sign_here": {"en": "Signature", "es": "Firma"},
}
SCAN_TYPES = {b"%PDF-": "application/pdf", **forms_of.IMAGE_TYPES}


def _word(key: str, language: str) -> str:
    return text_in(WORDS[key], language)


# -- which forms, which language ---------------------------------------------------------------
def _appointment(app, appt_id: str | None, patient: dict) -> dict | None:
    if not appt_id:
        return None
    from medsec.scheduling.appointments import get_appointment

    appt = get_appointment(app, appt_id)
    if appt.get("patient_id") != patient["id"]:
        raise InvalidInput(f"{appt['id']} is {appt.get('patient_id')}'s appointment, not {patient['id']}'s")
    return appt


def _chosen(app, patient: dict, appt: dict | None, form_ids: list[str] | None) -> list[Form]:
    """The forms asked for; else the patient's needed ones on the appointment's day (or today);
    else every required form."""
    if form_ids:
        return forms_of.pick_forms(app, list(form_ids))
    day = date.fromisoformat(appt["start"][:10]) if appt else app.today()
    return forms_of.pick_forms(app, forms_of.to_fill(app, patient, day))


def _language(chosen: list[Form], patient: dict, language: str | None) -> str:
    if language:
        if not LANGUAGE.fullmatch(language):
            raise InvalidInput(f"--lang {shown(language)} is not a language code like en or es")
        lacking = [f.id for f in chosen if language not in f.languages]
        if lacking:
            raise InvalidInput(f"the form {lacking[0]} has no {language} text", hint=f"languages: "
                               f"{', '.join(next(f for f in chosen if f.id == lacking[0]).languages)}")
        return language
    wanted = str(patient.get("language") or "en")
    return wanted if all(wanted in f.languages for f in chosen) else "en"


def _pdf_fields(chosen: list[Form]) -> list[Field]:
    """The fields a packet has as PDF fields (a photo is a box to attach a copy in)."""
    return [f for form in chosen for f in form.fields if f.type != "photo"]


# -- drawing -----------------------------------------------------------------------------------------
def _font_path() -> str:
    import medsec_templates

    return os.path.join(os.path.dirname(medsec_templates.__file__), "fonts", "DejaVuSansMono.ttf")


def _latin1(value: str) -> str:
    """`value` as the standard font of a field's appearance can draw it: Latin-1, other letters
    by their base letter (Ł -> L), else '?'. The field's value itself keeps the exact text."""
    out = []
    for char in value:
        try:
            char.encode("latin-1")
            out.append(char)
            continue
        except UnicodeEncodeError:
            pass
        base = unicodedata.normalize("NFKD", char)[:1]
        name = unicodedata.name(char, "")
        if " WITH " in name:  # LATIN CAPITAL LETTER L WITH STROKE -> L
            with contextlib.suppress(KeyError):
                base = unicodedata.lookup(name.split(" WITH ")[0])
        out.append(base if base and base.encode("latin-1", "ignore") == base.encode("utf-8") else "?")
    return "".join(out)


class _Pages:
    """A canvas and where the next line goes; a new page (headed) when one is full."""

    def __init__(self, canvas, practice: str, patient_line: str, title: str, language: str):
        self.c, self.practice, self.patient_line, self.title, self.language = canvas, practice, patient_line, title, \
            language
        self.y = 0.0
        self.page = 0

    def new_page(self, continued: bool = False) -> None:
        if self.page:
            self.c.showPage()
        self.page += 1
        c = self.c
        c.setFont(FONT, 9)
        c.setFillGray(0.35)
        c.drawString(MARGIN, PAGE_H - MARGIN + 18, self.practice)
        c.drawRightString(PAGE_W - MARGIN, PAGE_H - MARGIN + 18, self.patient_line)
        c.drawCentredString(PAGE_W / 2, MARGIN - 28, f"{_word('page', self.language)} {self.page}")
        c.setFillGray(0)
        c.setLineWidth(0.5)
        c.line(MARGIN, PAGE_H - MARGIN + 12, PAGE_W - MARGIN, PAGE_H - MARGIN + 12)
        c.setFont(FONT, 15 if not continued else 11)
        c.drawString(MARGIN, PAGE_H - MARGIN - 16, self.title + (" (cont.)" if continued else ""))
        self.y = PAGE_H - MARGIN - 34

    def room(self, height: float) -> None:
        if self.y - height < MARGIN:
            self.new_page(continued=True)

    def lines(self, text: str, size: float = 9.5, gap: float = 1.3) -> None:
        from reportlab.lib.utils import simpleSplit  # type: ignore[import-untyped]

        for line in simpleSplit(text, FONT, size, PAGE_W - 2 * MARGIN):
            self.room(size * gap)
            self.c.setFont(FONT, size)
            self.c.drawString(MARGIN, self.y - size, line)
            self.y -= size * gap


def _label(field: Field, language: str, payers: list[dict]) -> str:
    label = text_in(field.label, language) + (" *" if field.required and not field.implicit else "")
    if field.type == "date":
        label += f" ({_word('date_hint', language)})"
    elif field.type == "sex":
        label += f" ({_word('one_of', language)} M, F, X, U)"
    elif field.type == "state":
        label += " (MA, NY ...)"
    elif field.type == "choice":  # printed, a combo box shows one: the choices are listed
        label += f" ({' / '.join(text_in(ch.label, language) for ch in field.choices)})"
    return label


def _draw_field(pages: _Pages, field: Field, value: str, language: str, payers: list[dict]) -> None:
    from reportlab.lib.utils import simpleSplit

    label = _label(field, language, payers)
    helptext = text_in(field.help, language) if field.help else ""
    label_lines = simpleSplit(label, FONT, 9, PAGE_W - 2 * MARGIN)
    help_lines = simpleSplit(helptext, FONT, 7.5, PAGE_W - 2 * MARGIN) if helptext else []
    body = PHOTO_H if field.type == "photo" else FIELD_H
    pages.room(len(label_lines) * 11 + len(help_lines) * 9 + body + 10)
    c = pages.c
    c.setFont(FONT, 9)
    for line in label_lines:
        c.drawString(MARGIN, pages.y - 9, line)
        pages.y -= 11
    c.setFillGray(0.35)
    c.setFont(FONT, 7.5)
    for line in help_lines:
        c.drawString(MARGIN, pages.y - 7.5, line)
        pages.y -= 9
    c.setFillGray(0)
    pages.y -= 2
    bottom = pages.y - body
    tooltip = _latin1(text_in(field.label, language))
    form = c.acroForm
    if field.type == "photo":
        c.setDash(4, 3)
        c.rect(MARGIN, bottom, 260, body)
        c.setDash()
        c.setFont(FONT, 8)
        c.drawString(MARGIN + 8, bottom + body / 2 - 3, _word("attach", language))
    elif field.type == "checkbox":
        form.checkbox(name=field.name, tooltip=tooltip, x=MARGIN, y=bottom + 2, size=14, checked=value == "yes",
                      buttonStyle="check", borderWidth=1, fillColor=None)
    elif field.type in ("choice", "payer"):
        options = _options(field, language, payers)
        known = {o[1] for o in options}
        form.choice(name=field.name, tooltip=tooltip, value=value if value in known else BLANK, options=options,
                    x=MARGIN, y=bottom, width=300, height=body, fontName="Helvetica", fontSize=9, borderWidth=1,
                    fillColor=None)
    else:
        width = PAGE_W - 2 * MARGIN if field.type in ("text", "textarea", "email") else 220
        form.textfield(name=field.name, tooltip=tooltip, value=_latin1(value), x=MARGIN, y=bottom, width=width,
                       height=body, fontName="Helvetica", fontSize=9, borderWidth=1, fillColor=None,
                       maxlen=field.max)
    pages.y = bottom - 10


def _options(field: Field, language: str, payers: list[dict]) -> list[tuple[str, str]]:
    """A combo box's (label, value) pairs, a blank one first (nothing chosen: reportlab wants a
    value, and a blank answer reads back as none)."""
    if field.type == "payer":
        return [(_latin1(_word("self_pay", language)), BLANK)] + \
            [(_latin1(f"{p.get('name') or p['id']} ({p['id']})"), str(p["id"])) for p in payers]
    return [(BLANK, BLANK)] + [(_latin1(text_in(ch.label, language)), ch.value) for ch in field.choices]


def _draw(app, chosen: list[Form], values: dict[str, str], patient: dict, language: str) -> bytes:
    from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
    from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
    from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, _font_path()))
    practice = str((app.config("practice.yaml") or {}).get("name") or "")
    payers = list((app.config("payers.yaml") or {}).get("payers") or [])
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=(PAGE_W, PAGE_H), invariant=False)
    c.setTitle(", ".join(text_in(f.title, language) for f in chosen))
    c.setAuthor(practice)
    c.setKeywords(KEYWORDS)
    c.setCreator("medsec intake packet")
    who = f"{patient['first']} {patient['last']} ({patient['id']}, {patient.get('dob', '')})"
    pages = _Pages(c, practice, f"{_word('patient', language)}: {who}", "", language)
    for form in chosen:
        pages.title = text_in(form.title, language)
        pages.new_page()
        for paragraph in text_in(form.text, language).split("\n\n") if form.text else []:
            pages.lines(" ".join(paragraph.split()))
            pages.y -= 6
        if any(f.required and not f.implicit for f in form.fields):
            c.setFillGray(0.35)
            pages.lines(_word("required", language), size=7.5)
            c.setFillGray(0)
        pages.y -= 6
        for field in form.fields:
            if field.implicit and field.id == "signer":
                pages.room(30)
                c.line(MARGIN, pages.y - 4, PAGE_W - MARGIN, pages.y - 4)
                pages.y -= 14
            _draw_field(pages, field, values.get(field.name, ""), language, payers)
    c.showPage()
    c.save()
    return out.getvalue()


def _stamp(data: bytes, marker: dict, values: dict[str, str]) -> bytes:
    """The drawn packet with its marker in the document information, each field's exact value
    (the drawn appearance may be approximate), and NeedAppearances for the viewer to redraw."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import BooleanObject, DictionaryObject, NameObject, TextStringObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    for page in writer.pages:
        for ref in page.get("/Annots") or []:
            annot = ref.get_object()
            name = str(annot.get("/T", ""))
            if annot.get("/FT") == "/Tx" and name in values:
                annot[NameObject("/V")] = TextStringObject(values[name])
                annot[NameObject("/DV")] = TextStringObject(values[name])
    acroform = cast(DictionaryObject, writer._root_object["/AcroForm"].get_object())
    acroform[NameObject("/NeedAppearances")] = BooleanObject(True)
    writer.add_metadata({MARKER: json.dumps(marker, separators=(",", ":"), ensure_ascii=True)})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def packet(app, patient_id: str, appt_id: str | None = None, language: str | None = None,
           form_ids: list[str] | None = None) -> bytes:
    """The patient's fillable intake packet (PDF bytes), pre-filled with what the record holds."""
    patient = get_patient(app, patient_id)
    appt = _appointment(app, appt_id, patient)
    chosen = _chosen(app, patient, appt, form_ids)
    language = _language(chosen, patient, language)
    values = forms_of.prefill(app, chosen, patient)
    marker = {"v": 1, "patient": patient["id"], "appt": appt["id"] if appt else None, "lang": language,
              "forms": [f.id for f in chosen], "versions": {f.id: f.version for f in chosen},
              "issued": clock.iso(app.now()), "id": secrets.token_hex(8),
              "fields": [f.name for f in _pdf_fields(chosen)]}
    marker["mac"] = _mac(cast(bytes, _key(app, create=True)), marker)
    data = _stamp(_draw(app, chosen, values, patient, language), marker, values)
    app.audit("intake-packet", [patient["id"]] + ([appt["id"]] if appt else []))
    return data


def write_packet(app, patient_id: str, output: str, appt_id: str | None = None, language: str | None = None,
                 form_ids: list[str] | None = None) -> dict:
    """`intake packet -o FILE`: the packet written to `output` ('-': standard output, never a terminal)."""
    from medsec.outputs import check_output, write_output

    check_output(output, app.data_dir)
    data = packet(app, patient_id, appt_id, language, form_ids)
    written = write_output(output, data, data_dir=app.data_dir)
    marker = json.loads(_marker_text(_reader(data)) or "{}")
    return {"patient_id": marker["patient"], "appt_id": marker["appt"], "language": marker["lang"],
            "forms": marker["forms"], "packet": marker["id"], "file": written, "bytes": len(data)}


# -- the packet's marker, bound to the practice -------------------------------------------------
def _key(app, create: bool = False) -> bytes | None:
    """The practice's key for packet markers (a credential kept in the store, made with the first
    packet): a marker changed after printing (another patient, more fields) fails its MAC."""
    from medsec.store.catalog import CREDENTIALS

    def held(view) -> bytes | None:
        ids = view.lookup("credential-staff", KEY_HOLDER)
        record = view.get(CREDENTIALS, ids[0]) if ids else None
        return bytes.fromhex(record["key"]) if record else None

    key = held(app.store.snapshot())
    if key is not None or not create:
        return key
    with app.store.transaction() as txn:
        key = held(txn)
        if key is None:
            key = secrets.token_bytes(32)
            txn.put(CREDENTIALS, {"id": txn.reserve_ids(CREDENTIALS)[0], "staff_id": KEY_HOLDER, "key": key.hex(),
                                  "by": app.user, "at": clock.iso(app.now())})
    return key


def _mac(key: bytes, marker: dict) -> str:
    from medsec.digests import hmac_sha256_hex

    body = {k: v for k, v in marker.items() if k != "mac"}
    return hmac_sha256_hex(key, json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


# -- reading a filled packet back ------------------------------------------------------------------
def _reader(data: bytes):
    from pypdf import PdfReader

    return PdfReader(io.BytesIO(data), strict=False)


def _marker_text(reader) -> str | None:
    value = (reader.metadata or {}).get(MARKER)
    return None if value is None else str(value)


def _pdf(path: str, what: str, read: Callable[[], Any]) -> Any:
    """`read()` on a hostile file: whatever pypdf raises (it raises many kinds, and RecursionError
    on deep nesting) is bad input, one line."""
    try:
        return read()
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure reading the file is the file's
        raise InvalidInput(f"{shown(path)}: {what} ({type(exc).__name__})") from None


def _read(path: str) -> tuple[bytes, Any, str | None]:
    """The file's bytes, a pypdf reader on them and its marker's text; InvalidInput for anything
    not a readable, unencrypted PDF within the limit."""
    from medsec.inputs import ATTACHMENT, open_input

    with open_input(path, ATTACHMENT) as f:
        data = f.read(IMPORT_LIMIT + 1)
    if len(data) > IMPORT_LIMIT:
        raise InvalidInput(f"{shown(path)} is over {IMPORT_LIMIT // 1024 // 1024} MB: not an intake packet")
    if not data.startswith(b"%PDF-"):
        raise InvalidInput(f"{shown(path)} is not a PDF")

    def read() -> tuple[Any, str | None]:
        reader = _reader(data)
        if reader.is_encrypted:
            raise InvalidInput(f"{shown(path)} is encrypted: print and scan it, or save it without a password")
        len(reader.pages)
        return reader, _marker_text(reader)

    reader, text = _pdf(path, "not a readable PDF", read)
    return data, reader, text


def _marker(app, path: str, text: str | None) -> dict:
    """The packet's marker, checked: well-formed, and as medsec printed it (its MAC)."""
    if text is None:
        raise InvalidInput(f"{shown(path)} is not a medsec intake packet (no packet marker)",
                           hint="make one with 'medsec intake packet'; attach a scan with 'medsec intake scan'")
    try:
        marker = json.loads(text)
    except ValueError:
        marker = None
    if not isinstance(marker, dict) or marker.get("v") != 1:
        raise InvalidInput(f"{shown(path)}: the packet marker is garbled; this is not a packet medsec made")
    key = _key(app)
    if key is None or not isinstance(marker.get("mac"), str) or not equal(marker["mac"], _mac(key, marker)):
        raise InvalidInput(f"{shown(path)}: the packet's marker changed since medsec printed it (or another "
                           "practice did): refused", hint="print a new packet with 'medsec intake packet'")
    return marker


FIELD_LIMIT = 2000  # fields in a packet (ours have well under 100)
DEPTH_LIMIT = 8  # parents above a field (ours have none)


def _field_values(path: str, reader) -> dict[str, Any]:
    """The packet's terminal fields by full name (`parent.kid`), each with its value (inherited
    from a parent when the field has none); a name given twice, a cycle, too many or too deep is
    refused: what is read is what a viewer shows."""
    root = reader.trailer["/Root"].get_object()
    acroform = root.get("/AcroForm")
    listed = acroform.get_object().get("/Fields") if acroform is not None else None
    found: dict[str, Any] = {}
    seen: set[int] = set()
    stack = [(ref, "", None, 0) for ref in reversed(list(listed.get_object() if listed is not None else []))]
    while stack:
        ref, prefix, inherited, depth = stack.pop()
        node = ref.get_object()
        if id(node) in seen or depth > DEPTH_LIMIT or len(seen) >= FIELD_LIMIT:
            raise InvalidInput(f"{shown(path)}: its form fields nest or repeat beyond reason ({shown(prefix, 80)})")
        seen.add(id(node))
        part = node.get("/T")
        name = f"{prefix}.{part}" if prefix and part is not None else str(part) if part is not None else prefix
        value = node.get("/V", inherited)  # as stored: _value resolves a reference
        kids = [kid for kid in node.get("/Kids") or [] if "/T" in kid.get_object()]
        if kids:
            stack.extend((kid, name, value, depth + 1) for kid in reversed(kids))
        elif name in found:
            raise InvalidInput(f"{shown(path)}: the field {shown(name, 80)} is there twice")
        else:
            found[name] = value
    return found


def _value(name: str, value: Any) -> str:
    """A PDF field's value as text: a checkbox's name ("/Yes", "/Off"), a text's string, one
    chosen option; anything else (a number, an array, a stream) is not an answer."""
    from pypdf.generic import ArrayObject, NameObject, TextStringObject

    if value is None:
        return ""
    value = value.get_object()
    if isinstance(value, ArrayObject) and len(value) == 1:
        value = value[0].get_object()
    if isinstance(value, NameObject):
        return "" if str(value) == "/Off" else "yes"
    if isinstance(value, TextStringObject):
        return str(value)
    raise InvalidInput(f"{shown(name, 80)}: not a text answer (a PDF {type(value).__name__.removesuffix('Object')})")


def _answers(path: str, reader, marker: dict, chosen: list[Form]) -> dict[str, str]:
    """The packet's field values by name; a field that is not the packet's is forged."""
    expected = {f.name for f in _pdf_fields(chosen)}
    if set(marker["fields"]) != expected:
        raise InvalidInput(f"{shown(path)}: its forms changed since the packet was printed",
                           hint="print a new packet with 'medsec intake packet'")
    fields = _pdf(path, "its form fields do not read", lambda: _field_values(path, reader))
    forged = [name for name in fields if name not in expected]
    if forged:
        raise InvalidInput(f"{shown(path)}: the field {shown(forged[0], 80)} is not one of the packet's")
    if not fields:
        raise InvalidInput(f"{shown(path)}: the packet has no form fields left (was it flattened or printed?)",
                           hint="attach a scan with 'medsec intake scan'")
    return _pdf(path, "its form fields do not read", lambda: {name: _value(name, v) for name, v in fields.items()})


def _imported_before(app, patient_id: str, sha: str) -> dict | None:
    for record in submissions.list_submissions(app, None, patient_id):
        if (record.get("origin") or {}).get("sha256") == sha:
            return record
    return None


def import_pdf(app, path: str, again: bool = False) -> dict:
    """A filled packet read back into a pending submission (with the `changes` it proposes)."""
    data, reader, text = _read(path)
    marker = _marker(app, path, text)
    chosen = forms_of.pick_forms(app, marker["forms"])
    raw = _answers(path, reader, marker, chosen)
    try:
        patient = get_patient(app, marker["patient"])
    except NotFound:
        raise InvalidInput(f"{shown(path)} is a packet for {shown(marker['patient'])}, who is not a patient here")\
            from None
    sha = hashlib.sha256(data).hexdigest()
    before = _imported_before(app, patient["id"], sha)
    if before is not None and not again:
        raise InvalidInput(f"{shown(path)} was already imported as {before['id']} ({before['status']})",
                           hint="give --again to import the same file once more")
    origin = {"packet": marker["id"][:64], "sha256": sha, "issued": str(marker.get("issued", ""))[:40]}
    try:
        return submissions.submit(app, patient["id"], [f.id for f in chosen], raw, source="paper",
                                  language=marker["lang"], appt_id=marker.get("appt"), origin=origin)
    except InvalidInput as e:
        if len(e.details) > 1:
            raise
        raise InvalidInput(e.message, hint=e.hint) from None  # one problem: one line


# -- a scanned paper form ----------------------------------------------------------------------
def scan(app, patient_id: str, path: str, form_id: str, signed: date, signed_by: str = "") -> dict:
    """`intake scan`: a scanned paper form (PDF, JPEG, PNG) attached to the patient as
    "<form> (scanned)", and the form marked received and signed on `signed`."""
    from medsec.inputs import ATTACHMENT, read_input
    from medsec.records.patients import clean

    patient = get_patient(app, patient_id)
    (form,) = forms_of.pick_forms(app, [form_id])
    if signed > app.today():
        raise InvalidInput(f"--signed {signed} is in the future")
    data = read_input(path, ATTACHMENT)
    kind = next((k for magic, k in SCAN_TYPES.items() if data.startswith(magic)), None)
    if kind is None:
        raise InvalidInput(f"{shown(path)} is not a PDF, JPEG or PNG scan")
    sha, size = app.store.attach_bytes(data)  # the bytes land first: a crash leaves an unreferenced file
    attachment = {"sha256": sha, "name": clean("file name", os.path.basename(path)), "size": size,
                  "label": f"{form.id} (scanned)", "added": clock.iso(app.now()), "by": app.user}
    record = submissions.mark_received(app, patient["id"], form.id, signed, "scan", attachment, signed_by)
    entry = record["intake"][form.id]
    return {"patient_id": record["id"], "form": form.id, "attachment": attachment["label"], "file": attachment["name"],
            "content_type": kind, "signed": entry["signed"] or signed.isoformat(), "signed_by": entry["signed_by"],
            "expires": entry["expires"]}
