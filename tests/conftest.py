"""Shared fixtures: every test gets its own data directory and a fixed clock."""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from medsec.cli import cli

NOW = "2026-11-26T10:00:00"  # a Thursday, practice time
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MEDSEC_BIN = str(Path(sys.executable).with_name("medsec"))


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


class Medsec:
    """Runs the real CLI in-process against one data directory."""

    def __init__(self, home: Path, env: dict):
        self.home = home
        self.env = env

    def __call__(self, *args, input=None, env=None) -> Result:
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
        full_env = {**os.environ, **self.env, **(env or {})}
        proc = subprocess.run([MEDSEC_BIN, *map(str, args)], capture_output=True, text=True,
                              env=full_env, **kw)
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def medsec(home, monkeypatch) -> Medsec:
    env = {"MEDSEC_HOME": str(home), "MEDSEC_NOW": NOW, "MEDSEC_USER": "tester",
           "MEDSEC_DISABLE_PLUGINS": "", "MEDSEC_PLUGINS": ""}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Medsec(home, env)


@pytest.fixture
def practice(medsec) -> Medsec:
    """An empty practice (init without --demo) with two payers."""
    medsec.ok("init")
    (medsec.home / "payers.yaml").write_text(
        "payers:\n  - {id: ACME, name: Acme Health}\n  - {id: BETA, name: Beta Mutual}\n")
    return medsec


@pytest.fixture
def demo(medsec) -> Medsec:
    medsec.ok("init", "--demo")
    return medsec


def snapshot(root: Path, skip=("audit",)) -> dict:
    """Every file's bytes under root (audit log excluded): for 'nothing written'."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and rel.parts[0] not in skip:
            out[str(rel)] = path.read_bytes()
    return out


def finish(proc: subprocess.Popen, timeout: float) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a process, reading its pipes so it never blocks."""
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def shared_data(*parts) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (../shared/data is optional)")
    return path


__all__ = ["snapshot", "shared_data", "shutil"]
