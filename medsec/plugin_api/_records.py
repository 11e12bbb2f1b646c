"""Reading records for report plugins: one consistent view per call, no writes (see medsec.plugin_api)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import Any

from medsec.context import AppContext
from medsec.store.api import RecordKind
from medsec.store.catalog import APPOINTMENTS, CALLS, CLAIMS, PATIENTS, REFERRALS, REMINDERS, TASKS

# -- reading records --------------------------------------------------------------
_FILE_PART = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what can name a provider's file (RecordKind.place)


def appointments(app: AppContext, start: date, end: date, provider: str | None = None) -> list[dict[str, Any]]:
    """Appointments that start on a day from ``start`` to ``end`` (both included), by start time.

    Every status is included (``status`` says booked, seen, cancelled ...);
    ``provider`` (a staff id, any case) keeps one provider's. An empty
    range gives [].
    """
    part = provider.upper() if provider else None
    if part is not None and not _FILE_PART.fullmatch(part):
        return []  # no appointment can be booked for such a provider id
    view = app.store.snapshot()
    found = [a for day in _days(start, end) for a in view.day(APPOINTMENTS, day.isoformat(), part)]
    return sorted(found, key=lambda a: (a["start"], a["provider"], APPOINTMENTS.number(a["id"])))


def patient(app: AppContext, patient_id: str) -> dict[str, Any] | None:
    """The patient ``patient_id`` (``P42``, any case) as stored, or None when there is none.

    A record merged into another has ``status`` "merged" and ``merged_into``.
    An id that is not a patient id (``"X1"``) raises InvalidInput.
    """
    return app.store.snapshot().get(PATIENTS, patient_id)


def patients(app: AppContext, patient_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The patients of ``patient_ids`` that exist, in the order given (one read per file of 100)."""
    return app.store.snapshot().get_many(PATIENTS, patient_ids)


def claims(app: AppContext, start: date | None = None, end: date | None = None,
           status: str | None = None) -> list[dict[str, Any]]:
    """Claims created from ``start`` to ``end`` (both included; None: no limit), by id.

    ``status`` (draft, ready, submitted, paid ...) keeps the claims in it.
    """
    return [c for c in _created_between(app, CLAIMS, start, end) if status is None or c["status"] == status]


def reminders(app: AppContext, start: date | None = None, end: date | None = None) -> list[dict[str, Any]]:
    """Reminders created from ``start`` to ``end`` (both included; None: no limit), by id."""
    return list(_created_between(app, REMINDERS, start, end))


def calls(app: AppContext, start: date | None = None, end: date | None = None) -> list[dict[str, Any]]:
    """Phone calls logged from ``start`` to ``end`` (both included; None: no limit), by id."""
    return list(_created_between(app, CALLS, start, end))


def referrals(app: AppContext, start: date | None = None, end: date | None = None) -> list[dict[str, Any]]:
    """Referrals created from ``start`` to ``end`` (both included; None: no limit), by id."""
    return list(_created_between(app, REFERRALS, start, end))


def tasks(app: AppContext, start: date | None = None, end: date | None = None) -> list[dict[str, Any]]:
    """Tasks created from ``start`` to ``end`` (both included; None: no limit), by id."""
    return list(_created_between(app, TASKS, start, end))


def _created_between(app: AppContext, kind: RecordKind, start: date | None,
                     end: date | None) -> Iterator[dict[str, Any]]:
    """The records of ``kind`` whose ``created`` day is in the range, in id order."""
    first = start.isoformat() if start else ""
    last = end.isoformat() if end else "9999-12-31"
    for record in app.store.snapshot().scan(kind):
        if first <= record["created"][:10] <= last:
            yield record


def _days(start: date, end: date) -> Iterator[date]:
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)
