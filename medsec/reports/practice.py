"""The office manager's reports on visits, money, staffing and labs over a period.

Each function returns (columns, rows) with numbers as exact strings, the
shape every report format (table, CSV, JSON, HTML) prints.
"""

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

from medsec.money import dec, fmt
from medsec.records.staff import roster
from medsec.scheduling import availability as av
from medsec.scheduling.schedule import FREE_STATUSES, Schedule
from medsec.store.catalog import APPOINTMENTS, CHARGES, LABS, PAYMENTS
from medsec.workflows.labs import STATUSES, is_overdue

# Visits whose outcome is known: kept (in some form) or missed.
RESOLVED = ("arrived", "roomed", "seen", "checked-out", "no-show", "left-without-being-seen")
SEEN = ("seen", "checked-out")
COLLECTED = ("payment", "insurance-payment")  # adjustments and write-offs are not money in
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _days(start: date, end: date):
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def _percent(part: int, whole: int) -> str:
    return f"{Decimal(100 * part) / Decimal(whole):.1f}" if whole else "0.0"


def noshows(app, start: date, end: date):
    """No-show rate over visits with a known outcome: overall, by provider, by type, by weekday."""
    view = app.store.snapshot()
    counts: dict[str, Counter] = defaultdict(Counter)
    for day in _days(start, end):
        for appt in view.day(APPOINTMENTS, day.isoformat()):
            if appt["status"] not in RESOLVED or not appt.get("patient_id"):
                continue
            missed = appt["status"] == "no-show"
            for key in ("all", f"provider {appt['provider']}", f"type {appt['type']}",
                        f"weekday {WEEKDAYS[day.weekday()]}"):
                counts[key]["visits"] += 1
                counts[key]["no_shows"] += missed

    def order(key: str):
        group, _, value = key.partition(" ")
        rank = ["all", "provider", "type", "weekday"].index(group)
        return rank, WEEKDAYS.index(value) if group == "weekday" else 0, value

    rows = [{"by": key, "visits": counts[key]["visits"], "no_shows": counts[key]["no_shows"],
             "no_show_rate": _percent(counts[key]["no_shows"], counts[key]["visits"])}
            for key in sorted(counts, key=order)]
    return ["by", "visits", "no_shows", "no_show_rate"], rows


def productivity(app, start: date, end: date):
    """Per provider: visits seen, charges billed (by charge date), collections (payments allocated to them)."""
    view = app.store.snapshot()
    names = {str(m["id"]).upper(): m.get("name", "") for m in roster(app)}
    providers = {str(m["id"]).upper() for m in roster(app) if m.get("role") == "physician"}
    seen: Counter = Counter()
    for day in _days(start, end):
        for appt in view.day(APPOINTMENTS, day.isoformat()):
            if appt["status"] in SEEN:
                seen[appt["provider"]] += 1
    period = (start.isoformat(), end.isoformat())
    charged: dict[str, Decimal] = defaultdict(Decimal)
    provider_of = {}
    for charge in view.scan(CHARGES):
        provider_of[charge["id"]] = charge["provider"]
        if period[0] <= charge["date"] <= period[1] and charge.get("status") != "void":  # a voided charge: none
            charged[charge["provider"]] += dec(charge["amount"])
    collected: dict[str, Decimal] = defaultdict(Decimal)
    for payment in view.scan(PAYMENTS):
        if payment["kind"] in COLLECTED and period[0] <= payment["date"] <= period[1]:
            for allocation in payment["allocations"]:
                if allocation["charge_id"] in provider_of:
                    collected[provider_of[allocation["charge_id"]]] += dec(allocation["amount"])
    everyone = sorted(providers | set(seen) | set(charged) | set(collected), key=lambda s: (len(s), s))
    rows = [{"provider": sid, "name": names.get(sid, ""), "visits_seen": seen[sid], "charges": fmt(charged[sid]),
             "collections": fmt(collected[sid])} for sid in everyone]
    return ["provider", "name", "visits_seen", "charges", "collections"], rows


def _union(spans: list[av.Span]) -> list[av.Span]:
    out: list[av.Span] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _hours(spans: list[av.Span]) -> str:
    return f"{Decimal(sum((e - s).total_seconds() for s, e in spans)) / 3600:.2f}"


def coverage(app, start: date, end: date):
    """Booked hours with no provider or no nurse working; open days with no front desk on duty."""
    schedule = Schedule.load(app)
    view = app.store.snapshot()
    by_role: dict[str, list[str]] = defaultdict(list)
    for staff_id, member in schedule.staff.items():
        by_role[member.get("role", "")].append(staff_id)
    closures = av.closed_days(schedule.practice)
    office_hours = schedule.practice.get("office_hours") or {}
    rows = []

    def row(day, gap, spans):
        return {"date": day.isoformat(), "weekday": WEEKDAYS[day.weekday()], "gap": gap,
                "from": f"{spans[0][0]:%H:%M}", "to": f"{spans[-1][1]:%H:%M}", "hours": _hours(spans)}

    for day in _days(start, end):
        booked = _union([(_local(a["start"], schedule), _local(a["end"], schedule))
                         for a in view.day(APPOINTMENTS, day.isoformat())
                         if a["status"] not in FREE_STATUSES and a.get("patient_id")])
        for role, gap in (("physician", "no provider"), ("nurse", "no nurse")):
            working = [span for sid in by_role[role] for span in schedule.working(sid, day)]
            for piece in _union(av.subtract(booked, working)):
                rows.append(row(day, gap, [piece]))
        opening = [] if day.isoformat() in closures else av.blocks_of(office_hours, day, schedule.tz)
        open_spans = _union(opening + booked)
        if open_spans and not any(schedule.working(sid, day) for sid in by_role["front-desk"]):
            rows.append(row(day, "no front desk", open_spans))
    return ["date", "weekday", "gap", "from", "to", "hours"], rows


def _local(stamp: str, schedule) -> datetime:
    return datetime.fromisoformat(stamp).astimezone(schedule.tz)


def labs(app, start: date, end: date):
    """Lab orders placed in the period by facility and status, with those overdue today."""
    view = app.store.snapshot()
    today = app.today()
    counts: dict[str, Counter] = defaultdict(Counter)
    for order in view.scan(LABS):
        if start.isoformat() <= order["ordered"][:10] <= end.isoformat():
            for key in (order["facility"], "(all)"):
                counts[key][order["status"]] += 1
                counts[key]["overdue"] += is_overdue(order, today)
    columns = ["facility"] + [s.replace("-", "_") for s in STATUSES] + ["total", "overdue"]
    rows = []
    for facility in sorted(k for k in counts if k != "(all)") + (["(all)"] if counts else []):
        c = counts[facility]
        rows.append({"facility": facility, **{s.replace("-", "_"): c[s] for s in STATUSES},
                     "total": sum(c[s] for s in STATUSES), "overdue": c["overdue"]})
    return columns, rows
