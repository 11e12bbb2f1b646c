"""The 837P's limits and code lists, and small readers over the claim dict:
shared by the writer (claim837) and its checks (checks837)."""

from decimal import Decimal

from medsec_x12.syntax import segment, text, x12_number

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
STATES = {"AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
          "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
          "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
          "WV", "WI", "WY", "AS", "GU", "MP", "PR", "VI", "UM", "FM", "MH", "PW", "AA", "AE", "AP"}


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
