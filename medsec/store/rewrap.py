"""Moving a data directory's files under its data key: `medsec encrypt` and `medsec rekey`.

Both write meta/encryption.json first (the key new writes use, and the keys files may still be
under), then rewrite every protected file (medsec.atrest.protected) that is not yet under the
write key, each by itself and atomically, in batches under the store's lock (commands go on
between batches, and write under the write key themselves). A kill at any point leaves every
file whole, under the old key or the new one, both of which the state still names: running the
command again finds what is left and finishes it. Only then does the state drop the old key.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

from medsec import atrest
from medsec.errors import EnvironmentFailure
from medsec.fileio import is_temp_name, read_bytes, temp_owner_alive, write_all_atomic
from medsec.store.journal import JOURNAL
from medsec.store.lock import LOCK_NAME, DirectoryLock

BATCH = 256  # files rewritten per hold of the lock


def protected_files(root: str, sweep: bool = False) -> Iterator[str]:
    """Every protected file of the data directory (relative paths, sorted folder by folder).
    `sweep`: remove the temporary files of killed writers met on the way (a killed `encrypt`
    leaves some, as any killed commit does; what they held never became visible)."""
    for folder, dirs, names in os.walk(root):
        here = os.path.relpath(folder, root)
        dirs.sort()
        for name in sorted(names):
            rel = name if here == "." else f"{here}/{name}"
            if is_temp_name(name):
                if sweep and not temp_owner_alive(name):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(folder, name))
            elif rel not in (LOCK_NAME, JOURNAL) and atrest.protected(rel):
                yield rel


def rewrite_all(root: str, progress: Callable[[int], None] | None = None) -> int:
    """Rewrite every protected file not under the vault's write key; how many were rewritten."""
    vault = atrest.vault(root)
    if vault is None:
        raise EnvironmentFailure("internal: rewrite_all on a practice that is not encrypted")
    done = 0
    pending = list(protected_files(root, sweep=True))
    for start in range(0, len(pending), BATCH):
        with DirectoryLock(root):
            files = []
            for rel in pending[start:start + BATCH]:
                raw = read_bytes(os.path.join(root, rel))
                if raw is None or atrest.encrypted_kid(raw) == vault.write_kid:
                    continue  # gone since the walk, or done already (a write since, or an earlier run)
                plain = vault.decrypt(rel, raw)
                files.append((os.path.join(root, rel), vault.encrypt(rel, plain)))
            write_all_atomic(files)
        done += len(files)
        if progress is not None:
            progress(done)
    return done


def leftovers(root: str) -> list[tuple[str, str]]:
    """(file, what is wrong) for each protected file not as the state says it should be: not
    encrypted, or encrypted under a key the state does not name (for `medsec check`)."""
    vault = atrest.vault(root)
    if vault is None:
        return []
    found = []
    for rel in protected_files(root):
        try:
            with open(os.path.join(root, rel), "rb") as f:
                head = f.read(atrest.HEADER)
        except OSError:
            continue
        kid = atrest.encrypted_kid(head)
        if kid is None and vault.state != atrest.ENCRYPTING:
            found.append((rel, "not encrypted in an encrypted practice (written outside medsec)"))
        elif kid is not None and kid not in vault.kids:
            found.append((rel, "encrypted under a key this practice does not use"))
    return found
