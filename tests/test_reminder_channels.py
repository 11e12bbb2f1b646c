"""Reminders that suit their channel (issue 19 part 4): letters only when the post can bring them,
printed as one PDF with a mail-merge CSV; instructions in every channel, SMS within segment limits;
`mail send --var`, `mail show` with the body; follow-up lists that feed `mail send --to-list`."""

import csv
import io
import subprocess

import pytest
from helpers.backends import write_config
from helpers.files import snapshot
from helpers.practices import PRACTICE, use_test_channel
from helpers.tools import need_tool

from medsec.communications.sms import GSM7_BASIC, GSM7_EXTENSION, encoding, plain, segments
from medsec.store import Store
from medsec.store.catalog import MAIL

CHANNELS = """\
testchannel: {}
routes: {email: testchannel, sms: testchannel, voice: testchannel, letter: outbox, fax: testchannel}
"""

# A procedure that needs fasting (no room needed: the test is about the words), in English and Spanish.
TYPES = """\
types:
  follow-up: {duration: 20}
  procedure:
    duration: 60
    description: Minor procedure
    instructions: Nothing to eat or drink after midnight.
    translations:
      es:
        description: Procedimiento menor
        instructions: 'Nada de comer ni beber después de la medianoche. Venga acompañado: no podrá conducir.'
    lead_hours: [24]
"""


@pytest.fixture
def office(small_practice, tmp_path):
    medsec = use_test_channel(small_practice(6), tmp_path / "sent.jsonl")
    write_config(medsec, "channels.yaml", CHANNELS)
    write_config(medsec, "appointment-types.yaml", TYPES)
    write_config(medsec, "practice.yaml", PRACTICE + "phone: 617-555-0199\n")
    medsec.ok("config", "show")
    return medsec


def book(m, patient, at, kind="follow-up"):
    return m.json("appt", "book", patient, "--provider", "S1", "--at", at, "--type", kind)


def by_letter(m, pid, n):
    m.ok("patient", "edit", pid, "--preferred-channel", "letter", "--address", f"{n} Elm Street",
         "--city", "Boston", "--state", "MA", "--zip", "02118")


# -- the SMS segment counter ----------------------------------------------------------------
def test_gsm7_table_is_the_real_one():
    assert len(GSM7_BASIC) == 127  # 128 places, one of them the escape to the extension table
    for ch in "éèùìòÇÑñÜüÄäÖöÅåØøÆæßÉà¡¿§£¥¤ΔΦΓΛΩΠΨΣΘΞ@$_":
        assert encoding(ch) == "GSM-7", ch
    for ch in "áíóúÁÍÓÚçâêôãõ`":  # Spanish á í ó ú, Portuguese, a backtick: none is in GSM-7
        assert encoding(ch) == "UCS-2", ch
    assert set("\f^{}\\[~]|€") == GSM7_EXTENSION


def test_typographic_punctuation_does_not_make_a_text_ucs2(office):
    typed = "Don\u2019t eat after midnight \u2013 bring your card\u2026 \u201cno\u00a0food\u201d"
    assert encoding(typed) == "UCS-2" and encoding(plain(typed)) == "GSM-7"
    assert plain(typed) == 'Don\'t eat after midnight - bring your card... "no food"'
    assert plain("Nada de comer después") == "Nada de comer después"  # a letter is not punctuation
    write_config(office, "appointment-types.yaml",
                 f"types:\n  procedure: {{duration: 60, instructions: \"{typed}\"}}\n")
    book(office, "P1", "2026-11-27 09:00", "procedure")
    shown = office.json("remind", "preview", "A1")
    assert shown["encoding"] == "GSM-7" and plain(typed) in shown["text"]
    office.ok("remind", "send")
    (sent,) = office.sent()
    assert sent["meta"]["encoding"] == "GSM-7" and plain(typed) in sent["body"]


def test_segment_limits():
    assert segments("a" * 160) == ("GSM-7", 1)
    assert segments("a" * 161) == ("GSM-7", 2)
    assert segments("a" * 306) == ("GSM-7", 2)
    assert segments("a" * 307) == ("GSM-7", 3)
    assert segments("ñ" * 160) == ("GSM-7", 1)  # ñ is in the basic set
    assert segments("€" * 80) == ("GSM-7", 1)  # the euro sign and brackets count 2
    assert segments("€" * 80 + "a") == ("GSM-7", 2)
    assert segments("[" * 80 + "]") == ("GSM-7", 2)
    assert segments("a" * 152 + "€") == ("GSM-7", 1)  # 154 septets: one message of 160
    assert segments("a" * 159 + "{") == ("GSM-7", 2)  # the pair is not split: 153 | 7
    assert segments("a" * 152 + "{" + "a" * 152) == ("GSM-7", 3)
    assert segments("á" * 70) == ("UCS-2", 1)
    assert segments("á" + "a" * 70) == ("UCS-2", 2)
    assert segments("á" * 134) == ("UCS-2", 2)
    assert segments("á" * 135) == ("UCS-2", 3)
    assert segments("😀" * 35) == ("UCS-2", 1)  # two UTF-16 units each
    assert segments("") == ("GSM-7", 1)


# -- instructions in every channel, SMS within limits --------------------------------------
def test_surgery_sms_carries_instructions_within_segments(office):
    book(office, "P1", "2026-11-27 09:00", "procedure")
    office.ok("patient", "edit", "P2", "--language", "es")
    book(office, "P2", "2026-11-27 10:00", "procedure")
    english = office.json("remind", "preview", "A1")
    assert english["kind"] == "sms" and english["encoding"] == "GSM-7" and english["segments"] <= 2
    assert "Nothing to eat or drink after midnight." in english["text"]
    spanish = office.json("remind", "preview", "A2")
    assert spanish["encoding"] == "UCS-2" and spanish["segments"] <= 3
    assert "Nada de comer ni beber después de la medianoche. Venga acompañado: no podrá conducir." in spanish["text"]
    shown = office.ok("remind", "preview", "A2").stdout
    assert f"SMS: UCS-2, {spanish['segments']} segment(s) (limit 3" in shown
    office.ok("remind", "send")
    sent = {m["meta"]["appointment_id"]: m for m in office.sent()}
    assert "after midnight" in sent["A1"]["body"] and "medianoche" in sent["A2"]["body"]
    assert segments(sent["A1"]["body"])[1] <= 2 and segments(sent["A2"]["body"]) [1] <= 3
    assert sent["A2"]["meta"]["encoding"] == "UCS-2"


def test_spanish_sms_without_accented_words_stays_gsm7(office):
    """The template's own words add no character outside GSM-7 (ñ is in it): a Spanish reminder for
    a Monday (lunes, no accent) with no instructions is one GSM-7 message, in full and brief."""
    office.ok("patient", "edit", "P1", "--language", "es")
    book(office, "P1", "2026-11-30 09:00")  # a Monday
    shown = office.json("remind", "preview", "A1")
    assert "lunes" in shown["text"] and (shown["encoding"], shown["segments"]) == ("GSM-7", 1), shown["text"]
    write_config(office, "practice.yaml", PRACTICE + "phone: 617-555-0199\nreminders: {sms_max_segments: 1}\n")
    write_config(office, "appointment-types.yaml", "types:\n  follow-up: {duration: 20, instructions: "
                 + "Traiga la tarjeta del seguro y la lista de sus medicinas, y venga con un acompañante. " * 2 + "}\n")
    brief = office.json("remind", "preview", "A1")
    assert brief["brief"] is True and brief["encoding"] == "GSM-7", brief["text"]


def test_a_long_sms_is_shortened_never_its_instructions(office):
    write_config(office, "practice.yaml", PRACTICE + "phone: 617-555-0199\nreminders: {sms_max_segments: 1}\n")
    long = "Nothing to eat or drink after midnight. Bring your insurance card and a list of your medicines."
    write_config(office, "appointment-types.yaml", f"types:\n  procedure: {{duration: 60, instructions: {long}}}\n")
    book(office, "P1", "2026-11-27 09:00", "procedure")
    shown = office.json("remind", "preview", "A1")
    assert shown["brief"] is True and "Dr A" not in shown["text"] and "To change it" not in shown["text"]
    assert long in shown["text"] and "9:00 AM" in shown["text"]
    assert "617-555-0199" in shown["text"]
    assert shown["segments"] == 2  # over the limit still: the instructions are never cut


def test_instructions_reach_email_voice_and_letter(office, tmp_path):
    office.ok("patient", "edit", "P1", "--email", "p1@example.com", "--preferred-channel", "email")
    office.ok("patient", "edit", "P2", "--preferred-channel", "voice")
    for pid, at in (("P1", "09:00"), ("P2", "10:00")):
        book(office, pid, f"2026-11-27 {at}", "procedure")
    by_letter(office, "P3", 3)
    book(office, "P3", "2026-12-01 09:00", "procedure")
    for appt in ("A1", "A2", "A3"):
        assert "Nothing to eat or drink after midnight" in office.json("remind", "preview", appt)["text"]
    office.ok("remind", "send", "--within", "7d", "--letters-pdf", str(tmp_path / "letters.pdf"))
    kinds = {m["kind"]: m["body"] for m in office.sent()}
    assert set(kinds) == {"email", "voice"} and all("after midnight" in b for b in kinds.values())
    from pypdf import PdfReader

    assert "after midnight" in PdfReader(tmp_path / "letters.pdf").pages[0].extract_text()


# -- letters: only when the post can bring them, printed as one batch -----------------------
def test_letters_print_as_one_batch_and_none_inside_the_lead_time(office, tmp_path):
    for n, pid in enumerate(["P1", "P2", "P3", "P4"], 1):
        by_letter(office, pid, n)
    book(office, "P1", "2026-11-26 11:30")  # the same morning: no letter arrives in time
    book(office, "P2", "2026-11-27 15:00")  # tomorrow: inside the 3-day lead time
    book(office, "P3", "2026-11-30 09:00")  # in 4 days: a letter goes
    book(office, "P4", "2026-12-01 09:00", "procedure")  # in 5 days: a letter goes
    book(office, "P5", "2026-12-10 09:00")  # a letter patient, but too early yet (kept for later)
    by_letter(office, "P5", 5)
    result = office("remind", "send", "--json")
    assert result.exit_code == 0, result.stderr
    rows = {r["appointment_id"]: r for r in result.json()}
    assert rows["A1"]["status"] == rows["A2"]["status"] == "skipped"
    assert "less than 3 days away" in rows["A1"]["reason"] and "would not arrive" in rows["A2"]["reason"]
    assert rows["A3"]["status"] == rows["A4"]["status"] == "sent" and "A5" not in rows
    assert rows["A3"]["channel"] == "print" and rows["A3"]["key"] == "letter"
    assert office.sent() == []  # nothing went through a channel
    outbox = office.home / "outbox"
    assert not list(outbox.rglob("*.json"))  # no JSON letter files any more
    (pdf,) = outbox.glob("reminder-letters-*.pdf")
    (merge,) = outbox.glob("reminder-letters-*.csv")
    listed = [m["name"] for m in office.json("outbox", "list")]
    assert pdf.name in listed and merge.name in listed
    assert f"letters to print: {pdf}" in result.stderr
    assert rows["A3"]["delivery_id"] == f"{pdf.name}#page=1" and rows["A4"]["delivery_id"].endswith("#page=2")
    from pypdf import PdfReader

    pages = PdfReader(pdf).pages
    assert len(pages) == 2
    first = pages[0].extract_text()
    assert "3 Elm Street" in first and "Boston, MA 02118" in first and "November 30, 2026" in first
    assert "after midnight" in pages[1].extract_text()
    table = list(csv.DictReader(io.StringIO(merge.read_text())))
    assert [(r["patient_id"], r["address_line1"], r["zip"], r["appointment_id"]) for r in table] == [
        ("P3", "3 Elm Street", "02118", "A3"), ("P4", "4 Elm Street", "02118", "A4")]
    # once each: a later run sends nothing again; the letter for A5 goes 5 days before its visit
    assert office.json("remind", "send") == []
    later = office.json("remind", "send", env={"MEDSEC_NOW": "2026-12-05T10:00:00"})
    assert [(r["appointment_id"], r["status"]) for r in later] == [("A5", "sent")]
    pdftoppm = need_tool("pdftoppm", "poppler-utils")
    subprocess.run([pdftoppm, "-f", "1", "-l", "1", "-r", "50", "-png", str(pdf), str(tmp_path / "page")],
                   check=True, capture_output=True)
    (png,) = tmp_path.glob("page*.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000


def test_letters_to_a_named_file_and_lead_days_configurable(office, tmp_path):
    write_config(office, "practice.yaml", PRACTICE + "reminders: {letter_lead_days: 1}\n")
    by_letter(office, "P1", 1)
    book(office, "P1", "2026-11-27 15:00")  # 29 hours: outside a 1-day lead time
    dry = office("remind", "send", "--dry-run", "--json", "--letters-pdf", str(tmp_path / "l.pdf"))
    assert [r["status"] for r in dry.json()] == ["would-send"] and not (tmp_path / "l.pdf").exists()
    result = office("remind", "send", "--letters-pdf", str(tmp_path / "l.pdf"),
                    "--letters-csv", str(tmp_path / "l.csv"))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "l.pdf").read_bytes()[:5] == b"%PDF-" and "P1" in (tmp_path / "l.csv").read_text()
    assert not list((office.home / "outbox").glob("reminder-letters-*"))


def test_letter_preview_says_when_too_late(office):
    by_letter(office, "P1", 1)
    book(office, "P1", "2026-11-27 09:00")
    result = office("remind", "preview", "A1")
    assert result.exit_code == 0 and "no letter would arrive in time" in result.stderr
    assert "1 Elm Street" in result.stdout or "Elm Street" in office.json("remind", "preview", "A1")["to"]


def test_bad_letter_paths_and_settings_are_bad_input(office, tmp_path):
    by_letter(office, "P1", 1)
    book(office, "P1", "2026-11-30 09:00")
    before = snapshot(office.home)
    for args in (["--letters-pdf", str(tmp_path / "letters.txt")],
                 ["--letters-pdf", str(office.home / "x.pdf")],
                 ["--letters-pdf", str(tmp_path / "a.pdf"), "--letters-csv", str(tmp_path / "a.pdf")]):
        result = office("remind", "send", *args)
        assert result.exit_code == 2, result.stderr
        assert result.stderr.startswith("medsec: error: ") and len(result.stderr.strip().splitlines()) <= 2
    assert snapshot(office.home) == before
    (office.home / "practice.yaml").write_text(PRACTICE + "reminders: {letter_lead_days: -1, sms_segments: 2}\n")
    check = office("config", "check")
    assert check.exit_code != 0
    assert "reminders.letter_lead_days must be a whole number from 0 to 60" in check.stdout + check.stderr
    assert "reminders.sms_segments: unknown setting" in check.stdout + check.stderr


def test_letters_csv_alone_is_bad_input(office, tmp_path):
    by_letter(office, "P1", 1)
    book(office, "P1", "2026-11-30 09:00")
    book(office, "P2", "2026-11-27 09:00")  # an SMS patient: nothing goes out either
    before = snapshot(office.home)
    result = office("remind", "send", "--letters-csv", str(tmp_path / "l.csv"))
    assert result.exit_code == 2 and result.stderr.startswith("medsec: error: --letters-csv needs --letters-pdf")
    assert snapshot(office.home) == before and office.sent() == [] and not (tmp_path / "l.csv").exists()


def test_letters_that_cannot_be_written_wait_and_the_rest_is_recorded_sent(office, monkeypatch):
    """A batch that cannot be written (the disk is full) leaves its letters to retry; the SMS sent
    in the same run are recorded sent, so a later run does not send them again."""
    from medsec.communications.printbatch import PrintBatch

    by_letter(office, "P1", 1)
    book(office, "P1", "2026-11-30 09:00")
    book(office, "P2", "2026-11-27 09:00")

    def full(*_args, **_kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(PrintBatch, "to_outbox", full)
    result = office("remind", "send", "--json")
    assert result.exit_code == 1 and "No space left on device" in result.stderr
    rows = {r["appointment_id"]: r for r in result.json()}
    assert (rows["A1"]["status"], rows["A2"]["status"]) == ("retry", "sent")
    assert len(office.sent()) == 1
    monkeypatch.undo()
    later = office.json("remind", "send", env={"MEDSEC_NOW": "2026-11-26T12:00:00"})
    assert [(r["appointment_id"], r["status"], r["channel"]) for r in later] == [("A1", "sent", "print")]
    assert len(office.sent()) == 1 and list((office.home / "outbox").glob("reminder-letters-*.pdf"))


# -- mail send --var, mail show with the body --------------------------------------------------
def test_mail_vars_reach_the_template_and_show_keeps_the_body(office):
    folder = office.home / "templates" / "messages" / "flu-clinic"
    folder.mkdir(parents=True)
    (folder / "en.subject.j2").write_text("Flu clinic\n")
    (folder / "en.txt.j2").write_text("Dear {{ patient.first }}, our flu clinic is on {{ vars.day }}.\n")
    office.ok("patient", "edit", "P1", "--email", "p1@example.com")
    sent = office.json("mail", "send", "--patient", "P1", "--template", "flu-clinic", "--channel", "email",
                       "--var", "day=Saturday December 5")
    assert [s["status"] for s in sent] == ["sent"]
    (message,) = office.sent()
    assert "flu clinic is on Saturday December 5." in message["body"]
    shown = office.json("mail", "show", sent[0]["id"])
    assert shown["body"] == message["body"] and shown["vars"] == {"day": "Saturday December 5"}
    assert "flu clinic is on Saturday December 5." in office.ok("mail", "show", sent[0]["id"]).stdout
    (listed,) = office.json("mail", "list")  # a listing shows who and what, not the letter
    assert listed["id"] == sent[0]["id"] and "body" not in listed and "vars" not in listed
    # a value the template needs and the command did not give: one line before anything is sent
    (folder / "es.txt.j2").write_text("Hola {{ patient.first }}: {{ vars['day'] }}, {{ vars.hour }}.\n")
    before = snapshot(office.home)
    missing = office("mail", "send", "--patient", "P1", "--template", "flu-clinic", "--channel", "email",
                     "--var", "day=Saturday")
    assert missing.exit_code == 2 and missing.stderr.count("\n") == 1
    assert "needs --var hour=VALUE" in missing.stderr
    assert snapshot(office.home) == before and len(office.sent()) == 1


@pytest.mark.parametrize("var", ["day", "1day=x", "da-y=x", "=x", "day=a\nb"])
def test_bad_var_is_bad_input(office, var):
    before = snapshot(office.home)
    result = office("mail", "send", "--patient", "P1", "--template", "recall-letter", "--var", var)
    assert result.exit_code == 2 and result.stderr.startswith("medsec: error: --var")
    assert snapshot(office.home) == before


def test_var_given_twice_is_bad_input(office):
    result = office("mail", "send", "--patient", "P1", "--template", "recall-letter",
                    "--var", "a=1", "--var", "a=2")
    assert result.exit_code == 2 and "--var a is given twice" in result.stderr


def test_old_mail_record_without_body_says_so(office):
    office.ok("patient", "edit", "P1", "--email", "p1@example.com")
    (sent,) = office.json("mail", "send", "--patient", "P1", "--template", "recall-letter", "--channel", "email")
    with Store(str(office.home)).transaction() as txn:  # the record as an older version kept it
        old = txn.get(MAIL, sent["id"])
        txn.put(MAIL, {k: v for k, v in old.items() if k not in ("body", "vars")}, old)
    result = office("mail", "show", sent["id"])
    assert result.exit_code == 0 and "its body is not on record" in result.stderr


# -- follow-up lists feed --to-list ----------------------------------------------------------
def test_followups_csv_feeds_mail_to_list(office, tmp_path):
    for pid, at in (("P1", "2026-11-20 09:00"), ("P2", "2026-11-20 10:00")):
        office.ok("appt", "book", pid, "--provider", "S1", "--at", at, "--type", "follow-up", "--allow-past")
    for appt in ("A1", "A2"):
        office.ok("appt", "status", appt, "no-show")
    out = tmp_path / "calls.csv"
    office.ok("remind", "followups", "--format", "csv", "-o", str(out))
    header = next(csv.reader(io.StringIO(out.read_text())))
    assert "patient_id" in header
    for pid in ("P1", "P2"):
        office.ok("patient", "edit", pid, "--email", f"{pid.lower()}@example.com")
    sent = office.json("mail", "send", "--to-list", str(out), "--template", "recall-letter", "--channel", "email")
    assert sorted(s["patient_id"] for s in sent) == ["P1", "P2"] and {s["status"] for s in sent} == {"sent"}


def test_a_list_with_patient_id_and_its_own_id_feeds_to_list_by_patient(office, tmp_path):
    """`appt list --format csv` has an id column (the visit's) and a patient_id column: the
    patients are in patient_id."""
    for n, pid in enumerate(["P1", "P2"], 1):
        by_letter(office, pid, n)
    book(office, "P1", "2026-11-27 09:00")
    book(office, "P2", "2026-11-27 10:00")
    out = tmp_path / "tomorrow.csv"
    office.ok("appt", "list", "--from", "2026-11-27", "--to", "2026-11-27", "--format", "csv", "-o", str(out))
    sent = office.json("mail", "send", "--to-list", str(out), "--template", "recall-letter", "--dry-run")
    assert sorted((s["patient_id"], s["status"]) for s in sent) == [("P1", "would-send"), ("P2", "would-send")]


def test_a_daily_for_tomorrow_run_also_prints_the_letters_the_post_needs(office, tmp_path):
    by_letter(office, "P1", 1)
    by_letter(office, "P2", 2)
    book(office, "P1", "2026-11-27 09:00")  # tomorrow: too late for a letter
    book(office, "P2", "2026-12-01 09:00")  # in 5 days: its letter is due now
    book(office, "P3", "2026-11-27 10:00")  # an SMS patient: reminded by --for tomorrow
    rows = office.json("remind", "send", "--for", "tomorrow", "--letters-pdf", str(tmp_path))
    assert sorted((r["appointment_id"], r["key"], r["status"]) for r in rows) == [
        ("A1", "letter", "skipped"), ("A2", "letter", "sent"), ("A3", "manual", "sent")]
    assert (tmp_path / next(p.name for p in tmp_path.glob("reminder-letters-*.pdf"))).exists()
    assert office.json("remind", "send", "--for", "tomorrow") == []


def test_letters_in_a_practice_encrypted_at_rest(clinic, secrets_dir, tmp_path):
    """The batch in the outbox is encrypted like every outbox file; `outbox show -o` reads it back."""
    from helpers.signin import signed_in
    from pypdf import PdfReader

    from medsec import atrest

    admin = signed_in(clinic, "S1", secrets_dir)
    clinic.ok("encrypt", "--recovery-key-out", tmp_path / "rk.txt", env=admin)
    (tmp_path / "rk.txt").chmod(0o600)
    admin = signed_in(clinic, "S1", secrets_dir)
    clinic.ok("patient", "edit", "P1", "--preferred-channel", "letter", "--address", "9 Vellacourt Lane",
              "--city", "Boston", "--state", "MA", "--zip", "02118", env=admin)
    clinic.ok("staff", "hours", "S3", "--day", "mon-fri", "--from", "08:00", "--to", "17:00", env=admin)
    clinic.ok("appt", "book", "P1", "--provider", "S3", "--at", "2026-11-30 09:00", "--type", "follow-up", env=admin)
    clinic.ok("remind", "send", env=admin)
    (pdf,) = (clinic.home / "outbox").glob("reminder-letters-*.pdf")
    (merge,) = (clinic.home / "outbox").glob("reminder-letters-*.csv")
    assert pdf.read_bytes().startswith(atrest.MAGIC) and b"Vellacourt" not in merge.read_bytes()
    clinic.ok("outbox", "show", pdf.name, "-o", tmp_path / "letters.pdf", env=admin)
    assert "9 Vellacourt Lane" in PdfReader(tmp_path / "letters.pdf").pages[0].extract_text()
