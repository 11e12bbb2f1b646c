"""Signing in: what a session costs each command, and how long `login` takes.

A medium practice of its own (PATIENTS patients from bench/datagen.py,
APPOINTMENTS appointments over 24 months from bench/apptgen.py, providers
through `medsec staff`), built once in open mode (`medsec init --security
open`) in bench/.data/security/ and reused while its settings, medsec's
storage code and schema version stay the same and its appointments still
cover the bench days (--rebuild with --only security builds it again). The
build also adds a front-desk member and an administrator through `medsec
staff add`, and sets both their passphrases with `medsec staff passphrase
--passphrase-file` (a file of mode 600 beside the data).

Each run copies the build twice (bench/.data/security/run/): the open copy
stays open; the other is switched with `medsec security mode signed-in` (as
the administrator does it). Both copies hold the same records, so the same
commands do the same work in each, and the same free slots are booked in
both. Then, as fresh processes through bench/launcher.py:

- `medsec login ID --passphrase-file F` (the front-desk member; Argon2id
  verification of the passphrase, a new session stored, audited): one
  warm-up, then the timed runs; target under 1 s. Each run opens a new
  session; the commands below use one more, opened after them.
- `patient show`, `appt day` and `appt book` (a new free slot each run, the
  same one in both copies), the front-desk member acting in both: named by
  $MEDSEC_USER in the open copy, by the session ($MEDSEC_SESSION) in the
  signed-in one. One warm-up, then the timed runs, open and signed-in
  alternating (which goes first swaps each run, so neither always follows
  the other); target: signed-in at most 1.1 times open, the ratio being
  the median of the runs' own ratios (each signed-in run over the open run
  beside it: a busy machine's load, which changes over seconds, weighs on
  both alike; the ratio of the two medians is kept in the results too).
  A session's last use is written at most once a minute
  (medsec.security.sessions), so within a minute signed-in reads write
  nothing: the one run in a minute that writes is part of the median's
  sample, as in a day at the desk. Idle expiry (15 minutes) never ends the
  session: commands run every fraction of a second.

Ratios within 10% need more samples than the main part's medians: this part
takes at least MIN_RUNS timed runs per side (--runs when it asks for more).
The report notes the Argon2id parameters (medsec.security.passphrase) and
the median time of one Argon2id verification alone, in the bench's own process.
"""

import json
import os
import shlex
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, datetime

import apptgen
from appt_bench import BOOK_DAYS, TYPE, add_providers, bench_day, generate, is_current, window
from datagen import write_csv
from harness import DATA, MEDSEC, PYCACHE, Dataset, Launcher, Run, Target, free_starts, summarize, timing

SECURITY_VERSION = 1  # bump when what the build writes changes
PATIENTS = 10_000
APPOINTMENTS = 100_000
MIN_PROVIDERS = 10
MIN_RUNS = 41
RATIO_TARGET = Target(max_ratio=1.10)
LOGIN_TARGET = Target(max_ms=1000)
# Synthetic; passes medsec's strength rules (no staff id, no part of either name, not a common one).
PASSPHRASE = "violet gravel trombone 48 harbor"
DESK_NAME = "Avery Quill"
ADMIN_NAME = "Morgan Reyes"
VERIFY_RUNS = 7


def _env(home: str, **extra: str) -> dict:
    """A command's environment: this copy of the practice, bytecode caches as users have them
    (harness.Dataset.env), and `extra`; no $MEDSEC_USER unless given."""
    env = {**os.environ, "MEDSEC_HOME": home, "PYTHONPYCACHEPREFIX": PYCACHE, **extra}
    for name in ("PYTHONDONTWRITEBYTECODE", "MEDSEC_SESSION", "MEDSEC_TOKEN", "MEDSEC_NOW", "MEDSEC_STORE"):
        if name not in extra:
            env.pop(name, None)
    if "MEDSEC_USER" not in extra:
        env.pop("MEDSEC_USER", None)
    return env


def passphrase_file(data: Dataset) -> str:
    return os.path.join(data.folder, "passphrase")


# -- the build ----------------------------------------------------------------------------------
def build(data: Dataset, wanted: dict, seed: int) -> None:
    """An open practice: patients, providers, appointments, a front-desk member and an
    administrator with passphrases; then `medsec check`."""
    shutil.rmtree(data.folder, ignore_errors=True)
    os.makedirs(data.folder)
    print(f"security: building {PATIENTS:,} patients and {APPOINTMENTS:,} appointments in {data.folder} ...",
          flush=True)
    secret = passphrase_file(data)
    with open(os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(PASSPHRASE + "\n")
    queries = write_csv(data.csv, PATIENTS, seed)
    with Launcher(_env(data.home, MEDSEC_USER="bench")) as launcher:
        launcher.checked([MEDSEC, "--data-dir", data.home, "init", "--security", "open"])
        imported = launcher.checked([MEDSEC, "patient", "import", data.csv, "--json"])
        if json.loads(imported.out)["imported"] != PATIENTS:
            sys.exit(f"bench: the security practice's import did not import {PATIENTS} patients: {imported.out!r}")
        first, last = window(date.today())
        days = len(apptgen.weekdays(first, last))
        ids, _ = add_providers(launcher, apptgen.providers_needed(data.home, APPOINTMENTS, days, MIN_PROVIDERS))
        now = datetime.now(apptgen.zone(data.home)).replace(microsecond=0)
        spec = {"home": data.home, "appointments": APPOINTMENTS, "seed": seed, "first_day": first.isoformat(),
                "last_day": last.isoformat(), "providers": ids, "patients": [1, PATIENTS - 1],
                "now": now.isoformat()}
        print(f"security: writing {APPOINTMENTS:,} appointments, {first} to {last} ...", flush=True)
        built, _ = generate(launcher, "medsec", spec, data.folder)
        if built["last_id"] != f"A{APPOINTMENTS}":
            sys.exit(f"bench: the security practice holds other appointments than asked: {built}")
        staff = {}
        for role, name in (("front-desk", DESK_NAME), ("admin", ADMIN_NAME)):
            added = launcher.checked([MEDSEC, "staff", "add", "--name", name, "--role", role, "--json"])
            staff[role] = json.loads(added.out)["id"]
            launcher.checked([MEDSEC, "staff", "passphrase", staff[role], "--passphrase-file", secret])
        check = launcher.spawn([MEDSEC, "check", "--json"])
        if check.exit_code != 0:
            sys.exit(f"bench: medsec check found problems in the security practice:\n{check.out.decode()[:2000]}"
                     f"{check.err.decode()[:2000]}")
    data.meta = {**wanted, "imports": {"medsec": timing(imported)}, "built": time.strftime("%Y-%m-%d %H:%M:%S"),
                 "queries": queries, "staff": staff,
                 "appointments": {"count": APPOINTMENTS, "seed": seed, "first_day": spec["first_day"],
                                  "last_day": spec["last_day"], "providers": ids}}
    data.save()


def prepare(data: Dataset, seed: int, rebuild: bool, wanted_extra: dict) -> None:
    """The build, reused while it matches (and its appointments still cover the bench days)."""
    wanted = {"version": SECURITY_VERSION, "patients": PATIENTS, "seed": seed, **wanted_extra}
    if rebuild or not (data.load(wanted) and is_current(data.meta, APPOINTMENTS, seed)
                       and os.path.exists(passphrase_file(data))):
        build(data, wanted, seed)


def copies(data: Dataset) -> tuple[str, str]:
    """Two fresh copies of the build (open, signed-in): their data directories."""
    run = os.path.join(data.folder, "run")
    shutil.rmtree(run, ignore_errors=True)
    homes = os.path.join(run, "open"), os.path.join(run, "signed-in")
    for home in homes:
        shutil.copytree(data.home, home, symlinks=True)
    return homes


# -- measuring ----------------------------------------------------------------------------------


def session_token(run: Run) -> str:
    """The session in `medsec login`'s shell line (`export MEDSEC_SESSION=...`)."""
    words = shlex.split(run.out.decode())
    if len(words) != 2 or not words[1].startswith("MEDSEC_SESSION="):
        sys.exit(f"bench: medsec login printed {run.out!r}")
    return words[1].partition("=")[2]


def same_json(open_out: bytes, signed_out: bytes) -> bool:
    return json.loads(open_out) == json.loads(signed_out)


def same_booking(open_out: bytes, signed_out: bytes) -> bool:
    """The same visit booked in both copies (same id: they hold the same records)."""
    keys = ["id", "patient_id", "provider", "type", "start", "end", "status"]
    a, b = json.loads(open_out), json.loads(signed_out)
    return [a[k] for k in keys] == [b[k] for k in keys]


def paired(name: str, argv: Callable[[int], list[str]], open_side: Launcher, signed_side: Launcher, runs: int,
           same: Callable[[bytes, bytes], bool], target: Target = RATIO_TARGET) -> dict:
    """One warm-up, then `runs` runs of each side, alternating (which goes first swaps each run).

    The row's `medsec` is signed-in, its `ref` open mode; its ratio (judged by the target) is
    the median of the runs' own ratios, each signed-in run over the open run beside it, which
    the machine's load, changing over seconds, weighs alike; the ratio of the two medians is
    kept too (`ratio_of_medians`).
    """
    samples: dict[str, list[Run]] = {"medsec": [], "ref": []}
    for i in range(runs + 1):
        order = [("ref", open_side), ("medsec", signed_side)]
        for side, launcher in order if i % 2 == 0 else order[::-1]:
            run = launcher.checked(argv(i))
            if i > 0:
                samples[side].append(run)
    row = summarize(name, samples, target)
    row["ratio_of_medians"] = row["ratio"]
    row["ratio"] = statistics.median(s.ms / o.ms for s, o in zip(samples["medsec"], samples["ref"], strict=True))
    row["result"] = "PASS" if target.met(row["medsec"]["median_ms"], row["ratio"]) else "FAIL"
    row["same_answer"] = same(samples["ref"][-1].out, samples["medsec"][-1].out)
    return row


def argon2_note() -> dict:
    """medsec's Argon2id parameters, and the median of one verification in this process."""
    from medsec.security import passphrase as pp

    stored = pp.hash_passphrase(PASSPHRASE)
    spent = []
    for _ in range(VERIFY_RUNS):
        start = time.perf_counter()
        if not pp.verify(stored, PASSPHRASE):
            sys.exit("bench: Argon2id did not verify the passphrase it hashed")
        spent.append((time.perf_counter() - start) * 1000)
    return {"type": "argon2id", "time_cost": pp.TIME_COST, "memory_kib": pp.MEMORY_COST_KIB,
            "parallelism": pp.PARALLELISM, "verify_median_ms": round(statistics.median(spent), 1),
            "verify_runs": VERIFY_RUNS}


def describe(meta: dict) -> str:
    """The lines under the table: the practice, the Argon2id parameters and verification time."""
    a = meta["argon2"]
    return (f"security: {meta['patients']:,} patients, {meta['appointments']['count']:,} appointments "
            f"(built {meta['built']}); {meta['runs']} timed runs per side; a row's ratio is the median of "
            f"its runs' own ratios (each signed-in run over the open run beside it)\n"
            f"security: Argon2id t={a['time_cost']}, m={a['memory_kib'] // 1024} MiB, p={a['parallelism']} "
            f"(RFC 9106's second recommended option, argon2-cffi's default); one verification alone "
            f"{a['verify_median_ms']:.0f} ms (median of {a['verify_runs']}, in the bench's process)")


def measure(runs: int, seed: int, rebuild: bool, wanted_extra: dict) -> tuple[list[dict], dict]:
    """The security rows (login; patient show, appt day, appt book signed-in against open) and
    the build's meta (with the Argon2id note and the runs taken)."""
    data = Dataset(os.path.join(DATA, "security"))
    prepare(data, seed, rebuild, wanted_extra)
    runs = max(runs, MIN_RUNS)
    desk, admin = data.meta["staff"]["front-desk"], data.meta["staff"]["admin"]
    secret = passphrase_file(data)
    open_home, signed_home = copies(data)
    with Launcher(_env(signed_home, MEDSEC_USER=admin)) as switch:
        switch.checked([MEDSEC, "security", "mode", "signed-in"])
    print(f"security: {PATIENTS:,} patients, {APPOINTMENTS:,} appointments; copies in "
          f"{os.path.dirname(open_home)} (open, signed-in); {runs} timed runs per side\n", flush=True)
    with Launcher(_env(signed_home)) as anonymous:
        login = [MEDSEC, "login", desk, "--passphrase-file", secret]
        logins = [anonymous.checked(login) for _ in range(runs + 1)][1:]
        token = session_token(anonymous.checked(login))
    rows = [summarize(f"security: login {desk} --passphrase-file (fresh process, Argon2id)",
                      {"medsec": logins}, LOGIN_TARGET)]
    day = bench_day(date.today())
    shown = data.meta["appointments"]["providers"][0]
    booker = data.meta["appointments"]["providers"][1]
    show_id, book_patient = f"P{PATIENTS // 2}", f"P{PATIENTS}"  # apptgen books nobody for the last patient
    with Launcher(_env(open_home, MEDSEC_USER=desk)) as open_side, \
            Launcher(_env(signed_home, MEDSEC_SESSION=token)) as signed_side:
        slots = free_starts(open_side, booker, TYPE, day, BOOK_DAYS, runs + 1,
                            remedy="lower --runs or use --only security --rebuild")
        rows += [
            paired(f"security: patient show {show_id} signed in (ref: open mode)",
                   lambda i: [MEDSEC, "patient", "show", show_id, "--json"], open_side, signed_side, runs,
                   same_json),
            paired(f"security: appt day {day} --provider {shown} signed in (ref: open mode)",
                   lambda i: [MEDSEC, "appt", "day", day.isoformat(), "--provider", shown, "--json"],
                   open_side, signed_side, runs, same_json),
            paired(f"security: appt book {book_patient} --provider {booker} signed in, a free slot each run "
                   f"(ref: open mode)",
                   lambda i: [MEDSEC, "appt", "book", book_patient, "--provider", booker, "--at", slots[i],
                              "--type", TYPE, "--json"], open_side, signed_side, runs, same_booking),
        ]
        for launcher, signed in ((open_side, False), (signed_side, True)):
            who = json.loads(launcher.checked([MEDSEC, "whoami", "--json"]).out)
            if (who.get("user"), who.get("signed_in")) != (desk, signed):
                sys.exit(f"bench: a copy did not act as {desk} {'signed in' if signed else 'in open mode'}: {who}")
    meta = {**data.meta, "runs": runs, "argon2": argon2_note(), "copies": [open_home, signed_home]}
    return rows, meta

