"""`make bench`: medsec's fresh-process latency and peak memory, next to SQLite.

Builds a synthetic practice (default 100k patients; bench/datagen.py) in
bench/.data/p<N>/, imports it with `medsec patient import` and with the
reference CLI (bench/ref_cli.py: click + sqlite3 + orjson over an indexed
SQLite file), timing each import once, and reuses it while the scale and
seed match. Then runs each command as a fresh process: one warm-up, then
--runs timed runs, medsec and reference alternating so that machine noise
hits both alike. Peak memory is each child's ru_maxrss from os.wait4, taken
by bench/launcher.py (see there why). Prints a table with PASS/FAIL against
the targets and writes everything to bench/results/latest.json.

Then the calendar (bench/appt_bench.py): providers added with `medsec
staff`, --appointments (default 1M) over 24 months written by
bench/apptgen.py into both stores, `medsec check`; day sheet, free slots,
booking and a patient's list timed like the patient commands. Then the
reminders (bench/remind_bench.py): one `medsec remind send` of 1,000 due
reminders to a loopback SMTP server, in a small data directory of its own,
and one of 1,000 letter reminders printed as one PDF batch.
Then billing (bench/billing_bench.py): `medsec claim batch` of 10,000 claims
to one 837P (judged by pyx12) and `medsec claim post-remit` of an 835
answering 1,000 of them, in a data directory of its own.

Then PostgreSQL (bench/pg_bench.py): a server of its own (fsync on) holding
the same patients (imported with `medsec patient import`, timed) and the same
appointments, kept in bench/.data/p<N>/pg/ between runs; the same commands
timed against a copy of the reference, and 16 clients booking at once
(throughput, p95 latency). Skipped, with the reason, where no PostgreSQL
server can be run.

Then signing in (bench/security_bench.py): a practice of its own (10,000
patients, 100,000 appointments) copied twice, one copy open and one switched
to signed-in; `medsec login` timed (under 1 s), and `patient show`, `appt
day`, `appt book` timed in both copies alternately (signed-in at most 1.1x
open).

Then encryption at rest (bench/atrest_bench.py): two signed-in copies of this
scale's practice, one encrypted with `medsec encrypt` (timed); `patient show`,
`patient find`, `appt day`, `appt book` timed in both alternately (encrypted
under 150 ms and at most 1.3x plain), and the audit log's append alone.

    make bench                                  # 100k patients, 1M appointments
    make bench BENCH_ARGS="--patients 2000 --appointments 20000"     # a quick run
    .venv/bin/python bench/run.py [--patients N] [--appointments N] [--runs 7] [--seed S]
        [--rebuild] [--skip-appointments] [--skip-reminders] [--skip-billing] [--skip-postgresql]
        [--skip-security] [--skip-atrest] [--only billing|reminders|postgresql|security|atrest|dictation|intake]
"""

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time

import appt_bench
import atrest_bench
import billing_bench
import pg_bench
import remind_bench
import security_bench
from datagen import CLUSTER, COLUMNS, write_csv
from harness import (
    BENCH,
    DATA,
    MEDSEC,
    PYTHON,
    REF,
    Case,
    Dataset,
    Launcher,
    Target,
    letters,
    measure,
    once_row,
    timing,
)

RESULTS = os.path.join(BENCH, "results", "latest.json")
DATA_VERSION = 4  # bump when datagen.py, apptgen.py or the reference schema change what is built
IMPORT_MS_PER_100K = 30_000
STORAGE_CODE = ["medsec/store", "medsec/store/catalog.py"]  # data written by other code is rebuilt


def build(data: Dataset, launcher: Launcher, wanted: dict) -> None:
    """Generate the CSV, then import it into medsec and the reference, timing each once."""
    patients = wanted["patients"]
    shutil.rmtree(data.folder, ignore_errors=True)
    os.makedirs(data.folder)
    data.meta = dict(wanted, built=time.strftime("%Y-%m-%d %H:%M:%S"), built_from=source_version())
    print(f"building {patients:,} synthetic patients in {data.folder} ...", flush=True)
    data.meta["queries"] = write_csv(data.csv, patients, wanted["seed"])
    launcher.checked([MEDSEC, "--data-dir", data.home, "init", "--security", "open"])
    print("importing (timed once: medsec, then the reference) ...", flush=True)
    imports = {
        "medsec": launcher.checked([MEDSEC, "patient", "import", data.csv, "--json"]),
        "ref": launcher.checked([PYTHON, REF, "--db", data.db, "import", data.csv]),
    }
    for name, run in imports.items():
        if json.loads(run.out)["imported"] != patients:
            sys.exit(f"bench: {name} import did not import {patients} patients: {run.out!r}")
    data.meta["imports"] = {name: timing(run) for name, run in imports.items()}
    data.save()


# -- patient cases ----------------------------------------------------------------
def same_records(medsec_out: bytes, ref_out: bytes) -> bool:
    """Both printed the same patients (a list or one object), in the same order.

    Compared on the id and the imported columns (medsec adds fields of its own).
    """
    def rows(out: bytes) -> list[list]:
        data = json.loads(out)
        records = data if isinstance(data, list) else [data]
        return [[r["id"]] + [r[c] for c in COLUMNS] for r in records]

    return rows(medsec_out) == rows(ref_out)


def cases(data: Dataset) -> list[Case]:
    """The measured patient commands at this scale."""
    q = data.meta["queries"]
    show_id = f"P{data.meta['patients'] // 2}"
    token = random.SystemRandom().getrandbits(40)  # added patients differ from earlier benches'

    def add_args(i: int) -> list[str]:
        return ["--first", f"Bench{letters(token)}", "--last", f"Added{letters(i)}",
                "--dob", "1980-05-17", "--sex", "F", "--phone", "617-555-0142",
                "--email", "bench.added@example.com", "--address", "1 Benchmark Way",
                "--city", "Boston", "--state", "MA", "--zip", "02115"]

    ref = [PYTHON, REF, "--db", data.db]

    def find(label: str, word: str, target: Target | None) -> Case:
        return Case(label, lambda i: [MEDSEC, "patient", "find", word, "--json"],
                    lambda i: ref + ["find", word], target, same_records)

    return [
        Case("--version  (ref: python -c 'import click')", lambda i: [MEDSEC, "--version"],
             lambda i: [PYTHON, "-c", "import click"], Target(max_ratio=1.5)),
        find(f"patient find {q['rare']} (rare, {q['rare_hits']} hits)", q["rare"], Target(150, 1.5)),
        find(f"patient find {q['clustered']} (rare in the {CLUSTER}- cluster, {q['clustered_hits']} hits)",
             q["clustered"], Target(150, 1.5)),
        find(f"patient find {q['common']} (common, {q['common_hits']:,} hits)", q["common"], Target(150, 1.5)),
        Case(f"patient show {show_id}", lambda i: [MEDSEC, "patient", "show", show_id, "--json"],
             lambda i: ref + ["show", show_id], Target(150, 1.5), same_records),
        Case("patient add (new patient each run)",
             lambda i: [MEDSEC, "patient", "add", *add_args(i), "--json"],
             lambda i: ref + ["add", *add_args(i)], Target(150, 1.5)),
    ]


def import_row(data: Dataset) -> dict:
    """The imports timed when the data was built (once each)."""
    n = data.meta["patients"]
    row = once_row(f"patient import {n:,} rows (once; ref: executemany)", data.meta["imports"],
                   Target(max_ms=IMPORT_MS_PER_100K * n / 100_000))
    row["measured"] = data.meta["built"]
    return row


# -- reporting ----------------------------------------------------------------------
def source_version() -> str:
    """The medsec checkout measured: `git describe --always --dirty`."""
    try:
        done = subprocess.run(["git", "-C", os.path.dirname(BENCH), "describe", "--always", "--dirty"],
                              capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


def machine() -> dict:
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "medsec_source": source_version(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def print_table(rows: list[dict]) -> None:
    headers = ["command", "medsec ms", "ref ms", "ratio", "medsec RSS MB", "ref RSS MB", "target",
               "result"]

    def ref(r: dict, key: str, form: str) -> str:
        return format(r["ref"][key], form) if "ref" in r else "-"

    body = [[r["command"], f"{r['medsec']['median_ms']:,.0f}", ref(r, "median_ms", ",.0f"),
             f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-", f"{r['medsec']['peak_rss_mb']:.0f}",
             ref(r, "peak_rss_mb", ".0f"), r["target"], r.get("result", "")] for r in rows]
    widths = [max(len(str(line[i])) for line in [headers] + body) for i in range(len(headers))]
    for line in [headers, ["-" * w for w in widths]] + body:
        cells = [str(c).ljust(w) if i == 0 else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(line, widths, strict=True))]
        print("  ".join(cells).rstrip())


def write_results(report: dict) -> None:
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")


def storage_digest() -> str:
    """A digest of medsec's storage code (STORAGE_CODE): data written by other code may read differently."""
    root = os.path.dirname(BENCH)
    digest = hashlib.sha256()
    for rel in STORAGE_CODE:
        path = os.path.join(root, rel)
        names = sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith(".py")) \
            if os.path.isdir(path) else [path]
        for name in names:
            with open(name, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()[:16]


def schema_version() -> int:
    """The data directory schema this medsec writes (another one is refused by every command)."""
    from medsec.config import SCHEMA_VERSION

    return SCHEMA_VERSION


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="medsec latency and memory against an indexed SQLite.")
    parser.add_argument("--patients", type=int, default=100_000, help="scale (default: 100000)")
    parser.add_argument("--appointments", type=int, default=1_000_000,
                        help="appointments over 24 months (default: 1000000)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command (default: 7)")
    parser.add_argument("--seed", type=int, default=20261126, help="data generator seed")
    parser.add_argument("--rebuild", action="store_true", help="regenerate and re-import the data")
    parser.add_argument("--skip-appointments", action="store_true",
                        help="no appointment build and no calendar commands")
    parser.add_argument("--skip-reminders", action="store_true", help="no reminder run")
    parser.add_argument("--skip-billing", action="store_true", help="no claim batch and remittance posting")
    parser.add_argument("--skip-postgresql", action="store_true", help="no PostgreSQL part")
    parser.add_argument("--skip-security", action="store_true", help="no sign-in part")
    parser.add_argument("--skip-atrest", action="store_true", help="no encryption-at-rest part")
    parser.add_argument("--only", choices=["billing", "reminders", "postgresql", "security", "atrest", "dictation",
                                             "intake"],
                        default=None,
                        help="run only this part (billing, reminders: their own small data directory; "
                             "postgresql: the dataset's CSV and reference, built when missing, --rebuild "
                             "rebuilding only the PostgreSQL store; security: its own practice, --rebuild "
                             "rebuilding only it; dictation: the offline transcriber's accuracy and speed "
                             "on the test dictations; intake: packets, imports, the kiosk and check-in "
                             "on the demo practice)")
    args = parser.parse_args()
    if args.patients < 1000 or args.runs < 1:
        parser.error("--patients must be at least 1000 and --runs at least 1")
    most = appt_bench.max_appointments(args.patients)
    if (not args.skip_appointments or args.only == "postgresql") and not 1000 <= args.appointments <= most:
        parser.error(f"--appointments must be from 1000 to {most:,} for {args.patients:,} patients "
                     f"(a patient is booked at most once a day); or --skip-appointments")
    return args


def prepare(data: Dataset, launcher: Launcher, args: argparse.Namespace) -> None:
    """The dataset at this scale: reused while it matches, else (re)built."""
    wanted = {"patients": args.patients, "seed": args.seed, "version": DATA_VERSION,
              "storage": storage_digest(), "schema": schema_version()}
    with_appointments = not args.skip_appointments
    reusable = not args.rebuild and data.load(wanted)
    if reusable and with_appointments and "appointments" in data.meta:
        # appointments cannot be taken out again: other ones need a fresh dataset
        reusable = appt_bench.is_current(data.meta, args.appointments, args.seed)
    if not reusable:
        build(data, launcher, wanted)
    if with_appointments and "appointments" not in data.meta:
        appt_bench.build(data, launcher, args.appointments, args.seed)


def print_rows(rows: list[dict]) -> list[str]:
    """The table, each disagreement with the reference, and the reminder and concurrency lines;
    the commands whose answers disagreed."""
    print_table(rows)
    disagree = [r["command"] for r in rows if r.get("same_answer") is False]
    for name in disagree:
        print(f"MISMATCH: medsec and the reference gave different answers for {name}")
    for r in rows:
        if "received" in r:
            print(f"\nreminders: {r['sent']:,} sent, {r['received']:,} received by the SMTP server, "
                  f"exit code {r['exit_code']}")
        if "concurrent" in r:
            print("\n" + pg_bench.describe_concurrent(r))
    return disagree


def report(rows: list[dict], data: Dataset, info: dict) -> int:
    """The table and notes; 1 when medsec and the reference disagreed anywhere."""
    disagree = print_rows(rows)
    print_checks(rows)
    print(f"\nimport timed when the data was built ({data.meta['built']}, "
          f"medsec {data.meta['built_from']}); --rebuild re-times it")
    if "appointments" in data.meta:
        built = data.meta["appointments"]
        print(f"appointments: {built['count']:,} from {built['first_day']} to {built['last_day']}, "
              f"{len(built['providers'])} providers, written {built['built']}")
    print(f"load at the start: {info['loadavg_start']}, at the end: {info['loadavg_end']}")
    return 1 if disagree else 0


def standalone(part: str, args: argparse.Namespace, info: dict) -> int:
    """`--only billing|reminders`: that part alone, in its own data directory."""
    rows = billing_bench.measure(args.seed) if part == "billing" else \
        [remind_bench.measure(args.seed), remind_bench.measure_letters(args.seed)]
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print_table(rows)
    print_checks(rows)
    print(f"load at the start: {info['loadavg_start']}, at the end: {info['loadavg_end']}")
    write_results({"machine": info, "args": vars(args), "rows": rows})
    print(f"results: {os.path.relpath(RESULTS)}")
    return 1 if any(r.get("result") == "FAIL" for r in rows) else 0


def postgresql_only(args: argparse.Namespace, info: dict) -> int:
    """`--only postgresql`: that part on this scale's dataset (its CSV and reference), which is
    built first when missing; its data directory's storage code need not be current."""
    data = Dataset(os.path.join(DATA, f"p{args.patients}"))
    base = {"patients": args.patients, "seed": args.seed, "version": DATA_VERSION}
    if not (data.load(base) and appt_bench.is_current(data.meta, args.appointments, args.seed)):
        with Launcher(data.env) as launcher:
            prepare(data, launcher, argparse.Namespace(**{**vars(args), "rebuild": False,
                                                          "skip_appointments": False}))
    rows, meta = pg_bench.measure_part(data, args.runs, args.seed, args.rebuild, storage_digest(), cases)
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    disagree = print_rows(rows)
    print(f"load at the start: {info['loadavg_start']}, at the end: {info['loadavg_end']}")
    write_results({"machine": info, "args": vars(args), "data": data.meta, "postgresql": meta, "rows": rows})
    print(f"results: {os.path.relpath(RESULTS)}")
    broken = any(r.get("result") == "FAIL" for r in rows if "concurrent" in r)
    return 1 if disagree or broken else 0


def security_only(args: argparse.Namespace, info: dict) -> int:
    """`--only security`: the sign-in part alone, on its own practice (--rebuild rebuilds only that)."""
    rows, meta = security_bench.measure(args.runs, args.seed, args.rebuild, security_wanted())
    return part_report(args, info, "security", rows, meta, security_bench.describe(meta))


def atrest_only(args: argparse.Namespace, info: dict) -> int:
    """`--only atrest`: encryption at rest alone, on copies of this scale's practice."""
    rows, note = atrest_bench.measure(args.patients, max(args.runs, security_bench.MIN_RUNS))
    return part_report(args, info, "atrest", rows, note, atrest_bench.describe(note))


def dictation_only(args: argparse.Namespace, info: dict) -> int:
    """`--only dictation`: word error rate per dictation and voice (practice vs stock model),
    real-time factor and the model's build time (bench/dictation_bench.py)."""
    import dictation_bench

    return measured_part(args, info, "dictation", dictation_bench)


def intake_only(args: argparse.Namespace, info: dict) -> int:
    """`--only intake`: paper packets, the kiosk and the desk on the demo practice (bench/intake_bench.py)."""
    import intake_bench

    return measured_part(args, info, "intake", intake_bench)


def measured_part(args: argparse.Namespace, info: dict, part: str, bench) -> int:
    """A part that measures itself (`bench.measure()` -> rows, note; `bench.describe`): its table,
    the load and its results file."""
    rows, note = bench.measure()
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(bench.describe(rows, note))
    print(f"load at the start: {info['loadavg_start']}, at the end: {info['loadavg_end']}")
    write_results({"machine": info, "args": vars(args), part: note, "rows": rows})
    print(f"results: {os.path.relpath(RESULTS)}")
    return 0


def part_report(args: argparse.Namespace, info: dict, part: str, rows: list[dict], note: dict, notes: str) -> int:
    """One part's table, its notes and results file; 1 when medsec and the reference disagreed."""
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    disagree = print_rows(rows)
    print("\n" + notes)
    print(f"load at the start: {info['loadavg_start']}, at the end: {info['loadavg_end']}")
    write_results({"machine": info, "args": vars(args), part: note, "rows": rows})
    print(f"results: {os.path.relpath(RESULTS)}")
    return 1 if disagree else 0


def security_wanted() -> dict:
    """What the sign-in part's practice must have been built with, besides its own settings."""
    return {"storage": storage_digest(), "schema": schema_version()}


def print_checks(rows: list[dict]) -> None:
    """What each billing row verified about its output (pyx12, counts, totals)."""
    for r in rows:
        if "checks" in r:
            print(f"{r['command']}: " + ", ".join(f"{k} {v}" for k, v in r["checks"].items()))


def only(args: argparse.Namespace, info: dict) -> int:
    """`--only PART`: that part alone."""
    if args.only == "postgresql":
        return postgresql_only(args, info)
    if args.only == "security":
        return security_only(args, info)
    if args.only == "atrest":
        return atrest_only(args, info)
    if args.only == "dictation":
        return dictation_only(args, info)
    if args.only == "intake":
        return intake_only(args, info)
    return standalone(args.only, args, info)


def trust_parts(args: argparse.Namespace, rows: list[dict]) -> tuple[dict, dict]:
    """Signing in and encryption at rest: their rows added to `rows`; their notes ({} when skipped)."""
    security: dict = {}
    if not args.skip_security:
        security_rows, security = security_bench.measure(args.runs, args.seed, False, security_wanted())
        rows += security_rows
    atrest: dict = {}
    if not args.skip_atrest and not args.skip_appointments:
        atrest_rows, atrest = atrest_bench.measure(args.patients, max(args.runs, security_bench.MIN_RUNS))
        rows += atrest_rows
    return security, atrest


def main() -> int:
    args = parse_args()
    info = machine()
    print(f"machine: {info['nproc']} cpus, python {info['python']}, {info['platform']}, "
          f"load {info['loadavg_start']}; medsec {info['medsec_source']}")
    if args.only:
        return only(args, info)
    data = Dataset(os.path.join(DATA, f"p{args.patients}"))
    with Launcher(data.env) as launcher:
        prepare(data, launcher, args)
        floor = [launcher.checked([PYTHON, "-c", "pass"]) for _ in range(args.runs)]
        print(f"medsec: {MEDSEC}\ndata: {data.folder} ({args.patients:,} patients)")
        print(f"python -c pass: {statistics.median(r.ms for r in floor):.0f} ms, "
              f"{max(r.rss_mb for r in floor):.0f} MB; runs per command: 1 warm-up + {args.runs} "
              f"(median ms, peak RSS)\n", flush=True)
        measured = cases(data)
        if not args.skip_appointments:
            measured += appt_bench.cases(data, launcher, args.runs)
        rows = [measure(case, launcher, args.runs) for case in measured] + [import_row(data)]
    postgresql: dict = {}
    if not args.skip_appointments:
        rows += appt_bench.build_rows(data.meta)
        if not args.skip_postgresql:
            pg_rows, postgresql = pg_bench.measure_part(data, args.runs, args.seed, args.rebuild,
                                                        storage_digest(), cases)
            rows += pg_rows
    elif not args.skip_postgresql:
        print("postgresql: skipped: it times the calendar too (leave out --skip-appointments)")
    if not args.skip_reminders:
        rows += [remind_bench.measure(args.seed), remind_bench.measure_letters(args.seed)]
    if not args.skip_billing:
        rows += billing_bench.measure(args.seed)
    security, atrest = trust_parts(args, rows)
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    code = report(rows, data, info)
    if security:
        print(security_bench.describe(security))
    if atrest:
        print(atrest_bench.describe(atrest))
    write_results({"machine": info, "args": vars(args), "data": data.meta, "postgresql": postgresql,
                   "security": security, "atrest": atrest, "rows": rows})
    print(f"results: {os.path.relpath(RESULTS)}")
    return code


if __name__ == "__main__":
    sys.exit(main())
