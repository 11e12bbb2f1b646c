"""Default plugin: the manager's reports on referrals and tasks."""

from collections import defaultdict
from datetime import datetime

from medsec.plugin_api import Report, hookimpl, referrals, tasks


def _days(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() / 86400


def _average(values: list[float]) -> str:
    return f"{sum(values) / len(values):.1f}" if values else ""


def _days_to_appointment(referral: dict) -> float | None:
    """Days from sending (or receiving) a referral to the appointment being scheduled."""
    moments: dict[str, str] = {}  # status -> when the referral first entered it
    for entry in referral["history"]:
        moments.setdefault(entry["status"], entry["at"])
    start = moments.get("sent" if referral["direction"] == "out" else "received")
    if start and "appointment-scheduled" in moments:
        return _days(start, moments["appointment-scheduled"])
    return None


def referrals_report(app, options: dict):
    """Referrals made in the period, by direction and specialist or referrer: open, overdue now, days to booking."""
    from medsec.workflows.referrals import OPEN, is_overdue  # ~10 ms: only this report pays, not every command

    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in referrals(app, options["start"], options["end"]):
        groups[(r["direction"], r["to"] or r["from"])].append(r)
    today = app.today()
    rows = []
    for (direction, party), found in sorted(groups.items()):
        waits = [d for d in map(_days_to_appointment, found) if d is not None]
        rows.append({"direction": direction, "party": party, "referrals": len(found),
                     "open": sum(r["status"] in OPEN for r in found),
                     "overdue": sum(is_overdue(r, today) for r in found),
                     "urgent": sum(bool(r["urgent"]) for r in found), "avg_days_to_appointment": _average(waits)})
    return ["direction", "party", "referrals", "open", "overdue", "urgent", "avg_days_to_appointment"], rows


def tasks_report(app, options: dict):
    """Tasks created in the period, by owner: open, overdue now, done, days to done."""
    from medsec.workflows.tasks import is_overdue  # ~6 ms: only this report pays, not every command

    groups: dict[str, list[dict]] = defaultdict(list)
    for t in tasks(app, options["start"], options["end"]):
        groups[t["owner"]].append(t)
    today = app.today()
    rows = [{"owner": owner, "tasks": len(found), "open": sum(t["status"] == "open" for t in found),
             "overdue": sum(is_overdue(t, today) for t in found), "done": sum(t["status"] == "done" for t in found),
             "avg_days_to_done": _average([_days(t["created"], t["done"]) for t in found if t["done"]])}
            for owner, found in sorted(groups.items())]
    return ["owner", "tasks", "open", "overdue", "done", "avg_days_to_done"], rows


@hookimpl
def register_reports(register):
    register(Report("referrals", "referrals by specialist or referrer: open, overdue, days to an appointment",
                    referrals_report))
    register(Report("tasks", "tasks by owner: open, overdue, done, days to done", tasks_report))
