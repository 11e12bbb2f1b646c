"""Every fax in one log (issue 19): workflow faxes recorded with their link behind a confidentiality cover
sheet, delivery status from a loopback HTTP fax gateway (busy and unanswered faxes tried again, then failed
with a task), incoming faxes linked to the referral, lab order or refill request they answer."""

import base64
import io
import json

import pytest
from helpers.backends import write_config
from helpers.files import snapshot
from pypdf import PdfReader

from medsec import documents

REQUEST = ["--drug", "Atorvastatin", "--dose", "20 mg daily", "--pharmacy", "CVS Main St", "--via", "phone"]


@pytest.fixture
def office(front_office, gateway):
    """The front office with faxes going to the loopback HTTP gateway (the rest to the test channel)."""
    write_config(front_office, "channels.yaml",
                 f"testchannel: {{}}\nfax:\n  gateway: http\n  url: {gateway.url}/faxes\n  from: '+16175550100'\n"
                 f"  timeout: 10\n"
                 "routes: {email: testchannel, sms: testchannel, letter: testchannel, fax: fax}\n")
    front_office.ok("config", "show")
    front_office.ok("staff", "edit", "S1", "--email", "dra@example.org")
    front_office.ok("patient", "edit", "P1", "--email", "ana@example.com", "--preferred-channel", "email")
    front_office.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-20 09:00", "--type", "follow-up",
                    "--allow-past")
    gateway.numbered = "FX"
    front_office.gateway = gateway
    return front_office


def posted_files(request) -> list[tuple[str, bytes]]:
    doc = json.loads(request["body"])
    return [(f["name"], base64.b64decode(f["data"])) for f in doc["files"]]


def page_text(data: bytes) -> str:
    return " ".join((PdfReader(io.BytesIO(data)).pages[0].extract_text() or "").split())


def posts(gateway) -> list[dict]:
    return [r for r in gateway.requests if r["method"] == "POST"]


def test_referral_and_refill_faxes_are_in_the_log_behind_a_cover(office):
    gateway = office.gateway
    office.ok("referral", "add", "P1", "--to", "Boston Cardiology", "--reason", "exertional chest pain",
              "--dx", "I10", "--fax", "617-555-0190")
    sent = office.json("referral", "send", "RF1")
    assert sent["status"] == "sent" and sent["sent"]["fax_id"] == "F1" and sent["sent"]["delivery_id"] == "FX-1"
    office.ok("refill", "request", "P1", *REQUEST, "--pharmacy-fax", "617-555-0177")
    approved = office.json("refill", "approve", "RX1", env={"MEDSEC_USER": "dra@example.org"})
    assert [(n["for"], n["status"]) for n in approved["notices"]] == [("pharmacy", "sent"), ("patient", "sent")]
    assert approved["notices"][0]["fax_id"] == "F2"

    log = office.json("fax", "list", "--json")
    assert [(f["id"], f["direction"], f["number"], f["recipient"], f["purpose"], f["link"], f["status"],
             f["attempts"], f["patient_id"], f["cover"]) for f in log] == [
        ("F1", "out", "617-555-0190", "Boston Cardiology", "referral", "RF1", "sent", 1, "P1", True),
        ("F2", "out", "617-555-0177", "CVS Main St", "refill decision", "RX1", "sent", 1, "P1", True)]
    assert log[0]["what"] == "referral letter RF1" and log[1]["what"] == "refill decision RX1 (approved)"

    # the gateway got the cover sheet first, with the HIPAA confidentiality notice, then the document
    referral_fax, refill_fax = posts(gateway)
    (cover, cover_pdf), (letter, letter_pdf) = posted_files(referral_fax)
    assert (cover, letter) == ("cover.pdf", "referral-RF1.pdf")
    text = page_text(cover_pdf)
    assert "CONFIDENTIALITY NOTICE" in text and "HIPAA" in text and "Boston Cardiology, 617-555-0190" in text
    assert "Pages: 2 (including this cover)" in text
    assert "Ana Lopez" in page_text(letter_pdf) and "Ana Lopez" not in text
    assert [name for name, _ in posted_files(refill_fax)] == ["cover.pdf", "refill-decision-pharmacy.pdf"]
    assert "CONFIDENTIALITY NOTICE" in page_text(posted_files(refill_fax)[0][1])
    # the files kept are the ones sent
    shown = office.json("fax", "show", "F1")
    assert [f["name"] for f in shown["files"]] == ["cover.pdf", "referral-RF1.pdf"]
    table = office.ok("fax", "list").stdout
    assert "link" in table and "RF1" in table and "RX1" in table


def test_a_failed_referral_fax_leaves_the_referral_a_draft_and_no_log_entry(office):
    office.gateway.numbered = ""
    office.gateway.answer = (422, {"message": "bad number"})
    office.ok("referral", "add", "P1", "--to", "Boston Cardiology", "--reason", "r", "--dx", "I10",
              "--fax", "617-555-0190")
    failed = office("referral", "send", "RF1")
    assert failed.exit_code == 1 and "referral RF1 not sent" in failed.stderr
    assert office.json("referral", "show", "RF1")["status"] == "draft"
    assert office.json("fax", "list") == []


def test_fax_send_cover_by_default_and_no_cover(office, tmp_path):
    doc = tmp_path / "records.pdf"
    doc.write_bytes(documents.text_to_pdf("Records of P1", "Records"))
    with_cover = office.json("fax", "send", doc, "--number", "617-555-0150", "--recipient", "Dr Grey",
                             "--purpose", "records request", "--patient", "P1")
    assert (with_cover["recipient"], with_cover["purpose"], with_cover["pages"], with_cover["cover"]) == \
        ("Dr Grey", "records request", 2, True)
    bare = office.json("fax", "send", doc, "--number", "617-555-0150", "--no-cover")
    assert (bare["pages"], bare["cover"], bare["link"]) == (1, False, "")
    first, second = posts(office.gateway)
    assert [n for n, _ in posted_files(first)] == ["cover.pdf", "records.pdf"]
    assert [n for n, _ in posted_files(second)] == ["records.pdf"]
    # --cover is still accepted (it is the default)
    assert office.json("fax", "send", doc, "--number", "617-555-0150", "--cover")["cover"] is True


def test_busy_is_tried_again_then_delivered(office, tmp_path):
    doc = tmp_path / "records.pdf"
    doc.write_bytes(documents.text_to_pdf("Records of P1", "Records"))
    office.ok("fax", "send", doc, "--number", "617-555-0150", "--patient", "P1")
    office.gateway.statuses = ["busy"]
    (busy,) = office.json("fax", "status")
    assert (busy["status"], busy["attempts"], busy["delivery_id"]) == ("sent", 2, "FX-2")
    gets = [r["path"] for r in office.gateway.requests if r["method"] == "GET"]
    assert gets == ["/faxes/FX-1"]
    again = posts(office.gateway)
    assert len(again) == 2 and posted_files(again[0]) == posted_files(again[1])  # the same documents
    office.gateway.statuses = ["delivered"]
    (done,) = office.json("fax", "status", "F1")
    assert (done["status"], done["attempts"]) == ("delivered", 2)
    assert [h["status"] for h in done["history"]] == ["sent", "busy", "sent", "delivered"]
    assert office.json("fax", "status") == []  # nothing left to ask about
    assert office.json("task", "list") == []


def test_no_answer_three_times_fails_with_a_task(office, tmp_path):
    doc = tmp_path / "records.pdf"
    doc.write_bytes(documents.text_to_pdf("Records of P1", "Records"))
    office.ok("fax", "send", doc, "--number", "617-555-0150", "--recipient", "Dr Grey", "--patient", "P1")
    office.gateway.statuses = ["no-answer"]
    assert [f["attempts"] for f in office.json("fax", "status")] == [2]
    assert [f["attempts"] for f in office.json("fax", "status")] == [3]
    (failed,) = office.json("fax", "status")
    assert (failed["status"], failed["attempts"]) == ("failed", 3)
    assert len(posts(office.gateway)) == 3
    (task,) = office.json("task", "list")
    assert (task["owner"], task["priority"], task["source"], task["patient_id"]) == \
        ("front-desk", "high", "F1", "P1")
    assert "fax F1 to Dr Grey failed (no-answer, 3 attempt(s))" in task["text"]


def test_retries_setting_and_its_check(office, tmp_path):
    channels = (office.home / "channels.yaml").read_text()
    write_config(office, "channels.yaml", channels.replace("  timeout: 10\n", "  timeout: 10\n  retries: 1\n"))
    doc = tmp_path / "records.pdf"
    doc.write_bytes(documents.text_to_pdf("Records of P1", "Records"))
    office.ok("fax", "send", doc, "--number", "617-555-0150")
    office.gateway.statuses = ["line busy"]
    assert [f["status"] for f in office.json("fax", "status")] == ["failed"]
    write_config(office, "channels.yaml", channels.replace("  timeout: 10\n", "  timeout: 10\n  retries: lots\n"))
    check = office("config", "check")
    assert check.exit_code != 0 and "fax.retries must be a whole number" in check.stdout + check.stderr


def test_a_gateway_that_cannot_say_is_exit_3_and_changes_nothing(office, tmp_path):
    doc = tmp_path / "records.pdf"
    doc.write_bytes(documents.text_to_pdf("Records of P1", "Records"))
    office.ok("fax", "send", doc, "--number", "617-555-0150", "--patient", "P1")
    office.gateway.numbered = ""
    office.gateway.answer = (500, {"error": "down"})
    before = office.json("fax", "show", "F1")
    result = office("fax", "status", "--json")
    assert result.exit_code == 3 and "medsec: warning: F1:" in result.stderr
    assert "the gateway could not say for 1 fax(es)" in result.stderr
    assert [f["status"] for f in result.json()] == ["sent"] and office.json("fax", "show", "F1") == before


def test_status_callback(office, tmp_path):
    doc = tmp_path / "records.pdf"
    doc.write_bytes(documents.text_to_pdf("Records of P1", "Records"))
    office.ok("fax", "send", doc, "--number", "617-555-0150")
    body = tmp_path / "callback.json"
    body.write_text(json.dumps({"id": "FX-1", "status": "completed"}))
    (done,) = office.json("fax", "status", "--callback", body)
    assert (done["id"], done["status"]) == ("F1", "delivered")
    assert office.gateway.requests[-1]["method"] == "POST"  # the gateway was not asked
    before = snapshot(office.home)
    for text, why in [('{"id": "FX-9", "status": "delivered"}', "no outgoing fax has the delivery id"),
                      ('{"id": "FX-1", "status": "teleported"}', "is not one of"),
                      ("not json", "is not JSON")]:
        body.write_text(text)
        result = office("fax", "status", "--callback", body)
        assert result.exit_code == 2 and why in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot(office.home) == before


def incoming(office, tmp_path, name="consult.pdf") -> str:
    doc = tmp_path / name
    doc.write_bytes(documents.text_to_pdf(f"{name} about Ana Lopez", "Incoming"))
    return office.json("fax", "receive", doc, "--number", "617-555-0190")["id"]


def test_linking_incoming_faxes_moves_their_workflows_on(office, tmp_path):
    office.ok("referral", "add", "P1", "--to", "Boston Cardiology", "--reason", "r", "--dx", "I10",
              "--fax", "617-555-0190")
    office.ok("referral", "send", "RF1")  # F1, out
    consult = incoming(office, tmp_path)  # F2
    too_early = office.json("referral", "add", "P1", "--to", "Boston Neuro", "--reason", "r", "--dx", "I10")
    refused = office("fax", "link", consult, "--referral", too_early["id"])
    assert refused.exit_code == 1 and "is draft" in refused.stderr

    linked = office.json("fax", "link", consult, "--referral", "RF1", "--note", "consult letter")
    assert (linked["status"], linked["patient_id"], linked["link"]) == ("filed", "P1", "RF1")
    referral = office.json("referral", "show", "RF1")
    assert referral["status"] == "report-received" and referral["reports"] == [consult]
    assert referral["history"][-1]["note"] == "consult letter"
    assert [t["owner"] for t in office.json("task", "list") if t["source"] == "RF1"] == ["S1"]  # review it

    # outgoing or already linked: refused
    assert office("fax", "link", "F1", "--referral", "RF1").exit_code == 1
    again = office("fax", "link", consult, "--refill", "RX1")
    assert again.exit_code == 1 and "already linked to RF1" in again.stderr

    office.ok("refill", "request", "P1", *REQUEST)
    pharmacy = incoming(office, tmp_path, "pharmacy.pdf")
    office.ok("fax", "link", pharmacy, "--refill", "RX1")
    refill = office.json("refill", "show", "RX1")
    assert refill["faxes"] == [pharmacy] and pharmacy in refill["history"][-1]["note"]

    events = [(e["command"], e["action"]) for e in office.json("audit", "--patient", "P1")]
    assert ("fax link", "fax") in events


def test_linking_a_lab_result_fax(office, tmp_path):
    order = office.json("lab", "order", "P1", "--facility", "North Lab", "--test", "Lipid panel",
                        *LAB_EXTRA(office))
    result = incoming(office, tmp_path, "lipids.pdf")
    office.ok("fax", "link", result, "--lab", order["id"])
    lab = office.json("lab", "show", order["id"])
    assert lab["status"] == "resulted"
    assert any(f["source"].startswith(f"fax {result}") for f in lab.get("files", []))
    assert office.json("fax", "show", result)["link"] == order["id"]


def LAB_EXTRA(office) -> list[str]:
    """The ordering physician and diagnosis, where `lab order` asks for them (issue 19, part 2)."""
    help_text = office.ok("lab", "order", "--help").stdout
    extra = ["--physician", "S1"] if "--physician" in help_text else []
    return extra + (["--dx", "E78.5"] if "--dx" in help_text else [])


@pytest.mark.parametrize("args,text", [
    (["fax", "link", "{fax}", "--referral", "RF1", "--refill", "RX1"], "give one of --referral, --lab or --refill"),
    (["fax", "link", "{fax}"], "give one of --referral, --lab or --refill"),
    (["fax", "link", "{fax}", "--referral", "nonsense"], ""),
    (["fax", "link", "{fax}", "--lab", "RX1"], ""),
    (["fax", "status", "F1", "--callback", "x.json"], "not both"),
    (["fax", "send", "{doc}", "--number", "617-555-0150", "--recipient", "a\nb"], ""),
])
def test_bad_input_writes_nothing(office, tmp_path, args, text):
    fax = incoming(office, tmp_path)
    doc = tmp_path / "consult.pdf"
    before = snapshot(office.home)
    result = office(*[a.format(fax=fax, doc=doc) for a in args])
    assert result.exit_code == 2 and text in result.stderr, result.stderr
    assert result.stderr.startswith("medsec: error:") or result.stderr.startswith("Usage:")
    assert snapshot(office.home) == before


@pytest.mark.parametrize("reported, posts_after, tasks", [("busy", 2, 0), ("no-answer", 1, 1)])
def test_two_status_runs_at_once_send_again_once_and_open_one_task(office, tmp_path, monkeypatch, reported,
                                                                   posts_after, tasks):
    """Two cron jobs asking at the same moment read the same fax; the second finds it acted on."""
    from helpers.cli import NOW

    from medsec.context import AppContext
    from medsec.workflows import fax_log

    doc = tmp_path / "records.pdf"
    doc.write_bytes(documents.text_to_pdf("Records of P1", "Records"))
    office.ok("fax", "send", doc, "--number", "617-555-0150", "--patient", "P1")
    monkeypatch.setenv("MEDSEC_NOW", NOW)
    app = AppContext(data_dir=str(office.home), user="tester")
    limit = 2 if reported == "busy" else 1  # busy: tries left; no-answer: the last try, it fails
    record = fax_log.faxes.get_fax(app, "F1")
    first, _ = fax_log.apply(app, record, reported, limit=limit)
    second, _ = fax_log.apply(app, record, reported, limit=limit)  # the same reading, a moment later
    assert len(posts(office.gateway)) == posts_after
    assert second == first == fax_log.faxes.get_fax(app, "F1")
    assert "retrying" not in first
    assert len(office.json("task", "list")) == tasks
    assert len(first["history"]) == (3 if reported == "busy" else 2)


def test_a_failed_send_is_audited_with_the_patient(office, tmp_path):
    office.gateway.numbered = ""
    office.gateway.answer = (422, {"message": "bad number"})
    doc = tmp_path / "records.pdf"
    doc.write_bytes(documents.text_to_pdf("Records of P1", "Records"))
    result = office("fax", "send", doc, "--number", "617-555-0150", "--patient", "P1", "--purpose", "subpoena")
    assert result.exit_code == 1 and office.json("fax", "list") == []
    (attempt,) = [e for e in office.json("audit", "--patient", "P1") if e["command"] == "fax send"]
    assert (attempt["action"], attempt["outcome"]) == ("fax", "not sent: the gateway refused it")
