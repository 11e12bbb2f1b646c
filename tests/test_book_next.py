"""Book in one line (issue 17, part 2): `appt book PATIENT --type T --at next [--provider NAME|--any]
[--after WHEN] [--within DURATION]` takes the first free slot that fits, the patient's other
visits included; at a terminal the next few are offered to pick from. `appt reschedule ID --at
next` likewise. The end-to-end tests run the installed command (a subprocess, a pseudo-terminal)."""

import json
from datetime import datetime

import pytest
from helpers.practices import setup_practice
from helpers.terminal import run_in_terminal, terminal_env

from medsec.errors import InvalidInput
from medsec.scheduling.nextfree import after_duration, parse_duration

# The clock: Thursday 2026-11-26 10:00. S1 Dr A and S2 Dr B work Mon-Fri 08-12 and 13-17.
TWINS = [("Luis", "O'Connell", "1971-03-02"), ("Luis", "O'Connell", "1985-06-11")]  # P5, P6
ONE = ("Inés", "Núñez", "1990-04-05")  # P7


def build(medsec):
    setup_practice(medsec, patients=4)
    for first, last, dob in [*TWINS, ONE]:
        medsec.ok("patient", "add", "--first", first, "--last", last, "--dob", dob)
    return medsec


@pytest.fixture
def office(medsec, templates):
    return templates.copy(medsec, build)


def booked(office, patient: str) -> list[dict]:
    return office.json("appt", "list", "--patient", patient)


# -- end to end: the installed command --------------------------------------------------------
def test_booking_a_named_patient_at_the_next_free_slot_in_one_command(office):
    first = office.json("appt", "slots", "--any", "--type", "follow-up", "--first", "--patient", "P7")[0]
    run = office.run("appt", "book", "ines nunez", "--type", "follow-up", "--at", "next", "--json")
    record = json.loads(run.stdout)
    assert (record["patient_id"], record["start"], record["provider"]) == ("P7", first["start"], first["provider"])
    assert record["start"] == "2026-11-26T10:00:00-05:00"  # now: the first moment that fits
    assert run.stderr == "P7 Inés Núñez, 1990-04-05\n"


def test_a_name_two_patients_share_is_exit_1_listing_both_and_nothing_is_booked(office):
    run = office.run("appt", "book", "luis oconnell", "--type", "follow-up", "--at", "next", check=False)
    assert run.returncode == 1 and run.stdout == ""
    assert "medsec: P5 Luis O'Connell, 1971-03-02\nmedsec: P6 Luis O'Connell, 1985-06-11\n" in run.stderr
    assert "matches 2 patients" in run.stderr
    assert booked(office, "P5") == booked(office, "P6") == []


def test_at_a_terminal_the_person_picks_the_patient_and_the_slot(office, tmp_path):
    run = run_in_terminal(["appt", "book", "luis oconnell", "--type", "follow-up", "--at", "next",
                           "--provider", "dr b"],
                          terminal_env(office, tmp_path), answers=[("Which one?", "2"), ("Which one?", "2")])
    assert run.exit_code == 0, run.screen
    assert "1) P5 Luis O'Connell, 1971-03-02" in run.screen and "2) P6 Luis O'Connell, 1985-06-11" in run.screen
    assert "1) Thu 2026-11-26 10:00-10:20 with S2 Dr B" in run.screen
    assert "2) Thu 2026-11-26 10:30-10:50 with S2 Dr B" in run.screen  # 10:15 overlaps the first: not offered
    [visit] = booked(office, "P6")
    assert (visit["start"], visit["provider"]) == ("2026-11-26T10:30:00-05:00", "S2")
    assert booked(office, "P5") == []
    searches = [e["ids"] for e in office.json("audit") if (e["command"], e["action"]) == ("appt book", "search")]
    assert searches == [["P5", "P6"]]  # the two shown to pick from


def test_at_a_terminal_an_empty_answer_books_nothing(office, tmp_path):
    run = run_in_terminal(["appt", "book", "P7", "--type", "follow-up", "--at", "next"],
                          terminal_env(office, tmp_path), answers=[("Which one?", "")])
    assert run.exit_code == 1 and "no slot was picked" in run.screen
    assert booked(office, "P7") == []


# -- the search --------------------------------------------------------------------------------
def test_the_patients_other_visits_are_kept_clear(office):
    office.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-26 10:00", "--type", "follow-up")
    nxt = office.json("appt", "book", "P1", "--type", "follow-up", "--at", "next", "--any")
    assert nxt["start"] == "2026-11-26T10:20:00-05:00"  # S2 is free at 10:00, the patient is not


def test_after_within_and_provider(office):
    later = office.json("appt", "book", "P2", "--type", "follow-up", "--at", "next", "--provider", "Dr A",
                        "--after", "mon 13:00")
    assert (later["start"], later["provider"]) == ("2026-11-30T13:00:00-05:00", "S1")
    none = office("appt", "book", "P2", "--type", "follow-up", "--at", "next", "--after", "2026-12-25",
                  "--within", "1d")
    assert none.exit_code == 1 and "no free follow-up slot with any provider" in none.stderr
    nurse = office.json("appt", "book", "P3", "--type", "nurse-visit", "--at", "next")
    assert nurse["provider"] == "S3"  # only the nurse performs it


def test_reschedule_to_the_next_free_slot(office):
    visit = office.json("appt", "book", "P1", "--provider", "S1", "--at", "2026-12-01 09:00", "--type", "follow-up")
    moved = office.json("appt", "reschedule", visit["id"], "--at", "next", "--reason", "asked for sooner")
    assert (moved["id"], moved["start"], moved["provider"]) == (visit["id"], "2026-11-26T10:00:00-05:00", "S1")
    again = office.json("appt", "reschedule", visit["id"], "--at", "next", "--any", "--after", "tue")
    assert again["start"] == "2026-12-01T08:00:00-05:00"  # the next free time other than its own


@pytest.mark.parametrize("args,message", [
    (["--at", "2026-12-01 09:00"], "give --provider"),
    (["--at", "2026-12-01 09:00", "--provider", "S1", "--within", "2w"], "--within goes with --at next"),
    (["--at", "next", "--provider", "S1", "--any"], "not both"),
    (["--at", "next", "--repeat", "FREQ=WEEKLY;COUNT=2"], "leave out --repeat"),
    (["--at", "next", "--within", "soon"], "cannot read --within"),
    (["--at", "next", "--within", "2y"], "more than a year"),
    (["--at", "next", "--after", "someday"], "cannot read --after"),
])
def test_bad_usage_is_exit_2_and_books_nothing(office, args, message):
    result = office("appt", "book", "P1", "--type", "follow-up", *args)
    assert result.exit_code == 2 and message in result.stderr
    assert booked(office, "P1") == []


def test_durations():
    assert [parse_duration(t) for t in ("10d", "2w", "3m", "1y", "2 weeks", "5")] == \
        [(10, "d"), (2, "w"), (3, "m"), (1, "y"), (2, "w"), (5, "d")]
    for bad in ("0d", "x", "2 fortnights", "-1d"):
        with pytest.raises(InvalidInput):
            parse_duration(bad)
    assert after_duration(datetime(2027, 1, 31, 9), 1, "m") == datetime(2027, 2, 28, 9)
    assert after_duration(datetime(2027, 1, 31, 9), 2, "w") == datetime(2027, 2, 14, 9)
