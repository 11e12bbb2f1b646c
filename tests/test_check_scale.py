"""`medsec check` reads each kind's records once and compares its index files with what they imply
as (key, id) pairs, whatever their order; it keeps the ids no file holds as runs. What that
comparison must still tell apart, and the runs of lost ids it must still name exactly."""

import json

import orjson
import pytest

from medsec.store.integrity import _absent

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
