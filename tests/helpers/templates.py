"""Practices built once per test run and copied into each test's data directory.

Building the demo practice takes most of a second, the small practices a tenth
or more; a copy takes a few hundredths. A practice is built by a function of a
`Medsec` (helpers/practices.py) in a folder of its own, with the environment
every test starts with (the fixed clock, user `tester`), so the copy a test gets
is the directory that building it in the test would have left: the same
records, caches and audit log. Only the random `instance` id of medsec.yaml is
shared by the copies of one build.
"""

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from .cli import Medsec, cli_env


class Templates:
    """Data directories by (build function, its arguments), each built on first use."""

    def __init__(self, root: Path):
        self.root = root
        self.built: dict[tuple, Path] = {}

    def copy(self, medsec: Medsec, build: Callable, *args) -> Medsec:
        """Put a copy of build(medsec, *args)'s data directory at medsec.home; returns medsec."""
        key = (build, *args)
        if key not in self.built:
            self.built[key] = self._build(build, args)
        # Files get this moment's mtime (as if just written); modes are kept:
        # the data directory is private (0700 folders, 0600 files).
        shutil.copytree(self.built[key], medsec.home, symlinks=True, copy_function=shutil.copy)
        return medsec

    def _build(self, build: Callable, args: tuple) -> Path:
        # A folder of its own per attempt: a build that fails fails again, the same way, for the next test.
        folder = Path(tempfile.mkdtemp(prefix="-".join([build.__name__, *map(str, args), ""]), dir=self.root))
        home = folder / "data"
        env = cli_env(home)
        with pytest.MonkeyPatch.context() as patch:  # as the `medsec` fixture sets it for a test
            for key, value in env.items():
                patch.setenv(key, value)
            build(Medsec(home, env), *args)
        return home
