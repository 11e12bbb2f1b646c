"""The benchmark's reference: a minimal click CLI over an indexed SQLite database.

Same interpreter and CLI framework as medsec (click; orjson for JSON), the
same queries with the same meaning (a name query matches patients any of
whose name words starts with each query word, sorted by last name, first
name, birth date and id), so that comparing the two isolates the storage.
"""

import csv
import re
import sqlite3
import sys
from datetime import datetime, timezone

import click
import orjson

FIELDS = ["first", "last", "dob", "sex", "phone", "email", "address", "city", "state", "zip"]
SCHEMA = """
CREATE TABLE IF NOT EXISTS patients (
    id INTEGER PRIMARY KEY, first TEXT, last TEXT, dob TEXT, sex TEXT, phone TEXT, email TEXT,
    address TEXT, city TEXT, state TEXT, zip TEXT, status TEXT, created TEXT, updated TEXT);
CREATE INDEX IF NOT EXISTS patients_dob ON patients(dob);
CREATE TABLE IF NOT EXISTS name_words (
    word TEXT NOT NULL, patient INTEGER NOT NULL, PRIMARY KEY (word, patient)) WITHOUT ROWID;
"""
INSERT_PATIENT = (f"INSERT INTO patients ({', '.join(FIELDS)}, status, created, updated) "
                  f"VALUES ({', '.join('?' * len(FIELDS))}, 'active', ?, ?)")
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def name_words(first: str, last: str) -> set[str]:
    return set(words(f"{first} {last}"))


def record(row: sqlite3.Row) -> dict:
    out = dict(row)
    out["id"] = f"P{row['id']}"
    return out


def emit(data) -> None:
    sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")


def stamp() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@click.group()
@click.option("--db", "db_path", required=True, type=click.Path(dir_okay=False), help="SQLite file.")
@click.pass_context
def cli(ctx, db_path):
    """Reference patient commands over SQLite."""
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    ctx.obj = db
    ctx.call_on_close(db.close)


@cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.pass_obj
def import_(db, file):
    """Import a CSV with medsec's column names: executemany in one transaction."""
    with open(file, newline="", encoding="utf-8") as f:
        rows = [[r[k] for k in FIELDS] for r in csv.DictReader(f)]
    db.executescript(SCHEMA)
    now = stamp()
    with db:
        first_id = (db.execute("SELECT coalesce(max(id), 0) FROM patients").fetchone()[0]) + 1
        db.executemany(INSERT_PATIENT, [row + [now, now] for row in rows])
        db.executemany("INSERT INTO name_words VALUES (?, ?)",
                       [(w, first_id + i) for i, row in enumerate(rows)
                        for w in name_words(row[0], row[1])])
    emit({"imported": len(rows), "first_id": f"P{first_id}", "last_id": f"P{first_id + len(rows) - 1}"})


@cli.command("find")
@click.argument("query", nargs=-1, required=True)
@click.pass_obj
def find(db, query):
    """Patients with a name word starting with each query word."""
    query_words = words(" ".join(query))
    if not query_words:
        raise click.UsageError("nothing to search for")
    match = " AND ".join(["id IN (SELECT patient FROM name_words WHERE word >= ? AND word < ?)"]
                         * len(query_words))
    args = [bound for w in query_words for bound in (w, w + "\x7f")]
    rows = db.execute(f"SELECT * FROM patients WHERE status = 'active' AND {match} "
                      f"ORDER BY lower(last), lower(first), dob, id", args)
    emit([record(r) for r in rows])


@cli.command("show")
@click.argument("patient_id")
@click.pass_obj
def show(db, patient_id):
    """One patient by id (P42)."""
    row = db.execute("SELECT * FROM patients WHERE id = ?", (int(patient_id[1:]),)).fetchone()
    if row is None:
        raise click.ClickException(f"no patient {patient_id}")
    emit(record(row))


@cli.command("add")
@click.option("--first", required=True)
@click.option("--last", required=True)
@click.option("--dob", required=True)
@click.option("--sex", default="U")
@click.option("--phone", default="")
@click.option("--email", default="")
@click.option("--address", default="")
@click.option("--city", default="")
@click.option("--state", default="")
@click.option("--zip", "zip_code", default="")
@click.pass_obj
def add(db, first, last, dob, sex, phone, email, address, city, state, zip_code):
    """Register a patient unless one with the same name and birth date exists; commit."""
    key = (words(first), words(last))
    with db:
        for other in db.execute("SELECT id, first, last FROM patients WHERE dob = ?", (dob,)):
            if (words(other["first"]), words(other["last"])) == key:
                raise click.ClickException(f"a patient with the same name and date of birth exists: "
                                           f"P{other['id']}")
        now = stamp()
        cursor = db.execute(INSERT_PATIENT, (first, last, dob, sex, phone, email, address, city,
                                             state, zip_code, now, now))
        new_id = cursor.lastrowid
        db.executemany("INSERT INTO name_words VALUES (?, ?)",
                       [(w, new_id) for w in name_words(first, last)])
    emit(record(db.execute("SELECT * FROM patients WHERE id = ?", (new_id,)).fetchone()))


if __name__ == "__main__":
    cli()
