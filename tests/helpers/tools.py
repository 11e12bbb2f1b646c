"""Outside programs the tests judge with (hledger, man, pdftoppm ...) and optional Python modules
(pocketsphinx): skipped where missing, failed instead when the run requires them
(MEDSEC_REQUIRE_SERVICES=1, as CI sets: .ci/run and the Makefile install them)."""

import os
import shutil
import sys
from pathlib import Path
from typing import NoReturn

import pytest


def need_module(name: str, install: str = ""):
    """The Python module `name`, imported; skip or fail (MEDSEC_REQUIRE_SERVICES=1) when it is missing."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        _missing(f"the Python module {name} is not installed" + (f" ({install})" if install else ""))


def need_tool(name: str, package: str = "") -> str:
    """The path of `name` (on PATH or beside this Python); skip or fail when it is not installed."""
    beside = Path(sys.executable).with_name(name)
    found = shutil.which(name) or (str(beside) if beside.exists() else None)
    if found:
        return found
    _missing(f"{name} is not installed" + (f" (Debian: {package})" if package else ""))


def _missing(reason: str) -> NoReturn:
    if os.environ.get("MEDSEC_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}; MEDSEC_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(reason, allow_module_level=True)  # (a module of tests may need it as a whole)
