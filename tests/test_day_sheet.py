"""The physician's day sheet (issue 19, part 5): the reason for each visit, its type, new or
established, payer and eligibility, the exam room, names for people, a provider away; sent as a
PDF by email (a real SMTP server on loopback) or to the printer outbox. And the new-patient type
refused for a patient already seen."""

import email
import email.policy
import io

import pytest
import yaml
from helpers.backends import read_config, write_config
from helpers.files import snapshot
from helpers.practices import TYPES

TOMORROW = "2026-11-27"
NEW_TYPE = TYPES.replace("new-patient: {duration: 60}",
                         "new-patient: {duration: 60, new_patient: true, description: New patient visit}")


@pytest.fixture
def clinic(small_practice):
    """The scheduling practice: P1 seen this morning (checked out), P2 and P3 never seen; P1 covered
    by ACME, P2's ACME coverage ended; tomorrow P1, P2 and P3 booked with Dr A (S1)."""
    m = small_practice(4)
    write_config(m, "appointment-types.yaml", NEW_TYPE)
    m.ok("patient", "coverage", "add", "P1", "--payer", "ACME", "--member-id", "A100")
    m.ok("patient", "coverage", "add", "P2", "--payer", "ACME", "--member-id", "A200", "--end", "2026-11-01")
    m.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-26 08:00", "--type", "follow-up", "--allow-past")
    for status in ("arrived", "roomed", "seen", "checked-out"):
        m.ok("appt", "status", "A1", status)
    m.ok("appt", "book", "P1", "--provider", "S1", "--at", f"{TOMORROW} 09:00", "--type", "follow-up",
         "--reason", "blood pressure recheck")
    m.ok("appt", "book", "P2", "--provider", "S1", "--at", f"{TOMORROW} 10:00", "--type", "new-patient",
         "--reason", "knee pain after a fall")
    m.ok("appt", "book", "P3", "--provider", "S1", "--at", f"{TOMORROW} 13:00", "--type", "follow-up")
    return m


def test_the_day_sheet_has_what_the_physician_needs(clinic):
    rows = clinic.json("appt", "day", TOMORROW, "--provider", "S1")
    assert [r["id"] for r in rows] == ["A2", "A3", "A4"]
    p1, p2, p3 = rows
    assert (p1["patient"], p1["patient_id"], p1["provider"], p1["provider_name"]) == ("Lopez, Ana", "P1", "S1", "Dr A")
    assert p1["reason"] == "blood pressure recheck" and p2["reason"] == "knee pain after a fall"
    assert p3["reason"] == ""
    assert (p2["type"], p2["type_description"]) == ("new-patient", "New patient visit")
    assert [r["visit"] for r in rows] == ["established", "new", "new"]
    assert (p1["payer"], p1["eligibility"], p1["coverage"]) == ("ACME", "unknown", "ACME unknown")
    assert (p2["payer"], p2["eligibility"]) == ("ACME", "ended")
    assert (p3["payer"], p3["eligibility"], p3["coverage"]) == ("", "self-pay", "self-pay")
    assert all(r["provider_away"] == "" for r in rows)
    # a visit seen earlier the same day does not make today's first visit established
    today = clinic.json("appt", "day", "2026-11-26")
    assert [(r["id"], r["visit"]) for r in today] == [("A1", "new")]


def test_the_table_fits_100_columns_and_names_people(clinic):
    result = clinic("appt", "day", TOMORROW, env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 100
    assert "P1 Lopez, Ana" in result.stdout and "S1 Dr A" in result.stdout
    assert "blood pressure" in result.stdout and "established" in result.stdout
    csv_text = clinic.ok("appt", "day", TOMORROW, "--format", "csv").stdout
    header = csv_text.splitlines()[0].split(",")
    assert {"reason", "visit", "payer", "eligibility", "provider_name", "type_description", "room"} <= set(header)


def test_roomed_records_the_exam_room(clinic):
    clinic.ok("appt", "status", "A2", "arrived", env={"MEDSEC_NOW": f"{TOMORROW}T08:50:00"})
    moved = clinic.json("appt", "status", "A2", "roomed", "--room", "exam1", env={"MEDSEC_NOW": f"{TOMORROW}T08:55:00"})
    assert moved["room"] == "exam1" and moved["history"][-1]["room"] == "exam1"
    rows = clinic.json("appt", "day", TOMORROW)
    assert [(r["id"], r["status"], r["room"]) for r in rows][0] == ("A2", "roomed", "exam1")


@pytest.mark.parametrize("args,text", [
    (["A2", "roomed", "--room", "exam9"], "--room 'exam9' is not a room of the practice"),
    (["A2", "roomed", "--room", "or1"], "--room 'or1' is not a room for a follow-up visit"),  # an operating room
    (["A2", "confirmed", "--room", "exam1"], "--room goes with roomed"),
    (["A2", "cancelled", "--reason", "x", "--room", "exam1"], "--room goes with roomed"),
])
def test_room_bad_input_writes_nothing(clinic, args, text):
    clinic.ok("appt", "status", "A2", "arrived", env={"MEDSEC_NOW": f"{TOMORROW}T08:50:00"})
    before = snapshot(clinic.home)
    result = clinic("appt", "status", *args, env={"MEDSEC_NOW": f"{TOMORROW}T08:55:00"})
    assert result.exit_code == 2 and text in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot(clinic.home) == before


def test_room_without_rooms_configured_is_bad_input(clinic):
    practice = read_config(clinic, "practice.yaml")
    data = yaml.safe_load(practice)
    data["rooms"] = []
    write_config(clinic, "practice.yaml", yaml.safe_dump(data))
    clinic.ok("appt", "status", "A2", "arrived", env={"MEDSEC_NOW": f"{TOMORROW}T08:50:00"})
    before = snapshot(clinic.home)
    result = clinic("appt", "status", "A2", "roomed", "--room", "exam1", env={"MEDSEC_NOW": f"{TOMORROW}T08:55:00"})
    assert result.exit_code == 2 and "no rooms are configured" in result.stderr and "practice.yaml" in result.stderr
    assert snapshot(clinic.home) == before


def test_a_visit_kept_while_its_provider_is_away_is_marked(clinic):
    staff = yaml.safe_load(read_config(clinic, "staff.yaml"))
    for member in staff["staff"]:
        if member["id"] == "S1":
            member["time_off"] = [{"from": TOMORROW, "to": TOMORROW, "reason": "conference",
                                   "stranded": "keep", "kept": ["A2", "A3", "A4"]}]
    write_config(clinic, "staff.yaml", yaml.safe_dump(staff, sort_keys=False))
    rows = clinic.json("appt", "day", TOMORROW)
    assert {r["provider_away"] for r in rows} == {"kept: provider away"}
    table = clinic.ok("appt", "day", TOMORROW, env={"COLUMNS": "160"}).stdout
    assert "provider_away" in table.splitlines()[0] and "kept: provider away" in table
    staff["staff"][0]["time_off"] = [{"from": TOMORROW, "to": TOMORROW, "reason": "sick"}]
    write_config(clinic, "staff.yaml", yaml.safe_dump(staff, sort_keys=False))
    assert {r["provider_away"] for r in clinic.json("appt", "day", TOMORROW)} == {"provider away (sick)"}


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_send_the_day_sheet_by_email(clinic, smtp):
    inbox, port = smtp
    write_config(clinic, "channels.yaml",
                 f"email: {{host: 127.0.0.1, port: {port}, security: none, from: 'Test Clinic <desk@example.org>'}}\n")
    clinic.ok("staff", "edit", "S1", "--email", "dr.a@example.org")
    sent = clinic.json("appt", "day", "tomorrow", "--provider", "S1", "--send", "S1")
    assert (sent["to"], sent["kind"], sent["address"], sent["visits"]) == ("S1", "email", "dr.a@example.org", 3)
    ((rcpt, raw),) = inbox.messages
    assert rcpt == ["dr.a@example.org"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert "Day sheet Friday, November 27, 2026" in msg["Subject"]
    (pdf,) = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == "day-sheet-2026-11-27-S1.pdf"
    text = _pdf_text(pdf.get_content())
    for words in ("Lopez, Ana", "Lind, Bo", "Moss, Cy", "blood pressure recheck", "knee pain after a fall",
                  "established patient", "New patient visit"):
        assert words in text, words
    said = clinic("appt", "day", "tomorrow", "--provider", "S1", "--send", "S1")
    assert said.exit_code == 0 and "by email to dr.a@example.org" in said.stderr
    assert len(inbox.messages) == 2


def test_send_to_the_printer_outbox(clinic):
    sent = clinic.json("appt", "day", "tomorrow", "--provider", "S1", "--send", "S2", "--printer")
    assert (sent["channel"], sent["kind"], sent["visits"]) == ("outbox", "letter", 3)
    (pdf,) = (clinic.home / "outbox").glob("*-day-sheet-2026-11-27-S1.pdf")
    assert "knee pain after a fall" in _pdf_text(pdf.read_bytes())


@pytest.mark.parametrize("args,code,text", [
    (["--send", "S1"], 1, "S1 has no email address on the roster"),
    (["--printer"], 2, "--printer goes with --send"),
    (["--send", "S1", "--printer", "--limit", "1"], 2, "--limit does not go with --send"),
    (["--send", "S99"], 1, "no staff member S99"),
])
def test_send_refused_or_bad_input_writes_nothing(clinic, args, code, text):
    before = snapshot(clinic.home)
    result = clinic("appt", "day", "tomorrow", *args)
    assert result.exit_code == code and text in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot(clinic.home) == before


def test_new_patient_type_for_an_established_patient_is_refused(clinic):
    before = snapshot(clinic.home)
    result = clinic("appt", "book", "P1", "--provider", "S2", "--at", "2026-11-30 09:00", "--type", "new-patient")
    assert result.exit_code == 1
    assert "P1 is an established patient (seen 2026-11-26, A1)" in result.stderr
    assert "--type follow-up" in result.stderr and "--allow-established" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    nexts = clinic("appt", "book", "P1", "--type", "new-patient", "--at", "next")
    assert nexts.exit_code == 1 and "established patient" in nexts.stderr
    assert snapshot(clinic.home) == before
    booked = clinic.json("appt", "book", "P1", "--provider", "S2", "--at", "2026-11-30 09:00", "--type", "new-patient",
                         "--allow-established")
    assert booked["type"] == "new-patient"
    # a follow-up for a patient never seen is allowed; so is new-patient for one never seen
    assert clinic.json("appt", "book", "P4", "--provider", "S2", "--at", "2026-11-30 11:00",
                       "--type", "follow-up")["status"] == "booked"
    assert clinic.json("appt", "book", "P4", "--provider", "S2", "--at", "2026-12-01 09:00",
                       "--type", "new-patient")["status"] == "booked"


def test_new_patient_flag_and_rooms_are_checked(clinic):
    write_config(clinic, "appointment-types.yaml", NEW_TYPE.replace("new_patient: true", "new_patient: maybe"))
    result = clinic("config", "check")
    assert result.exit_code == 3 and "types.new-patient.new_patient must be true or false" in result.stderr
    write_config(clinic, "appointment-types.yaml", NEW_TYPE)
    practice = read_config(clinic, "practice.yaml")
    doubled = practice.replace("  - {id: or1,", "  - {id: exam1, kind: exam}\n  - {id: or1,")
    write_config(clinic, "practice.yaml", doubled)
    result = clinic("config", "check")
    assert result.exit_code == 3 and "rooms: duplicate room id exam1" in result.stderr
