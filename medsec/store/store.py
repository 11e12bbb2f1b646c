"""Snapshots (lock-free reads) and transactions (locked, journaled writes)."""

import os
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from types import TracebackType
from typing import Any

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document

from medsec import audit, clock
from medsec.errors import EnvironmentFailure, NotFound
from medsec.fileio import (
    append_line,
    fsync_dir,
    make_private_dirs,
    read_bytes,
    write_atomic,
)
from medsec.store import seal
from medsec.store.catalog import INDEX_SHARDS, RECORD_DIRS
from medsec.store.journal import (
    JOURNAL,
    JOURNAL_HINT,
    Begun,
    CommitFailed,
    JournalFiles,
    UnsafePath,
    announce,
    decode_journal,
    encode_journal,
)
from medsec.store.kinds import IndexEntry, Record, RecordKind
from medsec.store.layout import commit_path_problem, inside
from medsec.store.lock import DirectoryLock
from medsec.store.seal import SEAL, counters_bytes, counters_seal, is_shard, shard_bytes

COUNTERS = "meta/counters.json"
TABLE = seal.TABLE

# An index entry and the id of the record it points at, as `apply_index` moves them.
IndexMove = tuple[IndexEntry, str]

# Who commits, and when: (user, command, time), asked of the command's context at each commit.
Actor = tuple[str, str, datetime]


class ShardStorage(Storage):
    """TinyDB storage for one shard file, read and written through a view.

    Reads parse the file once per command (orjson) and reuse it; writes are
    staged in the transaction and reach the disk only when it commits.
    """

    def __init__(self, view: "Snapshot", rel: str):
        self._view = view
        self._rel = rel

    def read(self) -> dict[str, dict[str, Any]] | None:
        tables: dict[str, dict[str, Any]] | None = self._view.load(self._rel)
        return tables

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self._view.stage(self._rel, data)


class Snapshot:
    """A lock-free view of the data directory for one command."""

    def __init__(self, root: str):
        self.root = root
        self._cache: dict[str, Any] = {}

    # -- raw JSON files -------------------------------------------------
    def path(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def load(self, rel: str) -> Any:
        """The parsed JSON of `rel` (None when absent), cached per command."""
        if rel not in self._cache:
            raw = read_bytes(self.path(rel))
            try:
                self._cache[rel] = None if raw is None else orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                raise EnvironmentFailure(
                    f"{rel} is not valid JSON ({e})", hint="run 'medsec check'"
                ) from None
        return self._cache[rel]

    def stage(self, rel: str, data: Any) -> None:
        raise EnvironmentFailure("internal: write attempted in a read-only snapshot")

    def db(self, rel: str) -> TinyDB:
        """A fresh TinyDB over one shard (never a long-lived handle)."""
        return TinyDB(rel, storage=lambda r: ShardStorage(self, r))

    def listdir(self, rel: str) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.path(rel)) if n.endswith(".json"))
        except FileNotFoundError:
            return []

    # -- records --------------------------------------------------------
    def get(self, kind: RecordKind, record_id: str) -> Record | None:
        n = kind.number(record_id)
        if not kind.by_day:
            doc = self.db(kind.shard_of(n)).get(doc_id=n)
            return dict(doc) if doc is not None else None
        doc = self._located(kind, record_id, n)
        if doc is None and os.path.exists(self.path(JOURNAL)):
            # A commit is moving records and their locator right now: wait
            # for it (the writer's lock) and look again in fresh files.
            self.settle()
            doc = self._located(kind, record_id, n)
        return dict(doc) if doc is not None else None

    def _located(self, kind: RecordKind, record_id: str, n: int) -> Document | None:
        """A by-day record (TinyDB document `n`) from the file its locator names."""
        place = self.locate(kind, record_id)
        return self.db(kind.place_shard(place)).get(doc_id=n) if place else None

    def require(self, kind: RecordKind, record_id: str, what: str, hint: str | None = None) -> Record:
        """`get`, or NotFound (exit 1) saying "no <what> <ID>" with `hint`."""
        record = self.get(kind, record_id)
        if record is None:
            raise NotFound(f"no {what} {str(record_id).upper()}", hint=hint)
        return record

    def settle(self) -> None:
        """Wait for a commit in progress, finish a crashed one, forget cached files."""
        with DirectoryLock(self.root):
            Store(self.root).recover()
        self._cache.clear()

    def locate(self, kind: RecordKind, record_id: str) -> str | None:
        """A by-day record's place (day, or day/part) from the locator index; unverified."""
        n = kind.number(record_id)
        record_id = kind.format_id(n)
        for place, ids in self.index(kind.locator, kind.locator_shard(n)).items():
            if record_id in ids:
                return place
        return None

    def get_many(self, kind: RecordKind, ids: Iterable[str]) -> list[Record]:
        """Records for `ids` that exist, in the order given.

        Each shard is parsed once; shards this command has not already
        loaded are not kept, so a thousand hits do not hold a thousand
        files in memory (nor make the garbage collector walk them).
        """
        ids = list(ids)
        found: dict[str, Record | None]
        if kind.by_day:
            found = {i: self.get(kind, i) for i in ids}
        else:
            by_shard: dict[str, list[int]] = {}
            for record_id in ids:
                n = kind.number(record_id)
                by_shard.setdefault(kind.shard_of(n), []).append(n)
            found = {}
            for rel, numbers in by_shard.items():
                table = (self.peek(rel) or {}).get(TABLE, {})
                for n in numbers:
                    if str(n) in table:
                        found[kind.format_id(n)] = dict(table[str(n)])
        return [record for i in ids if (record := found.get(i.upper())) is not None]

    def peek(self, rel: str) -> Any:
        """Parsed JSON of `rel` without caching it (unless already loaded)."""
        if rel in self._cache:
            return self._cache[rel]
        raw = read_bytes(self.path(rel))
        try:
            return None if raw is None else orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise EnvironmentFailure(f"{rel} is not valid JSON ({e})", hint="run 'medsec check'") from None

    def shard_files(self, kind: RecordKind) -> list[str]:
        """Every shard file of a kind, relative to the root, in order."""
        if not kind.by_day:
            return [f"{kind.name}/{n}" for n in self.listdir(kind.name)]
        try:
            years = sorted(y for y in os.listdir(self.path(kind.name)) if y.isdigit())
        except FileNotFoundError:
            return []
        if kind.day_part is None:
            return [f"{kind.name}/{y}/{n}" for y in years for n in self.listdir(f"{kind.name}/{y}")]
        return [f"{kind.name}/{y}/{d}/{n}" for y in years for d in self._subdirs(f"{kind.name}/{y}")
                for n in self.listdir(f"{kind.name}/{y}/{d}")]

    def _subdirs(self, rel: str) -> list[str]:
        with os.scandir(self.path(rel)) as entries:
            return sorted(e.name for e in entries if e.is_dir())

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

    def scan(self, kind: RecordKind) -> Iterator[Record]:
        """Every record of a kind, shard by shard."""
        for rel in self.shard_files(kind):
            yield from self.records_in(rel)

    # -- indexes ----------------------------------------------------------
    def index(self, name: str, shard: str) -> dict[str, list[str]]:
        ids_by_key: dict[str, list[str]] = self.load(f"index/{name}/{shard}.json") or {}
        return ids_by_key

    def lookup(self, name: str, key: str) -> list[str]:
        """The ids that index `name` holds under `key` (the catalog knows its shard)."""
        return self.index(name, INDEX_SHARDS[name](key)).get(key, [])

    def index_shards(self, name: str) -> list[str]:
        return [n[:-5] for n in self.listdir(f"index/{name}")]

    def counters(self) -> dict[str, int]:
        """Each kind's id counter (prefix -> the highest id handed out), without the file's seal."""
        raw: dict[str, int] = self.load(COUNTERS) or {}
        return {prefix: n for prefix, n in raw.items() if prefix != SEAL}


class Transaction(Snapshot):
    """Staged writes, committed all-or-nothing by `Store.transaction()`."""

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

    def peek(self, rel: str) -> Any:
        return self._staged[rel] if rel in self._staged else super().peek(rel)

    def stage(self, rel: str, data: Any) -> None:
        self._staged[rel] = data

    def put_text(self, rel: str, text: str) -> None:
        """Stage a whole text file (YAML configuration written by medsec)."""
        self._texts[rel] = text

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
        """
        old = old or {}
        by_shard: dict[str, list[Document]] = {}
        moved_from: dict[str, list[int]] = {}
        for rec in records:
            n = kind.number(rec["id"])
            rel = kind.shard_for(rec)
            by_shard.setdefault(rel, []).append(Document(rec, doc_id=n))
            prev = old.get(rec["id"])
            if prev and kind.shard_for(prev) != rel:  # a by-day record moved to another day
                moved_from.setdefault(kind.shard_for(prev), []).append(n)
        self._moved_out |= set(moved_from)
        for rel, doc_ids in moved_from.items():
            self.db(rel).table(TABLE).remove(doc_ids=doc_ids)
        for rel, docs in by_shard.items():
            table = self.db(rel).table(TABLE)
            # Replace, not TinyDB's update: a replaced record may drop fields.
            existing = [d.doc_id for d in docs if table.contains(doc_id=d.doc_id)]
            if existing:
                table.remove(doc_ids=existing)
            table.insert_multiple(docs)
        removals: list[IndexMove] = []
        additions: list[IndexMove] = []
        for rec in records:
            prev = old.get(rec["id"])
            before = kind.entries(prev) if prev else set()
            after = kind.entries(rec)
            removals += [(e, rec["id"]) for e in before - after]
            additions += [(e, rec["id"]) for e in after - before]
        self.apply_index(removals, additions)

    def apply_index(self, removals: Iterable[IndexMove], additions: Iterable[IndexMove]) -> None:
        """Move index entries; each index file is read and staged once.

        Keys hold id lists in insertion order; a set per touched key keeps a
        bulk import linear even for a surname shared by thousands.
        """
        files: dict[str, dict[str, list[str]]] = {}
        members: dict[tuple[str, str], set[str]] = {}

        def ids_of(name: str, shard: str, key: str) -> list[str]:
            rel = f"index/{name}/{shard}.json"
            if rel not in files:
                files[rel] = dict(self.load(rel) or {})
            data = files[rel]
            if (rel, key) not in members:
                data[key] = list(data.get(key, []))  # a private copy to change in place
                members[(rel, key)] = set(data[key])
            return data[key]

        for (name, shard, key), rid in removals:
            ids = ids_of(name, shard, key)
            if rid in members[(f"index/{name}/{shard}.json", key)]:
                ids.remove(rid)
                members[(f"index/{name}/{shard}.json", key)].discard(rid)
        for (name, shard, key), rid in additions:
            ids = ids_of(name, shard, key)
            seen = members[(f"index/{name}/{shard}.json", key)]
            if rid not in seen:
                ids.append(rid)
                seen.add(rid)
        for rel, data in files.items():
            self.stage(rel, {k: v for k, v in data.items() if v})

    # -- commit ---------------------------------------------------------
    def serialized(self) -> list[tuple[str, bytes]]:
        """Files in apply order: records, then indexes, then counters.

        A lock-free reader may see records before the index entries that
        point at them, never an index entry before its record. A record that
        moves to another file (another day or provider) reaches its new file
        before it leaves its old one: a reader may meet it twice (and waits
        for the commit, see `day`), never not at all.
        """

        def phase(rel: str) -> int:
            if rel.startswith("index/"):
                return 2
            if rel.startswith("meta/"):
                return 3
            return 1 if rel in self._moved_out else 0

        items = [(rel, self._file_bytes(rel, data)) for rel, data in self._staged.items()]
        items += [(rel, text.encode()) for rel, text in self._texts.items()]
        return sorted(items, key=lambda item: (phase(item[0]), item[0]))


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


def _reason(root: str, e: OSError) -> str:
    """An OSError as the user reads it: what failed and on which file of the data directory."""
    reason = str(e.strerror or e)
    reason = reason[:1].lower() + reason[1:]
    if isinstance(e.filename, str):
        # A temp file's name says which file it was becoming.
        rel = os.path.relpath(e.filename, root).partition(".tmp-")[0]
        reason += f" ({rel})"
    return reason


class Store:
    """One data directory."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        # Who commits: set by the command's context (medsec.context), so that every commit
        # is audited before it is made. A store without one (init, tests) audits nothing.
        self.actor: Callable[[], Actor] | None = None
        # The commit this process began last: the audit entries after it name it.
        self.commit_id: str | None = None
        self.committed = False  # whether that commit was made and confirmed

    def path(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def snapshot(self) -> Snapshot:
        """A lock-free view; finishes an interrupted commit first if one is left."""
        if os.path.exists(self.path(JOURNAL)):
            with DirectoryLock(self.root):
                self.recover()
        return Snapshot(self.root)

    def transaction(self) -> "_TransactionScope":
        """`with store.transaction() as txn:` - locked, committed on success."""
        return _TransactionScope(self)

    def lock(self) -> DirectoryLock:
        return DirectoryLock(self.root)

    def recover(self) -> bool:
        """Roll an interrupted commit forward (call with the lock held).

        A torn journal (the commit never began) is discarded; one that names a
        file a commit may not write raises UnsafePath and stays, unapplied. A
        roll-forward is announced on stderr and audited first, in the name of
        whoever began the commit; when it cannot be audited or completed, the
        journal stays for the next command (CommitFailed, exit 3).
        """
        raw = read_bytes(self.path(JOURNAL))
        if raw is None:
            return False
        journal = self._journaled(raw)
        # A torn journal is a commit that never began: nothing to complete, only to discard.
        state = "journaled" if journal is not None else "not made"
        try:
            if journal is not None:
                files, begun = journal
                announce(begun)
                self._audit_recovery(begun)
                self._apply(files)
            os.unlink(self.path(JOURNAL))
            state = "made"
            fsync_dir(self.root)
        except OSError as e:
            what = "an interrupted change could not be completed" if journal else "a torn journal could not be removed"
            raise CommitFailed(f"{what}: {_reason(self.root, e)}", state) from e
        return journal is not None

    def _audit_recovery(self, begun: Begun | None) -> None:
        """The "recovered" entry of a rolled-forward commit: who began it, which command
        completes it; an OSError (the journal stays) when the audit log cannot be written."""
        begun = begun or {}
        extra = {"commit": begun.get("commit", ""), "began": begun.get("at", "")}
        at = clock.now()
        if self.actor is not None:
            user, command, at = self.actor()
            extra["completed_by"] = f"{command} ({user})"
        audit.record(self.root, user=begun.get("user", "unknown"), command=begun.get("command", "unknown"),
                     action="recovered", at=at, **extra)

    def journal_problem(self) -> str | None:
        """Why the journal on disk would not be applied (for `medsec check`), or None."""
        raw = read_bytes(self.path(JOURNAL))
        try:
            if raw is not None:
                self._journaled(raw)
        except UnsafePath as e:
            return e.message
        return None

    def _journaled(self, raw: bytes) -> tuple[JournalFiles, Begun | None] | None:
        """The files of a journal, each one a commit may write, and who began it; None when it is torn."""
        journal = decode_journal(raw)
        if journal is not None:
            self.refuse_unsafe([rel for rel, _data in journal[0]], journal=True)
        return journal

    def refuse_unsafe(self, rels: list[str], journal: bool) -> None:
        """UnsafePath unless every file is one a commit writes (catalog layout), in a
        folder that stays inside the data directory once symbolic links are resolved."""
        real_root = os.path.realpath(self.root)
        folders_inside: set[str] = set()
        for rel in rels:
            problem = commit_path_problem(rel)
            folder = os.path.dirname(rel)
            if problem is None and folder not in folders_inside:
                if not inside(real_root, self.path(folder)):
                    problem = "a symbolic link on its way leads out of the data directory"
                folders_inside.add(folder)
            if problem is not None:
                if journal:
                    raise UnsafePath(f"the journal names {rel!r} ({problem}): it was not applied",
                                     hint=JOURNAL_HINT)
                raise UnsafePath(f"a commit would write {rel!r} ({problem}): nothing was written",
                                 hint="run 'medsec check'")

    def commit(self, txn: Transaction) -> None:
        """Audit the change as begun, then make it: all of it or none.

        The commit point is the journal's rename (or, for one file, that file's).
        A failure is reported as CommitFailed, saying which side of it the data is on.
        """
        files = txn.serialized()
        if not files:
            return
        self.refuse_unsafe([rel for rel, _data in files], journal=False)
        begun = self._audit_begin()
        self.committed = False
        state = "not made"
        try:
            if len(files) == 1:
                # One file is atomic by itself; no journal needed.
                rel, data = files[0]
                write_atomic(self.path(rel), data, sync_dir=False)
                state = "made"
                fsync_dir(os.path.dirname(self.path(rel)))
            else:
                write_atomic(self.path(JOURNAL), encode_journal(files, begun), sync_dir=False)
                state = "journaled"
                fsync_dir(self.root)
                self._apply(files)
                os.unlink(self.path(JOURNAL))
                state = "made"
                fsync_dir(self.root)
        except OSError as e:
            raise CommitFailed(_reason(self.root, e), state) from e
        self.committed = True

    def _audit_begin(self) -> Begun | None:
        """Append the "begun" audit entry of a commit about to be made (None without an
        actor); CommitFailed, with nothing written, when the audit log cannot take it."""
        if self.actor is None:
            return None
        user, command, at = self.actor()
        commit_id = os.urandom(6).hex()  # not `secrets`: it loads OpenSSL (~5 ms) on every write
        try:
            audit.record(self.root, user=user, command=command, action="commit", outcome="begun", at=at,
                         commit=commit_id)
        except OSError as e:
            raise CommitFailed(f"the audit log cannot be written: {_reason(self.root, e)}", "not made",
                               hint="make audit/ writable or free space, then run the command again") from e
        self.commit_id = commit_id
        return {"commit": commit_id, "user": user, "command": command,
                "at": at.replace(microsecond=0).isoformat()}

    def _apply(self, files: list[tuple[str, bytes]]) -> None:
        dirs = set()
        for rel, data in files:
            path = self.path(rel)
            write_atomic(path, data, sync_dir=False)
            dirs.add(os.path.dirname(path))
        for d in dirs:
            fsync_dir(d)

    def append(self, rel: str, line: bytes) -> None:
        append_line(self.path(rel), line)

    def ensure_dirs(self, *rels: str) -> None:
        for rel in rels:
            make_private_dirs(self.path(rel))

    @classmethod
    def create(cls, root: str) -> "Store":
        """A new, empty data directory at `root`: private folders for every record kind."""
        make_private_dirs(root)
        store = cls(root)
        store.ensure_dirs(*RECORD_DIRS)
        return store


class _TransactionScope:
    def __init__(self, store: Store):
        self.store = store
        self.lock = DirectoryLock(store.root)
        # Nothing is read until the lock is held: a Transaction loads files on first use.
        self.txn = Transaction(store.root)

    def __enter__(self) -> Transaction:
        self.lock.acquire()
        try:
            self.store.recover()
        except BaseException:
            self.lock.release()
            raise
        return self.txn

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is None:
                self.store.commit(self.txn)
        finally:
            self.lock.release()
        if exc_type is None:
            for callback in self.txn.after_commit:
                callback()
