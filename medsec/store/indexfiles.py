"""The data directory's index files: which file holds a key, and how queries read them.

The record kinds (medsec.store.catalog) say which index keys a record has:
(index, key) pairs, nothing about files. Here each index is laid out as
files `index/<name>/<shard>.json`, each mapping key -> [record ids], and a
key's shard is picked by the index's `Sharding`:

- by the key's first characters (names: 2, dates of birth: the year, a
  room's days: the month), so a prefix or range query reads only the
  shards it can match;
- by its last characters (phone numbers: the last two digits), for suffix queries;
- by a function of the whole key (patient and series ids in buckets, hashed
  UIDs), which exact look-ups use and other queries read in full.

A by-day kind's locator (id -> where the record lives: its day, or
day/provider) is an index of this backend's own: the kinds never name it.
"""

import zlib
from collections.abc import Callable, Iterable
from typing import NamedTuple

from medsec.store.catalog import ALL_KINDS, INDEXES
from medsec.store.kinds import Record, RecordKind

# An index entry as this backend stores it: (index name, shard, key).
IndexEntry = tuple[str, str, str]


class Sharding(NamedTuple):
    """How one index picks the shard of a key."""

    shard: Callable[[str], str]
    prefix: int = 0  # the shard is the key's first `prefix` characters
    suffix: int = 0  # the shard is the key's last `suffix` characters


def _leading(n: int) -> Sharding:
    return Sharding(lambda key: key[:n], prefix=n)


def _trailing(n: int) -> Sharding:
    return Sharding(lambda key: key[-n:], suffix=n)


def _bucket(size: int) -> Sharding:
    """Keys that are record ids (a prefix, then a number): `size` numbers per shard."""
    return Sharding(lambda key: f"{(int(key[1:]) - 1) // size:05d}")


def uid_shard(key: str) -> str:
    """One of 4,096 shards by CRC-32: ~250 keys each at a million appointments."""
    return f"{zlib.crc32(key.encode()) & 0xFFF:03x}"


_HASHED = Sharding(uid_shard)
_ONE = Sharding(lambda key: "00000")  # small indexes (statuses, queues): one file
_BY_PERSON = _bucket(100)  # keys that are patient ids
_BY_THOUSAND = _bucket(1000)  # keys that are appointment or series ids

SHARDING: dict[str, Sharding] = {
    "patient-name": _leading(2), "patient-dob": _leading(4), "patient-phone": _trailing(2),
    "appt-patient": _BY_PERSON, "appt-series": _BY_THOUSAND, "appt-uid": _HASHED, "appt-room": _leading(7),
    "reminder-appt": _BY_THOUSAND, "reminder-pending": _ONE, "call-patient": _BY_PERSON,
    "charge-patient": _BY_PERSON, "claim-patient": _BY_PERSON, "claim-status": _ONE,
    "payment-patient": _BY_PERSON, "remit-trace": _HASHED, "lab-patient": _BY_PERSON, "lab-filler": _HASHED,
    "labresult-message": _HASHED, "labresult-unmatched": _ONE, "referral-patient": _BY_PERSON,
    "refill-patient": _BY_PERSON,
}


def locator(kind: RecordKind) -> str:
    """The name of a by-day kind's locator index (id -> place)."""
    return f"{kind.name}-day"


def locator_shard(n: int) -> str:
    """The locator lists the places of ids in thousands: id n is in shard (n - 1) // 1000."""
    return f"{(n - 1) // 1000:05d}"


def entries(kind: RecordKind, record: Record) -> set[IndexEntry]:
    """Every index entry of a record as stored: the kind's keys and, for a by-day kind, its locator."""
    found = {(name, SHARDING[name].shard(key), key) for name, key in kind.entries(record)}
    if kind.by_day:
        found.add((locator(kind), locator_shard(kind.number(record["id"])), kind.place(record)))
    return found


def file_of(name: str, shard: str) -> str:
    return f"index/{name}/{shard}.json"


# Every index a data directory may hold, the locators included, with the kind it indexes.
OWNERS: dict[str, RecordKind] = {**INDEXES, **{locator(kind): kind for kind in ALL_KINDS if kind.by_day}}


class Reader:
    """Index queries over a view's files (`load` parses a file once per command, `listdir` lists a folder)."""

    def __init__(self, load: Callable[[str], object], listdir: Callable[[str], list[str]]):
        self._load = load
        self._listdir = listdir

    def shard(self, name: str, shard: str) -> dict[str, list[str]]:
        data = self._load(file_of(name, shard))
        return data if isinstance(data, dict) else {}

    def shards(self, name: str) -> list[str]:
        return [n[:-5] for n in self._listdir(f"index/{name}")]

    def key(self, name: str, key: str) -> list[str]:
        return list(self.shard(name, SHARDING[name].shard(key)).get(key, []))

    def matching(self, name: str, wanted: Callable[[str], bool], shards: Iterable[str]) -> dict[str, list[str]]:
        return {key: list(ids) for shard in shards for key, ids in self.shard(name, shard).items()
                if ids and wanted(key)}

    def prefix(self, name: str, prefix: str) -> dict[str, list[str]]:
        n = SHARDING[name].prefix
        if n and len(prefix) >= n:
            shards: Iterable[str] = [prefix[:n]]
        else:
            shards = [s for s in self.shards(name) if not n or s.startswith(prefix)]
        return self.matching(name, lambda key: key.startswith(prefix), shards)

    def suffix(self, name: str, suffix: str) -> dict[str, list[str]]:
        n = SHARDING[name].suffix
        if n and len(suffix) >= n:
            shards: Iterable[str] = [suffix[-n:]]
        else:
            shards = [s for s in self.shards(name) if not n or s.endswith(suffix)]
        return self.matching(name, lambda key: key.endswith(suffix), shards)

    def range(self, name: str, low: str, high: str) -> dict[str, list[str]]:
        n = SHARDING[name].prefix
        shards = [s for s in self.shards(name) if not n or low[:n] <= s <= high[:n]]
        return self.matching(name, lambda key: low <= key < high, shards)


def apply(load: Callable[[str], object], stage: Callable[[str, object], None],
          removals: Iterable[tuple[IndexEntry, str]], additions: Iterable[tuple[IndexEntry, str]]) -> None:
    """Move index entries (entry, record id); each index file is read and staged once.

    Keys hold id lists in insertion order; a set per touched key keeps a
    bulk import linear even for a surname shared by thousands.
    """
    files: dict[str, dict[str, list[str]]] = {}
    members: dict[tuple[str, str], set[str]] = {}

    def ids_of(entry: IndexEntry) -> tuple[list[str], set[str]]:
        name, shard, key = entry
        rel = file_of(name, shard)
        if rel not in files:
            data = load(rel)
            files[rel] = dict(data) if isinstance(data, dict) else {}
        data = files[rel]
        if (rel, key) not in members:
            data[key] = list(data.get(key, []))  # a private copy to change in place
            members[(rel, key)] = set(data[key])
        return data[key], members[(rel, key)]

    for entry, rid in removals:
        ids, seen = ids_of(entry)
        if rid in seen:
            ids.remove(rid)
            seen.discard(rid)
    for entry, rid in additions:
        ids, seen = ids_of(entry)
        if rid not in seen:
            ids.append(rid)
            seen.add(rid)
    for rel, data in files.items():
        stage(rel, {k: v for k, v in data.items() if v})
