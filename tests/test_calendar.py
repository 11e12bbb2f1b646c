"""iCalendar export judged by vobject, icalendar and recurring-ical-events; import round trips."""

import datetime as dt

import icalendar
import pytest
import recurring_ical_events
import vobject
from helpers.backends import another_practice
from helpers.files import snapshot
from helpers.practices import setup_practice

pytestmark = pytest.mark.both_backends

OCT = {"MEDSEC_NOW": "2026-10-20T10:00:00"}  # before DST ends (2026-11-01)


@pytest.fixture
def clinic(small_practice):
    return small_practice()


def judge(path):
    """Every parser's verdict; returns the icalendar Calendar."""
    text = path.read_text()
    vobject.readOne(text, validate=True)
    cal = icalendar.Calendar.from_ical(text)
    assert cal.get_missing_tzids() == set()
    for component in cal.walk():
        assert not component.errors, component.errors
    return cal


def test_series_across_dst_keeps_local_time_and_exports_cleanly(clinic, tmp_path):
    series = clinic.json("appt", "book", "P1", "--provider", "S1", "--at", "2026-10-22 09:00", "--type",
                         "follow-up", "--repeat", "FREQ=WEEKLY;COUNT=4", env=OCT)
    assert [a["start"] for a in series] == [
        "2026-10-22T09:00:00-04:00", "2026-10-29T09:00:00-04:00",
        "2026-11-05T09:00:00-05:00", "2026-11-12T09:00:00-05:00"]
    clinic.ok("appt", "cancel", series[1]["id"], "--reason", "away", env=OCT)
    clinic.ok("appt", "reschedule", series[2]["id"], "--at", "2026-11-05 14:00", env=OCT)
    single = clinic.json("appt", "book", "P2", "--provider", "S2", "--at", "2026-10-23 08:30", "--type",
                         "new-patient", env=OCT)
    out = tmp_path / "clinic.ics"
    info = clinic.json("appt", "export", "--ics", out, "--from", "2026-10-01", "--to", "2026-12-31", env=OCT)
    assert info["events"] == 3  # the series master, its moved occurrence, the single visit
    cal = judge(out)
    text = out.read_text()
    assert "BEGIN:VTIMEZONE" in text and "TZID:America/New_York" in text
    assert "RRULE:FREQ=WEEKLY;COUNT=4" in text and "EXDATE;TZID=America/New_York:20261029T090000" in text
    assert "RECURRENCE-ID;TZID=America/New_York:20261105T090000" in text
    assert "Lopez" not in text and "Ana" not in text and "P1" not in text  # initials only by default
    assert "SUMMARY:follow-up - A.L." in text
    occurrences = recurring_ical_events.of(cal).between(dt.datetime(2026, 10, 1), dt.datetime(2027, 1, 1))
    got = sorted(e["DTSTART"].dt.isoformat() for e in occurrences)
    assert got == ["2026-10-22T09:00:00-04:00", "2026-10-23T08:30:00-04:00",
                   "2026-11-05T14:00:00-05:00", "2026-11-12T09:00:00-05:00"]
    uids = {str(e["UID"]) for e in cal.walk("VEVENT")}
    assert len(uids) == 2 and single["uid"] in uids


def test_export_with_ids_reproduces_in_a_copy_and_reimport_changes_nothing(clinic, medsec, tmp_path):
    series = clinic.json("appt", "book", "P1", "--provider", "S1", "--at", "2026-12-01 09:00", "--type",
                         "follow-up", "--repeat", "FREQ=WEEKLY;INTERVAL=2;COUNT=3")
    clinic.ok("appt", "reschedule", series[1]["id"], "--at", "2026-12-15 10:00")
    clinic.ok("appt", "book", "P2", "--provider", "S2", "--at", "2026-12-02 13:00", "--type", "surgery")
    out = tmp_path / "with-ids.ics"
    clinic.ok("appt", "export", "--ics", out, "--with-ids", "--from", "2026-12-01", "--to", "2026-12-31")
    judge(out)
    assert "X-MEDSEC-PATIENT:P1" in out.read_text()
    # importing our own export changes nothing
    before = snapshot(clinic.home)
    again = clinic.json("appt", "import", out)
    assert (again["booked"], again["skipped_known_uids"]) == (0, 2)
    assert snapshot(clinic.home) == before
    # a copy of the practice without those appointments gets them back
    copy = another_practice(clinic, tmp_path / "copy")
    setup_practice(copy)
    result = copy.json("appt", "import", out)
    assert result["booked"] == 4
    key = lambda a: (a["start"], a["end"], a["provider"], a["patient_id"], a["type"], a["room"], a["status"])  # noqa
    original = sorted(map(key, clinic.json("appt", "list", "--from", "2026-12-01", "--to", "2026-12-31")))
    copied = sorted(map(key, copy.json("appt", "list", "--from", "2026-12-01", "--to", "2026-12-31")))
    assert copied == original
    before = snapshot(copy.home)
    assert copy.json("appt", "import", out)["booked"] == 0
    assert snapshot(copy.home) == before
    assert copy("check").exit_code == 0


def test_import_from_another_calendar_books_holds(clinic, tmp_path):
    ics = tmp_path / "other.ics"
    ics.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other//EN\r\n"
        "BEGIN:VEVENT\r\nUID:abc-123@other\r\nDTSTAMP:20261101T000000Z\r\n"
        "DTSTART;TZID=America/New_York:20261201T090000\r\nDTEND;TZID=America/New_York:20261201T100000\r\n"
        "SUMMARY:Hospital rounds\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    missing = clinic("appt", "import", ics)
    assert missing.exit_code == 2 and "--provider" in missing.stderr
    assert clinic.json("appt", "import", ics, "--provider", "S1")["booked"] == 1
    hold = clinic.json("appt", "list", "--from", "2026-12-01")[0]
    assert (hold["type"], hold["patient_id"], hold["uid"]) == ("hold", "", "abc-123@other")
    taken = clinic("appt", "book", "P1", "--provider", "S1", "--at", "2026-12-01 09:30", "--type", "follow-up")
    assert taken.exit_code == 1
    assert clinic.json("appt", "import", ics, "--provider", "S1")["booked"] == 0


MALFORMED = [
    ("BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:x\nthis line is broken\nEND:VEVENT\nEND:VCALENDAR\n",
     ":5: not an iCalendar content line"),
    ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nEND:VCALENDAR\n", ":4: END:VCALENDAR does not close"),
    ("BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:x\nDTSTART:20261201T100000\nDTEND:20261201T090000\n"
     "X-MEDSEC-PROVIDER:S1\nEND:VEVENT\nEND:VCALENDAR\n", "DTEND 2026-12-01 09:00 is not after DTSTART"),
]


@pytest.mark.parametrize("text,message", MALFORMED)
def test_malformed_ics_is_rejected_with_where(clinic, tmp_path, text, message):
    bad = tmp_path / "bad.ics"
    bad.write_text(text)
    before = snapshot(clinic.home)
    result = clinic("appt", "import", bad)
    assert result.exit_code == 2 and message in result.stderr
    assert snapshot(clinic.home) == before


def test_import_refuses_two_events_of_one_file_at_the_same_time(clinic, tmp_path):
    """Events of one file count against each other before any is stored: all or none."""
    def event(uid, start, end):
        return (f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
                f"DTSTART;TZID=America/New_York:20261201T{start}\r\nDTEND;TZID=America/New_York:20261201T{end}\r\n"
                "SUMMARY:Rounds\r\nEND:VEVENT\r\n")

    ics = tmp_path / "double.ics"
    ics.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other//EN\r\n" + event("a@other", "090000", "100000")
                   + event("b@other", "093000", "103000") + "END:VCALENDAR\r\n")
    before = snapshot(clinic.home)
    clash = clinic("appt", "import", ics, "--provider", "S1")
    assert clash.exit_code == 1 and "S1 is booked 09:00-10:00" in clash.stderr
    assert snapshot(clinic.home) == before
