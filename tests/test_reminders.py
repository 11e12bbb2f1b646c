"""Reminders through the real CLI with a recording test channel (see helpers/testchannel.py)."""


import pytest
from helpers.backends import write_config
from helpers.files import snapshot
from helpers.practices import use_test_channel

pytestmark = pytest.mark.both_backends

CHANNELS = """\
testchannel: {}
routes: {email: testchannel, sms: testchannel, voice: testchannel, letter: testchannel, fax: testchannel}
"""


@pytest.fixture
def office(small_practice, tmp_path):
    medsec = use_test_channel(small_practice(6), tmp_path / "sent.jsonl")
    write_config(medsec, "channels.yaml", CHANNELS)
    medsec.ok("config", "show")
    return medsec


def book(m, patient, at, **kw):
    return m.json("appt", "book", patient, "--provider", "S1", "--at", at, "--type", "follow-up", **kw)


def test_cron_mode_sends_each_due_reminder_once(office):
    book(office, "P1", "2026-11-27 09:00")  # 23 h ahead: due (24 h lead)
    book(office, "P2", "2026-11-27 11:00")  # 25 h ahead: not yet
    first = office("remind", "send", "--json")
    assert first.exit_code == 0, first.stderr
    assert [(r["appointment_id"], r["status"], r["key"]) for r in first.json()] == [("A1", "sent", "24h")]
    assert office.json("remind", "send") == []
    later = office.json("remind", "send", env={"MEDSEC_NOW": "2026-11-26T11:30:00"})
    assert [(r["appointment_id"], r["status"]) for r in later] == [("A2", "sent")]
    sent = office.sent()
    assert [(m["kind"], m["to"]) for m in sent] == [("sms", "617-555-0100"), ("sms", "617-555-0101")]
    assert "Fri 11/27 at 9:00 AM" in sent[0]["body"]


def test_for_a_day_whatever_the_lead_time(office):
    book(office, "P1", "2026-11-30 09:00")
    book(office, "P2", "2026-11-30 10:00")
    assert [r["status"] for r in office.json("remind", "send", "--for", "2026-11-30")] == ["sent", "sent"]
    assert office.json("remind", "send", "--for", "2026-11-30") == []
    assert office.json("remind", "send", "--within", "5d") == []  # the manual reminder went already


def test_email_reminder_carries_the_appointment(office):
    office.ok("patient", "edit", "P1", "--email", "ana@example.com", "--preferred-channel", "email",
              "--language", "es")
    book(office, "P1", "2026-11-27 09:00")
    office.ok("remind", "send")
    (message,) = office.sent()
    assert message["kind"] == "email" and message["to"] == "ana@example.com"
    assert message["subject"].startswith("Recordatorio") and message["attachments"] == ["appointment.ics"]


def test_problems_are_per_patient_and_the_batch_goes_on(office):
    office.ok("patient", "edit", "P1", "--no-reminders")
    office.ok("patient", "edit", "P2", "--clear", "phone")  # nothing to reach them by
    office.ok("patient", "edit", "P3", "--email", "bounce@example.com", "--preferred-channel", "email")
    office.ok("patient", "edit", "P4", "--email", "flaky@example.com", "--preferred-channel", "email")
    office.ok("patient", "edit", "P5", "--language", "fr")
    override = office.home / "templates" / "messages" / "reminder-sms"
    override.mkdir(parents=True)
    (override / "fr.txt.j2").write_text("Rappel: {{ appointment.time }} {{ patient.nickname }}\n")
    for pid, at in zip(["P1", "P2", "P3", "P4", "P5", "P6"], ["08:00", "08:20", "08:40", "09:00", "09:20", "09:40"],
                       strict=True):
        book(office, pid, f"2026-11-27 {at}")
    result = office("remind", "send", "--json")
    assert result.exit_code == 1
    by_patient = {r["patient_id"]: r for r in result.json()}
    assert by_patient["P1"]["status"] == "skipped" and "opted out" in by_patient["P1"]["reason"]
    assert by_patient["P2"]["status"] == "failed" and "no letter contact" in by_patient["P2"]["reason"]
    assert by_patient["P3"]["status"] == "failed" and "no such mailbox" in by_patient["P3"]["reason"]
    assert by_patient["P4"]["status"] == "retry" and by_patient["P4"]["next_try"] == "2026-11-26T10:05:00-05:00"
    assert by_patient["P5"]["status"] == "failed" and "nickname" in by_patient["P5"]["reason"]
    assert by_patient["P6"]["status"] == "sent"
    assert "medsec: error: 4 reminder(s) not sent" in result.stderr
    assert "P3: failed" in result.stderr
    assert {r["patient_id"] for r in office.json("remind", "list", "--failed")} == {"P2", "P3", "P5"}
    # the temporary failure is retried once its time comes, to the address on file then
    office.ok("patient", "edit", "P4", "--email", "p4@example.com")
    assert office.json("remind", "send", env={"MEDSEC_NOW": "2026-11-26T10:02:00"}) == []
    retried = office.json("remind", "send", env={"MEDSEC_NOW": "2026-11-26T10:06:00"})
    assert [(r["patient_id"], r["status"], r["attempts"]) for r in retried] == [("P4", "sent", 2)]
    assert office.json("remind", "send", env={"MEDSEC_NOW": "2026-11-26T10:30:00"}) == []


BAD = [
    (["remind", "send", "--channel", "pigeon"], "unknown channel 'pigeon'"),
    (["remind", "send", "--within", "soon"], "--within"),
    (["remind", "send", "--for", "2026-02-30"], "2026-02-30"),
]


@pytest.mark.parametrize("args,text", BAD)
def test_bad_input_sends_and_writes_nothing(office, args, text):
    book(office, "P1", "2026-11-27 09:00")
    before = snapshot(office.home)
    result = office(*args)
    assert result.exit_code == 2 and text in result.stderr
    assert snapshot(office.home) == before and office.sent() == []


def test_template_syntax_error_stops_before_sending(office):
    book(office, "P1", "2026-11-27 09:00")
    override = office.home / "templates" / "messages" / "reminder-sms"
    override.mkdir(parents=True)
    (override / "en.txt.j2").write_text("Hello\n{% if patient.first %}\nno endif\n")
    before = snapshot(office.home)
    result = office("remind", "send")
    assert result.exit_code == 2
    assert "messages/reminder-sms/en.txt.j2:3: template syntax error" in result.stderr
    assert snapshot(office.home) == before and office.sent() == []
    assert office("config", "check").exit_code == 3


def test_preview_shows_exactly_what_goes_out(office):
    appt = book(office, "P1", "2026-11-27 09:00")
    shown = office.json("remind", "preview", appt["id"])
    assert shown["to"] == "617-555-0100" and shown["channel"] == "testchannel" and shown["kind"] == "sms"
    office.ok("remind", "send")
    assert office.sent()[0]["body"] == shown["text"]
    table = office.ok("remind", "preview", appt["id"]).stdout
    assert table.startswith("To: 617-555-0100 (testchannel, sms)")
