"""YAML configuration: loading with file-and-line errors, validation (each file's checks are in
medsec.configcheck), a parse cache.

People edit YAML; commands should not pay for PyYAML on every run. Each file
is parsed and validated once after it changes, and the result is cached as
JSON under index/config/ (derived, rebuildable), keyed by the file's mtime
and size.

Every file is read within its limits (medsec.yamlfile: size, depth, aliases
expanded, long integers) before it is trusted. Aliases stay allowed:
staff.yaml's office hours are a natural use of them; only their expansion is
bounded.

Secrets never live in these files: a setting holding a password, token or
key (`password`, `api_key`, a URL with a password ...) is an error naming the
file, line and setting, so every command that reads the file refuses it
(exit 3); the file names an environment variable instead (`password_env`).
"""

import contextlib
import os
from collections.abc import Callable
from typing import Any

import orjson

from medsec.errors import ConfigError, InvalidInput
from medsec.fileio import read_bytes, write_atomic
from medsec.yamlfile import (
    MB,
    ConfigFileError,
    Limits,
    Problem,
    dump_yaml,
    line_of,
    parse_bounded,
    read_bounded,
)

SCHEMA_VERSION = 4  # 2: appointments one file per provider per day; 3: split name-index shards;
#                    4: free-text guarantors made responsible parties (medsec upgrade)
CONFIG_FILES = [
    "medsec.yaml",
    "practice.yaml",
    "staff.yaml",
    "appointment-types.yaml",
    "payers.yaml",
    "fees.yaml",
    "codes.yaml",
    "channels.yaml",
    "roles.yaml",
    "clearinghouses.yaml",
    "labs.yaml",
    "dictation.yaml",
    "intake.yaml",
]

# Real files are kilobytes: staff.yaml of a 300-provider practice is 61 KB.
DEFAULT_LIMITS = Limits(size=1 * MB, nodes=250_000)
# codes.yaml holds a whole imported HCPCS Level II list (some 8,000 codes with
# their long descriptions: about 2 MB and 70,000 values).
LIMITS = {"codes.yaml": Limits(size=16 * MB, nodes=2_000_000)}

# Parse-cache entries hold data that passed these checks: entries written
# before a check existed (no "checks", or an older number) are parsed again.
# 2: bounds and literal secrets; 3: sign-in settings, roles.yaml; 4: channels.yaml routes; 5: default routes
CACHE_CHECKS = 5


def limits_of(name: str) -> Limits:
    return LIMITS.get(name, DEFAULT_LIMITS)


def read_config(root: str, name: str) -> bytes | None:
    """The bytes of configuration file `name` (None when absent), within its size limit."""
    return read_bounded(os.path.join(root, name), name, limits_of(name).size)


def parse_yaml(name: str, text: str):
    """(data, node tree) of configuration file `name`'s text, within its limits."""
    return parse_bounded(name, text, limits_of(name))


# -- validation (the checks of each file: medsec.configcheck) -------------------------------
def validate(name: str, text: str, store_version: int | None = None) -> tuple[Any, list[Problem]]:
    """Parse and check one file; (data, problems). YAML syntax errors raise.

    With `store_version` (the schema_version of the store it would go into),
    a medsec.yaml of any other schema version is an error too.
    """
    from medsec import configcheck  # the checks of every file: only when a file changed since it was cached

    data, node = parse_yaml(name, text)
    found = configcheck.check(name, data, SCHEMA_VERSION, store_version)
    return data, [Problem(name, line_of(node, path), message, severity) for path, message, severity in found]


def check_document(name: str, text: str, store_version: int | None = None) -> tuple[Any, list[Problem]]:
    """(data, problems) of a document's text as a person wrote it (`config edit`, `config import`).

    Unlike `validate`, a YAML syntax error or a text over its limits is a
    problem in the list, not raised; the data is as a store keeps it (JSON
    types, {} for an empty file).
    """
    try:
        data, problems = validate(name, text, store_version)
    except ConfigFileError as e:
        return {}, [e.problem]
    return stored_form(data), problems


def stored_form(data: Any) -> Any:
    """Parsed YAML as a store keeps it: JSON types ({} for an empty file; dates and YAML's
    integer keys, such as a fee schedule's `99213:`, as strings)."""
    return orjson.loads(orjson.dumps(data if data is not None else {}, default=str, option=orjson.OPT_NON_STR_KEYS))


def checked(name: str, text: str, hint: str) -> Any:
    """A document's data in its stored form; ConfigError (with `hint`) naming the first error."""
    data, problems = validate(name, text)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ConfigError(f"{errors[0].where}: {errors[0].message}", hint=hint)
    return stored_form(data)


# -- loading with a cache -------------------------------------------------
def cache_rel(name: str) -> str:
    return f"index/config/{name}.json"


def cache_entry(raw: bytes, data: Any) -> dict:
    """The cache record for a YAML file's bytes: valid while the bytes are the
    same (compared whole: a few kilobytes, exact, and no hash to compute) and
    were checked by this medsec's checks (`CACHE_CHECKS`)."""
    return {"yaml": raw.decode("latin-1"), "data": data, "checks": CACHE_CHECKS}


# Folders whose configuration is kept in a store elsewhere (a PostgreSQL practice's terminal
# folder), with how to read a document there: `load` asks it, so code handed only the folder
# (a coding table's `lookup(data_dir, code)`) reads what every terminal shares.
_STORED_ELSEWHERE: dict[str, Callable[[str], Any]] = {}


def kept_in_store(root: str, document: Callable[[str], Any]) -> None:
    """Say that the configuration of folder `root` is the store's (`document(name)`)."""
    _STORED_ELSEWHERE[os.path.abspath(root)] = document


def load(root: str, name: str) -> Any:
    """The data of one configuration file ({} when the file is absent).

    Raises ConfigError (exit 3) naming the file and line when it is broken,
    over its limits or holds a secret. Reading the YAML costs well under a
    millisecond; parsing it with PyYAML costs tens, so the parse is cached and
    reused while the bytes are the same (and were read within the limits:
    an oversized file is refused before its cache is looked at).
    """
    elsewhere = _STORED_ELSEWHERE.get(os.path.abspath(root))
    if elsewhere is not None:
        return elsewhere(name)
    raw = read_config(root, name)
    if raw is None:
        return {}
    cached = read_bytes(os.path.join(root, cache_rel(name)))
    if cached:
        try:
            entry = orjson.loads(cached)
            if entry.get("checks") == CACHE_CHECKS and entry.get("yaml") == raw.decode("latin-1"):
                return entry["data"]
        except (orjson.JSONDecodeError, AttributeError):
            pass
    data = checked(name, raw.decode("utf-8", errors="replace"), hint="run 'medsec config check' for every problem")
    with contextlib.suppress(OSError):  # a read-only data directory still works, just slower
        write_atomic(os.path.join(root, cache_rel(name)), orjson.dumps(cache_entry(raw, data)),
                     sync_dir=False)
    return data


def load_packaged(root: str, path: str) -> Any:
    """The data of a YAML file medsec ships (an intake form's definition, medsec.intakeforms):
    parsed while its bytes are new to this data directory, then read from a cache beside the
    configuration's, as `load` does (check-in and the day sheet read every form)."""
    raw = read_bytes(path)
    if raw is None:
        raise ConfigError(f"{path} is missing: reinstall medsec")
    rel = f"index/config/packaged/{os.path.basename(path)}.json"
    cached = read_bytes(os.path.join(root, rel))
    if cached:
        try:
            entry = orjson.loads(cached)
            if entry.get("yaml") == raw.decode("latin-1"):
                return entry["data"]
        except (orjson.JSONDecodeError, AttributeError):
            pass
    data, _ = parse_bounded(os.path.basename(path), raw.decode("utf-8", errors="replace"), DEFAULT_LIMITS)
    with contextlib.suppress(OSError):
        write_atomic(os.path.join(root, rel), orjson.dumps({"yaml": raw.decode("latin-1"), "data": data}),
                     sync_dir=False)
    return data


def stage(txn, name: str, data: Any, header: str = "") -> None:
    """Write a configuration file (and its cache) as part of a transaction.

    Refuses data that would not pass its own validation.
    """
    text = dump_yaml(data, header)
    parsed, problems = validate(name, text)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InvalidInput(errors[0].message)
    txn.put_document(name, text, stored_form(parsed))


def check_texts(text_of: Callable[[str], str | None]) -> list[Problem]:
    """Every problem in every configuration document, each read by `text_of` (None: absent):
    a store's `document_text` for `medsec config check`, so a PostgreSQL store is checked too."""
    problems: list[Problem] = []
    for name in CONFIG_FILES:
        try:
            text = text_of(name)
        except ConfigFileError as e:
            problems.append(e.problem)
            continue
        if text is None:
            if name in ("medsec.yaml", "practice.yaml"):
                problems.append(Problem(name, None, "file is missing"))
            continue
        problems.extend(check_document(name, text)[1])
    return problems


def check_all(root: str) -> list[Problem]:
    """Every problem in every configuration file of the folder `root` (a backup being restored)."""

    def text_of(name: str) -> str | None:
        raw = read_config(root, name)
        return None if raw is None else raw.decode("utf-8", errors="replace")

    return check_texts(text_of)


def _secret_paths(root: str, name: str) -> tuple[Any, list[Problem], list[tuple]]:
    """(data, problems, setting paths) of the literal secrets in one file; none when it
    is absent or cannot be parsed (that is `config check`'s to report)."""
    try:
        raw = read_config(root, name)
        data, node = parse_yaml(name, raw.decode("utf-8", errors="replace")) if raw else (None, None)
    except ConfigFileError:
        return None, [], []
    from medsec.configcheck import secrets  # only backups and restores look for them

    found = secrets(data)
    return data, [Problem(name, line_of(node, path), message, severity) for path, message, severity in found], \
        [path for path, _, _ in found]


def literal_secrets(root: str) -> list[Problem]:
    """The secrets written in the configuration files of the data directory at `root` (for backups)."""
    return [problem for name in CONFIG_FILES for problem in _secret_paths(root, name)[1]]


def remove_literal_secrets(root: str) -> list[Problem]:
    """Take every secret written in a configuration file out of it (a restored backup's copy,
    before it is installed): the setting is dropped and the file rewritten (its comments are
    lost). The settings removed, as problems naming file, line and setting."""
    removed: list[Problem] = []
    for name in CONFIG_FILES:
        data, found, paths = _secret_paths(root, name)
        if not found:
            continue
        for path in paths:
            *parents, last = path
            holder = data
            for part in parents:
                holder = holder[part]
            if isinstance(holder, dict):
                holder.pop(last, None)  # None: reached again through an alias, already gone
            else:
                holder[last] = None  # a list keeps its length: the other paths' indexes stay right
        header = (f"# {name} - rewritten by medsec restore: secrets written here were removed;\n"
                  "# name the environment variables that hold them with *_env settings.\n")
        write_atomic(os.path.join(root, name), dump_yaml(data, header).encode())
        removed.extend(found)
    return removed
