"""The storage engine: private atomic files, commit ordering, ids, bulk writes, repair, the lock."""

import contextlib
import json
import os
import stat
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest
from helpers.files import snapshot

from medsec import fileio
from medsec.errors import LockTimeout
from medsec.fileio import append_line, make_private_dirs, temp_owner_alive, write_atomic
from medsec.store import Store, Transaction
from medsec.store.catalog import PATIENTS
from medsec.store.lock import LOCK_NAME, DirectoryLock


# -- helpers ------------------------------------------------------------------
@contextlib.contextmanager
def umask(mask: int):
    """A permissive umask, so modes come from medsec, not from the environment."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def modes(root) -> dict[str, int]:
    """rel path -> permission bits of every file and folder under root (root included)."""
    out = {".": stat.S_IMODE(os.stat(root).st_mode)}
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            path = os.path.join(folder, name)
            out[os.path.relpath(path, root)] = stat.S_IMODE(os.lstat(path).st_mode)
    return out


def assert_private(root) -> None:
    wrong = {rel: oct(mode) for rel, mode in modes(root).items()
             if mode != (0o700 if os.path.isdir(os.path.join(root, rel)) else 0o600)}
    assert not wrong, f"not private: {wrong}"


def phase(rel: str) -> int:
    """The apply phase a committed file belongs to: records/config, indexes, counters."""
    return 1 if rel.startswith("index/") else 2 if rel.startswith("meta/") else 0


def csv_file(path, rows) -> str:
    lines = ["first,last,dob,external_id"] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@contextlib.contextmanager
def lock_held_elsewhere(home):
    """Another OS process holds DATA/.lock (plain fcntl.flock) until the block ends."""
    code = ("import fcntl, os, sys\n"
            "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(home / LOCK_NAME)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.stdin.close()
        try:
            holder.wait(timeout=10)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()


# -- private files ---------------------------------------------------------------
def test_engine_creates_private_files_and_folders_whatever_the_umask(tmp_path):
    """The store itself makes 0600/0700, even nested new folders, under umask 022."""
    with umask(0o022):
        root = str(tmp_path / "new" / "data")
        make_private_dirs(root)
        store = Store(root)
        with store.transaction() as txn:
            (pid,) = txn.reserve_ids(PATIENTS)
            txn.put(PATIENTS, {"id": pid, "first": "Ann", "last": "Smith", "dob": "1970-01-01"})
            txn.stage("appointments/2031/2031-01-02/S9.json", {"x": 1})  # three new folders deep
            txn.put_text("channels.yaml", "{}\n")
        append_line(os.path.join(root, "audit", "sub", "2026-11.jsonl"), b"{}\n")
        write_atomic(os.path.join(root, "a", "b", "c.json"), b"{}")
    assert os.path.exists(os.path.join(root, "appointments/2031/2031-01-02/S9.json"))
    assert os.path.exists(os.path.join(root, LOCK_NAME))
    assert_private(root)
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o700


def test_cli_leaves_only_private_files(demo, tmp_path):
    demo.ok("patient", "add", "--first", "Ann", "--last", "Smith", "--dob", "1970-01-01")
    demo.ok("patient", "import", csv_file(tmp_path / "p.csv", [("Bo", "Jones", "1980-02-02", "x")]))
    demo.ok("patient", "note", "P1", "called back")
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4 synthetic")
    os.chmod(scan, 0o644)
    demo.ok("patient", "attach", "P1", str(scan))
    demo.ok("check")
    assert_private(demo.home)


# -- write_atomic --------------------------------------------------------------
def test_write_atomic_replaces_whole_file_privately(tmp_path):
    path = tmp_path / "f.json"
    path.write_bytes(b"old")
    os.chmod(path, 0o644)
    write_atomic(str(path), b'{"new": true}')
    assert path.read_bytes() == b'{"new": true}'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path) == ["f.json"]  # no temp file left


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_write_atomic_failure_keeps_old_bytes_and_no_temp(tmp_path, monkeypatch, failing):
    path = tmp_path / "f.json"
    path.write_bytes(b"old")

    def boom(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(OSError):
        write_atomic(str(path), b"new" * 1000)
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.json"]


# -- commit ordering and lock-free readers -------------------------------------
def staged_edit_and_add(home):
    """A commit (not applied) that renames P1 Smith -> Kowalski and adds P3 Nowak."""
    store = Store(str(home))
    with store.lock():
        txn = Transaction(store.root)
        old = txn.get(PATIENTS, "P1")
        txn.put(PATIENTS, {**old, "last": "Kowalski"}, old)
        (new_id,) = txn.reserve_ids(PATIENTS)
        p2 = txn.get(PATIENTS, "P2")
        txn.put(PATIENTS, {**p2, "id": new_id, "first": "Ola", "last": "Nowak", "dob": "1990-03-03"})
        return txn.serialized()


def test_serialized_orders_records_before_indexes_before_counters(practice):
    practice.ok("patient", "add", "--first", "Ann", "--last", "Smith", "--dob", "1970-01-01")
    practice.ok("patient", "add", "--first", "Bob", "--last", "Jones", "--dob", "1971-01-01")
    files = staged_edit_and_add(practice.home)
    rels = [rel for rel, _ in files]
    assert "patients/00000.json" in rels and "meta/counters.json" in rels
    assert {"index/patient-name/sm.json", "index/patient-name/ko.json"} <= set(rels)
    assert [phase(r) for r in rels] == sorted(phase(r) for r in rels), rels
    assert rels[-1] == "meta/counters.json"
    assert len(rels) == len(set(rels))  # each file once


def test_config_cache_is_written_after_its_yaml(tmp_path):
    store = Store(str(tmp_path))
    txn = Transaction(store.root)
    txn.stage("index/config/staff.yaml.json", {"sha256": "x", "data": {}})
    txn.put_text("staff.yaml", "staff: []\n")
    txn.stage("patients/00000.json", {"_default": {}})
    rels = [rel for rel, _ in txn.serialized()]
    assert rels.index("staff.yaml") < rels.index("index/config/staff.yaml.json")


def reader_answers(medsec) -> dict:
    """What lock-free readers see now; each answer checked against the query."""
    out = {}
    for query in ("smith", "kowalski", "nowak", "ann", "1970-01-01"):
        found = medsec.json("patient", "find", query)
        for p in found:
            if query[0].isdigit():
                assert p["dob"] == query, (query, p)
            else:
                assert any(w.startswith(query) for w in f"{p['first']} {p['last']}".lower().split()), (query, p)
        out[query] = sorted(p["id"] for p in found)
    p1 = medsec.json("patient", "show", "P1")
    assert (p1["first"], p1["dob"]) == ("Ann", "1970-01-01") and p1["last"] in ("Smith", "Kowalski")
    out["list"] = [p["id"] for p in medsec.json("patient", "list")]
    return out


def test_reader_between_any_two_files_of_a_commit_never_gets_a_wrong_answer(practice):
    """Apply a multi-file commit one file at a time, as a lock-free reader sees it."""
    practice.ok("patient", "add", "--first", "Ann", "--last", "Smith", "--dob", "1970-01-01")
    practice.ok("patient", "add", "--first", "Bob", "--last", "Jones", "--dob", "1971-01-01")
    before = reader_answers(practice)
    assert before["smith"] == ["P1"] and before["kowalski"] == [] and before["nowak"] == []
    files = staged_edit_and_add(practice.home)
    records = [rel for rel, _ in files if phase(rel) == 0]
    for rel, data in files:
        write_atomic(str(practice.home / rel), data)
        seen = reader_answers(practice)
        if rel == records[-1]:
            # Records are new, indexes old: the stale hit P1 for "smith" is
            # dropped because the record no longer matches.
            assert seen["smith"] == [] and seen["kowalski"] == [] and seen["nowak"] == []
            assert practice.json("patient", "show", "P1")["last"] == "Kowalski"
            assert seen["list"] == ["P1", "P2", "P3"]
    after = reader_answers(practice)
    assert after["smith"] == [] and after["kowalski"] == ["P1"] and after["nowak"] == ["P3"]
    practice.ok("check")


# -- ids ---------------------------------------------------------------------
def test_reserve_ids_never_reuses_ids_across_merges(practice):
    for first, dob in [("Ann", "1970-01-01"), ("Bob", "1971-01-01"), ("Cy", "1972-01-01")]:
        practice.ok("patient", "add", "--first", first, "--last", "Smith", "--dob", dob)
    practice.ok("patient", "merge", "P3", "--into", "P1")
    assert practice.json("patient", "add", "--first", "Di", "--last", "Smith", "--dob", "1973-01-01")["id"] == "P4"
    practice.ok("patient", "merge", "P4", "--into", "P2")
    store = Store(str(practice.home))
    with store.transaction() as txn:
        ids = txn.reserve_ids(PATIENTS, 3)
        txn.put_many(PATIENTS, [{"id": i, "first": "X", "last": f"Batch{i}", "dob": "1980-01-01", "status": "active"}
                                for i in ids])
    assert ids == ["P5", "P6", "P7"]
    # A transaction that fails after reserving writes nothing, so nothing is used up
    # and nothing existing is handed out again.
    with pytest.raises(RuntimeError), store.transaction() as txn:
        txn.reserve_ids(PATIENTS, 2)
        raise RuntimeError("refused later")
    assert practice.json("patient", "add", "--first", "Ed", "--last", "Smith", "--dob", "1974-01-01")["id"] == "P8"
    everyone = practice.json("patient", "list", "--status", "all")
    assert [p["id"] for p in everyone] == [f"P{n}" for n in range(1, 9)]
    assert {p["id"]: p["status"] for p in everyone}["P3"] == "merged"
    assert json.loads((practice.home / "meta" / "counters.json").read_text())["P"] == 8
    practice.ok("check")


def test_counter_behind_refuses_to_overwrite_an_existing_record(practice):
    practice.ok("patient", "add", "--first", "Ann", "--last", "Smith", "--dob", "1970-01-01")
    practice.ok("patient", "add", "--first", "Bob", "--last", "Jones", "--dob", "1971-01-01")
    counters = practice.home / "meta" / "counters.json"
    # As an older medsec wrote it (no seal): a sealed counter lowered by hand is not repaired (test_integrity).
    unsealed = {k: v for k, v in json.loads(counters.read_text()).items() if k != "_seal"}
    counters.write_bytes(orjson.dumps({**unsealed, "P": 0}))
    before = snapshot(practice.home)
    r = practice("patient", "add", "--first", "Cy", "--last", "Ng", "--dob", "1972-01-01")
    assert r.exit_code == 3
    assert r.stderr.startswith("medsec: error: ") and "check --repair" in r.stderr
    assert snapshot(practice.home) == before  # P1 was not overwritten
    assert practice("check").exit_code == 3
    practice.ok("check", "--repair")
    assert practice.json("patient", "add", "--first", "Cy", "--last", "Ng", "--dob", "1972-01-01")["id"] == "P3"
    assert practice.json("patient", "show", "P1")["first"] == "Ann"
    practice.ok("check")


# -- bulk writes -------------------------------------------------------------
def test_put_many_writes_each_file_once(practice, tmp_path, monkeypatch):
    writes = Counter()
    real = fileio._temp_with  # what every atomic write (one file, or a commit's) writes through

    def counting(path, data, sync):
        writes[os.path.relpath(path, practice.home)] += 1
        return real(path, data, sync)

    monkeypatch.setattr(fileio, "_temp_with", counting)
    rows = [(f"Pat{i}", f"{'ABCDEFGHIJ'[i % 10]}name", f"19{50 + i % 40}-01-{1 + i % 28:02d}", f"e{i}")
            for i in range(250)]
    practice.ok("patient", "import", csv_file(tmp_path / "p.csv", rows))
    shards = {r: n for r, n in writes.items() if r.startswith("patients/")}
    assert shards == {"patients/00000.json": 1, "patients/00001.json": 1, "patients/00002.json": 1}
    assert writes["meta/counters.json"] == 1 and writes["journal"] == 1
    assert all(n == 1 for n in writes.values()), writes
    index_files = {r for r in writes if r.startswith("index/patient-")}
    assert len(index_files) > 10  # names a..j + p, birth years: one write each
    writes.clear()
    # An edit that moves a record's index entries touches each file once too.
    practice.ok("patient", "edit", "P1", "--last", "Zed", "--first", "Quinn")
    assert all(n == 1 for n in writes.values()), writes
    assert {"patients/00000.json", "index/patient-name/ze.json", "index/patient-name/qu.json",
            "index/patient-name/an.json", "index/patient-name/pa.json"} <= set(writes)
    practice.ok("check")


# -- check --repair ------------------------------------------------------------
def problem_files(result) -> set[str]:
    return {p["file"] for p in result.json()}


@pytest.mark.parametrize("damage", ["deleted", "corrupted", "stale-entry", "missing-entry"])
def test_check_repair_rebuilds_a_damaged_index(demo, damage):
    rel = "index/patient-name/ad.json"
    path = demo.home / rel
    good = json.loads(path.read_text())
    first_key = sorted(good)[0]
    if damage == "deleted":
        path.unlink()
    elif damage == "corrupted":
        path.write_bytes(b'{"ada": ["P1"')
    elif damage == "stale-entry":
        path.write_bytes(orjson.dumps({**good, "aardvark": ["P1"]}))
    else:
        path.write_bytes(orjson.dumps({k: v for k, v in good.items() if k != first_key}))
    r = demo("check", "--json")
    assert r.exit_code == 3 and rel in problem_files(r)
    r = demo("check", "--repair", "--json")
    assert r.exit_code == 0 and all(p["repaired"] for p in r.json()) and rel in problem_files(r)
    assert json.loads(path.read_text()) == {k: sorted(v, key=lambda i: int(i[1:])) for k, v in good.items()}
    assert demo("check").exit_code == 0
    found = demo.json("patient", "find", first_key, "--archived")
    assert found and all(any(w.lower().startswith(first_key) for w in f"{p['first']} {p['last']}".split())
                         for p in found)


def test_check_repair_fixes_a_counter_behind_the_highest_id(demo):
    counters = demo.home / "meta" / "counters.json"
    real = json.loads(counters.read_text())
    top = max(int(p["id"][1:]) for p in demo.json("patient", "list", "--status", "all"))
    assert real["P"] == top
    # As an older medsec wrote it (no seal): a sealed counter lowered by hand is not repaired (test_integrity).
    unsealed = {k: v for k, v in real.items() if k != "_seal"}
    counters.write_bytes(orjson.dumps({**unsealed, "P": top - 5}))
    r = demo("check", "--json")
    assert r.exit_code == 3 and problem_files(r) == {"meta/counters.json"}
    demo.ok("check", "--repair")
    assert json.loads(counters.read_text()) == real
    added = demo.json("patient", "add", "--first", "New", "--last", "Person", "--dob", "2000-01-01")
    assert added["id"] == f"P{top + 1}"
    demo.ok("check")


def test_check_without_repair_writes_nothing(demo):
    (demo.home / "index/patient-name/ad.json").unlink()
    before = snapshot(demo.home)
    assert demo("check").exit_code == 3
    assert snapshot(demo.home) == before


# -- the lock ----------------------------------------------------------------
def test_lock_timeout_is_exit_3_and_one_line(practice):
    practice.ok("patient", "add", "--first", "Ann", "--last", "Smith", "--dob", "1970-01-01")
    env = {"MEDSEC_LOCK_TIMEOUT": "0.3"}
    with lock_held_elsewhere(practice.home):
        before = snapshot(practice.home)
        for args in (["patient", "add", "--first", "Bob", "--last", "Jones", "--dob", "1971-01-01"],
                     ["patient", "note", "P1", "hello"],
                     ["check"]):
            r = practice(*args, env=env)
            assert r.exit_code == 3, (args, r.stderr)
            lines = r.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("medsec: error: "), r.stderr
            assert "locked" in lines[0] and "MEDSEC_LOCK_TIMEOUT" in lines[0]
        assert snapshot(practice.home) == before
        # Readers take no lock: they keep working while a writer holds it.
        assert [p["id"] for p in practice.json("patient", "find", "smith", env=env)] == ["P1"]
        assert practice.json("patient", "show", "P1", env=env)["last"] == "Smith"
        # The real console script in its own process behaves the same way.
        proc = practice.run("patient", "add", "--first", "Bob", "--last", "Jones", "--dob", "1971-01-01",
                            env=env, check=False)
        assert proc.returncode == 3 and proc.stderr.count("\n") == 1
        assert proc.stderr.startswith("medsec: error: ") and "Traceback" not in proc.stderr
    assert practice.json("patient", "add", "--first", "Bob", "--last", "Jones", "--dob", "1971-01-01")["id"] == "P2"


def test_lock_is_exclusive_between_processes_and_released_on_close(tmp_path):
    with lock_held_elsewhere(tmp_path):
        with pytest.raises(LockTimeout) as info:
            DirectoryLock(str(tmp_path), timeout=0.1).acquire()
        assert info.value.exit_code == 3
    with DirectoryLock(str(tmp_path), timeout=1):
        pass
    with DirectoryLock(str(tmp_path), timeout=1):  # released by the first block
        pass


def test_temp_owner_alive_reads_the_pid_in_the_name(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert temp_owner_alive(f"00000.json.tmp-{os.getpid()}-3")
    assert not temp_owner_alive(f"00000.json.tmp-{child.pid}-3")
    assert not temp_owner_alive("00000.json.tmp-garbage")


def test_write_all_atomic_replaces_every_file_in_order_from_threads(tmp_path, monkeypatch):
    """A big commit writes its temp files from threads; the renames still follow the given order."""
    files = [(str(tmp_path / f"d{i % 7}" / f"f{i}.json"), f"{i}".encode()) for i in range(300)]
    renamed = []
    real = os.replace
    monkeypatch.setattr(fileio.os, "replace", lambda src, dst: (renamed.append(dst), real(src, dst)))
    fileio.write_all_atomic(files)
    assert renamed == [path for path, _data in files]
    assert all(Path(path).read_bytes() == data for path, data in files)
    assert not [p for p in tmp_path.rglob("*") if fileio.is_temp_name(p.name)]


def test_write_all_atomic_that_fails_leaves_no_temp_file_and_replaces_nothing(tmp_path, monkeypatch):
    files = [(str(tmp_path / f"f{i}.json"), b"new") for i in range(100)]
    real = fileio._temp_with

    def full_disk(path, data, sync):
        if path.endswith("f57.json"):
            raise OSError(28, "No space left on device")
        return real(path, data, sync)

    monkeypatch.setattr(fileio, "_temp_with", full_disk)
    with pytest.raises(OSError):
        fileio.write_all_atomic(files)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_bulk_write_is_on_disk_before_any_rename_and_a_failed_flush_replaces_nothing(tmp_path, monkeypatch):
    """A big commit's temp files are flushed by one syncfs per file system, before the first
    rename; when the flush fails, no file is replaced and no temp file is left."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    files = [(str(tmp_path / "ab"[i % 2] / f"f{i}.json"), b"new %d" % i) for i in range(40)]
    events = []
    real_syncfs, real_replace = fileio._syncfs, fileio.os.replace
    monkeypatch.setattr(fileio, "_syncfs", lambda folders: (events.append("syncfs"), real_syncfs(folders)))
    monkeypatch.setattr(fileio.os, "replace", lambda src, dst: (events.append("rename"), real_replace(src, dst)))
    fileio.write_all_atomic(files)
    assert events[0] == "syncfs" and events.count("rename") == 40
    assert all(Path(path).read_bytes() == data for path, data in files)

    def failing(folders):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(fileio, "_syncfs", failing)
    with pytest.raises(OSError):
        fileio.write_all_atomic([(path, b"newer") for path, _data in files])
    assert all(Path(path).read_bytes() == data for path, data in files)
    assert not [p for p in tmp_path.rglob("*") if fileio.is_temp_name(p.name)]


def test_without_syncfs_a_bulk_write_fsyncs_each_file(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio, "_can_syncfs", lambda: False)
    synced = []
    real = fileio.os.fsync
    monkeypatch.setattr(fileio.os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    files = [(str(tmp_path / f"f{i}.json"), b"x") for i in range(40)]
    fileio.write_all_atomic(files)
    assert len(synced) >= 40 and all(Path(path).read_bytes() == b"x" for path, _data in files)


def test_a_shard_medsec_writes_is_a_tinydb_database(practice):
    """Record files stay TinyDB's format (one record per line is still one JSON document):
    TinyDB, through a view, reads the records medsec wrote."""
    practice.ok("patient", "add", "--first", "Tia", "--last", "Db", "--dob", "1990-01-01")
    view = Store(str(practice.home)).snapshot()
    table = view.db("patients/00000.json").table("_default")
    assert {doc.doc_id: doc["last"] for doc in table.all()} == {1: "Db"}
    assert view.get(PATIENTS, "P1") == dict(table.get(doc_id=1))


def test_every_index_of_the_catalog_is_sharded_and_every_patient_index_exists():
    """A kind's index without a sharding rule fails at its first look-up (a KeyError deep in a
    merge, as the eligibility index once did): each index the catalog names has one, and each
    index PATIENT_RECORDS names is an index of that kind."""
    from medsec.store.catalog import INDEXES, PATIENT_RECORDS
    from medsec.store.indexfiles import SHARDING

    assert sorted(set(INDEXES) - set(SHARDING)) == []
    assert sorted(set(SHARDING) - set(INDEXES)) == []
    for kind, index in PATIENT_RECORDS.items():
        assert index is None or INDEXES[index] is kind, (kind.name, index)
