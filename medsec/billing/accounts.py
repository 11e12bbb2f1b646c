"""Charges, payments and adjustments: the patient's account, in exact decimals.

Every payment or adjustment is allocated to charges (the one named, else the
oldest still owing), so each charge knows what it still owes and who owes it:
the payer while a claim for it is open, the patient after.
"""

import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from medsec import clock
from medsec.errors import InvalidInput, NotFound, Refused
from medsec.money import MAX_AMOUNT, check_total, damaged, dec, exact, fmt, parse_amount
from medsec.records.patients import get_patient
from medsec.records.staff import get_staff
from medsec.scheduling.appointments import get_appointment
from medsec.store.catalog import APPOINTMENTS, CHARGES, CLAIMS, PAYMENTS
from medsec.text import shown

METHODS = ["cash", "card", "check", "eft"]
CHARGEABLE = ("arrived", "roomed", "seen", "checked-out")
PAYER_STATUSES = ("draft", "ready", "submitted", "accepted", "appealed")
CHARGE_COLUMNS = ["id", "date", "patient_id", "provider", "code", "modifiers", "units", "amount", "dx", "status"]
LEDGER_COLUMNS = ["date", "id", "kind", "description", "amount", "balance"]


# -- fees and codes -------------------------------------------------------------
def code_entry(app, code: str) -> dict:
    """The procedure code from a coding table (practice codes, HCPCS); unknown is bad input."""
    from medsec.plugins import collect  # pluggy: loaded only by commands that read coding tables

    for reg in collect(app.plugins, "register_coding_tables").values():
        if reg.item.system.upper().startswith("ICD"):
            continue
        found = reg.item.lookup(app.store.root, code)
        if found:
            return found
    raise InvalidInput(f"unknown procedure code {code!r}", hint="list the practice's codes in codes.yaml")


def fee_for(app, code: str, payer: str | None) -> Decimal | None:
    """Per-payer fee, else the fee schedule, else the code list's fee."""
    fees = app.config("fees.yaml")
    if payer and code in ((fees.get("payers") or {}).get(payer) or {}):
        return dec(fees["payers"][payer][code])
    if code in (fees.get("fees") or {}):
        return dec(fees["fees"][code])
    fee = code_entry(app, code).get("fee")
    return dec(fee) if fee not in (None, "") else None


def dx_status(app, code: str) -> str:
    """'billable', 'header', 'unknown' from the ICD-10-CM table, or 'unchecked' without one."""
    from medsec.plugins import collect  # pluggy: loaded only by commands that read coding tables

    for reg in collect(app.plugins, "register_coding_tables").values():
        if reg.item.system.upper() == "ICD-10-CM":
            found = reg.item.lookup(app.store.root, code)
            if not found:
                return "unknown"
            return "billable" if found.get("billable", True) else "header"
    return "unchecked"


def primary_payer(patient: dict, rank: str = "primary") -> str | None:
    for coverage in patient.get("coverages") or []:
        if coverage["rank"] == rank:
            return coverage["payer"]
    return None


# -- charges -----------------------------------------------------------------
def add_charge(app, target: str, *, code: str, dx: list[str], modifiers: Sequence[str] = (), units: int = 1,
               provider: str | None = None, date: str | None = None, amount: str | None = None,
               pointers: list[int] | None = None, place_of_service: str = "11", again: bool = False) -> dict:
    """A charge for an appointment (A..) or a patient (P..) without one; the same code twice on one
    visit is refused (exit 1) unless `again`."""
    _check_charge_options(dx, modifiers, units, place_of_service)
    entry = code_entry(app, code)
    appt, patient, provider, when = _charged_visit(app, target, provider, date)
    member = get_staff(app, provider)
    if not member.get("npi"):
        raise InvalidInput(f"{member['id']} has no NPI; charges need a rendering provider")
    dx_codes = [d.strip().upper() for d in dx]
    pointers = _dx_pointers(dx_codes, pointers)
    price = parse_amount(amount, "--amount") if amount is not None else _fee(app, entry, patient, units)
    warnings = [f"{d}: {s} ICD-10-CM code" for d in dx_codes if (s := dx_status(app, d)) in ("unknown", "header")]
    with app.store.transaction() as txn:
        if appt and not again and (problem := duplicate_problem(txn, patient["id"], appt["id"], entry["code"])):
            raise Refused(f"{problem}: not charged again", hint="give --again to charge it once more, or correct "
                                                                "the charge with 'medsec bill correct'")
        check_account(txn, patient["id"], charged=price)
        (charge_id,) = txn.reserve_ids(CHARGES)
        charge = {"id": charge_id, "patient_id": patient["id"], "appointment_id": appt["id"] if appt else "",
                  "date": when.isoformat(), "provider": member["id"], "code": entry["code"],
                  "description": entry.get("description", ""), "modifiers": list(modifiers), "units": units,
                  "amount": fmt(price), "dx": dx_codes, "dx_pointers": pointers, "place_of_service": place_of_service,
                  "status": "open", "claims": [], "created": clock.iso(app.now()), "by": app.user}
        txn.put(CHARGES, charge)
    app.audit("charge", [charge_id, patient["id"]])
    return {**charge, "warnings": warnings}


def duplicate_problem(view, patient_id: str, appt_id: str, code: str) -> str:
    """Words for a live charge of `code` on the visit `appt_id` already ("" when there is none)."""
    for cid in view.lookup("charge-patient", patient_id):
        charge = view.get(CHARGES, cid)
        if charge and charge.get("appointment_id") == appt_id and charge.get("code") == code \
                and charge.get("status") != "void":
            return f"{appt_id} already has a {code} charge ({charge['id']})"
    return ""


def _check_charge_options(dx: list[str], modifiers: Sequence[str], units: int, place_of_service: str) -> None:
    if not (len(place_of_service) == 2 and place_of_service.isascii() and place_of_service.isdigit()):
        raise InvalidInput(f"--pos {shown(place_of_service)}: a place of service is a 2-digit CMS code (11: office)")
    if not dx:
        raise InvalidInput("give at least one --dx diagnosis code")
    if units < 1:
        raise InvalidInput("--units must be at least 1")
    for mod in modifiers:
        if not (len(mod) == 2 and mod.isascii() and mod.isalnum()):
            raise InvalidInput(f"modifier {mod!r} must be two letters or digits")
    if len(modifiers) > 4:
        raise InvalidInput("at most four modifiers")


def _charged_visit(app, target: str, provider: str | None, date: str | None):
    """(appointment or None, patient, provider, date of service) of a charge's target.

    An appointment must have taken place and gives the provider and the date
    unless they are given; a patient's charge is dated today and goes to the
    provider the patient saw last unless given. The date cannot be in the future.
    """
    appt = None
    if target[:1].upper() == "A":
        appt = get_appointment(app, target)
        if appt["status"] not in CHARGEABLE:
            raise Refused(f"{appt['id']} is {appt['status']}; charge visits that took place")
        patient = get_patient(app, appt["patient_id"])
        provider = provider or appt["provider"]
        when = datetime.fromisoformat(appt["start"]).astimezone(app.tz).date()
    else:
        patient = get_patient(app, target)
        when = app.parse_date(date, "--date") if date else app.today()
        provider = provider or _usual_provider(app, patient["id"])
    if date and appt:
        when = app.parse_date(date, "--date")
    if when > app.today():
        raise InvalidInput(f"--date {when} is in the future")
    return appt, patient, provider, when


def _dx_pointers(dx_codes: list[str], pointers: list[int] | None) -> list[int]:
    """The diagnoses (1-based) the charge points to: the given ones, else the first four."""
    pointers = pointers or list(range(1, min(len(dx_codes), 4) + 1))
    if any(p < 1 or p > len(dx_codes) for p in pointers) or len(pointers) > 4:
        raise InvalidInput(f"--pointer must name 1 to 4 of the {len(dx_codes)} diagnoses")
    return pointers


def _fee(app, entry: dict, patient: dict, units: int) -> Decimal:
    """The fee for `units` of the code, by the patient's primary payer; none is bad input."""
    fee = fee_for(app, entry["code"], primary_payer(patient))
    if fee is None:
        raise InvalidInput(f"no fee for {entry['code']} in fees.yaml", hint="give --amount")
    price = fee * units
    if price > MAX_AMOUNT:
        raise InvalidInput(f"{units} units of {entry['code']} at {fee} come to {fmt(price)}, more than "
                           f"{MAX_AMOUNT:,}, the most one charge may be", hint="split the charge or give --amount")
    return price


def _usual_provider(app, patient_id: str) -> str:
    """The provider the patient saw most recently, else refuse (give --provider)."""
    view = app.store.snapshot()
    ids = view.lookup("appt-patient", patient_id)
    seen = sorted((a for a in view.get_many(APPOINTMENTS, ids) if a.get("patient_id") == patient_id),
                  key=lambda a: a["start"])
    if not seen:
        raise InvalidInput(f"{patient_id} has no visits yet: give --provider")
    return seen[-1]["provider"]


def charges_of(view, patient_id: str) -> list[dict]:
    ids = view.lookup("charge-patient", patient_id)
    return sorted((c for c in view.get_many(CHARGES, ids) if c["patient_id"] == patient_id),
                  key=lambda c: (c["date"], int(c["id"][1:])))


def payments_of(view, patient_id: str) -> list[dict]:
    ids = view.lookup("payment-patient", patient_id)
    return sorted((p for p in view.get_many(PAYMENTS, ids) if p["patient_id"] == patient_id),
                  key=lambda p: (p["date"], int(p["id"][1:])))


# -- sums and their bounds --------------------------------------------------------
@exact
def check_account(view, patient_id: str, charged: Decimal = Decimal(0), credited: Decimal = Decimal(0)) -> None:
    """Refuse (InvalidInput) a charge or a credit that would take the patient's total charges, or
    total payments and adjustments, past MAX_TOTAL; call it inside the transaction, before any put."""
    if charged:
        check_total(sum((dec(c.get("amount")) for c in charges_of(view, patient_id) if c.get("status") != "void"),
                        charged),
                    f"{patient_id}'s charges")
    if credited:
        check_total(sum((dec(p.get("amount")) for p in payments_of(view, patient_id)), credited),
                    f"{patient_id}'s payments and adjustments")


def damaged_amounts(view, patient_id: str) -> list[str]:
    """Ids of the patient's charges and payments holding an amount that is no amount (each read as 0.00)."""
    found = [c["id"] for c in charges_of(view, patient_id) if damaged(c.get("amount"))]
    for p in payments_of(view, patient_id):
        amounts = [p.get("amount"), p.get("unapplied")] + [a.get("amount") for a in _allocations(p)]
        if any(damaged(a) for a in amounts):
            found.append(p["id"])
    return found


def warn_damaged(view, patient_id: str) -> None:
    """A note on stderr when a patient's account holds damaged amounts: the totals printed count them as 0.00."""
    found = damaged_amounts(view, patient_id)
    if found:
        print(f"medsec: warning: {patient_id}'s account holds {len(found)} damaged amount(s) "
              f"({', '.join(found[:10])}), counted as 0.00; run 'medsec check'", file=sys.stderr)


def _allocations(payment: dict) -> list[dict]:
    """A payment's allocations, skipping any stored entry that is not one."""
    return [a for a in payment.get("allocations") or [] if isinstance(a, dict) and a.get("charge_id")]


# -- what each charge still owes ------------------------------------------------
@exact
def outstanding(view, patient_id: str) -> dict[str, Decimal]:
    """charge id -> amount still owed, after every allocation."""
    owed = {c["id"]: dec(c.get("amount")) for c in charges_of(view, patient_id) if c.get("status") != "void"}
    for p in payments_of(view, patient_id):
        for a in _allocations(p):
            owed[a["charge_id"]] = owed.get(a["charge_id"], Decimal(0)) - dec(a.get("amount"))
    return owed


def responsible(view, charge: dict) -> str:
    """Who owes a charge now: the payer id of an open claim, else 'patient'."""
    for claim_id in reversed(charge.get("claims") or []):
        claim = view.get(CLAIMS, claim_id)
        if claim and claim["status"] in PAYER_STATUSES:
            return claim["payer"]["id"]
    return "patient"


def allocate(view, patient_id: str, amount: Decimal, charge_id: str | None = None) -> list[dict]:
    """Spread a payment over the named charge, else the oldest charges still owing."""
    owed = outstanding(view, patient_id)
    order = [charge_id] if charge_id else [cid for cid, left in owed.items() if left > 0]
    allocations, left = [], amount
    for cid in order:
        if left <= 0:
            break
        share = min(left, owed.get(cid, Decimal(0))) if not charge_id else left
        if share > 0:
            allocations.append({"charge_id": cid, "amount": fmt(share)})
            left -= share
    return allocations


def record_payment(app, patient_id: str, *, amount: str, method: str, ref: str = "", charge_id: str | None = None,
                   claim_id: str | None = None, kind: str = "payment", reason: str = "",
                   allow_negative: bool = False) -> dict:
    """A patient payment (kind payment) or an adjustment (kind adjustment)."""
    value = parse_amount(amount, "--amount", allow_negative=allow_negative)
    if kind == "payment" and method not in METHODS:
        raise InvalidInput(f"--method {method!r} is not one of {', '.join(METHODS)}")
    with app.store.transaction() as txn:
        patient = get_patient(app, patient_id, view=txn)
        check_account(txn, patient["id"], credited=value)
        if charge_id:
            charge = txn.get(CHARGES, charge_id)
            if not charge or charge["patient_id"] != patient["id"]:
                raise NotFound(f"no charge {charge_id.upper()} for {patient['id']}")
            if charge.get("status") == "void":  # money on it would owe nothing back: credit from nowhere
                raise Refused(f"{charge['id']} is void", hint=f"apply it to {charge['replaced_by']}" if
                              charge.get("replaced_by") else "leave out --charge: it goes to the oldest open charges")
            charge_id = charge["id"]
        if claim_id:
            claim = txn.get(CLAIMS, claim_id)
            if not claim or claim["patient_id"] != patient["id"]:
                raise NotFound(f"no claim {claim_id.upper()} for {patient['id']}")
            owed = outstanding(txn, patient["id"])  # live charges only
            lines = [line["charge_id"] for line in claim["lines"] if line["charge_id"] in owed]
            targets = [cid for cid in lines if owed[cid] > 0] or lines
            charge_id = targets[0] if targets else None  # every charge void: the money is credit
        allocations = allocate(txn, patient["id"], value, charge_id) if value > 0 else \
            [{"charge_id": charge_id, "amount": fmt(value)}] if charge_id else []
        (pay_id,) = txn.reserve_ids(PAYMENTS)
        record = {"id": pay_id, "patient_id": patient["id"], "kind": kind, "source": "patient",
                  "amount": fmt(value), "method": method, "ref": ref, "reason": reason,
                  "date": app.today().isoformat(), "claim_id": claim_id.upper() if claim_id else "",
                  "allocations": allocations, "unapplied": fmt(value - sum(dec(a["amount"]) for a in allocations)),
                  "created": clock.iso(app.now()), "by": app.user}
        txn.put(PAYMENTS, record)
    app.audit(kind, [pay_id, patient["id"]])
    return record


@exact
def account(view, patient_id: str) -> dict:
    """A patient's balance: in total, pending with payers, due from the patient, credit."""
    owed = outstanding(view, patient_id)
    by_party: dict[str, Decimal] = {}
    for charge in charges_of(view, patient_id):
        left = owed.get(charge["id"], Decimal(0))
        if left:
            party = responsible(view, charge)
            by_party[party] = by_party.get(party, Decimal(0)) + left
    unapplied = sum((dec(p.get("unapplied")) for p in payments_of(view, patient_id)), Decimal(0))
    insurance = sum((v for k, v in by_party.items() if k != "patient"), Decimal(0))
    due = by_party.get("patient", Decimal(0)) - unapplied  # below 0: the patient has paid more than owed
    return {"patient_id": patient_id, "balance": fmt(sum(owed.values(), Decimal(0)) - unapplied),
            "insurance_pending": fmt(insurance), "patient_due": fmt(max(due, Decimal(0))),
            "credit": fmt(max(-due, Decimal(0))),  # what the practice owes the patient: never shown negative
            "by_payer": {k: fmt(v) for k, v in sorted(by_party.items()) if k != "patient"}}


def balance(app, patient_id: str) -> dict:
    view = app.store.snapshot()
    patient = get_patient(app, patient_id, view=view)
    app.audit("read", [patient["id"]])
    warn_damaged(view, patient["id"])
    return account(view, patient["id"])


@exact
def ledger(app, patient_id: str, *, first: date | None = None, last: date | None = None,
           limit: int | None = None) -> list[dict]:
    """Every charge, payment and adjustment in date order with the running balance (the first
    `limit` of those dated `first` to `last`, their balances still counting every earlier one)."""
    view = app.store.snapshot()
    patient = get_patient(app, patient_id, view=view)
    events = [_charge_event(c) for c in charges_of(view, patient["id"])]
    events += [_void_event(c) for c in charges_of(view, patient["id"]) if c.get("status") == "void"]
    events += [_payment_event(p) for p in payments_of(view, patient["id"])]
    events.sort(key=lambda e: (e[0], e[1], int(e[2][1:])))
    running, rows = Decimal(0), []
    for day, _, rid, kind, text, amount in events:
        running += amount
        if clock.on_days(day, first, last):
            rows.append({"date": day, "id": rid, "kind": kind, "description": text, "amount": fmt(amount),
                         "balance": fmt(running)})
    rows = rows[:limit] if limit else rows
    app.audit("read", [patient["id"]])
    warn_damaged(view, patient["id"])
    return rows


def _charge_event(c: dict) -> tuple:
    """(date, order, id, kind, description, amount) of a charge in the ledger."""
    modifiers = "-".join(c.get("modifiers") or [])
    text = f"{c.get('code', '')}{'-' + modifiers if modifiers else ''} x{c.get('units', '')} {c.get('description', '')}"
    return c["date"], 0, c["id"], "charge", text.strip() + _damage_note(c.get("amount")), dec(c.get("amount"))


def _void_event(c: dict) -> tuple:
    """The line that takes a voided charge back out of the ledger (on the day it was voided)."""
    voided = c.get("voided") or {}
    day = str(voided.get("at") or c["date"])[:10]
    return day, 2, c["id"], "void", f"void {c['id']}: {voided.get('reason', '')}".strip(), -dec(c.get("amount"))


def _payment_event(p: dict) -> tuple:
    """(date, order, id, kind, description, amount) of a payment or adjustment in the ledger."""
    ref, payer = p.get("ref") or "", p.get("payer", "")
    what = {"payment": f"payment ({p.get('method', '')}{' ' + ref if ref else ''})",
            "adjustment": f"adjustment: {p.get('reason', '')}",
            "insurance-payment": f"insurance payment {payer} {ref}".strip(),
            "insurance-adjustment": f"insurance adjustment {payer} {p.get('reason', '')}".strip(),
            "refund": f"refund ({p.get('method', '')}{' ' + ref if ref else ''}): {p.get('reason', '')}"}
    text = what.get(p["kind"], p["kind"]) + _damage_note(p.get("amount"))
    sign = 1 if p["kind"] == "refund" else -1  # a refund pays money back: it adds to the balance
    return p["date"], 1, p["id"], p["kind"], text, sign * dec(p.get("amount"))


def _damage_note(amount) -> str:
    """What the ledger adds to a line whose stored amount is no amount."""
    return f" [damaged amount {shown(amount)} counted as 0.00]" if damaged(amount) else ""


def list_charges(app, patient_id: str, status: str | None = None, *, first: date | None = None,
                 last: date | None = None, limit: int | None = None) -> list[dict]:
    """A patient's charges by date of service (the first `limit`); `first`/`last`: served on those days."""
    view = app.store.snapshot()
    patient = get_patient(app, patient_id, view=view)
    out = [c for c in charges_of(view, patient["id"])
           if (not status or c["status"] == status) and clock.on_days(c["date"], first, last)]
    out = out[:limit] if limit else out
    app.audit("list", [patient["id"]] + [c["id"] for c in out])
    return out
