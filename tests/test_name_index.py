"""The name index where names cluster: its shards split past a size and merge back, search stays
right (a rare name in the cluster, prefixes of any length), the files stay the ones the records
imply (what `medsec check` rebuilds), and a lock-free reader never misses a key a split moves."""

import csv
import itertools
import os

import orjson
import pytest

from medsec.errors import EnvironmentFailure
from medsec.fileio import write_atomic
from medsec.store import Store, Transaction, indexfiles
from medsec.store.catalog import PATIENTS
from medsec.store.views import Snapshot
from medsec.text import words

LIMIT = 8  # the ids a name shard holds before it splits, in these tests
NAME = "patient-name"
FIRST = ["Ann", "Bo", "Cy", "Dee"]


@pytest.fixture
def small_shards(monkeypatch):
    monkeypatch.setattr(indexfiles, "SPLIT_ABOVE", LIMIT)


def clustered(count: int) -> list[str]:
    """`count` surnames "Ma" + two syllables, in an order that spreads them over the cluster."""
    names = ["Ma" + a + b for a, b in itertools.product(
        [c + v for c in "bdkt" for v in "aeo"], repeat=2)]
    return [names[(i * 7) % len(names)] for i in range(count)]


def import_rows(practice, tmp_path, rows: list[tuple[str, str]], name: str = "in.csv") -> dict:
    """Import (first, last) rows, each born on its own day (no duplicates)."""
    path = tmp_path / name
    start = len(practice.json("patient", "list", "--status", "all"))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["first", "last", "dob"])
        for i, (first, last) in enumerate(rows, start):
            writer.writerow([first, last, f"19{50 + i // 300}-{1 + i // 28 % 12:02d}-{1 + i % 28:02d}"])
    return practice.json("patient", "import", str(path))


def found(practice, query: str) -> set[str]:
    return {p["id"] for p in practice.json("patient", "find", query)}


def truth(practice, query: str) -> set[str]:
    """The active patients with a name word starting with `query`, read from the records themselves."""
    return {p["id"] for p in practice.json("patient", "list")
            if any(w.startswith(query) for w in words(f"{p['first']} {p['last']}"))}


def name_files(home) -> dict[str, dict]:
    """The name index's files that hold anything (a merge leaves the files it empties as {})."""
    folder = home / "index" / NAME
    files = {f"index/{NAME}/{n}": orjson.loads((folder / n).read_bytes()) for n in sorted(os.listdir(folder))}
    return {rel: data for rel, data in files.items() if data}


def implied(home) -> dict[str, dict]:
    """The name index's files as the records imply them: their entries, laid out as `check` does."""
    expected: dict[str, dict[str, list[str]]] = {}
    for record in Snapshot(str(home)).scan(PATIENTS):
        for name, shard, key in indexfiles.entries(PATIENTS, record):
            if name == NAME:
                expected.setdefault(indexfiles.file_of(name, shard), {}).setdefault(key, []).append(record["id"])
    return {rel: data for rel, data in indexfiles.laid_out(expected).items() if data}


def same_files(actual: dict[str, dict], expected: dict[str, dict]) -> bool:
    def normal(files):
        return {rel: {k: sorted(v) for k, v in data.items()} for rel, data in files.items()}

    return normal(actual) == normal(expected)


def assert_search_right(practice, queries) -> None:
    for query in queries:
        assert found(practice, query) == truth(practice, query), query


# -- search over a clustered index -------------------------------------------------------------------
def test_rare_name_inside_a_split_cluster_and_prefixes_of_every_length(practice, tmp_path, small_shards):
    surnames = clustered(60) + ["Ma", "Mab", "Smith", "Smith", "Lind", "O'Brien"]
    import_rows(practice, tmp_path, [(FIRST[i % 4], last) for i, last in enumerate(surnames)])
    files = name_files(practice.home)
    ma = files[f"index/{NAME}/ma.json"]
    assert ma[indexfiles.SPLIT] and ma["ma"]  # split: lists its children, keeps its own key
    leaves = [data for data in files.values() if indexfiles.SPLIT not in data]
    assert len(leaves) > 10 and all(len(data) == 1 or sum(map(len, data.values())) <= LIMIT for data in leaves)
    rare = next(name for name in surnames if surnames.count(name) == 1 and name.startswith("Ma") and len(name) > 3)
    assert len(found(practice, rare)) == 1
    assert_search_right(practice, ["m", "ma", "mab", "mabe", "mabeka", rare.lower(), "o", "s", "smi", "a", "bo"])
    assert same_files(files, implied(practice.home))


def test_adds_renames_and_merges_after_a_split(practice, tmp_path, small_shards):
    import_rows(practice, tmp_path, [(FIRST[i % 4], last) for i, last in enumerate(clustered(40))])
    assert f"index/{NAME}/mab.json" in name_files(practice.home)
    # new names under a split shard: an existing child, a child listed for the first time
    for i, last in enumerate(["Mabata", "Mazuzu", "Mazuzu", "Ma", "M"]):
        practice.ok("patient", "add", "--first", "Eve", "--last", last, "--dob", f"2001-01-{i + 1:02d}")
    assert_search_right(practice, ["m", "ma", "maz", "mazuzu", "mabata", "e"])
    # renames move keys between children and out of the cluster
    everyone = practice.json("patient", "list")
    for p in everyone[:12]:
        practice.ok("patient", "edit", p["id"], "--last", "Kettle" if int(p["id"][1:]) % 2 else "Madoda")
    assert_search_right(practice, ["m", "ma", "mad", "madoda", "k", "kettle"])
    # a merge takes the duplicate's keys out of the index
    dup, keep = everyone[20]["id"], everyone[21]["id"]
    practice.ok("patient", "merge", dup, "--into", keep)
    assert dup not in found(practice, everyone[20]["last"])
    assert_search_right(practice, ["m", "ma", everyone[20]["last"].lower(), "ann", "bo"])
    assert same_files(name_files(practice.home), implied(practice.home))


def test_a_cluster_renamed_away_merges_back_into_one_file(practice, tmp_path, small_shards):
    import_rows(practice, tmp_path, [("Ann", last) for last in clustered(30)])
    assert len([rel for rel in name_files(practice.home) if "/ma" in rel]) > 2
    for p in practice.json("patient", "list")[:27]:
        practice.ok("patient", "edit", p["id"], "--last", "Zed")
    files = name_files(practice.home)
    assert [rel for rel in files if "/ma" in rel] == [f"index/{NAME}/ma.json"]  # the others: emptied
    assert indexfiles.SPLIT not in files[f"index/{NAME}/ma.json"]
    assert_search_right(practice, ["m", "ma", "z", "zed"])
    assert same_files(files, implied(practice.home))


def test_check_passes_after_adds_cross_the_split_size(practice, tmp_path, small_shards):
    for batch in range(4):  # each import a commit of its own, splitting further
        import_rows(practice, tmp_path, [(FIRST[i % 4], last) for i, last in enumerate(clustered(25))],
                    name=f"batch{batch}.csv")
        for i in range(3):
            practice.ok("patient", "add", "--first", "Eve", "--last", f"Mak{'aeo'[i]}t{'aeo'[batch % 3]}",
                        "--dob", f"2002-0{batch + 1}-{i + 1:02d}")
    assert same_files(name_files(practice.home), implied(practice.home))
    practice.ok("check")
    ma = practice.home / "index" / NAME / "ma.json"
    ma.write_bytes(orjson.dumps({k: v for k, v in orjson.loads(ma.read_bytes()).items() if k != indexfiles.SPLIT}))
    assert practice("check").exit_code == 3  # a split shard that lost its children's list
    practice.ok("check", "--repair")
    assert indexfiles.SPLIT in orjson.loads(ma.read_bytes())
    assert_search_right(practice, ["m", "ma", "maka", "makat"])


def test_a_data_directory_with_two_letter_shards_reads_and_then_splits(practice, tmp_path, monkeypatch):
    monkeypatch.setattr(indexfiles, "SPLIT_ABOVE", 10**9)  # as written before shards split
    import_rows(practice, tmp_path, [(FIRST[i % 4], last) for i, last in enumerate(clustered(40))])
    assert len(name_files(practice.home)[f"index/{NAME}/ma.json"]) == len(set(clustered(40)))
    monkeypatch.setattr(indexfiles, "SPLIT_ABOVE", LIMIT)
    assert_search_right(practice, ["m", "ma", "mabe", clustered(40)[5].lower()])
    practice.ok("patient", "add", "--first", "Eve", "--last", "Mabeba", "--dob", "2001-01-01")
    assert indexfiles.SPLIT in name_files(practice.home)[f"index/{NAME}/ma.json"]  # the first write splits it
    assert_search_right(practice, ["m", "ma", "mabe", "mabeba", clustered(40)[5].lower()])
    assert same_files(name_files(practice.home), implied(practice.home))


def test_upgrade_from_schema_2_lays_the_name_index_out(practice, tmp_path, monkeypatch):
    """A directory written before shards split (schema 2): every command asks for the upgrade,
    which lays the name index out (check clean after it), and search answers as before."""
    monkeypatch.setattr(indexfiles, "SPLIT_ABOVE", 10**9)
    import_rows(practice, tmp_path, [(FIRST[i % 4], last) for i, last in enumerate(clustered(40))])
    yaml_path = practice.home / "medsec.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("schema_version: 4", "schema_version: 2"))
    monkeypatch.setattr(indexfiles, "SPLIT_ABOVE", LIMIT)
    refused = practice("patient", "find", "ma")
    assert refused.exit_code == 3 and "medsec upgrade" in refused.stderr
    result = practice.json("upgrade")
    assert (result["from"], result["to"]) == (2, 4)
    assert result["steps"][0].startswith("name index:")
    assert indexfiles.SPLIT in name_files(practice.home)[f"index/{NAME}/ma.json"]
    assert practice.json("check") == []
    assert_search_right(practice, ["m", "ma", "mabe", clustered(40)[5].lower()])


# -- lock-free readers ---------------------------------------------------------------------------------
def staged(home, change) -> list[tuple[str, bytes]]:
    """The files of a commit (not applied) that `change` makes, in the order it writes them."""
    store = Store(str(home))
    with store.lock():
        txn = Transaction(store.root)
        change(txn)
        return txn.serialized()


def applied_one_by_one(practice, files, kept: dict[str, str]) -> None:
    """Write a commit's files one at a time, as a lock-free reader sees them; between any two, each
    kept patient (id -> surname) is found by its surname and by "ma", as before the commit."""
    for rel, data in files:
        write_atomic(str(practice.home / rel), data)
        in_cluster = found(practice, "ma")
        for pid, last in kept.items():
            assert pid in found(practice, last) and pid in in_cluster, (rel, pid, last)


def test_a_reader_between_any_two_files_of_a_split_misses_no_key(practice, tmp_path, small_shards):
    import_rows(practice, tmp_path, [("Ann", last) for last in clustered(6)])
    kept = {p["id"]: p["last"] for p in practice.json("patient", "list")}
    assert indexfiles.SPLIT not in name_files(practice.home)[f"index/{NAME}/ma.json"]

    def add_cluster(txn):
        template = txn.get(PATIENTS, "P1")
        for n, (pid, last) in enumerate(zip(txn.reserve_ids(PATIENTS, 30), clustered(36)[6:], strict=True)):
            txn.put(PATIENTS, {**template, "id": pid, "last": last, "dob": f"1990-01-{n % 28 + 1:02d}"})

    files = staged(practice.home, add_cluster)
    applied_one_by_one(practice, files, kept)
    written = [rel for rel, _data in files]
    for rel, data in name_files(practice.home).items():
        for child in data.get(indexfiles.SPLIT, []):
            assert written.index(indexfiles.file_of(NAME, child)) < written.index(rel), (child, rel)
    assert_search_right(practice, ["m", "ma", "mabe"])
    assert same_files(name_files(practice.home), implied(practice.home))


def test_a_reader_between_any_two_files_of_a_merge_misses_no_key(practice, tmp_path, small_shards):
    import_rows(practice, tmp_path, [("Ann", last) for last in clustered(30)])
    assert indexfiles.SPLIT in name_files(practice.home)[f"index/{NAME}/ma.json"]
    everyone = practice.json("patient", "list")
    kept = {p["id"]: p["last"] for p in everyone[:3]}

    def rename_the_rest(txn):
        for p in everyone[3:]:
            old = txn.get(PATIENTS, p["id"])
            txn.put(PATIENTS, {**old, "last": "Zed"}, old)

    applied_one_by_one(practice, staged(practice.home, rename_the_rest), kept)
    assert indexfiles.SPLIT not in name_files(practice.home)[f"index/{NAME}/ma.json"]  # merged
    assert_search_right(practice, ["m", "ma", "z"])
    assert same_files(name_files(practice.home), implied(practice.home))


def torn_reader(settled: list[bool]) -> indexfiles.Reader:
    """A reader meeting a merge half-applied: "ma" still lists "mab", which was emptied. Once
    settled, it reads the merged "ma"."""
    before = {"index/patient-name/ma.json": {"": ["mab"]}, "index/patient-name/mab.json": {}}
    after = {"index/patient-name/ma.json": {"mabeka": ["P1"]}, "index/patient-name/mab.json": {}}
    return indexfiles.Reader(lambda rel: (after if settled else before).get(rel), lambda rel: [],
                             lambda: settled.append(True))


def test_a_reader_meeting_a_merge_half_applied_reads_again_once_it_is_over():
    settled: list[bool] = []
    assert torn_reader(settled).prefix(NAME, "mab") == {"mabeka": ["P1"]}
    assert settled == [True]


def test_a_shard_listing_an_empty_child_after_settling_is_damage():
    reader = indexfiles.Reader(lambda rel: {"": ["mab"]} if rel.endswith("/ma.json") else None,
                               lambda rel: [], lambda: None)
    with pytest.raises(EnvironmentFailure, match="mab.json"):
        reader.key(NAME, "mabeka")
