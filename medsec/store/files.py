"""Private, atomic file writes: temp file + fsync + os.replace."""

import itertools
import os

FILE_MODE = 0o600
DIR_MODE = 0o700

_tmp_seq = itertools.count()


def make_private_dirs(path: str) -> None:
    """Create `path` and any missing parents with mode 0700."""
    os.makedirs(path, mode=DIR_MODE, exist_ok=True)


def temp_name(path: str) -> str:
    """A sibling name no other process uses; `check --repair` sweeps leftovers."""
    return f"{path}.tmp-{os.getpid()}-{next(_tmp_seq)}"


def is_temp_name(name: str) -> bool:
    return ".tmp-" in name


def write_atomic(path: str, data: bytes, sync_dir: bool = True) -> None:
    """Replace `path` with `data` so that readers see the old or the new bytes.

    The temp file is fsynced before the rename; the directory is fsynced
    after it unless the caller batches that (see `fsync_dir`).
    """
    directory = os.path.dirname(path)
    make_private_dirs(directory)
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    if sync_dir:
        fsync_dir(directory)


def fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append_line(path: str, line: bytes) -> None:
    """Append one line with a single O_APPEND write (no lock needed)."""
    make_private_dirs(os.path.dirname(path))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
