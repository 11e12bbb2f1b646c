"""Signing in and out: `login`, `logout`, `whoami`, `security mode`, service tokens (`token`);
and `staff passphrase`: medsec.cli.staff."""

import os
import shlex

import click

from medsec.cli.common import pass_app
from medsec.cli.options import list_options
from medsec.cli.output import output_options, render, say
from medsec.errors import InvalidInput, Refused
from medsec.records.staff import get_staff

PASSPHRASE_FILE_HELP = "Read the passphrase from the first line of FILE (private to you: mode 600)."
PASSPHRASE_FD_HELP = "Read the passphrase from file descriptor N up to a newline (e.g. 0 with a pipe)."


def passphrase_options(func):
    """--passphrase-file and --passphrase-fd: a passphrase never comes from the command line."""
    func = click.option("--passphrase-fd", type=click.IntRange(0, 1023), default=None, help=PASSPHRASE_FD_HELP)(func)
    return click.option("--passphrase-file", type=click.Path(dir_okay=False), default=None,
                        help=PASSPHRASE_FILE_HELP)(func)


@click.command("login")
@click.argument("staff_id", required=False)
@passphrase_options
@pass_app
def login(app, staff_id, passphrase_file, passphrase_fd):
    """Sign in, for a session in this shell.

    Prints the shell line that sets your session ($MEDSEC_SESSION).
    STAFF_ID defaults to --user or $MEDSEC_USER. The passphrase is asked
    on the terminal, never taken from the command line. The session ends
    after the practice's idle time and its longest session (practice.yaml
    sign_in: 15 minutes and 12 hours unless set), at `medsec logout`, or
    when you are deactivated. Wrong passphrases in a row lock the account
    for a while.

    \b
    Examples:
      eval "$(medsec login S3)"
      eval "$(medsec login S3 --passphrase-file ~/.medsec-passphrase)"
    """
    from medsec.security.approval import approved_authority, approved_mode
    from medsec.security.passphrase import read_passphrase
    from medsec.security.principal import SIGNED_IN
    from medsec.security.sessions import SESSION_ENV, check_passphrase, open_session

    staff_id = staff_id or app.named_user
    if not staff_id:
        raise InvalidInput("whom to sign in: give STAFF_ID (or --user / $MEDSEC_USER)")
    member = get_staff(app, staff_id)
    staff_id = member["id"]
    # As an administrator approved it: a hand edit of the files (which stops every other command)
    # must not keep the administrator who would approve it from signing in.
    if approved_mode(app) != SIGNED_IN:
        raise Refused("this practice does not use sign-in (security: open)",
                      hint="an administrator turns it on: medsec security mode signed-in")
    if staff_id not in approved_authority(app)[0]:
        raise Refused(f"{staff_id} is deactivated")
    passphrase = read_passphrase(file=passphrase_file, fd=passphrase_fd, prompt=f"passphrase for {staff_id}: ",
                                 confirm=False)
    app.user = staff_id
    try:
        check_passphrase(app, staff_id, passphrase)
    except Refused:
        app.audit("login", [staff_id], outcome="refused: wrong passphrase or locked")
        raise
    from medsec.security.keys import CARRY_SIGNING
    from medsec.security.sessions import credential, signing_key_at_login
    from medsec.security.vault import carry_items, keys_at_login, vault_of

    key = signing_key_at_login(app, staff_id, passphrase)  # the signing key, for the session to carry
    del passphrase
    carried = isinstance(key, tuple)
    carry = {CARRY_SIGNING: key[1]} if isinstance(key, tuple) else None
    if vault_of(app) is not None:  # encrypted at rest: the session carries the data keys too (medsec.security.vault)
        if not isinstance(key, tuple):
            raise Refused(f"{key}; nor can it open the practice's encrypted data")
        carry = {**(carry or {}), **carry_items(keys_at_login(app, credential(app.store.snapshot(), staff_id) or {},
                                                              key[1]))}
    token = open_session(app, staff_id, carry=carry, carry_key=key[0] if isinstance(key, tuple) else None)
    app.audit("login", [staff_id, token.partition(".")[0]])
    click.echo(f"export {SESSION_ENV}={shlex.quote(token)}")
    say(f"signed in as {staff_id} ({member.get('name')}, {member.get('role')})")
    if not carried:
        say(f"note: {key}")


@click.command("logout")
@pass_app
def logout(app):
    """End your session.

    Prints the shell line that forgets it.

    \b
    Examples:
      eval "$(medsec logout)"
    """
    from medsec.security.sessions import SESSION_ENV, end_sessions, session_of

    token = os.environ.get(SESSION_ENV)
    if not token:
        raise Refused("not signed in")
    session = session_of(app, token)
    app.user = session["staff_id"]
    end_sessions(app, session_id=session["id"], why="signed out")
    app.audit("logout", [session["staff_id"], session["id"]])
    click.echo(f"unset {SESSION_ENV}")


@click.command("whoami")
@output_options
@pass_app
def whoami(app, fmt):
    """Who you act as, and until when.

    With the practice's security mode.
    Exit 1 when the practice uses sign-in and you are not signed in.

    \b
    Examples:
      medsec whoami
      medsec whoami --json
    """
    from medsec.security.principal import OPEN, mode, rehearsal
    from medsec.security.sessions import SESSION_ENV, session_of, settings

    info = {"mode": mode(app), "rehearsal": rehearsal(app)}
    if info["mode"] == OPEN:
        render({"user": app.user, **info, "signed_in": False}, fmt)
        return
    token = os.environ.get(SESSION_ENV)
    if not token:
        raise Refused("not signed in", hint='eval "$(medsec login)"')
    session = session_of(app, token)
    member = get_staff(app, session["staff_id"])
    limits = settings(app)
    render({"user": member["id"], "name": member.get("name"), "role": member.get("role"), **info,
            "signed_in": True, "session": session["id"], "since": session["created"],
            "expires": session["expires"], "idle_minutes": limits["idle_minutes"]}, fmt)


@click.group("security")
def security_group():
    """Sign-in mode, approvals, key slots.

    \b
    Examples:
      medsec security mode
      medsec security mode signed-in
      medsec security approve
      medsec security keys
    """


@security_group.command("mode")
@click.argument("new_mode", required=False, type=click.Choice(["open", "signed-in"]))
@output_options
@pass_app
def security_mode(app, fmt, new_mode):
    """Show the mode, or switch it.

    signed-in: every command needs a session (`medsec login`) and a role
    that allows it. open: whoever --user names acts, unchecked (a
    one-person laptop). Switching to signed-in needs an administrator with
    a passphrase set, or nobody could sign in.

    \b
    Examples:
      medsec security mode
      medsec security mode signed-in
    """
    from medsec import config
    from medsec.security.approval import reseal
    from medsec.security.principal import SIGNED_IN, mode
    from medsec.security.sessions import credential

    before = mode(app)
    if new_mode and new_mode != before:
        if app.store.vault is not None:
            raise Refused("this practice is encrypted at rest: sign-in is what opens its key, so it stays signed in")
        if new_mode == SIGNED_IN:
            view = app.store.snapshot()
            admins = [m["id"] for m in app.config("staff.yaml").get("staff") or []
                      if m.get("role") == "admin" and m.get("active") is not False
                      and (credential(view, m["id"]) or {}).get("passphrase")]
            if not admins:
                raise Refused("no administrator could sign in: none has a passphrase",
                              hint="medsec staff add --role admin ..., then medsec staff passphrase ID")
        practice = dict(app.config("practice.yaml"))
        practice["security"] = new_mode
        with app.store.transaction() as txn:
            config.stage(txn, "practice.yaml", practice)
            reseal(app, txn, {"practice.yaml": practice})
        app.audit("security mode", outcome=f"{before} -> {new_mode}")
    render({"mode": new_mode or before}, fmt)


@security_group.command("approve")
@output_options
@pass_app
def security_approve(app, fmt):
    """Approve who may do what, as the files say.

    On a practice that is, or was, signed in, medsec seals the roles on the
    roster (staff.yaml), roles.yaml and practice.yaml's sign-in settings
    whenever its commands change them. Changed any other way, every command
    refuses (exit 3) until an administrator, as they were approved before
    the change, looks at what changed (listed here) and approves it.

    \b
    Examples:
      medsec security approve
    """
    from medsec.security.approval import approve

    rows = approve(app)
    app.audit("security approve", outcome="; ".join(f"{r['document']} {r['setting']}" for r in rows)[:500]
              or "nothing changed")
    if fmt != "table" or rows:
        render(rows, fmt, ["document", "setting", "approved", "now"])
    if fmt == "table":
        say(f"approved {len(rows)} change(s)" if rows else "nothing to approve: the files are as approved")


@click.group("token")
def token_group():
    """Service tokens for cron and scripts.

    A token acts with a role (not as a person) on a signed-in practice:
    give it in $MEDSEC_TOKEN or with `medsec --token-file FILE` (a file
    only you may read). Shown once, at create; kept as a digest.

    \b
    Examples:
      medsec token create nightly-reminders --role front-desk --expires 365d
      medsec token list
      medsec token revoke TK3
    """


@token_group.command("create")
@click.argument("name")
@click.option("--role", required=True, help="The role it acts with (a default role or one of roles.yaml).")
@click.option("--expires", default="365d", show_default=True, help="Days it is valid, e.g. 90d (at most 1826d).")
@output_options
@pass_app
def token_create(app, fmt, name, role, expires):
    """Create a token and print it (once).

    NAME says what uses it (lower-case letters, digits, dashes). You may
    give only a role whose permissions you hold yourself.

    \b
    Examples:
      medsec token create nightly-reminders --role front-desk --expires 365d
      medsec token create billing-export --role biller --expires 90d --json
    """
    from medsec.security.permissions import role_permissions
    from medsec.security.principal import may_grant
    from medsec.security.tokens import create_token, expiry_days

    days = expiry_days(expires)
    if role not in role_permissions(app.config("roles.yaml") or None):
        raise InvalidInput(f"--role {role[:40]!r} is not a role (the defaults, or roles.yaml's)")
    may_grant(app, role)
    record, token = create_token(app, name, role, days)
    app.audit("token-create", [record["id"]], outcome=f"ok: {name}, role {role}, until {record['expires']}")
    render({"id": record["id"], "name": name, "role": role, "expires": record["expires"], "token": token}, fmt)
    if fmt == "table":
        say("the token is shown this once: keep it in a file only its user may read (chmod 600)")


@token_group.command("list")
@list_options
@output_options
@pass_app
def token_list(app, fmt, limit):
    """List the tokens (never their secrets).

    \b
    Examples:
      medsec token list
      medsec token list --json
    """
    from medsec.security.tokens import list_tokens

    render(list_tokens(app)[:limit], fmt, ["id", "name", "role", "created", "created_by", "expires", "revoked"])


@token_group.command("revoke")
@click.argument("token_id")
@pass_app
def token_revoke(app, token_id):
    """Revoke a token, at once.

    \b
    Examples:
      medsec token revoke TK3
    """
    from medsec.security.tokens import revoke

    done = revoke(app, token_id=token_id)
    app.audit("token-revoke", [token_id.upper()], outcome="ok" if done else "ok: already revoked")
    say(f"{token_id.upper()} revoked" if done else f"{token_id.upper()} was revoked already")


def _encryption_commands() -> None:
    from medsec.cli.encryptcmd import security_keys, security_recover

    security_group.add_command(security_keys)
    security_group.add_command(security_recover)


_encryption_commands()
