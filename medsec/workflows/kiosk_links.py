"""The kiosk's one-time links and codes, and the tablets enrolled to reach it.

A link (record kind `kiosklinks`, ids KL1, KL2 ...) opens one appointment's forms for its
patient, once. It is given two ways: the URL `<kiosk>/k/KL<n>.<secret>` (a patient's phone, a
message sent by `intake send`), the secret 32 random bytes in URL-safe base64; and a short
code typed on the waiting-room tablet, like `12-ABCD-EFGH`: the link's number, then 8 characters of
an alphabet without look-alikes (no 0/O, 1/I), 40 random bits. The number finds the link
without a scan; an attacker guessing codes faces 2**40 per link and the kiosk's per-client
limit (intake.yaml kiosk.code_attempts an hour). The store keeps the SHA-256 of the secret and
of the code only, compared in constant time.

A link lasts intake.yaml kiosk.link_hours (default 24) from its making, and at least to the end
of its visit's day; it ends at its first submission (`consume`, inside the submission's
transaction) or when a newer link is made for the same appointment (the older unused ones are
retired). Unknown, expired, used and retired links all get the one answer, so that a browser
learns nothing about which.

Tablets (kind `kiosks`, ids KD1 ...) carry a token `KD<n>.<secret>` (stored as SHA-256) that the
kiosk asks of every request when it serves off loopback; a revoked tablet is refused at once.
"""

from __future__ import annotations

import base64
import os
import re
from datetime import datetime, time, timedelta
from typing import Any

from medsec import clock
from medsec.digests import equal, sha256_hex
from medsec.errors import InvalidInput, NotFound, Refused
from medsec.records import intake as intake_records
from medsec.records.patients import get_patient
from medsec.scheduling.appointments import get_appointment
from medsec.store.api import Writer
from medsec.store.catalog import KIOSK_DEVICES, KIOSK_LINKS
from medsec.text import clean_text, shown

GONE = "this link has expired or was already used"
LINKABLE = ("booked", "confirmed", "arrived")
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 characters: no 0/O, no 1/I
CODE_LENGTH = 8
DEFAULT_URL = "http://127.0.0.1:8470/"
_CODE_TEXT = re.compile(r"[0-9]{1,9}[" + CODE_ALPHABET + "]{8}")


def _secret() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()


def _digest(text: str) -> str:
    return sha256_hex(text.encode())


def _code_secret() -> str:
    data = os.urandom(CODE_LENGTH)
    return "".join(CODE_ALPHABET[b % len(CODE_ALPHABET)] for b in data)  # 256 % 32 == 0: unbiased


def kiosk_settings(app) -> dict:
    return intake_records.settings(app).get("kiosk") or {}


def link_hours(app) -> int:
    return int(kiosk_settings(app).get("link_hours") or 24)


def kiosk_url(app) -> str:
    url = str(kiosk_settings(app).get("url") or DEFAULT_URL)
    return url if url.endswith("/") else url + "/"


# -- links -------------------------------------------------------------------------------
def _default_forms(app, patient: dict) -> list[str]:
    return intake_records.to_fill(app, patient, app.today())


def _language(app, patient: dict, language: str | None) -> str:
    lang = (language or patient.get("language") or "en").strip().lower()
    known = {code for form in intake_records.forms(app).values() for code in form.languages}
    if lang not in known:
        if language:
            raise InvalidInput(f"--lang {shown(language)}: the forms are in {', '.join(sorted(known))}")
        lang = "en"
    return lang


def create_link(app, appt_id: str, forms: list[str] | None = None, language: str | None = None) -> dict:
    """A one-time link and code for the appointment's patient to fill `forms` (default: the
    forms the patient needs, else every required one); the older unused links of the
    appointment are retired. Audited."""
    appt = get_appointment(app, appt_id)
    if appt["status"] not in LINKABLE:
        raise Refused(f"{appt['id']} is {appt['status']}: links are for booked, confirmed or arrived visits")
    patient = get_patient(app, appt["patient_id"])
    if patient.get("status") != "active":
        raise Refused(f"{patient['id']} is {patient.get('status')}: intake is for active patients")
    chosen = [f.id for f in intake_records.pick_forms(app, list(forms) if forms else _default_forms(app, patient))]
    if not chosen:
        raise InvalidInput("no forms to fill", hint="name them with --form")
    lang = _language(app, patient, language)
    secret, code = _secret(), _code_secret()
    now = app.now()
    stamp = clock.iso(now)
    with app.store.transaction() as txn:
        for old in txn.get_many(KIOSK_LINKS, txn.lookup("kiosklink-appt", appt["id"])):
            if not old.get("used") and not old.get("retired"):
                txn.put(KIOSK_LINKS, {**old, "retired": stamp}, old)
        (link_id,) = txn.reserve_ids(KIOSK_LINKS)
        record = {"id": link_id, "appt_id": appt["id"], "patient_id": patient["id"], "forms": chosen,
                  "language": lang, "created": stamp, "created_by": app.user,
                  "expires": clock.iso(_expiry(app, appt, now)),
                  "secret_sha256": _digest(secret), "code_sha256": _digest(code),
                  "used": None, "submission": None, "retired": None}
        txn.put(KIOSK_LINKS, record)
    app.audit("intake-link", [link_id, patient["id"], appt["id"]])
    number = KIOSK_LINKS.number(link_id)
    return {"id": link_id, "appt_id": appt["id"], "patient_id": patient["id"], "forms": chosen, "language": lang,
            "expires": record["expires"], "url": f"{kiosk_url(app)}k/{link_id}.{secret}",
            "code": f"{number}-{code[:4]}-{code[4:]}"}


def _expiry(app, appt: dict, now: datetime) -> datetime:
    """When a link ends: kiosk.link_hours after it is made, but not before the end of its visit's
    day (a link sent the day before still opens in the waiting room)."""
    day = clock.stored_moment(appt["start"], app.tz).date()
    end_of_visit_day = datetime.combine(day, time(23, 59), tzinfo=app.tz)
    return max(now + timedelta(hours=link_hours(app)), end_of_visit_day)


def _live(app, record: dict | None) -> dict:
    """The link if it may still be used; Refused (one message for every reason) otherwise."""
    if record is None or record.get("used") or record.get("retired") \
            or app.now() >= datetime.fromisoformat(record["expires"]):
        raise Refused(GONE)
    return record


def live(app, link_id: str) -> dict:
    """The live link `link_id` (the kiosk has checked what proves it); Refused (GONE) otherwise."""
    record = app.store.snapshot().get(KIOSK_LINKS, link_id) if KIOSK_LINKS.number(link_id) is not None else None
    return _live(app, record)


def resolve(app, token: str) -> dict:
    """The live link the token `KL<n>.<secret>` names; Refused (GONE) otherwise. (Its code is
    never a token: codes are tried by the kiosk's POST /code only, which limits the tries.)"""
    link_id, _, secret = str(token).strip().partition(".")
    record = None
    if secret and KIOSK_LINKS.number(link_id) is not None:
        record = app.store.snapshot().get(KIOSK_LINKS, link_id)
    if record is None or not equal(record.get("secret_sha256", ""), _digest(secret)):
        raise Refused(GONE)
    return _live(app, record)


def resolve_code(app, code: str) -> dict:
    """The live link a typed code (`12-ABCD-EFGH`, any case, spaces and dashes optional) names."""
    text = re.sub(r"[\s-]", "", str(code)[:40]).upper()
    if not _CODE_TEXT.fullmatch(text):
        raise Refused(GONE)
    number, secret = text[:-CODE_LENGTH], text[-CODE_LENGTH:]
    record = app.store.snapshot().get(KIOSK_LINKS, f"KL{int(number)}")
    if record is None or not equal(record.get("code_sha256", ""), _digest(secret)):
        raise Refused(GONE)
    return _live(app, record)


def consume(txn: Writer, app, link_id: str, submission: str | None = None) -> dict:
    """Mark the link used, inside the submission's transaction (re-read there: two submissions
    of one link cannot both pass)."""
    record = _live(app, txn.get(KIOSK_LINKS, link_id))
    done = {**record, "used": clock.iso(app.now()), "submission": submission}
    txn.put(KIOSK_LINKS, done, record)
    return done


# -- tablets -----------------------------------------------------------------------------
def enrol(app, name: str) -> tuple[dict, str]:
    """A new tablet named `name`: its record and its token (shown once). Audited."""
    name = clean_text(name, "name", 60).strip()
    if not name:
        raise InvalidInput("give the tablet a name (e.g. 'front desk tablet')")
    secret = _secret()
    with app.store.transaction() as txn:
        (device_id,) = txn.reserve_ids(KIOSK_DEVICES)
        record = {"id": device_id, "name": name, "secret_sha256": _digest(secret), "created": clock.iso(app.now()),
                  "created_by": app.user, "revoked": None, "revoked_by": None}
        txn.put(KIOSK_DEVICES, record)
    app.audit("kiosk-device-add", [device_id], outcome=f"ok: {name}")
    return _shown_device(record), f"{device_id}.{secret}"


def _shown_device(record: dict) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "secret_sha256"}


def list_devices(app) -> list[dict]:
    """Every tablet, newest first, without its digest."""
    rows = [_shown_device(r) for r in app.store.snapshot().scan(KIOSK_DEVICES)]
    return sorted(rows, key=lambda r: KIOSK_DEVICES.number(r["id"]) or 0, reverse=True)


def revoke(app, device_id: str) -> bool:
    """Revoke tablet `device_id` (at once); False when it was revoked already. Audited."""
    key = str(device_id).strip().upper()
    if KIOSK_DEVICES.number(key) is None:
        raise InvalidInput(f"{shown(device_id, 20)} is not a tablet id (KD<n>)")
    with app.store.transaction() as txn:
        record = txn.get(KIOSK_DEVICES, key)
        if record is None:
            raise NotFound(f"no tablet {key}", hint="see 'medsec intake device list'")
        if record.get("revoked"):
            done = False
        else:
            txn.put(KIOSK_DEVICES, {**record, "revoked": clock.iso(app.now()), "revoked_by": app.user}, record)
            done = True
    app.audit("kiosk-device-revoke", [key], outcome="ok" if done else "ok: already revoked")
    return done


def device_of(app, token: str | None) -> dict | None:
    """The enrolled, unrevoked tablet the token names, or None."""
    device_id, _, secret = str(token or "").strip().partition(".")
    if not secret or KIOSK_DEVICES.number(device_id) is None:
        return None
    record = app.store.snapshot().get(KIOSK_DEVICES, device_id)
    if record is None or not equal(record.get("secret_sha256", ""), _digest(secret)) or record.get("revoked"):
        return None
    return _shown_device(record)
