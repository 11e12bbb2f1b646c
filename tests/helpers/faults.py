"""Fault injection at the store's file layer: the n-th write, fsync or rename fails.

`FaultyOS` stands in for the `os` module that medsec.fileio calls (write_atomic,
fsync_dir, append_line), so every file medsec writes through it - record shards,
indexes, counters, the journal and the audit log - counts. It fails the n-th call
of one kind with the errno a real file system gives (ENOSPC, EIO, EROFS).
"""

import errno
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from medsec import fileio

OPERATIONS = ("write", "fsync", "replace")


@dataclass(frozen=True)
class Fault:
    """Fail the `n`-th call (1-based) of `op` with `err`; with `stays`, every call of `op`
    from the n-th on (a disk that stays full)."""

    op: str
    n: int
    err: int = errno.ENOSPC
    stays: bool = False

    def __str__(self) -> str:
        return f"{self.op}#{self.n}{'+' if self.stays else ''}:{errno.errorcode[self.err]}"

    def hits(self, op: str, count: int) -> bool:
        return op == self.op and (count == self.n or self.stays and count > self.n)


class FaultyOS:
    """The `os` module with write, fsync and replace counted, one of them made to fail."""

    def __init__(self, fault: Fault | None = None):
        self.fault = fault
        self.counts: Counter[str] = Counter()
        self.fired = False

    def __getattr__(self, name: str):
        return getattr(os, name)

    def _count(self, op: str, filename: str | None = None, filename2: str | None = None) -> None:
        self.counts[op] += 1
        if self.fault and self.fault.hits(op, self.counts[op]):
            self.fired = True
            # As the kernel reports it: write and fsync name no file, a rename names both.
            raise OSError(self.fault.err, os.strerror(self.fault.err), filename, None, filename2)

    def write(self, fd: int, data) -> int:
        self._count("write")
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        self._count("fsync")
        os.fsync(fd)

    def replace(self, src: str, dst: str) -> None:
        self._count("replace", src, dst)
        os.replace(src, dst)


@contextmanager
def faulty_files(monkeypatch, fault: Fault | None = None) -> Iterator[FaultyOS]:
    """medsec.fileio on a FaultyOS for the duration of the block (a command run in-process)."""
    faulty = FaultyOS(fault)
    with monkeypatch.context() as patch:
        patch.setattr(fileio, "os", faulty)
        yield faulty


def every_fault(counts: Counter, errors: dict[str, tuple[int, ...]]) -> list[Fault]:
    """One fault per call counted in a clean run, per errno listed for its kind."""
    return [Fault(op, n, err) for op in OPERATIONS for n in range(1, counts[op] + 1)
            for err in errors[op]]
