"""`medsec check [--repair]`: verify shards, indexes, counters and files."""

import contextlib
import hashlib
import os
import shutil
from typing import NamedTuple, TypedDict

import orjson

from medsec import config
from medsec.errors import InvalidInput
from medsec.fileio import is_temp_name, temp_owner_alive
from medsec.store.catalog import ALL_KINDS, INDEXES, STAFF
from medsec.store.kinds import IndexEntry, Record, RecordKind
from medsec.store.layout import leftover_staging
from medsec.store.store import COUNTERS, JOURNAL, TABLE, Store, Transaction, UnsafePath


def _id_order(record_id: str) -> tuple[str, int]:
    """Ids in numeric order whatever the prefix's length (P9 < P10, RF2 < RF10)."""
    prefix = record_id.rstrip("0123456789")
    return prefix, int(record_id[len(prefix):])


def _normal(index: dict[str, list[str]]) -> dict[str, list[str]]:
    return {k: sorted(v, key=_id_order) for k, v in index.items() if v}


class Problem(TypedDict):
    """One finding of `medsec check`, as its JSON prints it."""

    problem: str
    file: str
    repaired: bool


class _Scan(NamedTuple):
    """What one pass over every record implies for the other checks."""

    max_ids: dict[str, int]  # prefix -> the highest id number in use
    expected: dict[str, dict[str, list[str]]]  # index file -> key -> ids, as the records imply
    attachments: list[tuple[str, str]]  # (record id, sha256) of every attachment named


def check(store: Store, repair: bool = False) -> list[Problem]:
    """Problems found (each {"problem", "file", "repaired"}), under the lock.

    Even a read-only check holds the lock: a lock-free look during another
    command's commit sees its journal and records ahead of their index
    entries, and would report those as damage.
    """
    with store.lock():
        if repair:
            with contextlib.suppress(UnsafePath):  # a journal not applied: the check reports it
                store.recover()
        return check_locked(store, repair=repair)


def check_locked(store: Store, repair: bool) -> list[Problem]:
    """`check` for a caller that holds the lock already (`medsec upgrade`)."""
    checker = _Checker(store.root, repair)
    checker.journal()
    scan = checker.records()
    if any(p["problem"].startswith("not valid JSON") for p in checker.problems):
        return checker.problems  # indexes cannot be judged against unreadable records
    checker.staff_ids(scan.max_ids)
    checker.counters(scan.max_ids)
    checker.indexes(scan.expected)
    checker.attachments(scan.attachments)
    checker.temp_files()
    checker.config_caches()
    checker.restore_leftovers()
    if checker.repair and checker.view.touched:
        store.commit(checker.view)
    return checker.problems


class _Checker:
    """The steps of one check, each adding its findings in order; repairs
    to record files are staged in `view` and committed at the end."""

    def __init__(self, root: str, repair: bool):
        self.root = root
        self.repair = repair
        self.view = Transaction(root)
        self.problems: list[Problem] = []

    def report(self, message: str, rel: str = "", fixed: bool = False) -> None:
        self.problems.append({"problem": message, "file": rel, "repaired": fixed})

    def journal(self) -> None:
        """A journal waiting to be rolled forward; or one that is never applied (it names a
        file a commit may not write): damage, and no repair is written over that evidence."""
        if not os.path.exists(os.path.join(self.root, JOURNAL)):
            return
        problem = Store(self.root).journal_problem()
        if problem is None:
            self.report("an interrupted commit is waiting to be rolled forward", JOURNAL)
        else:
            self.report(problem, JOURNAL)
            self.repair = False  # a repair's commit would replace the journal

    def records(self) -> _Scan:
        """One pass over every record, each shard parsed and dropped (peek): the
        indexes they imply and the attachments they name are gathered on the way."""
        scan = _Scan({}, {}, [])
        for kind in ALL_KINDS:
            for rel in self.view.shard_files(kind):
                try:
                    table = (self.view.peek(rel) or {}).get(TABLE, {})
                except Exception as e:
                    self.report(f"not valid JSON: {getattr(e, 'message', e)}", rel)
                    continue
                self._shard(kind, rel, table, scan)
        return scan

    def _shard(self, kind: RecordKind, rel: str, table: dict[str, Record], scan: _Scan) -> None:
        max_ids, expected, attachments = scan
        for doc_id, record in table.items():
            n = int(doc_id)
            if record.get("id") != kind.format_id(n) or _shard_of(kind, record) != rel:
                self.report(f"document {doc_id} holds {record.get('id')!r}: misplaced", rel)
            max_ids[kind.prefix] = max(max_ids.get(kind.prefix, 0), n)
            for name, shard, key in _entries(kind, record):
                expected.setdefault(f"index/{name}/{shard}.json", {}).setdefault(key, []).append(record["id"])
            attachments += [(record["id"], a["sha256"]) for a in record.get("attachments", [])]

    def staff_ids(self, max_ids: dict[str, int]) -> None:
        """The staff roster's ids count towards the S counter."""
        for member in config.load(self.root, "staff.yaml").get("staff") or []:
            try:
                max_ids["S"] = max(max_ids.get("S", 0), STAFF.number(member["id"]))
            except Exception:
                self.report(f"staff id {member.get('id')!r} is malformed", "staff.yaml")

    def counters(self, max_ids: dict[str, int]) -> None:
        """Each id counter at least the highest id in use."""
        counters = self.view.counters()
        fixed_counters = dict(counters)
        for prefix, top in max_ids.items():
            if counters.get(prefix, 0) < top:
                self.report(f"id counter {prefix} is {counters.get(prefix, 0)} but {prefix}{top} exists", COUNTERS,
                            self.repair)
                fixed_counters[prefix] = top
        if fixed_counters != counters:
            self.view.stage(COUNTERS, fixed_counters)

    def indexes(self, expected: dict[str, dict[str, list[str]]]) -> None:
        """Every index file as the records imply it; one no record implies goes."""
        view = self.view
        present = {f"index/{name}/{shard}.json" for name in INDEXES for shard in view.index_shards(name)}
        for rel in sorted(present | set(expected)):
            try:
                actual = view.load(rel) or {}
            except Exception:
                actual = None
            if actual is None or _normal(actual) != _normal(expected.get(rel, {})):
                self.report("index does not match the records", rel, self.repair)
                if rel in expected:
                    view.stage(rel, _normal(expected[rel]))
                elif self.repair:
                    os.unlink(os.path.join(self.root, rel))

    def attachments(self, attachments: list[tuple[str, str]]) -> None:
        """Every attachment a record names is there, with its hash."""
        for record_id, sha in attachments:
            path = os.path.join(self.root, "files", sha[:2], sha)
            if not os.path.exists(path):
                self.report(f"{record_id}: attachment {sha[:12]}... is missing", f"files/{sha[:2]}/{sha}")
            elif _sha256(path) != sha:
                self.report(f"{record_id}: attachment {sha[:12]}... does not match its hash", f"files/{sha[:2]}/{sha}")

    def temp_files(self) -> None:
        """Temporary files whose writer is gone."""
        for folder, _dirs, names in os.walk(self.root):
            for name in names:
                if is_temp_name(name) and not temp_owner_alive(name):
                    rel = os.path.relpath(os.path.join(folder, name), self.root)
                    self.report("leftover temporary file from an interrupted write", rel, self.repair)
                    if self.repair:
                        os.unlink(os.path.join(folder, name))

    def restore_leftovers(self) -> None:
        """Staging copies beside the data directory left by a restore that was killed."""
        for path in leftover_staging(self.root):
            self.report("staging copy of a restore that did not finish (it holds patient data; "
                        "the next restore removes it)", os.path.relpath(path, self.root), self.repair)
            if self.repair:
                shutil.rmtree(path)

    def config_caches(self) -> None:
        """Parsed configuration caches that are not valid JSON (they are rebuilt on demand)."""
        for name in config.CONFIG_FILES:
            cache = os.path.join(self.root, config.cache_rel(name))
            try:
                if os.path.exists(cache):
                    with open(cache, "rb") as f:
                        orjson.loads(f.read())
            except orjson.JSONDecodeError:
                self.report("configuration cache is not valid JSON", config.cache_rel(name), self.repair)
                if self.repair:
                    os.unlink(cache)


def _shard_of(kind: RecordKind, record: Record) -> str | None:
    try:
        return kind.shard_for(record)
    except (InvalidInput, KeyError):
        return None  # no start, or a part that cannot name a file: misplaced wherever it is


def _entries(kind: RecordKind, record: Record) -> set[IndexEntry]:
    try:
        return kind.entries(record)
    except (InvalidInput, KeyError):
        return set()


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
