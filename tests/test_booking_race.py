"""Real processes booking the same slot at the same moment: exactly one wins.

Each booking is a process of its own, forked with the others of its round by a fork server
(helpers/forks.py: the console script's entry point without the interpreter's start-up for each).
"""

import os
from datetime import date, timedelta

import pytest

pytestmark = pytest.mark.both_backends
WEEKDAYS = [d.isoformat() for d in (date(2026, 12, 1) + timedelta(days=i) for i in range(40))
            if d.weekday() < 5 and d != date(2026, 12, 25)]


@pytest.mark.parametrize("processes,rounds", [(2, 20), (8, 10)])
def test_one_slot_one_winner(medsec, small_practice, forks, processes, rounds):
    small_practice(8)
    forker = forks({**os.environ, **medsec.env}, timeout=60)
    for round_no in range(rounds):
        at = f"{WEEKDAYS[round_no]} 09:00"
        booking = forker.start_all(["appt", "book", f"P{i + 1}", "--provider", "S1", "--at", at,
                                    "--type", "follow-up", "--json"] for i in range(processes))
        results = [forker.wait(i) for i in booking]
        winners = [r for r in results if r[0] == 0]
        losers = [r for r in results if r[0] != 0]
        assert len(winners) == 1, results
        assert all(code == 1 and "S1 is booked 09:00-09:20" in err and "next free:" in err
                   for code, _, err in losers), losers
        day = medsec.json("appt", "list", "--from", at[:10], "--provider", "S1")
        assert len(day) == 1 and day[0]["start"].startswith(at[:10] + "T09:00")
    ids = [a["id"] for a in medsec.json("appt", "list", "--from", "2026-12-01", "--to", "2027-01-31")]
    assert ids == [f"A{n}" for n in range(1, rounds + 1)]
    assert medsec("check").exit_code == 0
