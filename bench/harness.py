"""What every part of the benchmark shares: running fresh processes, data folders, cases, rows."""

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

BENCH = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(BENCH, ".data")
PYCACHE = os.path.join(DATA, "pycache")
PYTHON = sys.executable
MEDSEC = os.path.join(os.path.dirname(PYTHON), "medsec")  # the console script users run
REF = os.path.join(BENCH, "ref_cli.py")
APPTGEN = os.path.join(BENCH, "apptgen.py")
LAUNCHER = os.path.join(BENCH, "launcher.py")


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


# -- a data folder --------------------------------------------------------------
@dataclass
class Dataset:
    """One scale's files: medsec's data directory, the SQLite file, inputs, meta.json."""

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

    def met(self, ms: float, ratio: float | None) -> bool:
        return ((self.max_ms is None or ms < self.max_ms)
                and (self.max_ratio is None or (ratio is not None and ratio <= self.max_ratio)))


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


def same_ids(medsec_out: bytes, ref_out: bytes) -> bool:
    """Both printed the same records (by id), in the same order."""
    return [r["id"] for r in json.loads(medsec_out)] == [r["id"] for r in json.loads(ref_out)]


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
    """A result row: per side (medsec, and ref when there is one) median, peak RSS, runs."""
    row: dict = {"command": name}
    for side, side_runs in samples.items():
        row[side] = {"median_ms": statistics.median(r.ms for r in side_runs),
                     "peak_rss_mb": max(r.rss_mb for r in side_runs),
                     "runs_ms": [round(r.ms, 1) for r in side_runs]}
    row["ratio"] = row["medsec"]["median_ms"] / row["ref"]["median_ms"] if "ref" in row else None
    row["target"] = target.describe() if target else "-"
    if target:
        row["result"] = "PASS" if target.met(row["medsec"]["median_ms"], row["ratio"]) else "FAIL"
    return row


def once_row(name: str, timed: dict, target: Target | None = None) -> dict:
    """A row for something timed once (an import, a build): {side: {"ms", "rss_mb"}}."""
    samples = {side: [Run(t["ms"], t["rss_mb"], 0, b"", b"")] for side, t in timed.items()}
    return summarize(name, samples, target)


def timing(run: Run) -> dict:
    """What meta.json keeps of a run timed once."""
    return {"ms": run.ms, "rss_mb": run.rss_mb}


def free_starts(launcher: "Launcher", provider: str, appt_type: str, first: date, days: int, count: int,
                remedy: str) -> list[str]:
    """`count` free, non-overlapping slot starts of `provider` for `appt_type` within `days` from
    `first` (`appt slots`); exits naming `remedy` when there are fewer."""
    run = launcher.checked([MEDSEC, "appt", "slots", "--provider", provider, "--type", appt_type,
                            "--from", first.isoformat(), "--days", str(days), "--json"])
    starts: list[str] = []
    taken_until = None
    for slot in json.loads(run.out):
        start, end = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
        if taken_until is None or start >= taken_until:
            starts.append(f"{start:%Y-%m-%d %H:%M}")
            taken_until = end
        if len(starts) == count:
            return starts
    sys.exit(f"bench: {provider} has fewer than {count} free slots in {days} days from {first}; {remedy}")
