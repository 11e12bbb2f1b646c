"""Attachments (faxes, scans, lab reports) kept under files/ by content hash."""

import contextlib
import os
from typing import BinaryIO

from medsec import atrest
from medsec.fileio import FILE_MODE, fsync_dir, make_private_dirs, temp_name, write_atomic
from medsec.inputs import ATTACHMENT, open_input

BLOCK = 1 << 20


def put_file(root: str, path: str) -> tuple[str, int]:
    """Copy the file at `path` into the data directory `root` under its SHA-256.

    Returns (sha256, size). The stored name is the hash, never a user-controlled
    path; a file already kept is not stored twice. The file is read once,
    through medsec.inputs (a regular file within the attachment limit, else
    InvalidInput), hashed while it is copied to a temp file beside the kept
    ones; a refused or failed copy leaves nothing behind.
    """
    folder = os.path.join(root, "files")
    with open_input(path, ATTACHMENT) as source:
        if atrest.vault(root) is not None:  # encrypted whole (within the attachment limit)
            return put_bytes(root, source.read())
        make_private_dirs(folder)
        tmp = temp_name(os.path.join(folder, "incoming"))
        try:
            sha, size = _copy_hashed(source, tmp)
            _keep(tmp, os.path.join(folder, sha[:2], sha))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    return sha, size


def put_bytes(root: str, data: bytes) -> tuple[str, int]:
    """Keep `data` (a file already read through medsec.inputs and checked) under its SHA-256.

    Returns (sha256, size), as `put_file` does; what is kept is exactly what
    was checked, however the file changed since.
    """
    import hashlib  # loads OpenSSL (~4 ms): only commands that keep a file pay for it

    sha = hashlib.sha256(data).hexdigest()
    rel = f"files/{sha[:2]}/{sha}"
    target = os.path.join(root, rel)
    if not os.path.exists(target):
        write_atomic(target, atrest.encrypt(root, rel, data))
    return sha, len(data)


def _copy_hashed(source: BinaryIO, tmp: str) -> tuple[str, int]:
    """Copy `source` to the new private file `tmp`, synced; (sha256, size) of what was copied."""
    import hashlib  # loads OpenSSL (~4 ms): only commands that keep a file pay for it

    digest = hashlib.sha256()
    size = 0
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        for block in iter(lambda: source.read(BLOCK), b""):
            digest.update(block)
            out.write(block)
            size += len(block)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size


def _keep(tmp: str, target: str) -> None:
    """Move the copy `tmp` to its content-addressed `target`, or drop it when that is kept already."""
    if os.path.exists(target):
        os.unlink(tmp)
        return
    make_private_dirs(os.path.dirname(target))
    os.replace(tmp, target)
    fsync_dir(os.path.dirname(target))
