"""Posting remittances (835s): payments, contractual write-offs, patient shares, denials."""

import hashlib
from decimal import Decimal

from medsec import clock
from medsec.billing.claims import moved, store_changes
from medsec.errors import InvalidInput, Refused
from medsec.money import dec, fmt
from medsec.store.catalog import CLAIMS, PAYMENTS, REMITTANCES

WRITE_OFF_GROUPS = ("CO", "OA", "PI", "CR")  # the payer's side; PR is the patient's to pay
POSTABLE = ("submitted", "accepted", "appealed", "partially-paid", "denied", "rejected")
REVERSAL = "22"  # CLP02: the payer takes back an earlier adjudication


class _DryRun(Exception):
    """Raised inside the transaction so that a dry run commits nothing."""


def _reader(app, raw: bytes, name: str | None):
    from medsec.plugins import collect

    formats = {k: r.item for k, r in collect(app.plugins, "register_remittance_formats").items()}
    if name:
        if name not in formats:
            raise InvalidInput(f"unknown remittance format {name!r}", hint=f"formats: {', '.join(sorted(formats))}")
        return formats[name]
    for fmt_ in formats.values():
        if fmt_.detect(raw):
            return fmt_
    raise InvalidInput("not a remittance file medsec can read", hint=f"formats: {', '.join(sorted(formats))}")


def _trace_key(remit: dict) -> str:
    payer = remit["payer"].get("id") or remit["payer"].get("name") or ""
    return f"{payer}|{remit['trace']}"


def _match_line(claim: dict, svc: dict, used: set) -> dict | None:
    """The claim line a service line pays: by REF*6R (our line number), else by the code as
    billed (SVC06 when the payer changed it, else SVC01) and date, preferring the same
    modifiers, then the same charge; None when that stays ambiguous."""
    free = [line for line in claim["lines"] if line["line"] not in used]
    ref = str(svc.get("line_ref") or "")
    if ref:
        return next((line for line in free if str(line["line"]) == ref), None)
    billed = svc.get("submitted_code") or svc.get("code")
    modifiers = svc.get("submitted_modifiers") if svc.get("submitted_code") else svc.get("modifiers")
    same = [line for line in free if line["code"] == billed and (not svc.get("date") or svc["date"] == line["date"])]
    exact = [line for line in same if sorted(line["modifiers"]) == sorted(modifiers or [])]
    if exact:
        return exact[0]
    charged = [line for line in same if dec(line["amount"]) == abs(dec(svc.get("charge") or 0))]
    for candidates in (charged, same):  # payers drop or reorder modifiers: take it when unambiguous
        if len(candidates) == 1:
            return candidates[0]
    return None


def _reversed(claim: dict, clp: dict) -> int | None:
    """The adjudication a reversal (CLP02 22) undoes: the standing one with its CLP07, or
    (a reversal without CLP07) the latest standing one."""
    standing = [i for i, a in enumerate(claim.get("adjudications") or [])
                if a.get("status_code") != REVERSAL and not a.get("reversed_by")]
    if clp.get("payer_claim_id"):
        standing = [i for i in standing if claim["adjudications"][i].get("payer_claim_id") == clp["payer_claim_id"]]
    return standing[-1] if standing else None


def _post_claim(app, txn, claim: dict, clp: dict, remit: dict, stamp: str,
                reverses: int | None = None) -> tuple[dict, list[dict], dict]:
    """Payments and write-offs for one claim: (what was posted, ledger records, the claim after).

    A reversal (`reverses`: the index of the adjudication it undoes) carries
    the negated amounts (CAS keeps its group codes), so it posts like any
    answer: negative payments and adjustments on the same charges. The
    claim goes back to where it was before that adjudication.
    """
    paid_by_line: dict[int, Decimal] = {}
    writeoff_by_line: dict[int, Decimal] = {}
    responsibility = Decimal(0)
    reasons = []
    used: set = set()
    lines_out = []
    for svc in clp.get("lines") or []:
        line = _match_line(claim, svc, used)
        if line is None:
            raise ValueError(f"service line {svc.get('code')} {svc.get('date', '')} matches no line of {claim['id']}")
        used.add(line["line"])
        paid_by_line[line["line"]] = paid_by_line.get(line["line"], Decimal(0)) + dec(svc["paid"])
        for adj in svc.get("adjustments") or []:
            reasons.append(f"{adj['group']}-{adj['reason']}")
            if adj["group"] == "PR":
                responsibility += dec(adj["amount"])
            else:
                writeoff_by_line[line["line"]] = writeoff_by_line.get(line["line"], Decimal(0)) + dec(adj["amount"])
        lines_out.append({"line": line["line"], "charge_id": line["charge_id"], "paid": svc["paid"],
                          "code": line["code"], "modifiers": line["modifiers"], "units": line["units"],
                          "adjustments": svc.get("adjustments") or []})
    if not clp.get("lines"):  # a claim-level answer: spread it over the lines in order
        left = dec(clp["paid"])
        for line in claim["lines"]:
            share = min(left, dec(line["amount"]))
            paid_by_line[line["line"]] = share
            left -= share
    for adj in clp.get("adjustments") or []:
        reasons.append(f"{adj['group']}-{adj['reason']}")
        if adj["group"] == "PR":
            responsibility += dec(adj["amount"])
        else:
            first = claim["lines"][0]["line"]
            writeoff_by_line[first] = writeoff_by_line.get(first, Decimal(0)) + dec(adj["amount"])
    charge_of = {line["line"]: line["charge_id"] for line in claim["lines"]}
    records = []
    paid_total = dec(clp["paid"])
    writeoff_total = sum(writeoff_by_line.values(), Decimal(0))
    common = {"patient_id": claim["patient_id"], "source": "payer", "payer": claim["payer_id"],
              "method": remit.get("method", ""), "ref": remit["trace"], "date": remit.get("paid_date") or stamp[:10],
              "claim_id": claim["id"], "unapplied": "0.00", "created": stamp, "by": app.user}
    if paid_total:
        records.append({**common, "kind": "insurance-payment", "amount": fmt(paid_total), "reason": "",
                        "allocations": [{"charge_id": charge_of[n], "amount": fmt(v)}
                                        for n, v in sorted(paid_by_line.items()) if v]})
    if writeoff_total:
        records.append({**common, "kind": "insurance-adjustment", "amount": fmt(writeoff_total),
                        "reason": " ".join(r for r in dict.fromkeys(reasons) if not r.startswith("PR")),
                        "allocations": [{"charge_id": charge_of[n], "amount": fmt(v)}
                                        for n, v in sorted(writeoff_by_line.items()) if v]})
    settled = paid_total + writeoff_total + responsibility == dec(clp["charge"])
    adjudications = list(claim["adjudications"])
    if reverses is not None:
        status = adjudications[reverses].get("status_before") or "submitted"
        adjudications[reverses] = {**adjudications[reverses], "reversed_by": remit["trace"]}
    elif clp.get("status_code") == "4" or (paid_total <= 0 and not settled):
        status = "denied"
    elif settled:
        status = "paid"  # the payer's part is done even if the patient owes a share
    else:
        status = "partially-paid"
    adjudication = {"paid": fmt(paid_total), "paid_date": common["date"], "payer_claim_id": clp.get("payer_claim_id", ""),
                    "adjustments": clp.get("adjustments") or [], "lines": lines_out, "trace": remit["trace"],
                    "status_code": clp.get("status_code", ""), "remarks": clp.get("remarks") or [],
                    "patient_responsibility": fmt(responsibility), "status_before": claim["status"]}
    extra = {"paid": fmt(dec(claim["paid"]) + paid_total),
             "patient_responsibility": fmt(dec(claim["patient_responsibility"]) + responsibility),
             "adjudications": adjudications + [adjudication]}
    if status == "denied":
        extra["denial"] = {"reasons": list(dict.fromkeys(reasons)), "remarks": clp.get("remarks") or []}
    elif reverses is not None:
        extra["denial"] = None
    note = f"835 trace {remit['trace']}" + (" reversal" if reverses is not None else "")
    record = moved(app, claim, status, note, extra, stamp, reversal=reverses is not None)
    return ({"claim_id": claim["id"], "status": status, "paid": fmt(paid_total), "written_off": fmt(writeoff_total),
             "patient_responsibility": fmt(responsibility), "reasons": list(dict.fromkeys(reasons))}, records, record)


def post(app, path: str, *, input_format: str | None = None, dry_run: bool = False) -> dict:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except (FileNotFoundError, IsADirectoryError):
        raise InvalidInput(f"cannot read {path!r}") from None
    reader = _reader(app, raw, input_format)
    try:
        remits = reader.read(raw)
    except ValueError as e:
        raise InvalidInput(f"{path}: {e}") from None
    stamp = clock.iso(app.now())
    summary = {"file": path, "format": reader.name, "dry_run": dry_run, "remittances": [], "posted": [],
               "unmatched": []}
    try:
        with app.store.transaction() as txn:
            for remit in remits:
                key = _trace_key(remit)
                known = txn.lookup("remit-trace", key)
                if known:
                    raise Refused(f"remittance {remit['trace']} from {remit['payer'].get('name', '')} was already "
                                  f"posted ({', '.join(known)})", hint="nothing was posted")
                ledger, claims_done, changed = [], [], {}
                for clp in remit["claims"]:
                    claim = _claim(txn, clp["claim_id"])
                    if claim and claim["id"] in changed:  # answered twice (a reversal, then the correction)
                        claim = changed[claim["id"]][0]
                    reverses = _reversed(claim, clp) if claim and clp.get("status_code") == REVERSAL else None
                    why = ("no such claim" if claim is None
                           else "no earlier payment of it to reverse" if clp.get("status_code") == REVERSAL
                           and reverses is None
                           else f"claim is {claim['status']}" if reverses is None and claim["status"] not in POSTABLE
                           else "")
                    if why:
                        summary["unmatched"].append({"claim_id": clp["claim_id"], "trace": remit["trace"],
                                                     "paid": clp["paid"], "reason": why})
                        continue
                    try:
                        done, records, after = _post_claim(app, txn, claim, clp, remit, stamp, reverses)
                    except ValueError as e:
                        summary["unmatched"].append({"claim_id": claim["id"], "trace": remit["trace"],
                                                     "paid": clp["paid"], "reason": str(e)})
                        continue
                    summary["posted"].append(done)
                    claims_done.append(claim["id"])
                    ledger += records
                    changed[claim["id"]] = (after, changed.get(claim["id"], (None, claim))[1])
                store_changes(app, txn, list(changed.values()))  # each claim shard written once
                ids = txn.reserve_ids(PAYMENTS, len(ledger)) if ledger else []
                txn.put_many(PAYMENTS, [{**r, "id": pid} for pid, r in zip(ids, ledger)])
                (remit_id,) = txn.reserve_ids(REMITTANCES)
                txn.put(REMITTANCES, {"id": remit_id, "trace_key": key, "trace": remit["trace"],
                                      "payer": remit["payer"], "paid_date": remit.get("paid_date", ""),
                                      "total_paid": remit.get("total_paid", ""), "claims": claims_done,
                                      "payments": ids, "posted": stamp, "by": app.user, "file": path,
                                      "sha256": hashlib.sha256(raw).hexdigest()})
                summary["remittances"].append({"id": remit_id, "trace": remit["trace"],
                                               "total_paid": remit.get("total_paid", "")})
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    if not dry_run:
        app.audit("post-remit", [r["id"] for r in summary["remittances"]] + [p["claim_id"] for p in summary["posted"]])
    return summary


def _claim(txn, claim_id: str) -> dict | None:
    try:
        return txn.get(CLAIMS, claim_id)
    except InvalidInput:
        return None  # not one of our claim ids
