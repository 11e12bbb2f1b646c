"""Who runs a command, and whether they may: the gate every command passes before it runs.

`authorize` is called for every command (medsec.cli.gate) with the permission the command
declares (medsec.security.permissions). In open mode it only records who acts. In signed-in
mode the session in $MEDSEC_SESSION decides who acts (--user or $MEDSEC_USER naming anyone
else is refused), the clock cannot be moved (MEDSEC_NOW) unless the practice is a rehearsal,
and the acting member's role must hold the permission. Each refusal is one line, exit 1,
audited by the error boundary (medsec.cli).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from medsec.errors import EnvironmentFailure, InvalidInput, Refused

if TYPE_CHECKING:
    from medsec.context import AppContext

OPEN, SIGNED_IN = "open", "signed-in"
MODES = (OPEN, SIGNED_IN)
# Commands that report on or repair a practice whose configuration or schema is broken: when the
# mode cannot be read (practice.yaml does not parse, the store wants `upgrade`), they still run.
# Whoever can break those files already has the files (docs/security.md).
DIAGNOSTICS = frozenset({"config check", "upgrade", "check"})
# The documents that say who may do what: changing them needs roles.manage, whoever else may
# change configuration (a manager with staff.manage must not make themselves an administrator).
AUTHORIZATION_DOCUMENTS = frozenset({"staff.yaml", "roles.yaml", "practice.yaml"})


@dataclass(frozen=True)
class Principal:
    """Who acts: a staff member (in open mode, whoever the user is said to be)."""

    user: str
    role: str | None = None
    session: str | None = None  # the session's id, signed in
    permissions: frozenset[str] = frozenset()


def mode(app: AppContext) -> str:
    """The practice's security mode (practice.yaml `security`; absent: open)."""
    return str(app.config("practice.yaml").get("security") or OPEN)


def rehearsal(app: AppContext) -> bool:
    """Whether the practice was made as a rehearsal (medsec.yaml): its clock may be moved."""
    return bool(app.config("medsec.yaml").get("rehearsal"))


def authorize(app: AppContext, permission: str | None) -> Principal:
    """The principal of this command, once it may run with `permission` (None: a command
    anyone may run, such as `login`); Refused otherwise. ConfigError (exit 3) when who may do
    what was changed outside medsec (medsec.security.approval)."""
    if app.principal is not None:
        return app.principal
    if app.initialized and app.command == APPROVE:
        principal = _approver(app)
    else:
        if app.initialized and app.command not in UNSEALED:
            from medsec.security.approval import verify

            verify(app)
        if permission is None or not app.initialized or _mode_for(app) == OPEN:
            principal = Principal(app.user)
        else:
            principal = signed_in(app)
            _may(principal, permission)
    app.principal = principal
    return principal


# Commands that run when who may do what was changed outside medsec: signing in and out (an
# administrator must sign in to approve the change), the diagnostics (which report it), and
# those that touch no practice.
UNSEALED = DIAGNOSTICS | {"login", "logout", "whoami", "init", "agent serve", "agent start", "agent status",
                          "agent stop", "help", "man", "completion"}
APPROVE = "security approve"


def _may(principal: Principal, permission: str) -> None:
    if permission not in principal.permissions:
        raise Refused(f"{principal.user} ({principal.role}) may not do this: it needs the permission "
                      f"'{permission}'", hint="an administrator grants permissions to roles (roles.yaml)")


def _approver(app: AppContext) -> Principal:
    """Who approves the documents as they are: judged by what was approved before (the mode, their
    role, its permissions), so that a hand edit cannot make its author an administrator."""
    from medsec.security.approval import approved_mode

    if approved_mode(app) == OPEN:
        return Principal(app.user)
    principal = signed_in(app, approved=True)
    _may(principal, "roles.manage")
    return principal


def _mode_for(app: AppContext) -> str:
    """The mode, for the gate: a diagnostic command runs when it cannot be read."""
    try:
        return mode(app)
    except EnvironmentFailure:
        if app.command in DIAGNOSTICS:
            return OPEN
        raise


def require(app: AppContext, permission: str, what: str) -> None:
    """Refuse `what` (e.g. "changing a role") unless the signed-in member holds `permission`
    too (a command's second permission, for some of what it may do); nothing in open mode."""
    principal = app.principal
    if principal is not None and principal.session is not None and permission not in principal.permissions:
        raise Refused(f"{principal.user} ({principal.role}) may not do this: {what} needs the permission "
                      f"'{permission}'", hint="an administrator grants permissions to roles (roles.yaml)")


def _service_token(app: AppContext) -> str | None:
    """The service token given: `--token-file`'s first line, else $MEDSEC_TOKEN (None: none)."""
    from medsec.security.tokens import TOKEN_ENV

    if app.token_file:
        from medsec.security.passphrase import read_secret_file

        return read_secret_file(app.token_file)
    return os.environ.get(TOKEN_ENV) or None


def _token_principal(app: AppContext, token: str, roles: dict[str, frozenset[str]]) -> Principal:
    """A service token acts as its role, named in the audit as the token (not a person)."""
    from medsec.security.sessions import require_token_shape
    from medsec.security.tokens import token_of
    from medsec.security.vault import token_opener

    record = token_of(app, require_token_shape(token))
    _unlock(app, token_opener(record, token))
    if app.named_user is not None:
        raise Refused(f"a service token acts as itself ({record['id']}): --user/$MEDSEC_USER may not name "
                      f"{app.named_user}")
    app.user = f"token {record['id']} {record['name']}"
    return Principal(app.user, record["role"], record["id"], roles.get(record["role"], frozenset()))


def may_grant(app: AppContext, role: str, what: str = "give the role") -> None:
    """Refuse giving someone `role` (or another act on a member of that role, `what`: "deactivate
    a member of the role") unless the signed-in member holds every permission it carries: no one
    grants what they do not hold, and a manager cannot make, or unmake, an administrator."""
    from medsec.security.permissions import role_permissions

    principal = app.principal
    if principal is None or principal.session is None:
        return
    beyond = role_permissions(app.config("roles.yaml") or None).get(role, frozenset()) - principal.permissions
    if beyond:
        raise Refused(f"{principal.user} ({principal.role}) may not {what} {role}: it holds "
                      f"{', '.join(sorted(beyond)[:3])}{' ...' if len(beyond) > 3 else ''}, which they do not")


def signed_in(app: AppContext, approved: bool = False) -> Principal:
    """The principal of the session in $MEDSEC_SESSION (the acting user becomes its member);
    Refused (exit 1) when there is none, it ended, or the clock was moved. `approved`: roles as an
    administrator last approved them (medsec.security.approval), not as the documents say now."""
    from medsec.security.permissions import role_permissions
    from medsec.security.sessions import SESSION_ENV, require_token_shape, session_of

    if os.environ.get("MEDSEC_NOW") and not rehearsal(app):
        raise Refused("MEDSEC_NOW is refused on a signed-in practice (sessions expire by the real clock)",
                      hint="unset MEDSEC_NOW; only a practice made with 'medsec init --rehearsal' may move it")
    service = _service_token(app)
    token = os.environ.get(SESSION_ENV)
    if service and token:
        raise InvalidInput(f"both a session (${SESSION_ENV}) and a service token: give one")
    staff_roles, roles_doc = _authority(app, approved)
    roles = role_permissions(roles_doc)
    if service:
        return _token_principal(app, service, roles)
    if not token:
        raise Refused("not signed in", hint='eval "$(medsec login)"')
    session = session_of(app, require_token_shape(token))
    from medsec.security.vault import session_opener

    _unlock(app, session_opener(session, token))
    staff_id = session["staff_id"]
    role = staff_roles.get(staff_id)
    if role is None:
        raise Refused(f"{staff_id} is not an active member of the staff", hint="ask an administrator")
    if app.named_user is not None and app.named_user != staff_id:
        raise Refused(f"signed in as {staff_id}: --user/$MEDSEC_USER may not name {app.named_user}",
                      hint="sign in as that person to act as them")
    app.user = staff_id  # who the audit names from here on
    return Principal(staff_id, role, session["id"], roles.get(role, frozenset()))


def _unlock(app: AppContext, opener) -> None:
    """Let the session or token open the practice's data key when it is encrypted at rest (opened
    the first time an encrypted file is read or written: medsec.atrest)."""
    vault = app.store.vault
    if vault is not None:
        vault.opener = opener


def _authority(app: AppContext, approved: bool) -> tuple[dict[str, str], dict]:
    """(active member's id -> role, roles.yaml's data) as the documents say, or as approved."""
    if approved:
        from medsec.security.approval import approved_authority

        return approved_authority(app)
    staff = {str(m.get("id")): str(m.get("role")) for m in app.config("staff.yaml").get("staff") or []
             if m.get("active") is not False}
    return staff, app.config("roles.yaml") or {}
