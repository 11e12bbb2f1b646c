"""Integrity that cannot be fooled: shards and counters carry seals, `check` names records lost,
changed outside medsec or naming a patient who is not there, and `check --repair` never hides them."""

import json
import zlib

import orjson
import pytest
from helpers.files import snapshot

from medsec.store.journal import JOURNAL, JOURNAL_MAGIC

PATIENT_SHARD = "patients/00000.json"
DAY_SHARD = "appointments/2026/2026-11-26/S1.json"
COUNTERS = "meta/counters.json"


def problems(result) -> list[dict]:
    return result.json()


def read_json(home, rel):
    return json.loads((home / rel).read_bytes())


def write_json(home, rel, data):
    (home / rel).write_bytes(orjson.dumps(data))


# -- damage done outside medsec: (rel it is done to, what `check` must say about which file) ----------
def emptied(home):
    (home / PATIENT_SHARD).write_bytes(b"{}\n")
    return {PATIENT_SHARD: ["P1-P100", "seal is gone"]}


def truncated(home):
    path = home / PATIENT_SHARD
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return {PATIENT_SHARD: ["P1-P100", "not valid JSON"]}


def hand_edited(home):
    data = read_json(home, PATIENT_SHARD)
    data["_default"]["5"]["first"] = "Mallory"
    write_json(home, PATIENT_SHARD, data)
    return {PATIENT_SHARD: ["P5", "changed outside medsec"]}


def deleted(home):
    (home / "patients/00001.json").unlink()
    return {"patients/00001.json": ["P101-P200", "records lost"]}


def appointment_deleted(home):
    """A day's file gone: its locator (kept by --repair) still says which file held the ids."""
    first = min(int(doc_id) for doc_id in read_json(home, DAY_SHARD)["_default"])
    (home / DAY_SHARD).unlink()
    return {DAY_SHARD: [f"A{first}", "records lost"]}


def appointment_edited(home):
    data = read_json(home, DAY_SHARD)
    doc_id = sorted(data["_default"], key=int)[0]
    data["_default"][doc_id]["reason"] = "edited by hand"
    write_json(home, DAY_SHARD, data)
    return {DAY_SHARD: [f"A{doc_id}", "changed outside medsec"]}


def counter_lowered(home):
    data = read_json(home, COUNTERS)
    data["P"] -= 5
    write_json(home, COUNTERS, data)
    return {COUNTERS: ["changed outside medsec"]}


def patient_removed(home):
    """P19 taken out of its shard by hand; their appointments still name them."""
    data = read_json(home, PATIENT_SHARD)
    del data["_default"]["19"]
    write_json(home, PATIENT_SHARD, data)
    return {PATIENT_SHARD: ["P19", "records lost"], "appointments/": ["(P19)", "patient who is not there"]}


DAMAGE = [emptied, truncated, hand_edited, deleted, appointment_deleted, appointment_edited, counter_lowered,
          patient_removed]


def assert_reported(result, expected: dict[str, list[str]]):
    """Exit 3, and for each file (or folder, ending in '/') a finding naming it that says each text."""
    assert result.exit_code == 3, result.stderr
    found = problems(result)
    for rel, texts in expected.items():
        named = [p["problem"] for p in found if p["file"] == rel or (rel.endswith("/") and p["file"].startswith(rel))]
        assert named, (rel, found)
        for text in texts:
            assert any(text in problem for problem in named), (rel, text, named)
    assert not all(p["repaired"] for p in found)


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__)
def test_check_names_the_file_and_the_ids(demo, damage):
    expected = damage(demo.home)
    before = snapshot(demo.home)
    assert_reported(demo("check", "--json"), expected)
    assert snapshot(demo.home) == before  # a check without --repair writes nothing


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__)
def test_repair_does_not_hide_the_loss_and_keeps_the_evidence(demo, damage):
    expected = damage(demo.home)
    damaged = {rel: (demo.home / rel).read_bytes() for rel in expected if (demo.home / rel).is_file()}
    repaired = demo("check", "--repair", "--json")
    assert_reported(repaired, expected)
    assert "medsec restore FILE" in repaired.stderr and "--repair" not in repaired.stderr
    assert all((demo.home / rel).read_bytes() == raw for rel, raw in damaged.items())  # the evidence stays
    if damage in (deleted, appointment_deleted):
        assert not any((demo.home / rel).exists() for rel in expected)  # not recreated empty
    again = demo("check")
    assert again.exit_code == 3 and "data directory ok" not in again.stderr
    assert "records are lost or were changed outside medsec" in again.stderr
    assert_reported(demo("check", "--json"), expected)


@pytest.mark.parametrize("damage", [emptied, truncated, hand_edited], ids=lambda f: f.__name__)
def test_the_table_output_says_what_is_lost_and_how_to_restore_it(demo, damage):
    damage(demo.home)
    result = demo("check", "--repair")
    assert result.exit_code == 3
    assert PATIENT_SHARD in result.stdout
    assert "restore the last good backup ('medsec restore FILE')" in result.stderr
    assert "data directory ok" not in result.stderr and "problem(s) found" in result.stderr


def test_a_clean_demo_is_ok_and_stays_ok_after_repair(demo):
    assert demo("check").stderr == "data directory ok\n"
    before = snapshot(demo.home)
    assert demo("check", "--repair").stderr == "data directory ok\n"
    assert snapshot(demo.home) == before
    assert demo.json("check") == []


@pytest.mark.parametrize("value", ["abc", "1e309", "NaN", "9" * 400, ["5"]])
def test_an_amount_that_holds_no_amount_is_reported_even_when_sealed(demo, value):
    """Written through the store, so its seal is valid (an older medsec, a plugin): balances
    count it as 0.00 and say so, and `check` must not call the directory healthy."""
    from medsec.store.catalog import CHARGES, PAYMENTS
    from medsec.store.store import Store

    demo.ok("bill", "charge", "A1", "--code", "99213", "--dx", "I10")
    payment = demo.json("bill", "pay", "P1", "--method", "cash", "--amount", "20")
    assert demo("check").stderr == "data directory ok\n"
    with Store(str(demo.home)).transaction() as txn:
        old = txn.get(PAYMENTS, payment["id"])
        txn.put(PAYMENTS, {**old, "amount": value}, old)
        charge = txn.get(CHARGES, "H1")
        txn.put(CHARGES, {**charge, "amount": "99999999999999999999999999.99"}, charge)  # large, but an amount
    result = demo("check", "--json")
    assert result.exit_code == 3
    (found,) = result.json()
    assert found["problem"].startswith(f"{payment['id']}: amount '") and "is not an amount" in found["problem"]
    assert found["file"].startswith("payments/") and found["remedy"] == "restore"


def test_every_shard_and_the_counters_carry_a_seal(demo):
    shards = list(demo.home.glob("patients/*.json")) + list(demo.home.glob("appointments/*/*/*.json"))
    assert shards
    for path in shards:
        data = json.loads(path.read_bytes())
        assert set(data["_seal"]) == set(data["_default"]), path
    counters = read_json(demo.home, COUNTERS)
    assert counters["_seal"]["shards"] is True


def test_medsec_writes_keep_the_seals_valid(demo):
    demo.ok("patient", "add", "--first", "Sealed", "--last", "Person", "--dob", "1990-01-01")
    demo.ok("patient", "edit", "P5", "--first", "Changed")
    demo.ok("appt", "book", "P1", "--provider", "S1", "--at", "2027-01-04 13:00", "--type", "follow-up")
    assert demo("check").stderr == "data directory ok\n"


def test_a_shard_whose_seal_was_removed_is_reported(demo):
    data = read_json(demo.home, PATIENT_SHARD)
    del data["_seal"]
    data["_default"]["7"]["last"] = "Forged"
    write_json(demo.home, PATIENT_SHARD, data)
    assert_reported(demo("check", "--repair", "--json"), {PATIENT_SHARD: ["seal is gone"]})


def test_a_record_added_by_hand_is_reported(demo):
    data = read_json(demo.home, "patients/00002.json")
    data["_default"]["301"] = {**data["_default"]["201"], "id": "P301"}
    write_json(demo.home, "patients/00002.json", data)
    assert_reported(demo("check", "--json"), {"patients/00002.json": ["P301", "not written by medsec"]})


def test_a_hand_edit_leaves_reads_working(demo):
    hand_edited(demo.home)
    assert demo.json("patient", "show", "P5")["first"] == "Mallory"


def test_an_older_directory_is_sealed_by_repair_and_then_guarded(demo):
    """Shards written before seals are not findings; `check --repair` seals them all, after which
    a shard without a seal (or a changed record) is reported."""
    for path in demo.home.rglob("*.json"):
        rel = path.relative_to(demo.home).as_posix()
        data = json.loads(path.read_bytes())
        if isinstance(data, dict) and "_seal" in data and not rel.startswith("index/"):
            del data["_seal"]
            path.write_bytes(orjson.dumps(data))
    assert demo("check").stderr == "data directory ok\n"
    demo.ok("check", "--repair")
    assert read_json(demo.home, COUNTERS)["_seal"]["shards"] is True
    assert "_seal" in read_json(demo.home, PATIENT_SHARD)
    assert demo("check").stderr == "data directory ok\n"
    hand_edited(demo.home)
    assert_reported(demo("check", "--json"), {PATIENT_SHARD: ["P5"]})


def test_an_older_directory_keeps_working_unsealed(demo):
    """Before it is repaired, an older directory's next write seals only what it writes."""
    for rel in (PATIENT_SHARD, "patients/00001.json"):
        data = read_json(demo.home, rel)
        del data["_seal"]
        write_json(demo.home, rel, data)
    counters = {k: v for k, v in read_json(demo.home, COUNTERS).items() if k != "_seal"}
    write_json(demo.home, COUNTERS, counters)
    demo.ok("patient", "edit", "P5", "--first", "Changed")
    assert "_seal" in read_json(demo.home, PATIENT_SHARD)
    assert demo("check").stderr == "data directory ok\n"


def test_the_hint_names_repair_only_for_what_repair_clears(demo):
    (demo.home / "index/patient-name/ad.json").unlink()
    result = demo("check")
    assert result.exit_code == 3 and "run 'medsec check --repair'" in result.stderr
    emptied(demo.home)
    result = demo("check")
    assert result.exit_code == 3 and "--repair" not in result.stderr and "medsec restore FILE" in result.stderr


def test_counters_missing_while_shards_are_sealed(demo):
    (demo.home / COUNTERS).unlink()
    assert_reported(demo("check", "--repair", "--json"), {COUNTERS: ["counters are missing"]})
    assert not (demo.home / COUNTERS).exists()


def test_a_journal_that_was_not_applied_is_not_sent_to_repair(demo):
    body = b'"not a list of files"'
    (demo.home / JOURNAL).write_bytes(JOURNAL_MAGIC + b"%d %08x\n" % (len(body), zlib.crc32(body)) + body)
    for args in (("check",), ("check", "--repair")):
        result = demo(*args)
        assert result.exit_code == 3 and "--repair" not in result.stderr
        assert "move it aside once looked at" in result.stderr
