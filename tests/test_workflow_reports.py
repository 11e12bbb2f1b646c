"""The noshows, productivity, coverage and labs reports: hand-counted numbers, CSV, JSON and HTML alike."""

import pytest
from helpers.backends import read_config, write_config
from helpers.files import snapshot
from helpers.practices import setup_practice

pytestmark = pytest.mark.both_backends

NOW = "2026-11-27T18:00:00"  # Friday evening: the week Mon 11-23 .. Fri 11-27 is over
WEEK = ["--from", "2026-11-23", "--to", "2026-11-27"]
CODES = "codes:\n  - {code: '99213', system: CPT, description: Follow-up visit, fee: '125.00'}\n"


def visit(m, patient, provider, at, type_name, statuses):
    """Book a visit in the past and walk its statuses on its own day."""
    day = at[:10]
    appt = m.json("appt", "book", patient, "--provider", provider, "--at", at, "--type", type_name, "--allow-past",
                  env={"MEDSEC_NOW": f"{day}T07:00:00"})
    for status in statuses:
        m.ok("appt", "status", appt["id"], status, env={"MEDSEC_NOW": f"{day}T17:30:00"})
    return appt["id"]


def setup_week(medsec):
    """Dr A (S1), Dr B (S2), Nurse C (S3), front desk S4 (Mon-Tue only); a week of visits."""
    setup_practice(medsec, patients=4)
    medsec.env["MEDSEC_NOW"] = NOW
    hours = ("office_hours: {mon: ['08:00-17:00'], tue: ['08:00-17:00'], wed: ['08:00-17:00'], "
             "thu: ['08:00-17:00'], fri: ['08:00-17:00']}\n")
    write_config(medsec, "practice.yaml", read_config(medsec, "practice.yaml") + hours)
    write_config(medsec, "codes.yaml", CODES)
    medsec.ok("staff", "add", "--name", "Desk D", "--role", "front-desk")
    medsec.ok("staff", "hours", "S4", "--day", "mon-tue", "--from", "08:00", "--to", "17:00")
    seen = ["arrived", "roomed", "seen"]
    a1 = visit(medsec, "P1", "S1", "2026-11-23 08:00", "follow-up", seen + ["checked-out"])
    visit(medsec, "P2", "S1", "2026-11-23 09:00", "follow-up", ["no-show"])
    a3 = visit(medsec, "P3", "S2", "2026-11-24 08:00", "physical", seen)
    visit(medsec, "P4", "S2", "2026-11-24 09:00", "follow-up", ["no-show"])
    visit(medsec, "P3", "S2", "2026-11-25 10:00", "follow-up", [])  # never resolved: not counted
    cancelled = visit(medsec, "P4", "S1", "2026-11-26 08:00", "follow-up", [])
    medsec.ok("appt", "cancel", cancelled, "--reason", "patient request", env={"MEDSEC_NOW": "2026-11-26T07:30:00"})
    # staff away after the visits were booked: gaps in cover
    medsec.ok("staff", "off", "S3", "--from", "2026-11-24", "--to", "2026-11-24", "--reason", "sick")
    for sid in ("S1", "S2"):
        medsec.ok("staff", "off", sid, "--from", "2026-11-25", "--to", "2026-11-25", "--reason", "training")
    medsec.ok("bill", "charge", a1, "--code", "99213", "--dx", "I10")
    medsec.ok("bill", "charge", a3, "--code", "99213", "--dx", "I10", "--amount", "150.00")
    medsec.ok("bill", "pay", "P1", "--amount", "40.00", "--method", "card")
    medsec.ok("bill", "pay", "P3", "--amount", "150.00", "--method", "cash")
    return medsec


@pytest.fixture
def week(medsec, templates):
    """The week of setup_week, built once per run; the clock is Friday evening."""
    templates.copy(medsec, setup_week)
    medsec.env["MEDSEC_NOW"] = NOW
    return medsec


def test_noshows_by_provider_type_and_weekday(week):
    rows = {r["by"]: (r["visits"], r["no_shows"], r["no_show_rate"]) for r in week.json("report", "noshows", *WEEK)}
    assert rows == {"all": (4, 2, "50.0"), "provider S1": (2, 1, "50.0"), "provider S2": (2, 1, "50.0"),
                    "type follow-up": (3, 2, "66.7"), "type physical": (1, 0, "0.0"),
                    "weekday Mon": (2, 1, "50.0"), "weekday Tue": (2, 1, "50.0")}
    assert week.ok("report", "noshows", *WEEK, "--format", "csv").stdout.splitlines()[0] == \
        "by,visits,no_shows,no_show_rate"


def test_productivity_per_provider(week):
    rows = week.json("report", "productivity", *WEEK)
    assert [(r["provider"], r["visits_seen"], r["charges"], r["collections"]) for r in rows] == \
        [("S1", 1, "125.00", "40.00"), ("S2", 1, "150.00", "150.00")]
    assert week.json("report", "productivity", "--from", "2026-11-01", "--to", "2026-11-20") == \
        [{"provider": "S1", "name": "Dr A", "visits_seen": 0, "charges": "0.00", "collections": "0.00"},
         {"provider": "S2", "name": "Dr B", "visits_seen": 0, "charges": "0.00", "collections": "0.00"}]


def test_coverage_gaps(week):
    rows = [(r["date"], r["gap"], r["from"], r["to"], r["hours"]) for r in week.json("report", "coverage", *WEEK)]
    assert rows == [
        ("2026-11-24", "no nurse", "08:00", "08:30", "0.50"),  # the visit itself, not its type's buffer
        ("2026-11-24", "no nurse", "09:00", "09:20", "0.33"),
        ("2026-11-24", "no nurse on duty", "08:00", "17:00", "9.00"),  # the nurse's sick day
        ("2026-11-25", "no provider", "10:00", "10:20", "0.33"),
        ("2026-11-25", "no front desk", "08:00", "17:00", "9.00"),
        ("2026-11-25", "provider away", "10:00", "10:20", "0.33"),  # A5, booked with S2 on their training day
        ("2026-11-26", "no front desk", "08:00", "17:00", "9.00"),
        ("2026-11-27", "no front desk", "08:00", "17:00", "9.00"),
    ]
    away = [r for r in week.json("report", "coverage", *WEEK) if r["gap"] == "provider away"]
    assert [(r["patient_id"], r["provider"], r["note"]) for r in away] == [("P3", "S2", "time off (training)")]


DOCTOR = ["--physician", "S1", "--dx", "E78.5"]


def test_labs_by_facility_and_overdue(week):
    week.ok("lab", "order", "P1", *DOCTOR, "--facility", "North Lab", "--test", "Lipid panel", "--due", "2026-11-30",
            env={"MEDSEC_NOW": "2026-11-24T09:00:00"})
    week.ok("lab", "order", "P2", *DOCTOR, "--facility", "North Lab", "--test", "CBC", "--due", "2026-12-15")
    week.ok("lab", "order", "P3", *DOCTOR, "--facility", "Harbor Imaging", "--test", "Chest X-ray")
    week.ok("lab", "status", "LB3", "cancelled")
    period = ["--from", "2026-11-20", "--to", "2026-12-01"]
    rows = {r["facility"]: r for r in week.json("report", "labs", *period, env={"MEDSEC_NOW": "2026-12-01T09:00:00"})}
    assert list(rows) == ["Harbor Imaging", "North Lab", "(all)"]
    assert (rows["North Lab"]["ordered"], rows["North Lab"]["total"], rows["North Lab"]["overdue"]) == (2, 2, 1)
    assert (rows["Harbor Imaging"]["cancelled"], rows["Harbor Imaging"]["overdue"]) == (1, 0)
    assert (rows["(all)"]["total"], rows["(all)"]["overdue"]) == (3, 1)
    assert week.json("report", "labs", *period)[-1]["overdue"] == 0  # not yet overdue on 11-27


@pytest.mark.parametrize("name", ["noshows", "productivity", "coverage", "labs"])
def test_html_page_holds_the_json_numbers(week, tmp_path, name):
    import html5lib

    week.ok("lab", "order", "P1", *DOCTOR, "--facility", "North Lab", "--test", "Lipid panel")
    page = tmp_path / f"{name}.html"
    week.ok("report", name, *WEEK, "--format", "html", "-o", page)
    text = page.read_text()
    tree = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)
    assert tree.find(".//{http://www.w3.org/2000/svg}svg") is not None
    assert tree.find(".//{http://www.w3.org/2000/svg}rect") is not None
    assert "<script" not in text and "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    rows = week.json("report", name, *WEEK)
    assert rows
    cells = [[td.text or "" for td in tr.iter("td")] for tr in tree.iter("tr")][1:]
    assert cells == [[str(v) for v in row.values()] for row in rows]


@pytest.mark.parametrize("name", ["noshows", "productivity", "coverage", "labs"])
def test_reversed_date_range_is_bad_input(week, tmp_path, name):
    before = snapshot(week.home)
    result = week("report", name, "--from", "2026-11-27", "--to", "2026-11-23", "--format", "html",
                  "-o", tmp_path / "r.html")
    assert result.exit_code == 2 and "before --from" in result.stderr
    assert snapshot(week.home) == before and not (tmp_path / "r.html").exists()
