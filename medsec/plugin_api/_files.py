"""Files a plugin keeps for itself (caches, an outbox): atomic and private (see medsec.plugin_api)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from medsec import atrest
from medsec.fileio import fsync_dir, make_private_dirs, write_atomic

OUTBOX = "outbox"  # the data directory's folder of messages to print or read (medsec outbox list)


# -- files ------------------------------------------------------------------------
def write_private_file(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new bytes, never a torn file.

    The file is readable by this user only (0600); missing folders are
    created 0700. For what a plugin keeps (a cache, an outbox), also inside
    the data directory; a file a user named goes through ``write_output``.
    In a data directory encrypted at rest, a file of its protected folders
    (the outbox) is written encrypted (``medsec outbox show`` reads it).
    """
    write_atomic(path, atrest.encrypt_path(path, data))


def write_private_files(folder: str, files: Mapping[str, bytes]) -> None:
    """Write ``{file name: data}`` into ``folder``, each file as ``write_private_file`` does.

    The folder is synced once, after the last file, which makes writing a
    few hundred files much faster. The names are plain file names.
    """
    if any(os.path.basename(name) != name or name in ("", ".", "..") for name in files):
        raise ValueError(f"write_private_files takes file names, not paths: {sorted(files)!r}")
    make_private_dirs(folder)
    for name, data in files.items():
        path = os.path.join(folder, name)
        write_atomic(path, atrest.encrypt_path(path, data), sync_dir=False)
    fsync_dir(folder)


def write_outbox_file(data_dir: str, name: str, data: bytes) -> str:
    """Write ``data`` as the outbox file ``name`` (a plain file name), as ``write_private_file`` does
    (encrypted in a practice encrypted at rest: ``medsec outbox show NAME -o FILE`` reads it); its path."""
    if os.path.basename(name) != name or name in ("", ".", ".."):
        raise ValueError(f"write_outbox_file takes a file name, not a path: {name!r}")
    path = os.path.join(data_dir, OUTBOX, name)
    write_private_file(path, data)
    return path


# -- an engine's cache ------------------------------------------------------------
CACHE = "cache"  # the data directory's folder of what plugins rebuild at will: cache/<owner>/<name>


def _cache_path(data_dir: str, owner: str, name: str) -> tuple[str, str]:
    """(path, path relative to data_dir) of cache file `name` of `owner`; both plain file names."""
    for what, value in (("owner", owner), ("name", name)):
        if not isinstance(value, str) or os.path.basename(value) != value or value in ("", ".", "..") \
                or "\\" in value or "\0" in value:
            raise ValueError(f"cache files take a plain file name as {what}, not a path: {value!r}")
    rel = f"{CACHE}/{owner}/{name}"
    return os.path.join(data_dir, CACHE, owner, name), rel


def read_cache_file(data_dir: str, owner: str, name: str) -> bytes | None:
    """The bytes ``write_cache_file`` kept as ``name`` for ``owner`` (an engine's name), decrypted
    in a practice encrypted at rest; None when there is none."""
    from medsec.fileio import read_bytes

    path, rel = _cache_path(data_dir, owner, name)
    return atrest.decrypt(data_dir, rel, read_bytes(path))


def write_cache_file(data_dir: str, owner: str, name: str, data: bytes) -> str:
    """Keep ``data`` as ``<data dir>/cache/<owner>/<name>`` (plain file names), as
    ``write_private_file`` does: private, atomic, encrypted at rest when the practice encrypts
    (a model built from letters holds patients' names); its path."""
    path, _ = _cache_path(data_dir, owner, name)
    make_private_dirs(os.path.dirname(path))
    write_private_file(path, data)
    return path
