"""The append-only audit log: who did what to which records, never the PHI.

One JSON line per event in audit/YYYY-MM.jsonl, appended with a single
O_APPEND write, so concurrent commands never interleave inside a line.
"""

import os
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import orjson

from medsec.fileio import FILE_MODE, append_line, make_private_dirs

# Who acts, and when: (user, command, time), as a store asks it of the command at each commit.
Actor = tuple[str, str, datetime]


# One audit entry: {"at", "user", "command", "action", "ids", "outcome", and extras such as "commit"}.
Entry = dict[str, Any]


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


def record(root: str, **fields: Any) -> None:
    """Append one entry (the fields of `entry`) to the data directory at `root`."""
    append(root, entry(**fields))


def append(root: str, item: Entry) -> None:
    """Append an entry to its month's file in the data directory at `root`."""
    append_line(_month_file(root, datetime.fromisoformat(item["at"])), orjson.dumps(item) + b"\n")


def probe(root: str, at: datetime) -> None:
    """Open the month's log for appending (creating it), write nothing: an OSError when
    it cannot be appended to (a folder in its place, a read-only or broken disk)."""
    path = _month_file(root, at)
    make_private_dirs(os.path.dirname(path))
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE))


def _month_file(root: str, at: datetime) -> str:
    return os.path.join(root, "audit", f"{at.strftime('%Y-%m')}.jsonl")


def entries(root: str, *, record_id: str | None = None, user: str | None = None,
            since: date | None = None) -> list[Entry]:
    """The data directory's audit entries, oldest first, filtered by record id, user and date."""
    folder = os.path.join(root, "audit")
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".jsonl"))
    except FileNotFoundError:
        return []
    if since:
        names = [n for n in names if n[:7] >= since.strftime("%Y-%m")]
    out = []
    wanted = record_id.upper() if record_id else None
    for name in names:
        with open(os.path.join(folder, name), "rb") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue  # a torn last line from a crash is skipped, not fatal
                if wanted and wanted not in entry.get("ids", []):
                    continue
                if user and entry.get("user") != user:
                    continue
                if since and entry.get("at", "")[:10] < since.isoformat():
                    continue
                out.append(entry)
    return out


def os_user() -> str:
    try:
        import getpass  # only when no user is given; most commands never need it

        return getpass.getuser()
    except Exception:
        return f"uid{os.getuid()}"
