"""Permissions: what each command needs, and what each role holds.

Every command declares the one permission it needs here, in `COMMANDS` (built-in commands) or
on its click command (plugin commands, `medsec_permission`); the gate (medsec.cli.gate) checks
it before the command runs. A role is a set of permissions: `DEFAULT_ROLES` as a clinic would
grant them, changed or extended by the practice's roles.yaml (checked by medsec.configcheck):

    roles:
      front-desk: [patients.read, patients.write, schedule.read, schedule.book]   # replaces the default
      scribe: [patients.read, patients.write, documents.sign]                     # a role the practice adds
      senior-nurse: {like: nurse, add: [refills.approve]}                         # a default role, changed
      biller: {like: biller, remove: [codes.manage]}                              # a default role, in place

The permission names and their meanings (`PERMISSIONS`) live in medsec.vocabulary, beside the
default role names, so that the configuration checker can name an unknown one in roles.yaml
(the configuration kernel imports nothing of medsec.security).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from medsec.errors import PluginError
from medsec.vocabulary import PERMISSIONS

if TYPE_CHECKING:
    import click

__all__ = ["COMMANDS", "DEFAULT_ROLES", "PERMISSIONS", "PLUGIN_ATTRIBUTE", "REGISTRY_GROUPS", "permission_of",
           "role_permissions"]

# A plugin command declares its permission with this attribute on its click command:
#
#     @cli.command("recall-list")
#     def recall_list(): ...
#     recall_list.medsec_permission = "patients.read"
#
# It is read on the command that runs (a subcommand of a plugin's group sets its own; a group's
# is not inherited). A command that declares none needs "admin"; one that names a permission
# medsec does not know is a plugin error (exit 3), not a command nobody may run.
PLUGIN_ATTRIBUTE = "medsec_permission"
UNDECLARED = "admin"

# -- the default roles ----------------------------------------------------------------------------

# What the front desk does all day: register and update patients, book, check in, take calls and
# messages, file the post and faxes, keep referrals and tasks moving, take refill requests (not
# decide them), type and transcribe the physicians' letters and reports (documents.write; signing
# them is the author's), answer balance questions and take copays at the window (billing.pay). No clinical
# decisions (labs, refill approval), no exports, no staff or security administration.
_FRONT_DESK = frozenset({
    "patients.read", "patients.write", "schedule.read", "schedule.book", "schedule.checkin", "calls",
    "messages.send", "documents.file", "documents.write", "referrals", "tasks", "refills.request", "billing.read",
    "billing.pay", "staff.read", "eligibility",
})
# The clinical side of the front desk (patients, schedule, rooming, calls, messages, documents,
# referrals, tasks) plus lab orders under standing orders, and refill requests prepared for the
# physician (approving them is the prescriber's). No billing. Reviewing results (labs.review) is
# the physician's unless the practice grants it: `nurse: {like: nurse, add: [labs.review]}`.
_NURSE = frozenset({
    "patients.read", "patients.write", "schedule.read", "schedule.book", "schedule.checkin", "calls",
    "messages.send", "documents.file", "documents.write", "referrals", "tasks", "refills.request", "labs.order",
    "codes.read", "staff.read",
})
# The prescriber: everything clinical, including the decisions with legal weight (refill
# approval, result review, signing). Charge entry stays with the biller; check-in with the desk.
_PHYSICIAN = frozenset({
    "patients.read", "patients.write", "schedule.read", "schedule.book", "calls", "messages.send", "referrals",
    "tasks", "refills.request", "refills.approve", "labs.order", "labs.review", "documents.write", "documents.sign",
    "codes.read", "staff.read",
})
# The billing office: charges, payments, claims, remittances and the code list; it reads patients
# (demographics, coverage) and the schedule (the visits to bill) but does not change charts.
_BILLER = frozenset({
    "patients.read", "schedule.read", "calls", "tasks", "billing.read", "billing.charge", "billing.pay",
    "claims.submit", "remittances.post", "codes.read", "codes.manage", "staff.read", "eligibility",
})
# The practice manager runs the office: every operational permission, reports, the audit log,
# staff records, configuration, backups, restricting a VIP's chart and bulk exports. Not the
# clinical decisions (labs, refill approval, signing), and not the powers that could undo the
# controls themselves: roles, service tokens (a token carries a role), restore (it replaces every
# record and the authorization files), store maintenance. Those stay with the administrator.
_CLINICAL = frozenset({"labs.order", "labs.review", "refills.approve", "documents.sign"})
_ADMINISTRATION = frozenset({"roles.manage", "tokens.manage", "restore", "store.manage", "admin"})

DEFAULT_ROLES: dict[str, frozenset[str]] = {
    "front-desk": _FRONT_DESK,
    "physician": _PHYSICIAN,
    "nurse": _NURSE,
    "biller": _BILLER,
    "manager": frozenset(PERMISSIONS) - _CLINICAL - _ADMINISTRATION,
    "admin": frozenset(PERMISSIONS),  # every permission; roles.yaml cannot change it
}

# -- what each command needs ----------------------------------------------------------------------

# Every built-in command (its words after `medsec`) -> the permission it needs, or None for the
# few anyone may run without being signed in (signing in and out, saying who you are, help, creating a
# practice, and the per-user agent process, which serves commands that are each checked here).
# Reading patient data always needs a permission. tests/test_permissions.py fails on a command
# missing here.
COMMANDS: dict[str, str | None] = {
    # signing in, and the commands with no practice data
    "login": None,
    "logout": None,
    "whoami": None,
    "help": None,
    "man": None,
    "completion": None,
    "init": None,
    "agent serve": None,
    "agent start": None,
    "agent status": None,
    "agent stop": None,
    # patients
    "patient add": "patients.write",
    "patient show": "patients.read",
    "patient edit": "patients.write",
    "patient guarantor": "patients.write",
    "patient find": "patients.read",
    "patient list": "patients.read",
    "patient archive": "patients.write",
    "patient merge": "patients.write",
    "patient coverage add": "patients.write",
    "patient coverage edit": "patients.write",
    "patient coverage end": "patients.write",
    "patient coverage list": "patients.read",
    "patient coverage remove": "patients.write",
    "patient note": "patients.write",  # adds a note, or lists them: every role with write reads too
    "patient attach": "documents.file",
    "patient import": "patients.write",
    "patient export": "patients.export",
    "patient restrict": "patients.restrict",
    # the schedule
    "appt book": "schedule.book",
    "appt slots": "schedule.read",
    "appt list": "schedule.read",
    "appt day": "schedule.read",
    "appt show": "schedule.read",
    "appt status": "schedule.checkin",  # confirmed, arrived, roomed, seen ...: the visit's day
    "appt checkin": "schedule.checkin",
    "appt cancel": "schedule.book",
    "appt reschedule": "schedule.book",
    "appt walkin": "schedule.checkin",  # a patient at the window, fitted in and arrived
    "appt noshow": "schedule.checkin",
    "appt waitlist add": "schedule.book",
    "appt waitlist list": "schedule.read",
    "appt waitlist remove": "schedule.book",
    "appt export": "schedule.read",  # a provider's calendar (.ics)
    "appt import": "schedule.book",
    "meeting schedule": "schedule.book",
    "meeting list": "schedule.read",
    "meeting cancel": "schedule.book",
    "meeting invite": "schedule.book",
    "meeting show": "schedule.read",
    # calls, messages and incoming documents
    "call log": "calls",
    "call list": "calls",
    "call show": "calls",
    "call assign": "calls",
    "call return": "calls",
    "call close": "calls",
    "call link": "calls",
    "remind send": "messages.send",
    "remind preview": "messages.send",
    "remind list": "messages.send",
    "remind retry": "messages.send",
    "remind followups": "calls",  # the follow-up calls due
    "memo new": "messages.send",
    "memo list": "messages.send",
    "memo show": "messages.send",
    "mail send": "messages.send",
    "mail list": "messages.send",
    "mail show": "messages.send",
    "mail receive": "documents.file",
    "fax send": "messages.send",
    "fax list": "messages.send",
    "fax show": "messages.send",
    "fax status": "messages.send",
    "fax link": "documents.file",  # filing an incoming fax with what it answers
    "fax receive": "documents.file",
    "fax assign": "documents.file",
    # clinical workflows
    "referral add": "referrals",
    "referral receive": "referrals",
    "referral list": "referrals",
    "referral show": "referrals",
    "referral status": "referrals",
    "referral send": "referrals",
    "refill request": "refills.request",
    "refill list": "refills.request",
    "refill show": "refills.request",
    "refill approve": "refills.approve",
    "refill deny": "refills.approve",  # deciding either way is the prescriber's
    "dictation add": "documents.write",
    "dictation engines": "documents.write",
    "doc new": "documents.write",
    "doc list": "documents.write",
    "doc show": "documents.write",
    "doc edit": "documents.write",
    "doc play": "documents.write",
    "doc pdf": "documents.write",
    "doc send": "documents.write",  # a disclosure: in the fax log and the accounting of disclosures
    "doc addendum": "documents.write",
    "doc sign": "documents.sign",  # the author only (medsec.workflows.clinical_docs)
    "intake forms": "patients.read",
    "intake status": "patients.read",
    "intake packet": "patients.read",  # pre-filled with what the record holds
    "intake import": "patients.write",  # proposes the changes; applies them on confirmation
    "intake scan": "documents.file",
    "intake list": "patients.read",
    "intake show": "patients.read",
    "intake review": "patients.write",  # whoever may change the record reviews what a patient filled
    "intake apply": "patients.write",
    "intake reject": "patients.write",
    "intake due": "schedule.read",
    "intake send": "messages.send",
    "intake link": "schedule.checkin",  # a one-time link or code for the waiting-room tablet
    "intake kiosk": "schedule.checkin",  # serves the tablet's page (submissions wait for review)
    "intake device add": "tokens.manage",  # enrolling a tablet is handing out a credential
    "intake device list": "tokens.manage",
    "intake device revoke": "tokens.manage",
    "lab order": "labs.order",
    "lab list": "labs.order",
    "lab show": "labs.order",
    "lab status": "labs.order",  # marking a result reviewed needs labs.review too (medsec.workflows.labs)
    "lab review": "labs.review",  # the clinician's step: the result seen, the patient's notice chosen
    "lab requisition": "labs.order",
    "lab send": "labs.order",
    "lab result": "documents.file",
    "lab import": "documents.file",
    "lab poll": "documents.file",  # fetches and imports every result waiting
    "lab match": "documents.file",
    "lab notify": "messages.send",  # only a reviewed result; the message carries no result
    "task add": "tasks",
    "task list": "tasks",
    "task show": "tasks",
    "task done": "tasks",
    # billing
    "bill charge": "billing.charge",
    "bill charges": "billing.read",
    "bill pay": "billing.pay",
    "bill adjust": "billing.charge",
    "bill void": "billing.charge",  # corrections: a mistaken charge voided, or replaced by a corrected one
    "bill correct": "billing.charge",
    "bill balance": "billing.read",
    "bill ledger": "billing.read",
    "bill invoice": "billing.read",
    "bill statement": "billing.read",
    "bill journal": "reports.read",  # the bookkeeper's export of every patient's money, as the reports
    "bill statements": "billing.read",  # --send too: a billing office's mail, not the desk's messages
    "bill receipt": "billing.read",
    "bill refund": "billing.charge",  # money going out: the billing office, as adjustments
    "claim create": "claims.submit",
    "claim validate": "claims.submit",
    "claim export": "claims.submit",
    "claim batch": "claims.submit",
    "claim list": "billing.read",
    "claim show": "billing.read",
    "claim status": "claims.submit",
    "claim regenerate": "claims.submit",  # corrections: drafts rebuilt or deleted, replacement and void claims
    "claim delete": "claims.submit",
    "claim replace": "claims.submit",
    "claim void": "claims.submit",
    "claim post-remit": "remittances.post",
    "claim send": "claims.submit",  # a payer's ready claims as one 837P through the clearinghouse's transport
    "claim inquire": "claims.submit",  # 276 claim status requests (issue 18)
    "clearinghouse import": "remittances.post",  # acknowledgments, claim status, eligibility answers, 835s
    "clearinghouse poll": "remittances.post",  # fetches and imports every answer waiting
    "clearinghouse list": "billing.read",
    "clearinghouse show": "billing.read",
    "elig check": "eligibility",  # a 270 for the clearinghouse; its EL records
    "elig batch": "eligibility",
    "elig import": "eligibility",  # a 271: sets the coverages' eligibility state
    "elig list": "eligibility",
    "elig show": "eligibility",
    "clearinghouse test": "billing.read",  # connects and lists the inbox: imports nothing
    "code search": "codes.read",
    "code show": "codes.read",
    "code tables": "codes.read",
    "code import": "codes.manage",
    # reports (each report a plugin registers is a `report NAME`: REGISTRY_GROUPS)
    "report": "reports.read",
    # one patient's accounting of disclosures (164.528): the privacy officer's, as the other reports
    "report disclosures": "reports.read",
    "report break-glass": "audit.read",  # who opened a restricted chart, and why
    # staff, roles and service tokens
    "staff add": "staff.manage",
    "staff list": "staff.read",
    "staff show": "staff.read",
    "staff edit": "staff.manage",
    "staff hours": "staff.manage",  # shows or sets a member's working hours
    "staff off": "staff.manage",  # shows, adds or removes time off
    # A signed-in member sets their own passphrase; setting another's needs staff.manage, which
    # the command checks itself (medsec.cli.staff), as it depends on whose it is.
    "staff passphrase": None,
    "staff deactivate": "staff.manage",
    "roles show": "staff.read",
    "security mode": "roles.manage",  # shows or switches open / signed-in
    "security approve": "roles.manage",  # judged by the roles approved before (medsec.security.approval)
    "security keys": "roles.manage",  # who holds a key slot to the encrypted data
    # The recovery key is the credential: whoever holds it may open the practice (medsec.security.encryption).
    "security recover": None,
    "encrypt": "roles.manage",  # encryption at rest: on, in place
    "rekey": "roles.manage",  # a new data key
    "token create": "tokens.manage",
    "token list": "tokens.manage",
    "token revoke": "tokens.manage",
    # the practice's configuration, audit and store
    "config show": "config.read",
    "config check": "config.read",
    "config edit": "config.change",
    "config export": "config.read",
    "config import": "config.change",
    "plugins": "config.read",
    "outbox list": "messages.send",  # letters to print and dry runs' messages (they hold PHI)
    "outbox show": "messages.send",
    "audit": "audit.read",
    "audit verify": "audit.read",  # walks the hash chain (and against an anchor)
    "audit anchor": "audit.read",  # prints the chain's head, to keep elsewhere
    "verify": "audit.read",  # checks a sign-off's signature and names its signer
    "backup": "backup",
    "restore": "restore",
    "check": "store.manage",  # verifies every record (and with --repair rebuilds what is derived)
    "upgrade": "store.manage",
    "store copy": "store.manage",
}

# Built-in groups whose subcommands come from a registry that plugins add to (`report NAME`): a
# subcommand not named in COMMANDS needs the group's own entry.
REGISTRY_GROUPS = frozenset({"report"})

# The first words of built-in commands: a path starting with any other is a plugin's command.
_BUILTIN_WORDS = frozenset(path.split(" ", 1)[0] for path in COMMANDS)


def permission_of(path: str, command: click.Command | None = None) -> str | None:
    """The permission command `path` ("patient add": its words after `medsec`) needs, None for a
    command anyone may run.

    A built-in command's is in COMMANDS; a plugin command's is its `medsec_permission` attribute
    (`command` is its click command), "admin" when it declares none. KeyError for a built-in path
    not in COMMANDS, or a plugin path given without its command: a command nobody declared must
    fail loudly, never run unchecked. PluginError (exit 3) when a plugin declares a permission
    medsec does not know.
    """
    if path in COMMANDS:
        return COMMANDS[path]
    first = path.split(" ", 1)[0]
    if first in _BUILTIN_WORDS:
        if first in REGISTRY_GROUPS and path != first:
            return COMMANDS[first]
        raise KeyError(f"command {path!r} declares no permission (medsec.security.permissions.COMMANDS)")
    if command is None:
        raise KeyError(f"plugin command {path!r}: its click command is needed to read its permission")
    declared = getattr(command, PLUGIN_ATTRIBUTE, None)
    if declared is None:
        return UNDECLARED
    if not isinstance(declared, str) or declared not in PERMISSIONS:
        raise PluginError(f"plugin command {path!r} declares an unknown permission {str(declared)[:80]!r}",
                          hint="medsec_permission names one of medsec's permissions (medsec.vocabulary.PERMISSIONS)")
    return declared


def role_permissions(roles_doc: dict[str, Any] | None) -> dict[str, frozenset[str]]:
    """Role name -> its permissions in force: DEFAULT_ROLES, with roles.yaml's `roles` (`roles_doc`,
    as medsec.config checked and stored it; None or {} when there is none) replacing or adding roles.

    A role given as a list is exactly those permissions. A role given as `{like: ROLE, add: [...],
    remove: [...]}` starts from ROLE as the lists leave it (a default role, or one listed in the
    file; `nurse: {like: nurse, ...}` changes the default nurse in place). The admin role always
    holds every permission.
    """
    roles = dict(DEFAULT_ROLES)
    given = (roles_doc or {}).get("roles") or {}
    for name, spec in given.items():
        if isinstance(spec, list):
            roles[name] = frozenset(spec)
    for name, spec in given.items():
        if isinstance(spec, dict):
            base = roles.get(str(spec.get("like")), frozenset())
            roles[name] = (base | frozenset(spec.get("add") or ())) - frozenset(spec.get("remove") or ())
    roles["admin"] = frozenset(PERMISSIONS)
    return roles
