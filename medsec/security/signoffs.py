"""Signed sign-offs: the approvals with clinical or legal weight carry their approver's Ed25519 signature.

What is signed, per kind (`KINDS`): the fields the sign-off vouches for, not the whole record, so
that the ordinary updates after it (a refill's notices, a lab order told to the patient, a claim
paid) leave the signature valid:

- a refill decision (`refill approve|deny`): the request (patient, drug, dose, pharmacy,
  physician), its status and the decision (who, when, the note);
- a lab result review (`lab status LB1 reviewed`): the order (patient, test, facility) and the
  review, which names the results and the report files (by SHA-256) that were reviewed;
- a claim submission (`claim export|batch`, `claim status C1 submitted`): the claim's patient,
  payer, providers, subscriber, diagnoses, lines and total, and the submission (who, when);
- a document signature (`doc sign D1`): the clinical document's patient, author, kind, title,
  recipient, text, the document it adds to, the signing (who, when) and the signed PDF filed in
  the chart (its SHA-256).

The message signed is the canonical JSON (orjson, sorted keys) of {"sign-off": kind, "record":
those fields, "by", "key", "at"}. The record keeps {"signature": {"by", "key", "alg", "fields",
"sig", "at"}}, written in the transaction that writes the sign-off. With no key to sign with (an
open practice, a service token, a session opened before keys existed) the approval is made all the
same and its `signature` says why it is unsigned ({"unsigned": reason, "by", "at"}).

`verify` checks one record; `scan` (for `medsec check`) every record that carries a signature.

A patient merge (`patient merge`) moves a signed record to the surviving patient without changing
what was signed: the record keeps the patient id it was signed for in {"merged_patient": {"from",
"at", "by"}} (`mark_merged`; a second merge keeps the first one's), the signature is checked over
that id, and the record's current patient must have absorbed it (its `merged_from`, followed
through every merge since: P9 -> P7 -> P3). A patient id changed any other way, with no such
marker or one naming a patient the current one never absorbed, does not verify. A record never
merged is signed and checked exactly as before.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medsec.errors import EnvironmentFailure, InvalidInput, Refused
from medsec.store.catalog import CLAIMS, DOCS, LABS, PATIENTS, REFILLS

if TYPE_CHECKING:
    from collections.abc import Callable

    from medsec.context import AppContext
    from medsec.store.api import Record, RecordKind


@dataclass(frozen=True)
class Kind:
    name: str
    kind: RecordKind
    fields: tuple[str, ...]
    approver: Callable[[Record], Any]  # who the record says signed off


def _by(field: str) -> Callable[[Record], Any]:
    return lambda record: (record.get(field) or {}).get("by") if isinstance(record.get(field), dict) else None


KINDS = (
    Kind("refill decision", REFILLS, ("id", "patient_id", "drug", "dose", "pharmacy", "pharmacy_fax", "physician",
                                      "status", "decision"), _by("decision")),
    Kind("lab result review", LABS, ("id", "patient_id", "test", "facility", "review"), _by("review")),
    Kind("claim submission", CLAIMS, ("id", "patient_id", "payer_id", "rank", "frequency", "original_reference",
                                      "billing_provider", "rendering_provider", "referring_provider", "subscriber",
                                      "diagnoses", "lines", "total", "submitted"), _by("submitted")),
    Kind("document signature", DOCS, ("id", "patient_id", "author", "kind", "title", "to", "text", "addendum_to",
                                      "signed", "filed"), _by("signed")),
)
REFILL_DECISION, LAB_REVIEW, CLAIM_SUBMISSION, DOC_SIGNATURE = KINDS


def kind_of(record_id: str) -> Kind:
    """The signed kind a record id names; InvalidInput (exit 2) for any other id."""
    text = str(record_id).strip()
    for k in sorted(KINDS, key=lambda k: -len(k.kind.prefix)):
        if text[:len(k.kind.prefix)].upper() == k.kind.prefix and text[len(k.kind.prefix):].isdigit():
            k.kind.number(text)  # a malformed number: InvalidInput
            return k
    raise InvalidInput(f"{text[:40]!r} is not a record that is signed off",
                       hint="a refill request (RX1), a lab order (LB1), a claim (C1) or a document (D1)")


def message(kind: Kind, record: Record, by: str, key: str, at: str) -> bytes:
    """What was signed: the record's `kind.fields`, its patient the one it was signed for (a merged
    record's `merged_patient.from`; the record's own patient_id when it was never merged)."""
    import orjson

    fields = {f: record.get(f) for f in kind.fields}
    merged = record.get(MERGED)
    if isinstance(merged, dict) and "patient_id" in fields:
        fields["patient_id"] = merged.get("from")
    return orjson.dumps({"sign-off": kind.name, "record": fields, "by": by, "key": key, "at": at},
                        option=orjson.OPT_SORT_KEYS)


# -- patient merges --------------------------------------------------------------------------------------
MERGED = "merged_patient"


def mark_merged(record: Record, at: str, by: str) -> Record:
    """`record` as `patient merge` may move it: a record carrying a signature keeps the patient id
    it was signed for (the first merge's marker stays through later ones); any other is unchanged."""
    sig = record.get("signature")
    if not isinstance(sig, dict) or "sig" not in sig or MERGED in record:
        return record
    return {**record, MERGED: {"from": record.get("patient_id"), "at": at, "by": by}}


class Merges:
    """Which patients each patient absorbed (`patient merge` keeps them in its `merged_from`), read
    from `view`: patient by patient (`verify`), or every patient's at once on first need (`scan`)."""

    def __init__(self, view: Any, everyone: bool = False):
        self.view = view
        self.everyone = everyone
        self._from: dict[str, list] | None = None

    def merged_from(self, patient_id: str) -> list:
        if self.everyone:
            if self._from is None:
                self._from = {str(p.get("id")): p["merged_from"] for p in self.view.scan(PATIENTS)
                              if isinstance(p.get("merged_from"), list) and p["merged_from"]}
            return self._from.get(patient_id, [])
        patient = self.view.get(PATIENTS, patient_id) if isinstance(patient_id, str) else None
        found = (patient or {}).get("merged_from")
        return found if isinstance(found, list) else []

    def path(self, signed_for: str, current: str) -> list[str] | None:
        """[signed_for, ..., current] when `current` absorbed `signed_for` (merge by merge), else None."""
        came: dict[str, str] = {}
        todo = [current]
        while todo:
            pid = todo.pop()
            for absorbed in self.merged_from(pid):
                if not isinstance(absorbed, str) or absorbed in came or absorbed == current:
                    continue
                came[absorbed] = pid
                if absorbed == signed_for:
                    chain = [absorbed]
                    while chain[-1] != current:
                        chain.append(came[chain[-1]])
                    return chain
                todo.append(absorbed)
        return None


class Signer:
    """Signs sign-offs as the signed-in member, with the key their session carries; or says why not."""

    def __init__(self, app: AppContext, view: Any = None):
        self.app = app
        self.view = view
        self.by = str(app.user)
        self.key: str | None = None
        self._private: Any = None
        self.unsigned = self._load()

    def _load(self) -> str | None:
        from medsec.security.principal import OPEN, mode
        from medsec.security.sessions import SESSION_ENV
        from medsec.store.catalog import SESSIONS

        principal = self.app.principal
        if mode(self.app) == OPEN or principal is None or not principal.session:
            return "an open practice: no one signs in, so no one signs"
        if not principal.session.startswith(SESSIONS.prefix):
            return "a service token acted: only a person signs"
        token = os.environ.get(SESSION_ENV) or ""
        session = (self.view or self.app.store.snapshot()).get(SESSIONS, principal.session)
        if session is None or not session.get("carry"):
            return "the session was opened before signing keys (sign in again to sign)"
        from medsec.security.keys import CARRY_SIGNING, open_carry

        private = open_carry(session, token, CARRY_SIGNING)
        if private is None:
            return "the session's signing key does not open (sign in again to sign)"
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self._private = Ed25519PrivateKey.from_private_bytes(private)
        self.key = str(session.get("carry_key"))
        self.by = principal.user
        return None

    def sign(self, kind: Kind, record: Record) -> Record:
        """`record` with its sign-off's signature (or why it is unsigned)."""
        from medsec import clock
        from medsec.security.keys import ALG, b64

        at = clock.iso(self.app.now())
        # Signed (again) as it is now: a merge marker from an earlier signature no longer applies.
        record = {k: v for k, v in record.items() if k != MERGED}
        if self._private is None or self.key is None:
            return {**record, "signature": {"unsigned": self.unsigned, "by": self.by, "at": at}}
        sig = self._private.sign(message(kind, record, self.by, self.key, at))
        return {**record, "signature": {"by": self.by, "key": self.key, "alg": ALG, "fields": list(kind.fields),
                                        "sig": b64(sig), "at": at}}


# -- verifying -------------------------------------------------------------------------------------------
class Unsigned(Refused):
    """A record with no signature (exit 1), and why."""


def check_record(kind: Kind, record: Record, keys: dict[str, tuple[str, dict]],
                 merges: Merges | None = None) -> dict:
    """What the signature of `record` proves: {"by", "key", "at"}, and {"merged": {"from", "into",
    "path", "at", "by"}} when a patient merge moved it since (`merges`: who absorbed whom). Unsigned
    (exit 1) when it has none, EnvironmentFailure (exit 3, one line) when it does not hold (the record
    changed since, its patient changed outside a merge, the key is not the approver's, the signature
    or the key is damaged)."""
    rid = record.get("id")
    sig = record.get("signature")
    if sig is None:
        raise Unsigned(f"{rid} is not signed: no sign-off recorded (not decided yet, or made before signatures)")
    if not isinstance(sig, dict):
        raise EnvironmentFailure(f"{rid}: its signature is damaged")
    if "unsigned" in sig and "sig" not in sig:
        raise Unsigned(f"{rid} is not signed: {str(sig.get('unsigned'))[:200]}")
    by, key, at, fields = sig.get("by"), sig.get("key"), sig.get("at"), sig.get("fields")
    if not isinstance(by, str) or not isinstance(key, str) or not isinstance(at, str) or \
            sig.get("alg") != "ed25519" or fields != list(kind.fields):
        raise EnvironmentFailure(f"{rid}: its signature is damaged")
    approver = kind.approver(record)
    if approver != by:
        raise EnvironmentFailure(f"{rid}: the {kind.name} names {approver} but the signature is {by}'s")
    if key not in keys:
        raise EnvironmentFailure(f"{rid}: signed with key {key[:20]}, which is no staff member's")
    owner, entry = keys[key]
    if owner != by:
        raise EnvironmentFailure(f"{rid}: signed with {owner}'s key {key}, not {by}'s")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from medsec.security.keys import key_id, unb64

    public = unb64(entry.get("public"), f"{by}'s key {key}")
    if len(public) != 32 or key_id(public) != key:
        raise EnvironmentFailure(f"{rid}: {by}'s key {key} is damaged (the key was changed)")
    signature = unb64(sig.get("sig"), f"{rid}'s signature")
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message(kind, record, by, key, at))
    except (InvalidSignature, ValueError):
        raise EnvironmentFailure(f"{rid} was changed since {by} signed it at {at}, or the signature is not "
                                 f"{by}'s") from None
    return {"by": by, "key": key, "at": at, **_merged(rid, record, merges)}


def _merged(rid: Any, record: Record, merges: Merges | None) -> dict:
    """{"merged": the merges that moved `record` from the patient it was signed for to its patient
    now} ({} when never merged); EnvironmentFailure when that patient never absorbed the one signed
    for (moved outside a merge)."""
    marker = record.get(MERGED)
    if marker is None:
        return {}
    if not isinstance(marker, dict) or not isinstance(marker.get("from"), str):
        raise EnvironmentFailure(f"{rid}: its patient merge record is damaged")
    signed_for, current = marker["from"], record.get("patient_id")
    if signed_for == current:
        path: list[str] | None = [current]
    else:
        path = merges.path(signed_for, current) if merges is not None and isinstance(current, str) else None
    if path is None:
        raise EnvironmentFailure(f"{rid} was signed for patient {signed_for} but is now {str(current)[:20]}'s, "
                                 f"and {signed_for} was never merged into {str(current)[:20]}: moved outside a merge")
    return {"merged": {"from": signed_for, "into": current, "path": path, "at": marker.get("at"),
                       "by": marker.get("by")}}


def verify(app: AppContext, record_id: str, opened: Callable[[Record, Any], Record]) -> dict:
    """`medsec verify ID`: {"id", "sign-off", "valid", "by", "key", "at"} (and "merged" when a patient
    merge moved it) once the signature holds
    (`opened`: the record, once whoever acts may open its patient's chart)."""
    from medsec.security.keys import public_keys

    kind = kind_of(record_id)
    view = app.store.snapshot()
    record = opened(view.require(kind.kind, record_id.strip(), kind.name.split(" ")[0] + " record"), view)
    proof = check_record(kind, record, public_keys(view), Merges(view))
    return {"id": record["id"], "sign-off": kind.name, "valid": True, **proof}


def scan(view: Any) -> list[tuple[str, str]]:
    """For `medsec check`: (record id, what is wrong) for each signed record whose signature does not
    hold. Only records that carry a signature are checked (a record without one has nothing to hold)."""
    from medsec.security.keys import public_keys

    keys: dict[str, tuple[str, dict]] | None = None
    merges = Merges(view, everyone=True)  # the patients are read only if a merged record is met
    problems = []
    for kind in KINDS:
        for record in view.scan(kind.kind):
            sig = record.get("signature")
            if sig is None or (isinstance(sig, dict) and "sig" not in sig and "unsigned" in sig):
                continue
            if keys is None:
                keys = public_keys(view)
            try:
                check_record(kind, record, keys, merges)
            except EnvironmentFailure as exc:
                problems.append((str(record.get("id")), f"signature does not hold: {exc.message}"))
    return problems


def check_problems(store: Any) -> list[dict]:
    """`scan`'s findings as `medsec check` lists them (a record changed outside medsec: restore)."""
    return [{"problem": what, "file": rid, "repaired": False, "remedy": "restore"}
            for rid, what in scan(store.snapshot())]
