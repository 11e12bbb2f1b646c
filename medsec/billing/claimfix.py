"""Claims put right: drafts rebuilt or deleted, replacement (frequency 7) and void (8) claims.

A draft (or ready, or rejected) claim is rebuilt from its charges as they are
now: a voided charge leaves it, the charge that corrected it comes in. A draft
is deleted (status "deleted", kept for the record) and its charges are open
again. A claim the payer adjudicated is replaced or voided by a new claim
record (`replaces` names the original, `original_reference` is the payer's
claim number from the 835, REF*F8); the original records `replaced_by` /
`voided_by`.

"""

from medsec import clock
from medsec.billing.claims import ADJUDICATED, _coverage, get_claim, new_claim, store_changes
from medsec.errors import InvalidInput, Refused
from medsec.records.patients import clean, get_patient
from medsec.store.catalog import CHARGES, CLAIMS

REBUILDABLE = ("draft", "ready", "rejected")
# What new_claim builds from the patient, coverage, charges and configuration (the rest is the claim's life).
CONTENT = ("place_of_service", "billing_provider", "submitter", "receiver", "payer", "payer_id", "subscriber",
           "patient", "rendering_provider", "referring_provider", "prior_authorization", "diagnoses", "lines",
           "total", "prior_payers")


# -- charges as they are now ---------------------------------------------------------------
def current_charges(view, charge_ids: list[str]) -> list[dict]:
    """The live charges behind `charge_ids`: a void charge gives the one that corrected it, if any."""
    out, seen = [], set()
    for cid in charge_ids:
        charge = view.get(CHARGES, cid)
        hops = 0
        while charge and charge.get("status") == "void" and charge.get("replaced_by") and hops < 50:
            charge, hops = view.get(CHARGES, charge["replaced_by"]), hops + 1
        if charge and charge.get("status") != "void" and charge["id"] not in seen:
            seen.add(charge["id"])
            out.append(charge)
    return out


def _take(txn, claim_id: str, charges: list[dict]) -> None:
    """Put `claim_id` on the charges that do not carry it yet (billed)."""
    pairs = [({**c, "status": "billed", "claims": c["claims"] + [claim_id]}, c) for c in charges
             if claim_id not in c["claims"]]
    if pairs:
        txn.put_many(CHARGES, [new for new, _ in pairs], {old["id"]: old for _, old in pairs})


def _one_provider(claim_id: str, charges: list[dict]) -> str:
    providers = sorted({c["provider"] for c in charges})
    if len(providers) > 1:
        raise Refused(f"{claim_id}'s charges now have {len(providers)} rendering providers ({', '.join(providers)})",
                      hint=f"delete the draft ('medsec claim delete {claim_id}') and create the claims again")
    return providers[0]


def _built(app, txn, claim_id: str, patient_id: str, rank: str, charges: list[dict], stamp: str) -> dict:
    patient = get_patient(app, patient_id, view=txn)
    return new_claim(app, txn, claim_id, patient, _coverage(patient, rank), _one_provider(claim_id, charges),
                     charges, rank, stamp, practice=app.config("practice.yaml"))


# -- drafts --------------------------------------------------------------------------------
def rebuild_in(app, txn, claim: dict, stamp: str, note: str) -> dict:
    """`claim` (draft, ready or rejected) rebuilt inside `txn`; a draft left with no charge is deleted,
    a rejected one closed."""
    if str(claim.get("frequency")) == "8":
        raise Refused(f"{claim['id']} is a void claim: it repeats the original as sent",
                      hint=f"delete it ('medsec claim delete {claim['id']}') and void the original again")
    charges = current_charges(txn, [line["charge_id"] for line in claim["lines"]])
    if not charges:
        if claim["status"] == "rejected":
            return _move(app, txn, claim, "closed", f"{note}: no charge left", stamp)
        return _delete_in(app, txn, claim, stamp, f"{note}: no charge left")
    fresh = _built(app, txn, claim["id"], claim["patient_id"], claim["rank"], charges, stamp)
    record = {**claim, **{k: fresh[k] for k in CONTENT if k in fresh}, "status": "draft", "updated": stamp,
              "history": claim["history"] + [{"at": stamp, "by": app.user, "status": "draft",
                                               "note": f"regenerated: {note}"}]}
    store_changes(app, txn, [(record, claim)])
    _take(txn, claim["id"], charges)
    return record


def _move(app, txn, claim: dict, status: str, note: str, stamp: str) -> dict:
    record = {**claim, "status": status, "updated": stamp,
              "history": claim["history"] + [{"at": stamp, "by": app.user, "status": status, "note": note}]}
    store_changes(app, txn, [(record, claim)])
    return record


def _delete_in(app, txn, claim: dict, stamp: str, note: str) -> dict:
    """Mark a draft deleted; its charges lose it (open again unless another claim holds them);
    the original it replaced or voided is free again."""
    record = {**claim, "status": "deleted", "updated": stamp, "deleted": {"at": stamp, "by": app.user},
              "history": claim["history"] + [{"at": stamp, "by": app.user, "status": "deleted", "note": note}]}
    store_changes(app, txn, [(record, claim)])
    held = [c for c in txn.get_many(CHARGES, [line["charge_id"] for line in claim["lines"]])
            if claim["id"] in c.get("claims", [])]
    pairs = []
    for charge in held:
        left = [cid for cid in charge["claims"] if cid != claim["id"]]
        status = charge["status"] if charge["status"] == "void" else ("billed" if left else "open")
        pairs.append(({**charge, "claims": left, "status": status}, charge))
    if pairs:
        txn.put_many(CHARGES, [new for new, _ in pairs], {old["id"]: old for _, old in pairs})
    original = txn.get(CLAIMS, claim["replaces"]) if claim.get("replaces") else None
    if original:
        link = "voided_by" if str(claim.get("frequency")) == "8" else "replaced_by"
        if original.get(link) == claim["id"]:
            txn.put(CLAIMS, {k: v for k, v in original.items() if k != link}, original)
    return record


def regenerate(app, claim_id: str) -> dict:
    """Rebuild a draft, ready or rejected claim from its charges as they are now (a draft again)."""
    stamp = clock.iso(app.now())
    with app.store.transaction() as txn:
        claim = get_claim(app, claim_id, view=txn)
        if claim["status"] not in REBUILDABLE:
            raise Refused(f"{claim['id']} is {claim['status']}; only a draft, ready or rejected claim is rebuilt",
                          hint=f"replace it: 'medsec claim replace {claim['id']}'")
        record = rebuild_in(app, txn, claim, stamp, "charges as they are now")
    app.audit("claim", [record["id"], record["patient_id"]])
    return record


def delete(app, claim_id: str) -> dict:
    """Delete a draft claim: its charges go back to unbilled for its rank."""
    stamp = clock.iso(app.now())
    with app.store.transaction() as txn:
        claim = get_claim(app, claim_id, view=txn)
        if claim["status"] != "draft":
            hint = (f"move it back first: 'medsec claim status {claim['id']} draft'" if claim["status"] == "ready"
                    else f"replace or void it: 'medsec claim replace {claim['id']}'")
            raise Refused(f"{claim['id']} is {claim['status']}; only a draft is deleted", hint=hint)
        record = _delete_in(app, txn, claim, stamp, "deleted")
    app.audit("claim-delete", [record["id"], record["patient_id"]])
    return record


# -- replacement (7) and void (8) claims --------------------------------------------------------
def payer_claim_number(claim: dict) -> str:
    """The payer's claim number (CLP07) of the claim's standing adjudication, "" when none gave one."""
    for adj in reversed(claim.get("adjudications") or []):
        if adj.get("status_code") == "22" or adj.get("reversed_by"):
            continue
        if adj.get("payer_claim_id"):
            return str(adj["payer_claim_id"])
    return ""


def _original(app, txn, claim_id: str, what: str) -> tuple[dict, str]:
    claim = get_claim(app, claim_id, view=txn)
    if str(claim.get("frequency")) == "8":
        raise Refused(f"{claim['id']} is a void claim; {what} the claim it voided")
    for link in ("replaced_by", "voided_by"):
        other = txn.get(CLAIMS, claim[link]) if claim.get(link) else None
        if other and other["status"] != "deleted":
            raise Refused(f"{claim['id']} is already {link.replace('_by', '')} by {other['id']} ({other['status']})",
                          hint=f"{what} {other['id']} instead" if link == "replaced_by" else None)
    if claim["status"] not in ADJUDICATED and not claim.get("adjudications"):
        raise Refused(f"{claim['id']} is {claim['status']}; only a claim the payer adjudicated is {what}d",
                      hint="a draft is rebuilt ('medsec claim regenerate'); a sent one waits for the payer's answer")
    number = payer_claim_number(claim)
    if not number:
        raise Refused(f"{claim['id']} has no payer claim number (CLP07)",
                      hint="post the payer's 835 for it first ('medsec claim post-remit')")
    return claim, number


def replace(app, claim_id: str, note: str = "") -> dict:
    """A replacement claim (frequency 7) of an adjudicated claim, from its charges as they are now."""
    stamp = clock.iso(app.now())
    with app.store.transaction() as txn:
        original, number = _original(app, txn, claim_id, "replace")
        charges = current_charges(txn, [line["charge_id"] for line in original["lines"]])
        if not charges:
            raise Refused(f"every charge of {original['id']} is void", hint=f"void the claim: 'medsec claim void "
                                                                            f"{original['id']} --reason ...'")
        (new_id,) = txn.reserve_ids(CLAIMS)
        record = {**_built(app, txn, new_id, original["patient_id"], original["rank"], charges, stamp),
                  "frequency": "7", "original_reference": number, "replaces": original["id"]}
        record["history"][0]["note"] = f"replaces {original['id']}" + (f": {note}" if note else "")
        txn.put(CLAIMS, record)
        _take(txn, new_id, charges)
        store_changes(app, txn, [({**original, "replaced_by": new_id, "updated": stamp}, original)])
    app.audit("claim", [new_id, original["id"], record["patient_id"]])
    return record


def void(app, claim_id: str, reason: str) -> dict:
    """A void claim (frequency 8): the original as sent, asking the payer to cancel it."""
    reason = clean("reason", reason or "").strip()
    if not reason:
        raise InvalidInput("give --reason: why the claim is void")
    stamp = clock.iso(app.now())
    with app.store.transaction() as txn:
        original, number = _original(app, txn, claim_id, "void")
        (new_id,) = txn.reserve_ids(CLAIMS)
        record = {"id": new_id, "status": "draft", "rank": original["rank"], "frequency": "8",
                  "original_reference": number, "replaces": original["id"], "void_reason": reason,
                  "created": stamp, "updated": stamp, "patient_id": original["patient_id"],
                  **{k: original[k] for k in CONTENT if k in original},
                  "patient_responsibility": "0.00", "paid": "0.00", "adjudications": [], "submissions": [],
                  "history": [{"at": stamp, "by": app.user, "status": "draft",
                               "note": f"voids {original['id']}: {reason}"}]}
        record.setdefault("prior_authorization", "")
        record.setdefault("referring_provider", None)
        txn.put(CLAIMS, record)
        store_changes(app, txn, [({**original, "voided_by": new_id, "updated": stamp}, original)])
    app.audit("claim", [new_id, original["id"], record["patient_id"]])
    return record
