"""Files for assertions: a data directory's bytes, and the optional shared reference data."""

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def snapshot(root: Path, skip=("audit",)) -> dict:
    """Every file's bytes under root (audit log excluded): for 'nothing written'. A terminal's
    folder of a PostgreSQL store adds that store's rows (helpers.backends.store_rows)."""
    from .backends import store_rows

    out = store_rows(root)
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and rel.parts[0] not in skip:
            out[str(rel)] = path.read_bytes()
    return out


def shared_data(*parts) -> Path:
    """A file of ../shared/data; the test is skipped when that folder is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (../shared/data is optional)")
    return path
