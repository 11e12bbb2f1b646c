"""Index look-ups on the catalog's real indexes: exact key, prefix, suffix, range; old keys going.

The ids under one key come in no promised order: they are compared sorted.
"""

import pytest
from store_contract.shapes import add, appointment, patient, replace

from medsec.store.catalog import APPOINTMENTS, PATIENTS


def ids_by_key(found: dict[str, list[str]]) -> dict[str, list[str]]:
    return {key: sorted(ids) for key, ids in found.items()}


@pytest.fixture
def people(backend):
    """P1 Ann Smith, P2 Bob Smythe, P3 Cy Sanchez, P4 Dee Jones, P5 Eve Smith-Jones; dates of
    birth across two years and a decade; phones ending 1234, 5234, 1299, 0004, none."""
    add(backend, PATIENTS,
        patient("Ann", "Smith", "1970-01-01", "555-201-1234"),
        patient("Bob", "Smythe", "1970-06-15", "(555) 201-5234"),
        patient("Cy", "Sanchez", "1970-12-31", "+1 555 301 1299"),
        patient("Dee", "Jones", "1971-01-01", "555.401.0004"),
        patient("Eve", "Smith-Jones", "1980-01-01"))
    return backend.snapshot()


@pytest.fixture
def rooms(backend):
    """A1-A4 in rooms R1/R2 on 2026-11-30, 2026-12-01 and 2027-01-04, with patients, a series and uids."""
    add(backend, APPOINTMENTS,
        appointment("2026-11-30T09:00", "S1", room="R1", patient_id="P1", series_id="A1", uid="u-1@example"),
        appointment("2026-12-01T09:00", "S1", room="R1", patient_id="P1", series_id="A1"),
        appointment("2026-12-01T09:00", "S2", room="R2", patient_id="P250"),
        appointment("2027-01-04T10:00", "S2", room="R1", uid="u-4@example"))
    return backend.snapshot()


@pytest.mark.parametrize("index, key, ids", [
    ("patient-name", "smith", ["P1", "P5"]), ("patient-name", "ann", ["P1"]), ("patient-name", "smi", []),
    ("patient-dob", "1970-01-01", ["P1"]), ("patient-phone", "5553011299", ["P3"]),
    ("patient-phone", "1234", []),
])
def test_lookup_finds_a_patient_key_exactly(people, index, key, ids):
    assert sorted(people.lookup(index, key)) == ids


@pytest.mark.parametrize("index, key, ids", [
    ("appt-room", "2026-12-01 R1", ["A2"]), ("appt-patient", "P1", ["A1", "A2"]),
    ("appt-patient", "P250", ["A3"]), ("appt-series", "A1", ["A1", "A2"]), ("appt-uid", "u-4@example", ["A4"]),
    ("appt-uid", "u-9@example", []),
])
def test_lookup_finds_an_appointment_key_exactly(rooms, index, key, ids):
    assert sorted(rooms.lookup(index, key)) == ids


@pytest.mark.parametrize("prefix, found", [
    ("s", {"smith": ["P1", "P5"], "smythe": ["P2"], "sanchez": ["P3"]}),
    ("sm", {"smith": ["P1", "P5"], "smythe": ["P2"]}),
    ("smi", {"smith": ["P1", "P5"]}),
    ("smith", {"smith": ["P1", "P5"]}),
    ("smiths", {}),
    ("q", {}),
])
def test_lookup_prefix_of_one_two_or_more_characters(people, prefix, found):
    assert ids_by_key(people.lookup_prefix("patient-name", prefix)) == found


@pytest.mark.parametrize("index, prefix, keys", [
    ("patient-dob", "1970", ["1970-01-01", "1970-06-15", "1970-12-31"]),
    ("patient-dob", "197", ["1970-01-01", "1970-06-15", "1970-12-31", "1971-01-01"]),
    ("patient-dob", "1970-06", ["1970-06-15"]),
])
def test_lookup_prefix_of_dates(people, index, prefix, keys):
    assert sorted(people.lookup_prefix(index, prefix)) == keys


def test_lookup_prefix_of_a_rooms_day(rooms):
    assert ids_by_key(rooms.lookup_prefix("appt-room", "2026-12-01 ")) == {"2026-12-01 R1": ["A2"],
                                                                        "2026-12-01 R2": ["A3"]}


@pytest.mark.parametrize("suffix, keys", [
    ("4", ["5552011234", "5552015234", "5554010004"]),
    ("34", ["5552011234", "5552015234"]),
    ("1234", ["5552011234"]),
    ("5552011234", ["5552011234"]),
    ("99", ["5553011299"]),
    ("00", []),
])
def test_lookup_suffix_of_phone_digits(people, suffix, keys):
    assert sorted(people.lookup_suffix("patient-phone", suffix)) == keys


@pytest.mark.parametrize("low, high, keys", [
    ("1970-01-01", "1971-01-01", ["1970-01-01", "1970-06-15", "1970-12-31"]),
    ("1970-01-02", "1971-01-02", ["1970-06-15", "1970-12-31", "1971-01-01"]),
    ("1969-01-01", "1990-01-01", ["1970-01-01", "1970-06-15", "1970-12-31", "1971-01-01", "1980-01-01"]),
    ("1970-06-15", "1970-06-15", []),
])
def test_lookup_range_includes_low_and_excludes_high(people, low, high, keys):
    assert sorted(people.lookup_range("patient-dob", low, high)) == keys


@pytest.mark.parametrize("low, high, keys", [
    ("2026-12-01", "2026-12-02", ["2026-12-01 R1", "2026-12-01 R2"]),
    ("2026-11-30", "2027-01-04", ["2026-11-30 R1", "2026-12-01 R1", "2026-12-01 R2"]),
    ("2026-11-30", "2027-01-05", ["2026-11-30 R1", "2026-12-01 R1", "2026-12-01 R2", "2027-01-04 R1"]),
])
def test_lookup_range_of_rooms_days_across_months_and_years(rooms, low, high, keys):
    assert sorted(rooms.lookup_range("appt-room", low, high)) == keys


def test_old_index_keys_go_when_the_old_record_is_named(backend, people):
    ann = people.require(PATIENTS, "P1", "patient")
    replace(backend, PATIENTS, ann, last="Jones", dob="1975-05-05", phone="555-777-8888")
    snap = backend.snapshot()
    assert sorted(snap.lookup("patient-name", "smith")) == ["P5"]
    assert sorted(snap.lookup("patient-name", "jones")) == ["P1", "P4", "P5"]
    assert (snap.lookup("patient-dob", "1970-01-01"), snap.lookup("patient-dob", "1975-05-05")) == ([], ["P1"])
    assert sorted(snap.lookup_suffix("patient-phone", "34")) == ["5552015234"]
    assert sorted(snap.lookup_prefix("patient-name", "ann")) == ["ann"]  # a key the new record keeps


def test_a_record_that_loses_every_key_leaves_no_key_behind(backend, people):
    """A merged patient is indexed under nothing: its name, date of birth and phone all go."""
    replace(backend, PATIENTS, people.require(PATIENTS, "P2", "patient"), status="merged")
    snap = backend.snapshot()
    assert snap.lookup_prefix("patient-name", "smy") == {} and snap.lookup("patient-name", "bob") == []
    assert snap.lookup_range("patient-dob", "1970-06-15", "1970-06-16") == {}
    assert snap.lookup_suffix("patient-phone", "5234") == {}
