"""Refunds: paying back a patient's credit. A refund is a PAYMENTS record of kind "refund": its
amount is the money paid back (positive, as the bookkeeper's journal reads it); it allocates to
no charge and its `unapplied` is the negated amount, the credit it uses up, so the balance
(which counts what is unapplied) rises by it, and the ledger shows it adding back."""

from medsec import clock
from medsec.billing.accounts import METHODS, account, check_account
from medsec.errors import InvalidInput, Refused
from medsec.money import dec, fmt, parse_amount
from medsec.records.patients import TEXT_LIMITS, clean, get_patient
from medsec.store.catalog import PAYMENTS
from medsec.text import clean_text


def refund(app, patient_id: str, *, amount: str, method: str, reason: str, ref: str = "") -> dict:
    """Pay back (part of) a patient's credit; refused (exit 1) beyond the credit."""
    value = parse_amount(amount, "--amount")  # more than 0.00
    if method not in METHODS:
        raise InvalidInput(f"--method {method!r} is not one of {', '.join(METHODS)}")
    reason = clean("reason", reason).strip()
    if not reason:
        raise InvalidInput("give --reason")
    ref = clean_text(ref, "--ref", TEXT_LIMITS["reason"]).strip()
    with app.store.transaction() as txn:
        patient = get_patient(app, patient_id, view=txn)
        credit = dec(account(txn, patient["id"])["credit"])
        if value > credit:
            raise Refused(f"{patient['id']} has a credit of {fmt(credit)}; a refund of {fmt(value)} is more",
                          hint="see 'medsec bill balance " + patient["id"] + "'")
        check_account(txn, patient["id"], credited=value)
        (pay_id,) = txn.reserve_ids(PAYMENTS)
        record = {"id": pay_id, "patient_id": patient["id"], "kind": "refund", "source": "practice",
                  "amount": fmt(value), "method": method, "ref": ref, "reason": reason,
                  "date": app.today().isoformat(), "claim_id": "", "allocations": [], "unapplied": fmt(-value),
                  "created": clock.iso(app.now()), "by": app.user}
        txn.put(PAYMENTS, record)
    app.audit("refund", [pay_id, patient["id"]])
    return record
