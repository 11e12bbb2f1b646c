"""Isolation between writers, as the booking races need it: real processes, each with its own
handle on the store (`reopen`), doing read-check-write inside transactions at the same time.

The children are forked: each one runs a module-level function and says how it ended by its
exit code. A barrier lines them up so that their transactions overlap.
"""

import multiprocessing
from collections.abc import Callable
from multiprocessing.synchronize import Barrier

from store_contract.shapes import add, appointment

from medsec.store.api import Backend
from medsec.store.catalog import APPOINTMENTS, MEMOS

BOOKED, TAKEN = 0, 10
SLOT = "2026-12-01T09:00"
FORK = multiprocessing.get_context("fork")


def book_the_slot(reopen: Callable[[], Backend], barrier: Barrier) -> None:
    """Book SLOT with S1 unless S1's day already has an appointment there (exit TAKEN)."""
    store = reopen()
    barrier.wait()
    with store.transaction() as txn:
        if any(a["start"] == SLOT for a in txn.day(APPOINTMENTS, SLOT[:10], "S1")):
            raise SystemExit(TAKEN)
        [aid] = txn.reserve_ids(APPOINTMENTS)
        txn.put(APPOINTMENTS, {"id": aid, **appointment(SLOT, "S1")})


def count_up(reopen: Callable[[], Backend], barrier: Barrier, times: int) -> None:
    """Add one to memo M1's count, `times` times, one transaction each."""
    store = reopen()
    barrier.wait()
    for _ in range(times):
        with store.transaction() as txn:
            memo = txn.require(MEMOS, "M1", "memo")
            txn.put(MEMOS, {**memo, "count": memo["count"] + 1}, old=memo)


def run_together(target: Callable[..., None], processes: int, reopen: Callable[[], Backend],
                 *args: object) -> list[int | None]:
    """Start `processes` children `target(reopen, barrier, *args)` at once; their exit codes."""
    barrier = FORK.Barrier(processes)
    children = [FORK.Process(target=target, args=(reopen, barrier, *args)) for _ in range(processes)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=120)
    return [child.exitcode for child in children]


def test_of_processes_booking_the_same_slot_exactly_one_wins(backend, reopen):
    codes = run_together(book_the_slot, 4, reopen)
    assert sorted(codes) == [BOOKED, TAKEN, TAKEN, TAKEN]
    snap = backend.snapshot()
    assert [a["id"] for a in snap.day(APPOINTMENTS, SLOT[:10], "S1")] == ["A1"]
    assert snap.counters()["A"] == 1


def test_no_increment_is_lost_between_processes(backend, reopen):
    add(backend, MEMOS, {"subject": "visits", "count": 0})
    codes = run_together(count_up, 3, reopen, 15)
    assert codes == [0, 0, 0]
    assert backend.snapshot().require(MEMOS, "M1", "memo")["count"] == 3 * 15
