"""Who pays a patient's bills: the patient ('self'), another registered patient (guarantor
P7), or a named responsible party kept on the record (`responsible_party`: name,
relationship, address, city, state, zip, phone, email). Statements and invoices go to
the person `bill_to` names."""

from medsec.errors import InvalidInput
from medsec.identifiers import email_valid, parse_phone, state_valid, zip_valid
from medsec.records.patients import change_patient, clean, clean_fields, resolve_guarantor
from medsec.store.catalog import PATIENTS
from medsec.text import clean_text, shown

PARTY_FIELDS = ["name", "relationship", "address", "city", "state", "zip", "phone", "email"]
RELATIONSHIPS = ["parent", "spouse", "guardian", "child", "other"]
_LIMITS = {"name": 120, "relationship": 40, "address": 200, "city": 60, "state": 40, "zip": 20,
           "phone": 40, "email": 254}


def clean_party(raw: dict) -> dict:
    """A responsible party as the record keeps it; InvalidInput names the field."""
    party = {k: clean_text(raw.get(k) or "", f"responsible party {k}", _LIMITS[k]).strip() for k in PARTY_FIELDS}
    if not party["name"]:
        raise InvalidInput("a responsible party needs --name")
    if not party["address"] or not party["city"] or not party["zip"]:
        raise InvalidInput("a responsible party needs --address, --city and --zip: statements are mailed there")
    if party["state"]:
        party["state"] = party["state"].upper()
        if not state_valid(party["state"]):
            raise InvalidInput(f"--state {shown(party['state'])} is not a two-letter USPS code")
    if not zip_valid(party["zip"].replace("-", "")):
        raise InvalidInput(f"--zip {shown(party['zip'])} is not a 5- or 9-digit ZIP code")
    party["zip"] = party["zip"].replace("-", "")
    if party["phone"]:
        party["phone"] = parse_phone(party["phone"])
    if party["email"] and not email_valid(party["email"]):
        raise InvalidInput(f"--email {shown(party['email'])} is not an email address")
    party["relationship"] = party["relationship"].lower()
    return party


def set_guarantor(app, patient_id: str, *, patient: str | None = None, party: dict | None = None,
                  self_pay: bool = False) -> dict:
    """Make the patient's guarantor a registered patient, a named responsible party, or 'self'."""
    if sum((bool(patient), party is not None, self_pay)) != 1:
        raise InvalidInput("give one of --patient, --name (with the address) or --self")
    if patient:
        fields = clean_fields({"guarantor": clean("guarantor", patient).strip()}, app.today(), partial=True)
    cleaned = clean_party(party) if party is not None else None

    def change(old, txn):
        record = {k: v for k, v in old.items() if k != "responsible_party"}
        if self_pay:
            return {**record, "guarantor": "self"}
        if cleaned is not None:
            return {**record, "guarantor": "", "responsible_party": cleaned}
        resolved = resolve_guarantor(txn, fields)
        if resolved["guarantor"] == old["id"]:
            return {**record, "guarantor": "self"}
        return {**record, **resolved}

    return change_patient(app, patient_id, change, "guarantor")


def bill_to(view, patient: dict) -> dict:
    """Who a patient's statements and invoices are addressed to: {"via": "self" | "guarantor" |
    "responsible-party", "id": the guarantor's patient id or "", name, relationship, address, city,
    state, zip, email, phone, "key": one key per responsible person (batching statements)}.
    A responsible party marked needs_review (an old free-text guarantor no one has checked) or
    without an address is not mailed to: the patient is."""
    guarantor = patient.get("guarantor") or ""
    if guarantor and guarantor not in ("self", patient["id"]):
        payer = view.get(PATIENTS, guarantor)
        if payer is not None:
            return {"via": "guarantor", "id": payer["id"], "key": payer["id"], **_person(payer),
                    "relationship": "guarantor"}
    party = patient.get("responsible_party") or {}
    if isinstance(party, dict) and party.get("name") and party.get("address") and not party.get("needs_review"):
        fields = {k: str(party.get(k) or "") for k in PARTY_FIELDS}
        key = "RP " + " ".join(fields[k].lower() for k in ("name", "address", "zip"))
        return {"via": "responsible-party", "id": "", "key": key, **fields}
    return {"via": "self", "id": patient["id"], "key": patient["id"], **_person(patient), "relationship": "self"}


def _person(record: dict) -> dict:
    return {"name": f"{record.get('first', '')} {record.get('last', '')}".strip(),
            **{k: str(record.get(k) or "") for k in ("address", "city", "state", "zip", "phone", "email")}}


def needs_review(view) -> list[dict]:
    """Patients whose responsible party an upgrade could not read: [{patient_id, text}]."""
    out = []
    for record in view.scan(PATIENTS):
        party = record.get("responsible_party")
        if isinstance(party, dict) and party.get("needs_review") and record.get("status") != "merged":
            out.append({"patient_id": record["id"], "text": str(party.get("text") or party.get("name") or "")})
    return sorted(out, key=lambda r: int(r["patient_id"][1:]))
