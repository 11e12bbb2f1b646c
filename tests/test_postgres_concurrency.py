"""Real medsec processes contending on one PostgreSQL store: 16 terminals booking one slot,
16 adding patients, clients killed with SIGKILL mid-import, and the server restarted under
running commands. Nothing lost, doubled or half-written.

Each command is a process of its own: the installed console script, or where a test runs many
(the terminals booking, adding, and running on through the restart) a fork of a fork server
(helpers/forks.py: the console script's entry point, without Python's start-up for each, which
was most of those tests' time); the commands a test sends together are forked together.

A real, throwaway server (tests/helpers/pg.py): `pg_server` is shared by the session, so
the restart test stops it for a moment; other tests' databases survive it (same socket).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers.cli import MEDSEC_BIN, Medsec, cli_env, finish
from helpers.forks import Forker

from medsec.store import pgschema

WAIT = 120  # seconds any one medsec process may take before the test gives up on it
PROCESSES = 16
ROUNDS = 5
# Each `patient add` is a process of its own: 16 x 100 took 305 s on two cores as console scripts
# (~0.3 s of CPU each to start), about a minute forked. The default is 16 x 8; MEDSEC_PG_ADDS=100
# (CI) runs the full 1,600.
ADDS_PER_PROCESS = int(os.environ.get("MEDSEC_PG_ADDS", "8"))
IMPORT_ROWS = 5000
WEEKDAYS = [d.isoformat() for d in (date(2026, 12, 1) + timedelta(days=i) for i in range(14))
            if d.weekday() < 5]


# -- helpers ------------------------------------------------------------------
def sql(url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """One statement against the store's database, as the superuser, in autocommit."""
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(statement.encode(), params)
        return cur.fetchall() if cur.description is not None else []


def wait_for(proc: subprocess.Popen[str], timeout: float = WAIT) -> tuple[int, str, str]:
    """helpers.cli.finish, but a process that overruns is killed (nothing outlives the test)."""
    try:
        return finish(proc, timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"{proc.args!r} ran over {timeout} s")


def start(office: Medsec, *args: str) -> subprocess.Popen[str]:
    """The console script in its own process, its output piped (read with wait_for)."""
    return subprocess.Popen([MEDSEC_BIN, *args], env={**os.environ, **office.env}, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run(office: Medsec, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the console script, at most WAIT seconds."""
    return wait_for(start(office, *args))


def one_error_line(err: str) -> bool:
    """A failure as the CLI promises it: one stderr line `medsec: error: ...`, and not an
    unexpected exception dressed as one (internal error) or a traceback."""
    lines = err.splitlines()
    return (len(lines) == 1 and lines[0].startswith("medsec: error: ")
            and "internal error" not in lines[0] and "Traceback" not in err)


def in_lanes(count: int, lane: Callable[[int], list[Any]]) -> list[Any]:
    """Run `lane(i)` for i in range(count) in threads (each drives its own processes); all results."""
    results: list[list[Any]] = [[] for _ in range(count)]
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            results[i] = lane(i)
        except BaseException as e:  # noqa: BLE001 (re-raised in the test's thread)
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a lane hung"
    if errors:
        raise errors[0]
    return [r for lane_results in results for r in lane_results]


def add_args(first: str, last: str) -> list[str]:
    return ["patient", "add", "--first", first, "--last", last, "--dob", "1970-01-01", "--json"]


def all_patients(office: Medsec) -> list[dict[str, Any]]:
    code, out, err = run(office, "patient", "list", "--status", "all", "--json")
    assert code == 0, err
    return list(json.loads(out))


def counter(url: str, prefix: str = "P") -> int:
    rows = sql(url, f"SELECT n FROM {pgschema.SCHEMA}.counters WHERE prefix = %s", (prefix,))
    return int(rows[0][0]) if rows else 0


def add_physician(office: Medsec) -> None:
    """S1, a physician working Mon-Fri 08-12 and 13-17, through the CLI (the roster and its
    hours are documents in the database, not files in the terminal's folder)."""
    office.ok("staff", "add", "--name", "Dr A", "--role", "physician", "--npi", "1234567893")
    office.ok("staff", "hours", "S1", "--day", "mon-fri", "--from", "08:00", "--to", "12:00",
              "--from", "13:00", "--to", "17:00")


def writer_lock_held(url: str) -> bool:
    """Whether some client holds medsec's writers' lock in this database: a transaction is open."""
    return bool(sql(url, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = %s "
                         "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    (pgschema.WRITER_LOCK,)))


def store_rows(url: str) -> tuple[int, int, int, int]:
    """(patients, patient index entries, P counter, audited commits): what an import changes."""
    s = pgschema.SCHEMA
    (patients,), = sql(url, f"SELECT count(*) FROM {s}.patients")
    (entries,), = sql(url, f"SELECT count(*) FROM {s}.index_entries WHERE name LIKE 'patient-%%'")
    (commits,), = sql(url, f"SELECT count(*) FROM {s}.audit WHERE entry->>'action' = 'commit'")
    return patients, entries, counter(url), commits


@pytest.fixture
def pg_office(tmp_path: Path, pg_url: str) -> Medsec:
    """A practice kept in a fresh PostgreSQL database (`init --security open`: the example
    appointment types), this terminal's folder in tmp_path."""
    office = Medsec(tmp_path / "terminal", {**cli_env(tmp_path / "terminal"), "MEDSEC_STORE": pg_url})
    code, _, err = run(office, "init", "--security", "open")
    assert code == 0, err
    return office


def terminals(forks: Callable[..., Forker], office: Medsec) -> Forker:
    """The fork server that runs the terminals' commands (helpers/forks.py), in the office's environment."""
    return forks({**os.environ, **office.env}, timeout=WAIT)


# -- 1. one slot, sixteen terminals -------------------------------------------
def test_sixteen_terminals_book_one_slot_one_winner(pg_office, pg_url, forks):
    add_physician(pg_office)
    for i in range(PROCESSES):
        pg_office.ok("patient", "add", "--first", f"Book{i}", "--last", "Race", "--dob", "1980-01-01")
    terminal = terminals(forks, pg_office)
    for round_no in range(ROUNDS):
        day = WEEKDAYS[round_no]
        booking = terminal.start_all(["appt", "book", f"P{i + 1}", "--provider", "S1", "--at", f"{day} 09:00",
                                      "--type", "follow-up", "--json"] for i in range(PROCESSES))
        results = [terminal.wait(b) for b in booking]
        winners = [r for r in results if r[0] == 0]
        losers = [r for r in results if r[0] != 0]
        assert len(winners) == 1, results
        # As on the data directory (test_booking_race): exit 1, the slot taken, one clean line.
        assert all(code == 1 and one_error_line(err) and "S1 is booked 09:00-09:20" in err
                   for code, _, err in losers), losers
        won = json.loads(winners[0][1])
        visits = pg_office.json("appt", "day", day, "--provider", "S1")
        booked = [(v["id"], v["patient_id"], v["start"]) for v in visits if v["status"] != "cancelled"]
        assert booked == [(won["id"], won["patient_id"], f"{day}T09:00:00-05:00")], visits
    (rows,), = sql(pg_url, f"SELECT count(*) FROM {pgschema.SCHEMA}.appointments")
    assert rows == ROUNDS and counter(pg_url, "A") == ROUNDS


# -- 2. sixteen terminals adding patients -------------------------------------
def test_sixteen_terminals_add_patients_nothing_lost(pg_office, pg_url, forks):
    terminal = terminals(forks, pg_office)

    def lane(w: int) -> list[tuple[str, int, str, str]]:
        done = []
        for i in range(ADDS_PER_PROCESS):
            first = f"W{w}n{i}"
            done.append((first, *terminal.run(*add_args(first, "Conc"))))
        return done

    results = in_lanes(PROCESSES, lane)
    total = PROCESSES * ADDS_PER_PROCESS
    failed = [r for r in results if r[1] != 0]
    assert not failed, failed[:5]
    printed = {first: json.loads(out)["id"] for first, _, out, _ in results}
    assert sorted(printed.values(), key=lambda x: int(x[1:])) == [f"P{n}" for n in range(1, total + 1)]
    listed = all_patients(pg_office)
    assert sorted(int(p["id"][1:]) for p in listed) == list(range(1, total + 1))
    assert {p["first"]: p["id"] for p in listed} == printed  # each under the id its terminal was told
    assert counter(pg_url) == total


# -- 3. SIGKILL mid-transaction ------------------------------------------------
def test_import_killed_mid_transaction_leaves_nothing_partial(pg_office, pg_url, tmp_path):
    csv = tmp_path / "many.csv"
    csv.write_text("first,last,dob,external_id\n" + "".join(
        f"Imp{i},Bulk{i % 97},19{50 + i % 50}-0{1 + i % 9}-1{i % 10},X{i}\n" for i in range(IMPORT_ROWS)))
    before = store_rows(pg_url)
    outcomes = []
    for delay in (0.0, 0.1, 0.3, 0.6):
        proc = start(pg_office, "patient", "import", str(csv))
        deadline = time.monotonic() + 60
        while not writer_lock_held(pg_url) and proc.poll() is None:  # its transaction is open
            assert time.monotonic() < deadline, "the import never began writing"
            time.sleep(0.005)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        code, _, _ = wait_for(proc)
        after = _settled(pg_url)
        outcomes.append((delay, code, after))
        if after != before:  # it committed before the kill landed: all of it is there
            break
    killed_mid = [o for o in outcomes if o[1] == -signal.SIGKILL and o[2] == before]
    assert killed_mid, f"no kill landed mid-transaction: {outcomes}"
    for _, _, (patients, _, top, _) in outcomes:  # all rows or none, ids with them
        assert (patients, top) in {(before[0], before[2]), (IMPORT_ROWS, IMPORT_ROWS)}, outcomes
    if outcomes[-1][2] == before:  # nothing of it stayed: the rerun imports every row
        code, _, err = run(pg_office, "patient", "import", str(csv))
        assert code == 0, err
    patients, entries, top, _ = store_rows(pg_url)
    assert patients == top == IMPORT_ROWS and entries > IMPORT_ROWS
    code, out, err = run(pg_office, *add_args("After", "Kill"))
    assert code == 0 and f'"P{IMPORT_ROWS + 1}"' in out, err


def _settled(url: str) -> tuple[int, int, int, int]:
    """store_rows once the killed client's server process has gone (its lock released)."""
    deadline = time.monotonic() + 30
    while writer_lock_held(url):
        assert time.monotonic() < deadline, "a killed client's transaction stayed open"
        time.sleep(0.02)
    return store_rows(url)


# -- 4. the server restarted under running commands ---------------------------
RESTART_LANES = 6
# Enough rows that the import's transaction outlasts the restart's trigger (0.4 s inside it) on a fast
# run: with COPY, 4,000 rows were sometimes in and committed sooner, and the moment never came.
RESTART_ROWS = 20_000


def writer_queue(url: str) -> tuple[int, int]:
    """(holders, waiters) of medsec's writers' lock in this database."""
    rows = dict(sql(url, "SELECT granted, count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s "
                         "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                         "GROUP BY granted", (pgschema.WRITER_LOCK,)))
    return int(rows.get(True, 0)), int(rows.get(False, 0))


def writer_query(url: str) -> str:
    """What the holder of medsec's writers' lock in this database is running ('' if none)."""
    rows = sql(url, "SELECT a.query FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s AND a.datname = current_database()",
               (pgschema.WRITER_LOCK,))
    return str(rows[0][0]) if rows else ""


def writer_age(url: str) -> float:
    """How long (seconds) the holder of medsec's writers' lock has been in its transaction (0: none)."""
    rows = sql(url, "SELECT extract(epoch FROM now() - a.xact_start) FROM pg_locks l JOIN pg_stat_activity a "
                    "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s "
                    "AND a.datname = current_database()", (pgschema.WRITER_LOCK,))
    return float(rows[0][0] or 0) if rows else 0.0


def restart_when(pg_server: Any, ready: Callable[[], bool]) -> tuple[threading.Event, list[BaseException]]:
    """A thread that restarts the server once `ready()` (polled) holds: (restarted, its errors)."""
    restarted, trouble = threading.Event(), []

    def body() -> None:
        try:
            deadline = time.monotonic() + 60
            while not ready():
                assert time.monotonic() < deadline, "the moment to restart never came"
                time.sleep(0.005)
            pg_server.restart()
        except BaseException as e:  # noqa: BLE001 (reported by the test)
            trouble.append(e)
        finally:
            restarted.set()

    threading.Thread(target=body, daemon=True).start()
    return restarted, trouble


def import_csv(folder: Path, rows: int, tag: str) -> Path:
    """A synthetic CSV of `rows` new patients, first names `<tag><n>`."""
    path = folder / f"{tag}.csv"
    path.write_text("first,last,dob,external_id\n" + "".join(
        f"{tag}{i},Bulk{i % 97},19{50 + i % 50}-0{1 + i % 9}-1{i % 10},{tag}/{i}\n" for i in range(rows)))
    return path


def test_server_restart_mid_run_fails_cleanly_and_doubles_nothing(pg_office, pg_url, pg_server, tmp_path, forks):
    """Six terminals add patients, one of them also imports; the server restarts mid-run while one
    writer is inside its transaction and another waits for the writers' lock (both are cut off)."""
    csv = import_csv(tmp_path, RESTART_ROWS, "Imp")
    terminal = terminals(forks, pg_office)
    restarted, trouble = restart_when(pg_server, lambda: writer_queue(pg_url)[1] > 0
                                      and writer_age(pg_url) > 0.4)  # the import's, with adds queued

    def lane(w: int) -> list[tuple[str, int, str, str]]:
        done: list[tuple[str, int, str, str]] = []
        i, after = 0, 0
        while after < 3:  # until three adds have begun after the restart
            after += restarted.is_set()
            if w == 0 and i == 2:  # the import holds the writers' lock a while: adds queue behind it
                done.append(("import", *terminal.run("patient", "import", str(csv))))
            first = f"R{w}n{i}"
            done.append((first, *terminal.run(*add_args(first, "Restart"))))
            i += 1
        return done

    results = in_lanes(RESTART_LANES, lane)
    assert restarted.wait(180) and not trouble and pg_server.running, trouble
    ok = {first: json.loads(out)["id"] for first, code, out, _ in results if code == 0 and first != "import"}
    failed = [(first, code, err) for first, code, _, err in results if code != 0]
    assert failed, "no command hit the restart"
    # Exit 3, one line, no traceback. Two known defects are let through here (pinned, strictly,
    # by test_restart_inside_a_transaction_says_what_failed): an "internal error" line, and
    # psycopg's own warning line before it.
    assert all(code == 3 and one_error_line(err) for _, code, err in failed), "\n".join(map(repr, failed))
    # Each success is stored once, under the id it printed; a failure at most once; the
    # import wholly or not at all.
    patients = all_patients(pg_office)
    names = Counter(p["first"] for p in patients)
    assert max(names.values()) == 1 and counter(pg_url) == len(patients)
    assert all({p["first"]: p["id"] for p in patients}.get(first) == pid for first, pid in ok.items())
    imported = sum(1 for p in patients if p["first"].startswith("Imp"))
    assert imported in (0, RESTART_ROWS), imported
    # The failed ones again: each goes in now, or is refused as the duplicate it became.
    for first, _, _ in failed:
        args = ["patient", "import", str(csv)] if first == "import" else add_args(first, "Restart")
        code, _, err = run(pg_office, *args)
        present = imported if first == "import" else names[first]
        assert code == 0 or (code == 1 and present and one_error_line(err)), (first, code, err)
    final = Counter(p["first"] for p in all_patients(pg_office))
    expected = {first for first, *_ in results if first != "import"} | {f"Imp{i}" for i in range(RESTART_ROWS)}
    assert set(final) == expected and max(final.values()) == 1
    assert counter(pg_url) == sum(final.values())


def test_restart_inside_a_transaction_says_what_failed(pg_office, pg_url, pg_server, tmp_path):
    """The server restarts while an import writes its index entries (an executemany): exit 3
    with the store's own one line (no internal error, nothing else on stderr), nothing of the
    import kept, and the rerun imports it."""
    csv = import_csv(tmp_path, IMPORT_ROWS, "Cut")
    proc = start(pg_office, "patient", "import", str(csv))
    restarted, trouble = restart_when(pg_server, lambda: proc.poll() is not None or writer_query(pg_url)
                                      .startswith(f"INSERT INTO {pgschema.SCHEMA}.index_entries"))
    code, _, err = wait_for(proc)
    assert restarted.wait(180) and not trouble, trouble
    assert code != 0 and store_rows(pg_url)[:3] == (0, 0, 0), (code, err)  # the test's own premise
    assert code == 3 and one_error_line(err) and "PostgreSQL store" in err, err
    code, _, err = run(pg_office, "patient", "import", str(csv))
    assert code == 0 and store_rows(pg_url)[0] == IMPORT_ROWS, err


def test_a_made_change_is_not_reported_as_failed(pg_office, pg_url):
    """The server drops a command's reading connection while the command waits for the writers'
    lock (as a restart does to any connection): its change is still made, so the command must
    not fail saying nothing was written and to run it again."""
    with psycopg.connect(pg_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (pgschema.WRITER_LOCK,))
        proc = start(pg_office, *add_args("Made", "Once"))
        deadline = time.monotonic() + 60
        while writer_queue(pg_url)[1] == 0:
            assert proc.poll() is None and time.monotonic() < deadline, "the add never waited for the lock"
            time.sleep(0.01)
        readers = sql(pg_url, "SELECT pid FROM pg_stat_activity WHERE application_name = 'medsec' AND "
                              "datname = current_database() AND wait_event_type IS DISTINCT FROM 'Lock'")
        assert len(readers) == 1, readers
        sql(pg_url, "SELECT pg_terminate_backend(%s)", readers[0])
        holder.execute("SELECT pg_advisory_unlock(%s)", (pgschema.WRITER_LOCK,))
    code, out, err = wait_for(proc)
    assert [p["first"] for p in all_patients(pg_office)] == ["Made"]  # the test's premise: it was made
    assert code == 0 and '"P1"' in out, err
