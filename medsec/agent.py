"""The agent: one process of a user that has imported medsec once and runs each command in a fork.

Started (`medsec agent serve`, in the background) by the first command that wants it
(medsec.launch) or by `medsec agent start`, or as a service. It listens on a Unix socket in a
folder only its user can enter, and serves only that user (the peer's credentials are checked
on every connection).

For each command it forks a handler, which takes on the client's working directory, umask,
environment and standard streams, tells the client it has the command, and forks the runner, a
copy of medsec with everything imported, to run it. The handler passes the client's signals on
to the runner, kills it should the client die (as the command would have died with its own
process: a PostgreSQL transaction then rolls back), and reports how it ended.

The agent leaves after MEDSEC_AGENT_IDLE seconds without a command (default 900), and at once
when a module it imported changes on disk (an upgrade): the command that finds it so runs in its
own process and starts a new agent. It holds no patient data and no credentials between
commands: a runner's environment, and whatever it reads, end with it.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import gc
import importlib
import io
import json
import os
import pkgutil
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable

from medsec.agent_client import FORWARDED, send_frame
from medsec.plugin_discovery import SHIPPED_PLUGINS

IDLE_ENV = "MEDSEC_AGENT_IDLE"
DEFAULT_IDLE = 900  # seconds
IDLE_RANGE = (1, 86_400)
_LENGTH = struct.Struct("!i")
_REQUEST_LIMIT = 4 << 20  # bytes: the arguments and environment of one command
_READ_TIMEOUT = 5.0  # seconds a client has to send its request
_HANDOVER = 5.0  # seconds a new agent waits for the lock of one that is leaving
# Imported by commands only when they need them: the agent imports them once for all.
_LAZY = ("psycopg", "psycopg.types.range", "psycopg.types.json", "pluggy", "yaml", "tinydb", "tabulate",
         "phonenumbers", "zoneinfo", "csv", "json", "hashlib", "tempfile", "subprocess", "traceback",
         "getpass", "icalendar", "jinja2")


def idle_seconds(env: os._Environ[str] | dict[str, str]) -> int:
    """MEDSEC_AGENT_IDLE, checked; ValueError with the reason otherwise."""
    text = env.get(IDLE_ENV, "").strip()
    if not text:
        return DEFAULT_IDLE
    if not text.isdigit() or not IDLE_RANGE[0] <= int(text) <= IDLE_RANGE[1]:
        raise ValueError(f"{IDLE_ENV}={text[:40]!r} is not a number of seconds from {IDLE_RANGE[0]} to {IDLE_RANGE[1]}")
    return int(text)


def preload() -> None:
    """Import every medsec module, the plugins shipped with it and the libraries commands
    import lazily."""
    import medsec

    names = [m.name for m in pkgutil.walk_packages(medsec.__path__, "medsec.")
             if m.name != "medsec.__main__"]  # (`python -m medsec` runs a command)
    for name in names + sorted(SHIPPED_PLUGINS) + list(_LAZY):
        with contextlib.suppress(Exception):  # an optional library that is missing: commands say so
            importlib.import_module(name)


def code_stamp() -> dict[str, int]:
    """The modification time of every imported module's file: an upgrade changes it."""
    stamp = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path:
            try:
                stamp[path] = os.stat(path).st_mtime_ns
            except OSError:
                stamp[path] = -1
    return stamp


def _unchanged(stamp: dict[str, int]) -> bool:
    for path, mtime in stamp.items():
        try:
            if os.stat(path).st_mtime_ns != mtime:
                return False
        except OSError:
            if mtime != -1:
                return False
    return True


class Agent:
    """Serves `command` (the CLI's main: it reads sys.argv) on the socket at `path`."""

    def __init__(self, path: str, idle: int, command: Callable[[], None]) -> None:
        self.path = path
        self.idle = idle
        self.command = command
        self.started = time.time()
        self.served = 0
        self.running: set[int] = set()
        self.listener: socket.socket | None = None
        self.inode: int | None = None

    def serve(self) -> int:
        """Serve until idle, stopped, or upgraded; 0, or 1 when another agent already serves here."""
        lock = open(self.path + ".lock", "a")  # noqa: SIM115 (held while the agent lives)
        deadline = time.monotonic() + _HANDOVER
        while True:  # an agent that is leaving (upgraded) gives way within moments
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    return 1
                time.sleep(0.05)
        os.umask(0o077)  # the socket: its user's alone (its folder is, too)
        preload()
        stamp = code_stamp()
        gc.freeze()  # the imported modules stay shared between the forks (no copy on write)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.inode = os.stat(self.path).st_ino
        self.listener.listen(64)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            self._loop(self.listener, stamp)
        finally:
            self._leave()
        return 0

    def _loop(self, listener: socket.socket, stamp: dict[str, int]) -> None:
        last = time.monotonic()
        while True:
            self._reap()
            if self.running:
                last = time.monotonic()
            left = self.idle - (time.monotonic() - last)
            if left <= 0:
                return
            ready, _, _ = select.select([listener], [], [], min(left, 1.0))
            if not ready:
                continue
            conn, _ = listener.accept()
            with conn:
                if not self._same_user(conn):
                    continue
                if not _unchanged(stamp):
                    return  # closing `conn` unanswered: that command runs in its own process
                if self._dispatch(conn) == "stop":
                    return
            last = time.monotonic()

    def _same_user(self, conn: socket.socket) -> bool:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        return uid == os.getuid()

    def _dispatch(self, conn: socket.socket) -> str | None:
        conn.settimeout(_READ_TIMEOUT)
        try:
            request, fds = _read_request(conn)
        except (OSError, ValueError):
            return None
        try:
            op = request.get("op")
            if op == "status":
                send_frame(conn, {"pid": os.getpid(), "socket": self.path, "started": self.started,
                                  "served": self.served, "running": len(self.running), "idle": self.idle})
            elif op == "stop":
                conn.sendall(b"A")
                return "stop"
            elif op == "run" and len(fds) == 3:
                pid = os.fork()
                if pid == 0:
                    try:
                        self.listener.close()  # type: ignore[union-attr]
                        _handle(conn, request, fds, self.command)
                    finally:
                        os._exit(1)  # a fork never returns to the agent's loop
                self.running.add(pid)
                self.served += 1
        except OSError:
            pass
        finally:
            for fd in fds:
                os.close(fd)
        return None

    def _reap(self) -> None:
        for pid in list(self.running):
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue
            self.running.discard(pid)

    def _leave(self) -> None:
        """Remove the socket (if it is still this agent's: a new agent may have replaced it)."""
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self.inode:
                os.unlink(self.path)
        if self.listener is not None:
            self.listener.close()


def _read_request(conn: socket.socket) -> tuple[dict, list[int]]:
    """The request, and the descriptors that came with it (closed here should the rest fail)."""
    head, fds, _flags, _addr = socket.recv_fds(conn, _LENGTH.size, 3)
    try:
        return _request_body(conn, head), list(fds)
    except (OSError, ValueError):
        for fd in fds:
            os.close(fd)
        raise


def _request_body(conn: socket.socket, head: bytes) -> dict:
    while len(head) < _LENGTH.size:
        more = conn.recv(_LENGTH.size - len(head))
        if not more:
            raise ValueError("short request")
        head += more
    (length,) = _LENGTH.unpack(head)
    if not 0 < length <= _REQUEST_LIMIT:
        raise ValueError("request too long")
    body = b""
    while len(body) < length:
        more = conn.recv(min(65536, length - len(body)))
        if not more:
            raise ValueError("short request")
        body += more
    request = json.loads(body)
    if not isinstance(request, dict):
        raise ValueError("not a request")
    return request


def _handle(conn: socket.socket, request: dict, fds: list[int], command: Callable[[], None]) -> None:
    """The handler (a fork of the agent): become the client's process, run the command in a
    fork of its own, and report how it ended. Never returns."""
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.setsid()  # the agent's own signals (a service manager's stop) are not the commands'
        os.chdir(request["cwd"])
        os.umask(int(request["umask"]))
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        time.tzset()
        argv = [str(word) for word in request["argv"]]
        stdio = [(str(enc), str(err)) for enc, err in request["stdio"]]
    except Exception:  # noqa: BLE001 -- the client runs the command itself
        with contextlib.suppress(OSError):
            conn.sendall(b"N")
        os._exit(0)
    try:
        conn.settimeout(None)
        conn.sendall(b"A")
    except OSError:
        os._exit(0)
    pid = os.fork()
    if pid == 0:
        conn.close()
        _run(argv, stdio, command)
    status = _watch(conn, pid)
    with contextlib.suppress(OSError):
        conn.sendall(b"E" + _LENGTH.pack(status))
    os._exit(0)


def _watch(conn: socket.socket, pid: int) -> int:
    """Pass the client's signals on to the runner until it ends; kill it should the client go."""
    pidfd = os.pidfd_open(pid)
    client_gone = False
    while True:
        watched = [pidfd] if client_gone else [conn.fileno(), pidfd]
        ready, _, _ = select.select(watched, [], [])
        if pidfd in ready:
            break
        try:
            message = conn.recv(2)
        except OSError:
            message = b""
        if len(message) == 2 and message[:1] == b"S" and message[1] in {int(s) for s in FORWARDED}:
            os.kill(pid, message[1])
        elif not message:
            client_gone = True
            os.kill(pid, signal.SIGKILL)
    os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _run(argv: list[str], stdio: list[tuple[str, str]], command: Callable[[], None]) -> None:
    """The runner: the command, as `medsec ARGV` would run it in a process of its own."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for signum in (signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        sys.stdin, sys.stdout, sys.stderr = (_stream(fd, mode, *stdio[fd]) for fd, mode in
                                             ((0, "r"), (1, "w"), (2, "w")))
        sys.argv = ["medsec", *argv]
        command()
        code = 0
    except SystemExit as exit_:
        code = _exit_code(exit_.code)
    except KeyboardInterrupt:
        code = 130
    finally:
        with contextlib.suppress(Exception):
            atexit._run_exitfuncs()  # as the interpreter does when it exits
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _exit_code(code: object) -> int:
    """As Python's own exit: None is 0, a number is itself, anything else is printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    with contextlib.suppress(Exception):
        print(code, file=sys.stderr)
    return 1


def _stream(fd: int, mode: str, encoding: str, errors: str) -> io.TextIOWrapper:
    """A standard stream over the client's descriptor, as Python makes its own."""
    interactive = os.isatty(fd)
    binary = open(fd, mode + "b", closefd=False, buffering=-1)  # noqa: SIM115
    return io.TextIOWrapper(binary, encoding=encoding, errors=errors, newline="\n",
                            line_buffering=interactive or fd == 2)
