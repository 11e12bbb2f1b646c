"""`medsec report disclosures PATIENT`: the accounting of disclosures (HIPAA 164.528) from the fax
log (faxes sent through a loopback HTTP fax gateway), the mail log and referrals sent by post."""

import pytest
from helpers.backends import write_config
from helpers.files import snapshot

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Count 2 >> endobj\n" \
      b"3 0 obj << /Type /Page >> endobj\n4 0 obj << /Type /Page >> endobj\n%%EOF\n"

CHANNELS = """\
outbox: {{folder: outbox}}
fax: {{gateway: http, url: "{url}/faxes", from: "617-555-0100", timeout: 10}}
routes: {{fax: fax, letter: outbox, email: outbox, sms: outbox}}
"""
LATER = {"MEDSEC_NOW": "2026-12-03T10:00:00"}  # a week after the test clock


@pytest.fixture
def office(small_practice, gateway, tmp_path):
    m = small_practice(3)
    m.ok("patient", "edit", "P1", "--address", "1 Elm St", "--city", "Boston", "--state", "MA", "--zip", "02110")
    write_config(m, "channels.yaml", CHANNELS.format(url=gateway.url))
    m.doc = tmp_path / "records.pdf"
    m.doc.write_bytes(PDF)
    return m


def fax(m, patient, purpose, **kw):
    return m.json("fax", "send", m.doc, "--number", "617-555-0150", "--patient", patient, "--recipient",
                  "Law Office of J. Doe", "--purpose", purpose, "--subject", "Visit notes 2026", **kw)


def test_faxes_and_letters_appear_with_date_to_what_and_why(office, gateway):
    sent = fax(office, "P1", "subpoena for records")
    assert gateway.requests  # it went through the fax gateway
    fax(office, "P2", "subpoena for records")  # another patient's: not in P1's accounting
    letter = office.json("mail", "send", "--patient", "P1", "--template", "recall-letter", env=LATER)
    assert [e["status"] for e in letter] == ["sent"]
    rows = office.json("report", "disclosures", "P1", env=LATER)
    assert [r["via"] for r in rows] == ["fax", "outbox"]
    first, second = rows
    assert first["id"] == sent["id"] and first["date"].startswith("2026-11-26")
    assert (first["recipient"], first["address"], first["purpose"]) == ("Law Office of J. Doe", "617-555-0150",
                                                                        "subpoena for records")
    assert first["what"] and first["by"] == "tester"
    assert (first["accountable"], first["exempt_as"]) == (True, "")
    assert second["date"].startswith("2026-12-03") and second["what"]
    assert second["recipient"] == "Ana Lopez"  # a letter to the patient: listed, not accountable
    assert (second["accountable"], second["exempt_as"]) == (False, "to the patient")
    strict = office.json("report", "disclosures", "P1", "--required-only", env=LATER)
    assert [r["id"] for r in strict] == [sent["id"]]
    table = office.ok("report", "disclosures", "P1", env=LATER).stdout
    assert "Law Office of J. Doe" in table and "subpoena" in table


def test_treatment_disclosures_are_listed_but_exempt(office, gateway):
    office.ok("referral", "add", "P1", "--specialist", "Boston Cardiology", "--reason", "chest pain",
              "--dx", "R07.9", "--address", "9 Heart Way, Boston MA")
    office.ok("referral", "send", "RF1", "--via", "mail")
    fax(office, "P1", "referral")
    rows = office.json("report", "disclosures", "P1")
    posted = [r for r in rows if r["link"] == "RF1" and r["via"] == "mail"]
    assert len(posted) == 1
    assert (posted[0]["recipient"], posted[0]["address"]) == ("Boston Cardiology", "9 Heart Way, Boston MA")
    assert all(r["exempt_as"] == "treatment" and r["accountable"] is False for r in rows)
    assert office.json("report", "disclosures", "P1", "--required-only") == []


def test_a_faxed_referral_is_counted_once(office, gateway):
    office.ok("referral", "add", "P1", "--specialist", "Boston Cardiology", "--reason", "chest pain",
              "--dx", "R07.9", "--fax", "617-555-0160")
    office.ok("referral", "send", "RF1")
    rows = office.json("report", "disclosures", "P1")
    assert [(r["via"], r["link"]) for r in rows] == [("fax", "RF1")]


def test_the_period(office, gateway):
    fax(office, "P1", "life insurance application")
    office.ok("mail", "send", "--patient", "P1", "--template", "recall-letter", env=LATER)
    assert len(office.json("report", "disclosures", "P1", env=LATER)) == 2
    only_later = office.json("report", "disclosures", "P1", "--from", "2026-12-01", env=LATER)
    assert [r["date"][:10] for r in only_later] == ["2026-12-03"]
    only_first = office.json("report", "disclosures", "P1", "--to", "2026-11-30", env=LATER)
    assert [r["via"] for r in only_first] == ["fax"]
    # the default period is the rule's six years: on 2032-11-27 the fax of 2026-11-26 has left it
    six_years_on = office.json("report", "disclosures", "P1", env={"MEDSEC_NOW": "2032-11-27T10:00:00"})
    assert [r["date"][:10] for r in six_years_on] == ["2026-12-03"]


def test_reading_the_accounting_is_audited(office, gateway):
    fax(office, "P1", "subpoena")
    office.ok("report", "disclosures", "P1")
    audit = office.json("audit", "--patient", "P1")
    assert any(e["command"] == "report disclosures" and e["action"] == "read" and "P1" in e["ids"]
               for e in audit)


@pytest.mark.parametrize("args, code, text", [
    (["report", "disclosures", "P99"], 1, "P99"),
    (["report", "disclosures", "P1x"], 2, "not a patient id"),
    (["report", "disclosures", "Nobody Atall"], 1, "no patient is named"),
    (["report", "disclosures", "P1", "--from", "2026-12-01", "--to", "2026-11-01"], 2, "before"),
    (["report", "disclosures", "P1", "--from", "someday"], 2, "--from"),
])
def test_bad_input(office, args, code, text):
    before = snapshot(office.home)
    result = office(*args)
    assert result.exit_code == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("medsec: error: ") and text in lines[0]
    assert snapshot(office.home) == before


@pytest.mark.parametrize("purpose, exempt_as", [
    ("life insurance application", ""),  # "insurance" is not payment for the patient's care
    ("lab results for the employer", ""),
    ("records release not authorized by the patient", ""),
    ("disability claim", ""),
    ("subpoena: the patient's referral letters", ""),
    ("treatment", "treatment"),
    ("Treatment: records to the new physician", "treatment"),
    ("payment", "payment"),
    ("authorized", "authorized"),
    ("at the patient's request", "to the patient"),
])
def test_a_purpose_in_the_practices_words_is_exempt_only_when_it_names_the_exemption(office, purpose, exempt_as):
    fax(office, "P1", purpose)
    (row,) = office.json("report", "disclosures", "P1")
    assert (row["accountable"], row["exempt_as"]) == (not exempt_as, exempt_as)


def test_the_table_at_80_columns_says_what_the_rule_requires(office, gateway):
    fax(office, "P1", "subpoena for records")
    office.ok("referral", "add", "P1", "--specialist", "Boston Cardiology", "--reason", "chest pain",
              "--dx", "R07.9", "--fax", "617-555-0160")
    office.ok("referral", "send", "RF1")
    table = office.ok("report", "disclosures", "P1", env={"COLUMNS": "80"}).stdout
    assert "accountable" in table and "exempt_as" in table and "treatment" in table
    assert max(len(line) for line in table.splitlines()) <= 80
