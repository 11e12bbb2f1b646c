"""The bookkeeper's journal: the practice's charges, receipts, adjustments and refunds as a
double-entry journal that beancount (`bean-check`) and hledger (`hledger check`) take.

Each charge, payment, adjustment and refund is one transaction of two postings:

- a charge: the receivable up, the revenue of its provider (`revenue:S1`) down;
- a patient payment: the account of its method (cash, card, check, eft) up, the receivable down;
- an insurance payment (835): the eft account (the check account for BPR04 CHK) up, the receivable down;
- an adjustment (`bill adjust`): the courtesy expense up, the receivable down (a negative one the other way);
- an insurance adjustment (an 835's write-off): the contractual expense up, the receivable down;
- a refund: the receivable up (the patient owes it again), the account of its method down.

A voided charge is left out. What happened before --from is one opening transaction on that day:
each asset account's balance then, against the opening equity. One receivable holds what patients
and payers owe alike: who owes what is `bill balance`'s, which follows the claims.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from medsec import clock
from medsec.errors import InvalidInput
from medsec.money import dec, exact, fmt
from medsec.outputs import check_output, write_output
from medsec.store.catalog import CHARGES, PAYMENTS
from medsec.vocabulary import CURRENCY_CODE, JOURNAL_ACCOUNTS

FORMATS = ["beancount", "hledger"]
EXCLUDED_CHARGES = ("void",)  # a voided charge is no revenue and nothing owed
MONEY_IN = ("payment", "insurance-payment")  # kinds whose money lands in a cash account
CURRENCY = "USD"
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9-]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class Entry:
    """One transaction: its day, what it is, and postings (account, amount) that sum to zero."""

    day: str
    order: tuple
    payee: str
    narration: str
    postings: list[tuple[str, Decimal]]
    tags: dict[str, str] = field(default_factory=dict)


def accounts_of(app) -> tuple[dict[str, str], str]:
    """The practice's journal accounts (practice.yaml `accounts` over JOURNAL_ACCOUNTS) and its currency."""
    practice = app.config("practice.yaml") or {}
    given = practice.get("accounts") or {}
    names = {key: str(given.get(key) or default) for key, default in JOURNAL_ACCOUNTS.items()}
    currency = str(practice.get("currency") or CURRENCY)
    if not CURRENCY_CODE.fullmatch(currency):  # config check refuses it; a damaged store must not write it
        raise InvalidInput(f"practice.yaml currency {currency!r} is not a three-letter code")
    return names, currency


def part(text: str) -> str:
    """`text` (a provider or payer id) as one part of an account name both tools take."""
    name = _NOT_IN_NAME.sub("-", str(text).upper()).strip("-") or "UNKNOWN"
    return name if name[0].isalnum() else "X" + name


@exact
def entries(view, names: dict[str, str]) -> list[Entry]:
    """Every charge and payment of the practice as a balanced transaction, by date."""
    out = [_charge(c, names) for c in view.scan(CHARGES) if c.get("status") not in EXCLUDED_CHARGES]
    out += [_payment(p, names) for p in view.scan(PAYMENTS)]
    found = [e for e in out if e is not None]
    found.sort(key=lambda e: (e.day, e.order))
    return found


def _number(record_id: str) -> int:
    digits = str(record_id)[1:]
    return int(digits) if digits.isdigit() else 0


def _charge(c: dict, names: dict[str, str]) -> Entry | None:
    amount = dec(c.get("amount"))
    if not amount:
        return None
    revenue = f"{names['revenue']}:{part(c.get('provider') or 'none')}"
    return Entry(str(c["date"])[:10], (0, _number(c["id"])), str(c.get("provider", "")),
                 f"charge {c['id']} {c.get('code', '')} x{c.get('units', 1)}",
                 [(names["receivable"], amount), (revenue, -amount)],
                 {"id": c["id"], "patient": c.get("patient_id", "")})


def money_account(p: dict, names: dict[str, str]) -> str:
    """Where a payment's money lands (or a refund's leaves): the account of its method."""
    method = str(p.get("method") or "").lower()
    if p.get("source") == "payer" or p["kind"].startswith("insurance"):
        method = "check" if method == "chk" else "eft"  # BPR04: CHK a check, else a transfer (ACH, FWT, BOP)
    return names[method] if method in ("cash", "card", "check", "eft") else names["eft"]


def _payment(p: dict, names: dict[str, str]) -> Entry | None:
    amount = dec(p.get("amount"))
    if not amount:
        return None
    kind = p.get("kind", "")
    receivable = names["receivable"]
    if kind in MONEY_IN:
        postings = [(money_account(p, names), amount), (receivable, -amount)]
    elif kind == "refund":
        postings = [(receivable, amount), (money_account(p, names), -amount)]
    elif kind == "insurance-adjustment":
        postings = [(names["contractual"], amount), (receivable, -amount)]
    else:  # an adjustment, or a credit of a kind this journal does not know: the ledger counts it so
        postings = [(names["courtesy"], amount), (receivable, -amount)]
    payee = p.get("payer") or p.get("patient_id", "")
    what = " ".join(x for x in (kind, p["id"], str(p.get("ref") or ""), str(p.get("reason") or "")) if x)
    tags = {"id": p["id"], "patient": p.get("patient_id", "")}
    if p.get("claim_id"):
        tags["claim"] = p["claim_id"]
    return Entry(str(p["date"])[:10], (1, _number(p["id"])), str(payee), what, postings, tags)


@exact
def window(found: Iterable[Entry], first: date, last: date, names: dict[str, str]) -> list[Entry]:
    """The entries dated `first` to `last`, after one that opens the asset accounts with their balances
    from everything before `first` (income and expenses before it are the opening equity)."""
    start, end = first.isoformat(), last.isoformat()
    before: dict[str, Decimal] = {}
    inside = []
    for entry in found:
        if entry.day < start:
            for account, amount in entry.postings:
                if account.split(":")[0] in ("Assets", "Liabilities"):
                    before[account] = before.get(account, Decimal(0)) + amount
        elif entry.day <= end:
            inside.append(entry)
    opening = [(a, v) for a, v in sorted(before.items()) if v]
    if opening:
        equity = -sum((v for _, v in opening), Decimal(0))
        postings = opening + ([(names["opening"], equity)] if equity else [])
        inside.insert(0, Entry(start, (-1, 0), "", f"balances before {start}", postings))
    return inside


def _text(value) -> str:
    """A payee or narration on one line, without control characters."""
    return _CONTROL.sub(" ", str(value)).strip()


def _used(found: list[Entry]) -> list[str]:
    return sorted({account for entry in found for account, _ in entry.postings})


def beancount(found: list[Entry], currency: str, first: date, title: str) -> str:
    def quoted(value) -> str:
        return '"' + _text(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"; medsec bill journal: {_text(title)}", f'option "operating_currency" "{currency}"', "",
             f"{first.isoformat()} commodity {currency}"]
    lines += [f"{first.isoformat()} open {account} {currency}" for account in _used(found)]
    for entry in found:
        lines += ["", f"{entry.day} * {quoted(entry.payee)} {quoted(entry.narration)}"]
        lines += [f"  {key}: {quoted(value)}" for key, value in entry.tags.items()]
        lines += [f"  {account}  {fmt(amount)} {currency}" for account, amount in entry.postings]
    return "\n".join(lines) + "\n"


def hledger(found: list[Entry], currency: str, first: date, title: str) -> str:
    def tag(value) -> str:
        return _text(value).replace(",", " ")

    lines = [f"; medsec bill journal: {_text(title)}", f"commodity 1000.00 {currency}", ""]
    lines += [f"account {account}" for account in _used(found)]
    for entry in found:
        tags = ", ".join(f"{key}:{tag(value)}" for key, value in entry.tags.items())
        description = f"{_text(entry.payee)} | {_text(entry.narration)}".replace(";", ",")
        lines += ["", f"{entry.day} * {description}" + (f"  ; {tags}" if tags else "")]
        lines += [f"    {account}  {fmt(amount)} {currency}" for account, amount in entry.postings]
    return "\n".join(lines) + "\n"


def export(app, output: str, fmt_name: str, first: date | None = None, last: date | None = None) -> dict:
    """Write the journal of `first` (default: January 1 of this year) to `last` (default: today)
    in `fmt_name` to `output`; a summary of what it holds."""
    if fmt_name not in FORMATS:
        raise InvalidInput(f"--format {fmt_name!r} is not one of {', '.join(FORMATS)}")
    last = last or app.today()
    first = first or date(last.year, 1, 1)
    clock.check_range(first, last)
    check_output(output, app.data_dir)
    names, currency = accounts_of(app)
    view = app.store.snapshot()
    found = window(entries(view, names), first, last, names)
    title = f"{(app.config('practice.yaml') or {}).get('name', '')} {first} to {last}"
    text = (beancount if fmt_name == "beancount" else hledger)(found, currency, first, title)
    patients = sorted({e.tags["patient"] for e in found if e.tags.get("patient")}, key=_number)
    app.audit("export", [e.tags["id"] for e in found if e.tags.get("id")] + patients)
    written = write_output(output, text.encode(), data_dir=app.data_dir)
    return {"file": written, "format": fmt_name, "from": first.isoformat(), "to": last.isoformat(),
            "currency": currency, "transactions": len(found), "accounts": _totals(found)}


@exact
def _totals(found: list[Entry]) -> dict[str, str]:
    """Each account's sum over the journal's transactions."""
    sums: dict[str, Decimal] = {}
    for entry in found:
        for account, amount in entry.postings:
            sums[account] = sums.get(account, Decimal(0)) + amount
    return {account: fmt(value) for account, value in sorted(sums.items())}
