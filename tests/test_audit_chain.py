"""The tamper-evident audit log (issue 16, Trust II, part 1).

Every entry carries the hash of the one before it (medsec.audit): `audit verify` names the first
place the chain breaks (a file and line in the data directory, a row's seq on PostgreSQL) for an
edited, deleted, inserted or reordered entry, a garbage line and a month file removed from the
middle; against an anchor (`audit anchor`, kept elsewhere) also a log cut short or deleted whole.
Eight processes writing at once leave a chain that verifies. Reading the audit is audited.

On PostgreSQL the tests tamper with the table as its owner, with its triggers disabled (what
someone holding the database's owner role could do); the append-only triggers are enabled again
before medsec looks.
"""

import json
import os
import re
import threading
import time

import orjson
import pytest

from medsec.audit import GENESIS, chained_line, digest

pytestmark = pytest.mark.both_backends

LOG = "2026-11.jsonl"  # the tests' clock: 2026-11-26
ANCHOR = re.compile(r"^medsec-audit-anchor v1 n=(\d+) at=(\S+) sha256=([0-9a-f]{64})$")


def one_line(result, code: int, *needles: str) -> str:
    assert result.exit_code == code and result.stderr.count("\n") == 1, (result.exit_code, result.stderr)
    for needle in needles:
        assert needle in result.stderr, result.stderr
    return result.stderr


@pytest.fixture
def office(two_patients):
    """Two patients, a few reads: a dozen entries or so, all in this month's file."""
    for args in (("patient", "show", "P1"), ("patient", "show", "P2"), ("patient", "list"),
                 ("patient", "note", "P1", "Called back")):
        two_patients.ok(*args)
    return two_patients


# -- tampering, as the data directory's files or the database's rows --------------------------
def log_file(m):
    return m.home / "audit" / LOG


def lines(m) -> list[bytes]:
    return log_file(m).read_bytes().splitlines(keepends=True)


def write_lines(m, new: list[bytes]) -> None:
    log_file(m).write_bytes(b"".join(new))


def as_owner(m, *statements):
    """Statements run as the database's owner, the audit table's triggers disabled meanwhile."""
    import psycopg

    with psycopg.connect(m.pg.url, autocommit=True) as conn:
        conn.execute("ALTER TABLE medsec.audit DISABLE TRIGGER USER")
        rows = [conn.execute(s).fetchall() if s.lstrip().upper().startswith("SELECT") else conn.execute(s)
                for s in statements]
        conn.execute("ALTER TABLE medsec.audit ENABLE TRIGGER USER")
    return rows


def seqs(m) -> list[int]:
    return [seq for (seq,) in as_owner(m, "SELECT seq FROM medsec.audit ORDER BY seq")[0]]


def tamper(m, how: str) -> str:
    """Damage the log as `how` says, third entry from the end; the place verify must name."""
    if m.pg is None:
        old = lines(m)
        k = len(old) - 3  # index of the line tampered with
        if how == "edit":
            old[k] = old[k].replace(b'"user":"tester"', b'"user":"mallory"')
            assert b"mallory" in old[k]
        elif how == "delete":
            del old[k]
        elif how == "forged":
            old.insert(k, orjson.dumps({"at": "2026-11-26T09:00:00-05:00", "user": "S1", "command": "refill approve",
                                        "action": "refill", "ids": ["P1"], "outcome": "ok"}) + b"\n")
        elif how == "reorder":
            old[k], old[k + 1] = old[k + 1], old[k]
        write_lines(m, old)
        return f"audit/{LOG} line {k + 1}"
    seq = seqs(m)[-3]
    if how == "edit":
        as_owner(m, f"UPDATE medsec.audit SET entry = jsonb_set(entry, '{{user}}', '\"mallory\"') WHERE seq = {seq}")
        return f"seq {seq}"
    if how == "delete":
        as_owner(m, f"DELETE FROM medsec.audit WHERE seq = {seq}")
        return f"seq {seq + 1}"
    if how == "forged":  # a back-dated entry appended by hand
        last = seqs(m)[-1]
        as_owner(m, f"INSERT INTO medsec.audit (seq, at, entry) VALUES ({last + 1}, '2026-11-26 09:00-05', "
                    "'{\"at\": \"2026-11-26T09:00:00-05:00\", \"user\": \"S1\", \"command\": \"refill approve\", "
                    "\"action\": \"refill\", \"ids\": [\"P1\"], \"outcome\": \"ok\"}')")
        return f"seq {last + 1}"
    assert how == "reorder"
    as_owner(m, "UPDATE medsec.audit a SET entry = b.entry, sha256 = b.sha256, at = b.at FROM medsec.audit b "
                f"WHERE (a.seq, b.seq) IN (({seq}, {seq + 1}), ({seq + 1}, {seq}))")
    return f"seq {seq}"


# -- an intact chain --------------------------------------------------------------------------
def test_an_untouched_log_verifies_with_its_count_and_head(office):
    result = office.ok("audit", "verify")
    assert result.stdout.startswith("audit log intact: ") and result.stdout.count("\n") == 1
    data = office.json("audit", "verify")
    listed = office.json("audit")
    # every entry but the second verify's own (written once it had counted), which the listing shows
    assert data["intact"] is True and data["entries"] == len(listed) - 1 and data["before_chain"] == 0
    assert re.fullmatch(r"[0-9a-f]{64}", data["head"]["sha256"])


def test_the_listing_hides_the_chain_and_reading_the_audit_is_audited(office):
    entries = office.json("audit")
    assert entries and not any({"n", "prev", "sha256"} & set(e) for e in entries)
    office.ok("audit", "verify")
    office.ok("audit", "anchor")
    actions = [(e["command"], e["action"]) for e in office.json("audit")][-3:]
    assert actions == [("audit", "audit-list"), ("audit verify", "audit-verify"), ("audit anchor", "audit-anchor")]
    assert office.json("audit", "--patient", "P1")[-1]["command"] != "audit"  # names no record


@pytest.mark.directory_only(reason="the data directory's lines, as written")
def test_each_line_names_the_hash_of_the_one_before(office):
    links = [orjson.loads(line) for line in lines(office)]
    assert [e["n"] for e in links] == list(range(1, len(links) + 1))
    assert links[0]["prev"] == GENESIS
    for before, after in zip(links, links[1:], strict=False):
        assert after["prev"] == before["sha256"]
    line = lines(office)[-1].rstrip(b"\n")
    body = line[:line.rindex(b',"sha256"')] + b"}"
    assert digest(body) == links[-1]["sha256"]


# -- tampering ----------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["edit", "delete", "forged", "reorder"])
def test_tampering_is_caught_where_it_is(office, how):
    place = tamper(office, how)
    stderr = one_line(office("audit", "verify"), 3, f"the audit log is broken at {place}:")
    assert {"edit": "edited", "delete": "missing", "forged": "outside the chain",
            "reorder": "missing or out of place"}[how] in stderr
    # check reports it too, as something to look into
    result = office("check", "--json")
    assert result.exit_code == 3
    assert any("audit log" in p["problem"] and place.split(" line ")[0].split(" seq ")[0] in
               p["problem"] + p["file"] for p in json.loads(result.stdout))


@pytest.mark.directory_only(reason="a line written by hand into the data directory's log")
def test_a_forged_line_that_carries_a_chain_is_caught_at_the_line_after_it(office):
    old = lines(office)
    k = len(old) - 3
    before = orjson.loads(old[k - 1])
    forged, _ = chained_line({"at": "2026-11-26T09:00:00-05:00", "user": "S1", "command": "refill approve",
                              "action": "refill", "ids": ["P1"], "outcome": "ok"}, before["n"] + 1, before["sha256"])
    old.insert(k, forged + b"\n")
    write_lines(office, old)
    one_line(office("audit", "verify"), 3, f"audit/{LOG} line {k + 2}:", "out of order")


@pytest.mark.directory_only(reason="a garbage line in the data directory's log")
def test_a_garbage_line_is_named_by_verify_and_warned_of_by_the_listing(office):
    old = lines(office)
    old.insert(4, b"this is not json\n")
    write_lines(office, old)
    one_line(office("audit", "verify"), 3, f"audit/{LOG} line 5:", "not an audit entry")
    listing = office("audit", "--json")
    assert listing.exit_code == 0 and json.loads(listing.stdout)
    assert "medsec: warning:" in listing.stderr and f"audit/{LOG} line 5" in listing.stderr


@pytest.mark.directory_only(reason="month files of the data directory")
def test_the_chain_runs_across_months_and_a_month_file_removed_is_caught(office):
    office.ok("patient", "show", "P1", env={"MEDSEC_NOW": "2026-12-03T10:00:00"})
    office.ok("patient", "show", "P2", env={"MEDSEC_NOW": "2027-01-05T10:00:00"})
    office.ok("patient", "show", "P1", env={"MEDSEC_NOW": "2027-01-05T11:00:00"})
    assert sorted(p.name for p in (office.home / "audit").glob("*.jsonl")) == [LOG, "2026-12.jsonl", "2027-01.jsonl"]
    first = orjson.loads((office.home / "audit" / "2027-01.jsonl").read_bytes().splitlines()[0])
    last = orjson.loads((office.home / "audit" / "2026-12.jsonl").read_bytes().splitlines()[-1])
    assert first["prev"] == last["sha256"] and first["n"] == last["n"] + 1
    office.ok("audit", "verify")
    (office.home / "audit" / "2026-12.jsonl").unlink()
    one_line(office("audit", "verify"), 3, "audit/2027-01.jsonl line 1:", "missing")


@pytest.mark.directory_only(reason="a data directory written before the chain")
def test_entries_written_before_the_chain_are_reported_as_such(office):
    old = [orjson.dumps({k: v for k, v in orjson.loads(line).items() if k not in ("n", "prev", "sha256")}) + b"\n"
           for line in lines(office)]
    write_lines(office, old)
    office.ok("patient", "show", "P1")
    result = office.ok("audit", "verify")
    assert f"and {len(old)} before the chain" in result.stdout
    assert office.json("audit", "verify")["entries"] == 2  # the read, then the first verify
    assert len(office.json("audit")) == len(old) + 3


# -- anchors ------------------------------------------------------------------------------------
def anchor_to(m, path) -> tuple[int, str]:
    line = m.ok("audit", "anchor").stdout
    assert line.count("\n") == 1
    match = ANCHOR.match(line.strip())
    assert match, line
    path.write_text(line)
    return int(match[1]), match[3]


def test_an_anchor_is_extended_by_the_log_and_given_as_json_too(office, tmp_path):
    n, sha = anchor_to(office, tmp_path / "head.txt")
    office.ok("patient", "show", "P2")
    result = office.ok("audit", "verify", "--anchor", tmp_path / "head.txt")
    assert f"extends the anchor n={n}" in result.stdout
    data = office.json("audit", "anchor")
    assert data["format"] == "medsec-audit-anchor" and data["version"] == 1 and data["n"] > n
    (tmp_path / "head.json").write_text(json.dumps(data))
    office.ok("audit", "verify", "--anchor", tmp_path / "head.json")
    # kept as a mail keeps it: the line among others
    (tmp_path / "mail.txt").write_text(f"From: medsec@clinic.example\nSubject: audit head\n\n"
                                       f"{(tmp_path / 'head.txt').read_text()}\n-- \ncron\n")
    office.ok("audit", "verify", "--anchor", tmp_path / "mail.txt")


def test_a_tail_cut_off_is_caught_against_an_anchor(office, tmp_path):
    n, _ = anchor_to(office, tmp_path / "head.txt")
    office.ok("patient", "show", "P2")
    office.ok("patient", "list")
    if office.pg is None:
        kept = [line for line in lines(office) if orjson.loads(line)["n"] < n - 1]
        write_lines(office, kept)
        place = f"audit/{LOG} line {len(kept)}"
    else:
        as_owner(office, f"DELETE FROM medsec.audit WHERE (entry->>'n')::bigint >= {n - 1}")
        place = f"seq {seqs(office)[-1]}"
    one_line(office("audit", "verify", "--anchor", tmp_path / "head.txt"), 3, place, f"anchored entry {n}")
    office.ok("audit", "verify")  # the chain alone cannot tell: the anchor is what catches it


def test_a_log_deleted_whole_is_caught_against_an_anchor(office, tmp_path):
    n, _ = anchor_to(office, tmp_path / "head.txt")
    if office.pg is None:
        for f in (office.home / "audit").glob("*.jsonl"):
            f.unlink()
    else:
        as_owner(office, "DELETE FROM medsec.audit")
    one_line(office("audit", "verify", "--anchor", tmp_path / "head.txt"), 3, f"before the anchored entry {n}")
    office.ok("patient", "show", "P1")  # a new chain begins ...
    office.ok("patient", "list")
    one_line(office("audit", "verify", "--anchor", tmp_path / "head.txt"), 3, "anchored")  # ... and is no help


@pytest.mark.parametrize("text", ["", "not an anchor\n", "medsec-audit-anchor v1 n=0 at=x sha256=" + "0" * 64,
                                  "medsec-audit-anchor v1 n=3 at=x sha256=abc\n", '{"format": "other"}',
                                  "medsec-audit-anchor v1 n=3 at=x sha256=" + "a" * 64 + "\n"
                                  "medsec-audit-anchor v1 n=4 at=x sha256=" + "b" * 64 + "\n"])
def test_an_anchor_file_that_is_not_one_is_bad_input(office, tmp_path, text):
    path = tmp_path / "anchor.txt"
    path.write_text(text)
    one_line(office("audit", "verify", "--anchor", path), 2, "not an audit anchor")


def test_an_anchor_file_that_cannot_be_read_is_bad_input(office, tmp_path):
    one_line(office("audit", "verify", "--anchor", tmp_path / "missing.txt"), 2)
    one_line(office("audit", "verify", "--anchor", tmp_path), 2)


def test_listing_options_are_for_the_listing(office):
    one_line(office("audit", "--patient", "P1", "verify"), 2, "--patient")


# -- concurrent writers -------------------------------------------------------------------------
WRITERS = 8
# Each command is a process of its own, forked by a fork server (helpers/forks.py: no interpreter
# start-up for each): in 3 s the writers run several times the commands they ran in 6 s as console
# scripts.
SECONDS = 3.0


def test_eight_writers_at_once_leave_a_chain_that_verifies(office, forks):
    terminal = forks({**os.environ, **office.env})
    errors: list[str] = []
    counts = [0] * WRITERS
    stop = time.monotonic() + SECONDS

    def writer(i: int) -> None:
        k = 0
        while time.monotonic() < stop:
            args = ["patient", "add", "--first", f"W{i}", "--last", f"Writer{k}", "--dob", "1990-01-01"] \
                if k % 2 == 0 else ["patient", "show", "P1"]
            code, _, err = terminal.run(*args)
            if code != 0:
                errors.append(err)
            k += 1
        counts[i] = k

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(counts) >= WRITERS * 2
    data = office.json("audit", "verify")
    assert data["intact"] is True
    assert data["entries"] == len(office.json("audit")) - 1  # all but the verify's own


# -- a store from before the chain ----------------------------------------------------------------
def test_a_version_2_store_is_upgraded_and_its_entries_are_before_the_chain(pg_office, pg_url, pg_server):
    """A PostgreSQL store of schema 2 (no chain) is refused until `medsec upgrade` adds the chain's
    column and trigger; its rows stay as they were, before the chain, which starts after them."""
    db = pg_url.split("@/", 1)[1].split("?", 1)[0]
    pg_office.ok("patient", "add", "--first", "Ann", "--last", "Smith", "--dob", "1970-01-01")
    pg_office.ok("patient", "show", "P1")
    for statement in ("ALTER TABLE medsec.audit DISABLE TRIGGER USER",
                      "UPDATE medsec.audit SET entry = entry - 'n' - 'prev'",
                      "ALTER TABLE medsec.audit ENABLE TRIGGER USER",
                      "DROP TRIGGER audit_chain ON medsec.audit", "DROP FUNCTION medsec.audit_chain()",
                      "ALTER TABLE medsec.audit DROP COLUMN sha256",
                      "ALTER TABLE medsec.audit ALTER COLUMN seq SET DEFAULT nextval('medsec.audit_seq_seq')",
                      "DROP TABLE medsec.eligibility", "DROP TABLE medsec.edifiles",
                      "DELETE FROM medsec.counters WHERE prefix IN ('EL', 'EF')",
                      "DROP TABLE medsec.docs", "DELETE FROM medsec.counters WHERE prefix = 'D'",
                      "DROP TABLE medsec.intake", "DROP TABLE medsec.kiosklinks", "DROP TABLE medsec.kiosks",
                      "DELETE FROM medsec.counters WHERE prefix IN ('IN', 'KL', 'KD')",
                      "UPDATE medsec.meta SET value = '2' WHERE key = 'schema_version'"):
        pg_server.sql(statement, db)
    (old,), = pg_server.sql("SELECT count(*) FROM medsec.audit", db)
    one_line(pg_office("patient", "show", "P1"), 3, "medsec upgrade")
    assert pg_office.json("upgrade")["steps"] == ["schema 3", "schema 4", "schema 5", "schema 6", "schema 7"]
    pg_office.ok("patient", "show", "P1")
    assert f"1 entry (and {old} before the chain)" in pg_office.ok("audit", "verify").stdout
    pg_office.ok("check")
    assert len(pg_office.json("audit")) == old + 2  # the read and the verify
    assert pg_office.json("upgrade")["steps"] == []
