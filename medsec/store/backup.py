"""Backups: a consistent snapshot taken under the lock; restores that check first."""

import hashlib
import io
import os
import shutil
import tarfile
import time
from collections.abc import Iterable
from datetime import datetime
from typing import IO, Any, BinaryIO, NotRequired, Protocol, TypedDict, cast

import orjson

from medsec import __version__, clock, config
from medsec.errors import InvalidInput, Refused
from medsec.fileio import is_temp_name, make_private_dirs
from medsec.outputs import check_output, write_output
from medsec.store.catalog import RECORD_DIRS
from medsec.store.lock import LOCK_NAME, DirectoryLock
from medsec.store.store import JOURNAL, Store

MANIFEST = "MEDSEC-BACKUP.json"
FORMAT = "medsec-backup"
# Caches their readers rebuild on demand, left out of backups: coding tables' built
# indexes (the ICD-10-CM index is ~18 MB) and the parsed configuration files. The
# record indexes stay: `medsec check` verifies them against the records restored.
CACHES = (os.path.join("index", "codes"), os.path.join("index", "config"))


class CommandContext(Protocol):
    """What backup and restore need of the command's context (medsec.context.AppContext)."""

    @property
    def data_dir(self) -> str: ...

    @property
    def store(self) -> Store: ...

    def now(self) -> datetime: ...

    def audit(self, action: str, ids: Iterable[str] = (), outcome: str = "ok") -> None: ...


class Manifest(TypedDict):
    """MEDSEC-BACKUP.json: what wrote the backup, and each file's SHA-256 by path."""

    format: str
    schema_version: int
    medsec: NotRequired[str]
    created: NotRequired[str]
    files: NotRequired[dict[str, str]]


class BackupSummary(TypedDict):
    """What `medsec backup` prints."""

    file: str
    files: int
    bytes: int
    schema_version: int


# What `medsec restore` prints ("from" is a keyword, hence this form).
RestoreSummary = TypedDict("RestoreSummary", {
    "restored": str, "files": int, "from": str, "backup_created": str | None, "previous_kept_at": str | None,
    "upgraded_from_schema": int | None,
})


def _files(root: str) -> list[str]:
    out = []
    for folder, dirs, names in os.walk(root):
        here = os.path.relpath(folder, root)
        dirs[:] = sorted(d for d in dirs if os.path.normpath(os.path.join(here, d)) not in CACHES)
        for name in sorted(names):
            rel = os.path.relpath(os.path.join(folder, name), root)
            if rel in (LOCK_NAME, JOURNAL) or is_temp_name(name):
                continue
            out.append(rel)
    return out


def backup(app: CommandContext, target: str) -> BackupSummary:
    """Write a .tar.gz of the data directory, taken while holding the lock."""
    store = app.store
    target = check_output(target, store.root)  # refused (exit 2) before the lock is taken
    schema = config.load(store.root, "medsec.yaml").get("schema_version")
    hashes: dict[str, str] = {}

    def write_tar(raw: BinaryIO) -> None:
        with tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for rel in _files(store.root):
                with open(os.path.join(store.root, rel), "rb") as f:
                    data = f.read()
                hashes[rel] = hashlib.sha256(data).hexdigest()
                _add(tar, f"data/{rel}", data)
            manifest: Manifest = {"format": FORMAT, "schema_version": schema, "medsec": __version__,
                        "created": clock.iso(app.now()), "files": hashes}
            _add(tar, MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))

    with store.transaction():  # the lock, and a finished roll-forward first
        write_output(target, produce=write_tar, data_dir=store.root)
    app.audit("backup")
    return {"file": target, "files": len(hashes), "bytes": os.path.getsize(target),
            "schema_version": schema}


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


def read_backup(path: str) -> tuple[Manifest, dict[str, bytes]]:
    """The manifest and files of a backup, every file checked against its hash."""
    with _open_backup(path) as tar:
        manifest, files = _read_members(path, tar)
    return _checked_manifest(path, manifest, files), files


def _open_backup(path: str) -> tarfile.TarFile:
    try:
        return tarfile.open(path, mode="r:gz")
    except (FileNotFoundError, IsADirectoryError):
        raise InvalidInput(f"cannot read {path!r}") from None
    except (tarfile.TarError, OSError, EOFError):
        raise InvalidInput(f"{path} is not a medsec backup (not a .tar.gz)") from None


def _read_members(path: str, tar: tarfile.TarFile) -> tuple[Any, dict[str, bytes]]:
    """The parsed manifest (None when there is none) and the data files, by path."""
    manifest = None
    files: dict[str, bytes] = {}
    try:
        for member in tar:
            if not member.isfile():
                raise InvalidInput(f"{path}: unexpected entry {member.name!r}")
            data = cast(IO[bytes], tar.extractfile(member)).read()  # a file member always has a stream
            if member.name == MANIFEST:
                manifest = orjson.loads(data)
            elif member.name.startswith("data/"):
                files[member.name[5:]] = data
            else:
                raise InvalidInput(f"{path}: unexpected entry {member.name!r}")
    except (tarfile.TarError, OSError, EOFError, orjson.JSONDecodeError) as e:
        raise InvalidInput(f"{path} is damaged: {e}") from None
    return manifest, files


def _checked_manifest(path: str, manifest: Any, files: dict[str, bytes]) -> Manifest:
    """Refuse a backup without a manifest, of another schema, or whose files do not match it."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidInput(f"{path} is not a medsec backup (no manifest)")
    schema = manifest.get("schema_version")
    if not isinstance(schema, int) or not 1 <= schema <= config.SCHEMA_VERSION:
        raise InvalidInput(f"{path} has schema version {schema!r}; this medsec reads "
                           f"{config.SCHEMA_VERSION} and upgrades older ones")
    for rel, sha in manifest.get("files", {}).items():
        parts = rel.split("/")
        if rel.startswith("/") or ".." in parts or rel not in files:
            raise InvalidInput(f"{path}: bad or missing entry {rel!r}")
        if hashlib.sha256(files[rel]).hexdigest() != sha:
            raise InvalidInput(f"{path}: {rel} does not match its checksum")
    if set(files) != set(manifest.get("files", {})):
        raise InvalidInput(f"{path}: entries not listed in the manifest")
    return cast(Manifest, manifest)


def restore(app: CommandContext, source: str) -> RestoreSummary:
    """Replace the data directory with a backup; the old one is kept aside."""
    manifest, files = read_backup(source)
    root = os.path.abspath(app.data_dir)
    parent = os.path.dirname(root)
    staging = os.path.join(parent, f".{os.path.basename(root)}.restoring-{os.getpid()}")
    if os.path.exists(staging):
        shutil.rmtree(staging)
    for rel in RECORD_DIRS:
        make_private_dirs(os.path.join(staging, rel))
    open(os.path.join(staging, LOCK_NAME), "ab").close()
    for rel, data in files.items():
        path = os.path.join(staging, rel)
        make_private_dirs(os.path.dirname(path))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            os.fsync(f.fileno())
    if manifest["schema_version"] < config.SCHEMA_VERSION:
        from medsec.store.upgrade import upgrade  # yaml and the migrations (~11 ms): backup need not pay for them

        upgrade(staging)  # before the swap: the live directory is replaced only by a current one
    aside = None
    if os.path.exists(root):
        if os.listdir(root) and not os.path.exists(os.path.join(root, "medsec.yaml")):
            shutil.rmtree(staging)
            raise Refused(f"{root} is not a medsec data directory; not replacing it")
        stamp = clock.now().strftime("%Y%m%dT%H%M%S")
        aside = f"{root}.replaced-{stamp}"
        with DirectoryLock(root):  # no writer is half-way through while we swap
            os.rename(root, aside)
            os.rename(staging, root)
    else:
        os.rename(staging, root)
    app.audit("restore")
    return {"restored": root, "files": len(files), "from": os.path.abspath(source),
            "backup_created": manifest.get("created"), "previous_kept_at": aside,
            "upgraded_from_schema": manifest["schema_version"] if manifest["schema_version"] < config.SCHEMA_VERSION
            else None}
