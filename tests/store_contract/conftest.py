"""The backends the contract suite runs on: every test runs once per backend, on a fresh empty store.

To add a backend (issue 14: PostgreSQL), add one entry to BACKENDS: its name, and a function
that takes the test's temporary folder and returns (store, reopen) - a new, empty store made
through the backend's own `create_store`, and a picklable callable that opens that same store
again (the isolation tests call it in other processes). Nothing else in the suite names a backend.
"""

import functools
from collections.abc import Callable
from pathlib import Path

import pytest

from medsec.store.api import Backend, create_store, open_store

Made = tuple[Backend, Callable[[], Backend]]


def _directory(tmp_path: Path) -> Made:
    """The data directory (medsec.store.store): a folder of its own under the test's."""
    root = str(tmp_path / "store")
    return create_store(root), functools.partial(open_store, root)


BACKENDS: dict[str, Callable[[Path], Made]] = {"directory": _directory}

@pytest.fixture(params=list(BACKENDS))
def made(request, tmp_path) -> Made:
    return BACKENDS[request.param](tmp_path)


@pytest.fixture
def backend(made) -> Backend:
    """A fresh, empty store of one backend."""
    return made[0]


@pytest.fixture
def reopen(made) -> Callable[[], Backend]:
    """Opens the `backend` fixture's store again: in a child process, its own handle on it."""
    return made[1]
