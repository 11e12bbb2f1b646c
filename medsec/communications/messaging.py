"""Rendering messages for patients and handing them to channels."""

from dataclasses import dataclass
from datetime import datetime

from medsec import __version__, clock, templating
from medsec.errors import InvalidInput
from medsec.plugin_types import Channel, DeliveryError, Message
from medsec.scheduling.calendar_ics import add_timezones
from medsec.text import escape_controls, shown
from medsec.vocabulary import DEFAULT_ROUTES

# Which channel carries each kind of message unless channels.yaml `routes` says otherwise.
OUTSIDE_LIMIT = 500  # characters kept of a gateway's delivery id or error


@dataclass
class Route:
    name: str
    channel: Channel
    settings: dict


def channels(app) -> dict:
    from medsec.plugins import collect  # pluggy: loaded only by commands that send messages

    return collect(app.plugins, "register_channels")


def channel_settings(app) -> dict:
    return app.config("channels.yaml") or {}


def route(app, kind: str, forced: str | None = None) -> Route:
    """The channel that carries `kind`; InvalidInput when it is unknown or not set up."""
    known = channels(app)
    settings = channel_settings(app)
    name = forced or (settings.get("routes") or {}).get(kind) or DEFAULT_ROUTES.get(kind, "outbox")
    if name not in known:
        raise InvalidInput(f"unknown channel {shown(name)}", hint=f"channels: {', '.join(sorted(known))}")
    channel = known[name].item
    if kind not in channel.kinds:
        raise InvalidInput(f"channel {shown(name)} does not carry {kind} messages")
    if name != "outbox" and name not in settings:
        raise InvalidInput(f"channel {shown(name)} is not set up in channels.yaml")
    return Route(name, channel, settings.get(name) or {})


def installed_problems(app) -> list:
    """`config check`'s look at channels.yaml's routes against the channels installed: a route to a
    channel no plugin registers, or to one that does not carry that kind of message (file and line).
    Nothing when the file cannot be read or a plugin fails to load (that is for other checks)."""
    from medsec.config import parse_yaml
    from medsec.errors import MedsecError
    from medsec.vocabulary import ROUTE_KINDS
    from medsec.yamlfile import ConfigFileError, Problem, line_of

    try:
        text = app.store.document_text("channels.yaml")
        if text is None:
            return []
        data, node = parse_yaml("channels.yaml", text)
        known = channels(app)
    except (ConfigFileError, MedsecError):
        return []
    routes = data.get("routes") if isinstance(data, dict) else None
    found = []
    for kind, name in (routes or {}).items() if isinstance(routes, dict) else ():
        if kind not in ROUTE_KINDS or not isinstance(name, str):
            continue  # the file's own checks say so
        line = line_of(node, ("routes", kind))
        if name not in known:
            found.append(Problem("channels.yaml", line, f"routes.{kind}: channel {name!r} is not installed "
                                                        f"(installed: {', '.join(sorted(known))})"))
        elif kind not in known[name].item.kinds:
            found.append(Problem("channels.yaml", line, f"routes.{kind}: channel {name!r} does not carry "
                                                        f"{kind} messages"))
    return found + _voice_problems(app, data, routes, known)


def _voice_problems(app, data, routes, known: dict) -> list:
    """Patients who prefer voice calls while voice reminders go, by default (no routes.voice), to a
    voice channel that is not installed or not set up: their reminders would wait, pending. A
    warning; a routes.voice written and wrong is an error (the file's own checks, the loop above)."""
    from medsec.store.catalog import PATIENTS
    from medsec.yamlfile import Problem

    name = DEFAULT_ROUTES["voice"]
    if isinstance(routes, dict) and "voice" in routes:
        return []
    if name in known and isinstance(data, dict) and isinstance(data.get(name), dict):
        return []
    waiting = sorted((p["id"] for p in app.store.snapshot().scan(PATIENTS)
                      if p.get("preferred_channel") == "voice"), key=lambda pid: (len(pid), pid))
    if not waiting:
        return []
    why = "which is not installed" if name not in known else f"which has no {name}: section here"
    return [Problem("channels.yaml", None, f"{len(waiting)} patient(s) prefer voice calls ({', '.join(waiting[:3])}"
                                           f"{' ...' if len(waiting) > 3 else ''}) and voice reminders go to the "
                                           f"{name} channel (no routes.voice), {why}: their reminders wait, "
                                           f"pending, until a voice gateway is set up (a {name}: section with "
                                           f"its url)", "warning")]


def deliver(app, r: Route, message: Message) -> str:
    """Send; a DeliveryError keeps its temporary/permanent verdict, anything else is temporary.

    What the channel answers (its delivery id, its reason for failing) comes
    from outside, a gateway, and is kept with our records and printed: it is
    stored with control characters escaped and cut to a sane length.
    """
    try:
        return _outside_text(r.channel.send(message, r.settings, app.store.root))
    except DeliveryError as e:
        raise DeliveryError(_outside_text(e), temporary=e.temporary) from e
    except Exception as e:  # a plugin's bug must not stop a batch
        raise DeliveryError(_outside_text(f"channel {r.name} failed: {type(e).__name__}: {e}"), temporary=True) from e


def _outside_text(value) -> str:
    """A gateway's answer as a record may keep it: control characters escaped, at most OUTSIDE_LIMIT characters."""
    text = escape_controls("" if value is None else str(value))
    return text if len(text) <= OUTSIDE_LIMIT else f"{text[:OUTSIDE_LIMIT]}..."


# -- context ----------------------------------------------------------------
def practice_context(app) -> dict:
    p = app.config("practice.yaml")
    a = p.get("address") or {}
    zip_code = str(a.get("zip") or "")
    if len(zip_code) == 9 and zip_code.isdigit():
        zip_code = f"{zip_code[:5]}-{zip_code[5:]}"
    line = ", ".join(x for x in (a.get("street"), a.get("city"), " ".join(
        x for x in (a.get("state"), zip_code) if x)) if x)
    return {"name": p.get("name", ""), "phone": p.get("phone", ""), "fax": p.get("fax", ""), "address": line}


def patient_context(p: dict) -> dict:
    keys = ("id", "first", "last", "dob", "phone", "email", "address", "city", "state", "zip", "language")
    return {**{k: p.get(k, "") for k in keys}, "name": f"{p.get('first', '')} {p.get('last', '')}".strip()}


def appointment_context(app, appt: dict, schedule) -> dict:
    start = datetime.fromisoformat(appt["start"]).astimezone(schedule.tz)
    spec = schedule.types.get(appt["type"]) or {}
    provider = schedule.staff.get(appt["provider"], {}).get("name", appt["provider"])
    return {
        "id": appt["id"], "type": appt["type"], "type_description": spec.get("description", appt["type"]),
        "provider": provider, "room": appt.get("room", ""), "instructions": spec.get("instructions", ""),
        "date": start.date().isoformat(), "date_long": f"{start:%B} {start.day}, {start.year}",
        "date_short": f"{start.month}/{start.day}", "weekday": f"{start:%A}", "weekday_short": f"{start:%a}",
        "time": f"{start:%I:%M %p}".lstrip("0"), "start": appt["start"], "end": appt["end"],
    }


def render(app, template: str, context: dict, language: str = "en") -> templating.Rendered:
    default = (app.config("practice.yaml").get("language") or "en")
    return templating.render(app.store.root, template, {"today": app.today().isoformat(), **context},
                             language, default, tz=app.tz)


def appointment_ics(app, appt: dict, schedule, summary: str) -> bytes:
    """A one-event calendar for the patient's own appointment (METHOD:PUBLISH)."""
    from icalendar import Calendar, Event
    cal = Calendar()
    cal.add("prodid", f"-//medsec//medsec {__version__}//EN")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    event = Event()
    start = datetime.fromisoformat(appt["start"]).astimezone(schedule.tz)
    event.add("uid", appt.get("uid") or f"{appt['id']}@medsec")
    event.add("dtstamp", clock.now().replace(microsecond=0))
    event.add("dtstart", start)
    event.add("dtend", datetime.fromisoformat(appt["end"]).astimezone(schedule.tz))
    event.add("summary", summary)
    practice = practice_context(app)
    if practice["address"]:
        event.add("location", f"{practice['name']}, {practice['address']}")
    cal.add_component(event)
    add_timezones(cal, (max(start.year - 1, 1), min(start.year + 1, 9998)))
    return cal.to_ical()


def address_for(patient: dict, kind: str) -> str:
    """Where a message of `kind` goes for this patient ('' when not on file)."""
    if kind == "email":
        return patient.get("email") or ""
    if kind in ("sms", "voice"):
        return patient.get("phone") or ""
    if kind == "letter":
        parts = [patient.get("address"), patient.get("city"), patient.get("state"), patient.get("zip")]
        return ", ".join(p for p in parts if p) if patient.get("address") else ""
    return ""


def preferred_kind(patient: dict) -> str:
    if patient.get("preferred_channel"):
        return patient["preferred_channel"]
    if patient.get("email"):
        return "email"
    if patient.get("phone"):
        return "sms"
    return "letter"
