"""The data directory's store: lock-free snapshots, locked transactions, journaled commits."""

import os
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from types import TracebackType
from typing import Any

from medsec import atrest
from medsec import audit as audit_log
from medsec.audit import Entry, Head, Verdict
from medsec.fileio import append_line, make_private_dirs, read_bytes
from medsec.store import attachments
from medsec.store.catalog import RECORD_DIRS
from medsec.store.commit import Journaled
from medsec.store.journal import JOURNAL
from medsec.store.lock import DirectoryLock
from medsec.store.views import COUNTERS, Snapshot, Transaction

__all__ = ["COUNTERS", "Snapshot", "Store", "Transaction"]

_SHA256 = re.compile(r"[0-9a-f]{64}")


class Store(Journaled):
    """One data directory: the storage interface's backend (medsec.store.api) over files."""

    def __init__(self, root: str):
        super().__init__(root)
        atrest.vault(self.root)  # encrypted at rest: known before the first read or write

    @property
    def vault(self) -> atrest.Vault | None:
        """The data directory's encryption at rest (medsec.atrest), None when it is plain."""
        return atrest.vault(self.root)

    def stage_encryption(self, txn: Any, state: str, key: str, keys: list[str],
                         held: dict[str, bytes]) -> None:
        """Stage meta/encryption.json in `txn` (this store's Transaction); once committed, this
        process's vault holds `held`."""
        txn.put_text(atrest.STATE_FILE, atrest.state_bytes(state, key, keys).decode())

        def reload() -> None:
            atrest.forget(self.root)
            vault = atrest.vault(self.root)
            if vault is not None:
                vault.adopt({kid: held[kid] for kid in keys})

        txn.after_commit.append(reload)

    def rewrite_files(self, progress: Callable[[int], None] | None = None) -> int:
        """Every protected file moved under the vault's write key (medsec.store.rewrap)."""
        from medsec.store.rewrap import rewrite_all

        return rewrite_all(self.root, progress)

    def snapshot(self) -> Snapshot:
        """A lock-free view; finishes an interrupted commit first if one is left."""
        if os.path.exists(self.path(JOURNAL)):
            with DirectoryLock(self.root):
                self.recover()
        return Snapshot(self.root)

    def transaction(self) -> "_TransactionScope":
        """`with store.transaction() as txn:` - locked, committed on success."""
        return _TransactionScope(self)

    def lock(self) -> DirectoryLock:
        return DirectoryLock(self.root)

    def attach_file(self, path: str) -> tuple[str, int]:
        """Keep the file at `path` under files/ by its SHA-256 (see medsec.store.attachments)."""
        return attachments.put_file(self.root, path)

    def attach_bytes(self, data: bytes) -> tuple[str, int]:
        return attachments.put_bytes(self.root, data)

    def attachments(self) -> Iterator[str]:
        """Every file kept under files/<sha[:2]>/<sha>, by hash; temp files of a copy in
        flight (and anything else that is no hash in its own folder) are not kept files."""
        folder = self.path("files")
        try:
            prefixes = sorted(os.listdir(folder))
        except FileNotFoundError:
            return
        for prefix in prefixes:
            try:
                names = sorted(os.listdir(os.path.join(folder, prefix)))
            except (FileNotFoundError, NotADirectoryError):
                continue
            yield from (name for name in names if _SHA256.fullmatch(name) and name[:2] == prefix)

    def attachment(self, sha: str) -> bytes | None:
        if not _SHA256.fullmatch(sha):
            return None
        rel = f"files/{sha[:2]}/{sha}"
        return atrest.decrypt(self.root, rel, read_bytes(self.path(rel)))

    def document(self, name: str) -> Any:
        """A configuration file's checked data (medsec.config.load: the YAML beside the records)."""
        from medsec import config

        return config.load(self.root, name)

    def document_text(self, name: str) -> str | None:
        from medsec import config

        raw = config.read_config(self.root, name)
        return None if raw is None else raw.decode("utf-8", errors="replace")

    def audit(self, entry: Entry) -> None:
        audit_log.append(self.root, entry)

    def audit_entries(self, record_id: str | None = None, user: str | None = None,
                      since: date | None = None) -> list[Entry]:
        return audit_log.entries(self.root, record_id=record_id, user=user, since=since)

    def probe_audit(self, at: datetime) -> None:
        audit_log.probe(self.root, at)

    def audit_head(self) -> Head | None:
        return audit_log.head(self.root)

    def audit_verify(self, anchor: Head | None = None) -> Verdict:
        return audit_log.verify(self.root, anchor)

    def append(self, rel: str, line: bytes) -> None:
        append_line(self.path(rel), line)

    def ensure_dirs(self, *rels: str) -> None:
        for rel in rels:
            make_private_dirs(self.path(rel))

    @classmethod
    def create(cls, root: str) -> "Store":
        """A new, empty data directory at `root`: private folders for every record kind."""
        make_private_dirs(root)
        store = cls(root)
        store.ensure_dirs(*RECORD_DIRS)
        return store


class _TransactionScope:
    def __init__(self, store: Store):
        self.store = store
        self.lock = DirectoryLock(store.root)
        # Nothing is read until the lock is held: a Transaction loads files on first use.
        self.txn = Transaction(store.root)

    def __enter__(self) -> Transaction:
        self.lock.acquire()
        try:
            self.store.recover()
        except BaseException:
            self.lock.release()
            raise
        return self.txn

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is None:
                self.store.commit(self.txn)
        finally:
            self.lock.release()
        if exc_type is None:
            for callback in self.txn.after_commit:
                callback()
