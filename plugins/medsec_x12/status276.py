"""The 276 claim status request writer (005010X212).

Layout, one ST/SE (GS01 HR) per file:

    BHT*0010*13
    2000A HL*20 one per payer: NM1*PR (PI payer id)
      2000B HL*21 the information receiver (the submitter): NM1*41 (46 ETIN)
        2000C HL*19 one per billing provider: NM1*1P (XX NPI)
          2000D HL*22 one per claim: DMG (when the patient is the subscriber), NM1*IL (MI member id)
            2200D TRN*1*<trace>, REF*1K payer claim number (when known), REF*EJ our claim id
                  (the CLM01 sent), AMT*T3 the claim total, DTP*472 the service dates
            2000E HL*23 the patient when a dependent: DMG, NM1*QC, then the 2200E claim loop

Each item is ``{"trace": str, "payer_claim_id": str, "claim": <claim record>}``
(docs/claim-model.md); the 277 answering it returns the trace as TRN*2.
"""


from medsec_x12.spec837 import _is_self, _sex
from medsec_x12.syntax import d8, interchange, segment, text, x12_number

VERSION = "005010X212"


def _name(entity: str, last, first="", qualifier="", ident="", person=True) -> str:
    return segment("NM1", entity, "1" if person else "2", text(last, 60), text(first, 35) if person else "",
                   "", "", "", qualifier, text(ident, 80))


def _dates(lines: list[dict]) -> str:
    days = sorted(line["date"] for line in lines)
    if days[0] == days[-1]:
        return segment("DTP", "472", "D8", d8(days[0]))
    return segment("DTP", "472", "RD8", f"{d8(days[0])}-{d8(days[-1])}")


def _claim_loop(item: dict) -> list[str]:
    """2200D/E: the claim asked about."""
    claim = item["claim"]
    trace = text(item["trace"], 50)
    if not trace:
        raise ValueError(f"{claim.get('id')}: an inquiry needs a trace number")
    out = [segment("TRN", "1", trace)]
    if item.get("payer_claim_id"):
        out.append(segment("REF", "1K", text(item["payer_claim_id"], 50)))
    out += [segment("REF", "EJ", text(claim["id"], 50)), segment("AMT", "T3", x12_number(claim["total"])),
            _dates(claim["lines"])]
    return out


class _Levels:
    def __init__(self):
        self.count = 0

    def open(self, parent: str, level: str, children: str | None) -> tuple[str, str]:
        self.count += 1
        number = str(self.count)
        return number, segment("HL", number, parent, level, children if children is not None else "")


def _subscriber(levels: _Levels, provider_hl: str, item: dict) -> list[str]:
    claim = item["claim"]
    sub, patient = claim["subscriber"], claim["patient"]
    self_ = _is_self(claim)
    sub_hl, hl = levels.open(provider_hl, "22", "0" if self_ else "1")
    out = [hl]
    if self_:
        out.append(segment("DMG", "D8", d8(patient["dob"]), _sex(patient.get("sex"))))
    out.append(_name("IL", sub["last"], sub.get("first"), "MI", sub["member_id"]))
    if self_:
        return out + _claim_loop(item)
    _, hl = levels.open(sub_hl, "23", None)
    return out + [hl, segment("DMG", "D8", d8(patient["dob"]), _sex(patient.get("sex"))),
                  _name("QC", patient["last"], patient.get("first")), *_claim_loop(item)]


def _transaction(items: list[dict], control: str, options: dict) -> list[str]:
    now = options["now"]
    body = [segment("ST", "276", control, VERSION),
            segment("BHT", "0010", "13", str(options["group_control"]), now.strftime("%Y%m%d"), now.strftime("%H%M"))]
    levels = _Levels()
    by_payer: dict[str, dict[str, list[dict]]] = {}
    for item in items:
        claim = item["claim"]
        providers = by_payer.setdefault(claim["payer"]["payer_id"], {})
        providers.setdefault(claim["billing_provider"]["npi"], []).append(item)
    for providers in by_payer.values():
        first = next(iter(providers.values()))[0]["claim"]
        payer_hl, hl = levels.open("", "20", "1")
        payer = first["payer"]
        body += [hl, _name("PR", payer["name"], person=False, qualifier="PI", ident=payer["payer_id"])]
        receiver_hl, hl = levels.open(payer_hl, "21", "1")
        submitter = first["submitter"]
        body += [hl, _name("41", submitter["name"], person=False, qualifier="46", ident=submitter["id"])]
        for group in providers.values():
            bp = group[0]["claim"]["billing_provider"]
            provider_hl, hl = levels.open(receiver_hl, "19", "1")
            body += [hl, _name("1P", bp["name"], person=False, qualifier="XX", ident=bp["npi"])]
            for item in group:
                body += _subscriber(levels, provider_hl, item)
    body.append(segment("SE", str(len(body) + 1), control))
    return body


def write(items: list[dict], options: dict) -> bytes:
    """The inquiries as one interchange (ISA/GS HR/ST 276/SE/GE/IEA); ValueError for what it cannot carry."""
    if not items:
        raise ValueError("no claims to ask about")
    for item in items:
        claim = item["claim"]
        if not claim["payer"].get("payer_id"):
            raise ValueError(f"{claim['id']}: payer {claim['payer'].get('id')} has no payer id (payers.yaml)")
        if not claim["subscriber"].get("member_id"):
            raise ValueError(f"{claim['id']}: the subscriber has no member id")
    first = items[0]["claim"]
    options = {**(options or {}), "sender_id": (options or {}).get("sender_id") or first["submitter"]["id"],
               "receiver_id": (options or {}).get("receiver_id") or first["receiver"]["id"]}
    return interchange(options, "HR", VERSION, lambda opts: [_transaction(items, "0001", opts)])
