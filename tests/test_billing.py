"""Billing through the real CLI: charges, payments, claims, the scrubber, remittance posting."""

import json

import pytest
from helpers.files import snapshot

from medsec.billing.claims import get_claim, scrub
from medsec.context import AppContext

pytestmark = pytest.mark.both_backends
PLUGINS = {"MEDSEC_PLUGINS": "helpers.billingplugins"}


@pytest.fixture
def office(demo):
    demo.env.update(PLUGINS)
    return demo


def seen_visit(m):
    """A1 is the demo's first visit today (checked out); its patient and payer."""
    appt = m.json("appt", "show", "A1")
    patient = m.json("patient", "show", appt["patient_id"])
    return appt, patient


def test_charge_from_the_fee_schedule_and_overrides(office):
    appt, patient = seen_visit(office)
    charge = office.json("bill", "charge", "A1", "--code", "99213", "--modifier", "25", "--dx", "E11.9", "--dx", "I10")
    assert (charge["amount"], charge["patient_id"], charge["provider"]) == ("125.00", patient["id"], appt["provider"])
    assert charge["dx_pointers"] == [1, 2] and charge["date"] == appt["start"][:10]
    two = office.json("bill", "charge", "A1", "--code", "36415", "--units", "2", "--dx", "E11.9")
    assert two["amount"] == "36.00"
    manual = office.json("bill", "charge", "A1", "--code", "81002", "--dx", "E11.9", "--amount", "9.5")
    assert manual["amount"] == "9.50"
    header = office("bill", "charge", "A1", "--code", "81002", "--dx", "E11", "--again")  # 81002 again: --again
    assert header.exit_code == 0 and "E11: header ICD-10-CM code" in header.stderr


@pytest.mark.parametrize("amount", ["12.345", "abc", "0", "-5"])
def test_bad_amounts_write_nothing(office, amount):
    before = snapshot(office.home)
    for args in (["bill", "charge", "A1", "--code", "99213", "--dx", "I10", "--amount", amount],
                 ["bill", "pay", "P1", "--amount", amount, "--method", "cash"]):
        result = office(*args)
        assert result.exit_code == 2 and result.stderr.startswith("medsec: error: --amount"), result.stderr
    assert snapshot(office.home) == before


def test_unknown_code_and_unseen_visit(office):
    before = snapshot(office.home)
    unknown = office("bill", "charge", "A1", "--code", "99999", "--dx", "I10")
    assert unknown.exit_code == 2 and "unknown procedure code '99999'" in unknown.stderr
    booked = [a for a in office.json("appt", "list", "--from", "+1d") if a["status"] == "booked"][0]
    refused = office("bill", "charge", booked["id"], "--code", "99213", "--dx", "I10")
    assert refused.exit_code == 1 and "charge visits that took place" in refused.stderr
    future = office("bill", "charge", "P1", "--code", "99213", "--dx", "I10", "--date", "+2d", "--provider", "S1")
    assert future.exit_code == 2 and "in the future" in future.stderr
    assert snapshot(office.home) == before


def test_payments_adjustments_ledger_and_balance(office):
    _, patient = seen_visit(office)
    pid = patient["id"]
    office.ok("bill", "charge", "A1", "--code", "99213", "--dx", "I10")
    office.ok("bill", "charge", "A1", "--code", "36415", "--dx", "I10")
    office.ok("bill", "pay", pid, "--amount", "100", "--method", "card", "--ref", "visa-1234")
    office.ok("bill", "adjust", pid, "--amount", "10.00", "--reason", "courtesy discount")
    rows = office.json("bill", "ledger", pid)
    assert [(r["kind"], r["amount"], r["balance"]) for r in rows] == [
        ("charge", "125.00", "125.00"), ("charge", "18.00", "143.00"),
        ("payment", "-100.00", "43.00"), ("adjustment", "-10.00", "33.00")]
    bal = office.json("bill", "balance", pid)
    assert (bal["balance"], bal["patient_due"], bal["insurance_pending"]) == ("33.00", "33.00", "0.00")
    pay = office.json("bill", "pay", pid, "--amount", "50", "--method", "cash")
    assert pay["unapplied"] == "17.00"
    assert office.json("bill", "balance", pid)["credit"] == "17.00"


def test_claim_scrub_ready_and_status_history(office, tmp_path):
    _, patient = seen_visit(office)
    office.ok("bill", "charge", "A1", "--code", "99213", "--modifier", "25", "--dx", "E11.9", "--dx", "I10")
    office.ok("bill", "charge", "A1", "--code", "36415", "--dx", "E11.9")
    (claim,) = office.json("claim", "create", "--appt", "A1")
    assert (claim["status"], claim["total"], claim["lines"]) == ("draft", "143.00", 2)
    full = office.json("claim", "show", claim["id"])
    assert full["diagnoses"] == ["E11.9", "I10"] and [l["dx_pointers"] for l in full["lines"]] == [[1, 2], [1]]
    assert full["billing_provider"]["address"]["zip"] == "021151234"
    assert office.json("claim", "validate", claim["id"])["status"] == "ready"
    again = office("claim", "create", "--appt", "A1")
    assert again.exit_code == 1 and "no charges to bill" in again.stderr
    assert office("claim", "status", claim["id"], "paid").exit_code == 1  # ready cannot jump to paid
    events = tmp_path / "claims.jsonl"
    plugin = tmp_path / "claimrec.py"
    plugin.write_text("import json, os\nfrom medsec import hookimpl\n@hookimpl\n"
                      "def claim_status_changed(claim, old_status):\n"
                      "    open(os.environ['CLAIMREC'], 'a').write(\n"
                      "        json.dumps([claim['id'], old_status, claim['status']]))\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        office.ok("claim", "status", claim["id"], "submitted", "--note", "sent on paper",
                  env={"MEDSEC_PLUGINS": "helpers.billingplugins,claimrec", "CLAIMREC": str(events)})
    finally:
        sys.path.remove(str(tmp_path))
    assert json.loads(events.read_text()) == [claim["id"], "ready", "submitted"]
    assert [h["status"] for h in office.json("claim", "show", claim["id"])["history"]] == \
        ["draft", "ready", "submitted"]
    assert [c["id"] for c in office.json("claim", "list", "--status", "submitted")] == [claim["id"]]
    assert office.json("bill", "balance", patient["id"])["insurance_pending"] == "143.00"
    # the clearinghouse rejects it; corrected, it goes out again as a resubmission
    office.ok("claim", "status", claim["id"], "rejected", "--note", "front-end edit: subscriber id")
    out = tmp_path / "again.837"
    assert office.json("claim", "export", claim["id"], "--format", "x12-837p", "-o", out)["marked_submitted"]
    assert [h["status"] for h in office.json("claim", "show", claim["id"])["history"]][-2:] == \
        ["rejected", "submitted"]


def test_scrubber_names_the_field(office):
    office.ok("bill", "charge", "A1", "--code", "99213", "--dx", "E11.9", "--dx", "I10")
    office.ok("bill", "charge", "A1", "--code", "36415", "--dx", "E11")
    (made,) = office.json("claim", "create", "--appt", "A1")
    result = office("claim", "validate", made["id"])
    assert result.exit_code == 1 and "diagnoses[3] E11: a header code, not billable" in result.stderr
    app = AppContext(data_dir=str(office.home), user="tester")
    claim = get_claim(app, made["id"])
    broken = {**claim, "diagnoses": ["E11.9", "Q99.99X"],
              "billing_provider": {**claim["billing_provider"], "npi": "1234567890"},
              "subscriber": {**claim["subscriber"], "member_id": ""},
              "lines": [{**claim["lines"][0], "dx_pointers": [1, 3], "date": "2026-12-24"}]}
    import os

    os.environ.update(PLUGINS)
    problems = "\n".join(scrub(app, broken, app.today()))
    assert "diagnoses[2] Q99.99X: not a valid ICD-10-CM code" in problems
    assert "billing_provider.npi 1234567890: not a valid NPI (check digit)" in problems
    assert "subscriber.member_id: missing" in problems
    assert "lines[1].dx_pointers: 3 points to no diagnosis (the claim has 2)" in problems
    assert "lines[1].date 2026-12-24: service date in the future" in problems


def test_payer_rule_from_validate_claim_hook(office):
    appt, patient = seen_visit(office)
    office.ok("patient", "coverage", "add", patient["id"], "--payer", "HARBOR", "--member-id", "H1", "--replace")
    office.ok("bill", "charge", "A1", "--code", "99213", "--dx", "I10")
    office.ok("bill", "charge", "A1", "--code", "36415", "--dx", "I10")
    (made,) = office.json("claim", "create", "--appt", "A1")
    result = office("claim", "validate", made["id"])
    assert result.exit_code == 1 and "payer rule: Harbor Mutual takes one service line per claim" in result.stderr


def remit(claim, paid_lines, trace="CHK1001", status="1", claim_adjustments=(), remarks=()):
    lines = []
    for line, (paid, adjustments) in zip(claim["lines"], paid_lines, strict=True):
        lines.append({"code": line["code"], "modifiers": line["modifiers"], "charge": line["amount"],
                      "paid": paid, "units": line["units"], "date": line["date"], "line_ref": str(line["line"]),
                      "adjustments": [{"group": g, "reason": r, "amount": a, "quantity": ""}
                                      for g, r, a in adjustments],
                      "remarks": []})
    paid_total = sum(float(p) for p, _ in paid_lines)
    pr = sum(float(a) for _, adj in paid_lines for g, _, a in adj if g == "PR")
    return {"trace": trace, "method": "CHK", "paid_date": "2026-12-05", "total_paid": f"{paid_total:.2f}",
            "payer": {"name": claim["payer"]["name"], "id": claim["payer"]["payer_id"]}, "payee": {},
            "claims": [{"claim_id": claim["id"], "status_code": status, "charge": claim["total"],
                        "paid": f"{paid_total:.2f}", "patient_responsibility": f"{pr:.2f}", "payer_claim_id": "PCN9",
                        "adjustments": [{"group": g, "reason": r, "amount": a, "quantity": ""}
                                        for g, r, a in claim_adjustments],
                        "remarks": list(remarks), "lines": lines}], "provider_adjustments": []}


def submitted_claim(office):
    office.ok("bill", "charge", "A1", "--code", "99213", "--dx", "I10")
    office.ok("bill", "charge", "A1", "--code", "36415", "--dx", "I10")
    (made,) = office.json("claim", "create", "--appt", "A1")
    office.ok("claim", "validate", made["id"])
    office.ok("claim", "status", made["id"], "submitted")
    return office.json("claim", "show", made["id"])


def test_post_remit_pays_writes_off_and_leaves_the_patient_share(office, tmp_path):
    claim = submitted_claim(office)
    pid = claim["patient_id"]
    path = tmp_path / "era.json"
    path.write_text(json.dumps(remit(claim, [("80.00", [("CO", "45", "25.00"), ("PR", "2", "20.00")]),
                                             ("10.00", [("CO", "45", "8.00")])])))
    dry = office.json("claim", "post-remit", path, "--dry-run")
    assert dry["posted"][0]["status"] == "paid"
    assert office.json("claim", "show", claim["id"])["status"] == "submitted"  # dry run wrote nothing
    posted = office.json("claim", "post-remit", path)
    assert posted["posted"] == [{"claim_id": claim["id"], "status": "paid", "paid": "90.00", "written_off": "33.00",
                                 "patient_responsibility": "20.00", "reasons": ["CO-45", "PR-2"]}]
    shown = office.json("claim", "show", claim["id"])
    assert (shown["status"], shown["paid"], shown["patient_responsibility"]) == ("paid", "90.00", "20.00")
    bal = office.json("bill", "balance", pid)
    assert (bal["balance"], bal["patient_due"], bal["insurance_pending"]) == ("20.00", "20.00", "0.00")
    kinds = [(r["kind"], r["amount"]) for r in office.json("bill", "ledger", pid)]
    assert ("insurance-payment", "-90.00") in kinds and ("insurance-adjustment", "-33.00") in kinds
    before = snapshot(office.home)
    twice = office("claim", "post-remit", path)
    assert twice.exit_code == 1 and "already posted" in twice.stderr
    assert snapshot(office.home) == before


def test_denial_and_unmatched_claims(office, tmp_path):
    claim = submitted_claim(office)
    data = remit(claim, [("0.00", [("CO", "50", "125.00")]), ("0.00", [("CO", "50", "18.00")])],
                 trace="EFT77", status="4", remarks=["N130"])
    data["claims"].append({**data["claims"][0], "claim_id": "C999", "lines": []})
    path = tmp_path / "denial.json"
    path.write_text(json.dumps(data))
    result = office("claim", "post-remit", path, "--json")
    assert result.exit_code == 0 and "unmatched: C999 (no such claim)" in result.stderr
    assert result.json()["unmatched"][0]["claim_id"] == "C999"
    shown = office.json("claim", "show", claim["id"])
    assert shown["status"] == "denied" and shown["denial"] == {"reasons": ["CO-50"], "remarks": ["N130"]}
    office.ok("claim", "status", claim["id"], "appealed", "--note", "records sent")


def test_secondary_claim_carries_the_primary_payment(office, tmp_path):
    claim = submitted_claim(office)
    pid = claim["patient_id"]
    office.ok("patient", "coverage", "add", pid, "--payer", "HARBOR", "--member-id", "HM77", "--rank", "secondary")
    path = tmp_path / "era.json"
    path.write_text(json.dumps(remit(claim, [("80.00", [("CO", "45", "25.00"), ("PR", "2", "20.00")]),
                                             ("18.00", [])])))
    office.ok("claim", "post-remit", path)
    (secondary,) = office.json("claim", "create", "--patient", pid, "--rank", "secondary")
    full = office.json("claim", "show", secondary["id"])
    assert (full["rank"], full["payer_id"], len(full["lines"])) == ("secondary", "HARBOR", 1)
    prior = full["prior_payers"][0]
    assert (prior["rank"], prior["paid"], prior["payer"]["id"]) == ("primary", "98.00", claim["payer_id"])
    assert prior["lines"][0]["adjustments"][1] == {"group": "PR", "reason": "2", "amount": "20.00", "quantity": ""}
    assert office.json("bill", "balance", pid)["insurance_pending"] == "20.00"


def test_malformed_remittance_is_bad_input(office, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("[{\n  broken")
    before = snapshot(office.home)
    result = office("claim", "post-remit", path)
    assert result.exit_code == 2 and "line 2" in result.stderr
    assert snapshot(office.home) == before


def test_statement_invoice_and_aging(office, tmp_path):
    claim = submitted_claim(office)
    pid = claim["patient_id"]
    office.ok("bill", "pay", pid, "--amount", "20", "--method", "cash")
    text = office.ok("bill", "statement", pid).stdout
    assert "STATEMENT" in text and "AMOUNT DUE FROM YOU:" in text
    pdf = tmp_path / "statement.pdf"
    office.ok("bill", "statement", pid, "-o", pdf)
    assert pdf.read_bytes().startswith(b"%PDF-")
    invoice = office.json("bill", "invoice", "A1")
    assert (invoice["total"], invoice["paid"], invoice["owed"]) == ("143.00", "20.00", "123.00")
    aging = {r["responsible"]: r for r in office.json("report", "aging")}
    assert aging[claim["payer_id"]]["0-30"] == "123.00"
    later = {r["responsible"]: r for r in office.json("report", "aging", "--to", "2027-01-10")}
    assert later[claim["payer_id"]]["31-60"] == "123.00"
    claims = office.json("report", "claims")
    assert claims == [{"payer": claim["payer_id"], "status": "submitted", "claims": 1, "billed": "143.00",
                       "paid": "0.00"}]


def test_report_as_html_page_with_chart(office, tmp_path):
    import html5lib

    submitted_claim(office)
    page = tmp_path / "aging.html"
    office.ok("report", "aging", "--format", "html", "-o", page)
    text = page.read_text()
    tree = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)
    assert tree.find(".//{http://www.w3.org/2000/svg}rect") is not None and "<script" not in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    cells = [td.text for td in tree.iter("td")]
    for row in office.json("report", "aging"):
        assert row["responsible"] in cells and row["total"] in cells
    assert office("report", "aging", "--format", "html").exit_code == 2
    reversed_range = office("report", "claims", "--from", "2026-12-01", "--to", "2026-11-01")
    assert reversed_range.exit_code == 2 and "before --from" in reversed_range.stderr
