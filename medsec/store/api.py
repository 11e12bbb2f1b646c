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

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any, NamedTuple, Protocol

from medsec.atrest import Vault
from medsec.audit import Actor, Entry, Head, Verdict
from medsec.errors import ConfigError, InvalidInput
from medsec.locations import POINTER
from medsec.store.kinds import IndexKey, Record, RecordKind
from medsec.store.store import Store
from medsec.text import shown

__all__ = ["POINTER", "Actor", "Backend", "IndexKey", "Reader", "Record", "RecordKind", "StoreLocation", "Writer",
           "create_store", "is_store_url", "locate_store", "open_store", "read_pointer", "write_pointer"]


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

    def attachments(self) -> Iterator[str]:
        """The SHA-256 of every file kept (`medsec store copy` moves them all)."""

    def attachment(self, sha: str) -> bytes | None:
        """The bytes of the file kept under `sha`, None when there is none."""

    def document(self, name: str) -> Any:
        """A configuration document's data (medsec.config.CONFIG_FILES), checked by
        medsec.config's rules ({} when there is none); ConfigError when it is broken."""

    def document_text(self, name: str) -> str | None:
        """A configuration document as its text (the YAML people edit), None when there is none."""

    def audit(self, entry: Entry) -> None:
        """Append one entry (medsec.audit.entry) to the append-only audit log."""

    def audit_entries(self, record_id: str | None = None, user: str | None = None,
                      since: date | None = None) -> list[Entry]:
        """Audit entries, oldest first: those naming `record_id`, by `user`, from `since` on."""

    def probe_audit(self, at: datetime) -> None:
        """OSError (or EnvironmentFailure) when the audit log cannot be appended to now:
        a command is refused before it reads or changes anything unaudited."""

    def audit_head(self) -> Head | None:
        """The last entry of the audit log's hash chain (None before the first): `audit anchor`."""

    def audit_verify(self, anchor: Head | None = None) -> Verdict:
        """The audit log's hash chain walked: intact (count, head) or where it first breaks;
        with `anchor`, also whether the log still holds that entry with that hash."""

    # -- encryption at rest (the data directory's; a PostgreSQL store has none: README) --------
    @property
    def vault(self) -> Vault | None:
        """The keys and state of encryption at rest (medsec.atrest); None when the store is plain."""

    def stage_encryption(self, txn: Writer, state: str, key: str, keys: list[str], held: dict[str, bytes]) -> None:
        """Stage the encryption state (the key new writes use, the keys files may be under) in `txn`;
        once committed, this process holds the keys `held`."""

    def rewrite_files(self, progress: Callable[[int], None] | None = None) -> int:
        """Move every protected file under the write key; how many were rewritten."""


_POINTER_KEYS = ("url", "password_env")


def is_store_url(location: str) -> bool:
    """Whether `location` names a PostgreSQL store (else it is a folder)."""
    return location.startswith(("postgresql://", "postgres://"))


class StoreLocation(NamedTuple):
    """Where a command's store is: `url` None for the data directory itself."""

    url: str | None = None
    password_env: str | None = None


def locate_store(root: str, given: str | None = None) -> StoreLocation:
    """The store a command uses, from --store or $MEDSEC_STORE (`given`) and the folder `root`.

    `root` is a data directory, or a terminal's folder whose pointer file
    (store.yaml: `url:` and optionally `password_env:`) names a PostgreSQL
    store. Given a URL too, the two must agree: a URL for a folder that is a
    data directory, or whose pointer names another store, is InvalidInput (exit 2).
    """
    pointer = read_pointer(root)
    if given is None:
        return pointer
    if not is_store_url(given):
        raise InvalidInput(f"--store: {shown(given)} is not a PostgreSQL URL (postgresql://HOST/DB)")
    if pointer.url is not None and pointer.url != given:
        raise InvalidInput(f"--store names {given.split('?')[0]} but {os.path.join(root, POINTER)} names "
                           f"{pointer.url.split('?')[0]}", hint="give one of them, or make them agree")
    if pointer.url is None and os.path.exists(os.path.join(root, "medsec.yaml")):
        raise InvalidInput(f"--store names a PostgreSQL store but {root} is a data directory of its own",
                           hint="use another --data-dir for this terminal's folder, or leave --store out")
    return StoreLocation(given, pointer.password_env)


def read_pointer(root: str) -> StoreLocation:
    """The pointer file's store (an empty StoreLocation when there is none); ConfigError (exit 3)
    when it is not `key: value` lines of the two keys, with a PostgreSQL URL."""
    path = os.path.join(root, POINTER)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(4096)
    except FileNotFoundError:
        return StoreLocation()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} cannot be read: {e}") from None
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep or key.strip() not in _POINTER_KEYS or key.strip() in found:
            raise ConfigError(f"{path}:{number}: expected 'url: postgresql://...' or 'password_env: NAME'")
        found[key.strip()] = value.strip().strip("'\"")
    if not is_store_url(found.get("url", "")):
        raise ConfigError(f"{path}: 'url' must be a PostgreSQL URL (postgresql://HOST/DB)")
    return StoreLocation(found["url"], found.get("password_env") or None)


def write_pointer(root: str, location: StoreLocation) -> None:
    """Write the pointer file of a terminal's folder (`medsec init --store`)."""
    from medsec.fileio import write_atomic

    lines = ["# This folder's practice is kept in PostgreSQL (written by medsec init --store).",
             f"url: {location.url}"]
    if location.password_env:
        lines.append(f"password_env: {location.password_env}")
    write_atomic(os.path.join(root, POINTER), ("\n".join(lines) + "\n").encode())


def open_store(root: str, url: str | None = None, password_env: str | None = None) -> Backend:
    """The store of the data directory at `root`; with a PostgreSQL `url`, the store in that
    database, `root` being this terminal's local folder."""
    if url is not None:
        from medsec.store.postgres import PgStore  # psycopg: only a PostgreSQL store pays for it

        return PgStore(root, url, password_env)
    return Store(root)


def create_store(root: str, url: str | None = None, password_env: str | None = None) -> Backend:
    """A new, empty store at `root` (`medsec init`); with `url`, in that PostgreSQL database."""
    if url is not None:
        from medsec.store.postgres import PgStore

        return PgStore.create(root, url, password_env)
    return Store.create(root)
