"""Where a command's practice is, as far as can be told without opening it (os and sys only:
the entry point asks before it imports anything else)."""

import os
import sys
from collections.abc import Mapping

# The pointer file a terminal's folder holds when its store is a PostgreSQL database.
POINTER = "store.yaml"


def default_data_dir(env: Mapping[str, str] = os.environ) -> str:
    """MEDSEC_HOME, else the platform's user data directory."""
    if env.get("MEDSEC_HOME"):
        return env["MEDSEC_HOME"]
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Application Support/medsec")
    base = env.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(base, "medsec")


def names_postgresql(data_dir: str | None, store: str | None, env: Mapping[str, str] = os.environ) -> bool:
    """Whether a command given --data-dir `data_dir` and --store `store` (None when not given)
    uses a PostgreSQL store: --store, $MEDSEC_STORE, or the folder's pointer file. The command
    itself checks that what is named is sound (medsec.store.api.locate_store)."""
    if store or env.get("MEDSEC_STORE"):
        return True
    return os.path.isfile(os.path.join(data_dir or default_data_dir(env), POINTER))
