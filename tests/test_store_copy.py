"""`medsec store copy`: a practice moved between a data directory and PostgreSQL and back arrives
whole (every record of every kind, documents, counters, attachments, the audit log); a target
that holds a practice is refused unless --force; a copy killed halfway is finished by a re-run;
a target that differs at the end is exit 3. A real PostgreSQL server (tests/helpers/pg.py)."""

import os
import signal
import subprocess
from pathlib import Path

import orjson
import pytest
from helpers.cli import MEDSEC_BIN, Medsec, cli_env

from medsec.config import CONFIG_FILES
from medsec.practice.storecopy import digest
from medsec.store.api import Backend, open_store
from medsec.store.catalog import ALL_KINDS


def store_of(home: Path, url: str | None = None) -> Backend:
    """The store of a data directory, or (with `url`) of a PostgreSQL database."""
    if url is None:
        return open_store(str(home))
    home.mkdir(mode=0o700, exist_ok=True)
    return open_store(str(home), url)


def contents(store: Backend) -> dict:
    """Everything a practice keeps but its audit log, as comparable data."""
    records = {kind.name: sorted(store.snapshot().scan(kind), key=lambda r, k=kind: k.number(r["id"]))
               for kind in ALL_KINDS}
    return {"records": records,
            "documents": {name: store.document_text(name) for name in CONFIG_FILES},
            "counters": {p: n for p, n in store.snapshot().counters().items() if n},
            "attachments": {sha: store.attachment(sha) for sha in store.attachments()}}


def audit_log(store: Backend) -> list[bytes]:
    return [orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in store.audit_entries()]


def contains(longer: list[bytes], shorter: list[bytes]) -> bool:
    """Every entry of `shorter` is in `longer`, as often."""
    rest = list(longer)
    for entry in shorter:
        if entry not in rest:
            return False
        rest.remove(entry)
    return True


def terminal(tmp_path: Path, name: str, url: str) -> Medsec:
    """A terminal whose practice is the PostgreSQL store at `url`."""
    folder = tmp_path / name
    folder.mkdir(mode=0o700)
    return Medsec(folder, {**cli_env(folder), "MEDSEC_STORE": url})


@pytest.fixture
def office(demo, tmp_path) -> Medsec:
    """The demo practice with records of most kinds, two attachments and an audit log."""
    (tmp_path / "referral.pdf").write_bytes(b"%PDF-1.4 synthetic referral\n")
    (tmp_path / "card.pdf").write_bytes(b"%PDF-1.4 synthetic insurance card\n")
    for args in (["call", "log", "--from", "617-555-0100", "--reason", "refill", "--for", "S1"],
                 ["fax", "receive", tmp_path / "referral.pdf", "--from", "617-555-0300", "--subject", "referral"],
                 ["mail", "receive", "--from", "Radiology", "--subject", "MRI", "--patient", "P1",
                  "--scan", tmp_path / "referral.pdf"],
                 ["patient", "attach", "P2", tmp_path / "card.pdf", "--label", "insurance card"],
                 ["bill", "charge", "A1", "--code", "99213", "--dx", "E11.9"],
                 ["bill", "pay", "P140", "--amount", "20.00", "--method", "card"],
                 ["claim", "create", "--appt", "A1"],
                 ["task", "add", "Call back", "--for", "S5", "--due", "+2d", "--patient", "P1"]):
        demo.ok(*args)
    return demo


def test_a_practice_goes_to_postgresql_and_back_whole(office, pg_url, tmp_path):
    original = store_of(office.home)
    kept = contents(original)
    assert {k for k, records in kept["records"].items() if records} >= {
        "patients", "appointments", "calls", "faxes", "mail", "charges", "payments", "claims", "tasks"}
    assert len(kept["attachments"]) == 2 and kept["counters"]["S"] == 8

    lines = office.json("store", "copy", "--to", pg_url)
    assert [line["kind"] for line in lines] == [k.name for k in ALL_KINDS] + [
        "documents", "counters", "attachments", "audit"]
    assert all(line["match"] for line in lines)
    assert {line["kind"]: line["count"] for line in lines}["patients"] == 300
    pg = store_of(tmp_path / "pg-root", pg_url)
    assert contents(pg) == kept
    assert audit_log(pg) == audit_log(original)  # the copy's own entry included

    back = tmp_path / "back"
    pg_terminal = terminal(tmp_path, "terminal", pg_url)
    assert all(line["match"] for line in pg_terminal.json("store", "copy", "--to", back))
    assert contents(store_of(back)) == kept
    assert contains(audit_log(store_of(back)), audit_log(original))
    assert office.ok("--data-dir", back, "check").exit_code == 0

    for args in (["patient", "list", "--status", "all"], ["appt", "day", "2026-11-27"], ["claim", "list"],
                 ["fax", "list"], ["patient", "show", "P2"]):
        expected = office.json(*args)
        assert office.json("--data-dir", back, *args) == expected
        assert pg_terminal.json(*args) == expected
    office.ok("--data-dir", back, "patient", "attach", "P3", tmp_path / "card.pdf")  # kept there already
    assert contents(store_of(back))["attachments"] == kept["attachments"]


def test_a_target_holding_a_practice_is_refused_unless_forced(practice, pg_url, tmp_path):
    practice.ok("patient", "add", "--first", "Ann", "--last", "Smith", "--dob", "1970-01-01")
    for target in (pg_url, str(tmp_path / "copy")):
        practice.ok("store", "copy", "--into", target)
        again = practice("store", "copy", "--into", target)
        assert again.exit_code == 2 and "holds a practice already" in again.stderr
        assert len(again.stderr.strip().splitlines()) == 1
        assert all(line["match"] for line in practice.json("store", "copy", "--into", target, "--force"))

    other = tmp_path / "other"
    practice.ok("--data-dir", other, "init", "--security", "open")  # configuration only: still a practice
    assert practice("store", "copy", "--into", other).exit_code == 2
    practice.ok("store", "copy", "--into", other, "--force")
    assert contents(store_of(other)) == contents(store_of(practice.home))


@pytest.mark.parametrize("target, code, says", [
    ("{home}", 2, "own folder"), ("{home}/inside", 2, "own folder"),
    ("{tmp}/foreign", 2, "not a medsec data directory"), ("{tmp}/foreign/notes.txt", 2, "is a file"),
    ("postgresql://maria:secret@127.0.0.1/medsec", 3, "carries a password"),
])
def test_a_target_that_cannot_take_the_practice_is_refused(practice, tmp_path, target, code, says):
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("not medsec's\n")
    target = target.format(home=practice.home, tmp=tmp_path)
    for force in ([], ["--force"]):
        result = practice("store", "copy", "--to", target, *force)
        assert result.exit_code == code and says in result.stderr, result.stderr
    assert (tmp_path / "foreign" / "notes.txt").read_text() == "not medsec's\n"
    assert not (practice.home / "inside").exists()


def test_a_difference_left_at_the_end_is_exit_3(practice, tmp_path):
    practice.ok("patient", "add", "--first", "Ann", "--last", "Smith", "--dob", "1970-01-01")
    copy = tmp_path / "copy"
    practice.ok("store", "copy", "--to", copy)
    practice.ok("--data-dir", copy, "patient", "add", "--first", "Extra", "--last", "Only", "--dob", "1980-01-01")
    result = practice("store", "copy", "--to", copy, "--force")
    assert result.exit_code == 3
    errors = [line for line in result.stderr.splitlines() if line.startswith("medsec: error:")]
    assert len(errors) == 1 and "differs from the practice: patients, counters" in errors[0]


def synthetic_patients(path: Path, count: int) -> None:
    rows = ["first,last,dob,phone"] + [
        f"Pat{i},Synthetic{i},19{50 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d},617-555-{i % 10000:04d}"
        for i in range(count)]
    path.write_text("\n".join(rows) + "\n")


@pytest.mark.parametrize("backend", ["postgresql", "directory"])
def test_a_copy_killed_halfway_is_finished_by_a_rerun_with_force(practice, tmp_path, backend, request):
    synthetic_patients(tmp_path / "patients.csv", 3000)
    practice.ok("patient", "import", tmp_path / "patients.csv")
    target = request.getfixturevalue("pg_url") if backend == "postgresql" else str(tmp_path / "copy")
    proc = subprocess.Popen([MEDSEC_BIN, "store", "copy", "--to", target, "--batch", "100"],
                            env={**os.environ, **practice.env}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith("patients: "):  # a batch is committed: kill the copy right there
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    dest = store_of(tmp_path / "pg-root", target) if backend == "postgresql" else store_of(Path(target))
    copied = sum(1 for _ in dest.snapshot().scan(ALL_KINDS[0]))
    assert 0 < copied < 3000  # halfway: some batches in, not all
    refused = practice("store", "copy", "--to", target)
    assert refused.exit_code == 2

    for _run in (1, 2):  # the re-run finishes it; another one changes nothing and doubles no audit entry
        lines = practice.json("store", "copy", "--to", target, "--force")
        assert all(line["match"] for line in lines), lines
        source = store_of(practice.home)
        for kind in ALL_KINDS:
            assert digest(source.snapshot(), kind) == digest(dest.snapshot(), kind)
        assert digest(dest.snapshot(), ALL_KINDS[0])[0] == 3000
        assert contents(dest) == contents(source)
        assert audit_log(dest) == audit_log(source)
