"""Practices built once per test run and copied into each test's data directory.

Building the demo practice takes most of a second, the small practices a tenth
or more; a copy takes a few hundredths. A practice is built by a function of a
`Medsec` (helpers/practices.py) in a folder of its own, with the environment
every test starts with (the fixed clock, user `tester`), so the copy a test gets
is the directory that building it in the test would have left: the same
records, caches and audit log. Only the random `instance` id of medsec.yaml is
shared by the copies of one build.

On PostgreSQL (a `medsec` whose `pg` is set, helpers/backends.py) each built
practice is copied once into a template database (`medsec store copy --to`
from a scratch copy of the directory, which keeps the directory's audit log
as built), and each test's database is made from it by `CREATE DATABASE ...
TEMPLATE` (a few hundredths of a second); the test's folder becomes the
terminal's folder pointing to it. Its audit log ends with the store copy's
entry, as a practice moved into PostgreSQL does.

`built_in_store` is for practices made in the test on the data directory but
once on PostgreSQL, where making one costs a round trip per statement: the
build runs in a database of its own, which each test's database then clones
(the signed-in `clinic`, helpers/signin.py).
"""

import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from .backends import make_terminal
from .cli import Medsec, cli_env


class Templates:
    """Data directories by (build function, its arguments), each built on first use."""

    def __init__(self, root: Path):
        self.root = root
        self.built: dict[tuple, Path] = {}
        self.databases: dict[tuple, str] = {}  # PostgreSQL template databases by the same keys

    def copy(self, medsec: Medsec, build: Callable, *args) -> Medsec:
        """Put a copy of build(medsec, *args)'s practice at medsec.home (on PostgreSQL: into
        medsec.pg, medsec.home pointing to it); returns medsec."""
        key = (build, *args)
        if key not in self.built:
            self.built[key] = self._build(build, args)
        if medsec.pg is not None:
            return self._copy_database(medsec, key)
        # Files get this moment's mtime (as if just written); modes are kept:
        # the data directory is private (0700 folders, 0600 files).
        shutil.copytree(self.built[key], medsec.home, symlinks=True, copy_function=shutil.copy)
        return medsec

    def built_in_store(self, medsec: Medsec, build: Callable, *args) -> Medsec:
        """build(medsec, *args) itself on the data directory; on PostgreSQL a clone of a database
        the build ran in once (not a data directory moved there: a signed-in practice's `store copy`
        would need a session, and adds its own audit entry), medsec.home a terminal's folder
        pointing to the clone, as `init` leaves it. Returns medsec."""
        if medsec.pg is None:
            return build(medsec, *args)
        key = ("built in store", build, *args)
        if key not in self.databases:
            self.databases[key] = self._build_in_database(medsec.pg.server, build, args)
        medsec.pg.clone(self.databases[key])
        make_terminal(medsec.home, medsec.pg.url)
        return medsec

    def _build_in_database(self, server, build: Callable, args: tuple) -> str:
        from .backends import PgDatabase

        folder = Path(tempfile.mkdtemp(prefix="-".join([build.__name__, "pg", *map(str, args), ""]), dir=self.root))
        name = server.create_database(f"template_{len(self.databases)}_{uuid.uuid4().hex[:8]}")
        home = folder / "terminal"
        env = {**cli_env(home), "MEDSEC_STORE": server.url(name)}
        with pytest.MonkeyPatch.context() as patch:  # as the `medsec` fixture sets it for a test
            for k, value in env.items():
                patch.setenv(k, value)
            build(Medsec(home, env, PgDatabase(server, name, made=True)), *args)
        self._make_template(server, name)
        return name

    def _make_template(self, server, name: str) -> None:
        # A database with sessions cannot be copied: none may come (autovacuum included) and none
        # may stay (an in-process run's may linger until it is collected).
        server.sql(f"ALTER DATABASE {name} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
        server.sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")

    def _copy_database(self, medsec: Medsec, key: tuple) -> Medsec:
        """The test's (empty) database replaced by a clone of the practice's template database."""
        server = medsec.pg.server
        if key not in self.databases:
            self.databases[key] = self._template_database(server, self.built[key])
        medsec.pg.clone(self.databases[key])
        make_terminal(medsec.home, medsec.pg.url)
        return medsec

    def _template_database(self, server, built: Path) -> str:
        """A database holding the practice built at `built`, for CREATE DATABASE ... TEMPLATE."""
        scratch = Path(tempfile.mkdtemp(prefix="to-postgresql-", dir=self.root)) / "data"
        shutil.copytree(built, scratch, symlinks=True, copy_function=shutil.copy)
        name = server.create_database(f"template_{len(self.databases)}_{uuid.uuid4().hex[:8]}")
        env = cli_env(scratch)
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv("MEDSEC_STORE", raising=False)  # the test's own; the copy's source is the directory
            for k, value in env.items():
                patch.setenv(k, value)
            Medsec(scratch, env).ok("store", "copy", "--to", server.url(name))
        shutil.rmtree(scratch.parent)
        self._make_template(server, name)
        return name

    def _build(self, build: Callable, args: tuple) -> Path:
        # A folder of its own per attempt: a build that fails fails again, the same way, for the next test.
        folder = Path(tempfile.mkdtemp(prefix="-".join([build.__name__, *map(str, args), ""]), dir=self.root))
        home = folder / "data"
        env = cli_env(home)
        with pytest.MonkeyPatch.context() as patch:  # as the `medsec` fixture sets it for a test
            patch.delenv("MEDSEC_STORE", raising=False)  # built as a data directory, for either backend
            for key, value in env.items():
                patch.setenv(key, value)
            build(Medsec(home, env), *args)
        return home
