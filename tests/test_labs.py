"""Lab orders through the real CLI: states, overdue lists as the clock moves, HL7 ORU^R01 results, notices."""

from pathlib import Path

import pytest
from helpers.backends import stored_file, write_config
from helpers.files import snapshot
from helpers.practices import use_test_channel

pytestmark = pytest.mark.both_backends

HL7 = Path(__file__).parent / "fixtures" / "hl7"
VALID = ["lipid_panel_LB1.hl7", "lipid_panel_corrected.hl7", "batch_two_results.hl7", "unknown_order.hl7"]
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Count 1 >> endobj\n" \
      b"3 0 obj << /Type /Page >> endobj\n%%EOF\n"


@pytest.fixture
def clinic(small_practice, tmp_path):
    """Patients P1 Ana Lopez (email), P2 Bo Lind, P3 Cy Moss, P4 Di Park; messages land in a test channel."""
    medsec = use_test_channel(small_practice(4), tmp_path / "sent.jsonl")
    write_config(medsec, "channels.yaml", "testchannel: {}\nroutes: {email: testchannel, letter: testchannel}\n")
    medsec.ok("patient", "edit", "P1", "--email", "ana@example.com")
    return medsec


DR = ["--physician", "S1", "--dx", "E78.5"]  # the ordering physician and the reason


def ids(rows):
    return [r["id"] for r in rows]


def test_lab_order_walked_to_patient_notified(clinic):
    first = clinic.json("lab", "order", "P1", *DR, "--facility", "North Lab", "--test", "Lipid panel",
                        "--due", "2026-11-30", "--fasting")
    assert (first["id"], first["status"], first["fasting"], first["due"]) == ("LB1", "ordered", True, "2026-11-30")
    booked = clinic.json("lab", "order", "P2", *DR, "--facility", "North Lab", "--test", "CBC",
                         "--appt-at", "2026-11-27 07:30")
    assert booked["status"] == "scheduled" and booked["appointment"] == "2026-11-27T07:30:00-05:00"
    assert booked["due"] == "2026-12-10"  # 14 days by default
    assert ids(clinic.json("lab", "list", "--pending")) == ["LB1", "LB2"]
    assert clinic.json("lab", "list", "--overdue") == []
    # the overdue list moves as the clock moves
    assert ids(clinic.json("lab", "list", "--overdue", env={"MEDSEC_NOW": "2026-12-01T09:00:00"})) == ["LB1"]
    assert ids(clinic.json("lab", "list", "--overdue", env={"MEDSEC_NOW": "2026-12-11T09:00:00"})) == ["LB1", "LB2"]
    clinic.ok("lab", "status", "LB1", "collected")
    summary = clinic.json("lab", "import", HL7 / "lipid_panel_LB1.hl7")
    assert [(r["order_id"], r["status"]) for r in summary] == [("LB1", "matched")]
    shown = clinic.json("lab", "show", "LB1")
    assert shown["status"] == "resulted" and shown["filler_number"] == "NL-88001"
    assert [(o["code"], o["value"], o["units"], o["flag"]) for o in shown["observations"]][0] == \
        ("2093-3", "212", "mg/dL", "H")
    assert ids(clinic.json("lab", "list", "--overdue", env={"MEDSEC_NOW": "2026-12-01T09:00:00"})) == []
    # no skipping ahead: notice before review, or resulted by hand
    wrong = clinic("lab", "status", "LB1", "patient-notified")
    assert wrong.exit_code == 1 and "cannot become patient-notified" in wrong.stderr
    assert clinic("lab", "status", "LB2", "resulted").exit_code == 1
    early = clinic("lab", "notify", "LB1")
    assert early.exit_code == 1 and "lab review LB1" in early.stderr
    assert clinic.sent() == []
    clinic.ok("lab", "status", "LB1", "reviewed", "--note", "Dr A: borderline, recheck in 6 months")
    notified = clinic.json("lab", "notify", "LB1")
    assert notified["status"] == "patient-notified" and notified["notified"]["to"] == "ana@example.com"
    (message,) = clinic.sent()
    assert message["to"] == "ana@example.com" and message["meta"]["template"] == "results-ready"
    assert "results" in message["body"] and not any(x in message["body"] for x in ("212", "Cholesterol", "mg/dL"))
    assert [h["status"] for h in clinic.json("lab", "show", "LB1")["history"]] == \
        ["ordered", "collected", "resulted", "reviewed", "patient-notified"]
    # a corrected result names only the lab's own number: the order is resulted (to review) again
    corrected = clinic.json("lab", "import", HL7 / "lipid_panel_corrected.hl7")
    assert [(r["order_id"], r["filler_number"]) for r in corrected] == [("LB1", "NL-88001")]
    again = clinic.json("lab", "show", "LB1")
    assert again["status"] == "resulted" and len(again["results"]) == 2
    assert [o["value"] for o in again["observations"] if o["code"] == "2093-3"] == ["212", "209"]
    assert {e["action"] for e in clinic.json("audit", "--patient", "P1")} >= {"lab", "lab-import", "read"}


def test_batch_unknown_order_queue_and_duplicates(clinic):
    for patient, test in (("P1", "Lipid panel"), ("P2", "CBC"), ("P2", "Urine culture")):
        clinic.ok("lab", "order", patient, *DR, "--facility", "North Lab", "--test", test)
    batch = clinic.json("lab", "import", HL7 / "batch_two_results.hl7")
    assert [(r["order_id"], r["status"]) for r in batch] == [("LB2", "matched"), ("LB3", "matched")]
    culture = clinic.json("lab", "show", "LB3")["observations"]
    assert [(o["type"], o["value"]) for o in culture] == [("CWE", "No growth")]
    unknown = clinic("lab", "import", HL7 / "unknown_order.hl7", "--json")
    assert unknown.exit_code == 0 and "unmatched: LB999" in unknown.stderr
    (queued,) = clinic.json("lab", "list", "--unmatched")
    assert (queued["id"], queued["placer_number"], queued["reason"]) == ("LR3", "LB999", "no order with this number")
    assert clinic.json("lab", "show", "LR3")["observations"][0]["value"] == "98"
    # importing the same file again adds nothing
    before = snapshot(clinic.home)
    clinic.ok("lab", "import", HL7 / "unknown_order.hl7")
    assert snapshot(clinic.home) == before
    assert clinic.json("lab", "import", HL7 / "batch_two_results.hl7") == []
    assert "skipped_duplicates  2" in clinic.ok("lab", "import", HL7 / "batch_two_results.hl7").stdout
    # the message names Cy Moss: filing it with Ana Lopez's order needs --force
    mismatch = clinic("lab", "match", "LR3", "--order", "LB1")
    assert mismatch.exit_code == 1 and "is not P1" in mismatch.stderr
    clinic.ok("lab", "order", "P3", *DR, "--facility", "North Lab", "--test", "Glucose")
    matched = clinic.json("lab", "match", "LR3", "--order", "LB4")
    assert (matched["status"], matched["order_id"], matched["matched_by"]) == ("matched", "LB4", "tester")
    assert clinic.json("lab", "show", "LB4")["status"] == "resulted"
    assert clinic.json("lab", "list", "--unmatched") == []
    assert clinic("lab", "match", "LR3", "--order", "LB4").exit_code == 1


def test_result_for_another_patient_is_queued_not_filed(clinic):
    clinic.ok("lab", "order", "P2", *DR, "--facility", "North Lab", "--test", "Lipid panel")  # LB1 is Bo Lind's
    (result,) = clinic.json("lab", "import", HL7 / "lipid_panel_LB1.hl7")
    assert result["status"] == "unmatched" and "'Lopez'" in result["reason"] and "P2" in result["reason"]
    assert clinic.json("lab", "show", "LB1")["status"] == "ordered"


def test_hl7_samples_parse_through_the_library():
    import hl7

    for name in VALID:
        text = (HL7 / name).read_text().replace("\n", "\r")
        for raw in hl7.split_file(text):
            message = hl7.parse(raw)
            assert message.segment("MSH").extract_field(1, 9, 1, 1) == "ORU"
            assert message.segment("MSH").extract_field(1, 9, 1, 2) == "R01"
            assert message.segments("OBR") and message.segments("OBX")
    unknown = hl7.parse((HL7 / "unknown_order.hl7").read_bytes().decode())
    assert unknown.segment("OBR").extract_field(1, 2) == "LB999"


@pytest.mark.parametrize("name,content,text", [
    ("report.hl7", PDF, "not an HL7 v2 message"),
    ("notes.hl7", b"Lipid panel for Ana: cholesterol 212\n", "not an HL7 v2 message"),
    ("malformed_broken_segment.hl7", None, "segment 4 ('OB X')"),
    ("malformed_no_msh.hl7", None, "segment 1 (PID) comes before any MSH"),
    ("wrong_message_type.hl7", None, "segment 1 (MSH): MSH-9 message type is ADT^A01, not ORU^R01"),
])
def test_bad_hl7_is_rejected_and_nothing_written(clinic, tmp_path, name, content, text):
    clinic.ok("lab", "order", "P1", *DR, "--facility", "North Lab", "--test", "Lipid panel")
    path = HL7 / name if content is None else tmp_path / name
    if content is not None:
        path.write_bytes(content)
    before = snapshot(clinic.home)
    result = clinic("lab", "import", path)
    assert result.exit_code == 2 and text in result.stderr, result.stderr
    assert snapshot(clinic.home) == before


def test_result_report_file_and_bad_input(clinic, tmp_path):
    clinic.ok("lab", "order", "P1", *DR, "--facility", "Harbor Imaging", "--test", "Chest X-ray")
    report = tmp_path / "xray.pdf"
    report.write_bytes(PDF)
    filed = clinic.json("lab", "result", "LB1", "--file", report)
    assert filed["status"] == "resulted" and filed["files"][0]["kind"] == "pdf"
    sha = filed["files"][0]["sha256"]
    assert stored_file(clinic, sha) == PDF
    text = tmp_path / "xray.txt"
    text.write_text("not a report")
    before = snapshot(clinic.home)
    assert clinic("lab", "result", "LB1", "--file", text).exit_code == 2
    assert clinic("lab", "result", "LB9", "--file", report).exit_code == 1
    assert clinic("lab", "order", "P1", *DR, "--facility", "X", "--test", "Y", "--due", "2026-11-01").exit_code == 2
    assert clinic("lab", "order", "P1", *DR, "--facility", " ", "--test", "Y").exit_code == 2
    assert clinic("lab", "order", "P9", *DR, "--facility", "X", "--test", "Y").exit_code == 1
    assert snapshot(clinic.home) == before
    clinic.ok("lab", "order", "P2", *DR, "--facility", "X", "--test", "Y")
    clinic.ok("lab", "status", "LB2", "cancelled")
    assert clinic("lab", "status", "LB2", "collected").exit_code == 1
    assert clinic("lab", "result", "LB2", "--file", report).exit_code == 1
    assert ids(clinic.json("lab", "list", "--status", "cancelled")) == ["LB2"]
    assert ids(clinic.json("lab", "list", "--patient", "P1")) == ["LB1"]
