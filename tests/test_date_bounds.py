"""Dates bounded to the horizon (medsec.clock.HORIZON_YEARS), RRULEs checked before they are
expanded, calendar imports that cannot carry far dates or control characters in, and readers
that never fail on far dates stored by older versions."""

from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from helpers.files import snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medsec import clock
from medsec.errors import InvalidInput
from medsec.store import Store
from medsec.store.catalog import APPOINTMENTS

BOOK = ["appt", "book", "P1", "--provider", "S1", "--type", "follow-up"]
TODAY = date(2026, 11, 26)  # helpers.cli.NOW
NY = ZoneInfo("America/New_York")


@pytest.fixture
def clinic(small_practice):
    return small_practice()


def refused(m, *args, message: str) -> None:
    """`medsec ARGS` is exit 2 with one error line (an import lists its bad events before it)
    naming what was wrong, and writes nothing."""
    before = snapshot(m.home, skip=("audit", "index"))
    result = m(*args)
    assert result.exit_code == 2, (args, result.stderr)
    assert message in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("medsec: error: ") and "internal error" not in result.stderr
    assert all(line.startswith("medsec: ") for line in lines) and len(lines) <= 2
    assert snapshot(m.home, skip=("audit", "index")) == before


# -- typed dates --------------------------------------------------------------------
FAR_DATES = [
    (["task", "add", "call", "--for", "S1", "--due", "+99999y"], "--due: '+99999y' is more than 10 years away"),
    (["task", "add", "call", "--for", "S1", "--due", "+99999999d"], "--due: '+99999999d' is more than 10 years"),
    (["task", "add", "call", "--for", "S1", "--due", "+" + "9" * 5000 + "w"], "--due: '+999"),
    (["task", "add", "call", "--for", "S1", "--due", "-99999y"], "--due: '-99999y' is more than 10 years ago"),
    (["task", "add", "call", "--for", "S1", "--due", "9999-12-31"], "is more than 10 years away"),
    (["task", "add", "call", "--for", "S1", "--due", "+11y"], "is more than 10 years away"),
    (["appt", "slots", "--provider", "S1", "--type", "follow-up", "--from", "9999-12-30"],
     "--from: '9999-12-30' is more than 10 years away"),
    ([*BOOK, "--at", "9999-12-30 10:00"], "--at: '9999-12-30 10:00' is more than 10 years away"),
    ([*BOOK, "--at", "9999-12-31T23:30:00-05:00"], "--at: '9999-12-31T23:30:00-05:00' is more than 10 years"),
    ([*BOOK, "--at", "0001-01-01T00:00+05:00"], "--at: '0001-01-01T00:00+05:00' is more than 10 years"),
    ([*BOOK, "--at", "2001-01-02 10:00", "--allow-past"], "--at: '2001-01-02 10:00' is more than 10 years ago"),
    (["appt", "reschedule", "A1", "--at", "+11y 10:00"], "--at: '+11y' is more than 10 years away"),
    (["appt", "day", "9999-12-30"], "DAY: '9999-12-30' is more than 10 years away"),
    (["appt", "list", "--from", "2030-01-01", "--to", "2020-01-01"], "--to 2020-01-01 is before --from 2030-01-01"),
    (["appt", "list", "--from", "2020-01-01", "--to", "2031-01-02"], "spans more than 10 years"),
    (["appt", "list", "--to", "99999-01-01"], "cannot read --to '99999-01-01'"),
    (["appt", "export", "--ics", "{tmp}/x.ics", "--from", "9999-12-01", "--to", "9999-12-31"],
     "--from: '9999-12-01' is more than 10 years away"),
    (["appt", "export", "--ics", "{tmp}/x.ics", "--from", "+2d", "--to", "+1d"], "is before --from"),
    (["appt", "export", "--ics", "{tmp}/x.ics", "--from", "-6y", "--to", "+6y"], "spans more than 10 years"),
    (["appt", "waitlist", "add", "P1", "--type", "follow-up", "--before", "+11y"], "--before: '+11y' is more than"),
    (["meeting", "schedule", "--title", "t", "--at", "+11y 10:00", "--duration", "30", "--attendees", "S1"],
     "--at: '+11y' is more than 10 years away"),
    (["meeting", "list", "--from", "-11y"], "--from: '-11y' is more than 10 years ago"),
    (["meeting", "list", "--from", "-1y", "--to", "+10y"], "spans more than 10 years"),
    (["remind", "send", "--for", "9999-12-30"], "--for: '9999-12-30' is more than 10 years away"),
]


@pytest.mark.parametrize("args,message", FAR_DATES, ids=lambda v: " ".join(v)[:60] if isinstance(v, list) else "")
def test_a_date_beyond_the_horizon_is_refused_naming_the_option(clinic, tmp_path, args, message):
    clinic.ok(*BOOK, "--at", "2026-12-01 09:00")
    refused(clinic, *[a.replace("{tmp}", str(tmp_path)) for a in args], message=message)


def test_dates_within_the_horizon_still_work(clinic):
    assert clinic.json("task", "add", "call", "--for", "S1", "--due", "+10y")["due"] == "2036-11-26"
    assert clinic.json(*BOOK, "--at", "2036-11-25 09:00")["start"] == "2036-11-25T09:00:00-05:00"
    assert clinic.json(*BOOK, "--at", "2016-11-28 09:00", "--allow-past")["start"].startswith("2016-11-28")
    assert len(clinic.json("appt", "list", "--from", "2026-11-26", "--to", "2036-11-26")) == 1
    assert clinic.json("appt", "slots", "--provider", "S1", "--type", "follow-up", "--from", "+10y", "--first")


@pytest.mark.parametrize("fixed", ["9999-12-31T10:00:00", "0001-01-02T00:00:00", "1899-12-31T23:00:00"])
def test_a_clock_set_where_no_window_fits_is_refused(clinic, fixed):
    """MEDSEC_NOW near the ends of the calendar would overflow the horizon's arithmetic."""
    result = clinic("task", "add", "call", "--for", "S1", "--due", "tomorrow", env={"MEDSEC_NOW": fixed})
    assert result.exit_code == 2 and "is not between the years 1900 and 2999" in result.stderr
    late = clinic.json("task", "add", "call", "--for", "S1", "--due", "+10y", env={"MEDSEC_NOW": "2999-12-31T12:00"})
    assert late["due"] == "3009-12-31"


def test_dates_of_birth_may_go_back_further_than_bookings(clinic):
    """Historical dates have their own, longer window: an old patient is not refused."""
    assert clinic.json("patient", "add", "--first", "Old", "--last", "Timer", "--dob", "1920-02-29")["dob"] == \
        "1920-02-29"
    refused(clinic, "patient", "add", "--first", "Too", "--last", "Old", "--dob", "1850-01-01",
            message="is more than 150 years ago")


def test_a_due_date_of_another_workflow_is_bounded_by_the_same_parser(front_office):
    refused(front_office, "lab", "order", "P1", "--physician", "S1", "--dx", "E78.5", "--facility", "Quest",
            "--test", "CBC", "--due", "+99999y",
            message="--due: '+99999y' is more than 10 years away")


# -- RRULEs -------------------------------------------------------------------------
BAD_RULES = [
    ("FREQ=WEEKLY;COUNT=0", "COUNT must be a whole number from 1 to 520"),
    ("FREQ=WEEKLY;COUNT=521", "COUNT must be a whole number from 1 to 520"),
    ("FREQ=WEEKLY;COUNT=" + "9" * 40, "COUNT must be a whole number"),
    ("FREQ=SECONDLY;COUNT=3", "FREQ must be one of DAILY, WEEKLY, MONTHLY, YEARLY"),
    ("FREQ=MINUTELY;COUNT=3", "FREQ must be one of"),
    ("FREQ=HOURLY;UNTIL=20261202", "FREQ must be one of"),
    ("FREQ=DAILY;UNTIL=99991231", "UNTIL 9999-12-31 is more than 10 years from today"),
    ("FREQ=DAILY;UNTIL=20261301", "is not a date"),
    ("FREQ=YEARLY;COUNT=12", "does not make its 12 occurrences within 10 years"),
    ("FREQ=DAILY;COUNT=200", "--repeat makes more than 104 occurrences"),
    ("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;UNTIL=20361120", "--repeat makes more than 104 occurrences"),
    ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=5", "makes no occurrence"),  # stops at the horizon
    ("FREQ=WEEKLY;UNTIL=20261101", "makes no occurrence"),
    ("FREQ=WEEKLY;COUNT=3;UNTIL=20261231", "give COUNT or UNTIL, not both"),
    ("FREQ=WEEKLY", "--repeat needs COUNT= or UNTIL="),
    ("FREQ=WEEKLY;BYDAY=XX;COUNT=3", "not a valid RRULE"),
    ("FREQ=WEEKLY;INTERVAL=0;COUNT=3", "INTERVAL must be"),
    ("FREQ=WEEKLY;COUNT=3;FOO=1", "'FOO=1' is not a part of an RRULE"),
    ("garbage", "not a valid RRULE"),
    ("FREQ=WEEKLY;COUNT=3\x1b]52;c;eA==\x07", "--repeat: 'FREQ=WEEKLY;COUNT=3\\x1b"),
    ("FREQ=WEEKLY;COUNT=3;" + "BYDAY=MO;" * 100, "longer than 300 characters"),
]


@pytest.mark.parametrize("rule,message", BAD_RULES)
def test_a_bad_rrule_is_refused_before_it_is_expanded(clinic, rule, message):
    refused(clinic, *BOOK, "--at", "2026-12-01 09:00", "--repeat", rule, message=message)


def test_a_good_rrule_still_books_its_series(clinic):
    series = clinic.json(*BOOK, "--at", "2026-12-01 09:00", "--repeat", "RRULE:FREQ=WEEKLY;UNTIL=20261222T235959;")
    assert [a["start"][:10] for a in series] == ["2026-12-01", "2026-12-08", "2026-12-15", "2026-12-22"]


# -- calendar import ----------------------------------------------------------------
def vevent(uid="u1@other", start="20261201T090000", end="20261201T093000", extra=""):
    return (f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
            + (f"DTSTART;TZID=America/New_York:{start}\r\n" if start else "")
            + f"DTEND;TZID=America/New_York:{end}\r\n{extra}END:VEVENT\r\n")


def calendar(*events):
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other//EN\r\n" + "".join(events) + "END:VCALENDAR\r\n"


BAD_EVENTS = [
    (vevent(extra="RRULE:FREQ=WEEKLY;COUNT=99999999\r\n"), "u1@other: RRULE 'FREQ=WEEKLY;COUNT=99999999' is not"),
    (vevent(extra="RRULE:FREQ=MINUTELY;COUNT=10\r\n"), "FREQ must be one of"),
    (vevent(extra="RRULE:FREQ=DAILY\r\n"), "RRULE needs COUNT= or UNTIL="),
    (vevent(extra="RRULE:FREQ=DAILY;COUNT=521\r\n"), "COUNT must be a whole number from 1 to 520"),
    (vevent(extra="RRULE:FREQ=DAILY;COUNT=501;BYHOUR=9,10\r\n"), "RRULE makes more than 500 occurrences"),
    (vevent(extra="RRULE:FREQ=DAILY;BYHOUR=9,10,11;UNTIL=20270601\r\n"), "RRULE makes more than 500 occurrences"),
    (vevent(start="99991231T090000", end="99991231T093000"), "9999-12-31 is more than 10 years from today"),
    (vevent(start="99991231T233000", end="99991231T235900"), "9999-12-31 is more than 10 years from today"),
    (vevent(start="", end="20261201T093000"), "an event needs DTSTART and DTEND"),
    (vevent(extra="SUMMARY:Rounds \x1b]0;owned\x07\r\n"), "u1@other: SUMMARY: 'Rounds \\x1b]0;owned\\x07'"),
    (vevent(extra="LOCATION:exam1\u202e\r\n"), "LOCATION: 'exam1\\u202e' holds the control character U+202E"),
    (vevent(extra="DESCRIPTION:line one\\nline two\x7f\r\n"), "DESCRIPTION: 'line one\\nline two\\x7f'"),
    (vevent(uid="u\x1b[2J"), "UID: 'u\\x1b[2J' holds the control character"),
]


@pytest.mark.parametrize("event,message", BAD_EVENTS)
def test_a_calendar_import_refuses_bad_events_and_books_nothing(clinic, tmp_path, event, message):
    ics = tmp_path / "other.ics"
    ics.write_text(calendar(vevent(uid="good@other", start="20261202T090000", end="20261202T093000"), event))
    refused(clinic, "appt", "import", ics, "--provider", "S1", message=message)


def test_a_calendar_import_of_clean_events_still_books(clinic, tmp_path):
    ics = tmp_path / "other.ics"
    ics.write_text(calendar(vevent(extra="SUMMARY:Rounds\r\nDESCRIPTION:two\\nlines\r\n"
                                         "RRULE:FREQ=WEEKLY;COUNT=3\r\n")))
    assert clinic.json("appt", "import", ics, "--provider", "S1")["booked"] == 3


# -- far dates stored by older versions ----------------------------------------------
def plant(m, **fields) -> str:
    """An appointment written straight into the store, as older versions accepted it."""
    with Store(str(m.home)).transaction() as txn:
        (appt_id,) = txn.reserve_ids(APPOINTMENTS)
        txn.put(APPOINTMENTS, {
            "id": appt_id, "patient_id": "P1", "provider": "S1", "type": "follow-up", "room": "",
            "status": "booked", "note": "", "series_id": "", "series": None, "uid": f"{appt_id}-local@medsec",
            "source": "medsec", "created": "2026-11-26T10:00:00-05:00", "updated": "2026-11-26T10:00:00-05:00",
            "checked_in": "", "cancel_reason": "", "late_cancel": False, "history": [], **fields})
    return appt_id


def test_far_bookings_stored_before_never_break_a_reader(clinic, tmp_path):
    near = clinic.json(*BOOK, "--at", "2026-12-01 09:00", "--repeat", "FREQ=WEEKLY;COUNT=2")
    series = {"series_id": near[0]["id"], "series": {"rrule": "FREQ=DAILY;UNTIL=99991231", "index": 2, "count": 3},
              "uid": near[0]["uid"]}
    far = plant(clinic, start="9999-12-31T23:30:00-05:00", end="9999-12-31T23:59:00-05:00", **series)
    with Store(str(clinic.home)).transaction() as txn:  # the series as an older version stored it
        for appt in near:
            old = txn.get(APPOINTMENTS, appt["id"])
            txn.put(APPOINTMENTS, {**old, "series": {**series["series"], "index": old["series"]["index"]}}, old)
    plant(clinic, start="2026-11-30T09:00:00-05:00", end="9999-12-31T23:59:00-05:00")  # ends in year 9999
    assert clinic.json("appt", "day") == []
    assert [a["id"] for a in clinic.json("appt", "list", "--patient", "P1")] == ["A4", "A1", "A2"]
    monday = clinic.json("appt", "slots", "--provider", "S1", "--type", "follow-up", "--from", "2026-11-30",
                         "--days", "1")
    assert monday and all(s["start"] < "2026-11-30T09:00" for s in monday)  # A4 holds S1 from 09:00 on
    assert clinic.json("appt", "slots", "--provider", "S1", "--type", "follow-up", "--from", "+10y", "--first")
    exported = clinic.json("appt", "export", "--ics", tmp_path / "all.ics", "--from", "2026-11-26")
    assert exported["events"] >= 3 and "99991231T233000" in (tmp_path / "all.ics").read_text()
    assert clinic.json("appt", "show", far)["start"].startswith("9999-12-31")
    assert clinic.json("appt", "cancel", far, "--reason", "entered in error")["status"] == "cancelled"
    assert clinic.json("appt", "cancel", "A1", "--series", "--reason", "moved away")[0]["status"] == "cancelled"
    assert clinic("remind", "send", "--for", "2026-11-30").exit_code in (0, 1)


def test_reminders_and_day_sheets_read_a_day_with_a_far_visit_in_it(front_office):
    """A visit of tomorrow's file that ends in year 9999 (its start was edited by hand)."""
    plant(front_office, start="2026-11-27T09:00:00-05:00", end="9999-12-31T23:59:00-05:00")
    assert [r["id"] for r in front_office.json("appt", "day", "tomorrow")] == ["A1"]
    sent = front_office("remind", "send", "--for", "tomorrow")
    assert sent.exit_code in (0, 1) and "internal error" not in sent.stderr


# -- the parser itself ----------------------------------------------------------------
@pytest.mark.parametrize("tz", [None, NY])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(
    st.text(max_size=40),
    st.from_regex(r"[+-][0-9]{1,12}[dwmy]?", fullmatch=True),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{1,2}:[0-9]{2})?", fullmatch=True),
    st.from_regex(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}", fullmatch=True),
    st.datetimes(timezones=st.none() | st.timezones()).map(datetime.isoformat),
))
def test_the_date_parser_raises_only_invalid_input_and_keeps_to_its_window(monkeypatch, tz: tzinfo | None, text):
    monkeypatch.setenv("MEDSEC_NOW", "2026-11-26T10:00:00")
    first, last = clock.window_around(TODAY)
    for horizon in (True, False):
        try:
            day = clock.parse_date(text, tz, "--due", horizon=horizon)
        except InvalidInput:
            continue
        assert (first if horizon else date(1876, 11, 26)) <= day <= last
    try:
        moment = clock.parse_datetime(text, tz or NY, "--at")
    except InvalidInput:
        return
    assert first - timedelta(days=1) <= moment.date() <= last + timedelta(days=1)
