"""Intake on paper: `intake packet` (a fillable, pre-filled PDF), `intake import` (a filled one read
back as a reviewable diff, applied on confirmation), `intake scan` (a scanned form attached)."""

import json
import re
import subprocess

import pytest
from helpers.files import snapshot
from helpers.terminal import run_in_terminal, terminal_env
from helpers.tools import need_tool

from medsec.documents import text_to_pdf

NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*\.[a-z][a-z0-9]*(_[a-z0-9]+)*")
SIGNED = ("consent-to-treat", "privacy-notice", "financial-policy")
# What a patient writes on the default packet besides what is pre-filled: the emergency contact,
# the agreements ticked and each consent signed.
COMPLETED = {"registration.emergency_contact_name": "Ana Ñúñez", "registration.emergency_contact_phone": "617-555-0199",
             "consent-to-treat.agree": "/Yes", "privacy-notice.acknowledge": "/Yes", "financial-policy.agree": "/Yes",
             **{f"{form}.signature": "Xavier Quiñonez-Zyzzyva" for form in SIGNED}}


def fields_of(path):
    from pypdf import PdfReader

    return {name: field.get("/V") for name, field in PdfReader(path).get_fields().items()}


def marker_of(path):
    from pypdf import PdfReader

    return json.loads(PdfReader(path).metadata["/MedsecIntake"])


def fill(src, dst, values: dict, extra_field: str | None = None):
    """What a PDF viewer does when a patient types into the packet (pypdf), optionally with a forged field."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, DictionaryObject, FloatObject, NameObject, TextStringObject

    writer = PdfWriter(clone_from=PdfReader(src))
    for page in writer.pages:
        writer.update_page_form_field_values(page, values, auto_regenerate=False)
    if extra_field:
        forged = DictionaryObject({NameObject("/FT"): NameObject("/Tx"),
                                   NameObject("/T"): TextStringObject(extra_field),
                                   NameObject("/V"): TextStringObject("123-45-6789"),
                                   NameObject("/Type"): NameObject("/Annot"),
                                   NameObject("/Subtype"): NameObject("/Widget"),
                                   NameObject("/Rect"): ArrayObject([FloatObject(v) for v in (50, 50, 200, 70)])})
        ref = writer._add_object(forged)
        writer.pages[0][NameObject("/Annots")].append(ref)
        writer._root_object["/AcroForm"]["/Fields"].append(ref)
    with open(dst, "wb") as f:
        writer.write(f)
    return dst


def first_appt(medsec, patient_id):
    rows = medsec.json("appt", "list", "--patient", patient_id, "--from", "2026-11-26", "--to", "2027-03-01")
    return rows[0]["id"]


@pytest.fixture
def packet(demo, tmp_path):
    """The demo's P1 (a primary coverage) and their default packet for their next visit."""
    appt = first_appt(demo, "P1")
    path = tmp_path / "packet-P1.pdf"
    demo.ok("intake", "packet", "P1", "--appt", appt, "-o", path)
    demo.appt, demo.packet = appt, path
    return demo


def test_a_packet_is_prefilled_with_fields_named_in_words(packet, tmp_path):
    patient = packet.json("patient", "show", "P1")
    values = fields_of(packet.packet)
    assert all(NAME.fullmatch(name) for name in values), [n for n in values if not NAME.fullmatch(n)]
    assert values["registration.street_address"] == patient["address"]
    assert values["registration.last_name"] == "Quiñonez-Zyzzyva"  # the exact value, accents and all
    assert values["registration.date_of_birth"] == patient["dob"]
    assert values["insurance.member_id"] == patient["coverages"][0]["member_id"]
    assert values["insurance.payer"] == patient["coverages"][0]["payer"]
    assert str(values["consent-to-treat.agree"]) == "/Off" and not values["consent-to-treat.signature"]
    assert "insurance.card_front" not in values  # a photo is a box to attach a copy in
    marker = marker_of(packet.packet)
    assert marker["patient"] == "P1" and marker["appt"] == packet.appt and marker["lang"] == "en"
    assert marker["forms"] == ["registration", "insurance", "consent-to-treat", "privacy-notice", "financial-policy"]
    assert set(marker["fields"]) == set(values) and re.fullmatch(r"[0-9a-f]{16}", marker["id"])
    one = tmp_path / "consent.pdf"
    packet.ok("intake", "packet", "P1", "--form", "consent-to-treat", "-o", one)
    assert {n.split(".")[0] for n in fields_of(one)} == {"consent-to-treat"}
    # -o is required, and a PDF never goes to a terminal; the appointment must be the patient's
    assert packet("intake", "packet", "P1").exit_code == 2
    other = first_appt(packet, "P2")
    wrong = packet("intake", "packet", "P1", "--appt", other, "-o", one)
    assert wrong.exit_code == 2 and "not P1's" in wrong.stderr


def test_a_filled_packet_is_a_diff_applied_on_confirmation(packet, tmp_path):
    filled = fill(packet.packet, tmp_path / "filled.pdf",
                  {**COMPLETED, "registration.street_address": "12 Elm St", "insurance.member_id": "NEW-778899"})
    env = terminal_env(packet, tmp_path)
    run = run_in_terminal(["intake", "import", filled], env, answers=(("Apply these changes to P1?", "y"),))
    assert run.exit_code == 0, run.screen
    table = [line.split() for line in run.screen.splitlines() if line.startswith(("patient.", "coverage."))]
    now = packet.json("patient", "show", "P1")
    assert table == [["patient.address", "92", "Chestnut", "St", "12", "Elm", "St"],
                     ["coverage.member_id", "HAR126563621", "NEW-778899"]]
    assert "applied IN1 to P1" in run.screen
    assert now["address"] == "12 Elm St" and now["coverages"][0]["member_id"] == "NEW-778899"
    assert now["intake"]["registration"]["received"] and now["intake"]["consent-to-treat"]["signed"] == "2026-11-26"
    assert now["intake"]["consent-to-treat"]["signed_by"] == "Xavier Quiñonez-Zyzzyva"
    # the same file again is refused, nothing written
    before = snapshot(packet.home)
    again = packet("intake", "import", filled)
    assert again.exit_code == 2 and again.stderr.count("\n") == 1 and "already imported as IN1" in again.stderr
    assert snapshot(packet.home) == before


def test_declined_or_unasked_the_submission_stays_pending(packet, tmp_path, monkeypatch):
    filled = fill(packet.packet, tmp_path / "filled.pdf", {**COMPLETED, "registration.city": "Cambridge"})
    unasked = packet("intake", "import", filled)  # no terminal to ask at, no --yes
    assert unasked.exit_code == 0 and "'medsec intake review IN1' will show it" in unasked.stderr
    assert "registration.city" not in unasked.stdout and "patient.city" in unasked.stdout
    monkeypatch.setattr("medsec.cli.names.interactive", lambda ctx: True)
    declined = packet("intake", "import", filled, "--again", input="n\n")
    assert declined.exit_code == 0 and "Apply these changes to P1? [y/N]" in declined.stderr
    assert "IN2 is pending" in declined.stderr
    assert packet.json("patient", "show", "P1")["city"] == "Boston"
    listed = packet.json("intake", "import", filled, "--again", "--yes")
    assert listed["status"] == "applied" and listed["origin"]["sha256"] and listed["source"] == "paper"
    assert packet.json("patient", "show", "P1")["city"] == "Cambridge"


def test_a_spanish_packet_renders(demo, tmp_path):
    from pypdf import PdfReader

    pdftoppm = need_tool("pdftoppm", "poppler-utils")
    demo.ok("patient", "edit", "P2", "--first", "Łucja", "--language", "es")
    path = tmp_path / "paquete.pdf"
    demo.ok("intake", "packet", "P2", "-o", path)  # the patient's language by default
    reader = PdfReader(path)
    text = "\n".join(page.extract_text() for page in reader.pages)
    for words in ("Registro del paciente", "Dirección *", "Información del seguro médico", "Número de afiliado",
                  "Consentimiento", "Firma (escriba su nombre completo)", "Paciente: Łucja O'Connell", "Página 2"):
        assert words in text, words
    assert "Street address" not in text
    assert fields_of(path)["registration.first_name"] == "Łucja"
    assert marker_of(path)["lang"] == "es"
    english = tmp_path / "packet.pdf"
    demo.ok("intake", "packet", "P2", "--lang", "en", "--form", "registration", "-o", english)
    assert "Street address *" in PdfReader(english).pages[0].extract_text()
    assert demo("intake", "packet", "P2", "--lang", "fr", "-o", english).exit_code == 2
    subprocess.run([pdftoppm, "-r", "20", "-gray", path, str(tmp_path / "page")], check=True, timeout=60)
    pages = sorted(tmp_path.glob("page-*.pgm"))
    assert len(pages) == len(reader.pages) >= 5
    for page in pages:
        pixels = _pgm(page.read_bytes())
        assert min(pixels) < 100 and sum(1 for p in pixels if p < 200) > 200, page.name  # ink, not a blank page


def _pgm(data: bytes) -> bytes:
    """The pixels of a binary PGM (P5) as pdftoppm -gray writes it."""
    head = data.split(maxsplit=4)
    assert head[0] == b"P5" and head[3] == b"255"
    width, height = int(head[1]), int(head[2])
    return data[len(data) - width * height:]


def _forged_marker(src, dst, change):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(src))
    marker = json.loads(writer.metadata["/MedsecIntake"])
    writer.add_metadata({"/MedsecIntake": change(marker)})
    with open(dst, "wb") as f:
        writer.write(f)
    return dst


def test_what_is_not_our_filled_packet_is_refused_and_nothing_written(packet, tmp_path):
    tmp = tmp_path
    ok = {**COMPLETED}
    cases = {
        "not ours": (tmp / "letter.pdf", "not a medsec intake packet"),
        "text": (tmp / "notes.pdf", "is not a PDF"),
        "forged field": (fill(packet.packet, tmp / "forged.pdf", ok, extra_field="registration.ssn"),
                         "registration.ssn"),
        "controls": (fill(packet.packet, tmp / "controls.pdf", {**ok, "registration.city": "Bos\x1b[2Jton"}),
                     "registration.city"),
        "1 MB": (fill(packet.packet, tmp / "big.pdf", {**ok, "registration.street_address": "x" * 1_000_000}),
                 "registration.street_address"),
        "garbled": (_forged_marker(packet.packet, tmp / "garbled.pdf", lambda m: "{not json"), "garbled"),
        "no patient": (_forged_marker(packet.packet, tmp / "nobody.pdf",
                                      lambda m: json.dumps({**m, "patient": "P99999"})), "changed since medsec"),
        "unknown form": (_forged_marker(packet.packet, tmp / "unknown.pdf",
                                        lambda m: json.dumps({**m, "forms": ["tax-return"]})), "changed since medsec"),
        "broken": (tmp / "broken.pdf", "not a readable PDF"),
    }
    (tmp / "letter.pdf").write_bytes(text_to_pdf("Dear patient,\nA letter, not a packet.", "Letter"))
    (tmp / "notes.pdf").write_text("registration.street_address=12 Elm St\n")
    (tmp / "broken.pdf").write_bytes(packet.packet.read_bytes()[:3000])
    before = snapshot(packet.home)
    for case, (path, words) in cases.items():
        result = packet("intake", "import", path, "--yes")
        assert result.exit_code == 2, (case, result.stderr)
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("medsec: error:"), (case, result.stderr)
        assert words in result.stderr, (case, result.stderr)
    assert snapshot(packet.home) == before


def test_a_scanned_form_is_attached_and_marked_received(demo, tmp_path):
    scan = tmp_path / "consent-scan.pdf"
    scan.write_bytes(text_to_pdf("Consent to treat, signed on paper.", "Scan"))
    done = demo.json("intake", "scan", "P1", scan, "--form", "consent-to-treat", "--signed", "2026-11-20",
                     "--signed-by", "Xavier Quiñonez-Zyzzyva")
    assert done["attachment"] == "consent-to-treat (scanned)" and done["content_type"] == "application/pdf"
    patient = demo.json("patient", "show", "P1")
    assert [a["label"] for a in patient["attachments"]] == ["consent-to-treat (scanned)"]
    entry = patient["intake"]["consent-to-treat"]
    assert entry["signed"] == "2026-11-20" and entry["source"] == "scan" and entry["expires"]
    photo = tmp_path / "card.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 64)
    demo.ok("intake", "scan", "P1", photo, "--form", "insurance")  # signed today by default
    assert demo.json("patient", "show", "P1")["intake"]["insurance"]["received"]
    before = snapshot(demo.home)
    words = tmp_path / "scan.pdf"
    words.write_text("not a scan")
    for args, message in (((words, "--form", "insurance"), "not a PDF, JPEG or PNG"),
                          ((scan, "--form", "insurance", "--signed", "2026-12-01"), "in the future"),
                          ((scan, "--form", "tax-return"), "no intake form"),
                          ((tmp_path / "missing.pdf", "--form", "insurance"), "missing.pdf")):
        result = demo("intake", "scan", "P1", *args)
        assert result.exit_code == 2 and message in result.stderr, (args, result.stderr)
    assert snapshot(demo.home) == before


def test_the_packet_imports_nothing_heavy_until_asked():
    code = ("import sys, medsec.cli.intake_paper, medsec.workflows.intake_paper\n"
            "print(sorted(m for m in ('reportlab', 'pypdf') if m in sys.modules))")
    out = subprocess.run([__import__("sys").executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"



def _rewritten(src, dst, change):
    """The packet with its fields changed by `change(writer, fields)` (fields: name -> the field's dictionary)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(src))
    fields = {str(ref.get_object()["/T"]): ref.get_object() for ref in writer._root_object["/AcroForm"]["/Fields"]}
    change(writer, fields)
    with open(dst, "wb") as f:
        writer.write(f)
    return dst


def test_a_marker_changed_to_another_patient_is_refused(packet, tmp_path):
    """The marker is bound to what was issued (a MAC under a key the practice keeps): a packet
    whose patient, forms or fields were changed is refused, and a marker of another practice too."""
    filled = fill(packet.packet, tmp_path / "filled.pdf", {**COMPLETED, "registration.city": "Cambridge"})
    before = snapshot(packet.home)
    for case, change in (("patient", lambda m: {**m, "patient": "P2", "appt": None}),
                         ("fields", lambda m: {**m, "fields": m["fields"] + ["registration.ssn"]}),
                         ("id", lambda m: {**m, "id": "\x1b[2J" + m["id"]}),
                         ("no mac", lambda m: {k: v for k, v in m.items() if k != "mac"})):
        forged = _forged_marker(filled, tmp_path / f"{case}.pdf", lambda m, change=change: json.dumps(change(m)))
        result = packet("intake", "import", forged, "--yes")
        assert result.exit_code == 2 and "changed since medsec printed it" in result.stderr, (case, result.stderr)
        assert result.stderr.count("\n") == 1 and "\x1b" not in result.stderr
    assert snapshot(packet.home) == before


def test_hostile_fields_are_refused_with_one_line(packet, tmp_path):
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        NameObject,
        NumberObject,
        TextStringObject,
    )

    def value(v):
        return lambda writer, fields: fields["registration.city"].__setitem__(NameObject("/V"), v)

    def nested(writer, fields):  # written as a placeholder, replaced below by 5000 nested arrays
        fields["registration.city"][NameObject("/V")] = TextStringObject("NESTEDARRAYSHERE")

    def stream(writer, fields):
        body = DecodedStreamObject()
        body.set_data(b"Cambridge")
        fields["registration.city"][NameObject("/V")] = writer._add_object(body)

    def duplicate(writer, fields):
        twin = DictionaryObject({**fields["registration.city"], NameObject("/V"): TextStringObject("Elsewhere")})
        writer._root_object["/AcroForm"]["/Fields"].append(writer._add_object(twin))

    def cyclic(writer, fields):
        city = fields["registration.city"]
        ref = city.indirect_reference
        city[NameObject("/Kids")] = ArrayObject([ref])

    def control_name(writer, fields):
        fields["registration.city"][NameObject("/T")] = TextStringObject("registration.\x1b]0;pwned\x07city")

    cases = {"number": (value(NumberObject(5)), "registration.city"),
             "dictionary": (value(DictionaryObject({NameObject("/A"): NumberObject(1)})), "registration.city"),
             "nested": (nested, "do not read"), "stream": (stream, "registration.city"),
             "duplicate": (duplicate, "twice"), "cyclic": (cyclic, "registration.city"),
             "control characters": (control_name, "\\x1b")}
    filled = fill(packet.packet, tmp_path / "filled.pdf", COMPLETED)
    before = snapshot(packet.home)
    for case, (change, words) in cases.items():
        path = _rewritten(filled, tmp_path / f"{case}.pdf", change)
        path.write_bytes(path.read_bytes().replace(b"(NESTEDARRAYSHERE)", b"[" * 5000 + b"(x)" + b"]" * 5000))
        result = packet("intake", "import", path, "--yes")
        assert result.exit_code == 2, (case, result.stderr)
        assert result.stderr.startswith("medsec: error:") and result.stderr.count("\n") == 1, (case, result.stderr)
        assert words in result.stderr and "\x1b" not in result.stderr and "\x07" not in result.stderr, (case,
                                                                                                          result.stderr)
    assert snapshot(packet.home) == before


def test_inherited_field_values_are_read(packet, tmp_path):
    """A field split into a parent (registration) and a kid (city), its value on the parent: read as
    registration.city, as a viewer would."""
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

    def split(writer, fields):
        city = fields["registration.city"]
        parent = DictionaryObject({NameObject("/T"): TextStringObject("registration"),
                                   NameObject("/FT"): NameObject("/Tx"), NameObject("/V"): TextStringObject("Salem")})
        parent_ref = writer._add_object(parent)
        city[NameObject("/T")] = TextStringObject("city")
        city[NameObject("/Parent")] = parent_ref
        del city["/V"], city["/FT"]
        parent[NameObject("/Kids")] = ArrayObject([city.indirect_reference])
        listed = writer._root_object["/AcroForm"]["/Fields"]
        listed[[r.get_object() is city for r in listed].index(True)] = parent_ref

    path = _rewritten(fill(packet.packet, tmp_path / "filled.pdf", COMPLETED), tmp_path / "split.pdf", split)
    done = packet.json("intake", "import", path)
    assert {"field": "patient.city", "label": "City", "old": "Boston", "new": "Salem"} in done["changes"]


def test_prefilled_values_keep_parentheses_backslashes_and_any_script(demo, tmp_path):
    demo.ok("patient", "edit", "P2", "--first", "Łucja (Lucy)", "--address", "1 Back\\slash Rd (rear) 東京")
    path = tmp_path / "packet.pdf"
    demo.ok("intake", "packet", "P2", "--form", "registration", "-o", path)
    values = fields_of(path)
    assert values["registration.first_name"] == "Łucja (Lucy)"
    assert values["registration.street_address"] == "1 Back\\slash Rd (rear) 東京"
    done = demo.json("intake", "import", fill(path, tmp_path / "filled.pdf", {
        "registration.emergency_contact_name": "Ana", "registration.emergency_contact_phone": "617-555-0199"}))
    assert done["changes"] == []  # read back exactly as printed


def test_a_restricted_chart_is_refused_to_a_role_it_is_not_open_to(clinic, secrets_dir, tmp_path):
    from helpers.signin import signed_in

    admin, desk, doctor = (signed_in(clinic, s, secrets_dir) for s in ("S1", "S2", "S3"))
    clinic.ok("patient", "restrict", "P1", "--to-role", "physician", env=admin)
    result = clinic("intake", "packet", "P1", "-o", tmp_path / "p.pdf", env=desk)
    assert result.exit_code != 0 and not (tmp_path / "p.pdf").exists(), result.stderr
    clinic.ok("intake", "packet", "P1", "-o", tmp_path / "p.pdf", env=doctor)
    filled = fill(tmp_path / "p.pdf", tmp_path / "filled.pdf", {})
    refused = clinic("intake", "import", filled, env=desk)
    assert refused.exit_code != 0 and "Ann" not in refused.stderr + refused.stdout, refused.stderr


def test_a_scan_given_a_fifo_or_a_folder_is_refused_at_once(demo, tmp_path):
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    demo.ok("intake", "forms")  # the bundled forms' parse cached, as any command caches it
    before = snapshot(demo.home)
    for path in (fifo, tmp_path):
        result = demo("intake", "scan", "P1", path, "--form", "insurance")
        assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
        result = demo("intake", "import", path)
        assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert snapshot(demo.home) == before
