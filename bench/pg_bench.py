"""The PostgreSQL part: the same practice in a PostgreSQL store, the same commands timed against the same reference.

A server of its own (tests/helpers/pg.py, durable: the server's defaults,
fsync on) keeps its data directory in bench/.data/p<N>/pg/cluster, reused
while the patient dataset it was built from, medsec's storage code
(medsec/store) and the server's version stay the same (--rebuild builds it
again). The build: `medsec init` with MEDSEC_STORE set, the providers through
the CLI as in appt_bench.py (the configuration lives in the database), the
dataset's CSV through `medsec patient import` (timed: under 30 s per 100k),
the dataset's appointments by bench/apptgen.py's medsec-pg side (put_many, a
month per transaction; timed), then `medsec check` (timed). The reference is
a copy of the dataset's SQLite file taken at the build, so the bookings and
patients added here and those of the data-directory part never meet.

Then the data-directory part's commands, fresh processes interleaved with the
reference, medians, answers compared (a booking's id aside: the two stores
count from different histories), as users run them on PostgreSQL: through the
agent (medsec.agent, started before the timing); the targets are theirs. Then
CLIENTS clients booking at once (through the agent), each from a launcher of
its own, its own provider's free slots for patients free that day, one
`medsec appt book` process after another: throughput and latency percentiles;
each booking must be made or cleanly refused (exit 1, one line). Last, the same
commands each in a process of its own (MEDSEC_AGENT=off), without targets: what
the agent saves.
"""

import contextlib
import dataclasses
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import appt_bench
from harness import BENCH, MEDSEC, Case, Dataset, Launcher, Run, Target, free_starts, measure, once_row, timing

PG_VERSION = 1  # bump when what the PostgreSQL build writes changes
DATABASE = "medsec_bench"
IMPORT_MS_PER_100K = 30_000
TARGETS = {("patient", "show"): 150, ("patient", "find"): 150, ("appt", "day"): 150, ("appt", "book"): 150,
           ("appt", "slots"): 200}  # ms; the other commands are timed without a target
CLIENTS = 16
BOOKINGS_PER_CLIENT = 10
CONCURRENT_FROM = appt_bench.BOOK_DAYS + 14  # days after the bench day: clear of the booking case's slots
CONCURRENT_DAYS = 56


def _pg() -> Any:
    """tests/helpers/pg.py, imported as the tests import it (tests/ on the path)."""
    tests = os.path.join(os.path.dirname(BENCH), "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from helpers import pg  # type: ignore[import-not-found]  # tests/ joins the path above

    return pg


def unavailable() -> str | None:
    """Why this part cannot run here (one line), or None."""
    try:
        pg = _pg()
    except ImportError as e:
        return f"tests/helpers/pg.py cannot be imported ({e})"
    return pg.require_postgres()


def kept_server(bindir: Path, datadir: Path) -> Any:
    """A test server whose data directory outlives the run (the build is reused): durable, and
    stopped with a checkpoint (fast shutdown) so the next start needs no recovery."""
    pg = _pg()

    class KeptServer(pg.PgServer):  # type: ignore[name-defined]  # pg: imported at run time
        def __init__(self) -> None:
            super().__init__(bindir, durable=True)
            self.datadir = datadir  # not in the throwaway directory, which close() removes

        def close(self) -> None:
            if self.running:
                with contextlib.suppress(pg.PgServerError, OSError, subprocess.SubprocessError):
                    self.stop()
            super().close()

    return KeptServer()


# -- the build ----------------------------------------------------------------------------------
def reset(pgdata: Dataset) -> Path:
    """An empty folder for the build; its cluster directory owned by whoever runs the server."""
    shutil.rmtree(pgdata.folder, ignore_errors=True)
    cluster = Path(pgdata.folder) / "cluster"
    cluster.mkdir(parents=True)
    os.chmod(cluster, 0o700)
    if os.geteuid() == 0:  # the server runs as `postgres` (tests/helpers/pg.py)
        import pwd

        owner = pwd.getpwnam("postgres")
        os.chown(cluster, owner.pw_uid, owner.pw_gid)
    return cluster


def build(data: Dataset, pgdata: Dataset, launcher: Launcher, url: str, wanted: dict) -> None:
    """The reference's copy, then init, providers, the import and the appointments, then check."""
    base = data.meta["appointments"]
    count, patients = base["count"], data.meta["patients"]
    print(f"postgresql: building {patients:,} patients and {count:,} appointments in {pgdata.folder} ...",
          flush=True)
    shutil.copyfile(data.db, pgdata.db)
    launcher.checked([MEDSEC, "init", "--security", "open"])
    print(f"postgresql: adding {len(base['providers'])} providers (CLI) ...", flush=True)
    ids, staff = appt_bench.add_providers(launcher, len(base["providers"]))
    if ids != base["providers"]:
        sys.exit(f"bench: the PostgreSQL store's providers are {ids[:3]}..., the dataset's {base['providers'][:3]}...")
    print("postgresql: patient import (timed once) ...", flush=True)
    imported = launcher.checked([MEDSEC, "patient", "import", data.csv, "--json"])
    if json.loads(imported.out)["imported"] != patients:
        sys.exit(f"bench: the PostgreSQL import did not import {patients} patients: {imported.out!r}")
    print(f"postgresql: writing {count:,} appointments (timed once) ...", flush=True)
    with open(os.path.join(data.folder, "appointments.json")) as f:
        spec = {**json.load(f), "home": pgdata.home, "url": url, "db": ""}
    built, written = appt_bench.generate(launcher, "medsec-pg", spec, pgdata.folder)
    if (built["first_id"], built["last_id"]) != ("A1", f"A{count}"):
        sys.exit(f"bench: the PostgreSQL store holds other appointments than the dataset's: {built}")
    print("postgresql: medsec check (timed once) ...", flush=True)
    check = launcher.spawn([MEDSEC, "check", "--json"])
    if check.exit_code != 0:
        sys.exit(f"bench: medsec check found problems in the PostgreSQL build:\n{check.out.decode()[:2000]}"
                 f"{check.err.decode()[:2000]}")
    pgdata.meta = {
        **wanted, "built": time.strftime("%Y-%m-%d %H:%M:%S"),
        "queries": data.meta["queries"], "patients": patients,
        "appointments": {"count": count, "providers": ids, "first_day": base["first_day"],
                         "last_day": base["last_day"]},
        "imports": {"medsec": timing(imported), "ref": data.meta["imports"]["ref"]},
        "builds": {"medsec": written, "ref": base["builds"]["ref"]},
        "staff_cli": staff, "check": timing(check),
    }
    pgdata.save()


def point_at(pgdata: Dataset, url: str) -> None:
    """The terminal's folder names the server where it listens this run (its socket moves)."""
    from medsec.store.api import StoreLocation, write_pointer

    write_pointer(pgdata.home, StoreLocation(url))


def build_rows(meta: dict) -> list[dict]:
    """The once-timed parts of the build."""
    n, count = meta["patients"], meta["appointments"]["count"]
    providers = len(meta["appointments"]["providers"])
    imported = once_row(f"pg: patient import {n:,} rows (once; ref: executemany)", meta["imports"],
                        Target(max_ms=IMPORT_MS_PER_100K * n / 100_000))
    imported["measured"] = meta["built"]
    return [
        imported,
        once_row(f"pg: {providers} providers: staff add + staff hours (once, {2 * providers} CLI runs)",
                 {"medsec": meta["staff_cli"]}),
        once_row(f"pg: write {count:,} appointments (once; put_many by month / executemany)", meta["builds"]),
        once_row(f"pg: medsec check at {count:,} appointments (once)", {"medsec": meta["check"]}),
    ]


# -- the measured commands --------------------------------------------------------------------
def same_booking(medsec_out: bytes, ref_out: bytes) -> bool:
    """The same visit booked (patient, provider, type, times, status); ids differ by history."""
    keys = ["patient_id", "provider", "type", "start", "end", "status"]
    medsec, ref = json.loads(medsec_out), json.loads(ref_out)
    return [medsec[k] for k in keys] == [ref[k] for k in keys]


# How the part's commands run: through the agent (medsec.agent: a PostgreSQL store's default),
# the targets' case; and each in a process of its own (MEDSEC_AGENT=off), timed without a target.
THROUGH_AGENT, ON_ITS_OWN = "pg", "pg, MEDSEC_AGENT=off"


def pg_cases(measured: list[Case], how: str) -> list[Case]:
    """The data-directory part's cases, named for this part; with this part's targets when
    they run as users' commands do (through the agent)."""
    out = []
    for case in measured:
        argv = case.medsec(0)
        command = (argv[1], argv[2] if len(argv) > 2 else "")
        if command[0].startswith("-"):
            continue  # --version touches no store
        ms = TARGETS.get(command)
        same = same_booking if command == ("appt", "book") else case.same_answer
        target = Target(ms) if ms and how == THROUGH_AGENT else None
        out.append(dataclasses.replace(case, name=f"{how}: {case.name}", target=target, same_answer=same))
    return out


def close(store: Any) -> None:
    """Let go of a store's connection (PostgreSQL's; a data directory holds none)."""
    getattr(store, "close", lambda: None)()


# -- concurrent bookings ----------------------------------------------------------------------


def booking_plans(pgdata: Dataset, launcher: Launcher, url: str, seed: int) -> list[list[list[str]]]:
    """Each client's `medsec appt book` commands: its own provider, a patient free that day each."""
    from medsec.store.api import open_store
    from medsec.store.catalog import APPOINTMENTS

    first = appt_bench.bench_day(date.today()) + timedelta(days=CONCURRENT_FROM)
    providers = pgdata.meta["appointments"]["providers"][1:1 + CLIENTS]
    starts = {p: free_starts(launcher, p, appt_bench.TYPE, first, CONCURRENT_DAYS, BOOKINGS_PER_CLIENT,
                             remedy="use --rebuild") for p in providers}
    rng = random.Random(seed)
    last_patient = pgdata.meta["patients"] - 1  # the last one is the booking case's
    store = open_store(pgdata.home, url)
    try:
        view = store.snapshot()
        busy: dict[str, set[str]] = {}
        plans = []
        for provider in providers:
            plan = []
            for at in starts[provider]:
                day = at[:10]
                if day not in busy:
                    busy[day] = {str(a.get("patient_id")) for a in view.day(APPOINTMENTS, day)}
                patient = f"P{rng.randint(1, last_patient)}"
                while patient in busy[day]:
                    patient = f"P{rng.randint(1, last_patient)}"
                busy[day].add(patient)
                plan.append([MEDSEC, "appt", "book", patient, "--provider", provider, "--at", at,
                             "--type", appt_bench.TYPE, "--json"])
            plans.append(plan)
    finally:
        close(store)
    return plans


def run_clients(env: dict, plans: list[list[list[str]]]) -> tuple[list[Run], float]:
    """Every client's bookings, the clients all at once: each run, and the wall seconds of all."""
    launchers = [Launcher(env) for _ in plans]
    results: list[list[Run]] = [[] for _ in plans]
    gate = threading.Barrier(len(plans) + 1)

    def client(k: int) -> None:
        gate.wait()
        for argv in plans[k]:
            results[k].append(launchers[k].spawn(argv))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(len(plans))]
    try:
        for thread in threads:
            thread.start()
        gate.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
    finally:
        for launcher in launchers:
            launcher.__exit__(None, None, None)
    return [run for runs in results for run in runs], wall


def outcome(run: Run) -> str:
    """booked, refused (exit 1 with one `medsec: error:` line) or failed (anything else)."""
    lines = run.err.decode(errors="replace").strip().splitlines()
    if run.exit_code == 0:
        return "booked"
    if run.exit_code == 1 and len(lines) == 1 and lines[0].startswith("medsec: error:"):
        return "refused"
    return "failed"


def verify(pgdata: Dataset, url: str, runs: list[Run]) -> list[str]:
    """What is wrong with the bookings reported made: each stored, once, as printed."""
    from medsec.store.api import open_store
    from medsec.store.catalog import APPOINTMENTS

    printed = [json.loads(r.out) for r in runs if r.exit_code == 0]
    ids = [p["id"] for p in printed]
    problems = [f"{len(ids) - len(set(ids))} ids handed out twice"] if len(set(ids)) != len(ids) else []
    store = open_store(pgdata.home, url)
    try:
        stored = {a["id"]: a for a in store.snapshot().get_many(APPOINTMENTS, ids)}
    finally:
        close(store)
    for p in printed:
        kept = stored.get(p["id"])
        if kept is None or [kept[k] for k in ("patient_id", "provider", "start")] != \
                [p[k] for k in ("patient_id", "provider", "start")]:
            problems.append(f"{p['id']} is not stored as printed")
    return problems


def concurrent_row(pgdata: Dataset, launcher: Launcher, env: dict, url: str, seed: int) -> dict:
    """CLIENTS clients booking at once: throughput, latency percentiles, outcomes."""
    plans = booking_plans(pgdata, launcher, url, seed)
    print(f"postgresql: {CLIENTS} clients x {BOOKINGS_PER_CLIENT} bookings at once ...", flush=True)
    runs, wall = run_clients(env, plans)
    outcomes = [outcome(r) for r in runs]
    counts = {name: outcomes.count(name) for name in ("booked", "refused", "failed")}
    problems = verify(pgdata, url, runs)
    failures = sorted({r.err.decode(errors="replace").strip().splitlines()[0][:200] if r.err.strip()
                       else f"exit {r.exit_code}" for r, o in zip(runs, outcomes, strict=True) if o != "booked"})
    ms = sorted(r.ms for r in runs)
    p95 = statistics.quantiles(ms, n=20, method="inclusive")[18] if len(ms) > 1 else ms[0]
    return {
        "command": f"pg: {CLIENTS} clients booking at once, {BOOKINGS_PER_CLIENT} each (fresh processes; p50)",
        "medsec": {"median_ms": statistics.median(ms), "p95_ms": p95, "max_ms": ms[-1],
                   "peak_rss_mb": max(r.rss_mb for r in runs), "runs_ms": [round(r.ms, 1) for r in runs]},
        "ratio": None, "target": "each made or refused",
        "result": "PASS" if counts["failed"] == 0 and not problems else "FAIL",
        "concurrent": {"clients": CLIENTS, "bookings": len(runs), **counts, "wall_s": round(wall, 2),
                       "throughput_per_s": round(counts["booked"] / wall, 2), "p50_ms": round(ms[len(ms) // 2], 1),
                       "p95_ms": round(p95, 1), "max_ms": round(ms[-1], 1), "messages": failures,
                       "problems": problems},
    }


def describe_concurrent(row: dict) -> str:
    """One line on the concurrent bookings, for the report."""
    c = row["concurrent"]
    line = (f"concurrent booking on PostgreSQL: {c['clients']} clients, {c['bookings']} bookings in "
            f"{c['wall_s']:.1f} s: {c['booked']} booked, {c['refused']} refused, {c['failed']} failed; "
            f"{c['throughput_per_s']:.1f} bookings/s; latency p50 {c['p50_ms']:.0f} ms, p95 {c['p95_ms']:.0f} ms, "
            f"max {c['max_ms']:.0f} ms")
    for text in c["messages"] + c["problems"]:
        line += f"\n  {text}"
    return line


# -- the part -----------------------------------------------------------------------------------
def measure_part(data: Dataset, runs: int, seed: int, rebuild: bool, storage: str,
                 patient_cases: Callable[[Dataset], list[Case]]) -> tuple[list[dict], dict]:
    """The PostgreSQL rows (build, commands, concurrent bookings) and the build's meta;
    no rows (and a line saying why) when no PostgreSQL server can be run here."""
    reason = unavailable()
    if reason:
        print(f"postgresql: skipped: {reason}", flush=True)
        return [], {"skipped": reason}
    pg = _pg()
    bindir = pg.find_bindir()
    pgdata = Dataset(os.path.join(data.folder, "pg"))
    wanted = {"version": PG_VERSION, "patients": data.meta["patients"], "seed": seed,
              "dataset_built": data.meta["built"], "appointments_built": data.meta["appointments"]["built"],
              "storage": storage, "server": str(bindir)}
    fresh = rebuild or not pgdata.load(wanted)
    cluster = reset(pgdata) if fresh else Path(pgdata.folder) / "cluster"
    server = kept_server(bindir, cluster)
    try:
        if fresh:
            server.init()
        server.start()
        if fresh:
            server.create_database(DATABASE)
        url = server.url(DATABASE)
        runtime = tempfile.mkdtemp(prefix="medsec-bench-agent-")  # the bench's own agent (MEDSEC_AGENT)
        env = {**pgdata.env, "MEDSEC_STORE": url, "XDG_RUNTIME_DIR": runtime, "MEDSEC_AGENT": "off"}
        with Launcher(env) as launcher, Launcher({**env, "MEDSEC_AGENT": "auto"}) as agent:
            if fresh:
                build(data, pgdata, launcher, url, wanted)
            else:
                point_at(pgdata, url)
            print(f"postgresql: {server.bindir.parent.name} at {server.socket_dir} (fsync on), "
                  f"store {pgdata.folder}\n", flush=True)
            agent.checked([MEDSEC, "agent", "start"])
            try:
                rows = [measure(case, agent, runs) for case in pg_cases(
                    patient_cases(pgdata) + appt_bench.cases(pgdata, launcher, runs), THROUGH_AGENT)]
                rows.append(concurrent_row(pgdata, launcher, {**env, "MEDSEC_AGENT": "auto"}, url, seed))
                rows += [measure(case, launcher, runs) for case in pg_cases(
                    patient_cases(pgdata) + appt_bench.cases(pgdata, launcher, runs), ON_ITS_OWN)]
            finally:
                launcher.spawn([MEDSEC, "agent", "stop"])  # (MEDSEC_AGENT only routes commands)
                shutil.rmtree(runtime, ignore_errors=True)
    finally:
        server.close()
    return rows + build_rows(pgdata.meta), pgdata.meta
