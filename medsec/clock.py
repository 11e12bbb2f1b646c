"""The clock (overridable with MEDSEC_NOW), dates as people type them, and the horizon they must lie in."""

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
    """A date as typed: ISO, MM/DD/YYYY, today/tomorrow/yesterday, mon..sun, +3d/-2w.

    A weekday name means the next such day, today included. The date must lie
    in the window: HORIZON_YEARS either side of today with `horizon` (a booking,
    a due date, a day to scan), else up to HISTORY_YEARS back (a date of
    birth, the start of a report); InvalidInput naming `field` otherwise.
    """
    s = str(text).strip().lower()
    if not s:
        raise InvalidInput(f"empty {field}")
    base = today(tz)
    day = _written_date(s, text, field) or _relative_date(s, base)
    if day is None:
        raise InvalidInput(
            f"cannot read {field} {shown(text)}",
            hint="use YYYY-MM-DD, MM/DD/YYYY, today, tomorrow, a weekday or +3d",
        )
    return _in_window(day, base, text, field, horizon)


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


def _written_date(s: str, text: str, field: str) -> date | None:
    """An ISO or MM/DD/YYYY date; None for anything else."""
    us = re.fullmatch(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})", s)
    try:
        if us:
            return date(int(us.group(3)), int(us.group(1)), int(us.group(2)))
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", s):
            return date.fromisoformat(s)
    except ValueError as e:
        raise InvalidInput(f"impossible {field} {shown(text)}: {e}") from None
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
    """A moment as typed: '2026-12-01 09:30', 'tomorrow 14:00', ISO with offset.

    Without an offset the time is the practice's local time. Every moment
    typed is a plan (a booking, a meeting): it must lie within HORIZON_YEARS of today.
    """
    s = str(text).strip()
    moment = _iso_moment(s, tz, field)
    if moment is not None:
        _in_window(moment.date(), today(tz), text, field, horizon=True)
        return moment
    day_part, _, time_part = s.rpartition(" ")
    if not day_part:
        day_part, time_part = s, ""
    if not time_part or ":" not in time_part:
        raise InvalidInput(f"cannot read {field} {shown(text)}", hint="e.g. '2026-12-01 09:30' or 'tomorrow 14:00'")
    day = parse_date(day_part, tz, field, horizon=True)
    return datetime.combine(day, parse_clock(time_part, field), tz)


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
