"""Records by id: get, require, get_many; put and put_many; ids and counters; scan."""

import pytest
from store_contract.shapes import add, appointment, patient, replace

from medsec.errors import InvalidInput, NotFound
from medsec.store.catalog import APPOINTMENTS, MEMOS, PATIENTS

MALFORMED = ["X1", "P", "P0", "P01", "P1.5", "P-1", "1", "", "P1234567890", "P\u0664\u0662"]


# -- get, require, get_many ----------------------------------------------------
def test_a_record_comes_back_as_it_was_put(backend):
    nested = patient("Zoë", "Ångström", "1980-02-29", "(555) 201-1234", tags=["a", "b"],
                     contact={"email": None, "prefers": "sms"}, balance=12.5, visits=3)
    [stored] = add(backend, PATIENTS, nested)
    assert backend.snapshot().get(PATIENTS, "P1") == stored == {"id": "P1", **nested}


def test_get_of_an_id_never_handed_out_is_none(backend):
    add(backend, PATIENTS, patient("Ann", "Smith"))
    snap = backend.snapshot()
    assert snap.get(PATIENTS, "P2") is None
    assert snap.get(APPOINTMENTS, "A1") is None


@pytest.mark.parametrize("kind, written", [(PATIENTS, "p1"), (APPOINTMENTS, "a1")])
def test_ids_are_read_case_insensitively(backend, kind, written):
    record = patient("Ann", "Smith") if kind is PATIENTS else appointment("2026-12-01T09:00")
    [stored] = add(backend, kind, record)
    assert backend.snapshot().get(kind, written) == stored


@pytest.mark.parametrize("bad", MALFORMED)
def test_a_malformed_id_is_invalid_input_whichever_question_asks(backend, bad):
    add(backend, PATIENTS, patient("Ann", "Smith"))
    snap = backend.snapshot()
    for ask in (lambda: snap.get(PATIENTS, bad), lambda: snap.require(PATIENTS, bad, "patient"),
                lambda: snap.get_many(PATIENTS, ["P1", bad])):
        with pytest.raises(InvalidInput):
            ask()


def test_an_id_of_another_kind_is_invalid_input(backend):
    with pytest.raises(InvalidInput):
        backend.snapshot().get(APPOINTMENTS, "P1")


def test_require_names_what_is_missing_by_its_id_as_written_by_medsec(backend):
    [ann] = add(backend, PATIENTS, patient("Ann", "Smith"))
    snap = backend.snapshot()
    assert snap.require(PATIENTS, "p1", "patient") == ann
    with pytest.raises(NotFound) as missing:
        snap.require(PATIENTS, "p9", "patient", hint="see 'patient find'")
    assert (missing.value.message, missing.value.hint) == ("no patient P9", "see 'patient find'")


def test_get_many_keeps_the_order_given_and_skips_missing_ids(backend):
    # 150 patients: ids in more than one hundred (the data directory's shards of patients).
    stored = add(backend, PATIENTS, *[patient(f"First{n}", f"Last{n}") for n in range(150)])
    found = backend.snapshot().get_many(PATIENTS, ["P150", "p2", "P999", "P99", "P2"])
    assert found == [stored[149], stored[1], stored[98], stored[1]]


def test_get_many_of_nothing_is_empty(backend):
    assert backend.snapshot().get_many(PATIENTS, []) == []


# -- put, put_many -------------------------------------------------------------
def test_a_replaced_record_may_drop_fields(backend):
    [ann] = add(backend, PATIENTS, patient("Ann", "Smith", phone="555-201-1234", note="call after 5"))
    replace(backend, PATIENTS, ann, phone=None, note=None)
    got = backend.snapshot().get(PATIENTS, "P1")
    assert got is not None and "note" not in got and "phone" not in got and got["last"] == "Smith"


def test_the_last_put_of_a_record_in_a_transaction_wins(backend):
    with backend.transaction() as txn:
        [pid] = txn.reserve_ids(PATIENTS)
        first = {"id": pid, **patient("Ann", "Smith")}
        txn.put(PATIENTS, first)
        txn.put(PATIENTS, {**first, "last": "Jones"}, old=first)
    snap = backend.snapshot()
    assert snap.require(PATIENTS, pid, "patient")["last"] == "Jones"
    assert (snap.lookup("patient-name", "smith"), snap.lookup("patient-name", "jones")) == ([], [pid])


def test_put_many_writes_a_bulk_import_and_replaces_with_old(backend):
    stored = add(backend, PATIENTS, *[patient(f"Ann{n}", "Smith", dob=f"19{n % 90 + 10}-01-01") for n in range(250)])
    renamed = [{**p, "last": "Jones"} for p in stored[::2]]
    with backend.transaction() as txn:
        txn.put_many(PATIENTS, renamed, old={p["id"]: p for p in stored[::2]})
    snap = backend.snapshot()
    assert snap.get_many(PATIENTS, [p["id"] for p in stored]) == [
        {**p, "last": "Jones"} if n % 2 == 0 else p for n, p in enumerate(stored)]
    assert sorted(snap.lookup("patient-name", "jones")) == sorted(p["id"] for p in renamed)
    assert sorted(snap.lookup("patient-name", "smith")) == sorted(p["id"] for p in stored[1::2])


# -- ids and counters ----------------------------------------------------------
def test_reserved_ids_are_sequential_per_kind_and_never_handed_out_again(backend):
    with backend.transaction() as txn:
        assert txn.reserve_ids(PATIENTS, 3) == ["P1", "P2", "P3"]
        assert txn.reserve_ids(PATIENTS) == ["P4"]
        assert txn.reserve_ids(APPOINTMENTS, 2) == ["A1", "A2"]
    with backend.transaction() as txn:
        assert txn.reserve_ids(PATIENTS, 2) == ["P5", "P6"]
        assert txn.reserve_ids(MEMOS) == ["M1"]


def test_a_failed_transaction_gives_its_reserved_ids_back(backend):
    """What the data directory does: a transaction that raises commits nothing, its counters
    included, so the next one hands out the same ids; ids stay dense (no gaps), which
    the data directory's check that a counter is not behind relies on."""
    add(backend, PATIENTS, patient("Ann", "Smith"))
    with pytest.raises(RuntimeError), backend.transaction() as txn:
        assert txn.reserve_ids(PATIENTS, 2) == ["P2", "P3"]
        raise RuntimeError("the command failed")
    assert backend.snapshot().counters()["P"] == 1
    with backend.transaction() as txn:
        assert txn.reserve_ids(PATIENTS) == ["P2"]


def test_counters_say_the_highest_id_handed_out_per_prefix(backend):
    assert {prefix: n for prefix, n in backend.snapshot().counters().items() if n} == {}
    add(backend, PATIENTS, patient("Ann", "Smith"), patient("Bob", "Jones"))
    add(backend, APPOINTMENTS, appointment("2026-12-01T09:00"))
    with backend.transaction() as txn:
        txn.reserve_ids(MEMOS, 4)  # reserved and committed, though no memo was written
    assert {prefix: n for prefix, n in backend.snapshot().counters().items() if n} == {"P": 2, "A": 1, "M": 4}


# -- scan ----------------------------------------------------------------------
def test_scan_reads_every_record_of_a_kind_and_only_that_kind(backend):
    patients = add(backend, PATIENTS, *[patient(f"Ann{n}", "Smith") for n in range(120)])
    appointments = add(backend, APPOINTMENTS, appointment("2026-12-01T09:00", "S1"),
                       appointment("2026-12-01T09:00", "S2"), appointment("2027-01-04T10:00", "S1"))
    snap = backend.snapshot()
    assert sorted(snap.scan(PATIENTS), key=lambda p: int(p["id"][1:])) == patients
    assert sorted(snap.scan(APPOINTMENTS), key=lambda a: int(a["id"][1:])) == appointments
    assert list(snap.scan(MEMOS)) == []
