"""The end-to-end suites on either backend: the data directory (the default) or PostgreSQL.

A module marked `pytest.mark.both_backends` runs each test that uses the `medsec` fixture
(or one built on it) twice: `[directory]` and `[postgresql]` (tests/conftest.py). On
PostgreSQL the test's folder (`medsec.home`) is this terminal's folder, holding only the
pointer `store.yaml` (as `init --store` leaves it), and `MEDSEC_STORE` names a database of
the test's own; `medsec.pg` says which (None on the data directory).

A test marks what cannot hold on PostgreSQL: `pytest.mark.directory_only(reason=...)` (it
looks at the data directory's files: no [postgresql] run), `pytest.mark.postgresql_xfail(
reason=...)` (a known defect outside the backend: xfail(strict=True) on [postgresql]).

The configuration is a set of documents in the store: writing practice.yaml into a data
directory changes it, into a terminal's folder it does nothing. `write_config` writes the
file into the data directory, or on PostgreSQL imports it (`medsec config import`);
`read_config` reads the store's text. `snapshot` (helpers/files.py) takes the database's rows with the
folder's files, so 'nothing written' means the same on both.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from medsec.store.api import POINTER, StoreLocation, read_pointer, write_pointer

if TYPE_CHECKING:
    from .cli import Medsec
    from .pg import PgServer

DIRECTORY = "directory"
POSTGRESQL = "postgresql"
BACKENDS = (DIRECTORY, POSTGRESQL)
MARKERS = (
    "both_backends: run the module's `medsec` tests on the data directory and on PostgreSQL (helpers/backends.py)",
    "directory_only(reason): a both_backends test that looks at the data directory's own files",
    "postgresql_xfail(reason): a both_backends test that fails on PostgreSQL for a known defect (strict xfail)",
)


@dataclass
class PgDatabase:
    """A test's database on the session's server, made when first needed: empty by the first
    command (`ensure`, helpers.cli.Medsec), or as a copy of a practice (helpers.templates)."""

    server: PgServer
    name: str
    made: bool = False

    @property
    def url(self) -> str:
        return self.server.url(self.name)

    def ensure(self) -> None:
        if not self.made:
            self.server.create_database(self.name)
            self.made = True

    def clone(self, template: str) -> None:
        """The database as a copy of `template` (replacing an empty one made already)."""
        if self.made:
            self.server.sql(f"DROP DATABASE {self.name} WITH (FORCE)")
        self.server.sql(f"CREATE DATABASE {self.name} TEMPLATE {template}")
        self.made = True

    def drop(self) -> None:
        """At the test's end: its sessions ended now (in-process runs leave their connections to
        the garbage collector), the database dropped at a later test's end, once they are gone:
        neither waits (DROP waits for ending sessions in steps of a tenth of a second)."""
        if not self.made:
            return
        self.server.sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.name}'")
        for old in _TO_DROP:
            old.server.sql(f"DROP DATABASE IF EXISTS {old.name} WITH (FORCE)")
        _TO_DROP[:] = [self]


_TO_DROP: list[PgDatabase] = []  # the last test's database, its sessions terminated


def new_database(server: PgServer) -> PgDatabase:
    """A database name for one test (made on first use)."""
    return PgDatabase(server, f"medsec_e2e_{uuid.uuid4().hex[:16]}")


def backend_params(definition: Any) -> list[Any]:
    """The `backend_name` parameters of one test of a both_backends module (pytest_generate_tests)."""
    params = [pytest.param(DIRECTORY, id=DIRECTORY)]
    if definition.get_closest_marker("directory_only"):
        return params
    xfail = definition.get_closest_marker("postgresql_xfail")
    marks = [pytest.mark.xfail(strict=True, reason=xfail.kwargs["reason"])] if xfail else []
    return [*params, pytest.param(POSTGRESQL, id=POSTGRESQL, marks=marks)]


def make_terminal(home: Path, url: str) -> None:
    """The terminal's folder as `medsec init --store URL` leaves it: private, holding the pointer."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_pointer(str(home), StoreLocation(url))


def another_practice(m: Medsec, home: Path) -> Medsec:
    """medsec for a second practice at `home`, on m's backend (on PostgreSQL a database of its own),
    with m's environment otherwise."""
    pg = None if m.pg is None else PgDatabase(m.pg.server, f"{m.pg.name}_2")
    env = {**m.env, "MEDSEC_HOME": str(home)}
    if pg is not None:
        env["MEDSEC_STORE"] = pg.url
    return type(m)(home, env, pg)


# -- configuration documents ----------------------------------------------------------------------
def write_config(m: Medsec, name: str, text: str) -> None:
    """Write a configuration file (payers.yaml ...) into the data directory; on PostgreSQL store
    it (`config import` from a folder beside the terminal's, which stays as a terminal's is)."""
    if m.pg is None:
        (m.home / name).write_text(text)
        return
    folder = m.home.parent / "config-to-import"
    folder.mkdir(mode=0o700, exist_ok=True)
    (folder / name).write_text(text)
    m.ok("config", "import", folder, name)


def read_config(m: Medsec, name: str) -> str:
    """A configuration document's text as the store keeps it."""
    if m.pg is None:
        return (m.home / name).read_text()
    rows = _query(m.pg.url, "SELECT text FROM medsec.documents WHERE name = %s", [name])
    if not rows:
        raise FileNotFoundError(f"no document {name} in {m.pg.name}")
    return str(rows[0][0])


def stored_file(m: Medsec, sha: str) -> bytes:
    """The bytes the store keeps as attachment `sha` (a scan, a fax)."""
    if m.pg is None:
        return (m.home / "files" / sha[:2] / sha).read_bytes()
    rows = _query(m.pg.url, "SELECT data FROM medsec.attachments WHERE sha256 = %s", [sha])
    if not rows:
        raise FileNotFoundError(f"no attachment {sha} in {m.pg.name}")
    return bytes(rows[0][0])


# -- 'nothing written' --------------------------------------------------------------------------------
def store_rows(root: Path) -> dict[str, Any]:
    """The rows of the PostgreSQL store a terminal's folder points to ({} for a data directory),
    every table of the medsec schema but the audit log (as the folder's snapshot skips audit/),
    without what a rolled-back or unchanged write may still move: sequence numbers (seq) and
    a document's `updated`."""
    if not (root / POINTER).exists():
        return {}
    import psycopg

    url = read_pointer(str(root)).url
    assert url is not None
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [name for (name,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'medsec' "
                                                   "AND tablename <> 'audit' ORDER BY tablename")]
        return {f"<postgresql>/{name}": conn.execute(
            f"SELECT coalesce(jsonb_agg(r ORDER BY r::text), '[]') FROM "
            f"(SELECT to_jsonb(t) - 'seq' - 'updated' AS r FROM medsec.{name} t) rows".encode()).fetchall()[0][0]
            for name in tables}


def _query(url: str, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def store_of(m: Medsec):
    """The practice's store, opened through medsec's storage interface (as a command would)."""
    from medsec.store.api import open_store

    return open_store(str(m.home), m.pg.url if m.pg else None, None)


def edit_record(m: Medsec, kind, record_id: str, change) -> None:
    """Change a record through the store's API, outside medsec's commands (`change` edits a copy
    in place): what a hand in the data directory or the database could do."""
    import json

    store = store_of(m)
    with store.transaction() as txn:
        old = txn.get(kind, record_id)
        new = json.loads(json.dumps(old))
        change(new)
        txn.put(kind, new, old=old)
    del store
