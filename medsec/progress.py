"""Progress of a long job on the terminal: one line on standard error, redrawn in place.

A job (an import, a claim batch, `remind send`, a store copy) is handed a `Progress` by
the command that runs it and calls `start(label, total)` for each stage and `advance()`
for each item; the command closes it, which erases the line, before it prints its result.

It draws only when it is enabled: `on_terminal()` enables it when standard error is a
terminal and the command was not given `--quiet`. In cron, a pipe or a test it prints
nothing, and a job given none uses a disabled one (`Progress.off()`), so counting costs an
addition. A line is redrawn at most every `interval` seconds, cut to the terminal's width
(a wrapped line could not be redrawn), and the terminal's size is asked only once.
"""

import os
import sys
import time
from typing import TextIO

# Redraw at most this often: a 100,000-row import advances 100,000 times, the terminal needs ~10 a second.
INTERVAL = 0.1
_ERASE_LINE = "\x1b[K"  # erase from the cursor to the end of the line (ECMA-48 EL), understood by every terminal


class Progress:
    """Where a long job is: a stage's label and how many of its items are done (of how many)."""

    def __init__(self, enabled: bool, stream: TextIO | None = None, interval: float = INTERVAL):
        self.enabled = enabled
        self._stream = stream
        self._interval = interval
        self._label = ""
        self._said = False  # the label is a note, shown as it is (`note`)
        self._total: int | None = None
        self.done = 0
        self._drawn_at: float | None = None  # time.monotonic() of the last line drawn
        self._width: int | None = None

    @classmethod
    def off(cls) -> "Progress":
        """One that never draws (a job run without a terminal, or from a test)."""
        return cls(enabled=False)

    def start(self, label: str, total: int | None = None) -> None:
        """A new stage, drawn at once: `label` ("checking rows"), of `total` items when known."""
        self._label, self._total, self.done, self._said = label, total, 0, False
        if self.enabled:
            self._draw()

    def advance(self, count: int = 1) -> None:
        """`count` more items of the stage done."""
        self.done += count
        if self.enabled and (self.done == self._total or self._drawn_at is None
                             or time.monotonic() - self._drawn_at >= self._interval):
            self._draw()

    def note(self, text: str) -> None:
        """A stage that says where the job is in words of its own ("patients: 5000 copied")."""
        self._label, self._total, self.done, self._said = text, None, 0, True
        if self.enabled:
            self._draw()

    def close(self) -> None:
        """Erase the line: what the command prints next takes its place."""
        if self._drawn_at is not None:
            self._write("\r" + _ERASE_LINE)
            self._drawn_at = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def text(self) -> str:
        """The line as drawn now (without the terminal's control characters)."""
        if self._said:
            return self._label
        if self._total:
            return f"{self._label}: {self.done:,} of {self._total:,} ({100 * self.done // self._total}%)"
        return f"{self._label}: {self.done:,}" if self.done else f"{self._label} ..."

    def _draw(self) -> None:
        self._drawn_at = time.monotonic()
        self._write("\r" + self.text()[: self._columns() - 1] + _ERASE_LINE)

    def _columns(self) -> int:
        if self._width is None:
            try:
                self._width = os.get_terminal_size(self._out().fileno()).columns or 80
            except (OSError, ValueError, AttributeError):
                self._width = 80
        return max(self._width, 20)

    def _out(self) -> TextIO:
        return self._stream or sys.stderr

    def _write(self, text: str) -> None:
        try:
            out = self._out()
            out.write(text)
            out.flush()
        except (OSError, ValueError):  # the terminal went away (a closed window): the job goes on
            self.enabled = False


def on_terminal(quiet: bool | None = None, stream: TextIO | None = None) -> Progress:
    """A Progress for the command running now: enabled when `stream` (standard error) is a
    terminal and the command is not quiet. `quiet=None` asks the command line: a `--quiet`
    given to the command or to a group above it (a parameter named `quiet`)."""
    out = stream or sys.stderr
    if quiet is None:
        quiet = asked_to_be_quiet()
    return Progress(enabled=not quiet and _is_terminal(out), stream=stream)


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


def asked_to_be_quiet() -> bool:
    """Whether the command running now was given `--quiet` (or a group above it was)."""
    import click  # loaded already by every command that gets here

    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if ctx.params.get("quiet"):
            return True
        ctx = ctx.parent
    return False
