"""Restricted charts and break-glass: who may open a patient's chart on a signed-in practice.

A chart restricted to some roles (`restricted_to`: staff members, VIPs) opens, in a signed-in
practice, only to a member whose role is listed: every look-up by id (medsec.records.patients.
get_patient) is refused to the others (exit 1, audited with the patient's id). An open practice
keeps the restriction but does not enforce it: there, whoever --user names acts unchecked anyway
(docs/security.md).
"""

from collections.abc import Sequence

from medsec.errors import InvalidInput, Refused
from medsec.text import clean_text, shown

# The commands below work across many patients and show each at most by name and id (a search,
# the day sheet, a provider's calendar, the follow-up calls due, the visits with forms to fill) or
# act for them without showing their chart to whoever runs them (the reminders of a batch, the
# links to their forms, the lab results a file brings): a restricted chart does not stop them, so
# the front desk still sees the patient on the day and finds them before registering a duplicate.
# Any command not named here is refused a restricted chart; a new command is therefore checked
# unless it is added to this list on purpose.
ACROSS_PATIENTS = frozenset({"patient find", "appt day", "appt export", "remind followups", "remind send",
                             "lab import", "intake due", "intake send"})

# Who may open a restricted chart in an emergency (`medsec --break-glass REASON ...`): the clinical
# roles by name, and any role that may restrict charts (it could lift the restriction anyway, but
# breaking the glass leaves the restriction in place and the reason in the audit log). A person
# only: a service token is not a staff member and cannot break the glass.
BREAK_GLASS_ROLES = frozenset({"physician", "nurse"})
BREAK_GLASS_PERMISSION = "patients.restrict"
# The reason is reviewed by the manager (medsec report break-glass): long enough to say something
# ("unconscious in the waiting room"), short enough for the audit log's one line.
REASON_SHORTEST, REASON_LONGEST = 10, 200


def break_glass_reason(text: str) -> str:
    """`--break-glass REASON` as the audit log keeps it; InvalidInput (exit 2) when it is empty,
    shorter than REASON_SHORTEST or longer than REASON_LONGEST, or holds a control character."""
    reason = clean_text(text, "--break-glass", REASON_LONGEST).strip()
    if len(reason) < REASON_SHORTEST:
        raise InvalidInput(f"--break-glass: give the reason in at least {REASON_SHORTEST} characters "
                           f"(got {len(reason)})", hint="the reason is kept in the audit log for review")
    return reason


def may_break_glass(principal) -> bool:
    """Whether `principal` (medsec.security.principal.Principal) may open a restricted chart with
    --break-glass: a staff member whose role is a clinical one or may restrict charts."""
    from medsec.records.staff import is_valid_id  # only a restricted chart pays for it

    return is_valid_id(principal.user) and (principal.role in BREAK_GLASS_ROLES
                                            or BREAK_GLASS_PERMISSION in principal.permissions)


def closed_to_actor(app, record: dict) -> bool:
    """Whether `record`'s chart is closed to whoever acts: restricted, on a signed-in practice, to
    roles that do not include theirs (break-glass aside)."""
    allowed = record.get("restricted_to")
    if not allowed:
        return False
    from medsec.security.principal import SIGNED_IN, mode  # only a restricted chart pays for it

    if mode(app) != SIGNED_IN:
        return False
    principal = app.principal
    return principal is None or principal.role not in allowed


def check_access(app, record: dict) -> None:
    """Nothing when whoever acts may open `record`'s chart; Refused (exit 1) when it is restricted
    to roles that do not include theirs, audited with the patient's id. With --break-glass a
    member who may_break_glass is let in, and that is audited (action "break-glass", outcome
    "granted as ROLE: REASON") once per patient and command."""
    if app.command in ACROSS_PATIENTS or not closed_to_actor(app, record):
        return
    principal = app.principal
    if app.break_glass is not None and principal is not None and may_break_glass(principal):
        _audit_break_glass(app, record["id"], str(principal.role))
        return
    roles = ", ".join(record["restricted_to"])
    who = f"{principal.user} ({principal.role})" if principal is not None else app.user
    tried = app.break_glass is not None
    app.audit("refused", [record["id"]], outcome=f"restricted to {roles}" + ("; break-glass refused" if tried else ""))
    if tried:
        raise Refused(f"{record['id']}'s chart is restricted to {roles}: {who} may not open it, even with "
                      "--break-glass (their role may not break the glass)")
    raise Refused(f"{record['id']}'s chart is restricted to {roles}: {who} may not open it",
                  hint="in an emergency a physician or nurse may: medsec --break-glass \"REASON\" ...")


# What a search or a list shows of a chart closed to whoever runs it: who the patient is, not
# what the chart holds (no address, phone, notes, coverages or attachments).
LISTED_FIELDS = ("id", "first", "last", "status", "restricted_to")


def as_listed(app, record: dict) -> dict:
    """`record` as a search or list shows it to whoever acts: whole, or LISTED_FIELDS of a chart
    closed to them."""
    if not closed_to_actor(app, record):
        return record
    return {key: record[key] for key in LISTED_FIELDS if key in record}


def _audit_break_glass(app, patient_id: str, role: str) -> None:
    """Audit the glass broken for `patient_id`, once a command (one that looks its patient up
    several times is one opening)."""
    if patient_id not in app.broke_glass_for:
        app.audit("break-glass", [patient_id], outcome=f"granted as {role}: {app.break_glass}")
        app.broke_glass_for.add(patient_id)


def known_roles(app, roles: Sequence[str]) -> list[str]:
    """`roles` as roles.yaml (and the defaults) name them, each once, sorted; InvalidInput names
    one that is no role."""
    from medsec.security.permissions import role_permissions

    known = role_permissions(app.config("roles.yaml") or None)
    out = set()
    for typed in roles:
        role = clean_text(typed, "--to-role", 40).strip().lower().replace("_", "-").replace(" ", "-")
        if role not in known:
            raise InvalidInput(f"--to-role: {shown(typed)} is not a role", hint=f"roles: {', '.join(sorted(known))}")
        out.add(role)
    return sorted(out)


def merged_restriction(dup: dict, keep: dict) -> list[str]:
    """The restriction of a merge's survivor: the roles both records open to (a restricted
    duplicate keeps its restriction on the survivor); Refused when none is common."""
    given = [set(r["restricted_to"]) for r in (keep, dup) if r.get("restricted_to")]
    if not given:
        return []
    common = set.intersection(*given)
    if not common:
        raise Refused(f"{dup['id']} and {keep['id']} are restricted to different roles",
                      hint="give them the same roles first: medsec patient restrict ID --to-role ROLE")
    return sorted(common)
