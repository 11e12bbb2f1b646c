"""The 271 eligibility response reader (005010X279A1).

`read(raw)` returns one answer per subscriber (2000C) and per dependent (2000D), in file order:

    {"trace": "EL12",              # TRN*2 (our 270's TRN02, echoed); "" when the payer sent none
     "traces": ["EL12"], "payer_traces": ["..."],   # every TRN*2, the payer's own TRN*1
     "level": "subscriber" | "dependent" | "source",   # source: a payer/receiver rejection alone
     "payer": {"name", "id"}, "receiver": {"name", "npi"},
     "member_id": "...",           # 2100C NM109 (a dependent's own 2100D id when it has one)
     "subscriber": {"last", "first", "middle", "member_id", "dob", "sex"},
     "patient": {"last", "first", "middle", "dob", "sex"},   # the subscriber, or the dependent
     "rejections": [{"code": "72", "words": "invalid or missing subscriber/insured id",
                     "follow_up": "C", "follow_up_words": "...", "loop": "2100C"}],
     "state": "active" | "inactive" | "rejected" | "unknown",
     "active": True | False | None,
     "plan": "...", "group": "...",
     "copay": "25.00", "coinsurance": "0.20", "deductible": "1500.00", "deductible_remaining": "900.00",
     "out_of_pocket": "5000.00", "out_of_pocket_remaining": "4100.00",    # "" when not given
     "service_types": ["30", "98"],
     "dates": {"plan_begin": "2026-01-01", "plan_end": "2026-12-31", "service": "2026-11-27", ...},
     "benefits": [{"code": "B", "words": "co-payment", "coverage_level": "IND", "service_types": ["98"],
                   "insurance_type": "", "plan": "", "period": "27", "amount": "25.00", "percent": "",
                   "quantity_qualifier": "", "quantity": "", "authorization": "", "in_network": "Y", "dates": {},
                   "messages": [], "rejections": []}],
     "messages": ["..."]}

Rejections in the payer (2000A/2100A) or receiver (2100B) loops apply to every answer under them;
a 2000B (or a 2000A) loop with such a rejection and no subscriber loop under it comes back as one
answer with an empty trace. Each HL's parent (HL02) must be the loop it stands in.
Malformed files and other versions raise ValueError("line N: segment XX: ...").
"""

from decimal import Decimal

from medsec_x12.segments import Segment, detect_set, transaction_sets
from medsec_x12.syntax import decimal_of

VERSION = "005010X279A1"

# AAA03 reject reason codes (005010X279A1), in words.
REJECT_REASONS = {
    "04": "authorized quantity exceeded", "15": "required application data missing", "33": "input errors",
    "35": "out of network", "41": "authorization/access restrictions", "42": "unable to respond at current time",
    "43": "invalid or missing provider identification", "44": "invalid or missing provider name",
    "45": "invalid or missing provider specialty", "46": "invalid or missing provider phone number",
    "47": "invalid or missing provider state", "48": "invalid or missing referring provider identification number",
    "49": "provider is not primary care physician", "50": "provider ineligible for inquiries",
    "51": "provider not on file", "52": "service dates not within provider plan enrollment",
    "53": "inquired benefit inconsistent with provider type", "54": "inappropriate product/service id qualifier",
    "55": "inappropriate product/service id", "56": "inappropriate date", "57": "invalid or missing date(s) of service",
    "58": "invalid or missing date of birth", "60": "date of birth follows date(s) of service",
    "61": "date of death precedes date(s) of service", "62": "date of service not within allowable inquiry period",
    "63": "date of service in future", "64": "invalid or missing patient id", "65": "invalid or missing patient name",
    "66": "invalid or missing patient gender code", "67": "patient not found", "68": "duplicate patient id number",
    "69": "inconsistent with patient's age", "70": "inconsistent with patient's gender",
    "71": "patient birth date does not match that for the patient on the database",
    "72": "invalid or missing subscriber/insured id", "73": "invalid or missing subscriber/insured name",
    "74": "invalid or missing subscriber/insured gender code", "75": "subscriber/insured not found",
    "76": "duplicate subscriber/insured id number", "77": "subscriber found, patient not found",
    "78": "subscriber/insured not in group/plan identified", "79": "invalid participant identification",
    "80": "no response received - transaction terminated", "97": "invalid or missing provider address",
    "AA": "authorization number not found", "AE": "requires primary care physician authorization",
    "AF": "invalid or missing diagnosis code(s)", "AG": "invalid or missing procedure code(s)",
    "AO": "additional patient condition information required", "CI": "certification information does not match patient",
    "E8": "requires medical review", "IA": "invalid authorization number format", "MA": "missing authorization",
    "T4": "payer name or identifier missing",
}
# AAA04 follow-up action codes.
FOLLOW_UP = {"C": "please correct and resubmit", "N": "resubmission not allowed",
             "P": "please resubmit original transaction", "R": "resubmission allowed",
             "S": "do not resubmit; inquiry initiated to a third party", "W": "please wait 30 days and resubmit",
             "X": "please wait 10 days and resubmit", "Y": "do not resubmit; we will hand deliver the response"}
# EB01 eligibility or benefit information codes.
BENEFITS = {"1": "active coverage", "2": "active - full risk capitation", "3": "active - services capitated",
            "4": "active - services capitated to primary care physician", "5": "active - pending investigation",
            "6": "inactive", "7": "inactive - pending eligibility update", "8": "inactive - pending investigation",
            "A": "co-insurance", "B": "co-payment", "C": "deductible", "CB": "coverage basis",
            "D": "benefit description", "E": "exclusions", "F": "limitations", "G": "out of pocket (stop loss)",
            "H": "unlimited", "I": "non-covered", "J": "cost containment", "K": "reserve", "L": "primary care provider",
            "M": "pre-existing condition", "MC": "managed care coordinator",
            "N": "services restricted to following provider",
            "O": "not deemed a medical necessity", "P": "benefit disclaimer", "Q": "second surgical opinion required",
            "R": "other or additional payor", "S": "prior year(s) history", "T": "card(s) reported lost/stolen",
            "U": "contact following entity for eligibility or benefit information", "V": "cannot process",
            "W": "other source of data", "X": "health care facility", "Y": "spend down"}
ACTIVE, INACTIVE = ("1", "2", "3", "4", "5"), ("6", "7", "8")
# DTP qualifiers medsec keeps, by name.
DATES = {"346": "plan_begin", "347": "plan_end", "291": "service", "307": "eligibility", "356": "eligibility_begin",
         "357": "eligibility_end", "348": "benefit_begin", "349": "benefit_end", "292": "benefit",
         "193": "period_start",
         "194": "period_end", "472": "service", "304": "latest_visit", "343": "premium_paid_to_end",
         "435": "admission", "636": "last_update", "198": "completion", "290": "coordination_of_benefits",
         "295": "primary_care_provider", "318": "added", "340": "cobra_begin", "341": "cobra_end",
         "342": "premium_paid_to_begin", "382": "enrollment", "442": "date_of_death", "539": "policy_effective",
         "540": "policy_expiration", "196": "discharge"}
LEVELS = {"20": "2000A", "21": "2000B", "22": "2000C", "23": "2000D"}
KNOWN = {"HL", "TRN", "NM1", "REF", "N3", "N4", "AAA", "PRV", "DMG", "INS", "HI", "DTP", "MPI", "EB", "HSD",
         "MSG", "III", "LS", "LE", "PER"}


def detect(raw: bytes) -> bool:
    """A 271 (GS01 HB): any version, so that read() can say which one it is not."""
    return detect_set(raw, "HB", "271")


def _rejection(seg: Segment, loop: str) -> dict:
    code, follow = seg.need(3, "reject reason code"), seg.get(4)
    return {"code": code, "words": REJECT_REASONS.get(code, f"reject reason {code}"), "follow_up": follow,
            "follow_up_words": FOLLOW_UP.get(follow, ""), "loop": loop}


def _date(seg: Segment, into: dict) -> None:
    qualifier, form, value = seg.need(1, "date qualifier"), seg.need(2, "date format"), seg.need(3, "date")
    name = DATES.get(qualifier, qualifier)
    if form == "D8":
        into[name] = seg.date(3, "date")
    elif form == "RD8":
        first, sep, last = value.partition("-")
        if not sep:
            raise seg.fail(f"DTP03 {value!r} is not a CCYYMMDD-CCYYMMDD range")
        start, end = (Segment(seg.line, ["DTP", "", "", d], seg.delimiters).date(3, "date") for d in (first, last))
        if qualifier == "291":  # "plan": one day is the date asked about echoed, a range the plan's period
            into["plan_begin"], into["plan_end"] = start, end
            return
        into[name] = start if name.endswith(("_begin", "_end")) else f"{start}/{end}"
        if name in ("eligibility", "service", "benefit"):
            into[name + "_begin"], into[name + "_end"] = start, end
    else:
        raise seg.fail(f"DTP02 {form!r} is not D8 or RD8")


def _amount(seg: Segment, i: int, what: str) -> str:
    return seg.money(i, what) if seg.get(i) else ""


def _percent(seg: Segment, i: int) -> str:
    if not seg.get(i):
        return ""
    try:
        value = decimal_of(seg.get(i), f"EB{i:02d} (percent)")
    except ValueError as e:
        raise seg.fail(str(e)) from None
    if not 0 <= value <= 1:
        raise seg.fail(f"EB{i:02d} (percent) {seg.get(i)!r} is not a fraction from 0 to 1")
    cents = value.quantize(Decimal("0.01"))
    return str(cents if cents == value else value)  # '.2' -> '0.20', '.125' stays


class _Reader:
    def __init__(self):
        self.answers: list[dict] = []
        self.source: dict = {}
        self.receiver: dict = {}
        self.level = ""         # HL03 of the current loop
        self.answer: dict | None = None
        self.named = False      # the current HL loop's NM1 was read
        self.benefit: dict | None = None
        self.in_ls = False      # inside LS..LE (2115/2120: another entity's NM1)
        self.hl_ids: set[str] = set()  # every HL01 so far
        self.open: dict[str, str] = {}   # HL03 -> HL01 of the loops the current one is in (and itself)
        self.subscriber: dict | None = None
        self.under: list[dict] = []  # answers under the current 2000B

    def read(self, body: list[Segment], se: Segment) -> list[dict]:
        if not body or body[0].id != "BHT":
            raise (body[0] if body else se).fail("expected BHT right after ST")
        if body[0].get(1) != "0022":
            raise body[0].fail(f"BHT01 {body[0].get(1)!r} is not 0022 (information source, receiver, subscriber)")
        for seg in body[1:]:
            if seg.id not in KNOWN:
                raise seg.fail("not a segment of a 271")
            if seg.id != "HL" and not self.level:
                raise seg.fail("expected HL (2000A information source) after BHT")
            getattr(self, "_" + seg.id, self._skip)(seg)
        self._close_source()
        return self.answers

    # -- hierarchy --------------------------------------------------------------------
    def _HL(self, seg: Segment) -> None:
        ident, parent, code = seg.need(1, "hierarchical id"), seg.get(2), seg.need(3, "level code")
        if code not in LEVELS:
            raise seg.fail(f"HL03 {code!r} is not 20, 21, 22 or 23")
        if ident in self.hl_ids:
            raise seg.fail(f"HL01 {ident} is used twice")
        wanted = {"20": "", "21": "20", "22": "21", "23": "22"}[code]
        expected = self.open.get(wanted, "") if wanted else ""  # a loop's parent is the loop it is in
        if parent != expected or (wanted and not parent):
            within = f" (it is in HL {expected})" if expected else ""
            raise seg.fail(f"HL02 parent {parent or '(none)'} of a {LEVELS[code]} loop is not a "
                           f"{LEVELS.get(wanted, 'top-level')} loop{within}")
        if self.level in ("20", "21", "22", "23") and not self.named:
            raise seg.fail(f"the {LEVELS[self.level]} loop before it has no NM1")
        if code == "20" or (code == "21" and "21" in self.open):  # a 2000A or 2000B loop ends
            self._close_source()
        self.hl_ids.add(ident)
        self.open = {level: hl for level, hl in self.open.items() if level < code}
        self.open[code] = ident
        self.level, self.named, self.benefit, self.in_ls = code, False, None, False
        if code == "20":
            self.source = {"name": "", "id": "", "rejections": []}
        if code in ("20", "21"):
            self.receiver = {"name": "", "npi": "", "rejections": []}
            return
        answer = self._blank("subscriber" if code == "22" else "dependent", "unknown")
        if code == "23":
            assert self.subscriber is not None  # HL02 is the open 2000C (checked above)
            answer["member_id"] = self.subscriber["member_id"]
            answer["subscriber"] = dict(self.subscriber["subscriber"])
            answer["dates"] = dict(self.subscriber["dates"])
            answer["group"] = self.subscriber["group"]
            self.subscriber["parent"] = True
        else:
            self.subscriber = answer
        self.answer = answer
        self.answers.append(answer)
        self.under.append(answer)

    def _blank(self, level: str, state: str) -> dict:
        """An answer under the current payer and receiver, their rejections carried, nothing else known."""
        return {"trace": "", "traces": [], "payer_traces": [], "level": level,
                "payer": {"name": self.source["name"], "id": self.source["id"]},
                "receiver": {"name": self.receiver["name"], "npi": self.receiver["npi"]},
                "member_id": "", "subscriber": {}, "patient": {},
                "rejections": self.source["rejections"] + self.receiver["rejections"],
                "state": state, "active": None, "plan": "", "group": "", "copay": "", "coinsurance": "",
                "deductible": "", "deductible_remaining": "", "out_of_pocket": "", "out_of_pocket_remaining": "",
                "service_types": [], "dates": {}, "benefits": [], "messages": []}

    def _close_source(self) -> None:
        """At the end of a 2000B or 2000A loop: a payer or receiver rejection with no subscriber
        under it is one answer without a trace."""
        if self.source and not self.under and (self.source["rejections"] or self.receiver["rejections"]):
            self.answers.append(self._blank("source", "rejected"))
        self.under = []

    def _need_person(self, seg: Segment) -> dict:
        if self.answer is None or self.level not in ("22", "23"):
            raise seg.fail("belongs in a subscriber (2000C) or dependent (2000D) loop")
        return self.answer

    # -- segments ---------------------------------------------------------------------
    def _skip(self, seg: Segment) -> None:
        pass

    def _TRN(self, seg: Segment) -> None:
        answer = self._need_person(seg)
        if self.named:
            raise seg.fail("TRN comes before the loop's NM1")
        kind, value = seg.need(1, "trace type"), seg.need(2, "trace number")
        if kind == "2":
            answer["traces"].append(value)
            answer["trace"] = answer["trace"] or value
        elif kind == "1":
            answer["payer_traces"].append(value)
        else:
            raise seg.fail(f"TRN01 {kind!r} is not 1 (the payer's trace) or 2 (the inquiry's, echoed)")

    def _related(self, seg: Segment) -> None:
        """2120: a benefit's related entity (a PCP, another payer ...)."""
        if self.benefit is not None:
            self.benefit.setdefault("entities", []).append(
                {"entity": seg.get(1), "name": " ".join(p for p in (seg.get(4), seg.get(3)) if p), "id": seg.get(9)})

    def _NM1(self, seg: Segment) -> None:
        if self.in_ls:
            self._related(seg)
            return
        if self.benefit is not None and self.level in ("22", "23"):
            raise seg.fail("NM1 after EB outside LS/LE")
        if self.named:
            raise seg.fail(f"a second NM1 in the {LEVELS[self.level]} loop")
        self.named = True
        entity = seg.need(1, "entity identifier")
        if self.level == "20":
            self.source.update(name=seg.get(3), id=seg.get(9))
            return
        if self.level == "21":
            self.receiver.update(name=seg.get(3), npi=seg.get(9) if seg.get(8) == "XX" else "")
            return
        self._person(seg, entity)

    def _person(self, seg: Segment, entity: str) -> None:
        answer = self._need_person(seg)
        person = {"last": seg.get(3), "first": seg.get(4), "middle": seg.get(5), "dob": "", "sex": ""}
        if self.level == "22":
            if entity != "IL":
                raise seg.fail(f"NM101 {entity!r} in the 2100C subscriber loop is not IL")
            answer["member_id"] = seg.get(9) if seg.get(8) in ("MI", "II", "") else answer["member_id"]
            answer["subscriber"] = {**person, "member_id": answer["member_id"]}
            answer["patient"] = dict(person)
        else:
            if entity != "03":
                raise seg.fail(f"NM101 {entity!r} in the 2100D dependent loop is not 03")
            if seg.get(9):
                answer["member_id"] = seg.get(9)
            answer["patient"] = person

    def _REF(self, seg: Segment) -> None:
        if self.level not in ("22", "23") or self.benefit is not None:
            return
        qualifier = seg.need(1, "reference qualifier")
        if qualifier in ("18", "6P", "1L") and (seg.get(2) or seg.get(3)):
            if qualifier == "18" and not self._need_person(seg)["plan"]:
                self._need_person(seg)["plan"] = seg.get(3) or seg.get(2)
            elif qualifier in ("6P", "1L"):
                self._need_person(seg)["group"] = seg.get(2)

    def _DMG(self, seg: Segment) -> None:
        answer = self._need_person(seg)
        if seg.get(1) == "D8" and seg.get(2):
            dob = seg.date(2, "date of birth")
            answer["patient"]["dob"] = dob
            if self.level == "22":
                answer["subscriber"]["dob"] = dob
        answer["patient"]["sex"] = seg.get(3)
        if self.level == "22":
            answer["subscriber"]["sex"] = seg.get(3)

    def _AAA(self, seg: Segment) -> None:
        if seg.get(1) not in ("Y", "N"):
            raise seg.fail(f"AAA01 {seg.get(1) or '(missing)'!r} is not Y or N")
        if self.level in ("20", "21"):
            loop = {"20": "2100A" if self.named else "2000A", "21": "2100B"}[self.level]
            holder = self.source if self.level == "20" else self.receiver
            holder["rejections"].append(_rejection(seg, loop))
            return
        answer = self._need_person(seg)
        loop = ("2110C" if self.level == "22" else "2110D") if self.benefit is not None else \
            ("2100C" if self.level == "22" else "2100D")
        rejection = _rejection(seg, loop)
        answer["rejections"].append(rejection)
        if self.benefit is not None:
            self.benefit["rejections"].append(rejection)

    def _DTP(self, seg: Segment) -> None:
        answer = self._need_person(seg)
        _date(seg, self.benefit["dates"] if self.benefit is not None else answer["dates"])

    def _MSG(self, seg: Segment) -> None:
        if self.benefit is not None and seg.get(1):
            self.benefit["messages"].append(seg.get(1))

    def _LS(self, seg: Segment) -> None:
        if self.benefit is None:
            raise seg.fail("LS outside a 2110 benefit loop")
        self.in_ls = True

    def _LE(self, seg: Segment) -> None:
        if not self.in_ls:
            raise seg.fail("LE without its LS")
        self.in_ls = False

    def _EB(self, seg: Segment) -> None:
        answer = self._need_person(seg)
        if not self.named:
            raise seg.fail(f"EB before the {LEVELS[self.level]} loop's NM1")
        if self.in_ls:
            raise seg.fail("EB inside LS/LE (LE missing?)")
        code = seg.need(1, "eligibility or benefit information code")
        if code not in BENEFITS:
            raise seg.fail(f"EB01 {code!r} is not an eligibility or benefit code")
        types = [t for t in seg.get(3).split(seg.delimiters.repetition) if t] if seg.delimiters.repetition \
            else [seg.get(3)] if seg.get(3) else []
        plan = seg.get(5)
        self.benefit = {"code": code, "words": BENEFITS[code], "coverage_level": seg.get(2), "service_types": types,
                        "insurance_type": seg.get(4), "plan": plan, "period": seg.get(6),
                        "amount": _amount(seg, 7, "monetary amount"), "percent": _percent(seg, 8),
                        "quantity_qualifier": seg.get(9), "quantity": seg.get(10),
                        "authorization": seg.get(11), "in_network": seg.get(12), "dates": {}, "messages": [],
                        "rejections": []}
        answer["benefits"].append(self.benefit)
        for t in types:
            if t not in answer["service_types"]:
                answer["service_types"].append(t)


def _first(benefits: list[dict], code: str, field: str, period: str | None = None,
           not_period: str | None = None) -> str:
    """The first in-network (EB12 not N) individual-or-unstated value of `field` among EB01 `code`."""
    found = [b for b in benefits if b["code"] == code and b[field]
             and (period is None or b["period"] == period) and (not_period is None or b["period"] != not_period)]
    found.sort(key=lambda b: (b["in_network"] == "N", b["coverage_level"] not in ("", "IND")))
    return found[0][field] if found else ""


def _summarise(answer: dict) -> dict:
    benefits = answer["benefits"]
    codes = {b["code"] for b in benefits}
    if codes & set(ACTIVE):
        answer["active"], answer["state"] = True, "active"
    elif codes & set(INACTIVE):
        answer["active"], answer["state"] = False, "inactive"
    elif answer["rejections"]:
        answer["state"] = "rejected"
    status = [b for b in benefits if b["code"] in ACTIVE + INACTIVE]
    answer["plan"] = next((b["plan"] for b in status if b["plan"]), "") or answer["plan"]
    answer["copay"] = _first(benefits, "B", "amount")
    answer["coinsurance"] = _first(benefits, "A", "percent")
    answer["deductible"] = _first(benefits, "C", "amount", not_period="29")
    answer["deductible_remaining"] = _first(benefits, "C", "amount", period="29")
    answer["out_of_pocket"] = _first(benefits, "G", "amount", not_period="29")
    answer["out_of_pocket_remaining"] = _first(benefits, "G", "amount", period="29")
    for b in status:  # a 2110 date (an inactive plan's end) counts when 2100 gave none
        for key, value in b["dates"].items():
            answer["dates"].setdefault(key, value)
    return answer


def read(raw: bytes) -> list[dict]:
    """Every answer of every 271 in the file, in order (see the module docstring)."""
    answers: list[dict] = []
    for ts in transaction_sets(raw, "HB", "271", versions=(VERSION,)):
        answers += _Reader().read(ts.body, ts.se)
    # A subscriber loop there only to hold its dependents answers nothing itself.
    return [_summarise(a) for a in answers
            if not (a.pop("parent", False) and not a["traces"] and not a["benefits"] and not a["rejections"])]
