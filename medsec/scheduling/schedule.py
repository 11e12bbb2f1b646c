"""The schedule's rules: who may do what, when, in which room, and free slots."""

from collections.abc import Collection
from datetime import date, datetime, timedelta, tzinfo
from typing import NamedTuple

from medsec import clock
from medsec.errors import InvalidInput, NotFound
from medsec.scheduling import availability as av
from medsec.store.catalog import APPOINTMENTS, MEETINGS
from medsec.vocabulary import ROLES

# Statuses whose time is no longer taken.
FREE_STATUSES = {"cancelled"}
DEFAULT_PERFORMERS = ["physician"]
HOLD = "hold"
PLANNED = "planned"  # the day cache's list of records planned but not stored yet


class Schedule(NamedTuple):
    """Everything a booking decision reads, loaded once per command."""

    tz: tzinfo
    now: datetime
    practice: dict
    staff: dict[str, dict]
    types: dict[str, dict]

    @classmethod
    def load(cls, app) -> "Schedule":
        types = dict(app.config("appointment-types.yaml").get("types") or {})
        # Time held by an event imported from another calendar (no patient).
        types.setdefault(HOLD, {"duration": 30, "performers": ROLES, "description": "time held"})
        return cls(
            tz=app.tz, now=app.now(), practice=app.config("practice.yaml"),
            staff={str(m["id"]).upper(): m for m in app.config("staff.yaml").get("staff") or []},
            types=types,
        )

    @property
    def step(self) -> timedelta:
        return timedelta(minutes=(self.practice.get("scheduling") or {}).get("slot_minutes", 15))

    def type(self, name: str) -> dict:
        if name not in self.types:
            raise InvalidInput(f"unknown appointment type {name!r}",
                               hint=f"types: {', '.join(sorted(self.types)) or 'none in appointment-types.yaml'}")
        return self.types[name]

    def member(self, staff_id: str) -> dict:
        key = str(staff_id).strip().upper()
        if key not in self.staff:
            raise NotFound(f"no staff member {key}", hint="see 'medsec staff list'")
        return self.staff[key]

    def performers(self, type_name: str) -> list[dict]:
        """Active staff who may perform this type (by role or by id)."""
        allowed = {str(w).upper() for w in self.type(type_name).get("performers") or DEFAULT_PERFORMERS}
        return [m for sid, m in self.staff.items()
                if m.get("active", True) and (sid in allowed or str(m.get("role", "")).upper() in allowed)]

    def check_performer(self, staff_id: str, type_name: str) -> dict:
        member = self.member(staff_id)
        if member not in self.performers(type_name):
            raise InvalidInput(f"{member['id']} ({member.get('role')}) does not perform {type_name} appointments")
        return member

    def rooms_for(self, type_name: str) -> list[str]:
        """Rooms that can host this type; [] when it needs none."""
        spec = self.type(type_name)
        rooms = self.practice.get("rooms") or []
        if spec.get("rooms"):
            known = {str(r["id"]) for r in rooms}
            return [str(r) for r in spec["rooms"] if str(r) in known]
        if spec.get("room_kind"):
            return [str(r["id"]) for r in rooms if r.get("kind") == spec["room_kind"]]
        return []

    def room_exists(self, room: str) -> bool:
        return any(str(r["id"]) == room for r in self.practice.get("rooms") or [])

    def length(self, type_name: str, duration: int | None = None) -> tuple[timedelta, timedelta]:
        """(duration, buffer kept free after it)."""
        spec = self.type(type_name)
        return timedelta(minutes=duration or spec["duration"]), timedelta(minutes=spec.get("buffer", 0))

    def buffer_of(self, appt: dict) -> timedelta:
        """The time kept free after an appointment: its type's buffer (none for a type no longer offered)."""
        return timedelta(minutes=(self.types.get(appt["type"]) or {}).get("buffer", 0))

    def working(self, staff_id: str, day: date) -> list[av.Span]:
        return av.working_spans(self.member(staff_id), self.practice, day, self.tz)


def span_of(appt: dict, schedule: Schedule) -> av.Span:
    """The time an appointment takes, its type's buffer included."""
    start = clock.stored_moment(appt["start"], schedule.tz)
    end = clock.stored_moment(appt["end"], schedule.tz)
    return start, clock.later(end, schedule.buffer_of(appt))


def taken(day_records: list[dict], schedule: Schedule, *, provider=None, patient=None, room=None,
          exclude: Collection[str] = frozenset()) -> list[tuple[av.Span, dict]]:
    """Busy spans on a day for a provider, a patient or a room."""
    out = []
    for appt in day_records:
        if appt["status"] in FREE_STATUSES or appt["id"] in exclude:
            continue
        if (provider and appt.get("provider") == provider) or (patient and appt.get("patient_id") == patient) \
                or (room and appt.get("room") == room):
            out.append((span_of(appt, schedule), appt))
    return out


def meeting_spans(view, schedule: Schedule, day: date, staff_id: str = "",
                  room: str = "") -> list[tuple[av.Span, str]]:
    """(span, meeting id) of the staff meetings on `day` that hold `staff_id`
    or `room`: no visits for that person, or in that room, then."""
    return [((clock.stored_moment(m["start"], schedule.tz), clock.stored_moment(m["end"], schedule.tz)), m["id"])
            for m in view.day(MEETINGS, day.isoformat()) if m["status"] != "cancelled"
            and ((staff_id and staff_id in m["attendees"]) or (room and m.get("room") == room))]


def conflicts(view, schedule: Schedule, *, provider: str, patient: str | None, type_name: str,
              start: datetime, end: datetime, room: str = "", exclude: Collection[str] = frozenset(),
              day_cache: dict | None = None, check_hours: bool = True) -> list[str]:
    """Why [start, end) cannot be booked (empty when it can).

    `check_hours=False` (calendar imports) checks only double bookings.
    """
    day = start.date()
    member = schedule.member(provider)
    records = day_records(view, day, day_cache, provider=member["id"], patient=patient, room=room or None)
    _, buffer = schedule.length(type_name)
    wanted = (start, end + buffer)  # the provider and the room stay busy through the buffer
    problems = _outside_hours(schedule, member, start, end) if check_hours else []
    problems += _provider_busy(view, schedule, records, member["id"], wanted, exclude)
    if patient:
        problems += _patient_busy(records, schedule, patient, (start, end), exclude)
    if room:
        problems += _room_busy(view, schedule, records, room, wanted, exclude)
    return problems


def _outside_hours(schedule: Schedule, member: dict, start: datetime, end: datetime) -> list[str]:
    """Why [start, end) is not working time for `member`: a closure, time off, or outside their hours."""
    day = start.date()
    closures = av.closed_days(schedule.practice)
    if day.isoformat() in closures:
        return [f"the practice is closed on {day} ({closures[day.isoformat()]})"]
    off = av.is_off(member, day)
    if off:
        return [f"{member['id']} is off on {day} ({off})"]
    if not av.fits((start, end), schedule.working(member["id"], day)):
        return [f"{start:%H:%M}-{end:%H:%M} is outside {member['id']}'s working hours on {day:%a %Y-%m-%d}"]
    return []


def _provider_busy(view, schedule: Schedule, records: list[dict], staff_id: str, wanted: av.Span,
                   exclude: Collection[str]) -> list[str]:
    """The visits and staff meetings that hold `staff_id` during `wanted`."""
    out = [f"{staff_id} is booked {span[0]:%H:%M}-{span[1]:%H:%M} ({other['id']})"
           for span, other in taken(records, schedule, provider=staff_id, exclude=exclude)
           if av.overlaps(wanted, span)]
    out += [f"{staff_id} is in a staff meeting {span[0]:%H:%M}-{span[1]:%H:%M} ({meeting_id})"
            for span, meeting_id in meeting_spans(view, schedule, wanted[0].date(), staff_id)
            if av.overlaps(wanted, span)]
    return out


def _patient_busy(records: list[dict], schedule: Schedule, patient: str, visit: av.Span,
                  exclude: Collection[str]) -> list[str]:
    """The patient's other visits during `visit` (its buffer aside: that is the provider's time)."""
    return [f"{patient} already has {other['id']} at {span[0]:%H:%M}"
            for span, other in taken(records, schedule, patient=patient, exclude=exclude)
            if av.overlaps(visit, span)]


def _room_busy(view, schedule: Schedule, records: list[dict], room: str, wanted: av.Span,
               exclude: Collection[str]) -> list[str]:
    """The visits and staff meetings that hold `room` during `wanted`."""
    out = [f"room {room} is taken {span[0]:%H:%M}-{span[1]:%H:%M} ({other['id']})"
           for span, other in taken(records, schedule, room=room, exclude=exclude)
           if av.overlaps(wanted, span)]
    out += [f"room {room} has a staff meeting {span[0]:%H:%M}-{span[1]:%H:%M} ({meeting_id})"
            for span, meeting_id in meeting_spans(view, schedule, wanted[0].date(), room=room)
            if av.overlaps(wanted, span)]
    return out


def day_records(view, day: date, cache: dict | None, *, provider: str | None = None,
                 patient: str | None = None, room: str | None = None) -> list[dict]:
    """The day's appointments that may hold the provider, the patient or the room.

    Each is read where it is cheap: the provider's own file of the day, the
    patient's appointments through the patient index, the room's through
    the room index. `taken` picks the ones that matter from the result.
    """
    key = (day, provider, patient, room)
    iso = day.isoformat()
    if cache is None or key not in cache:
        found: dict[str, dict] = {}
        if provider:
            found.update((a["id"], a) for a in view.day(APPOINTMENTS, iso, provider))
        wanted = []
        if patient:
            wanted += view.lookup("appt-patient", patient)
        if room:
            wanted += view.lookup("appt-room", f"{iso} {room}")
        for appt in view.get_many(APPOINTMENTS, [i for i in wanted if i not in found]):
            if appt["start"][:10] == iso:  # index hits are verified against the record
                found[appt["id"]] = appt
        if cache is None:
            return list(found.values())
        cache[key] = list(found.values())
    return cache[key] + [r for r in cache.get(PLANNED, ()) if r["start"][:10] == iso]


def hold(cache: dict, record: dict) -> None:
    """Count `record`, planned by this command but not stored yet, as busy in
    the later checks that share `cache` (the rest of a series or an import)."""
    cache.setdefault(PLANNED, []).append({**record, "id": "new", "status": "booked"})


def room_free(view, schedule: Schedule, type_name: str, room: str, start: datetime, end: datetime,
              exclude: Collection[str] = frozenset(), day_cache: dict | None = None) -> bool:
    records = day_records(view, start.date(), day_cache, room=room)
    _, buffer = schedule.length(type_name)
    busy = [span for span, _ in taken(records, schedule, room=room, exclude=exclude)]
    busy += [span for span, _ in meeting_spans(view, schedule, start.date(), room=room)]
    return not any(av.overlaps((start, end + buffer), span) for span in busy)


def free_room(view, schedule: Schedule, type_name: str, start: datetime, end: datetime,
              exclude: Collection[str] = frozenset(), day_cache: dict | None = None) -> str | None:
    """The first of the type's rooms free for [start, end + buffer)."""
    for room in schedule.rooms_for(type_name):
        if room_free(view, schedule, type_name, room, start, end, exclude, day_cache):
            return room
    return None


def needs_room(schedule: Schedule, type_name: str) -> bool:
    spec = schedule.type(type_name)
    return bool(spec.get("rooms") or spec.get("room_kind"))


def find_slots(view, schedule: Schedule, *, providers: list[str], type_name: str, start_day: date,
               days: int, first: bool = False, patient: str | None = None, duration: int | None = None,
               not_before: datetime | None = None, limit: int | None = None,
               exclude: Collection[str] = frozenset()) -> list[av.Slot]:
    """Free slots for any of `providers`, day by day, earliest first (the visits `exclude`
    names, such as one being moved, do not count as busy)."""
    length, buffer = schedule.length(type_name, duration)
    with_room = needs_room(schedule, type_name)
    not_before = not_before or schedule.now
    out: list[av.Slot] = []
    cache: dict = {}
    for offset in range(days):
        day = start_day + timedelta(days=offset)
        found = []
        for provider in providers:
            records = day_records(view, day, cache, provider=provider, patient=patient)
            busy = [span for span, _ in taken(records, schedule, provider=provider, patient=patient, exclude=exclude)]
            busy += [span for span, _ in meeting_spans(view, schedule, day, provider)]
            free = av.subtract(schedule.working(provider, day), busy)
            for start in av.starts_in(free, length + buffer, schedule.step, not_before):
                room = free_room(view, schedule, type_name, start, start + length, exclude, cache) \
                    if with_room else ""
                if room is None:
                    continue
                found.append(av.Slot(start, start + length, provider, room))
        found.sort(key=lambda s: (s.start, s.provider))
        out += found
        if (first and out) or (limit and len(out) >= limit):
            break
    if first:
        return out[:1]
    return out[:limit] if limit else out

