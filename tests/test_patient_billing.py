"""Patient billing that adds up: statements and invoices that reconcile to `bill balance`, credits shown
positive, statements addressed to the guarantor, batches of statements, receipts, refunds, and the
upgrade that turns free-text guarantors into responsible parties."""

import csv
import io
import random
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader

from medsec import clock
from medsec.billing.accounts import record_payment
from medsec.billing.refunds import refund
from medsec.billing.statements import breakdown, carc_words, statement
from medsec.context import AppContext
from medsec.store.catalog import CHARGES, PATIENTS, PAYMENTS

PLUGINS = {"MEDSEC_PLUGINS": "helpers.billingplugins"}


@pytest.fixture
def office(demo):
    demo.env.update(PLUGINS)
    return demo


def _app(m) -> AppContext:
    return AppContext(data_dir=str(m.home), user="tester")


def _patients(app, n: int) -> list[str]:
    view = app.store.snapshot()
    return sorted((p["id"] for p in view.scan(PATIENTS) if p.get("status") == "active"),
                  key=lambda i: int(i[1:]))[:n]


def _put_charges(app, rows: list[tuple[str, str, str]]) -> list[dict]:
    """Charges (patient, date, amount) written as add_charge writes them."""
    with app.store.transaction() as txn:
        ids = txn.reserve_ids(CHARGES, len(rows))
        charges = [{"id": cid, "patient_id": pid, "appointment_id": "", "date": day, "provider": "S1",
                    "code": "99213", "description": "Office visit", "modifiers": [], "units": 1, "amount": amount,
                    "dx": ["I10"], "dx_pointers": [1], "place_of_service": "11", "status": "open", "claims": [],
                    "created": clock.iso(app.now()), "by": "tester"}
                   for cid, (pid, day, amount) in zip(ids, rows, strict=True)]
        txn.put_many(CHARGES, charges)
    return charges


def _put_insurance(app, records: list[dict]) -> None:
    """Insurance payments and adjustments in the shape remittances.py posts them."""
    with app.store.transaction() as txn:
        ids = txn.reserve_ids(PAYMENTS, len(records))
        txn.put_many(PAYMENTS, [{"source": "payer", "payer": "BCBS", "method": "ACH", "ref": "TRACE1",
                                 "claim_id": "", "unapplied": "0.00", "created": clock.iso(app.now()),
                                 "by": "tester", **r, "id": pid} for pid, r in zip(ids, records, strict=True)])


def _ins(kind: str, charge: dict, amount: Decimal, reason: str = "") -> dict:
    return {"patient_id": charge["patient_id"], "kind": kind, "amount": f"{amount:.2f}", "reason": reason,
            "date": charge["date"], "allocations": [{"charge_id": charge["id"], "amount": f"{amount:.2f}"}]}


def _amount(text: str) -> Decimal:
    return Decimal(text)


def _random_insurance(rng: random.Random, charges: list[dict]) -> list[dict]:
    """Paid with a contractual write-off (sometimes a sequestration too), denied with a write-off of part,
    or left to the patient."""
    insurance = []
    for charge in charges:
        amount = Decimal(charge["amount"])
        fate = rng.random()
        if fate < 0.55:
            allowed = (amount * Decimal(rng.randint(50, 95)) / 100).quantize(Decimal("0.01"))
            paid = (allowed * Decimal(rng.randint(60, 100)) / 100).quantize(Decimal("0.01"))
            insurance.append(_ins("insurance-payment", charge, paid))
            insurance.append(_ins("insurance-adjustment", charge, amount - allowed,
                                  rng.choice(["CO-45", "CO45", "CO-45 CO-253"])))
        elif fate < 0.7:
            insurance.append(_ins("insurance-adjustment", charge, (amount / 3).quantize(Decimal("0.01")),
                                  rng.choice(["CO-50", "OA-23", "CO-97"])))
    return insurance


def _random_patient_side(office, app, rng: random.Random, patients: list[str]) -> int:
    """Patient payments and courtesy adjustments; some overpay; half of each credit refunded."""
    for _ in range(120):
        pid = rng.choice(patients)
        if rng.random() < 0.8:
            record_payment(app, pid, amount=f"{rng.randint(5, 300)}.00", method=rng.choice(["cash", "card"]))
        else:
            record_payment(app, pid, amount=f"{rng.randint(1, 30)}.00", method="", reason="courtesy discount",
                           kind="adjustment")
    for pid in patients[:3]:
        due = Decimal(office.json("bill", "balance", pid)["patient_due"])
        record_payment(app, pid, amount=f"{due + rng.randint(10, 90):.2f}", method="check")
    refunded = 0
    for pid in patients:
        credit = Decimal(office.json("bill", "balance", pid)["credit"])
        if credit > 0:
            refund(app, pid, amount=f"{credit / 2:.2f}", method="check", reason="overpaid")
            refunded += 1
    return refunded


def test_200_visits_every_statement_adds_up_to_bill_balance(office):
    rng = random.Random(18)
    app = _app(office)
    patients = _patients(app, 8)
    today = app.today()
    rows = []
    for _ in range(200):
        day = type(today).fromordinal(today.toordinal() - rng.randint(0, 120))
        rows.append((rng.choice(patients), day.isoformat(), f"{rng.randint(40, 400)}.{rng.randint(0, 99):02d}"))
    _put_insurance(app, _random_insurance(rng, _put_charges(app, rows)))
    assert _random_patient_side(office, app, rng, patients)  # the property sees refunds too
    for pid in patients:
        shown = statement(app, pid, today.replace(year=today.year - 1), today)
        summary = shown["summary"]
        lines = _amount(summary["charges"]) - _amount(summary["insurance_paid"]) \
            - sum((_amount(a["amount"]) for a in summary["adjustments"]), Decimal(0)) \
            - _amount(summary["patient_paid"]) + _amount(summary["refunds"])
        rows_sum = _amount(shown["opening"]) + sum((_amount(r["amount"]) for r in shown["rows"]), Decimal(0))
        owed = office.json("bill", "balance", pid)
        assert lines == rows_sum == _amount(summary["balance"]) == _amount(owed["balance"]), pid
        assert _amount(owed["credit"]) >= 0 and _amount(owed["patient_due"]) >= 0
        assert _amount(owed["patient_due"]) - _amount(owed["credit"]) + _amount(owed["insurance_pending"]) \
            == _amount(owed["balance"])
        assert f"Balance:                {summary['balance']:>10}" in shown["text"]
        if summary["contractual"] != "0.00":
            assert "CO-45 charge exceeds fee schedule" in shown["text"]


def test_invoice_breaks_down_insurer_contractual_and_patient(office):
    app = _app(office)
    charge = office.json("bill", "charge", "A1", "--code", "99213", "--dx", "I10", "--amount", "135.00")
    _put_insurance(app, [_ins("insurance-payment", charge, Decimal("110.00")),
                         _ins("insurance-adjustment", charge, Decimal("25.00"), "CO-45")])
    inv = office.json("bill", "invoice", "A1", "--json")
    assert (inv["total"], inv["insurance_paid"], inv["patient_paid"], inv["owed"]) == \
        ("135.00", "110.00", "0.00", "0.00")
    assert inv["adjustments"] == [{"kind": "contractual", "reason": "CO-45 charge exceeds fee schedule",
                                   "amount": "25.00"}]
    text = office.ok("bill", "invoice", "A1").stdout
    assert re.search(r"Insurance paid: +-110\.00", text) and "Paid:" not in text.replace("Insurance paid", "")
    assert re.search(r"contractual adjustment +-25\.00 +CO-45 charge exceeds fee schedule", text)
    assert re.search(r"Still owed: +0\.00", text)
    assert carc_words("CO45 OA-23") == "CO-45 charge exceeds fee schedule; OA-23 prior payer's adjudication"


def test_breakdown_excludes_void_charges():
    charges = [{"id": "H1", "amount": "100.00", "status": "open"}, {"id": "H2", "amount": "50.00", "status": "void"}]
    payments = [{"kind": "payment", "amount": "30.00", "allocations": [{"charge_id": "H1", "amount": "30.00"}]},
                {"kind": "refund", "amount": "5.00", "allocations": []}]
    got = breakdown(charges, payments)
    assert (got["charges"], got["patient_paid"], got["refunds"], got["balance"]) == ("100.00", "30.00", "5.00",
                                                                                     "75.00")


def test_credit_is_shown_positive(office):
    pid = office.json("appt", "show", "A1")["patient_id"]
    office.ok("bill", "charge", "A1", "--code", "99213", "--dx", "I10", "--amount", "70.00")
    office.ok("bill", "pay", pid, "--amount", "100.00", "--method", "cash")
    owed = office.json("bill", "balance", pid)
    assert (owed["balance"], owed["credit"], owed["patient_due"]) == ("-30.00", "30.00", "0.00")
    table = office.ok("bill", "balance", pid).stdout
    assert "30.00" in table and "-30.00" not in table.replace("-30.00 ", "", 0).split("credit")[-1]
    text = office.ok("bill", "statement", pid).stdout
    assert re.search(r"CREDIT ON YOUR ACCOUNT: +30\.00", text) and re.search(r"AMOUNT DUE FROM YOU: +0\.00", text)
    # an adjustment that adds to what is owed is no negative credit
    office.ok("bill", "adjust", pid, "--amount", "-45.00", "--reason", "correction")
    owed = office.json("bill", "balance", pid)
    assert (owed["balance"], owed["credit"], owed["patient_due"]) == ("15.00", "0.00", "15.00")
    text = office.ok("bill", "statement", pid).stdout  # no insurer paid: 0.00, not -0.00; nor --45.00
    assert re.search(r"Insurance paid: +0\.00\n", text) and re.search(r"adjustment +45\.00 +correction", text)
    assert not re.search(r"(?<![\d.])-0\.00\b", text) and not re.search(r"--\d", text)


def test_refund_pays_back_the_credit_and_no_more(office):
    pid = office.json("appt", "show", "A1")["patient_id"]
    office.ok("bill", "charge", "A1", "--code", "99213", "--dx", "I10", "--amount", "70.00")
    office.ok("bill", "pay", pid, "--amount", "100.00", "--method", "card")
    too_much = office("bill", "refund", pid, "--amount", "30.01", "--method", "check", "--reason", "overpaid")
    assert too_much.exit_code == 1 and "credit of 30.00" in too_much.stderr
    done = office.json("bill", "refund", pid, "--amount", "30.00", "--method", "check", "--reason", "overpaid",
                       "--ref", "1043")
    assert (done["kind"], done["amount"], done["unapplied"]) == ("refund", "30.00", "-30.00")
    owed = office.json("bill", "balance", pid)
    assert (owed["balance"], owed["credit"], owed["patient_due"]) == ("0.00", "0.00", "0.00")
    last = office.json("bill", "ledger", pid)[-1]
    assert (last["kind"], last["amount"], last["balance"]) == ("refund", "30.00", "0.00")
    assert "refund (check 1043): overpaid" in last["description"]
    again = office("bill", "refund", pid, "--amount", "1.00", "--method", "check", "--reason", "x")
    assert again.exit_code == 1
    shown = office.json("bill", "statement", pid, "--json")
    assert (shown["summary"]["refunds"], shown["summary"]["balance"]) == ("30.00", "0.00")


def test_receipt_for_a_patient_payment(office, tmp_path):
    pid = office.json("appt", "show", "A1")["patient_id"]
    charge = office.json("bill", "charge", "A1", "--code", "99213", "--dx", "I10", "--amount", "70.00")
    pay = office.json("bill", "pay", pid, "--amount", "80.00", "--method", "card", "--ref", "visa-1234")
    text = office.ok("bill", "receipt", pay["id"]).stdout
    assert f"RECEIPT {pay['id']}" in text and re.search(r"Amount received: +80\.00", text)
    assert "card (visa-1234)" in text and charge["id"] in text and re.search(r"Kept as credit: +10\.00", text)
    pdf = tmp_path / "receipt.pdf"
    office.ok("bill", "receipt", pay["id"], "-o", pdf)
    assert "Amount received" in PdfReader(pdf).pages[0].extract_text()
    adj = office.json("bill", "adjust", pid, "--amount", "1.00", "--reason", "courtesy")
    refused = office("bill", "receipt", adj["id"])
    assert refused.exit_code == 1 and "receipts are for a patient's payments" in refused.stderr


def test_statements_go_to_the_guarantor(office):
    appt = office.json("appt", "show", "A1")
    pid = appt["patient_id"]
    office.ok("bill", "charge", "A1", "--code", "99213", "--dx", "I10", "--amount", "70.00")
    set_party = office.json("patient", "guarantor", pid, "--name", "Ann Byrne", "--relationship", "Parent",
                            "--address", "9 Elm Street", "--city", "Salem", "--state", "ma", "--zip", "01970")
    assert set_party["responsible_party"]["name"] == "Ann Byrne" and set_party["guarantor"] == ""
    text = office.ok("bill", "statement", pid).stdout
    head = text.split("Date        Description")[0]
    assert "Ann Byrne\n9 Elm Street\nSalem, MA 01970" in head
    patient = office.json("patient", "show", pid)
    assert f"Patient: {patient['first']} {patient['last']} ({pid})" in head
    invoice = office.ok("bill", "invoice", "A1").stdout
    assert "Bill to: Ann Byrne (parent)" in invoice and "9 Elm Street" in invoice
    other = next(p["id"] for p in office.json("patient", "list") if p["id"] != pid)
    office.ok("patient", "guarantor", pid, "--patient", other)
    payer = office.json("patient", "show", other)
    shown = office.json("bill", "statement", pid, "--json")
    assert (shown["bill_to"]["via"], shown["bill_to"]["name"]) == ("guarantor", f"{payer['first']} {payer['last']}")
    assert office.json("patient", "show", pid).get("responsible_party") is None
    bad = office("patient", "guarantor", pid, "--name", "Ann Byrne")
    assert bad.exit_code == 2 and "--address" in bad.stderr
    assert office.json("patient", "guarantor", pid, "--self")["guarantor"] == "self"


def test_statements_batch_pdf_and_csv(office, tmp_path):
    app = _app(office)
    first, second, third = _patients(app, 3)
    today = app.today().isoformat()
    _put_charges(app, [(first, today, "120.00"), (second, today, "40.00"), (third, today, "3.00")])
    office.ok("patient", "guarantor", second, "--patient", first)  # one statement for both
    pdf, sheet = tmp_path / "out" / "statements.pdf", tmp_path / "statements.csv"
    result = office.json("bill", "statements", "--due", "-o", pdf, "--csv", sheet, "--json")
    assert [s["patients"] for s in result["statements"]] == [[first, second]]  # third owes less than 5.00
    assert (result["documents"], result["total_due"]) == (1, "160.00")
    reader = PdfReader(pdf)
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert text.count("STATEMENT") == 2 and first in text and second in text
    rows = list(csv.DictReader(io.StringIO(sheet.read_text())))
    payer = office.json("patient", "show", first)
    assert [(r["name"], r["amount_due"], r["statement_date"], r["account"]) for r in rows] == \
        [(f"{payer['first']} {payer['last']}", "160.00", today, f"{first} {second}")]
    assert rows[0]["address_line1"] == payer["address"] and rows[0]["zip"].startswith(payer["zip"][:5])
    everyone = office.json("bill", "statements", "--due", "--min-balance", "1.00", "-o", tmp_path, "--json")
    assert everyone["documents"] == 2 and len(PdfReader(everyone["pdf"]).pages) >= 2
    assert everyone["csv"].endswith(f"statements-{today}.csv")
    with open(everyone["csv"]) as f:
        assert len(list(csv.DictReader(f))) == 2


def test_statements_batch_csv_holds_no_formula_and_a_bad_csv_writes_nothing(office, tmp_path):
    app = _app(office)
    (first,) = _patients(app, 1)
    _put_charges(app, [(first, app.today().isoformat(), "120.00")])
    with app.store.transaction() as txn:  # a name a spreadsheet would run
        old = txn.get(PATIENTS, first)
        txn.put(PATIENTS, {**old, "first": "=HYPERLINK(1)"}, old)
    pdf, sheet = tmp_path / "statements.pdf", tmp_path / "statements.csv"
    inside = office.home / "statements.csv"
    bad = office("bill", "statements", "--due", "-o", pdf, "--csv", inside)
    assert bad.exit_code == 2 and "inside the data directory" in bad.stderr
    assert not pdf.exists() and not inside.exists()  # neither file written
    same = office("bill", "statements", "--due", "-o", pdf, "--csv", pdf)
    assert same.exit_code == 2 and not pdf.exists()
    office.ok("bill", "statements", "--due", "-o", pdf, "--csv", sheet)
    (row,) = list(csv.DictReader(io.StringIO(sheet.read_text())))
    assert row["name"].startswith("'=HYPERLINK(1)") and row["patients"].startswith("'=HYPERLINK(1)")
    assert row["amount_due"] == "120.00"
    lonely = office("bill", "statements", "--due", "--channel", "email")
    assert lonely.exit_code == 2 and "--channel goes with --send" in lonely.stderr


def test_refund_ref_is_judged_as_the_ref(office):
    pid = office.json("appt", "show", "A1")["patient_id"]
    office.ok("bill", "pay", pid, "--amount", "10.00", "--method", "cash")
    long = office("bill", "refund", pid, "--amount", "5.00", "--method", "check", "--reason", "overpaid",
                  "--ref", "9" * 201)
    assert long.exit_code == 2 and "--ref" in long.stderr and "reason" not in long.stderr.split("(")[0]
    done = office.json("bill", "refund", pid, "--amount", "5.00", "--method", "check", "--reason", "overpaid",
                       "--ref", " 1043 ")
    assert done["ref"] == "1043"


def test_upgrade_makes_free_text_guarantors_responsible_parties(office):
    app = _app(office)
    kid, other, third, fourth = _patients(app, 4)
    with app.store.transaction() as txn:
        for pid, text in ((kid, "Jane Doe, mother"), (other, "call mom 555-0100"), (third, "self"),
                          (fourth, f" {kid.lower()}")):
            old = txn.get(PATIENTS, pid)
            txn.put(PATIENTS, {**old, "guarantor": text}, old)
    yaml = office.home / "medsec.yaml"
    yaml.write_text(re.sub(r"schema_version: \d+", "schema_version: 3", yaml.read_text()))
    assert office("patient", "show", kid).exit_code == 3
    result = office.json("upgrade")
    assert (result["from"], result["to"]) == (3, 4)
    assert result["steps"][0] == ("guarantors: 1 free-text guarantor(s) made responsible parties, "
                                  "1 marked needs_review (medsec check lists them)")
    record = office.json("patient", "show", kid)
    party = record["responsible_party"]
    assert (record["guarantor"], party["name"], party["relationship"], party["address"]) == \
        ("", "Jane Doe", "mother", record["address"])
    assert office.json("patient", "show", third)["guarantor"] == "self"
    assert office.json("patient", "show", fourth)["guarantor"] == kid  # an id in another spelling, as medsec spells it
    review = office.json("patient", "show", other)["responsible_party"]
    assert review["needs_review"] and review["converted_from"] == "call mom 555-0100"
    check = office("check")
    assert check.exit_code == 0 and f"warning: {other}: a guarantor written as free text needs review" in check.stderr
    assert "555-0100" not in check.stderr  # what it says stays in the chart, not on a terminal or in cron's mail
    assert kid not in check.stderr
    office.ok("bill", "charge", kid, "--code", "99213", "--dx", "I10", "--amount", "50.00", "--provider", "S1")
    assert office.json("bill", "statement", kid, "--json")["bill_to"]["name"] == "Jane Doe"
