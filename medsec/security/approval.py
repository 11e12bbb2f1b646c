"""The administrator's seal on who may do what.

Three configuration documents decide who may do what: the roles on the roster (staff.yaml),
what each role may do (roles.yaml) and the sign-in settings (practice.yaml's `security` and
`sign_in`). Once a practice is signed in, every change medsec makes to them through its commands
(`staff add|edit|deactivate`, `config edit|import`, `security mode`, `init`) also writes an
approved copy of that authority into the store, beside the passphrases, with an HMAC-SHA256
over it. Each command compares the documents with the approved copy before it runs: a document
changed any other way (by hand, by a configuration tool, put back from an old copy) makes every
command refuse, exit 3, until an administrator approves it (`medsec security approve`, judged by
the approved copy: a hand edit cannot make its author an administrator).

Only authority is sealed (members' roles and whether they are active; roles.yaml's roles; the
sign-in settings), so a phone number or a comment edited by hand still works. The seal's key is
kept in the store with it: the seal is no defence against someone who can write the store
itself with the account that owns it, who could also copy every chart (docs/security.md).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import orjson

from medsec.digests import equal, hmac_sha256_hex
from medsec.errors import ConfigError
from medsec.store.api import Record
from medsec.store.catalog import CREDENTIALS

if TYPE_CHECKING:
    from medsec.context import AppContext

# The seal is a credential whose staff_id is this (no staff id has brackets), found by the same index.
HOLDER = "(seal)"
SEALED = ("staff.yaml", "roles.yaml", "practice.yaml")
APPROVE_HINT = "an administrator signs in and runs: medsec security approve"


def authority(document) -> dict[str, Any]:
    """What the sealed documents say about who may do what: `document(name)` gives each one's
    data as the store keeps it."""
    staff = {str(m.get("id")): [str(m.get("role")), m.get("active") is not False]
             for m in document("staff.yaml").get("staff") or [] if isinstance(m, dict)}
    practice = document("practice.yaml")
    return {"staff.yaml": staff,
            "roles.yaml": document("roles.yaml").get("roles") or {},
            "practice.yaml": {"security": practice.get("security") or "open",
                              "sign_in": practice.get("sign_in") or {}}}


def _mac(key: str, approved: dict[str, Any]) -> str:
    return hmac_sha256_hex(bytes.fromhex(key), orjson.dumps(approved, option=orjson.OPT_SORT_KEYS))


def seal_of(view: Any) -> Record | None:
    """The practice's seal (None: it was never signed in)."""
    ids = view.lookup("credential-staff", HOLDER)
    return view.get(CREDENTIALS, ids[0]) if ids else None


def reseal(app: AppContext, txn: Any, changed: dict[str, Any]) -> None:
    """Seal the authority the documents will hold once `txn` commits (`changed`: document name ->
    its new data, the others as they are) when the practice is or was signed in."""
    from medsec.config import stored_form

    new = authority(lambda name: stored_form(changed[name]) if name in changed else app.config(name))
    old = seal_of(txn)
    if old is None and new["practice.yaml"]["security"] != "signed-in":
        return
    key = old["key"] if old else os.urandom(32).hex()
    record_id = old["id"] if old else txn.reserve_ids(CREDENTIALS)[0]
    txn.put(CREDENTIALS, {"id": record_id, "staff_id": HOLDER, "key": key, "approved": new,
                          "mac": _mac(key, new), "by": app.user,
                          "at": app.now().isoformat(timespec="seconds")}, old=old)


def problems(app: AppContext) -> list[tuple[str, str]]:
    """(document, what is wrong) for each sealed document that is not as an administrator approved
    it; [] when all are, or the practice was never signed in."""
    record = seal_of(app.store.snapshot())
    if record is None:
        if (app.config("practice.yaml").get("security") or "open") == "signed-in":
            return [("practice.yaml", "signed-in, but no administrator has approved who may do what")]
        return []
    if _approved(record) is None:
        return [("store", "the administrator's seal was changed outside medsec")]
    now = authority(app.config)
    return [(name, f"{name} changed outside medsec; an administrator must re-approve it")
            for name in SEALED if now[name] != record["approved"].get(name)]


def _approved(record: Record) -> dict[str, Any] | None:
    """The authority `record` seals, None when the record itself was changed outside medsec."""
    approved = record.get("approved")
    try:
        intact = isinstance(approved, dict) and equal(_mac(record["key"], approved), record["mac"])
    except (KeyError, TypeError, ValueError):
        intact = False
    return approved if intact else None


def verify(app: AppContext) -> None:
    """Nothing when the sealed documents are as an administrator approved them; ConfigError
    (exit 3) naming the first that is not."""
    found = problems(app)
    if found:
        raise ConfigError(found[0][1], hint=APPROVE_HINT if found[0][0] != "store" else _RESTORE_HINT)


_RESTORE_HINT = "run 'medsec check'; restore the practice from a backup taken before the change"


def _approved_now(app: AppContext) -> dict[str, Any]:
    """The authority last approved (a signed-in practice from before seals: its documents as they
    are); ConfigError when the seal was changed outside medsec."""
    record = seal_of(app.store.snapshot())
    if record is None:
        return authority(app.config)
    approved = _approved(record)
    if approved is None:
        raise ConfigError("the administrator's seal was changed outside medsec", hint=_RESTORE_HINT)
    return approved


def approved_mode(app: AppContext) -> str:
    """The security mode an administrator last approved."""
    return str(_approved_now(app)["practice.yaml"]["security"])


def approved_authority(app: AppContext) -> tuple[dict[str, str], dict[str, Any]]:
    """(active member's id -> role, roles.yaml's data) as an administrator last approved them: who
    may approve a change is judged by what was approved before it."""
    approved = _approved_now(app)
    staff = {staff_id: role for staff_id, (role, active) in approved["staff.yaml"].items() if active}
    return staff, {"roles": approved["roles.yaml"]}


def approve(app: AppContext) -> list[dict[str, str]]:
    """Seal the documents as they are now; what changed since the last approval (no PHI: staff
    ids, role names and settings)."""
    record = seal_of(app.store.snapshot())
    now = authority(app.config)
    if record is None and now["practice.yaml"]["security"] != "signed-in":
        return []  # never signed in: nothing is sealed
    before = (_approved(record) if record else None) or {}
    rows = []
    for name in SEALED:
        old, new = before.get(name) or {}, now[name]
        for key in sorted(set(old) | set(new), key=str):
            if old.get(key) != new.get(key):
                rows.append({"document": name, "setting": str(key), "approved": _shown(old.get(key)),
                             "now": _shown(new.get(key))})
    if rows:
        with app.store.transaction() as txn:
            reseal(app, txn, {})
    return rows


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], bool):  # a member
        return value[0] + ("" if value[1] else " (inactive)")
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
