"""Private, atomic file writes: temp file + fsync + os.replace."""

import contextlib
import itertools
import os

FILE_MODE = 0o600
DIR_MODE = 0o700

_tmp_seq = itertools.count()


def make_private_dirs(path: str) -> None:
    """Create `path` and any missing parents with mode 0700.

    Not os.makedirs: since Python 3.7 its `mode` applies to the last folder
    only, and the parents it creates get the umask's default (often 0755).
    """
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent and parent != path:
        make_private_dirs(parent)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        if not os.path.isdir(path):
            raise


def temp_name(path: str) -> str:
    """A sibling name no other process uses; `check --repair` sweeps leftovers."""
    return f"{path}.tmp-{os.getpid()}-{next(_tmp_seq)}"


def is_temp_name(name: str) -> bool:
    return ".tmp-" in name


def temp_owner_alive(name: str) -> bool:
    """Whether the process that made temp file `name` may still be writing it.

    A temp file of a live process is a write in flight (lock-free writers
    such as the configuration cache or an attachment's copy exist), not a
    leftover: reporting it is a false alarm and deleting it breaks that write.
    """
    pid = name.rpartition(".tmp-")[2].split("-")[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    except (OverflowError, ValueError):
        return False
    return True


def write_atomic(path: str, data: bytes, sync_dir: bool = True) -> None:
    """Replace `path` with `data` so that readers see the old or the new bytes.

    The temp file is fsynced before the rename; the directory is fsynced
    after it unless the caller batches that (see `fsync_dir`).
    """
    directory = os.path.dirname(path) or "."  # a bare file name is in the current folder
    make_private_dirs(directory)
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        # A failed write (a full disk, EIO) must not leave its partial
        # temp file behind for this process's lifetime or longer.
        with contextlib.suppress(FileNotFoundError):
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
