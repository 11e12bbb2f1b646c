"""The journal: how a multi-file commit is written down before it is applied.

A commit first writes every file it will change into one journal (its commit
point), then applies them, then removes the journal. A command that finds a
journal completes it (roll-forward). The journal carries who began the commit,
so that a roll-forward is audited in their name. What a journal may name is
checked against the data directory's layout (medsec.store.layout) before
anything is applied.
"""

import base64
import binascii
import sys
import zlib
from typing import Any

import orjson

from medsec import atrest
from medsec.errors import EnvironmentFailure

JOURNAL = "journal"
JOURNAL_MAGIC = b"medsec-journal 3 "  # {"begun": who began the commit, "files": [[path, text or {"b64"}], ...]}
JOURNAL_MAGIC_V2 = b"medsec-journal 2 "  # [[path, text], ...]: still rolled forward, as begun by nobody known

JOURNAL_HINT = "run 'medsec check'; move the journal aside once looked at, or restore from a backup"

# Who began a commit: {"commit": its id, "user", "command", "at"}, carried in its journal so that
# a roll-forward by a later command is audited in their name.
Begun = dict[str, str]
JournalFiles = list[tuple[str, bytes]]


# What a failed commit leaves, as the user is told it (see CommitFailed).
_COMMIT_STATES = {
    "not made": ("the change was not made; nothing changed",
                 "free space or mend the disk, then run the command again"),
    "journaled": ("the change is recorded in the journal and will be completed by the next medsec command",
                  "free space or mend the disk first"),
    "made": ("the change was made, but the disk did not confirm it", "run 'medsec check'"),
    "unknown": ("whether the change was made is not known (the server did not answer the commit)",
                "look before running the command again"),
}


class CommitFailed(EnvironmentFailure):
    """A commit stopped by the file system (a full disk, EIO, read-only) or by an audit log
    that cannot be written. `state` says what the store holds now: "not made" (as
    before), "journaled" (the next command completes it), "made", or "unknown" (a
    database server that went away while committing)."""

    def __init__(self, reason: str, state: str, hint: str | None = None):
        outcome, default_hint = _COMMIT_STATES[state]
        super().__init__(f"{reason}: {outcome}", hint=hint or default_hint)
        self.state = state


class UnsafePath(EnvironmentFailure):
    """A journal or a commit names a file a commit may not write (outside the data
    directory's layout, or reached through a symbolic link that leads out of it).
    Nothing is written; a journal that does so stays where it is, as evidence."""


def encode_journal(files: JournalFiles, begun: Begun | None = None) -> bytes:
    body = orjson.dumps({"begun": begun, "files": [[rel, _entry(data)] for rel, data in files]})
    return JOURNAL_MAGIC + b"%d %08x\n" % (len(body), zlib.crc32(body)) + body


def _entry(data: bytes) -> str | dict[str, str]:
    """A file's bytes as the journal keeps them: its text, or {"b64": ...} for an encrypted file
    (medsec.atrest: binary). An older medsec refuses such a journal (UnsafePath), never applies it wrong."""
    if not data.startswith(atrest.MAGIC):
        try:
            return data.decode()
        except UnicodeDecodeError:
            pass
    return {"b64": base64.b64encode(data).decode("ascii")}


def decode_journal(raw: bytes) -> tuple[JournalFiles, Begun | None] | None:
    """The journal's files and who began it, or None when it is torn (the commit never began).

    A torn journal is short or has stale bytes: its length and CRC-32 (what
    file systems and databases use for torn-write detection) say so. A journal
    of the previous format (a bare list of files) is read too: who began it is unknown.
    """
    magic = next((m for m in (JOURNAL_MAGIC, JOURNAL_MAGIC_V2) if raw.startswith(m)), None)
    if magic is None:
        return None
    header, _, body = raw[len(magic):].partition(b"\n")
    if header != b"%d %08x" % (len(body), zlib.crc32(body)):
        return None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    if magic == JOURNAL_MAGIC_V2:
        return _journal_files(parsed), None
    if not isinstance(parsed, dict) or set(parsed) != {"begun", "files"}:
        raise UnsafePath("the journal is not a list of files: it was not applied", hint=JOURNAL_HINT)
    return _journal_files(parsed["files"]), _journal_begun(parsed["begun"])


def _journal_files(entries: Any) -> JournalFiles:
    """The files of a whole journal's body; UnsafePath when it is not a list of [path, text] pairs.

    Its checksum holds, so it is not torn: a body medsec did not write was put there.
    """
    if not isinstance(entries, list) or not all(
            isinstance(entry, list) and len(entry) == 2 and (isinstance(entry[1], str) or _is_b64(entry[1]))
            for entry in entries):
        raise UnsafePath("the journal is not a list of files: it was not applied", hint=JOURNAL_HINT)
    try:
        return [(rel, data.encode() if isinstance(data, str) else base64.b64decode(data["b64"], validate=True))
                for rel, data in entries]
    except (binascii.Error, ValueError):
        raise UnsafePath("the journal holds a file that is not base64: it was not applied", hint=JOURNAL_HINT) from None


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str)


def _journal_begun(begun: Any) -> Begun | None:
    """Who began a journaled commit; UnsafePath when it is not what medsec writes there."""
    if begun is None:
        return None
    if not isinstance(begun, dict) or not all(isinstance(v, str) for v in begun.values()):
        raise UnsafePath("the journal's 'begun' is not who began it: it was not applied", hint=JOURNAL_HINT)
    return begun


def announce(begun: Begun | None) -> None:
    """Say on stderr that this command is finishing another's change (before it does)."""
    if begun is None:
        who = "an earlier medsec command"
    else:
        who = f"'{begun.get('command', '?')}' of {begun.get('user', '?')} at {begun.get('at', '?')}"
    print(f"medsec: completing an interrupted change begun by {who}", file=sys.stderr)
