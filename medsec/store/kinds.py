"""Record kinds: how a kind's records are named, sharded and indexed."""

import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from medsec.errors import InvalidInput
from medsec.text import shown

# A record as stored: a JSON object whose fields its domain defines and checks.
Record = dict[str, Any]

# An index key of a record: (index name, key). A look-up of the key in the
# index finds the ids of the records that have it (a backend keeps the ids).
IndexKey = tuple[str, str]
_PART = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NUMBER = re.compile(r"[1-9][0-9]{0,8}")


class RecordKind(NamedTuple):
    """A kind of record kept in TinyDB shards under `<name>/`.

    Ids are `prefix + n`, stored as TinyDB document n. By default record n
    lives in shard `(n - 1) // bucket`, so a lookup by id parses one small
    file. A `by_day` kind lives by the day of its `start` instead, so a
    day's schedule parses one file; with `day_part` (appointments: the
    provider) each day is a folder holding one file per value of that
    field, so one provider's day parses a few kilobytes however busy the
    practice. Where a record lives (its place: the day, or day/part) is
    kept in the kind's locator, a derived index like any other. `amounts`
    names a record's money fields, which `check` verifies still read as amounts.
    """

    name: str
    prefix: str
    bucket: int = 100
    index_entries: Callable[[Record], Iterable[IndexKey]] = lambda record: ()
    by_day: bool = False
    day_part: str | None = None
    amounts: Callable[[Record], Iterable[tuple[str, Any]]] = lambda record: ()

    def number(self, record_id: str) -> int:
        """The numeric part of an id, accepted case-insensitively.

        Only the id exactly as medsec writes it: ASCII digits without a
        leading zero ('P00001' is not another spelling of P1, and '٤٢' or
        '²' are no digits here), at most nine of them.
        """
        if type(record_id) is str and record_id.startswith(self.prefix):  # as written: `_NUMBER` without
            digits = record_id[len(self.prefix):]  # a regex (`check` reads a million ids)
            if digits.isascii() and digits.isdigit() and digits[0] != "0" and len(digits) <= 9:
                return int(digits)
        text = str(record_id)
        digits = text[len(self.prefix):]
        if text[: len(self.prefix)].upper() == self.prefix and _NUMBER.fullmatch(digits):
            return int(digits)
        raise InvalidInput(
            f"{shown(record_id)} is not a {self.name.removesuffix('s')} id (expected like {self.prefix}42)"
        )

    def format_id(self, n: int) -> str:
        return f"{self.prefix}{n}"

    def shard_of(self, n: int) -> str:
        return f"{self.name}/{(n - 1) // self.bucket:05d}.json"

    def day_shard(self, day: str, part: str | None = None) -> str:
        """The file of one day (of one part of it, for a kind with day_part)."""
        return self.place_shard(day if part is None else f"{day}/{part}")

    def place_shard(self, place: str) -> str:
        return f"{self.name}/{place[:4]}/{place}.json"

    def place(self, record: Record) -> str:
        """A by-day record's place: its day, or day/part."""
        day: str = record["start"][:10]
        if self.day_part is None:
            return day
        part = str(record.get(self.day_part) or "")
        usual = part.isalnum() and part.isascii() and len(part) <= 64  # `_PART` without a regex
        if not usual and not _PART.fullmatch(part):
            raise InvalidInput(f"{self.name[:-1]} {record.get('id')}: {self.day_part} {part!r} cannot name a file")
        return f"{day}/{part}"

    def shard_for(self, record: Record) -> str:
        """The file a record lives in."""
        if self.by_day:
            return self.place_shard(self.place(record))
        return self.shard_of(self.number(record["id"]))

    def entries(self, record: Record) -> set[IndexKey]:
        """Every index key of a record."""
        return set(self.index_entries(record))
