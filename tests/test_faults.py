"""A failure at every write, fsync and rename of a multi-file commit (ENOSPC, EIO, EROFS):
all before or all after, a message that says which, an audit that matches, a clean check.

Each command runs in-process with medsec.fileio on a FaultyOS (tests/helpers/faults.py).
A clean run counts its calls; then every one of them is made to fail, each on a fresh copy
of the same data directory, and the outcome is judged against the clean run's files.
"""

import errno
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from helpers.cli import Medsec, cli_env
from helpers.faults import Fault, every_fault, faulty_files

from medsec.store.journal import JOURNAL

ERRORS = {"write": (errno.ENOSPC, errno.EIO), "fsync": (errno.EIO, errno.ENOSPC),
          "replace": (errno.ENOSPC, errno.EIO, errno.EROFS)}

NOT_MADE = "the change was not made; nothing changed"
JOURNALED = "the change is recorded in the journal and will be completed by the next medsec command"
MADE = "the change was made, but the disk did not confirm it"
ROLL_FORWARD = "medsec: completing an interrupted change begun by '{command}' of tester at 2026-11-26T10:00:00"

COMMANDS = {
    "patient add": ("patient", "add", "--first", "Zed", "--last", "Zorn", "--dob", "1980-01-01",
                    "--phone", "617-555-0199"),
    "appt book": ("appt", "book", "P1", "--provider", "S1", "--at", "2027-03-01 09:00", "--type", "follow-up"),
    "patient import": ("patient", "import", "{csv}"),
}
# (practice fixture, command): the small practice for every command, the demo (300 patients,
# weeks of appointments: bigger shards and indexes) for the two hot ones.
SCENARIOS = [("small_base", "patient add"), ("small_base", "appt book"), ("small_base", "patient import"),
             ("demo_base", "patient add"), ("demo_base", "appt book")]
IMPORT_CSV = ("first,last,dob,phone\n"
              "Ida,Imp,1971-01-01,617-555-0301\nJo,Imp,1972-02-02,617-555-0302\nKit,Imp,1973-03-03,\n")


def data_files(home: Path) -> dict[str, bytes]:
    """Every file the records live in (the audit log and the journal apart)."""
    return {str(p.relative_to(home)): p.read_bytes() for p in sorted(home.rglob("*"))
            if p.is_file() and p.relative_to(home).parts[0] != "audit" and p.name != JOURNAL}


def audit_lines(home: Path) -> list[dict]:
    return [json.loads(line) for f in sorted((home / "audit").glob("*.jsonl"))
            for line in f.read_text().splitlines() if line.strip()]


def temp_files(home: Path) -> list[str]:
    return [str(p) for p in home.rglob("*.tmp-*")]


class Trial:
    """One command on a fresh copy of `base`, with one fault (or none)."""

    def __init__(self, base: Path, home: Path, args: tuple[str, ...]):
        shutil.copytree(base, home, symlinks=True)
        self.home = home
        self.medsec = Medsec(home, cli_env(home))
        self.args = args
        self.audit_before = len(audit_lines(home))

    def run(self, monkeypatch, fault: Fault | None):
        with faulty_files(monkeypatch, fault) as faulty:
            result = self.medsec(*self.args)
        return result, faulty

    def new_audit(self) -> list[dict]:
        return audit_lines(self.home)[self.audit_before:]


@pytest.fixture
def small_base(small_practice, tmp_path) -> Path:
    """The small practice (4 patients, 3 staff) with an import file beside it."""
    (tmp_path / "import.csv").write_text(IMPORT_CSV)
    return small_practice(4).home


@pytest.fixture
def demo_base(demo) -> Path:
    return demo.home


def command_args(name: str, tmp_path: Path) -> tuple[str, ...]:
    return tuple(a.format(csv=tmp_path / "import.csv") for a in COMMANDS[name])


@pytest.mark.parametrize(("practice", "command"), SCENARIOS)
def test_a_fault_at_every_write_fsync_and_rename_leaves_all_or_nothing(request, tmp_path, monkeypatch,
                                                                       practice, command):
    base = request.getfixturevalue(practice)
    args = command_args(command, tmp_path)
    before = data_files(base)
    clean = Trial(base, tmp_path / "clean", args)
    result, counted = clean.run(monkeypatch, None)
    assert result.exit_code == 0, result.stderr
    after = data_files(clean.home)
    assert after != before and counted.counts["replace"] >= 3  # a multi-file commit, journaled

    outcomes: Counter[str] = Counter()
    faults = every_fault(counted.counts, ERRORS)
    for i, fault in enumerate(faults):
        trial = Trial(base, tmp_path / f"trial{i}", args)
        result, faulty = trial.run(monkeypatch, fault)
        assert faulty.fired, fault
        outcome = judge(trial, result, fault, command, before, after)
        outcomes[outcome] += 1
        shutil.rmtree(trial.home)
    print(f"\n{practice} {command}: {len(faults)} faults at {sum(counted.counts.values())} calls "
          f"({dict(counted.counts)}): {dict(outcomes)}")
    # Faults fell on each side of the commit point, and on the audit after it.
    assert outcomes["not made"] and outcomes["journaled"] and outcomes["audited as begun"], outcomes


def judge(trial: Trial, result, fault: Fault, command: str, before: dict, after: dict) -> str:
    """Check one faulty run and what the next command makes of it; the outcome's name."""
    home = trial.home
    where = f"{command} with {fault}: {result.stderr!r}"
    assert temp_files(home) == [], where
    if result.exit_code == 0:
        return judge_unaudited_end(trial, result, where, after)
    assert result.exit_code == 3 and result.stdout == "", where
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("medsec: error: "), where
    if NOT_MADE in result.stderr:
        outcome = "not made"
        assert data_files(home) == before and not (home / JOURNAL).exists(), where
    elif JOURNALED in result.stderr:
        outcome = "journaled"
        assert (home / JOURNAL).exists(), where
    else:
        assert MADE in result.stderr, where
        outcome = "made"
        assert data_files(home) == after and not (home / JOURNAL).exists(), where
    judge_audit_of_failure(trial.new_audit(), outcome, command, where)
    judge_next_command(trial, outcome, command, before, after, where)
    return outcome


def judge_unaudited_end(trial: Trial, result, where: str, after: dict) -> str:
    """The fault fell on the command's closing audit entry: the change stands, audited as begun."""
    assert "warning: the audit log cannot be written" in result.stderr, where
    assert data_files(trial.home) == after and not (trial.home / JOURNAL).exists(), where
    entries = trial.new_audit()
    begun = [e for e in entries if e["action"] == "commit"]
    assert [e["outcome"] for e in begun] == ["begun"] and begun[0]["user"] == "tester", where
    assert check_is_clean(trial), where
    return "audited as begun"


def judge_audit_of_failure(entries: list[dict], outcome: str, command: str, where: str) -> None:
    """No entry says a change was made that was not; each failure names its commit and state."""
    assert all(e["action"] in ("commit", "refused") for e in entries), (where, entries)
    refused = [e for e in entries if e["action"] == "refused"]
    assert [e["outcome"] for e in refused] == [f"exit 3: {outcome}"], (where, entries)
    begun = [e for e in entries if e["action"] == "commit"]
    if begun:  # (none when the fault fell on the "begun" entry itself)
        assert begun[0]["command"] == command and refused[0]["commit"] == begun[0]["commit"], (where, entries)
    else:
        assert outcome == "not made", (where, entries)


def judge_next_command(trial: Trial, outcome: str, command: str, before: dict, after: dict, where: str) -> None:
    """An ordinary read completes a journaled change (saying so, audited) or finds nothing to do."""
    begun = [e for e in trial.new_audit() if e["action"] == "commit"]
    result = trial.medsec("patient", "list", "--json")
    assert result.exit_code == 0, where
    if outcome == "journaled":
        assert ROLL_FORWARD.format(command=command) in result.stderr, (where, result.stderr)
        assert data_files(trial.home) == after, where
        recovered = [e for e in trial.new_audit() if e["action"] == "recovered"]
        assert [(e["user"], e["command"], e["commit"], e["completed_by"]) for e in recovered] == [
            ("tester", command, begun[0]["commit"], "patient list (tester)")], where
    else:
        assert "completing" not in result.stderr, where
        assert data_files(trial.home) == (before if outcome == "not made" else after), where
    assert not (trial.home / JOURNAL).exists(), where
    assert check_is_clean(trial), where


def check_is_clean(trial: Trial) -> bool:
    return trial.medsec("check").exit_code == 0


def test_a_fault_while_completing_a_journaled_change_keeps_it_for_the_next_command(small_base, tmp_path,
                                                                                   monkeypatch):
    """The roll-forward itself meets a full disk or EIO at each of its calls: the journal
    stays, the message says so, and the command after completes it (audited once)."""
    args = command_args("patient import", tmp_path)
    journaled = Trial(small_base, tmp_path / "journaled", args)
    result, _ = journaled.run(monkeypatch, Fault("write", 3, errno.ENOSPC))  # after the journal, mid-apply
    assert JOURNALED in result.stderr and (journaled.home / JOURNAL).exists()
    clean = Trial(journaled.home, tmp_path / "clean", ("patient", "list", "--json"))
    result, counted = clean.run(monkeypatch, None)
    assert "completing an interrupted change" in result.stderr
    after = data_files(clean.home)

    faults = every_fault(counted.counts, ERRORS)
    outcomes: Counter[str] = Counter()
    for i, fault in enumerate(faults):
        trial = Trial(journaled.home, tmp_path / f"trial{i}", ("patient", "list", "--json"))
        result, faulty = trial.run(monkeypatch, fault)
        where = f"{fault}: {result.stderr!r}"
        assert faulty.fired and result.exit_code == 3 and result.stdout == "", where
        assert temp_files(trial.home) == [], where
        if JOURNALED not in result.stderr:
            # Completed: the fault fell on the journal's removal being confirmed (said so), or
            # on the list's own read entry (the read refused).
            assert MADE in result.stderr or "refused" in result.stderr, where
            assert data_files(trial.home) == after and not (trial.home / JOURNAL).exists(), where
            outcomes["completed, unconfirmed" if MADE in result.stderr else "completed, the read refused"] += 1
            continue
        assert JOURNALED in result.stderr and (trial.home / JOURNAL).exists(), where
        outcomes["left in the journal"] += 1
        again = trial.medsec("patient", "list", "--json")
        assert again.exit_code == 0 and "completing an interrupted change" in again.stderr, where
        assert data_files(trial.home) == after and not (trial.home / JOURNAL).exists(), where
        recovered = [e for e in trial.new_audit() if e["action"] == "recovered"]
        # One entry per attempt that got as far as the audit log; the last one completed it.
        assert recovered and recovered[-1]["command"] == "patient import", where
        assert check_is_clean(trial), where
        shutil.rmtree(trial.home)
    print(f"\nroll-forward: {len(faults)} faults at {sum(counted.counts.values())} calls: {dict(outcomes)}")
    assert outcomes["left in the journal"] and outcomes["completed, the read refused"]


def test_a_disk_that_stays_full_gets_one_accurate_line_and_the_next_command_after_space_is_freed_settles_it(
        small_base, tmp_path, monkeypatch):
    """Every write from the n-th on fails (the refusal's own audit entry too): still one line,
    no claim that a change was made that was not; once space is back, all or nothing."""
    args = command_args("patient add", tmp_path)
    before = data_files(small_base)
    clean = Trial(small_base, tmp_path / "clean", args)
    _, counted = clean.run(monkeypatch, None)
    after = data_files(clean.home)
    outcomes: Counter[str] = Counter()
    for n in range(1, counted.counts["write"] + 1):
        trial = Trial(small_base, tmp_path / f"full{n}", args)
        result, _ = trial.run(monkeypatch, Fault("write", n, errno.ENOSPC, stays=True))
        where = f"write#{n}+: {result.stderr!r}"
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and temp_files(trial.home) == [], where
        if result.exit_code == 0:  # only the closing entry was lost: the change stands, said so
            assert "warning: the audit log cannot be written" in lines[0], where
            outcomes["made, audited as begun"] += 1
        else:
            assert result.exit_code == 3 and "no space left on device" in lines[0], where
            assert NOT_MADE in lines[0] or JOURNALED in lines[0], where
            outcomes["not made" if NOT_MADE in lines[0] else "journaled"] += 1
        settled = trial.medsec("patient", "list", "--json")
        assert settled.exit_code == 0, where
        assert data_files(trial.home) == (before if NOT_MADE in lines[0] else after), where
        assert check_is_clean(trial), where
        shutil.rmtree(trial.home)
    print(f"\ndisk stays full: {sum(outcomes.values())} runs: {dict(outcomes)}")
    assert outcomes["not made"] and outcomes["journaled"] and outcomes["made, audited as begun"]
