"""The 835 reader (005010X221A1): one remittance dict per ST/SE, as docs/claim-model.md describes.

Errors name the segment's position the way pyx12 does: "line N" is the Nth
segment of the file (ISA is line 1), which is the editor line when the file
has one segment per line and still meaningful when it is all on one line.

Besides the envelope (ISA/GS/ST/SE/GE/IEA: counts and control numbers), the
reader checks the 835's own arithmetic and refuses the file when it fails
(X12 notes, section 8): a payer's file that does not add up cannot be posted
line by line without inventing money.

    line     SVC02 - its CAS = SVC03
    claim    CLP03 - claim CAS - line CAS = CLP04
    payment  sum(CLP04) - sum(PLB) = BPR02 (negated for a debit, BPR03 = D)
"""

from dataclasses import dataclass, field
from decimal import Decimal

from medsec_x12.segments import Segment, detect_set, transaction_sets
from medsec_x12.syntax import decimal_of

CAS_GROUPS = ("CO", "OA", "PI", "PR", "CR")  # CR left the 835 in 5010 but old files carry it
CAS_TRIPLETS = 6


# -- one payment (ST..SE) -----------------------------------------------------------------
@dataclass
class _Payment:
    """Reads one transaction set's body into the remittance dict, loop by loop."""

    st: Segment
    remit: dict = field(default_factory=lambda: {
        "trace": "", "method": "", "paid_date": "", "total_paid": "", "payer": {"name": "", "id": ""},
        "payee": {"name": "", "npi": ""}, "claims": [], "provider_adjustments": []})
    loop: str = "header"            # header, payer, payee, other, claims
    claim: dict | None = None
    line: dict | None = None
    marks: dict = field(default_factory=dict)   # id(dict) -> its opening segment, for error lines
    bpr: Segment | None = None
    trn_payer: str = ""
    ref_2u: str = ""

    def read(self, body: list[Segment], se: Segment) -> dict:
        if not body or body[0].id != "BPR":
            raise (body[0] if body else se).fail("expected BPR right after ST (835 financial information)")
        for seg in body:
            handler = getattr(self, "_" + seg.id, None)
            if handler:  # segments medsec has no use for (N3, PER, TS3, QTY ...) are skipped
                handler(seg)
        self._close_claim()
        if not self.remit["trace"]:
            raise se.fail("the transaction set has no TRN (check or EFT trace number)")
        self.remit["payer"]["id"] = self.ref_2u or self.remit["payer"]["id"] or self.trn_payer
        self._balance_payment()
        return self.remit

    # header ----------------------------------------------------------------------
    def _BPR(self, seg: Segment) -> None:
        if self.bpr is not None:
            raise seg.fail("a second BPR in one transaction set")
        self.bpr = seg
        self.remit["total_paid"] = seg.money(2, "total paid")
        self.remit["method"] = seg.need(4, "payment method")
        self.remit["paid_date"] = seg.date(16, "payment date")

    def _TRN(self, seg: Segment) -> None:
        self.remit["trace"] = seg.need(2, "check or EFT trace number")
        self.trn_payer = seg.get(3)

    def _N1(self, seg: Segment) -> None:
        self._close_claim()
        who = seg.get(1)
        if who == "PR":
            self.loop = "payer"
            self.remit["payer"]["name"] = seg.get(2)
            if seg.get(3) == "XV":
                self.remit["payer"]["id"] = seg.get(4)
        elif who == "PE":
            self.loop = "payee"
            payee = self.remit["payee"]
            payee["name"] = seg.get(2)
            if seg.get(3) == "XX":
                payee["npi"] = seg.get(4)
            elif seg.get(3) == "FI":
                payee["tax_id"] = seg.get(4)
        else:
            self.loop = "other"

    def _REF(self, seg: Segment) -> None:
        qualifier = seg.get(1)
        if self.line is not None:
            if qualifier == "6R":  # our line number, echoed: exact line matching
                self.line["line_ref"] = seg.get(2)
        elif self.loop == "payer" and qualifier == "2U":
            self.ref_2u = seg.get(2)
        elif self.loop == "payee" and qualifier == "TJ":
            self.remit["payee"]["tax_id"] = seg.get(2)

    def _LX(self, seg: Segment) -> None:
        self._close_claim()
        self.loop = "claims"

    # claims ---------------------------------------------------------------------
    def _CLP(self, seg: Segment) -> None:
        self._close_claim()
        if self.loop in ("header", "payer"):
            raise seg.fail("a claim before the payer and payee (N1*PR, N1*PE)")
        self.loop = "claims"
        self.claim = {"claim_id": seg.need(1, "patient control number"), "status_code": seg.need(2, "status"),
                      "charge": seg.money(3, "charge"), "paid": seg.money(4, "paid"),
                      "patient_responsibility": seg.money(5, "patient responsibility", default="0.00"),
                      "payer_claim_id": seg.get(7), "adjustments": [], "remarks": [], "lines": []}
        self.marks[id(self.claim)] = seg

    def _in_claim(self, seg: Segment) -> dict:
        if self.claim is None:
            raise seg.fail("outside a claim (no CLP before it)")
        return self.claim

    def _CAS(self, seg: Segment) -> None:
        owner = self.line if self.line is not None else self._in_claim(seg)
        group = seg.need(1, "adjustment group")
        if group not in CAS_GROUPS:
            raise seg.fail(f"CAS01 {group!r} is not an adjustment group ({', '.join(CAS_GROUPS)})")
        found = 0
        for k in range(CAS_TRIPLETS):  # up to six reason/amount/quantity triplets
            reason, amount = seg.get(2 + 3 * k), seg.get(3 + 3 * k)
            if not reason and not amount:
                continue
            if not reason:
                raise seg.fail(f"CAS{2 + 3 * k:02d}: an amount without a reason code")
            quantity = seg.get(4 + 3 * k)
            if quantity:
                try:
                    decimal_of(quantity, f"CAS{4 + 3 * k:02d} (quantity)")
                except ValueError as e:
                    raise seg.fail(str(e)) from None
            owner["adjustments"].append({"group": group, "reason": reason,
                                         "amount": seg.money(3 + 3 * k, "adjustment amount"),
                                         "quantity": quantity})
            found += 1
        if not found:
            raise seg.fail("no reason and amount")
        if len(seg.elements) > 2 + 3 * CAS_TRIPLETS:
            raise seg.fail(f"more than {CAS_TRIPLETS} reason/amount/quantity triplets")

    def _NM1(self, seg: Segment) -> None:
        if self.claim is not None and self.line is None and seg.get(1) == "QC":
            self.claim["patient"] = {"last": seg.get(3), "first": seg.get(4), "id": seg.get(9)}

    def _MOA(self, seg: Segment) -> None:
        self._in_claim(seg)["remarks"] += [seg.get(i) for i in range(3, 8) if seg.get(i)]

    def _MIA(self, seg: Segment) -> None:
        self._in_claim(seg)["remarks"] += [seg.get(i) for i in (5, 20, 21, 22, 23) if seg.get(i)]

    def _DTM(self, seg: Segment) -> None:
        qualifier = seg.get(1)
        if self.line is not None and qualifier in ("472", "150", "151"):
            key = "date_end" if qualifier == "151" else "date"
            if qualifier != "150" or not self.line.get("date"):  # 472 wins over a period start
                self.line[key] = seg.date(2, "service date")
        elif self.claim is not None and self.line is None and qualifier == "232":
            self.claim["_statement_from"] = seg.date(2, "statement from date")

    def _SVC(self, seg: Segment) -> None:
        claim = self._in_claim(seg)
        self._close_line()
        qualifier, code, *rest = seg.parts(1) + [""]
        if not code:
            raise seg.fail("SVC01 has no procedure code")
        units = self._units(seg, 5)
        self.line = {"code": code, "modifiers": [m for m in rest[:4] if m], "charge": seg.money(2, "charge"),
                     "paid": seg.money(3, "paid"), "units": units, "date": "", "line_ref": "",
                     "adjustments": [], "remarks": []}
        if qualifier != "HC":
            self.line["qualifier"] = qualifier
        if seg.get(6):  # the code as billed, when the payer changed it
            _, submitted, *mods = seg.parts(6) + [""]
            self.line["submitted_code"] = submitted
            self.line["submitted_modifiers"] = [m for m in mods[:4] if m]
        self.marks[id(self.line)] = seg
        claim["lines"].append(self.line)

    @staticmethod
    def _units(seg: Segment, i: int):
        """SVC05 paid units (absent = 1): an int when whole, else a decimal string."""
        if not seg.get(i):
            return 1
        try:
            value = decimal_of(seg.get(i), f"SVC{i:02d} (units)")
        except ValueError as e:
            raise seg.fail(str(e)) from None
        return int(value) if value == value.to_integral_value() else str(value)

    def _AMT(self, seg: Segment) -> None:
        if self.line is not None and seg.get(1) == "B6":
            self.line["allowed"] = seg.money(2, "allowed amount")

    def _LQ(self, seg: Segment) -> None:
        target = self.line if self.line is not None else self._in_claim(seg)
        target["remarks"].append(seg.need(2, "remark code"))

    def _PLB(self, seg: Segment) -> None:
        self._close_claim()
        self.loop = "plb"
        provider, period = seg.need(1, "provider id"), seg.date(2, "fiscal period date")
        for k in range(6):  # (reason[:reference], amount) pairs in PLB03/04 .. PLB13/14
            if not seg.get(3 + 2 * k):
                continue
            reason, *reference = seg.parts(3 + 2 * k)
            self.remit["provider_adjustments"].append(
                {"reason": reason, "reference": reference[0] if reference else "",
                 "amount": seg.money(4 + 2 * k, "adjustment amount"), "provider": provider, "period_end": period})

    # closing loops and balancing ---------------------------------------------------
    def _close_line(self) -> None:
        line, self.line = self.line, None
        if line is None:
            return
        cas = _sum(line["adjustments"])
        if Decimal(line["charge"]) - cas != Decimal(line["paid"]):
            raise self.marks[id(line)].fail(
                f"service line {line['code']} does not balance: charge {line['charge']} - adjustments {cas:.2f}"
                f" != paid {line['paid']}")

    def _close_claim(self) -> None:
        self._close_line()
        claim, self.claim = self.claim, None
        if claim is None:
            return
        statement_from = claim.pop("_statement_from", "")
        cas = _sum(claim["adjustments"]) + sum((_sum(l["adjustments"]) for l in claim["lines"]), Decimal(0))
        if Decimal(claim["charge"]) - cas != Decimal(claim["paid"]):
            raise self.marks[id(claim)].fail(
                f"claim {claim['claim_id']} does not balance: charge {claim['charge']} - adjustments {cas:.2f}"
                f" != paid {claim['paid']}")
        for line in claim["lines"]:
            if not line["date"] and statement_from:  # lines without dates share the claim's
                line["date"] = statement_from
        # The claim's remarks: MOA/MIA and every line's LQ, once each, in order.
        claim["remarks"] = list(dict.fromkeys(claim["remarks"] + [r for l in claim["lines"] for r in l["remarks"]]))
        self.remit["claims"].append(claim)

    def _balance_payment(self) -> None:
        paid = sum((Decimal(c["paid"]) for c in self.remit["claims"]), Decimal(0))
        plb = _sum(self.remit["provider_adjustments"])
        total = Decimal(self.remit["total_paid"])
        if self.bpr.get(3) == "D":  # a debit: the provider owes the payer
            total = -total
        if paid - plb != total:
            raise self.bpr.fail(f"total paid {self.remit['total_paid']} != claims paid {paid:.2f} - provider "
                                f"adjustments {plb:.2f}")


def _sum(adjustments: list[dict]) -> Decimal:
    return sum((Decimal(a["amount"]) for a in adjustments), Decimal(0))


# -- the plugin's two functions ------------------------------------------------------------
def detect(raw: bytes) -> bool:
    """An X12 interchange whose first group is an 835 (GS01 HP, or ST01 835)."""
    return detect_set(raw, "HP", "835")


def read(raw: bytes) -> list[dict]:
    """Every payment (ST/SE) in the file; ValueError("line N: segment XYZ: ...") when malformed."""
    return [_Payment(st).read(body, se) for _, _, st, body, se in transaction_sets(raw, "HP", "835")]
