"""The append-only, hash-chained audit log: who did what to which records, never the PHI.

One JSON line per event in audit/YYYY-MM.jsonl. Every entry is a link of one chain
over the whole log, across months:
- `n`: its number, 1 for the first entry of the chain, then one more each entry;
- `prev`: the SHA-256 of the entry before it (64 zeros for the first);
- `sha256`: its own, the SHA-256 of the line's bytes without this last field. A line is
  `BODY` with `,"sha256":"HEX"` put before its closing brace, BODY being the entry
  (`n` and `prev` included) as written: `verify` hashes those very bytes again.

An append takes an exclusive lock on the audit folder (flock), reads the tail of the
newest month file (a few KB from its end, never the whole log), and writes its line
with one O_APPEND write: writers in other processes wait for each other for that
long only, and never break the chain. An entry goes to its month's file, or to the
newest file when that is later (a clock set back, a command begun before midnight):
the files, in name order, hold the chain in order.

Entries written before the chain (an older medsec) are "before the chain": `verify`
counts them, and the chain starts at the first chained entry. `verify` proves that no
entry was edited, inserted, deleted or reordered since it was written; with an anchor
(`head`, kept elsewhere) also that the log still extends that head, so a truncated,
deleted or wholly rewritten log is caught. Someone who can write the files could
rewrite the whole chain consistently: the anchor is what catches that.

SHA-256 comes from medsec.digests (the standard library's own, not hashlib): everyday
commands append to the log and do not pay for loading OpenSSL.
"""

import fcntl
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import orjson

from medsec.digests import sha256_hex
from medsec.fileio import FILE_MODE, append_line, make_private_dirs

# Who acts, and when: (user, command, time), as a store asks it of the command at each commit.
Actor = tuple[str, str, datetime]


# One audit entry: {"at", "user", "command", "action", "ids", "outcome", and extras such as "commit"}.
Entry = dict[str, Any]

GENESIS = "0" * 64  # the `prev` of the chain's first entry
CHAIN_KEYS = ("n", "prev", "sha256")  # what the chain adds to an entry (not shown by `audit`)
_HASH_KEY = b',"sha256":"'
_SUFFIX = len(_HASH_KEY) + 64 + 2  # ,"sha256":"<64 hex>"}
_MONTH_FILE = re.compile(r"\d{4}-\d{2}\.jsonl")
_TAIL_BLOCK = 4096  # bytes read from a file's end at a time, looking for its last entry


digest = sha256_hex  # the SHA-256 of a line's bytes in hex (medsec.digests: no OpenSSL)


def entry(*, user: str, command: str, action: str, ids: Iterable[str] = (), outcome: str = "ok",
          at: datetime | None = None, **extra: str) -> Entry:
    """One entry as every store keeps it. `extra` adds keys such as `commit` (the id that ties
    a change's "begun" entry, its outcome and a later "recovered" entry together)."""
    at = at or datetime.now(UTC)
    return {
        "at": at.replace(microsecond=0).isoformat(),
        "user": user,
        "command": command,
        "action": action,
        "ids": sorted(set(ids)),
        "outcome": outcome,
        **extra,
    }


def unchained(item: Entry) -> Entry:
    """An entry without what the chain added to it (as `audit` lists it, and `store copy` copies it)."""
    return {k: v for k, v in item.items() if k not in CHAIN_KEYS}


# -- the chain's links ------------------------------------------------------------------------
class Head(NamedTuple):
    """An entry of the chain as an anchor names it: its number, time and hash."""

    n: int
    at: str
    sha256: str


class Link(NamedTuple):
    """One stored entry as the chain judges it."""

    entry: dict[str, Any] | None  # None: not a JSON object (a garbage or torn line)
    stored: str | None  # the hash it carries (None: not chained)
    computed: str | None  # the hash of its bytes as written (None: not in the chain's form)

    def number(self) -> int | None:
        n = self.entry.get("n") if self.entry is not None else None
        return n if isinstance(n, int) and not isinstance(n, bool) else None


def chained_line(item: Entry, n: int, prev: str) -> tuple[bytes, str]:
    """The line (without its newline) of `item` as entry `n` after the entry hashed `prev`, and its hash."""
    body = orjson.dumps({**unchained(item), "n": n, "prev": prev})
    sha = digest(body)
    return body[:-1] + _HASH_KEY + sha.encode() + b'"}', sha


def parse_line(line: bytes, check: bool = True) -> Link:
    """A line of a month file (without its newline) as a Link; without `check`, its hash is not
    computed (`computed` None: the writer needs only the hash the line carries)."""
    if len(line) > _SUFFIX and line.endswith(b'"}') and line[-_SUFFIX:-66] == _HASH_KEY:
        body = line[:-_SUFFIX] + b"}"
        try:
            found = orjson.loads(body)
        except orjson.JSONDecodeError:
            found = None
        if isinstance(found, dict):
            return Link(found, line[-66:-2].decode("ascii", "replace"), digest(body) if check else None)
    try:
        found = orjson.loads(line)
    except orjson.JSONDecodeError:
        return Link(None, None, None)
    if not isinstance(found, dict):
        return Link(None, None, None)
    stored = found.get("sha256")
    return Link(found, stored if isinstance(stored, str) else None, None)


@dataclass
class Verdict:
    """What `verify` found: the chain's length and head, or the first place it breaks."""

    entries: int = 0  # chained entries read, up to the break if any
    before: int = 0  # entries before the chain (written by a medsec older than it)
    head: Head | None = None  # the last good entry
    place: str | None = None  # where the chain breaks (a file and line, a row), None when intact
    problem: str | None = None  # what is wrong there

    @property
    def intact(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        """One line: the count and the head, or where and how the chain breaks."""
        if not self.intact:
            return f"the audit log is broken at {self.place}: {self.problem}"
        before = f" (and {self.before} before the chain)" if self.before else ""
        if self.head is None:
            return f"audit log intact: no chained entries{before}"
        count = f"{self.entries} entr{'y' if self.entries == 1 else 'ies'}"
        return f"audit log intact: {count}{before}, head n={self.head.n} sha256={self.head.sha256}"


class Walk:
    """Judges a log's links in order (`add`), for a data directory's lines or a database's rows."""

    def __init__(self, anchor: Head | None = None):
        self.anchor = anchor
        self.verdict = Verdict()
        self._last_place = ""
        self._anchor_seen = False

    def add(self, place: str, link: Link) -> bool:
        """Take in the next link; False once the chain is broken (the rest need not be read)."""
        verdict = self.verdict
        if not verdict.intact:
            return False
        found = link.entry
        if found is None:
            return self._break(place, "not an audit entry (a garbage or torn line)")
        if link.stored is None and not any(key in found for key in CHAIN_KEYS):
            if verdict.head is None:
                verdict.before += 1
                return True
            return self._break(place, "an entry outside the chain (inserted, or written by an older medsec)")
        if link.computed is None or link.computed != link.stored:
            return self._break(place, "the entry does not match its hash: it was edited")
        n, prev = link.number(), found.get("prev")
        if n is None or not isinstance(prev, str):
            return self._break(place, "the entry has no chain number or previous hash: it was edited")
        misplaced = self._misplaced(n, prev)
        if misplaced:
            return self._break(place, misplaced)
        assert link.stored is not None
        if self.anchor is not None and n == self.anchor.n:
            self._anchor_seen = True
            if link.stored != self.anchor.sha256:
                return self._break(place, f"entry {n} is not the anchored one (its hash differs from the "
                                          "anchor's): the log was rewritten")
        verdict.entries += 1
        verdict.head = Head(n, str(found.get("at", "")), link.stored)
        self._last_place = place
        return True

    def _misplaced(self, n: int, prev: str) -> str | None:
        """What is wrong with entry `n`, naming `prev`, as the next link (None: nothing)."""
        head = self.verdict.head
        expected = head.n + 1 if head else 1
        if n != expected:
            if head is None:
                return f"the chain starts at entry {n}: {_entries(1, n - 1)} missing (deleted)"
            if n > expected:
                return (f"entry {n} follows entry {head.n} ({self._last_place}): {_entries(expected, n - 1)} "
                        "missing or out of place (deleted lines or a month file, or reordered lines)")
            return f"entry {n} follows entry {head.n} ({self._last_place}): out of order (reordered or copied)"
        if prev != (head.sha256 if head else GENESIS):
            return f"entry {n} does not name the hash of the entry before it: one of them was replaced or forged"
        return None

    def _break(self, place: str, problem: str) -> bool:
        self.verdict.place, self.verdict.problem = place, problem
        return False

    def finish(self, end: str) -> Verdict:
        """The verdict, once every link was added; `end` names the end of the log (for an anchor beyond it)."""
        verdict, anchor = self.verdict, self.anchor
        if verdict.intact and anchor is not None and not self._anchor_seen:
            last = verdict.head.n if verdict.head else 0
            self._break(self._last_place or end,
                        f"the log ends at entry {last}, before the anchored entry {anchor.n} of {anchor.at}: "
                        "its tail was cut off, or the log deleted or replaced")
        return verdict


def _entries(first: int, last: int) -> str:
    return f"entry {first} is" if first == last else f"entries {first} to {last} are"


# -- anchors ----------------------------------------------------------------------------------
ANCHOR_FORMAT = "medsec-audit-anchor"
_ANCHOR_LINE = re.compile(rf"{ANCHOR_FORMAT} v1 n=(\d{{1,18}}) at=(\S+) sha256=([0-9a-f]{{64}})")


def anchor_line(head: Head) -> str:
    """The anchor as one line: `medsec-audit-anchor v1 n=N at=TIME sha256=HEX`."""
    return f"{ANCHOR_FORMAT} v1 n={head.n} at={head.at} sha256={head.sha256}"


def anchor_data(head: Head) -> dict[str, Any]:
    """The anchor as `audit anchor --json` prints it."""
    return {"format": ANCHOR_FORMAT, "version": 1, "n": head.n, "at": head.at, "sha256": head.sha256}


def read_anchor(text: str) -> Head | None:
    """The head an anchor's text names (its one-line form anywhere in it, as a mail keeps it, or
    its JSON form); None when it holds none."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict) or data.get("format") != ANCHOR_FORMAT or data.get("version") != 1:
            return None
        n, at, sha = data.get("n"), data.get("at"), data.get("sha256")
        if isinstance(n, int) and not isinstance(n, bool) and n > 0 and isinstance(at, str) \
                and isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha):
            return Head(n, at, sha)
        return None
    found = [m for m in (_ANCHOR_LINE.fullmatch(line.strip()) for line in text.splitlines()) if m]
    if len(found) != 1 or int(found[0][1]) < 1:
        return None  # none, or two heads: which one is meant cannot be told
    return Head(int(found[0][1]), found[0][2], found[0][3])


# -- the data directory's log ------------------------------------------------------------------
def record(root: str, **fields: Any) -> None:
    """Append one entry (the fields of `entry`) to the data directory at `root`."""
    append(root, entry(**fields))


class _Locked:
    """The audit folder's exclusive lock (flock on the folder itself), held by a `with` block."""

    def __init__(self, folder: str):
        self.folder = folder
        self.fd = -1

    def __enter__(self) -> "_Locked":
        make_private_dirs(self.folder)
        self.fd = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(self.fd)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # releases the lock


def append(root: str, item: Entry) -> None:
    """Append an entry to the data directory at `root`, chained to the entry before it."""
    folder = os.path.join(root, "audit")
    with _Locked(folder):
        names = month_files(folder)
        name = _month_name(datetime.fromisoformat(item["at"]))
        if names and names[-1] > name:
            name = names[-1]  # never before the newest file: the files hold the chain in order
        tail, ragged = _tail(folder, names)
        line, _sha = chained_line(item, *((tail.n + 1, tail.sha256) if tail else (1, GENESIS)))
        if ragged and names and name == names[-1]:
            line = b"\n" + line  # a torn last line stays a line of its own (verify names it)
        append_line(os.path.join(folder, name), line + b"\n")


def head(root: str) -> Head | None:
    """The last entry of the chain (None when there is none yet): what an anchor keeps."""
    folder = os.path.join(root, "audit")
    if not os.path.isdir(folder):
        return None
    with _Locked(folder):
        return _tail(folder, month_files(folder))[0]


def month_files(folder: str) -> list[str]:
    """The names of the month files, in order (the chain's order)."""
    try:
        return sorted(n for n in os.listdir(folder) if _MONTH_FILE.fullmatch(n))
    except FileNotFoundError:
        return []


def _tail(folder: str, names: list[str]) -> tuple[Head | None, bool]:
    """(The chain's last entry, whether the newest file ends without a newline). Read from the
    newest file's end backwards: a few KB, unless garbage lines or a whole empty month are in
    the way. None when there is no chain yet: no entry at all, or an entry from before the
    chain is met first."""
    ragged = False
    for i, name in enumerate(reversed(names)):
        fd = os.open(os.path.join(folder, name), os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            if i == 0 and size:
                ragged = os.pread(fd, 1, size - 1) != b"\n"
            for line in _lines_backwards(fd, size):
                link = parse_line(line, check=False)
                if link.entry is None:
                    continue  # a garbage or torn line: the chain goes on from the entry before it
                n = link.number()
                if n is None or link.stored is None:
                    return None, ragged  # an entry from before the chain: it starts again
                return Head(n, str(link.entry.get("at", "")), link.stored), ragged
        finally:
            os.close(fd)
    return None, ragged


def _lines_backwards(fd: int, size: int) -> Iterator[bytes]:
    """The non-blank lines of an open file's first `size` bytes, last first, read in blocks from the end."""
    end, rest = size, b""
    while end > 0:
        start = max(0, end - _TAIL_BLOCK)
        chunk = os.pread(fd, end - start, start) + rest
        end = start
        stop = len(chunk)
        while (cut := chunk.rfind(b"\n", 0, stop)) >= 0:
            line = chunk[cut + 1:stop]
            if line.strip():
                yield line
            stop = cut
        rest = chunk[:stop]  # the start of a line that began before this block (or the file's first)
    if rest.strip():
        yield rest


def verify(root: str, anchor: Head | None = None) -> Verdict:
    """Walk the data directory's chain, month file after month file: the first place it breaks
    (a file and line), or its length and head. What is read is what the month files held when
    it began (their sizes taken under the writers' lock): a line being appended meanwhile is
    not half-read."""
    folder = os.path.join(root, "audit")
    walk = Walk(anchor)
    sizes: list[tuple[str, int]] = []
    if os.path.isdir(folder):
        with _Locked(folder):
            sizes = [(name, os.path.getsize(os.path.join(folder, name))) for name in month_files(folder)]
    for name, size in sizes:
        for number, line in _numbered_lines(os.path.join(folder, name), size):
            if not walk.add(f"audit/{name} line {number}", parse_line(line)):
                return walk.finish("")
    return walk.finish(f"audit/{sizes[-1][0]}" if sizes else "audit/ (no month files)")


def _numbered_lines(path: str, size: int) -> Iterator[tuple[int, bytes]]:
    """(line number, line without its newline) of a file's first `size` bytes, blank lines skipped."""
    read = 0
    try:
        with open(path, "rb") as f:
            for number, raw in enumerate(f, 1):
                read += len(raw)
                if read > size:
                    return
                line = raw.rstrip(b"\n")
                if line.strip():
                    yield number, line
    except FileNotFoundError:
        return  # moved away meanwhile: the next file's first entry shows the gap


def probe(root: str, at: datetime) -> None:
    """Open the month's log for appending (creating it), write nothing: an OSError when
    it cannot be appended to (a folder in its place, a read-only or broken disk)."""
    path = os.path.join(root, "audit", _month_name(at))
    make_private_dirs(os.path.dirname(path))
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE))


def _month_name(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}.jsonl"


def entries(root: str, *, record_id: str | None = None, user: str | None = None,
            since: date | None = None, warn: Callable[[str], None] | None = None) -> list[Entry]:
    """The data directory's audit entries, oldest first, filtered by record id, user and date
    (without what the chain adds to them). A line that is no entry is skipped, and said on
    stderr (`warn`): a torn line from a crash, or one written by hand (`audit verify` names it)."""
    folder = os.path.join(root, "audit")
    names = month_files(folder)
    if since:
        names = [n for n in names if n[:7] >= since.strftime("%Y-%m")]
    wanted = record_id.upper() if record_id else None

    def kept(found: Entry) -> bool:
        return not (wanted and wanted not in found.get("ids", []) or user and found.get("user") != user
                    or since and found.get("at", "")[:10] < since.isoformat())

    out: list[Entry] = []
    garbage: list[str] = []
    for name in names:
        for number, found in _file_entries(os.path.join(folder, name)):
            if found is None:
                garbage.append(f"audit/{name} line {number}")
            elif kept(found):
                out.append(unchained(found))
    if garbage:
        (warn or _warn)(f"{len(garbage)} line(s) of the audit log are not entries and were skipped "
                        f"(first: {garbage[0]}); run 'medsec audit verify'")
    return out


def _file_entries(path: str) -> Iterator[tuple[int, Entry | None]]:
    """(line number, entry) of a month file's lines; None for a complete line that is no entry
    (a last line without its newline is left out: it may be an append in flight)."""
    try:
        with open(path, "rb") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    found = orjson.loads(line)
                except orjson.JSONDecodeError:
                    found = None
                if isinstance(found, dict):
                    yield number, found
                elif line.endswith(b"\n"):
                    yield number, None
    except FileNotFoundError:
        return


def _warn(message: str) -> None:
    print(f"medsec: warning: {message}", file=sys.stderr)


def os_user() -> str:
    try:
        import getpass  # only when no user is given; most commands never need it

        return getpass.getuser()
    except Exception:
        return f"uid{os.getuid()}"
