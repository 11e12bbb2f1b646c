"""The reminder an open practice gives a person at a terminal, once a day: nothing is protected.

An open practice (`security: open`) lets whoever runs medsec act as anyone. That is meant
for a one-person laptop; a practice left open by mistake should not stay so unnoticed. So a
command run on an open practice from a terminal (standard error is a terminal: never cron,
a pipe, or a test without one) first prints one line, `OPEN_NOTE`, once per calendar day
(the practice's clock, which MEDSEC_NOW moves), per user and per practice.

The day it was last shown is kept in a small file of the user's own, outside the data
directory (which may be shared, or a database): $XDG_STATE_HOME/medsec, else
~/.local/state/medsec (~/Library/Application Support/medsec on macOS), named after a hash
of the practice's folder. Nothing about the practice is in it but that hash. When the file
cannot be read or written the note is shown, and the command runs as ever.

The gate (medsec.cli.gate) asks `note_due` only when standard error is a terminal, so
everyday commands in scripts pay one isatty() call and import nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from medsec.digests import sha256_hex
from medsec.errors import MedsecError
from medsec.security.principal import OPEN, mode

if TYPE_CHECKING:
    from medsec.context import AppContext

OPEN_NOTE = ("medsec: note: this practice is open: anyone who can run medsec can act as anyone "
             "(an administrator turns on sign-in: medsec security mode signed-in)")
# Commands that set up, report or change the mode themselves (they say what it is already), and
# the agent's, which act on no practice.
QUIET_COMMANDS = frozenset({"init", "login", "logout", "whoami", "security mode", "agent serve", "agent start",
                            "agent status", "agent stop"})
_MARKER_BYTES = 64  # a date and a newline; anything longer is not ours


def state_dir(env: Mapping[str, str] = os.environ) -> str | None:
    """The user's state folder for medsec (None when there is no home to put it in)."""
    base = env.get("XDG_STATE_HOME", "")
    if not os.path.isabs(base):  # the XDG specification: a relative path is to be ignored
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = (os.path.join(home, "Library", "Application Support") if sys.platform == "darwin"
                else os.path.join(home, ".local", "state"))
    return os.path.join(base, "medsec")


def marker_path(data_dir: str, env: Mapping[str, str] = os.environ) -> str | None:
    """The file that holds the day the note was last shown for the practice at `data_dir`."""
    folder = state_dir(env)
    if folder is None:
        return None
    digest = sha256_hex(os.path.realpath(data_dir).encode("utf-8", "surrogateescape"))
    return os.path.join(folder, f"open-reminder-{digest[:24]}")


def note_due(app: AppContext) -> bool:
    """Whether this command, on an open practice, should show OPEN_NOTE: not yet today for this
    user and practice. When it is due, today is recorded (best effort: never an error)."""
    if app.command in QUIET_COMMANDS or not app.initialized:
        return False
    try:
        if mode(app) != OPEN:
            return False
        today = app.today().isoformat()
    except MedsecError:  # a practice that cannot be read: the command itself says so
        return False
    path = marker_path(app.data_dir)
    if path is None:
        return True
    if _last_shown(path) == today:
        return False
    _record(path, today)
    return True


def _last_shown(path: str) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, _MARKER_BYTES).decode("ascii", "replace").strip()
    except OSError:
        return None
    finally:
        os.close(fd)


def _record(path: str, today: str) -> None:
    """Write `today` to `path`, in a folder only the user may enter; a failure is ignored."""
    with contextlib.suppress(OSError):
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, f"{today}\n".encode("ascii"))
        finally:
            os.close(fd)
