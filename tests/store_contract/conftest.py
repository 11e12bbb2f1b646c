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

# Contract tests a backend fails today, by test name (its backend in brackets), with the defect:
# marked strict xfail, so that the fix shows as a failure until its entry here goes.
_UNLISTED = ("a transaction lists folders on disk, not the files it has staged (medsec/store/views.py "
             "Snapshot.listdir and _subdirs, used by day, days, scan and the index shards of prefix, suffix "
             "and range queries): a record or key whose file is new in the transaction is not seen")
KNOWN_DEFECTS = {f"test_a_transaction_reads_its_own_writes[directory-{question}]": _UNLISTED
                 for question in ("lookup_prefix", "lookup_suffix", "lookup_range", "day", "days", "scan")}


def pytest_collection_modifyitems(items):
    for item in items:
        reason = KNOWN_DEFECTS.get(item.name)
        if reason and item.path.parent == Path(__file__).parent:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))


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
