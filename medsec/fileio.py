"""Private, atomic file writes: temp file + fsync + os.replace."""

import contextlib
import itertools
import os
import sys
from typing import cast

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
    _replace(_temp_with(path, data, sync=True), path)
    if sync_dir:
        fsync_dir(directory)


# A commit of this many files or more is written in bulk (see write_all_atomic), _WINDOW files at a time.
_BULK_FROM = 16
_WINDOW = 512


def write_all_atomic(files: list[tuple[str, bytes]]) -> None:
    """Replace each path with its bytes as `write_atomic` does, in the order given, then
    fsync their folders: what a commit applies.

    Every file's bytes are on disk before its rename, as with `write_atomic`.
    A large commit (thousands of index and day files in a bulk write) writes
    its temp files without a fsync each and then makes them all durable with
    one syncfs(2) per file system (Linux; elsewhere a fsync each): one disk
    flush instead of thousands, several times faster. Only then are they
    renamed, one by one in the given order, so readers see the files replaced
    in the same order as before. It goes _WINDOW files at a time, so a writer
    killed midway leaves at most that many temp files (`check --repair`
    sweeps them); a failure leaves none.
    """
    folders = list(dict.fromkeys(os.path.dirname(path) or "." for path, _data in files))
    for folder in folders:
        make_private_dirs(folder)
    bulk = len(files) >= _BULK_FROM and _can_syncfs()
    for start in range(0, len(files), _WINDOW):
        window = files[start:start + _WINDOW]
        temps: list[str | None] = []
        try:
            for path, data in window:
                temps.append(_temp_with(path, data, sync=not bulk))
            if bulk:
                _syncfs(folders)
            for i, (path, _data) in enumerate(window):
                os.replace(cast(str, temps[i]), path)
                temps[i] = None
        finally:
            _discard(temps)
    for folder in folders:
        fsync_dir(folder)


def _can_syncfs() -> bool:
    return sys.platform.startswith("linux")


def _syncfs(folders: list[str]) -> None:
    """Flush every file system that holds one of `folders` to disk (syncfs(2)): the
    files written there are durable, as after a fsync of each (OSError if not)."""
    import ctypes  # only a bulk commit pays for it

    libc = ctypes.CDLL(None, use_errno=True)
    devices: set[int] = set()
    for folder in folders:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            device = os.fstat(fd).st_dev
            if device not in devices:
                devices.add(device)
                if libc.syncfs(fd) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"syncfs: {os.strerror(err)}", folder)
        finally:
            os.close(fd)


def _temp_with(path: str, data: bytes, sync: bool) -> str:
    """A new temp file beside `path` holding `data` (fsynced if `sync`); its name."""
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        # A failed write (a full disk, EIO) must not leave its partial
        # temp file behind for this process's lifetime or longer.
        _discard([tmp])
        raise
    return tmp


def _replace(tmp: str, path: str) -> None:
    try:
        os.replace(tmp, path)
    except BaseException:
        _discard([tmp])
        raise


def _discard(temps: list[str | None]) -> None:
    """Remove temp files a failed write leaves."""
    for tmp in temps:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


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
