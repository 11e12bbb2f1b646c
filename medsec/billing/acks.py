"""Acknowledgments from the clearinghouse: the 999 (could it read the 837P batch?) and the
277CA (claim by claim: accepted into adjudication, or rejected and why).

A 999 is syntax only: an accepted batch leaves its claims submitted, with a note in
each claim's history, and marks the batch's file record "accepted"; a rejected
transaction set sends its claims to "rejected" (from where `claim status C draft`
reopens them) with the errors in words. A 277CA moves each claim it names: A1/A2 to
"accepted", A3/A4/A6/A7/A8 to "rejected" with the reason in words. Answers that match
nothing are kept on the received file's record (EDI_FILES "unmatched"), never dropped.
Each importer runs in one transaction (10,000 claims: one write per claim shard).
"""

from collections.abc import Callable
from typing import Any

from medsec import clock
from medsec.billing import edi
from medsec.billing.claims import moved, store_changes
from medsec.errors import InvalidInput
from medsec.store.api import Record
from medsec.store.catalog import CLAIMS, EDI_FILES
from medsec.text import escape_controls

# The x12-837p writer puts at most this many claims in one ST/SE, in the order exported:
# a 999's AK2 for transaction set n (ST02) answers claims[(n-1)*5000:n*5000] of the batch.
CLAIMS_PER_SET = 5000
REJECTED_RESULTS = ("M", "R", "W", "X")  # IK501/AK901 codes that refuse a set or group
ACCEPTED_CATEGORIES = ("A1", "A2")
REJECTED_CATEGORIES = ("A3", "A4", "A6", "A7", "A8")
FILE_STATUS = {"A": "accepted", "E": "accepted with errors", "P": "partially accepted"}


def read_answers(fmt, raw: bytes, name: str) -> list[dict]:
    """The format's reading of the file; a malformed file is bad input (exit 2), naming the segment."""
    try:
        return fmt.read(raw)
    except (ValueError, ArithmeticError) as e:
        raise InvalidInput(f"{name}: {escape_controls(str(e))}", hint="nothing was imported") from None

class Changes:
    """The claims one import changes, each read once and written once (store_changes)."""

    def __init__(self, app, txn, stamp: str):
        self.app, self.txn, self.stamp = app, txn, stamp
        self.pairs: dict[str, tuple[Record, Record]] = {}

    def prefetch(self, claim_ids: list[str]) -> None:
        wanted = [i for i in dict.fromkeys(claim_ids) if i not in self.pairs and _claim_id(i)]
        for record in self.txn.get_many(CLAIMS, wanted):
            self.pairs[record["id"]] = (record, record)

    def claim(self, claim_id: str) -> Record | None:
        if claim_id not in self.pairs:
            if not _claim_id(claim_id):
                return None
            try:
                record = self.txn.get(CLAIMS, claim_id)
            except InvalidInput:
                return None
            if record is None:
                return None
            self.pairs[claim_id] = (record, record)
        return self.pairs[claim_id][0]

    def move(self, claim: Record, status: str, note: str, extra: dict | None = None) -> Record:
        after = moved(self.app, claim, status, note, extra, self.stamp)
        self.pairs[claim["id"]] = (after, self.pairs[claim["id"]][1])
        return after

    def store(self) -> None:
        store_changes(self.app, self.txn, [(new, old) for new, old in self.pairs.values() if new is not old])

    def changed_ids(self) -> list[str]:
        return [cid for cid, (new, old) in self.pairs.items() if new is not old]


def _claim_id(value: str) -> bool:
    value = str(value or "").upper()
    return value.startswith("C") and value[1:].isdigit() and not value[1:].startswith("0")


def acknowledged(claim: Record, entry: dict) -> dict:
    """The claim's `acknowledgments` with one more (docs/claim-model.md)."""
    return {"acknowledgments": list(claim.get("acknowledgments") or []) + [entry]}


def import_answers(app, raw: bytes, name: str, *, fmt, dry_run: bool, transaction: str, lists: tuple[str, ...],
                   apply: Callable[[Changes, list[dict], dict], None],
                   filed: Callable[[dict], tuple[str, dict]],
                   after: Callable[[Any, Record, dict], None] | None = None) -> dict:
    """One received file of answers about claims (999, 277CA, 277), imported in one transaction.

    The summary starts with `lists` empty; `apply(changes, answers, summary)` moves the claims and
    fills it; `filed(summary)` gives the file record's status and summary; `after(txn, record,
    summary)` runs once the file is recorded. A file already imported is refused, and a dry run
    commits nothing.
    """
    answers = read_answers(fmt, raw, name)
    sha = edi.sha256(raw)
    summary: dict = {"file": "", "transaction": transaction, "name": name, "dry_run": dry_run,
                     **{key: [] for key in lists}, "unmatched": []}
    try:
        with app.store.transaction() as txn:
            edi.refuse_if_imported(txn, sha, name)
            changes = Changes(app, txn, clock.iso(app.now()))
            apply(changes, answers, summary)
            if dry_run:
                raise edi.DryRun
            changes.store()
            status, file_summary = filed(summary)
            record = edi.record_file(app, txn, direction="in", transaction=transaction, raw_sha=sha, name=name,
                                     control=answers[0]["interchange_control"].lstrip("0"), status=status,
                                     claims=changes.changed_ids(), summary=file_summary,
                                     unmatched=summary["unmatched"])
            summary["file"] = record["id"]
            if after is not None:
                after(txn, record, summary)
    except edi.DryRun:
        pass
    return summary


# -- 999 -------------------------------------------------------------------------------
def _element_words(segment: str, element: dict) -> str:
    where = f"{segment}{int(element['position']):02d}" if element["position"].isdigit() else segment
    if element.get("component"):
        where += f"-{element['component']}"
    ref = f" ({element['element']})" if element.get("element") else ""
    value = f" {element['value']!r}" if element.get("value") else ""
    return f"{where}{ref}{value}: {element['words']}"


def error_words(error: dict) -> str:
    """An IK3 error and its IK4s in words: 'CLM (segment 22, loop 2300, claim C13): segment has data
    element errors; CLM05-1 (1331) '99': invalid code value'."""
    where = [f"segment {error['position']}"] + ([f"loop {error['loop']}"] if error["loop"] else []) \
        + ([f"claim {error['claim_id']}"] if error["claim_id"] else [])
    text = f"{error['segment']} ({', '.join(where)}): {error['words']}"
    return "; ".join([text] + [_element_words(error["segment"], e) for e in error["elements"]])


def _set_claims(batch: dict, control: str) -> list[str]:
    """The claims of the batch's transaction set `control` (its ST02), as the batch's record keeps
    them; a batch recorded without them (before medsec kept them) by position, 5,000 per set, as
    the 837P writer splits a batch."""
    sets = (batch.get("summary") or {}).get("sets")
    if isinstance(sets, dict):
        return [str(c).upper() for c in sets.get(control) or sets.get(control.zfill(4)) or []]
    if not control.isdigit() or int(control) < 1:
        return []
    start = (int(control) - 1) * CLAIMS_PER_SET
    return batch["claims"][start:start + CLAIMS_PER_SET]


def _set_note(ack: dict, answer: dict, batch: dict, claim_id: str) -> str:
    """A rejected set, in words, for one of its claims: the errors naming that claim, else all of them."""
    own = [e for e in answer["segment_errors"] if e["claim_id"].upper() == claim_id]
    errors = own or [e for e in answer["segment_errors"] if not e["claim_id"]] or answer["segment_errors"]
    parts = [f"999: the clearinghouse rejected transaction set {answer['control']} of batch "
             f"{batch['control']} ({batch['id']}): {answer['result_words']}"]
    parts += [e["words"] for e in answer["errors"]] + [error_words(e) for e in errors]
    parts += [e["words"] for e in ack.get("group_errors") or []]
    return "; ".join(parts)


def _apply_999(changes: Changes, ack: dict, summary: dict) -> dict | None:
    """One 999 set (it answers one functional group): its batch record with the result, or None."""
    group = ack["group"]
    batch = edi.sent(changes.txn, group["control"])
    if batch is None:
        summary["unmatched"].append({"group_control": group["control"], "result": ack["result"],
                                     "reason": f"no batch was sent with group control {group['control']}"})
        return None
    status = "rejected" if ack["result"] in REJECTED_RESULTS else FILE_STATUS.get(ack["result"], ack["result"])
    if batch["transaction"] != "837P":  # a 276 (or another file): its record says how it was received
        return {"batch": batch["id"], "control": batch["control"], "result": ack["result"],
                "result_words": ack["result_words"], "accepted": [], "rejected": [], "status": status}
    answers = ack["sets"]
    if not answers and ack["result"] in REJECTED_RESULTS:  # the whole group refused, no set detail
        sets = (batch.get("summary") or {}).get("sets")
        controls = list(sets) if isinstance(sets, dict) and sets else \
            [str(n + 1) for n in range(max(1, -(-len(batch["claims"]) // CLAIMS_PER_SET)))]
        answers = [{"control": control, "result": ack["result"], "result_words": ack["result_words"],
                    "errors": [], "segment_errors": []} for control in controls]
    done = {"batch": batch["id"], "control": batch["control"], "result": ack["result"],
            "result_words": ack["result_words"], "accepted": [], "rejected": []}
    changes.prefetch(batch["claims"])
    for answer in answers:
        refused = answer["result"] in REJECTED_RESULTS
        for claim_id in _set_claims(batch, answer["control"]):
            claim = changes.claim(claim_id)
            if claim is None:
                summary["unmatched"].append({"claim_id": claim_id, "reason": "the batch's claim no longer exists"})
                continue
            entry = {"transaction": "999", "at": changes.stamp, "result": answer["result"],
                     "words": answer["result_words"], "batch": batch["id"]}
            if refused:
                note = _set_note(ack, answer, batch, claim_id)
                if claim["status"] != "submitted":
                    summary["unmatched"].append({"claim_id": claim_id, "reason": f"claim is {claim['status']}: "
                                                 f"{note}"})
                    continue
                changes.move(claim, "rejected", note, acknowledged(claim, {**entry, "words": note}))
                done["rejected"].append(claim_id)
            else:
                note = (f"999: the clearinghouse accepted transaction set {answer['control']} of batch "
                        f"{batch['control']} ({answer['result_words']}; syntax only, the payer's answer follows)")
                changes.move(claim, claim["status"], note, acknowledged(claim, entry))
                done["accepted"].append(claim_id)
    return {**done, "status": status}


def import_999(app, raw: bytes, name: str, *, fmt, dry_run: bool = False) -> dict:
    """Import a 999: each acknowledged 837P batch (by AK1 group control) gets its result."""
    def apply(changes: Changes, acks: list[dict], summary: dict) -> None:
        for ack in acks:
            done = _apply_999(changes, ack, summary)
            if done:
                summary["batches"].append({k: done[k] for k in ("batch", "control", "result", "result_words",
                                                                "status")})
                summary["accepted"] += done["accepted"]
                summary["rejected"] += done["rejected"]

    def filed(summary: dict) -> tuple[str, dict]:
        return (summary["batches"][0]["status"] if summary["batches"] else "unmatched"), \
            {"batches": summary["batches"]}

    def after(txn, record: Record, summary: dict) -> None:  # each batch acknowledged keeps its 999
        for batch in summary["batches"]:
            old = txn.get(EDI_FILES, batch["batch"])
            txn.put(EDI_FILES, {**old, "status": batch["status"],
                                "acknowledgments": list(old.get("acknowledgments") or []) + [record["id"]]}, old)

    summary = import_answers(app, raw, name, fmt=fmt, dry_run=dry_run, transaction="999",
                             lists=("batches", "accepted", "rejected"), apply=apply, filed=filed, after=after)
    if not dry_run:
        app.audit("import-999", ([summary["file"]] if summary["file"] else []) + summary["accepted"]
                  + summary["rejected"])
    return summary


# -- 277CA -----------------------------------------------------------------------------
def verdict(statuses: list[dict]) -> str:
    """What a claim's status codes say: "rejected", "accepted" or "" (nothing to change)."""
    categories = [s["category"] for s in statuses]
    if any(c in REJECTED_CATEGORIES for c in categories):
        return "rejected"
    if any(c in ACCEPTED_CATEGORIES for c in categories):
        return "accepted"
    return ""


def claim_words(answer: dict) -> str:
    """A claim's STC codes in words, claim level first, then each service line's."""
    parts = [s["words"] for s in answer["statuses"]]
    for line in answer.get("lines") or []:
        parts += [f"line {line.get('line_ref') or line['code']}: {s['words']}" for s in line.get("statuses") or []]
    return "; ".join(parts)


def _apply_277ca(changes: Changes, answer: dict, summary: dict, source: str) -> None:
    claim_id = answer["claim_id"].upper()
    claim = changes.claim(claim_id)
    words = claim_words(answer)
    if claim is None:
        summary["unmatched"].append({"claim_id": answer["claim_id"], "payer_claim_id": answer["payer_claim_id"],
                                     "statuses": words, "reason": f"no claim {answer['claim_id']}"})
        return
    wanted = verdict(answer["statuses"])
    entry = {"transaction": "277CA", "at": changes.stamp, "from": source, "words": words,
             "categories": [s["category"] for s in answer["statuses"]], "payer_claim_id": answer["payer_claim_id"]}
    extra = acknowledged(claim, entry)
    if answer["payer_claim_id"]:
        extra["payer_claim_id"] = answer["payer_claim_id"]
    allowed = {"accepted": ("submitted",), "rejected": ("submitted", "accepted")}.get(wanted, ())
    status = wanted if claim["status"] in allowed else claim["status"]
    changes.move(claim, status, f"277CA from {source}: {words}", extra)
    summary[wanted or "noted"].append({"claim_id": claim["id"], "status": status, "reason": words})


def import_277ca(app, raw: bytes, name: str, *, fmt, dry_run: bool = False) -> dict:
    """Import a 277CA: each claim it names accepted, rejected (with the reason) or noted."""
    def apply(changes: Changes, answers: list[dict], summary: dict) -> None:
        changes.prefetch([c["claim_id"].upper() for a in answers for c in a["claims"]])
        for answer in answers:
            source = answer["source"].get("name") or answer["source"].get("id") or "the clearinghouse"
            for claim in answer["claims"]:
                _apply_277ca(changes, claim, summary, source)

    summary = import_answers(app, raw, name, fmt=fmt, dry_run=dry_run, transaction="277CA",
                             lists=("accepted", "rejected", "noted"), apply=apply,
                             filed=lambda s: ("imported", {k: len(s[k]) for k in ("accepted", "rejected", "noted")}))
    if not dry_run:
        app.audit("import-277ca", ([summary["file"]] if summary["file"] else [])
                  + [c["claim_id"] for k in ("accepted", "rejected", "noted") for c in summary[k]])
    return summary
