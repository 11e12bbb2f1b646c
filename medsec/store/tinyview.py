"""A shard file as a TinyDB database, read and written through a store view.

Record files are TinyDB's format; medsec reads and writes them directly for
speed, and this keeps TinyDB itself able to (`Snapshot.db`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinydb import TinyDB
from tinydb.storages import Storage

if TYPE_CHECKING:
    from medsec.store.views import Snapshot


class ShardStorage(Storage):
    """TinyDB storage for one shard file, read and written through a view.

    Reads parse the file once per command (orjson) and reuse it; writes are
    staged in the transaction and reach the disk only when it commits.
    """

    def __init__(self, view: Snapshot, rel: str):
        self._view = view
        self._rel = rel

    def read(self) -> dict[str, dict[str, Any]] | None:
        tables: dict[str, dict[str, Any]] | None = self._view.load(self._rel)
        return tables

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self._view.stage(self._rel, data)


def open_shard(view: Snapshot, rel: str) -> TinyDB:
    return TinyDB(rel, storage=lambda r: ShardStorage(view, r))
