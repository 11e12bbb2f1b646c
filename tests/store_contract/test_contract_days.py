"""By-day kinds: a day (of one provider, for appointments), a span of days, a record moving between them."""

import pytest
from store_contract.shapes import add, appointment, replace

from medsec.store.catalog import APPOINTMENTS, MEETINGS


def ids(records) -> list[str]:
    return [r["id"] for r in records]


@pytest.fixture
def week(backend):
    """Appointments added out of day order, so that id order and day order differ:
    A1 12-02 S1, A2 12-01 S2, A3 12-01 S1, A4 12-03 S1, A5 2027-01-04 S2, A6 11-30 S1."""
    add(backend, APPOINTMENTS,
        appointment("2026-12-02T09:00", "S1"), appointment("2026-12-01T11:00", "S2"),
        appointment("2026-12-01T09:00", "S1"), appointment("2026-12-03T09:00", "S1", room="R1"),
        appointment("2027-01-04T08:00", "S2"), appointment("2026-11-30T16:00", "S1"))
    return backend.snapshot()


def test_a_day_holds_every_providers_records_of_that_day_in_id_order(week):
    assert ids(week.day(APPOINTMENTS, "2026-12-01")) == ["A2", "A3"]
    assert week.day(APPOINTMENTS, "2026-12-04") == []


def test_a_providers_day_holds_only_that_providers_records(week):
    assert ids(week.day(APPOINTMENTS, "2026-12-01", "S1")) == ["A3"]
    assert ids(week.day(APPOINTMENTS, "2026-12-01", "S2")) == ["A2"]
    assert week.day(APPOINTMENTS, "2026-12-01", "S3") == []


def test_days_runs_from_first_to_last_both_included_by_day_then_id(week):
    assert ids(week.days(APPOINTMENTS, "2026-12-01", "2026-12-03")) == ["A2", "A3", "A1", "A4"]
    assert ids(week.days(APPOINTMENTS, "2026-12-02", "2026-12-02")) == ["A1"]
    assert ids(week.days(APPOINTMENTS, "2026-11-01", "2026-11-29")) == []


def test_days_without_a_last_day_runs_on_into_later_years(week):
    assert ids(week.days(APPOINTMENTS, "2026-12-02")) == ["A1", "A4", "A5"]
    assert ids(week.days(APPOINTMENTS, "2000-01-01")) == ["A6", "A2", "A3", "A1", "A4", "A5"]


def test_a_by_day_kind_without_parts_keeps_its_days(backend):
    add(backend, MEETINGS, {"start": "2026-12-02T12:00", "title": "staff"},
        {"start": "2026-12-01T12:00", "title": "billing"}, {"start": "2026-12-02T08:00", "title": "huddle"})
    snap = backend.snapshot()
    assert ids(snap.day(MEETINGS, "2026-12-02")) == ["MT1", "MT3"]
    assert ids(snap.days(MEETINGS, "2026-12-01", "2026-12-31")) == ["MT2", "MT1", "MT3"]


@pytest.mark.parametrize("start, provider", [("2026-12-05T10:00", "S1"), ("2026-12-03T09:00", "S2"),
                                             ("2027-02-01T09:00", "S3")])
def test_a_record_moved_to_another_day_or_provider_is_found_only_there(backend, week, start, provider):
    old = week.require(APPOINTMENTS, "A4", "appointment")
    moved = replace(backend, APPOINTMENTS, old, start=start, provider=provider, room="R2")
    snap = backend.snapshot()
    assert snap.get(APPOINTMENTS, "A4") == moved
    assert "A4" not in ids(snap.day(APPOINTMENTS, "2026-12-03", "S1"))
    assert ids(snap.day(APPOINTMENTS, start[:10], provider)) == ["A4"]
    assert ids(snap.days(APPOINTMENTS, "2026-01-01")).count("A4") == 1
    assert snap.lookup("appt-room", "2026-12-03 R1") == []
    assert snap.lookup("appt-room", f"{start[:10]} R2") == ["A4"]
