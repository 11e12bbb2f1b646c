"""Patient and staff records refuse hostile text and malformed values at input, through
add, edit, coverage, notes and import (CSV and Synthea), with exit 2, one short line
naming the field, and the data directory unchanged; states, guarantors, phones with
extensions and id formats follow their known forms."""

import csv
import re

import pytest
from helpers.files import snapshot

from medsec.errors import InvalidInput
from medsec.identifiers import US_STATES, parse_phone, phone_digits
from medsec.plugin_api import DeliveryError, to_e164

# Values a hostile user types: terminal escapes, the clipboard-writing OSC 52,
# a bare CR that overwrites a line, NUL, a bidi override, and a field far past
# any limit.
HOSTILE = {
    "esc": "Ada\x1b[2J",
    "osc52": "Ada\x1b]52;c;ZWNobyBwd25lZA==\x07",
    "cr": "Ada\rEvil",
    "nul": "Ada\x00",
    "rlo": "Ada\u202eevil",
    "long": "A" * 100_000,
}
# The patient fields `patient add` and `patient edit` take as text.
ADD_FIELDS = ["first", "last", "address", "city", "guarantor", "phone", "email", "state", "zip",
              "language", "sex"]
# The columns a CSV import reads into free-text and coded fields.
IMPORT_FIELDS = ["first", "last", "address", "city", "external_id", "guarantor", "phone", "email",
                 "state", "zip", "language", "sex"]
COVERAGE_FIELDS = ["payer", "member-id", "group", "subscriber"]
STAFF_FIELDS = ["name", "npi", "email", "phone"]


def refused(medsec, *args, field: str | None = None):
    """Run a command that must be refused as bad input: exit 2, one short line that
    names the field and holds no raw control character, the data directory as it was.

    The command line's own guard (medsec.cli.textsafety) may refuse a value first,
    naming the option (--member-id) or the argument (TEXT) instead of the field.
    """
    before = snapshot(medsec.home)
    result = medsec(*args)
    assert result.exit_code == 2, (args[:3], result.exit_code, result.stderr[:300])
    lines = [line for line in result.stderr.splitlines() if line.startswith("medsec: error:")]
    assert len(lines) == 1, result.stderr[:600]
    assert len(result.stderr) < 600, result.stderr[:600]
    assert not any(ch in result.stderr for ch in "\x00\x1b\r\u202e\x07")
    if field is not None:
        names = (field, f"--{field.replace('_', '-')}", "TEXT")
        assert any(name in result.stderr for name in names), result.stderr
    assert snapshot(medsec.home) == before
    return result


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


# -- free text through add, edit, coverage, notes -----------------------------
@pytest.mark.parametrize("kind", HOSTILE)
@pytest.mark.parametrize("field", ADD_FIELDS)
def test_patient_add_refuses_hostile_text(practice, field, kind):
    args = {"first": "Ada", "last": "Lovelace", "dob": "1990-12-10", field: HOSTILE[kind]}
    options = [item for key, value in args.items() for item in (f"--{key}", value)]
    refused(practice, "patient", "add", *options, field=field)


@pytest.mark.parametrize("kind", HOSTILE)
@pytest.mark.parametrize("field", ADD_FIELDS)
def test_patient_edit_refuses_hostile_text(two_patients, field, kind):
    refused(two_patients, "patient", "edit", "P1", f"--{field}", HOSTILE[kind], field=field)


@pytest.mark.parametrize("kind", HOSTILE)
@pytest.mark.parametrize("field", COVERAGE_FIELDS)
def test_coverage_add_refuses_hostile_text(two_patients, field, kind):
    args = {"payer": "ACME", "member-id": "M1", "group": "G1", "subscriber": "Sam Smith", field: HOSTILE[kind]}
    options = [item for key, value in args.items() for item in (f"--{key}", value)]
    refused(two_patients, "patient", "coverage", "add", "P1", "--relationship", "spouse", *options,
            field=field.replace("-", "_"))


@pytest.mark.parametrize("kind", HOSTILE)
def test_note_archive_reason_and_attachment_label_refuse_hostile_text(two_patients, tmp_path, kind):
    value = HOSTILE[kind]
    refused(two_patients, "patient", "note", "P1", value, field="note")
    refused(two_patients, "patient", "archive", "P1", "--reason", value, field="reason")
    scan = tmp_path / "card.pdf"
    scan.write_bytes(b"%PDF-1.4 card\n")
    refused(two_patients, "patient", "attach", "P1", str(scan), "--label", value, field="label")


def test_a_note_keeps_line_breaks_but_not_other_controls(two_patients):
    note = two_patients.json("patient", "note", "P1", "first line\r\nsecond line")
    assert note["text"] == "first line\nsecond line"
    refused(two_patients, "patient", "note", "P1", "first line\n\tindented", field="note")
    refused(two_patients, "patient", "note", "P1", "x" * 4001, field="note")


def test_attachment_with_a_control_character_in_its_name_is_refused(two_patients, tmp_path):
    scan = tmp_path / "card\x1b]0;owned\x07.pdf"
    scan.write_bytes(b"%PDF-1.4 card\n")
    refused(two_patients, "patient", "attach", "P1", str(scan), field="file name")


def test_limits_allow_what_real_records_hold(practice):
    record = practice.json("patient", "add", "--first", "A" * 60, "--last", "O'Brien-Núñez", "--dob", "1990-12-10",
                           "--address", "1 Elm St, Apt 2 " + "x" * 180, "--city", "Winston-Salem")
    assert len(record["first"]) == 60 and record["last"] == "O'Brien-Núñez"
    refused(practice, "patient", "add", "--first", "A" * 61, "--last", "B", "--dob", "1990-12-10", field="first")
    refused(practice, "patient", "add", "--first", "A", "--last", "B", "--dob", "1990-12-10",
            "--address", "x" * 201, field="address")


# -- staff ----------------------------------------------------------------------
@pytest.mark.parametrize("kind", HOSTILE)
@pytest.mark.parametrize("field", STAFF_FIELDS)
def test_staff_add_and_edit_refuse_hostile_text(practice, field, kind):
    practice.ok("staff", "add", "--name", "Ann Nurse", "--role", "nurse")
    args = {"name": "Dr. Ada Byron", "npi": "1234567893", "email": "ada@example.org", "phone": "617-555-0190",
            field: HOSTILE[kind]}
    options = [item for key, value in args.items() for item in (f"--{key}", value)]
    refused(practice, "staff", "add", "--role", "physician", *options, field=field)
    refused(practice, "staff", "edit", "S1", f"--{field}", HOSTILE[kind], field=field)


@pytest.mark.parametrize("kind", HOSTILE)
def test_staff_time_off_reason_refuses_hostile_text(practice, kind):
    practice.ok("staff", "add", "--name", "Ann Nurse", "--role", "nurse")
    refused(practice, "staff", "off", "S1", "--from", "2026-12-24", "--reason", HOSTILE[kind], field="reason")


# -- import -------------------------------------------------------------------------
def _import_row(field: str, value: str) -> dict:
    row = {"first": "Grace", "last": "Hopper", "dob": "1986-12-09", "phone": "617-555-0177",
           "email": "grace@example.org", "address": "1 Navy Way", "city": "Arlington", "state": "VA",
           "zip": "22202", "language": "en", "sex": "F", "external_id": "MRN-7", "guarantor": "self"}
    return {**row, field: value}


@pytest.mark.parametrize("kind", HOSTILE)
@pytest.mark.parametrize("field", IMPORT_FIELDS)
def test_import_refuses_a_row_with_hostile_text_and_writes_nothing(practice, tmp_path, field, kind):
    good = _import_row("first", "Alan")
    bad = _import_row(field, HOSTILE[kind])
    header = list(good)
    path = write_csv(tmp_path / "in.csv", [header, [good[c] for c in header], [bad[c] for c in header]])
    result = refused(practice, "patient", "import", str(path))
    if kind == "nul":  # a NUL anywhere: the whole file is not text
        assert "in.csv:3: the file holds a NUL byte" in result.stderr
    else:  # a quoted CR ends a physical line: the row then ends on line 4
        assert re.search(rf"in\.csv:[34]: {field}:", result.stderr), result.stderr[:400]
    assert practice.json("patient", "list") == []


def test_import_skip_bad_still_imports_the_good_rows(practice, tmp_path):
    header = list(_import_row("first", "x"))
    rows = [_import_row("first", "Alan"), _import_row("address", HOSTILE["osc52"]),
            _import_row("state", "ZZ"), _import_row("guarantor", "P99")]
    path = write_csv(tmp_path / "in.csv", [header] + [[r[c] for c in header] for r in rows])
    summary = practice.json("patient", "import", str(path), "--skip-bad")
    assert (summary["imported"], summary["skipped"]) == (1, 3)


def test_import_field_over_the_csv_size_limit_is_bad_input_naming_the_line(practice, tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("first,last,dob\nAda,Lovelace,1990-12-10\nAlan," + "x" * 200_000 + ",1990-01-01\n")
    result = refused(practice, "patient", "import", str(path))
    assert "big.csv:3:" in result.stderr and "field limit" in result.stderr
    refused(practice, "patient", "import", str(path), "--map", "first=first")
    header = tmp_path / "header.csv"
    header.write_text("first,last,dob," + "y" * 200_000 + "\nAda,Lovelace,1990-12-10,1\n")
    assert "header.csv:1:" in refused(practice, "patient", "import", str(header)).stderr
    assert "header.csv:1:" in refused(practice, "patient", "import", str(header), "--input-format", "csv").stderr


def test_import_with_a_nul_in_an_unread_column_is_refused_too(practice, tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(b"first,last,dob,notes\nAda,Lovelace,1990-12-10,ok\nAlan,Turing,1992-06-23,a\x00b\n")
    assert "nul.csv:3: the file holds a NUL byte" in refused(practice, "patient", "import", str(path)).stderr


SYNTHEA_HEADER = ["Id", "BIRTHDATE", "DEATHDATE", "FIRST", "LAST", "GENDER", "ADDRESS", "CITY", "STATE", "ZIP"]


def _synthea_row(**changes) -> list[str]:
    row = {"Id": "3eda-1", "BIRTHDATE": "2014-10-06", "DEATHDATE": "", "FIRST": "Maynard46",
           "LAST": "Mosciski958", "GENDER": "M", "ADDRESS": "784 Stamm Lock", "CITY": "Somerville",
           "STATE": "Massachusetts", "ZIP": "02155", **changes}
    return [row[c] for c in SYNTHEA_HEADER]


@pytest.mark.parametrize("kind", HOSTILE)
@pytest.mark.parametrize(("column", "field"), [("FIRST", "first"), ("LAST", "last"), ("ADDRESS", "address"),
                                               ("CITY", "city"), ("Id", "external_id"), ("ZIP", "zip")])
def test_synthea_import_refuses_hostile_text(practice, tmp_path, column, field, kind):
    path = write_csv(tmp_path / "patients.csv",
                     [SYNTHEA_HEADER, _synthea_row(), _synthea_row(**{"Id": "3eda-2", column: HOSTILE[kind]})])
    result = refused(practice, "patient", "import", str(path))
    expected = "the file holds a NUL byte" if kind == "nul" else rf"patients\.csv:[34]: {field}:"
    assert re.search(expected, result.stderr), result.stderr[:400]


def test_synthea_states_spelled_out_and_unknown(practice, tmp_path):
    path = write_csv(tmp_path / "patients.csv", [SYNTHEA_HEADER, _synthea_row(STATE="Puerto Rico"),
                                                 _synthea_row(Id="3eda-2", FIRST="Ona", STATE="Guam")])
    assert practice.json("patient", "import", str(path))["imported"] == 2
    assert [p["state"] for p in practice.json("patient", "list")] == ["PR", "GU"]
    bad = write_csv(tmp_path / "bad.csv", [SYNTHEA_HEADER, _synthea_row(Id="x", FIRST="Bo", STATE="Ontario")])
    assert "state: 'Ontario' is not a US state code" in refused(practice, "patient", "import", str(bad)).stderr


def test_synthea_field_over_the_csv_size_limit(practice, tmp_path):
    path = write_csv(tmp_path / "patients.csv", [SYNTHEA_HEADER, _synthea_row(ADDRESS="x" * 200_000)])
    assert "patients.csv:2:" in refused(practice, "patient", "import", str(path)).stderr


# -- states -----------------------------------------------------------------------
def test_us_state_codes():
    assert len(US_STATES) == 59 and {"MA", "DC", "PR", "VI", "GU", "AS", "MP", "AA", "AE", "AP"} <= US_STATES


@pytest.mark.parametrize(("typed", "stored"), [("MA", "MA"), ("ma", "MA"), ("DC", "DC"), ("pr", "PR"),
                                               ("AE", "AE"), ("GU", "GU")])
def test_state_codes_accepted(two_patients, typed, stored):
    assert two_patients.json("patient", "edit", "P1", "--state", typed)["state"] == stored


@pytest.mark.parametrize("typed", ["ZZ", "XX", "M A", "Mass", "FM"])
def test_state_codes_refused(two_patients, typed):
    refused(two_patients, "patient", "edit", "P1", "--state", typed, field="state")
    refused(two_patients, "patient", "add", "--first", "C", "--last", "D", "--dob", "1990-01-01",
            "--state", typed, field="state")


# -- guarantors -----------------------------------------------------------------
def test_guarantor_is_a_registered_patient_or_self(two_patients):
    assert two_patients.json("patient", "edit", "P2", "--guarantor", "p1")["guarantor"] == "P1"
    assert two_patients.json("patient", "edit", "P2", "--guarantor", "SELF")["guarantor"] == "self"
    child = two_patients.json("patient", "add", "--first", "Cy", "--last", "Smith", "--dob", "2020-01-01",
                              "--guarantor", "P1")
    assert child["guarantor"] == "P1"
    assert two_patients.json("patient", "edit", "P2", "--clear", "guarantor")["guarantor"] == ""


@pytest.mark.parametrize("typed", ["P99", "P00001", "Bob Jones", "P-1", "S1"])
def test_guarantor_that_is_no_patient_is_refused(two_patients, typed):
    refused(two_patients, "patient", "edit", "P2", "--guarantor", typed, field="guarantor")
    refused(two_patients, "patient", "add", "--first", "Cy", "--last", "Smith", "--dob", "2020-01-01",
            "--guarantor", typed, field="guarantor")


def test_a_merged_guarantor_becomes_the_record_it_was_merged_into(two_patients):
    two_patients.ok("patient", "add", "--first", "Ann", "--last", "Smyth", "--dob", "1970-01-01")
    two_patients.ok("patient", "merge", "P3", "--into", "P1")
    assert two_patients.json("patient", "edit", "P2", "--guarantor", "P3")["guarantor"] == "P1"


def test_import_refuses_a_guarantor_that_is_no_patient(two_patients, tmp_path):
    header = list(_import_row("first", "x"))
    rows = [_import_row("guarantor", "P1"), {**_import_row("guarantor", "P99"), "first": "Alan"}]
    path = write_csv(tmp_path / "in.csv", [header] + [[r[c] for c in header] for r in rows])
    result = refused(two_patients, "patient", "import", str(path))
    assert "in.csv:3: guarantor: there is no patient P99" in result.stderr
    rows[1]["guarantor"] = "p2"
    path = write_csv(tmp_path / "in.csv", [header] + [[r[c] for c in header] for r in rows])
    assert two_patients.json("patient", "import", str(path))["imported"] == 2
    assert [p["guarantor"] for p in two_patients.json("patient", "find", "--phone", "0177")] == ["P2", "P1"]


# -- phones -------------------------------------------------------------------------
@pytest.mark.parametrize(("typed", "stored"), [
    ("617-555-0100", "617-555-0100"),
    ("(617) 555 0100", "617-555-0100"),
    ("+1 617 555 0100", "617-555-0100"),
    ("617-555-0100 ext 12", "617-555-0100 ext. 12"),
    ("617-555-0100 ext. 12", "617-555-0100 ext. 12"),
    ("617-555-0100 x12", "617-555-0100 ext. 12"),
    ("617-555-0100;ext=12", "617-555-0100 ext. 12"),
    ("+44 20 7946 0958", "+44 20 7946 0958"),
])
def test_phones_are_parsed_and_normalised(two_patients, typed, stored):
    assert two_patients.json("patient", "edit", "P1", "--phone", typed)["phone"] == stored
    assert parse_phone(typed) == stored


def _phonenumbers_answer(typed: str):
    """What parse_phone answers when it asks phonenumbers (no fast path)."""
    import medsec.identifiers as ids

    fast = ids._PLAIN_NANP
    ids._PLAIN_NANP = re.compile(r"(?!)")  # never matches
    try:
        return ids.parse_phone(typed)
    except InvalidInput as e:
        return str(e)
    finally:
        ids._PLAIN_NANP = fast


def test_the_everyday_phone_layouts_read_as_phonenumbers_reads_them():
    """parse_phone answers plain North American numbers without phonenumbers;
    every layout its pattern takes (and valid or invalid area codes and
    exchanges) must get exactly phonenumbers' answer."""
    layouts = []
    for country in ["", "1", "1 ", "1-", "1.", "+1", "+1 ", "+1-", "+1."]:
        for area in ["617", "(617)", "(617) "]:
            for sep1 in ["", " ", "-", "."]:
                for sep2 in ["", " ", "-", "."]:
                    layouts.append(f"{country}{area}{sep1 if '(' not in area else ''}555{sep2}0142")
    others = ["017-555-0142", "617-155-0142", "217-055-0142", "999-999-9999", "200-200-0000",
              "(617)555-0142", " 617-555-0142 ", "617--555-0142", "617 -555-0142", "(617-555-0142",
              "617)-555-0142", "+16175550142", "16175550142", "61755501420", "1-800-555-0199"]
    for typed in layouts + others:
        try:
            fast = parse_phone(typed)
        except InvalidInput as e:
            fast = str(e)
        assert fast == _phonenumbers_answer(typed), typed


@pytest.mark.parametrize("typed", ["617-555-0100 ext DROP TABLE", "617-555-0100 ext 12 please", "call 617-555-0100",
                                   "617-555-01000", "017-555-0100", "617-555-0100x", "n/a"])
def test_phones_with_trailing_or_other_text_are_refused(two_patients, typed):
    refused(two_patients, "patient", "edit", "P1", "--phone", typed, field="phone")
    refused(two_patients, "staff", "add", "--name", "Ann", "--role", "nurse", "--phone", typed, field="phone")


def test_a_phone_with_an_extension_is_found_and_never_dialled_with_it(two_patients):
    two_patients.ok("patient", "edit", "P1", "--phone", "617-555-0100 ext 12")
    assert [p["id"] for p in two_patients.json("patient", "find", "--phone", "0100")] == ["P1"]
    assert [p["id"] for p in two_patients.json("patient", "find", "617-555-0100")] == ["P1"]
    assert phone_digits("617-555-0100 ext. 12") == "6175550100"
    with pytest.raises(DeliveryError):  # an SMS or fax gateway is never handed the extension
        to_e164("617-555-0100 ext. 12", "sms")
    assert to_e164("617-555-0100", "sms") == "+16175550100"
    staff = two_patients.json("staff", "add", "--name", "Ann Nurse", "--role", "nurse", "--phone", "617-555-0190 x7")
    assert staff["phone"] == "617-555-0190 ext. 7"


# -- ids ----------------------------------------------------------------------------
@pytest.mark.parametrize("typed", ["P00001", "P01", "P-1", "p 1", " P1", "P1 ", "P\u00b2", "P\u0661",
                                   "P" + "9" * 30, "P0"])
def test_patient_ids_are_exact(two_patients, typed):
    result = refused(two_patients, "patient", "show", typed)
    assert "not a patient id" in result.stderr and "merged" not in result.stderr


def test_patient_ids_in_any_case(two_patients):
    assert two_patients.json("patient", "show", "p1")["id"] == "P1"
    assert two_patients("patient", "show", "P1").stderr == ""


@pytest.mark.parametrize(("command", "typed", "kind"), [
    (["staff", "show"], "S01", "staff id"),
    (["appt", "show"], "A001", "appointment id"),
    (["claim", "show"], "C01", "claim id"),
    (["call", "show"], "T00001", "call id"),
])
def test_other_ids_are_exact_too(practice, command, typed, kind):
    practice.ok("staff", "add", "--name", "Ann Nurse", "--role", "nurse")
    assert kind in refused(practice, *command, typed).stderr


def test_a_task_for_a_zero_padded_staff_id_is_refused(practice):
    practice.ok("staff", "add", "--name", "Ann Nurse", "--role", "nurse")
    refused(practice, "task", "add", "Call back", "--for", "S01")


# -- dates of birth -------------------------------------------------------------------
def test_future_date_of_birth_refused_in_edit_and_import(two_patients, tmp_path):
    refused(two_patients, "patient", "edit", "P1", "--dob", "2030-01-01", field="dob")
    path = write_csv(tmp_path / "in.csv", [["first", "last", "dob"], ["Ada", "Lovelace", "1990-12-10"],
                                           ["Alan", "Turing", "2026-11-27"]])
    assert "in.csv:3: dob: date of birth 2026-11-27 is in the future" in refused(
        two_patients, "patient", "import", str(path)).stderr
