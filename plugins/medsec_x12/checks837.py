"""What an 837P cannot carry or a receiver would refuse, each problem naming the claim field."""

from collections import Counter
from decimal import Decimal

from medsec.plugin_api import npi_valid
from medsec_x12.spec837 import (
    ADJUSTMENT_GROUPS,
    FILING_INDICATORS,
    FREQUENCIES,
    MAX_CAS,
    MAX_CAS_TRIPLETS,
    MAX_DIAGNOSES,
    MAX_LINES,
    MAX_MODIFIERS,
    MAX_POINTERS,
    MAX_PRIOR_PAYERS,
    MEDICARE_FILING,
    MSP_TYPES,
    RANKS,
    STATES,
    _filing,
    _icd,
    _match_prior_lines,
    _prior_paid,
    _relationship,
)
from medsec_x12.syntax import CENT, d8, decimal_of, digits, text


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
    return (_sender_problems(claim) + _billing_provider_problems(claim.get("billing_provider") or {})
            + _person_provider_problems(claim))


def _sender_problems(claim: dict) -> list[str]:
    """Submitter and receiver (ISA/GS, 1000A/1000B)."""
    out = []
    for role in ("submitter", "receiver"):
        party = claim.get(role) or {}
        if not text(party.get("name")):
            out.append(f"{role}.name: missing")
        if not 2 <= len(text(party.get("id"))) <= 15:
            out.append(f"{role}.id {party.get('id') or '(missing)'}: 2 to 15 characters (ISA/GS sender/receiver)")
    if len(digits((claim.get("submitter") or {}).get("phone"))) != 10:
        out.append("submitter.phone: 10 digits needed (1000A PER)")
    return out


def _billing_provider_problems(bp: dict) -> list[str]:
    """2010AA: NPI, name, tax id, address with ZIP+4, taxonomy."""
    out = [p for p in [_npi_problem(bp.get("npi"), "billing_provider.npi")] if p]
    if not text(bp.get("name")):
        out.append("billing_provider.name: missing")
    if len(digits(bp.get("tax_id"))) != 9:
        out.append(f"billing_provider.tax_id {bp.get('tax_id') or '(missing)'}: 9 digits (EIN) needed")
    out += _address_problems(bp.get("address"), "billing_provider.address", zip9=True)
    if bp.get("taxonomy") and len(text(bp["taxonomy"])) != 10:
        out.append(f"billing_provider.taxonomy {bp['taxonomy']}: 10 characters")
    return out


def _person_provider_problems(claim: dict) -> list[str]:
    """The rendering and referring providers, when the claim names them."""
    out = []
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
    payer, sub, pat = claim.get("payer") or {}, claim.get("subscriber") or {}, claim.get("patient") or {}
    return _payer_problems(claim, payer, sub) + _subscriber_problems(sub, pat)


def _payer_problems(claim: dict, payer: dict, sub: dict) -> list[str]:
    """2010BB and SBR: the payer, its filing indicator, the claim's rank (and Medicare's MSP type)."""
    out = []
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
    return out


def _subscriber_problems(sub: dict, pat: dict) -> list[str]:
    """2010BA, and 2010CA for a dependent: who is insured and who was seen."""
    out = []
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
    return _clm_problems(claim) + _diagnosis_problems(claim) + _total_problems(claim)


def _clm_problems(claim: dict) -> list[str]:
    """CLM: id, place of service, frequency (and REF*F8), the yes/no codes."""
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
    return out


def _diagnosis_problems(claim: dict) -> list[str]:
    """HI: at least one ICD-10-CM code, at most MAX_DIAGNOSES, none repeated."""
    out = []
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
    return out


def _total_problems(claim: dict) -> list[str]:
    """CLM02: an amount that the lines add up to."""
    problem = _money_problem(claim.get("total"), "total")
    if problem:
        return [problem]
    line_sum = sum((Decimal(str(l.get("amount"))) for l in claim.get("lines") or []
                    if not _money_problem(l.get("amount"), "amount")), Decimal(0))
    if line_sum != Decimal(str(claim["total"])):
        return [f"total {claim['total']}: the lines add up to {line_sum:.2f} (CLM02 = sum of SV102)"]
    return []


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
        out += _service_line_problems(line, numbers, dx_count)
    return out


def _service_line_problems(line: dict, numbers: Counter, dx_count: int) -> list[str]:
    """One service line; `numbers` counts the claim's line numbers, `dx_count` its diagnoses."""
    out = []
    where = f"lines[{line.get('line')}]"
    if numbers[str(line.get("line"))] > 1:
        out.append(f"{where}.line: line numbers repeat (REF*6R must be unique)")
    code = text(line.get("code"))
    if not code or code != str(line.get("code")) or len(code) > 48:
        out.append(f"{where}.code {line.get('code') or '(missing)'}: not a procedure code")
    out += _modifier_problems(line.get("modifiers") or [], where)
    out += [p for p in [_money_problem(line.get("amount"), f"{where}.amount"), _units_problem(line, where)] if p]
    out += _pointer_problems(line.get("dx_pointers") or [], where, dx_count)
    out += [p for p in [_date_problem(line.get("date"), f"{where}.date")] if p]
    pos = str(line.get("place_of_service") or "")
    if pos and not (len(pos) == 2 and pos.isdigit()):
        out.append(f"{where}.place_of_service {pos}: a 2-digit CMS code")
    return out


def _modifier_problems(modifiers: list, where: str) -> list[str]:
    out = []
    if len(modifiers) > MAX_MODIFIERS:
        out.append(f"{where}.modifiers: {len(modifiers)}, at most {MAX_MODIFIERS}")
    for m in modifiers:
        if not (len(str(m)) == 2 and str(m).isalnum()):
            out.append(f"{where}.modifiers {m}: 2 letters or digits")
    return out


def _units_problem(line: dict, where: str) -> str | None:
    try:
        if Decimal(str(line.get("units", 1))) <= 0:
            return f"{where}.units {line.get('units')}: must be more than zero"
    except ArithmeticError:
        return f"{where}.units {line.get('units')!r}: not a number"
    return None


def _pointer_problems(pointers: list, where: str, dx_count: int) -> list[str]:
    """SV107: one to MAX_POINTERS distinct pointers, each to a diagnosis of the claim."""
    out = []
    if not pointers:
        out.append(f"{where}.dx_pointers: at least one is needed")
    if len(pointers) > MAX_POINTERS:
        out.append(f"{where}.dx_pointers: {len(pointers)}, at most {MAX_POINTERS}")
    for p in pointers:
        if not (isinstance(p, int) and 1 <= p <= dx_count):
            out.append(f"{where}.dx_pointers {p}: points to no diagnosis (the claim has {dx_count})")
    if len(set(pointers)) != len(pointers):
        out.append(f"{where}.dx_pointers: a pointer repeats")
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
