"""Crash safety: writers killed with SIGKILL mid-commit, and Store.recover itself."""

import io
import json
import os
import random
import signal
import subprocess
import sys
from collections import defaultdict
from contextlib import redirect_stderr, redirect_stdout

import orjson
import pytest
from helpers.files import snapshot
from helpers.journal import staged_commit

from medsec.cli import cli
from medsec.fileio import is_temp_name, write_atomic
from medsec.records.patients import new_record
from medsec.store import Store
from medsec.store.journal import JOURNAL, encode_journal

# A writer that never stops: 50-row imports (journal + shard + ~60 index files),
# renames that move index entries between files, notes (a one-file commit). It starts
# writing when told to ("go" on its stdin): it is started, and imports medsec, while the
# previous one's crash is checked.
WORKER = r'''
import contextlib, io, json, os, random, sys
from medsec.cli import cli
import medsec.records.patient_io, medsec.records.patients  # loaded before "ready"

home, tag, seed, tmp = os.environ["MEDSEC_HOME"], sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(seed)
LETTERS = "abcdefghijklmnopqrstuvwxyz"

def run(*args):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cli.main(args=[str(a) for a in args], standalone_mode=False)

def counter():
    try:
        with open(os.path.join(home, "meta", "counters.json"), "rb") as f:
            return json.load(f).get("P", 0)
    except (FileNotFoundError, ValueError):
        return 0

print("ready", flush=True)
if sys.stdin.readline().strip() != "go":  # the test ended without it
    sys.exit(0)
batch = 0
while True:
    path = os.path.join(tmp, f"{tag}-{batch}.csv")
    with open(path, "w") as f:
        f.write("first,last,dob,external_id\n")
        for row in range(50):
            last = rng.choice(LETTERS).upper() + "".join(rng.choice(LETTERS) for _ in range(5))
            dob = f"{rng.randint(1930, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            f.write(f"Crash{tag}x{batch}x{row},{last},{dob},{tag}/{batch}/{row}\n")
    run("patient", "import", path)
    batch += 1
    for _ in range(3):
        top = counter()
        if top:
            pid = f"P{rng.randint(1, top)}"
            if rng.random() < 0.7:
                run("patient", "edit", pid, "--last", rng.choice(LETTERS).upper() + "renamed" + str(rng.randint(0, 99)))
            else:
                run("patient", "note", pid, f"note {tag}/{batch}")
'''


# -- helpers ------------------------------------------------------------------
def cli_json(*args) -> tuple[int, object]:
    """Run the CLI in this process (env comes from the fixture) and parse its JSON."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(args=[*map(str, args), "--json"], standalone_mode=False)
    text = out.getvalue()
    return code, (json.loads(text) if text.strip() else err.getvalue())


def json_files_valid(root) -> list[str]:
    """Every *.json under root parses (temp files excepted); returns their paths."""
    seen = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            if name.endswith(".json") and not is_temp_name(name):
                path = os.path.join(folder, name)
                with open(path, "rb") as f:
                    orjson.loads(f.read())
                seen.append(path)
    return seen


def only_dead_temps(problems, dead_pids) -> bool:
    """True when every problem is a temp file left by a writer we killed."""
    for p in problems:
        if not p["problem"].startswith("leftover temporary file"):
            return False
        pid = int(p["file"].rpartition(".tmp-")[2].split("-")[0])
        if pid not in dead_pids:
            return False
    return True


def start_worker(tmp_path, tag, seed):
    """A worker, its imports done, waiting to be told to go (`go`)."""
    proc = subprocess.Popen([sys.executable, str(tmp_path / "worker.py"), str(tag), str(seed), str(tmp_path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=os.environ.copy())
    line = proc.stdout.readline()
    assert line.strip() == b"ready", (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc


def go(proc):
    proc.stdin.write(b"go\n")
    proc.stdin.flush()


def end(proc):
    proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        stream.close()


# -- killing writers ---------------------------------------------------------------
# Each writer is killed (SIGKILL) at a moment of the first KILL_WINDOW seconds of its work: the
# window is cut into ITERATIONS equal parts, each part's moment random within it, the parts in a
# random order. Every part of the window is hit once (a uniform draw per kill left gaps and needed
# more kills for the same spread), with the store at every size it reaches. The checks after each
# kill read the whole store, which grows with every writer: 24 kills (there were 40 uniform ones)
# keep the test under ten seconds; some land inside a multi-file commit (a journal left), some
# between commits (none), and both are required.
ITERATIONS = 24
KILL_WINDOW = 0.3


def test_writers_killed_mid_commit_leave_all_or_nothing(practice, tmp_path):
    (tmp_path / "worker.py").write_text(WORKER)
    rng = random.Random(20261126)
    home = str(practice.home)
    identity: dict[str, str] = {}  # id -> what it was created as: never changes
    dead: set[int] = set()
    journals_found = 0
    between_commits = 0
    solo = 0
    moments = [(part + rng.random()) * KILL_WINDOW / ITERATIONS for part in range(ITERATIONS)]
    rng.shuffle(moments)
    waiting = start_worker(tmp_path, 0, rng.randrange(1 << 30))
    for it in range(ITERATIONS):
        proc, waiting = waiting, None
        try:
            go(proc)
            try:
                proc.wait(timeout=moments[it])
                pytest.fail(f"worker stopped by itself: {proc.stderr.read().decode()}")
            except subprocess.TimeoutExpired:
                pass
            proc.send_signal(signal.SIGKILL)
        finally:
            end(proc)
        dead.add(proc.pid)
        if it + 1 < ITERATIONS:  # the next one starts (imports) while this crash is checked
            waiting = start_worker(tmp_path, it + 1, rng.randrange(1 << 30))

        # Straight after the crash: without a journal, the data is already whole.
        code, problems = cli_json("check")
        if os.path.exists(os.path.join(home, JOURNAL)):
            journals_found += 1
            assert code == 3 and any(p["file"] == JOURNAL for p in problems)
        else:
            between_commits += 1
            assert code == 0 or only_dead_temps(problems, dead), problems

        # One normal command rolls an interrupted commit forward: a reader or a writer.
        if it % 2:
            code, _ = cli_json("patient", "list")
        else:
            solo += 1
            code, added = cli_json("patient", "add", "--first", f"Solo{solo}", "--last", "Afterwards",
                                   "--dob", "1999-09-09")
            if code == 0:
                identity[added["id"]] = f"solo/{solo}"
        assert code == 0
        assert not os.path.exists(os.path.join(home, JOURNAL))
        code, problems = cli_json("check")
        assert code == 0 or only_dead_temps(problems, dead), problems
        json_files_valid(home)

        # Every batch is all there or not at all; ids are dense and never change owner.
        code, everyone = cli_json("patient", "list", "--status", "all")
        assert code == 0
        batches = defaultdict(int)
        for p in everyone:
            assert set(new_record("x", {}, "")) <= set(p), p["id"]
            origin = p["external_id"] or f"solo/{p['first'][4:]}"
            if p["external_id"]:
                tag, batch, row = p["external_id"].split("/")
                assert p["first"] == f"Crash{tag}x{batch}x{row}"
                batches[(tag, batch)] += 1
            assert identity.setdefault(p["id"], origin) == origin, f"{p['id']} was reused"
        assert all(n == 50 for n in batches.values()), {k: n for k, n in batches.items() if n != 50}
        top = 0
        if everyone:
            with open(os.path.join(home, "meta", "counters.json")) as counters:
                top = json.load(counters)["P"]
        assert sorted(int(p["id"][1:]) for p in everyone) == list(range(1, top + 1))

    assert len(identity) > 200  # the workers got real work done between kills
    assert journals_found >= 1  # and some kills landed inside a multi-file commit
    assert between_commits >= 1  # and some outside one
    code, problems = cli_json("check", "--repair")
    assert code == 0 and all(p["repaired"] for p in problems)
    assert practice("check").exit_code == 0
    assert not [n for _f, _d, names in os.walk(home) for n in names if is_temp_name(n)]


# -- Store.recover ----------------------------------------------------------------


def data_files(home) -> dict:
    return {k: v for k, v in snapshot(home).items() if k not in (".lock", JOURNAL)}


@pytest.mark.parametrize("applied", ["none", "records", "all-but-counters"])
def test_recover_rolls_a_complete_journal_forward(two_patients, applied):
    home = two_patients.home
    files = staged_commit(home)
    assert len(files) > 3
    write_atomic(str(home / JOURNAL), encode_journal(files))
    done = {"none": 0, "records": 1, "all-but-counters": len(files) - 1}[applied]
    for rel, data in files[:done]:  # the writer died part-way through applying
        write_atomic(str(home / rel), data)
    store = Store(str(home))
    with store.lock():
        assert store.recover() is True
    assert not (home / JOURNAL).exists()
    for rel, data in files:
        assert (home / rel).read_bytes() == data, rel
    assert two_patients.json("patient", "show", "P1")["last"] == "Kowalski"
    assert [p["id"] for p in two_patients.json("patient", "find", "nowak")] == ["P3"]
    two_patients.ok("check")


@pytest.mark.parametrize("first_command", [("patient", "find", "nowak"), ("patient", "list"),
                                           ("patient", "note", "P2", "x"), ("check", "--repair")])
def test_any_command_finishes_an_interrupted_commit_first(two_patients, first_command):
    home = two_patients.home
    files = staged_commit(home)
    write_atomic(str(home / JOURNAL), encode_journal(files))
    write_atomic(str(home / files[0][0]), files[0][1])
    r = two_patients(*first_command)
    assert r.exit_code == 0, r.stderr
    assert not (home / JOURNAL).exists()
    if first_command[1] == "find":
        assert "P3" in r.stdout
    assert two_patients.json("patient", "show", "P3")["last"] == "Nowak"
    two_patients.ok("check")


def torn(raw: bytes, how: str) -> bytes:
    header, _, body = raw.partition(b"\n")
    if how == "truncated":
        return raw[: len(raw) * 2 // 3]
    if how == "header-only":
        return header
    if how == "bad-checksum":
        return header + b"\n" + body.replace(b"Nowak", b"Nowek")  # same length, other bytes
    if how == "bad-magic":
        return b"x" + raw[1:]
    return b""


@pytest.mark.parametrize("how", ["truncated", "header-only", "bad-checksum", "bad-magic", "empty"])
def test_recover_discards_a_torn_journal_and_keeps_the_data(two_patients, how):
    home = two_patients.home
    files = staged_commit(home)
    before = data_files(home)
    (home / JOURNAL).write_bytes(torn(encode_journal(files), how))
    store = Store(str(home))
    with store.lock():
        assert store.recover() is False
    assert not (home / JOURNAL).exists()
    assert data_files(home) == before
    assert two_patients.json("patient", "show", "P1")["last"] == "Smith"
    assert two_patients.json("patient", "find", "nowak") == []
    two_patients.ok("check")


def test_a_reader_discards_a_torn_journal_too(two_patients):
    home = two_patients.home
    before = data_files(home)
    (home / JOURNAL).write_bytes(torn(encode_journal(staged_commit(home)), "truncated"))
    assert [p["id"] for p in two_patients.json("patient", "find", "smith")] == ["P1"]
    assert not (home / JOURNAL).exists()
    assert {k: v for k, v in data_files(home).items() if not k.startswith("audit")} == \
           {k: v for k, v in before.items() if not k.startswith("audit")}


def test_recover_without_a_journal_changes_nothing(two_patients):
    before = data_files(two_patients.home)
    store = Store(str(two_patients.home))
    with store.lock():
        assert store.recover() is False
    assert data_files(two_patients.home) == before


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_leftover_temp_files_are_reported_and_swept(two_patients):
    home = two_patients.home
    pid = dead_pid()
    leftovers = [f"journal.tmp-{pid}-0", f"patients/00000.json.tmp-{pid}-1",
                 f"index/patient-name/s.json.tmp-{pid}-2", f"meta/counters.json.tmp-{pid}"]
    for rel in leftovers:
        (home / rel).write_bytes(b'{"_default": {"1": {"id": "P1", "fir')
    # A temp file of a live process is a write in flight: neither reported nor swept.
    in_flight = home / "index" / "config" / f"practice.yaml.json.tmp-{os.getpid()}-9"
    in_flight.write_bytes(b"{")
    r = two_patients("check", "--json")
    assert r.exit_code == 3
    assert sorted(p["file"] for p in r.json()) == sorted(leftovers)
    assert all(p["problem"].startswith("leftover temporary file") for p in r.json())
    r = two_patients("check", "--repair", "--json")
    assert r.exit_code == 0 and all(p["repaired"] for p in r.json())
    assert not any((home / rel).exists() for rel in leftovers)
    assert in_flight.exists()
    two_patients.ok("check")
    assert two_patients.json("patient", "show", "P1")["first"] == "Ann"
