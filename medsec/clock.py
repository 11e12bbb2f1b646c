"""The clock (overridable with MEDSEC_NOW), dates as people type them, and the horizon they must lie in.

Dates are read in three layers (see "Dates as people say them" below): the strict
forms scripts use (ISO, 12/01/2026, today, mon, +3d), then the phrases a front desk
says whose meaning medsec decides itself (next friday, 1/5, 12, tomorrow 2:30), then
a few phrase shapes read by parsedatetime (jan 5, in 2 weeks, 3 days ago), which is
imported only then. Whatever could mean two days or two times is AmbiguousDate (exit 2)
naming both. `for_people` writes a moment back as people read it: 'Tue Jan 5, 2:30 PM'.
"""

import functools
import os
import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from medsec.errors import InvalidInput
from medsec.text import shown

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_OFFSET = re.compile(r"^([+-])([0-9]+)([dwmy]?)$")
_UNIT_DAYS = {"d": 1, "": 1, "w": 7}
_NAMED_DAYS = {"today": 0, "tomorrow": 1, "yesterday": -1}
# An offset longer than this lies beyond every window below: it is refused without date arithmetic.
_DAYS_PER_UNIT = {"d": 1, "": 1, "w": 7, "m": 31, "y": 366}  # the most days a unit can be
_FARTHEST_OFFSET_DAYS = 1000 * 366

# -- the horizon ------------------------------------------------------------------
# The one place that says how far from today a typed date may be.
#
# The office's plans -- bookings (and visits recorded after the fact), due
# dates, follow-ups, reminders, staff meetings, and the range of days a
# command scans -- lie within HORIZON_YEARS of today, either way: no clinic
# books a visit or owes a task further ahead, a visit recorded late is
# recent, and a scan is then at most HORIZON_YEARS of days. Without a bound,
# year 9999 was accepted and every later computation on it (the end of the
# visit, a day after it, a conversion to UTC) overflowed.
#
# Other dates (a date of birth, an insurance coverage's dates, the start of
# a report or of an audit search) may go HISTORY_YEARS back, and no more
# than HORIZON_YEARS ahead either: nothing a clinic records happens later.
HORIZON_YEARS = 10
HISTORY_YEARS = 150


def _zone(name: str) -> tzinfo:
    from zoneinfo import ZoneInfo  # only commands that need a zone pay for it

    return ZoneInfo(name)


# The years MEDSEC_NOW (a clock for tests and rehearsals) may set: every window around
# "today" (HISTORY_YEARS back, HORIZON_YEARS ahead) then holds real dates.
NOW_YEARS = (1900, 2999)


def now(tz: tzinfo | None = None) -> datetime:
    """The current time in `tz` (UTC if None); MEDSEC_NOW overrides the clock.

    MEDSEC_NOW without an offset is read as local time in `tz`.
    """
    tz = tz or UTC
    fixed = os.environ.get("MEDSEC_NOW")
    if fixed:
        try:
            moment = datetime.fromisoformat(fixed.strip())
        except ValueError:
            raise InvalidInput(f"MEDSEC_NOW={shown(fixed)} is not an ISO datetime") from None
        if not NOW_YEARS[0] <= moment.year <= NOW_YEARS[1]:  # room for every window around it
            raise InvalidInput(f"MEDSEC_NOW={shown(fixed)} is not between the years {NOW_YEARS[0]} and {NOW_YEARS[1]}")
        if moment.tzinfo is None:
            return moment.replace(tzinfo=tz)
        return moment.astimezone(tz)
    return datetime.now(tz)


def today(tz: tzinfo | None = None) -> date:
    return now(tz).date()


def window(tz: tzinfo | None = None, horizon: bool = True) -> tuple[date, date]:
    """(first, last) day a typed date may be: HORIZON_YEARS either side of today; HISTORY_YEARS
    back instead when not `horizon` (see "the horizon" above)."""
    return window_around(today(tz), horizon)


def window_around(base: date, horizon: bool = True) -> tuple[date, date]:
    """(first, last) day of the window around `base` (today), as `window`."""
    back = HORIZON_YEARS if horizon else HISTORY_YEARS
    return _add_months(base, -12 * back), _add_months(base, 12 * HORIZON_YEARS)


def parse_date(text: str, tz: tzinfo | None = None, field: str = "date", *, horizon: bool = False) -> date:
    """A date as typed: ISO, 12/01/2026, today/tomorrow/yesterday, mon..sun, +3d/-2w; and as
    people say them: 1/5, jan 5, next monday, this fri, in 2 weeks, 3 days ago.

    A weekday name means the next such day, today included; a day and month
    without a year, and the words for weeks, are read as "Dates as people say
    them" below decides. The date must lie in the window: HORIZON_YEARS either
    side of today with `horizon` (a booking, a due date, a day to scan), else up
    to HISTORY_YEARS back (a date of birth, the start of a report); InvalidInput
    naming `field` otherwise, AmbiguousDate (one) when it could mean two days.
    """
    s = str(text).strip().lower()
    if not s:
        raise InvalidInput(f"empty {field}")
    base = today(tz)
    day = _written_date(s, text, field) or _relative_date(s, base) or _spoken_date(s, base, text, field, horizon)
    if day is None:
        raise InvalidInput(f"cannot read {field} {shown(text)}", hint=_date_hint())
    return _in_window(day, base, text, field, horizon)


def _date_hint() -> str:
    slashed = "MM/DD/YYYY" if _habits.order == "MDY" else "DD/MM/YYYY"
    return f"use YYYY-MM-DD, {slashed}, jan 5, today, tomorrow, a weekday, next mon, +3d or in 2 weeks"


def _in_window(day: date, base: date, text: str, field: str, horizon: bool) -> date:
    """`day`, or InvalidInput when it lies outside the window around `base`."""
    first, last = window_around(base, horizon)
    if day > last:
        raise InvalidInput(f"{field}: {shown(text)} is more than {HORIZON_YEARS} years away",
                           hint=f"the latest date is {last}")
    if day < first:
        years = HORIZON_YEARS if horizon else HISTORY_YEARS
        raise InvalidInput(f"{field}: {shown(text)} is more than {years} years ago",
                           hint=f"the earliest date is {first}")
    return day


def check_range(first: date, last: date, from_field: str = "--from", to_field: str = "--to") -> None:
    """A range of days a command scans: in order, and no longer than HORIZON_YEARS."""
    if last < first:
        raise InvalidInput(f"{to_field} {last} is before {from_field} {first}")
    if last > _add_months(first, 12 * HORIZON_YEARS):
        raise InvalidInput(f"{from_field} {first} to {to_field} {last} spans more than {HORIZON_YEARS} years",
                           hint="scan a shorter range")


def on_days(stamp, first: date | None, last: date | None) -> bool:
    """Whether a stored date or moment (ISO 8601, in the practice's zone: its day is its first ten
    characters) falls from `first` to `last` (a list's --from/--to), either open; with neither,
    every record does, and with one, a record without a date does not."""
    if first is None and last is None:
        return True
    day = str(stamp or "")[:10]
    return bool(day) and (first is None or day >= first.isoformat()) and (last is None or day <= last.isoformat())


def _written_date(s: str, text: str, field: str) -> date | None:
    """An ISO or MM/DD/YYYY date (DD/MM/YYYY where the practice writes the day first); None for anything else."""
    slashed = re.fullmatch(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})", s)
    try:
        if slashed:
            month, day = _month_and_day(int(slashed.group(1)), int(slashed.group(2)))
            return date(int(slashed.group(3)), month, day)
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", s):
            return date.fromisoformat(s)
    except ValueError as e:
        raise InvalidInput(f"impossible {field} {shown(text)}: {e}",
                           hint=_order_words() if slashed else None) from None
    return None


def _relative_date(s: str, base: date) -> date | None:
    """today/tomorrow/yesterday, a weekday (the next one, `base` included) or an offset from `base`."""
    if s in _NAMED_DAYS:
        return base + timedelta(days=_NAMED_DAYS[s])
    weekday = _weekday(s)
    if weekday is not None:
        return base + timedelta(days=(weekday - base.weekday()) % 7)
    m = _OFFSET.match(s)
    return _offset_date(base, m.group(1), m.group(2), m.group(3)) if m else None


def _offset_date(base: date, sign: str, digits: str, unit: str) -> date:
    """`base` moved by an offset; an offset beyond any window gives date.max (or date.min
    going back) without computing it, so the window check refuses it like any far date."""
    if len(digits.lstrip("0")) > 7 or int(digits) * _DAYS_PER_UNIT[unit] > _FARTHEST_OFFSET_DAYS:
        return date.min if sign == "-" else date.max
    n = int(digits) * (-1 if sign == "-" else 1)
    if unit in _UNIT_DAYS:
        try:
            return base + timedelta(days=n * _UNIT_DAYS[unit])
        except OverflowError:  # only with a clock set near year 1 or 9999
            return date.min if n < 0 else date.max
    return _add_months(base, n if unit == "m" else 12 * n)


def _weekday(s: str) -> int | None:
    """0 (Monday) to 6 for 'mon', 'tues', 'friday' ... (three letters at least); else None."""
    for i, name in enumerate(WEEKDAYS):
        if len(s) >= 3 and (s == name or _weekday_full(i).startswith(s)):
            return i
    return None


def parse_datetime(text: str, tz: tzinfo, field: str = "time") -> datetime:
    """A moment as typed: '2026-12-01 09:30', 'tomorrow 14:00', ISO with offset; and as people
    say it: 'tomorrow 2:30pm', 'jan 5 at 9am', '2pm next tue', 'fri noon'.

    Without an offset the time is the practice's local time. The day is read as
    parse_date reads it, the time of day as `_time_of_day` (a time without am/pm
    is 24-hour, but '2:30' is ambiguous when only 2:30 PM falls in office hours).
    Every moment typed is a plan (a booking, a meeting): it must lie within
    HORIZON_YEARS of today.
    """
    s = str(text).strip()
    moment = _iso_moment(s, tz, field)
    if moment is not None:
        _in_window(moment.date(), today(tz), text, field, horizon=True)
        return moment
    parts = _day_and_time(" ".join(s.lower().split()))
    if parts is None:
        number = _bare_number(s.lower(), today(tz), text, field, moment=True)
        if number is not None:
            raise number
        raise InvalidInput(f"cannot read {field} {shown(text)}",
                           hint="e.g. '2026-12-01 09:30', 'tomorrow 2:30pm' or 'jan 5 14:00'")
    day_part, time_part = parts
    try:
        day = parse_date(day_part, tz, field, horizon=True)
    except AmbiguousDate as e:
        if not e.readings:  # '12 9am': not days to put the time on
            raise
        at, _ = _time_of_day(time_part, field)
        raise AmbiguousDate(field, text, [datetime.combine(d, at, tz) for d in e.readings]) from None
    at, without_half_day = _time_of_day(time_part, field)
    moment = datetime.combine(day, at, tz)
    if without_half_day and not _open_at(at) and _open_at(at.replace(hour=at.hour + 12)):
        afternoon = moment.replace(hour=at.hour + 12)
        raise AmbiguousDate(field, text, [moment, afternoon],
                            hint=f"write {at.hour}:{at.minute:02d}pm or {afternoon:%H:%M}")
    return moment


def _iso_moment(s: str, tz: tzinfo, field: str) -> datetime | None:
    """An ISO 8601 date and time in `tz`; None when `s` is not one."""
    try:
        moment = datetime.fromisoformat(s)
    except ValueError:
        return None
    if "T" not in s and ":" not in s:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=tz)
    try:
        return moment.astimezone(tz)
    except OverflowError:  # the first or last hours of the calendar, in another offset
        raise InvalidInput(f"{field}: {shown(s)} is more than {HORIZON_YEARS} years away") from None


def parse_clock(text: str, field: str = "time") -> time:
    """A time of day, HH:MM (24-hour)."""
    m = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", str(text).strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise InvalidInput(f"cannot read {field} {shown(text)}", hint="use HH:MM, 24-hour")
    return time(int(m.group(1)), int(m.group(2)))


def stored_moment(text: str, tz: tzinfo) -> datetime:
    """A moment a record holds (ISO with offset), in `tz`.

    A moment `tz` cannot hold (the last hours of year 9999, written by versions
    that took any year) keeps its own offset instead of failing the reader.
    """
    moment = datetime.fromisoformat(text)
    try:
        return moment.astimezone(tz)
    except OverflowError:
        return moment


def later(moment: datetime, delta: timedelta) -> datetime:
    """`moment` + `delta`, held at the calendar's last moment (for stored moments near year 9999)."""
    try:
        return moment + delta
    except OverflowError:
        return datetime.max.replace(tzinfo=moment.tzinfo)


def iso(moment: datetime) -> str:
    """ISO 8601 to the second, with the UTC offset."""
    return moment.isoformat(timespec="seconds")


def _weekday_full(i: int) -> str:
    return ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"][i]


def _add_months(d: date, months: int) -> date:
    import calendar  # every command loads the clock; only month offsets (+1m) need calendar

    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    if not 1 <= year <= 9999:  # beyond the calendar: the window check refuses it
        return date.min if months < 0 else date.max
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


# -- Dates as people say them -----------------------------------------------------
# What a front desk means, decided here and written in README's Conventions:
#
# - 1/5 is month/day, or day/month where practice.yaml says `date_order: DMY`.
#   1/5/27 has a two-digit year: the century that puts it in the field's window
#   (a booking's 2027; a coverage date's 1927 or 2027: ambiguous).
# - A day and month without a year (1/5, jan 5): for plans (`horizon`) the next
#   such day, for other dates the last one, today included either way. The other
#   reading is as likely when it lies within RECENT_DAYS of today ('jan 5' typed on
#   Jan 10 for a booking may be a visit recorded late): ambiguous.
# - Weeks run Monday to Sunday. 'this fri' is this week's Friday, ambiguous once it
#   has passed (the one past, or the coming one); 'next fri' is the first Friday after
#   today when that falls in next week, else ambiguous (this week's or next week's);
#   'last fri' likewise, backwards. A bare weekday stays the next one, today included.
# - A bare number ('12') is ambiguous: a day of a month, a month, or an hour.
#   'next week' and 'next month' name no day: refused.
# - A time without am/pm is 24-hour ('9:00', '14:30'); but an hour from 1 to 11
#   written without a leading zero whose morning reading falls outside office hours
#   while its afternoon one falls inside ('2:30') is ambiguous. Office hours here run
#   from the practice's earliest opening to its latest closing in the week (7:00 to
#   19:00 when practice.yaml names none).
# - parsedatetime reads two shapes of phrase: offsets in words ('in 2 weeks', 'three
#   days ago', 'a month from now') and dates with a month's name ('jan 5', '5th of
#   january 2028'); its reading is taken only when it agrees with the shape typed.
RECENT_DAYS = 30
DATE_ORDERS = ("MDY", "DMY")
DEFAULT_OPEN = (time(7, 0), time(19, 0))
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_SPOKEN_DAYS = {"day after tomorrow": 2, "the day after tomorrow": 2, "day before yesterday": -2,
                "the day before yesterday": -2}
_COUNT_WORDS = "a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twenty"  # those parsedatetime knows
_UNIT = r"(?P<unit>day|week|month|year)s?"
_OFFSET_PHRASE = (rf"in (?P<n>[0-9]{{1,9}}|{_COUNT_WORDS}) {_UNIT}(?: from (?:now|today))?"
                  rf"|(?P<n2>[0-9]{{1,9}}|{_COUNT_WORDS}) (?P<unit2>day|week|month|year)s? "
                  r"(?P<way>ago|from now|from today|later)")
_ORDINAL = r"(?:st|nd|rd|th)?"
_NAMED_DATE = (rf"(?:(?P<m1>[a-z]{{3,9}})\.? (?P<d1>[0-9]{{1,2}}){_ORDINAL}"
               rf"|(?:the )?(?P<d2>[0-9]{{1,2}}){_ORDINAL} (?:of )?(?P<m2>[a-z]{{3,9}})\.?)(?: (?P<year>[0-9]{{4}}))?")
_TIME = r"(?:[0-9]{1,2}(?::[0-9]{2})? ?[ap](?:\.?m\.?)?|[0-9]{1,2}:[0-9]{2}|noon)"


class AmbiguousDate(InvalidInput):
    """What was typed could mean more than one day or moment (exit 2). `readings` holds
    them, earliest first (empty when they are not days: '12'); the message names them
    as people read them, the hint how to write each one."""

    def __init__(self, field: str, text: str, readings: list, hint: str | None = None, meanings: str | None = None):
        self.readings = readings
        if meanings is None:
            meanings = " or ".join(_reading_for_people(r, readings) for r in readings)
        if hint is None:
            hint = "write " + " or ".join(_reading_written(r) for r in readings)
        super().__init__(f"{field} {shown(text)} is ambiguous: {meanings}", hint=hint)


class _Habits:
    """How the practice writes dates, and when it is open (for times typed without am/pm)."""

    __slots__ = ("order", "opens", "closes")

    def __init__(self, order: str = "MDY", opens: time = DEFAULT_OPEN[0], closes: time = DEFAULT_OPEN[1]):
        self.order, self.opens, self.closes = order, opens, closes


_habits = _Habits()


def use_practice(practice: dict | None) -> None:
    """Read the dates typed from now on as the practice (practice.yaml's data) writes them:
    its `date_order` (MDY unless DMY) and its office hours. None: the defaults.

    AppContext.tz calls it as it reads the practice's zone, which every command
    does before it parses a date in that zone.
    """
    global _habits
    practice = practice if isinstance(practice, dict) else {}
    order = practice.get("date_order")
    opens, closes = _office_span(practice.get("office_hours"))
    _habits = _Habits(order if order in DATE_ORDERS else "MDY", opens, closes)


def _office_span(hours) -> tuple[time, time]:
    """The earliest opening and the latest closing of the week (DEFAULT_OPEN when none is readable)."""
    spans = []
    for blocks in hours.values() if isinstance(hours, dict) else ():
        for block in blocks if isinstance(blocks, list) else ():
            parts = block if isinstance(block, list) else str(block).split("-")
            try:
                start, end = (parse_clock(str(p)) for p in parts)
            except (InvalidInput, ValueError):
                continue  # config check reports it
            spans.append((start, end))
    if not spans:
        return DEFAULT_OPEN
    return min(start for start, _ in spans), max(end for _, end in spans)


def _open_at(at: time) -> bool:
    return _habits.opens <= at < _habits.closes


def _order_words() -> str:
    first = "month" if _habits.order == "MDY" else "day"
    return f"the practice writes the {first} first (practice.yaml date_order: {_habits.order})"


def _month_and_day(first: int, second: int) -> tuple[int, int]:
    """(month, day) of a date written with slashes, in the practice's order."""
    return (first, second) if _habits.order == "MDY" else (second, first)


def _spoken_date(s: str, base: date, text: str, field: str, horizon: bool) -> date | None:
    """A date as people say it (see above); None when it is none of those phrases."""
    s = " ".join(s.replace(",", " ").split())
    if s in _SPOKEN_DAYS:
        return base + timedelta(days=_SPOKEN_DAYS[s])
    relative = re.fullmatch(r"(this|next|last) ([a-z]+)", s)
    if relative:
        word = relative.group(2)
        if word in ("week", "month", "year"):
            raise InvalidInput(f"{field} {shown(text)} names a {word}, not a day",
                               hint="e.g. 'next mon', 'in 1 week' or 'jan 5'")
        weekday = _weekday(word)
        return None if weekday is None else _week_relative(relative.group(1), weekday, base, text, field)
    number = _bare_number(s, base, text, field, moment=False)
    if number is not None:
        raise number
    slashed = re.fullmatch(r"([0-9]{1,2})/([0-9]{1,2})(?:/([0-9]{2}))?", s)
    if slashed:
        return _slashed_date(slashed, base, text, field, horizon)
    if re.fullmatch(r"[0-9./ -]+", s):
        return None  # other ways of writing numbers are not guessed at
    return _phrase_date(s.removeprefix("on "), base, text, field, horizon)


def _week_relative(which: str, weekday: int, base: date, text: str, field: str) -> date:
    """'this', 'next' or 'last' `weekday` (weeks run Monday to Sunday)."""
    now_weekday = base.weekday()
    week = timedelta(days=7)
    if which == "this":
        if weekday >= now_weekday:
            return base + timedelta(days=weekday - now_weekday)
        passed = base - timedelta(days=now_weekday - weekday)
        raise AmbiguousDate(field, text, [passed, passed + week])
    if which == "next":
        first = base + timedelta(days=(weekday - now_weekday - 1) % 7 + 1)
        if weekday <= now_weekday:  # the first one after today is in next week
            return first
        raise AmbiguousDate(field, text, [first, first + week])
    first = base - timedelta(days=(now_weekday - weekday - 1) % 7 + 1)
    if weekday >= now_weekday:  # the last one before today is in last week
        return first
    raise AmbiguousDate(field, text, [first - week, first])


def _bare_number(s: str, base: date, text: str, field: str, moment: bool) -> AmbiguousDate | None:
    """'12' (or '12th') alone: a day of a month, a month, or (for a moment) an hour."""
    found = re.fullmatch(r"([0-9]{1,2})(st|nd|rd|th)?", s.strip())
    if not found or not 1 <= int(found.group(1)) <= 31:
        return None
    n = int(found.group(1))
    meanings = [f"the {_ordinal(n)} of a month"]
    if not found.group(2):
        meanings += [_MONTHS[n - 1].title()] if n <= 12 else []
        meanings += [f"{n}:00"] if moment and n <= 23 else []
    example = _next_day_of_month(n, base)
    said = ", ".join(meanings[:-1]) + " or " + meanings[-1] if len(meanings) > 1 else f"{meanings[0]}, but which?"
    return AmbiguousDate(field, text, [], meanings=said,
                         hint=f"write {_MONTHS[example.month - 1][:3]} {n} or {example.isoformat()}")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _next_day_of_month(n: int, base: date) -> date:
    """The first day numbered `n` from `base` on (for an example in a hint)."""
    year, month = base.year, base.month
    for _ in range(24):
        try:
            day = date(year, month, n)
        except ValueError:
            day = None
        if day is not None and day >= base:
            return day
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return base


def _slashed_date(found: re.Match, base: date, text: str, field: str, horizon: bool) -> date:
    """1/5 (the year placed by `_yearless`) or 1/5/27 (a two-digit year)."""
    month, day = _month_and_day(int(found.group(1)), int(found.group(2)))
    _check_month_day(month, day, text, field, _order_words())
    if found.group(3) is None:
        return _yearless(month, day, base, horizon, text, field)
    return _two_digit_year(month, day, int(found.group(3)), base, horizon, text, field)


def _check_month_day(month: int, day: int, text: str, field: str, hint: str | None = None) -> None:
    """InvalidInput when no year has such a day ('2/30', 'jun 31'); February 29 is possible."""
    if not 1 <= month <= 12:
        raise InvalidInput(f"impossible {field} {shown(text)}: month must be in 1..12", hint=hint)
    longest = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    if not 1 <= day <= longest:
        raise InvalidInput(f"impossible {field} {shown(text)}: {_MONTHS[month - 1].title()} has no day {day}",
                           hint=hint)


def _yearless(month: int, day: int, base: date, horizon: bool, text: str, field: str) -> date:
    """A day and month without a year: the next such day for plans, the last one for other
    dates (today included); AmbiguousDate when the other lies within RECENT_DAYS of today."""
    on_or_after = _occurrence(month, day, base, 1)
    on_or_before = _occurrence(month, day, base, -1)
    if horizon:
        chosen = on_or_after
        other = on_or_before if on_or_before != base else _occurrence(month, day, base - timedelta(days=1), -1)
    else:
        chosen = on_or_before
        other = on_or_after if on_or_after != base else _occurrence(month, day, base + timedelta(days=1), 1)
    if date.min < other < date.max and abs((other - base).days) <= RECENT_DAYS:
        raise AmbiguousDate(field, text, sorted([chosen, other]))
    return chosen


def _occurrence(month: int, day: int, start: date, step: int) -> date:
    """The first `month`/`day` from `start` on (step 1) or back (step -1), `start` included;
    date.max or date.min beyond the calendar (the window check refuses it)."""
    year = start.year
    while 1 <= year <= 9999 and abs(year - start.year) <= 8:  # February 29 comes back within 8 years
        try:
            found = date(year, month, day)
        except ValueError:
            found = None
        if found is not None and (found >= start if step > 0 else found <= start):
            return found
        year += step
    return date.max if step > 0 else date.min


def _two_digit_year(month: int, day: int, yy: int, base: date, horizon: bool, text: str, field: str) -> date:
    """1/5/27: the century that puts the date in the field's window; AmbiguousDate when two do."""
    first, last = window_around(base, horizon)
    candidates = []
    for century in range(base.year // 100 - 2, base.year // 100 + 2):
        try:
            candidates.append(date(century * 100 + yy, month, day))
        except ValueError:
            continue  # February 29 of a common year, or beyond the calendar
    if not candidates:
        raise InvalidInput(f"impossible {field} {shown(text)}: not a leap year", hint="write the year in full")
    inside = [d for d in candidates if first <= d <= last]
    if len(inside) > 1:
        raise AmbiguousDate(field, text, inside, hint="write the year in full: " +
                            " or ".join(_reading_written(d) for d in inside))
    if inside:
        return inside[0]
    return min(candidates, key=lambda d: abs((d - base).days))  # the window check says how far it is


def _phrase_date(s: str, base: date, text: str, field: str, horizon: bool) -> date | None:
    """'in 2 weeks', 'three days ago', 'jan 5', '5th of january 2028', read by parsedatetime
    and taken only when its reading agrees with the shape typed; None for other phrases."""
    offset = re.fullmatch(_OFFSET_PHRASE, s)
    if offset:
        return _offset_phrase(offset, s, base)
    named = re.fullmatch(_NAMED_DATE, s)
    month = _month_number(named.group("m1") or named.group("m2")) if named else None
    if named is None or month is None:
        return None
    day = int(named.group("d1") or named.group("d2"))
    _check_month_day(month, day, text, field)
    year = named.group("year")
    if year and not 1 <= int(year) <= 9999:
        return None
    reading = _parsedatetime(f"{_MONTHS[month - 1]} {day}" + (f" {year}" if year else ""), base)
    if reading is not None and ((reading.month, reading.day) != (month, day) or year and reading.year != int(year)):
        return None  # it read something else than was typed
    if not year:  # (it cannot place February 29 from a common year: _yearless can)
        return _yearless(month, day, base, horizon, text, field)
    if reading is None:
        raise InvalidInput(f"impossible {field} {shown(text)}: {year} is not a leap year")
    return reading.date()


def _offset_phrase(found: re.Match, s: str, base: date) -> date | None:
    """'in 2 weeks', 'a month ago' ...: read by parsedatetime, checked against the unit typed."""
    count = found.group("n") or found.group("n2")
    unit = found.group("unit") or found.group("unit2")
    back = found.group("way") == "ago"
    if count.isdigit() and int(count) * _DAYS_PER_UNIT[unit[0]] > _FARTHEST_OFFSET_DAYS:
        return date.min if back else date.max  # beyond any window: refused without date arithmetic
    reading = _parsedatetime(s, base)
    if reading is None:
        return None
    if count.isdigit():  # the arithmetic of the strict form (+2w), which parsedatetime's agrees with
        expected = _offset_date(base, "-" if back else "+", count, "" if unit == "day" else unit[0])
        if expected != reading.date():
            return None
    return reading.date()


def _month_number(word: str) -> int | None:
    """1 to 12 for 'jan', 'sept', 'january' (three letters at least); None for other words."""
    word = "sep" if word == "sept" else word
    for i, name in enumerate(_MONTHS):
        if len(word) >= 3 and name.startswith(word):
            return i + 1
    return None


@functools.lru_cache(maxsize=1)
def _phrase_reader():
    import parsedatetime  # only phrases the strict parser does not know pay for it (~30 ms)

    return parsedatetime.Calendar(version=parsedatetime.VERSION_CONTEXT_STYLE)


def _parsedatetime(s: str, base: date) -> datetime | None:
    """parsedatetime's reading of `s` from noon of `base`, or None when it finds no date in it."""
    try:
        moment, context = _phrase_reader().parseDT(s, sourceTime=datetime.combine(base, time(12)))
    except Exception:  # noqa: BLE001 -- a phrase it cannot place is one medsec cannot read
        return None
    return moment if context.hasDate else None


def _day_and_time(s: str) -> tuple[str, str] | None:
    """('tomorrow', '2:30pm') from 'tomorrow 2:30pm', 'tomorrow at 2:30pm', '2:30pm tomorrow' ..."""
    found = (re.fullmatch(rf"(?P<day>.+?),? (?:at )?(?P<time>{_TIME})", s)
             or re.fullmatch(rf"(?:at )?(?P<time>{_TIME}),? (?:on )?(?P<day>.+)", s))
    return (found.group("day"), found.group("time")) if found else None


def _time_of_day(text: str, field: str) -> tuple[time, bool]:
    """A time of day: '14:30', '9:00', '2:30pm', '2 pm', '9a', 'noon'; and whether it may
    be either half of the day (an hour from 1 to 11, no leading zero, no am/pm)."""
    if text == "noon":
        return time(12, 0), False
    found = re.fullmatch(r"([0-9]{1,2})(?::([0-9]{2}))? ?(?:([ap])(?:\.?m\.?)?)?", text)
    hour, minute = (int(found.group(1)), int(found.group(2) or 0)) if found else (99, 99)
    half = found.group(3) if found else None
    if half and 1 <= hour <= 12 and minute <= 59:
        return time(hour % 12 + (12 if half == "p" else 0), minute), False
    if found and not half and found.group(2) and hour <= 23 and minute <= 59:
        return time(hour, minute), 1 <= hour <= 11 and not found.group(1).startswith("0")
    raise InvalidInput(f"cannot read {field} {shown(text)}", hint="use HH:MM (24-hour) or 2:30pm")


# -- Dates for people -------------------------------------------------------------
# Tables, confirmations and errors show a moment as people read it; JSON keeps iso().
PEOPLES_YEAR_DAYS = 182  # a day further than this from today is shown with its year


def day_for_people(day: date, tz: tzinfo | None = None) -> str:
    """'Tue Jan 5'; with the year when it lies more than half a year from today (in `tz`):
    'Wed Jan 5 2028' (in December, 'Tue Jan 5' is the coming one)."""
    text = f"{_DAY_NAMES[day.weekday()]} {_MONTHS[day.month - 1][:3].title()} {day.day}"
    return text if abs((day - today(tz)).days) <= PEOPLES_YEAR_DAYS else f"{text} {day.year}"


def time_for_people(moment: datetime | time) -> str:
    """'2:30 PM', '9:00 AM', '12:00 PM' (noon)."""
    return f"{(moment.hour - 1) % 12 + 1}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def for_people(moment: datetime, tz: tzinfo | None = None) -> str:
    """'Tue Jan 5, 2:30 PM': a moment in `tz` (the practice's zone; its own if None), with
    the year when more than half a year away: 'Wed Jan 5 2028, 2:30 PM'."""
    if tz is not None and moment.tzinfo is not None:
        moment = _in_zone(moment, tz)
    return f"{day_for_people(moment.date(), moment.tzinfo)}, {time_for_people(moment)}"


def _in_zone(moment: datetime, tz: tzinfo) -> datetime:
    try:
        return moment.astimezone(tz)
    except OverflowError:  # the calendar's last hours: shown in their own offset
        return moment


def _reading_for_people(reading: date, readings: list) -> str:
    """One reading of an ambiguous date as the error names it (all with their years when they differ)."""
    moment = reading if isinstance(reading, datetime) else None
    day = moment.date() if moment else reading
    text = day_for_people(day, moment.tzinfo if moment else None)
    if len({r.year for r in readings}) > 1 and not text.endswith(str(day.year)):
        text += f" {day.year}"
    return f"{text}, {time_for_people(moment)}" if moment else text


def _reading_written(reading: date) -> str:
    """A reading as it may be typed without doubt: 2027-01-08, or '2027-01-08 14:30'."""
    if isinstance(reading, datetime):
        return f"'{reading:%Y-%m-%d %H:%M}'"
    return reading.isoformat()
