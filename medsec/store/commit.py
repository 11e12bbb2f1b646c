"""Journaled commits and their roll-forward: how a set of staged files reaches the data directory.

A commit is audited as begun, then made all-or-nothing: one file is
replaced atomically by itself; several are written to a journal first
(the commit point is the journal's rename), then applied, then the journal
goes. A commit interrupted after its journal is rolled forward by the next
command that takes the lock (`recover`).
"""

import os
from collections.abc import Callable
from typing import Protocol

from medsec import atrest, audit, clock
from medsec.audit import Actor
from medsec.fileio import fsync_dir, read_bytes, write_all_atomic, write_atomic
from medsec.store.journal import (
    JOURNAL,
    JOURNAL_HINT,
    Begun,
    CommitFailed,
    JournalFiles,
    UnsafePath,
    announce,
    decode_journal,
    encode_journal,
)
from medsec.store.layout import commit_path_problem, inside


class Staged(Protocol):
    """What a commit takes: the files a transaction staged, in the order to apply them."""

    def serialized(self) -> list[tuple[str, bytes]]: ...


def _reason(root: str, e: OSError) -> str:
    """An OSError as the user reads it: what failed and on which file of the data directory."""
    reason = str(e.strerror or e)
    reason = reason[:1].lower() + reason[1:]
    if isinstance(e.filename, str):
        # A temp file's name says which file it was becoming.
        rel = os.path.relpath(e.filename, root).partition(".tmp-")[0]
        reason += f" ({rel})"
    return reason


class Journaled:
    """The commits of one data directory."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        # Who commits: set by the command's context (medsec.context), so that every commit
        # is audited before it is made. A store without one (init, tests) audits nothing.
        self.actor: Callable[[], Actor] | None = None
        # The commit this process began last: the audit entries after it name it.
        self.commit_id: str | None = None
        self.committed = False  # whether that commit was made and confirmed

    def path(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def recover(self) -> bool:
        """Roll an interrupted commit forward (call with the lock held).

        A torn journal (the commit never began) is discarded; one that names a
        file a commit may not write raises UnsafePath and stays, unapplied. A
        roll-forward is announced on stderr and audited first, in the name of
        whoever began the commit; when it cannot be audited or completed, the
        journal stays for the next command (CommitFailed, exit 3).
        """
        raw = read_bytes(self.path(JOURNAL))
        if raw is None:
            return False
        journal = self._journaled(raw)
        # A torn journal is a commit that never began: nothing to complete, only to discard.
        state = "journaled" if journal is not None else "not made"
        try:
            if journal is not None:
                files, begun = journal
                announce(begun)
                self._audit_recovery(begun)
                self._apply(files)
            os.unlink(self.path(JOURNAL))
            state = "made"
            fsync_dir(self.root)
        except OSError as e:
            what = "an interrupted change could not be completed" if journal else "a torn journal could not be removed"
            raise CommitFailed(f"{what}: {_reason(self.root, e)}", state) from e
        return journal is not None

    def _audit_recovery(self, begun: Begun | None) -> None:
        """The "recovered" entry of a rolled-forward commit: who began it, which command
        completes it; an OSError (the journal stays) when the audit log cannot be written."""
        begun = begun or {}
        extra = {"commit": begun.get("commit", ""), "began": begun.get("at", "")}
        at = clock.now()
        if self.actor is not None:
            user, command, at = self.actor()
            extra["completed_by"] = f"{command} ({user})"
        audit.record(self.root, user=begun.get("user", "unknown"), command=begun.get("command", "unknown"),
                     action="recovered", at=at, **extra)

    def journal_problem(self) -> str | None:
        """Why the journal on disk would not be applied (for `medsec check`), or None."""
        raw = read_bytes(self.path(JOURNAL))
        try:
            if raw is not None:
                self._journaled(raw)
        except UnsafePath as e:
            return e.message
        return None

    def _journaled(self, raw: bytes) -> tuple[JournalFiles, Begun | None] | None:
        """The files of a journal, each one a commit may write, and who began it; None when it is torn."""
        journal = decode_journal(raw)
        if journal is not None:
            self.refuse_unsafe([rel for rel, _data in journal[0]], journal=True)
        return journal

    def refuse_unsafe(self, rels: list[str], journal: bool) -> None:
        """UnsafePath unless every file is one a commit writes (catalog layout), in a
        folder that stays inside the data directory once symbolic links are resolved."""
        real_root = os.path.realpath(self.root)
        folders_inside: set[str] = set()
        for rel in rels:
            problem = commit_path_problem(rel)
            folder = os.path.dirname(rel)
            if problem is None and folder not in folders_inside:
                if not inside(real_root, self.path(folder)):
                    problem = "a symbolic link on its way leads out of the data directory"
                folders_inside.add(folder)
            if problem is not None:
                if journal:
                    raise UnsafePath(f"the journal names {rel!r} ({problem}): it was not applied",
                                     hint=JOURNAL_HINT)
                raise UnsafePath(f"a commit would write {rel!r} ({problem}): nothing was written",
                                 hint="run 'medsec check'")

    def commit(self, txn: Staged) -> None:
        """Audit the change as begun, then make it: all of it or none.

        The commit point is the journal's rename (or, for one file, that file's).
        A failure is reported as CommitFailed, saying which side of it the data is on.
        """
        files = txn.serialized()
        if not files:
            return
        self.refuse_unsafe([rel for rel, _data in files], journal=False)
        # Encrypted before the journal: it holds each file as it will be written (medsec.atrest).
        files = [(rel, atrest.encrypt(self.root, rel, data)) for rel, data in files]
        begun = self._audit_begin()
        self.committed = False
        state = "not made"
        try:
            if len(files) == 1:
                # One file is atomic by itself; no journal needed.
                rel, data = files[0]
                write_atomic(self.path(rel), data, sync_dir=False)
                state = "made"
                fsync_dir(os.path.dirname(self.path(rel)))
            else:
                write_atomic(self.path(JOURNAL), encode_journal(files, begun), sync_dir=False)
                state = "journaled"
                fsync_dir(self.root)
                self._apply(files)
                os.unlink(self.path(JOURNAL))
                state = "made"
                fsync_dir(self.root)
        except OSError as e:
            raise CommitFailed(_reason(self.root, e), state) from e
        self.committed = True

    def _audit_begin(self) -> Begun | None:
        """Append the "begun" audit entry of a commit about to be made (None without an
        actor); CommitFailed, with nothing written, when the audit log cannot take it."""
        if self.actor is None:
            return None
        user, command, at = self.actor()
        commit_id = os.urandom(6).hex()  # not `secrets`: it loads OpenSSL (~5 ms) on every write
        try:
            audit.record(self.root, user=user, command=command, action="commit", outcome="begun", at=at,
                         commit=commit_id)
        except OSError as e:
            raise CommitFailed(f"the audit log cannot be written: {_reason(self.root, e)}", "not made",
                               hint="make audit/ writable or free space, then run the command again") from e
        self.commit_id = commit_id
        return {"commit": commit_id, "user": user, "command": command,
                "at": at.replace(microsecond=0).isoformat()}

    def _apply(self, files: list[tuple[str, bytes]]) -> None:
        """Each file replaced atomically, in the journal's order; then their folders synced."""
        write_all_atomic([(self.path(rel), data) for rel, data in files])
