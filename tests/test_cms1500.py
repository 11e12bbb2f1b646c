"""The cms1500 plugin: a printable CMS-1500 (02/12) PDF, judged by reading it back with pypdf."""

import copy
import io
import subprocess
import sys
from datetime import UTC, datetime

import pypdf
import pytest

from medsec_cms1500 import validate, write

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)

# A claim record as docs/claim-model.md describes it.
CLAIM = {
    "id": "C12", "status": "ready", "rank": "primary", "frequency": "1", "original_reference": "",
    "place_of_service": "11", "created": "2026-11-26T10:00:00-05:00",
    "billing_provider": {"name": "MAPLE STREET FAMILY PRACTICE", "npi": "1234567893", "tax_id": "047654321",
                         "address": {"street": "100 MAPLE ST SUITE 2", "city": "BOSTON", "state": "MA",
                                     "zip": "021151234"},
                         "phone": "6175550100", "taxonomy": "207Q00000X"},
    "submitter": {"name": "MAPLE STREET FAMILY PRACTICE", "id": "MSFP01", "contact": "BILLING",
                  "phone": "6175550100"},
    "receiver": {"name": "CLEARINGHOUSE", "id": "CLRHSE"},
    "payer": {"id": "BAYSTATE", "name": "BAY STATE HEALTH PLAN", "payer_id": "BSHP1",
              "address": {"street": "PO BOX 1001", "city": "BOSTON", "state": "MA", "zip": "021050001"}},
    "subscriber": {"member_id": "BAY123456789", "group": "G1234", "relationship": "self",
                   "first": "ANA", "last": "LOPEZ", "dob": "1980-02-03", "sex": "F",
                   "address": {"street": "1 ELM ST", "city": "BOSTON", "state": "MA", "zip": "02115"}},
    "patient": {"id": "P7", "first": "ANA", "last": "LOPEZ", "dob": "1980-02-03", "sex": "F",
                "address": {"street": "1 ELM ST", "city": "BOSTON", "state": "MA", "zip": "02115"}},
    "rendering_provider": {"id": "S1", "first": "HELENA", "last": "VOSS", "npi": "1245319599",
                           "taxonomy": "207Q00000X"},
    "referring_provider": {"first": "OMAR", "last": "HALE", "npi": "1003000126"},
    "diagnoses": ["E11.9", "I10", "Z00.00", "J06.9", "R05.1"],
    "lines": [
        {"line": 1, "charge_id": "H31", "date": "2026-11-20", "code": "99213", "modifiers": ["25"], "units": 1,
         "amount": "125.00", "dx_pointers": [1, 2], "place_of_service": "11", "description": "Follow-up visit"},
        {"line": 2, "charge_id": "H32", "date": "2026-11-20", "code": "G0008", "modifiers": [], "units": 1,
         "amount": "25.00", "dx_pointers": [3], "place_of_service": "11", "description": "Flu shot"},
        {"line": 3, "charge_id": "H33", "date": "2026-11-21", "code": "36415", "modifiers": ["59", "XU"],
         "units": 2, "amount": "1036.00", "dx_pointers": [4, 5, 1, 2], "place_of_service": "11",
         "description": "Blood draw"},
    ],
    "total": "1186.00", "prior_payers": [], "patient_responsibility": "0.00",
}


def claim_with(**changes) -> dict:
    claim = copy.deepcopy(CLAIM)
    claim.update(changes)
    return claim


def pages(pdf: bytes) -> list[dict]:
    """Each page's data as {(line, column): text}, read back from the PDF's text positions.

    The form's grid: 10 columns per inch from 0.25 in, 6 lines per inch from
    the top; data are 12-point text (labels are smaller and left out).
    """
    out = []
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        found = {}

        def visit(text, cm, tm, font, size, found=found):
            if text.strip() and size == 12:
                x_in, y_in = tm[4] / 72, (792 - tm[5]) / 72
                found[(round((y_in + 0.035) * 6), round((x_in - 0.25) * 10 + 1))] = text.strip()

        page.extract_text(visitor_text=visit)
        out.append(found)
    return out


def text_of(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_values_land_in_their_items():
    pdf = write([CLAIM], {"now": NOW})
    assert pdf.startswith(b"%PDF-")
    (page,) = pages(pdf)
    expected = {
        (2, 41): "BAY STATE HEALTH PLAN", (3, 41): "PO BOX 1001", (4, 41): "BOSTON MA 02105-0001",  # carrier
        (8, 45): "X",                                   # 1: other (a commercial plan)
        (8, 50): "BAY123456789",                        # 1a
        (10, 1): "LOPEZ, ANA",                          # 2
        (10, 31): "02", (10, 34): "03", (10, 37): "1980", (10, 47): "X",  # 3: birth date, F
        (10, 50): "LOPEZ, ANA",                         # 4
        (12, 1): "1 ELM ST", (14, 1): "BOSTON", (14, 25): "MA", (16, 1): "02115",  # 5
        (12, 33): "X",                                  # 6: self
        (12, 50): "1 ELM ST", (16, 50): "02115",        # 7
        (18, 50): "G1234",                              # 11
        (20, 41): "X", (22, 41): "X", (24, 41): "X",    # 10a-c: no
        (24, 50): "BAY STATE HEALTH PLAN",              # 11c
        (26, 57): "X",                                  # 11d: no other plan
        (29, 7): "SIGNATURE ON FILE", (29, 55): "SIGNATURE ON FILE",  # 12, 13
        (34, 1): "DN", (34, 4): "HALE, OMAR", (34, 33): "1003000126",  # 17, 17b
        (37, 42): "0",                                  # 21: ICD-10 indicator
        (38, 3): "E119", (38, 16): "I10", (38, 29): "Z0000", (38, 42): "J069", (39, 3): "R051",  # 21 A-E
        (44, 1): "11", (44, 4): "20", (44, 7): "26", (44, 10): "11", (44, 19): "11",  # 24A, 24B
        (44, 25): "99213", (44, 33): "25", (44, 45): "AB", (44, 53): "125", (44, 57): "00",  # 24D-F
        (44, 61): "1", (44, 68): "1245319599",          # 24G, 24J
        (46, 25): "G0008", (46, 45): "C", (46, 54): "25",
        (48, 25): "36415", (48, 33): "59 XU", (48, 45): "DEAB", (48, 52): "1036", (48, 61): "2",
        (56, 1): "047654321", (56, 19): "X",            # 25: EIN
        (56, 23): "C12", (56, 38): "X",                 # 26 = claim id, 27 yes
        (56, 54): "1186", (56, 59): "00",               # 28
        (57, 66): "617", (57, 70): "555-0100",          # 33 phone
        (60, 1): "HELENA VOSS", (61, 6): "11 26 26",    # 31
        (58, 50): "MAPLE STREET FAMILY PRACTICE", (60, 50): "BOSTON MA 02115-1234",  # 33
        (61, 23): "1234567893", (61, 50): "1234567893", (61, 63): "ZZ", (61, 65): "207Q00000X",  # 32a 33a 33b
    }
    wrong = {k: (v, page.get(k)) for k, v in expected.items() if page.get(k) != v}
    assert not wrong, wrong
    assert not any(k[0] in (50, 52, 54) for k in page)  # service rows 4-6 stay empty


def test_labels_are_printed_small_for_people():
    text = text_of(write([CLAIM], {}))
    for label in ("1a. INSURED'S I.D. NUMBER", "2. PATIENT'S NAME", "21. DIAGNOSIS OR NATURE OF ILLNESS",
                  "24. A. DATE(S) OF SERVICE", "28. TOTAL CHARGE", "33. BILLING PROVIDER INFO & PH #"):
        assert label in text
    for value in ("LOPEZ, ANA", "BAY123456789", "E119", "I10", "Z0000", "99213", "125 00", "1186 00",
                  "1234567893", "1245319599", "1003000126"):
        assert value in text.replace("  ", " "), value


def test_more_than_six_lines_continue_on_another_page():
    lines = [{**CLAIM["lines"][0], "line": n, "code": f"9921{n % 6}", "amount": "10.00", "dx_pointers": [1]}
             for n in range(1, 9)]
    pdf = write([claim_with(lines=lines, total="80.00")], {"now": NOW})
    first, second = pages(pdf)
    assert [first[(44 + 2 * i, 25)] for i in range(6)] == [l["code"] for l in lines[:6]]
    assert [second[(44 + 2 * i, 25)] for i in range(2)] == [l["code"] for l in lines[6:]]
    assert (46 + 2 * 2, 25) not in second
    assert first[(56, 52)] == "CONTINUED" and (second[(56, 56)], second[(56, 59)]) == ("80", "00")
    assert first[(1, 1)] == "PAGE 1 OF 2" and second[(1, 1)] == "PAGE 2 OF 2"
    for page in (first, second):
        assert page[(10, 1)] == "LOPEZ, ANA" and page[(8, 50)] == "BAY123456789" and page[(56, 23)] == "C12"


def test_one_form_per_claim():
    other = claim_with(id="C13", patient={**CLAIM["patient"], "first": "José", "last": "Muñoz"},
                       subscriber={**CLAIM["subscriber"], "first": "José", "last": "Muñoz", "sex": "M"})
    first, second = pages(write([CLAIM, other], {"now": NOW}))
    assert (first[(56, 23)], second[(56, 23)]) == ("C12", "C13")
    assert second[(10, 1)] == "MUNOZ, JOSE"  # capitals, no accents (NUCC: no special characters)
    assert second[(20, 68)] == "X"  # 11a: the insured is male


def test_secondary_claim_shows_the_other_insurance_and_amount_paid():
    prior = {"payer": {"id": "HARBOR", "name": "HARBOR MUTUAL INSURANCE", "payer_id": "HMI22", "address": {}},
             "rank": "primary", "subscriber": {**CLAIM["subscriber"], "member_id": "HM555"},
             "paid": "80.00", "paid_date": "2026-12-05", "payer_claim_id": "PCN1", "adjustments": [], "lines": []}
    (page,) = pages(write([claim_with(rank="secondary", prior_payers=[prior])], {"now": NOW}))
    assert (page[(18, 1)], page[(20, 1)], page[(26, 1)]) == ("LOPEZ, ANA", "HM555", "HARBOR MUTUAL INSURANCE")
    assert page[(26, 52)] == "X"  # 11d: yes
    assert (page[(56, 65)], page[(56, 68)]) == ("80", "00")  # 29


def test_replacement_claim_and_medicare_box():
    claim = claim_with(frequency="7", original_reference="PCN777",
                       payer={**CLAIM["payer"], "name": "MEDICARE PART B"})
    (page,) = pages(write([claim], {"now": NOW}))
    assert (page[(38, 50)], page[(38, 62)]) == ("7", "PCN777")  # 22
    assert page[(8, 1)] == "X"  # 1: Medicare
    explicit = claim_with(payer={**CLAIM["payer"], "insurance_type": "group"})
    assert pages(write([explicit], {}))[0][(8, 31)] == "X"


def test_draw_form_adds_outlines_and_offsets_move_everything():
    def rectangles(pdf):
        page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
        return page.get_contents().get_data().count(b" re")

    plain, drawn = write([CLAIM], {}), write([CLAIM], {"draw_form": True})
    assert rectangles(plain) == 0 and rectangles(drawn) > 60
    shifted = pages(write([CLAIM], {"offset_x": 0.2, "offset_y": 1 / 6}))[0]
    assert shifted[(9, 52)] == "BAY123456789"


def test_validate_lists_what_the_form_cannot_carry():
    assert validate(CLAIM) == []
    too_many = claim_with(diagnoses=[f"E11.{n}" for n in range(13)],
                          lines=[{**CLAIM["lines"][0], "modifiers": ["25", "59", "XU", "GT", "95"],
                                  "dx_pointers": [1, 2, 3, 4, 13], "amount": "100000.00", "units": 1000}],
                          total="100000.00", subscriber={**CLAIM["subscriber"], "member_id": "X" * 30})
    problems = validate(too_many)
    assert "diagnoses: 13 codes, item 21 holds 12 (A-L)" in problems
    assert "lines[1].modifiers: 5, item 24D holds 4" in problems
    assert "lines[1].dx_pointers: 5, item 24E holds 4" in problems
    assert "lines[1].dx_pointers: 13 has no letter in item 24E (A-L)" in problems
    assert "lines[1].amount 100000.00: item 24F holds at most 99999.99" in problems
    assert "lines[1].units 1000: item 24G holds 3 digits" in problems
    assert "subscriber.member_id: 30 characters, item 1a holds 29" in problems
    assert validate(claim_with(lines=[])) == ["lines: no service lines to print in item 24"]


def test_claim_export_through_the_cli(demo, tmp_path):
    demo.ok("bill", "charge", "A1", "--code", "99213", "--modifier", "25", "--dx", "E11.9", "--dx", "I10")
    (claim,) = demo.json("claim", "create", "--appt", "A1")
    demo.ok("claim", "validate", claim["id"])
    out = tmp_path / "claim.pdf"
    demo.ok("claim", "export", claim["id"], "--format", "cms1500", "-o", out)
    full = demo.json("claim", "show", claim["id"])
    (page,) = pages(out.read_bytes())
    assert page[(56, 23)] == claim["id"] and page[(38, 3)] == "E119" and page[(44, 25)] == "99213"
    assert page[(10, 1)] == f"{full['patient']['last']}, {full['patient']['first']}"
    assert page[(8, 50)] == full["subscriber"]["member_id"]
    assert page[(44, 68)] == full["rendering_provider"]["npi"]
    assert full["status"] == "submitted"
    assert demo.json("clearinghouse", "list") == []  # a paper form is no file exchanged with a clearinghouse


@pytest.mark.parametrize("name", ["cms1500"])
def test_registered_and_cheap_to_load(medsec, name):
    medsec.ok("init", "--security", "open")
    plugins = {p["name"]: p for p in medsec.json("plugins")}
    assert plugins[name]["registers"] == {"claim_formats": ["cms1500"]}
    code = "import sys, medsec_cms1500; print('fpdf' in sys.modules, 'medsec_cms1500.form' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
