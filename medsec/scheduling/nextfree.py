"""The first free slot that fits: `appt book PATIENT --at next` and `appt reschedule ID --at next`.

A slot fits when the provider works then (hours, time off, closures), neither they nor the
patient have another visit or a staff meeting, and a room the type needs is free: the rules of
every booking (medsec.scheduling.schedule.find_slots). The search starts at --after (default:
now) and goes on for --within (default: DEFAULT_WITHIN); with --any (or no --provider) every
active staff member who performs the type is a candidate, earliest first.

Without a person to ask, the first slot is booked; if another desk took it since it was found,
the next one (up to TRIES). A person at a terminal is offered the first OFFERED to pick from
(`choose`); the booking then re-checks the slot like any other.
"""

import re
from collections.abc import Callable, Collection
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from medsec import clock
from medsec.errors import InvalidInput, Refused
from medsec.records.patients import get_patient
from medsec.scheduling import appointments as svc
from medsec.scheduling.availability import overlaps
from medsec.scheduling.schedule import Schedule, find_slots
from medsec.text import shown

DEFAULT_WITHIN = "12w"
LONGEST_SEARCH_DAYS = 366  # as `appt slots --days`: a search of a year at most
OFFERED = 5
TRIES = 3
_DURATION = re.compile(r"([0-9]{1,4})\s*(d|days?|w|wks?|weeks?|m|mos?|months?|y|yrs?|years?)?")


class Offer(NamedTuple):
    """A free slot, as offered to the person booking."""

    start: datetime
    end: datetime
    provider: str
    provider_name: str
    room: str

    @property
    def label(self) -> str:
        where = f", room {self.room}" if self.room else ""
        return f"{self.start:%a %Y-%m-%d %H:%M}-{self.end:%H:%M} with {self.provider} {self.provider_name}{where}"


# A person at a terminal picking one of the offers (question, offers) -> the one picked, or None.
Chooser = Callable[[str, list[Offer]], Offer | None]


# -- what people type -----------------------------------------------------------------------
def parse_duration(text: str, field: str = "--within") -> tuple[int, str]:
    """How long, as people type it: 10d, 2w, 3m (months), 1y, '2 weeks'; a bare number is days.
    (count, unit): unit is d, w, m or y. InvalidInput naming `field` otherwise."""
    match = _DURATION.fullmatch(str(text).strip().lower())
    if not match or int(match.group(1)) == 0:
        raise InvalidInput(f"cannot read {field} {shown(text)}", hint="e.g. 10d, 2w, 3m (months) or 1y")
    return int(match.group(1)), (match.group(2) or "d")[0]


def after_duration(start: datetime, count: int, unit: str) -> datetime:
    """`start` moved on by `count` days, weeks, months or years (a month keeps the day of the
    month where it can: Jan 31 + 1m is Feb 28)."""
    if unit in ("d", "w"):
        return start + timedelta(days=count * (7 if unit == "w" else 1))
    import calendar  # only a search by months pays for it

    months = count * (12 if unit == "y" else 1)
    year, month = divmod(start.month - 1 + months, 12)
    year += start.year
    if year > date.max.year:
        return datetime.max.replace(tzinfo=start.tzinfo)
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return start.replace(year=year, month=month + 1, day=day)


def read_after(text: str, tz) -> datetime:
    """--after: a day and time ('tue 13:00'), or a day ('tue', '2026-12-01': from its start)."""
    try:
        return clock.parse_datetime(text, tz, "--after")
    except InvalidInput as moment_error:
        try:
            day = clock.parse_date(text, tz, "--after", horizon=True)
        except InvalidInput as day_error:
            raise (moment_error if ":" in text else day_error) from None
    return datetime.combine(day, time(0), tz)


def search_window(schedule: Schedule, after: str | None, within: str | None) -> tuple[datetime, datetime]:
    """(first moment, end) of the search: from --after (not before now), for --within."""
    start = max(read_after(after, schedule.tz), schedule.now) if after else schedule.now
    end = after_duration(start, *parse_duration(within or DEFAULT_WITHIN))
    if (end.date() - start.date()).days > LONGEST_SEARCH_DAYS:
        raise InvalidInput(f"--within {shown(within)} searches more than a year", hint="search a year at most")
    return start, end


# -- the search -----------------------------------------------------------------------------
def next_offers(app, *, patient_id: str, type_name: str, provider: str | None, after: str | None,
                within: str | None, count: int, duration: int | None = None,
                exclude: Collection[str] = frozenset(),
                not_during: tuple[datetime, datetime] | None = None) -> tuple[list[Offer], tuple[datetime, datetime]]:
    """The first `count` free slots for the patient (their other visits, but those `exclude`
    names, kept clear), with `provider` or any who performs the type, none overlapping
    `not_during` (the time a visit being moved has now); and the window searched."""
    schedule = Schedule.load(app)
    start, end = search_window(schedule, after, within)
    if provider:
        providers = [schedule.check_performer(provider, type_name)["id"]]
    else:
        providers = [m["id"] for m in schedule.performers(type_name)]
    view = app.store.snapshot()
    found = find_slots(view, schedule, providers=providers, type_name=type_name, start_day=start.date(),
                       days=(end.date() - start.date()).days + 1, patient=patient_id, duration=duration,
                       not_before=start, limit=count * 4 + (len(providers) * 8 if not_during else 0), exclude=exclude)
    offers: list[Offer] = []
    for slot in found:
        span = (slot.start, slot.end)
        if slot.start >= end or (not_during and overlaps(span, not_during)):
            continue
        if any(o.provider == slot.provider and overlaps(span, (o.start, o.end)) for o in offers):
            continue  # 10:40 and 10:45 with the same provider are one choice: the earlier is offered
        offers.append(Offer(slot.start, slot.end, slot.provider, str(schedule.staff[slot.provider].get("name", "")),
                            slot.room))
    return offers[:count], (start, end)


def _none_free(type_name: str, provider: str | None, window: tuple[datetime, datetime]) -> Refused:
    start, end = window
    who = f"with {provider}" if provider else "with any provider"
    return Refused(f"no free {type_name} slot {who} from {start:%a %Y-%m-%d %H:%M} to {end:%a %Y-%m-%d}",
                   hint="look further with --within (e.g. 6m)" + ("" if not provider else ", or use --any"))


def _take(offers: list[Offer], choose: Chooser | None, question: str, attempt: Callable[[Offer], list[dict]]):
    """Book one of `offers`: the one a person picks, or the first that is still free."""
    if choose is not None:
        picked = choose(question, offers)
        if picked is None:
            raise Refused("no slot was picked; nothing changed")
        return attempt(picked)
    refusal = None
    for offer in offers[:TRIES]:
        try:
            return attempt(offer)
        except Refused as e:  # taken since it was found (another desk): the next one
            refusal = e
    assert refusal is not None
    raise refusal


def book_next(app, patient_id: str, *, type_name: str, provider: str | None = None, after: str | None = None,
              within: str | None = None, duration: int | None = None, note: str = "",
              choose: Chooser | None = None) -> list[dict]:
    """Book the patient's first free slot of `type_name` (or the one a person picks)."""
    patient = get_patient(app, patient_id)
    if patient["status"] != "active":
        raise Refused(f"{patient['id']} is {patient['status']}", hint="restore the patient first")
    offers, window = next_offers(app, patient_id=patient["id"], type_name=type_name, provider=provider,
                                 after=after, within=within, count=OFFERED if choose else TRIES, duration=duration)
    if not offers:
        raise _none_free(type_name, provider, window)
    return _take(offers, choose, f"Free {type_name} slots for {patient['id']}",
                 lambda offer: svc.book(app, patient["id"], provider=offer.provider, at=clock.iso(offer.start),
                                        type_name=type_name, duration=duration, note=note))


def reschedule_next(app, appt_id: str, *, provider: str | None = None, any_provider: bool = False,
                    after: str | None = None, within: str | None = None, reason: str = "",
                    choose: Chooser | None = None) -> list[dict]:
    """Move an appointment to its first free slot at another time (earlier or later): with its
    provider, `provider`, or any who performs its type (`any_provider`), as long as it was."""
    appt = svc.get_appointment(app, appt_id)
    if appt["status"] not in ("booked", "confirmed"):
        raise Refused(f"{appt['id']} is {appt['status']}; only booked or confirmed visits can move")
    now_at = (datetime.fromisoformat(appt["start"]), datetime.fromisoformat(appt["end"]))
    minutes = int((now_at[1] - now_at[0]).total_seconds() // 60)
    wanted = provider or (None if any_provider else appt["provider"])
    offers, window = next_offers(app, patient_id=appt.get("patient_id") or "", type_name=appt["type"],
                                 provider=wanted, after=after, within=within, count=OFFERED if choose else TRIES,
                                 duration=minutes, exclude={appt["id"]}, not_during=now_at)
    if not offers:
        raise _none_free(appt["type"], wanted, window)
    return _take(offers, choose, f"Free {appt['type']} slots for {appt['id']}",
                 lambda offer: svc.reschedule(app, appt["id"], clock.iso(offer.start), reason,
                                              provider=offer.provider if offer.provider != appt["provider"] else None))
