"""`medsec check [--repair]`: verify shards against their seals, records against the id
counters and each other, indexes, attachments and leftovers.

A repair rebuilds only what is derived (indexes, counters behind their records,
caches, leftovers). Records lost or changed outside medsec are reported, never
mended: the damaged files stay as they were (evidence), the indexes of a kind
that lost records are kept (they still name what was lost), and the check goes
on failing until a backup is restored.
"""

import contextlib
import hashlib
import os
import shutil
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import orjson

from medsec import config
from medsec.errors import InvalidInput
from medsec.fileio import is_temp_name, temp_owner_alive, write_atomic
from medsec.money import damaged
from medsec.store import indexfiles
from medsec.store.catalog import ALL_KINDS, PATIENT_RECORDS, PATIENTS, STAFF
from medsec.store.indexfiles import IndexEntry
from medsec.store.journal import JOURNAL, UnsafePath
from medsec.store.kinds import Record, RecordKind
from medsec.store.layout import leftover_staging
from medsec.store.seal import SEAL, TABLE, ShardSeal, counters_seal, shard_bytes
from medsec.store.store import COUNTERS, Snapshot, Store, Transaction
from medsec.text import shown

# What clears a finding: `check --repair`; a backup (records lost or changed outside
# medsec); or a person looking at the file named (a journal that was not applied).
Remedy = Literal["repair", "restore", "inspect"]

_RESTORE = "restore the last good backup ('medsec restore FILE'); the damaged files are left as they were"
_NEXT_STEP: dict[Remedy, str] = {
    "restore": f"records are lost or were changed outside medsec: {_RESTORE}",
    "inspect": "look at the files named (a journal that was not applied: move it aside once looked at), "
               "or restore a backup ('medsec restore FILE')",
    "repair": "run 'medsec check --repair'",
}


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
    remedy: Remedy


def next_step(problems: list[Problem], repaired: bool) -> str | None:
    """What to do about the findings a check left: a backup if records are lost, else look,
    else (when this was not a repair already) `check --repair`."""
    remedies = {p["remedy"] for p in problems if not p["repaired"]} - ({"repair"} if repaired else set())
    return next((_NEXT_STEP[r] for r in ("restore", "inspect", "repair") if r in remedies), None)


@dataclass
class _Scan:
    """What one pass over every record implies for the other checks."""

    max_ids: dict[str, int] = field(default_factory=dict)  # prefix -> the highest id number in use
    expected: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # index file -> key -> ids
    attachments: list[tuple[str, str]] = field(default_factory=list)  # (record id, sha256) named
    present: dict[str, set[int]] = field(default_factory=dict)  # prefix -> id numbers found
    sealed: dict[str, dict[int, str]] = field(default_factory=dict)  # prefix -> id number -> file sealing it
    references: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # file -> (id, patient id)
    unsealed: list[str] = field(default_factory=list)  # shards without a seal
    unreadable: list[str] = field(default_factory=list)  # shards that are not valid JSON


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
    checker.seals(scan)
    checker.lost(scan)
    checker.references(scan)
    if scan.unreadable:
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
    if checker.repair and not any(not p["repaired"] for p in checker.problems):
        checker.seal_all(store, scan.unsealed)
    return checker.problems


class _Checker:
    """The steps of one check, each adding its findings in order; repairs
    to record files are staged in `view` and committed at the end."""

    def __init__(self, root: str, repair: bool):
        self.root = root
        self.repair = repair
        self.view = Transaction(root)
        self.problems: list[Problem] = []
        self.lost_kinds: set[str] = set()  # prefixes of kinds with records lost: their indexes are kept
        self.counters_trusted = True  # False when the counters file does not match its seal

    def report(self, message: str, rel: str = "", fixed: bool = False, remedy: Remedy = "repair") -> None:
        self.problems.append({"problem": message, "file": rel, "repaired": fixed, "remedy": remedy})

    def journal(self) -> None:
        """A journal waiting to be rolled forward; or one that is never applied (it names a
        file a commit may not write): damage, and no repair is written over that evidence."""
        if not os.path.exists(os.path.join(self.root, JOURNAL)):
            return
        problem = Store(self.root).journal_problem()
        if problem is None:
            self.report("an interrupted commit is waiting to be rolled forward", JOURNAL)
        else:
            self.report(problem, JOURNAL, remedy="inspect")
            self.repair = False  # a repair's commit would replace the journal

    def records(self) -> _Scan:
        """One pass over every record, each shard parsed and dropped (peek): the
        indexes they imply and the attachments they name are gathered on the way."""
        scan = _Scan()
        for kind in ALL_KINDS:
            for rel in self.view.shard_files(kind):
                raw = self._shard_file(rel)
                if raw is None:
                    scan.unreadable.append(rel)
                    continue
                self._shard(kind, rel, raw[TABLE], scan)
                self._sealed(kind, rel, raw, scan)
        return scan

    def _shard_file(self, rel: str) -> dict[str, Any] | None:
        """A shard's parsed file (parsed and dropped), or None, reported, when it is not one."""
        try:
            raw = self.view.peek(rel)
        except Exception as e:
            self.report(f"not valid JSON: {getattr(e, 'message', e)}", rel, remedy="restore")
            return None
        table = raw.get(TABLE, {}) if isinstance(raw, dict) else None
        if not isinstance(table, dict) or not all(
                str(doc_id).isdigit() and isinstance(record, dict) for doc_id, record in table.items()):
            self.report("not valid JSON: not a shard of records", rel, remedy="restore")
            return None
        return {**raw, TABLE: table}

    def _shard(self, kind: RecordKind, rel: str, table: dict[str, Record], scan: _Scan) -> None:
        present = scan.present.setdefault(kind.prefix, set())
        names_patients = kind in PATIENT_RECORDS
        for doc_id, record in table.items():
            n = int(doc_id)
            if record.get("id") != kind.format_id(n) or _shard_of(kind, record) != rel:
                self.report(f"document {doc_id} holds {record.get('id')!r}: misplaced", rel, remedy="restore")
            scan.max_ids[kind.prefix] = max(scan.max_ids.get(kind.prefix, 0), n)
            present.add(n)
            for name, shard, key in _entries(kind, record):
                scan.expected.setdefault(f"index/{name}/{shard}.json", {}).setdefault(key, []).append(record["id"])
            scan.attachments.extend((record["id"], a["sha256"]) for a in record.get("attachments", []))
            self._amounts(kind, rel, record)
            if names_patients and record.get("patient_id"):
                scan.references.setdefault(rel, []).append((record["id"], str(record["patient_id"])))

    def _amounts(self, kind: RecordKind, rel: str, record: Record) -> None:
        """A money field that holds no amount: balances count it as 0.00, so it is damage to report."""
        for name, value in kind.amounts(record):
            if damaged(value):
                self.report(f"{record['id']}: {name} {shown(str(value))} is not an amount", rel, remedy="restore")

    def _sealed(self, kind: RecordKind, rel: str, raw: dict[str, Any], scan: _Scan) -> None:
        """The shard's records against its seal: changed or added ones reported here,
        the ids it lists gathered (`lost` reports those no file holds)."""
        seal = raw.get(SEAL)
        if seal is None:
            scan.unsealed.append(rel)
            return
        if not isinstance(seal, dict):
            self.report("its seal was changed outside medsec", rel, remedy="restore")
            return
        sealed = scan.sealed.setdefault(kind.prefix, {})
        sealed.update((int(doc_id), rel) for doc_id in seal if str(doc_id).isdigit())
        found = ShardSeal(raw[TABLE], seal)
        if found.changed:
            ids = _id_list(kind, [int(d) for d in found.changed])
            self.report(f"changed outside medsec (not as medsec wrote them): {ids}", rel, remedy="restore")
        if found.added:
            ids = _id_list(kind, [int(d) for d in found.added])
            self.report(f"not written by medsec (added outside it): {ids}", rel, remedy="restore")

    def seals(self, scan: _Scan) -> None:
        """The counters' seal; and shards without one in a directory whose shards are all sealed."""
        try:
            raw = self.view.load(COUNTERS)
        except Exception as e:
            self.report(f"not valid JSON: {getattr(e, 'message', e)}", COUNTERS, remedy="restore")
            self.counters_trusted = False
            return
        intact, all_sealed = counters_seal(raw)
        if intact is False or (raw is not None and not isinstance(raw, dict)):
            self.counters_trusted = False
            self.report("the id counters were changed outside medsec: which ids were handed out is "
                        "not known for sure", COUNTERS, remedy="restore")
        elif raw is None and scan.sealed:
            self.counters_trusted = False
            self.report("the id counters are missing: which ids were handed out is not known", COUNTERS,
                        remedy="restore")
        if all_sealed:
            for rel in scan.unsealed:
                self.report("its seal is gone: the file was written outside medsec (emptied or replaced)",
                            rel, remedy="restore")

    def lost(self, scan: _Scan) -> None:
        """Ids handed out (at or below their counter, or listed in a seal) that no file holds."""
        counters = self.view.counters() if self.counters_trusted else {}
        for kind in ALL_KINDS:
            present = scan.present.get(kind.prefix, set())
            sealed = scan.sealed.get(kind.prefix, {})
            top = counters.get(kind.prefix, 0) if isinstance(counters.get(kind.prefix), int) else 0
            missing = [n for n in range(1, top + 1) if n not in present]
            missing += sorted(n for n in sealed if n > top and n not in present)
            by_file: dict[str, list[int]] = {}
            for n in missing:
                by_file.setdefault(sealed.get(n) or self._home_of(kind, n), []).append(n)
            for rel, numbers in sorted(by_file.items()):
                self.lost_kinds.add(kind.prefix)
                self.report(f"records lost (handed out, found in no file): {_id_list(kind, numbers)}", rel,
                            remedy="restore")

    def _home_of(self, kind: RecordKind, n: int) -> str:
        """The file a lost record lived in: its shard, or for a by-day kind the place its
        locator still names (the kind's folder when that is gone too)."""
        if not kind.by_day:
            return kind.shard_of(n)
        try:
            place = self.view.locate(kind, kind.format_id(n))
        except Exception:
            place = None
        return kind.place_shard(place) if place else f"{kind.name}/"

    def references(self, scan: _Scan) -> None:
        """Records that name a patient who is not there (lost, or never was)."""
        patients = {PATIENTS.format_id(n) for n in scan.present.get(PATIENTS.prefix, set())}
        for rel, refs in sorted(scan.references.items()):
            dangling = [f"{record_id} ({patient_id})" for record_id, patient_id in refs
                        if patient_id.upper() not in patients]
            if dangling:
                self.report(f"records name a patient who is not there: {', '.join(dangling)}", rel,
                            remedy="restore")

    def seal_all(self, store: Store, unsealed: list[str]) -> None:
        """Seal the shards an older medsec wrote (the directory is sound), then mark the
        counters "every shard sealed". Each file is rewritten with the same records, by
        itself and atomically: a crash in between leaves the directory as it was, unmarked."""
        on_disk = Snapshot(self.root).load(COUNTERS)
        if not unsealed and (on_disk is None or counters_seal(on_disk)[1]):
            return  # a new directory (no counters yet) is sealed from its first commit
        for rel in unsealed:
            write_atomic(os.path.join(self.root, rel), shard_bytes(self.view.peek(rel)))
        marker = Transaction(self.root)
        marker.shards_sealed = True
        marker.stage(COUNTERS, marker.counters())
        store.commit(marker)

    def staff_ids(self, max_ids: dict[str, int]) -> None:
        """The staff roster's ids count towards the S counter."""
        for member in config.load(self.root, "staff.yaml").get("staff") or []:
            try:
                max_ids["S"] = max(max_ids.get("S", 0), STAFF.number(member["id"]))
            except Exception:
                self.report(f"staff id {member.get('id')!r} is malformed", "staff.yaml", remedy="inspect")

    def counters(self, max_ids: dict[str, int]) -> None:
        """Each id counter at least the highest id in use."""
        if not self.counters_trusted:
            return  # reported by `seals`, kept as it is
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
        present = {indexfiles.file_of(name, shard) for name in indexfiles.OWNERS for shard in view.indexes.shards(name)}
        kept: dict[str, int] = {}  # index -> files that differ, kept as they are
        for rel in sorted(present | set(expected)):
            try:
                actual = view.load(rel) or {}
            except Exception:
                actual = None
            if actual is None or _normal(actual) != _normal(expected.get(rel, {})):
                name = rel.split("/")[1]
                if indexfiles.OWNERS[name].prefix in self.lost_kinds:
                    kept[name] = kept.get(name, 0) + 1
                    continue
                self.report("index does not match the records", rel, self.repair)
                if rel in expected:
                    view.stage(rel, _normal(expected[rel]))
                elif self.repair:
                    os.unlink(os.path.join(self.root, rel))
        for name, count in kept.items():
            self.report(f"{count} index file(s) do not match the records (kept: they still name records "
                        "that are lost)", f"index/{name}/", remedy="restore")

    def attachments(self, attachments: list[tuple[str, str]]) -> None:
        """Every attachment a record names is there, with its hash."""
        for record_id, sha in attachments:
            path = os.path.join(self.root, "files", sha[:2], sha)
            if not os.path.exists(path):
                self.report(f"{record_id}: attachment {sha[:12]}... is missing", f"files/{sha[:2]}/{sha}",
                            remedy="restore")
            elif _sha256(path) != sha:
                self.report(f"{record_id}: attachment {sha[:12]}... does not match its hash", f"files/{sha[:2]}/{sha}",
                            remedy="restore")

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
        return indexfiles.entries(kind, record)
    except (InvalidInput, KeyError):
        return set()


def _id_list(kind: RecordKind, numbers: list[int]) -> str:
    """Ids as runs: "P1-P100, P205"."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(kind.format_id(a) if a == b else f"{kind.format_id(a)}-{kind.format_id(b)}" for a, b in runs)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
