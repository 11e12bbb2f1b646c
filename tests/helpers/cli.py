"""Running medsec from the tests: in-process through click, or as the installed console script."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from medsec.cli import cli

NOW = "2026-11-26T10:00:00"  # a Thursday, practice time
MEDSEC_BIN = str(Path(sys.executable).with_name("medsec"))


def cli_env(home: Path) -> dict[str, str]:
    """The environment every test runs medsec in: its data directory, the fixed clock, a
    known user and no plugins beyond the bundled ones."""
    return {"MEDSEC_HOME": str(home), "MEDSEC_NOW": NOW, "MEDSEC_USER": "tester",
            "MEDSEC_DISABLE_PLUGINS": "", "MEDSEC_PLUGINS": "",
            "MEDSEC_AGENT": "off"}  # commands in processes of their own (test_agent.py tests the agent)


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


class Medsec:
    """Runs the real CLI in-process against one data directory (or, with `pg`, the terminal's
    folder of a practice kept in that PostgreSQL database: helpers/backends.py)."""

    def __init__(self, home: Path, env: dict, pg=None):
        self.home = home
        self.env = env
        self.pg = pg  # helpers.backends.PgDatabase, or None: the data directory

    def __call__(self, *args, input=None, env=None) -> Result:
        if self.pg is not None:
            self.pg.ensure()
        runner = CliRunner()
        result = runner.invoke(cli, [str(a) for a in args], input=input,
                               env={**self.env, **(env or {})}, catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    def ok(self, *args, **kw) -> Result:
        result = self(*args, **kw)
        assert result.exit_code == 0, f"medsec {' '.join(map(str, args))}: {result.stderr}"
        return result

    def json(self, *args, **kw):
        return self.ok(*args, "--json", **kw).json()

    def run(self, *args, env=None, check=True, **kw) -> subprocess.CompletedProcess:
        """The installed console script in a real process."""
        if self.pg is not None:
            self.pg.ensure()
        full_env = {**os.environ, **self.env, **(env or {})}
        proc = subprocess.run([MEDSEC_BIN, *map(str, args)], capture_output=True, text=True,
                              env=full_env, **kw)
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc


def finish(proc: subprocess.Popen, timeout: float) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a process, reading its pipes so it never blocks."""
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err
