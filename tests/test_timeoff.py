"""`staff off` over booked visits: listed and refused until a choice is made; --reschedule moves
each visit to a real free slot and tells each patient once (a real SMTP server and a loopback SMS
gateway count the messages); --cancel-and-notify; --keep, shown by `report coverage`; `staff show`'s
hours."""

import email
import json
from datetime import date, datetime, timedelta

import pytest
from helpers.backends import read_config, write_config
from helpers.files import snapshot

pytestmark = pytest.mark.both_backends

MON = "2026-11-30"  # the clock is Thu 2026-11-26 10:00
TUE = "2026-12-01"
SPAN = ["--from", MON, "--to", TUE, "--reason", "course"]
EMAILS = {"P1": "ana@example.com", "P2": "bo@example.com"}
PHONES = {"P3": "+16175550102", "P4": "+16175550103"}  # setup_practice's 617-555-0102, -0103


@pytest.fixture
def office(small_practice, smtp, gateway, monkeypatch):
    """Dr A (S1), Dr B (S2), Nurse C (S3); P1 and P2 told by email (the SMTP server), P3 and P4 by
    SMS (the gateway); S2 has a visit with each on Mon and Tue, and a cancelled one."""
    medsec = small_practice(4)
    inbox, port = smtp
    monkeypatch.setenv("TEST_SMS_TOKEN", "tok-123")
    write_config(medsec, "channels.yaml",
                 f"email: {{host: 127.0.0.1, port: {port}, security: none, from: 'Test Clinic <desk@example.org>'}}\n"
                 f"sms: {{url: '{gateway.url}/v1/messages', token_env: TEST_SMS_TOKEN, from: 617-555-0100, "
                 "timeout: 10}\nroutes: {email: email, sms: sms}\n")
    for pid, address in EMAILS.items():
        medsec.ok("patient", "edit", pid, "--email", address, "--preferred-channel", "email")
    for pid in PHONES:
        medsec.ok("patient", "edit", pid, "--preferred-channel", "sms")
    for pid, at, type_name in (("P1", f"{MON} 09:00", "follow-up"), ("P2", f"{MON} 13:00", "physical"),
                               ("P3", f"{TUE} 08:00", "follow-up"), ("P4", f"{TUE} 16:00", "follow-up")):
        medsec.ok("appt", "book", pid, "--provider", "S2", "--at", at, "--type", type_name)
    medsec.ok("appt", "book", "P1", "--provider", "S2", "--at", f"{TUE} 10:00", "--type", "follow-up")
    medsec.ok("appt", "cancel", "A5", "--reason", "patient request")  # not stranded
    medsec.ok("appt", "book", "P2", "--provider", "S1", "--at", f"{MON} 08:00", "--type", "follow-up")  # S1 stays
    medsec.inbox, medsec.gateway = inbox, gateway
    return medsec


STRANDED = ["A1", "A2", "A3", "A4"]


def sms_sent(gateway) -> list[dict]:
    return [json.loads(r["body"]) for r in gateway.requests]


def test_stranded_visits_are_listed_and_nothing_is_written(office):
    before = snapshot(office.home)
    result = office("staff", "off", "S2", *SPAN)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "strands 4 booked visit(s)" in result.stderr
    assert "--reschedule, --cancel-and-notify, --keep" in result.stderr
    for appt_id, name in zip(STRANDED, ["Ana Lopez", "Bo Lind", "Cy Moss", "Di Park"], strict=True):
        line = next(x for x in result.stdout.splitlines() if x.startswith(appt_id + " "))
        assert name in line
    assert "A5" not in result.stdout and "A6" not in result.stdout
    listed = office("staff", "off", "S2", *SPAN, "--json")
    assert listed.exit_code == 1
    assert [(v["id"], v["patient"], v["type"]) for v in listed.json()] == [
        ("A1", "Ana Lopez", "follow-up"), ("A2", "Bo Lind", "physical"), ("A3", "Cy Moss", "follow-up"),
        ("A4", "Di Park", "follow-up")]
    assert snapshot(office.home) == before
    assert office.inbox.messages == [] and office.gateway.requests == []


def test_reversed_range_is_bad_input_and_writes_nothing(office):
    before = snapshot(office.home)
    result = office("staff", "off", "S2", "--from", TUE, "--to", MON, "--reschedule", "--yes")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "before it starts" in result.stderr
    assert snapshot(office.home) == before


def test_choice_without_from_is_bad_input(office):
    before = snapshot(office.home)
    result = office("staff", "off", "S2", "--keep")
    assert result.exit_code == 2 and "go with --from" in result.stderr
    assert snapshot(office.home) == before


def test_reschedule_without_a_terminal_needs_yes(office):
    before = snapshot(office.home)
    result = office("staff", "off", "S2", *SPAN, "--reschedule")
    assert result.exit_code == 1 and "--yes" in result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()[2:]] == STRANDED  # the plan was shown
    assert snapshot(office.home) == before
    assert office.inbox.messages == [] and office.gateway.requests == []


def test_reschedule_moves_each_visit_and_tells_each_patient_once(office):
    summary = office.json("staff", "off", "S2", *SPAN, "--reschedule", "--yes")
    assert summary["stranded"] == "reschedule"
    assert [(v["id"], v["action"]) for v in summary["visits"]] == [(i, "moved") for i in STRANDED]
    for moved in summary["visits"]:
        appt = office.json("appt", "show", moved["id"])  # the same visit: its id and history kept
        assert appt["status"] == "booked" and appt["start"] == moved["start"] and appt["provider"] == moved["provider"]
        day = datetime.fromisoformat(appt["start"]).date()
        assert appt["provider"] != "S2" or not date(2026, 11, 30) <= day <= date(2026, 12, 1)
        actions = [h["action"] for h in appt["history"]]
        assert actions == ["booked", "rescheduled", "patient-notified"]
        assert appt["history"][1]["reason"] == "provider time off"
        assert (appt["history"][2]["status"], appt["history"][2]["notice"]) == ("booked", "sent")
    # each a valid booking: nothing overlaps for a provider, and S2 has nothing in the span
    booked = office.json("appt", "list", "--from", MON, "--to", "2026-12-31", "--status", "booked")
    for a in booked:
        for b in booked:
            if a["id"] < b["id"] and a["provider"] == b["provider"]:
                assert a["end"] <= b["start"] or b["end"] <= a["start"], (a, b)
    assert not [a for a in booked if a["provider"] == "S2" and a["start"][:10] in (MON, TUE)]
    # told once each: two emails at the SMTP server, two texts at the gateway
    recipients = sorted(r for rcpts, _ in office.inbox.messages for r in rcpts)
    assert recipients == sorted(EMAILS.values())
    subjects = [email.message_from_bytes(raw)["Subject"] for _, raw in office.inbox.messages]
    assert all(s.startswith("Your appointment has moved to ") for s in subjects)
    texts = sms_sent(office.gateway)
    assert sorted(t["to"] for t in texts) == sorted(PHONES.values())
    assert all("Dr B is away on" in t["body"] and "Your visit is moved to" in t["body"] for t in texts)
    span = next(s for s in office.json("staff", "off", "S2") if s["from"] == MON)
    assert (span["to"], span["reason"], span["stranded"], span["moved"], span["by"]) == \
        (TUE, "course", "reschedule", STRANDED, "tester")
    assert office.json("task", "list") == []


def test_a_visit_moved_after_its_reminder_is_reminded_again_for_its_new_time(office):
    sunday = {"MEDSEC_NOW": "2026-11-29T10:00:00"}  # A1 (P1, Mon 09:00) has had its 24h reminder
    office.ok("remind", "send", env=sunday)
    reminded = [r for r in office.json("remind", "list") if r["appointment_id"] == "A1"]
    assert [(r["key"], r["status"]) for r in reminded] == [("24h", "sent")]
    moved = office.json("staff", "off", "S2", *SPAN, "--reschedule", "--yes", env=sunday)
    new_start = next(v["start"] for v in moved["visits"] if v["id"] == "A1")
    day_before = datetime.fromisoformat(new_start) - timedelta(hours=23)
    for _ in range(2):  # once: a second run finds it sent
        office.ok("remind", "send", env={"MEDSEC_NOW": day_before.strftime("%Y-%m-%dT%H:%M:%S")})
    reminded = [r for r in office.json("remind", "list") if r["appointment_id"] == "A1"]
    assert sorted((r["appointment_start"], r["status"]) for r in reminded) == sorted(
        [(reminded[0]["appointment_start"], "sent"), (new_start, "sent")])
    assert sum(1 for rcpts, _ in office.inbox.messages if "ana@example.com" in rcpts) == 3  # 24h, moved, 24h


def test_a_letter_that_would_arrive_too_late_becomes_a_call(office):
    office.ok("patient", "edit", "P1", "--preferred-channel", "letter", "--address", "1 Elm Street",
              "--city", "Boston", "--state", "MA", "--zip", "02118")
    sunday = {"MEDSEC_NOW": "2026-11-29T10:00:00"}  # A1 (P1) was Monday 09:00: a letter posted now is late
    summary = office.json("staff", "off", "S2", *SPAN, "--reschedule", "--yes", env=sunday)
    (p1,) = [v for v in summary["visits"] if v["patient_id"] == "P1"]
    assert p1["action"] == "moved" and p1["notice"]["status"] == "failed"
    assert "would not arrive before 2026-11-30" in p1["notice"]["reason"]
    (task,) = [t for t in office.json("task", "list") if t["patient_id"] == "P1"]
    assert task["owner"] == "front-desk" and "call the patient" in task["text"]
    assert not list((office.home / "outbox").glob("letter-*"))  # nothing posted


def test_a_failed_notice_opens_a_task_and_keeps_the_move(office):
    office.gateway.answer = (400, {"error": "number blocked"})
    summary = office.json("staff", "off", "S2", *SPAN, "--reschedule", "--yes")
    assert [v["action"] for v in summary["visits"]] == ["moved"] * 4
    failed = [v for v in summary["visits"] if v["notice"]["status"] == "failed"]
    assert sorted(v["patient_id"] for v in failed) == ["P3", "P4"]
    tasks = office.json("task", "list")
    assert sorted((t["patient_id"], t["owner"], t["source"]) for t in tasks) == \
        [("P3", "front-desk", "A3"), ("P4", "front-desk", "A4")]
    assert all("notice failed" in t["text"] for t in tasks)
    assert len(office.inbox.messages) == 2


def test_no_slot_for_one_visit_refuses_all(office):
    types = read_config(office, "appointment-types.yaml")
    write_config(office, "appointment-types.yaml", types + "  consult: {duration: 30, performers: [S2]}\n")
    office.ok("appt", "book", "P3", "--provider", "S2", "--at", f"{MON} 11:00", "--type", "consult")
    before = snapshot(office.home)
    result = office("staff", "off", "S2", "--from", MON, "--to", "2027-06-30", "--reschedule", "--yes")
    assert result.exit_code == 1
    assert "no free slot for 1 stranded visit(s): A7; nothing changed" in result.stderr
    assert snapshot(office.home) == before
    assert office.inbox.messages == [] and office.gateway.requests == []


def test_cancel_and_notify(office):
    summary = office.json("staff", "off", "S2", *SPAN, "--cancel-and-notify")
    assert [(v["id"], v["action"]) for v in summary["visits"]] == [(i, "cancelled") for i in STRANDED]
    for appt_id in STRANDED:
        appt = office.json("appt", "show", appt_id)
        assert (appt["status"], appt["cancel_reason"]) == ("cancelled", "provider unavailable")
    assert sorted(r for rcpts, _ in office.inbox.messages for r in rcpts) == sorted(EMAILS.values())
    body = email.message_from_bytes(office.inbox.messages[0][1]).get_payload(decode=True).decode()
    assert "Please call" in body and "to rebook" in body
    assert sorted(t["to"] for t in sms_sent(office.gateway)) == sorted(PHONES.values())
    span = next(s for s in office.json("staff", "off", "S2") if s["from"] == MON)
    assert (span["stranded"], span["cancelled"]) == ("cancel", STRANDED)


def test_a_visit_changed_meanwhile_stops_no_other_cancel_or_notice(office, monkeypatch):
    from medsec.errors import Refused
    from medsec.workflows import timeoff

    real = timeoff.appts.cancel

    def cancel(app, appt_id, reason):  # A2 was checked in at another desk after the time off was recorded
        if appt_id == "A2":
            raise Refused("A2 is checked-in; only a booked or confirmed visit is cancelled")
        return real(app, appt_id, reason)

    monkeypatch.setattr(timeoff.appts, "cancel", cancel)
    result = office("staff", "off", "S2", *SPAN, "--cancel-and-notify", "--json")
    assert result.exit_code == 1 and "could not be cancelled: A2" in result.stderr
    assert [(v["id"], v["action"]) for v in result.json()["visits"]] == [
        ("A1", "cancelled"), ("A2", "not cancelled"), ("A3", "cancelled"), ("A4", "cancelled")]
    # the three cancelled are told, A2's patient is not
    assert sorted(r for rcpts, _ in office.inbox.messages for r in rcpts) == ["ana@example.com"]
    assert sorted(t["to"] for t in sms_sent(office.gateway)) == sorted(PHONES.values())
    span = next(s for s in office.json("staff", "off", "S2") if s["from"] == MON)
    assert (span["cancelled"], span["not_cancelled"]) == (["A1", "A3", "A4"], ["A2"])


def test_keep_is_recorded_and_shown_in_report_coverage(office):
    office.ok("staff", "hours", "S3", "--day", "tue", "--off")  # no nurse on Tuesdays
    summary = office.json("staff", "off", "S2", *SPAN, "--keep")
    assert [(v["id"], v["action"]) for v in summary["visits"]] == [(i, "kept") for i in STRANDED]
    span = next(s for s in office.json("staff", "off", "S2") if s["from"] == MON)
    assert (span["stranded"], span["kept"], span["by"]) == ("keep", STRANDED, "tester")
    assert office.inbox.messages == [] and office.gateway.requests == []
    rows = office.json("report", "coverage", "--from", MON, "--to", TUE)
    away = [(r["appointment"], r["patient_id"], r["provider"], r["note"]) for r in rows if r["gap"] == "provider away"]
    assert away == [("A1", "P1", "S2", "kept: provider away"), ("A2", "P2", "S2", "kept: provider away"),
                    ("A3", "P3", "S2", "kept: provider away"), ("A4", "P4", "S2", "kept: provider away")]
    assert [r["date"] for r in rows if r["gap"] == "no nurse on duty"] == [TUE]
    assert [r["date"] for r in rows if r["gap"] == "no front desk"] == [MON, TUE]  # no front desk at all
    table = office.ok("report", "coverage", "--from", MON, "--to", TUE).stdout
    assert "kept: provider away" in table


def test_visit_booked_with_a_provider_without_hours_shows_in_coverage(office):
    office.ok("staff", "off", "S2", *SPAN, "--keep")
    office.ok("staff", "hours", "S1", "--day", "mon", "--off")  # A6 (P2 with S1 on Monday) is now stranded
    rows = office.json("report", "coverage", "--from", MON, "--to", MON)
    assert ("A6", "no working hours") in [(r["appointment"], r["note"]) for r in rows]


def test_time_off_with_no_visits_is_recorded_as_before(office):
    spans = office.json("staff", "off", "S2", "--from", "2026-12-07", "--reason", "dentist")
    assert spans["visits"] == [] and spans["stranded"] == ""
    assert spans["time_off"] == [{"from": "2026-12-07", "to": "2026-12-07", "reason": "dentist"}]


def test_staff_show_prints_hours_readably(office):
    table = office.ok("staff", "show", "S1").stdout
    assert "mon: 08:00-12:00, 13:00-17:00" in table
    csv = office.ok("staff", "show", "S1", "--format", "csv").stdout
    assert 'hours,"mon 08:00-12:00, 13:00-17:00; tue 08:00-12:00, 13:00-17:00;' in csv
    assert "=" not in csv
    assert office.json("staff", "show", "S1")["hours"]["mon"] == [["08:00", "12:00"], ["13:00", "17:00"]]


def test_at_a_terminal_the_moves_wait_for_confirmation(office, tmp_path):
    from helpers.terminal import run_in_terminal, terminal_env

    env = {**terminal_env(office, tmp_path), "TEST_SMS_TOKEN": "tok-123"}
    before = snapshot(office.home)
    declined = run_in_terminal(["staff", "off", "S2", *SPAN, "--reschedule"], env,
                               answers=[("tell each patient?", "n")])
    assert declined.exit_code == 1 and "not confirmed; nothing changed" in declined.screen
    assert "A1" in declined.screen and "A4" in declined.screen  # the plan was shown
    assert snapshot(office.home) == before and office.inbox.messages == []
    agreed = run_in_terminal(["staff", "off", "S2", *SPAN, "--reschedule"], env,
                             answers=[("tell each patient?", "y")])
    assert agreed.exit_code == 0, agreed.screen
    assert [office.json("appt", "show", i)["history"][1]["action"] for i in STRANDED] == ["rescheduled"] * 4
    assert len(office.inbox.messages) == 2 and len(office.gateway.requests) == 2


def test_a_visit_booked_in_the_span_while_the_moves_wait_is_not_left_behind(office, tmp_path):
    from helpers.terminal import run_in_terminal, terminal_env

    env = {**terminal_env(office, tmp_path), "TEST_SMS_TOKEN": "tok-123"}

    def book_at_another_desk() -> str:
        office.ok("appt", "book", "P3", "--provider", "S2", "--at", f"{MON} 15:00", "--type", "follow-up")
        return "y"

    run = run_in_terminal(["staff", "off", "S2", *SPAN, "--reschedule"], env,
                          answers=[("tell each patient?", book_at_another_desk)])
    assert run.exit_code == 1 and "changed meanwhile" in run.screen, run.screen
    assert [office.json("appt", "show", i)["history"][-1]["action"] for i in STRANDED] == ["booked"] * 4
    assert office.json("staff", "off", "S2") == [] and office.inbox.messages == []
    assert office("staff", "off", "S2", *SPAN).exit_code == 1  # it is listed now with the others
    assert "A7" in office("staff", "off", "S2", *SPAN).stdout
