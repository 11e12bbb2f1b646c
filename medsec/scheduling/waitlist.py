"""The waitlist: patients who want an earlier visit, offered freed slots."""

from datetime import date

from medsec import clock
from medsec.errors import InvalidInput, Refused
from medsec.records.patients import get_patient
from medsec.scheduling.schedule import Schedule
from medsec.store.api import Record
from medsec.store.catalog import WAITLIST

TIMES = {"any": (0, 24), "mornings": (0, 12), "afternoons": (12, 24)}
COLUMNS = ["id", "patient_id", "provider", "type", "before", "times", "status", "created"]


def add_entry(app, patient_id: str, *, type_name: str, provider: str | None = None,
              before: str | None = None, times: str = "any", note: str = "") -> dict:
    schedule = Schedule.load(app)
    schedule.type(type_name)
    if provider:
        provider = schedule.check_performer(provider, type_name)["id"]
    if times not in TIMES:
        raise InvalidInput(f"--times {times!r} is not one of {', '.join(TIMES)}")
    until = clock.parse_date(before, app.tz, "--before", horizon=True).isoformat() if before else ""
    with app.store.transaction() as txn:
        patient = get_patient(app, patient_id, view=txn)
        (entry_id,) = txn.reserve_ids(WAITLIST)
        entry = {"id": entry_id, "patient_id": patient["id"], "provider": provider or "", "type": type_name,
                 "before": until, "times": times, "note": note, "status": "waiting",
                 "created": clock.iso(app.now()), "offers": []}
        txn.put(WAITLIST, entry)
    app.audit("waitlist", [entry_id, patient["id"]])
    return entry


def list_entries(app, status: str = "waiting", *, first: date | None = None, last: date | None = None,
                 limit: int | None = None) -> list[dict]:
    """Waitlist entries, oldest first (the first `limit`); `first`/`last`: added on those days."""
    view = app.store.snapshot()
    out = [e for e in view.scan(WAITLIST)
           if (status == "all" or e["status"] == status) and clock.on_days(e["created"], first, last)]
    out = out[:limit] if limit else out
    app.audit("list", [e["id"] for e in out] + [e["patient_id"] for e in out])
    return out


def remove_entry(app, entry_id: str) -> dict:
    with app.store.transaction() as txn:
        old = txn.require(WAITLIST, entry_id, "waitlist entry")
        if old["status"] != "waiting":
            raise Refused(f"{old['id']} is already {old['status']}")
        entry = {**old, "status": "removed"}
        txn.put(WAITLIST, entry, old)
    app.audit("waitlist", [entry["id"], entry["patient_id"]])
    return entry


def matches(entry: dict, appt: dict, tz) -> bool:
    """Whether a freed appointment slot suits a waiting entry."""
    if entry["status"] != "waiting" or entry["patient_id"] == appt.get("patient_id"):
        return False
    if entry["type"] != appt["type"] or (entry["provider"] and entry["provider"] != appt["provider"]):
        return False
    start = clock.stored_moment(appt["start"], tz)
    if entry["before"] and start.date().isoformat() > entry["before"]:
        return False
    low, high = TIMES[entry.get("times") or "any"]
    return low <= start.hour < high


def offer_freed(txn, app, freed: list[dict]) -> list[dict]:
    """Entries matching freed slots, oldest first; each records the offer."""
    offers = []
    entries = [e for e in txn.scan(WAITLIST) if e["status"] == "waiting"]
    changed: dict[str, Record] = {}  # each entry offered a slot, with its offers so far
    for appt in freed:
        for entry in entries:
            if matches(entry, appt, app.tz):
                offers.append({"waitlist_id": entry["id"], "patient_id": entry["patient_id"],
                               "slot": appt["start"], "provider": appt["provider"], "type": appt["type"]})
                current = changed.get(entry["id"], entry)
                changed[entry["id"]] = {**current, "offers": current["offers"] + [appt["start"]]}
    if changed:
        txn.put_many(WAITLIST, list(changed.values()), {e["id"]: e for e in entries if e["id"] in changed})
    return offers
