"""Insurance claims: built from charges, scrubbed, exported, tracked to payment."""

import re
from datetime import date

from medsec import clock
from medsec.billing.accounts import charges_of, dx_status, outstanding
from medsec.billing.referring import referral_fields
from medsec.errors import InvalidInput, Refused
from medsec.identifiers import npi_valid, phone_digits
from medsec.money import dec, total
from medsec.records.patients import get_patient, opened
from medsec.records.staff import roster
from medsec.scheduling.appointments import get_appointment
from medsec.store.catalog import CHARGES, CLAIMS

STATUSES = ["draft", "ready", "submitted", "accepted", "rejected", "paid", "partially-paid", "denied",
            "appealed", "closed", "deleted"]  # deleted: a draft dropped (medsec.billing.claimfix)
TRANSITIONS = {
    "draft": {"ready"}, "ready": {"submitted", "draft"}, "submitted": {"accepted", "rejected", "paid",
                                                                      "partially-paid", "denied"},
    "accepted": {"paid", "partially-paid", "denied", "rejected"}, "rejected": {"draft", "ready", "submitted", "closed"},
    "paid": {"closed", "appealed"}, "partially-paid": {"appealed", "closed", "paid"},
    "denied": {"appealed", "closed"}, "appealed": {"paid", "partially-paid", "denied", "closed"},
}
ADJUDICATED = ("paid", "partially-paid", "denied", "closed")
REOPENED = ("submitted", "accepted", "appealed")  # where a payer's reversal (835 CLP02 22) puts a claim back
MAX_LINES = 50
MAX_DX = 12
COLUMNS = ["id", "patient_id", "payer_id", "rank", "status", "total", "paid", "lines", "created"]
DEFAULT_TAXONOMY = "207Q00000X"  # family medicine


def _upper(text) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip().upper()


def _address(a: dict) -> dict:
    return {"street": _upper(a.get("street") or a.get("address")), "city": _upper(a.get("city")),
            "state": _upper(a.get("state")), "zip": re.sub(r"\D", "", str(a.get("zip") or ""))}


def _person_name(full: str) -> tuple[str, str]:
    """'Dr. Helena Voss, MD' -> ('HELENA', 'VOSS')."""
    name = re.sub(r"^(dr\.?|mr\.?|mrs\.?|ms\.?)\s+", "", full.split(",")[0].strip(), flags=re.I)
    parts = name.split()
    return (_upper(" ".join(parts[:-1])), _upper(parts[-1])) if len(parts) > 1 else ("", _upper(name))


def _billing_provider(practice: dict) -> dict:
    billing = practice.get("billing") or {}
    return {"name": _upper(practice.get("name")), "npi": str(practice.get("npi") or ""),
            "tax_id": re.sub(r"\D", "", str(practice.get("tax_id") or "")),
            "address": _address(practice.get("address") or {}), "phone": phone_digits(practice.get("phone") or ""),
            "taxonomy": billing.get("taxonomy", DEFAULT_TAXONOMY)}


def _envelope(practice: dict) -> tuple[dict, dict]:
    billing = practice.get("billing") or {}
    provider = _billing_provider(practice)
    submitter = {"name": _upper(billing.get("submitter_name") or practice.get("name")),
                 "id": str(billing.get("submitter_id") or provider["tax_id"]),
                 "contact": _upper(billing.get("contact") or practice.get("name")),
                 "phone": phone_digits(billing.get("contact_phone") or practice.get("phone") or "")}
    receiver = {"name": _upper(billing.get("receiver_name") or "CLEARINGHOUSE"),
                "id": str(billing.get("receiver_id") or "CLEARINGHOUSE")}
    return submitter, receiver


def _payer_entry(app, payer_id: str) -> dict:
    for p in app.config("payers.yaml").get("payers") or []:
        if str(p["id"]).upper() == payer_id.upper():
            return p
    raise InvalidInput(f"unknown payer {payer_id!r}")


def _payer(app, payer_id: str) -> dict:
    """The claim's payer; `filing_indicator` is SBR09 (payers.yaml, commercial CI when not given)."""
    p = _payer_entry(app, payer_id)
    return {"id": p["id"], "name": _upper(p["name"]), "payer_id": str(p.get("payer_id") or ""),
            "address": _address(p.get("address") or {}),
            "filing_indicator": _upper(p.get("filing_indicator") or "CI")}


def _subscriber(app, patient: dict, coverage: dict, rank: str = "primary") -> dict:
    """The insured; `insurance_type` (SBR05, payers.yaml) only where the payer is not primary."""
    if coverage["relationship"] == "self":
        first, last, dob, sex = patient["first"], patient["last"], patient["dob"], patient["sex"]
    else:
        first, last = _person_name(coverage.get("subscriber") or "")
        dob, sex = coverage.get("subscriber_dob") or "", "U"
    kind = _payer_entry(app, coverage["payer"]).get("insurance_type") if rank != "primary" else ""
    return {"member_id": coverage["member_id"], "group": coverage.get("group", ""),
            "relationship": coverage["relationship"], "first": _upper(first), "last": _upper(last),
            "dob": dob, "sex": sex, "address": _address(patient), "insurance_type": str(kind or "")}


def _rendering(app, staff_id: str, practice: dict) -> dict:
    member = next((m for m in roster(app) if m["id"] == staff_id), {"id": staff_id, "name": staff_id})
    first, last = _person_name(member.get("name", ""))
    return {"id": staff_id, "first": first, "last": last, "npi": str(member.get("npi") or ""),
            "taxonomy": member.get("taxonomy") or (practice.get("billing") or {}).get("taxonomy", DEFAULT_TAXONOMY)}


def _lines(charges: list[dict]) -> tuple[list[str], list[dict]]:
    """The claim's diagnosis list (first use first) and its lines with pointers into it."""
    diagnoses: list[str] = []
    lines = []
    for i, charge in enumerate(charges, 1):
        pointers = []
        for p in charge["dx_pointers"]:
            code = charge["dx"][p - 1]
            if code not in diagnoses:
                diagnoses.append(code)
            pointers.append(diagnoses.index(code) + 1)
        lines.append({"line": i, "charge_id": charge["id"], "date": charge["date"], "code": charge["code"],
                      "modifiers": charge["modifiers"], "units": charge["units"], "amount": charge["amount"],
                      "dx_pointers": pointers, "place_of_service": charge.get("place_of_service", "11"),
                      "description": charge.get("description", "")})
    return diagnoses, lines


def _coverage(patient: dict, rank: str) -> dict:
    for c in patient.get("coverages") or []:
        if c["rank"] == rank:
            return c
    raise Refused(f"{patient['id']} has no {rank} coverage", hint="add one with 'medsec patient coverage add'")


def _prior_payers(txn, charges: list[dict], rank: str) -> list[dict]:
    """The earlier payers' adjudications of these charges (for secondary claims)."""
    out = []
    ranks = ["primary", "secondary", "tertiary"]
    for earlier in ranks[:ranks.index(rank)]:
        claim_ids = {cid for c in charges for cid in c["claims"]}
        claims = [c for c in txn.get_many(CLAIMS, sorted(claim_ids, key=lambda i: int(i[1:])))
                  if c["rank"] == earlier]
        if not claims or any(c["status"] not in ADJUDICATED for c in claims):
            raise Refused(f"the {earlier} claim for these charges is not adjudicated yet",
                          hint="post the payer's remittance first")
        for claim in claims:
            for adj in claim.get("adjudications", []):
                if adj.get("status_code") == "22" or adj.get("reversed_by"):
                    continue  # a reversal and what it reversed cancel out
                out.append({**adj, "payer": claim["payer"], "rank": earlier, "subscriber": claim["subscriber"]})
    return out


def new_claim(app, txn, claim_id: str, patient: dict, coverage: dict, provider: str, charges: list[dict],
              rank: str, stamp: str, *, practice: dict) -> dict:
    """The draft claim record for one provider's charges (see docs/claim-model.md)."""
    submitter, receiver = _envelope(practice)
    diagnoses, lines = _lines(charges)
    referral = referral_fields(txn, patient["id"], charges)
    return {
        "id": claim_id, "status": "draft", "rank": rank, "frequency": "1", "original_reference": "",
        "place_of_service": charges[0].get("place_of_service", "11"), "created": stamp, "updated": stamp,
        "patient_id": patient["id"], "payer_id": coverage["payer"],
        "billing_provider": _billing_provider(practice), "submitter": submitter, "receiver": receiver,
        "payer": _payer(app, coverage["payer"]), "subscriber": _subscriber(app, patient, coverage, rank),
        "patient": {"id": patient["id"], "first": _upper(patient["first"]), "last": _upper(patient["last"]),
                    "dob": patient["dob"], "sex": patient["sex"], "address": _address(patient)},
        "rendering_provider": _rendering(app, provider, practice),
        "referring_provider": referral["referring_provider"], "prior_authorization": referral["prior_authorization"],
        "diagnoses": diagnoses, "lines": lines, "total": total(l["amount"] for l in lines),
        "prior_payers": _prior_payers(txn, charges, rank) if rank != "primary" else [],
        "patient_responsibility": "0.00", "paid": "0.00", "adjudications": [], "submissions": [],
        "history": [{"at": stamp, "by": app.user, "status": "draft", "note": "created"}],
    }


def create_claims(app, *, patient_id: str | None = None, appt_id: str | None = None,
                  rank: str = "primary") -> list[dict]:
    """One claim per rendering provider from the charges not yet billed to this rank."""
    if bool(patient_id) == bool(appt_id):
        raise InvalidInput("give --patient or --appt")
    practice = app.config("practice.yaml")
    with app.store.transaction() as txn:
        if appt_id:
            appt = get_appointment(app, appt_id, view=txn)
            patient = get_patient(app, appt["patient_id"], view=txn)
        elif patient_id:  # exactly one of the two is given (checked above)
            patient, appt = get_patient(app, patient_id, view=txn), None
        coverage = _coverage(patient, rank)
        pending = _unbilled(txn, patient["id"], appt, rank)
        if not pending:
            raise Refused(f"{patient['id']} has no charges to bill to the {rank} payer")
        groups = _claim_groups(pending)
        ids = txn.reserve_ids(CLAIMS, len(groups))
        stamp = clock.iso(app.now())
        claims, touched = [], []
        for claim_id, (provider, charges) in zip(ids, groups, strict=True):
            claim = new_claim(app, txn, claim_id, patient, coverage, provider, charges, rank, stamp,
                              practice=practice)
            claims.append(claim)
            for charge in charges:
                touched.append(({**charge, "status": "billed", "claims": charge["claims"] + [claim_id]}, charge))
        txn.put_many(CLAIMS, claims)
        txn.put_many(CHARGES, [new for new, _ in touched], {old["id"]: old for _, old in touched})
    app.audit("claim", ids + [patient["id"]])
    return claims


def _unbilled(txn, patient_id: str, appt: dict | None, rank: str) -> list[dict]:
    """The patient's charges (of `appt` if given) that no live claim of `rank` holds.

    A secondary or tertiary claim takes only what is still owed after the earlier payers.
    """
    owed = outstanding(txn, patient_id)
    pending = []
    for charge in charges_of(txn, patient_id):
        if (appt and charge["appointment_id"] != appt["id"]) or charge.get("status") == "void":
            continue
        billed = [txn.get(CLAIMS, cid) for cid in charge["claims"]]
        if any(c and c["rank"] == rank and c["status"] not in ("rejected", "deleted") and not c.get("voided_by")
               for c in billed):
            continue
        if rank != "primary" and owed.get(charge["id"], 0) <= 0:
            continue
        pending.append(charge)
    return pending


def _claim_groups(charges: list[dict]) -> list[tuple[str, list[dict]]]:
    """(provider, charges) per claim: one rendering provider each, at most MAX_LINES lines."""
    by_provider: dict[str, list[dict]] = {}
    for charge in charges:
        by_provider.setdefault(charge["provider"], []).append(charge)
    return [(prov, chunk[i:i + MAX_LINES]) for prov, chunk in by_provider.items()
            for i in range(0, len(chunk), MAX_LINES)]


def get_claim(app, claim_id: str, view=None) -> dict:
    found = (view or app.store.snapshot()).require(CLAIMS, claim_id, "claim", "see 'medsec claim list'")
    return opened(app, found, view)


# -- the scrubber -----------------------------------------------------------------
def scrub(app, claim: dict, today: date) -> list[str]:
    """Everything a clearinghouse would reject, each problem naming its field."""
    return scrubber(app, today)(claim)


def scrubber(app, today: date, claim_format: str | None = None):
    """scrub() for many claims: configuration, plugins and diagnosis lookups read once.

    `claim_format` is a format the claims are about to be written in: its
    validate() runs too (once, even when it is also the payer's format).
    """
    from medsec.plugins import collect  # pluggy: loaded only by commands that scrub claims

    payers = {p["id"]: p for p in app.config("payers.yaml").get("payers") or []}
    formats = collect(app.plugins, "register_claim_formats")
    diagnoses: dict[str, str] = {}
    covered = _coverage_checker(app)

    def dx(code: str) -> str:
        if code not in diagnoses:
            diagnoses[code] = dx_status(app, code)
        return diagnoses[code]

    def check(claim: dict) -> list[str]:
        payer = payers.get(claim["payer"]["id"], {})
        problems = _field_problems(claim, today, dx) + covered(claim) + _payer_rules(app, claim, payer)
        for name in dict.fromkeys([payer.get("claim_format"), claim_format]):
            if name in formats:
                problems += [f"{name}: {p}" for p in formats[name].item.validate(claim)]
        return problems

    return check


def _field_problems(claim: dict, today: date, dx) -> list[str]:
    """The claim's own fields: identifiers, names, addresses, diagnoses, lines."""
    return (_billing_provider_problems(claim["billing_provider"])
            + _npi_problems("rendering_provider", claim["rendering_provider"]["npi"])
            + _subscriber_problems(claim["subscriber"])
            + _patient_problems(claim["patient"])
            + _payer_id_problems(claim["payer"])
            + _diagnosis_problems(claim["diagnoses"], dx)
            + _line_problems(claim["lines"], len(claim["diagnoses"]), today))


def _missing(record: dict, where: str, parts: tuple[str, ...]) -> list[str]:
    return [f"{where}.{part}: missing" for part in parts if not record[part]]


def _npi_problems(where: str, npi: str) -> list[str]:
    return [] if npi_valid(npi) else [f"{where}.npi {npi or '(missing)'}: not a valid NPI (check digit)"]


def _billing_provider_problems(bp: dict) -> list[str]:
    problems = _npi_problems("billing_provider", bp["npi"])
    if not re.fullmatch(r"\d{9}", bp["tax_id"]):
        problems.append("billing_provider.tax_id: 9 digits needed")
    if not re.fullmatch(r"\d{9}", bp["address"]["zip"]):
        problems.append("billing_provider.address.zip: a 9-digit ZIP is needed on claims")
    return problems + _missing(bp["address"], "billing_provider.address", ("street", "city", "state"))


def _subscriber_problems(sub: dict) -> list[str]:
    # a subscriber with a last name may have no first name (a mononym)
    names = ("last", "dob") if sub["last"] else ("first", "last", "dob")
    return _missing(sub, "subscriber", ("member_id",)) + _missing(sub, "subscriber", names)


def _patient_problems(pat: dict) -> list[str]:
    problems = _missing(pat, "patient", ("first", "last", "dob"))
    if pat["sex"] not in ("M", "F"):
        problems.append(f"patient.sex {pat['sex']!r}: payers need M or F")
    return problems + _missing(pat["address"], "patient.address", ("street", "city", "state", "zip"))


def _payer_id_problems(payer: dict) -> list[str]:
    if payer["payer_id"]:
        return []
    return [f"payer.payer_id: {payer['id']} has no payer id in payers.yaml"]


_DX_PROBLEMS = {"unknown": "not a valid ICD-10-CM code",
                "header": "a header code, not billable (use a more specific code)"}


def _diagnosis_problems(diagnoses: list[str], dx) -> list[str]:
    """Too few or too many codes, and codes the ICD-10-CM table (`dx`) does not bill."""
    problems = []
    if not diagnoses:
        problems.append("diagnoses: at least one is needed")
    if len(diagnoses) > MAX_DX:
        problems.append(f"diagnoses: {len(diagnoses)} codes, at most {MAX_DX}")
    return problems + [f"diagnoses[{i}] {code}: {_DX_PROBLEMS[status]}"
                       for i, code in enumerate(diagnoses, 1) if (status := dx(code)) in _DX_PROBLEMS]


def _line_problems(lines: list[dict], diagnoses: int, today: date) -> list[str]:
    """Pointers to no diagnosis, future service dates, amounts not above zero."""
    problems = []
    for line in lines:
        where = f"lines[{line['line']}]"
        for p in line["dx_pointers"]:
            if p < 1 or p > diagnoses:
                problems.append(f"{where}.dx_pointers: {p} points to no diagnosis (the claim has {diagnoses})")
        if line["date"] > today.isoformat():
            problems.append(f"{where}.date {line['date']}: service date in the future")
        if dec(line["amount"]) <= 0:
            problems.append(f"{where}.amount {line['amount']}: must be more than zero")
    return problems


def _coverage_checker(app):
    """For the scrubber: each line whose service date the claim's coverage (the patient's coverage
    of the claim's rank, payer and member id, as on file now) does not cover, by its period or an
    inactive eligibility state (medsec.records.coverage). A coverage no longer on file is not judged."""
    from medsec.records.coverage import coverage_problem
    from medsec.store.catalog import PATIENTS

    views: list = []
    patients: dict[str, dict | None] = {}

    def check(claim: dict) -> list[str]:
        patient_id = claim.get("patient_id")
        if not patient_id:
            return []
        if patient_id not in patients:
            if not views:
                views.append(app.store.snapshot())
            patients[patient_id] = views[0].get(PATIENTS, patient_id)
        member = (claim.get("subscriber") or {}).get("member_id")
        coverage = next((c for c in (patients[patient_id] or {}).get("coverages") or []
                         if c["rank"] == claim.get("rank") and c["payer"] == claim.get("payer_id")
                         and c["member_id"] == member), None)
        if coverage is None:
            return []
        problems = []
        for line in claim["lines"]:
            try:
                problem = coverage_problem(coverage, date.fromisoformat(str(line.get("date"))))
            except ValueError:  # a damaged record: said, not a traceback
                problem = "not a date (YYYY-MM-DD)"
            if problem:
                problems.append(f"lines[{line['line']}].date {line['date']}: {problem}")
        return problems

    return check


def _payer_rules(app, claim: dict, payer: dict) -> list[str]:
    """Payer-specific edits from plugins (validate_claim)."""
    from medsec.plugins import hook_results  # pluggy: loaded only by commands that scrub claims

    return [f"payer rule: {p}" for p in hook_results(app.plugins, "validate_claim", claim=claim, payer=payer)]


def validate(app, claim_id: str) -> dict:
    """Scrub a claim; a clean draft becomes ready. Problems are refused (exit 1) with each listed."""
    claim = get_claim(app, claim_id)
    problems = scrub(app, claim, app.today())
    if problems:
        app.audit("validate", [claim["id"]], outcome="problems")
        raise Refused(f"{claim['id']} has {len(problems)} problem(s)", details=problems,
                      hint="fix the patient, coverage, charges or configuration and create the claim again")
    if claim["status"] == "draft":
        claim = set_status(app, claim["id"], "ready", "passed the scrubber")
    return {**claim, "problems": []}


def moved(app, old: dict, status: str, note: str = "", extra: dict | None = None, stamp: str = "",
          *, reversal: bool = False) -> dict:
    """`old` moved on to `status` with its history; refused where the claim's rules forbid it.

    A payer's reversal of its adjudication (`reversal`) may also put the
    claim back to where it waited for one (REOPENED).
    """
    if status not in STATUSES:
        raise InvalidInput(f"unknown claim status {status!r}", hint=f"one of {', '.join(STATUSES)}")
    allowed_to = TRANSITIONS.get(old["status"], set()) | (set(REOPENED) if reversal else set())
    if status != old["status"] and status not in allowed_to:
        allowed = ", ".join(sorted(allowed_to)) or "none"
        raise Refused(f"{old['id']} is {old['status']}; it cannot become {status}", hint=f"allowed: {allowed}")
    stamp = stamp or clock.iso(app.now())
    # A submission (not a payer's reversal back to submitted) is the sign-off store_changes signs.
    submitted = {"submitted": {"at": stamp, "by": app.user, "note": note}} \
        if status == "submitted" and not reversal else {}
    return {**old, **(extra or {}), **submitted, "status": status, "updated": stamp,
            "history": old["history"] + [{"at": stamp, "by": app.user, "status": status, "note": note}]}


def store_changes(app, txn, pairs: list[tuple[dict, dict]]) -> None:
    """Write changed claims, (new, old) pairs, at once; claim_status_changed fires after the commit.
    A submission is signed by whoever submits (medsec.security.signoffs)."""
    submitted = [i for i, (new, old) in enumerate(pairs) if new.get("submitted") is not old.get("submitted")
                 and new.get("submitted") != old.get("submitted")]
    if submitted:
        from medsec.security import signoffs  # (cryptography: only a submission pays for it)

        signer, kind = signoffs.Signer(app, txn), signoffs.CLAIM_SUBMISSION
        pairs = list(pairs)
        for i in submitted:
            pairs[i] = (signer.sign(kind, pairs[i][0]), pairs[i][1])
    txn.put_many(CLAIMS, [new for new, _ in pairs], {old["id"]: old for _, old in pairs})
    changed: dict[str, list[dict]] = {}
    for new, old in pairs:
        if new["status"] != old["status"]:
            changed.setdefault(old["status"], []).append(new)
    for old_status, records in changed.items():
        app.after_commit(txn, "claim_status_changed", records, "claim", old_status=old_status)


def set_status(app, claim_id: str, status: str, note: str = "", extra: dict | None = None, txn=None) -> dict:
    def change(view):
        old = get_claim(app, claim_id, view=view)
        record = moved(app, old, status, note, extra)
        store_changes(app, view, [(record, old)])
        return record

    if txn is not None:
        return change(txn)
    with app.store.transaction() as own:
        record = change(own)
    app.audit("claim-status", [record["id"], record["patient_id"]])
    return record


def list_claims(app, *, status: str | None = None, payer: str | None = None, patient: str | None = None,
                first: date | None = None, last: date | None = None, limit: int | None = None) -> list[dict]:
    """Claims (the first `limit`); `first`/`last`: created on those days."""
    view = app.store.snapshot()
    if status:
        if status not in STATUSES:
            raise InvalidInput(f"unknown claim status {status!r}")
        ids = view.lookup("claim-status", status)
        claims = view.get_many(CLAIMS, sorted(ids, key=lambda i: int(i[1:])))
        claims = [c for c in claims if c["status"] == status]
    elif patient:

        pid = get_patient(app, patient, view=view)["id"]
        ids = view.lookup("claim-patient", pid)
        claims = [c for c in view.get_many(CLAIMS, ids) if c["patient_id"] == pid]
    else:
        claims = list(view.scan(CLAIMS))
    if status != "deleted":
        claims = [c for c in claims if c["status"] != "deleted"]
    out = [c for c in claims if (not payer or c["payer_id"].upper() == payer.upper())
           and (not patient or c["patient_id"] == patient.upper()) and clock.on_days(c["created"], first, last)]
    out = out[:limit] if limit else out
    app.audit("list", [c["id"] for c in out] + [c["patient_id"] for c in out])
    return out


def summary_row(claim: dict) -> dict:
    return {"id": claim["id"], "patient_id": claim["patient_id"], "payer_id": claim["payer_id"],
            "rank": claim["rank"], "status": claim["status"], "total": claim["total"], "paid": claim["paid"],
            "lines": len(claim["lines"]), "created": claim["created"]}
