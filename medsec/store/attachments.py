"""Attachments (faxes, scans, lab reports) kept under files/ by content hash."""

import hashlib
import os
import shutil

from medsec.errors import InvalidInput
from medsec.fileio import make_private_dirs, temp_name


def put_file(root: str, path: str) -> tuple[str, int]:
    """Copy the file at `path` into the data directory `root` under its SHA-256.

    Returns (sha256, size). The stored name is the hash, never a user-controlled
    path; a file already kept is not copied again.
    """
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
    except (FileNotFoundError, IsADirectoryError):
        raise InvalidInput(f"cannot read file {path!r}") from None
    sha = digest.hexdigest()
    target = os.path.join(root, "files", sha[:2], sha)
    if not os.path.exists(target):
        make_private_dirs(os.path.dirname(target))
        tmp = temp_name(target)
        shutil.copyfile(path, tmp)
        os.chmod(tmp, 0o600)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    return sha, size
