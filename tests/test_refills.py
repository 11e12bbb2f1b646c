"""Refill requests through the real CLI: the physician's queue, overdue as the clock moves, decisions by
physicians only (others refused and audited), pharmacy and patient told, bad input writing nothing."""

import pytest
from helpers.files import snapshot

pytestmark = pytest.mark.both_backends

REQUEST = ["--drug", "Atorvastatin", "--dose", "20 mg daily", "--pharmacy", "CVS Main St", "--via", "phone"]


@pytest.fixture
def office(front_office):
    front_office.ok("staff", "edit", "S1", "--email", "dra@example.org")
    front_office.ok("patient", "edit", "P1", "--email", "ana@example.com", "--preferred-channel", "email")
    front_office.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-20 09:00", "--type", "follow-up",
                    "--allow-past")
    return front_office


def queue(office, *args, **kw) -> list[str]:
    return [r["id"] for r in office.json("refill", "list", *args, **kw)]


def test_refill_from_request_to_approval(office):
    rx = office.json("refill", "request", "P1", *REQUEST, "--pharmacy-fax", "617 555 0177")
    assert (rx["id"], rx["physician"], rx["status"], rx["due"], rx["pharmacy_fax"]) == \
        ("RX1", "S1", "pending", "2026-11-28", "617-555-0177")  # Dr A: P1's last visit
    assert queue(office, "--for", "S1") == ["RX1"] and queue(office, "--for", "S2") == []
    assert queue(office, "--mine", env={"MEDSEC_USER": "dra@example.org"}) == ["RX1"]
    assert [(t["owner"], t["text"], t["source"]) for t in office.json("task", "list", "--for", "S1")] == \
        [("S1", "decide refill request RX1", "RX1")]
    # undecided for more than two days: overdue
    assert queue(office, "--overdue", env={"MEDSEC_NOW": "2026-11-28T17:00:00"}) == []
    assert queue(office, "--overdue", env={"MEDSEC_NOW": "2026-11-29T08:00:00"}) == ["RX1"]

    # only a physician decides: the front desk and the nurse are refused, and the attempt is audited
    before = snapshot(office.home)
    for user in ("fran@example.org", "S3", "someone-else"):
        refused = office("refill", "approve", "RX1", env={"MEDSEC_USER": user})
        assert refused.exit_code == 1 and "only a physician may approve" in refused.stderr
    assert office("refill", "deny", "RX1", env={"MEDSEC_USER": "S4"}).exit_code == 1
    assert snapshot(office.home) == before and office.sent() == []
    refusals = [(e["user"], e["command"], e["outcome"]) for e in office.json("audit") if e["action"] == "refused"]
    assert refusals == [("fran@example.org", "refill approve", "exit 1"), ("S3", "refill approve", "exit 1"),
                        ("someone-else", "refill approve", "exit 1"), ("S4", "refill deny", "exit 1")]

    approved = office.json("refill", "approve", "RX1", "--note", "90-day supply",
                           env={"MEDSEC_USER": "dra@example.org", "MEDSEC_NOW": "2026-11-27T11:00:00"})
    assert approved["status"] == "approved" and approved["decision"]["by"] == "S1"
    assert [(n["for"], n["kind"], n["status"]) for n in approved["notices"]] == \
        [("pharmacy", "fax", "sent"), ("patient", "email", "sent")]
    fax, email = office.sent()
    assert (fax["kind"], fax["to"], fax["attachments"]) == \
        ("fax", "617-555-0177", ["cover.pdf", "refill-decision-pharmacy.pdf"])
    for text in ("Atorvastatin, 20 mg daily", "Decision:    APPROVED", "Dr A, NPI 1234567893", "90-day supply",
                 "Patient:     Ana Lopez, born 1960-01-10"):
        assert text in fax["body"], text
    assert (email["kind"], email["to"]) == ("email", "ana@example.com")
    assert "approved and sent to CVS Main St" in email["body"]
    for secret in ("Atorvastatin", "20 mg", "90-day"):  # the patient's message names no drug, dose or note
        assert secret not in email["body"] + email["subject"]

    assert queue(office) == [] and queue(office, "--status", "approved") == ["RX1"]
    assert office.json("task", "list", "--for", "S1") == []
    again = office("refill", "deny", "RX1", env={"MEDSEC_USER": "S2"})
    assert again.exit_code == 1 and "already approved" in again.stderr
    assert {"refill request", "refill approve", "refill list"} <= \
        {e["command"] for e in office.json("audit", "--patient", "P1")}


def test_usual_physician_is_the_latest_visit(office):
    office.ok("appt", "book", "P2", "--provider", "S1", "--at", "2026-11-16 09:00", "--type", "follow-up",
              "--allow-past")
    office.ok("appt", "book", "P2", "--provider", "S2", "--at", "2026-11-23 09:00", "--type", "follow-up",
              "--allow-past")
    cancelled = office.json("appt", "book", "P2", "--provider", "S1", "--at", "2026-11-24 09:00",
                            "--type", "follow-up", "--allow-past")
    office.ok("appt", "cancel", cancelled["id"], "--reason", "patient called")
    office.ok("appt", "book", "P2", "--provider", "S1", "--at", "2026-12-01 09:00", "--type", "follow-up")
    assert office.json("refill", "request", "P2", *REQUEST)["physician"] == "S2"
    assert office.json("refill", "request", "P2", *REQUEST, "--for", "s1")["physician"] == "S1"
    # only a future visit: its physician
    office.ok("appt", "book", "P3", "--provider", "S2", "--at", "2026-12-02 09:00", "--type", "follow-up")
    assert office.json("refill", "request", "P3", *REQUEST)["physician"] == "S2"


@pytest.mark.parametrize("args,code,text", [
    (["P1", *REQUEST, "--provider", "S9"], 2, "--provider S9: no such staff member"),
    (["P1", *REQUEST, "--for", "S3"], 2, "S3 is a nurse, not a physician"),
    (["P1", *REQUEST, "--for", "Dr Nobody"], 2, "'Dr Nobody' is not a"),  # ("Dr A" is S1's name)
    (["P4", *REQUEST], 2, "P4 has no usual physician"),
    (["P1", *REQUEST, "--pharmacy-fax", "fax me"], 2, "not a fax number"),
    (["P1", *REQUEST[:-1], "email"], 2, "invalid value"),
    (["P1", *REQUEST[:2], "--dose", " ", *REQUEST[4:]], 2, "--dose cannot be empty"),
    (["P99", *REQUEST, "--for", "S1"], 1, "no patient P99"),
])
def test_refill_bad_input_writes_nothing(office, args, code, text):
    before = snapshot(office.home)
    result = office("refill", "request", *args)
    assert result.exit_code == code and text in result.stderr
    assert snapshot(office.home) == before


def test_failed_notices_leave_tasks_for_the_front_desk(office):
    office.ok("patient", "edit", "P3", "--email", "bounce@example.com", "--preferred-channel", "email")
    office.ok("refill", "request", "P3", *REQUEST, "--for", "S2")  # no pharmacy fax number
    denied = office("refill", "deny", "RX1", "--note", "needs a visit first", "--json",
                    env={"MEDSEC_USER": "S2", "MEDSEC_NOW": "2026-11-30T09:00:00"})
    assert denied.exit_code == 0 and denied.stderr.count("warning") == 2
    record = denied.json()
    assert record["status"] == "denied"  # the decision stands
    assert [(n["for"], n["status"], n["reason"]) for n in record["notices"]] == [
        ("pharmacy", "failed", "no fax contact on file"),
        ("patient", "failed", "bounce@example.com: no such mailbox")]
    todo = [(t["owner"], t["priority"], t["due"], t["text"]) for t in office.json("task", "list")]
    assert todo == [
        ("front-desk", "high", "2026-11-30", "tell the pharmacy that refill request RX1 was denied "
                                             "(no fax contact on file)"),
        ("front-desk", "high", "2026-11-30", "tell the patient that refill request RX1 was denied "
                                             "(bounce@example.com: no such mailbox)")]
    assert office.sent() == []


def test_denial_message_to_the_patient(office):
    office.ok("refill", "request", "P1", *REQUEST, "--pharmacy-fax", "617-555-0177")
    office.ok("refill", "deny", "RX1", "--note", "LDL at goal, stop", env={"MEDSEC_USER": "S1"})
    fax, email = office.sent()
    assert "Decision:    DENIED" in fax["body"] and "LDL at goal" in fax["body"]
    assert "could not approve your refill request of 2026-11-26" in email["body"]
    assert "LDL" not in email["body"] and "Atorvastatin" not in email["body"]
