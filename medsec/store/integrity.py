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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Literal, NamedTuple, TypedDict

import orjson

from medsec import atrest, audit, config
from medsec.errors import EnvironmentFailure, InvalidInput
from medsec.fileio import is_temp_name, temp_owner_alive, write_atomic
from medsec.money import damaged
from medsec.store import indexcheck, indexfiles
from medsec.store.catalog import ALL_KINDS, PATIENT_RECORDS, PATIENTS, STAFF
from medsec.store.halves import in_halves
from medsec.store.indexfiles import IndexEntry, Shard
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
    """Ids in numeric order whatever the prefix's length (P9 < P10, RF2 < RF10); other
    strings (the shards a split shard lists) as they are."""
    prefix = record_id.rstrip("0123456789")
    digits = record_id[len(prefix):]
    return prefix, int(digits) if digits else -1


def _normal(index: Shard) -> Shard:
    return {k: sorted(v, key=_id_order) for k, v in index.items() if v}


# The kinds in the order they are read: patients first, so that the records naming a
# patient are checked against them as they are read (nothing else depends on the order).
_KINDS = [PATIENTS] + [kind for kind in ALL_KINDS if kind is not PATIENTS]


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
class _Kind:
    """What the pass over one kind's shards (or some of them: `_Checker._read_kind`) gathers;
    boiled down into `_Scan` and dropped after it.

    The index entries are kept as the (key, id) pairs each index file should hold, one JSON
    array [key, id] a line (`_Checker._shard` appends them): a million appointments' three
    million entries take ~100 MB so, and over 300 MB as dicts of lists of strings.
    """

    present: set[int] = field(default_factory=set)  # id numbers found
    sealed: dict[int, str] = field(default_factory=dict)  # id number a seal lists, its file does not hold -> file
    index: dict[tuple[str, str], bytearray] = field(default_factory=dict)  # (index, shard) -> its pairs
    attachments: list[tuple[str, str]] = field(default_factory=list)  # (record id, sha256) named
    dangling: dict[str, list[str]] = field(default_factory=dict)  # file -> "id (patient id)" naming no patient
    any_sealed: bool = False  # some shard carries a seal
    unsealed: list[str] = field(default_factory=list)  # shards without a seal
    unreadable: list[str] = field(default_factory=list)  # shards that are not valid JSON

    def add(self, later: "_Kind") -> None:
        """Take in what the files after these gave (but their index entries: `add_pairs`)."""
        if self.present:
            self.present |= later.present
        else:  # the first part read: its million ids taken as they are, not copied
            self.present = later.present
        self.sealed.update(later.sealed)  # an id two seals list: the later file's, as one pass gives
        self.attachments += later.attachments
        self.dangling.update(later.dangling)
        self.any_sealed = self.any_sealed or later.any_sealed
        self.unsealed += later.unsealed
        self.unreadable += later.unreadable

    def add_pairs(self, index_shard: tuple[str, str], pairs: bytearray) -> None:
        """Take in an index file's entries from the files after these."""
        mine = self.index.get(index_shard)
        if mine is None:
            self.index[index_shard] = pairs
        else:
            mine += pairs


class _Absent(NamedTuple):
    """A kind's ids that no file holds, in little room whatever the number of records: the runs
    of numbers missing below the highest found, and the ids a seal lists but no file holds."""

    highest: int  # the highest id number found (0: none)
    runs: list[tuple[int, int]]  # (first, last) of each run of numbers below `highest` that no file holds
    sealed: dict[int, str]  # id number a seal lists and no file holds -> the (last) file whose seal lists it


class _Part(NamedTuple):
    """What reading some of a kind's shards found (`_Checker._read_kind`), but its index entries."""

    problems: list[Problem]  # its findings, in order
    found: _Kind


class _Stale(NamedTuple):
    """An index file that does not match the records."""

    kind: RecordKind  # the kind it indexes
    rebuilt: Shard | None  # what the records imply, when repairing (else None)


@dataclass
class _Scan:
    """What one pass over every record implies for the other checks."""

    max_ids: dict[str, int] = field(default_factory=dict)  # prefix -> the highest id number in use
    absent: dict[str, _Absent] = field(default_factory=dict)  # prefix -> the ids no file holds
    stale: dict[str, _Stale] = field(default_factory=dict)  # index file -> what it should hold
    attachments: list[tuple[str, str]] = field(default_factory=list)  # (record id, sha256) named
    patients: set[str] = field(default_factory=set)  # the patient ids found
    dangling: dict[str, list[str]] = field(default_factory=dict)  # file -> "id (patient id)" naming no patient
    any_sealed: bool = False  # some shard carries a seal
    unsealed: list[str] = field(default_factory=list)  # shards without a seal
    unreadable: list[str] = field(default_factory=list)  # shards that are not valid JSON


def check(store: Store, repair: bool = False, progress: Callable[[str], None] | None = None) -> list[Problem]:
    """Problems found (each {"problem", "file", "repaired"}), under the lock.

    Even a read-only check holds the lock: a lock-free look during another
    command's commit sees its journal and records ahead of their index
    entries, and would report those as damage.
    """
    with store.lock():
        if repair:
            with contextlib.suppress(UnsafePath):  # a journal not applied: the check reports it
                store.recover()
        return check_locked(store, repair=repair, progress=progress)


def check_locked(store: Store, repair: bool, progress: Callable[[str], None] | None = None) -> list[Problem]:
    """`check` for a caller that holds the lock already (`medsec upgrade`); `progress` is told
    each stage ("checking appointments")."""
    checker = _Checker(store.root, repair, progress or (lambda _stage: None))
    checker.journal()
    checker.audit_chain()
    scan = checker.records()
    checker.seals(scan)
    checker.lost(scan)
    checker.references(scan)
    if scan.unreadable:
        return checker.problems  # indexes cannot be judged against unreadable records
    checker.staff_ids(scan.max_ids)
    checker.counters(scan.max_ids)
    checker.indexes(scan.stale)
    checker.attachments(scan.attachments)
    checker.temp_files()
    checker.encryption()
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

    def __init__(self, root: str, repair: bool, progress: Callable[[str], None]):
        self.root = root
        self.repair = repair
        self.progress = progress
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

    def audit_chain(self) -> None:
        """The audit log's hash chain (medsec.audit.verify: the whole log read, 4-8 us an entry).
        Where it breaks is reported, never mended: the log is evidence, kept as it is."""
        verdict = audit.verify(self.root)
        if not verdict.intact:
            place = verdict.place or "audit"
            self.report(f"the audit log's chain is broken at {place}: {verdict.problem}",
                        place.split(" line ")[0], remedy="inspect")

    def records(self) -> _Scan:
        """One pass over every record, each shard parsed and dropped (peek), kind by kind.
        A kind's index files are compared with what its records imply as soon as they are
        all read; then only what the later checks need is kept: a few numbers, the findings."""
        scan = _Scan()
        for kind in _KINDS:
            self.progress(f"checking {kind.name}")
            self._kind_done(kind, self._read_kind(kind, scan.patients), scan)
        self.progress("checking indexes, counters and attachments")
        return scan

    def _read_kind(self, kind: RecordKind, patients: set[str]) -> _Kind:
        """A kind's shards read, in order; the later half by a second process at the same time
        when they are many (`in_halves`: a million appointments take seconds), its findings and
        entries put after the first half's, so that the outcome is one pass's."""
        found = _Kind()
        for item in in_halves(self.view.shard_files(kind), lambda files: self._read_part(kind, files, patients)):
            if isinstance(item, _Part):
                self.problems += item.problems
                found.add(item.found)
            else:
                found.add_pairs(*item)
        return found

    def _read_part(self, kind: RecordKind, files: list[str], patients: set[str]) -> Iterator[Any]:
        """`_read`, as `_read_kind` takes it in (from another process, maybe): the findings and what
        was gathered (`_Part`), then each index file's entries by itself (not ~50 MB in a message)."""
        mark = len(self.problems)
        found = self._read(kind, files, patients)
        problems = self.problems[mark:]
        del self.problems[mark:]
        index, found.index = found.index, {}
        yield _Part(problems, found)
        yield from index.items()

    def _read(self, kind: RecordKind, files: list[str], patients: set[str]) -> _Kind:
        """Shards of a kind, each read and dropped: its records, then its seal."""
        found = _Kind()
        for rel in files:
            raw = self._shard_file(rel)
            if raw is None:
                found.unreadable.append(rel)
                continue
            self._shard(kind, rel, raw[TABLE], found, patients)
            self._sealed(kind, rel, raw, found)
        return found

    def _kind_done(self, kind: RecordKind, found: _Kind, scan: _Scan) -> None:
        """One kind read: its highest id, the ids no file holds, its index files that do not match."""
        scan.attachments += found.attachments
        scan.dangling.update(found.dangling)
        scan.any_sealed = scan.any_sealed or found.any_sealed
        scan.unsealed += found.unsealed
        scan.unreadable += found.unreadable
        if found.present:
            scan.max_ids[kind.prefix] = max(found.present)
        if kind is PATIENTS:
            scan.patients = {kind.format_id(n) for n in found.present}
        scan.absent[kind.prefix] = _absent(found.present, found.sealed)
        if not scan.unreadable:  # else indexes are not judged (`check_locked`)
            self._compare_indexes(kind, found.index, scan.stale)

    def _shard_file(self, rel: str) -> dict[str, Any] | None:
        """A shard's parsed file (parsed and dropped), or None, reported, when it is not one."""
        try:
            raw = self.view.peek(rel)
        except Exception as e:
            self.report(f"not valid JSON: {getattr(e, 'message', e)}", rel, remedy="restore")
            return None
        table = raw.get(TABLE, {}) if isinstance(raw, dict) else None
        if not isinstance(table, dict) or not all(map(str.isdigit, table)) or not all(
                map(isinstance, table.values(), repeat(dict))):
            self.report("not valid JSON: not a shard of records", rel, remedy="restore")
            return None
        return {**raw, TABLE: table}

    def _shard(self, kind: RecordKind, rel: str, table: dict[str, Record], found: _Kind, patients: set[str]) -> None:
        """A shard's records: each in its place, its index entries gathered, its money fields
        amounts, the patient it names there (all patients are read before any other kind).

        The loop every record of the directory goes through (a million appointments: most of
        `check`'s time): a by-day record's place is worked out once, for where it lives and
        for its locator entry, and whether a place is this file's once per place.
        """
        index = found.index
        named = patients if kind in PATIENT_RECORDS else None
        homes: dict[str, bool] = {}  # place -> is this file its file
        for doc_id, record in table.items():
            record_id = record.get("id")
            place = _place(kind, record)
            if record_id != kind.format_id(int(doc_id)) or not _placed(kind, rel, record, place, homes):
                self.report(f"document {doc_id} holds {record_id!r}: misplaced", rel, remedy="restore")
            for name, shard, key in _entries(kind, record, place):
                pairs = index.get((name, shard))
                if pairs is None:
                    pairs = index[name, shard] = bytearray()
                pairs += orjson.dumps((key, record_id), option=orjson.OPT_APPEND_NEWLINE)
            if record.get("attachments"):
                found.attachments.extend((record["id"], a["sha256"]) for a in record["attachments"])
            for name, value in kind.amounts(record):
                if damaged(value):  # balances count it as 0.00: damage to report
                    self.report(f"{record['id']}: {name} {shown(str(value))} is not an amount", rel, remedy="restore")
            if named is not None and record.get("patient_id") and str(record["patient_id"]).upper() not in named:
                found.dangling.setdefault(rel, []).append(f"{record['id']} ({record['patient_id']})")
        found.present.update(map(int, table))

    def _sealed(self, kind: RecordKind, rel: str, raw: dict[str, Any], found: _Kind) -> None:
        """The shard's records against its seal: changed or added ones reported here, the ids it
        lists but does not hold gathered (`lost` reports those that no other file holds either)."""
        seal = raw.get(SEAL)
        if seal is None:
            found.unsealed.append(rel)
            return
        if not isinstance(seal, dict):
            self.report("its seal was changed outside medsec", rel, remedy="restore")
            return
        found.any_sealed = True
        sealed = ShardSeal(raw[TABLE], seal)
        found.sealed.update((int(doc_id), rel) for doc_id in sealed.missing if str(doc_id).isdigit())
        self._seal_findings(kind, rel, sealed)

    def _seal_findings(self, kind: RecordKind, rel: str, found: ShardSeal) -> None:
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
        elif raw is None and scan.any_sealed:
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
            absent = scan.absent[kind.prefix]
            top = counters.get(kind.prefix, 0) if isinstance(counters.get(kind.prefix), int) else 0
            missing = [n for first, last in absent.runs for n in range(first, min(last, top) + 1)]
            missing += range(absent.highest + 1, top + 1)
            missing += sorted(n for n in absent.sealed if n > top)
            by_file: dict[str, list[int]] = {}
            for n in missing:
                by_file.setdefault(absent.sealed.get(n) or self._home_of(kind, n), []).append(n)
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
        """Records that name a patient who is not there (lost, or never was): found by `_shard`."""
        for rel, dangling in sorted(scan.dangling.items()):
            self.report(f"records name a patient who is not there: {', '.join(dangling)}", rel, remedy="restore")

    def seal_all(self, store: Store, unsealed: list[str]) -> None:
        """Seal the shards an older medsec wrote (the directory is sound), then mark the
        counters "every shard sealed". Each file is rewritten with the same records, by
        itself and atomically: a crash in between leaves the directory as it was, unmarked."""
        on_disk = Snapshot(self.root).load(COUNTERS)
        if not unsealed and (on_disk is None or counters_seal(on_disk)[1]):
            return  # a new directory (no counters yet) is sealed from its first commit
        for rel in unsealed:
            write_atomic(os.path.join(self.root, rel), atrest.encrypt(self.root, rel, shard_bytes(self.view.peek(rel))))
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

    def _compare_indexes(self, kind: RecordKind, index: dict[tuple[str, str], bytearray],
                         stale: dict[str, _Stale]) -> None:
        """A kind's index files, those there and those its records imply (`index`), each read,
        compared and dropped; those that differ are kept in `stale` (`indexes` reports them)."""
        implied = indexcheck.implied(index)
        files = sorted(_index_shards(self.view, kind) | set(implied))
        files = files[::2] + files[1::2]  # halves of like work (an index's files are alike, indexes differ)
        for name, shard in in_halves(files, lambda part: self._differing(part, implied)):
            stale[indexfiles.file_of(name, shard)] = _Stale(kind, indexcheck.rebuilt(implied.get((name, shard)) or {})
                                                     if self.repair else None)

    def _differing(self, files: list[tuple[str, str]],
                   implied: dict[tuple[str, str], bytearray | Shard]) -> Iterator[tuple[str, str]]:
        """The index files (index, shard) of `files` that do not hold what the records imply."""
        for name, shard in files:
            try:
                actual = self.view.peek(indexfiles.file_of(name, shard)) or {}
            except Exception:
                actual = None
            if not indexcheck.same(actual, implied.get((name, shard)) or {}):
                yield name, shard

    def indexes(self, stale: dict[str, _Stale]) -> None:
        """Every index file as the records imply it (`_compare_indexes` found those that are not);
        one no record implies goes."""
        kept: dict[str, int] = {}  # index -> files that differ, kept as they are
        for rel in sorted(stale):
            kind, rebuilt = stale[rel]
            if kind.prefix in self.lost_kinds:
                name = rel.split("/")[1]
                kept[name] = kept.get(name, 0) + 1
                continue
            self.report("index does not match the records", rel, self.repair)
            if rebuilt is not None:
                self.view.stage(rel, _normal(rebuilt))
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
            elif _sha256(self.root, path) != sha:
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

    def encryption(self) -> None:
        """In a practice encrypted at rest, a protected file left plain or under a key it does not use."""
        from medsec.store.rewrap import leftovers

        for rel, problem in leftovers(self.root):
            self.report(problem, rel, remedy="restore")

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


def _place(kind: RecordKind, record: Record) -> str | None:
    """A by-day record's place; None for another kind's, or when it has none (no start, or a
    part that cannot name a file: misplaced wherever it is, and no locator entry)."""
    if not kind.by_day:
        return None
    try:
        return kind.place(record)
    except (InvalidInput, KeyError):
        return None


def _placed(kind: RecordKind, rel: str, record: Record, place: str | None, homes: dict[str, bool]) -> bool:
    """Is `rel` the file the record lives in (`RecordKind.shard_for`)? `homes`: the answers for
    the places met so far in `rel`."""
    if not kind.by_day:
        try:
            return kind.shard_for(record) == rel
        except (InvalidInput, KeyError):
            return False
    if place is None:
        return False
    if place not in homes:
        homes[place] = kind.place_shard(place) == rel
    return homes[place]


# The index files' layout (medsec.store.indexfiles) is named here and in medsec.store.indexcheck:
# a record's entries (index, shard, key) and the shards of a kind's indexes that are there.
def _entries(kind: RecordKind, record: Record, place: str | None) -> set[IndexEntry]:
    """A record's entries (none when it has none that can be worked out); `place`: `_place`'s."""
    if kind.by_day and place is None:
        return set()  # `entries` would fail on the place, as `_place` did
    try:
        return indexfiles.entries(kind, record, place)
    except (InvalidInput, KeyError):
        return set()


def _index_shards(view: Snapshot, kind: RecordKind) -> set[tuple[str, str]]:
    """(index, shard) of each file there of the indexes of `kind`."""
    return {(name, shard) for name, owner in indexfiles.OWNERS.items() if owner is kind
            for shard in view.indexes.shards(name)}


def _absent(present: set[int], sealed: dict[int, str]) -> _Absent:
    """The ids of a kind no file holds (`_Absent`), from the id numbers found and those the seals list."""
    highest = max(present, default=0)
    runs: list[tuple[int, int]] = []
    if len(present) != highest or 0 in present:  # else they are 1..highest, all there
        previous = 0
        for n in sorted(present):
            if n > previous + 1:
                runs.append((previous + 1, n - 1))
            previous = n
    return _Absent(highest, runs, {n: rel for n, rel in sealed.items() if n not in present})


def _id_list(kind: RecordKind, numbers: list[int]) -> str:
    """Ids as runs: "P1-P100, P205"."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(kind.format_id(a) if a == b else f"{kind.format_id(a)}-{kind.format_id(b)}" for a, b in runs)


def _sha256(root: str, path: str) -> str:
    """The SHA-256 of a kept file's contents (decrypted in an encrypted practice; "" when it does not decrypt)."""
    if atrest.vault(root) is not None:
        try:
            with open(path, "rb") as f:
                data = atrest.decrypt(root, os.path.relpath(path, root), f.read()) or b""
        except EnvironmentFailure:
            return ""
        return hashlib.sha256(data).hexdigest()
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
