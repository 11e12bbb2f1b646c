"""The 277CA claim acknowledgment reader (005010X214), and the HL walk the 277 reader shares.

A 277CA answers an 837 claim by claim: 2000A the information source (the clearinghouse
or payer), 2000B the receiver (the submitter; TRN*2 the batch it answers), 2000C the
billing provider, 2000D each claim, found by TRN*2 = the CLM01 sent (our claim id),
with STC category:status[:entity] codes (A1 received, A2 accepted, A3 returned, A6/A7/A8
rejected ...), the payer's claim number (REF*1K) and the service lines (SVC, 2220D).
One dict per transaction set (docs/claim-model.md), every STC code also in words.
"""

from medsec_x12.codes import status_words
from medsec_x12.segments import Segment, detect_set, identify, transaction_sets
from medsec_x12.syntax import iso_date

VERSIONS = ("005010X214",)
STATUS_277 = "005010X212"


def detect(raw: bytes) -> bool:
    """A functional group HN that is not a 277 claim status answer (005010X212): a wrong
    version then reaches read, which names GS08."""
    return detect_set(raw, "HN", "277") and identify(raw)[2] != STATUS_277


def read(raw: bytes) -> list[dict]:
    """One dict per 277CA transaction set; ValueError("line N: segment XX: ...") when malformed."""
    return [answer(ts, ("PT",)) for ts in transaction_sets(raw, "HN", "277", VERSIONS)]


def _date(seg: Segment, i: int, what: str) -> str:
    return seg.date(i, what) if seg.get(i) else ""


def statuses(seg: Segment) -> list[dict]:
    """The STC's status codes (STC01, STC10, STC11), each with the STC's date, action, amounts and
    (a 277) the payment: STC05 paid, STC06 adjudicated, STC07 method, STC08/09 check date and number."""
    common = {"date": _date(seg, 2, "status information effective date"), "action": seg.get(3),
              "amount": seg.money(4, "total claim charge amount", default=""),
              "paid": seg.money(5, "claim payment amount", default=""),
              "adjudicated": _date(seg, 6, "adjudication or payment date"), "method": seg.get(7),
              "check_date": _date(seg, 8, "check issue or EFT date"), "check_number": seg.get(9)}
    out = []
    for i in (1, 10, 11):
        if not seg.get(i):
            continue
        parts = seg.parts(i) + ["", ""]
        category, status, entity = parts[0], parts[1], parts[2]
        if not category:
            raise seg.fail(f"STC{i:02d} has no claim status category code")
        out.append({"category": category, "status": status, "entity": entity,
                    "words": status_words(category, status, entity), **common})
    if not out:
        raise seg.fail("STC01 (health care claim status) is missing")
    return out


def _name(seg: Segment) -> dict:
    return {"entity": seg.get(1), "last": seg.get(3), "first": seg.get(4), "id_qualifier": seg.get(8),
            "id": seg.get(9)}


def _service_dates(seg: Segment) -> tuple[str, str]:
    if seg.get(2) == "RD8":
        start, _, end = seg.need(3, "date range").partition("-")
        try:
            return iso_date(start, "DTP03 (from)"), iso_date(end or start, "DTP03 (to)")
        except ValueError as e:
            raise seg.fail(str(e)) from None
    day = seg.date(3, "service date")
    return day, day


def _line(seg: Segment) -> dict:
    code = seg.parts(1)
    return {"qualifier": code[0], "code": code[1] if len(code) > 1 else "",
            "modifiers": [m for m in code[2:6] if m], "charge": seg.money(2, "line item charge amount"),
            "paid": seg.money(3, "line item provider payment amount", default=""), "units": seg.get(7),
            "line_ref": "", "date": "", "statuses": []}


class _Walk:
    """The state of one transaction set's HL walk: which level the next segment belongs to."""

    HANDLERS: dict = {}  # segment id -> method (filled in below the class)

    def __init__(self, claim_levels: tuple[str, ...]):
        self.claim_levels = claim_levels
        self.out: dict = {"source": {}, "receiver": {}, "providers": [], "claims": []}
        self.level = ""
        self.node: dict = {}
        self.line: dict | None = None
        self.subscriber: dict = {}

    def hl(self, seg: Segment) -> None:
        self.level, self.line = seg.need(3, "hierarchical level code"), None
        if self.level == "20":
            self.node = self.out["source"]
        elif self.level == "21":
            self.node = self.out["receiver"]
            self.node["statuses"] = []
        elif self.level == "19":
            self.node = {"statuses": []}
            self.out["providers"].append(self.node)
        elif self.level == "22" and "22" in self.claim_levels:  # a subscriber: claims follow (277)
            self.subscriber, self.node = {}, {}
        elif self.level in self.claim_levels:  # a patient (277CA PT, 277 dependent 23)
            self.node = {}
        else:
            raise seg.fail(f"HL03 {self.level!r} is not a level of this transaction")

    def claim(self, seg: Segment) -> None:
        """TRN*2 in 2200D/E opens a claim answer of the current subscriber or patient."""
        person = self.node.get("person") or self.subscriber
        self.node = {"claim_id": "", "trace": seg.need(2, "trace number"), "person": person,
                     "subscriber": self.subscriber, "payer_claim_id": "", "clearinghouse_id": "",
                     "patient_account": "", "statuses": [], "charge": "", "paid": "", "service_from": "",
                     "service_to": "", "lines": []}
        self.out["claims"].append(self.node)
        self.line = None

    def segment(self, seg: Segment) -> None:
        handler = self.HANDLERS.get(seg.id)
        if handler is None:
            raise seg.fail(f"segment {seg.id} does not belong here")
        handler(self, seg)

    @property
    def at_claim(self) -> bool:
        return self.level in self.claim_levels

    def nm1(self, seg: Segment) -> None:
        name = _name(seg)
        if self.at_claim and self.level == "22":
            self.subscriber = name
        elif self.at_claim:
            self.node["person"] = name
        else:
            self.node.update({"name": name["last"], "id": name["id"], "id_qualifier": name["id_qualifier"]})

    def trn(self, seg: Segment) -> None:
        if self.at_claim:
            self.claim(seg)
        else:
            self.node["trace"] = seg.get(2)

    def stc(self, seg: Segment) -> None:
        if self.at_claim and "trace" not in self.node:
            raise seg.fail("STC before the claim's TRN")
        target = self.line if self.line is not None else self.node
        target.setdefault("statuses", []).extend(statuses(seg))
        if self.at_claim and self.line is None:
            self.node["charge"] = self.node["charge"] or seg.money(4, "total claim charge amount", default="")
            self.node["paid"] = self.node["paid"] or seg.money(5, "claim payment amount", default="")

    def dtp(self, seg: Segment) -> None:
        if self.line is not None:
            self.line["date"] = _service_dates(seg)[0]
        elif self.at_claim and seg.get(1) in ("472", "232") and "trace" in self.node:
            self.node["service_from"], self.node["service_to"] = _service_dates(seg)
        elif seg.get(1) in ("050", "009") and not self.at_claim:
            self.node["received" if seg.get(1) == "050" else "processed"] = _date(seg, 3, "date")

    def svc(self, seg: Segment) -> None:
        if not (self.at_claim and "trace" in self.node):
            raise seg.fail("SVC outside a claim")
        self.line = _line(seg)
        self.node["lines"].append(self.line)

    def qty(self, seg: Segment) -> None:
        if not self.at_claim:  # totals of the batch (2200B) or the provider (2200C)
            key = {"90": "accepted", "AA": "rejected", "QA": "accepted", "QC": "rejected"}.get(seg.get(1))
            self.node[key or f"quantity_{seg.get(1)}"] = seg.get(2)

    def amt(self, seg: Segment) -> None:
        if not self.at_claim:
            key = {"YU": "accepted_amount", "YY": "rejected_amount"}.get(seg.get(1), f"amount_{seg.get(1)}")
            self.node[key] = seg.money(2, "amount")

    def ignore(self, seg: Segment) -> None:
        """Subscriber demographics, a contact: nothing medsec keeps."""

    def ref(self, seg: Segment) -> None:
        qualifier, value = seg.need(1, "reference identification qualifier"), seg.get(2)
        if self.line is not None:
            if qualifier == "FJ":
                self.line["line_ref"] = value
        elif "trace" in self.node and self.level in self.claim_levels:
            key = {"1K": "payer_claim_id", "D9": "clearinghouse_id", "EJ": "patient_account"}.get(qualifier)
            if key:
                self.node[key] = value


_Walk.HANDLERS = {"HL": _Walk.hl, "NM1": _Walk.nm1, "TRN": _Walk.trn, "STC": _Walk.stc, "REF": _Walk.ref,
                  "DTP": _Walk.dtp, "SVC": _Walk.svc, "QTY": _Walk.qty, "AMT": _Walk.amt, "DMG": _Walk.ignore,
                  "PER": _Walk.ignore}


def answer(ts, claim_levels: tuple[str, ...]) -> dict:
    """The answer one 277CA or 277 transaction set holds: who sent it, and each claim's statuses."""
    body = ts.body
    if not body or body[0].id != "BHT":
        raise (body[0] if body else ts.se).fail("expected BHT after ST")
    bht = body[0]
    walk = _Walk(claim_levels)
    for seg in body[1:]:
        walk.segment(seg)
    out = walk.out
    if not out["claims"] and not out["receiver"]:
        raise ts.se.fail("no receiver or claim in the transaction set")
    for claim in out["claims"]:
        if not claim["statuses"]:
            raise ts.se.fail(f"claim {claim['trace']} has no STC status")
        claim["claim_id"] = claim["trace"]
    return {"interchange_control": ts.isa.get(13), "control": ts.st.get(2), "reference": bht.get(3),
            "date": _date(bht, 4, "transaction set creation date"), **out}
