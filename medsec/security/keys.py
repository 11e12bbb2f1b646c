"""Staff signing keys: an Ed25519 key pair per member, the private key wrapped under the passphrase,
and carried by a session (wrapped under the session's secret) so that signing asks nothing again.

Where the pieces live (all in the store, so both backends keep them the same way):

- the member's credential record (medsec.security.sessions) holds `keys`, every public key the
  member has had ({"id", "public", "from"}: a signature made years ago still verifies after any
  number of passphrase changes), and `signing`, the current private key wrapped (`wrap`) under a
  key derived from the passphrase: Argon2id (argon2-cffi's raw hash, the passphrase hash's
  parameters, its own salt) and AES-256-GCM, with the member's id and the key's id as associated
  data, so a box moved to another member, or to another key, does not open;
- a session record holds `carry`: the same private key wrapped under a key derived (HKDF-SHA256)
  from the session token's secret. Only the shell that signed in holds that secret
  ($MEDSEC_SESSION); the store keeps its SHA-256, so a copy of the store cannot sign.

`wrap`/`unwrap` (a secret under a passphrase) and `seal_for_session`/`open_carry` (secrets a
session carries until it ends) are written for any secret, not only a signing key: a session also
carries the data keys of a practice encrypted at rest (medsec.security.vault, whose key slots are
opened by a key pair derived from the signing key).

A passphrase set by its member while signed in re-wraps the key the session carries (the same
key pair, a new box); set by someone else (a reset: the old passphrase is forgotten) or with no
such session, a new key pair is made and the old public keys kept. A credential with no key (a
practice from before signatures, the first administrator made by `init`) gets its key pair at the
member's next sign-in. Deactivating a member forgets the wrapped private key with the passphrase.
Those decisions are made where the credentials and sessions are (medsec.security.sessions:
`keys_for_new_passphrase`, `signing_key_at_login`); this module only does the cryptography.

`cryptography` is imported inside the functions: only the commands that sign, verify, sign in or
set a passphrase pay for it (tests/test_cli_contract.py).
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import TYPE_CHECKING, Any

from medsec.digests import sha256_hex
from medsec.errors import EnvironmentFailure

if TYPE_CHECKING:
    from medsec.store.api import Record

ALG = "ed25519"
KEY_BYTES = 32  # an Ed25519 private key (raw), and every derived AES-256 key
NONCE_BYTES = 12  # AES-GCM's 96-bit nonce, random per box (a box is written a few times per member)
SALT_BYTES = 16
CARRY_SIGNING = "signing"  # the name of the signing key in a session's carry


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: Any, what: str) -> bytes:
    """`text` decoded; EnvironmentFailure (damage, exit 3) when it is not base64."""
    if not isinstance(text, str) or not text.isascii():
        raise EnvironmentFailure(f"{what} is damaged (not base64 text)")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError):
        raise EnvironmentFailure(f"{what} is damaged (not base64 text)") from None


def key_id(public: bytes) -> str:
    """A public key's id: 'K' and the first 16 hex digits of its SHA-256 (unique across members)."""
    return "K" + sha256_hex(public)[:16]


# -- a secret wrapped under a passphrase ---------------------------------------------------------------
def _kdf_params() -> dict[str, int]:
    from medsec.security.passphrase import MEMORY_COST_KIB, PARALLELISM, TIME_COST

    return {"t": TIME_COST, "m": MEMORY_COST_KIB, "p": PARALLELISM}


def _passphrase_key(passphrase: str, salt: bytes, params: dict[str, Any]) -> bytes:
    from argon2.low_level import Type, hash_secret_raw

    from medsec.security.passphrase import (
        MAX_STORED_MEMORY_KIB,
        MAX_STORED_PARALLELISM,
        MAX_STORED_TIME_COST,
        passphrase_bytes,
    )

    values = [params.get(k) for k in ("t", "m", "p")]
    if not all(type(v) is int and v > 0 for v in values):
        raise EnvironmentFailure("a wrapped key's parameters are damaged")
    t, m, p = (int(v) for v in values)  # type: ignore[arg-type]
    if t > MAX_STORED_TIME_COST or m > MAX_STORED_MEMORY_KIB or p > MAX_STORED_PARALLELISM or m < 8 * p:
        raise EnvironmentFailure("a wrapped key's parameters are damaged")
    secret = passphrase_bytes(passphrase) or b""
    return hash_secret_raw(secret, salt, time_cost=t, memory_cost=m, parallelism=p, hash_len=KEY_BYTES,
                           type=Type.ID)


def wrap(secret: bytes, passphrase: str, aad: bytes) -> dict:
    """`secret` encrypted (AES-256-GCM) under a key derived from `passphrase` (Argon2id, fresh salt)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt, nonce, params = os.urandom(SALT_BYTES), os.urandom(NONCE_BYTES), _kdf_params()
    box = AESGCM(_passphrase_key(passphrase, salt, params)).encrypt(nonce, secret, aad)
    return {"kdf": "argon2id", **params, "salt": b64(salt), "nonce": b64(nonce), "box": b64(box)}


def unwrap(wrapped: Any, passphrase: str, aad: bytes, what: str) -> bytes:
    """The secret `wrap` wrapped; EnvironmentFailure when the box is damaged, or does not open with
    `passphrase` and `aad` (moved to another member or key, or edited)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not isinstance(wrapped, dict) or wrapped.get("kdf") != "argon2id":
        raise EnvironmentFailure(f"{what} is damaged")
    salt, nonce = unb64(wrapped.get("salt"), what), unb64(wrapped.get("nonce"), what)
    if len(nonce) != NONCE_BYTES or len(salt) < 8:
        raise EnvironmentFailure(f"{what} is damaged")
    try:
        return AESGCM(_passphrase_key(passphrase, salt, wrapped)).decrypt(nonce, unb64(wrapped.get("box"), what), aad)
    except InvalidTag:
        raise EnvironmentFailure(f"{what} does not open (it was changed, or moved from another member)") from None


# -- secrets a session carries --------------------------------------------------------------------------
def _session_key(session_id: str, secret: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                info=f"medsec session carry {session_id}".encode()).derive(secret.encode())


def seal_for_session(session_id: str, staff_id: str, secret: str, items: dict[str, bytes]) -> dict:
    """`items` (name -> secret bytes) encrypted under a key derived from the session token's secret."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(_session_key(session_id, secret))
    out = {}
    for name, value in items.items():
        nonce = os.urandom(NONCE_BYTES)
        out[name] = {"nonce": b64(nonce),
                     "box": b64(aead.encrypt(nonce, value, f"{session_id} {staff_id} {name}".encode()))}
    return out


def open_carry(session: Record, token: str, name: str) -> bytes | None:
    """What session `session` carries as `name`, opened with the token's secret; None when it carries
    nothing by that name, or the box does not open (the token is not this session's, or it changed)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    item = (session.get("carry") or {}).get(name) if isinstance(session.get("carry"), dict) else None
    session_id, _, secret = token.strip().partition(".")
    if not isinstance(item, dict) or session_id != session.get("id") or not secret:
        return None
    try:
        nonce, box = unb64(item.get("nonce"), "a session's key"), unb64(item.get("box"), "a session's key")
        return AESGCM(_session_key(session_id, secret)).decrypt(
            nonce, box, f"{session_id} {session.get('staff_id')} {name}".encode())
    except (InvalidTag, ValueError, EnvironmentFailure):
        return None


# -- signing keys ---------------------------------------------------------------------------------------
def _aad(staff_id: str, kid: str) -> bytes:
    return f"medsec signing key {staff_id} {kid}".encode()


def new_key_pair(staff_id: str, passphrase: str, now: str) -> tuple[dict, dict, bytes]:
    """A new Ed25519 key pair: (its public entry for `keys`, the wrapped private key for `signing`,
    the raw private key)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes_raw()
    public = private.public_key().public_bytes_raw()
    kid = key_id(public)
    return ({"id": kid, "alg": ALG, "public": b64(public), "from": now},
            {"key": kid, **wrap(raw, passphrase, _aad(staff_id, kid))}, raw)


def rewrapped(staff_id: str, kid: str, private: bytes, passphrase: str) -> dict:
    """The private key `kid` wrapped under a new passphrase (the same key pair)."""
    return {"key": kid, **wrap(private, passphrase, _aad(staff_id, kid))}


def unwrap_signing(credential: Record, passphrase: str) -> tuple[str, bytes]:
    """(key id, raw private key) of the credential's wrapped signing key; EnvironmentFailure when damaged."""
    signing = credential.get("signing")
    kid = signing.get("key") if isinstance(signing, dict) else None
    what = f"{credential.get('staff_id')}'s signing key"
    if not isinstance(kid, str) or not any(isinstance(k, dict) and k.get("id") == kid
                                           for k in credential.get("keys") or []):
        raise EnvironmentFailure(f"{what} is damaged")
    private = unwrap(signing, passphrase, _aad(str(credential.get("staff_id")), kid), what)
    if len(private) != KEY_BYTES:
        raise EnvironmentFailure(f"{what} is damaged")
    return kid, private


def merged_keys(old: Record | None, public: dict | None) -> list[dict]:
    """The credential's public keys, with `public` added (each key kept once)."""
    keys = [k for k in (old or {}).get("keys") or [] if isinstance(k, dict)]
    if public is not None and all(k.get("id") != public["id"] for k in keys):
        keys.append(public)
    return keys


def public_keys(view: Any) -> dict[str, tuple[str, dict]]:
    """Every member's public keys: key id -> (staff id, its entry)."""
    from medsec.store.catalog import CREDENTIALS

    out: dict[str, tuple[str, dict]] = {}
    for record in view.scan(CREDENTIALS):
        for entry in record.get("keys") or []:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                out.setdefault(entry["id"], (str(record.get("staff_id")), entry))
    return out
