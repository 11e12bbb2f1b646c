"""How `medsec check` compares an index file with what the records imply.

A kind's implied entries are gathered compactly (`_Kind.index` in medsec.store.integrity:
per index file, one JSON line `[key, id]` per entry in a bytearray); these turn them into
files (a splitting index laid out), compare them with the files there whatever the order
of keys and ids, and rebuild a file's contents for a repair.
"""

from typing import Any

import orjson

from medsec.store import indexfiles
from medsec.store.indexfiles import Shard


def implied(index: dict[tuple[str, str], bytearray]) -> dict[tuple[str, str], bytearray | Shard]:
    """The files (index, shard) -> contents that a kind's entries (`_Kind.index`) imply: as
    gathered, but for an index whose shards split, where each shard becomes its layout."""
    files: dict[tuple[str, str], bytearray | Shard] = {}
    for (name, shard), pairs in index.items():
        if indexfiles.splits(name):
            files.update(((name, part), data) for part, data in indexfiles.layout(shard, index_of(pairs)).items())
        else:
            files[name, shard] = pairs
    return files


def pairs_of(contents: bytearray | Shard) -> list[bytes] | None:
    """An index file's (key, id) pairs (as `_Kind.index` holds them, without the newline), in no
    order; keys with no ids left out. None when `contents` (parsed from the file) maps a key to
    anything else."""
    if isinstance(contents, bytearray):
        pairs = bytes(contents).split(b"\n")
        pairs.pop()  # what follows the last newline
        return pairs
    if not isinstance(contents, dict) or not all(isinstance(ids, list) or not ids for ids in contents.values()):
        return None
    return [orjson.dumps((key, record_id)) for key, ids in contents.items() if ids for record_id in ids]


def same(actual: Any, wanted: bytearray | Shard) -> bool:
    """Does an index file (parsed) hold what the records imply, whatever the order of its keys and ids?"""
    found, implied = pairs_of(actual), pairs_of(wanted)
    if found is None or implied is None or len(found) != len(implied):
        return False
    distinct = set(found)
    if len(distinct) == len(found):  # no id twice under a key (as ever but in damage): sets suffice
        return distinct == set(implied)
    found.sort()
    implied.sort()
    return found == implied


def rebuilt(wanted: bytearray | Shard) -> Shard | None:
    """An index file's contents as the records imply them; None: none (the file goes)."""
    return (index_of(wanted) if isinstance(wanted, bytearray) else wanted) or None


def index_of(pairs: bytearray) -> Shard:
    """An index file's contents from its (key, id) pairs (`_Kind.index`)."""
    index: Shard = {}
    for line in bytes(pairs).split(b"\n")[:-1]:
        key, record_id = orjson.loads(line)
        index.setdefault(key, []).append(record_id)
    return index
