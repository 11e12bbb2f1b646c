"""Key slots of a practice encrypted at rest (medsec.atrest): one data key, wrapped for each holder
that may open it (LUKS's key slots; age's recipients).

Each holder has an X25519 key pair:

- a staff member's is derived (HKDF) from their Ed25519 signing key (medsec.security.keys), so the
  one Argon2id run at sign-in that opens the signing key opens the slot too, and a passphrase
  change re-wraps the signing key without touching the slot;
- a service token's is derived from the token's secret, which only its holder has;
- the recovery key's from 32 random bytes printed once (MSRK-...), kept by the practice's officer.

The public halves are kept (in each credential and token, and in the recovery's record: a
credential whose staff_id is "(recovery)"), so an administrator gives a member or a token a slot
(at `encrypt`, `rekey` or a passphrase reset) without knowing their secret. A slot is
`{"public": X25519 public key, "boxes": {data key id: box}}`; a box is the data key encrypted to
the public key (an ephemeral X25519 exchange, HKDF-SHA256, AES-256-GCM; the holder and the key
id as associated data, so a box moved to another holder or key does not open). While a rekey runs,
slots hold boxes for both keys.

A session carries the data keys it opened at sign-in (`data:<key id>` in its carry, wrapped under
its token's secret: medsec.security.keys) until it ends. `encrypt` and `rekey` re-carry their own
session's keys and end every other session (whose keys are no longer the practice's).
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import TYPE_CHECKING, Any

from medsec import atrest
from medsec.errors import EnvironmentFailure, InvalidInput, Refused
from medsec.security.keys import b64, unb64
from medsec.store.api import Record
from medsec.store.catalog import CREDENTIALS, TOKENS

if TYPE_CHECKING:
    from medsec.context import AppContext

RECOVERY_HOLDER = "(recovery)"
CARRY_PREFIX = "data:"
RECOVERY_PREFIX = "MSRK"
_CHECK_BYTES = 2  # a recovery key ends in a checksum: a typo is told from a wrong key


# -- key pairs and boxes -------------------------------------------------------------------------
def _derive(seed: bytes, purpose: str) -> Any:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=f"medsec key slot: {purpose}".encode()).derive(seed)
    return X25519PrivateKey.from_private_bytes(raw)


def member_private(signing_private: bytes) -> Any:
    return _derive(signing_private, "staff member")


def token_private(secret: str) -> Any:
    return _derive(secret.encode(), "service token")


def recovery_private(secret: bytes) -> Any:
    return _derive(secret, "recovery key")


def public_text(private: Any) -> str:
    return b64(private.public_key().public_bytes_raw())


def _box_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient,
                info=b"medsec key slot box").derive(shared)


def _aad(holder: str, kid: str) -> bytes:
    return f"medsec key slot {holder} {kid}".encode()


def box(public: str, data_key: bytes, holder: str, kid: str) -> dict[str, str]:
    """`data_key` encrypted to the X25519 public key `public` (base64)."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    recipient = unb64(public, f"{holder}'s key slot")
    ephemeral = X25519PrivateKey.generate()
    eph_public = ephemeral.public_key().public_bytes_raw()
    key = _box_key(ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient)), eph_public, recipient)
    nonce = os.urandom(12)
    return {"eph": b64(eph_public), "nonce": b64(nonce),
            "box": b64(AESGCM(key).encrypt(nonce, data_key, _aad(holder, kid)))}


def open_box(private: Any, sealed: Any, holder: str, kid: str) -> bytes | None:
    """The data key in `sealed` for `private`'s holder; None when it does not open (a box for
    another key pair, or changed)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    what = f"{holder}'s key slot"
    if not isinstance(sealed, dict):
        raise EnvironmentFailure(f"{what} is damaged")
    eph = unb64(sealed.get("eph"), what)
    nonce = unb64(sealed.get("nonce"), what)
    if len(eph) != 32 or len(nonce) != 12:
        raise EnvironmentFailure(f"{what} is damaged")
    recipient = private.public_key().public_bytes_raw()
    try:
        key = _box_key(private.exchange(X25519PublicKey.from_public_bytes(eph)), eph, recipient)
        return AESGCM(key).decrypt(nonce, unb64(sealed.get("box"), what), _aad(holder, kid))
    except (InvalidTag, ValueError):
        return None


def slot(holder: str, public: str, keys: dict[str, bytes]) -> dict[str, Any]:
    """A holder's slot: its public key and a box for each data key of `keys` (kid -> key)."""
    return {"public": public, "boxes": {kid: box(public, key, holder, kid) for kid, key in keys.items()}}


def open_slot(holder: str, private: Any, held: Any, kids: tuple[str, ...]) -> dict[str, bytes]:
    """The data keys `kids` that `holder`'s slot `held` opens with `private` (kid -> key).
    EnvironmentFailure when the slot is damaged, or is not this key pair's."""
    what = f"{holder}'s key slot"
    if not isinstance(held, dict) or not isinstance(held.get("boxes"), dict):
        return {}
    if held.get("public") != public_text(private):
        raise EnvironmentFailure(f"{what} is damaged (it is not this key's)")
    out = {}
    for kid in kids:
        if kid in held["boxes"]:
            key = open_box(private, held["boxes"][kid], holder, kid)
            if key is None or atrest.key_id(key) != kid:
                raise EnvironmentFailure(f"{what} is damaged (its box for key {kid} does not open)",
                                         hint="an administrator gives it again: medsec rekey, or a passphrase reset")
            out[kid] = key
    return out


# -- the recovery key -----------------------------------------------------------------------------
def new_recovery_key() -> tuple[str, bytes]:
    """(the recovery key as printed, its secret): MSRK- and 55 base32 characters in groups of 5."""
    from medsec.digests import sha256_hex

    secret = os.urandom(32)
    check = bytes.fromhex(sha256_hex(secret))[:_CHECK_BYTES]
    text = base64.b32encode(secret + check).decode().rstrip("=")
    return RECOVERY_PREFIX + "-" + "-".join(text[i:i + 5] for i in range(0, len(text), 5)), secret


def parse_recovery_key(text: str) -> bytes:
    """The secret of a recovery key as printed (dashes, spaces and case ignored); InvalidInput
    (exit 2) when it is not one (its checksum tells a typo)."""
    from medsec.digests import sha256_hex

    compact = "".join(text.split()).replace("-", "").upper()
    if not compact.startswith(RECOVERY_PREFIX):
        raise InvalidInput("that is not a medsec recovery key (it starts MSRK-)")
    body = compact[len(RECOVERY_PREFIX):]
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32 + _CHECK_BYTES or bytes.fromhex(sha256_hex(raw[:32]))[:_CHECK_BYTES] != raw[32:]:
        raise InvalidInput("that recovery key is mistyped (its checksum does not match)")
    return raw[:32]


# -- who holds what -------------------------------------------------------------------------------
def vault_of(app: AppContext) -> atrest.Vault | None:
    """The practice's vault when it is encrypted at rest (None: plain, or a PostgreSQL store)."""
    return app.store.vault


def recovery_record(view: Any) -> Record | None:
    ids = view.lookup("credential-staff", RECOVERY_HOLDER)
    return view.get(CREDENTIALS, ids[0]) if ids else None


def open_recovery(view: Any, secret: bytes, kids: tuple[str, ...]) -> dict[str, bytes]:
    """The data keys the recovery key opens; InvalidInput (exit 2) when it is not this practice's."""
    record = recovery_record(view)
    private = recovery_private(secret)
    held = (record or {}).get("slots")
    if not isinstance(held, dict) or held.get("public") != public_text(private):
        raise InvalidInput("that recovery key does not open this practice")
    keys = open_slot(RECOVERY_HOLDER, private, held, kids)
    if not keys:
        raise EnvironmentFailure("the recovery key's slot holds no key of this practice")
    return keys


def session_opener(session: Record, token: str) -> Any:
    """What opens the vault for a command run in `session`: the data keys it carries."""
    from medsec.security.keys import open_carry

    def opener() -> dict[str, bytes]:
        carry = session.get("carry")
        if not isinstance(carry, dict):
            return {}
        out = {}
        for name in carry:
            if name.startswith(CARRY_PREFIX):
                key = open_carry(session, token, name)
                if key is not None:
                    out[name[len(CARRY_PREFIX):]] = key
        return out

    return opener


def token_opener(record: Record, token: str) -> Any:
    """What opens the vault for a command run with a service token: its slot, opened by its secret."""
    _, _, secret = token.strip().partition(".")

    def open_token() -> dict[str, bytes]:
        return open_slot(f"token {record['id']}", token_private(secret), record.get("slots"), _all_kids(record))

    return open_token


def _all_kids(record: Record) -> tuple[str, ...]:
    held = record.get("slots")
    boxes = held.get("boxes") if isinstance(held, dict) else None
    return tuple(boxes) if isinstance(boxes, dict) else ()


def keys_at_login(app: AppContext, credential: Record, signing_private: bytes) -> dict[str, bytes]:
    """At sign-in: the data keys the member's slot opens, for the session to carry (nothing when the
    practice is not encrypted); Refused when it is and the member holds no key to it."""
    vault = vault_of(app)
    if vault is None:
        return {}
    staff_id = str(credential.get("staff_id"))
    keys = open_slot(staff_id, member_private(signing_private), credential.get("slots"), vault.kids)
    if vault.write_kid not in keys:
        raise Refused(f"{staff_id} holds no key to this practice's encrypted data",
                      hint=f"an administrator resets the passphrase: medsec staff passphrase {staff_id}")
    return keys


def member_slot(app: AppContext, staff_id: str, signing_private: bytes, boxed: bool = True) -> dict[str, Any]:
    """A member's slot for a key pair made now: boxes for every data key the practice uses (its
    keys opened by the acting session) when it is encrypted and `boxed`, else only the public key
    (at sign-in, where no key is open: an administrator's passphrase reset gives the boxes)."""
    return slot(staff_id, public_text(member_private(signing_private)), _practice_keys(app) if boxed else {})


def token_slot(app: AppContext, token_id: str, secret: str) -> dict[str, Any]:
    """A new service token's slot (as `member_slot`)."""
    return slot(f"token {token_id}", public_text(token_private(secret)), _practice_keys(app))


def _practice_keys(app: AppContext) -> dict[str, bytes]:
    """Every data key the practice uses (kid -> key), opened by the acting session; {} when it is plain."""
    vault = vault_of(app)
    return {kid: vault.key(kid) for kid in vault.kids} if vault is not None else {}


def carry_items(keys: dict[str, bytes]) -> dict[str, bytes]:
    """A session's carry entries for data keys (kid -> key)."""
    return {CARRY_PREFIX + kid: key for kid, key in keys.items()}


def holders(view: Any) -> list[tuple[Any, Record, str]]:
    """Every record that holds a slot, with its kind and holder name: members with a passphrase,
    live tokens, the recovery key."""
    out = []
    for record in view.scan(CREDENTIALS):
        held = record.get("slots")
        if isinstance(held, dict) and held.get("public"):
            name = str(record.get("staff_id"))
            out.append((CREDENTIALS, record, name))
    for record in view.scan(TOKENS):
        held = record.get("slots")
        if isinstance(held, dict) and held.get("public") and not record.get("revoked"):
            out.append((TOKENS, record, f"token {record['id']}"))
    return out


def reslot(txn: Any, keys: dict[str, bytes]) -> list[str]:
    """Give every holder boxes for exactly `keys` (kid -> key); the holders given them."""
    done = []
    for kind, record, name in holders(txn):
        public = record["slots"]["public"]
        txn.put(kind, {**record, "slots": slot(name, public, keys)}, old=record)
        done.append(name)
    return done
