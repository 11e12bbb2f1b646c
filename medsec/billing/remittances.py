"""Posting remittances (835s): payments, contractual write-offs, patient shares, denials."""

from decimal import Decimal

from medsec import clock
from medsec.billing import edi
from medsec.billing.accounts import check_account
from medsec.billing.claims import moved, store_changes
from medsec.errors import InvalidInput, Refused
from medsec.inputs import REMITTANCE, read_input
from medsec.money import check_total, dec, exact, fmt, parse_amount, readable
from medsec.plugins import collect
from medsec.store.api import Record
from medsec.store.catalog import CLAIMS, PAYMENTS, REMITTANCES
from medsec.text import escape_controls

WRITE_OFF_GROUPS = ("CO", "OA", "PI", "CR")  # the payer's side; PR is the patient's to pay
POSTABLE = ("submitted", "accepted", "appealed", "partially-paid", "denied", "rejected")
REVERSAL = "22"  # CLP02: the payer takes back an earlier adjudication
# The amounts of a remittance dict (docs/claim-model.md) by the X12 element each comes from.
CLAIM_AMOUNTS = {"charge": "CLP03 (charge)", "paid": "CLP04 (paid)", "patient_responsibility": "CLP05 (patient share)"}
LINE_AMOUNTS = {"charge": "SVC02 (charge)", "paid": "SVC03 (paid)", "allowed": "AMT02 (allowed amount)"}


def _reader(app, raw: bytes, name: str | None):
    formats = {k: r.item for k, r in collect(app.plugins, "register_remittance_formats").items()}
    if name:
        if name not in formats:
            raise InvalidInput(f"unknown remittance format {name!r}", hint=f"formats: {', '.join(sorted(formats))}")
        return formats[name]
    for fmt_ in formats.values():
        if fmt_.detect(raw):
            return fmt_
    raise InvalidInput("not a remittance file medsec can read", hint=f"formats: {', '.join(sorted(formats))}")


def check_amounts(remit: dict) -> None:
    """Every amount of a remittance as medsec takes amounts (plain digits, two places, at most
    MAX_AMOUNT each, BPR02 within MAX_TOTAL); InvalidInput naming the segment and claim otherwise."""
    trace = f"remittance {remit.get('trace', '')}"
    total_paid = remit.get("total_paid")
    if total_paid not in (None, ""):
        amount = readable(total_paid)
        if amount is None:
            raise InvalidInput(f"{trace}: BPR02 (total paid) is not an amount")
        check_total(amount, f"{trace}: BPR02 (total paid)")
    for plb in remit.get("provider_adjustments") or []:
        _amount(plb.get("amount"), f"{trace}: PLB (provider adjustment {plb.get('reason', '')})")
    for clp in remit.get("claims") or []:
        where = f"{trace}, claim {clp.get('claim_id', '')}"
        _amounts(clp, CLAIM_AMOUNTS, where)
        for line in clp.get("lines") or []:
            _amounts(line, LINE_AMOUNTS, f"{where}, service line {line.get('code', '')}")


def _amounts(owner: dict, fields: dict[str, str], where: str) -> None:
    """The amounts of a CLP or SVC (`fields`: key -> element) and of its CAS adjustments."""
    for key, element in fields.items():
        if owner.get(key) not in (None, ""):
            _amount(owner[key], f"{where}: {element}")
    for adj in owner.get("adjustments") or []:
        _amount(adj.get("amount"), f"{where}: CAS {adj.get('group', '')}-{adj.get('reason', '')} amount")


def _amount(value, where: str) -> None:
    parse_amount(value, where, allow_zero=True, allow_negative=True)  # InvalidInput (exit 2) names `where`


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


class _Answer:
    """A payer's answer to one claim (CLP), per claim line: paid, written off; and the patient's share."""

    def __init__(self):
        self.paid_by_line: dict[int, Decimal] = {}
        self.writeoff_by_line: dict[int, Decimal] = {}
        self.responsibility = Decimal(0)
        self.reasons: list[str] = []
        self.lines: list[dict] = []

    @classmethod
    def read(cls, claim: dict, clp: dict) -> "_Answer":
        """ValueError when a service line matches no line of the claim."""
        answer = cls()
        used: set = set()
        for svc in clp.get("lines") or []:
            line = _match_line(claim, svc, used)
            if line is None:
                raise ValueError(f"service line {svc.get('code')} {svc.get('date', '')} "
                                 f"matches no line of {claim['id']}")
            used.add(line["line"])
            answer.service_line(line, svc)
        if not clp.get("lines"):  # a claim-level answer: spread it over the lines in order
            left = dec(clp["paid"])
            for line in claim["lines"]:
                share = min(left, dec(line["amount"]))
                answer.paid_by_line[line["line"]] = share
                left -= share
        for adj in clp.get("adjustments") or []:
            answer.adjust(adj, claim["lines"][0]["line"])
        return answer

    def service_line(self, line: dict, svc: dict) -> None:
        """What a service line (SVC) pays and adjusts on the claim line it matched."""
        self.paid_by_line[line["line"]] = self.paid_by_line.get(line["line"], Decimal(0)) + dec(svc["paid"])
        for adj in svc.get("adjustments") or []:
            self.adjust(adj, line["line"])
        self.lines.append({"line": line["line"], "charge_id": line["charge_id"], "paid": svc["paid"],
                           "code": line["code"], "modifiers": line["modifiers"], "units": line["units"],
                           "adjustments": svc.get("adjustments") or []})

    def adjust(self, adj: dict, line_no: int) -> None:
        """One CAS adjustment: group PR is the patient's to pay, any other is written off on `line_no`."""
        self.reasons.append(f"{adj['group']}-{adj['reason']}")
        if adj["group"] == "PR":
            self.responsibility += dec(adj["amount"])
        else:
            self.writeoff_by_line[line_no] = self.writeoff_by_line.get(line_no, Decimal(0)) + dec(adj["amount"])

    def written_off(self) -> Decimal:
        return sum(self.writeoff_by_line.values(), Decimal(0))


@exact
def _post_claim(app, claim: dict, clp: dict, remit: dict, stamp: str,
                reverses: int | None = None) -> tuple[dict, list[dict], dict]:
    """Payments and write-offs for one claim: (what was posted, ledger records, the claim after).

    A reversal (`reverses`: the index of the adjudication it undoes) carries
    the negated amounts (CAS keeps its group codes), so it posts like any
    answer: negative payments and adjustments on the same charges. The
    claim goes back to where it was before that adjudication.
    """
    answer = _Answer.read(claim, clp)
    paid_total, writeoff_total = dec(clp["paid"]), answer.written_off()
    settled = paid_total + writeoff_total + answer.responsibility == dec(clp["charge"])
    status = _status_after(claim, clp, reverses, paid_total, settled)
    paid_date = remit.get("paid_date") or stamp[:10]
    records = _ledger_records(app, claim, remit, answer, paid_total, paid_date, stamp)
    adjudications = list(claim["adjudications"])
    if reverses is not None:
        adjudications[reverses] = {**adjudications[reverses], "reversed_by": remit["trace"]}
    adjudication = {"paid": fmt(paid_total), "paid_date": paid_date, "payer_claim_id": clp.get("payer_claim_id", ""),
                    "adjustments": clp.get("adjustments") or [], "lines": answer.lines, "trace": remit["trace"],
                    "status_code": clp.get("status_code", ""), "remarks": clp.get("remarks") or [],
                    "patient_responsibility": fmt(answer.responsibility), "status_before": claim["status"]}
    paid_after = dec(claim.get("paid")) + paid_total
    share_after = dec(claim.get("patient_responsibility")) + answer.responsibility
    check_total(paid_after, f"{claim['id']}'s payments")
    check_total(share_after, f"{claim['id']}'s patient responsibility")
    extra: Record = {"paid": fmt(paid_after), "patient_responsibility": fmt(share_after),
                     "adjudications": adjudications + [adjudication]}
    if status == "denied":
        extra["denial"] = {"reasons": list(dict.fromkeys(answer.reasons)), "remarks": clp.get("remarks") or []}
    elif reverses is not None:
        extra["denial"] = None
    note = f"835 trace {remit['trace']}" + (" reversal" if reverses is not None else "")
    record = moved(app, claim, status, note, extra, stamp, reversal=reverses is not None)
    return ({"claim_id": claim["id"], "status": status, "paid": fmt(paid_total), "written_off": fmt(writeoff_total),
             "patient_responsibility": fmt(answer.responsibility), "reasons": list(dict.fromkeys(answer.reasons))},
            records, record)


def _status_after(claim: dict, clp: dict, reverses: int | None, paid: Decimal, settled: bool) -> str:
    """Where the answer puts the claim; a reversal puts it back to where it was before what it reverses."""
    if reverses is not None:
        return claim["adjudications"][reverses].get("status_before") or "submitted"
    if clp.get("status_code") == "4" or (paid <= 0 and not settled):
        return "denied"
    return "paid" if settled else "partially-paid"  # paid: the payer's part is done even if the patient owes a share


def _ledger_records(app, claim: dict, remit: dict, answer: _Answer, paid: Decimal, paid_date: str,
                    stamp: str) -> list[dict]:
    """The insurance payment and the insurance adjustment (write-off) of an answer, each allocated per charge."""
    charge_of = {line["line"]: line["charge_id"] for line in claim["lines"]}
    common = {"patient_id": claim["patient_id"], "source": "payer", "payer": claim["payer_id"],
              "method": remit.get("method", ""), "ref": remit["trace"], "date": paid_date,
              "claim_id": claim["id"], "unapplied": "0.00", "created": stamp, "by": app.user}
    records = []
    if paid:
        records.append({**common, "kind": "insurance-payment", "amount": fmt(paid), "reason": "",
                        "allocations": [{"charge_id": charge_of[n], "amount": fmt(v)}
                                        for n, v in sorted(answer.paid_by_line.items()) if v]})
    written_off = answer.written_off()
    if written_off:
        records.append({**common, "kind": "insurance-adjustment", "amount": fmt(written_off),
                        "reason": " ".join(r for r in dict.fromkeys(answer.reasons) if not r.startswith("PR")),
                        "allocations": [{"charge_id": charge_of[n], "amount": fmt(v)}
                                        for n, v in sorted(answer.writeoff_by_line.items()) if v]})
    return records


def post(app, path: str, *, input_format: str | None = None, dry_run: bool = False) -> dict:
    """Post every remittance in the file at `path`, all or none; `dry_run` reports and commits nothing."""
    raw = read_input(path, REMITTANCE)
    summary = _post_file(app, raw, path, _reader(app, raw, input_format), dry_run)
    summary["edi_file"], summary["file"] = summary["file"], path
    return summary


def import_835(app, raw: bytes, name: str, *, fmt, dry_run: bool = False) -> dict:
    """`clearinghouse import`/`poll`'s importer (medsec.billing.edi.IMPORTERS): post an 835 from its
    bytes like `post`, kept as an EDI_FILES "in" record; the same bytes twice are refused (exit 1)."""
    return _post_file(app, raw, name, fmt, dry_run)


def _post_file(app, raw: bytes, path: str, reader, dry_run: bool) -> dict:
    """Post a remittance file's bytes, all or none, with its EDI_FILES record in the same transaction;
    the summary's ``file`` is that record's id ("" on a dry run)."""
    try:
        remits = reader.read(raw)
    except (ValueError, ArithmeticError) as e:  # a reader's own refusal, or an amount it could not hold
        raise InvalidInput(f"{path}: {escape_controls(str(e))}") from None
    for remit in remits:
        check_amounts(remit)
    stamp = clock.iso(app.now())
    summary = {"file": "", "transaction": "835", "name": path, "format": reader.name, "dry_run": dry_run,
               "remittances": [], "posted": [], "unmatched": []}
    source = {"file": path, "sha256": edi.sha256(raw)}
    try:
        with app.store.transaction() as txn:
            for remit in remits:
                _post_remit(app, txn, remit, stamp, source, summary)
            edi.refuse_if_imported(txn, source["sha256"], path)  # after: the same remittance says "already posted"
            claims = [p["claim_id"] for p in summary["posted"]]
            record = edi.record_file(
                app, txn, direction="in", transaction="835", raw_sha=source["sha256"], name=path,
                control=edi.interchange_control(raw), status="posted", claims=claims,
                patients=sorted({c["patient_id"] for c in txn.get_many(CLAIMS, claims)}),
                summary={"remittances": [r["id"] for r in summary["remittances"]], "posted": len(claims),
                         "unmatched": len(summary["unmatched"])}, unmatched=summary["unmatched"])
            summary["file"] = "" if dry_run else record["id"]
            if dry_run:
                raise edi.DryRun
    except edi.DryRun:
        pass
    if not dry_run:
        app.audit("post-remit", [summary["file"]] + [r["id"] for r in summary["remittances"]]
                  + [p["claim_id"] for p in summary["posted"]])
    return summary


def _post_remit(app, txn, remit: dict, stamp: str, source: dict, summary: dict) -> None:
    """One remittance (one payment by one payer): each claim's answer, the ledger, the remittance record.

    A remittance already posted (the same payer and trace number) is refused.
    """
    key = _trace_key(remit)
    known = txn.lookup("remit-trace", key)
    if known:
        raise Refused(f"remittance {remit['trace']} from {remit['payer'].get('name', '')} was already "
                      f"posted ({', '.join(known)})", hint="nothing was posted")
    ledger: list[Record] = []
    claims_done: list[str] = []
    changed: dict[str, tuple[Record, Record]] = {}
    for clp in remit["claims"]:
        posted = _post_answer(app, txn, remit, clp, stamp, changed, summary["unmatched"])
        if posted:
            done, records = posted
            summary["posted"].append(done)
            claims_done.append(done["claim_id"])
            ledger += records
    _check_credits(txn, ledger)
    store_changes(app, txn, list(changed.values()))  # each claim shard written once
    ids = txn.reserve_ids(PAYMENTS, len(ledger)) if ledger else []
    txn.put_many(PAYMENTS, [{**r, "id": pid} for pid, r in zip(ids, ledger, strict=True)])
    (remit_id,) = txn.reserve_ids(REMITTANCES)
    txn.put(REMITTANCES, {"id": remit_id, "trace_key": key, "trace": remit["trace"],
                          "payer": remit["payer"], "paid_date": remit.get("paid_date", ""),
                          "total_paid": remit.get("total_paid", ""), "claims": claims_done,
                          "payments": ids, "posted": stamp, "by": app.user, **source})
    summary["remittances"].append({"id": remit_id, "trace": remit["trace"],
                                   "total_paid": remit.get("total_paid", "")})


@exact
def _check_credits(txn, ledger: list[Record]) -> None:
    """Refuse a remittance whose payments and write-offs would take a patient's total past MAX_TOTAL."""
    credited: dict[str, Decimal] = {}
    for record in ledger:
        credited[record["patient_id"]] = credited.get(record["patient_id"], Decimal(0)) + dec(record["amount"])
    for patient_id, amount in credited.items():
        check_account(txn, patient_id, credited=amount)


def _post_answer(app, txn, remit: dict, clp: dict, stamp: str, changed: dict[str, tuple[Record, Record]],
                 unmatched: list[dict]) -> tuple[dict, list[dict]] | None:
    """(what was posted, ledger records) for one claim's answer; None, noted in `unmatched`, when it cannot post.

    `changed` holds each claim changed so far as (after, before): a claim
    answered twice in one remittance (a reversal, then the correction) posts
    the second answer on the first one's result.
    """
    claim = _claim(txn, clp["claim_id"])
    if claim is None:
        unmatched.append(_unposted(clp["claim_id"], remit, clp, "no such claim"))
        return None
    if claim["id"] in changed:
        claim = changed[claim["id"]][0]
    reverses = _reversed(claim, clp) if clp.get("status_code") == REVERSAL else None
    why = _unpostable(claim, clp, reverses)
    if why:
        unmatched.append(_unposted(clp["claim_id"], remit, clp, why))
        return None
    try:
        done, records, after = _post_claim(app, claim, clp, remit, stamp, reverses)
    except ValueError as e:
        unmatched.append(_unposted(claim["id"], remit, clp, str(e)))
        return None
    changed[claim["id"]] = (after, changed.get(claim["id"], (None, claim))[1])
    return done, records


def _unposted(claim_id: str, remit: dict, clp: dict, reason: str) -> dict:
    """The entry in a summary's `unmatched` for a claim's answer that was not posted, and why."""
    return {"claim_id": claim_id, "trace": remit["trace"], "paid": clp["paid"], "reason": reason}


def _unpostable(claim: Record, clp: dict, reverses: int | None) -> str:
    """Why a claim's answer cannot be posted ("" when it can)."""
    if clp.get("status_code") == REVERSAL and reverses is None:
        return "no earlier payment of it to reverse"
    if reverses is None and claim["status"] not in POSTABLE:
        return f"claim is {claim['status']}"
    return ""


def _claim(txn, claim_id: str) -> dict | None:
    try:
        return txn.get(CLAIMS, claim_id)
    except InvalidInput:
        return None  # not one of our claim ids
