"""The 837P writer (005010X222A1) and the checks for what it cannot carry.

Loop layout, per transaction set (ST/SE, at most 5000 claims each):

    1000A submitter + PER, 1000B receiver
    2000A HL*20 one per billing provider (normally one)
      2000B HL*22 one per (payer, rank, subscriber): SBR, 2010BA NM1*IL, 2010BB NM1*PR
        2300 the subscriber's own claims                       (patient is subscriber)
        2000C HL*23 one per dependent patient: PAT, 2010CA NM1*QC
          2300 the dependent's claims
    2300 CLM, REF*F8, HI, 2310A referring, 2310B rendering,
         2320/2330A/2330B per earlier payer, 2400 LX/SV1/DTP/REF*6R + 2430 per earlier payer

A subscriber's own claims and a dependent's claims go into two 2000B loops
(RFI 1496): 2010BA carries N3/N4/DMG only when the patient is the subscriber
(RFI 2281), and SBR02 = 18 only then.
"""

import json
from collections import Counter
from datetime import datetime
from decimal import Decimal

from medsec.identifiers import npi_valid
from medsec_x12.syntax import CENT, WRITE, d8, decimal_of, digits, segment, text, x12_number

VERSION = "005010X222A1"
MAX_CLAIMS_PER_TRANSACTION = 5000  # CLM per ST/SE, per the TR3
MAX_CLAIMS_PER_HL = 100            # 2300 repeats under one 2000B/2000C
MAX_DIAGNOSES = 12                 # one HI segment, HI01-HI12
MAX_LINES = 50                     # 2400 repeats
MAX_MODIFIERS = 4
MAX_POINTERS = 4
MAX_PRIOR_PAYERS = 10              # 2320 repeats
MAX_CAS = 5                        # CAS segments per 2320 / 2430
MAX_CAS_TRIPLETS = 6               # reason/amount/quantity groups per CAS
RANKS = {"primary": "P", "secondary": "S", "tertiary": "T"}
FREQUENCIES = ("1", "7", "8")      # original, replacement, void
ADJUSTMENT_GROUPS = ("CO", "CR", "OA", "PI", "PR")
# Patient-to-subscriber relationship: names medsec uses -> X12 codes. Codes
# may also be given as they are.
RELATIONSHIPS = {"self": "18", "spouse": "01", "child": "19", "employee": "20", "unknown": "21",
                 "organ donor": "39", "cadaver donor": "40", "life partner": "53", "other": "G8"}
# SBR05 for Medicare as a secondary payer (MSP type); nothing else is allowed there.
MSP_TYPES = ("12", "13", "14", "15", "16", "41", "42", "43", "47")
MEDICARE_FILING = ("MA", "MB")
FILING_INDICATORS = ("11", "12", "13", "14", "15", "16", "17", "AM", "BL", "CH", "CI", "DS", "FI", "HM",
                     "LM", "MA", "MB", "MC", "OF", "TV", "VA", "WC", "ZZ")
STATES = set("""AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV
    NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI UM FM MH PW
    AA AE AP""".split())


# -- small readers over the claim dict ----------------------------------------------
def _relationship(value) -> str:
    """'child' -> '19'; an X12 code passes through; anything else -> ''."""
    v = str(value or "").strip().lower()
    code = RELATIONSHIPS.get(v, v.upper())
    return code if code in RELATIONSHIPS.values() else ""


def _is_self(claim: dict) -> bool:
    return _relationship(claim["subscriber"].get("relationship")) == "18"


def _filing(payer: dict) -> str:
    """SBR09 claim filing indicator: the payer's (payers.yaml `filing_indicator`), commercial (CI) by default."""
    return str(payer.get("filing_indicator") or "CI").upper()


def _sex(value) -> str:
    v = str(value or "").strip().upper()[:1]
    return v if v in ("F", "M") else "U"


def _icd(code) -> str:
    """ICD-10-CM as X12 carries it: no dot, uppercase."""
    return str(code or "").replace(".", "").strip().upper()


def _units(value) -> str:
    return x12_number(Decimal(str(value if value not in (None, "") else 1)))


def _indicators(claim: dict) -> tuple[str, str, str, str]:
    """CLM06-09: signature on file, assignment, benefits assigned, release of information.

    Defaults Y/A/Y/Y (the usual office claim) unless the claim says otherwise,
    so that a practice not accepting assignment can send C (OpenEMR #5699).
    """
    return (str(claim.get("signature_on_file") or "Y"), str(claim.get("assignment") or "A"),
            str(claim.get("benefits_assigned") or "Y"), str(claim.get("release_of_information") or "Y"))


def _cas_segments(adjustments: list[dict]) -> list[str]:
    """One CAS per group code (CO, PR ...), its reasons as triplets, first-seen order.

    Payers reject one CAS per reason (OpenEMR #6268, #1959).
    """
    groups: dict[str, list] = {}
    for adj in adjustments or []:
        groups.setdefault(str(adj["group"]).upper(), []).append(adj)
    out = []
    for group, adjs in groups.items():
        elements = []
        for adj in adjs:
            elements += [text(adj["reason"]), x12_number(adj["amount"]),
                         x12_number(adj["quantity"]) if adj.get("quantity") not in (None, "") else ""]
        out.append(segment("CAS", group, *elements))
    return out


def _match_prior_lines(claim: dict, prior: dict) -> dict[int, dict]:
    """Our line number -> the earlier payer's line: by charge id, else line number
    with the same code, else the first free line with that code."""
    matched: dict[int, dict] = {}
    for pline in prior.get("lines") or []:
        free = [l for l in claim["lines"] if l["line"] not in matched]
        pick = (next((l for l in free if pline.get("charge_id") and l.get("charge_id") == pline["charge_id"]), None)
                or next((l for l in free if str(l["line"]) == str(pline.get("line"))
                         and l["code"] == pline.get("code", l["code"])), None)
                or next((l for l in free if l["code"] == pline.get("code")), None))
        if pick is not None:
            matched[pick["line"]] = pline
    return matched


def _prior_paid(prior: dict, matched: dict[int, dict]) -> Decimal:
    """What the earlier payer paid for the services on this claim (AMT*D).

    A secondary claim may carry only the lines the earlier payer left open
    (medsec leaves out a line it paid in full); the earlier payer's claim
    total then covers more than this claim, and AMT*D must be the sum of the
    lines billed here (sum of SVD02), or the COB balance cannot hold.
    """
    lines = prior.get("lines") or []
    if lines and len(matched) < len(lines):
        return sum((Decimal(str(p["paid"])) for p in matched.values()), Decimal(0))
    return Decimal(str(prior["paid"]))


def _prior_liability(prior: dict, matched: dict[int, dict]) -> Decimal | None:
    """AMT*EAF, what the patient still owes after that payer, when known.

    For a claim carrying only some of the earlier payer's lines it is the PR
    adjustments of those lines (the rest belongs to lines not billed here).
    """
    if prior.get("patient_responsibility") in (None, ""):
        return None
    lines = prior.get("lines") or []
    if lines and len(matched) < len(lines):
        return sum((Decimal(str(a["amount"])) for p in matched.values() for a in p.get("adjustments") or []
                    if str(a["group"]).upper() == "PR"), Decimal(0))
    return Decimal(str(prior["patient_responsibility"]))


# -- segments -----------------------------------------------------------------------
def _name(entity: str, last, first="", middle="", qualifier="", ident="", person=True) -> str:
    """NM1: entity, person (1) or organisation (2), names, id qualifier and id."""
    return segment("NM1", entity, "1" if person else "2", text(last, 60), text(first, 35) if person else "",
                   text(middle, 25) if person else "", "", "", qualifier, text(ident, 80))


def _address(a: dict) -> list[str]:
    """N3 and N4 (street, city, state, ZIP digits)."""
    a = a or {}
    return [segment("N3", text(a.get("street"), 55), text(a.get("street2"), 55)),
            segment("N4", text(a.get("city"), 30), text(a.get("state"), 2), digits(a.get("zip")))]


def _has_address(a: dict | None) -> bool:
    return bool(a and a.get("street") and a.get("city") and a.get("state") and digits(a.get("zip")))


def _billing_provider(bp: dict) -> list[str]:
    """2010AA (with PRV*BI when a taxonomy is known: some payers require it, OpenEMR #9376)."""
    out = [segment("PRV", "BI", "PXC", text(bp["taxonomy"]))] if bp.get("taxonomy") else []
    out.append(_name("85", bp["name"], person=False, qualifier="XX", ident=bp["npi"]))
    out += _address(bp["address"])
    out.append(segment("REF", "EI", digits(bp["tax_id"])))
    return out


def _subscriber(claim: dict, self_claims: bool) -> list[str]:
    """SBR, 2010BA subscriber, 2010BB payer."""
    sub, payer = claim["subscriber"], claim["payer"]
    out = [segment("SBR", RANKS[claim["rank"]], "18" if self_claims else "", text(sub.get("group"), 50), "",
                   str(sub.get("insurance_type") or ""), "", "", "", _filing(payer)),
           _name("IL", sub["last"], sub.get("first"), sub.get("middle"), "MI", sub["member_id"])]
    if self_claims:
        out += _address(sub["address"])
        out.append(segment("DMG", "D8", d8(sub["dob"]), _sex(sub.get("sex"))))
    out.append(_name("PR", payer["name"], person=False, qualifier="PI", ident=payer["payer_id"]))
    if _has_address(payer.get("address")):
        out += _address(payer["address"])
    return out


def _patient(claim: dict) -> list[str]:
    """2000C body: PAT, 2010CA NM1*QC, N3, N4, DMG."""
    pat = claim["patient"]
    return [segment("PAT", _relationship(claim["subscriber"]["relationship"])),
            _name("QC", pat["last"], pat.get("first"), pat.get("middle")),
            *_address(pat["address"]),
            segment("DMG", "D8", d8(pat["dob"]), _sex(pat.get("sex")))]


def _prior_payer(claim: dict, prior: dict) -> list[str]:
    """2320 (SBR, claim-level CAS, AMT*D, OI), 2330A (its subscriber), 2330B (the payer)."""
    sub, payer = prior.get("subscriber") or claim["subscriber"], prior["payer"]
    benefits, release = _indicators(claim)[2:]
    out = [segment("SBR", RANKS[prior.get("rank", "primary")], _relationship(sub.get("relationship")),
                   text(sub.get("group"), 50), "", "", "", "", "", _filing(payer))]
    out += _cas_segments(prior.get("adjustments"))
    matched = _match_prior_lines(claim, prior)
    out.append(segment("AMT", "D", x12_number(_prior_paid(prior, matched))))
    liability = _prior_liability(prior, matched)
    if liability is not None:
        out.append(segment("AMT", "EAF", x12_number(liability)))
    out.append(segment("OI", "", "", benefits, "", "", release))
    out.append(_name("IL", sub["last"], sub.get("first"), sub.get("middle"), "MI", sub["member_id"]))
    out.append(_name("PR", payer["name"], person=False, qualifier="PI", ident=payer["payer_id"]))
    if not prior.get("lines"):  # the remittance date goes here only when no 2430 carries it
        out.append(segment("DTP", "573", "D8", d8(prior["paid_date"])))
    if prior.get("payer_claim_id"):
        out.append(segment("REF", "F8", text(prior["payer_claim_id"], 50)))
    return out


def _line(claim: dict, number: int, line: dict, priors: list[tuple[dict, dict]]) -> list[str]:
    """2400 LX/SV1/DTP*472/REF*6R, then one 2430 per earlier payer that adjudicated it."""
    pos = str(line.get("place_of_service") or "")
    out = [segment("LX", str(number)),
           segment("SV1", ["HC", text(line["code"], 48), *[text(m, 2) for m in line.get("modifiers") or []]],
                   x12_number(line["amount"]), "UN", _units(line.get("units")),
                   pos if pos and pos != claim["place_of_service"] else "", "",
                   [str(p) for p in line.get("dx_pointers") or []]),
           segment("DTP", "472", "D8", d8(line["date"])),
           segment("REF", "6R", str(line["line"]))]
    for prior, matched in priors:
        pline = matched.get(line["line"])
        if pline is None:
            continue
        out.append(segment("SVD", text(prior["payer"]["payer_id"], 80), x12_number(pline["paid"]),
                           ["HC", text(pline.get("code") or line["code"], 48),
                            *[text(m, 2) for m in pline.get("modifiers", line.get("modifiers")) or []]],
                           "", _units(pline.get("units", line.get("units")))))
        out += _cas_segments(pline.get("adjustments"))
        out.append(segment("DTP", "573", "D8", d8(pline.get("paid_date") or prior["paid_date"])))
    return out


def _claim(claim: dict) -> list[str]:
    """The 2300 loop and everything under it."""
    signature, assignment, benefits, release = _indicators(claim)
    frequency = str(claim.get("frequency") or "1")
    out = [segment("CLM", text(claim["id"], 38), x12_number(claim["total"]), "", "",
                   [claim["place_of_service"], "B", frequency], signature, assignment, benefits, release)]
    if frequency in ("7", "8"):
        out.append(segment("REF", "F8", text(claim["original_reference"], 50)))
    if claim.get("prior_authorization"):
        out.append(segment("REF", "G1", text(claim["prior_authorization"], 50)))
    codes = [_icd(c) for c in claim["diagnoses"]]
    out.append(segment("HI", *[["ABK" if i == 0 else "ABF", c] for i, c in enumerate(codes)]))
    ref = claim.get("referring_provider")
    if ref:
        out.append(_name("DN", ref["last"], ref.get("first"), ref.get("middle"), "XX", ref["npi"]))
    rp = claim.get("rendering_provider")
    # 2310B only when the rendering NPI differs from the billing one (TR3).
    if rp and rp.get("npi") != claim["billing_provider"]["npi"]:
        out.append(_name("82", rp["last"], rp.get("first"), rp.get("middle"), "XX", rp["npi"]))
        if rp.get("taxonomy"):
            out.append(segment("PRV", "PE", "PXC", text(rp["taxonomy"])))
    priors = []
    for prior in claim.get("prior_payers") or []:
        out += _prior_payer(claim, prior)
        priors.append((prior, _match_prior_lines(claim, prior)))
    for number, line in enumerate(claim["lines"], 1):
        out += _line(claim, number, line, priors)
    return out


# -- hierarchy and envelope ------------------------------------------------------------
def _key(*parts) -> str:
    return json.dumps(parts, sort_keys=True, default=str)


def _chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)] or [[]]


def _hierarchy(claims: list[dict]) -> dict:
    """billing provider -> 2000B (payer, rank, subscriber, self or dependants) -> patient -> claims.

    Dict insertion order keeps the order the claims came in.
    """
    tree: dict = {}
    for claim in claims:
        sub, payer, own = claim["subscriber"], claim["payer"], _is_self(claim)
        provider = tree.setdefault(_key(claim["billing_provider"]), {})
        sub_fields = {k: sub.get(k) for k in ("member_id", "first", "last", "middle", "group", "insurance_type")}
        if own:  # N3/N4/DMG are sent, so they are part of what makes the loop
            sub_fields.update(dob=sub.get("dob"), sex=sub.get("sex"), address=sub.get("address"))
        subscriber = provider.setdefault(_key(payer, claim["rank"], sub_fields, own), {})
        patient_key = "" if own else _key(claim["patient"], _relationship(sub.get("relationship")))
        subscriber.setdefault(patient_key, []).append(claim)
    return tree


class _Levels:
    """HL01 numbering across one transaction set: 1, 2, 3 ..., never reset per claim."""

    def __init__(self):
        self.count = 0

    def open(self, parent: str, level: str, children: bool) -> tuple[str, str]:
        """A new HL under `parent`: its id and its segment (HL04 1 when child HLs follow)."""
        self.count += 1
        return str(self.count), segment("HL", str(self.count), parent, level, "1" if children else "0")


def _subscriber_loops(levels: _Levels, provider_hl: str, patients: dict) -> list[str]:
    """The 2000B loop(s) of one (payer, rank, subscriber) group, with 2000C for dependants."""
    out = []
    if "" in patients:  # the subscriber's own claims; a 2000B holds at most 100
        for part in _chunks(patients[""], MAX_CLAIMS_PER_HL):
            _, hl = levels.open(provider_hl, "22", children=False)
            out += [hl, *_subscriber(part[0], self_claims=True)]
            for claim in part:
                out += _claim(claim)
        return out
    subscriber_hl, hl = levels.open(provider_hl, "22", children=True)
    out += [hl, *_subscriber(next(iter(patients.values()))[0], self_claims=False)]
    for claims in patients.values():
        for part in _chunks(claims, MAX_CLAIMS_PER_HL):
            _, hl = levels.open(subscriber_hl, "23", children=False)
            out += [hl, *_patient(part[0])]
            for claim in part:
                out += _claim(claim)
    return out


def _transaction(claims: list[dict], control: str, options: dict) -> list[str]:
    """One ST..SE: header, submitter, receiver, then the HL tree. SE01 is counted from the result."""
    first, now = claims[0], options["now"]
    submitter, receiver = first["submitter"], first["receiver"]
    body = [segment("ST", "837", control, VERSION),
            segment("BHT", "0019", "00", f"{options['group_control']}{control}", now.strftime("%Y%m%d"),
                    now.strftime("%H%M"), "CH"),
            _name("41", submitter["name"], person=False, qualifier="46", ident=submitter["id"]),
            segment("PER", "IC", text(submitter.get("contact") or submitter["name"], 60), "TE",
                    digits(submitter.get("phone"))),
            _name("40", receiver["name"], person=False, qualifier="46", ident=receiver["id"])]
    levels = _Levels()
    for subscribers in _hierarchy(claims).values():
        provider_hl, hl = levels.open("", "20", children=True)
        some_claim = next(iter(next(iter(subscribers.values())).values()))[0]
        body += [hl, *_billing_provider(some_claim["billing_provider"])]
        for patients in subscribers.values():
            body += _subscriber_loops(levels, provider_hl, patients)
    body.append(segment("SE", str(len(body) + 1), control))
    return body


def _interchange_id(value, what: str) -> str:
    ident = text(value)
    if not 1 <= len(ident) <= 15:
        raise ValueError(f"{what} {value!r}: 1 to 15 characters (ISA06/ISA08)")
    return ident


def write(claims: list[dict], options: dict) -> bytes:
    """The claims as one interchange: ISA/GS, one ST/SE per 5000 claims, GE/IEA.

    Refuses (ValueError) a claim that `validate` finds a problem with, so the
    file written is always one the format can vouch for.
    """
    if not claims:
        raise ValueError("no claims to write")
    problems = [f"{c.get('id')}: {p}" for c in claims for p in validate(c)]
    if problems:
        raise ValueError("cannot write x12-837p: " + "; ".join(problems))
    options = dict(options or {})
    now = options.get("now") or datetime.now().astimezone()
    options["now"] = now
    interchange, group = int(options["interchange_control"]), int(options.get("group_control",
                                                                              options["interchange_control"]))
    if not (0 < interchange < 10**9 and 0 < group < 10**9):
        raise ValueError("control numbers run from 1 to 999999999")
    sender = _interchange_id(options.get("sender_id") or claims[0]["submitter"]["id"], "sender_id")
    receiver = _interchange_id(options.get("receiver_id") or claims[0]["receiver"]["id"], "receiver_id")
    usage = str(options.get("usage") or "T")
    if usage not in ("T", "P"):
        raise ValueError(f"usage {usage!r}: T (test) or P (production)")
    # ISA is fixed width: 10-space authorisation fields, ids padded to 15.
    segments = [segment("ISA", "00", " " * 10, "00", " " * 10, options.get("sender_qualifier", "ZZ"),
                        sender.ljust(15), options.get("receiver_qualifier", "ZZ"), receiver.ljust(15),
                        now.strftime("%y%m%d"), now.strftime("%H%M"), WRITE.repetition, "00501",
                        f"{interchange:09d}", str(options.get("acknowledgment", "0")), usage, WRITE.component),
                segment("GS", "HC", sender, receiver, now.strftime("%Y%m%d"), now.strftime("%H%M"), str(group),
                        "X", VERSION)]
    sets = _chunks(claims, MAX_CLAIMS_PER_TRANSACTION)
    for number, chunk in enumerate(sets, 1):
        segments += _transaction(chunk, f"{number:04d}", {**options, "group_control": group})
    segments += [segment("GE", str(len(sets)), str(group)), segment("IEA", "1", f"{interchange:09d}")]
    # One segment per line: receivers ignore the line breaks, people can read the file.
    return "".join(s + WRITE.segment + "\n" for s in segments).encode("ascii")


# -- validation ---------------------------------------------------------------------
def _money_problem(value, field: str, *, positive: bool = True, negative_ok: bool = False) -> str | None:
    try:
        amount = decimal_of(value, field)
    except ValueError:
        return f"{field} {value!r}: not an amount"
    if amount != amount.quantize(CENT):
        return f"{field} {value}: more than 2 decimals"
    if positive and amount <= 0:
        return f"{field} {value}: must be more than zero"
    if not negative_ok and amount < 0:
        return f"{field} {value}: must not be negative"
    return None


def _date_problem(value, field: str) -> str | None:
    try:
        d8(value)
    except (TypeError, ValueError):
        return f"{field} {value or '(missing)'}: not a date (YYYY-MM-DD)"
    return None


def _address_problems(a: dict | None, field: str, zip9: bool = False) -> list[str]:
    a = a or {}
    out = [f"{field}.{part}: missing" for part in ("street", "city") if not text(a.get(part))]
    state = str(a.get("state") or "").strip().upper()
    if state not in STATES:
        out.append(f"{field}.state {state or '(missing)'}: not a 2-letter US state code")
    zip_digits = digits(a.get("zip"))
    if zip9 and len(zip_digits) != 9:
        out.append(f"{field}.zip {a.get('zip') or '(missing)'}: 9 digits (ZIP+4) needed")
    elif len(zip_digits) not in (5, 9):
        out.append(f"{field}.zip {a.get('zip') or '(missing)'}: 5 or 9 digits needed")
    return out


def _npi_problem(value, field: str) -> str | None:
    if not npi_valid(str(value or "")):
        return f"{field} {value or '(missing)'}: not a valid NPI (10 digits, check digit)"
    return None


def _party_problems(claim: dict) -> list[str]:
    """Submitter, receiver, billing, rendering and referring providers."""
    out = []
    for role in ("submitter", "receiver"):
        party = claim.get(role) or {}
        if not text(party.get("name")):
            out.append(f"{role}.name: missing")
        if not 2 <= len(text(party.get("id"))) <= 15:
            out.append(f"{role}.id {party.get('id') or '(missing)'}: 2 to 15 characters (ISA/GS sender/receiver)")
    if len(digits((claim.get("submitter") or {}).get("phone"))) != 10:
        out.append("submitter.phone: 10 digits needed (1000A PER)")
    bp = claim.get("billing_provider") or {}
    out += [p for p in [_npi_problem(bp.get("npi"), "billing_provider.npi")] if p]
    if not text(bp.get("name")):
        out.append("billing_provider.name: missing")
    if len(digits(bp.get("tax_id"))) != 9:
        out.append(f"billing_provider.tax_id {bp.get('tax_id') or '(missing)'}: 9 digits (EIN) needed")
    out += _address_problems(bp.get("address"), "billing_provider.address", zip9=True)
    if bp.get("taxonomy") and len(text(bp["taxonomy"])) != 10:
        out.append(f"billing_provider.taxonomy {bp['taxonomy']}: 10 characters")
    for role in ("rendering_provider", "referring_provider"):
        person = claim.get(role)
        if not person:
            continue
        out += [p for p in [_npi_problem(person.get("npi"), f"{role}.npi")] if p]
        if not text(person.get("last")):
            out.append(f"{role}.last: missing")
        if person.get("taxonomy") and len(text(person["taxonomy"])) != 10:
            out.append(f"{role}.taxonomy {person['taxonomy']}: 10 characters")
    return out


def _coverage_problems(claim: dict) -> list[str]:
    """Payer, subscriber, patient, rank."""
    out = []
    payer, sub, pat = claim.get("payer") or {}, claim.get("subscriber") or {}, claim.get("patient") or {}
    if not text(payer.get("name")):
        out.append("payer.name: missing")
    if not text(payer.get("payer_id")):
        out.append("payer.payer_id: missing (2010BB NM1*PR PI)")
    if _filing(payer) not in FILING_INDICATORS:
        out.append(f"payer.filing_indicator {payer.get('filing_indicator')}: not an SBR09 code")
    if claim.get("rank") not in RANKS:
        out.append(f"rank {claim.get('rank')!r}: primary, secondary or tertiary")
    elif _filing(payer) in MEDICARE_FILING and claim["rank"] != "primary" and \
            str(sub.get("insurance_type") or "") not in MSP_TYPES:
        out.append("subscriber.insurance_type: Medicare as a secondary payer needs an MSP type (SBR05: "
                   + ", ".join(MSP_TYPES) + ")")
    if not text(sub.get("member_id")):
        out.append("subscriber.member_id: missing")
    if not text(sub.get("last")):
        out.append("subscriber.last: missing")
    relationship = _relationship(sub.get("relationship"))
    if not relationship:
        out.append(f"subscriber.relationship {sub.get('relationship')!r}: self, spouse, child or other")
    if relationship == "18":  # the subscriber's address and birth date are sent
        out += _address_problems(sub.get("address"), "subscriber.address")
        out += [p for p in [_date_problem(sub.get("dob"), "subscriber.dob")] if p]
    elif relationship:  # a dependent: the patient's (2010CA)
        if not text(pat.get("last")):
            out.append("patient.last: missing")
        out += _address_problems(pat.get("address"), "patient.address")
        out += [p for p in [_date_problem(pat.get("dob"), "patient.dob")] if p]
    return out


def _claim_problems(claim: dict) -> list[str]:
    """CLM, REF*F8, HI."""
    out = []
    cid = str(claim.get("id") or "")
    if not cid or text(cid) != cid or len(cid) > 20:
        out.append(f"id {cid or '(missing)'}: 1 to 20 uppercase characters without delimiters "
                   "(CLM01, returned as CLP01)")
    pos = str(claim.get("place_of_service") or "")
    if not (len(pos) == 2 and pos.isdigit()):
        out.append(f"place_of_service {pos or '(missing)'}: a 2-digit CMS code")
    frequency = str(claim.get("frequency") or "1")
    if frequency not in FREQUENCIES:
        out.append(f"frequency {frequency}: 1 (original), 7 (replacement) or 8 (void)")
    elif frequency in ("7", "8") and not text(claim.get("original_reference")):
        out.append(f"original_reference: frequency {frequency} needs the payer's claim number (REF*F8)")
    for key, values in (("signature_on_file", ("Y", "N")), ("assignment", ("A", "B", "C")),
                        ("benefits_assigned", ("N", "W", "Y")), ("release_of_information", ("I", "Y"))):
        if claim.get(key) and str(claim[key]) not in values:
            out.append(f"{key} {claim[key]}: one of {', '.join(values)}")
    dx = [_icd(c) for c in claim.get("diagnoses") or []]
    if not dx:
        out.append("diagnoses: at least one is needed (HI)")
    if len(dx) > MAX_DIAGNOSES:
        out.append(f"diagnoses: {len(dx)} codes, an 837P claim carries at most {MAX_DIAGNOSES} (split the claim)")
    for i, code in enumerate(dx, 1):
        if not (3 <= len(code) <= 7 and code.isalnum()):
            out.append(f"diagnoses[{i}] {claim['diagnoses'][i - 1]}: not an ICD-10-CM code")
    for code, n in Counter(dx).items():
        if n > 1:
            out.append(f"diagnoses: {code} is listed {n} times")
    problem = _money_problem(claim.get("total"), "total")
    if problem:
        out.append(problem)
    else:
        line_sum = sum((Decimal(str(l.get("amount"))) for l in claim.get("lines") or []
                        if not _money_problem(l.get("amount"), "amount")), Decimal(0))
        if line_sum != Decimal(str(claim["total"])):
            out.append(f"total {claim['total']}: the lines add up to {line_sum:.2f} (CLM02 = sum of SV102)")
    return out


def _line_problems(claim: dict) -> list[str]:
    """2400: SV1 code, modifiers, amount, units, pointers, date."""
    out = []
    lines = claim.get("lines") or []
    if not lines:
        out.append("lines: at least one service line is needed")
    if len(lines) > MAX_LINES:
        out.append(f"lines: {len(lines)} service lines, an 837P claim carries at most {MAX_LINES} (split the claim)")
    dx_count = min(len(claim.get("diagnoses") or []), MAX_DIAGNOSES)
    numbers = Counter(str(l.get("line")) for l in lines)
    for line in lines:
        where = f"lines[{line.get('line')}]"
        if numbers[str(line.get("line"))] > 1:
            out.append(f"{where}.line: line numbers repeat (REF*6R must be unique)")
        code = text(line.get("code"))
        if not code or code != str(line.get("code")) or len(code) > 48:
            out.append(f"{where}.code {line.get('code') or '(missing)'}: not a procedure code")
        modifiers = line.get("modifiers") or []
        if len(modifiers) > MAX_MODIFIERS:
            out.append(f"{where}.modifiers: {len(modifiers)}, at most {MAX_MODIFIERS}")
        for m in modifiers:
            if not (len(str(m)) == 2 and str(m).isalnum()):
                out.append(f"{where}.modifiers {m}: 2 letters or digits")
        out += [p for p in [_money_problem(line.get("amount"), f"{where}.amount")] if p]
        try:
            if Decimal(str(line.get("units", 1))) <= 0:
                out.append(f"{where}.units {line.get('units')}: must be more than zero")
        except ArithmeticError:
            out.append(f"{where}.units {line.get('units')!r}: not a number")
        pointers = line.get("dx_pointers") or []
        if not pointers:
            out.append(f"{where}.dx_pointers: at least one is needed")
        if len(pointers) > MAX_POINTERS:
            out.append(f"{where}.dx_pointers: {len(pointers)}, at most {MAX_POINTERS}")
        for p in pointers:
            if not (isinstance(p, int) and 1 <= p <= dx_count):
                out.append(f"{where}.dx_pointers {p}: points to no diagnosis (the claim has {dx_count})")
        if len(set(pointers)) != len(pointers):
            out.append(f"{where}.dx_pointers: a pointer repeats")
        out += [p for p in [_date_problem(line.get("date"), f"{where}.date")] if p]
        pos = str(line.get("place_of_service") or "")
        if pos and not (len(pos) == 2 and pos.isdigit()):
            out.append(f"{where}.place_of_service {pos}: a 2-digit CMS code")
    return out


def _adjustment_problems(adjustments: list[dict], field: str) -> list[str]:
    out = []
    groups = Counter()
    for i, adj in enumerate(adjustments or [], 1):
        group = str(adj.get("group") or "").upper()
        if group not in ADJUSTMENT_GROUPS:
            out.append(f"{field}[{i}].group {group or '(missing)'}: one of {', '.join(ADJUSTMENT_GROUPS)}")
        groups[group] += 1
        if not 1 <= len(text(adj.get("reason"))) <= 5:
            out.append(f"{field}[{i}].reason {adj.get('reason') or '(missing)'}: a claim adjustment reason code")
        problem = _money_problem(adj.get("amount"), f"{field}[{i}].amount", positive=False, negative_ok=True)
        if problem:
            out.append(problem)
        if adj.get("quantity") not in (None, ""):
            try:
                decimal_of(adj["quantity"], "quantity")
            except ValueError:
                out.append(f"{field}[{i}].quantity {adj['quantity']!r}: not a number")
    if len(groups) > MAX_CAS:
        out.append(f"{field}: {len(groups)} group codes, at most {MAX_CAS} CAS segments")
    for group, n in groups.items():
        if n > MAX_CAS_TRIPLETS:
            out.append(f"{field}: {n} {group} reasons, one CAS carries at most {MAX_CAS_TRIPLETS}")
    return out


def _sum_adjustments(adjustments) -> Decimal:
    return sum((Decimal(str(a["amount"])) for a in adjustments or []), Decimal(0))


def _prior_fields_problems(prior: dict, where: str) -> list[str]:
    """One earlier payer's record: payer, its subscriber, amounts, date, adjustments."""
    out = []
    payer, sub = prior.get("payer") or {}, prior.get("subscriber") or {}
    if not text(payer.get("name")):
        out.append(f"{where}.payer.name: missing")
    if not text(payer.get("payer_id")):
        out.append(f"{where}.payer.payer_id: missing (2330B, SVD01)")
    if prior.get("rank", "primary") not in RANKS:
        out.append(f"{where}.rank {prior.get('rank')!r}: primary, secondary or tertiary")
    if sub and (not text(sub.get("member_id")) or not text(sub.get("last"))):
        out.append(f"{where}.subscriber: member_id and last name needed (2330A)")
    if sub and not _relationship(sub.get("relationship")):
        out.append(f"{where}.subscriber.relationship {sub.get('relationship')!r}: self, spouse, child or other")
    out += [p for p in [_money_problem(prior.get("paid"), f"{where}.paid", positive=False),
                        _date_problem(prior.get("paid_date"), f"{where}.paid_date")] if p]
    if prior.get("patient_responsibility") not in (None, ""):
        out += [p for p in [_money_problem(prior["patient_responsibility"], f"{where}.patient_responsibility",
                                           positive=False)] if p]
    out += _adjustment_problems(prior.get("adjustments"), f"{where}.adjustments")
    for j, pline in enumerate(prior.get("lines") or [], 1):
        out += [p for p in [_money_problem(pline.get("paid"), f"{where}.lines[{j}].paid", positive=False)] if p]
        out += _adjustment_problems(pline.get("adjustments"), f"{where}.lines[{j}].adjustments")
    return out


def _cob_problems(claim: dict, prior: dict, where: str) -> list[str]:
    """The COB balance for one earlier payer (the TR3's COB balancing rules).

    Per line billed: SV102 - its 2430 CAS = SVD02; per claim: CLM02 - 2320
    CAS - all 2430 CAS = AMT*D. pyx12 checks none of this; receivers reject
    unbalanced secondary claims.
    """
    out = []
    matched = _match_prior_lines(claim, prior)
    all_lines = prior.get("lines") or []
    if matched and len(matched) < len(all_lines) and prior.get("adjustments"):
        out.append(f"{where}.adjustments: claim-level adjustments cannot be split over the "
                   f"{len(matched)} of {len(all_lines)} lines billed here")
    amounts = {l["line"]: Decimal(str(l["amount"])) for l in claim["lines"]}
    line_cas = Decimal(0)
    for number, pline in matched.items():
        cas = _sum_adjustments(pline.get("adjustments"))
        line_cas += cas
        if amounts[number] - cas != Decimal(str(pline["paid"])):
            out.append(f"{where}.lines (line {number}): charge {amounts[number]:.2f} - adjustments {cas:.2f} != "
                       f"paid {Decimal(str(pline['paid'])):.2f} (COB line balance)")
    # No "sum of SVD02 = AMT*D" rule: a claim-level adjustment (2320 CAS) makes
    # the claim pay less than its lines, as CLP04 does in the 835.
    paid = _prior_paid(prior, matched)
    adjusted = _sum_adjustments(prior.get("adjustments")) + line_cas
    if Decimal(str(claim["total"])) - adjusted != paid:
        out.append(f"{where}.paid {paid:.2f}: total {claim['total']} - adjustments {adjusted:.2f} != paid "
                   "(COB claim balance; is every line's adjudication there?)")
    return out


def _prior_payer_problems(claim: dict) -> list[str]:
    """2320/2330/2430: each earlier payer's record is complete and balances."""
    out = []
    priors = claim.get("prior_payers") or []
    if claim.get("rank") in ("secondary", "tertiary") and not priors:
        out.append(f"prior_payers: a {claim['rank']} claim needs the earlier payers' adjudication (2320)")
    if len(priors) > MAX_PRIOR_PAYERS:
        out.append(f"prior_payers: {len(priors)}, at most {MAX_PRIOR_PAYERS}")
    numbers_ok = not _money_problem(claim.get("total"), "total") and not any(
        _money_problem(l.get("amount"), "amount") for l in claim.get("lines") or [])
    for i, prior in enumerate(priors, 1):
        problems = _prior_fields_problems(prior, f"prior_payers[{i}]")
        if not problems and numbers_ok:  # balancing needs well-formed numbers
            problems = _cob_problems(claim, prior, f"prior_payers[{i}]")
        out += problems
    return out


def validate(claim: dict) -> list[str]:
    """What an 837P cannot carry for this claim (or a receiver would reject), each naming the field."""
    try:
        return (_party_problems(claim) + _coverage_problems(claim) + _claim_problems(claim)
                + _line_problems(claim) + _prior_payer_problems(claim))
    except (KeyError, TypeError, AttributeError) as e:  # a record missing whole sections
        return [f"claim record incomplete: {type(e).__name__} {e}"]
