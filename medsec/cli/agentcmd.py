"""The `agent` group: this user's warm medsec process (medsec.agent) -- start, stop, status, serve."""

import json
import os
import socket
import sys
import time

import click

from medsec.cli.output import output_options, render
from medsec.errors import EnvironmentFailure, InvalidInput, Refused

_WAIT = 20.0  # seconds `start` waits for the agent to answer (it imports everything first)


@click.group("agent")
def agent_group():
    """Keep medsec loaded: faster commands.

    A command on a PostgreSQL store spends 100-170 ms importing the
    database driver. The agent is a process of yours that has imported it
    once and runs each command in a copy of itself, with the command's
    arguments, environment, working directory and terminal: the command
    behaves as it would on its own, only sooner. The first command on a
    PostgreSQL store starts it; it leaves after $MEDSEC_AGENT_IDLE seconds
    without a command (default 900) and when medsec is upgraded.
    MEDSEC_AGENT=off runs every command in its own process; MEDSEC_AGENT=on
    uses the agent for data directories too.

    \b
    Examples:
      medsec agent status
      medsec agent stop
      MEDSEC_AGENT_IDLE=3600 medsec agent start
    """


def _path() -> str:
    from medsec.agent_client import socket_path

    if sys.platform != "linux":
        raise EnvironmentFailure("the agent runs on Linux only (it needs SO_PEERCRED and pidfd_open)")
    path = socket_path()
    if path is None:
        raise EnvironmentFailure("no private folder for the agent's socket ($XDG_RUNTIME_DIR/medsec or "
                                 f"/tmp/medsec-{os.getuid()} is not a folder only you can enter)")
    return path


def _ask(path: str, op: str) -> dict | None:
    """The agent's answer to `op` (None when no agent listens there)."""
    from medsec.agent_client import send_frame

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5.0)
        try:
            sock.connect(path)
            send_frame(sock, {"op": op})
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        except OSError:
            return None
    if op == "stop":
        return {"stopped": data == b"A"}
    try:
        return json.loads(data[4:]) if data else None
    except ValueError:
        return None


def _idle() -> int:
    from medsec.agent import idle_seconds

    try:
        return idle_seconds(os.environ)
    except ValueError as e:
        raise InvalidInput(str(e)) from None


def _shown(status: dict) -> dict:
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(status["started"]))
    return {"pid": status["pid"], "socket": status["socket"], "started": started, "commands_served":
            status["served"], "commands_running": status["running"], "idle_timeout_s": status["idle"]}


@agent_group.command("status")
@output_options
def agent_status(fmt):
    """Whether the agent runs, and what it served.

    Exit 1 when it does not run.

    \b
    Examples:
      medsec agent status
      medsec agent status --json
    """
    status = _ask(_path(), "status")
    if status is None:
        raise Refused("no agent is running", hint="the next command on a PostgreSQL store starts one")
    render(_shown(status), fmt)


@agent_group.command("start")
@output_options
def agent_start(fmt):
    """Start the agent in the background.

    Nothing to do when it runs already.

    \b
    Examples:
      medsec agent start
    """
    from medsec.agent_client import start_agent

    _idle()
    path = _path()
    status = _ask(path, "status")
    if status is None:
        start_agent(path)
        deadline = time.monotonic() + _WAIT
        while status is None and time.monotonic() < deadline:
            time.sleep(0.05)
            status = _ask(path, "status")
        if status is None:
            raise EnvironmentFailure(f"the agent did not answer within {_WAIT:.0f} s",
                                     hint="run 'medsec agent serve' to see why")
    render(_shown(status), fmt)


@agent_group.command("stop")
def agent_stop():
    """Stop the agent.

    Commands running in it finish first.

    \b
    Examples:
      medsec agent stop
    """
    path = _path()
    if not (_ask(path, "stop") or {}).get("stopped"):
        click.echo("no agent was running")
        return
    deadline = time.monotonic() + _WAIT
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    click.echo("agent stopped")


@agent_group.command("serve")
@click.option("--socket", "path", default=None, hidden=True)  # the socket a command starting its agent found free
def agent_serve(path):
    """Run the agent in the foreground.

    For a service manager (a systemd user service).
    Exit 1 when an agent already serves this user and installation.

    \b
    Examples:
      medsec agent serve
    """
    from medsec.agent import Agent
    from medsec.agent_client import SYS_PATH_ENV
    from medsec.cli import main

    paths = os.environ.pop(SYS_PATH_ENV, None)  # a command that started its agent: its module path
    if paths:
        sys.path[:] = [str(p) for p in json.loads(paths)]
    path = path or _path()
    if Agent(path, _idle(), main).serve() == 1:
        raise Refused(f"an agent already serves {path}")
