"""The 837P writer (005010X222A1); checks837 says what it cannot carry.

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

from medsec_x12.checks837 import validate
from medsec_x12.spec837 import (
    MAX_CLAIMS_PER_HL,
    MAX_CLAIMS_PER_TRANSACTION,
    RANKS,
    VERSION,
    _cas_segments,
    _filing,
    _icd,
    _indicators,
    _is_self,
    _match_prior_lines,
    _prior_liability,
    _prior_paid,
    _relationship,
    _sex,
    _units,
)
from medsec_x12.syntax import d8, digits, interchange, segment, text, x12_number


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
    options = {**(options or {}), "sender_id": (options or {}).get("sender_id") or claims[0]["submitter"]["id"],
               "receiver_id": (options or {}).get("receiver_id") or claims[0]["receiver"]["id"]}
    sets = _chunks(claims, MAX_CLAIMS_PER_TRANSACTION)
    return interchange(options, "HC", VERSION,
                       lambda opts: [_transaction(chunk, f"{n:04d}", opts) for n, chunk in enumerate(sets, 1)])
