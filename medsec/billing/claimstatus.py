"""Claim status: asking payers about claims (276 out) and reading their answers (277 in).

`prepare()` builds the 276 and returns it with the function that records it: the
EDI_FILES "out" record (transaction 276, the claims) and a note in each claim's
history naming its trace. `inquire()` writes the file and records it; a transport
can send the bytes instead and call the same `commit(where, transport)` once sent.

A 277 answer is matched by its TRN*2 (the trace sent: "<claim id>-<control>"), else
by REF*EJ (the claim id as patient control number). Money is the 835's to post: a
"finalized/payment" answer is noted, never posted. Status moves only where the
claim's workflow allows it: acknowledgment and pending answers mark a submitted claim
"accepted", A3/A4/A6/A7/A8 reject it, F2 (finalized: denial) denies it.
"""

from datetime import timedelta

from medsec import clock
from medsec.billing import edi
from medsec.billing.acks import REJECTED_CATEGORIES, acknowledged, claim_words, import_answers
from medsec.billing.acks import Changes as _Changes
from medsec.billing.claims import get_claim, moved, store_changes
from medsec.errors import InvalidInput, Refused
from medsec.store.catalog import CLAIMS

ASKABLE = ("submitted", "accepted")
RECEIVED_PREFIXES = ("A1", "A2", "P", "F")  # the payer has the claim: a submitted claim is accepted


def unanswered(app, days: int) -> list[dict]:
    """Submitted claims sent at least `days` days ago that nothing answered since (no 277CA, 277,
    remittance) and that no 276 asked about in the last `days` days."""
    if days < 1:
        raise InvalidInput("--unanswered-days is 1 or more")
    view = app.store.snapshot()
    cutoff = clock.iso(app.now() - timedelta(days=days))
    ids = view.lookup("claim-status", "submitted")
    out = []
    for claim in view.get_many(CLAIMS, sorted(ids, key=lambda i: int(i[1:]))):
        if claim["status"] != "submitted" or not claim.get("submissions"):
            continue
        sent = claim["submissions"][-1]["at"]
        answers = [a for a in claim.get("acknowledgments") or [] if a["transaction"] in ("277CA", "277")
                   and a["at"] >= sent]
        asked = [a for a in claim.get("inquiries") or [] if a["at"] > cutoff]
        if sent <= cutoff and not answers and not asked and not claim.get("adjudications"):
            out.append(claim)
    return out


def _claims(app, claim_ids: list[str] | None, days: int | None) -> list[dict]:
    if bool(claim_ids) == (days is not None):
        raise InvalidInput("give claim ids or --unanswered-days N")
    if days is not None:
        claims = unanswered(app, days)
        if not claims:
            raise Refused(f"no submitted claim has waited {days} days without an answer")
        return claims
    view = app.store.snapshot()
    claims = [get_claim(app, cid, view=view) for cid in dict.fromkeys(c.upper() for c in claim_ids or [])]
    for claim in claims:
        if claim["status"] not in ASKABLE:
            raise Refused(f"{claim['id']} is {claim['status']}; a payer is asked only about submitted or "
                          "accepted claims")
    return claims


def prepare(app, claim_ids: list[str] | None = None, *, unanswered_days: int | None = None,
            usage: str | None = None):
    """(276 bytes, the control number, commit) for the claims; `commit(where, transport="") -> summary`
    records the file as sent and notes the inquiry in each claim, once the bytes are out."""
    from medsec.billing.claim_export import INTERCHANGES, usage_of  # one counter of ISA13/GS06 numbers

    usage = usage_of(app, usage)
    claims = _claims(app, claim_ids, unanswered_days)
    writer = edi.edi_format(app, "276")
    with app.store.transaction() as txn:
        number = INTERCHANGES.number(txn.reserve_ids(INTERCHANGES)[0])
    items: list[dict] = [{"trace": f"{c['id']}-{number}", "payer_claim_id": _payer_claim_id(c), "claim": c}
                         for c in claims]
    try:
        data = writer.write(items, {"interchange_control": number, "group_control": number, "usage": usage,
                                    "now": app.now(), "sender_id": claims[0]["submitter"]["id"],
                                    "receiver_id": claims[0]["receiver"]["id"]})
    except ValueError as e:
        raise InvalidInput(f"cannot write a 276: {e}") from None
    traces: dict[str, str] = {item["trace"]: item["claim"]["id"] for item in items}

    def commit(where: str, transport: str = "") -> dict:
        stamp = clock.iso(app.now())
        with app.store.transaction() as txn:
            record = edi.record_file(app, txn, direction="out", transaction="276", raw_sha=edi.sha256(data),
                                     name=where, control=str(number), status="sent", claims=list(traces.values()),
                                     patients=list(dict.fromkeys(c["patient_id"] for c in claims)),
                                     summary={"traces": traces}, transport=transport)
            pairs = []
            for old in txn.get_many(CLAIMS, list(traces.values())):
                trace = f"{old['id']}-{number}"
                inquiry = {"at": stamp, "trace": trace, "file": record["id"]}
                pairs.append((moved(app, old, old["status"], f"276 status inquiry, trace {trace} ({record['id']})",
                                    {"inquiries": list(old.get("inquiries") or []) + [inquiry]}, stamp), old))
            store_changes(app, txn, pairs)
        app.audit("claim-inquire", [record["id"], *traces.values(), *(c["patient_id"] for c in claims)])
        return {"file": where, "record": record["id"], "transaction": "276", "control_number": number,
                "claims": list(traces.values()), "traces": traces, "bytes": len(data), "transport": transport}

    return data, number, commit


def _payer_claim_id(claim: dict) -> str:
    """The payer's claim number if known: a 277CA's REF*1K, else the latest 835's CLP07."""
    if claim.get("payer_claim_id"):
        return str(claim["payer_claim_id"])
    for adj in reversed(claim.get("adjudications") or []):
        if adj.get("payer_claim_id"):
            return str(adj["payer_claim_id"])
    return ""


def inquire(app, claim_ids: list[str] | None = None, *, unanswered_days: int | None = None,
            output: str | None = None, send: bool = False, clearinghouse: str | None = None,
            usage: str | None = None) -> dict:
    """A 276 asking about the claims, written to `output` or sent to the clearinghouse
    (medsec.billing.transports.destination), and recorded once it is there."""
    from medsec.billing.transports import destination  # the transport plugins: only when sending

    with destination(app, output=output, send=send, clearinghouse=clearinghouse) as put:
        data, number, commit = prepare(app, claim_ids, unanswered_days=unanswered_days, usage=usage)
        where, transport = put(f"status-{number}.276", data)
    return commit(where, transport=transport)


# -- the 277 -------------------------------------------------------------------------------
def _match(changes: _Changes, answer: dict) -> dict | None:
    claim_id, _, control = answer["trace"].rpartition("-")
    if claim_id and control.isdigit():
        claim = changes.claim(claim_id.upper())
        if claim is not None and any(i.get("trace") == answer["trace"] for i in claim.get("inquiries") or []):
            return claim
    return changes.claim(answer["claim_id"].upper()) if answer["claim_id"] else None


def status_after(claim: dict, categories: list[str]) -> str:
    """Where a 277's categories put the claim (its own status when the workflow does not allow more)."""
    current = claim["status"]
    if any(c in REJECTED_CATEGORIES for c in categories):
        return "rejected" if current in ("submitted", "accepted") else current
    if "F2" in categories:
        return "denied" if current in ("submitted", "accepted") else current
    if current == "submitted" and any(c.startswith(RECEIVED_PREFIXES) for c in categories):
        return "accepted"
    return current


def _paid_words(answer: dict) -> str:
    paid = next((s for s in answer["statuses"] if s.get("paid")), None)
    if not paid:
        return ""
    words = f"; the payer reports {paid['paid']} paid"
    if paid.get("check_number"):
        words += f" (check/EFT {paid['check_number']}" + (f", {paid['check_date']})" if paid.get("check_date")
                                                          else ")")
    return words + ": posted when its 835 is"


def _apply_277(changes: _Changes, answer: dict, summary: dict, payer: str) -> None:
    claim = _match(changes, answer)
    words = claim_words(answer)
    if claim is None:
        summary["unmatched"].append({"trace": answer["trace"], "claim_id": answer["claim_id"],
                                     "payer_claim_id": answer["payer_claim_id"], "statuses": words,
                                     "reason": f"no claim asked about with trace {answer['trace']}"})
        return
    categories = [s["category"] for s in answer["statuses"]]
    status = status_after(claim, categories)
    effective = next((s["date"] for s in answer["statuses"] if s.get("date")), "")
    entry = {"transaction": "277", "at": changes.stamp, "from": payer, "trace": answer["trace"], "words": words,
             "categories": categories, "effective": effective, "payer_claim_id": answer["payer_claim_id"],
             "charge": answer.get("charge", ""), "paid": answer.get("paid", "")}
    extra = acknowledged(claim, entry)
    if answer["payer_claim_id"]:
        extra["payer_claim_id"] = answer["payer_claim_id"]
    if status == "denied" and claim["status"] != "denied":
        extra["denial"] = {"reasons": [], "remarks": [], "claim_status": words}
    note = f"277 from {payer}" + (f" ({effective})" if effective else "") + f": {words}{_paid_words(answer)}"
    changes.move(claim, status, note, extra)
    summary["answered"].append({"claim_id": claim["id"], "trace": answer["trace"], "status": status,
                                "categories": categories, "reason": words})


def import_277(app, raw: bytes, name: str, *, fmt, dry_run: bool = False) -> dict:
    """Import a 277: each answer noted in its claim's history, the status moved where allowed."""
    def apply(changes: _Changes, answers: list[dict], summary: dict) -> None:
        for answer in answers:
            payer = answer["source"].get("name") or answer["source"].get("id") or "the payer"
            for claim in answer["claims"]:
                _apply_277(changes, claim, summary, payer)

    summary = import_answers(app, raw, name, fmt=fmt, dry_run=dry_run, transaction="277", lists=("answered",),
                             apply=apply, filed=lambda s: ("imported", {"answered": len(s["answered"])}))
    if not dry_run:
        app.audit("import-277", ([summary["file"]] if summary["file"] else [])
                  + [a["claim_id"] for a in summary["answered"]])
    return summary
