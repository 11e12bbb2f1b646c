"""The outbox folder's messages, as people read them (decrypted in a practice encrypted at rest)."""

import os

from medsec import atrest
from medsec.errors import InvalidInput, NotFound
from medsec.fileio import is_temp_name, read_bytes

FOLDER = "outbox"


def messages(root: str) -> list[dict[str, object]]:
    """The outbox's files, newest first: name and size on disk."""
    try:
        entries = [e for e in os.scandir(os.path.join(root, FOLDER)) if e.is_file() and not is_temp_name(e.name)]
    except FileNotFoundError:
        return []
    entries.sort(key=lambda e: (-e.stat().st_mtime, e.name))
    return [{"name": e.name, "bytes": e.stat().st_size} for e in entries]


def message(root: str, name: str) -> bytes:
    """The bytes of outbox file `name` (a plain file name), decrypted; NotFound when there is none."""
    if os.path.basename(name) != name or name in ("", ".", "..") or is_temp_name(name):
        raise InvalidInput(f"{name[:80]!r} is not an outbox file name (see medsec outbox list)")
    rel = f"{FOLDER}/{name}"
    raw = atrest.decrypt(root, rel, read_bytes(os.path.join(root, rel)))
    if raw is None:
        raise NotFound(f"no outbox message {name[:80]}", hint="see 'medsec outbox list'")
    return raw
