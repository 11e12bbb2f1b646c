"""Coverage periods and eligibility states (issue 18): check-in, the day sheet and the claim
scrubber flag a visit its coverage does not cover; `patient coverage edit` and `end`."""

from datetime import date

import pytest
from helpers.files import snapshot

from medsec.context import AppContext
from medsec.errors import InvalidInput, NotFound
from medsec.records.coverage import coverage_label, coverage_on, eligibility_of, set_eligibility
from medsec.records.patients import change_patient

pytestmark = pytest.mark.both_backends
TODAY = "2026-11-26"  # the tests' clock (helpers/cli.py NOW)


def covered_visit(m, status):
    """The first demo visit of today in `status` whose patient has a primary coverage; its
    patient's id and that coverage."""
    for appt in m.json("appt", "list"):
        if appt["status"] != status or not appt["start"].startswith(TODAY):
            continue
        coverages = m.json("patient", "coverage", "list", appt["patient_id"])
        if coverages and coverages[0]["rank"] == "primary":
            return appt, appt["patient_id"], coverages[0]
    raise AssertionError(f"the demo has no {status} visit with a primary coverage today")


def sheet_row(m, appt_id):
    return next(r for r in m.json("appt", "day") if r["id"] == appt_id)


def claim_for(m, appt_id):
    m.ok("bill", "charge", appt_id, "--code", "99213", "--dx", "I10")
    created = m("claim", "create", "--appt", appt_id, "--json")
    assert created.exit_code == 0, created.stderr
    return created.json()[0], created.stderr


def set_state(m, patient_id, info):
    """What the eligibility importer does: set_eligibility inside change_patient."""
    app = AppContext(data_dir=str(m.home), user="tester")
    change_patient(app, patient_id, lambda old, _txn: set_eligibility(old, "primary", info))


def test_visit_after_the_end_is_flagged_everywhere(demo):
    appt, patient_id, coverage = covered_visit(demo, "checked-out")
    payer = coverage["payer"]
    assert sheet_row(demo, appt["id"])["coverage"] == f"{payer} unknown"
    ended = demo.json("patient", "coverage", "end", patient_id, "--rank", "primary", "--on", "2026-11-25")
    assert ended["end"] == "2026-11-25" and ended["member_id"] == coverage["member_id"]
    assert sheet_row(demo, appt["id"])["coverage"] == f"{payer} ended 2026-11-25"
    reason = f"lines[1].date {TODAY}: {payer} coverage ended 2026-11-25"
    claim, said = claim_for(demo, appt["id"])  # the draft is created; the scrubber says why it is not ready
    assert claim["status"] == "draft" and reason in said
    refused = demo("claim", "validate", claim["id"])
    assert refused.exit_code == 1 and reason in refused.stderr and "1 problem(s)" in refused.stderr
    assert demo.json("claim", "show", claim["id"])["status"] == "draft"
    # A coverage that ends on the day of the visit still covers it.
    demo.ok("patient", "coverage", "end", patient_id, "--rank", "primary", "--on", TODAY)
    assert demo.json("claim", "validate", claim["id"])["status"] == "ready"
    assert sheet_row(demo, appt["id"])["coverage"] == f"{payer} unknown"


def test_checkin_flags_a_visit_outside_the_coverage(demo):
    appt, patient_id, coverage = covered_visit(demo, "booked")
    demo.ok("patient", "coverage", "end", patient_id, "--rank", "primary", "--on", "2026-11-25")
    arrived = demo.json("appt", "checkin", appt["id"])
    wanted = f"insurance coverage in force on {TODAY} ({coverage['payer']} coverage ended 2026-11-25)"
    assert wanted in arrived["missing_intake"]
    said = demo("appt", "checkin", appt["id"])  # already arrived: refused, nothing said of the coverage
    assert said.exit_code == 1
    other, other_patient, _ = covered_visit(demo, "booked")
    assert other_patient != patient_id
    assert not [m for m in demo.json("appt", "checkin", other["id"])["missing_intake"] if "coverage" in m]


def test_coverage_starting_in_the_future(demo):
    appt, patient_id, coverage = covered_visit(demo, "booked")
    payer = coverage["payer"]
    demo.ok("patient", "coverage", "edit", patient_id, "--rank", "primary", "--start", "2026-12-01")
    assert sheet_row(demo, appt["id"])["coverage"] == f"{payer} starts 2026-12-01"
    arrived = demo.json("appt", "checkin", appt["id"])
    assert f"insurance coverage in force on {TODAY} ({payer} coverage starts 2026-12-01)" in arrived["missing_intake"]
    listed = demo("patient", "coverage", "list", patient_id)
    assert "2026-12-01" in listed.stdout and "unknown" in listed.stdout


def test_edit_changes_only_what_is_given(demo):
    _, patient_id, coverage = covered_visit(demo, "booked")
    edited = demo.json("patient", "coverage", "edit", patient_id, "--rank", "primary", "--member-id", " NEW123 ",
                       "--group", "", "--start", "2026-01-01", "--end", "2026-12-31")
    unknown = {"state": "unknown", "as_of": "", "checked": "", "source": "", "plan": "", "details": {}}
    assert coverage.pop("eligibility") == unknown  # `list --json` gives the state with its defaults
    assert edited == {**coverage, "member_id": "NEW123", "group": "", "start": "2026-01-01", "end": "2026-12-31"}
    assert demo.json("patient", "coverage", "list", patient_id)[0] == {**edited, "eligibility": unknown}
    spouse = demo.json("patient", "coverage", "edit", patient_id, "--rank", "primary", "--relationship", "spouse",
                       "--subscriber", "Sam Doe", "--subscriber-dob", "1960-02-03", "--end", "")
    assert (spouse["relationship"], spouse["subscriber"], spouse["subscriber_dob"], spouse["end"]) == (
        "spouse", "Sam Doe", "1960-02-03", "")


@pytest.mark.parametrize("args, message", [
    (["end", "--rank", "primary", "--on", "2025-12-31"], "end 2025-12-31 is before the coverage's start 2026-01"),
    (["edit", "--rank", "primary", "--end", "2025-06-30"], "end 2025-06-30 is before the coverage's start 2026-01"),
    (["edit", "--rank", "primary", "--start", "2027-01-01"], "end 2026-12-31 is before the coverage's start 2027-01"),
    (["end", "--rank", "primary", "--on", "2026-13-45"], "--on"),
    (["end", "--rank", "primary", "--on", ""], "--on"),
    (["edit", "--rank", "primary"], "nothing to change"),
    (["edit", "--rank", "primary", "--member-id", ""], "member id is required"),
    (["edit", "--rank", "primary", "--relationship", "child"], "a subscriber name is required"),
    (["edit", "--rank", "primary", "--payer", "NOSUCH"], "NOSUCH"),
    (["edit", "--rank", "primary", "--subscriber-dob", "2030-01-01"], "subscriber_dob"),
    (["edit", "--rank", "primary", "--group", "G\x1b[2J"], "group"),
    (["end", "--rank", "fourth", "--on", "2026-12-31"], "fourth"),
])
def test_bad_edits_exit_2_and_write_nothing(demo, args, message):
    _, patient_id, _ = covered_visit(demo, "booked")
    demo.ok("patient", "coverage", "edit", patient_id, "--rank", "primary", "--start", "2026-01-01",
            "--end", "2026-12-31")
    before = snapshot(demo.home)
    result = demo("patient", "coverage", args[0], patient_id, *args[1:])
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert snapshot(demo.home) == before


def test_a_coverage_the_patient_lacks_is_not_found(demo):
    _, patient_id, _ = covered_visit(demo, "booked")
    before = snapshot(demo.home)
    for args in (["end", patient_id, "--rank", "tertiary", "--on", TODAY],
                 ["edit", patient_id, "--rank", "tertiary", "--group", "G2"]):
        result = demo("patient", "coverage", *args)
        assert result.exit_code == 1 and f"{patient_id} has no tertiary coverage" in result.stderr
    assert snapshot(demo.home) == before


def test_an_inactive_eligibility_state_flags_the_visit(demo):
    appt, patient_id, coverage = covered_visit(demo, "checked-out")
    payer = coverage["payer"]
    set_state(demo, patient_id, {"state": "active", "as_of": TODAY, "checked": "2026-11-26T09:00:00-05:00",
                                 "source": "271 EL1", "plan": "GOLD PPO"})
    assert sheet_row(demo, appt["id"])["coverage"] == f"{payer} active"
    listed = demo("patient", "coverage", "list", patient_id)
    assert f"active as of {TODAY} (271 EL1)" in listed.stdout
    claim, said = claim_for(demo, appt["id"])
    assert "coverage" not in said
    set_state(demo, patient_id, {"state": "inactive", "as_of": TODAY, "checked": "2026-11-26T09:30:00-05:00",
                                 "source": "271 EL2", "details": {"reason": "coverage terminated"}})
    assert sheet_row(demo, appt["id"])["coverage"] == f"{payer} inactive"
    reason = f"{payer} coverage is inactive (271 EL2 of {TODAY}: coverage terminated)"
    refused = demo("claim", "validate", claim["id"])
    assert refused.exit_code == 1 and f"lines[1].date {TODAY}: {reason}" in refused.stderr
    booked, booked_patient, _ = covered_visit(demo, "booked")
    set_state(demo, booked_patient, {"state": "inactive", "as_of": TODAY, "source": "manual by S3"})
    arrived = demo.json("appt", "checkin", booked["id"])
    assert any("is inactive (manual by S3 of" in m for m in arrived["missing_intake"]), arrived["missing_intake"]
    # An answer about a later day says nothing of this one.
    set_state(demo, patient_id, {"state": "inactive", "as_of": "2026-12-01", "source": "271 EL3"})
    assert demo.json("claim", "validate", claim["id"])["status"] == "ready"
    # A new member id forgets the answer, which was about the old one.
    demo.ok("patient", "coverage", "edit", patient_id, "--rank", "primary", "--member-id", "NEW9")
    assert demo.json("patient", "coverage", "list", patient_id)[0]["eligibility"]["state"] == "unknown"


# -- the functions, on records ------------------------------------------------------
def _patient(*coverages):
    return {"id": "P9", "coverages": list(coverages)}


HARBOR = {"rank": "primary", "payer": "HARBOR", "member_id": "H1", "start": "2026-01-01", "end": "2026-12-31"}


@pytest.mark.parametrize("day, found, problem", [
    ("2026-01-01", True, None), ("2026-12-31", True, None), ("2026-06-15", True, None),
    ("2027-01-05", False, "HARBOR coverage ended 2026-12-31"),
    ("2025-12-31", False, "HARBOR coverage starts 2026-01-01"),
])
def test_coverage_on_honours_the_period(day, found, problem):
    coverage, said = coverage_on(_patient(HARBOR), date.fromisoformat(day))
    assert (coverage is HARBOR, said) == (found, problem)


def test_coverage_on_other_ranks_open_bounds_and_several():
    open_ended = {**HARBOR, "start": "", "end": ""}
    assert coverage_on(_patient(open_ended), date(1990, 1, 1)) == (open_ended, None)
    assert coverage_on(_patient(HARBOR), date(2026, 5, 1), "secondary") == (None, "no secondary coverage")
    assert coverage_on(_patient(), date(2026, 5, 1)) == (None, "no primary coverage")
    old = {**HARBOR, "payer": "ACME", "start": "2020-01-01", "end": "2020-12-31"}
    later = {**HARBOR, "payer": "BETA", "start": "2027-03-01", "end": ""}
    assert coverage_on(_patient(old, HARBOR, later), date(2026, 2, 2)) == (HARBOR, None)
    assert coverage_on(_patient(old, HARBOR, later), date(2027, 2, 1))[1] == "HARBOR coverage ended 2026-12-31"
    assert coverage_on(_patient(old, later), date(2019, 2, 1))[1] == "ACME coverage starts 2020-01-01"
    assert coverage_label(_patient(), date(2026, 5, 1)) == "self-pay"
    assert coverage_label(_patient(HARBOR), date(2027, 5, 1)) == "HARBOR ended 2026-12-31"
    assert coverage_label(_patient({**HARBOR, "rank": "secondary"}), date(2026, 5, 1)) == "no primary coverage"


def test_set_eligibility_is_pure_and_checked():
    old = _patient(HARBOR, {**HARBOR, "rank": "secondary", "payer": "ACME"})
    assert eligibility_of(HARBOR) == {"state": "unknown", "as_of": "", "checked": "", "source": "", "plan": "",
                                      "details": {}}
    new = set_eligibility(old, "primary", {"state": "inactive", "as_of": "2026-12-04", "source": "271 EL12",
                                           "checked": "2026-12-04T08:00:00-05:00", "details": {"aaa": "72"}})
    assert "eligibility" not in old["coverages"][0] and "eligibility" not in new["coverages"][1]
    assert eligibility_of(new["coverages"][0]) == {
        "state": "inactive", "as_of": "2026-12-04", "checked": "2026-12-04T08:00:00-05:00", "source": "271 EL12",
        "plan": "", "details": {"aaa": "72"}}
    assert coverage_on(new, date(2026, 12, 3)) == (new["coverages"][0], None)  # before the day asked about
    assert coverage_on(new, date(2026, 12, 4))[1] == "HARBOR coverage is inactive (271 EL12 of 2026-12-04: not covered)"
    assert coverage_label(new, date(2026, 12, 4)) == "HARBOR inactive"
    for bad in ({"state": "maybe"}, {"state": "active", "as_of": "12/04/2026"}, {"state": "active", "colour": 1},
                {"state": "active", "details": "x"}):
        with pytest.raises(InvalidInput):
            set_eligibility(old, "primary", bad)
    with pytest.raises(NotFound):
        set_eligibility(old, "tertiary", {"state": "active"})


def test_the_scrubber_says_a_damaged_service_date_rather_than_failing():
    from medsec.billing.claims import _coverage_checker

    coverage = {"rank": "primary", "payer": "ACME", "member_id": "M1", "start": "", "end": "2026-11-30"}

    class View:
        def get(self, kind, patient_id):
            return {"id": patient_id, "coverages": [coverage]}

    class App:
        class store:  # noqa: N801 - stands in for app.store
            snapshot = staticmethod(View)

    check = _coverage_checker(App())
    claim = {"patient_id": "P1", "rank": "primary", "payer_id": "ACME", "subscriber": {"member_id": "M1"},
             "lines": [{"line": 1, "date": "2026-13-01"}, {"line": 2, "date": "2026-12-01"},
                       {"line": 3, "date": TODAY}]}
    assert check(claim) == ["lines[1].date 2026-13-01: not a date (YYYY-MM-DD)",
                            "lines[2].date 2026-12-01: ACME coverage ended 2026-11-30"]
