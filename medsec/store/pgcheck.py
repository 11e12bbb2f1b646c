"""`medsec check [--repair]` on a PostgreSQL store: the schema medsec made, every record row,
the index entries, the id counters, the configuration documents and the attachments.

What the data directory's check (medsec.store.integrity) verifies with seals and files,
verified here against the tables: the same findings ({"problem", "file", "repaired",
"remedy"}, "file" naming a table and a row), so the command prints and exits alike.

- A plain check reads everything in one REPEATABLE READ, read-only transaction: one
  consistent snapshot, taken while other terminals keep working, and nothing written.
- `--repair` runs under the writers' advisory lock (a medsec transaction: audited when it
  commits) and mends only what is derived: index entries and counters behind their
  records. Records, documents and attachments changed outside medsec, and a schema
  missing a constraint or a trigger, are reported, never mended.
- Big kinds are read through server-side cursors, a batch at a time. The index entries a
  million appointments imply are not kept either: each index is compared by a fingerprint
  of its entries per bucket (`_Fingerprints`), and only the buckets that differ are read
  again entry by entry, to name what is missing or stale and to repair it.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import count
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import orjson

from medsec import config
from medsec.errors import EnvironmentFailure, InvalidInput
from medsec.money import damaged
from medsec.store import pgschema
from medsec.store.catalog import ALL_KINDS, APPOINTMENTS, INDEXES, PATIENT_RECORDS, PATIENTS, STAFF
from medsec.store.kinds import IndexKey, Record, RecordKind
from medsec.store.pgconnect import connect
from medsec.store.pgschema import SCHEMA, table
from medsec.store.postgres import AUDIT_CHAIN, PgStore, verify_audit_rows, visit_span
from medsec.text import shown

if TYPE_CHECKING:
    import psycopg

# What clears a finding: `check --repair`; a backup of the database (rows lost or changed outside
# medsec); a person looking at the rows named (a configuration document); `medsec upgrade` (the schema).
Remedy = Literal["repair", "restore", "inspect", "upgrade"]

_NEXT_STEP: dict[Remedy, str] = {
    "upgrade": "the store's schema is not as medsec made it: run 'medsec upgrade', or restore the database "
               "from a backup",
    "restore": "rows are lost or were changed outside medsec: restore the database from the last good backup "
               "(the damaged rows are left as they are)",
    "inspect": "look at the documents named ('medsec config edit NAME' saves a checked text again), or restore "
               "the database from a backup",
    "repair": "run 'medsec check --repair'",
}

_BATCH = 5000  # rows a server-side cursor fetches at a time
_BUCKETS = 4096  # per index: the finer, the fewer entries are read again where an index differs
_EXAMPLES = 5  # the ids or entries a finding names before "and N more"
ENTRIES = f"{SCHEMA}.index_entries"


class Problem(TypedDict):
    """One finding of `medsec check`, as its JSON prints it (medsec.store.integrity.Problem's keys)."""

    problem: str
    file: str
    repaired: bool
    remedy: Remedy


def next_step(problems: list[Problem], repaired: bool) -> str | None:
    """What to do about the findings a check left, the weightiest first."""
    remedies = {p["remedy"] for p in problems if not p["repaired"]} - ({"repair"} if repaired else set())
    return next((_NEXT_STEP[r] for r in ("upgrade", "restore", "inspect", "repair") if r in remedies), None)


class _Unchanged(Exception):
    """A repair that found nothing to mend: its transaction is rolled back, not committed (and audited)."""

    def __init__(self, problems: list[Problem]):
        super().__init__("nothing to repair")
        self.problems = problems


def check(store: PgStore, repair: bool = False, progress: Callable[[str], None] | None = None) -> list[Problem]:
    """Problems found (each {"problem", "file", "repaired", "remedy"}); with `repair`, the
    derived ones mended. A server that fails meanwhile is EnvironmentFailure (exit 3), one line.
    (`progress`: the database answers each kind's checks in one query; nothing to tell between.)"""
    import psycopg

    try:
        if repair:
            return _repair(store)
        conn = connect(store.url, store.password_env, autocommit=False)
        try:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            return _Checker(store, conn, repair=False).run()
        finally:
            conn.close()  # the read-only transaction ends with it
    except psycopg.Error as e:  # the server went away, or a table is not as the schema made it
        lines = str(e).strip().splitlines() or [type(e).__name__]
        gone = isinstance(e, psycopg.OperationalError)
        raise EnvironmentFailure(f"the PostgreSQL store failed while checking: {lines[0]}",
                                 hint="run 'medsec check' again once the server is back" if gone
                                 else _NEXT_STEP["upgrade"]) from None


def _repair(store: PgStore) -> list[Problem]:
    """The check as a writer: under the writers' lock (no medsec command writes meanwhile, so
    what is read stays true until the repair commits), in one transaction, audited."""
    scope = store.transaction()
    try:
        with scope:
            assert scope.conn is not None
            checker = _Checker(store, scope.conn, repair=True)
            problems = checker.run()
            if not checker.changed:
                raise _Unchanged(problems)
        return problems
    except _Unchanged as nothing:
        return nothing.problems


class _Ids:
    """The id numbers a kind's table holds, in little room: the highest and the runs of
    numbers below it that no row holds (a table read in id order gives both)."""

    def __init__(self) -> None:
        self.highest = 0
        self.gaps: list[tuple[int, int]] = []  # (first, last) of each run of numbers no row holds
        self._firsts: list[int] = []

    def add(self, n: int) -> None:
        """The next number read (ascending)."""
        if n > self.highest + 1:
            self.gaps.append((self.highest + 1, n - 1))
            self._firsts.append(self.highest + 1)
        self.highest = max(self.highest, n)

    def __contains__(self, n: int) -> bool:
        if not 0 < n <= self.highest:
            return False
        i = bisect.bisect_right(self._firsts, n) - 1
        return i < 0 or n > self.gaps[i][1]

    def lost(self, top: int) -> list[tuple[int, int]]:
        """The runs handed out (at or below the counter `top`) that no row holds."""
        runs = [(first, min(last, top)) for first, last in self.gaps if first <= top]
        return runs + ([(self.highest + 1, top)] if top > self.highest else [])


class _Fingerprints:
    """Each index's entries as a fingerprint per bucket: how many, and the sum of their hashes.
    Two sets of entries with the same fingerprints are the same (but for a 2**-64 chance); the
    buckets whose fingerprints differ are where entries are missing or stale. Python's hash is
    the process's own: both sides are summed by this process."""

    def __init__(self) -> None:
        self.sums: Counter[tuple[str, int]] = Counter()
        self.counts: Counter[tuple[str, int]] = Counter()

    def add(self, name: str, key: str, record_id: str) -> None:
        h = hash((name, key, record_id))
        bucket = (name, _bucket(h))
        self.sums[bucket] += h
        self.counts[bucket] += 1

    def differing(self, other: _Fingerprints) -> dict[str, set[int]]:
        """index -> its buckets whose entries differ from `other`'s."""
        found: dict[str, set[int]] = {}
        for name, bucket in set(self.counts) | set(other.counts):
            if self.sums[name, bucket] != other.sums[name, bucket] or \
                    self.counts[name, bucket] != other.counts[name, bucket]:
                found.setdefault(name, set()).add(bucket)
        return found


def _bucket(h: int) -> int:
    return (h >> 16) % _BUCKETS


@dataclass
class _Scan:
    """What one pass over every record leaves for the later checks."""

    ids: dict[str, _Ids] = field(default_factory=dict)  # prefix -> the numbers its table holds
    lost: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # prefix -> runs handed out, in no row
    implied: _Fingerprints = field(default_factory=_Fingerprints)  # the index entries the records imply
    attachments: list[tuple[str, str]] = field(default_factory=list)  # (record id, sha256) a record names


class _Checker:
    """The steps of one check on one connection (in its transaction), each adding its findings."""

    def __init__(self, store: PgStore, conn: psycopg.Connection, repair: bool):
        self.store = store
        self.conn = conn
        self.repair = repair
        self.changed = False  # a repair was written (the transaction is to be committed)
        self.problems: list[Problem] = []
        self._cursors = count(1)

    def report(self, message: str, where: str, fixed: bool = False, remedy: Remedy = "restore") -> None:
        self.problems.append({"problem": message, "file": where, "repaired": fixed, "remedy": remedy})

    def run(self) -> list[Problem]:
        if not self.schema():
            return self.problems  # tables missing: the rest cannot be read
        self.audit_chain()
        scan = self.records()
        staff_top = self.documents()
        self.lost(scan)
        self.counters(scan, staff_top)
        self.indexes(scan)
        self.attachments(scan.attachments)
        return self.problems

    # -- reading -------------------------------------------------------------
    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(sql, tuple(params))
            return cur.fetchall() if cur.description else []

    def _stream(self, sql: str, params: Iterable[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """A query's rows through a server-side cursor, a batch at a time: a million
        appointments are never in memory at once."""
        with self.conn.cursor(name=f"medsec_check_{next(self._cursors)}") as cur:
            cur.itersize = _BATCH
            cur.execute(sql, tuple(params))
            yield from cur

    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(sql, rows)
            self.changed = True

    # -- the schema ----------------------------------------------------------
    def schema(self) -> bool:
        """The schema's version, tables, exclusion constraints and audit triggers as the
        migrations made them; False when tables are missing (nothing else is checked then)."""
        version = self.store._version(self.conn)  # another application's or a newer schema: exit 3
        if version != pgschema.VERSION:
            self.report(f"the schema is at version {version}, this medsec's is {pgschema.VERSION}",
                        f"{SCHEMA}.meta", remedy="upgrade")
        missing = {name for (name,) in self._rows(
            "SELECT t FROM unnest(%s::text[]) AS t WHERE to_regclass(t) IS NULL", [sorted(_TABLES)])}
        for name in sorted(missing):
            self.report(f"table {name} is missing", name, remedy="upgrade")
        self._constraints(missing)
        self._triggers(missing)
        return not missing

    def _constraints(self, missing: set[str]) -> None:
        """The exclusion constraints that refuse a double booking from any client."""
        there = set(self._rows(
            "SELECT n.nspname || '.' || r.relname, c.conname FROM pg_constraint c "
            "JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace "
            "WHERE n.nspname = %s AND c.contype = 'x'", [SCHEMA]))
        for relation, name in _CONSTRAINTS:
            if relation not in missing and (relation, name) not in there:
                self.report(f"the exclusion constraint {name} is missing: the database no longer refuses "
                            "a double booking", relation, remedy="upgrade")

    def _triggers(self, missing: set[str]) -> None:
        """The triggers that keep the audit log append-only (present and enabled)."""
        there = {(relation, name): enabled for relation, name, enabled in self._rows(
            "SELECT n.nspname || '.' || r.relname, t.tgname, t.tgenabled FROM pg_trigger t "
            "JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace "
            "WHERE n.nspname = %s AND NOT t.tgisinternal", [SCHEMA])}
        for relation, name in _TRIGGERS:
            if relation in missing:
                continue
            state = there.get((relation, name))
            if state is None or state == "D":
                self.report(f"the trigger {name} is {'missing' if state is None else 'disabled'}: the audit log "
                            "could be changed", relation, remedy="upgrade")

    def audit_chain(self) -> None:
        """The audit log's hash chain, in the check's snapshot (every row read once, ~8 us each).
        Where it breaks is reported, never mended: the log is evidence, kept as it is."""
        if not self._rows("SELECT 1 FROM information_schema.columns WHERE table_schema = %s "
                          "AND table_name = 'audit' AND column_name = 'sha256'", [SCHEMA]):
            return  # a schema before the chain (reported as such above)
        verdict = verify_audit_rows(self._stream(AUDIT_CHAIN))
        if not verdict.intact:
            self.report(f"the audit log's chain is broken at {verdict.place}: {verdict.problem}", f"{SCHEMA}.audit")

    # -- records -------------------------------------------------------------
    def records(self) -> _Scan:
        """Every row of every kind, patients first (the records naming one are checked as they are read)."""
        scan = _Scan()
        for kind in [PATIENTS] + [k for k in ALL_KINDS if k is not PATIENTS]:
            patients = scan.ids[PATIENTS.prefix] if kind in PATIENT_RECORDS else None
            scan.ids[kind.prefix] = self._kind(kind, scan, patients)
        return scan

    def _kind(self, kind: RecordKind, scan: _Scan, patients: _Ids | None) -> _Ids:
        ids = _Ids()
        dangling: list[str] = []
        columns = "".join(f", {_SELECTED[c]}" for c in _columns(kind))
        for row in self._stream(f"SELECT n, id, doc::text{columns} FROM {table(kind)} ORDER BY n"):
            n, doc = row[0], self._record(kind, row)
            ids.add(n)
            if doc is None:
                continue
            record_id = kind.format_id(n)
            for name, key in _entries(kind, doc):
                scan.implied.add(name, key, record_id)
            scan.attachments += _attachments(record_id, doc)
            pid = doc.get("patient_id") if patients is not None else None
            if patients is not None and pid and _patient_number(pid) not in patients:
                dangling.append(f"{record_id} ({pid})")
        if dangling:
            self.report(f"{len(dangling)} record(s) name a patient who is not there: {_some(dangling)}",
                        table(kind))
        return ids

    def _record(self, kind: RecordKind, row: tuple[Any, ...]) -> Record | None:
        """A row's record, its findings reported (its id, its queried columns, its money fields);
        None when the row holds no record."""
        n, row_id, text = row[:3]
        expected = kind.format_id(n)
        doc = _loads(text)
        if not isinstance(doc, dict):
            self.report("the row holds no record (not a JSON object)", f"{table(kind)} {expected}")
            return None
        if row_id != expected or doc.get("id") != expected:
            held = f"{shown(doc.get('id'))}" + (f" (id column {shown(row_id)})" if row_id != expected else "")
            self.report(f"row {n} holds {held}, not {expected}", f"{table(kind)} {expected}")
        if kind.by_day:
            self._columns(kind, expected, _stored_columns(row[3:]), doc)
        for name, value in kind.amounts(doc):
            if damaged(value):  # balances count it as 0.00: damage to report
                self.report(f"{expected}: {name} {shown(str(value))} is not an amount", f"{table(kind)} {expected}")
        return doc

    def _columns(self, kind: RecordKind, record_id: str, stored: list[Any], doc: Record) -> None:
        """A by-day record's queried columns against the record (what the writer derives from it)."""
        for column, value, implied in zip(_columns(kind), stored, _implied_columns(kind, doc), strict=True):
            if value != implied:
                self.report(f"its {column} column {shown(_text(value), 80)} does not match the record "
                            f"({shown(_text(implied), 80)})", f"{table(kind)} {record_id}")

    def lost(self, scan: _Scan) -> None:
        """Ids handed out (at or below their counter) that no row holds."""
        counters = self._counters()
        for kind in ALL_KINDS:
            runs = scan.lost[kind.prefix] = scan.ids[kind.prefix].lost(counters.get(kind.prefix, 0))
            if runs:
                self.report(f"records lost (handed out, in no row): {_id_runs(kind, runs)}", table(kind))

    def _counters(self) -> dict[str, int]:
        return dict(self._rows(f"SELECT prefix, n FROM {SCHEMA}.counters"))

    # -- documents, counters -------------------------------------------------
    def documents(self) -> int:
        """Each configuration document passes `config check`'s checks, and the data medsec
        reads is its text's (a row edited by hand shows here); the highest staff id in use."""
        staff_top = 0
        for name, text, stored in self._rows(f"SELECT name, text, data::text FROM {SCHEMA}.documents ORDER BY name"):
            where = f"{SCHEMA}.documents {name}"
            data, found = config.check_document(name, text)
            errors = [p for p in found if p.severity == "error"]
            if errors:
                more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
                self.report(f"{errors[0].where}: {errors[0].message}{more}", where, remedy="inspect")
            elif orjson.loads(stored) != data:
                self.report("the data medsec reads is not its text's (changed outside medsec)", where,
                            remedy="inspect")
            if name == "staff.yaml":
                staff_top = self._staff_top(orjson.loads(stored), where)
        return staff_top

    def _staff_top(self, data: Any, where: str) -> int:
        """The highest staff id of the roster (they count towards the S counter)."""
        top = 0
        members = data.get("staff") if isinstance(data, dict) else None
        for member in members if isinstance(members, list) else []:
            try:
                top = max(top, STAFF.number(member["id"]))
            except (InvalidInput, KeyError, TypeError):
                shown_id = member.get("id") if isinstance(member, dict) else member
                self.report(f"staff id {shown(shown_id)} is malformed", where, remedy="inspect")
        return top

    def counters(self, scan: _Scan, staff_top: int) -> None:
        """Each id counter at least the highest id in use; a repair raises those behind."""
        counters = self._counters()
        tops = {prefix: ids.highest for prefix, ids in scan.ids.items()} | {STAFF.prefix: staff_top}
        behind = [(prefix, top) for prefix, top in tops.items() if counters.get(prefix, 0) < top]
        for prefix, top in behind:
            self.report(f"id counter {prefix} is {counters.get(prefix, 0)} but {prefix}{top} exists",
                        f"{SCHEMA}.counters", self.repair, remedy="repair")
        if self.repair:
            self._write(f"INSERT INTO {SCHEMA}.counters (prefix, n) VALUES (%s, %s) ON CONFLICT (prefix) "
                        "DO UPDATE SET n = GREATEST(counters.n, EXCLUDED.n)", behind)

    # -- index entries -------------------------------------------------------
    def indexes(self, scan: _Scan) -> None:
        """The index entries against those the records imply: compared by fingerprints, then
        the buckets that differ read entry by entry. A repair deletes the stale and adds the
        missing, but keeps those naming a lost record (they still say what was lost)."""
        actual = _Fingerprints()
        for name, key, record_id in self._stream(f"SELECT name, key, id FROM {ENTRIES}"):
            actual.add(name, key, record_id)
        differing = scan.implied.differing(actual)
        if not differing:
            return
        implied, there = self._implied_in(differing), self._entries_in(differing)
        for name in sorted(differing):
            kind = INDEXES.get(name)
            lost = scan.lost.get(kind.prefix, []) if kind else []
            missing = sorted(implied.get(name, set()) - there.get(name, set()))
            stale = sorted(there.get(name, set()) - implied.get(name, set()))
            kept = [e for e in stale if kind and lost and _lost_id(kind, e[1], lost)]
            self._index_findings(name, missing, [e for e in stale if e not in kept], kept)

    def _implied_in(self, differing: dict[str, set[int]]) -> dict[str, set[IndexKey]]:
        """index -> (key, id) of the entries the records imply in the buckets that differ."""
        found: dict[str, set[IndexKey]] = {}
        for kind in ALL_KINDS:
            if not any(INDEXES.get(name) is kind for name in differing):
                continue
            for n, text in self._stream(f"SELECT n, doc::text FROM {table(kind)} ORDER BY n"):
                doc, record_id = _loads(text), kind.format_id(n)
                for name, key in _entries(kind, doc) if isinstance(doc, dict) else ():
                    if name in differing and _bucket(hash((name, key, record_id))) in differing[name]:
                        found.setdefault(name, set()).add((key, record_id))
        return found

    def _entries_in(self, differing: dict[str, set[int]]) -> dict[str, set[IndexKey]]:
        """index -> (key, id) of the entries there in the buckets that differ."""
        found: dict[str, set[IndexKey]] = {}
        for name, key, record_id in self._stream(f"SELECT name, key, id FROM {ENTRIES} WHERE name = ANY(%s)",
                                                 [sorted(differing)]):
            if _bucket(hash((name, key, record_id))) in differing[name]:
                found.setdefault(name, set()).add((key, record_id))
        return found

    def _index_findings(self, name: str, missing: list[IndexKey], stale: list[IndexKey],
                        kept: list[IndexKey]) -> None:
        where = f"{ENTRIES} {name}"
        if missing:
            self.report(f"index {name}: {_entries_count(missing)} missing: {_some(map(_entry_text, missing))}",
                        where, self.repair, remedy="repair")
        if stale:
            self.report(f"index {name}: {_entries_count(stale, 'stale ')} that no record implies: "
                        f"{_some(map(_entry_text, stale))}", where, self.repair, remedy="repair")
        if kept:
            self.report(f"index {name}: {_entries_count(kept)} naming records that are lost (kept): "
                        f"{_some(map(_entry_text, kept))}", where)
        if self.repair:
            self._write(f"DELETE FROM {ENTRIES} WHERE name = %s AND key = %s AND id = %s",
                        [(name, key, record_id) for key, record_id in stale])
            self._write(f"INSERT INTO {ENTRIES} (name, key, id) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                        [(name, key, record_id) for key, record_id in missing])

    # -- attachments ---------------------------------------------------------
    def attachments(self, named: list[tuple[str, str]]) -> None:
        """Each kept file's bytes against its SHA-256 and size (hashed by the server: the bytes
        do not travel), and each file a record names is kept."""
        for sha, size, length, digest in self._stream(
                f"SELECT sha256, size, octet_length(data), encode(sha256(data), 'hex') "
                f"FROM {SCHEMA}.attachments ORDER BY sha256"):
            where = f"{SCHEMA}.attachments {sha}"
            if digest != sha:
                self.report(f"attachment {sha[:12]}... does not match its hash (changed outside medsec)", where)
            if length != size:
                self.report(f"attachment {sha[:12]}... holds {length} bytes, its size says {size}", where)
        wanted = sorted({sha for _, sha in named})
        kept: set[str] = set()
        for start in range(0, len(wanted), _BATCH):
            kept.update(sha for (sha,) in self._rows(f"SELECT sha256 FROM {SCHEMA}.attachments "
                                                     "WHERE sha256 = ANY(%s)", [wanted[start:start + _BATCH]]))
        for record_id, sha in named:
            if sha not in kept:
                self.report(f"{record_id}: attachment {sha[:12]}... is missing", f"{SCHEMA}.attachments {sha}")


# -- what the migrations make (pgschema.MIGRATIONS): the tables, constraints and triggers a store must have
def _made(pattern: str) -> list[dict[str, str]]:
    """The named groups of each migration statement that `pattern` matches, in order."""
    found = []
    for version in range(1, pgschema.VERSION + 1):
        for statement in pgschema.MIGRATIONS.get(version, []):
            match = re.match(pattern, statement, re.S)
            if match:
                found.append(match.groupdict())
    return found


_TABLES = {m["table"] for m in _made(r"CREATE TABLE (?P<table>\S+) \(")}
_CONSTRAINTS = [(m["table"], m["name"])
                for m in _made(r"ALTER TABLE (?P<table>\S+) ADD CONSTRAINT (?P<name>\w+) EXCLUDE")]
_TRIGGERS = [(m["table"], m["name"]) for m in _made(r"CREATE TRIGGER (?P<name>\w+) .*?\bON (?P<table>\S+) ")]

# The columns a by-day kind (day, part) and appointments (all five) keep beside the record, as they
# are read: a visit's time as its bounds and whether it is [start, end) (a NULL one as well: no span).
_SELECTED = {"day": "day", "part": "part", "room": "room", "status": "status",
             "during": "lower(during), upper(during), during IS NULL OR (lower_inc(during) AND NOT upper_inc(during))"}


def _columns(kind: RecordKind) -> list[str]:
    names = list(_SELECTED)
    return names if kind is APPOINTMENTS else names[:2] if kind.by_day else []


def _stored_columns(values: tuple[Any, ...]) -> list[Any]:
    """The queried columns as read, a visit's time (its last three values) as one: (start, end, half-open)."""
    return list(values) if len(values) <= 2 else [*values[:4], tuple(values[4:])]


def _implied_columns(kind: RecordKind, doc: Record) -> list[Any]:
    """The queried columns' values as the writer (medsec.store.postgres) derives them from a record."""
    values: list[Any] = []
    if kind.by_day:
        values += [_day(doc.get("start")), str(doc.get(kind.day_part) or "") if kind.day_part else None]
    if kind is APPOINTMENTS:
        span = visit_span(doc)
        values += [str(doc.get("room") or ""), str(doc.get("status") or ""),
                   (None, None, True) if span is None else (*span, True)]
    return values


def _day(start: Any) -> date | None:
    try:
        return date.fromisoformat(str(start or "")[:10])
    except ValueError:
        return None


def _text(value: Any) -> str:
    """A column's value in a finding (a visit's time as a range, or none)."""
    if isinstance(value, tuple):
        start, end, half_open = value
        if start is None and end is None:
            return "none" if half_open else "empty"
        return f"[{_text(start)}, {_text(end)})" if half_open else f"not [{_text(start)}, {_text(end)})"
    return value.isoformat() if isinstance(value, (date, datetime)) else str(value)


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _entries(kind: RecordKind, doc: Record) -> set[IndexKey]:
    """A record's index entries; none when they cannot be worked out (medsec could not have written
    it so: its own findings say why)."""
    try:
        entries = kind.entries(doc)
    except (InvalidInput, KeyError, TypeError, AttributeError):
        return set()
    return {(name, key) for name, key in entries if isinstance(key, str)}  # a text column holds no other


def _attachments(record_id: str, doc: Record) -> list[tuple[str, str]]:
    files = doc.get("attachments")
    if not isinstance(files, list):
        return []
    return [(record_id, a["sha256"]) for a in files if isinstance(a, dict) and isinstance(a.get("sha256"), str)]


def _patient_number(patient_id: Any) -> int:
    """The number of the patient a record names (0: no patient id at all)."""
    try:
        return PATIENTS.number(str(patient_id).upper())
    except InvalidInput:
        return 0


def _lost_id(kind: RecordKind, record_id: str, lost: list[tuple[int, int]]) -> bool:
    """Does `record_id` name a record of `kind` that is lost (in one of the runs `lost`)?"""
    try:
        n = kind.number(record_id)
    except InvalidInput:
        return False
    return any(first <= n <= last for first, last in lost)


def _entries_count(entries: list[IndexKey], what: str = "") -> str:
    return f"1 {what}entry" if len(entries) == 1 else f"{len(entries)} {what}entries"


def _entry_text(entry: IndexKey) -> str:
    key, record_id = entry
    return f"{shown(key)} -> {record_id}"


def _some(items: Iterable[str]) -> str:
    """The first few of many, and how many more."""
    listed = list(items)
    more = len(listed) - _EXAMPLES
    return ", ".join(listed[:_EXAMPLES]) + (f" and {more} more" if more > 0 else "")


def _id_runs(kind: RecordKind, runs: list[tuple[int, int]]) -> str:
    """Ids as runs: "P1-P100, P205"."""
    return ", ".join(kind.format_id(a) if a == b else f"{kind.format_id(a)}-{kind.format_id(b)}" for a, b in runs)
