"""A small practice with a hand-checkable schedule, for the scheduling tests."""

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


def setup_practice(medsec, patients=4):
    """Dr A (S1) and Dr B (S2) work Mon-Fri 08-12 and 13-17; nurse S3; patients P1.."""
    medsec.ok("init")
    (medsec.home / "practice.yaml").write_text(PRACTICE)
    (medsec.home / "appointment-types.yaml").write_text(TYPES)
    (medsec.home / "payers.yaml").write_text("payers:\n  - {id: ACME, name: Acme Health}\n")
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
