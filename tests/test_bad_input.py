"""Bad input: exit code 2 (1 for a missing record), one clear line, nothing written."""

import pytest
from helpers.files import snapshot


@pytest.fixture
def ready(practice):
    practice.ok("patient", "add", "--first", "Ana", "--last", "Lopez", "--dob", "1980-02-03")
    practice.ok("staff", "add", "--name", "Dr A", "--role", "physician", "--npi", "1234567893")
    return practice


CASES = {
    "unknown option": (["patient", "add", "--first", "A", "--last", "B", "--dob", "1990-01-01", "--shoe", "9"],
                       2, "no such option"),
    "malformed date": (["patient", "add", "--first", "A", "--last", "B", "--dob", "Jan 5th"], 2,
                       "cannot read date of birth"),
    "impossible date": (["patient", "add", "--first", "A", "--last", "B", "--dob", "2026-02-30"], 2,
                        "impossible date of birth"),
    "future birth date": (["patient", "add", "--first", "A", "--last", "B", "--dob", "2030-01-01"], 2,
                          "in the future"),
    "bad NPI": (["staff", "add", "--name", "Dr B", "--role", "physician", "--npi", "1234567890"], 2,
                "not a valid NPI"),
    "bad phone": (["patient", "edit", "P1", "--phone", "12"], 2, "phone"),
    "bad id shape": (["patient", "show", "X12"], 2, "not a patient id"),
    "missing patient": (["patient", "show", "P999"], 1, "no patient P999"),
    "missing staff": (["staff", "show", "S99"], 1, "no staff member S99"),
    "bad time off": (["staff", "off", "S1", "--from", "2026-12-10", "--to", "2026-12-01"], 2, "before it starts"),
    "bad hours": (["staff", "hours", "S1", "--day", "mon", "--from", "12:00", "--to", "08:00"], 2,
                  "ends before it starts"),
    "unknown mapping field": (["patient", "import", "x.csv", "--map", "shoe=Size"], 2, "unknown field"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_changes_nothing(ready, name, tmp_path):
    args, code, text = CASES[name]
    before = snapshot(ready.home)
    result = ready(*args)
    assert result.exit_code == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("medsec: error: ") and text in lines[0], lines
    assert result.stdout == ""
    assert snapshot(ready.home) == before


def test_malformed_csv_row_and_unknown_column(ready, tmp_path):
    src = tmp_path / "p.csv"
    src.write_text('first,last,dob\nBo,Lind,1990-05-06\n"Cy,Moss,1970-01-01\n')
    before = snapshot(ready.home)
    result = ready("patient", "import", src)
    assert result.exit_code == 2 and "nothing was imported" in result.stderr
    assert snapshot(ready.home) == before
    result = ready("patient", "import", src, "--map", "dob=Birthday")
    assert result.exit_code == 2
    assert result.stderr.strip() == ("medsec: error: unknown column mapping: dob=Birthday: "
                                     "the file has no column 'Birthday'")
    assert snapshot(ready.home) == before


def test_yaml_syntax_error_names_file_and_line(ready):
    path = ready.home / "practice.yaml"
    path.write_text(path.read_text() + "rooms: [exam1\nbroken: {\n")
    before = snapshot(ready.home)
    for args in (["patient", "add", "--first", "A", "--last", "B", "--dob", "1990-01-01"],
                 ["config", "check"]):
        result = ready(*args)
        assert result.exit_code == 3, args
        assert "practice.yaml:" in result.stderr and "YAML syntax error" in result.stderr
    assert snapshot(ready.home) == before


def test_refused_attempts_are_audited(ready):
    ready("patient", "show", "P999")
    ready("patient", "add", "--first", "A", "--last", "B", "--dob", "2026-02-30")
    entries = ready.json("audit")
    refused = [e for e in entries if e["action"] == "refused"]
    assert [(e["command"], e["outcome"]) for e in refused[-2:]] == [
        ("patient show", "exit 1"), ("patient add", "exit 2")]
    assert all("2026-02-30" not in str(e) for e in entries)  # no values, only what and who


def test_not_initialised_is_an_environment_error(medsec):
    result = medsec("patient", "list")
    assert result.exit_code == 3 and "medsec init" in result.stderr
