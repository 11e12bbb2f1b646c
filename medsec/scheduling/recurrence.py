"""Recurrence rules (RRULE, RFC 5545): checked before they are expanded, expanded within bounds.

A rule comes from `appt book --repeat` or from an imported calendar. Before
dateutil sees it, it must name a frequency no finer than DAILY (an hourly
"series" is no clinic's), end (COUNT from 1 to MAX_COUNT, or an UNTIL within
the horizon), and use only the parts RFC 5545 defines. Expansion never goes
past the horizon's last day, so a rule that matches rarely or never (30
February, every day) stops there instead of running to year 9999, and it
never yields more than the caller's limit, whatever the rule says.
"""

from datetime import date, datetime, time
from itertools import islice

from medsec import clock
from medsec.errors import InvalidInput
from medsec.text import clean_text, shown

MAX_COUNT = 520  # ten years of weekly visits
MAX_INTERVAL = 999
MAX_RULE_CHARS = 300
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_PARTS = {"FREQ", "UNTIL", "COUNT", "INTERVAL", "BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY", "BYMONTHDAY",
          "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST"}


def rule_text(rule: str) -> str:
    """A rule as dateutil reads it: trimmed, without an 'RRULE:' prefix."""
    text = rule.strip()
    return text[6:] if text.upper().startswith("RRULE:") else text


def check_rule(rule: str, today: date, field: str = "--repeat") -> dict[str, str]:
    """The parts of `rule` (upper-case names) when it may be expanded; else InvalidInput naming `field`."""
    text = rule_text(clean_text(rule, field, MAX_RULE_CHARS))
    parts: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):  # a trailing ';' is harmless
        name, equals, value = part.partition("=")
        name = name.strip().upper()
        if not equals or name not in _PARTS or name in parts:
            raise _invalid(rule, field, f"{shown(part)} is not a part of an RRULE (or is repeated)")
        parts[name] = value.strip()
    if parts.get("FREQ", "").upper() not in FREQUENCIES:
        raise _invalid(rule, field, f"FREQ must be one of {', '.join(FREQUENCIES)}")
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise InvalidInput(f"{field} needs COUNT= or UNTIL= (a series must end)")
    if "COUNT" in parts and "UNTIL" in parts:
        raise _invalid(rule, field, "give COUNT or UNTIL, not both")
    _check_number(rule, field, parts, "COUNT", MAX_COUNT)
    _check_number(rule, field, parts, "INTERVAL", MAX_INTERVAL)
    if "UNTIL" in parts:
        _check_until(rule, field, parts["UNTIL"], today)
    return parts


def _check_number(rule: str, field: str, parts: dict[str, str], name: str, most: int) -> None:
    value = parts.get(name)
    if value is not None and not (value.isascii() and value.isdigit() and 1 <= int(value) <= most):
        raise _invalid(rule, field, f"{name} must be a whole number from 1 to {most}")


def _check_until(rule: str, field: str, value: str, today: date) -> None:
    """UNTIL is a date (YYYYMMDD) or a date-time (YYYYMMDDTHHMMSS[Z]) within the horizon."""
    digits = value[:8]
    try:
        if not (digits.isascii() and digits.isdigit()):
            raise ValueError
        until = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise _invalid(rule, field, f"UNTIL {shown(value)} is not a date (YYYYMMDD)") from None
    first, last = clock.window_around(today)
    if not first <= until <= last:
        raise _invalid(rule, field, f"UNTIL {until} is more than {clock.HORIZON_YEARS} years from today")


def expand(rule: str, dtstart: datetime, today: date, *, limit: int, field: str = "--repeat") -> list[datetime]:
    """The starts of `rule` from `dtstart` (naive, local wall-clock time), checked first.

    InvalidInput naming `field` when the rule is not valid, makes more than
    `limit` occurrences, or reaches past the horizon's last day.
    """
    parts = check_rule(rule, today, field)
    from dateutil.rrule import rrulestr  # ~8 ms to import: only a series pays for it

    last = datetime.combine(clock.window_around(today)[1], time.max)
    wanted = int(parts["COUNT"]) if "COUNT" in parts else None
    bounded = {**parts, "UNTIL": parts.get("UNTIL") or f"{last:%Y%m%dT%H%M%S}"}
    bounded.pop("COUNT", None)  # counted here instead, so dateutil never runs past `last`
    try:
        rule_set = rrulestr(";".join(f"{k}={v}" for k, v in bounded.items()), dtstart=dtstart)
        starts = list(islice(rule_set, min(wanted or limit + 1, limit + 1)))
    except (ValueError, TypeError, KeyError, OverflowError) as e:
        raise _invalid(rule, field, str(e)) from None
    if len(starts) > limit:
        raise InvalidInput(f"{field} makes more than {limit} occurrences")
    if not starts:
        raise _invalid(rule, field, "it makes no occurrence")
    if wanted is not None and len(starts) < wanted:
        raise InvalidInput(f"{field}: {shown(rule)} does not make its {wanted} occurrences within "
                           f"{clock.HORIZON_YEARS} years")
    return starts


def _invalid(rule: str, field: str, why: str) -> InvalidInput:
    return InvalidInput(f"{field} {shown(rule)} is not a valid RRULE: {why}")
