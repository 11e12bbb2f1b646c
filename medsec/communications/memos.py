"""Memos to staff: rendered from a template to text and PDF, delivered to each recipient.

A recipient gets the memo by email when the email channel is set up and they
have an address on the roster, else through the outbox (a letter to print and
hand over), the PDF attached either way. One failed delivery is reported in
the memo's deliveries; the other recipients still get theirs.
"""

from dataclasses import replace
from datetime import date

from medsec import clock, documents
from medsec.communications import fields, messaging
from medsec.errors import InvalidInput
from medsec.plugin_types import DeliveryError, Message
from medsec.records.staff import acting_members, is_valid_id, roster
from medsec.store.api import Record
from medsec.store.catalog import MEMOS
from medsec.text import shown
from medsec.vocabulary import ROLES

RESERVED = ("practice", "memo", "today")  # names the template's own context uses
COLUMNS = ["id", "created", "from", "to", "subject", "template"]


def parse_vars(pairs) -> dict:
    """`--var key=value` pairs as a dict; a key is a plain name the template can use."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise InvalidInput(f"--var {shown(pair)}: use key=value (key a plain name)")
        if key in RESERVED:
            raise InvalidInput(f"--var {key}: that name is the template's own", hint=f"reserved: {', '.join(RESERVED)}")
        out[key] = value
    return _checked_vars(out)


def _checked_vars(variables: dict) -> dict:
    """The template's values, each under the rule for a memo's body (so a plugin's vars obey it too)."""
    out = {}
    for key, value in variables.items():
        if not str(key).isidentifier() or key in RESERVED:
            raise InvalidInput(f"--var {shown(key)}: a template value needs a plain name, not a reserved one",
                               hint=f"reserved: {', '.join(RESERVED)}")
        out[key] = fields.body(value, f"--var {key}") if isinstance(value, str) else value
    return out


EVERYONE = "all"  # every active staff member
RECIPIENTS_HINT = f"give staff ids (S1,S2), a role ({', '.join(ROLES)}) or {EVERYONE}"


def _named(part: str, members: list[dict]) -> list[dict] | None:
    """The members one --staff name stands for: a role's or everyone's active members, or the member
    with that id (active or not: named on purpose); None when it is neither a role, `all` nor an id."""
    word = part.lower().replace("_", "-")
    if word == EVERYONE or word in ROLES:
        return [m for m in members if m.get("active") is not False and word in (EVERYONE, m.get("role"))]
    if is_valid_id(part):
        return [m for m in members if str(m.get("id", "")).upper() == part.upper()]
    return None


def _recipients(app, to: list[str]) -> list[dict]:
    """Staff members from what --staff names, comma-separated or repeated: ids (S1), roles (every
    active member with that role: front-desk) and `all` (every active member), mixed as wanted;
    each member once, in roster order within a role. An unknown name, and a role or `all` that
    names no active member, is bad input (exit 2) naming it."""
    parts = [part.strip() for value in to for part in value.split(",") if part.strip()]
    if not parts:
        raise InvalidInput("give --staff STAFF (e.g. --staff S1,S2, --staff front-desk or --staff all)")
    members = roster(app)
    chosen: dict[str, Record] = {}  # by id: a member named twice (or in a role named too) gets one copy
    unknown, empty = [], []
    for part in parts:
        group = _named(part, members)
        if group is None or (not group and is_valid_id(part)):
            unknown.append(part.upper() if group is not None else shown(part))
        elif not group:
            empty.append(part.lower().replace("_", "-"))
        for member in group or []:
            chosen.setdefault(str(member["id"]), member)
    if unknown:
        raise InvalidInput(f"--staff: no staff member or role {', '.join(dict.fromkeys(unknown))}",
                           hint=f"{RECIPIENTS_HINT}; see 'medsec staff list'")
    if empty:
        raise InvalidInput(f"--staff {', '.join(dict.fromkeys(empty))}: names no active staff member",
                           hint="see 'medsec staff list'")
    return list(chosen.values())


def _addressed(to: list[str]) -> list[str]:
    """What --staff named, as the memo keeps it: ids upper case, roles and `all` lower case."""
    parts = [part.strip() for value in to for part in value.split(",") if part.strip()]
    return list(dict.fromkeys(p.upper() if is_valid_id(p) else p.lower().replace("_", "-") for p in parts))


def _email_route(app) -> messaging.Route | None:
    """The email channel when it is set up (channels.yaml), else None."""
    try:
        return messaging.route(app, "email")
    except InvalidInput:
        return None


def _deliver(app, member: dict, memo: Message, email: messaging.Route | None) -> dict:
    """One recipient's copy of `memo`: by email when possible, else to the outbox."""
    if email and member.get("email"):
        r, kind, to = email, "email", member["email"]
    else:
        r, kind, to = messaging.route(app, "letter", forced="outbox"), "letter", member["name"]
    message = replace(memo, kind=kind, to=to, meta={**memo.meta, "staff_id": member["id"]})
    entry = {"staff_id": member["id"], "channel": r.name, "kind": kind, "to": to, "delivery_id": "",
             "status": "sent", "reason": ""}
    try:
        entry["delivery_id"] = messaging.deliver(app, r, message)
    except DeliveryError as e:
        entry.update(status="failed", reason=str(e))
    return entry


def new_memo(app, *, template: str, to: list[str], subject: str | None = None,
             variables: dict | None = None) -> dict:
    """Render `template` once (vars, `memo` and `practice` in its context) and deliver a copy to each recipient.

    `subject`, when given, is the memo's subject whatever the template's subject line says.
    """
    subject = fields.line(subject, "--subject")
    variables = _checked_vars(variables or {})
    members = _recipients(app, to)
    senders = acting_members(app)
    sender = senders[0] if senders else {"id": "", "name": app.user}
    context = {**variables, "practice": messaging.practice_context(app),
               "memo": {"subject": subject, "from": sender["name"],
                        "to": ", ".join(m["name"] for m in members)}}
    rendered = messaging.render(app, template, context)
    title = subject or rendered.subject
    pdf = documents.text_to_pdf(rendered.text, title)
    email = _email_route(app)
    memo = Message(kind="letter", to="", subject=title, body=rendered.text, html=rendered.html,
                   attachments=[("memo.pdf", "application/pdf", pdf)], meta={"template": template})
    deliveries = [_deliver(app, m, memo, email) for m in members]
    with app.store.transaction() as txn:
        (memo_id,) = txn.reserve_ids(MEMOS)
        record = {"id": memo_id, "created": clock.iso(app.now()), "by": app.user, "from": sender["id"] or app.user,
                  "to": [m["id"] for m in members], "addressed": _addressed(to), "template": template,
                  "subject": title, "text": rendered.text,
                  "deliveries": deliveries}
        txn.put(MEMOS, record)
    app.audit("memo", [memo_id])
    return record


def show_memo(app, memo_id: str) -> dict:
    record = app.store.snapshot().require(MEMOS, memo_id, "memo", "see 'medsec memo list'")
    app.audit("read", [record["id"]])
    return record


def list_memos(app, *, mine: bool = False, limit: int | None = None, first: date | None = None,
               last: date | None = None) -> list[dict]:
    """Memos in the order written (the last `limit`); `mine`: those to the acting user;
    `first`/`last`: written on those days."""
    wanted = {m["id"] for m in acting_members(app)} if mine else None
    out = [m for m in app.store.snapshot().scan(MEMOS)
           if (wanted is None or wanted & set(m["to"])) and clock.on_days(m["created"], first, last)]
    out = out[-limit:] if limit else out
    app.audit("list", [m["id"] for m in out])
    return out
