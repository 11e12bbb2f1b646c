"""A patient merge moves signed records without making them look tampered with: the record keeps the
patient id it was signed for (`merged_patient`), `verify` checks the signature over that id and that
the record's patient now really absorbed it, and shows the merge; a patient id changed any other
way still fails `verify` and `check`.

The practice is `clinic` (helpers/signin.py): S1 administrator, S2 front desk, S3 physician, P1 Ann
Smith. Records are changed behind medsec's back through the store's own API (as in
tests/test_signatures.py), so each test runs on both backends.
"""

import json

import pytest
from helpers.backends import edit_record as edit
from helpers.signin import one_line, signed_in

pytestmark = pytest.mark.both_backends

REQUEST = ["--drug", "Atorvastatin", "--dose", "20 mg daily", "--pharmacy", "CVS Main St", "--via", "phone"]
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def signed(clinic, secrets_dir):
    """The clinic with P1's refill decided (RX1) and P1's note signed (D1) by S3, and patients P2
    Anne Smith, P3 Ann Smyth, P4 Bob Jones to merge P1 into."""
    admin, desk, doctor = (signed_in(clinic, s, secrets_dir) for s in ("S1", "S2", "S3"))
    for first, last, dob in (("Anne", "Smith", "1970-01-01"), ("Ann", "Smyth", "1970-01-01"),
                             ("Bob", "Jones", "1980-02-02")):
        clinic.ok("patient", "add", "--first", first, "--last", last, "--dob", dob, env=admin)
    clinic.ok("refill", "request", "P1", *REQUEST, "--for", "S3", env=desk)
    clinic.ok("refill", "approve", "RX1", "--note", "90 days", env=doctor)
    clinic.ok("doc", "new", "--patient", "P1", "--author", "S3", "--kind", "note", "--file", "-",
              input="Seen for a cough; lungs clear.\n", env=desk)
    assert "sig" in clinic.json("doc", "sign", "D1", env=doctor)["signature"]
    return {"admin": admin, "desk": desk, "doctor": doctor}


def problems_of(clinic, env):
    checked = clinic("check", "--json", env=env)
    assert checked.exit_code in (0, 3), checked.stderr
    return {p["file"]: p["problem"] for p in json.loads(checked.stdout or "[]")}


def test_a_merge_leaves_signed_records_valid_and_shows_it(clinic, signed):
    admin = signed["admin"]
    before = clinic.json("verify", "RX1", env=admin)
    assert "merged" not in before and "signed_for" not in before
    clinic.ok("patient", "merge", "P1", "--into", "P2", env=admin)
    for record_id, kind in (("RX1", "refill decision"), ("D1", "document signature")):
        shown = clinic.json("verify", record_id, env=admin)
        assert (shown["valid"], shown["sign-off"], shown["signed_by"]) == (True, kind, "S3")
        assert (shown["signed_for"], shown["patient"]) == ("P1", "P2")
        assert shown["merged"].startswith("P1 -> P2 (merged by S1 at 2026-11-26T10:00:00")
    assert clinic.json("refill", "show", "RX1", env=admin)["patient_id"] == "P2"
    moved = clinic.json("doc", "show", "D1", env=admin)
    assert moved["patient_id"] == "P2" and moved["merged_patient"]["from"] == "P1"
    assert clinic("check", env=admin).exit_code == 0
    table = clinic("verify", "RX1", env=admin)
    assert table.exit_code == 0 and "P1 -> P2" in table.stdout


def test_a_double_merge_verifies(clinic, signed):
    admin = signed["admin"]
    clinic.ok("patient", "merge", "P1", "--into", "P2", env=admin)
    clinic.ok("patient", "merge", "P2", "--into", "P3", env=admin)
    for record_id in ("RX1", "D1"):
        shown = clinic.json("verify", record_id, env=admin)
        assert (shown["valid"], shown["signed_for"], shown["patient"]) == (True, "P1", "P3")
        assert shown["merged"].startswith("P1 -> P2 -> P3 (first merged by S1")
    assert clinic("check", env=admin).exit_code == 0


def test_a_patient_changed_outside_a_merge_still_fails(clinic, signed):
    from medsec.store.catalog import DOCS, REFILLS

    admin = signed["admin"]
    # No marker: the signature no longer holds.
    edit(clinic, REFILLS, "RX1", lambda r: r.update(patient_id="P4"))
    one_line(clinic("verify", "RX1", env=admin), 3, "RX1 was changed since S3 signed it")
    # A forged marker naming the patient signed for: P4 never absorbed P1.
    edit(clinic, DOCS, "D1", lambda r: r.update(patient_id="P4", merged_patient={"from": "P1", "at": "x", "by": "S1"}))
    one_line(clinic("verify", "D1", env=admin), 3, "D1 was signed for patient P1", "never merged into P4")
    assert set(problems_of(clinic, admin)) == {"RX1", "D1"}
    # A real merge of another patient into P4 does not make P1's records P4's.
    clinic.ok("patient", "merge", "P3", "--into", "P4", env=admin)
    one_line(clinic("verify", "D1", env=admin), 3, "never merged into P4")
    # A marker naming the patient P4 did absorb: the signature was not over P3.
    edit(clinic, REFILLS, "RX1", lambda r: r.update(merged_patient={"from": "P3", "at": "x", "by": "S1"}))
    one_line(clinic("verify", "RX1", env=admin), 3, "RX1 was changed since S3 signed it")
    edit(clinic, REFILLS, "RX1", lambda r: r.update(merged_patient="P1"))
    one_line(clinic("verify", "RX1", env=admin), 3, "RX1")
    assert set(problems_of(clinic, admin)) == {"RX1", "D1"}


def test_a_merged_record_moved_on_outside_a_merge_fails(clinic, signed):
    from medsec.store.catalog import REFILLS

    admin = signed["admin"]
    clinic.ok("patient", "merge", "P1", "--into", "P2", env=admin)
    edit(clinic, REFILLS, "RX1", lambda r: r.update(patient_id="P4"))  # the marker still says P1
    one_line(clinic("verify", "RX1", env=admin), 3, "RX1 was signed for patient P1", "never merged into P4")
    problems = problems_of(clinic, admin)
    assert set(problems) == {"RX1"} and "signature does not hold" in problems["RX1"]
    edit(clinic, REFILLS, "RX1", lambda r: r.update(patient_id="P2"))
    assert clinic("verify", "RX1", env=admin).exit_code == 0 and problems_of(clinic, admin) == {}


def test_a_sign_off_made_again_after_a_merge_is_signed_for_the_patient_now(clinic, signed, tmp_path):
    """A lab result reviewed, merged, then resulted and reviewed again: the new signature is over
    the surviving patient, and the record no longer carries the old merge marker."""
    admin, desk, doctor = signed["admin"], signed["desk"], signed["doctor"]
    clinic.ok("lab", "order", "P1", "--physician", "S3", "--dx", "R05.9", "--facility", "Harbor Imaging",
              "--test", "Chest X-ray", env=doctor)
    report = tmp_path / "xray.pdf"
    report.write_bytes(PDF)
    clinic.ok("lab", "result", "LB1", "--file", report, env=desk)
    clinic.ok("lab", "status", "LB1", "reviewed", "--note", "no acute findings", env=doctor)
    clinic.ok("patient", "merge", "P1", "--into", "P2", env=admin)
    assert clinic.json("verify", "LB1", env=admin)["signed_for"] == "P1"
    second = tmp_path / "second.pdf"
    second.write_bytes(PDF + b"%corrected\n")
    clinic.ok("lab", "result", "LB1", "--file", second, env=desk)
    clinic.ok("lab", "status", "LB1", "reviewed", "--note", "still clear", env=doctor)
    shown = clinic.json("verify", "LB1", env=admin)
    assert shown["valid"] is True and "merged" not in shown and "signed_for" not in shown
    assert "merged_patient" not in clinic.json("lab", "show", "LB1", env=admin)
    assert clinic("check", env=admin).exit_code == 0
