"""Text in and out (issue 12): control and bidi characters refused in every text parameter
of every command (exit 2, nothing written), escaped in every table, note and error line,
whatever put them in the data; bounded error lines; CSV that a spreadsheet reads as data;
HTML reports and HTML messages escaped."""

import csv
import io
import json
import re
import textwrap

import pytest
import yaml
from helpers.files import snapshot

from medsec.audit import record as audit_record
from medsec.reports.html import render_page
from medsec.spreadsheet import csv_writer, safe_cell
from medsec.store.catalog import PATIENTS
from medsec.store.store import Store

ESC = "\x1b[31mred"
OSC52 = "\x1b]52;c;aGVsbG8=\x07"
HOSTILE = {"ESC": ESC, "OSC 52": OSC52, "CR": "Ann\rEvil", "NUL": "Ann\x00", "U+202E": "Ann\u202etxt.exe",
           "DEL": "Ann\x7f", "C1 CSI": "Ann\x9b2J"}
# Characters that may never reach a terminal raw (a table keeps its own newlines).
RAW_CONTROLS = [chr(c) for c in (*range(0x0a), *range(0x0b, 0x20), *range(0x7f, 0xa0))] + ["\u202e"]


@pytest.fixture
def clinic(practice):
    """An empty practice with P1 Ann Smith, physician S1 and every kind of message routed to the outbox."""
    practice.ok("patient", "add", "--first", "Ann", "--last", "Smith", "--dob", "1970-01-01",
                "--email", "ann@example.org", "--preferred-channel", "email")
    practice.ok("staff", "add", "--name", "Dr A", "--role", "physician", "--npi", "1234567893")
    practice.ok("staff", "hours", "S1", "--day", "mon-fri", "--from", "08:00", "--to", "17:00")
    (practice.home / "channels.yaml").write_text(
        "outbox: {folder: outbox}\nroutes: {email: outbox, sms: outbox, letter: outbox}\n")
    practice.ok("config", "show")  # the configuration's cache is up to date before a test takes a snapshot
    return practice


def no_raw_controls(text: str) -> bool:
    return not any(c in text for c in RAW_CONTROLS)


def plant_patient(m, **fields) -> None:
    """P1 changed straight in the store, as data written before input was checked."""
    with Store(str(m.home)).transaction() as txn:
        old = txn.get(PATIENTS, "P1")
        txn.put(PATIENTS, {**old, **fields}, old)


# -- refused at input: every command, every text parameter -----------------------
COMMANDS = [  # (argv with {} for the value, how the error names the parameter)
    (["patient", "add", "--first", "{}", "--last", "X", "--dob", "1980-01-01"], "--first"),
    (["patient", "edit", "P1", "--city", "{}"], "--city"),
    (["patient", "edit", "P1", "--last", "{}"], "--last"),
    (["patient", "note", "P1", "{}"], "TEXT"),
    (["patient", "archive", "P1", "--reason", "{}"], "--reason"),
    (["patient", "find", "{}"], "QUERY"),
    (["staff", "add", "--name", "{}", "--role", "nurse"], "--name"),
    (["appt", "book", "P1", "--provider", "S1", "--at", "2026-11-30 09:00", "--type", "follow-up",
      "--note", "{}"], "--note"),
    (["code", "search", "flu", "{}"], "TEXT"),
    (["--user", "{}", "patient", "show", "P1"], "--user"),
    (["audit", "--user", "{}"], "--user"),
    (["report", "aging", "--from", "{}"], "--from"),  # a command the report group makes on demand
]


@pytest.mark.parametrize("argv,field", COMMANDS, ids=lambda v: " ".join(v[:2]) if isinstance(v, list) else v)
@pytest.mark.parametrize("kind", HOSTILE)
def test_control_characters_are_refused_and_nothing_is_written(clinic, argv, field, kind):
    value = HOSTILE[kind]
    before = snapshot(clinic.home)
    result = clinic(*[value if a == "{}" else a for a in argv])
    assert result.exit_code == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"medsec: error: {field}: '") and "control character" in line
    assert no_raw_controls(result.stderr) and result.stdout == ""
    assert snapshot(clinic.home) == before


def test_the_user_from_the_environment_is_checked_too(clinic):
    result = clinic("audit", env={"MEDSEC_USER": "\x1b]0;pwned\x07"})
    assert result.exit_code == 2
    assert result.stderr == "medsec: error: $MEDSEC_USER: '\\x1b]0;pwned\\x07' holds the control character " \
                            "U+001B at position 1\n"


def test_installed_console_script_refuses_a_title_escape_in_user(clinic):
    proc = clinic.run("--user", "\x1b]0;x\x07", "audit", check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "medsec: error: --user: '\\x1b]0;x\\x07' holds the control character U+001B at position 1\n"


def test_an_argument_that_was_not_utf8_is_refused_and_a_file_name_still_prints(clinic, tmp_path):
    """Bytes that are not UTF-8 reach Python as lone surrogates ('\\udcff'): no record may keep
    them (JSON cannot), and a file named so is written and reported, escaped."""
    proc = clinic.run("--user", "\udcff\udcfe", "audit", check=False)  # the process gets bytes ff fe
    assert proc.returncode == 2
    assert proc.stderr == "medsec: error: --user: '\\udcff\\udcfe' holds a byte that is not UTF-8 (U+DCFF) " \
                          "at position 1\n"
    before = snapshot(clinic.home)
    refused = clinic.run("patient", "archive", "P1", "--reason", "ok\udcff", check=False)
    assert refused.returncode == 2 and "--reason" in refused.stderr and snapshot(clinic.home) == before
    target = f"{tmp_path}/\udcff.tgz"
    done = clinic.run("backup", target, "--json", check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["file"].endswith("\\udcff.tgz")


def test_multi_line_text_keeps_its_newlines_and_crlf_becomes_lf(clinic):
    clinic.ok("patient", "note", "P1", "first line\r\nsecond line\n")
    notes = clinic.json("patient", "note", "P1")
    assert notes[-1]["text"] == "first line\nsecond line"
    result = clinic("patient", "note", "P1", "a\tb")  # a tab is still a control character
    assert result.exit_code == 2 and "TEXT: 'a\\tb'" in result.stderr


def test_plugin_commands_are_checked_like_built_in_ones(clinic, tmp_path, monkeypatch):
    (tmp_path / "shout_plugin.py").write_text(textwrap.dedent("""
        import click
        from medsec import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.command("shout")
            @click.option("--word", required=True)
            @click.argument("target", type=click.Path())
            def shout(word, target):
                open(target, "w").write(word)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    env = {"MEDSEC_PLUGINS": "shout_plugin"}
    target = tmp_path / "out.txt"
    result = clinic("shout", "--word", OSC52, target, env=env)
    assert result.exit_code == 2 and result.stderr.startswith("medsec: error: --word: '\\x1b]52;c;")
    assert not target.exists()
    clinic.ok("shout", "--word", "hi", target, env=env)  # a Path parameter is the path type's business
    assert target.read_text() == "hi"


@pytest.mark.parametrize("argv,limit", [
    (["patient", "add", "--first", "{}", "--last", "X", "--dob", "1980-01-01"], 100),
    (["patient", "edit", "P1", "--city", "{}"], 1000),
    (["patient", "note", "P1", "{}"], 20000),
])
def test_every_text_parameter_has_a_length_limit(clinic, argv, limit):
    before = snapshot(clinic.home)
    result = clinic(*["x" * (limit + 1) if a == "{}" else a for a in argv])
    assert result.exit_code == 2 and f"is longer than {limit} characters" in result.stderr
    assert len(result.stderr) < 200 and snapshot(clinic.home) == before


# -- error lines: escaped and bounded, whatever raised them ----------------------
@pytest.mark.parametrize("argv", [
    ["x" * 100_000],                                       # click: no such command
    ["patient", "list", "--format", "x" * 100_000],        # click: not one of the choices
    ["patient", "add", "--first", "x" * 100_000],          # medsec: too long
    ["patient", "show", "P1", "--\x1b]0;t\x07" + "y" * 100_000],  # click: no such option, with ESC
])
def test_an_error_line_is_one_short_escaped_line(clinic, argv):
    result = clinic(*argv)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("medsec: error: ") and len(line) <= 700 and no_raw_controls(line)


# -- printed back: tables, records, notes and the audit list escape what reaches them
def test_tables_and_records_show_control_characters_escaped(clinic):
    plant_patient(clinic, first=OSC52 + "Ann", last="Smith\rEVIL\nROW", city="Bos\u202enot", address="\x00\x9b2J")
    env = {"COLUMNS": "80"}
    for argv in (["patient", "list"], ["patient", "show", "P1"], ["patient", "find", "smith"]):
        out = clinic.ok(*argv, env=env).stdout
        assert no_raw_controls(out), argv
        assert "\\x1b]52;c;aGVsbG8=\\x07Ann" in out and "Smith\\rEVIL\\nROW" in out
    table = clinic.ok("patient", "list", env=env).stdout.splitlines()
    assert len(table) == 3  # header, rule, one row: the cell's newline did not break the row
    assert "Bos\\u202enot" in clinic.ok("patient", "show", "P1", env=env).stdout


def test_json_and_yaml_keep_the_data_exact_and_never_carry_raw_esc(clinic):
    plant_patient(clinic, first=OSC52, last="Smith\u202e")
    assert clinic.json("patient", "show", "P1")["first"] == OSC52
    out = clinic.ok("patient", "show", "P1", "--format", "yaml").stdout
    assert "\x1b" not in out and "\x07" not in out
    assert yaml.safe_load(out)["first"] == OSC52 and yaml.safe_load(out)["last"] == "Smith\u202e"


def test_audit_list_escapes_a_user_name_written_before_the_check(clinic):
    audit_record(str(clinic.home), user="\x1b]0;pwned\x07maria", command="patient show", action="read",
                 ids=["P1"])
    out = clinic.ok("audit", env={"COLUMNS": "80"}).stdout
    assert "\\x1b]0;pwned\\x07maria" in out and no_raw_controls(out)


def test_staff_names_in_staff_yaml_are_escaped_in_tables(clinic):
    roster = clinic.home / "staff.yaml"
    roster.write_text(roster.read_text().replace("name: Dr A", 'name: "Dr \\e]0;pwned\\a A"'))
    result = clinic("staff", "list", env={"COLUMNS": "80"})
    if result.exit_code == 0:  # a roster the configuration check lets through still prints safely
        assert "\\x1b]0;pwned\\x07" in result.stdout
    assert no_raw_controls(result.stdout) and no_raw_controls(result.stderr)


# -- CSV ------------------------------------------------------------------------
@pytest.mark.parametrize("cell,expected", [
    ("=1+1", "'=1+1"), ("+1", "+1"), ("-12.50", "-12.50"), ("+3.5", "+3.5"), (".5", ".5"), ("42", "42"),
    (" =1+1", "' =1+1"), ("\t=cmd|' /C calc'!A0", "'\t=cmd|' /C calc'!A0"), ("  \r=1", "'  \r=1"),
    ("@SUM(A1)", "'@SUM(A1)"), ("-2+3", "'-2+3"), ("+cmd", "'+cmd"), ("\uff1d1+1", "'\uff1d1+1"),
    ("\uff0b1", "'\uff0b1"), ("\uff0d1", "'\uff0d1"), ("\uff20x", "'\uff20x"), ("\u3000=1", "'\u3000=1"),
    ("-1e5", "'-1e5"), ("-inf", "'-inf"), ("Ann", "Ann"), (" Ann", " Ann"), ("", ""), (None, ""),
    ("a=b", "a=b"),
])
def test_safe_cell_neutralises_formula_starts(cell, expected):
    assert safe_cell(cell) == expected


def test_csv_quotes_a_cell_holding_cr_or_lf():
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(["id", "name"])
    writer.writerow(["P1", "a\r=1+1"])
    writer.writerow(["P2", "b\n=2"])
    writer.writerow(["P3", "-12.50"])
    text = out.getvalue()
    assert text == 'id,name\n"P1","a\r=1+1"\nP2,"b\n=2"\nP3,-12.50\n'
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["id", "name"], ["P1", "a\r=1+1"], ["P2", "b\n=2"], ["P3", "-12.50"]]


def test_csv_output_and_export_quote_and_neutralise(clinic, tmp_path):
    plant_patient(clinic, first=" =HYPERLINK(\"http://x\")", last="Smith\r=1+1", city="\t=cmd")
    for text in (clinic.ok("patient", "list", "--format", "csv").stdout,
                 clinic.ok("patient", "show", "P1", "--format", "csv").stdout):
        rows = list(csv.reader(io.StringIO(text, newline="")))
        cells = [c for row in rows for c in row]
        assert "' =HYPERLINK(\"http://x\")" in cells and "Smith\r=1+1" in cells
        assert '"Smith\r=1+1"' in text
    assert "'\t=cmd" in text  # the city, in the record's field/value rows
    out = tmp_path / "patients.csv"
    clinic.ok("patient", "export", "--format", "csv", "-o", out)
    text = out.read_bytes().decode()
    assert '"Smith\r=1+1"' in text and "' =HYPERLINK" in text


# -- HTML -----------------------------------------------------------------------
def test_html_report_escapes_markup_and_control_characters():
    rows = [{"payer": "<script>alert(1)</script>", "total": "10.00"},
            {"payer": "A & B \x1b]0;x\x07 " + "&" * 40, "total": "5.00"}]
    page = render_page("Claims <b>", "sub\u202e", ["payer", "total"], rows)
    assert "<script>" not in page and "&lt;script&gt;" in page and "<b>" not in page
    assert "\x1b" not in page and "\u202e" not in page and "\\x1b]0;x\\x07" in page
    # a chart label is cut before escaping, so no entity is cut in half
    labels = [line for line in page.splitlines() if line.startswith('<text x="0" y="') and "A &amp; B" in line]
    assert labels and not any(re.search(r"&[#a-z0-9]*</text>", line) for line in labels)


def test_html_messages_escape_a_patient_name(clinic):
    plant_patient(clinic, first="<script>alert(1)</script>", last="O'Brien & Sons")
    appt = clinic.json("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-27 09:00", "--type", "follow-up")
    shown = clinic.json("remind", "preview", appt["id"])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown["html"] and "<script>" not in shown["html"]
    assert "O&#39;Brien &amp; Sons" in shown["html"]
    assert "<script>alert(1)</script>" in shown["text"]  # the text part is plain text, not HTML
    clinic.ok("remind", "send")
    (message,) = [json.loads(p.read_text()) for p in (clinic.home / "outbox").glob("*.json")]
    assert "&lt;script&gt;" in message["html"] and "<script>" not in message["html"]


def test_messages_escape_control_characters_stored_before_the_check(clinic):
    plant_patient(clinic, first=OSC52 + "Ann")
    appt = clinic.json("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-27 09:00", "--type", "follow-up")
    shown = clinic.json("remind", "preview", appt["id"])
    for part in (shown["text"], shown["html"], shown["subject"]):
        assert "\x1b" not in part and "\x07" not in part
    assert "Dear \\x1b]52;c;aGVsbG8=\\x07Ann Smith" in shown["text"]
    assert no_raw_controls(clinic.ok("remind", "preview", appt["id"]).stdout.replace("\n", ""))
