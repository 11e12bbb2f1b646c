"""Encryption at rest: what it costs the everyday commands, and how long `medsec encrypt` takes.

On the main part's practice at this scale (bench/.data/p<N>/medsec: 100,000 patients and a
million appointments by default; `make bench` builds it). Each run copies it twice
(bench/.data/atrest/run/plain and encrypted), adds an administrator and a front-desk member with
passphrases and turns sign-in on in both (`medsec staff add`, `staff passphrase`, `security mode
signed-in`); then encrypts one copy with `medsec encrypt` (timed: every record, index, attachment
and outbox file of the practice). The desk member signs in to each copy, and as fresh processes
through bench/launcher.py:

- `patient show`, `patient find`, `appt day` and `appt book` (a new free slot each run, the same
  in both copies), signed in on both; one warm-up, then the timed runs, plain and encrypted
  alternating (which goes first swaps each run). Target: encrypted under 150 ms and at most 1.3
  times plain, the ratio being the median of the runs' own ratios (as the security part's).
- the audit log's append, alone, in the bench's process: what each command pays for its entry
  (the flock, the chain's tail read, the hash, the write and its fsync), median of AUDIT_RUNS.
"""

import json
import os
import shutil
import statistics
import sys
import time
from datetime import date

from appt_bench import BOOK_DAYS, TYPE, bench_day
from harness import DATA, MEDSEC, Launcher, Target, free_starts, summarize
from security_bench import ADMIN_NAME, DESK_NAME, PASSPHRASE, _env, paired, same_booking, same_json, session_token

TARGET = Target(max_ms=150, max_ratio=1.30)
AUDIT_RUNS = 2000


def copies(source: str, folder: str) -> tuple[str, str]:
    run = os.path.join(folder, "run")
    shutil.rmtree(run, ignore_errors=True)
    homes = os.path.join(run, "plain"), os.path.join(run, "encrypted")
    for home in homes:
        print(f"atrest: copying {source} to {home} ...", flush=True)
        shutil.copytree(source, home, symlinks=True)
    return homes


def signed_in_copy(home: str, secret: str) -> tuple[str, str, str]:
    """(desk member, administrator, the desk member's session) of a copy made signed in."""
    with Launcher(_env(home, MEDSEC_USER="bench")) as launcher:
        staff = {}
        for role, name in (("front-desk", DESK_NAME), ("admin", ADMIN_NAME)):
            added = launcher.checked([MEDSEC, "staff", "add", "--name", name, "--role", role, "--json"])
            staff[role] = json.loads(added.out)["id"]
            launcher.checked([MEDSEC, "staff", "passphrase", staff[role], "--passphrase-file", secret])
    with Launcher(_env(home, MEDSEC_USER=staff["admin"])) as admin:
        admin.checked([MEDSEC, "security", "mode", "signed-in"])
    return staff["front-desk"], staff["admin"], login(home, staff["front-desk"], secret)


def login(home: str, staff_id: str, secret: str) -> str:
    with Launcher(_env(home)) as anonymous:
        return session_token(anonymous.checked([MEDSEC, "login", staff_id, "--passphrase-file", secret]))


def audit_append_us(home: str) -> float:
    """Median microseconds of one audit append on `home`'s log (in this process)."""
    from medsec import audit, clock

    spent = []
    for i in range(AUDIT_RUNS):
        entry = audit.entry(user="bench", command="patient show", action="show", ids=[f"P{i + 1}"],
                            outcome="ok", at=clock.now())
        start = time.perf_counter()
        audit.append(home, entry)
        spent.append((time.perf_counter() - start) * 1e6)
    return statistics.median(spent)


def measure(patients: int, runs: int) -> tuple[list[dict], dict]:
    source_folder = os.path.join(DATA, f"p{patients}")
    source = os.path.join(source_folder, "medsec")
    if not os.path.exists(os.path.join(source, "medsec.yaml")):
        sys.exit(f"bench: no practice at {source}: run the main part first (make bench)")
    with open(os.path.join(source_folder, "meta.json")) as f:
        meta = json.load(f)
    folder = os.path.join(DATA, "atrest")
    os.makedirs(folder, exist_ok=True)
    secret = os.path.join(folder, "passphrase")
    if not os.path.exists(secret):
        with open(os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(PASSPHRASE + "\n")
    plain, encrypted = copies(source, folder)
    desk, _admin, plain_token = signed_in_copy(plain, secret)
    _desk, admin, _token = signed_in_copy(encrypted, secret)
    admin_token = login(encrypted, admin, secret)
    recovery = os.path.join(folder, "run", "recovery-key.txt")
    with Launcher(_env(encrypted, MEDSEC_SESSION=admin_token)) as launcher:
        print(f"atrest: medsec encrypt on {encrypted} ...", flush=True)
        done = launcher.checked([MEDSEC, "encrypt", "--recovery-key-out", recovery, "--json"])
    summary = json.loads(done.out)
    encrypt = {"ms": round(done.ms), "files": summary["files_encrypted"], "peak_rss_mb": round(done.rss_mb)}
    print(f"atrest: encrypted {summary['files_encrypted']:,} files in {done.ms / 1000:.1f} s\n", flush=True)
    enc_token = login(encrypted, desk, secret)
    day = bench_day(date.today())
    providers = meta["appointments"]["providers"]
    shown, booker = providers[0], providers[1]
    show_id, book_patient = f"P{patients // 2}", f"P{patients}"
    query = meta["queries"]["rare"]
    with Launcher(_env(plain, MEDSEC_SESSION=plain_token)) as plain_side, \
            Launcher(_env(encrypted, MEDSEC_SESSION=enc_token)) as enc_side:
        slots = free_starts(plain_side, booker, TYPE, day, BOOK_DAYS, runs + 1, remedy="lower --runs")
        rows = [
            paired(f"atrest: patient show {show_id} encrypted (ref: plain)",
                   lambda i: [MEDSEC, "patient", "show", show_id, "--json"], plain_side, enc_side, runs,
                   same_json, TARGET),
            paired(f"atrest: patient find {query} encrypted (ref: plain)",
                   lambda i: [MEDSEC, "patient", "find", query, "--json"], plain_side, enc_side, runs,
                   same_json, TARGET),
            paired(f"atrest: appt day {day} --provider {shown} encrypted (ref: plain)",
                   lambda i: [MEDSEC, "appt", "day", day.isoformat(), "--provider", shown, "--json"],
                   plain_side, enc_side, runs, same_json, TARGET),
            paired(f"atrest: appt book {book_patient} --provider {booker}, a free slot each run encrypted "
                   f"(ref: plain)",
                   lambda i: [MEDSEC, "appt", "book", book_patient, "--provider", booker, "--at", slots[i],
                              "--type", TYPE, "--json"], plain_side, enc_side, runs, same_booking, TARGET),
        ]
    rows.append(summarize("atrest: medsec encrypt (100k patients, 1M appointments: every file)",
                          {"medsec": [done]}, None))
    note = {"patients": patients, "appointments": meta["appointments"]["count"], "encrypt": encrypt,
            "audit_append_us": round(audit_append_us(plain), 1), "audit_runs": AUDIT_RUNS, "runs": runs}
    return rows, note


def describe(note: dict) -> str:
    return (f"atrest: {note['patients']:,} patients, {note['appointments']:,} appointments; {note['runs']} timed "
            f"runs per side; `medsec encrypt` moved {note['encrypt']['files']:,} files in "
            f"{note['encrypt']['ms'] / 1000:.1f} s (peak {note['encrypt']['peak_rss_mb']} MB)\n"
            f"atrest: one audit append (flock, chain tail, SHA-256, write, fsync) "
            f"{note['audit_append_us']:.0f} us (median of {note['audit_runs']}, in the bench's process)")
