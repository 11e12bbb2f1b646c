"""Many real medsec processes at once, without paying Python's start-up for each: a fork server.

The tests of real processes contending (16 terminals booking one slot, 16 adding patients, the
server restarted under them) need a process per command, and started as the console script each
costs a fresh interpreter and every import (medsec, click, psycopg: about 0.3 s of CPU against a
PostgreSQL store), most of those tests' time on two cores. A `Forker` is one Python process that
imports medsec and the libraries its commands import lazily once (medsec.agent.preload, what the
agent does), then forks a child for each command it is sent: the child runs the console script's
own entry point (medsec.launch.main, with the command in sys.argv) with stdin on /dev/null and its
stdout and stderr in files, and exits with its exit code, as `medsec ARGS` would. So every command
is still a process of its own, with its own connections and locks, that starts with nothing of
another's and ends with the command; the commands sent together are forked together, within a
few milliseconds: a tighter race than processes that start one after another.

The environment and working folder are the Forker's own (given when it is made), for all its
commands. What a Forker does not run: the interpreter's start-up and the imports (the console
script's own tests cover those), and anything that needs the terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable

import pytest

# The server: fork one child per request line ({"id", "argv"}), answer one line per child when it ends.
SERVER = r'''
import atexit, contextlib, gc, io, json, os, select, shutil, signal, sys, tempfile

from medsec.agent import preload

preload()
gc.freeze()  # the imported modules stay shared with the children (no copy on write)
folder = tempfile.mkdtemp(prefix="medsec-forks-")
ENCODINGS = [(s.encoding, s.errors) for s in (sys.stdin, sys.stdout, sys.stderr)]
running = {}  # pidfd -> (pid, request id)


def child(request_id, argv):
    """As the console script: medsec.launch.main with sys.argv; never returns."""
    code = 1
    try:
        for fd in running:
            os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        for fd, name in ((1, "out"), (2, "err")):
            out = os.open(os.path.join(folder, f"{request_id}.{name}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.dup2(out, fd)
            os.close(out)
        sys.stdin, sys.stdout, sys.stderr = (
            io.TextIOWrapper(open(fd, mode, closefd=False), encoding=enc, errors=err, line_buffering=fd == 2)
            for fd, mode, (enc, err) in zip((0, 1, 2), ("rb", "wb", "wb"), ENCODINGS))
        sys.argv = ["medsec", *argv]
        from medsec.launch import main

        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1
        if not isinstance(exit_.code, (int, type(None))):
            print(exit_.code, file=sys.stderr)
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code & 0xFF)


def finished(pidfd):
    pid, request_id = running.pop(pidfd)
    os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    texts = []
    for name in ("out", "err"):
        path = os.path.join(folder, f"{request_id}.{name}")
        with open(path, "rb") as f:
            texts.append(f.read().decode("utf-8", "surrogateescape"))
        os.unlink(path)
    print(json.dumps({"id": request_id, "code": os.waitstatus_to_exitcode(status), "out": texts[0],
                      "err": texts[1]}), flush=True)


print("ready", flush=True)
pending, reading = b"", True
try:
    while reading or running:
        ready, _, _ = select.select(([0] if reading else []) + list(running), [], [])
        for fd in ready:
            if fd != 0:
                finished(fd)
                continue
            data = os.read(0, 1 << 16)
            reading = bool(data)
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:  # the requests of one write are forked one straight after another
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    child(request["id"], request["argv"])
                running[os.pidfd_open(pid)] = (pid, request["id"])
finally:
    shutil.rmtree(folder, ignore_errors=True)
'''


class Forker:
    """A fork server for commands in `env` (with `cwd`): `start` sends commands, `wait` gives one's
    (exit code, stdout, stderr), the exit code negative for a signal as subprocess gives it."""

    def __init__(self, env: dict[str, str], cwd: str | os.PathLike[str] | None = None, timeout: float = 120):
        self.timeout = timeout
        # -P: nothing from the working folder on sys.path (the console script has its own folder there)
        self.proc = subprocess.Popen([sys.executable, "-P", "-c", SERVER], env=env, cwd=cwd, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     start_new_session=True)  # its children in its group: close() ends them all
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if line != "ready\n":
            self.close(wait=False)
            pytest.fail(f"the fork server did not start: {line!r}")
        self.results: dict[int, tuple[int, str, str]] = {}
        self.changed = threading.Condition()
        self.sent = 0
        self.send_lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            answer = json.loads(line)
            with self.changed:
                self.results[answer["id"]] = (answer["code"], answer["out"], answer["err"])
                self.changed.notify_all()
        with self.changed:  # the server ended
            self.changed.notify_all()

    def start_all(self, commands: Iterable[Iterable[object]]) -> list[int]:
        """Fork one process per command, together (one write); their ids, for `wait`."""
        with self.send_lock:
            ids, lines = [], []
            for argv in commands:
                self.sent += 1
                ids.append(self.sent)
                lines.append(json.dumps({"id": self.sent, "argv": [str(a) for a in argv]}) + "\n")
            self.proc.stdin.write("".join(lines))  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        return ids

    def start(self, *argv: object) -> int:
        return self.start_all([argv])[0]

    def wait(self, command_id: int) -> tuple[int, str, str]:
        with self.changed:
            done = self.changed.wait_for(lambda: command_id in self.results or not self.reader.is_alive(),
                                         self.timeout)
            if command_id in self.results:
                return self.results.pop(command_id)
        self.close(wait=False)
        pytest.fail(f"command {command_id} of the fork server " + ("ran over its time" if not done else
                                                                  "never ended: the server stopped"))

    def run(self, *argv: object) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) of one command, in a process of its own."""
        return self.wait(self.start(*argv))

    def close(self, wait: bool = True) -> None:
        """Stop the server once its commands have ended; anything of it still running after a
        while (a command that hangs), or at once without `wait`, is killed with it."""
        if wait and self.proc.poll() is None:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                self.proc.stdin.close()  # type: ignore[union-attr]
                self.proc.wait(timeout=self.timeout)
        if self.proc.poll() is None:  # (not reaped yet: its id is still its group's)
            os.killpg(self.proc.pid, signal.SIGKILL)  # it and the children it still waits for
            self.proc.wait()
        with contextlib.suppress(OSError):
            self.proc.stdin.close()  # type: ignore[union-attr]
        if hasattr(self, "reader"):
            self.reader.join(timeout=10)  # (it reads to the end the server's exit makes)
        self.proc.stdout.close()  # type: ignore[union-attr]

    def __enter__(self) -> Forker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
