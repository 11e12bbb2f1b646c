"""A real, throwaway PostgreSQL server for the tests (the PostgreSQL storage backend's tests).

Each server lives in its own temporary directory: the data directory, the log and
the Unix socket. It listens on that socket and on 127.0.0.1 (a free port, for the
tests of passwords, which the socket's trust authentication never asks for).
initdb and pg_ctl refuse to run as root, so as root they run as the `postgres`
system user (runuser) in a directory that user owns; otherwise as the current user.
Durability is switched off (fsync, synchronous_commit, full_page_writes): a test
server that dies takes only throwaway data with it. `durable=True` keeps the
server's defaults (fsync on), for timings that mean what a real server's do
(the benchmark, bench/pg_bench.py).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

SUPERUSER = "medsec_test"
REQUIRE_ENV = "MEDSEC_REQUIRE_SERVICES"  # "1": a missing PostgreSQL fails the tests instead of skipping them
_SETTINGS = "-c max_connections=100 -c password_encryption=scram-sha-256"
_NOT_DURABLE = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_RUN_TIMEOUT = 120  # seconds for one initdb or pg_ctl call (pg_ctl itself waits at most 60 s)


def find_bindir() -> Path | None:
    """The server binaries: the highest /usr/lib/postgresql/<N>/bin (Debian), else
    `pg_config --bindir`, else the PATH; None when there is no initdb anywhere."""
    versions = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    for bindir in sorted(versions, key=lambda p: int(p.parent.name), reverse=True):
        if (bindir / "initdb").is_file():
            return bindir
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=30)
            bindir = Path(out.stdout.strip())
            if out.returncode == 0 and (bindir / "initdb").is_file():
                return bindir
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_root() -> bool:
    return os.geteuid() == 0


def require_postgres() -> str | None:
    """Why no server can be provided here (one line), or None when one can."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        return f"psycopg is not importable ({exc}): pip install -e '.[postgresql]'"
    if find_bindir() is None:
        return "no PostgreSQL server binaries (initdb) found: apt-get install postgresql"
    if _as_root():
        if shutil.which("runuser") is None:
            return "running as root, and runuser (to run initdb as 'postgres') is missing"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root, and there is no 'postgres' system user to run initdb as"
    return None


def skip_or_fail(reason: str) -> None:
    """Skip the test, or fail it when the run requires its services (MEDSEC_REQUIRE_SERVICES=1, as CI
    sets): CI must not go green by skipping the PostgreSQL tests."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"PostgreSQL required ({REQUIRE_ENV}=1): {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_env() -> dict[str, str]:
    """The environment without PG* variables (a PGDATA or PGPORT of the caller must not steer pg_ctl)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"  # messages in the log that the error tails quote, in English
    return env


class PgServerError(RuntimeError):
    """The test server could not be set up or started (the message carries the tool's output or log tail)."""


class PgServer:
    """One PostgreSQL server in a temporary directory. Use start_server() for a running one."""

    def __init__(self, bindir: Path, durable: bool = False) -> None:
        self.bindir = bindir
        self.durable = durable  # the server's own durability settings (fsync on), else all off
        self._owner = pwd.getpwnam("postgres") if _as_root() else None
        # /tmp, not a long TMPDIR: a Unix socket's path must stay under 108 bytes.
        base = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
        self.socket_dir = Path(tempfile.mkdtemp(prefix="medsec-pg-", dir=base))
        os.chmod(self.socket_dir, 0o755)  # the directory itself: the data directory inside stays 0700
        if self._owner is not None:
            os.chown(self.socket_dir, self._owner.pw_uid, self._owner.pw_gid)
        self.datadir = self.socket_dir / "data"
        self.logfile = self.socket_dir / "server.log"
        self.port = free_port()
        self.running = False
        self._started = False  # once started, the port is the URLs' and stays
        self._closed = False

    # -- running the server's tools ------------------------------------------------------------

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run one of the server's tools, as `postgres` when we are root, from the server's directory
        (postgres may not read the caller's working directory)."""
        command = [str(self.bindir / tool), *args]
        if self._owner is not None:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, env=_server_env(),
                              cwd=self.socket_dir, stdin=subprocess.DEVNULL, timeout=_RUN_TIMEOUT)
        if check and done.returncode != 0:
            output = (done.stdout + done.stderr).strip().splitlines()[-15:]
            raise PgServerError(f"{tool} failed ({done.returncode}): " + " | ".join(output))
        return done

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log, for error messages."""
        try:
            return " | ".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def init(self) -> None:
        """initdb: superuser medsec_test, trust on the socket, SCRAM passwords over TCP, UTF8."""
        args = ["-D", str(self.datadir), "-U", SUPERUSER, "--auth-local=trust", "--auth-host=scram-sha-256",
                "-E", "UTF8", *([] if self.durable else ["--no-sync"])]
        try:
            self._run("initdb", *args, "--locale=C.UTF-8")
        except PgServerError:
            shutil.rmtree(self.datadir, ignore_errors=True)
            self._run("initdb", *args, "--locale=C")  # a system without the C.UTF-8 locale

    def start(self) -> None:
        """Start the server (pg_ctl waits until it accepts connections, at most 60 s). A port taken
        since free_port() chose it is retried on another."""
        for attempt in range(3):
            settings = _SETTINGS if self.durable else f"{_NOT_DURABLE} {_SETTINGS}"
            options = f"-k {self.socket_dir} -h 127.0.0.1 -p {self.port} {settings}"
            done = self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60",
                             "-o", options, "start", check=False)
            if done.returncode == 0:
                self.running = self._started = True
                return
            if attempt < 2 and not self._started and "could not bind" in self.log_tail(5):
                self.port = free_port()
                continue
            output = (done.stdout + done.stderr).strip().replace("\n", " | ")
            raise PgServerError(f"PostgreSQL did not start ({output}); log: {self.log_tail()}")

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop (fast: roll back open transactions, disconnect clients)."""
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "-t", "60", "stop")
        self.running = False

    def restart(self) -> None:
        """Stop and start again, on the same socket and port: URLs handed out stay valid."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop at once (no checkpoint: the data is thrown away) and remove the directory. Safe twice."""
        if self._closed:
            return
        self._closed = True
        if (self.datadir / "postmaster.pid").exists():  # also a start that timed out: it may yet run
            try:
                stopped = self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "-t", "30",
                                    "stop", check=False).returncode == 0
            except (OSError, subprocess.SubprocessError):
                stopped = False
            if not stopped:
                self._kill_postmaster()
        shutil.rmtree(self.socket_dir, ignore_errors=True)
        self.running = False

    def _kill_postmaster(self) -> None:
        """Should pg_ctl have failed: SIGQUIT (immediate shutdown) to the pid in postmaster.pid, if that
        process is still a postgres (a stale pid may since belong to another program)."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.datadir / "postmaster.pid").read_text().splitlines()[0])
            if Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
                return
            os.kill(pid, signal.SIGQUIT)
            for _ in range(50):
                os.kill(pid, 0)  # raises once it is gone
                time.sleep(0.1)

    def __enter__(self) -> PgServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the tests use ----------------------------------------------------------------

    def url(self, dbname: str) -> str:
        """The superuser's URL to a database, over the Unix socket (trust: no password)."""
        return f"postgresql://{SUPERUSER}@/{dbname}?host={quote(str(self.socket_dir), safe='/')}&port={self.port}"

    def tcp_url(self, dbname: str, user: str) -> str:
        """A URL over TCP on 127.0.0.1, where every role needs its password (give it apart: PGPASSWORD
        or psycopg's password=), for the tests of credentials."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def sql(self, statement: str, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement as the superuser in autocommit (CREATE DATABASE cannot run in a
        transaction); its rows, [] for a statement that returns none."""
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(statement.encode())  # bytes: a composed statement's text, no placeholders
            return cur.fetchall() if cur.description is not None else []

    def create_database(self, name: str | None = None) -> str:
        """A new empty database (from template0: no leftovers from template1); its name."""
        name = name or f"medsec_{uuid.uuid4().hex[:16]}"
        self.sql(f"CREATE DATABASE {_identifier(name)} TEMPLATE template0 ENCODING 'UTF8'")
        return name

    def create_role(self, name: str, password: str) -> None:
        """A LOGIN role with a password (SCRAM), to connect over TCP with the right or a wrong one."""
        self.sql(f"CREATE ROLE {_identifier(name)} LOGIN PASSWORD {_literal(password)}")


def _identifier(name: str) -> str:
    """A plain lower-case SQL name, refused otherwise (test code names its databases and roles)."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def _literal(text: str) -> str:
    """A string literal (standard_conforming_strings is on: only quotes double)."""
    return "'" + text.replace("'", "''") + "'"


def start_server(bindir: Path | None = None, durable: bool = False) -> PgServer:
    """A running server, initialised in a new directory; closed again if any step fails (Ctrl-C too),
    and at exit of the process should no one close it. `durable`: the server's default durability
    (fsync on) instead of none."""
    found = bindir or find_bindir()
    if found is None:
        raise PgServerError("no PostgreSQL server binaries (initdb) found")
    server = PgServer(found, durable)
    atexit.register(server.close)
    try:
        server.init()
        server.start()
    except BaseException:
        server.close()
        raise
    return server
