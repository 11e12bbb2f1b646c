"""`medsec code import` with the hcpcs plugin's formats merges HCPCS Level II codes into codes.yaml."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers.backends import read_config
from helpers.files import snapshot

from medsec.context import AppContext

FIXTURES = Path(__file__).parent / "fixtures" / "hcpcs"
ANNUAL = FIXTURES / "HCPC2026_JAN_ANWEB_sample.txt"
BAD_ANNUAL = FIXTURES / "HCPC2026_bad_rows.txt"
CSV = FIXTURES / "codes.csv"
BAD_CSV = FIXTURES / "bad.csv"
pytestmark = pytest.mark.both_backends


def codes_yaml(m) -> dict:
    return {e["code"]: e for e in yaml.safe_load(read_config(m, "codes.yaml"))["codes"]}


def unchanged(m):
    """The data directory's files, less the audit log and derived indexes."""
    return snapshot(m.home, skip=("audit", "index"))


def test_fixture_follows_the_cms_layout():
    for line in ANNUAL.read_text().splitlines():
        assert len(line) == 320 and line[10] in "3478" and line[5:10].isdigit()


def test_import_the_cms_annual_file(practice):
    report = practice.json("code", "import", ANNUAL)
    assert (report["format"], report["codes_read"], report["added"], report["updated"]) == ("hcpcs", 6, 6, 0)
    assert report["skipped_modifiers"] == 3 and report["skipped_cpt_codes"] == 0
    codes = codes_yaml(practice)
    assert set(codes) == {"A0428", "E0114", "G0008", "J1100", "J3490", "L3000"}
    assert codes["E0114"] == {"code": "E0114", "system": "HCPCS", "description":
                              "Crutches underarm, other than wood, adjustable or fixed, pair, with pads, "
                              "tips and handgrips"}  # the continuation record joined on
    assert read_config(practice, "codes.yaml").startswith("# codes.yaml")  # its comments kept
    shown = practice.json("code", "show", "J1100", "--system", "practice")
    assert (shown["system"], shown["description"]) == ("HCPCS", "Injection, dexamethasone sodium phosphate, 1 mg")
    assert [h["code"] for h in practice.json("code", "search", "crutches", "--system", "practice")] == ["E0114"]
    practice.ok("config", "check")
    again = practice.json("code", "import", ANNUAL)
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, 6)


def test_keeps_the_practice_fees_and_cpt_list(demo):
    before = codes_yaml(demo)
    cpt = {c: e for c, e in before.items() if e["system"] == "CPT"}
    assert cpt  # the demo's own CPT list, with fees
    csv_report = demo.json("code", "import", CSV)
    assert (csv_report["format"], csv_report["added"]) == ("codes-csv", 3) and csv_report["updated"] == 1  # 99213
    after_csv = codes_yaml(demo)
    assert after_csv["A0428"]["fee"] == "350.00" and after_csv["G0008"]["fee"] == "25.00"
    assert "fee" not in after_csv["E0114"]
    assert after_csv["99213"] == {**cpt["99213"], "description": "Follow-up visit, low complexity (practice wording)",
                                  "fee": "130.00"}
    annual = demo.json("code", "import", ANNUAL)
    assert (annual["added"], annual["updated"], annual["unchanged"]) == (3, 2, 1)  # G0008: same words
    final = codes_yaml(demo)
    assert final["A0428"]["fee"] == "350.00"  # the practice's fee stays ...
    assert final["A0428"]["description"].endswith("transport, (bls)")  # ... the description is replaced
    assert {c: e for c, e in final.items() if c in cpt and c != "99213"} == \
        {c: e for c, e in cpt.items() if c != "99213"}
    assert [e["code"] for e in yaml.safe_load(read_config(demo, "codes.yaml"))["codes"]][:len(cpt)] == \
        list(cpt)  # existing entries keep their order; new ones follow
    charge = demo.json("bill", "charge", "A1", "--code", "A0428", "--dx", "I10")
    assert charge["amount"] == "350.00"


def test_dry_run_writes_nothing(practice):
    before = unchanged(practice)
    report = practice.json("code", "import", ANNUAL, "--dry-run")
    assert report["dry_run"] is True and report["added"] == 6
    assert unchanged(practice) == before


def test_bad_annual_rows_exit_2_with_line_numbers(practice):
    before = unchanged(practice)
    result = practice("code", "import", BAD_ANNUAL)
    assert result.exit_code == 2
    assert "5 bad row(s) in HCPC2026_bad_rows.txt; nothing was imported" in result.stderr
    lines = [l for l in result.stderr.splitlines() if not l.startswith("medsec: error")]
    assert [re.search(r"\.txt:(\d+): ", l).group(1) for l in lines] == ["2", "3", "5", "6", "7"]
    assert "continuation line of E0114 without its first line" in lines[0]
    assert "record identification code '5' (column 11)" in lines[1]
    assert "too short" in lines[2] and "'A04 8' (columns 1-5)" in lines[3] and "no description" in lines[4]
    assert unchanged(practice) == before


def test_bad_csv_rows_exit_2_with_line_numbers(practice):
    before = unchanged(practice)
    result = practice("code", "import", BAD_CSV)
    assert result.exit_code == 2 and "6 bad row(s)" in result.stderr
    messages = {int(line): message for line, message in re.findall(r"bad\.csv:(\d+): (.*)", result.stderr)}
    assert messages == {
        2: "fee 'abc' is not an amount like 125.00",
        3: "'99213' is not an HCPCS Level II code (a CPT code: give system CPT)",
        4: "the code is missing",
        5: "E0114 has no description",
        7: "G0008 is listed twice (first on line 6)",
        8: "4 fields, the header has 3",
    }
    assert unchanged(practice) == before


def test_cpt_codes_in_a_cms_file_are_never_imported(practice, tmp_path):
    def record(code, seq, kind, text):
        return (code + f"{seq:05d}" + kind + text.ljust(80) + "".ljust(28)).ljust(320)

    path = tmp_path / "mixed.txt"
    path.write_text("\n".join([record("99499", 100, "3", "a level I code's text"),
                               record("99499", 200, "4", "continued"),
                               record("0001U", 100, "3", "a PLA code's text"),
                               record("A4206", 100, "3", "Syringe with needle, sterile, 1 cc or less, each")]) + "\n")
    report = practice.json("code", "import", path)
    assert (report["added"], report["skipped_cpt_codes"]) == (1, 2)
    assert set(codes_yaml(practice)) == {"A4206"}


def test_format_detection_and_refusals(practice, tmp_path):
    before = unchanged(practice)
    unknown = tmp_path / "notes.txt"
    unknown.write_text("hello\nworld\n")
    result = practice("code", "import", unknown)
    assert result.exit_code == 2 and "cannot tell the format" in result.stderr and "--input-format" in result.stderr
    forced = practice("code", "import", ANNUAL, "--input-format", "codes-csv")
    assert forced.exit_code == 2 and "missing column(s) code, description" in forced.stderr
    zipped = tmp_path / "hcpcs.zip"
    zipped.write_bytes(b"PK\x03\x04rest-of-a-zip")
    result = practice("code", "import", zipped)
    assert result.exit_code == 2 and "unzip" in result.stderr
    assert practice("code", "import", tmp_path / "missing.txt").exit_code == 2
    header_only = tmp_path / "empty.csv"
    header_only.write_text("code,description\n")
    assert "holds no codes" in practice("code", "import", header_only).stderr
    assert unchanged(practice) == before


def test_import_codes_service(practice):
    from medsec.coding.codes import import_codes

    app = AppContext(data_dir=str(practice.home), user="tester")
    report = import_codes(app, str(CSV), "codes-csv", dry_run=True)
    assert (report["added"], report["dry_run"]) == (4, True)
    assert "A0428" not in codes_yaml(practice)
    assert import_codes(app, str(CSV))["added"] == 4
    assert codes_yaml(practice)["99213"]["system"] == "CPT"


def test_formats_are_listed_and_can_be_disabled(practice):
    plugins = {p["name"]: p for p in practice.json("plugins")}
    assert plugins["hcpcs"]["registers"] == {"importers": ["hcpcs", "codes-csv"]}
    assert practice("code-import", ANNUAL).exit_code == 2  # the old top-level command is gone
    disabled = practice("code", "import", ANNUAL, env={"MEDSEC_DISABLE_PLUGINS": "hcpcs"})
    assert disabled.exit_code == 2 and "enable a plugin that reads code files" in disabled.stderr
    assert practice("patient", "import", CSV, "--input-format", "hcpcs").exit_code == 2  # not a patient format


def test_plugin_import_stays_cheap():
    code = "import sys, medsec_hcpcs; print('medsec_hcpcs.importer' in sys.modules, 'csv' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[0] == "False"
