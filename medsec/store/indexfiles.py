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

Split shards (the name index). Names cluster (Mc-, Ma-, Sa-): a fixed
two-letter shard can hold half the practice, and a look-up of a rare name
would parse all of it. So a shard holding more than SPLIT_ABOVE ids (and
more than one key) splits by one more letter, again and again as needed:
`ma` keeps only the key "ma" itself and lists its children under the key
SPLIT (`{"": ["mab", "mak"], "ma": [...]}`), `mab` holds the keys starting
with "mab". The layout is a pure function of the index's contents (`layout`:
`medsec check` rebuilds it from the records, `laid_out`), so a shard that
shrinks back under the limit is merged into its parent again. An entry
names a key's root shard (its first two letters, as before splitting
existed, so a data directory written before reads the same); the file is
found from there by following the lists.

Readers take no lock, so a commit writes a split shard's children before
the shard that lists them, and a merged shard before the children it
empties (`commit_rank`). A child a shard lists always holds something; a
reader that finds one empty met a merge half-applied: it waits for the
commit (its view's `settle`) and reads again.
"""

import re
import zlib
from collections.abc import Callable, Iterable
from typing import NamedTuple

from medsec.errors import EnvironmentFailure
from medsec.store.catalog import ALL_KINDS, INDEXES
from medsec.store.kinds import Record, RecordKind

# An index entry as this backend stores it: (index name, shard, key).
IndexEntry = tuple[str, str, str]


# An index file's contents: key -> record ids (and, in a split shard, SPLIT -> its children).
Shard = dict[str, list[str]]

SPLIT = ""  # the key under which a split shard lists its children (no index key is empty)
SPLIT_ABOVE = 4000  # ids a splitting index's shard holds at most before it splits (one key excepted)


class Sharding(NamedTuple):
    """How one index picks the shard of a key."""

    shard: Callable[[str], str]
    prefix: int = 0  # the shard is the key's first `prefix` characters
    suffix: int = 0  # the shard is the key's last `suffix` characters
    splits: bool = False  # a shard splits by one more character past SPLIT_ABOVE ids (see above)


def _leading(n: int, splits: bool = False) -> Sharding:
    return Sharding(lambda key: key[:n], prefix=n, splits=splits)


def _trailing(n: int) -> Sharding:
    return Sharding(lambda key: key[-n:], suffix=n)


def _bucket(size: int) -> Sharding:
    """Keys that are record ids (a prefix, then a number): `size` numbers per shard."""
    return Sharding(lambda key: f"{(int(key[1:]) - 1) // size:05d}")


def uid_shard(key: str) -> str:
    """One of 4,096 shards by CRC-32: ~250 keys each at a million appointments."""
    return f"{zlib.crc32(key.encode()) & 0xFFF:03x}"


_HASHED = Sharding(uid_shard)
_OWN_UID = re.compile(r"A([1-9][0-9]{0,8})-[^@]*@medsec")


def appt_uid_shard(key: str) -> str:
    """A UID medsec made ("<appointment or series id>-<instance>@medsec") is filed by its id's
    thousands ("a00012"), as the locator is: a bulk write touches the shards of its new ids
    only, not all 4,096 hashed ones. Any other UID (an imported calendar's) stays hashed."""
    own = _OWN_UID.fullmatch(key)
    return f"a{(int(own.group(1)) - 1) // 1000:05d}" if own else uid_shard(key)

_ONE = Sharding(lambda key: "00000")  # small indexes (statuses, queues): one file
_BY_PERSON = _bucket(100)  # keys that are patient ids
_BY_THOUSAND = _bucket(1000)  # keys that are appointment or series ids

SHARDING: dict[str, Sharding] = {
    "patient-name": _leading(2, splits=True), "patient-dob": _leading(4), "patient-phone": _trailing(2),
    # a patient's appointments by thousands of patients: a bulk write of a month's visits (to
    # every patient) rewrites 100 files, not 1,000; a look-up parses ~120 kB at a million
    "appt-patient": _bucket(1000), "appt-series": _BY_THOUSAND, "appt-uid": Sharding(appt_uid_shard),
    "appt-room": _leading(7),
    "reminder-appt": _BY_THOUSAND, "reminder-pending": _ONE, "call-patient": _BY_PERSON,
    "charge-patient": _BY_PERSON, "claim-patient": _BY_PERSON, "claim-status": _ONE,
    "payment-patient": _BY_PERSON, "remit-trace": _HASHED, "lab-patient": _BY_PERSON, "lab-filler": _HASHED,
    "labresult-message": _HASHED, "labresult-unmatched": _ONE, "referral-patient": _BY_PERSON,
    "refill-patient": _BY_PERSON, "credential-staff": _ONE,
    "elig-patient": _BY_PERSON, "elig-waiting": _ONE, "edi-sha256": _HASHED, "edi-control": _HASHED,
    "edi-unmatched": _ONE, "doc-patient": _BY_PERSON, "doc-unsigned": _ONE, "doc-audio": _HASHED,
    "intake-patient": _BY_PERSON, "intake-pending": _ONE, "kiosklink-appt": _BY_THOUSAND,
}


def locator(kind: RecordKind) -> str:
    """The name of a by-day kind's locator index (id -> place)."""
    return f"{kind.name}-day"


def locator_shard(n: int) -> str:
    """The locator lists the places of ids in thousands: id n is in shard (n - 1) // 1000."""
    return f"{(n - 1) // 1000:05d}"


def entries(kind: RecordKind, record: Record, place: str | None = None) -> set[IndexEntry]:
    """Every index entry of a record as stored: the kind's keys and, for a by-day kind, its locator
    (its `place`: given by a caller that has it already, `medsec check`, which reads a million).

    For an index whose shards split, the shard named is the key's root: its
    file is found from there (`apply`), and `laid_out` lays out a whole index.
    """
    found = {(name, _SHARD_OF[name](key), key) for name, key in kind.index_entries(record)}
    if kind.by_day:
        found.add((locator(kind), locator_shard(kind.number(record["id"])),
                   kind.place(record) if place is None else place))
    return found


# Each index's `Sharding.shard`, looked up once per entry by `entries`.
_SHARD_OF = {name: sharding.shard for name, sharding in SHARDING.items()}


def file_of(name: str, shard: str) -> str:
    return f"index/{name}/{shard}.json"


# Every index a data directory may hold, the locators included, with the kind it indexes.
OWNERS: dict[str, RecordKind] = {**INDEXES, **{locator(kind): kind for kind in ALL_KINDS if kind.by_day}}


# -- split shards ------------------------------------------------------------------
def splits(name: str) -> bool:
    """Whether index `name`'s shards split (see above)."""
    return name in SHARDING and SHARDING[name].splits


def _keys(data: Shard) -> Shard:
    """A shard's keys that hold ids (not its list of children)."""
    return {key: ids for key, ids in data.items() if key != SPLIT and ids}


def _fits(keys: Shard) -> bool:
    """Whether keys stay in one file: a single key (it cannot be split), or SPLIT_ABOVE ids at most."""
    return len(keys) <= 1 or sum(map(len, keys.values())) <= SPLIT_ABOVE


def layout(shard: str, keys: Shard) -> dict[str, Shard]:
    """The files (shard -> contents) of the subtree at `shard` holding `keys`, which all start with it:
    one file while they fit; else this shard keeps its own key and lists its children, each one
    more character long, each laid out the same way."""
    if _fits(keys):
        return {shard: dict(keys)}
    depth = len(shard) + 1
    groups: dict[str, Shard] = {}
    for key, ids in keys.items():
        if len(key) >= depth:
            groups.setdefault(key[:depth], {})[key] = ids
    files = {shard: {SPLIT: sorted(groups), **{key: ids for key, ids in keys.items() if len(key) < depth}}}
    for child, group in groups.items():
        files.update(layout(child, group))
    return files


def laid_out(expected: dict[str, Shard]) -> dict[str, Shard]:
    """Index files (rel -> key -> ids) as the records imply them, from the files their `entries`
    name: each root shard of an index whose shards split becomes its `layout` (`medsec check`)."""
    files: dict[str, Shard] = {}
    for rel, keys in expected.items():
        _folder, name, base = rel.split("/", 2)
        if splits(name):
            files.update((file_of(name, shard), data) for shard, data in layout(base[:-len(".json")], keys).items())
        else:
            files[rel] = keys
    return files


def commit_rank(rel: str, data: object) -> tuple[int, int]:
    """Where a file goes among a commit's index files, so that a reader never misses a key a split
    or a merge moves: a split shard after the children it lists (deeper shards first), a shard a
    merge empties after the parent that took its keys (empty files last). Other files: (0, 0)."""
    parts = rel.split("/")
    if len(parts) != 3 or parts[0] != "index" or not splits(parts[1]):
        return (0, 0)
    return (0 if data else 1, -len(parts[2]))


# -- queries ----------------------------------------------------------------------------
class _Torn(Exception):
    """A split shard lists a child that holds nothing: a commit moved its keys while they were read."""


class Reader:
    """Index queries over a view's files (`load` parses a file once per command, `listdir` lists a
    folder, `settle` waits for a commit in progress and forgets the files parsed)."""

    def __init__(self, load: Callable[[str], object], listdir: Callable[[str], list[str]],
                 settle: Callable[[], None] | None = None):
        self._load = load
        self._listdir = listdir
        self._settle = settle

    def shard(self, name: str, shard: str) -> Shard:
        data = self._load(file_of(name, shard))
        return data if isinstance(data, dict) else {}

    def shards(self, name: str) -> list[str]:
        return [n[:-5] for n in self._listdir(f"index/{name}")]

    def roots(self, name: str) -> list[str]:
        """The shards a query of the whole index starts from: all, or a splitting index's roots."""
        sharding = SHARDING[name]
        return [s for s in self.shards(name) if not sharding.splits or len(s) <= sharding.prefix]

    def key(self, name: str, key: str) -> list[str]:
        found = self._query(name, lambda: [SHARDING[name].shard(key)], key.__eq__, key.startswith)
        return found.get(key, [])

    def prefix(self, name: str, prefix: str) -> Shard:
        n = SHARDING[name].prefix

        def shards() -> Iterable[str]:
            if n and len(prefix) >= n:
                return [prefix[:n]]
            return [s for s in self.roots(name) if not n or s.startswith(prefix)]

        return self._query(name, shards, lambda key: key.startswith(prefix),
                           lambda child: child.startswith(prefix) or prefix.startswith(child))

    def suffix(self, name: str, suffix: str) -> Shard:
        n = SHARDING[name].suffix

        def shards() -> Iterable[str]:
            if n and len(suffix) >= n:
                return [suffix[-n:]]
            return [s for s in self.roots(name) if not n or s.endswith(suffix)]

        return self._query(name, shards, lambda key: key.endswith(suffix), lambda child: True)

    def range(self, name: str, low: str, high: str) -> Shard:
        n = SHARDING[name].prefix

        def near(shard: str) -> bool:  # a key starting with `shard` may be in the range
            return low[:len(shard)] <= shard <= high[:len(shard)]

        return self._query(name, lambda: [s for s in self.roots(name) if not n or near(s)],
                           lambda key: low <= key < high, near)

    def _query(self, name: str, shards: Callable[[], Iterable[str]], wanted: Callable[[str], bool],
               descend: Callable[[str], bool]) -> Shard:
        """`_gather` from `shards()`; read again once a commit that moved keys under it is over."""
        if self._settle is not None:
            try:
                return self._gather(name, shards(), wanted, descend)
            except _Torn:
                self._settle()
        try:
            return self._gather(name, shards(), wanted, descend)
        except _Torn as torn:
            raise EnvironmentFailure(f"{torn}: a split index shard lists it, but it holds nothing",
                                     hint="run 'medsec check'") from None

    def _gather(self, name: str, shards: Iterable[str], wanted: Callable[[str], bool],
                descend: Callable[[str], bool]) -> Shard:
        """Each key `wanted` with its ids, from these shards and the children `descend` picks of
        those that split."""
        found: Shard = {}
        todo = [(shard, False) for shard in shards]
        splitting = splits(name)
        while todo:
            shard, listed = todo.pop()
            data = self.shard(name, shard)
            children = data.get(SPLIT, []) if splitting else []
            if listed and not children and not any(data.values()):
                raise _Torn(file_of(name, shard))
            found.update((key, list(ids)) for key, ids in data.items()
                         if ids and wanted(key) and not (splitting and key == SPLIT))
            todo += [(child, True) for child in children if descend(child)]
        return found


# -- changes ------------------------------------------------------------------------------
def apply(load: Callable[[str], object], stage: Callable[[str, object], None],
          removals: Iterable[tuple[IndexEntry, str]], additions: Iterable[tuple[IndexEntry, str]]) -> None:
    """Move index entries (entry, record id); each index file is read and staged once.

    Keys hold id lists in insertion order; a set per touched key keeps a
    bulk import linear even for a surname shared by thousands. Then the
    shards the moves took past SPLIT_ABOVE split, and those they took back
    under it merge (`_Edit.lay_out`).
    """
    edit = _Edit(load)
    for entry, rid in removals:
        ids, seen = edit.ids_of(entry, removing=True)
        if rid in seen:
            ids.remove(rid)
            seen.discard(rid)
    for entry, rid in additions:
        ids, seen = edit.ids_of(entry, removing=False)
        if rid not in seen:
            ids.append(rid)
            seen.add(rid)
    edit.lay_out()
    for rel in sorted(edit.changed):
        stage(rel, {k: v for k, v in edit.files[rel].items() if v})


class _Edit:
    """The index files one `apply` changes: each read once, changed in place, staged if changed."""

    def __init__(self, load: Callable[[str], object]):
        self._load = load
        self.files: dict[str, Shard] = {}
        self.changed: set[str] = set()
        self._members: dict[tuple[str, str], set[str]] = {}
        self._roots: set[tuple[str, str]] = set()  # the splitting indexes' root shards moved under
        self._touched: set[tuple[str, str]] = set()  # ... every shard a move went through
        self._lost: set[tuple[str, str]] = set()  # ... and those a removal went through

    def data(self, name: str, shard: str) -> Shard:
        rel = file_of(name, shard)
        if rel not in self.files:
            raw = self._load(rel)
            self.files[rel] = dict(raw) if isinstance(raw, dict) else {}
        return self.files[rel]

    def put(self, name: str, shard: str, data: Shard) -> None:
        rel = file_of(name, shard)
        self.files[rel] = data
        self.changed.add(rel)

    def ids_of(self, entry: IndexEntry, removing: bool) -> tuple[list[str], set[str]]:
        """The ids of an entry's key (a private copy to change in place), and as a set."""
        name, shard, key = entry
        if splits(name):
            self._roots.add((name, shard))
            shard = self._holder(name, shard, key, removing)
        rel = file_of(name, shard)
        data = self.data(name, shard)
        self.changed.add(rel)
        if (rel, key) not in self._members:
            data[key] = list(data.get(key, []))
            self._members[(rel, key)] = set(data[key])
        return data[key], self._members[(rel, key)]

    def _holder(self, name: str, shard: str, key: str, removing: bool) -> str:
        """The shard that holds `key`, from its root down the children lists. A key added where
        its child is not listed yet lists it (new, empty); one removed from there is not held."""
        while True:
            self._touched.add((name, shard))
            if removing:
                self._lost.add((name, shard))
            data = self.data(name, shard)
            child = key[:len(shard) + 1]
            if SPLIT not in data or child == shard:
                return shard
            if child not in data[SPLIT]:
                if removing:
                    return shard
                data[SPLIT] = sorted([*data[SPLIT], child])
                self.changed.add(file_of(name, shard))
                self.put(name, child, {})
            shard = child

    def lay_out(self) -> None:
        """Split each shard the moves took past SPLIT_ABOVE, merge each they took back under it."""
        for name, root in sorted(self._roots):
            self._lay_out(name, root)

    def _lay_out(self, name: str, shard: str) -> None:
        data = self.data(name, shard)
        if SPLIT not in data:
            keys = _keys(data)
            if not _fits(keys):
                for part, contents in layout(shard, keys).items():
                    self.put(name, part, contents)
            return
        for child in data[SPLIT]:
            if (name, child) in self._touched:
                self._lay_out(name, child)
        emptied = [c for c in data[SPLIT] if (name, c) in self._touched and not any(self.data(name, c).values())]
        if emptied:
            data[SPLIT] = [c for c in data[SPLIT] if c not in emptied]
            self.changed.add(file_of(name, shard))
        if (name, shard) in self._lost and not self._stays_split(name, shard):
            self._merge(name, shard)

    def _stays_split(self, name: str, shard: str) -> bool:
        """Whether a split shard's subtree still does not fit in one file: it does not as soon as a
        child is split, or once its keys pass SPLIT_ABOVE ids (children read only that far)."""
        own = _keys(self.data(name, shard))
        keys, ids = len(own), sum(map(len, own.values()))
        for child in self.data(name, shard)[SPLIT]:
            contents = self.data(name, child)
            if SPLIT in contents:
                return True
            held = _keys(contents)
            keys, ids = keys + len(held), ids + sum(map(len, held.values()))
            if keys > 1 and ids > SPLIT_ABOVE:
                return True
        return False

    def _merge(self, name: str, shard: str) -> None:
        """A split shard whose keys fit again takes its children's keys (each a single file) and
        empties them."""
        merged = _keys(self.data(name, shard))
        for child in self.data(name, shard)[SPLIT]:
            merged.update(_keys(self.data(name, child)))
            self.put(name, child, {})
        self.put(name, shard, merged)
