"""One output-options decorator and one render function for every command."""

import functools
import io
import sys
from collections.abc import Sequence
from typing import Any

import click
import orjson

from medsec.cli.textsafety import printable
from medsec.spreadsheet import csv_writer
from medsec.text import escape_controls

FORMATS = ["table", "json", "csv", "yaml"]


def output_options(func):
    """Adds --format table|json|csv|yaml and --json; passes `fmt` to the command."""

    @click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
                  help="Output format (default: table).")
    @click.option("--json", "as_json", is_flag=True, help="Short for --format json.")
    @functools.wraps(func)
    def wrapper(*args, fmt=None, as_json=False, **kwargs):
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


def render_text(data: Any, fmt: str, columns: Sequence[str] | None = None) -> str:
    """The text of `data` (a record or a list of records) in `fmt`.

    Lists: table/csv show `columns` (all keys of the first row if None);
    JSON and YAML always carry every field. An empty list is '' in a table
    and '[]' in JSON.
    """
    if fmt == "json":
        return _json(data, orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "yaml":
        import yaml  # only YAML output pays for yaml

        return yaml.safe_dump(orjson.loads(_json(data)), sort_keys=False, allow_unicode=True)
    if isinstance(data, dict):
        rows = [{"field": k, "value": _flat(v)} for k, v in data.items()]
        columns = ["field", "value"]
    else:
        rows = list(data)
        if not rows:
            return "" if fmt == "table" else (",".join(columns or []) + "\n" if columns else "")
        columns = list(columns or rows[0].keys())
    if fmt == "csv":
        out = io.StringIO()
        writer = csv_writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_flat(row.get(c)) for c in columns])
        return out.getvalue()
    from tabulate import tabulate  # only tables pay for tabulate

    body = [[_shown(_flat(row.get(c))) for c in columns] for row in rows]
    headers = [_shown(str(c)) for c in columns] if not isinstance(data, dict) else ()
    return tabulate(body, headers=headers, tablefmt="simple", disable_numparse=True) + "\n"


def _shown(cell: Any) -> Any:
    """A table cell as it may reach the terminal: any control character escaped (a newline
    too, so a cell never breaks its row), whatever wrote it (old data, a plugin, staff.yaml)."""
    return escape_controls(cell) if isinstance(cell, str) else cell


def render(data: Any, fmt: str, columns: Sequence[str] | None = None) -> None:
    """Print `data` to standard output in `fmt`."""
    sys.stdout.write(render_text(data, fmt, columns))


# A note longer than this is cut: notes quote values (a reason, a file name).
NOTE_LIMIT = 1_000


def say(message: str) -> None:
    """A human note on stderr, so it never mixes with JSON on stdout; one line,
    control characters escaped, at most NOTE_LIMIT characters."""
    click.echo(printable(message, NOTE_LIMIT), err=True)
