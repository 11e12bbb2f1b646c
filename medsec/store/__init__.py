"""The data directory: TinyDB shards, derived indexes, atomic multi-file commits.

Readers (`Store.snapshot()`) take no lock: every file is replaced atomically,
records are written before the index entries that point at them, and callers
verify index hits against the records. Writers (`Store.transaction()`) hold
the directory's exclusive lock across the whole read-modify-write and commit
every file they touched as one unit through a roll-forward journal.
"""

from medsec.store.kinds import RecordKind
from medsec.store.store import Snapshot, Store, Transaction

__all__ = ["RecordKind", "Snapshot", "Store", "Transaction"]
