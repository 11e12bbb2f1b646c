"""A PostgreSQL store that is wrong, unreachable or named twice: exit 3 (or 2 for two stores
named at once) with one line, nothing written. And what the database itself guarantees:
no double booking whatever client writes, an audit log nobody can rewrite."""

import psycopg
import pytest
from helpers.cli import Medsec, cli_env
from helpers.pg import free_port


def one_line_error(result, code: int, *words: str) -> str:
    assert result.exit_code == code, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("medsec: error: ") and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in first, first
    return first


def dbname(url: str) -> str:
    """The database of a test URL (postgresql://user@/DB?host=...)."""
    return url.split("@/", 1)[1].split("?", 1)[0]


def terminal(tmp_path, url: str | None, name: str = "terminal", **extra) -> Medsec:
    env = {**cli_env(tmp_path / name), **extra}
    if url:
        env["MEDSEC_STORE"] = url
    return Medsec(tmp_path / name, env)


@pytest.fixture
def pg_clinic(tmp_path, pg_url) -> Medsec:
    """A PostgreSQL practice with a physician working mon-fri 08:00-12:00 and a patient."""
    office = terminal(tmp_path, pg_url)
    office.ok("init", "--security", "open")
    office.ok("staff", "add", "--name", "Dr A", "--role", "physician", "--npi", "1234567893")
    office.ok("staff", "hours", "S1", "--day", "mon-fri", "--from", "08:00", "--to", "12:00")
    office.ok("patient", "add", "--first", "Ann", "--last", "Smith", "--dob", "1980-01-02")
    return office


def test_a_url_with_a_password_is_refused_and_nothing_is_written(tmp_path, pg_server):
    db = pg_server.create_database()
    url = f"postgresql://medsec_test:secret@/{db}?host={pg_server.socket_dir}&port={pg_server.port}"
    office = terminal(tmp_path, url)
    line = one_line_error(office("init", "--security", "open"), 3, "password")
    assert "secret" not in line and not office.home.exists()
    assert pg_server.sql("SELECT 1 FROM pg_namespace WHERE nspname = 'medsec'", db) == []


def test_an_unreachable_server_is_exit_3_with_one_line(tmp_path):
    office = terminal(tmp_path, f"postgresql://nobody@127.0.0.1:{free_port()}/medsec")
    one_line_error(office("init", "--security", "open"), 3, "cannot connect")
    assert not office.home.exists()
    one_line_error(office("patient", "find", "smith"), 3, "cannot connect")


def test_wrong_credentials_are_exit_3_and_password_env_is_how_a_password_is_given(tmp_path, pg_server, monkeypatch):
    db = pg_server.create_database()
    pg_server.create_role("clerk", "right-one")
    pg_server.sql(f"ALTER DATABASE {db} OWNER TO clerk")
    url = pg_server.tcp_url(db, "clerk")
    monkeypatch.setenv("CLINIC_DB_PASSWORD", "wrong-one")
    office = terminal(tmp_path, None)
    one_line_error(office("init", "--security", "open", "--store", url, "--password-env", "CLINIC_DB_PASSWORD"), 3,
                   "cannot connect")
    assert not office.home.exists()
    monkeypatch.setenv("CLINIC_DB_PASSWORD", "right-one")
    office.ok("init", "--security", "open", "--store", url, "--password-env", "CLINIC_DB_PASSWORD")
    pointer = (office.home / "store.yaml").read_text()
    assert url in pointer and "password_env: CLINIC_DB_PASSWORD" in pointer and "right-one" not in pointer
    assert office.json("patient", "add", "--first", "Bo", "--last", "Li", "--dob", "1990-03-04")["id"] == "P1"
    monkeypatch.delenv("CLINIC_DB_PASSWORD")
    one_line_error(office("patient", "show", "P1"), 3, "CLINIC_DB_PASSWORD")


def test_a_database_without_a_medsec_store_or_of_another_application_is_refused(tmp_path, pg_server):
    empty = pg_server.create_database()
    office = terminal(tmp_path, pg_server.url(empty))
    one_line_error(office("patient", "find", "smith"), 3, "no medsec store")
    other = pg_server.create_database()
    pg_server.sql("CREATE SCHEMA medsec; CREATE TABLE medsec.meta (key text, value text); "
                  "INSERT INTO medsec.meta VALUES ('application', 'billing-suite')", other)
    office = terminal(tmp_path, pg_server.url(other))
    one_line_error(office("patient", "find", "smith"), 3, "another application")
    one_line_error(office("init", "--security", "open"), 1, "medsec store already")
    assert pg_server.sql("SELECT count(*) FROM medsec.meta", other) == [(1,)]


def test_a_store_of_a_newer_medsec_is_refused(pg_clinic, pg_url, pg_server):
    db = dbname(pg_url)
    pg_server.sql("UPDATE medsec.meta SET value = '99' WHERE key = 'schema_version'", db)
    one_line_error(pg_clinic("patient", "show", "P1"), 3, "newer")


def test_two_different_stores_named_at_once_are_exit_2(tmp_path, pg_url, pg_server):
    directory = terminal(tmp_path, None, name="clinic")
    directory.ok("init", "--security", "open")
    one_line_error(directory("patient", "find", "smith", env={"MEDSEC_STORE": pg_url}), 2, "data directory")
    office = terminal(tmp_path, pg_url)
    office.ok("init", "--security", "open")
    other = pg_server.url(pg_server.create_database())
    one_line_error(office("patient", "find", "smith", env={"MEDSEC_STORE": other}), 2)
    one_line_error(office("--store", "sqlite:///x.db", "patient", "find", "smith"), 2, "PostgreSQL URL")
    # The same store named by the pointer and by --store is no conflict.
    assert office("--store", pg_url, "patient", "find", "smith").exit_code == 0


def test_the_terminal_folder_points_to_the_store(tmp_path, pg_clinic, pg_url):
    """A second terminal with only the folder's pointer (no MEDSEC_STORE) sees the same practice."""
    second = Medsec(pg_clinic.home, {k: v for k, v in pg_clinic.env.items() if k != "MEDSEC_STORE"})
    assert second.json("patient", "show", "P1")["last"] == "Smith"
    assert second.json("config", "show", "staff")["staff"][0]["name"] == "Dr A"
    assert not (pg_clinic.home / "staff.yaml").exists()


def test_booking_and_the_database_refuses_a_double_booking_from_any_client(pg_clinic, pg_url, pg_server):
    booked = pg_clinic.json("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-30 09:00",
                            "--type", "follow-up")
    assert booked["id"] == "A1"
    refused = pg_clinic("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-30 09:00", "--type", "follow-up")
    assert refused.exit_code != 0 and refused.stderr.startswith("medsec: error: ")
    db = dbname(pg_url)
    with pytest.raises(Exception, match="provider_booked_once"):
        pg_server.sql("INSERT INTO medsec.appointments (n, id, doc, day, part, status, during) "
                      "SELECT 99, 'A99', doc, day, part, 'booked', during FROM medsec.appointments WHERE n = 1", db)
    pg_clinic.ok("appt", "cancel", "A1", "--reason", "test")
    assert pg_clinic.json("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-30 09:00",
                          "--type", "follow-up")["id"] == "A2"


def test_the_audit_log_is_in_the_database_and_append_only(pg_clinic, pg_url, pg_server):
    pg_clinic.ok("patient", "show", "P1")
    entries = pg_clinic.json("audit", "--patient", "P1")
    assert [e["action"] for e in entries][-1] == "read" and all(e["user"] == "tester" for e in entries)
    assert any(e["action"] == "commit" for e in pg_clinic.json("audit"))
    assert not (pg_clinic.home / "audit").exists()
    db = dbname(pg_url)
    for statement in ("UPDATE medsec.audit SET entry = '{}'", "DELETE FROM medsec.audit",
                      "TRUNCATE medsec.audit"):
        with pytest.raises(psycopg.Error, match="append-only"):
            pg_server.sql(statement, db)


def test_upgrade_migrates_an_older_store_once_even_from_two_terminals(pg_clinic, pg_url, pg_server, monkeypatch):
    import threading

    from medsec.store import pgschema
    from medsec.store.postgres import PgStore

    now = pgschema.VERSION
    assert pg_clinic.json("upgrade") == {"store": pg_url.split("?")[0], "from": now, "to": now, "steps": []}
    monkeypatch.setattr(pgschema, "VERSION", now + 1)
    monkeypatch.setitem(pgschema.MIGRATIONS, now + 1, ["SELECT pg_sleep(0.5)",
                                                       "ALTER TABLE medsec.meta ADD COLUMN note text"])
    one_line_error(pg_clinic("patient", "show", "P1"), 3, "medsec upgrade")
    results, errors = [], []

    def upgrade():
        try:
            results.append(PgStore(str(pg_clinic.home), pg_url).upgrade())
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=upgrade) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and sorted(len(r["steps"]) for r in results) == [0, 1]
    assert pg_clinic.json("patient", "show", "P1")["last"] == "Smith"
    assert pg_server.sql("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'medsec' "
                         "AND table_name = 'meta' AND column_name = 'note'", dbname(pg_url)) == [(1,)]


def test_a_version_1_store_gets_the_sign_in_tables_by_upgrade(pg_clinic, pg_url, pg_server):
    """A store made before sign-in (schema 1: no credentials or sessions) is refused until
    `medsec upgrade`, which adds them; its records are as they were."""
    db = dbname(pg_url)
    for statement in ("DROP TABLE medsec.credentials", "DROP TABLE medsec.sessions", "DROP TABLE medsec.tokens",
                      "DELETE FROM medsec.counters WHERE prefix IN ('CR', 'SN', 'TK')",
                      "DROP TABLE medsec.eligibility", "DROP TABLE medsec.edifiles",
                      "DELETE FROM medsec.counters WHERE prefix IN ('EL', 'EF')",
                      "DROP TABLE medsec.docs", "DELETE FROM medsec.counters WHERE prefix = 'D'",
                      "DROP TABLE medsec.intake", "DROP TABLE medsec.kiosklinks", "DROP TABLE medsec.kiosks",
                      "DELETE FROM medsec.counters WHERE prefix IN ('IN', 'KL', 'KD')",
                      "UPDATE medsec.meta SET value = '1' WHERE key = 'schema_version'"):
        pg_server.sql(statement, db)
    one_line_error(pg_clinic("patient", "show", "P1"), 3, "medsec upgrade")
    assert pg_clinic.json("upgrade")["steps"] != []
    assert pg_clinic.json("patient", "show", "P1")["last"] == "Smith"
    assert pg_server.sql("SELECT prefix, n FROM medsec.counters WHERE prefix IN ('CR', 'SN', 'TK') "
                         "ORDER BY prefix", db) == [("CR", 0), ("SN", 0), ("TK", 0)]
    pg_clinic.ok("check")


def test_upgrade_to_schema_5_makes_free_text_guarantors_responsible_parties_to_review(pg_clinic, pg_url, pg_server):
    """Guarantors written as free text by older versions (the data directory's schema 4 step does the
    same there): `medsec upgrade` keeps the text as a responsible party marked needs_review, which
    `medsec check` names by the patient alone; an id in another spelling becomes medsec's."""
    db = dbname(pg_url)
    pg_clinic.ok("patient", "add", "--first", "Bo", "--last", "Smith", "--dob", "2015-03-04")
    for patient, text in (("P1", "Jane Doe, mother"), ("P2", " p1")):
        pg_server.sql(f"UPDATE medsec.patients SET doc = jsonb_set(doc, '{{guarantor}}', to_jsonb('{text}'::text)) "
                      f"WHERE id = '{patient}'", db)
    for statement in ("DROP TABLE medsec.docs", "DELETE FROM medsec.counters WHERE prefix = 'D'",
                      "DROP TABLE medsec.intake", "DROP TABLE medsec.kiosklinks", "DROP TABLE medsec.kiosks",
                      "DELETE FROM medsec.counters WHERE prefix IN ('IN', 'KL', 'KD')",
                      "UPDATE medsec.meta SET value = '4' WHERE key = 'schema_version'"):
        pg_server.sql(statement, db)
    one_line_error(pg_clinic("patient", "show", "P1"), 3, "medsec upgrade")
    assert pg_clinic.json("upgrade")["steps"] == ["schema 5", "schema 6", "schema 7"]
    ann = pg_clinic.json("patient", "show", "P1")
    assert ann["guarantor"] == "" and ann["responsible_party"]["needs_review"] is True
    assert ann["responsible_party"]["converted_from"] == "Jane Doe, mother"
    assert pg_clinic.json("patient", "show", "P2")["guarantor"] == "P1"
    check = pg_clinic("check")
    assert check.exit_code == 0 and "warning: P1: a guarantor written as free text needs review" in check.stderr
    assert "Jane Doe" not in check.stderr
    assert pg_clinic.json("upgrade")["steps"] == []


def test_a_postgresql_practice_is_backed_up_in_the_usual_format_and_restores_into_a_directory(pg_clinic, tmp_path):
    pg_clinic.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-30 09:00", "--type", "follow-up")
    archive = tmp_path / "b.tar.gz"
    assert pg_clinic.json("backup", str(archive))["file"] == str(archive)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".medsec-backup-")] == []
    assert pg_clinic.json("audit")[-1]["action"] == "backup"
    one_line_error(pg_clinic("restore", str(archive)), 2, "PostgreSQL")
    restored = terminal(tmp_path, None, name="restored")
    restored.ok("init", "--security", "open")
    restored.ok("restore", str(archive))
    restored.ok("check")
    assert restored.json("patient", "show", "P1") == pg_clinic.json("patient", "show", "P1")
    assert restored.json("appt", "list", "--patient", "P1") == pg_clinic.json("appt", "list", "--patient", "P1")
