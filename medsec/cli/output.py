"""One output-options decorator and one render function for every command.

Tables are for people. They fit the terminal's width (COLUMNS, else the
terminal's; a pipe without COLUMNS gets whole rows): long cells wrap, and when
that is not enough, columns empty in every row and then low-value ones are
left out (stderr says which). Times read as people say them ('Tue Jan 5,
2:30 PM'), staff show their names beside their ids ('S1 Dr. Voss'), a record
shows the fields that hold something, and an empty list says so on stderr
("no appointments on Tue Jan 5"). On a terminal, output longer than the screen
goes through a pager (--no-pager, $MEDSEC_PAGER) and table headers are bold
(never with NO_COLOR, never in a pipe).

JSON, JSON Lines, CSV and YAML are for scripts: every field as stored (ISO
8601 times, ids), whatever the terminal. --quiet (medsec.cli.options) silences
a command's summary; problems still go to stderr.
"""

import contextlib
import functools
import io
import os
import re
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, BinaryIO, TextIO, cast

import click
import orjson

from medsec.cli.options import OUTPUT_FORMATS, format_option, json_option, no_pager_option
from medsec.cli.textsafety import printable
from medsec.clock import for_people, time_for_people
from medsec.spreadsheet import csv_writer
from medsec.text import escape_controls

FORMATS = OUTPUT_FORMATS


def output_options(func):
    """Adds --format table|json|jsonl|csv|yaml, --json and --no-pager; passes `fmt` to the command."""

    @format_option
    @json_option
    @no_pager_option
    @functools.wraps(func)
    def wrapper(*args, fmt=None, as_json=False, no_pager=False, **kwargs):
        return func(*args, fmt="json" if as_json else (fmt or "table"), **kwargs)

    return wrapper


def _flat(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return "; ".join(str(_flat(v)) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_flat(v)}" for k, v in value.items())
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _json(data: Any, option: int = 0) -> bytes:
    """`data` as JSON. A lone surrogate (a file name that was not UTF-8, as Python reads
    it) is no JSON text: it is written as its escape ('\\udcff') instead of failing."""
    try:
        return orjson.dumps(data, option=option, default=str)
    except TypeError:
        return orjson.dumps(_without_surrogates(data), option=option, default=str)


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_surrogates(v) for v in value]
    return value


def render_text(data: Any, fmt: str, columns: Sequence[str] | None = None, width: int | None = None) -> str:
    """The text of `data` (a record or a list of records) in `fmt`.

    Lists: table/csv show `columns` (all keys of the first row if None);
    JSON, JSON Lines and YAML always carry every field. A record's table shows
    its fields that hold something (only `columns`, when given and the record
    has an id: a confirmation's few fields). An empty list is '' in a table,
    '[]' in JSON, nothing in JSON Lines. A table is fitted to `width` characters
    (None: as wide as its rows).
    """
    if fmt == "json":
        return _json(data, orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "jsonl":
        records = data if isinstance(data, (list, tuple)) else [data]
        return "".join(_json(record).decode() + "\n" for record in records)
    if fmt == "yaml":
        import yaml  # only YAML output pays for yaml

        return yaml.safe_dump(orjson.loads(_json(data)), sort_keys=False, allow_unicode=True)
    if fmt == "table":
        return _table(data, columns, width)
    if isinstance(data, dict):  # a record as CSV: a row a field
        rows, columns = [{"field": k, "value": v} for k, v in data.items()], ["field", "value"]
    else:
        rows = list(data)
        if not rows:
            return ",".join(columns) + "\n" if columns else ""
        columns = list(columns or rows[0].keys())
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_flat(row.get(c)) for c in columns])
    return out.getvalue()


def _shown(cell: Any) -> Any:
    """A table cell as it may reach the terminal: any control character escaped (a newline
    too, so a cell never breaks its row), whatever wrote it (old data, a plugin, staff.yaml)."""
    return escape_controls(cell) if isinstance(cell, str) else cell


def render(data: Any, fmt: str, columns: Sequence[str] | None = None, *, empty: str | None = None) -> None:
    """Print `data` to standard output in `fmt` (nothing with --quiet).

    An empty list in a table prints `empty` on stderr instead ("no appointments on Tue
    Jan 5"; default: what the command lists, "no calls"). When a command wrote its
    document to standard output (`-o -`), what it prints goes to stderr instead. A list
    command given -o FILE (medsec.cli.options.list_options) writes its list there instead.
    """
    path = _list_file()
    if path is not None:
        _write_list(path, data, fmt, columns)
        return
    if is_quiet():
        return
    if fmt == "table" and isinstance(data, (list, tuple)) and not data:
        say(empty or empty_message())
        return
    stream = _stream()
    terminal = _is_terminal(stream)
    text = render_text(data, fmt, columns, table_width(stream) if fmt == "table" else None)
    if terminal and stream is sys.stdout and _page(text):
        return
    if fmt == "table" and terminal and colour_wanted():
        text = _bold_headers(text)
    stream.write(text)


def _list_file() -> str | None:
    """The FILE a list command was given with -o (None: none, or '-', standard output)."""
    ctx = click.get_current_context(silent=True)
    return ctx.params.get("list_file") if ctx is not None else None


def _write_list(path: str, data: Any, fmt: str, columns: Sequence[str] | None) -> None:
    """A list command's records written to `path` in `fmt` (a table: whole rows), and a note of it."""
    from medsec.outputs import write_output

    app = _app()
    write_output(path, render_text(data, fmt, columns).encode(), data_dir=app.data_dir if app is not None else None)
    count = len(data) if isinstance(data, (list, tuple)) else 1
    inform(f"wrote {count} record{'' if count == 1 else 's'} to {path}")


# A note longer than this is cut: notes quote values (a reason, a file name).
NOTE_LIMIT = 1_000


def say(message: str) -> None:
    """A human note on stderr, so it never mixes with JSON on stdout; one line,
    control characters escaped, at most NOTE_LIMIT characters."""
    click.echo(printable(message, NOTE_LIMIT), err=True)


def inform(message: str) -> None:
    """A note of what was done ("wrote 300 patients to x.csv", a summary line): `say`,
    except with --quiet. Problems, warnings and refusals use `say` (or an error)."""
    if not is_quiet():
        say(message)


def is_quiet() -> bool:
    """Whether the command was given --quiet (medsec.cli.options.quiet_option), or a group above it."""
    return _asked("quiet")


def _asked(param: str) -> bool:
    """Whether flag `param` was given to the running command or a group above it."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if ctx.params.get(param):
            return True
        ctx = ctx.parent
    return False


# -- tables for people -------------------------------------------------------------------
SEP = 2  # the spaces between two columns of a table (tabulate's "simple" layout)
MIN_WRAP = 8  # a column wraps no narrower than this (or its header, when wider)
MAX_WORD = 20  # nor narrower than its longest word (when that cannot fit, than this: longer words are cut)
MAX_CELL_LINES = 4  # a cell of a list wraps to at most this many lines, then "..."
# The columns a table leaves out, in this order, when it cannot fit with its cells wrapped or
# would wrap most rows: bookkeeping before details, details before what a person acts on.
LOW_VALUE = ("uid", "series_id", "sequence", "source", "key", "updated", "created", "attempts", "placer_number",
             "filler_number", "plugin", "hooks", "table", "system", "template", "modifiers", "units", "lines",
             "npi", "via", "fasting", "times", "pages", "rank", "email", "note", "room")
# Columns and fields that hold staff ids: shown with the member's name from staff.yaml.
STAFF_FIELDS = frozenset({"provider", "for_staff", "owner", "physician", "attendees", "assigned_to", "from", "to",
                          "created_by"})
_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?")
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_WORDS = re.compile(r"[^\s-]*-?")
_FOR_PEOPLE = re.compile(r"\w{3} \w{3} \d{1,2}( \d{4})?, \d{1,2}:\d\d [AP]M")  # for_people's: wraps at its comma
_TITLES = frozenset({"dr", "prof", "mr", "mrs", "ms", "mx"})


def _table(data: Any, columns: Sequence[str] | None, width: int | None) -> str:
    from tabulate import tabulate  # only tables pay for tabulate

    staff = _StaffNames()
    if isinstance(data, dict):
        body = _record_rows(data, columns, staff, width)
        return _layout(tabulate(body, headers=(), tablefmt="simple", disable_numparse=True)) if body else ""
    rows = list(data)
    if not rows:
        return ""
    columns = list(columns or rows[0].keys())
    merged = "patient" in columns and "patient_id" in columns  # one column: "P2 Luis O'Connell"
    if merged:
        columns.remove("patient_id")
    body = [[_cell(row, c, staff, merged) for c in columns] for row in rows]
    headers, body, left_out = _fit(columns, body, width)
    if left_out:
        inform(f"left out to fit {width} columns: {', '.join(left_out)} (--format csv or json has every column)")
    # tabulate's "simple" layout, its header line drawn here: "simple" would pad every column
    # two characters wider than its header, which a table at 80 columns cannot spare
    rule = ["-" * max([len(h)] + [_longest_line(row[i]) for row in body]) for i, h in enumerate(headers)]
    return _layout(tabulate([headers, rule, *body], tablefmt="plain", disable_numparse=True))


def _layout(table: str) -> str:
    """tabulate's table without the spaces that pad its last column."""
    return "\n".join(line.rstrip() for line in table.splitlines()) + "\n"


def _cell(row: dict, column: str, staff: "_StaffNames", merged: bool) -> str:
    value = row.get(column)
    if merged and column == "patient":
        return " ".join(_shown(str(v)) for v in (row.get("patient_id"), value) if v)
    if column in STAFF_FIELDS:
        value = staff.labelled(value)
    if column == "time" and isinstance(value, str) and _CLOCK.fullmatch(value):
        return time_for_people(datetime.strptime(value, "%H:%M"))  # the day sheet's "08:00"
    return _end_time(column, value, row) or _text(value, lines=False)


def _end_time(key: str, value: Any, record: dict) -> str | None:
    """An end on the day of its record's start, as its time alone ('8:55 AM'); else None."""
    if key != "end" or not isinstance(value, str) or not _ISO_MOMENT.fullmatch(value) \
            or str(record.get("start", ""))[:10] != value[:10]:
        return None
    return time_for_people(datetime.fromisoformat(value))


def _record_rows(record: dict, columns: Sequence[str] | None, staff: "_StaffNames",
                 width: int | None) -> list[list[str]]:
    """A record's table: a row per field that holds something (of `columns`, when given and the
    record is one they describe, with an id: a confirmation's few fields; a summary shows all),
    its value wrapped to what the terminal leaves beside the longest field name."""
    rows = []
    for key in [c for c in columns if c in record] if columns and "id" in record else list(record):
        value = record[key]
        if key in STAFF_FIELDS:
            value = staff.labelled(value)
        text = _end_time(key, value, record) or _text(value, lines=True)
        if text:
            rows.append([_shown(str(key)), text])
    if rows and width:
        room = max(width - max(len(k) for k, _ in rows) - SEP, MIN_WRAP)
        rows = [[k, _wrap(v, room, 0)] for k, v in rows]
    return rows


def _text(value: Any, lines: bool) -> str:
    """A value as a person reads it: times as people say them, yes/no, nested values
    spelled out (in a record's table, a list of records a line each); '' for nothing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        if _ISO_MOMENT.fullmatch(value):
            try:
                return for_people(datetime.fromisoformat(value))
            except ValueError:
                pass
        return escape_controls(value)
    if isinstance(value, dict):  # "payer: HARBOR; member_id: H123"; a line a key when it nests
        parts = [f"{_shown(str(k))}: {text}" for k, v in value.items() if (text := _text(v, False))]
        nested = lines and any(isinstance(v, (list, dict)) for v in value.values())
        return ("\n" if nested else "; ").join(parts)
    if isinstance(value, (list, tuple)):
        if len(value) == 2 and all(isinstance(v, str) and _CLOCK.fullmatch(v) for v in value):
            return f"{value[0]}-{value[1]}"  # a block of working hours
        items = [text for v in value if (text := _text(v, False))]
        records = any(isinstance(v, dict) for v in value)  # a record's coverages, history: a line each
        return ("\n" if records and lines else " / " if records else ", ").join(items)
    return _shown(str(value))


def _fit(columns: list[str], body: list[list[str]], width: int | None) -> tuple[list[str], list[list[str]], list[str]]:
    """(headers, cells, columns left out) of a list's table no wider than `width`.

    Wider than that, columns empty in every row go first; then cells wrap, in the columns
    where that wraps the fewest rows (no column narrower than its header, MIN_WRAP or its
    longest word; than MAX_WORD when whole words cannot fit). When that cannot fit, or
    would wrap most rows, the LOW_VALUE columns go, one at a time; when it still cannot
    fit, the last ones. The first column always stays.
    """
    headers = [_shown(c) for c in columns]
    if not width:
        return headers, body, []
    lengths = [[_longest_line(row[i]) for row in body] for i in range(len(columns))]
    natural = [max([len(headers[i])] + lengths[i]) for i in range(len(columns))]
    words = [_longest_word(body, i) for i in range(len(columns))]
    whole = [min(natural[i], max(len(headers[i]), MIN_WRAP, words[i])) for i in range(len(columns))]
    cut = [min(natural[i], max(len(headers[i]), MIN_WRAP, min(words[i], MAX_WORD))) for i in range(len(columns))]
    kept = list(range(len(columns)))

    def room() -> int:
        return width - SEP * (len(kept) - 1)

    if sum(natural) + SEP * (len(kept) - 1) <= width:
        return headers, body, []
    kept = [i for i in kept if i == 0 or any(lengths[i])]  # empty in every row: nothing is lost
    left_out: list[str] = []
    while True:
        # words stay whole where the table can afford it; else long ones are cut at MAX_WORD
        least = whole if sum(whole[i] for i in kept) <= room() else cut
        widths = _shared_widths([lengths[i] for i in kept], [natural[i] for i in kept], [least[i] for i in kept],
                                room())
        fits = sum(widths) <= room()
        wrapped = sum(any(lengths[i][r] > w for i, w in zip(kept, widths, strict=True)) for r in range(len(body)))
        expendable = [columns.index(c) for c in LOW_VALUE if c in columns and columns.index(c) in kept[1:]]
        if len(kept) == 1 or (fits and (2 * wrapped <= len(body) or not expendable)):
            break
        gone = expendable[0] if expendable else kept[-1]
        kept.remove(gone)
        left_out.append(headers[gone])
    return ([headers[i] for i in kept],
            [[_wrap(row[i], w, MAX_CELL_LINES) for i, w in zip(kept, widths, strict=True)] for row in body],
            left_out)


def _shared_widths(lengths: list[list[int]], natural: list[int], least: list[int], room: int) -> list[int]:
    """Column widths within `room` that leave as many rows as possible on one line.

    Step by step, the column whose next narrower width (the next shorter cell, or its least)
    makes the fewest rows wrap for each character it gives up is narrowed: a name column that
    a few long names exceed gives way before a column that every row fills, and cells that must
    wrap share rows. The last step gives up only the characters still needed.
    """
    widths = list(natural)
    rows = len(lengths[0]) if lengths else 0
    single = [all(column[r] <= widths[i] for i, column in enumerate(lengths)) for r in range(rows)]
    levels = [sorted({n for n in column if least[i] < n < natural[i]} | {least[i]}, reverse=True)
              for i, column in enumerate(lengths)]

    def step(i: int) -> tuple[float, int, int]:  # (rows wrapped a character saved, -saved, column)
        target = next(n for n in levels[i] if n < widths[i])
        wrapped = sum(single[r] for r, n in enumerate(lengths[i]) if target < n <= widths[i])
        return wrapped / (widths[i] - target), target - widths[i], i

    while sum(widths) > room:
        steps = [step(i) for i, w in enumerate(widths) if w > least[i]]
        if not steps:
            break
        _, _, i = min(steps)
        target = max(next(n for n in levels[i] if n < widths[i]), widths[i] - (sum(widths) - room))
        for r, n in enumerate(lengths[i]):
            if n > target:
                single[r] = False
        widths[i] = target
    return widths


def _wrap(text: str, width: int, max_lines: int) -> str:
    """`text` wrapped to `width` (each of its lines; a word longer than that is cut), at most
    `max_lines` lines (0: all), the last then ending in '...'."""
    if _longest_line(text) <= width:
        lines = text.split("\n")
    else:
        lines = [part for line in text.split("\n") for part in _wrapped(line, width)]
    if max_lines and len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(width - 3, 0)] + "..."
    return "\n".join(lines)


def _wrapped(line: str, width: int) -> list[str]:
    if len(line) <= width:
        return [line]
    if _FOR_PEOPLE.fullmatch(line) and line.index(",") < width:  # 'Mon Dec 7,' over '8:00 AM'
        day, _, clock = line.partition(", ")
        return [f"{day},", clock]
    import textwrap  # only a table wider than the terminal pays for it

    return textwrap.wrap(line, width) or [""]


def _longest_word(body: list[list[str]], column: int) -> int:
    """The longest word of a column's cells (words end at spaces and after hyphens)."""
    return max((len(word) for row in body for word in _WORDS.findall(row[column])), default=0)


def _longest_line(text: str) -> int:
    return max(len(line) for line in text.split("\n")) if "\n" in text else len(text)


class _StaffNames:
    """Staff ids labelled with their names from staff.yaml ('S1 Dr. Voss'), read once when a
    table first shows a staff id: configuration the command has at hand, not a store read a row."""

    def __init__(self) -> None:
        self._names: dict[str, str] | None = None

    def labelled(self, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [self.labelled(v) for v in value]
        if not isinstance(value, str) or not value:
            return value
        name = self._roster().get(value.upper())
        return f"{value} {name}" if name else value

    def _roster(self) -> dict[str, str]:
        if self._names is None:
            self._names = {}
            app = _app()
            if app is not None:
                from medsec.errors import MedsecError

                try:
                    members = app.config("staff.yaml").get("staff") or []
                except (MedsecError, OSError):  # a name is a nicety: the command's work is done
                    members = []
                self._names = {str(m.get("id", "")).upper(): short_name(str(m.get("name") or ""))
                               for m in members if isinstance(m, dict) and m.get("name")}
        return self._names


def short_name(name: str) -> str:
    """How a table names a staff member: 'Dr. Helena Voss' -> 'Dr. Voss', 'Jordan Ellis, RN' ->
    'Jordan Ellis' (credentials after a comma left out)."""
    words = name.split(",")[0].split()
    if len(words) > 2 and words[0].rstrip(".").lower() in _TITLES:
        return f"{words[0]} {words[-1]}"
    return " ".join(words)


def _app():
    """The running command's AppContext (None outside a command, or before it has one)."""
    ctx = click.get_current_context(silent=True)
    app = ctx.find_root().obj if ctx is not None else None
    return app if app is not None and hasattr(app, "config") else None


# -- where output goes: the terminal's width, the pager, colour, an empty list -----------
def table_width(stream: TextIO | None = None) -> int | None:
    """How wide a table may be: $COLUMNS when set, else the terminal's width; None (whole rows)
    in a pipe or a file without COLUMNS, where a program or a search reads the rows."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = stream or sys.stdout
    if _is_terminal(stream):
        try:
            return os.get_terminal_size(stream.fileno()).columns or None
        except (OSError, ValueError):
            return None
    return None


def colour_wanted(stream: TextIO | None = None) -> bool:
    """Bold and colour only on a terminal, and never when NO_COLOR is set (no-color.org) or
    TERM is dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return _is_terminal(stream or sys.stdout)


def _bold_headers(text: str) -> str:
    """A table's header line (a list's) or field names (a record's) in bold."""
    lines = text.split("\n")
    if len(lines) > 2 and lines[0] and not lines[0].strip("- "):  # a record: dashes above and below
        width = len(lines[0].split(" ")[0])
        return "\n".join(line if not line.strip("- ") else f"\x1b[1m{line[:width]}\x1b[0m{line[width:]}"
                         for line in lines)
    if len(lines) > 2 and lines[1] and not lines[1].strip("- "):
        lines[0] = f"\x1b[1m{lines[0]}\x1b[0m"
    return "\n".join(lines)


def _page(text: str) -> bool:
    """Show `text` through the pager when it is longer than the terminal; False if it was not paged."""
    import shutil

    if _asked("no_pager") or text.count("\n") < shutil.get_terminal_size().lines:
        return False
    command = os.environ.get("MEDSEC_PAGER")
    if command is None:
        command = os.environ.get("PAGER") or "less"
    import shlex
    import subprocess

    try:
        argv = shlex.split(command)
    except ValueError:
        return False
    if not argv or argv == ["cat"]:
        return False
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")  # as git: quit if one screen, keep colours, leave the text on screen
    env.setdefault("LV", "-c")
    sys.stdout.flush()
    try:
        pager = subprocess.Popen(argv, stdin=subprocess.PIPE, env=env)
    except OSError:  # no such pager: print it as it is
        return False
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):  # the reader quit before the end
        cast(BinaryIO, pager.stdin).write(text.encode(sys.stdout.encoding or "utf-8", errors="replace"))
    with contextlib.suppress(OSError):
        cast(BinaryIO, pager.stdin).close()
    while True:
        try:
            pager.wait()
            return True
        except KeyboardInterrupt:  # ^C belongs to the pager (less keeps running)
            continue


def _stream() -> TextIO:
    """Standard output; standard error once the command wrote its document there (`-o -`)."""
    from medsec.outputs import document_on_stdout

    return sys.stderr if document_on_stdout() else sys.stdout


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


# What an empty list says on stderr, by command (else by its group's noun: "no calls").
EMPTY = {
    "appt slots": "no free slots", "appt noshow": "no missed visits to mark",
    "appt waitlist list": "no one on the waitlist", "patient find": "no patients match",
    "patient coverage list": "no coverage on file", "patient note": "no notes",
    "staff hours": "no working hours", "staff off": "no time off", "bill charges": "no charges",
    "bill ledger": "no ledger entries", "claim create": "no unbilled charges to claim",
    "code search": "no codes match", "code tables": "no coding tables",
    "remind followups": "no follow-up calls due", "audit": "no audit entries",
}
NOUNS = {"appt": "appointments", "patient": "patients", "staff": "staff members", "call": "calls", "fax": "faxes",
         "mail": "mail", "task": "tasks", "memo": "memos", "referral": "referrals", "refill": "refill requests",
         "lab": "lab orders", "meeting": "meetings", "claim": "claims", "remind": "reminders", "code": "codes",
         "token": "service tokens", "plugins": "plugins"}


def empty_message() -> str:
    """What an empty list says when the command gives no words of its own: "no calls"."""
    ctx = click.get_current_context(silent=True)
    words = ctx.command_path.split()[1:] if ctx is not None else []
    if " ".join(words) in EMPTY:
        return EMPTY[" ".join(words)]
    noun = NOUNS.get(words[0]) if words else None
    return f"no {noun}" if noun else "nothing to show"
