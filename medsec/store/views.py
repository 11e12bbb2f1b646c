"""The data directory's views: snapshots (lock-free reads) and transactions (staged writes).

Both answer the storage interface's questions (medsec.store.api) from the
files: records in TinyDB shards, index look-ups through
medsec.store.indexfiles. `Store` (medsec.store.store) hands them out and
commits a transaction's staged files.
"""

import gc
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from medsec import atrest
from medsec.errors import EnvironmentFailure, NotFound
from medsec.fileio import read_bytes
from medsec.store import indexfiles
from medsec.store.commit import Journaled
from medsec.store.indexfiles import IndexEntry
from medsec.store.journal import JOURNAL
from medsec.store.kinds import Record, RecordKind
from medsec.store.lock import DirectoryLock
from medsec.store.seal import (
    LINES_START,
    SEAL,
    TABLE,
    counters_bytes,
    counters_seal,
    is_shard,
    record_line,
    shard_bytes,
)

if TYPE_CHECKING:
    from tinydb import TinyDB

COUNTERS = "meta/counters.json"

# An index entry and the id of the record it points at, as `apply_index` moves them.
IndexMove = tuple[IndexEntry, str]

_ABSENT = object()


def _parsed(rel: str, raw: bytes | None) -> Any:
    try:
        return None if raw is None else orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise EnvironmentFailure(f"{rel} is not valid JSON ({e})", hint="run 'medsec check'") from None


# How much of a big shard `_by_window` reads on either side of where a record's line should be.
_WINDOW = 4096


# Up to this many records of one shard are each read from its own line; more, and the file is parsed whole
# (each line read searches the file from its start: a 277CA touching 10,000 claims spent 5 s so).
_LINE_READS = 16


def _by_window(f: BinaryIO, kind: RecordKind, numbers: list[int], found: dict[int, Record]) -> list[int]:
    """Records of a big shard read from only the part of the file where their lines should
    be (medsec writes one line per record, in id order, of about equal length): those found
    go into `found`; the numbers not found there are returned, to look for in the whole file."""
    size = os.fstat(f.fileno()).st_size
    if kind.by_day or len(numbers) > 4 or size < 4 * _WINDOW or f.read(len(LINES_START)) != LINES_START:
        return numbers
    rest = []
    for n in numbers:
        f.seek(max(0, size * ((n - 1) % kind.bucket) // kind.bucket - _WINDOW))
        _, record = record_line(f.read(2 * _WINDOW), n, kind.format_id(n), whole=False)
        if record is None:
            rest.append(n)
        else:
            found[n] = record
    return rest


class Snapshot:
    """A lock-free view of the data directory for one command."""

    # Whether a read that meets a commit half-applied may wait for it (a transaction,
    # which holds the lock, never meets one).
    _waits = True

    def __init__(self, root: str):
        self.root = root
        self._cache: dict[str, Any] = {}
        self.indexes = indexfiles.Reader(self.load, self.listdir, self.settle if self._waits else None)

    # -- raw JSON files -------------------------------------------------
    def path(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def load(self, rel: str) -> Any:
        """The parsed JSON of `rel` (None when absent), cached per command."""
        if rel not in self._cache:
            self._cache[rel] = _parsed(rel, self.read(rel))
        return self._cache[rel]

    def read(self, rel: str) -> bytes | None:
        """The bytes of file `rel` (None when absent), decrypted in an encrypted practice (medsec.atrest)."""
        return atrest.decrypt(self.root, rel, read_bytes(self.path(rel)))

    def held(self, rel: str) -> Any:
        """`rel` as this view already holds it parsed, or _ABSENT."""
        return self._cache.get(rel, _ABSENT)

    def stage(self, rel: str, data: Any) -> None:
        raise EnvironmentFailure("internal: write attempted in a read-only snapshot")

    def db(self, rel: str) -> "TinyDB":
        """A fresh TinyDB over one shard, read through this view (never a long-lived handle):
        record files are TinyDB's format, which medsec itself reads and writes directly
        (orjson, one record per line) for speed."""
        from medsec.store.tinyview import open_shard  # tinydb: not paid by every command

        return open_shard(self, rel)

    def listdir(self, rel: str) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.path(rel)) if n.endswith(".json"))
        except FileNotFoundError:
            return []

    def peek(self, rel: str) -> Any:
        """Parsed JSON of `rel` without caching it (unless already loaded)."""
        held = self.held(rel)
        return _parsed(rel, self.read(rel)) if held is _ABSENT else held

    # -- records --------------------------------------------------------
    def get(self, kind: RecordKind, record_id: str) -> Record | None:
        n = kind.number(record_id)
        if not kind.by_day:
            return self._document(kind.shard_of(n), kind, n)
        record = self._located(kind, record_id, n)
        if record is None and os.path.exists(self.path(JOURNAL)):
            # A commit is moving records and their locator right now: wait
            # for it (the writer's lock) and look again in fresh files.
            self.settle()
            record = self._located(kind, record_id, n)
        return record

    def _document(self, rel: str, kind: RecordKind, n: int) -> Record | None:
        return self._documents(rel, kind, [n]).get(n)

    def _documents(self, rel: str, kind: RecordKind, numbers: list[int]) -> dict[int, Record]:
        """Records `numbers` of shard `rel` that exist: from the parsed file when this view
        holds it, else each from its own line of the file (see medsec.store.seal), so a
        look-up of a few records parses only theirs; a file written otherwise is parsed whole."""
        held = self.held(rel)
        found: dict[int, Record] = {}
        if held is _ABSENT:
            try:
                with open(self.path(rel), "rb") as f:
                    if atrest.vault(self.root) is not None:  # an encrypted file opens whole
                        raw = atrest.decrypt(self.root, rel, f.read()) or b""
                    else:
                        numbers = _by_window(f, kind, numbers, found)
                        f.seek(0)
                        raw = f.read() if numbers else b""
            except FileNotFoundError:
                return found
            if len(numbers) > _LINE_READS:  # a search of the bytes per record would cost more than one parse
                held = _parsed(rel, raw)
            else:
                for n in numbers:
                    answered, record = record_line(raw, n, kind.format_id(n))
                    if not answered:
                        held = _parsed(rel, raw)
                        break
                    if record is not None:
                        found[n] = record
                else:
                    return found
        table = (held or {}).get(TABLE) or {}
        for n in numbers:
            record = table.get(str(n))
            if isinstance(record, dict):
                found[n] = dict(record)
        return found

    def _located(self, kind: RecordKind, record_id: str, n: int) -> Record | None:
        """A by-day record from the file its locator names."""
        place = self.locate(kind, record_id)
        return self._document(kind.place_shard(place), kind, n) if place else None

    def require(self, kind: RecordKind, record_id: str, what: str, hint: str | None = None) -> Record:
        """`get`, or NotFound (exit 1) saying "no <what> <ID>" with `hint`."""
        record = self.get(kind, record_id)
        if record is None:
            raise NotFound(f"no {what} {str(record_id).upper()}", hint=hint)
        return record

    def settle(self) -> None:
        """Wait for a commit in progress, finish a crashed one, forget cached files."""
        with DirectoryLock(self.root):
            Journaled(self.root).recover()
        self._cache.clear()

    def locate(self, kind: RecordKind, record_id: str) -> str | None:
        """A by-day record's place (day, or day/part) from the locator index; unverified."""
        n = kind.number(record_id)
        record_id = kind.format_id(n)
        for place, ids in self.indexes.shard(indexfiles.locator(kind), indexfiles.locator_shard(n)).items():
            if record_id in ids:
                return place
        return None

    def get_many(self, kind: RecordKind, ids: Iterable[str]) -> list[Record]:
        """Records for `ids` that exist, in the order given (an id twice, twice)."""
        ids = list(ids)
        found: dict[str, Record | None] = {}
        if kind.by_day:
            for record_id in ids:
                found[record_id.upper()] = self.get(kind, record_id)
        else:
            by_shard: dict[str, list[int]] = {}
            for record_id in ids:
                n = kind.number(record_id)
                by_shard.setdefault(kind.shard_of(n), []).append(n)
            for rel, numbers in by_shard.items():
                found.update((kind.format_id(n), record) for n, record in self._documents(rel, kind, numbers).items())
        return [record for i in ids if (record := found.get(i.upper())) is not None]

    def shard_files(self, kind: RecordKind) -> list[str]:
        """Every shard file of a kind, relative to the root, in order."""
        if not kind.by_day:
            return [f"{kind.name}/{n}" for n in self.listdir(kind.name)]
        files = []
        for year in self._subdirs(kind.name, digits=True):
            if kind.day_part is None:
                files += [f"{kind.name}/{year}/{n}" for n in self.listdir(f"{kind.name}/{year}")]
            else:
                files += [f"{kind.name}/{year}/{d}/{n}" for d in self._subdirs(f"{kind.name}/{year}")
                          for n in self.listdir(f"{kind.name}/{year}/{d}")]
        return files

    def _subdirs(self, rel: str, digits: bool = False) -> list[str]:
        try:
            with os.scandir(self.path(rel)) as entries:
                return sorted(e.name for e in entries if e.is_dir() and (not digits or e.name.isdigit()))
        except FileNotFoundError:
            return []

    def records_in(self, rel: str) -> list[Record]:
        """The records of one shard file, in id order."""
        table = (self.load(rel) or {}).get(TABLE, {})
        return [dict(table[doc_id]) for doc_id in sorted(table, key=int)]

    def day(self, kind: RecordKind, day: str, part: str | None = None) -> list[Record]:
        """A by-day kind's records on one day (ISO date): all of them, or one part's."""
        if kind.day_part is None:
            return self.records_in(kind.day_shard(day))
        if part is not None:
            return self.records_in(kind.day_shard(day, part))
        folder = f"{kind.name}/{day[:4]}/{day}"
        for attempt in (1, 2):
            records = [r for n in self.listdir(folder) for r in self.records_in(f"{folder}/{n}")]
            if len({r["id"] for r in records}) == len(records):
                return sorted(records, key=lambda r: kind.number(r["id"]))
            if attempt == 1:
                # A commit is moving a record between two parts right now (its
                # new file is written, its old one not yet): wait, read again.
                self.settle()
        raise EnvironmentFailure(f"a record of {folder} is in two of its files", hint="run 'medsec check'")

    def days(self, kind: RecordKind, first: str, last: str | None = None) -> list[Record]:
        """A by-day kind's records from day `first` to `last` (ISO dates, both included;
        no `last`: every later day), day by day, each day's in id order."""
        out = []
        for year in self._subdirs(kind.name, digits=True):
            if year < first[:4] or (last and year > last[:4]):
                continue
            folder = f"{kind.name}/{year}"
            names = self._subdirs(folder) if kind.day_part else [n[:-5] for n in self.listdir(folder)]
            out += [r for d in names if first <= d and (not last or d <= last) for r in self.day(kind, d)]
        return out

    def scan(self, kind: RecordKind) -> Iterator[Record]:
        """Every record of a kind, shard by shard."""
        for rel in self.shard_files(kind):
            yield from self.records_in(rel)

    # -- indexes ----------------------------------------------------------
    def lookup(self, name: str, key: str) -> list[str]:
        """The ids index `name` holds under `key`."""
        return self.indexes.key(name, key)

    def lookup_prefix(self, name: str, prefix: str) -> dict[str, list[str]]:
        """Each key of index `name` that starts with `prefix`, with its ids."""
        return self.indexes.prefix(name, prefix)

    def lookup_suffix(self, name: str, suffix: str) -> dict[str, list[str]]:
        """Each key of index `name` that ends with `suffix`, with its ids."""
        return self.indexes.suffix(name, suffix)

    def lookup_range(self, name: str, low: str, high: str) -> dict[str, list[str]]:
        """Each key of index `name` from `low` (included) to `high` (excluded), with its ids."""
        return self.indexes.range(name, low, high)

    def counters(self) -> dict[str, int]:
        """Each kind's id counter (prefix -> the highest id handed out), without the file's seal."""
        raw: dict[str, int] = self.load(COUNTERS) or {}
        return {prefix: n for prefix, n in raw.items() if prefix != SEAL}


class Transaction(Snapshot):
    """Staged writes, committed all-or-nothing by `Store.transaction()`."""

    _waits = False

    def __init__(self, root: str):
        super().__init__(root)
        self._staged: dict[str, Any] = {}
        self._moved_out: set[str] = set()  # files records moved out of (to another day or part)
        self._texts: dict[str, str] = {}
        # True once every shard is sealed (`check --repair` sets it); None: as the counters say.
        self.shards_sealed: bool | None = None
        self.after_commit: list[Callable[[], None]] = []

    def load(self, rel: str) -> Any:
        if rel in self._staged:
            return self._staged[rel]
        return super().load(rel)

    def held(self, rel: str) -> Any:
        return self._staged[rel] if rel in self._staged else super().held(rel)

    def listdir(self, rel: str) -> list[str]:
        """The folder's JSON files, on disk or staged here (a transaction reads its own writes)."""
        staged = {name for name in self._staged_in(rel) if "/" not in name and name.endswith(".json")}
        return sorted(set(super().listdir(rel)) | staged)

    def _subdirs(self, rel: str, digits: bool = False) -> list[str]:
        staged = {name.split("/", 1)[0] for name in self._staged_in(rel) if "/" in name}
        staged = {name for name in staged if not digits or name.isdigit()}
        return sorted(set(super()._subdirs(rel, digits)) | staged)

    def _staged_in(self, rel: str) -> list[str]:
        """Staged files under folder `rel`, by their path inside it."""
        return [path[len(rel) + 1:] for path in self._staged if path.startswith(rel + "/")]

    def stage(self, rel: str, data: Any) -> None:
        self._staged[rel] = data

    def put_text(self, rel: str, text: str) -> None:
        """Stage a whole text file (YAML configuration written by medsec)."""
        self._texts[rel] = text

    def put_document(self, name: str, text: str, parsed: Any) -> None:
        """A configuration file and its parse cache (medsec.config reads the cache while the
        file's bytes are the same)."""
        from medsec import config  # the configuration's own rules: only a writer of it needs them

        self.put_text(name, text)
        self.stage(config.cache_rel(name), config.cache_entry(text.encode(), parsed))

    @property
    def touched(self) -> bool:
        return bool(self._staged or self._texts)

    # -- ids ------------------------------------------------------------
    def reserve_ids(self, kind: RecordKind, count: int = 1) -> list[str]:
        """Allocate `count` new sequential ids; never reused, even after a merge."""
        counters = dict(self.counters())
        first = counters.get(kind.prefix, 0) + 1
        # Records are never deleted and ids are handed out densely, so a
        # counter behind the highest id shows on the first id it would hand
        # out. put() replaces by id: going on would overwrite that record.
        if self.get(kind, kind.format_id(first)) is not None:
            raise EnvironmentFailure(
                f"the id counter for {kind.name} is behind: {kind.format_id(first)} already exists",
                hint="run 'medsec check --repair'",
            )
        counters[kind.prefix] = first + count - 1
        self.stage(COUNTERS, counters)
        return [kind.format_id(n) for n in range(first, first + count)]

    # -- records --------------------------------------------------------
    def put(self, kind: RecordKind, record: Record, old: Record | None = None) -> None:
        """Insert or replace one record and move its index entries."""
        self.put_many(kind, [record], {record["id"]: old} if old else {})

    def put_many(self, kind: RecordKind, records: list[Record], old: dict[str, Record] | None = None) -> None:
        """Insert or replace records, touching each shard and index file once.

        `old` maps id -> the record as it was, so stale index entries go.
        Each shard's table is edited as the dict the file holds (TinyDB's
        format, {"_default": {doc id: record}}), not through TinyDB's Table,
        which copies the whole table twice per call and looks each record up
        again (a bulk replace takes a quarter less time, a single put half).
        A record is replaced whole (a replaced record may drop fields) and
        keeps its place in the file.
        """
        old = old or {}
        with self._collector_paused():
            self._stage_records(kind, records, old)
            self.apply_index(*self._index_moves(kind, records, old))

    @staticmethod
    @contextmanager
    def _collector_paused() -> Iterator[None]:
        """Python's cyclic garbage collector paused, then as it was.

        A bulk put builds records and parses index files: millions of small
        containers and no reference cycle among them. Their number keeps
        triggering the collector, which traverses every live object each
        time: at a million appointments, three times the put's own work.
        """
        if not gc.isenabled():
            yield
            return
        gc.disable()
        try:
            yield
        finally:
            gc.enable()

    def _stage_records(self, kind: RecordKind, records: list[Record], old: dict[str, Record]) -> None:
        """Stage the records in their shards, each shard once; take a moved one out of its old file."""
        by_shard: dict[str, dict[str, Record]] = {}
        moved_from: dict[str, list[str]] = {}
        for rec in records:
            rel = kind.shard_for(rec)
            doc_id = str(kind.number(rec["id"]))
            by_shard.setdefault(rel, {})[doc_id] = dict(rec)
            prev = old.get(rec["id"])
            if prev and (prev_rel := kind.shard_for(prev)) != rel:  # a by-day record moved to another day
                moved_from.setdefault(prev_rel, []).append(doc_id)
        self._moved_out |= set(moved_from)
        for rel, doc_ids in moved_from.items():
            self._remove_documents(rel, doc_ids)
        for rel, docs in by_shard.items():
            self._shard_table(rel).update(docs)

    @staticmethod
    def _index_moves(kind: RecordKind, records: list[Record],
                     old: dict[str, Record]) -> tuple[list[IndexMove], list[IndexMove]]:
        """(removals, additions): the index entries the records no longer have, and their new ones."""
        removals: list[IndexMove] = []
        additions: list[IndexMove] = []
        for rec in records:
            prev = old.get(rec["id"])
            before = indexfiles.entries(kind, prev) if prev else set()
            after = indexfiles.entries(kind, rec)
            removals += [(e, rec["id"]) for e in before - after]
            additions += [(e, rec["id"]) for e in after - before]
        return removals, additions

    def _shard_table(self, rel: str) -> dict[str, Record]:
        """Shard `rel`'s table (doc id -> record), staged, to change in place.

        A copy of the file as this view holds it: the parsed files the view
        read stay as read (the counters' seal is judged by the file on disk).
        The file's other keys (the seal it was read with) are kept, as TinyDB
        keeps other tables; `shard_bytes` writes a fresh seal.
        """
        data = self.load(rel) or {}
        table = data.get(TABLE, {}) if isinstance(data, dict) else None
        if not isinstance(table, dict):
            raise EnvironmentFailure(f"{rel} is not a table of records", hint="run 'medsec check'")
        copy: dict[str, Record] = dict(table)
        self.stage(rel, {**data, TABLE: copy})
        return copy

    def _remove_documents(self, rel: str, doc_ids: list[str]) -> None:
        """Take records out of shard `rel` (moved to another file); a file that holds none
        of them is left as it is (not written)."""
        table = self.load(rel)
        held = (table.get(TABLE) if isinstance(table, dict) else None) or {}
        if any(doc_id in held for doc_id in doc_ids):
            shard = self._shard_table(rel)
            for doc_id in doc_ids:
                shard.pop(doc_id, None)

    def apply_index(self, removals: Iterable[IndexMove], additions: Iterable[IndexMove]) -> None:
        """Move index entries; each index file is read and staged once."""
        indexfiles.apply(self.load, self.stage, removals, additions)

    # -- commit ---------------------------------------------------------
    def serialized(self) -> list[tuple[str, bytes]]:
        """Files in apply order: records, then indexes, then counters.

        A lock-free reader may see records before the index entries that
        point at them, never an index entry before its record. A record that
        moves to another file (another day or provider) reaches its new file
        before it leaves its old one: a reader may meet it twice (and waits
        for the commit, see `day`), never not at all. Index keys that a split
        or merged name shard moves likewise reach their new file first
        (`indexfiles.commit_rank`).
        """

        def phase(rel: str) -> int:
            if rel.startswith("index/"):
                return 2
            if rel.startswith("meta/"):
                return 3
            return 1 if rel in self._moved_out else 0

        items = [(rel, self._file_bytes(rel, data)) for rel, data in self._staged.items()]
        items += [(rel, text.encode()) for rel, text in self._texts.items()]

        def order(rel: str) -> tuple[int, tuple[int, int], str]:
            return phase(rel), indexfiles.commit_rank(rel, self._staged.get(rel)), rel

        return sorted(items, key=lambda item: order(item[0]))

    def _file_bytes(self, rel: str, data: Any) -> bytes:
        """A staged file as written: shards and the counters sealed (see medsec.store.seal)."""
        if rel == COUNTERS:
            return counters_bytes(data, self._shards_sealed())
        if is_shard(rel) and isinstance(data, dict):
            return shard_bytes(data)
        return orjson.dumps(data)

    def _shards_sealed(self) -> bool:
        """Whether every shard carries a seal: as the counters on disk say (a new data
        directory, with no counters yet, is sealed from its first commit)."""
        if self.shards_sealed is not None:
            return self.shards_sealed
        on_disk = Snapshot.load(self, COUNTERS)  # the file as read, not as staged
        return on_disk is None or counters_seal(on_disk)[1]
