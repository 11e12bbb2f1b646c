"""Real OS processes contending on one data directory: no lost, torn or wrong answers."""

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta

import orjson
import pytest

WRITERS = 8
PER_WRITER = 100
LETTERS = "abcdefgh"
BIRTH_BASE = date(1940, 1, 1)

# Each worker process calls the CLI in-process, command after command: separate
# OS processes contending on the real lock, without paying start-up per command.
WORKER = r'''
import contextlib, io, json, os, random, sys
from datetime import date, timedelta
from medsec.cli import cli

LETTERS = "abcdefgh"
BIRTH_BASE = date(1940, 1, 1)

def run(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(args=[str(a) for a in args], standalone_mode=False)
    return code, out.getvalue(), err.getvalue()

def run_json(*args):
    code, out, err = run(*args, "--json")
    if code != 0:
        raise RuntimeError(f"medsec {' '.join(map(str, args))}: exit {code}: {err.strip()}")
    return json.loads(out)

def identity(w, i):
    return (f"P{w}n{i}", f"Conc{LETTERS[w]}", (BIRTH_BASE + timedelta(days=w * 100 + i)).isoformat())

def add(w, n):
    got = []
    for i in range(n):
        first, last, dob = identity(w, i)
        got.append([run_json("patient", "add", "--first", first, "--last", last, "--dob", dob)["id"], first])
    print(json.dumps(got))

def notes(w, n, patient):
    done = []
    for i in range(n):
        run_json("patient", "note", patient, f"w{w} n{i}")
        done.append(f"w{w} n{i}")
        if i % 5 == 0:
            city = f"City{w}x{i}"
            run_json("patient", "edit", patient, "--city", city, "--last", f"{LETTERS[w].upper()}last{i}")
    print(json.dumps(done))

class Reader:
    """Reads the whole time and checks every answer it gets."""

    def __init__(self, stop):
        self.stop, self.errors, self.seen = stop, [], {}
        self.rng = random.Random(7)
        self.listed, self.found, self.iterations, self.midway = 0, {}, 0, 0

    def error(self, text):
        if len(self.errors) < 50:
            self.errors.append(text)

    def valid(self, p):
        """The record is whole and is what its writer created; an id never changes owner."""
        try:
            w, i = (int(x) for x in p["first"][1:].split("n"))
            expected = identity(w, i)
        except (KeyError, ValueError, IndexError):
            self.error(f"unexpected record {p!r}")
            return False
        if (p["first"], p["last"], p["dob"]) != expected or p.get("status") != "active":
            self.error(f"{p.get('id')} is not whole: {p!r}")
            return False
        if self.seen.setdefault(p["id"], expected) != expected:
            self.error(f"{p['id']} was {self.seen[p['id']]}, now {expected}")
            return False
        return True

    def check_find(self, query, *args, must):
        """Every hit matches; a query never loses a patient it returned before."""
        found = run_json("patient", "find", *args)
        ids = [p["id"] for p in found]
        if len(set(ids)) != len(ids):
            self.error(f"find {args}: duplicate ids {ids}")
        for p in found:
            if self.valid(p) and not must(p):
                self.error(f"find {args} returned a patient that does not match: "
                           f"{p['id']} {p['first']} {p['last']} {p['dob']}")
        before = self.found.get(query, set())
        if not before <= set(ids):
            self.error(f"find {args} lost {sorted(before - set(ids))}")
        self.found[query] = before | set(ids)

    def once(self):
        listed = run_json("patient", "list")
        ids = [p["id"] for p in listed]
        if len(set(ids)) != len(ids):
            self.error("list: duplicate ids")
        if len(listed) < self.listed:
            self.error(f"list shrank from {self.listed} to {len(listed)}")
        self.listed = len(listed)
        self.midway += 0 < len(listed) < TOTAL
        for p in listed:
            self.valid(p)
        w = self.rng.randrange(len(LETTERS))
        last = f"Conc{LETTERS[w]}"
        self.check_find(last, last, must=lambda p: p["last"] == last)
        if not listed:
            return
        p = self.rng.choice(listed)
        prefix = p["first"][:-1].lower()
        self.check_find(prefix, prefix, must=lambda q: q["first"].lower().startswith(prefix))
        self.check_find("dob " + p["dob"], "--dob", p["dob"], must=lambda q: q["dob"] == p["dob"])
        self.check_find("id " + p["id"], p["id"], must=lambda q: q["id"] == p["id"])
        if self.found["id " + p["id"]] != {p["id"]}:
            self.error(f"find {p['id']} did not find a listed patient")
        shown = run_json("patient", "show", p["id"])
        if self.valid(shown) and shown["id"] != p["id"]:
            self.error(f"show {p['id']} returned {shown['id']}")

    def run(self):
        while True:
            stopping = os.path.exists(self.stop)
            try:
                self.once()
            except Exception as e:
                self.error(f"{type(e).__name__}: {e}")
            self.iterations += 1
            if stopping:  # one last full pass after the writers finished
                break
        print(json.dumps({"errors": self.errors, "iterations": self.iterations,
                          "midway": self.midway, "listed": self.listed}))

def checks(stop):
    failures, runs = [], 0
    while not os.path.exists(stop):
        code, out, err = run("check", "--json")
        runs += 1
        if code != 0 and len(failures) < 20:
            failures.append(out + err)
    print(json.dumps({"failures": failures, "runs": runs}))

mode = sys.argv[1]
print("ready", flush=True)
if mode == "add":
    add(int(sys.argv[2]), int(sys.argv[3]))
elif mode == "notes":
    notes(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
elif mode == "read":
    Reader(sys.argv[2]).run()
elif mode == "check":
    checks(sys.argv[2])
'''.replace("TOTAL", str(WRITERS * PER_WRITER))


# -- helpers ------------------------------------------------------------------
class Workers:
    """Worker processes for one test; every one is killed and reaped at the end."""

    def __init__(self, script, env, folder):
        self.script, self.env, self.folder, self.procs = str(script), env, folder, []

    def start(self, *args) -> subprocess.Popen:
        # stderr goes to a file: a chatty worker can never block on a full pipe.
        err = open(self.folder / f"worker-{len(self.procs)}.err", "w+")  # noqa: SIM115 (close() closes it)
        proc = subprocess.Popen([sys.executable, self.script, *map(str, args)], env=self.env,
                                stdout=subprocess.PIPE, stderr=err, text=True)
        proc.err = err
        self.procs.append(proc)
        if proc.stdout.readline().strip() != "ready":
            proc.wait(timeout=30)
            pytest.fail(f"worker {args} did not start: {self.stderr(proc)}")
        return proc

    def stderr(self, proc) -> str:
        proc.err.seek(0)
        return proc.err.read()

    def finish(self, proc, timeout=120):
        """The worker's JSON result; it must exit 0 with nothing on stderr."""
        proc.wait(timeout=timeout)  # its output (a few KB) fits in the pipe
        out = proc.stdout.read()
        assert proc.returncode == 0 and not self.stderr(proc).strip(), self.stderr(proc)
        return json.loads(out)

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.err.close()


@pytest.fixture
def workers(practice, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    pool = Workers(script, {**os.environ, **practice.env}, tmp_path)
    try:
        yield pool
    finally:
        pool.close()


def identity(w, i):
    return (f"P{w}n{i}", f"Conc{LETTERS[w]}", (BIRTH_BASE + timedelta(days=w * 100 + i)).isoformat())


def assert_files_valid(root) -> None:
    """Every JSON file parses; every audit line is one whole JSON object."""
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            assert ".tmp-" not in name, f"leftover {path}"
            if name.endswith(".json"):
                with open(path, "rb") as f:
                    orjson.loads(f.read())
            elif name.endswith(".jsonl"):
                with open(path, "rb") as f:
                    for line in f:
                        orjson.loads(line)


# -- tests ---------------------------------------------------------------------
def test_eight_writers_and_a_reader(practice, workers, tmp_path):
    stop = tmp_path / "stop"
    reader = workers.start("read", stop)
    writers = [workers.start("add", w, PER_WRITER) for w in range(WRITERS)]
    results = [workers.finish(p) for p in writers]
    stop.touch()
    report = workers.finish(reader)

    assert report["errors"] == []
    assert report["midway"] >= 1  # the reader really read while the writers wrote
    assert report["listed"] == WRITERS * PER_WRITER

    everyone = practice.json("patient", "list", "--status", "all")
    ids = [p["id"] for p in everyone]
    assert len(everyone) == WRITERS * PER_WRITER == len(set(ids))
    assert sorted(int(i[1:]) for i in ids) == list(range(1, WRITERS * PER_WRITER + 1))
    by_id = {p["id"]: p for p in everyone}
    for w, got in enumerate(results):
        assert len(got) == PER_WRITER
        for i, (pid, _) in enumerate(got):
            assert (by_id[pid]["first"], by_id[pid]["last"], by_id[pid]["dob"]) == identity(w, i)
    assert json.loads((practice.home / "meta" / "counters.json").read_text())["P"] == WRITERS * PER_WRITER
    for w in range(WRITERS):
        assert len(practice.json("patient", "find", f"Conc{LETTERS[w]}")) == PER_WRITER
    assert_files_valid(practice.home)
    audit_lines = [json.loads(line) for f in (practice.home / "audit").glob("*.jsonl")
                   for line in f.read_text().splitlines()]
    created = Counter(i for e in audit_lines if e["action"] == "create" for i in e["ids"])
    assert set(created) == set(ids) and set(created.values()) == {1}
    assert practice.run("check").returncode == 0


def test_concurrent_edits_of_one_patient_lose_nothing(practice, workers):
    practice.ok("patient", "add", "--first", "Shared", "--last", "Record", "--dob", "1960-06-06")
    procs = [workers.start("notes", w, 25, "P1") for w in range(4)]
    written = [text for p in procs for text in workers.finish(p)]
    assert len(written) == 100
    p1 = practice.json("patient", "show", "P1")
    texts = [n["text"] for n in p1["notes"]]
    assert sorted(texts) == sorted(written)  # every note, each exactly once
    for w in range(4):  # each process's notes kept their order
        mine = [t for t in texts if t.startswith(f"w{w} ")]
        assert mine == [f"w{w} n{i}" for i in range(25)]
    assert p1["city"] in {f"City{w}x{i}" for w in range(4) for i in range(0, 25, 5)}
    w, i = p1["city"][len("City"):].split("x")  # the name came from the same edit as the city
    assert p1["last"] == f"{LETTERS[int(w)].upper()}last{i}"
    assert [p["id"] for p in practice.json("patient", "find", p1["last"])] == ["P1"]
    assert practice.json("patient", "find", "record") == []
    assert practice.run("check").returncode == 0


def test_check_during_writes_reports_no_false_damage(practice, workers, tmp_path):
    """`medsec check` run while others commit sees whole commits only."""
    stop = tmp_path / "stop"
    checker = workers.start("check", stop)
    writers = [workers.start("add", w, 40) for w in range(4)]
    for p in writers:
        workers.finish(p)
    stop.touch()
    report = workers.finish(checker)
    assert report["runs"] >= 2
    assert report["failures"] == []
    assert practice.run("check").returncode == 0
