"""The agent (medsec.agent, medsec.agent_client, medsec.launch): a command run in it behaves as the
same command in a process of its own -- output, exit code, working directory, standard input,
environment, signals, a client killed mid-command -- and the agent serves only its user, leaves
when idle or upgraded, and is never needed (anything wrong with it: the command runs on its own).
Real processes throughout: the console script, the agent it starts, real signals."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from helpers.cli import MEDSEC_BIN, Medsec, finish

from medsec import agent, launch
from medsec.store.api import POINTER

WAIT = 60  # seconds any one command may take


@contextlib.contextmanager
def _agent_env(env, mode):
    """A private runtime folder for the agent's socket (short: a socket's path is at most ~100
    bytes) and MEDSEC_AGENT=mode; the agent stopped (killed if need be) afterwards."""
    folder = tempfile.mkdtemp(prefix="msa-")
    # An agent the test loses track of leaves by itself within a minute.
    env = {**env, "XDG_RUNTIME_DIR": folder, "MEDSEC_AGENT": mode, "MEDSEC_AGENT_IDLE": "60"}
    try:
        yield env
    finally:
        _stop(env)
        shutil.rmtree(folder, ignore_errors=True)


def _stop(env):
    """Stop the agent of `env`, and be sure it is gone."""
    status = _status(env)
    _medsec(env, "agent", "stop")
    if status:
        _gone(status["pid"])


@pytest.fixture
def runtime(two_patients):
    """The practice with two patients, on the data directory, every command through the agent."""
    with _agent_env(two_patients.env, "on") as env:
        yield env


def _medsec(env, *args, stdin=None, cwd=None, input=None):
    proc = subprocess.run([MEDSEC_BIN, *map(str, args)], env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=WAIT, stdin=stdin, cwd=cwd, input=input)
    return proc.returncode, proc.stdout, proc.stderr


def _status(env):
    code, out, _ = _medsec(env, "agent", "status", "--json")
    return json.loads(out) if code == 0 else None


def _started(env):
    code, out, err = _medsec(env, "agent", "start", "--json")
    assert code == 0, err
    return json.loads(out)


def _gone(pid, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return False


def _served(env):
    return (_status(env) or {}).get("commands_served", 0)


# -- what a command sees ----------------------------------------------------------------------

COMMANDS = [
    ["patient", "show", "P1", "--json"],
    ["patient", "find", "smith"],
    ["patient", "list", "--format", "csv"],
    ["patient", "show", "P99"],                      # exit 1, one line
    ["patient", "add", "--first", "X", "--dob", "not a date"],  # exit 2, one line
    ["appt", "day", "2026-11-27"],
    ["--version"],
    ["patient", "--help"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_a_command_in_the_agent_is_the_command_on_its_own(runtime, args):
    _started(runtime)
    before = _served(runtime)
    alone = _medsec({**runtime, "MEDSEC_AGENT": "off"}, *args)
    served = _medsec(runtime, *args)
    assert served == alone
    assert _served(runtime) == before + (0 if args == ["--version"] else 1)  # `--version` needs no agent


def test_writes_through_the_agent_are_the_practices(runtime, two_patients):
    _started(runtime)
    code, out, err = _medsec(runtime, "patient", "add", "--first", "Cy", "--last", "Agent", "--dob", "1990-02-03",
                             "--json")
    assert code == 0, err
    assert json.loads(out)["id"] == "P3"
    assert two_patients.json("patient", "show", "P3")["last"] == "Agent"
    entry = two_patients.json("audit", "--patient", "P3")[-1]
    assert entry["user"] == "tester"  # MEDSEC_USER of the client's environment


def test_working_folder_and_environment_are_the_clients(runtime, tmp_path):
    _started(runtime)
    work = tmp_path / "work"
    work.mkdir()
    (work / "new.csv").write_text("first,last,dob\nDee,Stdin,1985-05-06\n")
    code, out, err = _medsec(runtime, "patient", "import", "new.csv", cwd=work)
    assert code == 0, err
    code, _, err = _medsec(runtime, "patient", "export", "-o", "out.csv", cwd=work)
    assert code == 0, err
    assert "Stdin" in (work / "out.csv").read_text()  # relative to the client's folder
    assert oct((work / "out.csv").stat().st_mode & 0o777) == oct(0o600)
    # The environment: another clock, another user.
    code, out, _ = _medsec({**runtime, "MEDSEC_NOW": "2026-12-24T10:00:00"}, "appt", "day", "today", "--json")
    assert code == 0 and out.strip() == "[]"
    code, out, err = _medsec({**runtime, "MEDSEC_NOW": "nonsense"}, "appt", "day", "today")
    assert code == 2 and err.startswith("medsec: error: MEDSEC_NOW=") and err.count("\n") == 1
    assert _served(runtime) >= 4


def test_output_to_a_pipe_closed_early_ends_quietly(runtime, two_patients):
    for i in range(300):
        two_patients.ok("patient", "add", "--first", f"Many{i}", "--last", "Rows", "--dob", "1970-01-01")
    _started(runtime)
    shell = f"{MEDSEC_BIN} patient list --limit 1000 | head -n 1"
    proc = subprocess.run(["sh", "-c", shell], env={**os.environ, **runtime}, capture_output=True, text=True,
                          timeout=WAIT)
    assert proc.stdout.count("\n") == 1 and proc.stderr == ""


# -- signals and a client that dies -------------------------------------------------------------

def _blocked_add(runtime, home: Path):
    """A `patient add` that waits for the data directory's lock, which the test holds."""
    import fcntl

    lock = open(home / ".lock", "a")  # noqa: SIM115
    fcntl.flock(lock, fcntl.LOCK_EX)
    proc = subprocess.Popen([MEDSEC_BIN, "patient", "add", "--first", "Late", "--last", "Comer", "--dob",
                             "1970-01-01"], env={**os.environ, **runtime}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + WAIT
    while (_status(runtime) or {}).get("commands_running", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # in the lock's wait by now
    return proc, lock


def _patients(medsec: Medsec):
    return [p["id"] for p in medsec.json("patient", "list", "--status", "all")]


@pytest.mark.parametrize("signum, code, err", [
    (signal.SIGINT, 1, "medsec: error: interrupted\n"),  # Ctrl-C: the command says so, exit 1
    (signal.SIGTERM, -signal.SIGTERM, ""),  # ended by the signal, as a process of its own would be
])
def test_signals_reach_the_command(runtime, two_patients, signum, code, err):
    _started(runtime)
    proc, lock = _blocked_add(runtime, two_patients.home)
    proc.send_signal(signum)
    result = finish(proc, WAIT)
    lock.close()
    assert (result[0], result[2]) == (code, err)
    assert _patients(two_patients) == ["P1", "P2"]


def test_a_client_killed_takes_its_command_with_it(runtime, two_patients):
    _started(runtime)
    proc, lock = _blocked_add(runtime, two_patients.home)
    proc.kill()
    proc.communicate()
    deadline = time.monotonic() + WAIT
    while _status(runtime)["commands_running"] and time.monotonic() < deadline:
        time.sleep(0.05)
    lock.close()  # had the command lived on, it would add its patient now
    time.sleep(0.5)
    assert _status(runtime)["commands_running"] == 0
    assert _patients(two_patients) == ["P1", "P2"]


# -- the agent's life ------------------------------------------------------------------------------

def test_the_first_command_starts_the_agent_and_runs_on_its_own(runtime):
    assert _status(runtime) is None
    code, out, err = _medsec(runtime, "patient", "find", "smith")
    assert code == 0 and "Smith" in out and err == ""
    deadline = time.monotonic() + WAIT
    while _status(runtime) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _status(runtime)["commands_served"] == 0
    assert _medsec(runtime, "patient", "find", "smith") == (code, out, err)
    assert _served(runtime) == 1


def test_an_upgrade_retires_the_agent(runtime, tmp_path):
    """Code the agent imported changes on disk: the next command runs on its own (the new code),
    the old agent leaves, and a new one serves the commands after."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("")  # imported by every process, the agent too
    env = {**runtime, "PYTHONPATH": str(site)}  # another module path: another agent than runtime's
    try:
        first = _started(env)
        assert _medsec(env, "patient", "show", "P1")[0] == 0
        assert _served(env) == 1
        later = time.time() + 5
        os.utime(site / "sitecustomize.py", (later, later))
        code, out, _ = _medsec(env, "patient", "show", "P1")
        assert code == 0 and "Smith" in out
        assert _gone(first["pid"])
        deadline = time.monotonic() + WAIT
        while ((_status(env) or {}).get("pid") in (None, first["pid"])) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _status(env)["pid"] != first["pid"]
    finally:
        _stop(env)


def test_an_idle_agent_leaves(runtime):
    assert _started(runtime)["idle_timeout_s"] == 60
    _medsec(runtime, "agent", "stop")
    env = {**runtime, "MEDSEC_AGENT_IDLE": "1"}
    status = _started(env)
    assert status["idle_timeout_s"] == 1
    assert _gone(status["pid"])
    code, _, err = _medsec(env, "agent", "status")
    assert code == 1 and err.startswith("medsec: error: no agent is running")


@pytest.mark.parametrize("idle", ["0", "abc", "1e3", "86401", "-5"])
def test_a_bad_idle_time_is_refused(runtime, idle):
    code, out, err = _medsec({**runtime, "MEDSEC_AGENT_IDLE": idle}, "agent", "start")
    assert code == 2 and out == "" and err.startswith("medsec: error: MEDSEC_AGENT_IDLE=") and err.count("\n") == 1
    assert _status(runtime) is None


def test_start_twice_and_stop(runtime):
    first = _started(runtime)
    assert _started(runtime)["pid"] == first["pid"]
    code, out, _ = _medsec(runtime, "agent", "stop")
    assert code == 0 and out == "agent stopped\n"
    assert _gone(first["pid"])
    assert _medsec(runtime, "agent", "stop")[1] == "no agent was running\n"


def test_a_socket_folder_others_may_enter_is_never_used(runtime):
    folder = Path(runtime["XDG_RUNTIME_DIR"]) / "medsec"
    folder.mkdir(mode=0o700)
    folder.chmod(0o755)
    for _ in range(2):  # no agent is started, or used: each command runs on its own
        code, out, _ = _medsec(runtime, "patient", "find", "smith")
        assert code == 0 and "Smith" in out
    assert list(folder.iterdir()) == []
    code, _, err = _medsec(runtime, "agent", "status")
    assert code == 3 and "is not a folder only you can enter" in err


def test_another_user_is_not_served(runtime, tmp_path):
    """As root, a command run as `nobody` cannot reach the agent (its folder is root's, 0700), and
    an agent answers only its own user even given a way in."""
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs root and runuser to act as another user")
    status = _started(runtime)
    os.chmod(runtime["XDG_RUNTIME_DIR"], 0o755)
    assert Path(status["socket"]).stat().st_mode & 0o077 == 0  # its user's alone
    os.chmod(Path(status["socket"]).parent, 0o711)  # a way in, past the folder and the socket's own mode
    os.chmod(status["socket"], 0o666)
    # Sent away: the reply is empty, or the agent hung up before the request was even sent.
    probe = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])\n"
             "try:\n s.sendall(b'\\0\\0\\0\\x10{\"op\": \"status\"}'); print(repr(s.recv(100)))\n"
             "except (ConnectionResetError, BrokenPipeError): print(repr(b''))")
    proc = subprocess.run(["runuser", "-u", "nobody", "--", "python3", "-c", probe, status["socket"]],
                          capture_output=True, text=True, timeout=WAIT)
    assert proc.stdout.strip() == "b''", (proc.stdout, proc.stderr)  # connected, and sent away unanswered
    os.chmod(Path(status["socket"]).parent, 0o700)  # (its user's commands use only a private folder)
    os.chmod(runtime["XDG_RUNTIME_DIR"], 0o700)
    assert _status(runtime)["pid"] == status["pid"]


# -- which commands go to the agent ---------------------------------------------------------------

def test_which_commands_go_to_the_agent(tmp_path):
    terminal = tmp_path / "terminal"
    terminal.mkdir()
    (terminal / POINTER).write_text("url: postgresql://db/medsec\n")
    directory = {"MEDSEC_HOME": str(tmp_path / "data")}
    pg = {"MEDSEC_HOME": str(terminal)}
    wants = launch._wants_agent
    assert wants(["patient", "show", "P1"], pg)
    assert not wants(["patient", "show", "P1"], directory)
    assert wants(["patient", "show", "P1"], {**directory, "MEDSEC_AGENT": "on"})
    assert wants(["--store", "postgresql://db/x", "patient", "find", "a"], directory)
    assert wants(["--data-dir", str(terminal), "appt", "day"], directory)
    assert wants([f"--data-dir={terminal}", "appt", "day"], directory)
    assert not wants(["patient", "show", "P1"], {**pg, "MEDSEC_AGENT": "off"})
    assert not wants(["config", "edit", "staff.yaml"], pg)  # the editor needs the terminal
    assert not wants(["--user", "S1", "config", "edit", "staff.yaml"], pg)
    assert wants(["config", "export", "staff.yaml"], pg)
    assert not wants(["agent", "status"], pg)
    assert not wants(["--version"], pg) and not wants([], pg)


def test_idle_seconds():
    assert agent.idle_seconds({}) == agent.DEFAULT_IDLE
    assert agent.idle_seconds({"MEDSEC_AGENT_IDLE": " 60 "}) == 60
    for bad in ("0", "x", "86401", "1.5"):
        with pytest.raises(ValueError):
            agent.idle_seconds({"MEDSEC_AGENT_IDLE": bad})


# -- PostgreSQL: what the agent is for ------------------------------------------------------------

@pytest.fixture
def pg_runtime(pg_office):
    """A practice on PostgreSQL, MEDSEC_AGENT left to its default (auto: used for PostgreSQL)."""
    pg_office.ok("staff", "add", "--name", "Dr A", "--role", "physician", "--npi", "1234567893")
    pg_office.ok("staff", "hours", "S1", "--day", "mon-fri", "--from", "08:00", "--to", "17:00")
    for i in range(16):
        pg_office.ok("patient", "add", "--first", f"Book{i}", "--last", "Race", "--dob", "1980-01-01")
    with _agent_env(pg_office.env, "auto") as env:
        yield env


def test_postgresql_commands_use_the_agent_by_default(pg_runtime):
    code, out, err = _medsec(pg_runtime, "patient", "find", "race")
    assert code == 0 and out.count("Race") == 16, err
    deadline = time.monotonic() + WAIT
    while _status(pg_runtime) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _medsec(pg_runtime, "patient", "find", "race") == (code, out, err)
    assert _served(pg_runtime) == 1


def test_sixteen_bookings_of_one_slot_through_the_agent_one_winner(pg_runtime, pg_office):
    _started(pg_runtime)
    procs = [subprocess.Popen([MEDSEC_BIN, "appt", "book", f"P{i + 1}", "--provider", "S1", "--at",
                               "2026-11-30 09:00", "--type", "follow-up", "--json"], env={**os.environ, **pg_runtime},
                              text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(16)]
    results = [finish(p, WAIT) for p in procs]
    assert sorted(code for code, _, _ in results) == [0] + [1] * 15, results
    assert all(err.startswith("medsec: error: ") and err.count("\n") == 1 for code, _, err in results if code)
    assert _served(pg_runtime) == 16
    booked = [v for v in pg_office.json("appt", "day", "2026-11-30") if v["status"] != "cancelled"]
    assert len(booked) == 1


def test_a_client_killed_mid_transaction_on_postgresql_changes_nothing(pg_runtime, pg_office):
    """The command waits for medsec's writers' lock, which the test holds; its client is killed:
    the command dies with it (its connection closes, its transaction never commits)."""
    import psycopg

    from medsec.store import pgschema

    _started(pg_runtime)
    with psycopg.connect(pg_office.env["MEDSEC_STORE"], autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (pgschema.WRITER_LOCK,))
        proc = subprocess.Popen([MEDSEC_BIN, "patient", "add", "--first", "Late", "--last", "Comer", "--dob",
                                 "1970-01-01"], env={**os.environ, **pg_runtime}, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + WAIT
        while not conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                               ).fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.kill()
        proc.communicate()
        while _status(pg_runtime)["commands_running"] and time.monotonic() < deadline:
            time.sleep(0.05)
        conn.execute("SELECT pg_advisory_unlock(%s)", (pgschema.WRITER_LOCK,))
    time.sleep(0.5)
    assert [p["last"] for p in pg_office.json("patient", "list")].count("Comer") == 0
