"""People and things by name: a patient, a staff member, a payer or an appointment type given
as people say them, resolved to the id a command needs.

Acting on the wrong patient is the worst mistake a front desk can make, so the rule is strict
and the same for all four:

- Text that is an id, or shaped like one (`P42`, `s3`, `X12`, a number), is not resolved: the
  command gets it as typed and judges it as it always has (so scripts see no change).
- Otherwise the text is a name. Only an exact match that is the only one (punctuation, accents
  and case ignored: medsec.records.namematch) is used without asking; the resolver returns it
  with a label for the caller to echo ("P2 Luis O'Connell, 1971-03-02").
- Several exact matches, or only partial or misspelt ones (a typo is tolerated), are `NotSure`
  (exit 1) listing them, with dates of birth for patients; or, when the caller passes a
  `choose` function (a person at a terminal), the one they pick.
- No match at all: NotFound (exit 1) for a patient; a staff member, a payer or a type is left
  to the command, which says what it takes (a staff id or a role, the payers, the types).

A patient looked up by name is a patient search: it needs the patients.read permission on a
signed-in practice (a role without it learns nothing, not even that a name exists) and is
audited as `search` with the ids it showed, as `patient find` is. A restricted chart is listed
as a search lists it (who, not what); opening it is still the command's check.
"""

import re
from collections.abc import Callable
from typing import NamedTuple

from medsec.errors import InvalidInput, NotFound, Refused
from medsec.records.namematch import (
    NameIndex,
    close,
    compact,
    fits_by_prefix,
    fits_closely,
    name_forms,
    runs,
    same_name,
)
from medsec.records.patients import as_listed, parse_dob
from medsec.store.catalog import PATIENTS
from medsec.text import shown, words
from medsec.vocabulary import ROLES

# The most matches listed (or offered at a terminal); the message says how many more there are.
MAX_LISTED = 10
# A date of birth typed with a patient's name: ISO or US order.
_DOB = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{4}")
# Titles before a staff member's name and credentials after it, left out when names are compared.
TITLES = frozenset({"dr", "doctor", "prof", "mr", "mrs", "ms", "mx", "miss"})
CREDENTIALS = frozenset({"md", "do", "rn", "np", "pa", "pac", "lpn", "phd", "dnp", "aprn", "fnp", "cnm", "crna",
                         "facp", "dds", "dmd", "jr", "sr", "ii", "iii", "iv"})


class Match(NamedTuple):
    """One record a name may mean: its id and how it is shown (an echo, a line of a list)."""

    id: str
    label: str


# A person at a terminal picking one of several matches: (question, matches) -> the one picked,
# or None to give up (the command then stops as NotSure would).
Chooser = Callable[[str, list[Match]], Match | None]


class NotSure(Refused):
    """A name that does not say for certain which record it means: the matches, listed."""

    def __init__(self, message: str, matches: list[Match], hint: str):
        shown_matches = matches[:MAX_LISTED]
        more = len(matches) - len(shown_matches)
        super().__init__(message + (f" ({more} more not listed)" if more > 0 else ""), hint=hint,
                         details=[m.label for m in shown_matches])
        self.matches = shown_matches


def _decide(text: str, what: str, exact: list[Match], others: list[Match], hint: str,
            choose: Chooser | None, message: str | None = None) -> tuple[Match, list[Match]]:
    """The one exact match; else what a person picks of the exact ones (several), or of the
    others (no exact one); else NotSure listing them. With the matches shown on the way."""
    if len(exact) == 1:
        return exact[0], exact
    if exact:
        message = f"{shown(text)} matches {len(exact)} {what}s"
        offered = exact
    else:
        message = message or f"no {what} is named exactly {shown(text)}; did you mean one of these?"
        offered = others
    if choose is not None:
        picked = choose(message, offered[:MAX_LISTED])
        if picked is not None:
            return picked, offered[:MAX_LISTED]
    raise NotSure(message, offered, hint)


def is_name(text: str) -> bool:
    """Whether `text` is to be read as a name: it has a word, and no word holding a digit (an id,
    a number) besides a date of birth."""
    rest = _DOB.sub(" ", text)
    return bool(words(rest)) and not any(ch.isdigit() for ch in rest)


# -- patients -------------------------------------------------------------------------------
def resolve_patient(app, text: str, choose: Chooser | None = None) -> Match | None:
    """The patient `text` names, or None when it is no name (an id: the command judges it)."""
    if not is_name(text):
        return None
    from medsec.security.principal import require  # only a name pays for it

    require(app, "patients.read", "finding a patient by name")
    name, dob = _name_and_dob(text, app.today())
    view = app.store.snapshot()
    index = NameIndex(view, "patient-name")
    records = _live(view, index.prefix_candidates(name) | (set(view.lookup("patient-dob", dob)) if dob else set()))
    by_name = [p for p in records if same_name(name, p["first"], p["last"])]
    exact = [p for p in by_name if not dob or p.get("dob") == dob]
    others = [] if exact else _others(view, index, records, name, dob)
    message = None
    if not exact and not others and by_name:  # the name is right, the date of birth is not
        others = by_name
        message = f"no patient named {shown(' '.join(name))} was born on {dob}"
    hint = (f"give the id, or add the date of birth: \"{text.strip()} YYYY-MM-DD\"" if exact
            else "check the date of birth, or give the id" if message
            else "give the id or the whole name; 'medsec patient find NAME' searches")
    try:
        if not exact and not others:
            raise NotFound(f"no patient is named {shown(text)}",
                           hint="'medsec patient find NAME' searches; 'medsec patient add' registers")
        picked, shown_matches = _decide(text, "patient", [_patient_match(app, p) for p in _ordered(exact)],
                                        [_patient_match(app, p) for p in _ordered(others)], hint, choose, message)
    except NotSure as e:  # the ones listed were shown
        app.audit("search", [m.id for m in e.matches])
        raise
    except NotFound:
        app.audit("search", [])
        raise
    app.audit("search", [m.id for m in shown_matches])  # the one used, or those a person chose from
    return picked


def _others(view, index: NameIndex, records: list[dict], name: list[str], dob: str | None) -> list[dict]:
    """The patients the name fits by prefix (or, with a date of birth, closely), else those it
    fits closely (a typo); with a date of birth given, only those born then."""
    def born(p: dict) -> bool:
        return not dob or p.get("dob") == dob

    fits = fits_closely if dob else fits_by_prefix
    found = [p for p in records if born(p) and fits(name, name_forms(p["first"], p["last"]))]
    if found:
        return found
    return [p for p in _live(view, index.close_candidates(name))
            if born(p) and fits_closely(name, name_forms(p["first"], p["last"]))]


def _name_and_dob(text: str, today) -> tuple[list[str], str | None]:
    """The name's words and the date of birth typed with it (ISO), if any."""
    dobs = _DOB.findall(text)
    if len(dobs) > 1:
        raise InvalidInput(f"{shown(text)} holds {len(dobs)} dates of birth; give one")
    name = words(_DOB.sub(" ", text))
    return name, parse_dob(dobs[0], today) if dobs else None


def _live(view, ids) -> list[dict]:
    return [p for p in view.get_many(PATIENTS, sorted(ids, key=lambda i: int(i[1:])))
            if p.get("status") != "merged"]


def _ordered(records: list[dict]) -> list[dict]:
    return sorted(records, key=lambda p: (p.get("status") != "active", compact(p["last"]), compact(p["first"]),
                                          p.get("dob", ""), int(p["id"][1:])))


def _patient_match(app, record: dict) -> Match:
    """"P2 Luis O'Connell, 1971-03-02": a chart closed to whoever acts shows no date of birth."""
    listed = as_listed(app, record)
    label = f"{record['id']} {record['first']} {record['last']}"
    label += f", {listed['dob']}" if listed.get("dob") else " (restricted chart)"
    if record.get("status") != "active":
        label += f", {record.get('status')}"
    return Match(record["id"], label)


# -- staff ----------------------------------------------------------------------------------
def staff_words(text: str) -> list[str]:
    """A staff member's name as compared: no title before it ("Dr."), no credential after it
    (", RN", "MD")."""
    name = text.split(",", 1)[0] if "," in text else text
    found = words(name)
    while len(found) > 1 and found[0] in TITLES:
        found = found[1:]
    while len(found) > 2 and found[-1] in CREDENTIALS:
        found = found[:-1]
    return found


def _staff_exact_forms(member: dict) -> set[str]:
    """What names a member exactly: the whole name, the last name, last then first, the initials."""
    core = staff_words(str(member.get("name", "")))
    if not core:
        return set()
    return {"".join(core), core[-1], core[-1] + "".join(core[:-1]), "".join(w[0] for w in core),
            core[0][0] + core[-1][0]}


def resolve_staff(app, text: str, choose: Chooser | None = None) -> Match | None:
    """The staff member `text` names (whole name, last name or initials; "Dr" and ", RN" aside),
    or None to leave it to the command: an id, a role such as front-desk, or nothing like anyone
    on the roster."""
    if not is_name(text) or _is_role(app, text):
        return None
    query = staff_words(text)
    roster = list(app.config("staff.yaml").get("staff") or [])
    typed = "".join(query)
    exact = [m for m in roster if typed in _staff_exact_forms(m)]
    others = exact or [m for m in roster if fits_by_prefix(query, runs(staff_words(str(m.get("name", "")))))]
    others = others or [m for m in roster if fits_closely(query, runs(staff_words(str(m.get("name", "")))))]
    if not others:
        return None  # the command says what it takes (a staff id; a role where it takes one)

    def listed(members: list[dict]) -> list[Match]:
        return [_staff_match(m) for m in sorted(members, key=lambda m: (m.get("active") is False, str(m.get("name"))))]

    return _decide(text, "staff member", listed(exact), listed(others), "give the staff id (see 'medsec staff list')",
                   choose)[0]


def _is_role(app, text: str) -> bool:
    role = text.strip().lower()
    return role in ROLES or role in (app.config("roles.yaml") or {}).get("roles", {})


def _staff_match(member: dict) -> Match:
    label = f"{member['id']} {member.get('name', '')} ({member.get('role', '')})"
    if member.get("active") is False:
        label += ", inactive"
    return Match(str(member["id"]), label)


# -- payers and appointment types -----------------------------------------------------------
def resolve_payer(app, text: str, choose: Chooser | None = None) -> Match | None:
    """The payer `text` names (its id in any case, or its name: "bay state health plan"); None to
    leave it to the command (an id, or nothing like any payer)."""
    payers = [p for p in app.config("payers.yaml").get("payers") or [] if p.get("id")]
    if not is_name(text) or any(str(p["id"]).upper() == text.strip().upper() for p in payers):
        return None
    entries = {str(p["id"]): str(p.get("name") or "") for p in payers}
    return _resolve_entry(text, "payer", entries, lambda key: f"{key} {entries[key]}".strip(), choose)


def resolve_type(app, text: str, choose: Chooser | None = None) -> Match | None:
    """The appointment type `text` names (its name in appointment-types.yaml, or its description,
    in any case and punctuation: "Follow up"); None to leave it to the command."""
    types = dict(app.config("appointment-types.yaml").get("types") or {})
    if not is_name(text) or text in types:
        return None
    entries = {str(key): str((spec or {}).get("description") or "") for key, spec in types.items()}
    return _resolve_entry(text, "appointment type", entries,
                          lambda key: f"{key} ({entries[key]})" if entries[key] else key, choose)


def _resolve_entry(text: str, what: str, entries: dict[str, str], label: Callable[[str], str],
                   choose: Chooser | None) -> Match | None:
    """One of a configuration's entries (id -> name) by id or name; None when none is near."""
    typed, query = compact(text), words(text)
    exact = [key for key, name in entries.items() if typed in (compact(key), compact(name))]
    near = exact or [key for key, name in entries.items() if fits_by_prefix(query, name_forms(key, name))]
    near = near or [key for key, name in entries.items()
                    if fits_closely(query, name_forms(key, name)) or close(typed, compact(key))]
    if not near:
        return None
    return _decide(text, what, [Match(key, label(key)) for key in sorted(exact)],
                   [Match(key, label(key)) for key in sorted(near)], f"give the {what} as the configuration names it",
                   choose)[0]


RESOLVERS: dict[str, Callable[..., Match | None]] = {
    "patient": resolve_patient, "staff": resolve_staff, "payer": resolve_payer, "type": resolve_type,
}
