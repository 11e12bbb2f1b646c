"""The one reader of files a user named as input.

Every file a command reads because a user named it (an attachment or scan, a
patient import, HL7 results, a remittance, an .ics calendar, a code table, a
list of patient ids, a backup to restore) is opened here, so the rules live in one place:

- only a regular file is read: a FIFO, a device (`/dev/zero`), a socket or a
  directory is refused (exit 2) before anything is read from it, so no command
  waits for input that never comes;
- the file is opened without blocking (a FIFO with no writer would otherwise
  hang the open itself) and checked on the opened descriptor, so it cannot be
  swapped for something else between the check and the read;
- each kind of file has a size limit that fits real files of that kind with
  room to spare; a larger file is refused (exit 2) naming the limit, and
  reading stops at the limit even when the file grows while it is read;
- `-` is standard input (`medsec patient export | medsec patient import -`),
  under the same limits. It is read once, into a private temporary file that
  is already deleted (a reader such as an import opens its input more than
  once: to check it, to detect its format, to read it); a terminal is refused
  (exit 2), so no command waits for typing nobody knows is expected.

Files medsec keeps for itself inside the data directory go through the store.
"""

import errno
import io
import os
import stat
import sys
from typing import TYPE_CHECKING, BinaryIO, TextIO

from medsec.errors import InvalidInput

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MB = 1024 * 1024

ATTACHMENT = "attachment"
PATIENT_IMPORT = "patient-import"
HL7 = "hl7"
REMITTANCE = "remittance"
ICS = "ics"
CODE_TABLE = "code-table"
ID_LIST = "id-list"
BACKUP = "backup"
AUDIT_ANCHOR = "audit-anchor"

# The largest file of each kind medsec reads, in bytes. Tests lower them.
LIMITS = {
    # A scanned document, fax or lab report: a 100-page colour scan at 300 dpi
    # is about 30 MB as PDF; faxes (TIFF G4) are far smaller.
    ATTACHMENT: 50 * MB,
    # A patient CSV or Synthea patients.csv: ~400 bytes a row, so 256 MB holds
    # over 600,000 patients, six times the largest practice medsec is sized for.
    PATIENT_IMPORT: 256 * MB,
    # HL7 v2 results: a message is a few KB; a lab's daily batch of several
    # thousand results is a few MB. The file is read whole.
    HL7: 64 * MB,
    # An X12 835 remittance: a large payer's weekly file runs to a few MB
    # (about 1 KB a claim). The file is read whole.
    REMITTANCE: 64 * MB,
    # An iCalendar file: about 500 bytes an event, so 32 MB is some 60,000
    # events, years of a busy calendar; icalendar parses it whole and slowly.
    ICS: 32 * MB,
    # A code table: the CMS HCPCS annual file is about 10 MB, a practice's own
    # CSV far less. The file is read whole.
    CODE_TABLE: 64 * MB,
    # Patient ids, one a line or a `patient find --format csv` (~300 bytes a
    # patient): 64 MB covers every patient of a large practice.
    ID_LIST: 64 * MB,
    # A backup (.tar.gz) for `restore`: what it unpacks to is limited file by
    # file and in total while it is read (medsec.store.backup); the archive
    # itself is never larger than that total.
    BACKUP: 256 * 1024 * MB,
    # An audit anchor: one line, or a saved mail that holds it.
    AUDIT_ANCHOR: 1 * MB,
}

# How messages name each kind.
NAMES = {
    ATTACHMENT: "an attachment",
    PATIENT_IMPORT: "a patient import",
    HL7: "an HL7 file",
    REMITTANCE: "a remittance file",
    ICS: "an iCalendar file",
    CODE_TABLE: "a code table",
    ID_LIST: "a list of patient ids",
    BACKUP: "a backup",
    AUDIT_ANCHOR: "an audit anchor",
}

# What a file that is not a regular one is, for the message that refuses it.
_SPECIAL_FILES = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)

# Failures to open that are the user's to fix (a wrong name, no permission):
# exit 2. Any other (EIO, too many open files) is the environment's: exit 3.
USER_ERRNOS = frozenset({errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG,
                         errno.ENXIO, errno.EISDIR})

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


STDIN = "-"  # the name of standard input, as every Unix tool spells it


def open_input(path: str, kind: str) -> BinaryIO:
    """Open the file a user named for reading, in binary; InvalidInput (exit 2) if it may not be read.

    The file object stops with InvalidInput once more than the kind's limit
    has been read. Use it in a `with` block. '-' is standard input.
    """
    limit = LIMITS[kind]
    if path == STDIN:
        return _stdin_copy(kind).reader()
    fd = _open_regular(path)
    try:
        _check_size(path, kind, os.fstat(fd).st_size)
        os.set_blocking(fd, True)  # a regular file: reads may block as usual
        raw = _Bounded(io.FileIO(fd, "rb"), path, kind, limit)
    except BaseException:
        os.close(fd)
        raise
    return io.BufferedReader(raw)


def open_text(path: str, kind: str, encoding: str = "utf-8-sig") -> TextIO:
    """`open_input` decoded as text, newlines kept as they are (what the csv module wants)."""
    return io.TextIOWrapper(open_input(path, kind), encoding=encoding, newline="")


def check_input(path: str, kind: str) -> None:
    """InvalidInput (exit 2) unless `path` is a regular file within its kind's limit; reads nothing.

    For a path handed on to a reader medsec does not control (a third-party
    plugin's importer), so that a FIFO or a device is refused before it can hang.
    """
    open_input(path, kind).close()


def read_input(path: str, kind: str) -> bytes:
    """The whole file a user named, under its kind's limit; InvalidInput (exit 2) otherwise."""
    with open_input(path, kind) as f:
        return f.read()


def _open_regular(path: str) -> int:
    """A descriptor on the regular file at `path`; InvalidInput for anything else.

    The path is looked at first so that a device is never opened at all (opening
    some has effects), then the opened descriptor again, which is what is read.
    """
    try:
        _refuse_special(path, os.stat(path).st_mode)
        fd = os.open(path, _OPEN_FLAGS)
    except (OSError, ValueError) as exc:
        raise unreadable(f"cannot read {path!r}", exc) from None
    try:
        _refuse_special(path, os.fstat(fd).st_mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _refuse_special(path: str, mode: int) -> None:
    for test, what in _SPECIAL_FILES:
        if test(mode):
            raise InvalidInput(f"{path} is {what}, not a regular file", hint="name a regular file")
    if not stat.S_ISREG(mode):
        raise InvalidInput(f"{path} is not a regular file", hint="name a regular file")


def unreadable(message: str, exc: OSError | ValueError, user_errnos: frozenset[int] = USER_ERRNOS) -> Exception:
    """The error to raise when a file (or descriptor) cannot be read, `message` saying which: the
    user's (InvalidInput, exit 2) for a wrong name or no permission, else the OSError itself (the
    environment's, exit 3)."""
    if isinstance(exc, ValueError):  # a NUL in the name
        return InvalidInput(f"{message}: the name holds a NUL character")
    if exc.errno not in user_errnos:
        return exc
    return InvalidInput(f"{message}: {(exc.strerror or str(exc)).lower()}")


def _check_size(path: str, kind: str, size: int) -> None:
    limit = LIMITS[kind]
    if size > limit:
        raise InvalidInput(f"{path} is {size_text(size)}, over the {size_text(limit)} limit for {NAMES[kind]}")


def size_text(size: int) -> str:
    """A size as people read it: '100 bytes', '50 MB', '60.5 MB', '256 GB'."""
    if size < MB:
        return f"{size} bytes"
    unit, name = (MB, "MB") if size < 1024 * MB else (1024 * MB, "GB")
    return f"{size / unit:.1f}".removesuffix(".0") + f" {name}"


class _Bounded(io.RawIOBase):
    """A file read no further than `limit` bytes: one more is refused, however the file grew."""

    def __init__(self, file: io.FileIO, path: str, kind: str, limit: int):
        super().__init__()
        self._file = file
        self._path = path
        self._kind = kind
        self._limit = limit
        self._read = 0

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._file.fileno()

    def readinto(self, buffer: "WriteableBuffer") -> int:
        # Ask for no more than one byte past the limit: that byte is enough to refuse.
        view = memoryview(buffer)[: self._limit + 1 - self._read]
        count = self._file.readinto(view) or 0
        self._read += count
        if self._read > self._limit:
            raise InvalidInput(f"{self._path} grew past the {size_text(self._limit)} limit for "
                               f"{NAMES[self._kind]} while it was read")
        return count

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()


class _StdinCopy:
    """What standard input held, kept in a temporary file deleted as it was made (so each
    `open_input('-')` reads it from the start), and whether it ended within the limit."""

    def __init__(self, source: BinaryIO, file: BinaryIO, size: int, whole: bool):
        self.source = source  # the stream copied: a test's runner gives each command its own
        self.file = file
        self.size = size
        self.whole = whole

    def reader(self) -> BinaryIO:
        return io.BufferedReader(_Copy(self.file.fileno(), self.size))


_stdin: _StdinCopy | None = None


def _stdin_copy(kind: str) -> _StdinCopy:
    """Standard input, read (once per command) up to one byte past `kind`'s limit; InvalidInput
    (exit 2) when it is a terminal, closed, or longer than the limit."""
    global _stdin
    stdin = sys.stdin
    source = getattr(stdin, "buffer", None) if stdin is not None else None
    if source is None:
        raise InvalidInput("'-' is standard input, which is closed", hint="name a file, or pipe one in")
    if _stdin is None or _stdin.source is not source:
        if stdin.isatty():
            raise InvalidInput("'-' reads standard input, which is a terminal here",
                               hint="pipe the data in (... | medsec ... -), or name a file")
        _stdin = _copy_stdin(source, LIMITS[kind])
    if not _stdin.whole or _stdin.size > LIMITS[kind]:
        raise InvalidInput(f"standard input is over the {size_text(LIMITS[kind])} limit for {NAMES[kind]}")
    return _stdin


def _copy_stdin(source: BinaryIO, limit: int) -> _StdinCopy:
    import tempfile  # only '-' pays for it

    # Mode 0600, deleted already (POSIX); open while the command runs, which may read it again.
    copy = tempfile.TemporaryFile(prefix="medsec-stdin-")  # noqa: SIM115
    size = 0
    try:
        while size <= limit:
            chunk = source.read(min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            copy.write(chunk)
            size += len(chunk)
        copy.flush()
    except BaseException:
        copy.close()
        raise
    return _StdinCopy(source, copy, size, whole=size <= limit)


class _Copy(io.RawIOBase):
    """A reader of the copy of standard input with a position of its own (os.pread)."""

    def __init__(self, fd: int, size: int):
        super().__init__()
        self._fd = fd
        self._size = size
        self._at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "WriteableBuffer") -> int:
        view = memoryview(buffer)
        data = os.pread(self._fd, min(len(view), self._size - self._at), self._at) if self._at < self._size else b""
        view[: len(data)] = data
        self._at += len(data)
        return len(data)
