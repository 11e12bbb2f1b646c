"""Synthetic records shaped as the catalog indexes them, and the few writes every contract test makes.

Ids come from `reserve_ids`, as in the office's code: a fresh store hands out P1, P2 ... so a
test knows the ids of what it added.
"""

from typing import Any

from medsec.store.api import Backend, Record, RecordKind


def patient(first: str, last: str, dob: str = "1970-01-01", phone: str = "", **fields: Any) -> Record:
    """A patient: name words, date of birth and phone are its index keys (patient-name, -dob, -phone)."""
    return {"first": first, "last": last, "dob": dob, "phone": phone, "status": "active", **fields}


def appointment(start: str, provider: str = "S1", **fields: Any) -> Record:
    """An appointment: kept by the day of `start` and its provider; room, patient_id, series_id
    and uid are its index keys."""
    return {"start": start, "provider": provider, "minutes": 30, "status": "booked", **fields}


def add(backend: Backend, kind: RecordKind, *records: Record) -> list[Record]:
    """Commit `records` under new ids (in the order given); the records as stored."""
    with backend.transaction() as txn:
        ids = txn.reserve_ids(kind, len(records))
        stored = [{"id": record_id, **record} for record_id, record in zip(ids, records, strict=True)]
        txn.put_many(kind, stored)
    return stored


def replace(backend: Backend, kind: RecordKind, old: Record, **changes: Any) -> Record:
    """Commit `old` changed by `changes` (a change to None drops the field), naming `old`."""
    new = {k: v for k, v in {**old, **changes}.items() if v is not None}
    with backend.transaction() as txn:
        txn.put(kind, new, old=old)
    return new
