"""The one writer of files a user asked for.

Every file that a command writes because a user named it (`-o FILE`, a
statement or invoice, a PDF, an .ics calendar, a report, a patient export, a
claim file, a backup) goes through `write_output`, so the rules live in one
place:

- the path is not inside the data directory (an export cannot overwrite
  records, and a backup cannot contain itself);
- it is not a folder or a special file (a device, a FIFO, a socket): only a
  regular file is replaced;
- the file appears whole or not at all (temp file, fsync, rename), private
  (0600), and a failed write leaves no temp file behind;
- `-` is standard output (the document is then all a command prints there:
  medsec.cli.output sends the command's summary to stderr); a binary document
  is refused on a terminal, as gzip does.

Files medsec keeps for itself inside the data directory go through the store.
"""

import contextlib
import os
import stat
import sys
from collections.abc import Callable
from typing import BinaryIO

from medsec.errors import InvalidInput
from medsec.fileio import FILE_MODE, fsync_dir, make_private_dirs, temp_name

STDOUT = "-"  # the name of standard output, as every Unix tool spells it

# Which standard output a document was written to (a test's runner gives each command its own).
_document_stream: BinaryIO | None = None


def check_output(path: str, data_dir: str | None) -> str:
    """The absolute path a user-requested file will be written to ('-' for standard output),
    or InvalidInput (exit 2)."""
    if path == STDOUT:
        return STDOUT
    if not path or "\0" in path:
        raise InvalidInput("the output file name is empty or holds a NUL character")
    target = os.path.abspath(path)
    if data_dir:
        root = os.path.realpath(data_dir)
        real = os.path.realpath(target)
        if real == root or real.startswith(root + os.sep):
            raise InvalidInput(f"{path} is inside the data directory",
                               hint="write outputs somewhere else; the data directory holds the records")
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise InvalidInput(f"{path} is {what}", hint="name a new or an existing regular file")
    return target


def write_output(path: str, data: bytes | None = None, *, data_dir: str | None = None,
                 produce: Callable[[BinaryIO], None] | None = None) -> str:
    """Write `data` (or what `produce` writes into the open file) to `path`.

    Returns the absolute path written. `data_dir` is the data directory the
    command works on, which the file may not land in.
    """
    if (data is None) == (produce is None):
        raise TypeError("write_output takes data or produce, not both")
    target = check_output(path, data_dir)
    if target == STDOUT:
        _write_stdout(data, produce)
        return STDOUT
    folder = os.path.dirname(target)
    make_private_dirs(folder)
    tmp = temp_name(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as f:
            if produce is not None:
                produce(f)
            else:
                f.write(data or b"")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)
    return target


def _write_stdout(data: bytes | None, produce: Callable[[BinaryIO], None] | None) -> None:
    """The document on standard output, after whatever text was printed before it."""
    global _document_stream
    if sys.stdout is None:
        raise InvalidInput("'-' is standard output, which is closed", hint="name a file")
    binary = produce is not None or _binary(data or b"")
    if binary and sys.stdout.isatty():
        raise InvalidInput("'-' would write a binary document to the terminal",
                           hint="name a file, or pipe the output into one")
    sys.stdout.flush()
    out = sys.stdout.buffer
    _document_stream = out
    if produce is not None:
        produce(out)
    else:
        out.write(data or b"")
    out.flush()


def _binary(data: bytes) -> bool:
    """Whether `data` is not text (a PDF, a .tar.gz): a NUL byte, or not UTF-8, near its start."""
    head = data[:8192]
    if b"\0" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start < len(head) - 3  # a character cut at the 8 KB mark is still text
    return False


def document_on_stdout() -> bool:
    """Whether the running command wrote its document to standard output ('-')."""
    return _document_stream is not None and getattr(sys.stdout, "buffer", None) is _document_stream
