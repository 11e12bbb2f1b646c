"""The command-line contract: formats, dates, clock, version, lazy imports."""

import subprocess
import sys

import pytest

from medsec import clock
from medsec.errors import InvalidInput


def test_output_formats(practice):
    practice.ok("patient", "add", "--first", "Ana", "--last", "Lopez", "--dob", "1980-02-03")
    table = practice.ok("patient", "list").stdout
    assert table.splitlines()[0].split()[:3] == ["id", "last", "first"]
    csv_out = practice.ok("patient", "list", "--format", "csv").stdout
    assert csv_out.splitlines() == ["id,last,first,dob,phone,status", "P1,Lopez,Ana,1980-02-03,,active"]
    yaml_out = practice.ok("patient", "show", "P1", "--format", "yaml").stdout
    assert "id: P1" in yaml_out
    assert practice.json("patient", "list")[0]["id"] == "P1"
    assert practice.ok("patient", "list", "--limit", "1", "--json").json()[0]["id"] == "P1"


def test_empty_list_is_not_an_error(practice):
    assert practice.ok("patient", "list").stdout == ""
    assert practice.ok("patient", "list", "--json").stdout.strip() == "[]"


@pytest.mark.parametrize("text,expected", [
    ("today", "2026-11-26"), ("tomorrow", "2026-11-27"), ("yesterday", "2026-11-25"),
    ("thu", "2026-11-26"), ("mon", "2026-11-30"), ("friday", "2026-11-27"),
    ("+3d", "2026-11-29"), ("-1w", "2026-11-19"), ("+1m", "2026-12-26"),
    ("2026-12-01", "2026-12-01"), ("12/01/2026", "2026-12-01"),
])
def test_people_dates(monkeypatch, text, expected):
    monkeypatch.setenv("MEDSEC_NOW", "2026-11-26T10:00:00")
    assert clock.parse_date(text).isoformat() == expected


@pytest.mark.parametrize("text", ["2026-02-30", "13/01/2026", "next blursday", "", "+3x"])
def test_bad_dates(monkeypatch, text):
    monkeypatch.setenv("MEDSEC_NOW", "2026-11-26T10:00:00")
    with pytest.raises(InvalidInput):
        clock.parse_date(text)


def test_parse_datetime_local_and_offset():
    tz = clock._zone("America/New_York")
    assert clock.iso(clock.parse_datetime("2026-12-01 09:30", tz)) == "2026-12-01T09:30:00-05:00"
    assert clock.iso(clock.parse_datetime("2026-07-01T09:30:00-04:00", tz)) == "2026-07-01T09:30:00-04:00"
    with pytest.raises(InvalidInput):
        clock.parse_datetime("2026-12-01 25:00", tz)


def test_medsec_now_moves_today(practice):
    practice.ok("patient", "add", "--first", "A", "--last", "B", "--dob", "2026-11-26")
    later = practice("patient", "add", "--first", "C", "--last", "D", "--dob", "2026-11-27")
    assert later.exit_code == 2  # born tomorrow
    moved = practice("patient", "add", "--first", "C", "--last", "D", "--dob", "2026-11-27",
                     env={"MEDSEC_NOW": "2026-12-01T08:00:00"})
    assert moved.exit_code == 0
    assert practice("patient", "list", env={"MEDSEC_NOW": "not a date"}).exit_code == 2


def _imported_modules(*args) -> set[str]:
    code = ("import sys\nfrom medsec.cli import cli\n"
            f"try:\n    cli.main(args={list(args)!r}, prog_name='medsec')\n"
            "except SystemExit:\n    pass\n"
            "print(' '.join(sorted(sys.modules)), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return set(proc.stderr.split())


def test_version_pays_for_nothing_it_does_not_use():
    loaded = _imported_modules("--version")
    for heavy in ("importlib.metadata", "pluggy", "tinydb", "yaml", "tabulate", "icalendar", "jinja2"):
        assert heavy not in loaded, heavy


def test_json_show_pays_for_no_tables_yaml_or_plugins(demo):
    demo.ok("patient", "show", "P1")  # warms the configuration cache, as any earlier command would
    loaded = _imported_modules("--data-dir", str(demo.home), "patient", "show", "P1", "--json")
    for heavy in ("importlib.metadata", "pluggy", "yaml", "tabulate", "icalendar", "jinja2", "tinydb", "psycopg"):
        assert heavy not in loaded, heavy
    assert "medsec.store.views" in loaded  # the command got to its records (read without TinyDB)


@pytest.mark.parametrize("command", [
    ["patient", "add", "--first", "Nia", "--last", "Okafor", "--dob", "1990-02-03", "--phone", "617-555-0142"],
    ["appt", "book", "P1", "--provider", "S1", "--at", "{slot}", "--type", "follow-up"],
])
def test_a_write_as_json_pays_for_no_tables_nor_the_day_sheet(demo, command):
    """A write printed as JSON costs no tabulate (nor the importlib.metadata it loads),
    and a booking none of the billing the day sheet reads."""
    slot = demo.json("appt", "slots", "--provider", "S1", "--type", "follow-up", "--patient", "P1")[0]["start"]
    command = [arg.replace("{slot}", slot) for arg in command] + ["--json"]
    loaded = _imported_modules("--data-dir", str(demo.home), *command)
    assert "medsec.store.commit" in loaded  # it committed
    # ... and built no plugin manager: no plugin that would load listens to its event
    for heavy in ("pluggy", "tabulate", "importlib.metadata", "email.parser", "medsec.reports.daysheet",
                  "medsec.billing.accounts"):
        assert heavy not in loaded, heavy


# OpenSSL (hashlib, secrets, hmac) costs ~5 ms to load: the everyday reads and
# writes must not pay for it (attachments and backups hash, and load it then).
OPENSSL = ("_hashlib", "hashlib", "secrets", "hmac")


@pytest.mark.parametrize("command", [
    ["patient", "show", "P1", "--json"],
    ["appt", "day", "2026-11-26", "--provider", "S1", "--json"],
    ["patient", "add", "--first", "Nia", "--last", "Okafor", "--dob", "1990-02-03", "--json"],
])
def test_everyday_commands_do_not_load_openssl(demo, command):
    demo.ok("patient", "show", "P1")  # warms the configuration cache, as any earlier command would
    loaded = _imported_modules("--data-dir", str(demo.home), "--user", "tester", *command)
    assert "medsec.store.store" in loaded and "medsec.store.views" in loaded  # the command got to its records
    assert [m for m in OPENSSL if m in loaded] == []


def test_python_dash_m(practice):
    proc = subprocess.run([sys.executable, "-m", "medsec", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("medsec ")
