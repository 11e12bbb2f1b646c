"""The practices tests start from, each built by a function of a `Medsec` (see templates.py).

- `init_demo`: the demo practice (8 staff, 300 patients, weeks of appointments).
- `init_practice`: an empty open practice (`init --security open`) with two payers.
- `setup_practice`: a small practice with a hand-checkable schedule, for the scheduling tests.
- `setup_office`: that practice plus a front desk and a biller, every message kind routed to
  the recording test channel (helpers/testchannel.py), for the workflow tests.
"""

import json
from pathlib import Path

from .backends import write_config

PRACTICE = """\
name: Test Clinic
time_zone: America/New_York
rooms:
  - {id: exam1, name: Exam 1, kind: exam}
  - {id: or1, name: Operating room, kind: operating}
closures:
  - {date: 2026-12-25, reason: Christmas Day}
scheduling: {slot_minutes: 15}
"""

TYPES = """\
types:
  follow-up: {duration: 20}
  new-patient: {duration: 60}
  physical: {duration: 30, buffer: 10}
  surgery: {duration: 90, buffer: 30, room_kind: operating, instructions: Nothing to eat after midnight.}
  nurse-visit: {duration: 15, performers: [nurse]}
"""

OFFICE_CHANNELS = ("testchannel: {}\n"
                   "routes: {email: testchannel, sms: testchannel, letter: testchannel, fax: testchannel}\n")


def init_demo(medsec):
    """The demo practice."""
    medsec.ok("init", "--demo")
    return medsec


def init_practice(medsec):
    """An empty open practice (`init --security open`) with two payers."""
    medsec.ok("init", "--security", "open")
    write_config(medsec, "payers.yaml",
                 "payers:\n  - {id: ACME, name: Acme Health}\n  - {id: BETA, name: Beta Mutual}\n")
    return medsec


def setup_practice(medsec, patients=4):
    """Dr A (S1) and Dr B (S2) work Mon-Fri 08-12 and 13-17; nurse S3; patients P1.."""
    medsec.ok("init", "--security", "open")
    write_config(medsec, "practice.yaml", PRACTICE)
    write_config(medsec, "appointment-types.yaml", TYPES)
    write_config(medsec, "payers.yaml", "payers:\n  - {id: ACME, name: Acme Health}\n")
    medsec.ok("staff", "add", "--name", "Dr A", "--role", "physician", "--npi", "1234567893")
    medsec.ok("staff", "add", "--name", "Dr B", "--role", "physician", "--npi", "1245319599")
    medsec.ok("staff", "add", "--name", "Nurse C", "--role", "nurse")
    for sid in ("S1", "S2", "S3"):
        medsec.ok("staff", "hours", sid, "--day", "mon-fri", "--from", "08:00", "--to", "12:00",
                  "--from", "13:00", "--to", "17:00")
    names = ["Ana Lopez", "Bo Lind", "Cy Moss", "Di Park", "Ed Ng", "Flo Roy", "Gus Yu", "Hal Oz"]
    for i in range(patients):
        first, last = names[i % len(names)].split()
        medsec.ok("patient", "add", "--first", first, "--last", f"{last}{'x' * (i // len(names))}",
                  "--dob", f"19{60 + i % 40}-0{1 + i % 9}-1{i % 10}", "--phone", f"617-555-{100 + i:04d}")
    medsec.ok("config", "show")  # reads (and caches) every hand-written file
    return medsec


def use_test_channel(medsec, sent: Path):
    """Load the recording test channel, which appends each message to `sent`;
    `medsec.sent()` lists those messages, oldest first."""
    medsec.env.update({"MEDSEC_PLUGINS": "helpers.testchannel", "MEDSEC_TEST_SENT": str(sent)})
    medsec.sent = lambda: [json.loads(x) for x in sent.read_text().splitlines()] if sent.exists() else []
    return medsec


def setup_office(medsec):
    """S1 Dr A and S2 Dr B (physicians), S3 nurse, S4 front desk (fran@example.org), S5 biller; P1..P4;
    every message kind goes to the test channel (its messages land next to the data directory)."""
    use_test_channel(medsec, medsec.home.parent / "sent.jsonl")
    setup_practice(medsec, patients=4)
    medsec.ok("staff", "add", "--name", "Fran Desk", "--role", "front-desk", "--email", "fran@example.org")
    medsec.ok("staff", "add", "--name", "Bill Biller", "--role", "biller")
    write_config(medsec, "channels.yaml", OFFICE_CHANNELS)
    medsec.ok("config", "show")
    return medsec
