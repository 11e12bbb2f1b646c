"""`medsec bill journal`: the practice's books as a beancount or hledger journal, judged by the tools
themselves (bean-check, hledger check), whose totals are the practice's own (report productivity,
bill ledger)."""

import csv
import io
import random
import subprocess
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from helpers.tools import need_tool

from medsec.billing import accounts as acc
from medsec.context import AppContext
from medsec.store.catalog import CHARGES, PAYMENTS

NOW = "2026-11-26T10:00:00"
FIRST, LAST = "2025-11-27", "2026-11-26"  # the year of activity the fixture makes
PROVIDERS = ("S1", "S2", "S3")
PATIENTS = [f"P{n}" for n in range(1, 21)]
MONEY = ("Assets:Cash", "Assets:Card-Clearing", "Assets:Checks", "Assets:Bank")


def bean_check(path: Path) -> None:
    proc = subprocess.run([need_tool("bean-check"), str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def hledger_check(path: Path) -> None:
    tool = need_tool("hledger")
    for checks in ([], ["--strict", "accounts", "commodities", "ordereddates"]):
        proc = subprocess.run([tool, "-f", str(path), "check", *checks], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def beancount_sums(path: Path, currency: str = "USD") -> tuple[dict[str, Decimal], list[date]]:
    """Each account's balance as beancount reads the file, and the transactions' dates."""
    from beancount import loader
    from beancount.core.data import Transaction

    found, errors, _ = loader.load_file(str(path))
    assert not errors
    sums: dict[str, Decimal] = {}
    days = []
    for entry in found:
        if isinstance(entry, Transaction):
            days.append(entry.date)
            for posting in entry.postings:
                assert posting.units.currency == currency
                sums[posting.account] = sums.get(posting.account, Decimal(0)) + posting.units.number
    return sums, days


def hledger_sums(path: Path) -> dict[str, Decimal]:
    proc = subprocess.run([need_tool("hledger"), "-f", str(path), "balance", "--flat", "-N", "-O", "csv"],
                          capture_output=True, text=True, check=True)
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert all(r["balance"].endswith(" USD") or r["balance"] == "0" for r in rows)
    return {r["account"]: Decimal(r["balance"].removesuffix(" USD")) for r in rows}


def at(monkeypatch, day: date) -> None:
    monkeypatch.setenv("MEDSEC_NOW", f"{day.isoformat()}T10:00:00")


def remittance_records(app, charge: dict, payer: str, paid: Decimal, written_off: Decimal, day: date,
                       method: str, trace: str) -> None:
    """An 835's insurance payment and write-off of one charge, as medsec.billing.remittances posts them."""
    common = {"patient_id": charge["patient_id"], "source": "payer", "payer": payer, "method": method,
              "ref": trace, "date": day.isoformat(), "claim_id": "", "unapplied": "0.00",
              "created": f"{day.isoformat()}T10:00:00-05:00", "by": "tester"}
    records = [{**common, "kind": "insurance-payment", "amount": str(paid), "reason": "",
                "allocations": [{"charge_id": charge["id"], "amount": str(paid)}]}]
    if written_off:
        records.append({**common, "kind": "insurance-adjustment", "amount": str(written_off), "reason": "CO-45",
                        "allocations": [{"charge_id": charge["id"], "amount": str(written_off)}]})
    with app.store.transaction() as txn:
        ids = txn.reserve_ids(PAYMENTS, len(records))
        txn.put_many(PAYMENTS, [{**r, "id": pid} for pid, r in zip(ids, records, strict=True)])


@pytest.fixture
def books(demo, monkeypatch):
    """The demo practice with a year of activity: charges by three providers, patient payments by
    every method, courtesy adjustments (one negative), insurance payments and write-offs."""
    app = AppContext(data_dir=str(demo.home), user="tester")
    rng = random.Random(18)
    start = date.fromisoformat(FIRST)
    for n in range(60):
        day = start + timedelta(days=rng.randrange(340))
        at(monkeypatch, date.fromisoformat(LAST))
        charge = acc.add_charge(app, rng.choice(PATIENTS), code=rng.choice(["99213", "99214", "36415"]),
                                dx=["E11.9"], provider=rng.choice(PROVIDERS), date=day.isoformat())
        amount = Decimal(charge["amount"])
        later = day + timedelta(days=rng.randrange(1, 20))
        at(monkeypatch, later)
        copay = Decimal(rng.choice(["10.00", "20.00", "25.50"]))
        acc.record_payment(app, charge["patient_id"], amount=str(copay), method=acc.METHODS[n % 4],
                           ref=f"copay {n}", charge_id=charge["id"])
        if n % 3 == 0:
            paid = ((amount - copay) * Decimal("0.7")).quantize(Decimal("0.01"))
            remittance_records(app, charge, rng.choice(["HARBOR", "BAYSTATE"]), paid,
                               amount - copay - paid - Decimal("5.00"), later, "CHK" if n % 2 else "ACH",
                               f"TR{n}")
        elif n % 7 == 1:
            acc.record_payment(app, charge["patient_id"], amount="5.00", method="", reason="courtesy",
                               charge_id=charge["id"], kind="adjustment", allow_negative=True)
        elif n % 11 == 2:
            acc.record_payment(app, charge["patient_id"], amount="-2.50", method="", reason="correction",
                               charge_id=charge["id"], kind="adjustment", allow_negative=True)
    at(monkeypatch, date.fromisoformat(LAST))
    return demo


def ledgers(office) -> list[list[dict]]:
    return [office.json("bill", "ledger", pid) for pid in PATIENTS]


def test_a_year_of_books_balances_in_both_tools_and_matches_the_reports(books, tmp_path):
    bean, led = tmp_path / "books.beancount", tmp_path / "books.journal"
    summary = books.json("bill", "journal", "--from", FIRST, "--to", LAST, "--format", "beancount", "-o", bean)
    books.ok("bill", "journal", "--from", FIRST, "--to", LAST, "--format", "hledger", "-o", led)
    bean_check(bean)
    hledger_check(led)
    sums, days = beancount_sums(bean)
    assert hledger_sums(led) == {a: v for a, v in sums.items() if v}  # the two tools read the same books
    assert summary["accounts"] == {a: f"{v:.2f}" for a, v in sorted(sums.items())}
    assert min(days) >= date.fromisoformat(FIRST) and max(days) <= date.fromisoformat(LAST)
    assert "Equity:Opening-Balances" not in sums  # nothing happened before FIRST

    report = books.json("report", "productivity", "--from", FIRST, "--to", LAST)
    for row in report:  # revenue per provider is the report's charges
        assert -sums.get(f"Income:Patient-Services:{row['provider']}", Decimal(0)) == Decimal(row["charges"])
    assert sum(Decimal(r["charges"]) for r in report) > 0
    # every payment was applied to a charge, so the receipts are the report's collections
    assert sum(sums[a] for a in MONEY) == sum(Decimal(r["collections"]) for r in report)
    assert all(sums[a] > 0 for a in MONEY)

    rows = [row for ledger in ledgers(books) for row in ledger]
    by_kind: dict[str, Decimal] = {}
    for row in rows:
        by_kind[row["kind"]] = by_kind.get(row["kind"], Decimal(0)) + Decimal(row["amount"])
    assert sums["Expenses:Courtesy-Adjustments"] == -by_kind["adjustment"]
    assert sums["Expenses:Contractual-Adjustments"] == -by_kind["insurance-adjustment"] > 0
    assert sum(sums[a] for a in MONEY) == -(by_kind["payment"] + by_kind["insurance-payment"])
    assert sums["Assets:Receivable"] == sum(by_kind.values())
    text = bean.read_text()
    assert "-2.50 USD" in text and 'patient: "P' in text


def test_a_later_start_opens_with_the_balances_before_it(books, tmp_path):
    out, led = tmp_path / "half.beancount", tmp_path / "half.journal"
    books.ok("bill", "journal", "--from", "2026-06-01", "--to", LAST, "--format", "beancount", "-o", out)
    books.ok("bill", "journal", "--from", "2026-06-01", "--to", LAST, "--format", "hledger", "-o", led)
    bean_check(out)
    hledger_check(led)
    sums, days = beancount_sums(out)
    assert min(days) == date(2026, 6, 1) and max(days) <= date.fromisoformat(LAST)
    assert sums["Equity:Opening-Balances"] < 0
    # the receivable still ends where every patient's ledger ends
    assert sums["Assets:Receivable"] == sum(Decimal(ledger[-1]["balance"]) for ledger in ledgers(books) if ledger)
    report = books.json("report", "productivity", "--from", "2026-06-01", "--to", LAST)
    revenue = -sum(v for a, v in sums.items() if a.startswith("Income:"))
    assert revenue == sum(Decimal(r["charges"]) for r in report) > 0
    # up to the end of May: its own revenue; both halves make the year
    first = tmp_path / "first.beancount"
    books.ok("bill", "journal", "--from", FIRST, "--to", "2026-05-31", "--format", "beancount", "-o", first)
    early, _ = beancount_sums(first)
    whole = tmp_path / "whole.beancount"
    books.ok("bill", "journal", "--from", FIRST, "--to", LAST, "--format", "beancount", "-o", whole)
    year, _ = beancount_sums(whole)
    for account in year:
        if account.startswith(("Income:", "Expenses:")):
            assert early.get(account, Decimal(0)) + sums.get(account, Decimal(0)) == year[account]


def test_void_charges_refunds_and_odd_ids(demo, tmp_path, monkeypatch):
    """A voided charge is left out; a refund puts money back on the account and out of its method's;
    a payer id that is no account part still makes a valid name; practice.yaml names the accounts."""
    (demo.home / "practice.yaml").write_text((demo.home / "practice.yaml").read_text() +
                                             "currency: EUR\naccounts:\n  cash: Assets:Front-Desk:Till\n"
                                             "  receivable: Assets:AR\n")
    assert demo("config", "check").exit_code == 0
    app = AppContext(data_dir=str(demo.home), user="tester")
    kept = acc.add_charge(app, "P1", code="99213", dx=["E11.9"], provider="S1", date="2026-11-02")
    voided = acc.add_charge(app, "P1", code="99214", dx=["E11.9"], provider="S2", date="2026-11-02")
    with app.store.transaction() as txn:
        txn.put(CHARGES, {**txn.get(CHARGES, voided["id"]), "status": "void"})
    acc.record_payment(app, "P1", amount="40.00", method="cash", charge_id=kept["id"])
    remittance_records(app, kept, "odd payer/1", Decimal("30.00"), Decimal("0"), date(2026, 11, 20), "ACH", "T1")
    with app.store.transaction() as txn:
        (rid,) = txn.reserve_ids(PAYMENTS)
        txn.put(PAYMENTS, {"id": rid, "patient_id": "P1", "kind": "refund", "source": "patient", "amount": "15.00",
                           "method": "cash", "ref": "over\npaid", "reason": 'said "thanks"', "date": "2026-11-25",
                           "claim_id": "", "allocations": [], "unapplied": "0.00", "created": NOW, "by": "tester"})
    out, led = tmp_path / "b.beancount", tmp_path / "h.journal"
    summary = demo.json("bill", "journal", "--from", "2026-11-01", "--format", "beancount", "-o", out)
    demo.ok("bill", "journal", "--from", "2026-11-01", "--format", "hledger", "-o", led)
    bean_check(out)
    hledger_check(led)
    sums, _ = beancount_sums(out, "EUR")
    assert summary["currency"] == "EUR" and summary["to"] == "2026-11-26"
    fee = Decimal(kept["amount"])
    assert sums == {"Assets:AR": fee - 40 - 30 + 15, "Assets:Front-Desk:Till": Decimal("25.00"),
                    "Assets:Bank": Decimal("30.00"), "Income:Patient-Services:S1": -fee}
    assert voided["id"] not in out.read_text()
    assert "EUR" in led.read_text() and "USD" not in led.read_text()


@pytest.mark.parametrize("args, message", [
    (["--format", "ledger", "-o", "x.journal"], "'ledger' is not one of"),
    (["--format", "hledger", "-o", "x.journal", "--from", "2026-11-02", "--to", "2026-11-01"],
     "--to 2026-11-01 is before --from 2026-11-02"),
    (["--format", "hledger"], "missing option '-o'"),
])
def test_bad_requests_write_nothing(demo, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = demo("bill", "journal", *args)
    assert result.exit_code == 2 and message in result.stderr
    assert not (tmp_path / "x.journal").exists()


def test_the_journal_refuses_a_path_in_the_data_directory(demo):
    result = demo("bill", "journal", "--format", "beancount", "-o", demo.home / "books.beancount")
    assert result.exit_code == 2 and "inside the data directory" in result.stderr


@pytest.mark.parametrize("yaml, message", [
    ("accounts:\n  cash: Assets:petty cash\n", "accounts.cash 'Assets:petty cash' is not an account name"),
    ("accounts:\n  revenue: Revenue:Visits\n", "accounts.revenue 'Revenue:Visits' is not an account name"),
    ("accounts:\n  receivable: Assets\n", "accounts.receivable 'Assets' is not an account name"),
    ("accounts:\n  bank: Assets:Bank\n", "accounts.bank: unknown account"),
    ("currency: usd\n", "currency must be a three-letter code"),
])
def test_config_check_refuses_account_names_the_tools_would_not_take(demo, yaml, message):
    practice = demo.home / "practice.yaml"
    practice.write_text(practice.read_text() + yaml)
    result = demo("config", "check")
    assert result.exit_code == 3 and message in result.stderr  # config check: errors found, exit 3
    journal = demo("bill", "journal", "--format", "hledger", "-o", demo.home.parent / "x.journal")
    assert journal.exit_code != 0 and message in journal.stderr
    assert not (demo.home.parent / "x.journal").exists()


def test_the_export_is_audited(books, tmp_path):
    out = tmp_path / "b.beancount"
    books.ok("bill", "journal", "--from", FIRST, "--format", "beancount", "-o", out)
    entries = books.json("audit", "--from", "today")
    assert any(e["action"] == "export" and "P1" in e["ids"] for e in entries)
