"""Outside programs the tests judge with (hledger, man, pdftoppm ...): skipped where missing, failed
instead when the run requires them (MEDSEC_REQUIRE_SERVICES=1, as CI sets: .ci/run installs them)."""

import os
import shutil
import sys
from pathlib import Path

import pytest


def need_tool(name: str, package: str = "") -> str:
    """The path of `name` (on PATH or beside this Python); skip or fail when it is not installed."""
    beside = Path(sys.executable).with_name(name)
    found = shutil.which(name) or (str(beside) if beside.exists() else None)
    if found:
        return found
    reason = f"{name} is not installed" + (f" (Debian: {package})" if package else "")
    if os.environ.get("MEDSEC_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}; MEDSEC_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(reason)
