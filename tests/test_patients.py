"""Patients through the real CLI: register, find, edit, coverage, merge, import, export."""

import csv
import io

import pytest
from helpers.backends import stored_file
from helpers.files import shared_data, snapshot

pytestmark = pytest.mark.both_backends


def add(medsec, first="Ana", last="Quiñonez-Zyzzyva", dob="1980-02-03", *extra):
    return medsec.json("patient", "add", "--first", first, "--last", last, "--dob", dob, *extra)


def test_add_show_and_sequential_ids(practice):
    a = add(practice, "Ana", "Quiñonez-Zyzzyva", "1980-02-03", "--phone", "(617) 555-0101",
            "--email", "Ana@Example.com", "--preferred-channel", "sms", "--no-reminders")
    b = add(practice, "Bo", "Lind", "1990-05-06")
    assert (a["id"], b["id"]) == ("P1", "P2")
    assert a["phone"] == "617-555-0101" and a["email"] == "ana@example.com"
    assert a["reminders"] is False and a["preferred_channel"] == "sms"
    assert a["created"] == "2026-11-26T10:00:00-05:00"  # MEDSEC_NOW, practice offset
    shown = practice.json("patient", "show", "p1")  # ids are case-insensitive
    assert shown == a


def test_find_matches_word_starts_case_and_accent_insensitive(practice):
    add(practice)
    add(practice, "Zed", "Quinlan", "1970-01-01")
    for query in (["zyz"], ["quin"], ["QUIÑ"], ["quin", "zyz"], ["ana", "qui"]):
        ids = {p["id"] for p in practice.json("patient", "find", *query)}
        assert "P1" in ids, query
    assert [p["id"] for p in practice.json("patient", "find", "zyz")] == ["P1"]
    assert practice.json("patient", "find", "yzz") == []  # middle of a word does not match
    assert [p["id"] for p in practice.json("patient", "find", "1980-02-03")] == ["P1"]
    assert [p["id"] for p in practice.json("patient", "find", "02/03/1980")] == ["P1"]
    assert [p["id"] for p in practice.json("patient", "find", "P2")] == ["P2"]


def test_find_by_phone_and_empty_results(practice):
    add(practice, "Ana", "Lopez", "1980-02-03", "--phone", "617-555-0101")
    assert [p["id"] for p in practice.json("patient", "find", "617 555 0101")] == ["P1"]
    assert [p["id"] for p in practice.json("patient", "find", "--phone", "0101")] == ["P1"]
    empty = practice("patient", "find", "nobody")
    assert empty.exit_code == 0 and empty.stdout == ""
    assert practice("patient", "find", "nobody", "--json").stdout.strip() == "[]"


def test_duplicate_refused_unless_allowed(practice):
    add(practice, "Ana", "Lopez", "1980-02-03")
    before = snapshot(practice.home)
    result = practice("patient", "add", "--first", "ANA", "--last", "López", "--dob", "1980-02-03")
    assert result.exit_code == 1
    assert "P1" in result.stderr and "--allow-duplicate" in result.stderr
    assert snapshot(practice.home) == before
    again = practice.json("patient", "add", "--first", "Ana", "--last", "Lopez", "--dob", "1980-02-03",
                          "--allow-duplicate")
    assert again["id"] == "P2"


def test_edit_moves_index_and_clear(practice):
    add(practice, "Ana", "Lopez", "1980-02-03", "--phone", "617-555-0101")
    practice.ok("patient", "edit", "P1", "--last", "Whitcombe", "--clear", "phone")
    assert practice.json("patient", "find", "lopez") == []
    found = practice.json("patient", "find", "whit")
    assert [p["id"] for p in found] == ["P1"] and found[0]["phone"] == ""
    assert practice.json("patient", "find", "--phone", "0101") == []
    assert practice("check").exit_code == 0


def test_archive_hides_from_find_and_list(practice):
    add(practice, "Ana", "Lopez", "1980-02-03")
    practice.ok("patient", "archive", "P1", "--reason", "moved away")
    assert practice.json("patient", "find", "lopez") == []
    assert [p["id"] for p in practice.json("patient", "find", "lopez", "--archived")] == ["P1"]
    assert practice.json("patient", "list") == []
    assert [p["status"] for p in practice.json("patient", "list", "--status", "archived")] == ["archived"]
    assert practice("patient", "archive", "P1").exit_code == 1  # already archived
    practice.ok("patient", "archive", "P1", "--restore")
    assert [p["id"] for p in practice.json("patient", "list")] == ["P1"]


def test_coverage_add_list_remove(practice):
    add(practice)
    cov = practice.json("patient", "coverage", "add", "P1", "--payer", "acme", "--member-id", "M123",
                        "--group", "G9")
    assert cov["payer"] == "ACME" and cov["rank"] == "primary"
    practice.ok("patient", "coverage", "add", "P1", "--payer", "BETA", "--member-id", "X1",
                "--rank", "secondary", "--relationship", "spouse", "--subscriber", "Bo Lopez",
                "--subscriber-dob", "1979-01-01")
    listed = practice.json("patient", "coverage", "list", "P1")
    assert [c["rank"] for c in listed] == ["primary", "secondary"]
    dup = practice("patient", "coverage", "add", "P1", "--payer", "BETA", "--member-id", "Z")
    assert dup.exit_code == 1 and "--replace" in dup.stderr
    unknown = practice("patient", "coverage", "add", "P1", "--payer", "NOPE", "--member-id", "Z")
    assert unknown.exit_code == 2 and "ACME" in unknown.stderr
    practice.ok("patient", "coverage", "remove", "P1", "--rank", "primary")
    assert [c["rank"] for c in practice.json("patient", "coverage", "list", "P1")] == ["secondary"]


def test_notes_and_attachments(practice, tmp_path):
    add(practice)
    practice.ok("patient", "note", "P1", "prefers afternoon calls")
    notes = practice.json("patient", "note", "P1")
    assert notes[0]["text"] == "prefers afternoon calls" and notes[0]["by"] == "tester"
    scan = tmp_path / "../../etc-card.pdf"
    scan = tmp_path / "card.pdf"
    scan.write_bytes(b"%PDF-1.4 synthetic insurance card")
    att = practice.json("patient", "attach", "P1", scan, "--label", "insurance card")
    import hashlib

    sha = hashlib.sha256(scan.read_bytes()).hexdigest()
    assert att["sha256"] == sha
    assert stored_file(practice, sha) == scan.read_bytes()
    if practice.pg is None:  # the data directory keeps it private
        assert oct((practice.home / "files" / sha[:2] / sha).stat().st_mode & 0o777) == "0o600"
    assert practice.json("patient", "show", "P1")["attachments"][0]["label"] == "insurance card"


def test_merge_moves_everything_and_redirects(practice, tmp_path):
    add(practice, "Ana", "Lopez", "1980-02-03", "--phone", "617-555-0101")
    add(practice, "Ana", "Lopes", "1980-02-03", "--email", "ana@example.com")
    practice.ok("patient", "coverage", "add", "P2", "--payer", "ACME", "--member-id", "M1")
    practice.ok("patient", "note", "P2", "called about bill")
    survivor = practice.json("patient", "merge", "P2", "--into", "P1")
    assert survivor["id"] == "P1" and survivor["email"] == "ana@example.com"
    assert survivor["coverages"][0]["member_id"] == "M1"
    assert survivor["notes"][0]["text"] == "called about bill"
    shown = practice("patient", "show", "P2", "--json")
    assert shown.exit_code == 0 and shown.json()["id"] == "P1" and "merged into P1" in shown.stderr
    assert [p["id"] for p in practice.json("patient", "find", "ana")] == ["P1"]
    assert practice("patient", "edit", "P2", "--city", "Boston").exit_code == 1
    assert practice("patient", "merge", "P1", "--into", "P1").exit_code == 2
    assert practice.json("patient", "add", "--first", "New", "--last", "Person", "--dob", "2000-01-01")["id"] == "P3"
    assert practice("check").exit_code == 0


CSV_ROWS = [
    ["GivenName", "Surname", "Birth", "Phone", "ZIP"],
    ["Ana", "O'Brien", "1980-02-03", "617-555-0101", "02115"],
    ["Bo", "Lind", "1990-05-06", "", ""],
]


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_import_csv_with_mapping_and_dry_run(practice, tmp_path):
    src = write_csv(tmp_path / "in.csv", CSV_ROWS)
    maps = ["--map", "first=GivenName", "--map", "last=Surname", "--map", "dob=Birth"]
    dry = practice.json("patient", "import", src, *maps, "--dry-run")
    assert dry["would_import"] == 2 and dry["imported"] == 0
    assert practice.json("patient", "list") == []
    done = practice.json("patient", "import", src, *maps)
    assert (done["imported"], done["first_id"], done["last_id"]) == (2, "P1", "P2")
    ana = practice.json("patient", "show", "P1")
    assert ana["last"] == "O'Brien" and ana["zip"] == "02115"
    again = practice("patient", "import", src, *maps)  # the same file twice: all duplicates
    assert again.exit_code == 1 and "duplicate of P1" in again.stderr


def test_import_all_or_nothing_and_skip_bad(practice, tmp_path):
    rows = [["first", "last", "dob"], ["Ana", "Lopez", "1980-02-03"], ["Bo", "Lind", "2026-02-30"],
            ["Cy", "Moss", "1970-01-01", "extra"], ["ana", "LOPEZ", "1980-02-03"]]
    src = write_csv(tmp_path / "bad.csv", rows)
    before = snapshot(practice.home)
    result = practice("patient", "import", src)
    assert result.exit_code == 2
    assert f"{src}:3: dob: impossible date of birth" in result.stderr
    assert f"{src}:4: expected 3 columns, found 4" in result.stderr
    assert f"{src}:5: duplicate of line 2" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("medsec: error: 3 of 4 rows")
    assert snapshot(practice.home) == before
    skipped = practice.json("patient", "import", src, "--skip-bad")
    assert skipped["imported"] == 1 and skipped["skipped"] == 3
    assert "bad.csv:3" in practice("patient", "import", src, "--skip-bad").stderr


def test_export_csv_is_formula_safe(practice, tmp_path):
    add(practice, "=HYPERLINK(\"x\")", "Lopez", "1980-02-03", "--address", "+1 Main St")
    practice.ok("patient", "coverage", "add", "P1", "--payer", "ACME", "--member-id", "M1")
    out = practice.ok("patient", "export").stdout
    row = next(csv.DictReader(io.StringIO(out)))
    assert row["first"].startswith("'=") and row["address"] == "'+1 Main St"
    assert row["primary_payer"] == "ACME"
    target = tmp_path / "patients.json"
    practice.ok("patient", "export", "--format", "json", "-o", target)
    import json

    assert json.loads(target.read_text())[0]["id"] == "P1"
    assert oct(target.stat().st_mode & 0o777) == "0o600"


def test_import_synthea_both_layouts_from_fixtures(practice, tmp_path):
    old = write_csv(tmp_path / "synthea-2018.csv", [
        ["ID", "BIRTHDATE", "DEATHDATE", "SSN", "DRIVERS", "PASSPORT", "PREFIX", "FIRST", "LAST", "SUFFIX",
         "MAIDEN", "MARITAL", "RACE", "ETHNICITY", "GENDER", "BIRTHPLACE", "ADDRESS", "CITY", "STATE", "ZIP"],
        ["0ba8-1", "1989-09-28", "", "999-68-7171", "", "", "Mr.", "Hyman89", "Stehr398", "", "", "M",
         "white", "polish", "M", "Concord", "306 Conroy Union Unit 97", "Yarmouth", "Massachusetts", ""],
        ["0ba8-2", "1950-01-02", "2020-01-01", "999-11-2222", "", "", "Mrs.", "Ona", "D'Amore", "", "", "M",
         "white", "irish", "F", "Concord", "1 Elm St", "Taunton", "Massachusetts", "02718"],
    ])
    new = write_csv(tmp_path / "synthea.csv", [
        ["Id", "BIRTHDATE", "DEATHDATE", "SSN", "DRIVERS", "PASSPORT", "PREFIX", "FIRST", "LAST", "SUFFIX",
         "MAIDEN", "MARITAL", "RACE", "ETHNICITY", "GENDER", "BIRTHPLACE", "ADDRESS", "CITY", "STATE",
         "COUNTY", "ZIP", "LAT", "LON", "HEALTHCARE_EXPENSES", "HEALTHCARE_COVERAGE"],
        ["3eda-1", "2014-10-06", "", "999-17-5017", "", "", "", "Maynard46", "Mosciski958", "", "", "",
         "white", "nonhispanic", "M", "Boston  Massachusetts  US", "784 Stamm Lock Unit 46", "Somerville",
         "Massachusetts", "Middlesex County", "02155", "42.3", "-71.1", "227761.06", "2546.04"],
    ])
    first = practice.json("patient", "import", old)
    assert first["format"] == "synthea" and first["imported"] == 2
    assert practice.json("patient", "import", new)["imported"] == 1
    maynard = practice.json("patient", "find", "maynard")[0]
    assert (maynard["zip"], maynard["state"], maynard["external_id"]) == ("02155", "MA", "3eda-1")
    ona = practice.json("patient", "show", "P2")
    assert ona["reminders"] is False and ona["zip"] == "02718" and "ssn" not in ona


def test_import_shared_synthea_data(practice):
    for layout in ("synthea-2018", "dbt-synthea"):
        path = shared_data("synthea", layout, "patients.csv")
        result = practice.json("patient", "import", path)
        assert result["format"] == "synthea" and result["skipped"] == 0 and result["imported"] > 0
    assert practice("check").exit_code == 0


def test_merge_gives_the_survivor_every_record_of_the_duplicate(demo):
    demo.ok("task", "add", "Call back about the form", "--for", "S5", "--patient", "P6")
    referral = demo.json("referral", "add", "P6", "--to", "Dr Heart", "--reason", "murmur", "--dx", "I10",
                         "--physician", "S1")
    lab = demo.json("lab", "order", "P6", "--physician", "S1", "--dx", "E78.5", "--facility", "Quest",
                    "--test", "Lipid panel")
    charge = demo.json("bill", "charge", "P6", "--code", "99213", "--dx", "I10", "--provider", "S1")
    call = demo.json("call", "log", "--from", "P6", "--reason", "question about the bill")
    demo.ok("patient", "merge", "P6", "--into", "P5")

    def ids(*args):
        return {r["id"] for r in demo.json(*args)}

    assert referral["id"] in ids("referral", "list", "--patient", "P5")
    assert lab["id"] in ids("lab", "list", "--patient", "P5")
    assert charge["id"] in ids("bill", "charges", "P5")
    assert any(t["text"] == "Call back about the form" for t in demo.json("task", "list", "--patient", "P5"))
    assert demo.json("call", "list")[0]["id"] == call["id"]
    assert all(c["patient_id"] == "P5" for c in demo.json("call", "list") if c["id"] == call["id"])
    assert demo.json("check") == []
