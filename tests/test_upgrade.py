"""`medsec upgrade` and restore of old backups, on a directory written by medsec 0.1.0 (schema 1)."""

import json
import shutil
from pathlib import Path

import pytest
from helpers.files import snapshot

import medsec.store.upgrade as upgrade_module
from medsec.errors import MedsecError

FIXTURE = Path(__file__).parent / "fixtures" / "schema1"


@pytest.fixture
def old(medsec):
    shutil.copytree(FIXTURE / "data", medsec.home)
    return medsec


def listed(m) -> list[dict]:
    return m.json("appt", "list", "--from", "2026-11-01", "--to", "2027-01-31")


def assert_upgraded(m) -> None:
    """The old medsec's appointments, as it listed them; its journaled commit; every index rebuilt."""
    assert listed(m) == json.loads((FIXTURE / "appt-list.json").read_text())
    assert m.json("patient", "show", "P3")["last"] == "Moss-Reyes"
    assert m.json("check") == []
    day = m.home / "appointments" / "2026" / "2026-11-27"
    assert sorted(p.name for p in day.iterdir()) == ["S1.json", "S2.json"]
    # the indexes answer: the series, the patient's visits, the imported UID, the operating room
    assert [a["id"] for a in m.json("appt", "list", "--patient", "P3")] == ["A3", "A4", "A5"]
    assert m.json("appt", "import", FIXTURE / "other.ics", "--provider", "S2")["booked"] == 0
    taken = m("appt", "book", "P3", "--provider", "S1", "--at", "2026-11-30 08:30", "--type", "surgery",
              "--room", "or1")
    assert taken.exit_code == 1 and "room or1 is taken 08:00-10:00 (A6)" in taken.stderr


def test_every_command_refuses_the_old_schema_until_upgraded(old):
    before = snapshot(old.home)
    refused = old("appt", "list")
    assert refused.exit_code == 3 and "schema_version 1" in refused.stderr and "medsec upgrade" in refused.stderr
    assert snapshot(old.home) == before
    result = old.json("upgrade")
    assert (result["from"], result["to"]) == (1, 4)
    assert result["steps"][0] == "appointments: 8 moved from 6 day file(s) to one file per provider per day"
    assert result["steps"][1].startswith("name index:")
    assert result["steps"][2].startswith("guarantors: 0 free-text guarantor(s)")
    assert_upgraded(old)
    again = old.json("upgrade")
    assert (again["from"], again["steps"]) == (4, [])


def test_an_upgrade_cut_short_is_finished_by_running_it_again(old, monkeypatch):
    real_unlink = upgrade_module.os.unlink
    calls = []

    def crash_on_third(path):
        calls.append(path)
        if len(calls) == 3:  # journal and first day done; the second day's parts written, its file kept
            raise OSError("simulated crash")
        real_unlink(path)

    monkeypatch.setattr(upgrade_module.os, "unlink", crash_on_third)
    with pytest.raises(OSError):
        upgrade_module.upgrade(str(old.home))
    monkeypatch.setattr(upgrade_module.os, "unlink", real_unlink)
    year = old.home / "appointments" / "2026"
    assert (year / "2026-11-30.json").is_file() and (year / "2026-11-30" / "S2.json").is_file()
    assert old("appt", "list").exit_code == 3  # still schema 1: nothing half-read
    assert old.json("upgrade")["from"] == 1
    assert_upgraded(old)


def test_a_newer_schema_is_refused(old):
    text = (old.home / "medsec.yaml").read_text().replace("schema_version: 1", "schema_version: 9")
    (old.home / "medsec.yaml").write_text(text)
    with pytest.raises(MedsecError, match="newer medsec"):
        upgrade_module.upgrade(str(old.home))


def test_restoring_an_old_backup_upgrades_it_before_it_goes_live(medsec):
    medsec.ok("init", "--security", "open")
    result = medsec.json("restore", FIXTURE / "backup.tar.gz")
    assert result["upgraded_from_schema"] == 1
    assert_upgraded(medsec)


def test_upgrade_of_what_is_not_a_data_directory_writes_nothing(medsec, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = medsec("--data-dir", empty, "upgrade")
    assert result.exit_code == 3 and "not a medsec data directory" in result.stderr
    assert list(empty.iterdir()) == []
