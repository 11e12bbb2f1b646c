"""The PostgreSQL backend: the storage interface (medsec.store.api) over tables (psycopg 3).

For a practice that shares medsec between terminals: records, indexes,
counters, configuration, attachments and the audit log live in one database
(its `medsec` schema, medsec.store.pgschema). A local folder (`root`) still
holds what belongs to one terminal: the pointer to the store, the outbox and
the message templates.

- Readers use an autocommit connection: each question is one statement, which
  sees committed data only (as a data-directory snapshot may see commits made
  while it reads).
- A transaction takes the writers' advisory lock first, so medsec's writers
  run one at a time, as with the data directory's lock: a booking's
  check-then-book is race-free, and the exclusion constraints on appointments
  refuse a double booking from any other client too. Its reads see its own
  writes; a failure rolls all of it back.
- Passwords never travel in the URL (one that carries a password is refused):
  peer or Unix-socket authentication, PGPASSFILE, or `password_env` naming an
  environment variable that holds it.
- A server that cannot be reached, refuses us or goes away mid-command is
  exit 3 with one line (EnvironmentFailure); nothing is half-written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

import orjson

from medsec.audit import Actor, Entry, Head, Link, Verdict, Walk
from medsec.audit import digest as audit_digest
from medsec.errors import ConfigError, EnvironmentFailure, InvalidInput, LockTimeout, NotFound, Refused
from medsec.fileio import make_private_dirs
from medsec.inputs import ATTACHMENT, open_input
from medsec.store import pgschema
from medsec.store.catalog import ALL_KINDS, APPOINTMENTS
from medsec.store.journal import CommitFailed
from medsec.store.kinds import Record, RecordKind
from medsec.store.pgconnect import connect, failure, first_line, shown_url
from medsec.store.pgschema import SCHEMA, table

if TYPE_CHECKING:
    import psycopg

LOCK_TIMEOUT = "30s"  # how long a writer waits for another (the data directory's lock waits as long)
_BATCH = 5000  # records a scan fetches at a time
_COPY_FROM = 200  # new rows a put_many writes by COPY rather than INSERT


def _jsonb(value: Any) -> str:
    return orjson.dumps(value).decode()


def _loads(value: Any) -> Any:
    """A JSONB value as the driver returns it (already parsed, or text when told not to parse)."""
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


class PgReader:
    """The storage interface's questions answered by SQL (one statement each)."""

    def __init__(self, store: PgStore, conn: psycopg.Connection):
        self._store = store
        self._conn = conn

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        try:
            with self._conn.cursor() as cur:
                cur.execute(sql, tuple(params))
                return cur.fetchall() if cur.description else []
        except psycopg.errors.LockNotAvailable:
            raise LockTimeout("another medsec command held the store too long",
                              hint="run the command again") from None
        except psycopg.errors.ExclusionViolation as e:
            raise _double_booking(e) from None
        except psycopg.Error as e:  # gone, refused, read-only (a standby), a privilege missing
            raise failure(e, "answering") from None

    # -- records --------------------------------------------------------
    def get(self, kind: RecordKind, record_id: str) -> Record | None:
        rows = self._rows(f"SELECT doc FROM {table(kind)} WHERE n = %s", [kind.number(record_id)])
        return _loads(rows[0][0]) if rows else None

    def require(self, kind: RecordKind, record_id: str, what: str, hint: str | None = None) -> Record:
        record = self.get(kind, record_id)
        if record is None:
            raise NotFound(f"no {what} {str(record_id).upper()}", hint=hint)
        return record

    def get_many(self, kind: RecordKind, ids: Iterable[str]) -> list[Record]:
        numbers = [kind.number(i) for i in ids]
        if not numbers:
            return []
        found = {n: _loads(doc) for n, doc in
                 self._rows(f"SELECT n, doc FROM {table(kind)} WHERE n = ANY(%s)", [sorted(set(numbers))])}
        return [dict(found[n]) for n in numbers if n in found]

    # -- indexes --------------------------------------------------------
    def lookup(self, index: str, key: str) -> list[str]:
        return [row[0] for row in self._rows(
            f"SELECT id FROM {SCHEMA}.index_entries WHERE name = %s AND key = %s ORDER BY seq", [index, key])]

    def lookup_prefix(self, index: str, prefix: str) -> dict[str, list[str]]:
        return self._keys("key LIKE %s", [_like_prefix(prefix)], index)

    def lookup_suffix(self, index: str, suffix: str) -> dict[str, list[str]]:
        return self._keys('reverse(key) COLLATE "C" LIKE %s', [_like_prefix(suffix[::-1])], index)

    def lookup_range(self, index: str, low: str, high: str) -> dict[str, list[str]]:
        return self._keys("key >= %s AND key < %s", [low, high], index)

    def _keys(self, where: str, params: list[Any], index: str) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for key, record_id in self._rows(f"SELECT key, id FROM {SCHEMA}.index_entries WHERE name = %s AND "
                                         f"{where} ORDER BY key, seq", [index, *params]):
            found.setdefault(key, []).append(record_id)
        return found

    # -- days and scans -------------------------------------------------
    def day(self, kind: RecordKind, day: str, part: str | None = None) -> list[Record]:
        _by_day(kind)
        where, params = ("day = %s", [_date(day)]) if part is None else ("day = %s AND part = %s", [_date(day), part])
        return [_loads(doc) for (doc,) in self._rows(f"SELECT doc FROM {table(kind)} WHERE {where} ORDER BY n", params)]

    def days(self, kind: RecordKind, first: str, last: str | None = None) -> list[Record]:
        _by_day(kind)
        where, params = ("day >= %s", [_date(first)]) if last is None else \
            ("day BETWEEN %s AND %s", [_date(first), _date(last)])
        return [_loads(doc) for (doc,) in
                self._rows(f"SELECT doc FROM {table(kind)} WHERE {where} ORDER BY day, n", params)]

    def scan(self, kind: RecordKind) -> Iterator[Record]:
        after = 0
        while True:
            rows = self._rows(f"SELECT n, doc FROM {table(kind)} WHERE n > %s ORDER BY n LIMIT {_BATCH}", [after])
            for n, doc in rows:
                after = n
                yield _loads(doc)
            if len(rows) < _BATCH:
                return

    def counters(self) -> dict[str, int]:
        return dict(self._rows(f"SELECT prefix, n FROM {SCHEMA}.counters"))


def _like_prefix(text: str) -> str:
    """A LIKE pattern for keys starting with `text` (its own % _ and \\ taken literally)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _by_day(kind: RecordKind) -> None:
    if not kind.by_day:
        raise InvalidInput(f"{kind.name} are not kept by day")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise InvalidInput(f"{text!r} is not a date (YYYY-MM-DD)") from None


class PgTransaction(PgReader):
    """A writer's transaction: its statements run inside one PostgreSQL transaction."""

    def __init__(self, store: PgStore, conn: psycopg.Connection):
        super().__init__(store, conn)
        self.after_commit: list[Callable[[], None]] = []

    def reserve_ids(self, kind: RecordKind, count: int = 1) -> list[str]:
        if count < 1:
            return []
        (last,), = self._rows(f"INSERT INTO {SCHEMA}.counters (prefix, n) VALUES (%s, %s) ON CONFLICT (prefix) "
                              f"DO UPDATE SET n = counters.n + EXCLUDED.n RETURNING n", [kind.prefix, count])
        first = last - count + 1
        if kind in ALL_KINDS and self._rows(f"SELECT 1 FROM {table(kind)} WHERE n = %s", [first]):
            raise EnvironmentFailure(f"the id counter for {kind.name} is behind: {kind.format_id(first)} "
                                     "already exists", hint="run 'medsec check --repair'")
        return [kind.format_id(n) for n in range(first, last + 1)]

    def put(self, kind: RecordKind, record: Record, old: Record | None = None) -> None:
        self.put_many(kind, [record])

    def put_many(self, kind: RecordKind, records: list[Record], old: dict[str, Record] | None = None) -> None:
        """Insert or replace records and move their index entries. The entries that go are
        those of each record as stored (read here), whatever `old` the caller holds."""
        if not records:
            return
        latest = {kind.number(r["id"]): r for r in records}  # a record given twice: the last one stands
        stored = {n: _loads(doc) for n, doc in self._rows(
            f"SELECT n, doc FROM {table(kind)} WHERE n = ANY(%s)", [sorted(latest)])}
        removals: list[tuple[str, str, str]] = []
        additions: list[tuple[str, str, str]] = []
        for n, record in latest.items():
            record_id = kind.format_id(n)
            new = kind.entries(record)
            before = kind.entries(stored[n]) if n in stored else set()
            removals += [(name, key, record_id) for name, key in before - new]
            additions += [(name, key, record_id) for name, key in sorted(new - before)]
        fresh = [n for n in latest if n not in stored]
        if len(fresh) >= _COPY_FROM:  # a bulk write: new rows by COPY (held by the writers' lock: none can clash)
            self._copy(table(kind), _columns(kind), [_row(kind, n, latest[n]) for n in fresh])
            replaced = [n for n in latest if n in stored]
        else:
            replaced = list(latest)
        if replaced:
            self._executemany(_upsert(kind), [_row(kind, n, latest[n]) for n in replaced])
        if removals:
            self._executemany(f"DELETE FROM {SCHEMA}.index_entries WHERE name = %s AND key = %s AND id = %s",
                              removals)
        if len(additions) >= _COPY_FROM:
            # Through a scratch table, so an entry already there (left by a change made outside
            # medsec, which `check` reports) is kept, not a failed import.
            self._rows("CREATE TEMP TABLE IF NOT EXISTS entries_in (name text, key text, id text)")
            self._copy("entries_in", ["name", "key", "id"], additions)
            self._rows(f"INSERT INTO {SCHEMA}.index_entries (name, key, id) SELECT name, key, id FROM entries_in "
                       "ORDER BY ctid ON CONFLICT DO NOTHING")
            self._rows("TRUNCATE entries_in")
        elif additions:
            self._executemany(f"INSERT INTO {SCHEMA}.index_entries (name, key, id) VALUES (%s, %s, %s) "
                              "ON CONFLICT DO NOTHING", additions)

    def put_document(self, name: str, text: str, parsed: Any) -> None:
        self._rows(f"INSERT INTO {SCHEMA}.documents (name, text, data) VALUES (%s, %s, %s::jsonb) "
                   "ON CONFLICT (name) DO UPDATE SET text = EXCLUDED.text, data = EXCLUDED.data, updated = now()",
                   [name, text, _jsonb(parsed)])

    def _copy(self, into: str, columns: list[str], rows: list[Any]) -> None:
        """Rows into a table by COPY (a bulk write's new rows: several times faster than INSERTs)."""
        import psycopg

        try:
            with self._conn.cursor() as cur, cur.copy(f"COPY {into} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.errors.ExclusionViolation as e:
            raise _double_booking(e) from None
        except psycopg.Error as e:
            raise failure(e, "writing") from None

    def _executemany(self, sql: str, rows: list[Any]) -> None:
        import psycopg

        try:
            with self._conn.cursor() as cur:
                cur.executemany(sql, rows)
        except psycopg.errors.ExclusionViolation as e:
            raise _double_booking(e) from None
        except psycopg.Error as e:
            raise failure(e, "writing") from None


def _upsert(kind: RecordKind) -> str:
    """The statement that inserts a record's row, or replaces it whole."""
    columns = _columns(kind)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[1:])
    values = ", ".join("%s::jsonb" if c == "doc" else "%s" for c in columns)
    return (f"INSERT INTO {table(kind)} ({', '.join(columns)}) VALUES ({values}) "
            f"ON CONFLICT (n) DO UPDATE SET {updates}")


def _columns(kind: RecordKind) -> list[str]:
    columns = ["n", "id", "doc"]
    if kind.by_day:
        columns += ["day", "part"]
    if kind is APPOINTMENTS:
        columns += ["room", "status", "during"]
    return columns


def _row(kind: RecordKind, n: int, record: Record) -> list[Any]:
    """A record's row: its number, id, document and the columns queried or constrained."""
    if record.get("id") != kind.format_id(n):
        record = {**record, "id": kind.format_id(n)}
    row: list[Any] = [n, record["id"], _jsonb(record)]
    if kind.by_day:
        row += [_date(str(record.get("start", ""))[:10]),
                str(record.get(kind.day_part) or "") if kind.day_part else None]
    if kind is APPOINTMENTS:
        row += [str(record.get("room") or ""), str(record.get("status") or ""), _during(record)]
    return row


def _during(record: Record) -> Any:
    """The time a visit takes as a range, for the exclusion constraints (None: not a span)."""
    from psycopg.types.range import Range

    span = visit_span(record)
    return None if span is None else Range(*span, "[)")


def visit_span(record: Record) -> tuple[datetime, datetime] | None:
    """A visit's [start, end) as the `during` column keeps it: None unless both are moments with
    a UTC offset and the start comes first (medsec.store.pgcheck expects the same)."""
    try:
        start, end = datetime.fromisoformat(record["start"]), datetime.fromisoformat(record["end"])
    except (KeyError, TypeError, ValueError):
        return None
    if start.tzinfo is None or end.tzinfo is None or not start < end:
        return None
    return start, end


# The audit log's rows as the chain is verified: each entry as PostgreSQL prints it (the text
# its hash was taken over, by pgschema's audit_chain trigger) and the hash kept beside it.
AUDIT_CHAIN = f"SELECT seq, entry::text, sha256 FROM {SCHEMA}.audit ORDER BY seq"


def verify_audit_rows(rows: Iterable[tuple[Any, ...]], anchor: Head | None = None) -> Verdict:
    """The verdict on the rows of AUDIT_CHAIN, in order (medsec.audit.Walk): a place is a row's seq."""
    walk = Walk(anchor)
    last = None
    for seq, text, sha in rows:
        last = seq
        if not walk.add(f"seq {seq}", _audit_link(text, sha)):
            return walk.finish("")
    return walk.finish(f"seq {last}" if last is not None else f"{SCHEMA}.audit (no rows)")


def _audit_link(text: str, sha: str | None) -> Link:
    data = text.encode()
    try:
        found = orjson.loads(data)
    except orjson.JSONDecodeError:
        found = None
    if not isinstance(found, dict):
        return Link(None, None, None)
    return Link(found, sha, audit_digest(data))


def _double_booking(e: Exception) -> Refused:
    constraint = getattr(getattr(e, "diag", None), "constraint_name", "") or ""
    who = "a room" if "room" in constraint else "a provider"
    return Refused(f"the database refused a double booking: {who} would be in two visits at once",
                   hint="look at the day again; another terminal may have just booked that time")


_NO_ENCRYPTION = ("encryption at rest is the data directory's: on PostgreSQL, encrypt the database's disk or "
                  "tablespace and require TLS (README: Encryption at rest)")


class PgStore:
    """One practice's store in a PostgreSQL database (the storage interface's Backend)."""

    def __init__(self, root: str, url: str, password_env: str | None = None):
        self._root = os.path.abspath(root)
        self.url = url
        self.password_env = password_env
        self.actor: Callable[[], Actor] | None = None
        self.commit_id: str | None = None
        self.committed = False
        self._reader: psycopg.Connection | None = None
        self._failed: EnvironmentFailure | None = None

    @property
    def root(self) -> str:
        return self._root

    def _connection(self) -> psycopg.Connection:
        if self._failed is not None:
            raise self._failed  # once refused, not asked again within the command (a timeout each)
        if self._reader is None:
            try:
                conn = connect(self.url, self.password_env)
                self._check_schema(conn)
            except EnvironmentFailure as e:
                self._failed = e
                raise
            self._reader = conn
        return self._reader

    def _check_schema(self, conn: psycopg.Connection) -> None:
        """Exit 3 unless the database holds a medsec store of this version."""
        version = self._version(conn)
        if version < pgschema.VERSION:
            raise EnvironmentFailure(f"the store at {shown_url(self.url)} has schema version {version}",
                                     hint="run 'medsec upgrade'")

    def _version(self, conn: psycopg.Connection) -> int:
        """The version of the database's medsec schema; exit 3 when it has none, another
        application's, or a newer one than this medsec knows."""
        reader = PgReader(self, conn)
        if not reader._rows("SELECT 1 FROM pg_namespace WHERE nspname = %s", [SCHEMA]):
            raise EnvironmentFailure(f"{shown_url(self.url)} holds no medsec store (no '{SCHEMA}' schema)",
                                     hint="run 'medsec init --store URL' to create one")
        try:
            meta = dict(reader._rows(f"SELECT key, value FROM {SCHEMA}.meta"))
        except EnvironmentFailure:
            meta = {}
        if meta.get("application") != pgschema.APPLICATION:
            raise EnvironmentFailure(f"the '{SCHEMA}' schema of {shown_url(self.url)} belongs to another application")
        version = int(meta.get("schema_version", "0"))
        if version > pgschema.VERSION:
            raise EnvironmentFailure(f"the store at {shown_url(self.url)} has schema version {version}, newer than "
                                     f"this medsec's {pgschema.VERSION}", hint="upgrade medsec on this terminal")
        return version

    def upgrade(self) -> dict[str, Any]:
        """Bring the database's schema to this medsec's version (`medsec upgrade`): each
        migration in order, all in one transaction, under the upgrade lock so two
        terminals never upgrade at once (the second finds nothing to do)."""
        import psycopg

        conn = connect(self.url, self.password_env, autocommit=False)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [pgschema.UPGRADE_LOCK])
                version = self._version(conn)
                steps = []
                for target in range(version + 1, pgschema.VERSION + 1):
                    for statement in pgschema.MIGRATIONS[target]:
                        cur.execute(statement)
                    steps.append(f"schema {target}")
                cur.execute(f"UPDATE {SCHEMA}.meta SET value = %s WHERE key = 'schema_version'",
                            [str(pgschema.VERSION)])
            conn.commit()
        except psycopg.Error as e:
            raise failure(e, "upgrading") from None
        finally:
            conn.close()
        return {"store": shown_url(self.url), "from": version, "to": pgschema.VERSION, "steps": steps}

    # -- the interface ----------------------------------------------------
    def snapshot(self) -> PgReader:
        return PgReader(self, self._connection())

    def transaction(self) -> _PgScope:
        self._connection()  # the schema is checked before anything is written
        return _PgScope(self)

    def attach_file(self, path: str) -> tuple[str, int]:
        with open_input(path, ATTACHMENT) as source:
            data = source.read()
        return self.attach_bytes(data)

    def attach_bytes(self, data: bytes) -> tuple[str, int]:
        sha = hashlib.sha256(data).hexdigest()
        PgReader(self, self._connection())._rows(
            f"INSERT INTO {SCHEMA}.attachments (sha256, size, data) VALUES (%s, %s, %s) "
            "ON CONFLICT (sha256) DO NOTHING", [sha, len(data), data])
        return sha, len(data)

    def attachments(self) -> Iterator[str]:
        """Every kept file's SHA-256, in order, a page at a time (not their bytes)."""
        after = ""
        while True:
            rows = self.snapshot()._rows(f"SELECT sha256 FROM {SCHEMA}.attachments WHERE sha256 > %s "
                                         f"ORDER BY sha256 LIMIT {_BATCH}", [after])
            yield from (sha for (sha,) in rows)
            if len(rows) < _BATCH:
                return
            after = rows[-1][0]

    # Encryption at rest is the data directory's; PostgreSQL's is its disk's or tablespace's (README).
    vault = None

    def stage_encryption(self, txn: Any, state: str, key: str, keys: list[str], held: dict[str, bytes]) -> None:
        raise ConfigError(_NO_ENCRYPTION)

    def rewrite_files(self, progress: Callable[[int], None] | None = None) -> int:
        raise ConfigError(_NO_ENCRYPTION)

    def attachment(self, sha: str) -> bytes | None:
        rows = self.snapshot()._rows(f"SELECT data FROM {SCHEMA}.attachments WHERE sha256 = %s", [sha])
        return bytes(rows[0][0]) if rows else None

    def document(self, name: str) -> Any:
        rows = self.snapshot()._rows(f"SELECT data FROM {SCHEMA}.documents WHERE name = %s", [name])
        data = _loads(rows[0][0]) if rows else {}
        if not isinstance(data, dict):
            raise ConfigError(f"{name} in the store is not a mapping", hint="run 'medsec config check'")
        return data

    def document_text(self, name: str) -> str | None:
        rows = self.snapshot()._rows(f"SELECT text FROM {SCHEMA}.documents WHERE name = %s", [name])
        return rows[0][0] if rows else None

    def audit(self, entry: Entry) -> None:
        """Append an entry; on a connection lost since the last statement (a server restarted
        while the command worked), once more on a new one: it may follow a change just made."""
        statement = f"INSERT INTO {SCHEMA}.audit (at, entry) VALUES (%s, %s::jsonb)"
        params = [datetime.fromisoformat(entry["at"]), _jsonb(entry)]
        try:
            self.snapshot()._rows(statement, params)
        except EnvironmentFailure:
            if self._reader is None or not self._reader.broken:
                raise
            self._reader.close()
            self._reader = None
            self.snapshot()._rows(statement, params)

    def audit_entries(self, record_id: str | None = None, user: str | None = None,
                      since: date | None = None) -> list[Entry]:
        where, params = ["TRUE"], []
        if record_id:
            where.append("entry->'ids' ? %s")
            params.append(record_id.upper())
        if user:
            where.append("entry->>'user' = %s")
            params.append(user)
        if since:
            where.append("(entry->>'at') >= %s")
            params.append(since.isoformat())
        return [_loads(e) for (e,) in self.snapshot()._rows(
            f"SELECT entry - 'n' - 'prev' FROM {SCHEMA}.audit WHERE {' AND '.join(where)} ORDER BY seq", params)]

    def audit_head(self) -> Head | None:
        """The chain's last entry (pgschema's trigger chains every row inserted)."""
        rows = self.snapshot()._rows(f"SELECT entry->>'n', entry->>'at', sha256 FROM {SCHEMA}.audit "
                                     "WHERE sha256 IS NOT NULL ORDER BY seq DESC LIMIT 1")
        if not rows or not str(rows[0][0] or "").isdigit():
            return None
        n, at, sha = rows[0]
        return Head(int(n), str(at or ""), str(sha))

    def audit_verify(self, anchor: Head | None = None) -> Verdict:
        """Walk the chain in seq order, in one snapshot (a server-side cursor, a batch at a time)."""
        import psycopg

        conn = connect(self.url, self.password_env, autocommit=False)
        try:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.cursor(name="medsec_audit_verify") as cur:
                cur.itersize = _BATCH
                cur.execute(AUDIT_CHAIN)
                return verify_audit_rows(cur, anchor)
        except psycopg.Error as e:
            raise failure(e, "verifying the audit log") from None
        finally:
            conn.close()

    def probe_audit(self, at: datetime) -> None:
        ok = self.snapshot()._rows(f"SELECT has_table_privilege('{SCHEMA}.audit', 'INSERT')")
        if not ok or not ok[0][0]:
            raise EnvironmentFailure("this role may not append to the store's audit log")

    # -- creating -----------------------------------------------------------
    @classmethod
    def create(cls, root: str, url: str, password_env: str | None = None) -> PgStore:
        """A new, empty medsec store in the database at `url` (its `medsec` schema), and the
        local folder `root`. Refused when the database holds one already."""
        import psycopg

        conn = connect(url, password_env, autocommit=False)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [pgschema.UPGRADE_LOCK])
                cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [SCHEMA])
                if cur.fetchone():
                    raise Refused(f"{shown_url(url)} holds a medsec store already (or another '{SCHEMA}' schema)")
                cur.execute(f"CREATE SCHEMA {SCHEMA}")
                for version in range(1, pgschema.VERSION + 1):
                    for statement in pgschema.MIGRATIONS[version]:
                        cur.execute(statement)
                cur.executemany(f"INSERT INTO {SCHEMA}.meta (key, value) VALUES (%s, %s)",
                                [("application", pgschema.APPLICATION), ("schema_version", str(pgschema.VERSION))])
                cur.executemany(f"INSERT INTO {SCHEMA}.counters (prefix, n) VALUES (%s, 0) ON CONFLICT DO NOTHING",
                                [(kind.prefix,) for kind in ALL_KINDS])
            conn.commit()
        except psycopg.Error as e:
            raise failure(e, "creating the store") from None
        finally:
            conn.close()
        make_private_dirs(root)
        return cls(root, url, password_env)


class _PgScope:
    """`with store.transaction() as txn:` - the writers' lock, then one database transaction."""

    def __init__(self, store: PgStore):
        self.store = store
        self.conn: psycopg.Connection | None = None
        self.txn: PgTransaction | None = None

    def __enter__(self) -> PgTransaction:
        conn = connect(self.store.url, self.store.password_env, autocommit=False)
        self.conn = conn
        self.txn = PgTransaction(self.store, conn)
        try:
            self.txn._rows(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            self.txn._rows("SELECT pg_advisory_xact_lock(%s)", [pgschema.WRITER_LOCK])
        except BaseException:
            conn.close()
            raise
        return self.txn

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self.conn is not None and self.txn is not None
        try:
            if exc_type is not None:
                import psycopg

                with contextlib.suppress(psycopg.Error):  # a lost connection: the server rolled it back
                    self.conn.rollback()
                return
            self._commit()
        finally:
            self.conn.close()
        for callback in self.txn.after_commit:
            callback()

    def _commit(self) -> None:
        """Audit the change with it (one transaction: the entry exists exactly when the change
        does), then commit; a failure says which side of the commit the store is on."""
        import psycopg

        store, txn = self.store, self.txn
        assert txn is not None and self.conn is not None
        store.committed = False
        if store.actor is not None:
            user, command, at = store.actor()
            store.commit_id = os.urandom(6).hex()
            from medsec import audit

            txn._rows(f"INSERT INTO {SCHEMA}.audit (at, entry) VALUES (%s, %s::jsonb)",
                      [at, _jsonb(audit.entry(user=user, command=command, action="commit", outcome="begun",
                                              at=at, commit=store.commit_id))])
        try:
            self.conn.commit()
        except psycopg.errors.ExclusionViolation as e:
            raise _double_booking(e) from None
        except psycopg.OperationalError as e:
            # The server may have committed before the connection dropped: say we cannot tell.
            raise CommitFailed(f"the PostgreSQL store went away while committing: {first_line(e)}", "unknown",
                               hint="look (e.g. 'medsec audit') before running the command again") from None
        except psycopg.Error as e:
            raise CommitFailed(f"the PostgreSQL store refused the commit: {first_line(e)}", "not made") from None
        store.committed = True
