"""Coverage periods and eligibility: which of a patient's coverages is in force on a day.

A coverage (medsec.records.patients.add_coverage) keeps `start` and `end` (ISO dates, either
empty: open) and, once somebody asked the payer (a 271, or a call), an eligibility state:

    coverage["eligibility"] = {"state": "unknown" | "active" | "inactive",
                               "as_of": "YYYY-MM-DD",   # the service date asked about
                               "checked": ISO timestamp,  # when it was learned
                               "source": "271 EL12" | "manual by S3",
                               "plan": "", "details": {...}}

No "eligibility" key means unknown. An inactive state flags every visit on or after its
`as_of` (all of them when `as_of` is empty): until a newer answer replaces it, the payer said
the member had no coverage from that day. An active or unknown state never flags a visit on its
own; the period still does.

Pure functions on records: check-in, the day sheet and the claim scrubber read them; the
eligibility importer calls set_eligibility() inside medsec.records.patients.change_patient.
"""

from datetime import date

from medsec.errors import InvalidInput, NotFound
from medsec.text import shown

STATES = ("unknown", "active", "inactive")
_DEFAULT = {"state": "unknown", "as_of": "", "checked": "", "source": "", "plan": "", "details": {}}


def eligibility_of(coverage: dict) -> dict:
    """The coverage's eligibility state with every key present (absent: unknown)."""
    found = coverage.get("eligibility") or {}
    out = {**_DEFAULT, **found}
    out["details"] = dict(out.get("details") or {})
    return out


def _iso_day(value, field: str) -> str:
    if not value:
        return ""
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InvalidInput(f"eligibility {field}: {shown(value)} is not a date (YYYY-MM-DD)") from None


def set_eligibility(old: dict, rank: str, info: dict) -> dict:
    """A new patient record whose `rank` coverage holds the eligibility `info` (pure: `old` is
    not changed). `info` keys: state (required: unknown, active or inactive), as_of (the service
    date asked about, YYYY-MM-DD), checked (ISO timestamp), source, plan, details (a dict).
    InvalidInput for a bad state or date; NotFound when the patient has no such coverage."""
    state = info.get("state")
    if state not in STATES:
        raise InvalidInput(f"eligibility state {shown(state)} is not one of {', '.join(STATES)}")
    unknown = sorted(set(info) - set(_DEFAULT))
    if unknown:
        raise InvalidInput(f"eligibility: unknown key(s) {', '.join(unknown)}")
    details = info.get("details") or {}
    if not isinstance(details, dict):
        raise InvalidInput("eligibility details: a dict is needed")
    eligibility = {**_DEFAULT, **info, "as_of": _iso_day(info.get("as_of"), "as_of"), "details": dict(details)}
    for key in ("checked", "source", "plan"):
        eligibility[key] = str(eligibility[key] or "")
    coverages = old.get("coverages") or []
    if not any(c["rank"] == rank for c in coverages):
        raise NotFound(f"{old.get('id', 'the patient')} has no {rank} coverage")
    return {**old, "coverages": [{**c, "eligibility": eligibility} if c["rank"] == rank else c
                                 for c in coverages]}


def inactive_problem(coverage: dict, day: date) -> str | None:
    """Why an inactive eligibility state flags a visit on `day`, or None."""
    elig = eligibility_of(coverage)
    if elig["state"] != "inactive" or (elig["as_of"] and day.isoformat() < elig["as_of"]):
        return None
    said = elig["source"] or "eligibility"
    when = elig["as_of"] or elig["checked"][:10]
    details = elig["details"]
    reasons = details.get("reasons")
    why = (details.get("reason") or details.get("message")
           or ("; ".join(map(str, reasons)) if isinstance(reasons, list) else "") or elig["plan"] or "not covered")
    return f"{coverage['payer']} coverage is inactive ({said}{f' of {when}' if when else ''}: {why})"


def period_problem(coverage: dict, day: date) -> str | None:
    """Why `coverage` is not in force on `day` by its dates, or None."""
    iso = day.isoformat()
    if coverage.get("start") and iso < coverage["start"]:
        return f"{coverage['payer']} coverage starts {coverage['start']}"
    if coverage.get("end") and iso > coverage["end"]:
        return f"{coverage['payer']} coverage ended {coverage['end']}"
    return None


def coverage_problem(coverage: dict, day: date) -> str | None:
    """Why `coverage` does not cover a visit on `day`: its period, then an inactive state."""
    return period_problem(coverage, day) or inactive_problem(coverage, day)


def coverage_on(patient: dict, day: date, rank: str = "primary") -> tuple[dict | None, str | None]:
    """(the `rank` coverage in force on `day`, None), or (None, the reason in words) when none is:
    "HARBOR coverage ended 2026-12-31", "ACME coverage starts 2027-02-01", "no primary coverage",
    "HARBOR coverage is inactive (271 EL12 of 2026-12-04: ...)". Of several coverages of the rank
    (none today; a record may come to hold a past and a present one), the one in force wins; when
    none is, the reason is the nearest one's (the latest ended, else the soonest to start)."""
    mine = [c for c in patient.get("coverages") or [] if c.get("rank") == rank]
    if not mine:
        return None, f"no {rank} coverage"
    problems = []
    for c in mine:
        problem = coverage_problem(c, day)
        if problem is None:
            return c, None
        problems.append((c, problem))
    iso = day.isoformat()

    def nearness(item):
        c, _ = item
        if c.get("end") and c["end"] < iso:
            return (0, -date.fromisoformat(c["end"]).toordinal())  # the latest ended first
        if c.get("start") and c["start"] > iso:
            return (1, date.fromisoformat(c["start"]).toordinal())  # else the soonest to start
        return (2, 0)
    return None, min(problems, key=nearness)[1]


def coverage_label(patient: dict, day: date, rank: str = "primary") -> str:
    """The day sheet's words: "HARBOR active", "HARBOR unknown", "HARBOR ended 2026-12-31",
    "ACME starts 2027-02-01", "HARBOR inactive", "self-pay" (no coverage at all)."""
    if not patient.get("coverages"):
        return "self-pay"
    coverage, problem = coverage_on(patient, day, rank)
    if coverage is not None:
        return f"{coverage['payer']} {eligibility_of(coverage)['state']}"
    assert problem is not None
    if problem.startswith("no "):
        return problem
    payer, rest = problem.split(" coverage ", 1)
    return f"{payer} inactive" if rest.startswith("is inactive") else f"{payer} {rest}"
