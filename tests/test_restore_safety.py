"""Restore checks everything before it replaces anything.

Each bad backup below (empty, malformed, oversized, a gzip bomb, tampered but
self-consistent, carrying a journal, a `..` or an unlisted file) is refused
in one line with exit 2; the live data directory stays byte for byte as it
was and nothing new is left beside it. A restore killed half-way leaves a
staging copy that `check` reports and the next restore removes.
"""

import contextlib
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from helpers.files import snapshot

from medsec.store import backup as backup_module

MANIFEST = "MEDSEC-BACKUP.json"


@pytest.fixture
def good(demo, tmp_path) -> Path:
    """A backup of the demo practice, in a folder of its own beside the data directory."""
    archives = tmp_path / "archives"
    archives.mkdir()
    target = archives / "good.tar.gz"
    demo.ok("backup", target)
    return target


def members_of(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}


def manifest_of(members: dict[str, bytes]) -> dict:
    return json.loads(members[MANIFEST])


def with_manifest(members: dict[str, bytes], manifest: dict) -> dict[str, bytes]:
    return {**members, MANIFEST: json.dumps(manifest).encode()}


def rehashed(members: dict[str, bytes]) -> dict[str, bytes]:
    """The members with a manifest rebuilt to match them: self-consistent, whatever they hold."""
    manifest = manifest_of(members)
    manifest["files"] = {name[5:]: hashlib.sha256(data).hexdigest()
                         for name, data in members.items() if name.startswith("data/")}
    return with_manifest(members, manifest)


def write_archive(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def beside(home: Path) -> list[str]:
    return sorted(os.listdir(home.parent))


def assert_refused(demo, archive: Path, *words: str, code: int = 2) -> str:
    """The restore fails in one line with `code`; the data directory and its surroundings as they were."""
    home = demo.home
    before, around = snapshot(home), beside(home)
    result = demo("restore", archive)
    assert result.exit_code == code, result.stderr
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    assert snapshot(home) == before  # audit/ aside: the refusal itself is audited
    assert beside(home) == around
    return result.stderr


class Zeros(io.RawIOBase):
    """`size` zero bytes, never all in memory at once."""

    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


@contextlib.contextmanager
def watchdog(seconds: int = 20):
    """Fail the test instead of hanging for ever (SIGALRM in the main thread)."""

    def expire(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# -- the manifest --------------------------------------------------------------------
def test_an_empty_backup_replaces_nothing(demo, good):
    members = {MANIFEST: json.dumps({"format": "medsec-backup", "schema_version": 2, "files": {}}).encode()}
    assert_refused(demo, write_archive(good.with_name("empty.tar.gz"), members), "no medsec.yaml")
    assert demo.json("patient", "show", "P1")["id"] == "P1"


@pytest.mark.parametrize("change, words", [
    (lambda m: m.update(files=[]), "'files' is not an object"),
    (lambda m: m.update(files=None), "'files' is not an object"),
    (lambda m: m.pop("files"), "'files' is not an object"),
    (lambda m: m.pop("format"), "not a medsec backup"),
    (lambda m: m.update(format="tarball"), "not a medsec backup"),
    (lambda m: m.pop("schema_version"), "schema version None"),
    (lambda m: m.update(schema_version="2"), "schema version '2'"),
    (lambda m: m.update(schema_version=True), "schema version True"),
    (lambda m: m["files"].update({"practice.yaml": "not-a-hash"}), "no SHA-256"),
    (lambda m: m["files"].update({"practice.yaml": None}), "no SHA-256"),
])
def test_a_malformed_manifest_is_refused(demo, good, change, words):
    members = members_of(good)
    manifest = manifest_of(members)
    change(manifest)
    assert_refused(demo, write_archive(good.with_name("bad.tar.gz"), with_manifest(members, manifest)), words)


@pytest.mark.parametrize("manifest", [b"[]", b"null", b"{not json", b""])
def test_a_manifest_that_is_not_an_object_is_refused(demo, good, manifest):
    members = {**members_of(good), MANIFEST: manifest}
    assert_refused(demo, write_archive(good.with_name("bad.tar.gz"), members))


def test_a_backup_without_a_manifest_is_refused(demo, good):
    members = {k: v for k, v in members_of(good).items() if k != MANIFEST}
    assert_refused(demo, write_archive(good.with_name("bare.tar.gz"), members), "no manifest")


@pytest.mark.parametrize("name, words", [
    ("journal", "not a file of a data directory"),
    (".lock", "not a file of a data directory"),
    ("patients/00000.json.tmp-4242-0", "temporary file"),
    ("../escaped.json", "not a plain relative path"),
    ("patients/../../escaped.json", "not a plain relative path"),
    ("/tmp/escaped.json", "not a plain relative path"),
    ("patients//00000.json", "not a plain relative path"),
    ("notes.txt", "not a file of a data directory"),
    ("elsewhere/x.json", "not in a folder of a data directory"),
])
def test_names_a_data_directory_does_not_hold_are_refused(demo, good, tmp_path, name, words):
    """Listed in a rebuilt manifest and present in the archive: refused all the same."""
    members = {**members_of(good), f"data/{name}": b'{"_default": {}}'}
    assert_refused(demo, write_archive(good.with_name("odd.tar.gz"), rehashed(members)), repr(name), words)
    assert not (tmp_path / "escaped.json").exists() and not Path("/tmp/escaped.json").exists()


def test_a_journal_listed_only_in_the_manifest_is_refused(demo, good):
    members = members_of(good)
    manifest = manifest_of(members)
    manifest["files"]["journal"] = hashlib.sha256(b"x").hexdigest()
    assert_refused(demo, write_archive(good.with_name("j.tar.gz"), with_manifest(members, manifest)),
                   "'journal'")


def test_an_unlisted_member_is_refused(demo, good):
    members = {**members_of(good), "data/patients/00099.json": b'{"_default": {}}'}
    assert_refused(demo, write_archive(good.with_name("extra.tar.gz"), members),
                   "'patients/00099.json' is in the archive but not in its manifest")


def test_a_listed_file_missing_from_the_archive_is_refused(demo, good):
    members = {k: v for k, v in members_of(good).items() if k != "data/patients/00000.json"}
    assert_refused(demo, write_archive(good.with_name("short.tar.gz"), members),
                   "'patients/00000.json' is in its manifest but not in the archive")


def test_a_member_twice_is_refused(demo, good):
    members = members_of(good)
    path = good.with_name("twice.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        for name, data in [*members.items(), ("data/practice.yaml", b"name: Other\n")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert_refused(demo, path, "twice")


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE, tarfile.FIFOTYPE])
def test_entries_that_are_not_regular_files_are_refused(demo, good, kind):
    path = good.with_name("special.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("data/patients/00000.json")
        info.type = kind
        info.linkname = "/etc/passwd" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
        tar.addfile(info)
        for name, data in members_of(good).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert_refused(demo, path, "not a regular file")


# -- limits --------------------------------------------------------------------------
def test_a_file_over_the_limit_is_refused(demo, good, monkeypatch):
    monkeypatch.setattr(backup_module, "MAX_FILE_BYTES", 4096)
    assert_refused(demo, good, "over the 4096 bytes limit for one file of a backup")


def test_a_backup_over_the_total_limit_is_refused(demo, good, monkeypatch):
    monkeypatch.setattr(backup_module, "MAX_TOTAL_BYTES", 100_000)
    assert_refused(demo, good, "unpacks to more than 100000 bytes")


def test_a_backup_with_too_many_files_is_refused(demo, good, monkeypatch):
    monkeypatch.setattr(backup_module, "MAX_MEMBERS", 50)
    assert_refused(demo, good, "more than 50 files")


def test_a_gzip_bomb_is_refused_from_its_header(demo, good, monkeypatch):
    """512 MB of zeros packed into half a megabyte: refused before a byte of it is unpacked."""
    monkeypatch.setattr(backup_module, "MAX_FILE_BYTES", 64 * 1024 * 1024)
    bomb = good.with_name("bomb.tar.gz")
    with tarfile.open(bomb, "w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo("data/audit/2026-11.jsonl")
        info.size = 512 * 1024 * 1024
        tar.addfile(info, io.BufferedReader(Zeros(info.size)))
        for name, data in members_of(good).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert bomb.stat().st_size < 4 * 1024 * 1024
    with watchdog():
        assert_refused(demo, bomb, "512 MB, over the 64 MB limit")


@pytest.mark.parametrize("kind", [tarfile.GNUTYPE_LONGNAME, tarfile.XHDTYPE])
def test_a_bomb_in_a_header_is_refused_before_it_is_read(demo, good, kind):
    """tarfile reads a long name or a pax header whole: one that claims 64 MB is not read."""
    bomb = good.with_name("header-bomb.tar.gz")
    with tarfile.open(bomb, "w:gz", compresslevel=1, format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("././@LongLink")
        info.type = kind
        info.size = 64 * 1024 * 1024
        tar.addfile(info, io.BufferedReader(Zeros(info.size)))
    with watchdog():
        assert_refused(demo, bomb, "limit for a backup's headers")


@pytest.mark.parametrize("make, words", [("fifo", "a FIFO"), ("directory", "is a directory")])
def test_a_backup_that_is_not_a_regular_file_is_refused_at_once(demo, tmp_path, make, words):
    """A FIFO nobody writes to: refused, not waited on."""
    path = tmp_path / "archives" / "not-a-file.tar.gz"
    path.parent.mkdir(exist_ok=True)
    os.mkfifo(path) if make == "fifo" else path.mkdir()
    with watchdog():
        assert_refused(demo, path, words)


def test_a_truncated_backup_is_refused(demo, good):
    raw = good.read_bytes()
    cut = good.with_name("cut.tar.gz")
    cut.write_bytes(raw[: len(raw) // 2])
    assert_refused(demo, cut)


# -- the staged copy -----------------------------------------------------------------
def test_a_tampered_but_self_consistent_backup_fails_the_integrity_check(demo, good):
    """A patient shard emptied and the manifest rebuilt to match: the hashes hold, the check does not."""
    members = {**members_of(good), "data/patients/00000.json": b'{"_default": {}}'}
    assert_refused(demo, write_archive(good.with_name("tampered.tar.gz"), rehashed(members)),
                   "fails the integrity check")


def test_a_backup_with_broken_configuration_is_refused(demo, good):
    members = {**members_of(good), "data/practice.yaml": b"name: [unclosed\n"}
    assert_refused(demo, write_archive(good.with_name("yaml.tar.gz"), rehashed(members)), "practice.yaml")


def test_a_cache_in_an_older_backup_is_not_restored(demo, good):
    """A parse cache is trusted without validating its YAML: one carried in could smuggle settings."""
    practice = members_of(good)["data/practice.yaml"]
    forged = json.dumps({"yaml": practice.decode("latin-1"), "data": {"name": "Forged"}}).encode()
    members = {**members_of(good), "data/index/config/practice.yaml.json": forged}
    demo.ok("restore", write_archive(good.with_name("cache.tar.gz"), rehashed(members)))
    assert json.loads((demo.home / "index/config/practice.yaml.json").read_bytes())["data"]["name"] != "Forged"


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_restores_staging_is_reported_and_removed_by_the_next_restore(demo, good):
    home = demo.home
    staging = home.parent / f".{home.name}.restoring-{dead_pid()}"
    (staging / "patients").mkdir(parents=True)
    (staging / "patients" / "00000.json").write_bytes(members_of(good)["data/patients/00000.json"])
    result = demo("check", "--json")
    assert result.exit_code == 3
    (problem,) = result.json()
    assert "restore that did not finish" in problem["problem"] and "patient data" in problem["problem"]
    assert problem["file"] == f"../{staging.name}" and not problem["repaired"]
    demo.ok("restore", good)
    assert not staging.exists()
    demo.ok("check")


def test_check_repair_removes_a_killed_restores_staging(demo):
    staging = demo.home.parent / f".{demo.home.name}.restoring-{dead_pid()}"
    staging.mkdir()
    result = demo("check", "--repair", "--json")
    assert result.exit_code == 0 and [p["repaired"] for p in result.json()] == [True]
    assert not staging.exists()


def test_a_restore_killed_half_way_leaves_the_live_directory_whole(demo, good, tmp_path):
    """SIGKILL while the backup is unpacked: the live directory is as it was; its staging is reported."""
    home = demo.home
    before = snapshot(home)
    script = (
        "import os, signal, sys\n"
        "from medsec.store import backup\n"
        "real = backup._write_checked\n"
        "count = [0]\n"
        "def write(*args):\n"
        "    count[0] += 1\n"
        "    if count[0] == 20:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    real(*args)\n"
        "backup._write_checked = write\n"
        "from medsec.cli import cli\n"
        "sys.exit(cli.main(args=['restore', sys.argv[1]], standalone_mode=False))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(good)], env={**os.environ, **demo.env},
                          capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert snapshot(home) == before
    (left,) = [n for n in os.listdir(home.parent) if n.startswith(f".{home.name}.restoring-")]
    problems = demo.json("check", "--repair")
    assert [p["file"] for p in problems] == [f"../{left}"]
    assert not (home.parent / left).exists()


def test_two_restores_in_the_same_second_keep_both_replaced_directories(demo, good):
    """The tests' clock stands still: every restore happens in the same second."""
    first = demo.json("restore", good)["previous_kept_at"]
    second = demo.json("restore", good)["previous_kept_at"]
    assert first != second and os.path.isdir(first) and os.path.isdir(second)
    assert os.path.exists(os.path.join(first, "medsec.yaml")) and os.path.exists(os.path.join(second, "medsec.yaml"))
    demo.ok("check")


def test_a_good_backup_still_restores_after_the_checks(demo, good):
    demo.ok("patient", "add", "--first", "Late", "--last", "Arrival", "--dob", "1999-09-09")
    restored = demo.json("restore", good)
    assert restored["files"] > 10
    assert demo.json("patient", "find", "late", "arrival") == []
    assert not [n for n in os.listdir(demo.home.parent) if ".restoring-" in n]
    demo.ok("check")


def test_backup_leaves_out_what_a_restore_would_refuse(demo, tmp_path):
    (demo.home / "notes.txt").write_text("not medsec's")
    (demo.home / "stray").mkdir()
    (demo.home / "stray" / "x.json").write_text("{}")
    os.symlink("/etc/hostname", demo.home / "templates" / "linked.j2")
    info = demo.json("backup", tmp_path / "b.tar.gz")
    assert sorted(info["left_out"]) == ["notes.txt", "stray/x.json", "templates/linked.j2"]
    names = members_of(tmp_path / "b.tar.gz")
    assert not {"data/notes.txt", "data/stray/x.json", "data/templates/linked.j2"} & names.keys()
    demo.ok("restore", tmp_path / "b.tar.gz")
