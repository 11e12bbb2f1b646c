"""A real multi-file commit, serialized but not applied: what a crash leaves in a journal."""

from pathlib import Path

from medsec.records.patients import new_record
from medsec.store import Store, Transaction
from medsec.store.catalog import PATIENTS


def staged_commit(home: Path) -> list[tuple[str, bytes]]:
    """P3 added and P1 renamed Kowalski, in a practice that holds P1 and P2."""
    store = Store(str(home))
    with store.lock():
        txn = Transaction(store.root)
        old = txn.get(PATIENTS, "P1")
        (pid,) = txn.reserve_ids(PATIENTS)
        txn.put_many(PATIENTS, [{**old, "last": "Kowalski"},
                                new_record(pid, {"first": "Ola", "last": "Nowak", "dob": "1990-03-03"}, "")],
                     {"P1": old})
        return txn.serialized()
