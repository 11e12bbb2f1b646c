"""The journal writes only inside the data directory's own layout; init wants a private folder.

A journal planted in the data directory (or carried in some other way) that
names a file outside it, an unknown file, or a path through a symbolic link
that leads out is never applied: every command stops on it in one line
(exit 3), nothing is written anywhere, and `check` reports it. A real
interrupted commit still rolls forward. The same holds for a schema-1
journal that `upgrade` finishes.
"""

import hashlib
import json
import os
import shutil
import stat
import zlib
from pathlib import Path

import pytest
from helpers.files import snapshot
from helpers.journal import staged_commit

from medsec.config import CONFIG_FILES
from medsec.fileio import write_atomic
from medsec.store.journal import JOURNAL, JOURNAL_MAGIC, encode_journal
from medsec.store.layout import commit_path_problem
from medsec.store.upgrade import V1_JOURNAL_MAGIC


def everything(root: Path, skip: Path) -> dict[str, object]:
    """Every file (its bytes), folder and link under `root`, outside `skip`."""
    found: dict[str, object] = {}
    for folder, dirs, names in os.walk(root):
        if Path(folder) == skip or skip in Path(folder).parents:
            continue
        for name in dirs + names:
            path = Path(folder) / name
            if path == skip:
                continue
            if path.is_symlink():
                found[str(path)] = ("link", os.readlink(path))
            elif path.is_file():
                found[str(path)] = path.read_bytes()
            else:
                found[str(path)] = "folder"
    return found


def data_files(home: Path) -> dict:
    return {k: v for k, v in snapshot(home).items() if k not in (".lock", JOURNAL)}


def assert_stops_on_the_journal(medsec, tmp_path: Path, planted: bytes) -> None:
    """Every kind of command stops on the journal (exit 3, one line) and writes nothing anywhere."""
    home = medsec.home
    outside, inside = everything(tmp_path, home), data_files(home)
    for command in (("patient", "list"), ("patient", "find", "smith"), ("patient", "note", "P2", "x"),
                    ("patient", "add", "--first", "Cy", "--last", "Young", "--dob", "1980-01-01")):
        result = medsec(*command)
        assert result.exit_code == 3, (command, result.stderr)
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1 and "journal" in result.stderr, result.stderr
        assert "medsec check" in result.stderr
        assert (home / JOURNAL).read_bytes() == planted  # kept as evidence
    assert everything(tmp_path, home) == outside
    assert data_files(home) == inside


def plant(home: Path, files: list[tuple[str, bytes]]) -> bytes:
    raw = encode_journal(files)
    write_atomic(str(home / JOURNAL), raw)
    return raw


@pytest.mark.parametrize("rel", [
    "../x.json",                      # beside the data directory
    "../../escaped/x.json",           # further up
    "index/../../x.json",             # `..` inside a known folder
    "index/patient-name/../../../x.json",
    "patients/./00000.json",          # an odd component
    "patients//00000.json",           # an empty one
    "patients/.hidden.json",
    "notes.txt",                      # an unknown top-level file
    "evil/x.json",                    # an unknown folder
    "audit/2026-11.jsonl",            # a folder commits never write
    ".lock",
    "journal",
    "patients/00000.json.tmp-1-1",    # a temporary file
    "",
])
def test_a_journal_naming_a_file_outside_the_layout_is_never_applied(two_patients, tmp_path, rel):
    home = two_patients.home
    files = staged_commit(home)  # a real commit's files, and one more that is not medsec's
    planted = plant(home, [*files, (rel, b'{"_default": {}}')])
    assert_stops_on_the_journal(two_patients, tmp_path, planted)
    assert not (tmp_path / "x.json").exists() and not (tmp_path.parent / "x.json").exists()


def test_a_journal_naming_an_absolute_path_is_never_applied(two_patients, tmp_path):
    target = tmp_path / "abs" / "x.json"
    planted = plant(two_patients.home, [("patients/00000.json", b"{}"), (str(target), b"{}")])
    assert_stops_on_the_journal(two_patients, tmp_path, planted)
    assert not target.exists() and not target.parent.exists()


@pytest.mark.parametrize("linked", ["faxes", "index/call-patient", "appointments/2026"])
def test_a_journal_writing_through_a_symlinked_folder_is_never_applied(two_patients, tmp_path, linked):
    home = two_patients.home
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = home / linked
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.exists():
        os.rename(link, tmp_path / "moved")
    link.symlink_to(elsewhere, target_is_directory=True)
    rel = f"{linked}/00000.json" if linked != "appointments/2026" else f"{linked}/2026-11-26/S1.json"
    planted = plant(home, [("patients/00000.json", b"{}"), (rel, b'{"_default": {}}')])
    assert_stops_on_the_journal(two_patients, tmp_path, planted)
    assert os.listdir(elsewhere) == []


def test_a_commit_does_not_write_through_a_symlinked_folder_either(two_patients, tmp_path):
    """An ordinary commit checks its own files the same way, before its journal is written."""
    home = two_patients.home
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.rename(home / "index" / "patient-name", tmp_path / "moved")
    (home / "index" / "patient-name").symlink_to(elsewhere, target_is_directory=True)
    before = data_files(home)
    result = two_patients("patient", "add", "--first", "Zed", "--last", "Zorn", "--dob", "1980-01-01")
    assert result.exit_code == 3 and result.stderr.count("\n") == 1
    assert "symbolic link" in result.stderr and "nothing was written" in result.stderr
    assert os.listdir(elsewhere) == []
    assert not (home / JOURNAL).exists()
    assert data_files(home) == before


@pytest.mark.parametrize("body", [b"{}", b'"x"', b"[1, 2]", b'[["patients/00000.json"]]',
                                  b'[["patients/00000.json", 5]]', b"not json"])
def test_a_whole_journal_that_is_not_a_list_of_files_is_damage(two_patients, tmp_path, body):
    """Its checksum holds, so it is not torn: it is not medsec's, and not applied."""
    planted = JOURNAL_MAGIC + b"%d %08x\n" % (len(body), zlib.crc32(body)) + body
    write_atomic(str(two_patients.home / JOURNAL), planted)
    assert_stops_on_the_journal(two_patients, tmp_path, planted)


def test_check_reports_the_journal_and_repair_keeps_it(two_patients, tmp_path):
    home = two_patients.home
    planted = plant(home, [*staged_commit(home), ("../x.json", b"{}")])
    outside = everything(tmp_path, home)
    (home / "index" / "patient-dob" / "1970.json").write_bytes(b"{}")  # a repairable problem too
    for args in (("check", "--json"), ("check", "--repair", "--json")):
        result = two_patients(*args)
        assert result.exit_code == 3, result.stderr
        problems = result.json()
        journal = [p for p in problems if p["file"] == JOURNAL]
        assert len(journal) == 1 and "'../x.json'" in journal[0]["problem"]
        assert "not applied" in journal[0]["problem"] and not journal[0]["repaired"]
        # no repair is committed over the evidence (a commit would replace the journal)
        assert not any(p["repaired"] for p in problems)
        assert (home / JOURNAL).read_bytes() == planted
    assert (home / "index" / "patient-dob" / "1970.json").read_bytes() == b"{}"
    assert everything(tmp_path, home) == outside
    # Once the journal is moved aside, the directory is as it was before and repairs work.
    os.rename(home / JOURNAL, tmp_path / "journal.evidence")
    two_patients.ok("check", "--repair")
    two_patients.ok("check")
    assert two_patients.json("patient", "show", "P1")["last"] == "Smith"


def test_a_real_interrupted_commit_still_rolls_forward(two_patients, tmp_path):
    home = two_patients.home
    files = staged_commit(home)
    plant(home, files)
    write_atomic(str(home / files[0][0]), files[0][1])  # the writer died after its first file
    outside = everything(tmp_path, home)
    assert [p["id"] for p in two_patients.json("patient", "find", "nowak")] == ["P3"]
    assert not (home / JOURNAL).exists()
    assert two_patients.json("patient", "show", "P1")["last"] == "Kowalski"
    two_patients.ok("check")
    assert everything(tmp_path, home) == outside


def test_every_path_a_commit_writes_is_in_the_layout(demo):
    """The demo's own files (records, indexes, meta, configuration) all pass the journal's rule:
    a commit medsec makes is never refused by its own replay."""
    home = demo.home
    for path in home.rglob("*.json"):
        rel = path.relative_to(home).as_posix()
        if rel.split("/")[0] not in ("audit", "outbox", "files", "templates") and \
                not rel.startswith("index/codes/"):
            assert commit_path_problem(rel) is None, rel
    for name in CONFIG_FILES:
        assert commit_path_problem(name) is None


def test_an_old_schema_journal_naming_a_file_outside_is_not_applied_by_upgrade(medsec, tmp_path):
    shutil.copytree(Path(__file__).parent / "fixtures" / "schema1" / "data", medsec.home)
    body = json.dumps([["patients/00000.json", "{}"], ["../x.json", "{}"]]).encode()
    planted = V1_JOURNAL_MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body
    (medsec.home / JOURNAL).write_bytes(planted)
    outside, inside = everything(tmp_path, medsec.home), data_files(medsec.home)
    result = medsec("upgrade")
    assert result.exit_code == 3 and "'../x.json'" in result.stderr and result.stderr.count("\n") == 1
    assert everything(tmp_path, medsec.home) == outside and data_files(medsec.home) == inside
    assert (medsec.home / JOURNAL).read_bytes() == planted


# -- init into an existing folder ---------------------------------------------------------
@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722, 0o1777])
def test_init_refuses_an_existing_folder_others_can_write(medsec, mode):
    home = medsec.home
    home.mkdir()
    os.chmod(home, mode)
    result = medsec("init", "--security", "open")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert str(home) in result.stderr and f"chmod 700 {home}" in result.stderr
    assert os.listdir(home) == []  # nothing written
    assert stat.S_IMODE(os.stat(home).st_mode) == mode  # and nothing changed
    os.chmod(home, 0o700)  # the fix it names
    medsec.ok("init", "--security", "open")
    medsec.ok("check")


@pytest.mark.parametrize("mode", [0o700, 0o755])
def test_init_uses_an_existing_empty_folder_only_its_owner_writes(medsec, mode):
    home = medsec.home
    home.mkdir()
    os.chmod(home, mode)
    medsec.ok("init", "--security", "open")
    assert (home / "medsec.yaml").exists()
    medsec.ok("check")
