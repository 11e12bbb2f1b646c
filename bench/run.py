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

    make bench                                  # 100k patients
    make bench BENCH_ARGS="--patients 2000"     # a quick run
    .venv/bin/python bench/run.py [--patients N] [--runs 7] [--seed S] [--rebuild]
"""

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

from datagen import COLUMNS, write_csv

BENCH = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(BENCH, ".data")
RESULTS = os.path.join(BENCH, "results", "latest.json")
PYCACHE = os.path.join(DATA, "pycache")
PYTHON = sys.executable
MEDSEC = os.path.join(os.path.dirname(PYTHON), "medsec")  # the console script users run
REF = os.path.join(BENCH, "ref_cli.py")
LAUNCHER = os.path.join(BENCH, "launcher.py")
DATA_VERSION = 2  # bump when datagen.py or the reference schema change what is built
IMPORT_MS_PER_100K = 30_000


# -- running one fresh process ------------------------------------------------
@dataclass
class Run:
    ms: float
    rss_mb: float
    exit_code: int
    out: bytes = field(repr=False)
    err: bytes = field(repr=False)


class Launcher:
    """Runs commands through bench/launcher.py, so peak RSS is the command's own."""

    def __init__(self, env: dict):
        self._tmp = tempfile.TemporaryDirectory(prefix="medsec-bench-")
        self._out = os.path.join(self._tmp.name, "stdout")
        self._err = os.path.join(self._tmp.name, "stderr")
        self._proc = subprocess.Popen([PYTHON, "-S", "-I", LAUNCHER, self._out, self._err], env=env,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def spawn(self, argv: list[str]) -> Run:
        """Run `argv` to completion: wall time, peak RSS, exit code and outputs."""
        self._proc.stdin.write("\0".join(argv) + "\n")
        self._proc.stdin.flush()
        answer = self._proc.stdout.readline()
        if not answer:
            sys.exit(f"bench: the launcher stopped while running {' '.join(argv)}")
        ms, rss_kib, code = answer.split()
        with open(self._out, "rb") as out, open(self._err, "rb") as err:
            return Run(float(ms), int(rss_kib) / 1024, int(code), out.read(), err.read())

    def checked(self, argv: list[str]) -> Run:
        """`spawn`, failing the benchmark with the command's stderr when it fails."""
        run = self.spawn(argv)
        if run.exit_code != 0:
            sys.exit(f"bench: {' '.join(argv)} exited {run.exit_code}:\n"
                     f"{run.err.decode(errors='replace')}")
        return run

    def __enter__(self) -> "Launcher":
        return self

    def __exit__(self, *exc) -> None:
        self._proc.stdin.close()
        self._proc.wait()
        self._tmp.cleanup()


# -- the data -----------------------------------------------------------------
@dataclass
class Dataset:
    """One scale's files: the CSV, medsec's data directory, the SQLite file."""

    folder: str
    meta: dict = field(default_factory=dict)

    @property
    def csv(self) -> str:
        return os.path.join(self.folder, "patients.csv")

    @property
    def home(self) -> str:
        return os.path.join(self.folder, "medsec")

    @property
    def db(self) -> str:
        return os.path.join(self.folder, "ref.sqlite3")

    @property
    def env(self) -> dict:
        """The commands' environment: this data, and bytecode caches as users have them.

        medsec is installed editable, so its .pyc files are written on first
        use; PYTHONDONTWRITEBYTECODE would make every run compile it again.
        """
        env = {**os.environ, "MEDSEC_HOME": self.home, "MEDSEC_USER": "bench",
               "PYTHONPYCACHEPREFIX": PYCACHE}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env

    def load(self, wanted: dict) -> bool:
        """Whether a complete dataset built with `wanted` settings is here (then loaded)."""
        try:
            with open(os.path.join(self.folder, "meta.json")) as f:
                meta = json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return False
        if "imports" not in meta or any(meta.get(k) != v for k, v in wanted.items()):
            return False
        self.meta = meta
        return True

    def save(self) -> None:
        with open(os.path.join(self.folder, "meta.json"), "w") as f:
            json.dump(self.meta, f, indent=2)


def build(data: Dataset, launcher: Launcher, wanted: dict) -> None:
    """Generate the CSV, then import it into medsec and the reference, timing each once."""
    patients = wanted["patients"]
    shutil.rmtree(data.folder, ignore_errors=True)
    os.makedirs(data.folder)
    data.meta = dict(wanted, built=time.strftime("%Y-%m-%d %H:%M:%S"), built_from=source_version())
    print(f"building {patients:,} synthetic patients in {data.folder} ...", flush=True)
    data.meta["queries"] = write_csv(data.csv, patients, wanted["seed"])
    launcher.checked([MEDSEC, "--data-dir", data.home, "init"])
    print("importing (timed once: medsec, then the reference) ...", flush=True)
    imports = {
        "medsec": launcher.checked([MEDSEC, "patient", "import", data.csv, "--json"]),
        "ref": launcher.checked([PYTHON, REF, "--db", data.db, "import", data.csv]),
    }
    for name, run in imports.items():
        if json.loads(run.out)["imported"] != patients:
            sys.exit(f"bench: {name} import did not import {patients} patients: {run.out!r}")
    data.meta["imports"] = {name: {"ms": run.ms, "rss_mb": run.rss_mb} for name, run in imports.items()}
    data.save()


# -- cases ----------------------------------------------------------------------
@dataclass
class Target:
    """A goal for one command: an absolute time and/or a ratio to the reference."""

    max_ms: float | None = None
    max_ratio: float | None = None

    def describe(self) -> str:
        parts = []
        if self.max_ms is not None:
            parts.append(f"<{self.max_ms / 1000:g} s" if self.max_ms >= 1000 else f"<{self.max_ms:g} ms")
        if self.max_ratio is not None:
            parts.append(f"<={self.max_ratio:g}x ref")
        return " & ".join(parts) or "-"

    def met(self, ms: float, ratio: float) -> bool:
        return ((self.max_ms is None or ms < self.max_ms)
                and (self.max_ratio is None or ratio <= self.max_ratio))


@dataclass
class Case:
    """One command, its reference, its target, and how to check they agree."""

    name: str
    medsec: Callable[[int], list[str]]  # run number -> argv (add needs a new patient each run)
    ref: Callable[[int], list[str]]
    target: Target | None = None
    same_answer: Callable[[bytes, bytes], bool] | None = None


def letters(n: int) -> str:
    """A number written in letters (0 'a', 1 'b', 26 'ba' ...): patient names may not hold digits."""
    out = ""
    while True:
        n, digit = divmod(n, 26)
        out = chr(ord("a") + digit) + out
        if n == 0:
            return out


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
    """The measured commands at this scale."""
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
        find(f"patient find {q['common']} (common, {q['common_hits']:,} hits)", q["common"], None),
        Case(f"patient show {show_id}", lambda i: [MEDSEC, "patient", "show", show_id, "--json"],
             lambda i: ref + ["show", show_id], Target(150, 1.5), same_records),
        Case("patient add (new patient each run)",
             lambda i: [MEDSEC, "patient", "add", *add_args(i), "--json"],
             lambda i: ref + ["add", *add_args(i)]),
    ]


# -- measuring --------------------------------------------------------------------
def measure(case: Case, launcher: Launcher, runs: int) -> dict:
    """One warm-up, then `runs` alternating medsec/reference runs; medians and peaks."""
    samples: dict[str, list[Run]] = {"medsec": [], "ref": []}
    for i in range(runs + 1):
        for side, argv in (("medsec", case.medsec(i)), ("ref", case.ref(i))):
            run = launcher.checked(argv)
            if i > 0:
                samples[side].append(run)
    row = summarize(case.name, samples, case.target)
    if case.same_answer is not None:
        row["same_answer"] = case.same_answer(samples["medsec"][-1].out, samples["ref"][-1].out)
    return row


def summarize(name: str, samples: dict[str, list[Run]], target: Target | None) -> dict:
    row: dict = {"command": name}
    for side, side_runs in samples.items():
        row[side] = {"median_ms": statistics.median(r.ms for r in side_runs),
                     "peak_rss_mb": max(r.rss_mb for r in side_runs),
                     "runs_ms": [round(r.ms, 1) for r in side_runs]}
    row["ratio"] = row["medsec"]["median_ms"] / row["ref"]["median_ms"]
    row["target"] = target.describe() if target else "-"
    if target:
        row["result"] = "PASS" if target.met(row["medsec"]["median_ms"], row["ratio"]) else "FAIL"
    return row


def import_row(data: Dataset) -> dict:
    """The imports timed when the data was built (once each)."""
    n = data.meta["patients"]
    timed = data.meta["imports"]
    samples = {side: [Run(t["ms"], t["rss_mb"], 0, b"", b"")] for side, t in timed.items()}
    row = summarize(f"patient import {n:,} rows (once; ref: executemany)", samples,
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
    body = [[r["command"], f"{r['medsec']['median_ms']:,.0f}", f"{r['ref']['median_ms']:,.0f}",
             f"{r['ratio']:.2f}x", f"{r['medsec']['peak_rss_mb']:.0f}", f"{r['ref']['peak_rss_mb']:.0f}",
             r["target"], r.get("result", "")] for r in rows]
    widths = [max(len(str(line[i])) for line in [headers] + body) for i in range(len(headers))]
    for line in [headers, ["-" * w for w in widths]] + body:
        cells = [str(c).ljust(w) if i == 0 else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(line, widths))]
        print("  ".join(cells).rstrip())


def write_results(report: dict) -> None:
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")


def main() -> int:
    parser = argparse.ArgumentParser(description="medsec latency and memory against an indexed SQLite.")
    parser.add_argument("--patients", type=int, default=100_000, help="scale (default: 100000)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command (default: 7)")
    parser.add_argument("--seed", type=int, default=20261126, help="data generator seed")
    parser.add_argument("--rebuild", action="store_true", help="regenerate and re-import the data")
    args = parser.parse_args()
    if args.patients < 1000 or args.runs < 1:
        parser.error("--patients must be at least 1000 and --runs at least 1")

    info = machine()
    print(f"machine: {info['nproc']} cpus, python {info['python']}, {info['platform']}, "
          f"load {info['loadavg_start']}; medsec {info['medsec_source']}")
    data = Dataset(os.path.join(DATA, f"p{args.patients}"))
    wanted = {"patients": args.patients, "seed": args.seed, "version": DATA_VERSION}
    with Launcher(data.env) as launcher:
        if args.rebuild or not data.load(wanted):
            build(data, launcher, wanted)
        floor = [launcher.checked([PYTHON, "-c", "pass"]) for _ in range(args.runs)]
        print(f"medsec: {MEDSEC}\ndata: {data.folder} ({args.patients:,} patients)")
        print(f"python -c pass: {statistics.median(r.ms for r in floor):.0f} ms, "
              f"{max(r.rss_mb for r in floor):.0f} MB; runs per command: 1 warm-up + {args.runs} "
              f"(median ms, peak RSS)\n", flush=True)
        rows = [measure(case, launcher, args.runs) for case in cases(data)] + [import_row(data)]
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print_table(rows)
    disagree = [r["command"] for r in rows if r.get("same_answer") is False]
    for name in disagree:
        print(f"MISMATCH: medsec and the reference printed different records for {name}")
    print(f"\nimport timed when the data was built ({data.meta['built']}, "
          f"medsec {data.meta['built_from']}); --rebuild re-times it")
    print(f"load at the end: {info['loadavg_end']}")
    write_results({"machine": info, "args": vars(args), "data": data.meta, "rows": rows})
    print(f"results: {os.path.relpath(RESULTS)}")
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
