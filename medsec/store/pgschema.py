"""The PostgreSQL backend's schema: tables, constraints and their versioned migrations.

Everything medsec keeps lives in the `medsec` schema of the database, so a
database that also serves another application is left alone, and a database
without it is not a medsec store. `medsec.meta` says which application and
which version of this schema; `migrate` brings an older one up, serialized by
an advisory lock so two terminals never upgrade at once.

The design is relational, not files in rows:
- one table per record kind: the record as a JSONB document, its number (the
  primary key: ids are `prefix + n`) and, for by-day kinds, its day and part;
  appointments also keep their room, status and the time they take as a
  `tstzrange`, and two exclusion constraints (btree_gist) refuse a provider or
  a room booked twice at once, whatever client writes;
- `index_entries`: every index key of every record (medsec.store.catalog),
  in byte order (COLLATE "C"), so exact, prefix and range look-ups are one
  B-tree range scan, and suffix look-ups one more on the reversed key;
- `counters`: each kind's highest id, changed inside the writer's transaction
  (a transaction that fails hands its ids out again, as in the data
  directory: no gaps in claim numbers);
- `documents`: the configuration (practice.yaml ...) as each terminal shares
  it, its text and its checked data;
- `attachments`: scans and faxes by SHA-256, so every terminal sees them;
- `audit`: append-only (a trigger refuses UPDATE, DELETE and TRUNCATE; the
  deployment guide also revokes them from the application's role), and
  hash-chained since version 3 (medsec.audit): a trigger gives every row
  inserted, whoever inserts it, its number and the previous row's hash in
  its entry, and its own hash (`sha256`, over the entry's text as
  PostgreSQL prints it, which `audit verify` reads back and hashes again).
"""

from medsec.store.catalog import (
    ALL_KINDS,
    APPOINTMENTS,
    CREDENTIALS,
    DOCS,
    EDI_FILES,
    ELIGIBILITY,
    INTAKE,
    KIOSK_DEVICES,
    KIOSK_LINKS,
    SESSIONS,
    TOKENS,
)
from medsec.store.kinds import RecordKind

SCHEMA = "medsec"
APPLICATION = "medsec"
VERSION = 7  # of this schema (the data directory's format has its own, medsec.config.SCHEMA_VERSION)
# The kinds each version brought (a kind's table is made by the version that brought it).
_KINDS_OF = {2: [CREDENTIALS, SESSIONS, TOKENS], 4: [ELIGIBILITY, EDI_FILES], 6: [DOCS],
             7: [INTAKE, KIOSK_LINKS, KIOSK_DEVICES]}

# The key of the advisory locks medsec takes: writers (held per transaction) and upgrades.
WRITER_LOCK = 0x6D656473  # "meds"
UPGRADE_LOCK = 0x6D656475
AUDIT_LOCK = 0x6D656461  # appends to the audit log's chain, one at a time (held per transaction)


def table(kind: RecordKind) -> str:
    return f"{SCHEMA}.{kind.name}"


def _kind_table(kind: RecordKind) -> list[str]:
    name = table(kind)
    columns = ["n bigint PRIMARY KEY CHECK (n > 0)", "id text NOT NULL UNIQUE", "doc jsonb NOT NULL"]
    if kind.by_day:
        columns += ["day date NOT NULL", "part text"]
    if kind is APPOINTMENTS:
        columns += ["room text NOT NULL DEFAULT ''", "status text NOT NULL DEFAULT ''", "during tstzrange"]
    statements = [f"CREATE TABLE {name} ({', '.join(columns)})"]
    if kind.by_day:
        statements.append(f"CREATE INDEX {kind.name}_by_day ON {name} (day, part, n)")
    if kind is APPOINTMENTS:
        # The database itself refuses a double booking: a provider (the day's part) or a room
        # in two visits that are not cancelled at overlapping times. Deferred to the commit, so
        # a transaction may move two visits past each other.
        statements += [
            f"ALTER TABLE {name} ADD CONSTRAINT provider_booked_once EXCLUDE USING gist "
            "(part WITH =, during WITH &&) WHERE (status <> 'cancelled') DEFERRABLE INITIALLY DEFERRED",
            f"ALTER TABLE {name} ADD CONSTRAINT room_booked_once EXCLUDE USING gist "
            "(room WITH =, during WITH &&) WHERE (status <> 'cancelled' AND room <> '') "
            "DEFERRABLE INITIALLY DEFERRED",
        ]
    return statements


def _version_1() -> list[str]:
    s = SCHEMA
    statements = [
        "CREATE EXTENSION IF NOT EXISTS btree_gist",
        f"CREATE TABLE {s}.meta (key text PRIMARY KEY, value text NOT NULL)",
        f"CREATE TABLE {s}.counters (prefix text PRIMARY KEY, n bigint NOT NULL CHECK (n >= 0))",
        f"CREATE TABLE {s}.documents (name text PRIMARY KEY, text text NOT NULL, data jsonb NOT NULL, "
        "updated timestamptz NOT NULL DEFAULT now())",
        f"CREATE TABLE {s}.attachments (sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{{64}}$'), "
        "size bigint NOT NULL, data bytea NOT NULL, CHECK (length(data) = size))",
        f"CREATE TABLE {s}.audit (seq bigserial PRIMARY KEY, at timestamptz NOT NULL, entry jsonb NOT NULL)",
        f"CREATE INDEX audit_at ON {s}.audit (at)",
        f"""CREATE FUNCTION {s}.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'the medsec audit log is append-only'; END $$""",
        f"CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON {s}.audit "
        f"FOR EACH ROW EXECUTE FUNCTION {s}.audit_append_only()",
        f"CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {s}.audit "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {s}.audit_append_only()",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {s}.audit FROM PUBLIC",
        f"CREATE TABLE {s}.index_entries (name text NOT NULL, key text COLLATE \"C\" NOT NULL, "
        "id text NOT NULL, seq bigserial, PRIMARY KEY (name, key, id))",
        f"CREATE INDEX index_entries_suffix ON {s}.index_entries (name, (reverse(key)) COLLATE \"C\")",
    ]
    later = {kind for kinds in _KINDS_OF.values() for kind in kinds}
    for kind in ALL_KINDS:
        if kind not in later:
            statements += _kind_table(kind)
    return statements


def _new_kinds(version: int) -> list[str]:
    """The tables of the kinds `version` brought, and their counters."""
    kinds = _KINDS_OF[version]
    return [statement for kind in kinds for statement in _kind_table(kind)] + [
        f"INSERT INTO {SCHEMA}.counters (prefix, n) VALUES {', '.join(f'({k.prefix!r}, 0)' for k in kinds)}"]


def _version_2() -> list[str]:
    """Sign-in: staff members' credentials, their sessions, and service tokens."""
    return _new_kinds(2)


def _version_4() -> list[str]:
    """The insurance round trip: eligibility inquiries and the X12 files exchanged."""
    return _new_kinds(4)


def _version_6() -> list[str]:
    """Dictation: clinical documents (letters, consults, reports, notes) and their signatures."""
    return _new_kinds(6)


def _version_7() -> list[str]:
    """Intake paperwork: submissions for the desk's review, the kiosk's links and its tablets."""
    return _new_kinds(7)


def _version_3() -> list[str]:
    """The audit log's hash chain. The trigger takes the chain's lock, reads the last chained
    row, numbers the new one (its `seq` too: the chain's order is the table's) and hashes it.
    Rows from before keep no hash: `audit verify` counts them as before the chain. Written to
    run again harmlessly (IF NOT EXISTS, OR REPLACE)."""
    s = SCHEMA
    return [
        f"ALTER TABLE {s}.audit ADD COLUMN IF NOT EXISTS sha256 text",
        f"ALTER TABLE {s}.audit ALTER COLUMN seq DROP DEFAULT",  # the trigger numbers the rows
        f"""CREATE OR REPLACE FUNCTION {s}.audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE last_n bigint; last_sha text;
            BEGIN
              PERFORM pg_advisory_xact_lock({AUDIT_LOCK});
              SELECT CASE WHEN entry->>'n' ~ '^[0-9]{{1,18}}$' THEN (entry->>'n')::bigint END, sha256
                INTO last_n, last_sha FROM {s}.audit WHERE sha256 IS NOT NULL ORDER BY seq DESC LIMIT 1;
              NEW.seq := nextval('{s}.audit_seq_seq');
              NEW.entry := (NEW.entry - 'n' - 'prev' - 'sha256')
                || jsonb_build_object('n', coalesce(last_n, 0) + 1, 'prev', coalesce(last_sha, repeat('0', 64)));
              NEW.sha256 := encode(sha256(convert_to(NEW.entry::text, 'UTF8')), 'hex');
              RETURN NEW;
            END $$""",
        f"DROP TRIGGER IF EXISTS audit_chain ON {s}.audit",
        f"CREATE TRIGGER audit_chain BEFORE INSERT ON {s}.audit FOR EACH ROW EXECUTE FUNCTION {s}.audit_chain()",
    ]


def _version_5() -> list[str]:
    """Guarantors (the data directory's schema 4, medsec.store.upgrade): a patient's id in another
    spelling becomes medsec's (p7 -> P7); free text written by older versions or imports becomes a
    responsible party marked needs_review (`medsec check` names the patient), the text kept as
    `converted_from`. Unlike the data directory's step it parses no names: a person reads them.
    Written to run again harmlessly (a converted record has an empty guarantor)."""
    table, text = f"{SCHEMA}.patients", "btrim(doc->>'guarantor')"
    return [
        f"UPDATE {table} SET doc = jsonb_set(doc, '{{guarantor}}', to_jsonb(upper({text}))) "
        f"WHERE {text} ~ '^[Pp][0-9]+$' AND doc->>'guarantor' <> upper({text})",
        f"UPDATE {table} SET doc = doc || jsonb_build_object('guarantor', '', 'responsible_party', "
        "jsonb_build_object('name', '', 'relationship', '', 'address', '', 'city', '', 'state', '', 'zip', '', "
        f"'phone', '', 'email', '', 'needs_review', true, 'text', left({text}, 200), "
        f"'converted_from', left(doc->>'guarantor', 200))) "
        f"WHERE jsonb_typeof(doc->'guarantor') = 'string' AND {text} <> '' AND lower({text}) <> 'self' "
        f"AND {text} !~ '^[Pp][0-9]+$'",
    ]


# Each version's statements, run in order by `migrate` from the version a database is at.
MIGRATIONS: dict[int, list[str]] = {1: _version_1(), 2: _version_2(), 3: _version_3(), 4: _version_4(),
                                    5: _version_5(), 6: _version_6(), 7: _version_7()}
