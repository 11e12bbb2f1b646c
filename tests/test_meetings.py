"""Staff meetings through the real CLI: free-time checks, proposals, iTIP invitations over real SMTP."""

import email

import pytest
import vobject
from helpers.backends import read_config, write_config
from helpers.files import snapshot

pytestmark = pytest.mark.both_backends
ICAL = "text/calendar"


def calendars(inbox, start=0):
    """(recipients, method parameter, parsed .ics text) of each message from `start` on."""
    out = []
    for rcpts, raw in inbox.messages[start:]:
        msg = email.message_from_bytes(raw)
        (part,) = [p for p in msg.walk() if p.get_content_type() == ICAL]
        out.append((rcpts, part.get_param("method"), part.get_payload(decode=True).decode()))
    return out


def test_invitation_and_cancellation_arrive_by_smtp(staffed):
    meeting = staffed.json("meeting", "schedule", "--title", "Flu season huddle", "--at", "2026-11-27 08:00",
                           "--duration", "30", "--attendees", "S1,S2,s3", "--room", "exam1")
    assert (meeting["id"], meeting["status"], meeting["sequence"], meeting["attendees"]) == \
        ("MT1", "scheduled", 0, ["S1", "S2", "S3"])
    assert [n["status"] for n in meeting["notices"]] == ["sent"] * 3
    invites = calendars(staffed.inbox)
    assert sorted(r for rcpts, _, _ in invites for r in rcpts) == \
        ["dra@example.org", "drb@example.org", "nursec@example.org"]
    uids = set()
    for _, method, text in invites:
        assert method == "REQUEST"
        cal = vobject.readOne(text, validate=True)
        event = cal.vevent
        assert cal.method.value == "REQUEST" and event.sequence.value == "0"
        assert event.dtstart.value.isoformat() == "2026-11-27T08:00:00-05:00"
        assert event.dtend.value.isoformat() == "2026-11-27T08:30:00-05:00"
        assert event.organizer.value == "mailto:desk@example.org" and event.organizer.cn_param == "Test Clinic"
        assert sorted(a.value for a in event.attendee_list) == \
            ["mailto:dra@example.org", "mailto:drb@example.org", "mailto:nursec@example.org"]
        assert event.location.value == "Exam 1" and hasattr(cal, "vtimezone")
        uids.add(event.uid.value)
    assert uids == {meeting["uid"]}
    from icalendar import Calendar

    assert Calendar.from_ical(invites[0][2]).get_missing_tzids() == set()
    assert [m["id"] for m in staffed.json("meeting", "list")] == ["MT1"]

    cancelled = staffed.json("meeting", "cancel", "MT1", env={"MEDSEC_NOW": "2026-11-26T16:00:00"})
    assert (cancelled["status"], cancelled["sequence"]) == ("cancelled", 1)
    cancels = calendars(staffed.inbox, 3)
    assert len(cancels) == 3
    for _, method, text in cancels:
        event = vobject.readOne(text, validate=True).vevent
        assert method == "CANCEL" and "METHOD:CANCEL" in text
        assert event.uid.value == meeting["uid"] and int(event.sequence.value) > 0
        assert event.status.value == "CANCELLED"
    assert staffed.json("meeting", "list") == []
    assert [m["status"] for m in staffed.json("meeting", "list", "--status", "all")] == ["cancelled"]
    again = staffed("meeting", "cancel", "MT1")
    assert again.exit_code == 1 and "already cancelled" in again.stderr
    assert len(staffed.inbox.messages) == 6


def test_conflicts_are_refused_with_the_next_time_that_suits_all(staffed):
    staffed.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-27 08:00", "--type", "follow-up")
    staffed.ok("staff", "off", "S2", "--from", "2026-11-30", "--to", "2026-11-30", "--reason", "conference")
    staffed.ok("meeting", "schedule", "--title", "Nurses", "--at", "2026-11-27 09:00", "--duration", "60",
               "--attendees", "S3", "--room", "exam1")
    sent = len(staffed.inbox.messages)
    before = snapshot(staffed.home)
    cases = [
        (["--at", "2026-11-27 08:00", "--attendees", "S1,S2"], "S1 is booked 08:00-08:20 (A1)", "Fri 2026-11-27 08:20"),
        (["--at", "2026-11-30 08:00", "--attendees", "S1,S2"], "S2 is off on 2026-11-30 (conference)",
         "Tue 2026-12-01 08:00"),
        (["--at", "2026-11-27 09:30", "--attendees", "S2,S3"], "S3 is booked 09:00-10:00 (MT1)",
         "Fri 2026-11-27 10:00"),
        (["--at", "2026-11-27 09:30", "--attendees", "S2", "--room", "exam1"], "room exam1 is taken 09:00-10:00 (MT1)",
         "Fri 2026-11-27 10:00"),
        (["--at", "2026-11-27 11:45", "--attendees", "S2"], "outside S2's working hours", "Fri 2026-11-27 13:00"),
        (["--at", "2026-12-25 09:00", "--attendees", "S2"], "closed on 2026-12-25", "Mon 2026-12-28 08:00"),
    ]
    for args, problem, proposal in cases:
        result = staffed("meeting", "schedule", "--title", "Huddle", "--duration", "30", *args)
        assert result.exit_code == 1, result.stderr
        assert problem in result.stderr and f"all are free at {proposal}" in result.stderr, result.stderr
    assert snapshot(staffed.home) == before and len(staffed.inbox.messages) == sent
    staffed.ok("meeting", "schedule", "--title", "Huddle", "--duration", "30", "--at", "2026-11-27 08:20",
               "--attendees", "S1,S2")
    assert [m["start"][11:16] for m in staffed.json("meeting", "list", "--attendee", "S2")] == ["08:20"]


@pytest.mark.parametrize("args,text", [
    (["--at", "2026-11-27 10:00", "--end", "2026-11-27 09:00"], "--end 2026-11-27 09:00 is not after --at"),
    (["--at", "2026-11-27 10:00", "--duration", "0"], "--duration '0' must be from 1 to 1440 minutes"),
    (["--at", "2026-11-27 10:00", "--duration", "1" + "0" * 30], "must be from 1 to 1440 minutes"),
    (["--at", "2026-11-27 10:00", "--duration", "30", "--attendees", "S1,S9"], "unknown attendee S9"),
    (["--at", "2026-11-27 10:00", "--duration", "30", "--room", "attic"], "unknown room 'attic'"),
    (["--at", "2026-11-25 10:00", "--duration", "30"], "is in the past"),
    (["--at", "2026-11-27 10:00"], "give --duration or --end"),
])
def test_bad_meeting_input_writes_and_sends_nothing(staffed, args, text):
    before = snapshot(staffed.home)
    full = ["meeting", "schedule", "--title", "Huddle", *args]
    if "--attendees" not in args:
        full += ["--attendees", "S1,S2"]
    result = staffed(*full)
    assert result.exit_code == 2 and text in result.stderr, result.stderr
    assert snapshot(staffed.home) == before and staffed.inbox.messages == []


def test_attendee_not_reached_is_recorded_and_invited_again(staffed):
    write_config(staffed, "staff.yaml", read_config(staffed, "staff.yaml").replace("nursec@example.org", "''"))
    result = staffed("meeting", "schedule", "--title", "Huddle", "--at", "2026-11-27 10:00", "--end",
                     "2026-11-27 10:30", "--attendees", "S1,S3", "--json")
    # Booked and recorded: a missing address is a warning (exit 0), not a failure to retry blindly.
    assert result.exit_code == 0 and "S3: not sent: S3 has no email address" in result.stderr
    assert "meeting invite MT1" in result.stderr
    assert [(n["staff_id"], n["status"]) for n in result.json()["notices"]] == [("S1", "sent"), ("S3", "skipped")]
    staffed.ok("staff", "edit", "S3", "--email", "nursec@example.org")
    again = staffed.json("meeting", "invite", "MT1")
    assert [(n["staff_id"], n["status"]) for n in again["notices"]] == \
        [("S1", "sent"), ("S3", "skipped"), ("S3", "sent")]
    assert [rcpts for rcpts, _ in staffed.inbox.messages] == [["dra@example.org"], ["nursec@example.org"]]


def test_a_channel_that_fails_is_exit_3_and_the_meeting_stands(staffed):
    import socket

    with socket.socket() as closed:  # a port nobody listens on: the SMTP connection is refused
        closed.bind(("127.0.0.1", 0))
        dead = closed.getsockname()[1]
    channels = read_config(staffed, "channels.yaml")
    write_config(staffed, "channels.yaml", channels.replace(f"port: {staffed.inbox_port}", f"port: {dead}"))
    result = staffed("meeting", "schedule", "--title", "Huddle", "--at", "2026-11-27 10:00", "--duration", "30",
                     "--attendees", "S1")
    assert result.exit_code == 3 and "1 of the MT1 notices not sent" in result.stderr
    assert "the meeting is recorded" in result.stderr
    assert staffed.json("meeting", "show", "MT1")["notices"][0]["status"] == "failed"


def test_a_meeting_blocks_visits_with_its_attendees(staffed):
    staffed.ok("meeting", "schedule", "--title", "Case review", "--at", "2026-11-27 08:00", "--duration", "45",
               "--attendees", "S1")
    refused = staffed("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-27 08:30", "--type", "follow-up")
    assert refused.exit_code == 1 and "S1 is in a staff meeting 08:00-08:45 (MT1)" in refused.stderr
    (first,) = staffed.json("appt", "slots", "--provider", "S1", "--type", "follow-up", "--from", "2026-11-27",
                            "--first")
    assert first["start"] == "2026-11-27T08:45:00-05:00"
    staffed.ok("meeting", "cancel", "MT1")
    staffed.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-27 08:30", "--type", "follow-up")


def test_a_meeting_holds_its_room_against_visits(staffed):
    """A meeting in the operating room: surgery cannot have it then, and slots skip that time."""
    staffed.ok("meeting", "schedule", "--title", "OR safety drill", "--at", "2026-11-27 08:00", "--duration", "60",
               "--attendees", "S3", "--room", "or1")
    refused = staffed("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-27 08:00", "--type", "surgery",
                      "--room", "or1")
    assert refused.exit_code == 1 and "room or1 has a staff meeting 08:00-09:00 (MT1)" in refused.stderr
    (first,) = staffed.json("appt", "slots", "--provider", "S2", "--type", "surgery", "--from", "2026-11-27",
                            "--first")
    assert (first["start"], first["room"]) == ("2026-11-27T09:00:00-05:00", "or1")
    # a visit that needs no room is not held up by it
    staffed.ok("appt", "book", "P2", "--provider", "S1", "--at", "2026-11-27 08:00", "--type", "follow-up")
