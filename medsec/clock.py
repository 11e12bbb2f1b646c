"""The clock (overridable with MEDSEC_NOW) and dates as people type them."""

import os
import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from medsec.errors import InvalidInput

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_OFFSET = re.compile(r"^([+-])(\d+)([dwmy]?)$")
_UNIT_DAYS = {"d": 1, "": 1, "w": 7}
_NAMED_DAYS = {"today": 0, "tomorrow": 1, "yesterday": -1}


def _zone(name: str) -> tzinfo:
    from zoneinfo import ZoneInfo  # only commands that need a zone pay for it

    return ZoneInfo(name)


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
            raise InvalidInput(f"MEDSEC_NOW={fixed!r} is not an ISO datetime") from None
        if moment.tzinfo is None:
            return moment.replace(tzinfo=tz)
        return moment.astimezone(tz)
    return datetime.now(tz)


def today(tz: tzinfo | None = None) -> date:
    return now(tz).date()


def parse_date(text: str, tz: tzinfo | None = None, field: str = "date") -> date:
    """A date as typed: ISO, MM/DD/YYYY, today/tomorrow/yesterday, mon..sun, +3d/-2w.

    A weekday name means the next such day, today included.
    """
    s = str(text).strip().lower()
    if not s:
        raise InvalidInput(f"empty {field}")
    written = _written_date(s, text, field)  # written-out dates first: they need no clock
    if written:
        return written
    relative = _relative_date(s, today(tz))
    if relative:
        return relative
    raise InvalidInput(
        f"cannot read {field} {text!r}",
        hint="use YYYY-MM-DD, MM/DD/YYYY, today, tomorrow, a weekday or +3d",
    )


def _written_date(s: str, text: str, field: str) -> date | None:
    """An ISO or MM/DD/YYYY date; None for anything else."""
    us = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", s)
    try:
        if us:
            return date(int(us.group(3)), int(us.group(1)), int(us.group(2)))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            return date.fromisoformat(s)
    except ValueError as e:
        raise InvalidInput(f"impossible {field} {text!r}: {e}") from None
    return None


def _relative_date(s: str, base: date) -> date | None:
    """today/tomorrow/yesterday, a weekday (the next one, `base` included) or an offset from `base`."""
    if s in _NAMED_DAYS:
        return base + timedelta(days=_NAMED_DAYS[s])
    weekday = _weekday(s)
    if weekday is not None:
        return base + timedelta(days=(weekday - base.weekday()) % 7)
    m = _OFFSET.match(s)
    if m:
        n = int(m.group(2)) * (-1 if m.group(1) == "-" else 1)
        unit = m.group(3)
        if unit in _UNIT_DAYS:
            return base + timedelta(days=n * _UNIT_DAYS[unit])
        return _add_months(base, n if unit == "m" else 12 * n)
    return None


def _weekday(s: str) -> int | None:
    """0 (Monday) to 6 for 'mon', 'tues', 'friday' ... (three letters at least); else None."""
    for i, name in enumerate(WEEKDAYS):
        if len(s) >= 3 and (s == name or _weekday_full(i).startswith(s)):
            return i
    return None


def parse_datetime(text: str, tz: tzinfo, field: str = "time") -> datetime:
    """A moment as typed: '2026-12-01 09:30', 'tomorrow 14:00', ISO with offset.

    Without an offset the time is the practice's local time.
    """
    s = str(text).strip()
    try:
        moment = datetime.fromisoformat(s)
        if "T" in s or ":" in s:
            return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)
    except ValueError:
        pass
    day_part, _, time_part = s.rpartition(" ")
    if not day_part:
        day_part, time_part = s, ""
    if not time_part or ":" not in time_part:
        raise InvalidInput(f"cannot read {field} {text!r}", hint="e.g. '2026-12-01 09:30' or 'tomorrow 14:00'")
    day = parse_date(day_part, tz, field)
    return datetime.combine(day, parse_clock(time_part, field), tz)


def parse_clock(text: str, field: str = "time") -> time:
    """A time of day, HH:MM (24-hour)."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", str(text).strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise InvalidInput(f"cannot read {field} {text!r}", hint="use HH:MM, 24-hour")
    return time(int(m.group(1)), int(m.group(2)))


def iso(moment: datetime) -> str:
    """ISO 8601 to the second, with the UTC offset."""
    return moment.replace(microsecond=0).isoformat()


def _weekday_full(i: int) -> str:
    return ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"][i]


def _add_months(d: date, months: int) -> date:
    import calendar  # every command loads the clock; only month offsets (+1m) need calendar

    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))
