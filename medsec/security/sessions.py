"""Sessions and credentials in the practice's store (every terminal sees a session end at once).

A session token is `SN<n>.<secret>`: the record's id and 32 random bytes (URL-safe base64).
The store keeps only the secret's SHA-256, so a copy of the store (a backup, a replica) holds
no token that works. A session ends when it has been idle longer than `sign_in.idle_minutes`,
when it is older than `sign_in.absolute_hours` (practice.yaml), at `logout`, or when its staff
member is deactivated. Its last use is written at most once a minute (a read command does not
write on every run), so idle time is known to the minute.

A credential (one per staff member, found by the index `credential-staff`) holds the Argon2id
hash of the passphrase and the failed attempts since the last good one: `lockout_attempts` in a
row lock the account for `lockout_minutes`; and the member's signing keys (medsec.security.keys):
every public key they have had, and the current private key wrapped under the passphrase. A
session opened by a passphrase carries that private key wrapped under its own secret.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from medsec.digests import equal, sha256_hex
from medsec.errors import EnvironmentFailure, InvalidInput, Refused
from medsec.store.api import Record
from medsec.store.catalog import CREDENTIALS, SESSIONS

if TYPE_CHECKING:
    from medsec.context import AppContext

DEFAULTS = {"idle_minutes": 15, "absolute_hours": 12, "lockout_attempts": 5, "lockout_minutes": 15}
TOUCH_EVERY = timedelta(minutes=1)  # how stale a session's last use may be before a command rewrites it
SESSION_ENV = "MEDSEC_SESSION"


def settings(app: AppContext) -> dict[str, int]:
    """practice.yaml's sign_in settings (checked by medsec.config), the defaults for those not set."""
    given = app.config("practice.yaml").get("sign_in") or {}
    return {key: int(given.get(key, default)) for key, default in DEFAULTS.items()}


def _digest(secret: str) -> str:
    return sha256_hex(secret.encode())


def open_session(app: AppContext, staff_id: str, via: str = "passphrase",
                 carry: dict[str, bytes] | None = None, carry_key: str | None = None) -> str:
    """A new session for `staff_id`; its token (shown once, never stored). `carry`: secrets the
    session holds until it ends (the signing key, `carry_key` its id), wrapped under a key derived
    from the token's secret (medsec.security.keys), so that only the token's holder opens them."""
    import base64  # (only a new session or token pays for it)

    secret = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()  # as secrets.token_urlsafe(32)
    now = app.now()
    hours = settings(app)["absolute_hours"]
    with app.store.transaction() as txn:
        (session_id,) = txn.reserve_ids(SESSIONS)
        record: dict[str, Any] = {"id": session_id, "staff_id": staff_id, "secret_sha256": _digest(secret), "via": via,
                  "created": now.isoformat(timespec="seconds"), "last_used": now.isoformat(timespec="seconds"),
                  "expires": (now + timedelta(hours=hours)).isoformat(timespec="seconds"),
                  "ended": None, "ended_why": None}
        if carry:
            from medsec.security.keys import seal_for_session

            record.update(carry=seal_for_session(session_id, staff_id, secret, carry), carry_key=carry_key)
        txn.put(SESSIONS, record)
    return f"{session_id}.{secret}"


def session_of(app: AppContext, token: str) -> Record:
    """The live session `token` names, its last use brought up to date; Refused (exit 1) for a
    token that names none, or a session that ended (the reason, and to sign in again)."""
    session_id, _, secret = token.strip().partition(".")
    record = None
    if secret and SESSIONS.number(session_id) is not None:
        record = app.store.snapshot().get(SESSIONS, session_id)
    if record is None or not equal(record.get("secret_sha256", ""), _digest(secret)):
        raise Refused(f"${SESSION_ENV} is not a session of this practice", hint=_AGAIN)
    why = ended(app, record)
    if why:
        raise Refused(f"your session {record['id']} {why}", hint=_AGAIN)
    if app.now() - datetime.fromisoformat(record["last_used"]) >= TOUCH_EVERY:
        _touch(app, record["id"])
    return record


_AGAIN = 'sign in again: eval "$(medsec login)"'


def ended(app: AppContext, record: Record) -> str | None:
    """Why session `record` is over ("ended at logout" ...), None while it is live."""
    if record.get("ended"):
        return f"ended ({record.get('ended_why') or 'signed out'})"
    now = app.now()
    if now >= datetime.fromisoformat(record["expires"]):
        return f"expired at {record['expires']} (sessions last {settings(app)['absolute_hours']} h)"
    idle = timedelta(minutes=settings(app)["idle_minutes"])
    if now - datetime.fromisoformat(record["last_used"]) >= idle:
        return f"expired after {settings(app)['idle_minutes']} min without a command"
    return None


def _touch(app: AppContext, session_id: str) -> None:
    with app.store.transaction() as txn:
        record = txn.get(SESSIONS, session_id)
        if record is not None and not record.get("ended"):
            txn.put(SESSIONS, {**record, "last_used": app.now().isoformat(timespec="seconds")}, old=record)


def end_sessions(app: AppContext, staff_id: str | None = None, session_id: str | None = None,
                 why: str = "signed out") -> list[str]:
    """End one session, or every live session of `staff_id`; the ids ended."""
    done = []
    with app.store.transaction() as txn:
        records = ([txn.get(SESSIONS, session_id)] if session_id else
                   [r for r in txn.scan(SESSIONS) if r.get("staff_id") == staff_id])
        for record in records:
            if record is not None and not record.get("ended"):
                txn.put(SESSIONS, {**record, "ended": app.now().isoformat(timespec="seconds"), "ended_why": why,
                                   **({"carry": None} if record.get("carry") else {})}, old=record)
                done.append(record["id"])
    return done


# -- credentials --------------------------------------------------------------------------------
def credential(view: Any, staff_id: str) -> Record | None:
    ids = view.lookup("credential-staff", staff_id)
    return view.get(CREDENTIALS, ids[0]) if ids else None


def set_passphrase(app: AppContext, staff_id: str, passphrase_hash: str, keys: dict | None = None) -> None:
    """Store a new passphrase hash for `staff_id` (its failed attempts forgotten). `keys`
    (keys_for_new_passphrase): the signing key wrapped under the new passphrase,
    and the new public key if it is a new pair. Without it the old wrapped key, which the new
    passphrase does not open, is dropped (the next sign-in makes a key pair). Public keys stay."""
    from medsec.security.keys import merged_keys

    with app.store.transaction() as txn:
        old = credential(txn, staff_id)
        record_id = old["id"] if old else txn.reserve_ids(CREDENTIALS)[0]
        signing = (keys or {}).get("signing")
        if keys and keys.get("public") is None and signing and \
                ((old or {}).get("signing") or {}).get("key") != signing["key"]:
            signing = None  # a re-wrap of a key that is no longer the member's current one
        # A new key pair comes with its own key slot; a re-wrapped one keeps the slot it has.
        slots = (keys or {}).get("slots") or ((old or {}).get("slots") if signing else None)
        txn.put(CREDENTIALS, {"id": record_id, "staff_id": staff_id, "passphrase": passphrase_hash,
                              "set": app.now().isoformat(timespec="seconds"), "failures": 0, "locked_until": None,
                              "keys": merged_keys(old, (keys or {}).get("public")), "signing": signing,
                              "slots": slots},
                old=old)


def store_new_key(app: AppContext, staff_id: str, public: dict | None, signing: dict, slots: dict) -> None:
    """Keep `staff_id`'s new key pair (made at sign-in, for a member who had none) and its key slot."""
    from medsec.security.keys import merged_keys

    with app.store.transaction() as txn:
        old = credential(txn, staff_id)
        if old is not None:
            txn.put(CREDENTIALS, {**old, "keys": merged_keys(old, public), "signing": signing, "slots": slots},
                    old=old)


def keys_for_new_passphrase(app: AppContext, staff_id: str, passphrase: str, session_id: str | None) -> dict:
    """The key material `staff passphrase` stores with a new passphrase: the key pair the member's
    own session (`session_id`, signed in as `staff_id`) carries, re-wrapped, when they change their
    own; else a new key pair."""
    from medsec.security.keys import new_key_pair, rewrapped
    from medsec.security.vault import member_slot

    carried = _carried_key(app, staff_id, session_id) if session_id else None
    if carried is not None:
        kid, private = carried
        return {"public": None, "signing": rewrapped(staff_id, kid, private, passphrase)}
    public, signing, private = new_key_pair(staff_id, passphrase, app.now().isoformat(timespec="seconds"))
    return {"public": public, "signing": signing, "slots": member_slot(app, staff_id, private)}


def _carried_key(app: AppContext, staff_id: str, session_id: str) -> tuple[str, bytes] | None:
    """(key id, private key) session `session_id` of `staff_id` carries; None otherwise."""
    from medsec.security.keys import CARRY_SIGNING, open_carry

    token = os.environ.get(SESSION_ENV)
    if not token or not session_id.startswith(SESSIONS.prefix):
        return None
    session = app.store.snapshot().get(SESSIONS, session_id)
    if session is None or session.get("staff_id") != staff_id:
        return None
    private = open_carry(session, token, CARRY_SIGNING)
    kid = session.get("carry_key")
    return (kid, private) if private is not None and isinstance(kid, str) else None


def signing_key_at_login(app: AppContext, staff_id: str, passphrase: str) -> tuple[str, bytes] | str:
    """At sign-in (the passphrase just checked): (key id, private key) for the session to carry, the
    key pair made now if the member has none yet; or why there is none (a damaged key: one line)."""
    from medsec.security.keys import new_key_pair, unwrap_signing
    from medsec.security.vault import member_slot

    record = credential(app.store.snapshot(), staff_id) or {}
    if isinstance(record.get("signing"), dict):
        try:
            kid, private = unwrap_signing(record, passphrase)
        except EnvironmentFailure as exc:
            return f"{exc.message}: this session cannot sign (an administrator resets the passphrase)"
        if not (record.get("slots") or {}).get("public"):  # a key pair from before key slots: its slot now
            store_new_key(app, staff_id, None, record["signing"], member_slot(app, staff_id, private, boxed=False))
        return kid, private
    public, signing, private = new_key_pair(staff_id, passphrase, app.now().isoformat(timespec="seconds"))
    store_new_key(app, staff_id, public, signing, member_slot(app, staff_id, private, boxed=False))
    return signing["key"], private


def clear_passphrase(app: AppContext, staff_id: str) -> bool:
    """Forget `staff_id`'s passphrase (offboarding); whether there was one."""
    with app.store.transaction() as txn:
        old = credential(txn, staff_id)
        if old is None or old.get("passphrase") is None:
            return False
        # The wrapped private key goes with the passphrase; the public keys stay (old signatures verify).
        # So does the key slot: a member who left no longer opens an encrypted practice's data.
        txn.put(CREDENTIALS, {**old, "passphrase": None, "failures": 0, "locked_until": None, "signing": None,
                              "slots": None}, old=old)
    return True


def check_passphrase(app: AppContext, staff_id: str, passphrase: str) -> None:
    """Nothing when `passphrase` is `staff_id`'s; Refused (exit 1) when it is not, when the account
    is locked, or when no passphrase is set. Failures are counted (and lock the account) in the
    same transaction that reads them, so parallel guesses are counted too."""
    from medsec.security.passphrase import hash_passphrase, needs_rehash, verify

    limits = settings(app)
    with app.store.transaction() as txn:
        record = credential(txn, staff_id)
        if record is None or not record.get("passphrase"):
            raise Refused(f"{staff_id} has no passphrase", hint=f"an administrator sets one: medsec staff passphrase "
                                                                f"{staff_id}")
        now = app.now()
        locked = record.get("locked_until")
        if locked and now < datetime.fromisoformat(locked):
            raise Refused(f"{staff_id} is locked after {limits['lockout_attempts']} wrong passphrases until {locked}")
        if verify(record["passphrase"], passphrase):
            stored = hash_passphrase(passphrase) if needs_rehash(record["passphrase"]) else record["passphrase"]
            if record.get("failures") or locked or stored != record["passphrase"]:  # (new parameters: a new hash)
                txn.put(CREDENTIALS, {**record, "passphrase": stored, "failures": 0, "locked_until": None},
                        old=record)
            return
        failures = int(record.get("failures") or 0) + 1
        lock = None
        if failures >= limits["lockout_attempts"]:
            lock = (now + timedelta(minutes=limits["lockout_minutes"])).isoformat(timespec="seconds")
            failures = 0
        txn.put(CREDENTIALS, {**record, "failures": failures, "locked_until": lock}, old=record)
    # Outside the transaction: the failure is counted (committed) before the refusal is raised.
    if lock:
        raise Refused(f"wrong passphrase: {staff_id} is locked until {lock}")
    raise Refused("wrong passphrase", hint=f"{limits['lockout_attempts'] - failures} more before the account locks")


def require_token_shape(token: str) -> str:
    """A session or service token as given (whitespace trimmed); InvalidInput when it cannot be one."""
    token = token.strip()
    if not token or len(token) > 200 or any(not (c.isascii() and (c.isalnum() or c in "._-")) for c in token):
        raise InvalidInput("the session or service token given is not one (SN<n>.<secret> or TK<n>.<secret>)")
    return token
