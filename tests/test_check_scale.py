"""`medsec check` reads each kind's records once and compares its index files with what they imply
as (key, id) pairs, whatever their order; it keeps the ids no file holds as runs. What that
comparison must still tell apart, and the runs of lost ids it must still name exactly. A big
kind's files (and its index files) are read by two processes: the findings must be those of one."""

import json
import os
import shutil

import orjson
import pytest
from helpers.cli import Medsec
from helpers.files import snapshot

from medsec.errors import EnvironmentFailure, InvalidInput
from medsec.store import halves, integrity, kinds
from medsec.store.catalog import APPOINTMENTS, LABS, MAIL, PATIENTS
from medsec.store.integrity import _absent
from medsec.store.lock import DirectoryLock
from medsec.store.store import Store

APPT_INDEX = "index/appt-patient/00000.json"
LOCATOR = "index/appointments-day/00000.json"
NAME_INDEX = "index/patient-name/ad.json"


def read_json(home, rel):
    return json.loads((home / rel).read_bytes())


def write_json(home, rel, data) -> None:
    (home / rel).write_bytes(orjson.dumps(data))


def index_problems(result) -> list[str]:
    return [p["file"] for p in result.json() if p["problem"] == "index does not match the records"]


def id_order(ids: list[str]) -> list[str]:
    return sorted(ids, key=lambda i: int(i.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")))


@pytest.mark.parametrize("rel", [APPT_INDEX, LOCATOR, NAME_INDEX])
def test_an_index_in_another_order_is_no_damage(demo, rel):
    """Keys and ids in any order (medsec appends; a repair sorts) are the same index."""
    data = read_json(demo.home, rel)
    assert any(len(ids) > 1 for ids in data.values())
    write_json(demo.home, rel, {key: list(reversed(ids)) for key, ids in reversed(data.items())})
    assert demo("check").stderr == "data directory ok\n"


def twice(data):
    key = next(k for k, ids in data.items() if ids)
    return {**data, key: data[key] + data[key][:1]}


def moved(data):
    """One id under another key: the same ids, the same keys, other pairs."""
    (a, ids_a), (b, ids_b) = [(k, v) for k, v in data.items() if v][:2]
    return {**data, a: ids_a[1:], b: ids_b + ids_a[:1]}


def not_a_list(data):
    key = next(iter(data))
    return {**data, key: data[key][0]}


def not_an_object(data):
    return [list(data)]


def extra_key(data):
    return {**data, "P999999": ["A1"]}


@pytest.mark.parametrize("damage", [twice, moved, not_a_list, not_an_object, extra_key], ids=lambda f: f.__name__)
@pytest.mark.parametrize("rel", [APPT_INDEX, LOCATOR])
def test_a_damaged_appointment_index_is_reported_and_rebuilt(demo, rel, damage):
    good = read_json(demo.home, rel)
    write_json(demo.home, rel, damage(good))
    assert index_problems(demo("check", "--json")) == [rel]
    repaired = demo("check", "--repair", "--json")
    assert repaired.exit_code == 0 and index_problems(repaired) == [rel]
    assert read_json(demo.home, rel) == {key: id_order(ids) for key, ids in good.items()}
    assert demo("check").stderr == "data directory ok\n"


def test_an_index_file_no_record_implies(demo):
    """One that holds entries goes with a repair; an empty one (as a merge of split shards
    leaves) names nothing and is no damage."""
    stray, empty = "index/appt-patient/09999.json", "index/appt-patient/09998.json"
    write_json(demo.home, stray, {"P999801": ["A1"]})
    write_json(demo.home, empty, {})
    assert index_problems(demo("check", "--json")) == [stray]
    demo.ok("check", "--repair")
    assert not (demo.home / stray).exists()
    assert demo("check").stderr == "data directory ok\n"


def test_records_lost_in_the_middle_and_after_the_last_found(demo):
    """Ids handed out that no file holds, the seal rewritten to match (so only the counter
    tells): a run inside the ids found and the highest ones are each named exactly."""
    rel = "patients/00000.json"
    data = read_json(demo.home, rel)
    top = read_json(demo.home, "meta/counters.json")["P"]
    last_rel = f"patients/{(top - 1) // 100:05d}.json"
    for shard, gone in ((rel, ["4", "5", "6"]), (last_rel, [str(top - 1), str(top)])):
        data = read_json(demo.home, shard)
        for doc_id in gone:
            del data["_default"][doc_id]
            del data["_seal"][doc_id]
        write_json(demo.home, shard, data)
    found = {p["file"]: p["problem"] for p in demo("check", "--json").json() if "records lost" in p["problem"]}
    assert found[rel].endswith(": P4-P6")
    assert found[last_rel].endswith(f": P{top - 1}-P{top}")


@pytest.mark.parametrize(("present", "sealed", "expected"), [
    (set(), {}, (0, [], {})),
    ({1, 2, 3}, {2: "a"}, (3, [], {})),
    ({1, 2, 5, 9}, {3: "a", 12: "b"}, (9, [(3, 4), (6, 8)], {3: "a", 12: "b"})),
    ({0, 2}, {}, (2, [(1, 1)], {})),  # as many as the highest, yet one missing
    ({3}, {}, (3, [(1, 2)], {})),
])
def test_absent_ids_as_runs(present, sealed, expected):
    assert tuple(_absent(present, sealed)) == expected


# -- two processes ------------------------------------------------------------------------------
def split_in_two(monkeypatch) -> None:
    """Every kind's files and index files, from two on, read by two processes (as a big
    directory's are), even on one CPU."""
    monkeypatch.setattr(halves, "SPLIT_FROM", 2)
    monkeypatch.setattr(halves, "_two_cpus", lambda: True)


@pytest.fixture
def split(monkeypatch):
    split_in_two(monkeypatch)


def day_files(home) -> list[str]:
    return sorted(p.relative_to(home).as_posix() for p in (home / "appointments").rglob("*.json"))


def damage_everywhere(home) -> list[str]:
    """Findings in the first and the later half of the patients' and the appointments' files,
    and in their index files: (the start of) some that must be among them."""
    first = read_json(home, "patients/00000.json")
    first["_default"]["5"]["first"] = "Mallory"
    write_json(home, "patients/00000.json", first)
    last = read_json(home, "patients/00002.json")
    last["_default"]["301"] = {**last["_default"]["201"], "id": "P301"}
    write_json(home, "patients/00002.json", last)
    days = day_files(home)
    early, late = read_json(home, days[0]), read_json(home, days[-1])
    moved = next(iter(early["_default"]))
    late["_default"][moved] = early["_default"].pop(moved)  # in another day's file: misplaced
    late["_default"][next(iter(late["_default"]))]["patient_id"] = "P999"
    write_json(home, days[0], early)
    write_json(home, days[-1], late)
    (home / days[len(days) // 2]).unlink()
    write_json(home, APPT_INDEX, moved_entry(read_json(home, APPT_INDEX)))
    return ["patients/00000.json: changed outside medsec (not as medsec wrote them): P5",
            "patients/00002.json: not written by medsec (added outside it): P301",
            f"{days[-1]}: document {moved} holds", f"{days[-1]}: records name a patient who is not there",
            f"{days[len(days) // 2]}: records lost", "index/appt-patient/: "]


def moved_entry(data):
    (a, ids_a), (b, ids_b) = [(k, v) for k, v in data.items() if v][:2]
    return {**data, a: ids_a[1:], b: ids_b + ids_a[:1]}


def truncate_one(home) -> list[str]:
    """A file that is not JSON in the later half: the indexes are not judged."""
    rel = day_files(home)[-2]
    (home / rel).write_bytes((home / rel).read_bytes()[:100])
    return [f"{rel}: not valid JSON", f"{rel}: records lost"]


def sealed_only(home) -> list[str]:
    """A record gone from the later half's shard but not from its seal, and the counters gone:
    only the seal says it was there."""
    data = read_json(home, "patients/00002.json")
    del data["_default"]["250"]
    write_json(home, "patients/00002.json", data)
    (home / "meta/counters.json").unlink()
    return ["meta/counters.json: the id counters are missing",
            "patients/00002.json: records lost (handed out, found in no file): P250"]


def said(result) -> list[str]:
    return [f"{p['file']}: {p['problem']}" for p in result.json()]


@pytest.mark.parametrize("damage", [damage_everywhere, truncate_one, sealed_only], ids=lambda f: f.__name__)
def test_two_processes_find_what_one_finds(demo, tmp_path, monkeypatch, damage):
    expected = damage(demo.home)
    one = demo("check", "--json")
    assert all(any(line.startswith(text) for line in said(one)) for text in expected), said(one)
    if damage is truncate_one:
        assert len(said(one)) == len(expected)  # no index judged
    copy = tmp_path / "copy"
    shutil.copytree(demo.home, copy)
    repaired_by_one = Medsec(copy, {**demo.env, "MEDSEC_HOME": str(copy)})("check", "--repair", "--json")
    split_in_two(monkeypatch)
    two = demo("check", "--json")
    assert (two.exit_code, two.json()) == (one.exit_code, one.json())
    repaired_by_two = demo("check", "--repair", "--json")
    assert (repaired_by_two.exit_code, repaired_by_two.json()) == (repaired_by_one.exit_code, repaired_by_one.json())
    assert snapshot(demo.home) == snapshot(copy)


def in_the_forked_process(monkeypatch, act) -> None:
    """`act()` where the later half of a kind's files is read (the forked process), not here."""
    here = os.getpid()
    read = integrity._Checker._read

    def reading(self, kind, files, patients):
        if os.getpid() != here:
            act()
        return read(self, kind, files, patients)

    monkeypatch.setattr(integrity._Checker, "_read", reading)


def test_an_error_in_the_other_process_is_raised_here(demo, split, monkeypatch):
    def fail():
        raise EnvironmentFailure("disk on fire", hint="call the fire brigade")

    in_the_forked_process(monkeypatch, fail)
    with pytest.raises(EnvironmentFailure) as raised:
        integrity.check(Store(str(demo.home)))
    assert (raised.value.message, raised.value.hint) == ("disk on fire", "call the fire brigade")


def test_the_other_process_ending_without_its_findings_is_an_environment_failure(demo, split, monkeypatch):
    in_the_forked_process(monkeypatch, lambda: os._exit(9))
    result = demo("check", "--json")
    assert result.exit_code == 3
    assert "ended before it said what it found (exit code 9)" in result.stderr


def test_the_lock_stays_held_when_the_other_process_ends(demo, split):
    store = Store(str(demo.home))
    with store.lock():
        assert integrity.check_locked(store, repair=False) == []
        with pytest.raises(EnvironmentFailure, match="locked by another medsec process"):
            DirectoryLock(str(demo.home), timeout=0).acquire()


# -- the fast paths check takes for every record ------------------------------------------------
def by_the_regex(kind, record_id):
    """`RecordKind.number` as its docstring and `_NUMBER` define it, without its fast path."""
    text = str(record_id)
    digits = text[len(kind.prefix):]
    if text[:len(kind.prefix)].upper() == kind.prefix and kinds._NUMBER.fullmatch(digits):
        return int(digits)
    return None


@pytest.mark.parametrize("record_id", ["P1", "p1", "P0", "P01", "P123456789", "P1234567890", "P\u00b2", "P\u0661",
                                       "P\uff11", "\uff301", "P", "", "PX1", "P1 ", " P1", "P-1", "P+1", "P1_0",
                                       5, "LB5", "L5"])
def test_an_id_number_is_read_as_the_regex_reads_it(record_id):
    for kind in (PATIENTS, MAIL, LABS):
        expected = by_the_regex(kind, record_id)
        if expected is None:
            with pytest.raises(InvalidInput):
                kind.number(record_id)
        else:
            assert kind.number(record_id) == expected


@pytest.mark.parametrize("part", ["S1", "S-1", "s_1", "", "S 1", "S/1", "\uff331", "S1\n", "x" * 64, "x" * 65, 1, None,
                                  "\u00e9"])
def test_a_place_is_named_as_the_regex_allows(part):
    record = {"id": "A1", "start": "2026-11-26T09:00", "provider": part}
    if kinds._PART.fullmatch(str(part or "")):
        assert APPOINTMENTS.place(record) == f"2026-11-26/{part}"
    else:
        with pytest.raises(InvalidInput):
            APPOINTMENTS.place(record)
