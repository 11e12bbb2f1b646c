"""Staff roster, working hours and time off, kept in staff.yaml."""

import yaml


def test_add_list_show_edit(practice):
    doc = practice.json("staff", "add", "--name", "Dr Ada Byron", "--role", "physician", "--npi",
                        "1234567893", "--email", "ada@example.org")
    assert doc["id"] == "S1" and doc["npi"] == "1234567893"
    practice.ok("staff", "add", "--name", "Casey", "--role", "front-desk")
    assert [m["id"] for m in practice.json("staff", "list")] == ["S1", "S2"]
    assert [m["id"] for m in practice.json("staff", "list", "--role", "front-desk")] == ["S2"]
    practice.ok("staff", "edit", "s2", "--phone", "617 555 0142", "--inactive")
    shown = practice.json("staff", "show", "S2")
    assert shown["phone"] == "617-555-0142" and shown["active"] is False
    roster = yaml.safe_load((practice.home / "staff.yaml").read_text())
    assert [m["name"] for m in roster["staff"]] == ["Dr Ada Byron", "Casey"]
    assert (practice.home / "staff.yaml").read_text().startswith("# staff.yaml")
    assert practice("config", "check").exit_code == 0


def test_physician_needs_valid_unique_npi(practice):
    assert practice("staff", "add", "--name", "Dr X", "--role", "physician").exit_code == 2
    practice.ok("staff", "add", "--name", "Dr X", "--role", "physician", "--npi", "1234567893")
    again = practice("staff", "add", "--name", "Dr Y", "--role", "physician", "--npi", "1234567893")
    assert again.exit_code == 1 and "already on the roster" in again.stderr


def test_hours_split_day_and_off(practice):
    practice.ok("staff", "add", "--name", "Nurse N", "--role", "nurse")
    rows = practice.json("staff", "hours", "S1", "--day", "mon-fri", "--from", "08:00", "--to", "12:00",
                         "--from", "13:00", "--to", "17:00")
    assert [r["day"] for r in rows] == ["mon", "tue", "wed", "thu", "fri"]
    assert rows[0]["hours"] == "08:00-12:00, 13:00-17:00"
    practice.ok("staff", "hours", "S1", "--day", "wed", "--off")
    practice.ok("staff", "hours", "S1", "--day", "sat", "--from", "9:00", "--to", "12:00")
    days = [r["day"] for r in practice.json("staff", "hours", "S1")]
    assert days == ["mon", "tue", "thu", "fri", "sat"]
    overlap = practice("staff", "hours", "S1", "--day", "mon", "--from", "08:00", "--to", "12:00",
                       "--from", "11:00", "--to", "13:00")
    assert overlap.exit_code == 2 and "overlaps" in overlap.stderr


def test_time_off_with_people_dates(practice):
    practice.ok("staff", "add", "--name", "Nurse N", "--role", "nurse")
    added = practice.json("staff", "off", "S1", "--from", "tomorrow", "--to", "+3d", "--reason", "course")
    assert added["time_off"] == [{"from": "2026-11-27", "to": "2026-11-29", "reason": "course"}]
    assert (added["stranded"], added["visits"]) == ("", [])  # no visit booked: nothing to choose
    practice.ok("staff", "off", "S1", "--from", "mon")  # the next Monday, a single day
    assert [s["from"] for s in practice.json("staff", "off", "S1")] == ["2026-11-27", "2026-11-30"]
    practice.ok("staff", "off", "S1", "--remove", "2026-11-27")
    assert [s["from"] for s in practice.json("staff", "off", "S1")] == ["2026-11-30"]
    assert practice("staff", "off", "S1", "--remove", "2026-11-27").exit_code == 1


def test_hand_edited_roster_is_read_and_validated(practice):
    (practice.home / "staff.yaml").write_text(
        "staff:\n  - id: S1\n    name: Dr Q\n    role: surgeon\n")
    result = practice("staff", "list")
    assert result.exit_code == 3 and "staff.yaml:4" in result.stderr and "unknown role" in result.stderr
