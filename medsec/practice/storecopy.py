"""`medsec store copy`: the whole practice from its store into another one, and proof that it arrived.

A practice moves between backends (a data directory and PostgreSQL, either
way) through the storage interface only (medsec.store.api), so this module
knows nothing of files or tables: every record of every kind (`scan`, then
`put_many` in batches, each batch one transaction on the target, whose index
keys its own `put_many` derives), every configuration document, the id
counters, the attachments and the audit log.

A copy may be interrupted (a killed process, a lost connection) and run again
with --force: records are upserted by id (a record already there and equal is
left alone), counters only ever advance to the source's, attachments are kept
by hash, and the audit log gets only the entries it lacks. Records created in
the source after the copy began (ids past the counters it read first) wait
for the next run, so the target's counters never fall behind its records.

The copy ends by comparing both stores: per kind the count and a SHA-256 over
the records' canonical JSON in id order, then documents, counters,
attachments and the audit log. A difference (someone worked during the copy)
is exit 3: run it again with --force once the office is quiet.
"""

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypedDict

import orjson

from medsec.config import CONFIG_FILES, checked
from medsec.errors import EnvironmentFailure, InvalidInput, Refused
from medsec.store.api import (
    Backend,
    Reader,
    Record,
    RecordKind,
    StoreLocation,
    create_store,
    is_store_url,
    open_store,
)
from medsec.store.catalog import ALL_KINDS, STAFF

BATCH = 5000  # records a target transaction takes
# The configuration document that makes a folder a data directory: written first, so that
# a copy into a folder interrupted at any later point is a data directory a re-run opens.
FIRST_DOCUMENT = "medsec.yaml"

Progress = Callable[[str], None]


class CommandContext(Protocol):
    """What the copy needs of the command's context (medsec.context.AppContext)."""

    @property
    def store(self) -> Backend: ...

    @property
    def location(self) -> StoreLocation: ...

    def audit(self, action: str, ids: Iterable[str] = (), outcome: str = "ok") -> None: ...


class Checked(TypedDict):
    """One line of the copy's closing comparison."""

    kind: str  # a record kind, or documents, counters, attachments, audit
    count: int  # in the source
    match: bool  # the target holds the same


def shown_target(target: str) -> str:
    """The target as messages name it: a URL without its query (options, file names)."""
    return target.split("?", 1)[0] if is_store_url(target) else os.path.abspath(target)


def copy_store(app: CommandContext, target: str, force: bool = False, password_env: str | None = None,
               batch: int = BATCH, progress: Progress | None = None) -> list[Checked]:
    """Copy the practice of `app` to `target` (a PostgreSQL URL, or a folder for a new data
    directory) and compare the two: the comparison's lines (`refuse_differences` makes a
    difference exit 3). InvalidInput (exit 2) for a target that is this store, or that holds
    records or documents already without `force`."""
    source = app.store
    note = progress or (lambda message: None)
    _refuse_same_store(app, target)
    with _target_store(source, target, password_env) as (dest, created):
        fresh = created or _is_empty(dest)
        if not fresh and not force:
            raise InvalidInput(f"{shown_target(target)} holds a practice already (records or configuration)",
                               hint="give a new target; --force copies over it, as a re-run after an "
                                    "interrupted copy must")
        start = source.snapshot().counters()  # records numbered past these wait for the next run
        _copy_documents(source, dest)
        _copy_counters(dest, start)
        for kind in ALL_KINDS:
            _copy_records(source, dest, kind, start.get(kind.prefix, 0), batch, fresh, note)
        _copy_attachments(source, dest, note)
        checked = verify(source, dest, audit=False)
        if all(line["match"] for line in checked):
            app.audit("copy")  # in the source's log, and so (copied next) in the target's
        _copy_audit(source, dest, note)
        return checked + [_audit_checked(source, dest)]


def _refuse_same_store(app: CommandContext, target: str) -> None:
    """A target that is the practice's own store, or a folder inside its folder, is refused."""
    if is_store_url(target):
        if app.location.url is not None and shown_target(app.location.url) == shown_target(target):
            raise InvalidInput(f"{shown_target(target)} is this practice's own store")
        return
    root, path = os.path.realpath(app.store.root), os.path.realpath(target)
    if path == root or path.startswith(root + os.sep):
        raise InvalidInput(f"{shown_target(target)} is this practice's own folder, or inside it",
                           hint="copy to a folder of its own")


@contextmanager
def _target_store(source: Backend, target: str, password_env: str | None) -> Iterator[tuple[Backend, bool]]:
    """The target's store and whether it was created just now.

    A PostgreSQL store is created when the database holds none, else opened. Its local folder
    is a private temporary one: a copy writes nothing there (records, documents, attachments and
    the audit log all live in the database), and the source's folder is left untouched.
    """
    if is_store_url(target):
        with tempfile.TemporaryDirectory(prefix="medsec-copy-") as folder:
            try:
                store, created = create_store(folder, target, password_env), True
            except Refused:  # the database holds a medsec store already: copy into it
                store, created = open_store(folder, target, password_env), False
            yield store, created
        return
    if password_env:
        raise InvalidInput("--password-env is for a PostgreSQL target")
    path = os.path.abspath(target)
    if os.path.exists(path) and not os.path.isdir(path):
        raise InvalidInput(f"{path} is a file, not a folder for a data directory")
    if os.path.exists(os.path.join(path, FIRST_DOCUMENT)):
        yield open_store(path), False
    elif _holds_files(path):
        raise InvalidInput(f"{path} is not empty and not a medsec data directory",
                           hint="copy to a new or empty folder")
    else:
        from medsec.practice.setup import _refuse_shared_folder  # init's rule: a folder others can write is no home

        _refuse_shared_folder(path)
        yield create_store(path), True


def _holds_files(path: str) -> bool:
    """Whether a folder holds anything but (nested) empty folders: an interrupted copy may
    leave those behind before it wrote its first document."""
    return any(names for _folder, _dirs, names in os.walk(path))


def _is_empty(store: Backend) -> bool:
    """Whether a store holds no record and no configuration document."""
    if any(store.document_text(name) is not None for name in CONFIG_FILES):
        return False
    reader = store.snapshot()
    return not any(next(iter(reader.scan(kind)), None) is not None for kind in ALL_KINDS)


# -- copying ------------------------------------------------------------------------------
def _copy_documents(source: Backend, dest: Backend) -> None:
    """Every configuration document, its text as people edit it and its data as checked now;
    medsec.yaml in a transaction of its own, first (it makes a folder a data directory)."""
    texts = {name: source.document_text(name) for name in CONFIG_FILES}
    parsed = {name: _checked(name, text) for name, text in texts.items() if text is not None}
    first = [name for name in parsed if name == FIRST_DOCUMENT]
    for names in (first, [name for name in parsed if name != FIRST_DOCUMENT]):
        if names:
            with dest.transaction() as txn:
                for name in names:
                    txn.put_document(name, texts[name] or "", parsed[name])


def _checked(name: str, text: str | None) -> object:
    """A document's data as medsec.config checks it (as `config.stage` writes it: JSON types);
    ConfigError for one that does not pass (the source's own configuration is broken)."""
    return checked(name, text or "", hint="fix it first ('medsec config check'): a broken document is not copied")


def _copy_counters(dest: Backend, start: dict[str, int]) -> None:
    """Advance each of the target's counters to the source's, before any record arrives (a
    counter is advanced by handing ids out, which checks that the next id is not taken)."""
    have = dest.snapshot().counters()
    behind = {prefix: n - have.get(prefix, 0) for prefix, n in start.items() if n > have.get(prefix, 0)}
    if not behind:
        return
    with dest.transaction() as txn:
        for prefix, count in sorted(behind.items()):
            txn.reserve_ids(_kind_of(prefix), count)


def _kind_of(prefix: str) -> RecordKind:
    """The kind whose ids a counter hands out; a counter of no stored kind (staff ids, claim
    interchange numbers) as a kind of that prefix only."""
    for kind in [*ALL_KINDS, STAFF]:
        if kind.prefix == prefix:
            return kind
    return RecordKind(f"counter-{prefix}", prefix)


def _copy_records(source: Backend, dest: Backend, kind: RecordKind, last: int, batch: int, fresh: bool,
                  note: Progress) -> None:
    """A kind's records numbered up to `last`, `batch` per target transaction."""
    done = 0
    pending: list[Record] = []
    for record in source.snapshot().scan(kind):  # a snapshot per kind: a view holds what it read
        if kind.number(record["id"]) > last:
            continue
        pending.append(record)
        if len(pending) >= batch:
            done += _put_batch(dest, kind, pending, fresh)
            pending = []
            note(f"{kind.name}: {done} copied")
    if pending:
        done += _put_batch(dest, kind, pending, fresh)
        note(f"{kind.name}: {done} copied")


def _put_batch(dest: Backend, kind: RecordKind, records: list[Record], fresh: bool) -> int:
    """One transaction: the records the target lacks or holds otherwise, `old` being what it
    holds (so its index keys that are gone go); an empty target holds nothing to ask about."""
    with dest.transaction() as txn:
        old = {} if fresh else {r["id"]: r for r in txn.get_many(kind, [r["id"] for r in records])}
        changed = [r for r in records if old.get(r["id"]) != r]
        txn.put_many(kind, changed, old)
    return len(records)


def _copy_attachments(source: Backend, dest: Backend, note: Progress) -> None:
    """Every kept file the target lacks, checked against its hash on the way."""
    missing = sorted(set(source.attachments()) - set(dest.attachments()))
    for i, sha in enumerate(missing, 1):
        data = source.attachment(sha)
        if data is None:
            raise EnvironmentFailure(f"attachment {sha[:12]}... is listed but cannot be read",
                                     hint="run 'medsec check'")
        if dest.attach_bytes(data)[0] != sha:
            raise EnvironmentFailure(f"attachment {sha[:12]}... does not match its hash: not copied",
                                     hint="run 'medsec check'")
        if i % 100 == 0 or i == len(missing):
            note(f"attachments: {i} of {len(missing)} copied")


def _entry_key(entry: dict) -> bytes:
    return orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)


def _copy_audit(source: Backend, dest: Backend, note: Progress) -> None:
    """Append the source's audit entries the target lacks, oldest first. The target's log is
    append-only: a re-run finds the entries an earlier run appended and skips them (counted, so
    two equal entries are two), and a target with a history of its own keeps it."""
    held: dict[bytes, int] = {}
    for entry in dest.audit_entries():
        key = _entry_key(entry)
        held[key] = held.get(key, 0) + 1
    appended = 0
    for entry in source.audit_entries():
        key = _entry_key(entry)
        if held.get(key):
            held[key] -= 1
            continue
        dest.audit(entry)
        appended += 1
    if appended:
        note(f"audit: {appended} entries copied")


# -- comparing ------------------------------------------------------------------------------
def digest(reader: Reader, kind: RecordKind) -> tuple[int, str]:
    """(count, SHA-256) of a kind's records: their canonical JSON (sorted keys), in id order.
    Streamed when the store scans in id order; otherwise (a data directory's by-day kinds
    scan day by day) scanned again and sorted."""
    h = hashlib.sha256()
    count = last = 0
    for record in reader.scan(kind):
        n = kind.number(record["id"])
        if n <= last:
            return _sorted_digest(reader, kind)
        h.update(_canonical(record))
        count, last = count + 1, n
    return count, h.hexdigest()


def _sorted_digest(reader: Reader, kind: RecordKind) -> tuple[int, str]:
    lines = sorted((kind.number(r["id"]), _canonical(r)) for r in reader.scan(kind))
    h = hashlib.sha256()
    for _n, line in lines:
        h.update(line)
    return len(lines), h.hexdigest()


def _canonical(record: Record) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS) + b"\n"


def verify(source: Backend, dest: Backend, audit: bool = True) -> list[Checked]:
    """Whether `dest` holds what `source` holds: each kind's records, the documents, the
    counters, the attachments (and with `audit`, every audit entry)."""
    checked: list[Checked] = []
    for kind in ALL_KINDS:
        count, mine = digest(source.snapshot(), kind)
        theirs = digest(dest.snapshot(), kind)
        checked.append({"kind": kind.name, "count": count, "match": (count, mine) == theirs})
    texts = {name: source.document_text(name) for name in CONFIG_FILES}
    checked.append({"kind": "documents", "count": sum(t is not None for t in texts.values()),
                    "match": all(dest.document_text(name) == text for name, text in texts.items())})
    counters = _counters(source)
    checked.append({"kind": "counters", "count": len(counters), "match": counters == _counters(dest)})
    kept = set(source.attachments())
    checked.append({"kind": "attachments", "count": len(kept), "match": kept == set(dest.attachments())})
    if audit:
        checked.append(_audit_checked(source, dest))
    return checked


def _counters(store: Backend) -> dict[str, int]:
    """The counters that handed ids out (a counter at 0 and none at all are the same)."""
    return {prefix: n for prefix, n in store.snapshot().counters().items() if n}


def _audit_checked(source: Backend, dest: Backend) -> Checked:
    """Every source audit entry is in the target's log (which may hold more of its own)."""
    held: dict[bytes, int] = {}
    for entry in dest.audit_entries():
        key = _entry_key(entry)
        held[key] = held.get(key, 0) + 1
    entries = source.audit_entries()
    for entry in entries:
        key = _entry_key(entry)
        held[key] = held.get(key, 0) - 1
    return {"kind": "audit", "count": len(entries), "match": all(n >= 0 for n in held.values())}


def differences(checked: list[Checked]) -> list[str]:
    """The names of the lines that do not match."""
    return [line["kind"] for line in checked if not line["match"]]


def refuse_differences(checked: list[Checked], target: str) -> None:
    """EnvironmentFailure (exit 3) naming what differs, if anything does."""
    differ = differences(checked)
    if differ:
        raise EnvironmentFailure(f"the copy at {shown_target(target)} differs from the practice: "
                                 f"{', '.join(differ)}",
                                 hint="the practice changed during the copy, or the target held more: "
                                      "run it again with --force once no one is working")

