"""Record kinds kept in shards, and their derived indexes."""

from medsec.identifiers import phone_digits
from medsec.services.names import words
from medsec.store import RecordKind


def _shard_letter(word: str) -> str:
    return word[0] if word[0].isalnum() else "_"


def patient_index_entries(p: dict):
    """Name words, date of birth and phone, for patients that are not merged away."""
    if p.get("status") == "merged":
        return
    for w in set(words(f"{p.get('first', '')} {p.get('last', '')}")):
        yield ("patient-name", _shard_letter(w), w)
    if p.get("dob"):
        yield ("patient-dob", p["dob"][:4], p["dob"])
    digits = phone_digits(p.get("phone") or "")
    if len(digits) >= 4:
        yield ("patient-phone", digits[-2:], digits)


PATIENTS = RecordKind("patients", "P", 100, patient_index_entries)

# Every sharded kind, for `medsec check` and backups.
ALL_KINDS = [PATIENTS]
INDEXES = {"patient-name": PATIENTS, "patient-dob": PATIENTS, "patient-phone": PATIENTS}
