"""The referral a visit came with (an incoming referral linked to the appointment): the claim's
referring provider (2310A NM1*DN) and prior authorization (REF*G1)."""

import re

from medsec.identifiers import npi_valid
from medsec.store.catalog import REFERRALS


def _upper(value) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip().upper()


def _referrer(referral: dict) -> dict | None:
    """{first, last, npi} of whoever referred: a `referrer` dict, or `referrer_npi` with the `from`
    name, or an NPI written in `from` ("Dr. Ray Chen, NPI 1234567893"); None without a valid NPI."""
    given = referral.get("referrer")
    if isinstance(given, dict) and npi_valid(str(given.get("npi") or "")):
        return {"first": _upper(given.get("first")), "last": _upper(given.get("last")), "npi": str(given["npi"])}
    sender = str(referral.get("from") or "")
    npi = str(referral.get("referrer_npi") or "")
    if not npi:
        found = [n for n in re.findall(r"(?<!\d)(\d{10})(?!\d)", sender) if npi_valid(n)]
        npi = found[0] if found else ""
    if not npi_valid(npi):
        return None
    name = re.sub(r"(?i)\bNPI\b[:#]?", " ", sender.replace(npi, " "))
    name = re.sub(r"^\s*(dr\.?|mr\.?|mrs\.?|ms\.?)\s+", "", name.split(",")[0], flags=re.I)
    parts = [p for p in re.split(r"\s+", name.strip(" ,;-")) if p]
    if not parts:
        return None
    return {"first": _upper(" ".join(parts[:-1])), "last": _upper(parts[-1]), "npi": npi}


def referral_fields(view, patient_id: str, charges: list[dict]) -> dict:
    """`referring_provider` and `prior_authorization` from the incoming referral of the charges' visit."""
    visits = {c.get("appointment_id") for c in charges if c.get("appointment_id")}
    out: dict = {"referring_provider": None, "prior_authorization": ""}
    if not visits:
        return out
    found = [r for r in view.get_many(REFERRALS, view.lookup("referral-patient", patient_id))
             if r.get("patient_id") == patient_id and r.get("direction") == "in" and r.get("appointment_id") in visits]
    for referral in sorted(found, key=lambda r: REFERRALS.number(r["id"])):
        out["referring_provider"] = _referrer(referral) or out["referring_provider"]
        out["prior_authorization"] = str(referral.get("auth_number") or "").strip() or out["prior_authorization"]
    return out
