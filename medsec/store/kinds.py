"""Record kinds: how a kind's records are named, sharded and indexed."""

from dataclasses import dataclass, field
from typing import Callable, Iterable

from medsec.errors import InvalidInput

# An index entry: (index name, shard name, key). The index file
# index/<name>/<shard>.json maps key -> sorted list of record ids.
IndexEntry = tuple[str, str, str]


@dataclass(frozen=True)
class RecordKind:
    """A kind of record kept in TinyDB shards under `<name>/`.

    Ids are `prefix + n`; record n lives in shard `(n - 1) // bucket`, as
    TinyDB document n, so a lookup by id parses one small file.
    """

    name: str
    prefix: str
    bucket: int = 100
    index_entries: Callable[[dict], Iterable[IndexEntry]] = field(
        default=lambda record: (), compare=False
    )

    def number(self, record_id: str) -> int:
        """The numeric part of an id, accepted case-insensitively."""
        text = str(record_id).strip()
        if text[: len(self.prefix)].upper() == self.prefix and text[len(self.prefix):].isdigit():
            n = int(text[len(self.prefix):])
            if n > 0:
                return n
        raise InvalidInput(
            f"{record_id!r} is not a {self.name[:-1]} id (expected like {self.prefix}42)"
        )

    def format_id(self, n: int) -> str:
        return f"{self.prefix}{n}"

    def shard_of(self, n: int) -> str:
        return f"{self.name}/{(n - 1) // self.bucket:05d}.json"
