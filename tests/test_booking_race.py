"""Real processes booking the same slot at the same moment: exactly one wins."""

import os
import subprocess
from datetime import date, timedelta

import pytest
from helpers.cli import MEDSEC_BIN, finish
from helpers.practices import setup_practice

pytestmark = pytest.mark.both_backends
WEEKDAYS = [d.isoformat() for d in (date(2026, 12, 1) + timedelta(days=i) for i in range(40))
            if d.weekday() < 5 and d != date(2026, 12, 25)]


@pytest.mark.parametrize("processes,rounds", [(2, 20), (8, 10)])
def test_one_slot_one_winner(medsec, processes, rounds):
    setup_practice(medsec, patients=8)
    env = {**os.environ, **medsec.env}
    for round_no in range(rounds):
        at = f"{WEEKDAYS[round_no]} 09:00"
        procs = [subprocess.Popen([MEDSEC_BIN, "appt", "book", f"P{i + 1}", "--provider", "S1", "--at", at,
                                   "--type", "follow-up", "--json"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                 for i in range(processes)]
        results = [finish(p, 60) for p in procs]
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
