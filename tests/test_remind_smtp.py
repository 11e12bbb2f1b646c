"""Reminders over real SMTP (aiosmtpd on loopback): two cron jobs at once, each reminder once."""

import email
import os
import subprocess

import pytest
import vobject
from helpers.backends import read_config, write_config
from helpers.cli import MEDSEC_BIN, finish
from helpers.practices import setup_practice

pytestmark = pytest.mark.both_backends


def email_channel(port):
    return f"email: {{host: 127.0.0.1, port: {port}, security: none, from: 'Test Clinic <desk@example.org>'}}\n"


def email_practice(medsec, port, patients):
    setup_practice(medsec, patients=0)
    types = read_config(medsec, "appointment-types.yaml")
    write_config(medsec, "appointment-types.yaml",
                 types + "  quick: {duration: 5, lead_hours: [48], performers: [physician, nurse]}\n")
    write_config(medsec, "channels.yaml", email_channel(port))
    rows = ["first,last,dob,email,preferred_channel"]
    rows += [f"Pat,Person{chr(97 + i // 26)}{chr(97 + i % 26)},1980-01-01,p{i}@example.com,email"
             for i in range(patients)]
    csv_path = medsec.home.parent / "patients.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    medsec.ok("patient", "import", csv_path)
    medsec.ok("config", "show")


def test_reminder_email_arrives_with_ics(medsec, smtp):
    inbox, port = smtp
    email_practice(medsec, port, 1)
    medsec.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-27 09:00", "--type", "follow-up")
    medsec.ok("remind", "send")
    ((rcpt, raw),) = inbox.messages
    assert rcpt == ["p0@example.com"]
    msg = email.message_from_bytes(raw)
    assert msg["Subject"].startswith("Reminder: your appointment on Friday, November 27, 2026 at 9:00 AM")
    parts = {p.get_content_type(): p for p in msg.walk()}
    assert "Dear Pat Personaa" in parts["text/plain"].get_payload(decode=True).decode()
    ics = parts["text/calendar"].get_payload(decode=True).decode()
    event = vobject.readOne(ics, validate=True).vevent
    assert event.dtstart.value.isoformat() == "2026-11-27T09:00:00-05:00"


def booked_practice(medsec):
    """200 patients reached by email, each booked for a quick visit on the 27th (its reminder due
    now); the email channel's port is set by the test, to its own SMTP server's."""
    email_practice(medsec, 1, 200)
    booked = 0
    for provider, blocks in (("S1", [(8, 12), (13, 17)]), ("S2", [(8, 12), (13, 17)]), ("S3", [(8, 12)])):
        for first_hour, last_hour in blocks:
            for minute in range((last_hour - first_hour) * 60 // 5):
                if booked == 200:
                    break
                booked += 1
                at = f"2026-11-27 {first_hour + minute // 12:02d}:{minute % 12 * 5:02d}"
                medsec.ok("appt", "book", f"P{booked}", "--provider", provider, "--at", at, "--type", "quick")
    assert booked == 200
    return medsec


def test_two_cron_jobs_send_each_reminder_once(medsec, smtp, templates):
    inbox, port = smtp
    templates.copy(medsec, booked_practice)  # (built once: 200 bookings take seconds on PostgreSQL)
    write_config(medsec, "channels.yaml", email_channel(port))
    medsec.ok("config", "show")
    env = {**os.environ, **medsec.env}
    procs = [subprocess.Popen([MEDSEC_BIN, "remind", "send", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outputs = [finish(p, 300) for p in procs]
    assert [code for code, _, _ in outputs] == [0, 0], outputs
    recipients = [r for rcpts, _ in inbox.messages for r in rcpts]
    assert len(recipients) == 200 and len(set(recipients)) == 200
    records = medsec.json("remind", "list")
    assert len(records) == 200 and {r["status"] for r in records} == {"sent"}
    assert len({r["appointment_id"] for r in records}) == 200
    medsec.ok("remind", "send")
    assert len(inbox.messages) == 200  # nothing more is due


def test_smtp_down_means_retry_later(medsec, smtp):
    inbox, port = smtp
    email_practice(medsec, port, 1)
    write_config(medsec, "channels.yaml",
                 "email: {host: 127.0.0.1, port: 1, security: none, from: desk@example.org, timeout: 2}\n")
    medsec.ok("config", "show")
    medsec.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-27 09:00", "--type", "follow-up")
    result = medsec("remind", "send", "--json")
    assert result.exit_code == 1 and result.json()[0]["status"] == "retry"
