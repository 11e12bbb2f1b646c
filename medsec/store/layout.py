"""Which relative paths belong to a data directory, and what sits beside it.

Two questions, asked of paths that come from outside medsec's own code (a
journal found on disk, a backup's manifest):

- `commit_path_problem`: may a commit write this file? Only record shards in
  the record kinds' folders, index files, meta files and the configuration
  files (`config.stage` writes them through the journal) qualify.
- `backup_path_problem`: may a backup hold this file? Anything under the data
  directory's own folders and the configuration files; never a journal, the
  lock or a temporary file. (A rebuildable cache, which older backups hold,
  is accepted and then not unpacked: see `is_cache`.)

Neither admits an absolute path, a `..`, an empty or hidden component.
"""

import os
import re

from medsec.config import CONFIG_FILES
from medsec.fileio import is_temp_name
from medsec.store.catalog import ALL_KINDS, DATA_FOLDERS

# One component of a path a commit writes: shard numbers, ISO days, provider
# ids, index names and shards. Never '.', '..' or hidden: the first character
# is not a dot.
_COMMIT_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
_KIND_FOLDERS = frozenset(kind.name for kind in ALL_KINDS)

# Caches their readers rebuild on demand: coding tables' built indexes (the
# ICD-10-CM one is ~18 MB) and the parsed configuration files. Backups leave
# them out, and a restore does not unpack those an older backup holds: a
# parse cache is trusted without validating its YAML again, so one carried
# in could smuggle in settings.
CACHE_FOLDERS = ("index/codes", "index/config")

# What a backup must hold to be a data directory at all (`config check` needs both).
REQUIRED_FILES = ("medsec.yaml", "practice.yaml")


def commit_path_problem(rel: object) -> str | None:
    """Why a commit may not write `rel` (relative to the data directory), or None when it may."""
    if not isinstance(rel, str) or not rel:
        return "not a file name"
    parts = rel.split("/")
    if not all(_COMMIT_NAME.fullmatch(part) and not is_temp_name(part) for part in parts):
        return "not a plain relative path"
    top, depth = parts[0], len(parts)
    if depth == 1:
        return None if rel in CONFIG_FILES else "not a configuration file"
    if not rel.endswith(".json"):
        return "not a JSON file"
    # meta/<file>.json; index/<index>/<shard>.json; <kind>/<shard>.json,
    # <kind>/<year>/<day>.json or <kind>/<year>/<day>/<part>.json.
    if (top == "meta" and depth == 2) or (top == "index" and depth == 3) or (top in _KIND_FOLDERS and depth <= 4):
        return None
    return "not a record, index or meta file"


def backup_path_problem(rel: object) -> str | None:
    """Why a restore may not bring in `rel` (a data file of a backup), or None when it may."""
    if not isinstance(rel, str) or not rel or len(rel) > 1024:
        return "not a file name"
    parts = rel.split("/")
    if any(part in ("", ".", "..") or "\0" in part or len(part.encode()) > 255 for part in parts):
        return "not a plain relative path"
    if any(is_temp_name(part) for part in parts):
        return "a temporary file"
    if len(parts) == 1:
        return None if rel in CONFIG_FILES else "not a file of a data directory"
    if parts[0] not in DATA_FOLDERS:
        return "not in a folder of a data directory"
    return None


def is_cache(rel: str) -> bool:
    """Whether `rel` is in a cache folder (rebuilt on demand, never restored)."""
    return rel.startswith(tuple(folder + "/" for folder in CACHE_FOLDERS))


def inside(real_root: str, path: str) -> bool:
    """Whether `path`, its symbolic links resolved, is `real_root` (already resolved) or under it."""
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root + os.sep)


# -- beside the data directory ---------------------------------------------------
def staging_dir(root: str) -> str:
    """Where this process's restore builds the new data directory: hidden, beside `root`."""
    return f"{_staging_prefix(root)}{os.getpid()}"


def leftover_staging(root: str) -> list[str]:
    """Staging directories beside `root` whose restore died (its process is gone), sorted.

    They hold a backup's patient data: `check` reports them, the next restore removes them.
    """
    prefix = _staging_prefix(root)
    folder, start = os.path.split(prefix)
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    found = []
    for name in names:
        pid = name[len(start):]
        if name.startswith(start) and pid.isdigit() and not _alive(int(pid)):
            found.append(os.path.join(folder, name))
    return sorted(found)


def _staging_prefix(root: str) -> str:
    root = os.path.abspath(root)
    return os.path.join(os.path.dirname(root), f".{os.path.basename(root)}.restoring-")


def _alive(pid: int) -> bool:
    """Whether process `pid` exists (another user's counts)."""
    if pid <= 0 or pid == os.getpid():
        return False  # this process is not restoring yet: anything of its pid is left over
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return True
