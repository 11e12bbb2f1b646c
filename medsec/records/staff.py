"""The staff roster in staff.yaml: roles, NPIs, weekly hours, time off."""

import itertools
import re
from collections.abc import Callable
from typing import Any

from medsec import clock, config
from medsec.errors import InvalidInput, NotFound, Refused
from medsec.identifiers import email_valid, npi_valid, parse_phone
from medsec.store.catalog import STAFF
from medsec.text import clean_text, shown
from medsec.vocabulary import DAYS, ROLES

PROVIDER_ROLES = ("physician",)
HEADER = (
    "# staff.yaml - the practice's staff roster.\n"
    "# Written by 'medsec staff ...'; hand edits are fine ('medsec config check' validates).\n"
    "# roles: " + ", ".join(ROLES) + "\n"
    "# hours: weekday -> list of [from, to] blocks, 24-hour local time.\n"
    "# time_off: list of {from: DATE, to: DATE, reason: TEXT}, both days included; `staff off` adds\n"
    "#   what was done about the visits it stranded (stranded: keep|reschedule|cancel, kept/moved/cancelled).\n"
)
LIST_COLUMNS = ["id", "name", "role", "npi", "email", "phone", "active"]

# The most characters each text a roster entry keeps may hold (no control or
# bidi characters in any): a name with its titles, an email address's maximum,
# room for a mistyped NPI, phone or role so that their own rule names the
# mistake, a time-off reason of a line.
TEXT_LIMITS = {"name": 120, "role": 40, "npi": 20, "email": 254, "phone": 40, "reason": 200}


def roster(app) -> list[dict]:
    return list(app.config("staff.yaml").get("staff") or [])


def acting_members(app) -> list[dict]:
    """Roster members who are the acting user (--user / MEDSEC_USER): by id, login or email."""
    user = app.user.lower()
    return [m for m in roster(app)
            if user in (str(m["id"]).lower(), str(m.get("login", "")).lower(), str(m.get("email", "")).lower())]


def get_staff(app, staff_id: str, members: list[dict] | None = None) -> dict:
    STAFF.number(staff_id)  # a malformed id is bad input (exit 2), not "not found"
    for member in roster(app) if members is None else members:
        if str(member.get("id", "")).upper() == staff_id.strip().upper():
            return member
    raise NotFound(f"no staff member {staff_id.upper()}", hint="see 'medsec staff list'")


def _clean_name(value: str) -> str:
    if not value:
        raise InvalidInput("name cannot be empty")
    return value


def _clean_role(value: str) -> str:
    role = value.lower().replace("_", "-").replace(" ", "-")
    if role not in ROLES:
        raise InvalidInput(f"role {shown(value)} is not one of {', '.join(ROLES)}")
    return role


def _clean_npi(value: str) -> str:
    if not npi_valid(value):
        raise InvalidInput(f"npi {shown(value)} is not a valid NPI (10 digits with a Luhn check digit)")
    return value


def _clean_email(value: str) -> str:
    if not email_valid(value):
        raise InvalidInput(f"email {shown(value)} is not an email address")
    return value


# Each field's rule after clean text; npi, email and phone may be left blank.
_RULES = {"name": _clean_name, "role": _clean_role, "npi": _clean_npi, "email": _clean_email,
          "phone": parse_phone}
_OPTIONAL = frozenset({"npi", "email", "phone"})


def _clean_value(key: str, value):
    if not isinstance(value, str):  # active: a flag
        return value
    text = clean_text(value, key, TEXT_LIMITS[key]).strip()
    if key in _OPTIONAL and not text:
        return text
    return _RULES[key](text)


def _clean(fields: dict) -> dict:
    """Validated, normalised roster fields; InvalidInput names the field."""
    return {key: _clean_value(key, value) for key, value in fields.items() if value is not None}


def _save(app, txn, members: list[dict]) -> None:
    from medsec.security.approval import reseal

    config.stage(txn, "staff.yaml", {"staff": members}, HEADER)
    reseal(app, txn, {"staff.yaml": {"staff": members}})


def add_staff(app, *, name: str, role: str, npi: str = "", email: str = "", phone: str = "") -> dict:
    fields = _clean({"name": name, "role": role, "npi": npi, "email": email, "phone": phone})
    if fields["role"] in PROVIDER_ROLES and not fields.get("npi"):
        raise InvalidInput(f"a {fields['role']} needs an NPI (--npi)")
    with app.store.transaction() as txn:
        members = roster(app)
        if fields.get("npi") and any(str(m.get("npi")) == fields["npi"] for m in members):
            raise Refused(f"NPI {fields['npi']} is already on the roster")
        (staff_id,) = txn.reserve_ids(STAFF)
        member = {"id": staff_id, "name": fields["name"], "role": fields["role"],
                  "npi": fields.get("npi", ""), "email": fields.get("email", ""),
                  "phone": fields.get("phone", ""), "active": True, "hours": {}, "time_off": []}
        _save(app, txn, members + [member])
    app.audit("staff-add", [staff_id], outcome=f"ok: role {member['role']}")
    return member


def edit_staff(app, staff_id: str, **changes) -> dict:
    fields = _clean(changes)
    if not fields:
        raise InvalidInput("nothing to change", hint="give at least one option")
    with app.store.transaction() as txn:
        members = roster(app)
        member = get_staff(app, staff_id, members)
        if fields.get("active") is False and member.get("active") is not False:
            _may_deactivate(app, member, members)
        updated = {**member, **fields}
        if updated["role"] in PROVIDER_ROLES and not updated.get("npi"):
            raise InvalidInput(f"a {updated['role']} needs an NPI")
        _save(app, txn, [updated if m is member else m for m in members])
    # What changed, by field name; the role, activity and NPI with their values (the roster's, not PHI).
    changed = [f"{k} {member.get(k)!s} -> {v!s}" if k in ("role", "active", "npi") else k
               for k, v in fields.items() if member.get(k) != v]
    app.audit("staff-edit", [member["id"]], outcome="ok: " + ("; ".join(changed) or "no change"))
    return updated


def _may_deactivate(app, member: dict, members: list[dict]) -> None:
    """Refuse making `member` inactive when they are who acts (someone else does it, so that it is
    seen) or the last active administrator (nobody could manage the staff any more); `staff edit
    --inactive` and `staff deactivate` alike."""
    from medsec.security.principal import may_grant

    if member["id"] in {m["id"] for m in acting_members(app)}:
        raise Refused(f"{member['id']} is you: another member with staff.manage deactivates you")
    may_grant(app, str(member.get("role")), "deactivate a member of the role")
    if member.get("role") == "admin" and not any(
            m.get("role") == "admin" and m.get("active") is not False and m is not member for m in members):
        raise Refused(f"{member['id']} is the last active administrator",
                      hint="make another member an administrator first")


def deactivate_staff(app, staff_id: str) -> dict:
    """Offboard a member at once: inactive on the roster, every session ended, the passphrase
    forgotten; audited. What they did stays theirs: they stay on the roster (inactive) and the
    audit log keeps naming them.

    Being inactive is what takes effect first and at once: a signed-in command of theirs is
    refused from the roster's change on (medsec.security.principal.signed_in), so ending the
    sessions and forgetting the passphrase, each its own transaction, only tidy up behind it. A
    member already inactive is tidied up again (a run interrupted between the steps is finished
    by running it again). Refused (_may_deactivate): yourself, and the last active administrator.
    """
    from medsec.security.sessions import clear_passphrase, end_sessions  # offboarding only
    from medsec.security.tokens import revoke

    with app.store.transaction() as txn:
        members = roster(app)
        member = get_staff(app, staff_id, members)
        was_active = member.get("active") is not False
        if was_active:
            _may_deactivate(app, member, members)
            _save(app, txn, [{**m, "active": False} if m is member else m for m in members])
    ended = end_sessions(app, member["id"], why="deactivated")
    forgotten = clear_passphrase(app, member["id"])
    revoked = revoke(app, created_by=member["id"])  # the service tokens they made
    done = ["active True -> False" if was_active else "already inactive", f"{len(ended)} session(s) ended",
            f"{len(revoked)} token(s) revoked"]
    if forgotten:
        done.append("passphrase forgotten")
    app.audit("staff-deactivate", [member["id"]], outcome="ok: " + "; ".join(done))
    return {"id": member["id"], "name": member.get("name", ""), "role": member.get("role", ""), "active": False,
            "sessions_ended": len(ended), "tokens_revoked": len(revoked), "passphrase_forgotten": forgotten}


def parse_days(values) -> list[str]:
    """'mon', 'mon-fri', 'mon,wed' (repeatable) -> weekday keys in order."""
    days: list[str] = []
    for value in values:
        for part in str(value).lower().split(","):
            part = part.strip()
            if "-" in part:
                a, _, b = part.partition("-")
                if a[:3] not in DAYS or b[:3] not in DAYS:
                    raise InvalidInput(f"cannot read days {shown(part)} (e.g. mon-fri)")
                i, j = DAYS.index(a[:3]), DAYS.index(b[:3])
                if j < i:
                    raise InvalidInput(f"days {shown(part)} run backwards")
                days += DAYS[i:j + 1]
            elif part[:3] in DAYS:
                days.append(part[:3])
            else:
                raise InvalidInput(f"cannot read day {shown(part)} (use mon, tue, ... or mon-fri)")
    return sorted(set(days), key=DAYS.index)


def set_hours(app, staff_id: str, days: list[str], starts: list[str], ends: list[str],
              off: bool = False) -> dict:
    """Set the working blocks of `days` (replacing theirs); `off` clears them."""
    if not days:
        raise InvalidInput("give --day (e.g. --day mon-fri)")
    if off and (starts or ends):
        raise InvalidInput("--off takes no --from/--to")
    if not off and (not starts or len(starts) != len(ends)):
        raise InvalidInput("give --from and --to in pairs (e.g. --from 08:00 --to 12:00)")
    blocks = []
    for a, b in zip(starts, ends, strict=True):
        start, end = clock.parse_clock(a, "--from"), clock.parse_clock(b, "--to")
        if start >= end:
            raise InvalidInput(f"{a}-{b} ends before it starts")
        blocks.append([start.strftime("%H:%M"), end.strftime("%H:%M")])
    blocks.sort()
    for (a1, b1), (a2, b2) in itertools.pairwise(blocks):
        if a2 < b1:
            raise InvalidInput(f"{a1}-{b1} overlaps {a2}-{b2}")
    with app.store.transaction() as txn:
        members = roster(app)
        member = get_staff(app, staff_id, members)
        hours = dict(member.get("hours") or {})
        for day in days:
            if off:
                hours.pop(day, None)
            else:
                hours[day] = blocks
        hours = {d: hours[d] for d in DAYS if d in hours}
        updated = {**member, "hours": hours}
        _save(app, txn, [updated if m is member else m for m in members])
    return updated


def hours_rows(member: dict) -> list[dict]:
    hours = member.get("hours") or {}
    return [{"day": d, "hours": ", ".join(f"{a}-{b}" for a, b in hours[d])} for d in DAYS if d in hours]


def hours_lines(member: dict) -> list[str]:
    """The weekly hours as people read them, a day a line: 'mon 08:00-12:00, 13:00-17:00'."""
    return [f"{row['day']} {row['hours']}" for row in hours_rows(member)]


def time_off_lines(member: dict) -> list[str]:
    """The time off as people read it, a span a line: '2026-12-24..2026-12-31 holidays; kept A4, A9'."""
    out = []
    for span in member.get("time_off") or []:
        text = str(span.get("from", ""))
        if span.get("to") and span.get("to") != span.get("from"):
            text += f"..{span['to']}"
        if span.get("reason"):
            text += f" {span['reason']}"
        done = {"keep": "kept", "reschedule": "moved", "cancel": "cancelled"}.get(str(span.get("stranded")))
        if done:
            text += f"; {done} " + (", ".join(str(i) for i in span.get(done) or []) or "none")
        out.append(text)
    return out


def time_off_entry(app, staff_id: str, start: str, end: str | None, reason: str = "") -> tuple[dict, dict]:
    """(member, span) of the time off asked for, checked as `add_time_off` records it: InvalidInput for
    a date that cannot be read or a reversed range, Refused for a span the member already has."""
    first = app.parse_date(start, "--from")
    last = app.parse_date(end, "--to") if end else first
    if last < first:
        raise InvalidInput(f"time off ends ({last}) before it starts ({first})")
    reason = clean_text(reason, "reason", TEXT_LIMITS["reason"]).strip()
    entry = {"from": first.isoformat(), "to": last.isoformat(), "reason": reason}
    member = get_staff(app, staff_id)
    if any(_same_span(s, entry) for s in member.get("time_off") or []):
        raise Refused(f"{member['id']} already has that time off")
    return member, entry


def _same_span(a: dict, b: dict) -> bool:
    return all(str(a.get(k, "")) == str(b.get(k, "")) for k in ("from", "to", "reason"))


def add_time_off(app, staff_id: str, start: str, end: str | None, reason: str = "",
                 extra: dict | None = None, check: Callable[[Any], None] | None = None) -> dict:
    """Record the time off; `extra`: what is done about the visits it strands (medsec.workflows.timeoff:
    stranded keep|reschedule|cancel, the appointment ids, by whom, when), kept in the span; `check`
    is called with the transaction before it is written (to refuse when the visits changed meanwhile)."""
    _, entry = time_off_entry(app, staff_id, start, end, reason)
    entry = {**entry, **(extra or {})}
    with app.store.transaction() as txn:
        members = roster(app)
        member = get_staff(app, staff_id, members)
        spans = list(member.get("time_off") or [])
        if any(_same_span(s, entry) for s in spans):
            raise Refused(f"{member['id']} already has that time off")
        if check is not None:
            check(txn)
        spans = sorted(spans + [entry], key=lambda s: s["from"])
        updated = {**member, "time_off": spans}
        _save(app, txn, [updated if m is member else m for m in members])
    return updated


def amend_time_off(app, staff_id: str, span: dict, changes: dict) -> dict:
    """Add `changes` to the time off `span` (its from, to and reason) of `staff_id`."""
    with app.store.transaction() as txn:
        members = roster(app)
        member = get_staff(app, staff_id, members)
        spans = [{**s, **changes} if _same_span(s, span) else s for s in member.get("time_off") or []]
        updated = {**member, "time_off": spans}
        _save(app, txn, [updated if m is member else m for m in members])
    return updated


def remove_time_off(app, staff_id: str, start: str) -> dict:
    first = app.parse_date(start, "--remove").isoformat()
    with app.store.transaction() as txn:
        members = roster(app)
        member = get_staff(app, staff_id, members)
        spans = [s for s in member.get("time_off") or [] if str(s["from"]) != first]
        if len(spans) == len(member.get("time_off") or []):
            raise NotFound(f"{member['id']} has no time off starting {first}")
        updated = {**member, "time_off": spans}
        _save(app, txn, [updated if m is member else m for m in members])
    return updated


def is_valid_id(text: str) -> bool:
    """Whether `text` is a staff id as medsec writes it (S9, s9; not S09)."""
    return bool(re.fullmatch(r"[sS][1-9][0-9]{0,8}", text))
