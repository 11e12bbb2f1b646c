"""Calls, faxes, mail, follow-ups and their reports, through the real CLI."""

import json

import pytest
from helpers.backends import read_config, write_config
from helpers.files import snapshot
from helpers.practices import use_test_channel

pytestmark = pytest.mark.both_backends

CHANNELS = "testchannel: {}\nroutes: {email: testchannel, letter: testchannel, fax: testchannel}\n"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Count 2 >> endobj\n" \
      b"3 0 obj << /Type /Page >> endobj\n4 0 obj << /Type /Page >> endobj\n%%EOF\n"


@pytest.fixture
def office(small_practice, tmp_path):
    medsec = use_test_channel(small_practice(4), tmp_path / "sent.jsonl")
    write_config(medsec, "channels.yaml", CHANNELS)
    medsec.ok("config", "show")
    medsec.events = tmp_path / "events.jsonl"
    return medsec


def test_calls_flow_and_order(office):
    office.ok("staff", "edit", "S2", "--email", "drb@example.org")
    first = office.json("call", "log", "--from", "(617) 555-0101", "--reason", "refill question", "--for", "S2")
    assert first["patient_id"] == "P2" and first["from_number"] == "617-555-0101"
    unknown = office.json("call", "log", "--from", "781-555-0199", "--reason", "new patient enquiry", "--line", "2")
    assert unknown["patient_id"] == ""
    urgent = office.json("call", "log", "--from", "P3", "--reason", "chest pain, wants a call back", "--urgent",
                         env={"MEDSEC_NOW": "2026-11-26T10:30:00"})
    assert [c["id"] for c in office.json("call", "list")] == [urgent["id"], first["id"], unknown["id"]]
    office.ok("call", "assign", unknown["id"], "--to", "S2")
    assert [c["id"] for c in office.json("call", "list", "--mine", env={"MEDSEC_USER": "drb@example.org"})] == \
        [first["id"], unknown["id"]]
    office.ok("call", "return", first["id"], "--note", "left voicemail", "--outcome", "left-message")
    office.ok("call", "return", first["id"], "--note", "spoke with patient",
              env={"MEDSEC_NOW": "2026-11-26T12:00:00"})
    assert [a["outcome"] for a in office.json("call", "show", first["id"])["attempts"]] == \
        ["left-message", "reached"]
    office.ok("call", "close", first["id"], "--note", "refill sent to pharmacy",
              env={"MEDSEC_NOW": "2026-11-26T12:00:00"})
    assert office("call", "close", first["id"]).exit_code == 1
    assert first["id"] not in [c["id"] for c in office.json("call", "list")]
    report = {r["staff"]: r for r in office.json("report", "calls")}
    assert report["S2"]["calls"] == 2 and report["S2"]["open"] == 1
    assert report["S2"]["avg_hours_to_close"] == "2.0"
    bad = office("call", "log", "--phone", "not a number", "--reason", "x")
    assert bad.exit_code == 2 and "--phone 'not a number' is not a phone number" in bad.stderr


def test_message_created_hook(office, tmp_path):
    events = tmp_path / "msg.jsonl"
    plugin = tmp_path / "msgrec.py"
    plugin.write_text(
        "import json, os\nfrom medsec import hookimpl\n"
        "@hookimpl\ndef message_created(message):\n"
        "    open(os.environ['MSGREC'], 'a').write(json.dumps([message['kind'], message['id']]) + '\\n')\n")
    env = {"MEDSEC_PLUGINS": "helpers.testchannel,msgrec", "MSGREC": str(events), "PYTHONPATH": str(tmp_path)}
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        office.ok("call", "log", "--from", "P1", "--reason", "billing", env=env)
        doc = tmp_path / "in.pdf"
        doc.write_bytes(PDF)
        office.ok("fax", "receive", doc, "--from", "617-555-0199", env=env)
    finally:
        sys.path.remove(str(tmp_path))
    assert [json.loads(x) for x in events.read_text().splitlines()] == [["call", "T1"], ["fax", "F1"]]


def test_fax_receive_queue_assign_and_send(office, tmp_path):
    doc = tmp_path / "labs.pdf"
    doc.write_bytes(PDF)
    inbound = office.json("fax", "receive", doc, "--from", "617-555-0199", "--subject", "lab results")
    assert (inbound["status"], inbound["pages"]) == ("unassigned", 2)
    assert [f["id"] for f in office.json("fax", "list", "--unassigned")] == ["F1"]
    office.ok("fax", "assign", "F1", "--patient", "P1")
    assert office.json("fax", "list", "--unassigned") == []
    out = office.json("fax", "send", doc, "--to", "617-555-0150", "--patient", "P1", "--cover",
                      "--subject", "Records request", "--note", "As requested.")
    assert (out["status"], out["pages"], out["channel"]) == ("sent", 3, "testchannel")
    (message,) = office.sent()
    assert message["attachments"] == ["cover.pdf", "labs.pdf"] and message["to"] == "617-555-0150"
    tiff = tmp_path / "scan.tif"
    tiff.write_bytes(b"II*\x00" + b"\x00" * 64)
    assert office.json("fax", "receive", tiff, "--from", "617-555-0199", "--patient", "P2")["status"] == "filed"


@pytest.mark.parametrize("content,args,text", [
    (b"hello, not a fax", ["fax", "send", "{f}", "--to", "617-555-0150"], "not a PDF or TIFF"),
    (b"hello, not a fax", ["fax", "receive", "{f}", "--from", "617-555-0150"], "not a PDF or TIFF"),
    (PDF, ["fax", "send", "{f}", "--to", "555-CALL-NOW"], "not a fax number"),
])
def test_fax_bad_input(office, tmp_path, content, args, text):
    path = tmp_path / "doc.bin"
    path.write_bytes(content)
    before = snapshot(office.home)
    result = office(*[a.format(f=path) for a in args])
    assert result.exit_code == 2 and text in result.stderr
    assert snapshot(office.home) == before and office.sent() == []


def test_fax_cover_sheet_is_a_real_pdf(office, tmp_path):
    from medsec import documents

    pdf = documents.text_to_pdf("FAX\nTo: 617-555-0150\nÜber-confidential\n" + "line\n" * 80)
    assert documents.kind_of(pdf) == "pdf" and documents.pdf_pages(pdf) == 2


def test_mail_merge_letters_and_recall_followups(office, tmp_path):
    office.ok("patient", "edit", "P1", "--address", "1 Elm St", "--city", "Boston", "--state", "MA", "--zip", "02115")
    office.ok("patient", "edit", "P2", "--address", "2 Oak Ave", "--city", "Quincy", "--state", "MA", "--zip", "02169")
    ids = tmp_path / "recall.csv"
    ids.write_text(office.ok("patient", "find", "l", "--format", "csv").stdout)  # Lopez, Lind
    summary = office("mail", "send", "--to-list", ids, "--template", "recall-letter", "--json")
    assert summary.exit_code == 0
    assert [(r["patient_id"], r["status"]) for r in summary.json()] == [("P2", "sent"), ("P1", "sent")]
    letters = office.sent()
    assert letters[0]["kind"] == "letter" and letters[0]["attachments"] == ["recall-letter.pdf"]
    assert "Bo Lind\n2 Oak Ave\nQuincy, MA 02169" in letters[0]["body"]
    assert [m["template"] for m in office.json("mail", "list", "--direction", "out")] == ["recall-letter"] * 2
    missing = office("mail", "send", "--patient", "P3", "--template", "recall-letter")
    assert missing.exit_code == 1 and "P3: no postal address on file" in missing.stderr
    # two weeks on, a recall nobody answered becomes a follow-up call; P1 booked meanwhile
    office.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-12-04 09:00", "--type", "follow-up",
              env={"MEDSEC_NOW": "2026-11-30T09:00:00"})
    due = office.json("remind", "followups", env={"MEDSEC_NOW": "2026-12-11T09:00:00"})
    assert [(r["patient_id"], r["reason"][:13], r["due"]) for r in due] == [("P2", "recall letter", "2026-12-10")]
    assert office("mail", "send", "--patient", "P1", "--template", "nope").exit_code == 2


def test_mail_receive_and_noshow_followups(office, tmp_path):
    scan = tmp_path / "letter.pdf"
    scan.write_bytes(PDF)
    item = office.json("mail", "receive", "--from", "Harbor Mutual", "--subject", "EOB", "--scan", scan)
    assert item["status"] == "unassigned" and item["files"][0]["name"] == "letter.pdf"
    office.ok("appt", "book", "P3", "--provider", "S1", "--at", "2026-11-26 08:00", "--type", "follow-up",
              "--allow-past")
    office.ok("appt", "status", "A1", "no-show")
    due = office.json("remind", "followups")
    assert [(r["patient_id"], r["reason"]) for r in due] == [("P3", "no-show A1")]
    office.ok("appt", "book", "P3", "--provider", "S1", "--at", "2026-11-27 08:00", "--type", "follow-up")
    assert office.json("remind", "followups") == []


def test_visit_follow_up_interval(office):
    types = read_config(office, "appointment-types.yaml")
    write_config(office, "appointment-types.yaml", types.replace("follow-up: {duration: 20}",
                                                                 "follow-up: {duration: 20, follow_up_days: 90}"))
    office.ok("appt", "book", "P4", "--provider", "S1", "--at", "2026-11-26 08:00", "--type", "follow-up",
              "--allow-past")
    for status in ("arrived", "roomed", "seen", "checked-out"):
        office.ok("appt", "status", "A1", status)
    assert office.json("remind", "followups", env={"MEDSEC_NOW": "2027-02-23T09:00:00"}) == []
    due = office.json("remind", "followups", env={"MEDSEC_NOW": "2027-02-24T09:00:00"})
    assert [(r["patient_id"], r["due"]) for r in due] == [("P4", "2027-02-24")]


def test_reminders_report(office):
    office.ok("patient", "edit", "P1", "--email", "a@example.com", "--preferred-channel", "email")
    office.ok("patient", "edit", "P2", "--no-reminders")
    office.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-27 08:00", "--type", "follow-up")
    office.ok("appt", "book", "P2", "--provider", "S1", "--at", "2026-11-27 08:20", "--type", "follow-up")
    office.ok("remind", "send")
    rows = office.json("report", "reminders")
    assert {(r["channel"], r["sent"], r["skipped"]) for r in rows} == {("testchannel", 1, 0), ("-", 0, 1)}
    csv_out = office.ok("report", "reminders", "--format", "csv").stdout
    assert csv_out.splitlines()[0] == "date,channel,sent,skipped,retry,failed,sending"
