"""Bookable time: working hours minus time off, closures and bookings.

Pure functions over plain data (no storage), so every rule can be tested
against a hand-computed schedule. Times are aware datetimes in the
practice's zone, built from wall-clock times day by day, so a weekly 09:00
stays 09:00 across a daylight-saving change.
"""

from datetime import date, datetime, time, timedelta, tzinfo
from typing import NamedTuple

Span = tuple[datetime, datetime]
DAY_KEYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Slot(NamedTuple):
    start: datetime
    end: datetime
    provider: str
    room: str = ""


def _clock(text: str) -> time:
    hours, minutes = str(text).split(":")
    return time(int(hours), int(minutes))


def blocks_of(hours: dict, day: date, tz: tzinfo) -> list[Span]:
    """A weekly-hours mapping's blocks on `day`: {'mon': [['08:00','12:00'], ...]}."""
    out = []
    for block in hours.get(DAY_KEYS[day.weekday()]) or []:
        start, end = block if isinstance(block, (list, tuple)) else str(block).split("-")
        out.append((datetime.combine(day, _clock(start), tz), datetime.combine(day, _clock(end), tz)))
    return sorted(out)


def closed_days(practice: dict) -> dict[str, str]:
    """Practice closures: ISO date -> reason."""
    out = {}
    for closure in practice.get("closures") or []:
        if isinstance(closure, dict):
            out[str(closure.get("date"))] = closure.get("reason") or "closed"
        else:
            out[str(closure)] = "closed"
    return out


def is_off(member: dict, day: date) -> str | None:
    """The reason `member` is off on `day` (time off spans include both ends)."""
    iso = day.isoformat()
    for span in member.get("time_off") or []:
        if str(span["from"])[:10] <= iso <= str(span["to"])[:10]:
            return span.get("reason") or "time off"
    return None


def working_spans(member: dict, practice: dict, day: date, tz: tzinfo) -> list[Span]:
    """When `member` works on `day`: none on closures, time off or inactive."""
    if member.get("active") is False or day.isoformat() in closed_days(practice) or is_off(member, day):
        return []
    return blocks_of(member.get("hours") or {}, day, tz)


def subtract(spans: list[Span], busy: list[Span]) -> list[Span]:
    """`spans` minus every busy span."""
    out = []
    for start, end in spans:
        pieces = [(start, end)]
        for b_start, b_end in busy:
            next_pieces = []
            for p_start, p_end in pieces:
                if b_end <= p_start or b_start >= p_end:
                    next_pieces.append((p_start, p_end))
                    continue
                if p_start < b_start:
                    next_pieces.append((p_start, b_start))
                if b_end < p_end:
                    next_pieces.append((b_end, p_end))
            pieces = next_pieces
        out += pieces
    return sorted(out)


def overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def fits(span: Span, free: list[Span]) -> bool:
    return any(f_start <= span[0] and span[1] <= f_end for f_start, f_end in free)


def starts_in(free: list[Span], length: timedelta, step: timedelta, not_before: datetime | None):
    """Starts where `length` fits: each free span's own start (so visits can run
    back to back), then the clock grid (every `step` from midnight) inside it."""
    for f_start, f_end in free:
        first = max(f_start, not_before) if not_before else f_start
        candidates = [first] if first == f_start else []
        midnight = datetime.combine(f_start.date(), time(0), f_start.tzinfo)
        offset = first - midnight
        moment = midnight + (-(-offset // step)) * step  # the grid point at or after `first`
        while moment + length <= f_end:
            if moment != f_start:
                candidates.append(moment)
            moment += step
        for candidate in candidates:
            if candidate + length <= f_end:
                yield candidate
