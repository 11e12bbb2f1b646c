"""`medsec check [--repair]` on a PostgreSQL store (medsec.store.pgcheck): a sound practice passes;
damage made in psql (pg_server.sql) is found, exit 3 with a line per finding naming the table and
row; --repair mends what is derived (index entries, counters) and nothing else. A real server
(tests/helpers/pg.py)."""

import pytest
from helpers.cli import Medsec
from helpers.pg import free_port
from test_postgres_errors import dbname, one_line_error, terminal

from medsec.store import pgcheck


@pytest.fixture
def pg_practice(tmp_path, pg_url) -> Medsec:
    """A PostgreSQL practice: a physician, P1 Ann Smith (a scanned card attached, a visit A1 in
    room 1, a payment) and P2 Bo Li (a phone message)."""
    office = terminal(tmp_path, pg_url)
    office.ok("init", "--security", "open")
    office.ok("staff", "add", "--name", "Dr A", "--role", "physician", "--npi", "1234567893")
    office.ok("staff", "hours", "S1", "--day", "mon-fri", "--from", "08:00", "--to", "12:00")
    office.ok("patient", "add", "--first", "Ann", "--last", "Smith", "--dob", "1980-01-02", "--phone", "617-555-0100")
    office.ok("patient", "add", "--first", "Bo", "--last", "Li", "--dob", "1990-03-04")
    card = tmp_path / "card.pdf"
    card.write_bytes(b"%PDF-1.4 synthetic insurance card\n")
    office.ok("patient", "attach", "P1", str(card), "--label", "insurance card")
    office.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-30 09:00", "--type", "follow-up")
    office.ok("bill", "pay", "P1", "--amount", "20.00", "--method", "cash")
    office.ok("call", "log", "--from", "P2", "--reason", "refill question")
    return office


def sql(pg_server, pg_url, statement: str):
    return pg_server.sql(statement, dbname(pg_url))


def findings(office: Medsec, *args: str) -> list[dict]:
    """The problems `check` reports (exit 3, one error line)."""
    result = office("check", *args, "--json")
    one_line_error(result, 3, "problem(s) found")
    return result.json()


def problem_with(problems: list[dict], *words: str) -> dict:
    hits = [p for p in problems if all(w in p["problem"] or w in p["file"] for w in words)]
    assert hits, problems
    return hits[0]


def test_a_sound_practice_passes(pg_practice):
    assert pg_practice.json("check") == []
    result = pg_practice.ok("check")
    assert "store ok" in result.stderr
    assert pg_practice.json("check", "--repair") == []


def test_the_schema_the_migrations_make_is_what_check_expects():
    assert ("medsec.appointments", "provider_booked_once") in pgcheck._CONSTRAINTS
    assert ("medsec.appointments", "room_booked_once") in pgcheck._CONSTRAINTS
    assert {name for _, name in pgcheck._TRIGGERS} == {"audit_no_change", "audit_no_truncate", "audit_chain"}
    assert {"medsec.patients", "medsec.index_entries", "medsec.documents"} <= pgcheck._TABLES


def test_a_record_whose_id_is_not_its_rows_is_found(pg_practice, pg_server, pg_url):
    sql(pg_server, pg_url, "UPDATE medsec.patients SET doc = jsonb_set(doc, '{id}', '\"P7\"') WHERE n = 2")
    problem = problem_with(findings(pg_practice), "row 2 holds 'P7', not P2")
    assert problem["file"] == "medsec.patients P2" and not problem["repaired"]
    result = pg_practice("check", "--repair")
    one_line_error(result, 3, "not repaired")
    assert "restore" in result.stderr


def test_a_visit_whose_columns_do_not_match_its_record_is_found(pg_practice, pg_server, pg_url):
    sql(pg_server, pg_url, "UPDATE medsec.appointments SET room = 'elsewhere', day = '2026-12-01' WHERE n = 1")
    problems = findings(pg_practice)
    assert problem_with(problems, "room column 'elsewhere'", "medsec.appointments A1")
    assert problem_with(problems, "day column '2026-12-01'", "'2026-11-30'")


def test_a_money_field_that_is_no_amount_is_found(pg_practice, pg_server, pg_url):
    sql(pg_server, pg_url, "UPDATE medsec.payments SET doc = jsonb_set(doc, '{amount}', '\"twenty\"') WHERE n = 1")
    assert problem_with(findings(pg_practice), "Y1: amount 'twenty' is not an amount")


def test_a_deleted_index_entry_is_found_and_repaired(pg_practice, pg_server, pg_url):
    sql(pg_server, pg_url, "DELETE FROM medsec.index_entries WHERE name = 'patient-name' AND key = 'smith'")
    assert pg_practice.json("patient", "find", "smith") == []
    problem = problem_with(findings(pg_practice), "index patient-name: 1 entry missing: 'smith' -> P1")
    assert problem["file"] == "medsec.index_entries patient-name"
    repaired = pg_practice.json("check", "--repair")
    assert [p["repaired"] for p in repaired] == [True]
    assert pg_practice.json("check") == []
    assert [p["id"] for p in pg_practice.json("patient", "find", "smith")] == ["P1"]
    assert any(e["action"] == "commit" and e["command"] == "check" for e in pg_practice.json("audit"))


def test_a_stale_index_entry_is_found_and_removed(pg_practice, pg_server, pg_url):
    sql(pg_server, pg_url, "INSERT INTO medsec.index_entries (name, key, id) VALUES ('patient-name', 'jones', 'P2')")
    problem = problem_with(findings(pg_practice), "index patient-name: 1 stale entry", "'jones' -> P2")
    assert problem["remedy"] == "repair"
    pg_practice.ok("check", "--repair")
    assert pg_practice.json("check") == []
    assert sql(pg_server, pg_url, "SELECT count(*) FROM medsec.index_entries WHERE key = 'jones'") == [(0,)]


def test_a_counter_behind_its_records_is_found_and_raised(pg_practice, pg_server, pg_url):
    sql(pg_server, pg_url, "UPDATE medsec.counters SET n = 1 WHERE prefix = 'P'")
    problem = problem_with(findings(pg_practice), "id counter P is 1 but P2 exists")
    assert problem["file"] == "medsec.counters"
    assert problem_with(pg_practice.json("check", "--repair"), "id counter P")["repaired"]
    assert pg_practice.json("check") == []
    assert sql(pg_server, pg_url, "SELECT n FROM medsec.counters WHERE prefix = 'P'") == [(2,)]
    assert pg_practice.json("patient", "add", "--first", "Cy", "--last", "Ng", "--dob", "1991-01-01")["id"] == "P3"


def test_a_document_changed_by_hand_is_found_and_not_repaired(pg_practice, pg_server, pg_url):
    sql(pg_server, pg_url, "UPDATE medsec.documents SET data = jsonb_set(data, '{staff,0,name}', '\"Dr Z\"') "
                           "WHERE name = 'staff.yaml'")
    problem = problem_with(findings(pg_practice), "changed outside medsec", "medsec.documents staff.yaml")
    assert problem["remedy"] == "inspect"
    result = pg_practice("check", "--repair")
    one_line_error(result, 3, "not repaired")
    assert "config edit" in result.stderr


def test_a_document_whose_text_fails_its_checks_is_found(pg_practice, pg_server, pg_url):
    sql(pg_server, pg_url, "UPDATE medsec.documents SET text = 'staff: 12' WHERE name = 'staff.yaml'")
    assert problem_with(findings(pg_practice), "staff.yaml", "medsec.documents staff.yaml")


def test_an_attachment_whose_bytes_changed_is_found(pg_practice, pg_server, pg_url):
    sql(pg_server, pg_url, "UPDATE medsec.attachments SET data = 'tampered'::bytea, size = 8")
    problem = problem_with(findings(pg_practice), "does not match its hash")
    assert problem["file"].startswith("medsec.attachments ") and problem["remedy"] == "restore"


def test_an_attachment_a_record_names_that_is_gone_is_found(pg_practice, pg_server, pg_url):
    sql(pg_server, pg_url, "DELETE FROM medsec.attachments")
    assert problem_with(findings(pg_practice), "P1: attachment", "is missing")


def test_a_dropped_exclusion_constraint_is_found(pg_practice, pg_server, pg_url):
    sql(pg_server, pg_url, "ALTER TABLE medsec.appointments DROP CONSTRAINT provider_booked_once")
    problem = problem_with(findings(pg_practice), "provider_booked_once is missing")
    assert problem["file"] == "medsec.appointments" and problem["remedy"] == "upgrade"
    result = pg_practice("check", "--repair")
    one_line_error(result, 3, "not repaired")
    assert "medsec upgrade" in result.stderr


def test_a_disabled_audit_trigger_is_found(pg_practice, pg_server, pg_url):
    sql(pg_server, pg_url, "ALTER TABLE medsec.audit DISABLE TRIGGER audit_no_change")
    assert problem_with(findings(pg_practice), "audit_no_change is disabled", "medsec.audit")


def test_records_naming_a_patient_whose_row_was_deleted_are_found(pg_practice, pg_server, pg_url):
    sql(pg_server, pg_url, "DELETE FROM medsec.patients WHERE n = 2")
    problems = findings(pg_practice)
    assert problem_with(problems, "1 record(s) name a patient who is not there: T1 (P2)", "medsec.calls")
    assert problem_with(problems, "records lost", "P2", "medsec.patients")
    # A repair keeps the index entries that still name the lost patient, and mends nothing it should not.
    repaired = findings(pg_practice, "--repair")
    kept = problem_with(repaired, "index patient-name", "naming records that are lost (kept)")
    assert not kept["repaired"]
    assert sql(pg_server, pg_url, "SELECT count(*) FROM medsec.index_entries WHERE id = 'P2'") != [(0,)]


def test_a_dropped_table_is_found(pg_practice, pg_server, pg_url):
    sql(pg_server, pg_url, "DROP TABLE medsec.memos")
    problem = problem_with(findings(pg_practice), "table medsec.memos is missing")
    assert problem["remedy"] == "upgrade"


def test_a_table_not_as_the_schema_made_it_is_exit_3_with_one_line(pg_practice, pg_server, pg_url):
    sql(pg_server, pg_url, "ALTER TABLE medsec.appointments DROP COLUMN room CASCADE")
    result = pg_practice("check")
    one_line_error(result, 3, "failed while checking", "room")
    assert "medsec upgrade" in result.stderr


def test_check_of_a_store_that_cannot_be_reached_is_one_line(tmp_path):
    office = terminal(tmp_path, f"postgresql://nobody@127.0.0.1:{free_port()}/medsec")
    one_line_error(office("check"), 3, "cannot connect")
    one_line_error(office("check", "--repair"), 3, "cannot connect")
