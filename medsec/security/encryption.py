"""Turning encryption at rest on, rotating its key, and opening it with the recovery key.

`encrypt` and `rekey` are resumable: each first commits the new state (meta/encryption.json:
the key new writes use and the keys files may be under) with every holder's key slot given the
keys, then moves the files (medsec.store.rewrap), then commits the final state. Killed anywhere,
the same command run again (by any administrator: their slot holds every key the state names)
finds what is left and finishes it. What each holder is, and how a slot is opened, is
medsec.security.vault's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from medsec import atrest
from medsec.errors import InvalidInput, Refused
from medsec.security.vault import (
    RECOVERY_HOLDER,
    new_recovery_key,
    open_recovery,
    public_text,
    recovery_private,
    recovery_record,
    reslot,
    slot,
    vault_of,
)
from medsec.store.catalog import CREDENTIALS, SESSIONS, TOKENS

if TYPE_CHECKING:
    from medsec.context import AppContext

Progress = Callable[[int], None] | None
ShowRecovery = Callable[[str], None]
NOT_ENCRYPTED_HINT = "turn it on: medsec encrypt"


def _files_store(app: AppContext) -> None:
    """Refuse a store that is not a data directory, or a practice that is not signed in."""
    from medsec.security.principal import SIGNED_IN, mode

    if app.location.url is not None:
        raise Refused("encryption at rest is the data directory's: on PostgreSQL, encrypt the database's disk "
                      "or tablespace and require TLS (README: Encryption at rest)")
    if mode(app) != SIGNED_IN:
        raise Refused("encryption at rest needs a signed-in practice: sign-in is what opens its key",
                      hint="medsec security mode signed-in")


def _own_session(app: AppContext) -> str | None:
    principal = app.principal
    return principal.session if principal is not None and str(principal.session or "").startswith("SN") else None


def _put_recovery(app: AppContext, txn: Any, secret: bytes, keys: dict[str, bytes]) -> None:
    old = recovery_record(txn)
    record_id = old["id"] if old else txn.reserve_ids(CREDENTIALS)[0]
    txn.put(CREDENTIALS, {"id": record_id, "staff_id": RECOVERY_HOLDER,
                          "slots": slot(RECOVERY_HOLDER, public_text(recovery_private(secret)), keys),
                          "by": app.user, "at": app.now().isoformat(timespec="seconds")}, old=old)


def _without_slot(view: Any) -> list[str]:
    """Members with a passphrase but no key pair yet (a credential from before signatures)."""
    return sorted(str(r.get("staff_id")) for r in view.scan(CREDENTIALS)
                  if r.get("passphrase") and not (r.get("slots") or {}).get("public"))


def end_other_sessions(app: AppContext, txn: Any, own: str | None, keys: dict[str, bytes]) -> int:
    """End every live session but `own`, whose carry now holds `keys` (kid -> key); how many ended."""
    from medsec.security.keys import CARRY_SIGNING, open_carry, seal_for_session
    from medsec.security.sessions import SESSION_ENV
    from medsec.security.vault import carry_items

    token = os.environ.get(SESSION_ENV, "")
    ended = 0
    now = app.now().isoformat(timespec="seconds")
    for record in txn.scan(SESSIONS):
        if record.get("ended"):
            continue
        if record["id"] == own:
            secret = token.strip().partition(".")[2]
            carry = carry_items(keys)
            signing = open_carry(record, token, CARRY_SIGNING)
            if signing is not None:
                carry[CARRY_SIGNING] = signing
            txn.put(SESSIONS, {**record, "carry": seal_for_session(record["id"], record["staff_id"], secret, carry)},
                    old=record)
        else:
            txn.put(SESSIONS, {**record, "ended": now, "ended_why": "the practice's data key changed", "carry": None},
                    old=record)
            ended += 1
    return ended


def encrypt(app: AppContext, show_recovery: ShowRecovery, progress: Progress = None) -> dict[str, Any]:
    """Encrypt the data directory in place (or finish an interrupted `encrypt`)."""
    _files_store(app)
    vault = vault_of(app)
    if vault is not None and vault.state != atrest.ENCRYPTING:
        raise Refused(f"this practice is encrypted already (state: {vault.state})",
                      hint="to rotate its key: medsec rekey")
    summary: dict[str, Any] = {}
    if vault is None:
        key = os.urandom(32)
        kid = atrest.key_id(key)
        keys = {kid: key}
        text, secret = new_recovery_key()
        show_recovery(text)  # shown (or written) before anything changes: a kill after it loses nothing
        with app.store.transaction() as txn:
            summary["key_slots"] = reslot(txn, keys) + [RECOVERY_HOLDER]
            _put_recovery(app, txn, secret, keys)
            summary["sessions_ended"] = end_other_sessions(app, txn, _own_session(app), keys)
            summary["without_slot"] = _without_slot(txn)
            app.store.stage_encryption(txn, atrest.ENCRYPTING, kid, [kid], keys)
    else:
        kid = vault.write_kid
        keys = {kid: vault.key(kid)}
        summary["resumed"] = True
    summary["files_encrypted"] = app.store.rewrite_files(progress)
    with app.store.transaction() as txn:
        app.store.stage_encryption(txn, atrest.ON, kid, [kid], keys)
    app.audit("encrypt", [kid])
    return {"state": atrest.ON, "key": kid, **summary}


def rekey(app: AppContext, show_recovery: ShowRecovery, new_recovery: bool,
          progress: Progress = None) -> dict[str, Any]:
    """Rotate the data key: every file re-encrypted under a new one (or finish an interrupted rekey)."""
    _files_store(app)
    vault = vault_of(app)
    if vault is None:
        raise Refused("this practice is not encrypted at rest", hint=NOT_ENCRYPTED_HINT)
    if vault.state == atrest.ENCRYPTING:
        raise Refused("'medsec encrypt' has not finished", hint="run it again first: medsec encrypt")
    summary: dict[str, Any] = {}
    own = _own_session(app)
    if vault.state == atrest.ON:
        old = vault.write_kid
        key = os.urandom(32)
        kid = atrest.key_id(key)
        keys = {old: vault.key(old), kid: key}
        secret = None
        if new_recovery:
            text, secret = new_recovery_key()
            show_recovery(text)
        with app.store.transaction() as txn:
            summary["key_slots"] = reslot(txn, keys)
            if secret is not None:
                _put_recovery(app, txn, secret, keys)
            summary["sessions_ended"] = end_other_sessions(app, txn, own, keys)
            app.store.stage_encryption(txn, atrest.REKEYING, kid, [old, kid], keys)
    else:
        kid = vault.write_kid
        keys = {k: vault.key(k) for k in vault.kids}
        summary["resumed"] = True
    summary["files_encrypted"] = app.store.rewrite_files(progress)
    final = {kid: keys[kid]}
    with app.store.transaction() as txn:
        reslot(txn, final)
        end_other_sessions(app, txn, own, final)
        app.store.stage_encryption(txn, atrest.ON, kid, [kid], final)
    app.audit("rekey", [kid])
    return {"state": atrest.ON, "key": kid, "new_recovery_key": new_recovery, **summary}


def recover(app: AppContext, secret: bytes, staff_id: str, passphrase: str) -> dict[str, Any]:
    """Open the practice with its recovery key and give member `staff_id` a new passphrase (and
    key pair, with a slot): the way back in when no administrator's passphrase is known."""
    from medsec.security.keys import new_key_pair
    from medsec.security.passphrase import hash_passphrase
    from medsec.security.sessions import end_sessions, set_passphrase
    from medsec.security.vault import member_slot

    _files_store(app)
    vault = vault_of(app)
    if vault is None:
        raise Refused("this practice is not encrypted at rest: it has no recovery key",
                      hint="an administrator resets passphrases: medsec staff passphrase")
    vault.adopt(open_recovery(app.store.snapshot(), secret, vault.kids))
    public, signing, private = new_key_pair(staff_id, passphrase, app.now().isoformat(timespec="seconds"))
    set_passphrase(app, staff_id, hash_passphrase(passphrase),
                   {"public": public, "signing": signing, "slots": member_slot(app, staff_id, private)})
    ended = end_sessions(app, staff_id, why="passphrase recovered")
    app.audit("recover", [staff_id], outcome="passphrase set with the recovery key")
    return {"staff": staff_id, "sessions_ended": len(ended)}


def key_slots(app: AppContext) -> list[dict[str, Any]]:
    """Who holds a key slot, and for which data keys: the officer's view (`medsec security keys`)."""
    from medsec.security.vault import holders

    view = app.store.snapshot()
    vault = vault_of(app)
    rows = []
    for kind, record, name in holders(view):
        boxes = sorted(record["slots"].get("boxes") or {})
        what = "recovery key" if name == RECOVERY_HOLDER else "service token" if kind is TOKENS else "staff member"
        rows.append({"holder": name, "kind": what, "keys": ", ".join(boxes) or "-",
                     "opens": "yes" if vault is not None and vault.write_kid in boxes else "no"})
    return rows


def read_recovery_key(path: str | None) -> bytes:
    """The recovery key from FILE's first line, or asked on the terminal; its secret."""
    from medsec.security.passphrase import read_passphrase
    from medsec.security.vault import parse_recovery_key

    text = read_passphrase(file=path, fd=None, prompt="recovery key: ", confirm=False)
    if not text.strip():
        raise InvalidInput("no recovery key given")
    return parse_recovery_key(text)


def backup_unlock(app: AppContext, recovery_key_file: str | None) -> Callable[[dict[str, Any]], dict[str, bytes]]:
    """What opens an encrypted backup at `restore`: the live practice's data key when the backup is
    under it (this session opens it), else the recovery key's slot in the backup's manifest."""
    from medsec.security.vault import open_slot

    secret = read_recovery_key(recovery_key_file) if recovery_key_file else None

    def unlock(entry: dict[str, Any]) -> dict[str, bytes]:
        kid = entry["key"]
        vault = atrest.vault(app.data_dir) if app.initialized and app.location.url is None else None
        if secret is None:
            return {kid: vault.key(kid)} if vault is not None and kid in vault.kids else {}
        private = recovery_private(secret)
        held = entry.get("recovery")
        if not isinstance(held, dict) or held.get("public") != public_text(private):
            raise InvalidInput("that recovery key does not open this backup")
        return open_slot(RECOVERY_HOLDER, private, held, (kid,))

    return unlock
