"""Dates as people say them (issue 17, part 3): the phrases, the ambiguous ones, the practice's
date order, dates for people, and messages in the patient's language (Babel).

The installed command (a subprocess each) books with every phrase of the issue, refuses three
ambiguous ones and previews a Spanish reminder; the rules themselves are checked in-process.
"""

import subprocess
import sys
from datetime import UTC, date, datetime

import pytest
from helpers.backends import write_config

from medsec import clock, templating
from medsec.errors import InvalidInput

MONDAY = "2027-01-04T10:00:00"  # practice time
WEDNESDAY = "2027-01-06T10:00:00"
NY = clock._zone("America/New_York")
OPEN_8_TO_5 = {"office_hours": {d: ["08:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}}


@pytest.fixture(autouse=True)
def plain_habits():
    """Every test starts (and leaves the process) with the default habits: MDY, open 7:00 to 19:00."""
    clock.use_practice(None)
    yield
    clock.use_practice(None)


@pytest.fixture
def monday(monkeypatch):
    monkeypatch.setenv("MEDSEC_NOW", MONDAY)


def when(text: str) -> str:
    return clock.iso(clock.parse_datetime(text, NY, "--at"))


def day(text: str, horizon: bool = True) -> str:
    return clock.parse_date(text, NY, "--for", horizon=horizon).isoformat()


def ambiguity(call, *args, **kw) -> clock.AmbiguousDate:
    with pytest.raises(clock.AmbiguousDate) as caught:
        call(*args, **kw)
    return caught.value


# -- the phrases ---------------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("jan 5", "2027-01-05"), ("1/5", "2027-01-05"), ("next monday", "2027-01-11"), ("in 2 weeks", "2027-01-18"),
    ("January 5th", "2027-01-05"), ("5 jan", "2027-01-05"), ("5th of january 2028", "2028-01-05"),
    ("jan 5, 2028", "2028-01-05"), ("sept 5", "2027-09-05"), ("in two weeks", "2027-01-18"),
    ("a month from now", "2027-02-04"), ("3 days ago", "2027-01-01"), ("day after tomorrow", "2027-01-06"),
    ("this friday", "2027-01-08"), ("this monday", "2027-01-04"), ("last friday", "2027-01-01"),
    ("next mon", "2027-01-11"), ("feb 29", "2028-02-29"),
    # the strict forms, as before
    ("monday", "2027-01-04"), ("fri", "2027-01-08"), ("tomorrow", "2027-01-05"), ("+2w", "2027-01-18"),
    ("01/05/2027", "2027-01-05"), ("2027-01-05", "2027-01-05"),
])
def test_dates_as_people_say_them(monday, text, expected):
    assert day(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("tomorrow 2:30pm", "2027-01-05T14:30:00-05:00"), ("tomorrow at 2:30 PM", "2027-01-05T14:30:00-05:00"),
    ("2:30pm tomorrow", "2027-01-05T14:30:00-05:00"), ("jan 5 9am", "2027-01-05T09:00:00-05:00"),
    ("1/5 2:30 p.m.", "2027-01-05T14:30:00-05:00"), ("next monday 9:00", "2027-01-11T09:00:00-05:00"),
    ("in 2 weeks 11:15", "2027-01-18T11:15:00-05:00"), ("fri noon", "2027-01-08T12:00:00-05:00"),
    ("tomorrow 12am", "2027-01-05T00:00:00-05:00"),
    # 24-hour times as before: two digits are never guessed at; a morning reading in office hours stands
    ("tomorrow 14:00", "2027-01-05T14:00:00-05:00"), ("tomorrow 02:30", "2027-01-05T02:30:00-05:00"),
    ("tomorrow 9:30", "2027-01-05T09:30:00-05:00"), ("tomorrow 7:30", "2027-01-05T07:30:00-05:00"),
    ("2027-01-05 09:30", "2027-01-05T09:30:00-05:00"), ("2027-07-01T09:30:00-04:00", "2027-07-01T09:30:00-04:00"),
])
def test_moments_as_people_say_them(monday, text, expected):
    clock.use_practice(OPEN_8_TO_5)
    assert when(text) == expected


def test_the_practice_may_write_the_day_first(monday):
    clock.use_practice({"date_order": "DMY"})
    assert (day("1/5"), day("05/01/2027")) == ("2027-05-01", "2027-01-05")
    assert when("5/1 10:00") == "2027-01-05T10:00:00-05:00"
    with pytest.raises(InvalidInput) as caught:
        day("1/13")
    assert "the practice writes the day first (practice.yaml date_order: DMY)" in caught.value.hint
    clock.use_practice({"date_order": "MDY"})
    assert day("1/5") == "2027-01-05"


# -- what could mean two things ---------------------------------------------------------
def test_next_friday_on_a_monday_is_this_weeks_or_next_weeks(monday):
    e = ambiguity(day, "next friday")
    assert e.readings == [date(2027, 1, 8), date(2027, 1, 15)]
    assert e.message == "--for 'next friday' is ambiguous: Fri Jan 8 or Fri Jan 15"
    assert e.hint == "write 2027-01-08 or 2027-01-15"
    assert e.exit_code == 2
    assert ambiguity(when, "next fri 9:00").hint == "write '2027-01-08 09:00' or '2027-01-15 09:00'"


def test_this_monday_on_a_wednesday_is_the_one_past_or_the_coming_one(monkeypatch):
    monkeypatch.setenv("MEDSEC_NOW", WEDNESDAY)
    assert ambiguity(day, "this monday").readings == [date(2027, 1, 4), date(2027, 1, 11)]
    assert ambiguity(day, "last monday").readings == [date(2026, 12, 28), date(2027, 1, 4)]
    assert ambiguity(day, "next friday").readings == [date(2027, 1, 8), date(2027, 1, 15)]
    assert (day("last friday"), day("next monday"), day("this friday")) == ("2027-01-01", "2027-01-11", "2027-01-08")


def test_a_bare_number_is_a_day_a_month_or_an_hour(monday):
    assert ambiguity(day, "12").message == "--for '12' is ambiguous: the 12th of a month or December"
    e = ambiguity(when, "12")
    assert e.message == "--at '12' is ambiguous: the 12th of a month, December or 12:00"
    assert e.hint == "write jan 12 or 2027-01-12"
    assert "the 25th of a month" in ambiguity(day, "25th").message


def test_a_time_without_am_or_pm_outside_office_hours(monday):
    clock.use_practice(OPEN_8_TO_5)
    e = ambiguity(when, "tomorrow 2:30")
    assert e.message == "--at 'tomorrow 2:30' is ambiguous: Tue Jan 5, 2:30 AM or Tue Jan 5, 2:30 PM"
    assert e.hint == "write 2:30pm or 14:30"
    clock.use_practice({"office_hours": {"tue": ["00:00-06:00"]}})  # a night clinic means 2:30 at night
    assert when("tomorrow 2:30") == "2027-01-05T02:30:00-05:00"


def test_a_day_and_month_without_a_year(monday):
    """Plans take the next such day, other dates the last; both readings within 30 days: ambiguous."""
    assert ambiguity(day, "jan 2").readings == [date(2027, 1, 2), date(2028, 1, 2)]  # 2 days ago, for a booking
    assert day("dec 1") == "2027-12-01"  # a plan: the next one
    assert day("dec 1", horizon=False) == "2026-12-01"  # a report's start: the last one
    assert ambiguity(day, "jan 20", horizon=False).readings == [date(2026, 1, 20), date(2027, 1, 20)]
    assert day("1/5/27") == "2027-01-05"  # a booking's two-digit year
    e = ambiguity(day, "1/5/27", horizon=False)  # a coverage date: 1927 or 2027
    assert e.message == "--for '1/5/27' is ambiguous: Wed Jan 5 1927 or Tue Jan 5 2027"
    assert e.hint == "write the year in full: 1927-01-05 or 2027-01-05"


@pytest.mark.parametrize("text,message", [
    ("next week", "--for 'next week' names a week, not a day"),
    ("feb 30", "impossible --for 'feb 30': February has no day 30"),
    ("2/30/27", "impossible --for '2/30/27': February has no day 30"),
    ("feb 29 2027", "impossible --for 'feb 29 2027': 2027 is not a leap year"),
    ("13/1", "impossible --for '13/1': month must be in 1..12"),
    ("a week from tuesday", "cannot read --for 'a week from tuesday'"),  # parsedatetime says Jan 12: not taken
    ("in twelve days", "cannot read --for 'in twelve days'"),
    ("1.5.27", "cannot read --for '1.5.27'"),
    ("in 99999999 days", "--for: 'in 99999999 days' is more than 10 years away"),
])
def test_what_is_refused(monday, text, message):
    with pytest.raises(InvalidInput) as caught:
        day(text)
    assert caught.value.message == message and not isinstance(caught.value, clock.AmbiguousDate)


def test_the_library_is_loaded_only_for_a_phrase_the_strict_parser_does_not_know():
    code = ("import sys\nfrom medsec import clock\nclock.parse_date({!r}, horizon=True)\n"
            "print('parsedatetime' in sys.modules, 'babel' in sys.modules)")
    loaded = [subprocess.run([sys.executable, "-c", code.format(text)], capture_output=True, text=True,
                             env={"MEDSEC_NOW": MONDAY}, check=True).stdout.split() for text in ("+3d", "jan 5")]
    assert loaded == [["False", "False"], ["True", "False"]]


# -- dates for people --------------------------------------------------------------------
def test_dates_for_people(monday):
    assert clock.for_people(datetime(2027, 1, 5, 19, 30, tzinfo=UTC), NY) == "Tue Jan 5, 2:30 PM"
    assert clock.for_people(datetime(2028, 1, 5, 9, 0, tzinfo=NY)) == "Wed Jan 5 2028, 9:00 AM"
    assert clock.day_for_people(date(2027, 1, 5)) == "Tue Jan 5"
    assert clock.day_for_people(date(2026, 12, 28)) == "Mon Dec 28"  # last year, but near: no year
    assert clock.day_for_people(date(2027, 12, 1)) == "Wed Dec 1 2027"  # more than half a year away
    assert [clock.time_for_people(datetime(2027, 1, 5, h, 5)) for h in (0, 9, 12, 23)] == [
        "12:05 AM", "9:05 AM", "12:05 PM", "11:05 PM"]


# -- the practice's setting ---------------------------------------------------------------
def test_config_check_names_a_wrong_date_order_with_its_line(practice):
    write_config(practice, "practice.yaml", "name: X\ntime_zone: America/New_York\ndate_order: YMD\n")
    result = practice("config", "check")
    assert result.exit_code == 3
    assert "practice.yaml:3: error: date_order must be MDY (1/5 is January 5) or DMY (1/5 is May 1), not 'YMD'" \
        in result.stderr


# -- messages in the patient's language ------------------------------------------------------
def message(tmp_path, lang: str, text: str, **context) -> str:
    folder = tmp_path / "templates" / "messages" / "note"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{lang}.txt.j2").write_text(text)
    return templating.render(str(tmp_path), "note", context, lang, tz=NY).text


@pytest.mark.parametrize("lang,expected", [
    ("es", "martes, 5 de enero de 2027 | 5 de enero de 2027, 14:30 | 14:30 | 1.250,50 US$ | 5/1/27"),
    ("en", "Tuesday, January 5, 2027 | January 5, 2027, 2:30 PM | 2:30 PM | $1,250.50 | 1/5/27"),
    ("xx", "Tuesday, January 5, 2027 | January 5, 2027, 2:30 PM | 2:30 PM | $1,250.50 | 1/5/27"),  # unknown: US
])
def test_dates_times_and_money_in_the_messages_language(tmp_path, lang, expected):
    text = ("{{ at | format_date('full') }} | {{ at | format_datetime }} | {{ at | format_time }} | "
            "{{ amount | format_money }} | {{ day | format_date('short') }}")
    # a moment stored in UTC is shown in the practice's zone
    assert message(tmp_path, lang, text, at="2027-01-05T19:30:00+00:00", amount="1250.50",
                   day="2027-01-05") == expected


@pytest.mark.parametrize("text,problem", [
    ("{{ at | format_date('" + "y" * 101 + "') }}", "template limit: a date format of 101 characters"),
    ("{{ '1e999999999' | format_money }}", "is not an amount a message prints"),
    ("{{ 'soon' | format_date }}", "Invalid isoformat string"),
    ("{{ '2027-01-05' | format_time }}", "is a day, not a time"),
])
def test_a_templates_mistake_with_the_filters_names_the_template(tmp_path, text, problem):
    with pytest.raises(InvalidInput) as caught:
        message(tmp_path, "es", text, at="2027-01-05T14:30:00-05:00")
    assert "note/es.txt.j2" in caught.value.message and problem in caught.value.message


# -- the installed command ---------------------------------------------------------------------
def test_the_installed_command_books_with_each_phrase(small_practice):
    """Thursday Nov 26 2026, 10:00: each phrase of the issue through `medsec appt book --at`."""
    office = small_practice(5)
    phrases = [("P1", "tomorrow 2:30pm", "2026-11-27T14:30:00-05:00"),
               ("P2", "jan 5 10:00", "2027-01-05T10:00:00-05:00"),
               ("P3", "1/5 11:00", "2027-01-05T11:00:00-05:00"),
               ("P4", "next monday 9am", "2026-11-30T09:00:00-05:00"),
               ("P5", "in 2 weeks 9:30", "2026-12-10T09:30:00-05:00")]
    for patient, at, start in phrases:
        proc = office.run("appt", "book", patient, "--provider", "S1", "--type", "follow-up", "--at", at, "--json")
        assert proc.returncode == 0, proc.stderr
        assert '"start":"' + start + '"' in proc.stdout.replace(" ", "")


@pytest.mark.parametrize("at,error", [
    ("next friday 9:00", "medsec: error: --at 'next friday 9:00' is ambiguous: Fri Nov 27, 9:00 AM or "
                         "Fri Dec 4, 9:00 AM (write '2026-11-27 09:00' or '2026-12-04 09:00')"),
    ("12", "medsec: error: --at '12' is ambiguous: the 12th of a month, December or 12:00 "
           "(write dec 12 or 2026-12-12)"),
    ("tomorrow 2:30", "medsec: error: --at 'tomorrow 2:30' is ambiguous: Fri Nov 27, 2:30 AM or "
                      "Fri Nov 27, 2:30 PM (write 2:30pm or 14:30)"),
])
def test_the_installed_command_refuses_what_is_ambiguous(small_practice, at, error):
    office = small_practice(1)
    proc = office.run("appt", "book", "P1", "--provider", "S1", "--type", "follow-up", "--at", at, check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", error + "\n")
    assert office.json("appt", "list") == []


def test_the_installed_command_previews_a_spanish_reminder(small_practice):
    office = small_practice(1)
    write_config(office, "channels.yaml", "email: {host: 127.0.0.1, port: 9, from: desk@example.org}\n")
    office.ok("patient", "edit", "P1", "--language", "es", "--email", "ana@example.org",
              "--preferred-channel", "email")
    office.ok("appt", "book", "P1", "--provider", "S1", "--type", "follow-up", "--at", "2027-01-05 14:30")
    proc = office.run("remind", "preview", "A1")
    assert "Recordatorio: su cita el martes 5 de enero a las 14:30" in proc.stdout, proc.stdout
    assert "el martes 5 de enero de 2027 a las 14:30." in proc.stdout
