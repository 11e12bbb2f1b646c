"""Staff meetings: booked only when every attendee and the room are free, else the next time that suits all.

An attendee is free when working (weekly hours, no time off, no closure)
and not booked: no visit where they are the provider (its type's buffer
included) and no other meeting. Invitations go out after the meeting is
recorded (`meeting_invites`); one that fails is recorded as failed and can
be sent again with `invite`.

When everyone agrees to meet in a break between their hours (the lunch
hour), `force` with a reason books it anyway: the meeting records who forced
it, when and why, and the audit entry says so. Only a break is forced: a
closure, time off, a day without hours, a visit or meeting already booked
and a room taken still refuse, and a booked patient is never overridden.
"""

import functools
from datetime import date, datetime, timedelta

from medsec import clock
from medsec.communications import fields
from medsec.communications import invitations as meeting_invites
from medsec.errors import InvalidInput, Refused
from medsec.scheduling import availability as av
from medsec.scheduling.schedule import Schedule, day_records, meeting_spans, taken
from medsec.store.catalog import MEETINGS
from medsec.text import shown

SEARCH_DAYS = 14
COLUMNS = ["id", "start", "end", "title", "attendees", "room", "status", "sequence"]
STATUSES = ["scheduled", "cancelled"]


# -- who is busy when ------------------------------------------------------------
def busy(view, schedule: Schedule, day: date, *, staff_id: str = "", room: str = "") -> list[tuple[av.Span, str]]:
    """(span, record id) of the visits and meetings that hold a staff member or a room on `day`."""
    visits = day_records(view, day, None, provider=staff_id or None, room=room or None)
    out = [(span, appt["id"]) for span, appt in taken(visits, schedule, provider=staff_id or None,
                                                      room=room or None)]
    return out + meeting_spans(view, schedule, day, staff_id, room)


def problems(view, schedule: Schedule, attendees: list[str], room: str, start: datetime, end: datetime) -> list[str]:
    """Why [start, end) does not suit everyone (empty when it does)."""
    return [text for text, _ in _problems(view, schedule, attendees, room, start, end)]


def _in_a_break(working: list[av.Span], start: datetime, end: datetime) -> bool:
    """Whether [start, end) lies within a working day's first start and last end (its breaks
    included): the only time outside someone's hours that `force` may book."""
    return bool(working) and working[0][0] <= start and end <= working[-1][1]


def _problems(view, schedule: Schedule, attendees: list[str], room: str, start: datetime,
              end: datetime) -> list[tuple[str, bool]]:
    """(why, whether `force` may override it) for each reason [start, end) does not suit everyone."""
    day = start.date()
    closed = av.closed_days(schedule.practice).get(day.isoformat())
    if closed:
        return [(f"the practice is closed on {day} ({closed})", False)]
    out = []
    for staff_id in attendees:
        member = schedule.member(staff_id)
        off = av.is_off(member, day)
        working = schedule.working(staff_id, day)
        if off:
            out.append((f"{staff_id} is off on {day} ({off})", False))
        elif not av.fits((start, end), working):
            out.append((f"{start:%H:%M}-{end:%H:%M} is outside {staff_id}'s working hours on {day:%a %Y-%m-%d}",
                        _in_a_break(working, start, end)))
        for span, record_id in busy(view, schedule, day, staff_id=staff_id):
            if av.overlaps((start, end), span):
                out.append((f"{staff_id} is booked {span[0]:%H:%M}-{span[1]:%H:%M} ({record_id})", False))
    if room:
        for span, record_id in busy(view, schedule, day, room=room):
            if av.overlaps((start, end), span):
                out.append((f"room {room} is taken {span[0]:%H:%M}-{span[1]:%H:%M} ({record_id})", False))
    return out


def _intersect(a: list[av.Span], b: list[av.Span]) -> list[av.Span]:
    out = [(max(s1, s2), min(e1, e2)) for s1, e1 in a for s2, e2 in b]
    return sorted((s, e) for s, e in out if s < e)


def _free_together(view, schedule: Schedule, attendees: list[str], day: date) -> list[av.Span]:
    """When every one of `attendees` (at least one) is working and not booked on `day`."""
    free_of_each = [av.subtract(schedule.working(staff_id, day),
                                [span for span, _ in busy(view, schedule, day, staff_id=staff_id)])
                    for staff_id in attendees]
    return functools.reduce(_intersect, free_of_each)


def propose(view, schedule: Schedule, attendees: list[str], room: str, length: timedelta,
            not_before: datetime) -> datetime | None:
    """The first start on the slot grid, within SEARCH_DAYS, when everyone and the room are free."""
    for offset in range(SEARCH_DAYS):
        day = not_before.date() + timedelta(days=offset)
        free = _free_together(view, schedule, attendees, day)
        if room:
            free = av.subtract(free, [span for span, _ in busy(view, schedule, day, room=room)])
        for start in av.starts_in(free, length, schedule.step, not_before):
            return start
    return None


# -- input ----------------------------------------------------------------------
def _attendee_ids(schedule: Schedule, text: str) -> list[str]:
    wanted = list(dict.fromkeys(p.strip().upper() for p in text.split(",") if p.strip()))
    if not wanted:
        raise InvalidInput("--staff names nobody", hint="e.g. --staff S1,S2")
    for staff_id in wanted:
        if staff_id not in schedule.staff:
            raise InvalidInput(f"unknown attendee {staff_id}", hint="see 'medsec staff list'")
    return wanted


def _span(schedule: Schedule, at: str, duration: int | None, until: str | None) -> tuple[datetime, datetime]:
    start = clock.parse_datetime(at, schedule.tz, "--at")
    if until is not None and duration is None:
        end = clock.parse_datetime(until, schedule.tz, "--end")
        if end <= start:
            raise InvalidInput(f"--end {end:%Y-%m-%d %H:%M} is not after --at {start:%Y-%m-%d %H:%M}")
    elif duration is not None and until is None:
        if not 0 < duration <= 24 * 60:
            raise InvalidInput(f"--duration {shown(duration)} must be from 1 to 1440 minutes (a day)")
        end = start + timedelta(minutes=duration)
    else:
        raise InvalidInput("give --duration or --end (one of them)")
    if end.date() != start.date():
        raise InvalidInput("a meeting must end on the day it starts")
    if start < schedule.now:
        raise InvalidInput(f"{start:%Y-%m-%d %H:%M} is in the past")
    return start, end


# -- changes --------------------------------------------------------------------
def _force_reason(force: bool, reason: str) -> str:
    """Why a meeting is forced (`force` needs it; it means nothing without `force`)."""
    reason = fields.line(reason, "--reason")
    if force and not reason:
        raise InvalidInput("--force needs --reason: why everyone agreed to meet outside their hours",
                           hint='e.g. --reason "all agreed at the huddle"')
    if reason and not force:
        raise InvalidInput("--reason goes with --force (why a meeting is forced)")
    return reason


def schedule_meeting(app, *, title: str, at: str, attendees: str, duration: int | None = None,
                     until: str | None = None, room: str = "", force: bool = False, reason: str = "") -> dict:
    """Record a meeting when it suits everyone and send the invitations; else Refused with a proposal.

    `force` (with a `reason`) books it in a break between the attendees' hours (the lunch hour);
    whatever else does not suit someone still refuses it.
    """
    if not title.strip():
        raise InvalidInput("--title cannot be empty")
    reason = _force_reason(force, reason)
    schedule = Schedule.load(app)
    start, end = _span(schedule, at, duration, until)
    ids = _attendee_ids(schedule, attendees)
    room = (room or "").strip()
    if room and not schedule.room_exists(room):
        raise InvalidInput(f"unknown room {room!r}", hint="rooms are listed in practice.yaml")
    route = meeting_invites.email_route(app)
    organizer = meeting_invites.organizer(app, schedule, route)
    with app.store.transaction() as txn:
        found = _problems(txn, schedule, ids, room, start, end)
        overridden = [text for text, may in found if may] if force else []
        left = [text for text, may in found if text not in overridden]
        if left:
            proposal = propose(txn, schedule, ids, room, end - start, start)
            hint = f"all are free at {proposal:%a %Y-%m-%d %H:%M}" if proposal else \
                f"no time in the next {SEARCH_DAYS} days suits everyone"
            if not force and len(left) == sum(may for _, may in found):
                hint += "; if all agree to meet in their break, add --force --reason TEXT"
            raise Refused(f"cannot schedule: {left[0]}", hint=hint, details=left[1:])
        (meeting_id,) = txn.reserve_ids(MEETINGS)
        instance = app.config("medsec.yaml").get("instance", "local")
        stamp = clock.iso(app.now())
        record = {"id": meeting_id, "title": title.strip(), "start": clock.iso(start), "end": clock.iso(end),
                  "attendees": ids, "room": room, "status": "scheduled", "uid": f"{meeting_id}-{instance}@medsec",
                  "sequence": 0, "organizer": organizer, "created": stamp, "by": app.user, "notices": []}
        if overridden:
            record["forced"] = {"by": app.user, "at": stamp, "reason": reason, "over": overridden}
        txn.put(MEETINGS, record)
    if overridden:
        app.audit("meeting", [meeting_id], outcome=f"ok: forced outside working hours: {reason}")
    else:
        app.audit("meeting", [meeting_id])
    return meeting_invites.send_and_record(app, schedule, route, record)


def get_meeting(app, meeting_id: str, view=None) -> dict:
    """One meeting; NotFound (exit 1) when there is none."""
    return (view or app.store.snapshot()).require(MEETINGS, meeting_id, "meeting", "see 'medsec meeting list'")


def cancel(app, meeting_id: str) -> dict:
    """Cancel and tell every attendee (METHOD:CANCEL, same UID, next SEQUENCE)."""
    schedule = Schedule.load(app)
    route = meeting_invites.email_route(app)
    with app.store.transaction() as txn:
        old = get_meeting(app, meeting_id, txn)
        if old["status"] == "cancelled":
            raise Refused(f"{old['id']} is already cancelled")
        record = {**old, "status": "cancelled", "sequence": old["sequence"] + 1,
                  "cancelled": clock.iso(app.now()), "cancelled_by": app.user}
        txn.put(MEETINGS, record, old)
    app.audit("meeting", [record["id"]])
    return meeting_invites.send_and_record(app, schedule, route, record)


def invite_again(app, meeting_id: str) -> dict:
    """Send the current invitation (or cancellation) to attendees who have not received it."""
    schedule = Schedule.load(app)
    route = meeting_invites.email_route(app)
    record = get_meeting(app, meeting_id)
    done = {n["staff_id"] for n in record["notices"] if n["sequence"] == record["sequence"] and n["status"] == "sent"}
    app.audit("meeting", [record["id"]])
    return meeting_invites.send_and_record(app, schedule, route, record,
                                           [s for s in record["attendees"] if s not in done])


def list_meetings(app, *, start: date, end: date | None = None, status: str = "scheduled",
                  attendee: str | None = None, limit: int | None = None) -> list[dict]:
    """Meetings from `start` (to `end`), earliest first; status 'all' includes cancelled ones."""
    if end and end < start:
        raise InvalidInput(f"--to {end} is before --from {start}")
    who = attendee.strip().upper() if attendee else None
    view = app.store.snapshot()
    out = [m for m in view.days(MEETINGS, start.isoformat(), end.isoformat() if end else None)
           if (status == "all" or m["status"] == status) and (not who or who in m["attendees"])]
    out.sort(key=lambda m: (m["start"], MEETINGS.number(m["id"])))
    out = out[:limit] if limit else out
    app.audit("list", [m["id"] for m in out])
    return out
