"""The data directory's exclusive write lock (stdlib fcntl.flock)."""

import fcntl
import os
import time
from types import TracebackType

from medsec.errors import LockTimeout

LOCK_NAME = ".lock"


def lock_timeout() -> float:
    return float(os.environ.get("MEDSEC_LOCK_TIMEOUT", "30"))


class DirectoryLock:
    """Held across a whole read-modify-write; released on close or on exit.

    flock is released by the kernel when the process dies, so a killed
    writer never leaves the directory locked.
    """

    def __init__(self, root: str, timeout: float | None = None):
        self.path = os.path.join(root, LOCK_NAME)
        self.timeout = lock_timeout() if timeout is None else timeout
        self.fd: int | None = None

    def acquire(self) -> "DirectoryLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.timeout
        delay = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockTimeout(
                        f"the data directory is locked by another medsec process "
                        f"(waited {self.timeout:g} s)",
                        hint="retry, or raise MEDSEC_LOCK_TIMEOUT",
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "DirectoryLock":
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
