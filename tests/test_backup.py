"""Backups are consistent snapshots; restores check before replacing anything."""

import io
import json
import tarfile

from helpers.files import snapshot


def test_backup_and_restore_round_trip(demo, tmp_path):
    target = tmp_path / "nightly.tar.gz"
    info = demo.json("backup", target)
    assert info["files"] > 10 and info["schema_version"] == 4
    before = snapshot(demo.home, skip=("audit", "index"))
    demo.ok("patient", "add", "--first", "Late", "--last", "Arrival", "--dob", "1999-09-09")
    restored = demo.json("restore", target)
    assert restored["previous_kept_at"].startswith(str(demo.home) + ".replaced-")
    assert snapshot(demo.home, skip=("audit", "index")) == before
    assert demo.json("patient", "find", "late", "arrival") == []
    assert demo("check").exit_code == 0
    # the replaced directory is kept, untouched
    kept = demo.json("--data-dir", restored["previous_kept_at"], "patient", "find", "late")
    assert len(kept) == 1


def test_restore_refuses_what_is_not_a_medsec_backup(demo, tmp_path):
    before = snapshot(demo.home)
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    result = demo("restore", junk)
    assert result.exit_code == 2 and "not a medsec backup" in result.stderr
    other = tmp_path / "other.tar.gz"
    with tarfile.open(other, "w:gz") as tar:
        data = b"hello"
        info = tarfile.TarInfo("data/hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert demo("restore", other).exit_code == 2
    assert snapshot(demo.home) == before


def test_restore_refuses_unknown_schema_and_tampering(demo, tmp_path):
    good = tmp_path / "b.tar.gz"
    demo.ok("backup", good)
    members = {}
    with tarfile.open(good) as tar:
        for m in tar:
            members[m.name] = tar.extractfile(m).read()

    def rewrite(path, change):
        copy = dict(members)
        change(copy)
        with tarfile.open(path, "w:gz") as tar:
            for name, data in copy.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return path

    def future(files):
        manifest = json.loads(files["MEDSEC-BACKUP.json"])
        manifest["schema_version"] = 99
        files["MEDSEC-BACKUP.json"] = json.dumps(manifest).encode()

    def tamper(files):
        files["data/practice.yaml"] = b"name: Evil\n"

    before = snapshot(demo.home)
    result = demo("restore", rewrite(tmp_path / "future.tar.gz", future))
    assert result.exit_code == 2 and "schema version 99" in result.stderr
    result = demo("restore", rewrite(tmp_path / "tampered.tar.gz", tamper))
    assert result.exit_code == 2 and "checksum" in result.stderr
    assert snapshot(demo.home) == before


def test_backup_inside_data_dir_refused(demo):
    result = demo("backup", demo.home / "b.tar.gz")
    assert result.exit_code == 2


def test_rebuildable_caches_stay_out_and_come_back_on_demand(demo, tmp_path):
    """The ICD-10-CM index and the parsed-configuration cache are not backed up; after a
    restore the commands that need them rebuild them."""
    assert demo.json("code", "show", "E11.9")["table"] == "icd10cm"
    codes = demo.home / "index" / "codes"
    codes.mkdir(parents=True, exist_ok=True)
    (codes / "big-cache.bin").write_bytes(b"\0" * 2_000_000)  # a coding table's built index, say
    target = tmp_path / "b.tar.gz"
    info = demo.json("backup", target)
    with tarfile.open(target) as tar:
        names = tar.getnames()
    assert not [n for n in names if n.startswith(("data/index/codes/", "data/index/config/"))]
    assert any(n.startswith("data/index/patient-name/") for n in names)  # record indexes stay
    assert info["bytes"] < 1_000_000
    demo.ok("restore", target)
    assert not (demo.home / "index" / "codes").exists()
    assert demo("check").exit_code == 0
    assert demo.json("code", "show", "E11.9")["description"].startswith("Type 2 diabetes mellitus")
    assert demo.json("code", "show", "99213")["fee"] == "125.00"
    assert (demo.home / "index" / "config").is_dir()  # the configuration cache is back too
