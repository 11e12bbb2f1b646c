"""Tasks through the real CLI: owners and role queues, order, overdue as the clock moves, done, report."""

import pytest
from helpers.files import snapshot

pytestmark = pytest.mark.both_backends


@pytest.fixture
def office(front_office):
    return front_office


def ids(rows):
    return [r["id"] for r in rows]


def test_tasks_walked_through(office):
    high = office.json("task", "add", "Call P1 back about the bill", "--for", "S4", "--due", "+2d",
                       "--patient", "P1", "--priority", "high")
    assert (high["id"], high["owner"], high["due"], high["status"]) == ("K1", "S4", "2026-11-28", "open")
    office.ok("task", "add", "Order printer paper", "--for", "s4", "--priority", "low")
    office.ok("task", "add", "Sign the lab requisitions", "--for", "S1", "--due", "tomorrow", "--priority", "urgent")
    office.ok("task", "add", "Scan the new intake forms", "--for", "front-desk", "--due", "today")
    # urgent first, then high, normal, low
    assert ids(office.json("task", "list")) == ["K3", "K1", "K4", "K2"]
    # mine: my own tasks and my role's queue (matched by the email on the roster)
    assert ids(office.json("task", "list", "--mine", env={"MEDSEC_USER": "fran@example.org"})) == ["K1", "K4", "K2"]
    assert ids(office.json("task", "list", "--mine", env={"MEDSEC_USER": "S1"})) == ["K3"]
    assert ids(office.json("task", "list", "--for", "S1")) == ["K3"]
    assert ids(office.json("task", "list", "--patient", "P1")) == ["K1"]

    # overdue: open and due before today; it moves with the clock
    assert office.json("task", "list", "--overdue") == []
    assert ids(office.json("task", "list", "--overdue", env={"MEDSEC_NOW": "2026-11-27T09:00:00"})) == ["K4"]
    assert ids(office.json("task", "list", "--overdue", env={"MEDSEC_NOW": "2026-11-29T09:00:00"})) == \
        ["K3", "K1", "K4"]

    closed = office.json("task", "done", "K1", "--note", "patient paid by card",
                         env={"MEDSEC_USER": "S4", "MEDSEC_NOW": "2026-11-27T15:00:00"})
    assert (closed["status"], closed["note"], closed["done_by"]) == ("done", "patient paid by card", "S4")
    again = office("task", "done", "K1")
    assert again.exit_code == 1 and "K1 is already done" in again.stderr
    assert ids(office.json("task", "list", "--overdue", env={"MEDSEC_NOW": "2026-11-29T09:00:00"})) == ["K3", "K4"]
    assert ids(office.json("task", "list", "--status", "done")) == ["K1"]
    assert office.json("task", "show", "k1")["note"] == "patient paid by card"
    assert "patient_id" in office.ok("task", "list", "--format", "csv").stdout.splitlines()[0]
    assert office("task", "show", "K99").exit_code == 1

    # who read and changed P1's task is in the audit log
    actions = [(e["command"], e["action"]) for e in office.json("audit", "--patient", "P1")
               if e["command"].startswith("task")]
    assert ("task add", "task") in actions and ("task done", "task") in actions and ("task show", "read") in actions


@pytest.mark.parametrize("args,code,text", [
    (["task", "add", "x", "--for", "S4", "--due", "yesterday"], 2, "in the past"),
    (["task", "add", "x", "--for", "S4", "--due", "someday"], 2, "cannot read --due"),
    (["task", "add", " ", "--for", "S4"], 2, "needs some text"),
    (["task", "add", "x", "--for", "S4", "--priority", "asap"], 2, "invalid value"),
    (["task", "add", "x", "--for", "janitor"], 2, "neither a staff id nor a role"),
    (["task", "add", "x", "--for", "S99"], 1, "no staff member S99"),
    (["task", "add", "x", "--for", "S4", "--patient", "P99"], 1, "no patient P99"),
])
def test_task_bad_input_writes_nothing(office, args, code, text):
    before = snapshot(office.home)
    result = office(*args)
    assert result.exit_code == code and text in result.stderr
    assert snapshot(office.home) == before


def test_tasks_report(office, tmp_path):
    office.ok("task", "add", "a", "--for", "S4", "--due", "+1d")
    office.ok("task", "add", "b", "--for", "S4")
    office.ok("task", "add", "c", "--for", "S1")
    office.ok("task", "done", "K2", env={"MEDSEC_NOW": "2026-11-28T10:00:00"})
    later = {"MEDSEC_NOW": "2026-11-30T10:00:00"}
    rows = {r["owner"]: r for r in office.json("report", "tasks", env=later)}
    assert rows["S4"] == {"owner": "S4", "tasks": 2, "open": 1, "overdue": 1, "done": 1, "avg_days_to_done": "2.0"}
    assert rows["S1"]["open"] == 1 and rows["S1"]["overdue"] == 0
    assert office.ok("report", "tasks", "--format", "csv").stdout.splitlines()[0] == \
        "owner,tasks,open,overdue,done,avg_days_to_done"
    page = tmp_path / "tasks.html"
    office.ok("report", "tasks", "--format", "html", "-o", page)
    assert "<svg" in page.read_text()
