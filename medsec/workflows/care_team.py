"""Who looks after a patient, and who works a queue: physicians by id, usual physician, role queues."""

from datetime import datetime

from medsec.errors import InvalidInput, NotFound
from medsec.records.staff import get_staff, roster
from medsec.store.catalog import APPOINTMENTS


def physician(app, staff_id: str, option: str = "--provider") -> dict:
    """An active physician on the roster; any other id is bad input (exit 2)."""
    try:
        member = get_staff(app, staff_id)
    except NotFound:
        raise InvalidInput(f"{option} {staff_id.strip().upper()}: no such staff member",
                           hint="see 'medsec staff list'") from None
    if member.get("role") != "physician":
        raise InvalidInput(f"{option} {member['id']} is a {member.get('role')}, not a physician")
    if not member.get("active", True):
        raise InvalidInput(f"{option} {member['id']} is no longer active")
    return member


def usual_physician(app, patient_id: str, view) -> dict | None:
    """The physician of the patient's most recent appointment (cancelled ones aside), else of their next one."""
    physicians = {m["id"]: m for m in roster(app) if m.get("role") == "physician" and m.get("active", True)}
    ids = view.lookup("appt-patient", patient_id)
    appts = [a for a in view.get_many(APPOINTMENTS, ids)
             if a.get("patient_id") == patient_id and a["status"] != "cancelled" and a.get("provider") in physicians]
    if not appts:
        return None
    now = app.now()
    past = [a for a in appts if datetime.fromisoformat(a["start"]) <= now]
    if past:
        chosen = max(past, key=lambda a: datetime.fromisoformat(a["start"]))
    else:
        chosen = min(appts, key=lambda a: datetime.fromisoformat(a["start"]))
    return physicians[chosen["provider"]]


def queue_for(app, roles: tuple[str, ...]) -> str:
    """The first of `roles` that someone active on the roster holds (else the first): who gets a task."""
    held = {m.get("role") for m in roster(app) if m.get("active", True)}
    return next((role for role in roles if role in held), roles[0])
