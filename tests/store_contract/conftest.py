"""The backends the contract suite runs on: every test runs once per backend, on a fresh empty store.

To add a backend, add one entry to BACKENDS: its name, and a function that takes the test's
fixture request and temporary folder and returns (store, reopen) - a new, empty store made
through the backend's own `create_store`, and a picklable callable that opens that same store
again (the isolation tests call it in other processes). Nothing else in the suite names a backend.
"""

import functools
from collections.abc import Callable
from pathlib import Path

import pytest

from medsec.store.api import Backend, create_store, open_store

Made = tuple[Backend, Callable[[], Backend]]


def _directory(request: pytest.FixtureRequest, tmp_path: Path) -> Made:
    """The data directory (medsec.store.store): a folder of its own under the test's."""
    root = str(tmp_path / "store")
    return create_store(root), functools.partial(open_store, root)


def _postgresql(request: pytest.FixtureRequest, tmp_path: Path) -> Made:
    """PostgreSQL (medsec.store.postgres): a fresh database on the session's test server
    (tests/helpers/pg.py; skipped with a reason where there is none), the test's folder
    as the terminal's local folder."""
    server = request.getfixturevalue("pg_server")
    url = server.url(server.create_database())
    root = str(tmp_path / "terminal")
    return create_store(root, url), functools.partial(open_store, root, url)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], Made]] = {
    "directory": _directory, "postgresql": _postgresql}


@pytest.fixture(params=list(BACKENDS))
def made(request, tmp_path) -> Made:
    return BACKENDS[request.param](request, tmp_path)


@pytest.fixture
def backend(made) -> Backend:
    """A fresh, empty store of one backend."""
    return made[0]


@pytest.fixture
def reopen(made) -> Callable[[], Backend]:
    """Opens the `backend` fixture's store again: in a child process, its own handle on it."""
    return made[1]
