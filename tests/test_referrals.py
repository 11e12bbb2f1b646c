"""Referrals through the real CLI: out (draft to closed, letter by fax or mail), in (patient matched or
registered, a slot proposed), overdue lists as the clock moves, tasks for each next step, report, check."""

import pytest
from helpers.files import snapshot

pytestmark = pytest.mark.both_backends


@pytest.fixture
def office(front_office):
    front_office.ok("appt", "book", "P1", "--provider", "S2", "--at", "2026-11-20 09:00", "--type", "follow-up",
                    "--allow-past")  # P1's usual physician: Dr B
    return front_office


def at(day: str) -> dict:
    return {"MEDSEC_NOW": f"{day}T09:00:00"}


def overdue(office, day: str) -> list[str]:
    return [r["id"] for r in office.json("referral", "list", "--overdue", env=at(day))]


def open_tasks(office, source: str) -> list[tuple]:
    return [(t["owner"], t["due"], t["priority"]) for t in office.json("task", "list") if t["source"] == source]


def test_outgoing_referral_from_draft_to_closed(office):
    ref = office.json("referral", "add", "P1", "--to", "Boston Cardiology", "--reason", "exertional chest pain",
                      "--dx", "r07.9", "--dx", "I10", "--fax", "(617) 555-0190")
    assert (ref["id"], ref["status"], ref["physician"], ref["fax"], ref["due"]) == \
        ("RF1", "draft", "S2", "617-555-0190", "2026-11-28")
    assert ref["dx"] == [{"code": "R07.9", "description": "Chest pain, unspecified"},
                         {"code": "I10", "description": "Essential (primary) hypertension"}]
    assert open_tasks(office, "RF1") == [("front-desk", "2026-11-28", "normal")]
    assert overdue(office, "2026-11-28") == [] and overdue(office, "2026-11-29") == ["RF1"]

    refused = office("referral", "status", "RF1", "sent")
    assert refused.exit_code == 1 and "referral send RF1" in refused.stderr
    sent = office.json("referral", "send", "RF1")
    assert (sent["status"], sent["sent"]["via"], sent["sent"]["channel"], sent["due"]) == \
        ("sent", "fax", "testchannel", "2026-12-10")
    (fax,) = office.sent()
    assert (fax["kind"], fax["to"], fax["attachments"]) == ("fax", "617-555-0190", ["cover.pdf", "referral-RF1.pdf"])
    assert "Referral RF1" in fax["subject"] and "Ana Lopez" not in fax["subject"]  # no name on the cover's Re:
    for text in ("To:  Boston Cardiology", "Patient:         Ana Lopez", "Date of birth:   1960-01-10",
                 "R07.9  Chest pain, unspecified", "exertional chest pain", "Dr B, NPI 1245319599"):
        assert text in fax["body"], text
    # the draft's task is done; confirming the booking is the next one
    assert open_tasks(office, "RF1") == [("front-desk", "2026-12-10", "normal")]
    assert office("referral", "send", "RF1").exit_code == 1  # sent once

    # sent, no appointment after 14 days: overdue
    assert overdue(office, "2026-12-10") == [] and overdue(office, "2026-12-11") == ["RF1"]
    late = [t["text"] for t in office.json("task", "list", "--overdue", env=at("2026-12-11"))]
    assert late == ["confirm Boston Cardiology booked the appointment for referral RF1"]
    assert office("referral", "status", "RF1", "report-received").exit_code == 1
    assert office("referral", "status", "RF1", "appointment-scheduled").exit_code == 2  # when?
    booked = office.json("referral", "status", "RF1", "appointment-scheduled", "--appt-at", "2026-12-15 10:00",
                         env=at("2026-12-11"))
    assert (booked["appointment"], booked["due"]) == ("2026-12-15T10:00:00-05:00", "2026-12-29")
    assert overdue(office, "2026-12-29") == [] and overdue(office, "2026-12-30") == ["RF1"]  # no report yet

    office.ok("referral", "status", "RF1", "report-received", "--note", "echo normal", env=at("2026-12-30"))
    assert [t["text"] for t in office.json("task", "list", "--for", "S2")] == \
        ["review the consult report of referral RF1, then close it"]
    closed = office.json("referral", "status", "RF1", "closed", env=at("2026-12-31"))
    assert (closed["status"], closed["due"]) == ("closed", "")
    assert [h["status"] for h in closed["history"]] == \
        ["draft", "sent", "appointment-scheduled", "report-received", "closed"]
    assert open_tasks(office, "RF1") == [] and office.json("referral", "list") == []
    final = office("referral", "status", "RF1", "closed")
    assert final.exit_code == 1 and "closed is final" in final.stderr
    assert [r["id"] for r in office.json("referral", "list", "--status", "all")] == ["RF1"]
    assert {"referral add", "referral send", "referral status"} <= \
        {e["command"] for e in office.json("audit", "--patient", "P1")}


def test_authorization_then_letter_by_mail(office):
    urgent = office.json("referral", "add", "P2", "--to", "Ortho Group", "--reason", "knee", "--dx", "M17.11",
                         "--auth-required", "--urgent")
    assert (urgent["status"], urgent["due"], urgent["physician"]) == ("authorization-pending", "2026-11-28", "")
    assert open_tasks(office, "RF1") == [("biller", "2026-11-28", "urgent")]
    assert [t["id"] for t in office.json("task", "list", "--mine", env={"MEDSEC_USER": "S5"})] == ["K1"]
    plain = office.json("referral", "add", "P3", "--to", "Derm Center", "--reason", "mole", "--dx", "D22.9",
                        "--auth-required")
    assert plain["due"] == "2026-12-01"
    # authorization pending: urgent overdue after 2 days, the others after 5
    assert overdue(office, "2026-11-28") == []
    assert overdue(office, "2026-11-29") == ["RF1"]
    assert overdue(office, "2026-12-02") == ["RF1", "RF2"]

    waiting = office("referral", "send", "RF1", "--address", "1 Bone St, Boston MA 02115")
    assert waiting.exit_code == 1 and "--auth NUMBER" in waiting.stderr and office.sent() == []
    no_address = office("referral", "send", "RF1", "--auth", "AUTH-77")  # no fax number either: by mail
    assert no_address.exit_code == 2 and "no postal address" in no_address.stderr
    assert office("referral", "send", "RF1", "--auth", "AUTH-77", "--via", "fax").exit_code == 2
    bounced = office("referral", "send", "RF1", "--auth", "AUTH-77", "--address", "1 bounce Rd")
    assert bounced.exit_code == 1 and office.json("referral", "show", "RF1")["status"] == "authorization-pending"
    sent = office.json("referral", "send", "RF1", "--auth", "AUTH-77", "--address", "1 Bone St, Boston MA 02115")
    assert (sent["status"], sent["auth_number"], sent["sent"]["via"], sent["due"]) == \
        ("sent", "AUTH-77", "mail", "2026-11-29")  # urgent: an appointment within 3 days
    (letter,) = office.sent()
    assert (letter["kind"], letter["to"], letter["attachments"]) == \
        ("letter", "1 Bone St, Boston MA 02115", ["referral-RF1.pdf"])
    assert "Authorization:   AUTH-77" in letter["body"] and "URGENT" in letter["body"]
    assert open_tasks(office, "RF1") == [("front-desk", "2026-11-29", "urgent")]


def test_incoming_referral_matches_or_registers_and_proposes_a_slot(office):
    first_slot = office.json("appt", "slots", "--any", "--type", "new-patient", "--first")[0]
    new = office("referral", "receive", "--from", "Quincy Family Medicine", "--first", "Nia", "--last", "Okoro",
                 "--dob", "1991-05-06", "--phone", "617-555-0142", "--reason", "diabetes care", "--dx", "E11.9",
                 "--json")
    assert new.exit_code == 0 and "first free slot" in new.stderr
    ref = new.json()
    assert (ref["id"], ref["direction"], ref["from"], ref["status"], ref["due"]) == \
        ("RF1", "in", "Quincy Family Medicine", "received", "2026-12-03")
    assert ref["patient_id"] == "P5" and ref["patient_created"] is True
    assert ref["proposed"] == {**first_slot, "type": "new-patient"}
    assert office.json("patient", "show", "P5")["phone"] == "617-555-0142"
    again = office.json("referral", "receive", "--from", "Quincy Family Medicine", "--first", "nia",
                        "--last", "OKORO", "--dob", "1991-05-06", "--reason", "second opinion", "--urgent")
    assert (again["patient_id"], again["patient_created"], again["due"]) == ("P5", False, "2026-11-28")
    assert [r["id"] for r in office.json("referral", "list", "--direction", "in")] == ["RF2", "RF1"]
    assert overdue(office, "2026-12-03") == ["RF2"] and overdue(office, "2026-12-04") == ["RF2", "RF1"]

    slot = ref["proposed"]
    appt = office.json("appt", "book", "P5", "--provider", slot["provider"], "--at", slot["start"][:16],
                       "--type", "new-patient")
    other = office.json("appt", "book", "P2", "--provider", "S1", "--at", "2026-12-01 08:00", "--type", "follow-up")
    assert office("referral", "status", "RF1", "appointment-scheduled", "--appt", other["id"]).exit_code == 1
    scheduled = office.json("referral", "status", "RF1", "appointment-scheduled", "--appt", appt["id"])
    assert (scheduled["appointment_id"], scheduled["appointment"], scheduled["due"]) == (appt["id"], slot["start"], "")
    assert open_tasks(office, "RF1") == [] and overdue(office, "2026-12-30") == ["RF2"]
    assert office("referral", "send", "RF2").exit_code == 1  # incoming: nothing to send
    assert office.json("referral", "status", "RF1", "closed")["status"] == "closed"


@pytest.mark.parametrize("args,code,text", [
    (["referral", "add", "P1", "--to", "X", "--reason", "r", "--dx", "chest pain"], 2, "not an ICD-10-CM code"),
    (["referral", "add", "P1", "--to", "X", "--reason", "r", "--dx", "Q99.99X"], 2, "not in ICD-10-CM"),
    (["referral", "add", "P1", "--specialist", " ", "--reason", "r", "--dx", "I10"], 2, "--specialist cannot be empty"),
    (["referral", "add", "P1", "--to", "X", "--reason", "r", "--dx", "I10", "--fax", "call me"], 2,
     "not a fax number"),
    (["referral", "add", "P1", "--to", "X", "--reason", "r", "--dx", "I10", "--physician", "S3"], 2,
     "not a physician"),
    (["referral", "add", "P99", "--to", "X", "--reason", "r", "--dx", "I10"], 1, "no patient P99"),
    (["referral", "receive", "--from", "Y", "--reason", "r", "--patient", "P1", "--first", "Ana"], 2, "not both"),
    (["referral", "receive", "--from", "Y", "--reason", "r", "--first", "Ana"], 2, "--first, --last and --dob"),
    (["referral", "receive", "--from", "Y", "--reason", "r", "--first", "A", "--last", "B", "--dob", "2030-01-01"],
     2, "in the future"),
    (["referral", "receive", "--from", "Y", "--reason", "r", "--patient", "P1", "--type", "spa-day"], 2,
     "unknown appointment type"),
    (["referral", "status", "RF9", "closed"], 1, "no referral RF9"),
    (["referral", "status", "RF1", "lost"], 2, "invalid value"),
])
def test_referral_bad_input_writes_nothing(office, args, code, text):
    before = snapshot(office.home)
    result = office(*args)
    assert result.exit_code == code and text in result.stderr
    assert snapshot(office.home) == before and office.sent() == []


def test_referrals_report_and_check(office, tmp_path):
    office.ok("referral", "add", "P1", "--to", "Boston Cardiology", "--reason", "r", "--dx", "I10", "--fax",
              "617-555-0190")
    office.ok("referral", "add", "P2", "--to", "Boston Cardiology", "--reason", "r", "--dx", "I10", "--urgent")
    office.ok("referral", "send", "RF1")
    office.ok("referral", "status", "RF1", "appointment-scheduled", "--appt-at", "2026-12-08 10:00",
              env={"MEDSEC_NOW": "2026-11-30T10:00:00"})
    office.ok("referral", "receive", "--from", "Dr Who", "--patient", "P3", "--reason", "r")
    later = at("2026-12-05")
    rows = {(r["direction"], r["party"]): r for r in office.json("report", "referrals", env=later)}
    assert rows[("out", "Boston Cardiology")] == {
        "direction": "out", "party": "Boston Cardiology", "referrals": 2, "open": 2, "overdue": 1, "urgent": 1,
        "avg_days_to_appointment": "4.0"}
    assert rows[("in", "Dr Who")]["referrals"] == 1
    page = tmp_path / "referrals.html"
    office.ok("report", "referrals", "--format", "html", "-o", page)
    assert "<svg" in page.read_text() and "Boston Cardiology" in page.read_text()

    assert office.json("check") == []
    if office.pg is not None:
        return  # what follows damages the data directory's index file
    index = office.home / "index" / "referral-patient" / "00000.json"
    index.write_text('{"P1": ["RF2"]}')
    damaged = office("check", "--json")
    assert damaged.exit_code == 3 and damaged.json()[0]["file"] == "index/referral-patient/00000.json"
    office.ok("check", "--repair")
    assert office.json("referral", "list", "--patient", "P1")[0]["id"] == "RF1"
