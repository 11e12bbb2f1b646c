"""The office's smaller open loops (issue 19), through the real CLI: a lunch-hour staff meeting
forced when everyone agrees (over a real SMTP server), memos to `all` and to a role, the phone line
in `call list`, and a call linked to a patient registered after it was taken."""

import pytest
from helpers.files import snapshot

pytestmark = pytest.mark.both_backends
LUNCH = ["--at", "2026-11-27 12:00", "--duration", "45"]  # Fri; everyone works 08-12 and 13-17
BODY = "body=Flu shots for staff on Saturday, 9 to 12."


# -- a meeting over the lunch break -----------------------------------------------------------
def test_a_lunch_meeting_is_booked_when_forced_with_a_reason(staffed):
    plain = staffed("meeting", "schedule", "--title", "Lunch and learn", "--staff", "S1,S2,S3", *LUNCH)
    assert plain.exit_code == 1 and "12:00-12:45 is outside S1's working hours" in plain.stderr
    assert "add --force --reason" in plain.stderr, plain.stderr
    assert staffed.inbox.messages == []

    meeting = staffed.json("meeting", "schedule", "--title", "Lunch and learn", "--staff", "S1,S2,S3", *LUNCH,
                           "--force", "--reason", "all agreed at the Monday huddle",
                           env={"MEDSEC_USER": "S3"})
    assert (meeting["id"], meeting["start"], meeting["end"]) == \
        ("MT1", "2026-11-27T12:00:00-05:00", "2026-11-27T12:45:00-05:00")
    forced = meeting["forced"]
    assert (forced["by"], forced["reason"]) == ("S3", "all agreed at the Monday huddle")
    assert forced["at"].startswith("2026-11-26T10:00")
    assert forced["over"] == [f"12:00-12:45 is outside {s}'s working hours on Fri 2026-11-27"
                              for s in ("S1", "S2", "S3")]
    assert [n["status"] for n in meeting["notices"]] == ["sent"] * 3 and len(staffed.inbox.messages) == 3
    assert staffed.json("meeting", "show", "MT1")["forced"] == forced
    (entry,) = [e for e in staffed.json("audit") if e["action"] == "meeting"]
    assert entry["ids"] == ["MT1"] and entry["user"] == "S3"
    assert entry["outcome"] == "ok: forced outside working hours: all agreed at the Monday huddle"

    # a meeting that suits everyone is not marked forced, --force or not
    usual = staffed.json("meeting", "schedule", "--title", "Huddle", "--staff", "S1", "--at", "2026-11-27 08:00",
                         "--duration", "15", "--force", "--reason", "habit")
    assert "forced" not in usual
    # the forced meeting holds its attendees like any other
    again = staffed("meeting", "schedule", "--title", "Another", "--staff", "S2", *LUNCH, "--force", "--reason", "x")
    assert again.exit_code == 1 and "S2 is booked 12:00-12:45 (MT1)" in again.stderr


def test_force_does_not_override_time_off_bookings_or_hours_outside_the_day(staffed):
    staffed.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-27 11:40", "--type", "follow-up")
    staffed.ok("staff", "off", "S2", "--from", "2026-11-30", "--to", "2026-11-30", "--reason", "conference")
    sent = len(staffed.inbox.messages)
    before = snapshot(staffed.home)
    cases = [
        (["--staff", "S1,S2", "--at", "2026-11-27 11:40", "--duration", "60"], "S1 is booked 11:40-12:00 (A1)"),
        (["--staff", "S1,S2", "--at", "2026-11-30 12:00", "--duration", "45"], "S2 is off on 2026-11-30 (conference)"),
        (["--staff", "S1", "--at", "2026-11-27 17:00", "--duration", "30"], "outside S1's working hours"),
        (["--staff", "S1", "--at", "2026-11-28 12:00", "--duration", "30"], "outside S1's working hours on Sat"),
        (["--staff", "S1", "--at", "2026-12-25 12:00", "--duration", "30"], "closed on 2026-12-25"),
    ]
    for args, problem in cases:
        result = staffed("meeting", "schedule", "--title", "Huddle", *args, "--force", "--reason", "we agreed")
        assert result.exit_code == 1 and problem in result.stderr, result.stderr
        assert "--force" not in result.stderr  # nothing left that forcing would book
    assert snapshot(staffed.home) == before and len(staffed.inbox.messages) == sent


@pytest.mark.parametrize("args,text", [
    (["--force"], "--force needs --reason"),
    (["--force", "--reason", "  "], "--force needs --reason"),
    (["--reason", "we agreed"], "--reason goes with --force"),
    (["--force", "--reason", "a\x1b[31m"], "--reason"),
])
def test_bad_force_input_writes_and_sends_nothing(staffed, args, text):
    before = snapshot(staffed.home)
    result = staffed("meeting", "schedule", "--title", "Lunch", "--staff", "S1,S2", *LUNCH, *args)
    assert result.exit_code == 2 and text in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2  # the error and at most its hint
    assert snapshot(staffed.home) == before and staffed.inbox.messages == []


# -- memos to everyone and to a role ----------------------------------------------------------
@pytest.fixture
def office(front_office):
    """S1 Dr A, S2 Dr B (physicians), S3 nurse, S4 Fran Desk (front desk), S5 biller; a second front
    desk member S6 who left (inactive)."""
    front_office.ok("staff", "add", "--name", "Gone Desk", "--role", "front-desk")
    front_office.ok("staff", "edit", "S6", "--inactive")
    return front_office


def _to(office, *staff):
    return office.json("memo", "new", *(x for s in staff for x in ("--staff", s)), "--subject", "Flu",
                       "--var", BODY)


def test_memo_to_all_a_role_and_mixed_lists(office):
    roster = [m for m in office.json("staff", "list") if m["active"]]
    everyone = [m["id"] for m in roster]
    assert "S6" not in everyone and {"S1", "S2", "S3", "S4", "S5"} <= set(everyone)
    memo = _to(office, "all")
    assert memo["to"] == everyone and memo["addressed"] == ["all"]
    assert sorted(d["staff_id"] for d in memo["deliveries"]) == sorted(everyone)
    assert _to(office, "front-desk")["to"] == ["S4"]  # S6 left: not sent to
    assert _to(office, "Physician")["to"] == ["S1", "S2"]
    mixed = _to(office, "S3,physician", "s1", "front_desk")
    assert mixed["to"] == ["S3", "S1", "S2", "S4"] and mixed["addressed"] == ["S3", "physician", "S1", "front-desk"]
    assert len(mixed["deliveries"]) == 4
    assert _to(office, "all,nurse,S3")["to"] == everyone  # each member once
    # an id names that member even when inactive, as before
    assert _to(office, "S6")["to"] == ["S6"]


@pytest.mark.parametrize("staff,text", [
    ("S1,S99,frontdesk", "no staff member or role S99, 'frontdesk'"),
    ("doctors", "no staff member or role 'doctors'"),
    ("S1,manager", "--staff manager: names no active staff member"),
    (" , ", "give --staff STAFF"),
])
def test_memo_recipients_that_name_nobody_are_bad_input(office, staff, text):
    sent = len(office.sent())
    before = snapshot(office.home)
    result = office("memo", "new", "--staff", staff, "--var", BODY)
    assert result.exit_code == 2 and text in result.stderr, result.stderr
    assert snapshot(office.home) == before and len(office.sent()) == sent


# -- calls: the line, and the patient registered afterwards ----------------------------------
def test_call_list_shows_the_line_and_filters_by_it(front_office):
    front_office.ok("call", "log", "--phone", "617-555-0100", "--reason", "refill question", "--line", "2")
    front_office.ok("call", "log", "--phone", "617-555-0199", "--reason", "directions")
    rows = front_office.json("call", "list")
    assert [(c["id"], c["line"]) for c in rows] == [("T1", 2), ("T2", "")]
    assert [c["id"] for c in front_office.json("call", "list", "--line", "2")] == ["T1"]
    table = front_office.ok("call", "list").stdout
    assert "line" in table.splitlines()[0]
    csv_text = front_office.ok("call", "list", "--format", "csv").stdout
    assert csv_text.splitlines()[0].split(",")[:5] == ["id", "created", "urgent", "line", "from_number"]
    bad = front_office("call", "list", "--line", "0")
    assert bad.exit_code == 2 and "--line" in bad.stderr


def test_a_call_is_linked_to_a_patient_registered_afterwards(front_office):
    call = front_office.json("call", "log", "--phone", "617-555-0199", "--reason", "new patient? wants a visit")
    assert (call["id"], call["patient_id"]) == ("T1", "")
    front_office.ok("call", "close", "T1", "--note", "asked to register")
    front_office.ok("patient", "add", "--first", "Ina", "--last", "Quist", "--dob", "1990-04-05",
                    "--phone", "617-555-0198")
    linked = front_office.json("call", "link", "T1", "--patient", "Ina Quist")  # a name, resolved
    assert (linked["patient_id"], linked["linked_by"], linked["status"]) == ("P5", "tester", "closed")
    assert front_office.json("call", "show", "T1")["patient_id"] == "P5"
    entry = [e for e in front_office.json("audit", "--patient", "P5") if e["command"] == "call link"][-1]
    assert entry["ids"] == ["P5", "T1"] and entry["outcome"] == "ok: linked to P5"
    # the same patient again changes nothing; another one is refused
    assert front_office.json("call", "link", "t1", "--patient", "P5")["patient_id"] == "P5"
    before = snapshot(front_office.home)
    refused = front_office("call", "link", "T1", "--patient", "P1")
    assert refused.exit_code == 1 and "T1 is already linked to P5" in refused.stderr
    for args, code, text in [(["T9", "--patient", "P1"], 1, "no call T9"),
                             (["T1", "--patient", "P99"], 1, "P99"),
                             (["X1", "--patient", "P1"], 2, "X1"),
                             (["T1", "--patient", "P1x"], 2, "P1x")]:
        result = front_office("call", "link", *args)
        assert result.exit_code == code and text in result.stderr, (args, result.stderr)
    assert snapshot(front_office.home) == before
