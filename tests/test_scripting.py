"""Scripting: '-' for standard input and output, JSON Lines, --quiet for cron, and the fields of
`remind send`'s JSON.

The pipe and `remind send --quiet` run the installed command (the issue asks for it); the
rest run in-process.
"""

import io
import json
import shlex
import subprocess
import sys

import pytest
from helpers.backends import write_config
from helpers.cli import MEDSEC_BIN
from helpers.terminal import run_in_terminal, terminal_env

from medsec import inputs, outputs
from medsec.cli.remind import SENT_FIELDS
from medsec.errors import InvalidInput

# Every command that prints a summary (what it imported, sent, wrote or checked) takes --quiet.
SUMMARY_COMMANDS = ["remind send", "remind retry", "appt noshow", "appt import", "appt export", "patient import",
                    "patient export", "code import", "lab import", "claim export", "claim batch", "claim post-remit",
                    "mail send", "check", "store copy", "report aging", "report noshows"]


def _booked(practice, channel="letter"):
    """Dr. Ann Lee (S1) works Fridays; P1 writes by post, P2 by email (not set up); both booked
    Friday, the day after the tests' clock, so their 24-hour reminders are due."""
    practice.ok("staff", "add", "--name", "Dr. Ann Lee", "--role", "physician", "--npi", "1234567893")
    practice.ok("staff", "hours", "S1", "--day", "fri", "--from", "08:00", "--to", "17:00")
    practice.ok("patient", "add", "--first", "Al", "--last", "Post", "--dob", "1970-01-01", "--preferred-channel",
                channel, "--address", "1 Main St", "--city", "Boston", "--state", "MA", "--zip", "02115",
                "--email", "al@example.org")
    practice.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-27 09:00", "--type", "follow-up")
    return practice


def test_export_pipes_into_import_of_another_practice(two_patients, tmp_path):
    other = tmp_path / "other"
    env = {**two_patients.env, "MEDSEC_HOME": str(other)}
    subprocess.run([MEDSEC_BIN, "init", "--security", "open"], env=env, check=True, capture_output=True)
    medsec = shlex.quote(MEDSEC_BIN)
    pipe = (f"MEDSEC_HOME={shlex.quote(str(two_patients.home))} {medsec} patient export --format csv"
            f" | MEDSEC_HOME={shlex.quote(str(other))} {medsec} patient import - --dry-run --json")
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", pipe], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["would_import"] == 2
    # The issue's own line, into the same practice: every row is read (and found to be there already).
    same = subprocess.run(["bash", "-c", f"{medsec} patient export --format csv | {medsec} patient import - "
                                         "--dry-run"], env=two_patients.env, capture_output=True, text=True)
    assert same.returncode == 1 and "cannot read" not in same.stderr  # refused: duplicates
    assert "2 of 2 rows" in same.stderr


def test_every_reader_takes_standard_input(small_practice):
    office = small_practice()
    office.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-27 09:00", "--type", "follow-up")
    calendar = office.ok("appt", "export", "--ics", "-", "--from", "2026-11-27", "--to", "2026-11-27")
    assert calendar.stdout.startswith("BEGIN:VCALENDAR") and "file  " in calendar.stderr  # summary on stderr
    back = office.json("appt", "import", "-", "--dry-run", input=calendar.stdout)
    assert (back["events"], back["skipped_known_uids"]) == (1, 1)
    codes = office("code", "import", "-", "--dry-run", "--input-format", "codes-csv",
                   input="code,description,fee,system\n99499,Unlisted visit,10.00,CPT\n")
    assert codes.exit_code == 0, codes.stderr


def test_standard_input_is_read_once_under_the_same_limit(monkeypatch):
    data = b"first,last,dob\nAnn,Smith,1970-01-01\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    with inputs.open_input("-", inputs.PATIENT_IMPORT) as first, inputs.open_text("-", inputs.PATIENT_IMPORT) as again:
        assert first.read(5) == b"first" and again.read() == data.decode()  # each open reads from the start
    assert inputs.read_input("-", inputs.PATIENT_IMPORT) == data
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))  # a new command's standard input
    monkeypatch.setitem(inputs.LIMITS, inputs.PATIENT_IMPORT, 10)
    with pytest.raises(InvalidInput, match="standard input is over the 10 bytes limit for a patient import"):
        inputs.read_input("-", inputs.PATIENT_IMPORT)


def test_standard_input_on_a_terminal_is_refused(practice, tmp_path):
    shown = run_in_terminal(["patient", "import", "-", "--dry-run"], terminal_env(practice, tmp_path))
    assert shown.exit_code == 2
    assert "'-' reads standard input, which is a terminal here" in shown.screen


def test_a_binary_document_is_not_written_to_a_terminal(monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    with pytest.raises(InvalidInput, match="binary document to the terminal"):
        outputs.write_output("-", b"%PDF-1.4\n\0\x01\x02")


def test_json_lines(two_patients):
    listed = two_patients.json("patient", "list")
    lines = two_patients.ok("patient", "list", "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line) for line in lines] == listed
    one = two_patients.ok("patient", "show", "P1", "--format", "jsonl").stdout
    assert one.count("\n") == 1 and json.loads(one) == two_patients.json("patient", "show", "P1")
    exported = two_patients.ok("patient", "export", "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line)["id"] for line in exported] == ["P1", "P2"]
    assert two_patients.ok("call", "list", "--format", "jsonl").stdout == ""  # no records: no lines


def test_remind_send_quiet_prints_nothing_when_nothing_was_due(practice):
    quiet = practice.run("remind", "send", "--quiet")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    told = practice.run("remind", "send")
    assert "due" in told.stdout and "due 0: sent 0" in told.stderr  # without --quiet: the summary


def test_remind_send_quiet_still_reports_what_failed(practice):
    _booked(practice, channel="email")  # the email channel is not set up: the reminder waits
    failed = practice.run("remind", "send", "--quiet", check=False)
    assert failed.returncode == 1 and failed.stdout == ""
    assert "to fix: channel 'email' is not set up" in failed.stderr and "1 reminder(s) not sent" in failed.stderr


def test_remind_send_json_has_its_documented_fields(practice):
    _booked(practice, "email")  # (a letter for tomorrow would not arrive in time: skipped)
    write_config(practice, "channels.yaml", "routes: {email: outbox}\n")
    planned = practice.json("remind", "send", "--dry-run")
    assert [list(r) for r in planned] == [list(SENT_FIELDS)]
    assert planned[0]["id"] is None and planned[0]["status"] == "would-send"  # nothing made: no placeholder id
    sent = [json.loads(line) for line in practice.ok("remind", "send", "--format", "jsonl").stdout.splitlines()]
    assert [(r["id"], r["status"], r["channel"], r["key"]) for r in sent] == [("R1", "sent", "outbox", "24h")]
    assert list(sent[0]) == list(SENT_FIELDS) and "claimed_by" not in sent[0]
    assert practice.ok("remind", "send", "--quiet").stdout == ""  # sent once; nothing due now


def test_every_command_that_prints_a_summary_takes_quiet():
    from medsec.cli.reference import command_tree

    tree = {" ".join(ctx.command_path.split()[1:]): ctx.command for ctx in command_tree()}
    without = [path for path in SUMMARY_COMMANDS if "--quiet" not in {o for p in tree[path].params for o in p.opts}]
    assert without == []


def test_quiet_silences_the_summary_not_the_document(small_practice):
    office = small_practice()
    office.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-27 09:00", "--type", "follow-up")
    quiet = office.ok("appt", "export", "--ics", "-", "--quiet")
    assert quiet.stdout.startswith("BEGIN:VCALENDAR") and quiet.stderr == ""
    assert office.ok("check", "--quiet").stderr == ""
    assert office.ok("check").stderr == "data directory ok\n"
