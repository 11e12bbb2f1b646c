"""The PostgreSQL test server itself (helpers/pg.py, fixtures pg_server and pg_url): the backend's
tests stand on it, so it is proven against a real server here."""

import socket
import uuid
from urllib.parse import urlsplit

import pytest
from helpers.pg import REQUIRE_ENV, require_postgres, skip_or_fail, start_server

try:
    import psycopg
except ImportError:  # the fixtures skip, or fail under MEDSEC_REQUIRE_SERVICES=1, saying so
    psycopg = None


def connect(url, **kwargs):
    return psycopg.connect(url, connect_timeout=10, **kwargs)


def user_tables(url):
    with connect(url) as conn:
        return conn.execute("SELECT table_schema, table_name FROM information_schema.tables"
                            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')").fetchall()


def test_each_test_gets_a_fresh_empty_database_of_its_own(pg_server, pg_url):
    other = pg_server.url(pg_server.create_database())
    assert other != pg_url
    assert user_tables(pg_url) == [] and user_tables(other) == []
    with connect(pg_url) as conn:
        conn.execute("CREATE TABLE patient (id text PRIMARY KEY)")
        conn.execute("INSERT INTO patient VALUES ('P1')")
    assert user_tables(pg_url) == [("public", "patient")]
    assert user_tables(other) == []
    with connect(pg_url) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (
            "medsec_test", urlsplit(pg_url).path.lstrip("/"))


def test_the_extensions_the_backend_needs_install(pg_url):
    """btree_gist: an exclusion constraint mixing = and && (no two overlapping visits for one
    provider); pg_trgm: similarity for name search."""
    with connect(pg_url) as conn:
        conn.execute("CREATE EXTENSION btree_gist")
        conn.execute("CREATE EXTENSION pg_trgm")
        conn.execute("CREATE TABLE visit (provider text, span tstzrange,"
                     " EXCLUDE USING gist (provider WITH =, span WITH &&))")
        conn.execute("INSERT INTO visit VALUES ('S1', '[2026-01-05 09:00Z, 2026-01-05 09:30Z)')")
        conn.execute("INSERT INTO visit VALUES ('S2', '[2026-01-05 09:00Z, 2026-01-05 09:30Z)')")
        conn.commit()
        with pytest.raises(psycopg.errors.ExclusionViolation):
            conn.execute("INSERT INTO visit VALUES ('S1', '[2026-01-05 09:15Z, 2026-01-05 09:45Z)')")
        conn.rollback()
        assert conn.execute("SELECT similarity('Smith', 'Smyth') > 0.2").fetchone() == (True,)


def test_the_server_restarts_and_accepts_new_connections(pg_server, pg_url):
    with connect(pg_url) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (7)")
    stale = connect(pg_url)
    pg_server.restart()
    with pytest.raises(psycopg.OperationalError):
        stale.execute("SELECT 1")  # the old session ended with the old server
    stale.close()
    with connect(pg_url) as conn:  # the same URL: same socket and port
        assert conn.execute("SELECT n FROM kept").fetchall() == [(7,)]


def test_a_role_connects_over_tcp_with_its_password_only(pg_server, pg_url, monkeypatch):
    role = f"clerk_{uuid.uuid4().hex[:8]}"
    pg_server.create_role(role, "right horse battery")
    dbname = urlsplit(pg_url).path.lstrip("/")
    url = pg_server.tcp_url(dbname, role)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    with connect(url, password="right horse battery") as conn:
        assert conn.execute("SELECT current_user").fetchone() == (role,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(url, password="wrong")
    with pytest.raises(psycopg.OperationalError):
        connect(url)  # none at all
    monkeypatch.setenv("PGPASSWORD", "right horse battery")
    with connect(url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (role,)
    monkeypatch.setenv("PGPASSWORD", "wrong")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(url)


def test_no_url_carries_a_password(pg_server, pg_url):
    for url in (pg_url, pg_server.tcp_url("postgres", "someone")):
        parts = urlsplit(url)
        assert parts.password is None and parts.username in ("medsec_test", "someone")
    assert f"host={pg_server.socket_dir}" in pg_url and f"port={pg_server.port}" in pg_url


def test_sql_returns_rows_and_nothing_for_a_command(pg_server, pg_url):
    dbname = urlsplit(pg_url).path.lstrip("/")
    assert pg_server.sql("CREATE TABLE t (n int)", dbname) == []
    assert pg_server.sql("INSERT INTO t VALUES (1), (2)", dbname) == []
    assert pg_server.sql("SELECT n FROM t ORDER BY n", dbname) == [(1,), (2,)]
    assert pg_server.sql("SELECT 'Ann''s' LIKE 'Ann%'") == [(True,)]


def test_a_closed_server_is_gone_and_closing_twice_is_safe():
    """A second server of its own (the session's must stay up): close stops it and removes its directory."""
    if reason := require_postgres():
        skip_or_fail(reason)
    server = start_server()
    url = server.url("postgres")
    with connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    server.close()
    server.close()
    assert not server.socket_dir.exists()
    with pytest.raises(psycopg.OperationalError):
        connect(url)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", server.port)) != 0


def test_missing_postgres_skips_or_fails_when_services_are_required(monkeypatch):
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no binaries"):
        skip_or_fail("no binaries")
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="no binaries"):
        skip_or_fail("no binaries")
