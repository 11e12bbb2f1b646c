"""Scheduling through the real CLI, against hand-computed schedules.

The clock is Thursday 2026-11-26 10:00 (America/New_York). Dr A (S1) and
Dr B (S2) work Mon-Fri 08:00-12:00 and 13:00-17:00.
"""

import json

import pytest
from helpers.backends import write_config
from helpers.files import snapshot

pytestmark = pytest.mark.both_backends
FRI = "2026-11-27"


@pytest.fixture
def clinic(small_practice):
    return small_practice()


def book(m, patient, at, provider="S1", type_name="follow-up", *extra):
    return m("appt", "book", patient, "--provider", provider, "--at", at, "--type", type_name, *extra)


def starts(slots):
    return [s["start"][11:16] for s in slots]


def test_book_and_slots_around_a_booking(clinic):
    appt = clinic.json("appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 09:00", "--type", "follow-up")
    assert (appt["id"], appt["start"], appt["end"]) == ("A1", f"{FRI}T09:00:00-05:00", f"{FRI}T09:20:00-05:00")
    slots = clinic.json("appt", "slots", "--provider", "S1", "--type", "follow-up", "--from", FRI, "--days", "1")
    expected = ["08:00", "08:15", "08:30", "09:20"] + [f"{h:02d}:{m:02d}" for h in range(9, 12)
                                                      for m in (0, 15, 30, 45)
                                                      if "09:30" <= f"{h:02d}:{m:02d}" <= "11:30"]
    expected += [f"{h:02d}:{m:02d}" for h in range(13, 17) for m in (0, 15, 30, 45) if f"{h:02d}:{m:02d}" <= "16:30"]
    assert starts(slots) == expected
    first = clinic.json("appt", "slots", "--any", "--type", "follow-up", "--from", FRI, "--first")
    assert [(s["start"][11:16], s["provider"]) for s in first] == [("08:00", "S1")]
    # a slot's start is accepted verbatim by book
    again = clinic.json("appt", "book", "P2", "--provider", "S1", "--at", slots[3]["start"], "--type", "follow-up")
    assert again["start"] == f"{FRI}T09:20:00-05:00"


def test_slots_skip_the_past_today_and_buffers(clinic):
    today = clinic.json("appt", "slots", "--provider", "S1", "--type", "physical", "--days", "1")
    assert starts(today)[0] == "10:00"  # it is 10:00 now
    clinic.ok("appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 08:00", "--type", "physical")
    later = clinic.json("appt", "slots", "--provider", "S1", "--type", "follow-up", "--from", FRI, "--days", "1")
    assert starts(later)[:2] == ["08:40", "08:45"]  # 30 min + 10 min buffer


def test_refusals_name_the_conflict_and_the_next_free_slots(clinic):
    clinic.ok("appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 09:00", "--type", "follow-up")
    before = snapshot(clinic.home)
    taken = book(clinic, "P2", f"{FRI} 09:10")
    assert taken.exit_code == 1
    assert "S1 is booked 09:00-09:20 (A1)" in taken.stderr
    assert "next free: Fri 2026-11-27 09:20, Fri 2026-11-27 09:30, Fri 2026-11-27 09:45" in taken.stderr
    same_patient = book(clinic, "P1", f"{FRI} 09:10", "S2")
    assert same_patient.exit_code == 1 and "P1 already has A1" in same_patient.stderr
    lunch = book(clinic, "P2", f"{FRI} 12:10")
    assert lunch.exit_code == 1 and "outside S1's working hours" in lunch.stderr
    holiday = book(clinic, "P2", "2026-12-25 09:00")
    assert holiday.exit_code == 1 and "closed on 2026-12-25 (Christmas Day)" in holiday.stderr
    nurse_only = book(clinic, "P2", f"{FRI} 10:00", "S1", "nurse-visit")
    assert nurse_only.exit_code == 2 and "does not perform" in nurse_only.stderr
    assert snapshot(clinic.home) == before
    clinic.ok("staff", "off", "S1", "--from", "2026-11-30", "--to", "2026-12-01", "--reason", "course")
    off = book(clinic, "P2", "2026-12-01 09:00")
    assert off.exit_code == 1 and "S1 is off on 2026-12-01 (course)" in off.stderr
    assert "next free: Wed 2026-12-02 08:00" in off.stderr


def test_operating_room_shared_by_two_surgeons(clinic):
    first = clinic.json("appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 08:00", "--type", "surgery")
    assert first["room"] == "or1"
    clash = book(clinic, "P2", f"{FRI} 09:00", "S2", "surgery")  # or1 busy until 09:30 + 30 buffer
    assert clash.exit_code == 1 and "no room for surgery is free" in clash.stderr
    slots = clinic.json("appt", "slots", "--provider", "S2", "--type", "surgery", "--from", FRI, "--days", "1")
    assert starts(slots)[0] == "10:00" and slots[0]["room"] == "or1"
    clinic.ok("appt", "book", "P2", "--provider", "S2", "--at", f"{FRI} 10:00", "--type", "surgery")


BAD = {
    "in the past": (["appt", "book", "P1", "--provider", "S1", "--at", "2026-11-25 09:00", "--type", "follow-up"],
                    "is in the past"),
    "unknown type": (["appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 09:00", "--type", "massage"],
                     "unknown appointment type 'massage'"),
    "malformed rrule": (["appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 09:00", "--type", "follow-up",
                         "--repeat", "FREQ=SOMETIMES;COUNT=3"], "not a valid RRULE"),
    "endless rrule": (["appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 09:00", "--type", "follow-up",
                       "--repeat", "FREQ=WEEKLY"], "COUNT= or UNTIL="),
    "impossible date": (["appt", "book", "P1", "--provider", "S1", "--at", "2026-02-30 09:00", "--type",
                         "follow-up"], "2026-02-30"),
    "end before start": (["appt", "list", "--from", "2026-12-02", "--to", "2026-12-01"], "before --from"),
    "bad time": (["appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 9.30", "--type", "follow-up"],
                 "cannot read --at"),
    "zero duration": (["appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 09:00", "--type", "follow-up",
                       "--duration", "0"], "--duration"),
    "unknown room": (["appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 09:00", "--type", "follow-up",
                      "--room", "attic"], "unknown room"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_exit_2_nothing_written(clinic, name):
    args, text = BAD[name]
    before = snapshot(clinic.home)
    result = clinic(*args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("\n") == 1 and text in result.stderr
    assert snapshot(clinic.home) == before


def test_allow_past_records_a_visit(clinic):
    done = clinic.json("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-25 09:00", "--type",
                       "follow-up", "--allow-past")
    assert done["start"].startswith("2026-11-25T09:00")


def test_series_is_all_or_none(clinic):
    clinic.ok("appt", "book", "P2", "--provider", "S1", "--at", "2026-12-11 09:00", "--type", "follow-up")
    before = snapshot(clinic.home)
    result = clinic("appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 09:00", "--type", "follow-up",
                    "--repeat", "FREQ=WEEKLY;INTERVAL=1;COUNT=4")
    assert result.exit_code == 1
    assert "1 of 4 occurrences conflict; nothing was booked" in result.stderr
    assert "2026-12-11 09:00: S1 is booked 09:00-09:20 (A1)" in result.stderr
    assert snapshot(clinic.home) == before
    series = clinic.json("appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 10:00", "--type", "follow-up",
                         "--repeat", "FREQ=WEEKLY;INTERVAL=1;COUNT=4")
    assert [a["start"][:10] for a in series] == ["2026-11-27", "2026-12-04", "2026-12-11", "2026-12-18"]
    assert {a["series_id"] for a in series} == {"A2"}


def test_series_cancel_and_reschedule_one_or_all(clinic):
    series = clinic.json("appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 10:00", "--type", "follow-up",
                         "--repeat", "FREQ=WEEKLY;COUNT=4")
    ids = [a["id"] for a in series]
    clinic.ok("appt", "cancel", ids[1], "--reason", "patient travelling")
    moved = clinic.json("appt", "reschedule", ids[2], "--at", "2026-12-11 14:00")
    assert moved["start"] == "2026-12-11T14:00:00-05:00" and moved["recurrence_id"] == series[2]["start"]
    shifted = clinic.json("appt", "reschedule", ids[0], "--at", f"{FRI} 11:00", "--series")
    # the cancelled one stays cancelled; the rest move to Fridays 11:00
    assert [a["id"] for a in shifted] == [ids[0], ids[2], ids[3]]
    assert [a["start"] for a in shifted] == [f"{FRI}T11:00:00-05:00", "2026-12-11T11:00:00-05:00",
                                             "2026-12-18T11:00:00-05:00"]
    history = clinic.json("appt", "show", ids[0])["history"]
    assert history[-1]["action"] == "rescheduled" and history[-1]["previous"] == series[0]["start"]
    cancelled = clinic.json("appt", "cancel", ids[2], "--reason", "stopping", "--series")
    assert [a["id"] for a in cancelled] == [ids[2], ids[3]]
    assert [a["status"] for a in clinic.json("appt", "list", "--patient", "P1")] == \
        ["booked", "cancelled", "cancelled", "cancelled"]
    # the freed slots are bookable again
    clinic.ok("appt", "book", "P2", "--provider", "S1", "--at", "2026-12-18 11:00", "--type", "follow-up")
    assert clinic("check").exit_code == 0


def test_status_flow(clinic):
    today = clinic.json("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-26 10:30", "--type", "follow-up")
    later = clinic.json("appt", "book", "P2", "--provider", "S1", "--at", f"{FRI} 09:30", "--type", "follow-up")
    early = clinic("appt", "status", later["id"], "arrived")
    assert early.exit_code == 1 and "check-in happens on the appointment's day" in early.stderr
    for status in ("confirmed", "arrived", "roomed", "seen", "checked-out"):
        clinic.ok("appt", "status", today["id"], status)
    final = clinic("appt", "status", today["id"], "booked")
    assert final.exit_code == 1 and "checked-out is final" in final.stderr
    assert clinic("appt", "status", later["id"], "seen").exit_code == 1
    assert clinic("appt", "status", later["id"], "no-show").exit_code == 1  # not started yet
    cancelled = clinic.json("appt", "cancel", later["id"], "--reason", "feeling better")
    assert cancelled["late_cancel"] is True  # under 24 h ahead
    statuses = [h["status"] for h in clinic.json("appt", "show", today["id"])["history"]]
    assert statuses == ["booked", "confirmed", "arrived", "roomed", "seen", "checked-out"]


def test_checkin_lists_missing_intake(clinic):
    appt = clinic.json("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-26 10:30", "--type", "follow-up")
    result = clinic.json("appt", "checkin", appt["id"])
    assert result["status"] == "arrived"
    assert result["missing_intake"] == ["address", "ZIP", "email", "sex", "insurance coverage (or self-pay)",
                                        "registration form (missing)", "insurance form (missing)",
                                        "consent-to-treat form (missing)", "privacy-notice form (missing)",
                                        "financial-policy form (missing)"]


def test_noshow_auto_marks_only_past_unattended(clinic):
    clinic.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-26 09:00", "--type", "follow-up",
              "--allow-past")
    clinic.ok("appt", "book", "P2", "--provider", "S1", "--at", "2026-11-26 09:40", "--type", "follow-up",
              "--allow-past")
    clinic.ok("appt", "status", "A2", "arrived")
    clinic.ok("appt", "book", "P3", "--provider", "S2", "--at", "2026-11-26 09:50", "--type", "follow-up",
              "--allow-past")
    dry = clinic.json("appt", "noshow", "--auto", "--dry-run")
    assert [a["id"] for a in dry] == ["A1"]  # A3 is within the 15 minute grace
    assert clinic.json("appt", "show", "A1")["status"] == "booked"
    assert [a["id"] for a in clinic.json("appt", "noshow", "--auto")] == ["A1"]
    assert clinic.json("appt", "noshow", "--auto") == []  # idempotent for cron


def test_walkin_wait_from_the_queue(clinic):
    # 09:40 P1 with S1, roomed at 09:55 (15 min late); 10:00 P2 arrived at 09:58.
    clinic.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-26 09:40", "--type", "follow-up",
              env={"MEDSEC_NOW": "2026-11-26T09:00:00"})
    clinic.ok("appt", "book", "P2", "--provider", "S1", "--at", "2026-11-26 10:00", "--type", "follow-up",
              env={"MEDSEC_NOW": "2026-11-26T09:00:00"})
    clinic.ok("appt", "status", "A1", "arrived", env={"MEDSEC_NOW": "2026-11-26T09:38:00"})
    clinic.ok("appt", "status", "A1", "roomed", env={"MEDSEC_NOW": "2026-11-26T09:55:00"})
    clinic.ok("appt", "status", "A2", "arrived", env={"MEDSEC_NOW": "2026-11-26T09:58:00"})
    walk = clinic.json("appt", "walkin", "P3", "--provider", "S1")
    # S1's next opening is 10:20; P1 ends 10:15, P2 runs 10:15-10:35, so the walk-in starts 10:35
    assert walk["start"] == "2026-11-26T10:20:00-05:00" and walk["status"] == "arrived"
    assert (walk["patients_ahead"], walk["running_late_minutes"]) == (2, 15)
    assert (walk["expected_start"], walk["expected_wait_minutes"]) == ("2026-11-26T10:35:00-05:00", 35)
    # --any picks S2, who is free now with nobody waiting
    other = clinic.json("appt", "walkin", "P4", "--any")
    assert (other["provider"], other["start"][11:16], other["expected_wait_minutes"]) == ("S2", "10:00", 0)


def test_waitlist_offers_and_hooks(clinic, tmp_path):
    events = tmp_path / "events.jsonl"
    env = {"MEDSEC_PLUGINS": "helpers.recorder", "MEDSEC_TEST_EVENTS": str(events)}
    clinic.ok("appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 09:00", "--type", "follow-up", env=env)
    clinic.ok("appt", "waitlist", "add", "P3", "--type", "follow-up", "--provider", "S1", "--before", "2026-12-05",
              "--times", "mornings")
    clinic.ok("appt", "waitlist", "add", "P4", "--type", "follow-up", "--times", "afternoons")
    clinic.ok("appt", "status", "A1", "confirmed", env=env)
    result = clinic("appt", "cancel", "A1", "--reason", "sick", "--json", env=env)
    assert result.exit_code == 0
    assert "waitlist W1: offer 2026-11-27T09:00:00-05:00 to P3" in result.stderr
    assert [o["patient_id"] for o in result.json()["waitlist_offers"]] == ["P3"]
    logged = [json.loads(line) for line in events.read_text().splitlines()]
    assert logged == [
        {"hook": "appointment_booked", "id": "A1"},
        {"hook": "appointment_status_changed", "id": "A1", "old": "booked", "new": "confirmed"},
        {"hook": "appointment_cancelled", "id": "A1", "offers": ["P3"]},
    ]
    assert [w["id"] for w in clinic.json("appt", "waitlist", "list")] == ["W1", "W2"]
    clinic.ok("appt", "waitlist", "remove", "W2")
    assert [w["id"] for w in clinic.json("appt", "waitlist", "list")] == ["W1"]


def test_lists_and_day_sheet(clinic):
    clinic.ok("appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 09:00", "--type", "follow-up")
    clinic.ok("appt", "book", "P2", "--provider", "S2", "--at", f"{FRI} 08:30", "--type", "new-patient")
    clinic.ok("appt", "book", "P1", "--provider", "S2", "--at", "2026-12-03 08:30", "--type", "follow-up")
    sheet = clinic.json("appt", "day", FRI)
    assert [(r["time"], r["patient"], r["type"]) for r in sheet] == [
        ("08:30", "Lind, Bo", "new-patient"), ("09:00", "Lopez, Ana", "follow-up")]
    assert [r["id"] for r in clinic.json("appt", "day", FRI, "--provider", "S1")] == ["A1"]
    assert [a["id"] for a in clinic.json("appt", "list", "--patient", "P1")] == ["A1", "A3"]
    assert [a["id"] for a in clinic.json("appt", "list", "--from", FRI, "--to", "+7d", "--provider", "S2")] == \
        ["A2", "A3"]
    assert clinic.json("appt", "list", "--from", "2026-12-24") == []
    assert clinic("appt", "show", "A99").exit_code == 1


def test_merge_moves_appointments_to_the_survivor(clinic):
    clinic.ok("appt", "book", "P2", "--provider", "S1", "--at", f"{FRI} 09:00", "--type", "follow-up")
    clinic.ok("appt", "waitlist", "add", "P2", "--type", "follow-up")
    clinic.ok("patient", "merge", "P2", "--into", "P1")
    assert [a["id"] for a in clinic.json("appt", "list", "--patient", "P1")] == ["A1"]
    assert clinic.json("appt", "list", "--patient", "P1")[0]["patient_id"] == "P1"
    assert clinic.json("appt", "waitlist", "list")[0]["patient_id"] == "P1"
    assert clinic("check").exit_code == 0


def test_each_provider_day_is_its_own_file_and_moves_with_the_visit(clinic):
    """A provider's day sheet reads one small file; a visit moved to another
    provider or day moves file, and every read and `check` follow it."""
    a1 = clinic.json("appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 09:00", "--type", "follow-up")
    clinic.ok("appt", "book", "P2", "--provider", "S2", "--at", f"{FRI} 09:00", "--type", "follow-up")
    day = clinic.home / "appointments" / "2026" / FRI
    if clinic.pg is None:  # the data directory's files
        assert sorted(p.name for p in day.iterdir()) == ["S1.json", "S2.json"]
    assert [r["id"] for r in clinic.json("appt", "day", FRI, "--provider", "S2")] == ["A2"]
    # S2 is busy at 09:00; the patient's own visit does not block itself
    busy = clinic("appt", "reschedule", a1["id"], "--at", f"{FRI} 09:00", "--provider", "S2")
    assert busy.exit_code == 1 and "S2 is booked 09:00-09:20 (A2)" in busy.stderr
    refused = clinic("appt", "reschedule", a1["id"], "--at", f"{FRI} 10:00", "--provider", "S3")
    assert refused.exit_code == 2 and "does not perform follow-up" in refused.stderr
    moved = clinic.json("appt", "reschedule", a1["id"], "--at", "2026-11-30 10:00", "--provider", "S2")
    assert (moved["provider"], moved["start"]) == ("S2", "2026-11-30T10:00:00-05:00")
    assert moved["history"][-1]["previous_provider"] == "S1"
    if clinic.pg is None:
        assert json.loads((day / "S1.json").read_text())["_default"] == {}
    assert [r["id"] for r in clinic.json("appt", "day", "2026-11-30", "--provider", "S2")] == ["A1"]
    assert [a["id"] for a in clinic.json("appt", "list", "--patient", "P1", "--from", FRI, "--to", "2026-12-31")] \
        == ["A1"]
    assert clinic.json("appt", "show", "A1")["provider"] == "S2"
    # the patient cannot be in two places: P1 at S2 10:00 blocks P1 with S1 at 10:10
    clash = clinic("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-30 10:10", "--type", "follow-up")
    assert clash.exit_code == 1 and "P1 already has A1 at 10:00" in clash.stderr
    assert clinic.json("check") == []


def test_day_sheet_flags_what_the_patient_owes(clinic):
    write_config(clinic, "codes.yaml",
                 "codes:\n  - {code: '99213', system: CPT, description: Office visit, fee: '120.00'}\n")
    clinic.ok("appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 09:00", "--type", "follow-up")
    clinic.ok("appt", "book", "P2", "--provider", "S1", "--at", f"{FRI} 10:00", "--type", "follow-up")
    clinic.ok("bill", "charge", "P1", "--code", "99213", "--dx", "I10", "--provider", "S1")  # self-pay
    clinic.ok("bill", "pay", "P1", "--amount", "20", "--method", "cash")
    sheet = clinic.json("appt", "day", FRI, "--provider", "S1")
    assert [(r["patient_id"], r["balance_due"]) for r in sheet] == [("P1", "100.00"), ("P2", "")]
    assert "100.00" in clinic.ok("appt", "day", FRI, "--provider", "S1").stdout


@pytest.mark.directory_only(reason="the data directory's journal and files, written by hand")
def test_a_reader_during_a_move_between_providers_sees_it_once(clinic):
    """A lock-free reader that began before a commit moving a visit from S1's file to S2's,
    reading between any two of its files: the visit once, never twice or lost."""
    from medsec.fileio import write_atomic
    from medsec.store import Snapshot, Transaction
    from medsec.store.catalog import APPOINTMENTS
    from medsec.store.journal import JOURNAL, encode_journal

    clinic.ok("appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 09:00", "--type", "follow-up")
    clinic.ok("appt", "book", "P2", "--provider", "S2", "--at", f"{FRI} 10:00", "--type", "follow-up")
    txn = Transaction(str(clinic.home))
    old = txn.get(APPOINTMENTS, "A1")
    txn.put(APPOINTMENTS, {**old, "provider": "S2"}, old)
    files = txn.serialized()
    # the visit reaches S2's file before it leaves S1's
    assert [rel for rel, _ in files][:2] == [f"appointments/2026/{FRI}/S2.json", f"appointments/2026/{FRI}/S1.json"]
    write_atomic(str(clinic.home / JOURNAL), encode_journal(files))
    for rel, data in files:
        view = Snapshot(str(clinic.home))  # began before the commit: it does not look for the journal
        write_atomic(str(clinic.home / rel), data)
        assert sorted(r["id"] for r in view.day(APPOINTMENTS, FRI)) == ["A1", "A2"]
        assert view.get(APPOINTMENTS, "A1")["id"] == "A1"
    assert [r["provider"] for r in clinic.json("appt", "day", FRI)] == ["S2", "S2"]
    assert clinic.json("check") == []


@pytest.mark.directory_only(reason="damages the data directory's files")
def test_a_visit_left_in_two_provider_files_is_reported_not_looped_on(clinic):
    clinic.ok("appt", "book", "P1", "--provider", "S1", "--at", f"{FRI} 09:00", "--type", "follow-up")
    day = clinic.home / "appointments" / "2026" / FRI
    (day / "S2.json").write_text((day / "S1.json").read_text())  # damage: the same visit twice
    sheet = clinic("appt", "day", FRI)
    assert sheet.exit_code == 3 and "is in two of its files" in sheet.stderr and "medsec check" in sheet.stderr
    assert "misplaced" in clinic("check").stdout
