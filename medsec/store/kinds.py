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

    Ids are `prefix + n`, stored as TinyDB document n. By default record n
    lives in shard `(n - 1) // bucket`, so a lookup by id parses one small
    file. A `by_day` kind (appointments) lives in one file per day of its
    `start` instead, so a day's schedule parses one file; its id -> day
    locator is a derived index like any other.
    """

    name: str
    prefix: str
    bucket: int = 100
    index_entries: Callable[[dict], Iterable[IndexEntry]] = field(
        default=lambda record: (), compare=False
    )
    by_day: bool = False

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

    def day_shard(self, day: str) -> str:
        return f"{self.name}/{day[:4]}/{day}.json"

    def shard_for(self, record: dict) -> str:
        """The file a record lives in."""
        if self.by_day:
            return self.day_shard(record["start"][:10])
        return self.shard_of(self.number(record["id"]))

    @property
    def locator(self) -> str:
        return f"{self.name}-day"

    def locator_shard(self, n: int) -> str:
        return f"{(n - 1) // 1000:05d}"

    def entries(self, record: dict) -> set[IndexEntry]:
        """Every index entry of a record, the day locator included."""
        found = set(self.index_entries(record))
        if self.by_day:
            found.add((self.locator, self.locator_shard(self.number(record["id"])), record["start"][:10]))
        return found
