"""The `medsec` command's entry point: run the command in this process, or hand it to this user's agent.

A command that uses a PostgreSQL store spends most of its time before it starts: importing
psycopg (and asyncio, ssl, importlib.metadata ... that it imports) costs 100-170 ms a process.
The agent (medsec.agent) is a process of the same user that has imported everything once and
forks a copy of itself for each command, the way Mercurial's `chg` command server does. This
process then only passes what makes the command its own -- the arguments, the environment, the
working directory, the umask and its standard input, output and error (the file descriptors
themselves) -- waits, forwards the signals it gets, and exits as the command did.

When the agent is used (MEDSEC_AGENT):
  auto (default)  for a PostgreSQL store (--store, $MEDSEC_STORE or a terminal folder's store.yaml);
  on              for every store;
  off             never.
An agent that is not running is started in the background and this command runs here. A command
that talks to the terminal itself (an editor, a passphrase) always runs here. Anything that goes
wrong before the agent has taken the command also runs it here: the agent is only ever faster.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from medsec.locations import names_postgresql

Env = Mapping[str, str]
# Options of the root group that take a value (skipped to find the command's name).
_VALUED = frozenset({"--data-dir", "--store", "--user", "--token-file", "--break-glass"})
# Commands that open the terminal itself ($EDITOR, a passphrase's prompt, man's pager for `help --man`):
# the agent's copy has no controlling terminal.
INTERACTIVE = frozenset({("config", "edit"), ("agent",), ("login",), ("staff", "passphrase"), ("help",),
                         ("man",)})


def main() -> None:
    argv = sys.argv[1:]
    if _wants_agent(argv, os.environ):
        from medsec.agent_client import run

        code = run(argv)
        if code is not None:
            sys.exit(code)
    from medsec.cli import main as run_here

    run_here()


def command_words(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """The words naming the command (`patient`, `show` ...) and the root options given before it."""
    options: dict[str, str] = {}
    i = 0
    while i < len(argv):
        word = argv[i]
        name, eq, value = word.partition("=")
        if name in _VALUED:
            if eq:
                options[name] = value
            elif i + 1 < len(argv):
                options[name] = argv[i + 1]
                i += 1
        elif word == "--":
            i += 1
            break
        elif not word.startswith("-"):
            break
        i += 1
    return [w for w in argv[i:i + 2] if not w.startswith("-")], options


def _wants_agent(argv: list[str], env: Env) -> bool:
    mode = env.get("MEDSEC_AGENT", "auto").strip().lower() or "auto"
    if mode not in ("auto", "on") or sys.platform != "linux":  # (Linux: SO_PEERCRED, pidfd_open)
        return False
    words, options = command_words(argv)
    if not words or (words[0],) in INTERACTIVE or tuple(words[:2]) in INTERACTIVE:
        return False  # `medsec`, `medsec --version`: nothing worth a round trip
    return mode == "on" or names_postgresql(options.get("--data-dir"), options.get("--store"), env)
