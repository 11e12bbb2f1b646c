"""Service tokens: how cron and scripts act on a signed-in practice without a person's session.

A token carries a role (`--role reminders`: a role of roles.yaml, or a default one), not a
person: whatever runs with it may do what that role may, and the audit names the token
(`token TK3 reminders`). It is `TK<n>.<secret>`, shown once at `token create`; the store keeps
the secret's SHA-256 only. It ends at its expiry date or when revoked (`token revoke`, or the
deactivation of the member who created it), at once on every terminal. A script gives it in
$MEDSEC_TOKEN or `--token-file FILE` (a file only its owner may read).
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from medsec.digests import equal, sha256_hex
from medsec.errors import InvalidInput, NotFound, Refused
from medsec.store.api import Record
from medsec.store.catalog import TOKENS

if TYPE_CHECKING:
    from medsec.context import AppContext

TOKEN_ENV = "MEDSEC_TOKEN"
MAX_DAYS = 1826  # five years: a token that never expires is a password nobody remembers to change
_DURATION = re.compile(r"([1-9][0-9]{0,3})d")
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def _digest(secret: str) -> str:
    return sha256_hex(secret.encode())


def expiry_days(text: str) -> int:
    """`--expires 365d`: a number of days from 1 to MAX_DAYS; InvalidInput otherwise."""
    match = _DURATION.fullmatch(text.strip())
    if not match or int(match.group(1)) > MAX_DAYS:
        raise InvalidInput(f"--expires {text[:20]!r} is not a number of days from 1d to {MAX_DAYS}d (e.g. 365d)")
    return int(match.group(1))


def create_token(app: AppContext, name: str, role: str, days: int) -> tuple[Record, str]:
    """A new token for `role`, valid `days` days; its record and the token itself (shown once)."""
    if not _NAME.fullmatch(name):
        raise InvalidInput(f"token name {name[:40]!r}: lower-case letters, digits and dashes, at most 40")
    import base64  # (only a new session or token pays for it)

    secret = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()  # as secrets.token_urlsafe(32)
    from medsec.security.vault import token_slot

    now = app.now()
    with app.store.transaction() as txn:
        (token_id,) = txn.reserve_ids(TOKENS)
        record = {"id": token_id, "name": name, "role": role, "secret_sha256": _digest(secret),
                  "created": now.isoformat(timespec="seconds"), "created_by": app.user,
                  "expires": (now + timedelta(days=days)).isoformat(timespec="seconds"),
                  "revoked": None, "revoked_by": None,
                  # its key slot: what opens the data of a practice encrypted at rest (medsec.security.vault)
                  "slots": token_slot(app, token_id, secret)}
        txn.put(TOKENS, record)
    return record, f"{token_id}.{secret}"


def token_of(app: AppContext, token: str) -> Record:
    """The live token `token` names; Refused (exit 1) for one that names none, expired or was revoked."""
    token_id, _, secret = token.strip().partition(".")
    record = None
    if secret and TOKENS.number(token_id) is not None:
        record = app.store.snapshot().get(TOKENS, token_id)
    if record is None or not equal(record.get("secret_sha256", ""), _digest(secret)):
        raise Refused(f"${TOKEN_ENV} is not a token of this practice")
    if record.get("revoked"):
        raise Refused(f"token {record['id']} ({record['name']}) was revoked at {record['revoked']}")
    if app.now() >= datetime.fromisoformat(record["expires"]):
        raise Refused(f"token {record['id']} ({record['name']}) expired at {record['expires']}",
                      hint="create another: medsec token create")
    return record


def list_tokens(app: AppContext) -> list[Record]:
    """Every token, newest first, without its digest."""
    rows = [{k: v for k, v in r.items() if k not in ("secret_sha256", "slots")}
            for r in app.store.snapshot().scan(TOKENS)]
    return sorted(rows, key=lambda r: TOKENS.number(r["id"]) or 0, reverse=True)


def revoke(app: AppContext, token_id: str | None = None, created_by: str | None = None) -> list[str]:
    """Revoke token `token_id`, or every live token `created_by` made (offboarding); the ids revoked."""
    if token_id is not None and TOKENS.number(token_id) is None:
        raise InvalidInput(f"{token_id[:20]!r} is not a token id (TK<n>)")
    done = []
    with app.store.transaction() as txn:
        if token_id is not None:
            found = txn.get(TOKENS, token_id.upper())
            if found is None:
                raise NotFound(f"no token {token_id.upper()}", hint="see 'medsec token list'")
            records = [found]
        else:
            records = [r for r in txn.scan(TOKENS) if r.get("created_by") == created_by]
        for record in records:
            if not record.get("revoked"):
                txn.put(TOKENS, {**record, "revoked": app.now().isoformat(timespec="seconds"), "revoked_by": app.user,
                                 "slots": None}, old=record)
                done.append(record["id"])
    return done
