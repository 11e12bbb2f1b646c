"""No change without its audit entry, no PHI read unaudited, and a roll-forward audited in
the name of whoever began it (issue 11, item 6).

Machines run as root, whom file modes do not stop: an audit log "that cannot be written"
is made here by putting a file where its folder goes, or a folder where its month file goes.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import zlib
from pathlib import Path

import orjson
import pytest
from helpers.cli import MEDSEC_BIN
from helpers.faults import Fault, faulty_files
from helpers.files import snapshot

from medsec.fileio import write_atomic
from medsec.store import Store, Transaction
from medsec.store.catalog import PATIENTS
from medsec.store.journal import JOURNAL, JOURNAL_MAGIC, JOURNAL_MAGIC_V2

ADD = ("patient", "add", "--first", "Zed", "--last", "Zorn", "--dob", "1980-01-01")
MONTH_FILE = "2026-11.jsonl"  # the tests' clock: 2026-11-26


def audit_lines(home: Path) -> list[dict]:
    return [json.loads(line) for f in sorted((home / "audit").glob("*.jsonl"))
            for line in f.read_text().splitlines() if line.strip()]


def data_files(home: Path) -> dict:
    return {k: v for k, v in snapshot(home).items() if k not in (".lock", JOURNAL)}


def block_audit(home: Path, how: str) -> None:
    """Make the audit log impossible to append to."""
    if how == "folder is a file":
        for f in (home / "audit").glob("*"):
            f.unlink()
        (home / "audit").rmdir()
        (home / "audit").write_text("not a folder\n")
    else:  # "month file is a folder"
        (home / "audit" / MONTH_FILE).unlink(missing_ok=True)
        (home / "audit" / MONTH_FILE).mkdir()


def unblock_audit(home: Path) -> None:
    if (home / "audit").is_file():
        (home / "audit").unlink()
        (home / "audit").mkdir(mode=0o700)
    elif (home / "audit" / MONTH_FILE).is_dir():
        (home / "audit" / MONTH_FILE).rmdir()


@pytest.mark.parametrize("how", ["folder is a file", "month file is a folder"])
@pytest.mark.parametrize("command", [ADD, ("patient", "note", "P1", "called back"),
                                     ("appt", "book", "P1", "--provider", "S1", "--at", "2026-12-01 09:00",
                                      "--type", "follow-up")])
def test_a_change_that_cannot_be_audited_is_not_made(small_practice, how, command):
    office = small_practice(2)
    block_audit(office.home, how)
    before = data_files(office.home)
    result = office(*command)
    assert result.exit_code == 3 and result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    assert "the audit log cannot be written" in result.stderr and "nothing was read or changed" in result.stderr
    assert data_files(office.home) == before and not (office.home / JOURNAL).exists()
    unblock_audit(office.home)
    assert office.ok("check")


@pytest.mark.parametrize("how", ["folder is a file", "month file is a folder"])
@pytest.mark.parametrize("command", [("patient", "show", "P1"), ("patient", "find", "smith"),
                                     ("patient", "list"), ("patient", "export", "--format", "json")])
def test_a_read_that_cannot_be_audited_is_refused_and_shows_nothing(two_patients, how, command):
    block_audit(two_patients.home, how)
    result = two_patients(*command)
    assert result.exit_code == 3 and result.stdout == "", result.stderr
    assert result.stderr.count("\n") == 1 and "the audit log cannot be written" in result.stderr
    assert "refused, nothing was read or changed" in result.stderr


def test_a_change_is_audited_as_begun_before_it_is_made_and_the_entries_share_its_commit(two_patients):
    two_patients.ok(*ADD)
    entries = audit_lines(two_patients.home)[-2:]
    assert [(e["action"], e["outcome"], e["command"], e["user"]) for e in entries] == [
        ("commit", "begun", "patient add", "tester"), ("create", "ok", "patient add", "tester")]
    assert entries[0]["commit"] == entries[1]["commit"] and len(entries[0]["commit"]) == 12
    assert entries[1]["ids"] == ["P3"]
    # A read after it names no commit.
    two_patients.ok("patient", "show", "P3")
    assert "commit" not in audit_lines(two_patients.home)[-1]


def plant_v3(home: Path, files: list[tuple[str, bytes]], begun) -> bytes:
    body = orjson.dumps({"begun": begun, "files": [[rel, data.decode()] for rel, data in files]})
    raw = JOURNAL_MAGIC + b"%d %08x\n" % (len(body), zlib.crc32(body)) + body
    write_atomic(str(home / JOURNAL), raw)
    return raw


def a_commit(home: Path) -> list[tuple[str, bytes]]:
    """A multi-file commit, serialized but not applied: P1 renamed Annabel (shard and name index)."""
    store = Store(str(home))
    with store.lock():
        txn = Transaction(store.root)
        old = txn.get(PATIENTS, "P1")
        txn.put(PATIENTS, {**old, "first": "Annabel"}, old)
        files = txn.serialized()
    assert len(files) > 1
    return files


def test_a_journal_of_the_previous_format_is_still_rolled_forward_and_audited(two_patients):
    home = two_patients.home
    body = orjson.dumps([[rel, data.decode()] for rel, data in a_commit(home)])
    write_atomic(str(home / JOURNAL), JOURNAL_MAGIC_V2 + b"%d %08x\n" % (len(body), zlib.crc32(body)) + body)
    result = two_patients("patient", "show", "P1", "--json")
    assert result.exit_code == 0 and result.json()["first"] == "Annabel", result.stderr
    assert "completing an interrupted change begun by an earlier medsec command" in result.stderr
    recovered = [e for e in audit_lines(home) if e["action"] == "recovered"]
    assert [(e["user"], e["command"], e["completed_by"]) for e in recovered] == [
        ("unknown", "unknown", "patient show (tester)")]
    two_patients.ok("check")


@pytest.mark.parametrize("begun", ["maria", ["maria"], {"user": 7}])
def test_a_journal_whose_begun_is_not_medsecs_is_damage_and_kept(two_patients, begun):
    home = two_patients.home
    before = data_files(home)
    planted = plant_v3(home, a_commit(home), begun)
    result = two_patients("patient", "show", "P1")
    assert result.exit_code == 3 and result.stdout == "" and result.stderr.count("\n") == 1
    assert "journal" in result.stderr and "medsec check" in result.stderr
    assert (home / JOURNAL).read_bytes() == planted and data_files(home) == before


def test_a_roll_forward_that_cannot_be_audited_waits_in_the_journal(two_patients, monkeypatch):
    home = two_patients.home
    begun = {"commit": "c0ffee000001", "user": "maria", "command": "patient edit",
             "at": "2026-11-26T09:59:00-05:00"}
    planted = plant_v3(home, a_commit(home), begun)
    before = data_files(home)
    block_audit(home, "month file is a folder")  # refused before anything is read
    result = two_patients("patient", "list")
    assert result.exit_code == 3 and result.stdout == "" and result.stderr.count("\n") == 1
    assert "the audit log cannot be written" in result.stderr
    assert (home / JOURNAL).read_bytes() == planted and data_files(home) == before
    unblock_audit(home)
    with faulty_files(monkeypatch, Fault("write", 1, errno.ENOSPC)):  # the disk fills on the "recovered" entry
        result = two_patients("patient", "list")
    assert result.exit_code == 3 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "medsec: completing an interrupted change begun by 'patient edit' of maria at 2026-11-26T09:59:00-05:00",
        "medsec: error: an interrupted change could not be completed: no space left on device: "
        "the change is recorded in the journal and will be completed by the next medsec command "
        "(free space or mend the disk first)"]
    assert (home / JOURNAL).read_bytes() == planted and data_files(home) == before
    result = two_patients("patient", "show", "P1", "--json")
    assert result.exit_code == 0 and result.json()["first"] == "Annabel"
    recovered = [e for e in audit_lines(home) if e["action"] == "recovered"]
    assert [(e["user"], e["command"], e["commit"], e["began"], e["completed_by"]) for e in recovered] == [
        ("maria", "patient edit", "c0ffee000001", "2026-11-26T09:59:00-05:00", "patient show (tester)")]
    two_patients.ok("check")


# A real process killed between its journal and the files it names: the `replace` after the
# journal's own rename is where it dies (SIGKILL, nothing cleaned up).
KILLED = r'''
import os, signal, sys
sys.path.insert(0, sys.argv[1])
from helpers.faults import FaultyOS
from medsec import fileio
from medsec.cli import cli

class Dies(FaultyOS):
    def replace(self, src, dst):
        if os.path.basename(dst) != "journal" and self.counts["replace"] >= 1:
            os.kill(os.getpid(), signal.SIGKILL)
        super().replace(src, dst)

fileio.os = Dies()
cli.main(args=sys.argv[2:], prog_name="medsec")
'''


def test_an_import_killed_after_its_journal_is_completed_by_the_next_command_and_audited(two_patients, tmp_path):
    home = two_patients.home
    csv = tmp_path / "new.csv"
    csv.write_text("first,last,dob\nIda,Imp,1971-01-01\nJo,Imp,1972-02-02\n")
    env = {**os.environ, **two_patients.env, "MEDSEC_USER": "maria"}
    proc = subprocess.run([sys.executable, "-c", KILLED, str(Path(__file__).parent), "patient", "import", str(csv)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (home / JOURNAL).exists()
    result = subprocess.run([MEDSEC_BIN, "patient", "find", "imp", "--json"], env=two_patients.env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert sorted(p["first"] for p in json.loads(result.stdout)) == ["Ida", "Jo"]
    assert result.stderr.startswith(
        "medsec: completing an interrupted change begun by 'patient import' of maria at 2026-11-26T10:00:00")
    entries = audit_lines(home)
    begun = [e for e in entries if e["action"] == "commit" and e["user"] == "maria"]
    recovered = [e for e in entries if e["action"] == "recovered"]
    assert [(e["user"], e["command"], e["commit"], e["completed_by"]) for e in recovered] == [
        ("maria", "patient import", begun[0]["commit"], "patient find (tester)")]
    assert not any(e["action"] == "import" for e in entries)  # the killed process never said "done"
    # The killed process's temp files (written before its first rename) are all that is left:
    # swept by a repair, then all is clean.
    check = subprocess.run([MEDSEC_BIN, "check", "--repair", "--json"], env=two_patients.env,
                           capture_output=True, text=True, timeout=60)
    problems = {(p["problem"].split()[0], p["repaired"]) for p in json.loads(check.stdout)}
    assert problems == {("leftover", True)}
    two_patients.ok("check")
