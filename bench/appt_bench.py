"""Scheduling at scale: ~1M appointments over 24 months, and the calendar commands timed on them.

Providers are added through the CLI (`medsec staff add`, `medsec staff
hours`); the appointments are written in-process by bench/apptgen.py, into
medsec's storage and into the reference's SQLite file, each timed once;
`medsec check` then proves the data directory consistent (timed once).
"""

import json
import os
import sys
import time
from datetime import date, datetime, timedelta

import apptgen
from harness import (
    APPTGEN,
    MEDSEC,
    PYTHON,
    REF,
    Case,
    Dataset,
    Launcher,
    Target,
    once_row,
    same_ids,
    timing,
)

MONTHS = 24
MIN_PROVIDERS = 40  # more when the appointments need them (a provider sees ~15 a day)
LEAD_DAYS = 14  # the measured days start this far ahead: in the future, with free slots
BOOK_DAYS = 28  # the booking case takes free slots from this many days
TYPE = "follow-up"
WRITE_MS_PER_MILLION = 100_000  # issue 13: a bulk write of 1M appointments under 100 s
CHECK_MS_PER_MILLION = 15_000  # ... and `medsec check` of them under 15 s (and 500 MB)


# -- building ---------------------------------------------------------------------------
def window(today: date) -> tuple[date, date]:
    """24 whole months: the 12 before this month, this month and the 11 after."""
    first = date(today.year - 1, today.month, 1)
    last = date(first.year + MONTHS // 12, first.month, 1) - timedelta(days=1)
    return first, last


def bench_day(today: date) -> date:
    """The Monday at least LEAD_DAYS ahead: day sheet, slots and bookings start there."""
    day = today + timedelta(days=LEAD_DAYS)
    return day + timedelta(days=-day.weekday() % 7)


def max_appointments(patients: int) -> int:
    """The most the generator takes: a day's visits for at most half the patients (each once a day)."""
    first, last = window(date.today())
    return len(apptgen.weekdays(first, last)) * (patients - 1) // 2


def is_current(meta: dict, count: int, seed: int) -> bool:
    """Whether the dataset holds `count` appointments built with `seed` that still cover the bench days."""
    built = meta.get("appointments") or {}
    return (built.get("count") == count and built.get("seed") == seed
            and bench_day(date.today()) + timedelta(days=BOOK_DAYS + 7) <= date.fromisoformat(built["last_day"]))


def add_providers(launcher: Launcher, count: int) -> tuple[list[str], dict]:
    """`count` physicians with valid NPIs, working apptgen.HOURS mon-fri: their ids, total ms, peak RSS."""
    from medsec.identifiers import npi_with_check_digit

    hours = ["--day", "mon-fri"] + [arg for a, b in apptgen.HOURS for arg in ("--from", a, "--to", b)]
    ids, runs = [], []
    for i in range(count):
        added = launcher.checked([MEDSEC, "staff", "add", "--name", f"Dr. Provider {i + 1}", "--role", "physician",
                                  "--npi", npi_with_check_digit(f"1{i:08d}"), "--json"])
        ids.append(json.loads(added.out)["id"])
        runs += [added, launcher.checked([MEDSEC, "staff", "hours", ids[-1], *hours])]
    return ids, {"ms": sum(r.ms for r in runs), "rss_mb": max(r.rss_mb for r in runs)}


def generate(launcher: Launcher, side: str, spec: dict, folder: str) -> tuple[dict, dict]:
    """Run bench/apptgen.py for `side` (medsec or ref) on `spec`: what it built, and its timing."""
    path = os.path.join(folder, "appointments.json")
    with open(path, "w") as f:
        json.dump(spec, f, indent=2)
    run = launcher.checked([PYTHON, APPTGEN, side, path])
    return json.loads(run.out), timing(run)


def build(data: Dataset, launcher: Launcher, count: int, seed: int) -> None:
    """Providers, then `count` appointments into medsec and the reference, then `medsec check`."""
    first, last = window(date.today())
    days = len(apptgen.weekdays(first, last))
    providers = apptgen.providers_needed(data.home, count, days, MIN_PROVIDERS)
    print(f"adding {providers} providers (CLI) ...", flush=True)
    ids, staff = add_providers(launcher, providers)
    now = datetime.now(apptgen.zone(data.home)).replace(microsecond=0)
    spec = {"home": data.home, "db": data.db, "appointments": count, "seed": seed,
            "first_day": first.isoformat(), "last_day": last.isoformat(), "providers": ids,
            "patients": [1, data.meta["patients"] - 1], "now": now.isoformat()}
    print(f"writing {count:,} appointments, {first} to {last} (timed once: medsec, then the reference) ...",
          flush=True)
    built, timed = {}, {}
    for side in ("medsec", "ref"):
        built[side], timed[side] = generate(launcher, side, spec, data.folder)
    if built["medsec"]["last_id"] != built["ref"]["last_id"]:
        sys.exit(f"bench: medsec and the reference built different appointments: {built}")
    print("medsec check (timed once) ...", flush=True)
    check = launcher.spawn([MEDSEC, "check", "--json"])
    if check.exit_code != 0:
        sys.exit(f"bench: medsec check found problems after the build:\n{check.out.decode()[:2000]}")
    data.meta["appointments"] = {
        "count": count, "seed": seed, "first_day": spec["first_day"], "last_day": spec["last_day"],
        "providers": ids, "built": time.strftime("%Y-%m-%d %H:%M:%S"), "builds": timed,
        "staff_cli": staff, "check": timing(check),
    }
    data.save()


def build_rows(meta: dict) -> list[dict]:
    """The once-timed parts of the build: providers, appointments (both sides), `medsec check`."""
    built = meta["appointments"]
    count, providers = built["count"], len(built["providers"])
    return [
        once_row(f"{providers} providers: staff add + staff hours (once, {2 * providers} CLI runs)",
                 {"medsec": built["staff_cli"]}),
        once_row(f"write {count:,} appointments (once; put_many by month / executemany)", built["builds"],
                 Target(WRITE_MS_PER_MILLION * count / 1e6)),
        once_row(f"medsec check at {count:,} appointments (once; target also <500 MB at 1M)",
                 {"medsec": built["check"]}, Target(CHECK_MS_PER_MILLION * count / 1e6)),
    ]


# -- the measured commands ----------------------------------------------------------------
def same_slots(medsec_out: bytes, ref_out: bytes) -> bool:
    """Both printed the same slot starts."""
    return [s["start"] for s in json.loads(medsec_out)] == [s["start"] for s in json.loads(ref_out)]


def same_booking(medsec_out: bytes, ref_out: bytes) -> bool:
    """Both booked the same appointment (same id, patient, provider, type, times, status)."""
    keys = ["id", "patient_id", "provider", "type", "start", "end", "status"]
    medsec, ref = json.loads(medsec_out), json.loads(ref_out)
    return [medsec[k] for k in keys] == [ref[k] for k in keys]


def free_slots(launcher: Launcher, data: Dataset, provider: str, first: date, busy: list) -> list[str]:
    """Free slots ('YYYY-MM-DD HH:MM') of `provider` in BOOK_DAYS from `first`, per the reference.

    Slots may overlap one another (a start every 15 minutes); the ones kept
    overlap neither one another nor the `busy` (start, end) spans.
    """
    run = launcher.checked([PYTHON, REF, "--db", data.db, "appt-slots", "--provider", provider,
                            "--type", TYPE, "--from", first.isoformat(), "--days", str(BOOK_DAYS)])
    starts = []
    for slot in json.loads(run.out):
        span = (datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"]))
        if not any(span[0] < end and start < span[1] for start, end in busy):
            starts.append(f"{span[0]:%Y-%m-%d %H:%M}")
            busy.append(span)
    return starts


def booking_slots(launcher: Launcher, data: Dataset, patient: str, first: date,
                  count: int) -> tuple[str, list[str]]:
    """A provider (not the first) with `count` slots free for him and `patient`: id and slots.

    Earlier benches booked some: the patient's bookings are left out, and
    when one provider's slots run out the next one's are taken.
    """
    booked = launcher.checked([PYTHON, REF, "--db", data.db, "appt-list", "--patient", patient])
    busy = [(datetime.fromisoformat(a["start"]), datetime.fromisoformat(a["end"]))
            for a in json.loads(booked.out) if a["status"] != "cancelled"]
    for provider in data.meta["appointments"]["providers"][1:]:
        slots = free_slots(launcher, data, provider, first, list(busy))
        if len(slots) >= count:
            return provider, slots[:count]
    sys.exit(f"bench: no provider has {count} free slots in {BOOK_DAYS} days from {first}; use --rebuild")


def cases(data: Dataset, launcher: Launcher, runs: int) -> list[Case]:
    """Day sheet, free slots, booking (a new free slot each run) and a patient's list."""
    day = bench_day(date.today())
    shown = data.meta["appointments"]["providers"][0]
    book_patient = f"P{data.meta['patients']}"  # apptgen books nobody for this patient
    booker, slots = booking_slots(launcher, data, book_patient, day, runs + 1)
    list_patient = f"P{data.meta['patients'] // 2}"
    ref = [PYTHON, REF, "--db", data.db]
    slot_args = ["--provider", shown, "--type", TYPE, "--from", day.isoformat(), "--days", "7"]
    return [
        Case(f"appt day {day} --provider {shown}",
             lambda i: [MEDSEC, "appt", "day", day.isoformat(), "--provider", shown, "--json"],
             lambda i: ref + ["appt-day", day.isoformat(), "--provider", shown], Target(150, 1.5), same_ids),
        Case(f"appt slots --provider {shown} --type {TYPE} --from {day} --days 7",
             lambda i: [MEDSEC, "appt", "slots", *slot_args, "--json"],
             lambda i: ref + ["appt-slots", *slot_args], Target(200, 1.5), same_slots),
        Case(f"appt book {book_patient} --provider {booker} (a free slot each run)",
             lambda i: [MEDSEC, "appt", "book", book_patient, "--provider", booker, "--at", slots[i],
                        "--type", TYPE, "--json"],
             lambda i: ref + ["appt-book", book_patient, "--provider", booker, "--at", slots[i], "--type", TYPE],
             Target(150, 1.5), same_booking),
        Case(f"appt list --patient {list_patient}",
             lambda i: [MEDSEC, "appt", "list", "--patient", list_patient, "--json"],
             lambda i: ref + ["appt-list", "--patient", list_patient], Target(150, 1.5), same_ids),
    ]
