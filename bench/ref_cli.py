"""The benchmark's reference: a minimal click CLI over an indexed SQLite database.

Same interpreter and CLI framework as medsec (click; orjson for JSON), the
same queries with the same meaning (a name query matches patients any of
whose name words starts with each query word, sorted by last name, first
name, birth date and id), so that comparing the two isolates the storage.

The appointment commands follow medsec's scheduling rules: a provider's
weekly working blocks (staff_hours), a type's duration and buffer, cancelled
visits freeing their time, free slots as each free span's start and then
every slot_minutes on the clock grid. bench/apptgen.py fills the tables.
"""

import csv
import re
import sqlite3
import sys
from datetime import UTC, date, datetime, time, timedelta

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
APPT_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS staff (
    id TEXT PRIMARY KEY, name TEXT, role TEXT, npi TEXT, active INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS staff_hours (
    staff TEXT NOT NULL, weekday INTEGER NOT NULL, start TEXT NOT NULL, "end" TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS staff_hours_staff ON staff_hours(staff, weekday);
CREATE TABLE IF NOT EXISTS appointment_types (
    name TEXT PRIMARY KEY, duration INTEGER NOT NULL, buffer INTEGER NOT NULL, performers TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS appointments (
    id INTEGER PRIMARY KEY, patient_id INTEGER, provider TEXT NOT NULL, type TEXT NOT NULL,
    start TEXT NOT NULL, "end" TEXT NOT NULL, room TEXT, status TEXT NOT NULL, note TEXT,
    series_id TEXT, series TEXT, uid TEXT, source TEXT, created TEXT, updated TEXT, checked_in TEXT,
    cancel_reason TEXT, late_cancel INTEGER, history TEXT);
CREATE INDEX IF NOT EXISTS appointments_provider_start ON appointments(provider, start);
CREATE INDEX IF NOT EXISTS appointments_patient ON appointments(patient_id);
"""
APPT_COLUMNS = ["id", "patient_id", "provider", "type", "start", "end", "room", "status", "note",
                "series_id", "series", "uid", "source", "created", "updated", "checked_in",
                "cancel_reason", "late_cancel", "history"]
# Busy: not cancelled. A visit's time runs to its end plus its type's buffer.
BUSY = """
SELECT a.start, a."end", coalesce(t.buffer, 0) AS buffer FROM appointments a
LEFT JOIN appointment_types t ON t.name = a.type
WHERE a.provider = ? AND a.start >= ? AND a.start < ? AND a.status != 'cancelled'
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


def appointment_row(record: dict) -> tuple:
    """A medsec-shaped appointment record as a row of the appointments table."""
    out = dict(record, id=int(record["id"][1:]), patient_id=int(record["patient_id"][1:]),
               late_cancel=int(record["late_cancel"]), history=orjson.dumps(record["history"]).decode(),
               series=orjson.dumps(record["series"]).decode() if record["series"] else None)
    return tuple(out[c] for c in APPT_COLUMNS)


def appointment(row: sqlite3.Row) -> dict:
    """A row of the appointments table as medsec prints the record."""
    out = {c: row[c] for c in APPT_COLUMNS}
    out.update(id=f"A{row['id']}", patient_id=f"P{row['patient_id']}", late_cancel=bool(row["late_cancel"]),
               history=orjson.loads(row["history"]), series=orjson.loads(row["series"]) if row["series"] else None)
    return out


def emit(data) -> None:
    sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")


def stamp() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


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


# -- appointments -----------------------------------------------------------------
class Practice:
    """The settings every appointment command reads: zone, slot grid, the clock."""

    def __init__(self, db: sqlite3.Connection):
        from zoneinfo import ZoneInfo

        settings = dict(db.execute("SELECT key, value FROM settings").fetchall())
        self.tz = ZoneInfo(settings["time_zone"])
        self.step = timedelta(minutes=int(settings["slot_minutes"]))
        self.now = datetime.now(self.tz)

    def at(self, day: date, clock: str) -> datetime:
        hours, minutes = clock.split(":")
        return datetime.combine(day, time(int(hours), int(minutes)), self.tz)

    def iso(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).replace(microsecond=0).isoformat()


def day_bounds(first: date, days: int = 1) -> tuple[str, str]:
    """start >= a and start < b selects local days first .. first + days - 1 (starts are local ISO)."""
    return first.isoformat(), (first + timedelta(days=days)).isoformat()


def working_blocks(db, practice: Practice, staff_id: str, day: date) -> list[tuple[datetime, datetime]]:
    rows = db.execute('SELECT start, "end" FROM staff_hours WHERE staff = ? AND weekday = ? ORDER BY start',
                      (staff_id, day.weekday()))
    return [(practice.at(day, a), practice.at(day, b)) for a, b in rows]


def appointment_type(db, name: str) -> sqlite3.Row:
    row = db.execute("SELECT * FROM appointment_types WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise click.ClickException(f"unknown appointment type {name!r}")
    return row


@cli.command("appt-day")
@click.argument("day")
@click.option("--provider", required=True)
@click.pass_obj
def appt_day(db, day, provider):
    """One provider's day sheet with the patients' names."""
    rows = db.execute(
        'SELECT a.*, p.first, p.last FROM appointments a LEFT JOIN patients p ON p.id = a.patient_id '
        'WHERE a.provider = ? AND a.start >= ? AND a.start < ? ORDER BY a.start, a.provider',
        (provider.upper(), *day_bounds(date.fromisoformat(day))))
    emit([{"time": r["start"][11:16], "id": f"A{r['id']}", "patient": f"{r['last']}, {r['first']}",
           "patient_id": f"P{r['patient_id']}", "type": r["type"], "status": r["status"], "room": r["room"],
           "provider": r["provider"], "start": r["start"], "end": r["end"]} for r in rows])


@cli.command("appt-list")
@click.option("--patient", required=True)
@click.pass_obj
def appt_list(db, patient):
    """A patient's appointments from today on, two years ahead (as medsec's default range)."""
    today = Practice(db).now.date()
    rows = db.execute("SELECT * FROM appointments WHERE patient_id = ? AND start >= ? AND start < ? "
                      "ORDER BY start, provider, id", (int(patient[1:]), *day_bounds(today, 365 * 2 + 1)))
    emit([appointment(r) for r in rows])


def free_spans(blocks, busy):
    """Working blocks minus busy spans."""
    free = []
    for block in blocks:
        pieces = [block]
        for b_start, b_end in busy:
            pieces = [cut for piece in pieces for cut in cut_out(piece, b_start, b_end)]
        free += pieces
    return sorted(free)


def cut_out(piece, b_start, b_end):
    """What is left of `piece` around the busy span [b_start, b_end)."""
    p_start, p_end = piece
    if b_end <= p_start or b_start >= p_end:
        return [piece]
    return [span for span in ((p_start, b_start), (b_end, p_end)) if span[0] < span[1]]


def slot_starts(free, length: timedelta, step: timedelta, not_before: datetime):
    """Each free span's own start (visits back to back), then the clock grid inside it."""
    for f_start, f_end in free:
        first = max(f_start, not_before)
        midnight = datetime.combine(f_start.date(), time(0), f_start.tzinfo)
        grid = midnight + (-(-(first - midnight) // step)) * step
        starts = [first] if first == f_start else []
        while grid + length <= f_end:
            if grid != f_start:
                starts.append(grid)
            grid += step
        yield from (s for s in starts if s + length <= f_end)


@cli.command("appt-slots")
@click.option("--provider", required=True)
@click.option("--type", "type_name", required=True)
@click.option("--from", "first", required=True)
@click.option("--days", type=int, default=7)
@click.pass_obj
def appt_slots(db, provider, type_name, first, days):
    """Free slots: working hours minus the booked intervals of one SQL query."""
    practice = Practice(db)
    kind = appointment_type(db, type_name)
    provider = provider.upper()
    start_day = date.fromisoformat(first)
    busy: dict[str, list] = {}
    for start, end, buffer in db.execute(BUSY, (provider, *day_bounds(start_day, days))):
        busy.setdefault(start[:10], []).append(
            (datetime.fromisoformat(start).astimezone(practice.tz),
             datetime.fromisoformat(end).astimezone(practice.tz) + timedelta(minutes=buffer)))
    length = timedelta(minutes=kind["duration"])
    need = length + timedelta(minutes=kind["buffer"])
    out = []
    for offset in range(days):
        day = start_day + timedelta(days=offset)
        free = free_spans(working_blocks(db, practice, provider, day), busy.get(day.isoformat(), []))
        out += [{"start": practice.iso(s), "end": practice.iso(s + length), "provider": provider, "room": ""}
                for s in slot_starts(free, need, practice.step, practice.now)]
    emit(out)


@cli.command("appt-book")
@click.argument("patient_id")
@click.option("--provider", required=True)
@click.option("--at", "at", required=True, help="'YYYY-MM-DD HH:MM', local time.")
@click.option("--type", "type_name", required=True)
@click.pass_obj
def appt_book(db, patient_id, provider, at, type_name):
    """Book one appointment after medsec's checks, all inside one write transaction."""
    practice = Practice(db)
    kind = appointment_type(db, type_name)
    day, clock = at.split(" ")
    start = practice.at(date.fromisoformat(day), clock)
    end = start + timedelta(minutes=kind["duration"])
    if start < practice.now:
        raise click.ClickException(f"{at} is in the past")
    provider, patient = provider.upper(), int(patient_id[1:])
    db.execute("BEGIN IMMEDIATE")
    try:
        new_id = book_checked(db, practice, kind, patient, provider, start, end)
        db.commit()
    except BaseException:
        db.rollback()
        raise
    emit(appointment(db.execute("SELECT * FROM appointments WHERE id = ?", (new_id,)).fetchone()))


def book_checked(db, practice: Practice, kind: sqlite3.Row, patient: int, provider: str,
                 start: datetime, end: datetime) -> int:
    """Refuse what medsec refuses (performer, patient, hours, overlaps); insert; the new id."""
    member = db.execute("SELECT * FROM staff WHERE id = ?", (provider,)).fetchone()
    if member is None or not member["active"] or member["role"] not in kind["performers"].split(","):
        raise click.ClickException(f"{provider} does not perform {kind['name']} appointments")
    row = db.execute("SELECT status FROM patients WHERE id = ?", (patient,)).fetchone()
    if row is None or row["status"] != "active":
        raise click.ClickException(f"no active patient P{patient}")
    if not db.execute('SELECT 1 FROM staff_hours WHERE staff = ? AND weekday = ? AND start <= ? AND "end" >= ?',
                      (provider, start.weekday(), f"{start:%H:%M}", f"{end:%H:%M}")).fetchone():
        raise click.ClickException(f"{start:%H:%M}-{end:%H:%M} is outside {provider}'s working hours")
    overlap = ('SELECT a.id FROM appointments a LEFT JOIN appointment_types t ON t.name = a.type '
               'WHERE {who} AND a.status != \'cancelled\' AND a.start >= ? AND a.start < ? '
               'AND unixepoch(a.start) < ? AND unixepoch(a."end") + 60 * coalesce(t.buffer, 0) > ?')
    day = day_bounds(start.date())
    taken = db.execute(overlap.format(who="a.provider = ?"), (
        provider, *day, int((end + timedelta(minutes=kind["buffer"])).timestamp()), int(start.timestamp())))
    clash = taken.fetchone() or db.execute(overlap.format(who="a.patient_id = ?"), (
        patient, *day, int(end.timestamp()), int(start.timestamp()))).fetchone()
    if clash:
        raise click.ClickException(f"cannot book: A{clash['id']} overlaps")
    new_id = db.execute("SELECT coalesce(max(id), 0) + 1 FROM appointments").fetchone()[0]
    now = practice.iso(practice.now)
    record = {"id": f"A{new_id}", "patient_id": f"P{patient}", "provider": provider, "type": kind["name"],
              "start": practice.iso(start), "end": practice.iso(end), "room": "", "status": "booked",
              "note": "", "series_id": "", "series": None, "uid": f"A{new_id}-ref@medsec", "source": "medsec",
              "created": now, "updated": now, "checked_in": "", "cancel_reason": "", "late_cancel": False,
              "history": [{"at": now, "by": "bench", "action": "booked", "status": "booked"}]}
    db.execute(f"INSERT INTO appointments VALUES ({', '.join('?' * len(APPT_COLUMNS))})",
               appointment_row(record))
    return new_id


if __name__ == "__main__":
    cli()
