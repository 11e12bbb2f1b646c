"""Tables for people: they fit the terminal, name staff beside their ids, say times as people
do, page on a terminal, are bold only there, say so when empty, and confirm in a few fields.

The walk over every list, show and day command runs the installed command on a demo practice
made by `medsec init --demo --security open` (the issue asks for it); the rest run in-process.
"""

import json
import os
import re
import shlex
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from helpers.cli import MEDSEC_BIN
from helpers.terminal import run_in_terminal, terminal_env

from medsec.cli.output import render_text, short_name
from medsec.clock import day_for_people, for_people

WIDTH = 80

# Records of every kind the demo lacks, so that no list is empty (MEDSEC_USER=S8 for the meeting:
# invitations need an organizer with an email).
SEED = [
    'call log --from 617-555-0100 --reason "refill question about a long medication name" --for S1 --urgent',
    'task add "Call back about the bill and the statement mailed in November" --for S5 --due +2d --patient P1',
    'memo new --to S1,S2 --subject "Fire drill" --var body="Fire drill at 3pm"',
    'referral add P1 --to "Boston Cardiology Associates at Longwood" --reason "chest pain on exertion" '
    '--dx R07.9 --fax 617-555-0400 --urgent',
    'refill request P1 --drug atorvastatin --dose "20 mg once daily" --pharmacy "CVS Main St" '
    '--pharmacy-fax 617-555-0177 --via phone',
    'lab order P1 --physician S1 --dx E78.5 --facility "Quest Boston" --test "Lipid panel" --fasting',
    'meeting schedule --title "Flu season planning for the whole front office" --at "2026-12-10 08:00" '
    '--duration 45 --attendees S1,S2,S4',
    "appt waitlist add P2 --type follow-up --provider S1 --before 2026-12-15",
    "staff off S1 --from 2026-12-24 --to 2026-12-31 --reason holidays",
    'patient note P1 "Prefers morning appointments, and calls from her daughter are fine"',
    'mail receive --from "Boston Radiology" --subject "MRI report" --patient P1',
    "remind send --for tomorrow",
    "bill charge A14 --code 99213 --dx E11.9 && claim create --appt A14",  # one after the other
    "elig check P1 P2 -o -",  # an eligibility inquiry and the 270's file record
]
# Commands that list or show records beyond those named list/show/day, with their arguments.
MORE = ["appt slots --any --type follow-up", "patient find smith", "bill charges P1", "bill ledger P1",
        "bill balance P1", "staff hours S1", "staff off S1", "code search diabetes", "code tables",
        "remind followups", "patient note P1", "audit --limit 50", "plugins", "whoami"]
# Show commands' arguments that are not the first id of their group's list.
SHOW_ARGS = {"patient show": "P1", "staff show": "S1", "code show": "E11.9", "appt day": "tomorrow",
             "patient coverage list": "P1", "report disclosures": "P1"}
NOT_TABLES = {"config show", "outbox show"}  # print a configuration file, a message, as they are


@pytest.fixture(autouse=True)
def _no_terminal_size(monkeypatch):
    """The tests' own COLUMNS or LINES (a developer's shell) must not fit their tables."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


def _run(home, line, env=None, user="tester"):
    import subprocess

    full = {**os.environ, **(env or {}), "MEDSEC_HOME": str(home), "MEDSEC_USER": user, "COLUMNS": str(WIDTH),
            "MEDSEC_NOW": "2026-11-26T10:00:00", "MEDSEC_AGENT": "off", "MEDSEC_PLUGINS": "",
            "MEDSEC_DISABLE_PLUGINS": ""}
    full.pop("LINES", None)
    return subprocess.run([MEDSEC_BIN, *shlex.split(line)], capture_output=True, text=True, env=full)


def _lines_to_walk(home, pool) -> list[str]:
    """Every list, show and day command of the command tree (and report), with arguments: a show
    command shows the first record its group lists."""
    from medsec.cli.reference import command_tree

    lines, shows = list(MORE), []
    for ctx in command_tree():
        words = ctx.command_path.split()[1:]
        path = " ".join(words)
        if not words or path in NOT_TABLES or not (words[-1] in ("list", "show", "day") or words[0] == "report"):
            continue
        if path in SHOW_ARGS:
            lines.append(f"{path} {SHOW_ARGS[path]}")
        elif words[-1] == "show":
            shows.append(path)
        else:
            lines.append(path)
    listed = pool.map(lambda path: (path, _run(home, path.replace(" show", " list") + " --json")), shows)
    for path, proc in listed:
        records = json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else []
        assert records, f"nothing to show for '{path}': {proc.stderr}"
        lines.append(f"{path} {records[0]['id']}")
    return lines


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("tables") / "clinic"
    made = _run(home, "init --demo --security open")
    assert made.returncode == 0, made.stderr
    from fpdf import FPDF

    scan = home.parent / "fax.pdf"
    pdf = FPDF()
    pdf.add_page()
    pdf.output(str(scan))
    def seed(lines: str) -> None:
        for line in lines.split(" && "):
            user = "S8" if line.startswith("meeting") else "S1" if line.startswith("doc sign") else "tester"
            done = _run(home, line, user=user)
            assert done.returncode in (0, 1), f"{line}: {done.stderr}"  # remind send: exit 1 for one not sent

    letter = home.parent / "letter.txt"
    letter.write_text("Dear Dr. Whitaker,\n\nThank you for referring Mr. Brooks for chest pain on exertion; "
                      "I have started aspirin 81 mg daily and ordered a stress echocardiogram.\n")
    with ThreadPoolExecutor(max_workers=6) as pool:  # commands of a practice may run side by side
        list(pool.map(seed, [*SEED, f'fax receive {scan} --from 617-555-0199 --patient P1 --subject "Lab results"',
                             f'doc new --patient P1 --author S1 --kind consult --title "Chest pain on exertion" '
                             f'--recipient "Boston Cardiology Associates at Longwood" --fax 617-555-0400 '
                             f'--file {letter} && doc sign D1',
                             # an intake submission pending review (intake list, show)
                             f'intake packet P1 --form insurance -o {home.parent / "packet.pdf"} '
                             f'&& intake import {home.parent / "packet.pdf"}']))
    return home


def test_every_table_fits_80_columns(demo_home):
    with ThreadPoolExecutor(max_workers=6) as pool:
        lines = _lines_to_walk(demo_home, pool)
        assert len(lines) > 50
        results = list(pool.map(lambda line: (line, _run(demo_home, line)), lines))
    too_wide, failed, shown = [], [], 0
    for line, proc in results:
        if proc.returncode != 0:
            failed.append(f"{line}: {proc.stderr.strip()}")
        widest = max((len(row) for row in proc.stdout.splitlines()), default=0)
        shown += widest > 0
        if widest > WIDTH:
            too_wide.append(f"{line}: {widest} wide")
    assert failed == []
    assert too_wide == []
    assert shown > 45  # the seeded practice leaves few tables empty


def test_the_day_sheet_reads_as_people_say_it(demo_home):
    proc = _run(demo_home, "appt day tomorrow")
    assert proc.returncode == 0, proc.stderr
    header, rule, *rows = proc.stdout.splitlines()
    assert header.split()[:5] == ["time", "id", "patient", "type", "status"] and header.split()[-1] == "provider"
    assert "patient_id" not in header  # one column: the id beside the name
    assert set(rule) <= {"-", " "}
    text = proc.stdout
    assert re.search(r"^\d{1,2}:\d\d [AP]M\s", text, re.M)  # 9:15 AM, not 09:15
    assert re.search(r"\bP\d+ [A-Z]", text)  # "P187 Umarov, Ulrich": the id beside the name
    assert re.search(r"\bS\d Dr\. [A-Z][a-z]+", text)  # "S2 Dr. Okafor"
    assert "2026-11-27" not in text and "T0" not in text  # no ISO times for people
    json_rows = json.loads(_run(demo_home, "appt day tomorrow --json").stdout)
    assert json_rows[0]["provider"] in ("S1", "S2", "S3")  # JSON keeps the ids
    assert re.fullmatch(r"\d\d:\d\d", json_rows[0]["time"])


def _aligned(table: str) -> bool:
    """Whether every cell of a list's table starts where its column does, after two spaces."""
    header, rule, *rows = table.splitlines()
    starts = [m.start() for m in re.finditer(r"-+", rule)]
    return all(row[start - 2:start].strip() == "" or len(row) < start for row in rows for start in starts[1:])


def test_wrapped_rows_keep_every_column_aligned(demo_home):
    assert _aligned(_run(demo_home, "appt day tomorrow").stdout)
    rows = [{"time": "8:00 AM", "patient": "P187 Umarov-Castellanos, Ulrich Alexander", "type": "annual-physical",
             "provider": "S2 Dr. Okafor"}, {"time": "8:15 AM", "patient": "P2 Luis O'Connell", "type": "follow-up",
                                            "provider": "S1 Dr. Voss"}]
    table = render_text(rows, "table", None, 50)
    lines = table.splitlines()
    assert len(lines) > 4 and max(map(len, lines)) <= 50 and _aligned(table)
    assert lines[3].startswith(" " * 9) and "Alexander" in table  # wrapped under its own column, nothing lost


def test_times_for_people(monkeypatch):
    monkeypatch.setenv("MEDSEC_NOW", "2026-11-26T10:00:00")
    assert for_people(datetime.fromisoformat("2027-01-05T14:30:00-05:00")) == "Tue Jan 5, 2:30 PM"
    assert for_people(datetime.fromisoformat("2026-12-07T00:05:00-05:00")) == "Mon Dec 7, 12:05 AM"
    assert for_people(datetime.fromisoformat("2027-09-01T12:00:00-04:00")) == "Wed Sep 1 2027, 12:00 PM"
    assert day_for_people(datetime(2025, 11, 26).date()) == "Wed Nov 26 2025"


def test_staff_are_named_as_a_table_names_them():
    assert short_name("Dr. Helena Voss") == "Dr. Voss"
    assert short_name("Jordan Ellis, RN") == "Jordan Ellis"
    assert short_name("Casey Morgan") == "Casey Morgan"


def test_a_record_shows_what_it_holds_and_a_confirmation_its_few_fields(practice):
    practice.ok("staff", "add", "--name", "Dr. Ann Lee", "--role", "physician", "--npi", "1234567893")
    practice.ok("staff", "hours", "S1", "--day", "fri", "--from", "08:00", "--to", "17:00")
    practice.ok("patient", "add", "--first", "Ann", "--last", "Smith", "--dob", "1970-01-01")
    booked = practice.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-27 09:00",
                         "--type", "follow-up", env={"COLUMNS": "80"})
    rows = [line.split(None, 1) for line in booked.stdout.splitlines()[1:-1]]
    assert [r[0] for r in rows] == ["id", "start", "patient_id", "provider", "type", "status"]
    assert dict(rows)["start"] == "Fri Nov 27, 9:00 AM" and dict(rows)["provider"] == "S1 Dr. Lee"
    assert all(len(r) == 2 for r in rows)  # no field without a value
    shown = practice.json("appt", "show", "A1")
    assert {"note", "room", "series_id", "checked_in", "cancel_reason", "history"} <= set(shown)  # JSON: all
    table = practice.ok("appt", "show", "A1").stdout
    assert "\nnote " not in table and "checked_in" not in table  # empty fields left out
    assert re.search(r"^history +at: Thu Nov 26, 10:00 AM; by: tester; action: booked", table, re.M)


def test_an_empty_result_says_so_on_stderr(practice):
    empty = practice("appt", "day", "2027-01-05")
    assert (empty.exit_code, empty.stdout, empty.stderr) == (0, "", "no appointments on Tue Jan 5\n")
    assert practice("appt", "day", "2027-01-05", "--json").stdout.strip() == "[]"
    assert practice("appt", "list", "--from", "2026-11-30", "--to", "2026-12-04").stderr == \
        "no appointments from Mon Nov 30 to Fri Dec 4\n"
    assert practice("call", "list").stderr == "no calls\n"
    assert practice("remind", "followups").stderr == "no follow-up calls due\n"
    assert practice("call", "list", "--format", "csv").stderr == ""  # scripts get a header, people a note


def test_columns_are_left_out_only_when_wrapping_cannot_fit():
    rows = [{"id": f"S{i}", "name": "Dr. Helena Voss", "npi": "1869879738",
             "email": "helena.voss@maplestreet.example.org", "status": "active"} for i in range(1, 5)]
    wide = render_text(rows, "table", None, None)
    assert max(map(len, wide.splitlines())) == 76  # a pipe without COLUMNS: whole rows
    assert render_text(rows, "table", None, 76) == wide  # wide enough: as it is
    narrow = render_text(rows, "table", None, 50)
    assert max(map(len, narrow.splitlines())) <= 50
    assert narrow.splitlines()[0].split() == ["id", "name", "status"]  # npi and email went first
    tiny = render_text(rows, "table", None, 8)
    assert tiny.splitlines()[0].split() == ["id"]  # the first column always stays


def test_long_cells_wrap_to_at_most_four_lines():
    rows = [{"code": "X1", "description": "word " * 200}]
    table = render_text(rows, "table", None, 40)
    lines = table.splitlines()
    assert len(lines) == 2 + 4 and lines[-1].endswith("...") and max(map(len, lines)) <= 40


def test_bold_only_on_a_terminal_and_never_with_no_color(practice, tmp_path):
    practice.ok("staff", "add", "--name", "Casey Morgan", "--role", "front-desk")
    env = terminal_env(practice, tmp_path, COLUMNS="80", LINES="40")
    on_terminal = run_in_terminal(["staff", "list"], env)
    assert on_terminal.exit_code == 0 and "\x1b[1mid" in on_terminal.screen
    no_color = run_in_terminal(["staff", "list"], {**env, "NO_COLOR": "1"})
    assert "Casey Morgan" in no_color.screen and "\x1b[" not in no_color.screen
    piped = practice.run("staff", "list", env={"COLUMNS": "80"})
    assert "Casey Morgan" in piped.stdout and "\x1b[" not in piped.stdout


def test_long_output_on_a_terminal_goes_through_the_pager(practice, tmp_path):
    for i in range(30):
        practice.ok("patient", "add", "--first", f"Ann{chr(97 + i % 26)}", "--last", "Smith", "--dob", "1970-01-01",
                    "--allow-duplicate")
    paged = tmp_path / "paged.txt"
    pager = shlex.join([sys.executable, "-c", f"import sys; open({str(paged)!r}, 'w').write(sys.stdin.read())"])
    env = terminal_env(practice, tmp_path, COLUMNS="80", LINES="20", MEDSEC_PAGER=pager)
    shown = run_in_terminal(["patient", "list"], env)
    assert shown.exit_code == 0 and "Smith" not in shown.screen
    assert paged.read_text().count("Smith") == 30 and "\x1b[" not in paged.read_text()
    paged.unlink()
    straight = run_in_terminal(["patient", "list", "--no-pager"], env)
    assert straight.screen.count("Smith") == 30 and not paged.exists()
    short = run_in_terminal(["patient", "show", "P1"], env)  # fits the screen: no pager
    assert "Smith" in short.screen and not paged.exists()
    never = run_in_terminal(["patient", "list"], {**env, "MEDSEC_PAGER": ""})
    assert never.screen.count("Smith") == 30 and not paged.exists()
