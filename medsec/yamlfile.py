"""YAML files people edit, read within bounds: the one reader of medsec's configuration.

A file's size is checked before it is read whole (and a FIFO or device in its
place is refused, not waited on); its node tree, where an alias is one shared
node so that an "alias bomb" stays small, is measured before any data is
constructed from it: its depth, recursive aliases, integers too long to keep,
and the number of values it would hold with every alias expanded (`Limits`).
Every problem names the file and, where there is one, the line.
"""

import os
import stat
from typing import Any, NamedTuple, NoReturn

from medsec.errors import ConfigError
from medsec.inputs import size_text

MB = 1024 * 1024


class Limits(NamedTuple):
    """What one configuration file may hold."""

    size: int  # bytes
    nodes: int  # values (keys, scalars, lists, mappings), every alias counted where it is used
    depth: int = 32  # nesting; medsec's deepest setting (staff[i].hours.mon[j][k]) is 6


class Problem(NamedTuple):
    file: str
    line: int | None
    message: str
    severity: str = "error"  # or "warning"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.message}"


class ConfigFileError(ConfigError):
    """A configuration file cannot be read as configuration at all; `problem` says where and why."""

    def __init__(self, problem: Problem):
        super().__init__(f"{problem.where}: {problem.message}")
        self.problem = problem


class YamlSyntaxError(ConfigFileError):
    """A configuration file is not valid YAML, or over its limits."""


def read_bounded(path: str, name: str, limit: int) -> bytes | None:
    """The bytes of the file at `path`, called `name` in problems (None when absent),
    never more than `limit` bytes.

    Opened without blocking and refused unless a regular file: a FIFO or a
    device put in its place is not waited on or read without end.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise ConfigFileError(Problem(name, None, "not a regular file"))
        raw = f.read(limit + 1) if status.st_size <= limit else b""
    if status.st_size > limit or len(raw) > limit:  # too big, or grew past the limit while read
        _too_big(name, max(status.st_size, len(raw)), limit)
    return raw


def _too_big(name: str, size: int, limit: int) -> NoReturn:
    raise ConfigFileError(Problem(name, None, f"{size_text(size)}, over the {size_text(limit)} limit "
                                              "for this configuration file"))


def _yaml():
    import yaml

    return yaml


def _loader():
    yaml = _yaml()
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_bounded(name: str, text: str, limits: Limits):
    """(data, node tree) of a YAML text, or YamlSyntaxError naming file and line.

    The text is composed into nodes once, the nodes checked against
    `limits`, and only then is the data constructed from them.
    """
    yaml = _yaml()
    size = len(text) if len(text) > limits.size else len(text.encode("utf-8", errors="replace"))
    if size > limits.size:
        _too_big(name, size, limits.size)
    loader = _loader()(text)
    try:
        node = loader.get_single_node()
        _check_shape(name, node, limits)
        data = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise YamlSyntaxError(Problem(name, line, f"YAML syntax error: {problem}")) from None
    except (ValueError, OverflowError) as e:  # a value of a type YAML knows, out of range: 2026-02-30
        raise YamlSyntaxError(Problem(name, None, f"YAML value error: {e}")) from None
    finally:
        loader.dispose()
    return data, node


def _children(node) -> list:
    """The nodes directly under a node: a mapping's keys and values (pairs), a list's items."""
    if isinstance(node.value, str):  # a scalar
        return []
    return [part for item in node.value for part in (item if isinstance(item, tuple) else (item,))]


def _check_shape(name: str, root, limits: Limits) -> None:
    """Refuse a node tree deeper than `limits.depth`, with a recursive alias, or that holds more
    than `limits.nodes` values once every alias is expanded (a "billion laughs").

    One walk over the distinct nodes (each alias is a shared node, visited
    once), keeping each one's expanded size and height: nothing is expanded.
    """
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (values under it, expanded; its height)
    open_nodes: set[int] = set()  # the nodes on the path being walked: met again, a recursive alias
    stack = [(root, 1, False)] if root is not None else []
    while stack:
        node, depth, finished = stack.pop()
        if finished:
            open_nodes.discard(id(node))
            sizes = [measured[id(child)] for child in _children(node)]
            measured[id(node)] = (1 + sum(s for s, _ in sizes), 1 + max((h for _, h in sizes), default=0))
            if measured[id(node)][0] > limits.nodes:
                _shape_error(name, node, f"with its aliases expanded this holds more than {limits.nodes:,} "
                                         "values, the limit for the file (an alias bomb?)")
            continue
        if id(node) in open_nodes:
            _shape_error(name, node, "an alias refers to a value that contains it")
        _check_scalar(name, node)
        height = measured[id(node)][1] if id(node) in measured else 1
        if depth + height - 1 > limits.depth:
            _shape_error(name, node, f"nested more than {limits.depth} levels deep")
        if id(node) not in measured:
            open_nodes.add(id(node))
            stack.append((node, depth, True))
            stack.extend((child, depth + 1, False) for child in _children(node))


# An integer medsec keeps must fit in 64 bits (JSON caches and orjson hold no more);
# no setting needs more than 18 digits.
_INT_DIGITS = 18


def _check_scalar(name: str, node) -> None:
    """Refuse an integer too long for any setting (YAML reads '99999999999999999999999' as an int)."""
    if node.tag.endswith(":int") and sum(ch.isdigit() for ch in node.value) > _INT_DIGITS:
        _shape_error(name, node, f"a number of more than {_INT_DIGITS} digits")


def _shape_error(name: str, node, message: str) -> NoReturn:
    raise YamlSyntaxError(Problem(name, node.start_mark.line + 1, message))


def line_of(node, path: tuple) -> int | None:
    """The line of the deepest node on `path` (keys and list indexes)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in path:
        child = None
        if node.tag.endswith(":map"):
            for key, value in node.value:
                if key.value == str(part):
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif node.tag.endswith(":seq") and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def dump_yaml(data: Any, header: str = "") -> str:
    yaml = _yaml()
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return header + body
