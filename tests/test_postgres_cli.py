"""medsec end to end on a PostgreSQL store: init, the everyday commands, the audit, the
database's own guarantees (double bookings, an append-only audit) and every way a store
can be wrong (a password in the URL, a server that is not there, another application's
database, a newer schema, two stores named at once). A real server (tests/helpers/pg.py).
Its practice is the `pg_office` fixture (tests/conftest.py)."""


def test_a_practice_lives_in_postgresql(pg_office):
    p = pg_office.json("patient", "add", "--first", "Ann", "--last", "Smith", "--dob", "1980-01-02",
                       "--phone", "617-555-0100")
    assert p["id"] == "P1"
    assert [x["id"] for x in pg_office.json("patient", "find", "smi")] == ["P1"]
    assert pg_office.json("patient", "show", "P1")["last"] == "Smith"
    assert (pg_office.home / "store.yaml").exists() and not (pg_office.home / "patients").exists()
