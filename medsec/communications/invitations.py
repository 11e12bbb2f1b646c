"""Meeting invitations as iTIP (RFC 5546) calendars sent by email.

A request is METHOD:REQUEST, SEQUENCE 0; a cancellation is METHOD:CANCEL
with the same UID and the next SEQUENCE, so calendar clients replace the
event they already hold. Every send is recorded per attendee in the
meeting's `notices`, failures included.
"""

from datetime import UTC, datetime

from medsec import __version__, clock
from medsec.communications import messaging
from medsec.errors import InvalidInput
from medsec.plugin_types import DeliveryError, Message
from medsec.scheduling.calendar_ics import add_timezones
from medsec.store.catalog import MEETINGS

TEMPLATES = {"REQUEST": "meeting-invitation", "CANCEL": "meeting-cancellation"}


def email_route(app) -> messaging.Route:
    """The channel carrying email; InvalidInput (nothing written) when none is set up."""
    return messaging.route(app, "email")


def organizer(app, schedule, route: messaging.Route) -> dict:
    """The acting user when they are staff with an email address, else the practice's sending address."""
    from email.utils import parseaddr

    user = app.user.lower()
    for member in schedule.staff.values():
        keys = {str(member.get(k, "")).lower() for k in ("id", "login", "email")}
        if user in keys and member.get("email"):
            return {"name": member.get("name", member["id"]), "email": member["email"]}
    name, address = parseaddr(str(route.settings.get("from") or ""))
    if not address:
        raise InvalidInput("no organizer address for the invitations",
                           hint="give the acting user (--user) a staff email, or set 'from' for the email channel")
    return {"name": schedule.practice.get("name") or name or address, "email": address}


def calendar(meeting: dict, schedule, method: str) -> bytes:
    """A one-event iTIP calendar for the meeting, with the VTIMEZONE its times use."""
    from icalendar import Calendar, Event, vCalAddress
    cal = Calendar()
    cal.add("prodid", f"-//medsec//medsec {__version__}//EN")
    cal.add("version", "2.0")
    cal.add("method", method)
    event = Event()
    event.add("uid", meeting["uid"])
    event.add("sequence", meeting["sequence"])
    event.add("dtstamp", clock.now().astimezone(UTC).replace(microsecond=0))
    event.add("dtstart", datetime.fromisoformat(meeting["start"]).astimezone(schedule.tz))
    event.add("dtend", datetime.fromisoformat(meeting["end"]).astimezone(schedule.tz))
    event.add("summary", meeting["title"])
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    if meeting["room"]:
        rooms = {str(r["id"]): r.get("name") or r["id"] for r in schedule.practice.get("rooms") or []}
        event.add("location", rooms.get(meeting["room"], meeting["room"]))
    boss = vCalAddress(f"mailto:{meeting['organizer']['email']}")
    boss.params["cn"] = meeting["organizer"]["name"]
    event.add("organizer", boss)
    for staff_id in meeting["attendees"]:
        member = schedule.staff.get(staff_id, {})
        if not member.get("email"):
            continue
        who = vCalAddress(f"mailto:{member['email']}")
        who.params.update({"cn": member.get("name", staff_id), "cutype": "INDIVIDUAL", "role": "REQ-PARTICIPANT",
                           "partstat": "NEEDS-ACTION", "rsvp": "TRUE"})
        event.add("attendee", who)
    cal.add_component(event)
    add_timezones(cal)
    return cal.to_ical()


def _context(app, meeting: dict, schedule) -> dict:
    start = datetime.fromisoformat(meeting["start"]).astimezone(schedule.tz)
    end = datetime.fromisoformat(meeting["end"]).astimezone(schedule.tz)
    names = [schedule.staff.get(s, {}).get("name", s) for s in meeting["attendees"]]
    return {"practice": messaging.practice_context(app),
            "meeting": {"id": meeting["id"], "title": meeting["title"], "room": meeting["room"],
                        "date_long": f"{start:%A}, {start:%B} {start.day}, {start.year}",
                        "time": f"{start:%H:%M}-{end:%H:%M}", "attendees": ", ".join(names),
                        "organizer": meeting["organizer"]["name"]}}


def send(app, schedule, route: messaging.Route, meeting: dict, staff_ids: list[str]) -> list[dict]:
    """Send the meeting's current state to each attendee; one notice per attendee, failures kept."""
    method = "CANCEL" if meeting["status"] == "cancelled" else "REQUEST"
    ics = calendar(meeting, schedule, method)
    rendered = messaging.render(app, TEMPLATES[method], _context(app, meeting, schedule))
    notices = []
    for staff_id in staff_ids:
        to = schedule.staff.get(staff_id, {}).get("email") or ""
        notice = {"staff_id": staff_id, "to": to, "method": method, "sequence": meeting["sequence"],
                  "at": clock.iso(app.now()), "status": "sent", "delivery_id": "", "reason": ""}
        if not to:
            notice.update(status="skipped", reason=f"{staff_id} has no email address")
        else:
            message = Message(kind="email", to=to, subject=rendered.subject, body=rendered.text,
                              attachments=[("invite.ics" if method == "REQUEST" else "cancel.ics",
                                            "text/calendar", ics)],
                              meta={"ics_method": method, "meeting_id": meeting["id"]})
            try:
                notice["delivery_id"] = messaging.deliver(app, route, message)
            except DeliveryError as e:
                notice.update(status="failed", reason=str(e))
        notices.append(notice)
    return notices


def send_and_record(app, schedule, route: messaging.Route, meeting: dict,
                    staff_ids: list[str] | None = None) -> dict:
    """Send, then add the notices to the stored meeting; returns it with `failed` (the channel
    failed) and `skipped` (no address to send to)."""
    notices = send(app, schedule, route, meeting, meeting["attendees"] if staff_ids is None else staff_ids)
    with app.store.transaction() as txn:
        old = txn.get(MEETINGS, meeting["id"])
        record = {**old, "notices": old["notices"] + notices}
        txn.put(MEETINGS, record, old)
    return {**record, "failed": [n for n in notices if n["status"] == "failed"],
            "skipped": [n for n in notices if n["status"] == "skipped"]}
