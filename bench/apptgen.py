"""Synthetic appointments, written straight into medsec's storage and into the SQLite reference.

Booking a million appointments through `medsec appt book` would take hours,
so this writes them in-process with medsec's own storage code: records
shaped exactly as medsec.scheduling.appointments.book() builds them, stored
with Transaction.put_many, one transaction per month (each day file and
index file is written once per month), ids from Transaction.reserve_ids.
The reference gets the same records (same ids) with executemany.

The plan is seeded and rebuilt identically for both sides: every weekday,
each provider's working blocks (from medsec's staff.yaml) are filled back to
back with visits of a realistic mix of types, with random 15-minute gaps;
each month then keeps exactly its share of the requested count, dropping
the rest at random, which leaves free slots of every length. A patient is
booked at most once a day. Visits before `now` are checked out (a few
no-shows and cancellations), later ones booked or confirmed (a few
cancelled).

The `medsec-pg` side writes the same records the same way into a PostgreSQL
store (spec.url; bench/pg_bench.py), its configuration read from the store.

Usage (bench/run.py writes the spec): python apptgen.py medsec|medsec-pg|ref SPEC.json
Prints what it built as JSON.
"""

import json
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

GAP = timedelta(minutes=15)
FILL = 0.9  # chance that a visit, not a gap, comes next while filling a block
TYPE_MIX = [("follow-up", 0.8), ("annual-physical", 0.1), ("new-patient", 0.1)]
PAST = [("checked-out", 0.9), ("no-show", 0.04), ("cancelled", 0.06)]
FUTURE = [("booked", 0.7), ("confirmed", 0.25), ("cancelled", 0.05)]
CANCEL_REASON = "patient request"
SLACK = 1.1  # plan this many times more candidate visits than wanted
HOURS = [("08:00", "12:00"), ("13:00", "17:00")]  # the bench's providers work these, mon-fri


@dataclass(frozen=True)
class Spec:
    """What to build (bench/run.py writes it as JSON)."""

    home: str  # medsec's data directory (its roster, types and time zone are used)
    appointments: int
    seed: int
    first_day: str
    last_day: str
    providers: list[str]
    patients: list[int]  # [first, last] patient numbers to book
    now: str  # ISO datetime: statuses are set relative to it
    user: str = "bench"
    db: str = ""  # the reference's SQLite file
    one_each: bool = False  # each patient once, in a shuffled order (reminders)
    all_booked: bool = False  # every visit booked (reminders)
    url: str = ""  # medsec-pg: the PostgreSQL store (`home` is then its terminal's folder)


Documents = Callable[[str], Any]  # a configuration document's data by name (practice.yaml ...)


def yaml_documents(home: str) -> Documents:
    """The data directory's configuration files."""
    from medsec import config

    return lambda name: config.load(home, name)


@dataclass(frozen=True)
class Visit:
    start: datetime
    end: datetime
    provider: str
    type: str
    patient: int = 0
    status: str = "booked"


# -- the plan -----------------------------------------------------------------------
def weekdays(first: date, last: date) -> list[date]:
    """Monday to Friday from `first` to `last`, both included."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)
            if (first + timedelta(days=i)).weekday() < 5]


def pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    """One name of (name, probability) pairs."""
    roll = rng.random()
    for name, weight in weighted:
        if roll < weight:
            return name
        roll -= weight
    return weighted[0][0]


def day_candidates(rng: random.Random, day: date, members: list[dict], durations: dict, tz) -> list[Visit]:
    """Every provider's working blocks on `day`, filled with visits and random gaps."""
    from medsec.scheduling.availability import blocks_of

    out = []
    for member in members:
        for block_start, block_end in blocks_of(member.get("hours") or {}, day, tz):
            moment = block_start
            while moment < block_end:
                kind = pick(rng, TYPE_MIX)
                end = moment + timedelta(minutes=durations[kind])
                if rng.random() < FILL and end <= block_end:
                    out.append(Visit(moment, end, member["id"], kind))
                    moment = end
                else:
                    moment += GAP
    return out


def capacity_per_day(home: str) -> float:
    """Candidate visits a provider working HOURS gets on an average weekday."""
    from medsec import config

    durations = type_durations(config.load(home, "appointment-types.yaml"))
    member = {"id": "S0", "hours": {d: [list(b) for b in HOURS] for d in ("mon", "tue", "wed", "thu", "fri")}}
    rng = random.Random(1)
    days = weekdays(date(2030, 1, 7), date(2030, 6, 28))
    return sum(len(day_candidates(rng, d, [member], durations, zone(home))) for d in days) / len(days)


def providers_needed(home: str, appointments: int, days: int, minimum: int) -> int:
    """Providers enough to hold `appointments` on `days` weekdays with gaps to spare."""
    return max(minimum, int(appointments * SLACK / (capacity_per_day(home) * days)) + 1)


def quotas(total: int, weights: list[int]) -> list[int]:
    """`total` split in proportion to `weights` (largest remainders), summing exactly."""
    whole = sum(weights)
    shares = [total * w / whole for w in weights]
    out = [int(s) for s in shares]
    by_remainder = sorted(range(len(weights)), key=lambda i: shares[i] - out[i], reverse=True)
    for i in by_remainder[:total - sum(out)]:
        out[i] += 1
    return out


def months(days: list[date]) -> list[list[date]]:
    """`days` grouped by calendar month, in order."""
    grouped: dict[tuple, list[date]] = {}
    for d in days:
        grouped.setdefault((d.year, d.month), []).append(d)
    return list(grouped.values())


def plan(spec: Spec, documents: Documents) -> Iterator[list[Visit]]:
    """The visits, month by month, sorted by start and provider; exactly spec.appointments.

    `documents` gives the practice's configuration: the same on every side, so the same plan.
    """
    tz = zone_of(documents)
    durations = type_durations(documents("appointment-types.yaml"))
    roster = {m["id"]: m for m in documents("staff.yaml").get("staff") or []}
    members = [roster[p] for p in spec.providers]
    groups = months(weekdays(date.fromisoformat(spec.first_day), date.fromisoformat(spec.last_day)))
    now = datetime.fromisoformat(spec.now)
    patients = Patients(spec)
    for month, quota in zip(groups, quotas(spec.appointments, [len(g) for g in groups]), strict=True):
        rng = random.Random(f"{spec.seed}-{month[0]:%Y-%m}")
        candidates = [v for day in month for v in day_candidates(rng, day, members, durations, tz)]
        if len(candidates) < quota:
            sys.exit(f"apptgen: {month[0]:%Y-%m} holds {len(candidates)} visits, {quota} wanted: add providers")
        kept = [candidates[i] for i in sorted(rng.sample(range(len(candidates)), quota))]
        kept.sort(key=lambda v: (v.start, v.provider))
        yield [Visit(v.start, v.end, v.provider, v.type, patients.pick(rng, v.start.date()),
                     "booked" if spec.all_booked else pick(rng, PAST if v.start < now else FUTURE))
               for v in kept]


class Patients:
    """Who each visit is for: at most once a day, or each patient once (spec.one_each)."""

    def __init__(self, spec: Spec):
        first, last = spec.patients
        self.first, self.last = first, last
        self.day: date | None = None
        self.today: set[int] = set()
        self.queue: list[int] = []
        if spec.one_each:
            self.queue = list(range(first, last + 1))
            random.Random(spec.seed).shuffle(self.queue)
            self.queue.reverse()  # pop() from the end gives the shuffled order

    def pick(self, rng: random.Random, day: date) -> int:
        if self.queue:
            return self.queue.pop()
        if day != self.day:
            self.day, self.today = day, set()
        while True:
            n = rng.randint(self.first, self.last)
            if n not in self.today:
                self.today.add(n)
                return n


def zone(home: str):
    """The practice's time zone (the data directory's practice.yaml) as a ZoneInfo."""
    return zone_of(yaml_documents(home))


def zone_of(documents: Documents):
    """The practice's time zone (practice.yaml) as a ZoneInfo."""
    from zoneinfo import ZoneInfo

    return ZoneInfo(documents("practice.yaml").get("time_zone") or "UTC")


def type_durations(types: dict) -> dict[str, int]:
    """Minutes per appointment type, from appointment-types.yaml's data."""
    return {name: spec["duration"] for name, spec in (types.get("types") or {}).items()}


# -- records ------------------------------------------------------------------------
def record(appt_id: str, visit: Visit, instance: str, user: str, stamp: str) -> dict:
    """The record medsec.scheduling.appointments.book() stores, moved on to the visit's status."""
    from medsec import clock

    history = [{"at": stamp, "by": user, "action": "booked", "status": "booked"}]
    if visit.status == "cancelled":
        history.append({"at": stamp, "by": user, "action": "cancelled", "status": "cancelled",
                        "reason": CANCEL_REASON, "late": False})
    elif visit.status != "booked":
        history.append({"at": stamp, "by": user, "action": "status", "status": visit.status})
    start = clock.iso(visit.start)
    return {
        "id": appt_id, "patient_id": f"P{visit.patient}", "provider": visit.provider, "type": visit.type,
        "start": start, "end": clock.iso(visit.end), "room": "", "status": visit.status, "note": "",
        "series_id": "", "series": None, "uid": f"{appt_id}-{instance}@medsec", "source": "medsec",
        "created": stamp, "updated": stamp, "checked_in": start if visit.status == "checked-out" else "",
        "cancel_reason": CANCEL_REASON if visit.status == "cancelled" else "", "late_cancel": False,
        "history": history,
    }


def instance_of(documents: Documents) -> str:
    """The practice's instance name (medsec.yaml), part of each appointment's iCalendar UID."""
    return documents("medsec.yaml").get("instance", "local")


# -- writing ------------------------------------------------------------------------
def write_medsec(spec: Spec) -> dict:
    """Into the data directory at spec.home."""
    from medsec.store import Store

    store = Store(spec.home)
    return write_store(store, spec, yaml_documents(spec.home))


def write_medsec_pg(spec: Spec) -> dict:
    """Into the PostgreSQL store at spec.url (open_store: the backend commands use)."""
    from medsec.store.api import open_store

    store = open_store(spec.home, spec.url)
    try:
        return write_store(store, spec, store.document)
    finally:
        getattr(store, "close", lambda: None)()  # its connection (the Backend interface has no close)


def write_store(store, spec: Spec, documents: Documents) -> dict:
    """One transaction per month: reserve the month's ids, put_many its records."""
    from medsec.store.catalog import APPOINTMENTS

    instance = instance_of(documents)
    first = ""
    for visits in plan(spec, documents):
        with store.transaction() as txn:
            ids = txn.reserve_ids(APPOINTMENTS, len(visits))
            txn.put_many(APPOINTMENTS, [record(i, v, instance, spec.user, spec.now)
                                          for i, v in zip(ids, visits, strict=True)])
        first = first or ids[0]
    return {"first_id": first, "last_id": ids[-1]}


def write_ref(spec: Spec) -> dict:
    """The roster, hours, types and appointments into the reference's SQLite file."""
    import sqlite3

    from ref_cli import APPT_SCHEMA, appointment_row

    db = sqlite3.connect(spec.db)
    db.executescript(APPT_SCHEMA)
    documents = yaml_documents(spec.home)
    instance = instance_of(documents)
    with db:
        first = db.execute("SELECT coalesce(max(id), 0) + 1 FROM appointments").fetchone()[0]
        copy_setup(db, spec.home)
        n = first
        for visits in plan(spec, documents):
            rows = [appointment_row(record(f"A{n + i}", v, instance, spec.user, spec.now))
                    for i, v in enumerate(visits)]
            db.executemany(f"INSERT INTO appointments VALUES ({', '.join('?' * len(rows[0]))})", rows)
            n += len(visits)
    db.close()
    return {"first_id": f"A{first}", "last_id": f"A{n - 1}"}


def copy_setup(db, home: str) -> None:
    """The practice's zone and slot grid, staff roster, weekly hours and types, from medsec's YAML."""
    from medsec import config
    from medsec.scheduling.availability import DAY_KEYS

    practice = config.load(home, "practice.yaml")
    slot = (practice.get("scheduling") or {}).get("slot_minutes", 15)
    db.executemany("INSERT OR REPLACE INTO settings VALUES (?, ?)",
                   [("time_zone", practice.get("time_zone") or "UTC"), ("slot_minutes", str(slot))])
    db.execute("DELETE FROM staff")
    db.execute("DELETE FROM staff_hours")
    for m in config.load(home, "staff.yaml").get("staff") or []:
        db.execute("INSERT INTO staff VALUES (?, ?, ?, ?, ?)",
                   (m["id"], m["name"], m["role"], m.get("npi", ""), int(m.get("active", True))))
        db.executemany("INSERT INTO staff_hours VALUES (?, ?, ?, ?)",
                       [(m["id"], DAY_KEYS.index(day), a, b)
                        for day, blocks in (m.get("hours") or {}).items() for a, b in blocks])
    db.execute("DELETE FROM appointment_types")
    db.executemany("INSERT INTO appointment_types VALUES (?, ?, ?, ?)",
                   [(name, t["duration"], t.get("buffer", 0), ",".join(t.get("performers") or ["physician"]))
                    for name, t in (config.load(home, "appointment-types.yaml").get("types") or {}).items()])


def main() -> None:
    """apptgen.py medsec|medsec-pg|ref SPEC.json: build one side; print the ids and seconds as JSON."""
    side, path = sys.argv[1:3]
    with open(path) as f:
        spec = Spec(**json.load(f))
    started = time.perf_counter()
    built = {"medsec": write_medsec, "medsec-pg": write_medsec_pg, "ref": write_ref}[side](spec)
    print(json.dumps({**built, "seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
