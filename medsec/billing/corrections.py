"""Putting charges right: void a charge, correct one (a new charge replacing it).

A voided charge stays on record (status "void", `voided: {at, by, reason}`)
but counts for nothing: not in the balance, the ledger's total (it shows a
reversing line), unbilled charges, aging or the productivity report. Money
allocated to it becomes unapplied credit; an adjustment allocated to it is
taken back by a reversing adjustment, so a write-off of a mistaken charge
does not turn into credit.

A charge on a claim that was not sent (draft, ready, rejected) is voided with
the claim rebuilt without it; one on a claim the payer holds is refused until
that claim is replaced (`claim replace`, which puts the charges on a draft) or
voided (`claim void`).
"""

from decimal import Decimal

from medsec import clock
from medsec.billing.accounts import (
    _check_charge_options,
    _dx_pointers,
    _fee,
    check_account,
    code_entry,
    dx_status,
)
from medsec.billing.claimfix import REBUILDABLE, rebuild_in
from medsec.errors import InvalidInput, Refused
from medsec.money import dec, fmt, parse_amount
from medsec.records.patients import clean, get_patient
from medsec.store.catalog import CHARGES, CLAIMS, PAYMENTS

ADJUSTMENTS = ("adjustment", "insurance-adjustment")


def live(charge: dict) -> bool:
    return charge.get("status") != "void"


def _require_charge(view, charge_id: str) -> dict:
    return view.require(CHARGES, charge_id, "charge", "see 'medsec bill charges PATIENT'")


def blocking_claims(view, charge: dict) -> list[dict]:
    """The claims holding `charge` that a payer has (sent, not replaced or voided since)."""
    out = []
    for claim in view.get_many(CLAIMS, charge.get("claims") or []):
        if claim["status"] in REBUILDABLE or claim["status"] == "deleted":
            continue
        if claim.get("replaced_by") or claim.get("voided_by") or str(claim.get("frequency")) == "8":
            continue
        out.append(claim)
    return out


def _refuse_if_sent(view, charge: dict) -> None:
    held = blocking_claims(view, charge)
    if held:
        claim = held[0]
        raise Refused(f"{charge['id']} is on claim {claim['id']}, which is {claim['status']}",
                      hint=f"void or replace the claim first: 'medsec claim replace {claim['id']}' (then correct "
                           f"the charge on the new draft) or 'medsec claim void {claim['id']} --reason ...'")


def _release_money(app, txn, charge: dict, stamp: str) -> list[str]:
    """Allocations to a voided charge: payments' become unapplied credit; adjustments' are reversed."""
    touched, reversals, changed = [], [], []
    for pid in txn.lookup("payment-patient", charge["patient_id"]):
        payment = txn.get(PAYMENTS, pid)
        if not payment or payment.get("patient_id") != charge["patient_id"]:
            continue
        moving = [a for a in payment.get("allocations") or [] if isinstance(a, dict)
                  and a.get("charge_id") == charge["id"]]
        if not moving:
            continue
        amount = sum((dec(a.get("amount")) for a in moving), Decimal(0))
        kept = [a for a in payment["allocations"] if a not in moving]
        touched.append(({**payment, "allocations": kept, "unapplied": fmt(dec(payment.get("unapplied")) + amount),
                         "released": (payment.get("released") or []) + [
                             {"charge_id": charge["id"], "amount": fmt(amount), "at": stamp, "by": app.user,
                              "reason": f"{charge['id']} voided"}]}, payment))
        if payment["kind"] in ADJUSTMENTS and amount:
            reversals.append((payment, amount))
    if reversals:
        ids = txn.reserve_ids(PAYMENTS, len(reversals))
        for rid, (adj, amount) in zip(ids, reversals, strict=True):
            txn.put(PAYMENTS, {"id": rid, "patient_id": charge["patient_id"], "kind": adj["kind"],
                               "source": adj.get("source", "patient"), "amount": fmt(-amount), "method": "",
                               "ref": adj.get("ref", ""), "payer": adj.get("payer", ""),
                               "reason": f"reverses {adj['id']}: {charge['id']} voided",
                               "date": stamp[:10], "claim_id": adj.get("claim_id", ""), "allocations": [],
                               "unapplied": fmt(-amount), "reverses": adj["id"], "created": stamp, "by": app.user})
            changed.append(rid)
    if touched:
        txn.put_many(PAYMENTS, [new for new, _ in touched], {old["id"]: old for _, old in touched})
    return [new["id"] for new, _ in touched] + changed


def _void_in(app, txn, charge: dict, reason: str, stamp: str, replaced_by: str = "") -> tuple[dict, list[str]]:
    """Void `charge` inside `txn`: the charge, its money, the unsent claims holding it (rebuilt)."""
    if not live(charge):
        raise Refused(f"{charge['id']} is already void")
    _refuse_if_sent(txn, charge)
    voided = {"at": stamp, "by": app.user, "reason": reason}
    record = {**charge, "status": "void", "voided": voided, **({"replaced_by": replaced_by} if replaced_by else {})}
    txn.put(CHARGES, record, charge)
    touched = _release_money(app, txn, record, stamp)
    for claim in txn.get_many(CLAIMS, charge.get("claims") or []):
        if claim["status"] in REBUILDABLE:
            touched.append(rebuild_in(app, txn, claim, stamp, note=f"{charge['id']} voided")["id"])
    return record, touched


def void_charge(app, charge_id: str, *, reason: str) -> dict:
    """Void a charge (see the module's docstring); a claim the payer holds refuses it (exit 1)."""
    reason = clean("reason", reason or "").strip()
    if not reason:
        raise InvalidInput("give --reason: why the charge is void")
    with app.store.transaction() as txn:
        charge = _require_charge(txn, charge_id)
        get_patient(app, charge["patient_id"], view=txn)
        record, touched = _void_in(app, txn, charge, reason, clock.iso(app.now()))
    app.audit("void", [record["id"], record["patient_id"], *touched])
    return record


def correct_charge(app, charge_id: str, *, code: str | None = None, dx: list[str] | None = None,
                   units: int | None = None, modifiers: list[str] | None = None, amount: str | None = None,
                   pointers: list[int] | None = None, place_of_service: str | None = None) -> dict:
    """A new charge replacing `charge_id` (voided "corrected by H9"; the new one `replaces` it)."""
    old = _require_charge(app.store.snapshot(), charge_id)
    if not live(old):
        raise Refused(f"{old['id']} is void", hint=f"correct {old.get('replaced_by') or 'the live charge'} instead")
    new_dx = [d.strip().upper() for d in dx] if dx else list(old["dx"])
    new_mods = list(modifiers) if modifiers is not None else list(old.get("modifiers") or [])
    new_units = units if units is not None else int(old.get("units") or 1)
    new_pos = place_of_service or old.get("place_of_service", "11")
    _check_charge_options(new_dx, new_mods, new_units, new_pos)
    entry = code_entry(app, code) if code else {"code": old["code"], "description": old.get("description", "")}
    if pointers is None and not dx:
        pointers = list(old["dx_pointers"])
    new_pointers = _dx_pointers(new_dx, pointers)
    patient = get_patient(app, old["patient_id"])
    if amount is not None:
        price = parse_amount(amount, "--amount")
    elif code or units is not None:
        price = _fee(app, entry, patient, new_units)
    else:
        price = dec(old["amount"])
    changes = {"code": entry["code"], "description": entry.get("description", ""), "dx": new_dx,
               "dx_pointers": new_pointers, "modifiers": new_mods, "units": new_units, "amount": fmt(price),
               "place_of_service": new_pos}
    if all(changes[k] == old.get(k) for k in changes):
        raise InvalidInput(f"nothing to correct: {old['id']} already reads so",
                           hint="give --code, --dx, --units, --modifier, --amount, --pointer or --pos")
    warnings = [f"{d}: {s} ICD-10-CM code" for d in new_dx if (s := dx_status(app, d)) in ("unknown", "header")]
    stamp = clock.iso(app.now())
    with app.store.transaction() as txn:
        current = _require_charge(txn, old["id"])
        if current != old:
            raise Refused(f"{old['id']} changed while it was being corrected", hint="run the command again")
        _refuse_if_sent(txn, current)
        check_account(txn, current["patient_id"], charged=price)
        (new_id,) = txn.reserve_ids(CHARGES)
        new = {**{k: v for k, v in current.items() if k not in ("voided", "replaced_by")}, **changes,
               "id": new_id, "status": "open", "claims": [], "replaces": current["id"], "created": stamp,
               "by": app.user}
        txn.put(CHARGES, new)
        voided, touched = _void_in(app, txn, current, f"corrected by {new_id}", stamp, replaced_by=new_id)
        new = txn.get(CHARGES, new_id) or new  # a rebuilt draft claim may have taken it
    app.audit("correct", [voided["id"], new["id"], new["patient_id"], *touched])
    return {**new, "warnings": warnings}
