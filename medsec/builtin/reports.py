"""Default plugin: the manager's reports on reminders, calls, money and emergency (break-glass) access."""

from collections import Counter, defaultdict
from datetime import datetime

from medsec.plugin_api import Report, calls, hookimpl, reminders


def reminders_report(app, options: dict):
    """Reminders per day and channel: sent, skipped, retry, failed."""
    counts: dict[tuple, Counter] = defaultdict(Counter)
    for r in reminders(app, options["start"], options["end"]):
        counts[(r["created"][:10], r["channel"] or "-")][r["status"]] += 1
    columns = ["date", "channel", "sent", "skipped", "retry", "failed", "sending"]
    rows = [{"date": day, "channel": channel, **{s: c[s] for s in columns[2:]}}
            for (day, channel), c in sorted(counts.items())]
    return columns, rows


def _hours(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() / 3600


def calls_report(app, options: dict):
    """Calls per staff member: taken, still open, urgent, hours to first call-back and to close."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for c in calls(app, options["start"], options["end"]):
        groups[c["for_staff"] or "(unassigned)"].append(c)
    rows = []
    for staff, taken in sorted(groups.items()):
        returned = [_hours(c["created"], c["attempts"][0]["at"]) for c in taken if c["attempts"]]
        closed = [_hours(c["created"], c["closed"]) for c in taken if c["closed"]]
        rows.append({"staff": staff, "calls": len(taken), "open": sum(c["status"] == "open" for c in taken),
                     "urgent": sum(bool(c["urgent"]) for c in taken),
                     "avg_hours_to_return": f"{sum(returned) / len(returned):.1f}" if returned else "",
                     "avg_hours_to_close": f"{sum(closed) / len(closed):.1f}" if closed else ""})
    return ["staff", "calls", "open", "urgent", "avg_hours_to_return", "avg_hours_to_close"], rows


def aging_report(app, options: dict):
    """Outstanding balances by payer and patient responsibility, by age of the charge."""
    from medsec.billing.statements import AGING_BUCKETS, aging  # ~10 ms: only this report pays, not every command

    return ["responsible"] + [b[2] for b in AGING_BUCKETS] + ["total"], aging(app, options["end"])


def claims_report(app, options: dict):
    """Claims created in the period by payer and status: count, billed, paid."""
    from medsec.billing.statements import claims_report as build  # ~10 ms: only this report pays

    return ["payer", "status", "claims", "billed", "paid"], build(app, options["start"], options["end"])


def break_glass_report(app, options: dict):
    """Every emergency opening of a restricted chart: when, who, which patient, why (for review).
    The command needs audit.read (medsec.security.permissions), not reports.read: it reads the audit log."""
    from medsec.reports.breakglass import COLUMNS, accesses  # only this report pays for it

    return COLUMNS, accesses(app, options["start"], options["end"])


@hookimpl
def register_reports(register):
    register(Report("reminders", "reminders per day and channel, by outcome", reminders_report))
    register(Report("calls", "calls per staff member: open, urgent, time to call back and close", calls_report))
    register(Report("aging", "accounts receivable aging: 0-30 ... 120+ days by payer and patient", aging_report))
    register(Report("claims", "claims by payer and status: count, billed, paid", claims_report))
    register(Report("break-glass", "emergency (break-glass) openings of restricted charts: when, who, patient, "
                                   "reason", break_glass_report))
