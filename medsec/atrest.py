"""Encryption at rest of a data directory: which files, in what form, under which keys.

A practice that turned it on (`medsec init --encrypt`, `medsec encrypt`) keeps every record
shard, index, attachment, outbox message and commit journal entry as an encrypted file:

    MAGIC | key id (8 bytes) | nonce (12 bytes) | AES-256-GCM ciphertext and tag

with the file's path in the data directory as associated data, so a file copied over another
one, or edited by a single bit, does not open. One data key encrypts everything; the key ids in
meta/encryption.json say which keys files may be under (two while `medsec rekey` moves them
from the old key to the new one) and which one new writes use.

What stays plain, because it must be read before anyone's key is open or holds nothing of a
patient: the configuration files (YAML people edit), medsec.yaml, meta/ (id counters, this
state), the audit log (ids and command names, never PHI), the practice's templates, the
sign-in records (credentials, sessions, service tokens: hashes and keys already wrapped) and
their index, and the caches of public tables (index/codes, index/config).

The data key itself is never stored in the clear: it is wrapped in key slots, one per staff
member (under their key pair, itself under their passphrase), one per service token and one
for the recovery key (medsec.security.vault). A command gets it from the session or token it
runs with: the gate sets `Vault.opener`, called the first time an encrypted file is read or written.

This module is the one place that encrypts and decrypts: the store's reads and commits, attachments
and the plugin API's private files all come through `encrypt`/`decrypt` (or `encrypt_path`).
`cryptography` is imported only when an encrypted file is met: a plain practice never pays for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import orjson

from medsec.errors import EnvironmentFailure, Refused

MAGIC = b"\x00medsec-encrypted 1\n"  # never the start of JSON, YAML or text
KID_BYTES = 8
NONCE_BYTES = 12
HEADER = len(MAGIC) + KID_BYTES + NONCE_BYTES
STATE_FILE = "meta/encryption.json"
CIPHER = "aes-256-gcm"
ENCRYPTING, ON, REKEYING = "encrypting", "on", "rekeying"
STATES = (ENCRYPTING, ON, REKEYING)

# What stays plain (see above): top-level folders, and index folders.
PLAIN_FOLDERS = frozenset({"audit", "meta", "templates", "credentials", "sessions", "tokens"})
PLAIN_INDEXES = frozenset({"credential-staff", "codes", "config"})

SIGN_IN_HINT = 'sign in: eval "$(medsec login)" (or give a service token)'


def protected(rel: str) -> bool:
    """Whether file `rel` (relative to the data directory) is encrypted in an encrypted practice."""
    top, _, rest = rel.partition("/")
    if not rest:
        return False  # configuration files, medsec.yaml, the journal's framing, the lock
    if top == "index":
        return rest.partition("/")[0] not in PLAIN_INDEXES
    return top not in PLAIN_FOLDERS


def key_id(key: bytes) -> str:
    """A data key's id: 16 hex digits of a SHA-256 over it (tells keys apart, reveals nothing)."""
    from medsec.digests import sha256_hex

    return sha256_hex(b"medsec data key id\0" + key)[:2 * KID_BYTES]


def encrypted_kid(raw: bytes) -> str | None:
    """The key id an encrypted file names (None: not encrypted, or too short to name one)."""
    if not raw.startswith(MAGIC) or len(raw) < HEADER:
        return None
    return raw[len(MAGIC):len(MAGIC) + KID_BYTES].hex()


def _aad(rel: str, kid: str) -> bytes:
    return b"medsec at rest\0" + rel.encode() + b"\0" + kid.encode()


class Vault:
    """One encrypted data directory's state in this process, and the data keys once opened."""

    def __init__(self, root: str, state: dict[str, Any]):
        self.root = root
        self.state: str = state["state"]
        self.write_kid: str = state["key"]
        self.kids: tuple[str, ...] = tuple(state["keys"])
        self._keys: dict[str, bytes] = {}
        self._ciphers: dict[str, Any] = {}
        # Called once, the first time a key is needed: the keys the session or token opens (kid -> key).
        self.opener: Callable[[], dict[str, bytes]] | None = None

    def adopt(self, keys: dict[str, bytes]) -> None:
        """Hold `keys` (kid -> data key), each checked against its id."""
        for kid, key in keys.items():
            if len(key) != 32 or key_id(key) != kid:
                raise EnvironmentFailure(f"data key {kid} is damaged")
            self._keys[kid] = key

    def key(self, kid: str) -> bytes:
        """Data key `kid`, opened through `opener` when not held yet."""
        if kid not in self._keys and self.opener is not None:
            opener, self.opener = self.opener, None
            self.adopt(opener())
        if kid not in self._keys:
            if not self._keys:
                raise Refused("this practice's data is encrypted: only a signed-in member or a service "
                              "token opens it", hint=SIGN_IN_HINT)
            raise EnvironmentFailure(f"data key {kid} is not among the keys this session holds",
                                     hint="sign in again (a rekey may have ended your session)")
        return self._keys[kid]

    def _cipher(self, kid: str) -> Any:
        if kid not in self._ciphers:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._ciphers[kid] = AESGCM(self.key(kid))
        return self._ciphers[kid]

    def encrypt(self, rel: str, data: bytes, kid: str | None = None) -> bytes:
        """`data` as the encrypted file `rel` (under the write key unless `kid` is given)."""
        kid = kid or self.write_kid
        nonce = os.urandom(NONCE_BYTES)
        return MAGIC + bytes.fromhex(kid) + nonce + self._cipher(kid).encrypt(nonce, data, _aad(rel, kid))

    def decrypt(self, rel: str, raw: bytes) -> bytes:
        """The plain bytes of file `rel` as read (`raw`); EnvironmentFailure (exit 3) when an encrypted
        file does not open, or a file that should be encrypted is not (written outside medsec)."""
        if not raw.startswith(MAGIC):
            if self.state == ENCRYPTING or not protected(rel):
                return raw
            raise EnvironmentFailure(f"{rel} is not encrypted in an encrypted practice (written outside medsec)",
                                     hint="run 'medsec check'; restore it from a backup")
        kid = encrypted_kid(raw)
        if kid is None or kid not in self.kids:
            raise EnvironmentFailure(f"{rel} is encrypted under a key this practice does not use",
                                     hint="run 'medsec check'; restore it from a backup")
        from cryptography.exceptions import InvalidTag

        try:
            return self._cipher(kid).decrypt(raw[len(MAGIC) + KID_BYTES:HEADER], raw[HEADER:], _aad(rel, kid))
        except InvalidTag:
            raise EnvironmentFailure(f"{rel} does not decrypt (changed outside medsec, or moved from another file)",
                                     hint="run 'medsec check'; restore it from a backup") from None


# -- the vaults of this process ----------------------------------------------------------
_vaults: dict[str, Vault | None] = {}


def state_of(root: str) -> dict[str, Any] | None:
    """meta/encryption.json of data directory `root` (None: the practice is not encrypted);
    EnvironmentFailure when it is damaged."""
    path = os.path.join(root, STATE_FILE)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise EnvironmentFailure(f"{STATE_FILE} cannot be read: {e.strerror}") from None
    try:
        state = orjson.loads(raw)
    except orjson.JSONDecodeError:
        state = None
    kids = state.get("keys") if isinstance(state, dict) else None
    if not (isinstance(state, dict) and state.get("cipher") == CIPHER and state.get("state") in STATES
            and isinstance(kids, list) and kids and all(_is_kid(k) for k in kids) and state.get("key") in kids):
        raise EnvironmentFailure(f"{STATE_FILE} is damaged", hint="restore it from a backup")
    return state


def _is_kid(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 2 * KID_BYTES and all(c in "0123456789abcdef" for c in value)


def state_bytes(state: str, key: str, keys: list[str]) -> bytes:
    """meta/encryption.json's contents."""
    return orjson.dumps({"cipher": CIPHER, "state": state, "key": key, "keys": keys}, option=orjson.OPT_INDENT_2)


def vault(root: str) -> Vault | None:
    """The vault of data directory `root` in this process (None: not encrypted); read once."""
    root = os.path.abspath(root)
    if root not in _vaults:
        state = state_of(root)
        _vaults[root] = None if state is None else Vault(root, state)
    return _vaults[root]


def forget(root: str | None = None) -> None:
    """Forget the vault of `root` (its state changed), or every vault (a new command in this process)."""
    if root is None:
        _vaults.clear()
    else:
        _vaults.pop(os.path.abspath(root), None)


def encrypt(root: str, rel: str, data: bytes) -> bytes:
    """What to write as file `rel` of `root`: `data`, encrypted when the practice is encrypted."""
    v = vault(root)
    return data if v is None or not protected(rel) else v.encrypt(rel, data)


def decrypt(root: str, rel: str, raw: bytes | None) -> bytes | None:
    """File `rel` of `root` as read (`raw`, None when absent), decrypted when encrypted."""
    if raw is None:
        return None
    v = vault(root)
    if v is None:
        if raw.startswith(MAGIC):
            raise EnvironmentFailure(f"{rel} is encrypted, but {STATE_FILE} says this practice is not",
                                     hint="restore meta/encryption.json from a backup")
        return raw
    return v.decrypt(rel, raw)


def encrypt_path(path: str, data: bytes) -> bytes:
    """`data` as written to `path`: encrypted when `path` is a protected file of an encrypted data
    directory this process opened (the plugin API's private files: the outbox)."""
    real = os.path.abspath(path)
    for root, v in _vaults.items():
        if v is not None and real.startswith(root + os.sep):
            rel = os.path.relpath(real, root)
            return v.encrypt(rel, data) if protected(rel) else data
    return data
