"""Running the installed medsec in a pseudo-terminal, as a person at a terminal would (the pty module)."""

import os
import select
import subprocess
import time
from dataclasses import dataclass

from helpers.cli import MEDSEC_BIN


@dataclass
class TerminalRun:
    exit_code: int
    screen: str  # what the terminal showed: stdout, the echo of what was typed, stderr when it is the terminal
    stderr: str  # standard error when it was a pipe (stderr_tty=False), else ""


def run_in_terminal(args, env, answers=(), stderr_tty=True, timeout=60.0) -> TerminalRun:
    """`medsec ARGS` with a pseudo-terminal as its standard input and output (and standard error,
    unless `stderr_tty` is False: then a pipe). `answers` are (prompt, reply) pairs: each reply is
    typed, with a newline, once its prompt has appeared (a callable reply is called then, e.g. to
    act at another desk while the prompt waits, and what it returns is typed). The process starts a session of its own,
    so it never reaches the terminal the tests run in (/dev/tty does not open: it reads stdin)."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([MEDSEC_BIN, *map(str, args)], stdin=slave, stdout=slave,
                                stderr=slave if stderr_tty else subprocess.PIPE, env=env,
                                start_new_session=True, close_fds=True)
    finally:
        os.close(slave)
    screen, seen, pending = b"", 0, list(answers)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"medsec {' '.join(map(str, args))} still running after {timeout} s: {screen!r}")
            ready, _, _ = select.select([master], [], [], 0.1)
            if not ready:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the process closed the terminal (it ended)
                break
            if not chunk:
                break
            screen += chunk
            if pending and pending[0][0].encode() in screen[seen:]:
                seen = len(screen)
                reply = pending.pop(0)[1]
                os.write(master, (reply() if callable(reply) else reply).encode() + b"\n")
        code = proc.wait(timeout=timeout)
        err = proc.stderr.read().decode() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
        os.close(master)
    assert not pending, f"never asked {pending[0][0]!r}: {screen!r}"
    return TerminalRun(code, screen.decode(errors="replace").replace("\r\n", "\n"), err)


def terminal_env(medsec, tmp_path, **extra) -> dict[str, str]:
    """The environment of the tests' medsec, with a state folder of the test's own (XDG_STATE_HOME)."""
    return {**os.environ, **medsec.env, "XDG_STATE_HOME": str(tmp_path / "state"), **extra}
