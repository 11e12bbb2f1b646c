"""Handing one command to this user's agent (medsec.agent), and where the agent listens.

Imported by the entry point before anything else: the standard library's small modules only.

The conversation, over the agent's Unix socket:
  client -> agent  a frame (4-byte length, JSON) with the request; for `run`, the client's
                   standard input, output and error ride along (SCM_RIGHTS)
  agent -> client  b"A" once the command is the agent's; b"N" when it cannot take it (the
                   client's folder is gone ...), nothing when it is leaving (upgraded,
                   stopped): the client then runs the command itself
  client -> agent  b"S" + a signal number, for each signal the client gets while it waits
  agent -> client  b"E" + the exit status (4 bytes, signed): a code, or minus the signal
                   that ended the command
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import sys
import zlib

_STATUS = struct.Struct("!i")
# Signals the client passes on to the command while it waits (as a terminal or a
# supervisor would send them to a command running in the process itself).
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
SYS_PATH_ENV = "MEDSEC_AGENT_SYS_PATH"  # the module path a started agent takes (this process's)
_SOCKET_PATH_LIMIT = 100  # sun_path is 108 bytes on Linux, 104 on macOS


def socket_path() -> str | None:
    """This user's agent socket for this installation (Python, medsec and the module search
    path: an agent imports what this process would), in a folder only
    the user can enter; None when no such folder can be had (the command then runs here)."""
    uid = os.getuid()
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    folder = os.path.join(runtime, "medsec") if runtime and _private(runtime, uid) else f"/tmp/medsec-{uid}"
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    if not _private(folder, uid):
        return None  # someone else's, or open to others: never talk through it
    installation = "\0".join([sys.executable, os.path.dirname(os.path.abspath(__file__)), *sys.path]).encode()
    path = os.path.join(folder, f"agent-{zlib.crc32(installation):08x}.sock")
    return path if len(path.encode()) <= _SOCKET_PATH_LIMIT else None


def _private(folder: str, uid: int) -> bool:
    import stat

    try:
        st = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == uid and not st.st_mode & 0o077


def send_frame(sock: socket.socket, request: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(request).encode()
    frame = _STATUS.pack(len(data)) + data
    if fds:
        sent = socket.send_fds(sock, [frame], fds)
        frame = frame[sent:]
    sock.sendall(frame)


def run(argv: list[str]) -> int | None:
    """Run the command in the agent: its exit code, or None when the agent did not take it
    (none is running -- one is then started for the next command -- or it declined)."""
    path = socket_path()
    if path is None:
        return None
    try:
        request = _request(argv)
        for fd in (0, 1, 2):
            os.fstat(fd)  # a closed standard stream cannot be passed
    except OSError:  # (or the working folder is gone): run here, where the command says what is wrong
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        send_frame(sock, request, [0, 1, 2])
        answer = sock.recv(1)
    except OSError:
        answer = b""
    if answer != b"A":
        sock.close()
        if answer != b"N":  # none listens, or it is leaving (upgraded): a new one, for the next command
            start_agent(path)
        return None  # run here
    return _wait(sock)


def _request(argv: list[str]) -> dict:
    umask = os.umask(0o077)
    os.umask(umask)
    streams = (sys.stdin, sys.stdout, sys.stderr)
    return {"op": "run", "argv": argv, "env": dict(os.environ), "cwd": os.getcwd(), "umask": umask,
            "stdio": [[getattr(s, "encoding", None) or "utf-8", getattr(s, "errors", None) or "strict"]
                      for s in streams]}


def _wait(sock: socket.socket) -> int:
    """Pass signals on until the command ends; its exit status as this process's."""

    def forward(signum: int, frame: object) -> None:
        with contextlib.suppress(OSError):  # the command ends anyway: its exit status follows
            sock.sendall(b"S" + bytes([signum]))

    for signum in FORWARDED:
        signal.signal(signum, forward)
    reply = b""
    while len(reply) < 1 + _STATUS.size:
        try:
            chunk = sock.recv(1 + _STATUS.size - len(reply))
        except OSError:
            chunk = b""
        if not chunk:
            sys.stderr.write("medsec: error: the agent stopped before the command ended "
                             "(see 'medsec audit' for what it did; MEDSEC_AGENT=off runs commands without it)\n")
            return 3
        reply += chunk
    (status,) = _STATUS.unpack(reply[1:])
    if status < 0:  # ended by a signal: end the same way
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
        return 128 - status
    return status


def start_agent(path: str) -> None:
    """Start the agent in the background, in a session of its own; it outlives this command.
    Two commands may both start one: the second finds the first's lock and leaves."""
    import subprocess

    # From "/" (`-m` puts the working folder first on the module path: a folder's stray
    # medsec.py must not become the agent's); the module path is this process's.
    env = dict(os.environ, **{SYS_PATH_ENV: json.dumps(sys.path)})
    with contextlib.suppress(OSError):  # no agent then: every command runs in its own process
        subprocess.Popen([sys.executable, "-m", "medsec", "agent", "serve", "--socket", path], cwd="/", env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True)
