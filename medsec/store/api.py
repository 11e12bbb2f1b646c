"""The storage interface: the questions the office's code asks of a store, and nothing else.

Domains (records, scheduling, billing ...) speak only this: record kinds and
their index keys (medsec.store.catalog), and the three roles below. Where
and how a backend keeps them - files, shards, tables - is its own business;
docs/storage.md says what a backend must guarantee, and
tests/store_contract/ proves it of each backend (the data directory,
medsec.store.store, is the first).

Ids are strings (`kind.prefix` + a number, handed out by `reserve_ids`);
records are JSON objects (`Record`) their domain defines and checks; an index
maps a key to the ids of the records whose kind lists that (index, key).
Index look-ups may be stale or ahead of a commit in progress: a domain
verifies each hit against the record it reads.
"""

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

from medsec.audit import Actor
from medsec.store.kinds import IndexKey, Record, RecordKind
from medsec.store.store import Store

__all__ = ["Actor", "Backend", "IndexKey", "Record", "RecordKind", "Reader", "Writer", "create_store", "open_store"]


class Reader(Protocol):
    """A view for one command: lock-free, never blocking a writer. It never sees an
    uncommitted change and sees each record whole (as before or after a commit); it
    may see commits made while it reads, so two reads of one record may differ."""

    def get(self, kind: RecordKind, record_id: str) -> Record | None:
        """The record with this id, or None (a malformed id is InvalidInput)."""

    def require(self, kind: RecordKind, record_id: str, what: str, hint: str | None = None) -> Record:
        """`get`, or NotFound (exit 1) saying "no <what> <ID>"."""

    def get_many(self, kind: RecordKind, ids: Iterable[str]) -> list[Record]:
        """The records of `ids` that exist, in the order given (an id given twice, twice)."""

    def lookup(self, index: str, key: str) -> list[str]:
        """The ids an index holds under one key."""

    def lookup_prefix(self, index: str, prefix: str) -> dict[str, list[str]]:
        """Each key starting with `prefix`, with its ids."""

    def lookup_suffix(self, index: str, suffix: str) -> dict[str, list[str]]:
        """Each key ending with `suffix`, with its ids."""

    def lookup_range(self, index: str, low: str, high: str) -> dict[str, list[str]]:
        """Each key from `low` (included) to `high` (excluded), with its ids."""

    def day(self, kind: RecordKind, day: str, part: str | None = None) -> list[Record]:
        """A by-day kind's records on one ISO day (only those whose `day_part` field is `part`)."""

    def days(self, kind: RecordKind, first: str, last: str | None = None) -> list[Record]:
        """A by-day kind's records from `first` to `last` (included; None: no end), by day then id."""

    def scan(self, kind: RecordKind) -> Iterator[Record]:
        """Every record of a kind (reports, merges): the one question that reads it all."""

    def counters(self) -> dict[str, int]:
        """Each kind's highest id handed out, by prefix."""


class Writer(Reader, Protocol):
    """A transaction: reads see its own writes; all of it is committed, or none."""

    after_commit: list[Callable[[], None]]  # run once the commit is made (hooks, notices)

    def reserve_ids(self, kind: RecordKind, count: int = 1) -> list[str]:
        """`count` new ids, sequential, never handed out by a committed transaction (a transaction
        that fails commits none: its ids are handed out again)."""

    def put(self, kind: RecordKind, record: Record, old: Record | None = None) -> None:
        """Insert or replace a record; `old` (the record as read) says which index keys go."""

    def put_many(self, kind: RecordKind, records: list[Record], old: dict[str, Record] | None = None) -> None:
        """`put` for many records at once: a bulk import's path."""

    def put_document(self, name: str, text: str, parsed: Any) -> None:
        """A configuration document (`name` is one of medsec.config.CONFIG_FILES): its text and
        its parsed, validated data, written with the records."""


class Backend(Protocol):
    """One practice's store."""

    actor: Callable[[], Actor] | None  # who commits: every commit is audited as begun before it is made
    commit_id: str | None  # the commit this process began last
    committed: bool  # whether that commit was made and confirmed

    @property
    def root(self) -> str:
        """The local folder of the practice's configuration, templates, audit log and outbox."""

    def snapshot(self) -> Reader:
        """A view to read from."""

    def transaction(self) -> AbstractContextManager[Writer]:
        """`with store.transaction() as txn:` - isolated from other writers (a booking's
        check-then-book is race-free), committed when the block ends without an exception."""

    def attach_file(self, path: str) -> tuple[str, int]:
        """Keep a file (a scan, a fax) by its SHA-256: (sha256, size); kept once however often given."""

    def attach_bytes(self, data: bytes) -> tuple[str, int]:
        """Keep bytes already read and checked, as `attach_file` does."""


def open_store(root: str) -> Backend:
    """The store of the data directory at `root`."""
    return Store(root)


def create_store(root: str) -> Backend:
    """A new, empty store at `root` (`medsec init`)."""
    return Store.create(root)
