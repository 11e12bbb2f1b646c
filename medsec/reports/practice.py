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


COVERAGE_COLUMNS = ["date", "weekday", "gap", "from", "to", "hours", "appointment", "patient_id", "provider", "note"]
STILL_TO_HAPPEN = ("booked", "confirmed")  # a visit whose provider must be there


def coverage(app, start: date, end: date):
    """Booked hours with no provider or no nurse working; open days with no front desk, or (in a
    practice with nurses) no nurse, on duty; booked visits whose own provider is away that day (time
    off, no working hours), those kept by choice (`staff off --keep`) marked so."""
    schedule = Schedule.load(app)
    view = app.store.snapshot()
    by_role: dict[str, list[str]] = defaultdict(list)
    for staff_id, member in schedule.staff.items():
        by_role[member.get("role", "")].append(staff_id)
    has_nurses = any(schedule.staff[sid].get("active") is not False for sid in by_role["nurse"])
    kept = _kept_visits(schedule)
    closures = av.closed_days(schedule.practice)
    office_hours = schedule.practice.get("office_hours") or {}
    rows = []

    def row(day, gap, spans, **more):
        return {"date": day.isoformat(), "weekday": WEEKDAYS[day.weekday()], "gap": gap,
                "from": f"{spans[0][0]:%H:%M}", "to": f"{spans[-1][1]:%H:%M}", "hours": _hours(spans),
                "appointment": "", "patient_id": "", "provider": "", "note": "", **more}

    for day in _days(start, end):
        visits = [a for a in view.day(APPOINTMENTS, day.isoformat())
                  if a["status"] not in FREE_STATUSES and a.get("patient_id")]
        booked = _union([(_local(a["start"], schedule), _local(a["end"], schedule)) for a in visits])
        for role, gap in (("physician", "no provider"), ("nurse", "no nurse")):
            working = [span for sid in by_role[role] for span in schedule.working(sid, day)]
            for piece in _union(av.subtract(booked, working)):
                rows.append(row(day, gap, [piece]))
        opening = [] if day.isoformat() in closures else av.blocks_of(office_hours, day, schedule.tz)
        open_spans = _union(opening + booked)
        if open_spans and not any(schedule.working(sid, day) for sid in by_role["front-desk"]):
            rows.append(row(day, "no front desk", open_spans))
        if open_spans and has_nurses and not any(schedule.working(sid, day) for sid in by_role["nurse"]):
            rows.append(row(day, "no nurse on duty", open_spans))
        for appt, why in _provider_away(schedule, visits, day, closures):
            span = (_local(appt["start"], schedule), _local(appt["end"], schedule))
            note = "kept: provider away" if appt["id"] in kept else why
            rows.append(row(day, "provider away", [span], appointment=appt["id"], patient_id=appt["patient_id"],
                            provider=appt.get("provider", ""), note=note))
    return COVERAGE_COLUMNS, rows


def _provider_away(schedule, visits: list[dict], day: date, closures: dict[str, str]) -> list[tuple[dict, str]]:
    """(visit, why) of the day's visits still to happen whose own provider is not there, by start."""
    out = []
    for appt in sorted(visits, key=lambda a: (a["start"], a["provider"])):
        why = _away(schedule, appt.get("provider", ""), day, closures) if appt["status"] in STILL_TO_HAPPEN else ""
        if why:
            out.append((appt, why))
    return out


def _kept_visits(schedule) -> set[str]:
    """The visits kept by choice while their provider is off (time off spans' `kept`)."""
    return {str(i) for member in schedule.staff.values() for span in member.get("time_off") or []
            if isinstance(span, dict) and span.get("stranded") == "keep" for i in span.get("kept") or []}


def _away(schedule, staff_id: str, day: date, closures: dict[str, str]) -> str:
    """Why `staff_id` is not there on `day` ('' when they work that day)."""
    member = schedule.staff.get(str(staff_id).upper())
    if member is None:
        return "provider not on the roster"
    if member.get("active") is False:
        return "provider inactive"
    if day.isoformat() in closures:
        return f"practice closed ({closures[day.isoformat()]})"
    off = av.is_off(member, day)
    if off:
        return f"time off ({off})"
    if not schedule.working(member["id"], day):
        return "no working hours"
    return ""


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
