"""Seals: what medsec wrote, kept inside the files it wrote, for `medsec check`.

A record shard is written as {"_default": {doc_id: record}, "_seal": {doc_id:
checksum}}: the seal lists every document the commit wrote with the CRC-32 of
its bytes (as the journal's is: it tells a change made outside medsec, by
hand or by a tool, from medsec's own; like any checksum without a key it is
no defence against someone who recomputes it). A record changed, added or removed by hand, a shard emptied or
truncated, no longer matches its seal, and `check` names the file and the
ids. The id counters carry a seal too (their digest), so a counter lowered
by hand is seen: a counter is the high-water mark of the ids handed out, and
every id at or below it names a record that must exist (records are never
deleted).

Readers never look at seals (TinyDB and `Snapshot` read only "_default"):
only `check` verifies them, so reads cost nothing more. A write costs one
more serialization of the shard's records and a CRC-32 of each (under 1 µs
a record).

A data directory written before seals has shards without one. They are
"not yet sealed": sealed at their next write, all of them by `check
--repair` (and so `medsec upgrade`), which then marks the counters' seal
"shards": true. From then on a shard without a seal lost it outside medsec.
"""

import zlib
from typing import Any

import orjson

from medsec.store.catalog import ALL_KINDS

SEAL = "_seal"
TABLE = "_default"

# The top folders that hold record shards (and so sealed files).
SHARD_FOLDERS = frozenset(kind.name for kind in ALL_KINDS)


def is_shard(rel: str) -> bool:
    """Is `rel` (relative to the data directory) a record shard?"""
    return rel.split("/", 1)[0] in SHARD_FOLDERS


def digest(value: Any) -> int:
    """The CRC-32 of a JSON value's bytes: enough to see a change."""
    return zlib.crc32(orjson.dumps(value))


# A shard as medsec writes it: one record per line, in id order, so a reader
# that wants a few records of a file reads and parses only their lines
# (`record_line`). Still one JSON document: TinyDB, `check` and any JSON tool
# read it whole.
LINES_START = b'{"' + TABLE.encode() + b'":{\n'


def shard_bytes(data: dict[str, Any]) -> bytes:
    """A shard's file: its records, one per line, and their seal (a stale seal it was read with
    is dropped). Each record is serialized once, for its line and its checksum."""
    table: dict[str, Any] = data.get(TABLE, {})
    lines = []
    checksums = {}
    for doc_id in sorted(table, key=_number):
        record = table[doc_id]
        raw = orjson.dumps(record)
        checksums[doc_id] = zlib.crc32(raw)
        lines.append(orjson.dumps(str(doc_id)) + b":" + raw)
    return (LINES_START + b",\n".join(lines) + b"\n},\"" + SEAL.encode() + b'":' + orjson.dumps(checksums)
            + b"}")


def record_line(raw: bytes, n: int, record_id: str, whole: bool = True) -> tuple[bool, dict[str, Any] | None]:
    """Record n from a shard's bytes (`whole`: the file; else a part of its lines), by its own
    line: (whether the lines answered, the record).

    (True, None): the whole file is in lines and has no record n. (False,
    None): the file is not as medsec writes it (older, or edited), the part
    does not hold the line, or the line does not hold record `record_id`:
    read the whole file instead.
    """
    if whole and not raw.startswith(LINES_START):
        return False, None
    marker = b'\n"%d":' % n
    at = raw.find(marker)
    end = raw.find(b"\n", at + 1)
    if at < 0 or end < 0:
        return whole and at < 0, None
    line = raw[at + len(marker):end].rstrip(b",")
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False, None
    if isinstance(record, dict) and record.get("id") == record_id:
        return True, record
    return False, None


def counters_bytes(counters: dict[str, int], shards_sealed: bool) -> bytes:
    """The id counters' file, sealed; `shards_sealed` says every shard carries a seal."""
    plain = {prefix: n for prefix, n in counters.items() if prefix != SEAL}
    seal = {"digest": digest([plain, shards_sealed]), "shards": shards_sealed}
    return orjson.dumps({**plain, SEAL: seal})


def counters_seal(raw: Any) -> tuple[bool | None, bool]:
    """(does the counters file match its seal (None: it has none), are all shards sealed)."""
    if not isinstance(raw, dict) or not isinstance(raw.get(SEAL), dict):
        return None, False
    seal = raw[SEAL]
    plain = {prefix: n for prefix, n in raw.items() if prefix != SEAL}
    shards_sealed = seal.get("shards") is True
    return seal.get("digest") == digest([plain, shards_sealed]), shards_sealed


class ShardSeal:
    """How a shard's records compare with its seal (doc ids as strings).

    `medsec check` asks this of every shard: for a million records, each
    serialized once (`digest`, inlined) and the usual case, a seal that
    lists exactly the records there, seen without a look at each id.
    """

    def __init__(self, table: dict[str, Any], seal: dict[str, int]):
        crc32, dumps = zlib.crc32, orjson.dumps
        changed = [d for d, record in table.items() if d in seal and seal[d] != crc32(dumps(record))]
        self.changed = sorted(changed, key=int) if changed else changed
        if table.keys() == seal.keys():
            self.added: list[str] = []
            self.missing: list[str] = []
        else:
            self.added = sorted((d for d in table if d not in seal), key=int)
            self.missing = sorted((d for d in seal if d not in table), key=_number)

    @property
    def broken(self) -> bool:
        return bool(self.changed or self.added or self.missing)


def _number(doc_id: str) -> int:
    return int(doc_id) if doc_id.isdigit() else 0
