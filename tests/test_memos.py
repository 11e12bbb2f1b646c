"""Memos through the real CLI: rendered from templates to text and PDF, by email where set up, else to the
outbox; practice templates and their variables; bad input writing and sending nothing."""

import json

import pytest
from helpers.backends import write_config
from helpers.files import snapshot

pytestmark = pytest.mark.both_backends
BODY = "body=Flu shots for staff on Saturday, 9 to 12, in Exam 1."


@pytest.fixture
def office(front_office):
    front_office.ok("staff", "edit", "S1", "--email", "dra@example.org")
    return front_office


def outbox(office) -> dict:
    """Outbox file name -> parsed message (JSON files only)."""
    folder = office.home / "outbox"
    return {p.name: json.loads(p.read_text()) for p in folder.glob("*.json")} if folder.exists() else {}


def test_memo_by_email_and_outbox(office):
    memo = office.json("memo", "new", "--template", "memo", "--to", "S1,S3", "--to", "S1", "--subject", "Flu clinic",
                       "--var", BODY, env={"MEDSEC_USER": "fran@example.org"})
    assert (memo["id"], memo["to"], memo["from"], memo["subject"]) == ("M1", ["S1", "S3"], "S4", "Flu clinic")
    assert "From:     Fran Desk" in memo["text"] and "To:       Dr A, Nurse C" in memo["text"]
    assert [(d["staff_id"], d["channel"], d["kind"], d["to"], d["status"]) for d in memo["deliveries"]] == [
        ("S1", "testchannel", "email", "dra@example.org", "sent"),  # has an address, email is set up
        ("S3", "outbox", "letter", "Nurse C", "sent")]                # no address: printed from the outbox
    (email,) = office.sent()
    assert (email["subject"], email["attachments"]) == ("Flu clinic", ["memo.pdf"])
    assert "Flu shots for staff on Saturday" in email["body"]
    (letter,) = outbox(office).values()
    assert letter["to"] == "Nurse C" and "Flu shots for staff on Saturday" in letter["body"]
    pdf = next((office.home / "outbox").glob("*-memo.pdf"))
    assert pdf.read_bytes().startswith(b"%PDF-")

    assert [m["id"] for m in office.json("memo", "list")] == ["M1"]
    assert [m["id"] for m in office.json("memo", "list", "--mine", env={"MEDSEC_USER": "S3"})] == ["M1"]
    assert office.json("memo", "list", "--mine", env={"MEDSEC_USER": "S2"}) == []
    assert office.json("memo", "show", "m1")["text"] == memo["text"]
    assert office("memo", "show", "M9").exit_code == 1
    # without --subject the template's subject line names the sender
    assert office.json("memo", "new", "--to", "S2", "--var", BODY)["subject"] == "Memo from tester"


def test_without_an_email_channel_everything_goes_to_the_outbox(office):
    write_config(office, "channels.yaml", "outbox: {folder: outbox}\n")
    memo = office.json("memo", "new", "--to", "S1,S2", "--var", BODY)
    assert {(d["channel"], d["kind"]) for d in memo["deliveries"]} == {("outbox", "letter")}
    assert sorted(m["to"] for m in outbox(office).values()) == ["Dr A", "Dr B"]
    assert office.sent() == []


def test_practice_template_with_its_own_variables(office):
    folder = office.home / "templates" / "messages" / "staff-meeting"
    folder.mkdir(parents=True)
    (folder / "en.subject.j2").write_text("Staff meeting on {{ day }}\n")
    (folder / "en.txt.j2").write_text("{{ memo.to }}: staff meeting on {{ day }} in {{ room }}.\n"
                                      "{{ practice.name }}\n")
    memo = office.json("memo", "new", "--template", "staff-meeting", "--to", "S1", "--var", "day=Friday",
                       "--var", "room=Exam 1")
    assert memo["subject"] == "Staff meeting on Friday"
    assert memo["text"] == "Dr A: staff meeting on Friday in Exam 1.\nTest Clinic\n"


def test_a_failed_delivery_does_not_stop_the_others(office):
    office.ok("staff", "edit", "S2", "--email", "bounce@example.org")
    result = office("memo", "new", "--to", "S2,S1", "--var", BODY, "--json")
    assert result.exit_code == 0 and "S2 did not get the memo" in result.stderr
    assert [(d["staff_id"], d["status"]) for d in result.json()["deliveries"]] == [("S2", "failed"), ("S1", "sent")]
    assert [m["to"] for m in office.sent()] == ["dra@example.org"]


@pytest.mark.parametrize("args,code,text", [
    (["--to", "S1"], 2, "'body' is undefined"),
    (["--to", "S1", "--var", "body"], 2, "use key=value"),
    (["--to", "S1", "--var", "memo=x"], 2, "the template's own"),
    (["--to", "S1", "--template", "no-such", "--var", BODY], 2, "no template 'no-such'"),
    (["--staff", " , ", "--var", BODY], 2, "give --staff STAFF"),
    (["--to", "S1,S99", "--var", BODY], 2, "no staff member or role S99"),
])
def test_memo_bad_input_writes_and_sends_nothing(office, args, code, text):
    before = snapshot(office.home)
    result = office("memo", "new", *args)
    assert result.exit_code == code and text in result.stderr
    assert snapshot(office.home) == before and office.sent() == []
