"""Backups: a consistent snapshot taken under the lock; restores that check everything first.

A restore changes nothing until the backup has passed every check:

1. the manifest: the archive is read through once, each member's header
   checked against the limits below before its data is read (and skipped),
   and the manifest checked: its shape, the schema, every name one a data
   directory holds (never a journal, the lock, a temporary file or a cache),
   every member listed and every listed file present;
2. extraction into a hidden staging directory beside the data directory
   (`.NAME.restoring-PID`), streamed in chunks, each file checked against its
   size and its SHA-256 in the manifest;
3. an older schema upgraded, any secret written in a configuration file
   taken out of it (and named in the summary: a backup made by an older
   medsec may hold one), then the configuration and the full integrity check
   (`medsec check`) run on the staged copy;

and only then is the live directory set aside (under a name no other restore
uses) and the staged one put in its place. On any failure the staging
directory goes and the live directory is as it was. A backup that fails a
check is bad input (exit 2); a failure of the machine (a full disk) is exit 3.

A backup never carries a secret: `medsec backup` refuses (exit 3, naming the
file, line and setting) while a configuration file holds one, as every
command reading that file does.
"""

import contextlib
import gzip
import hashlib
import io
import os
import re
import shutil
import stat
import tarfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import IO, Any, BinaryIO, NamedTuple, NotRequired, Protocol, TypedDict, cast

import orjson

from medsec import __version__, atrest, clock, config, inputs
from medsec.digests import equal, hmac_sha256_hex
from medsec.errors import ConfigError, EnvironmentFailure, InvalidInput, Refused
from medsec.fileio import is_temp_name, make_private_dirs
from medsec.outputs import check_output, write_output
from medsec.store.catalog import CREDENTIALS, RECORD_DIRS
from medsec.store.layout import (
    CACHE_FOLDERS,
    REQUIRED_FILES,
    backup_path_problem,
    is_cache,
    leftover_staging,
    staging_dir,
)
from medsec.store.lock import LOCK_NAME, DirectoryLock
from medsec.store.store import Store

RECOVERY_HOLDER = "(recovery)"  # the recovery key's credential (medsec.security.vault)

MANIFEST = "MEDSEC-BACKUP.json"
FORMAT = "medsec-backup"
MB = 1024 * 1024
GB = 1024 * MB

# What a restore accepts, checked against each member's header before its
# data is read, so a gzip bomb is refused without being unpacked. Module
# constants: tests lower them.
#
# One file: the largest medsec writes is a month of a busy practice's audit
# log; an attachment is at most 50 MB (medsec.inputs).
MAX_FILE_BYTES = 4 * GB
# The whole backup unpacked: a practice of 100,000 patients and a million
# appointments is a few GB of records and indexes; scanned attachments add
# the rest. The free space beside the data directory is checked as well.
MAX_TOTAL_BYTES = 256 * GB
# Members: such a practice has some 50,000 files, plus one per attachment.
MAX_MEMBERS = 1_000_000
# The manifest, read whole: ~150 bytes a file.
MAX_MANIFEST_BYTES = 256 * MB
# One read from the unpacked stream: file data is read in chunks this big,
# and tarfile reads a header's long name or pax block whole in one read,
# so a header that claims gigabytes is refused instead of being unpacked.
CHUNK = MB

_SHA256 = re.compile(r"[0-9a-f]{64}")


class CommandContext(Protocol):
    """What backup and restore need of the command's context (medsec.context.AppContext)."""

    @property
    def data_dir(self) -> str: ...

    @property
    def store(self) -> Store: ...

    def now(self) -> datetime: ...

    def audit(self, action: str, ids: Iterable[str] = (), outcome: str = "ok") -> None: ...


class Encryption(TypedDict):
    """A backup of a practice encrypted at rest: the data key's id, the recovery key's slot, the MAC."""

    cipher: str
    key: str
    recovery: Any
    mac: str


class Manifest(TypedDict):
    """MEDSEC-BACKUP.json: what wrote the backup, and each file's SHA-256 by path."""

    format: str
    schema_version: int
    medsec: NotRequired[str]
    created: NotRequired[str]
    files: dict[str, str]
    encryption: NotRequired[Encryption]


class BackupSummary(TypedDict):
    """What `medsec backup` prints."""

    file: str
    files: int
    bytes: int
    schema_version: int
    left_out: NotRequired[list[str]]  # files in the data directory that are not medsec's


# What `medsec restore` prints ("from" is a keyword, hence this form).
RestoreSummary = TypedDict("RestoreSummary", {
    "restored": str, "files": int, "from": str, "backup_created": str | None, "previous_kept_at": str | None,
    "upgraded_from_schema": int | None, "secrets_removed": NotRequired[list[str]],
})


# -- backup ---------------------------------------------------------------------------
def _files(root: str) -> tuple[list[str], list[str]]:
    """The files a backup takes, and those it leaves out because a restore would refuse
    them (not medsec's, or not regular files). The lock, temporary files and the
    rebuildable caches stay out without a word; there is no journal (see `backup`)."""
    taken: list[str] = []
    left_out: list[str] = []
    for folder, dirs, names in os.walk(root):
        here = os.path.relpath(folder, root)
        dirs[:] = sorted(d for d in dirs if os.path.normpath(os.path.join(here, d)) not in CACHE_FOLDERS)
        for name in sorted(names):
            rel = os.path.relpath(os.path.join(folder, name), root)
            if rel == LOCK_NAME or is_temp_name(name):
                continue
            regular = stat.S_ISREG(os.lstat(os.path.join(folder, name)).st_mode)
            (taken if regular and backup_path_problem(rel) is None else left_out).append(rel)
    return taken, left_out


def backup(app: CommandContext, target: str) -> BackupSummary:
    """Write a .tar.gz of the data directory, taken while holding the lock."""
    store = app.store
    target = check_output(target, store.root)  # refused (exit 2) before the lock is taken
    schema = config.load(store.root, "medsec.yaml").get("schema_version")
    _refuse_secrets(store.root)
    vault = atrest.vault(store.root)
    if vault is not None and vault.state != atrest.ON:
        raise Refused(f"this practice's files are being moved to a new key (state: {vault.state})",
                      hint="finish it first: run 'medsec encrypt' or 'medsec rekey' again")
    hashes: dict[str, str] = {}
    left_out: list[str] = []

    def write_tar(raw: BinaryIO) -> None:
        taken, skipped = _files(store.root)
        left_out.extend(skipped)
        with tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for rel in taken:
                data = _read_own(os.path.join(store.root, rel))
                hashes[rel] = hashlib.sha256(data).hexdigest()
                _add(tar, f"data/{rel}", data)
            manifest: Manifest = {"format": FORMAT, "schema_version": schema, "medsec": __version__,
                                  "created": clock.iso(app.now()), "files": hashes}
            if vault is not None:
                manifest["encryption"] = _authenticated(manifest, vault, store)
            _add(tar, MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))

    with store.transaction():  # the lock, and a finished roll-forward first (so no journal)
        write_output(target, produce=write_tar, data_dir=store.root)
    app.audit("backup")
    summary: BackupSummary = {"file": target, "files": len(hashes), "bytes": os.path.getsize(target),
                              "schema_version": schema}
    if left_out:
        summary["left_out"] = left_out
    return summary


def _authenticated(manifest: Manifest, vault: atrest.Vault, store: Store) -> Encryption:
    """The manifest's `encryption` entry: the key its files are under, the recovery key's slot (so
    the recovery key alone restores it, the practice gone), and a MAC over the whole manifest under
    that key: a backup changed or made outside medsec is refused before anything is unpacked."""
    recovery = store.snapshot().lookup("credential-staff", RECOVERY_HOLDER)
    record = store.snapshot().get(CREDENTIALS, recovery[0]) if recovery else None
    entry: Encryption = {"cipher": atrest.CIPHER, "key": vault.write_kid,
                         "recovery": (record or {}).get("slots"), "mac": ""}
    entry["mac"] = _mac(vault.key(vault.write_kid), {**manifest, "encryption": entry})
    return entry


def _mac(key: bytes, manifest: dict[str, Any]) -> str:
    """HMAC-SHA256 of the manifest (its `encryption.mac` left empty) under a key derived from the data key."""
    entry = {**manifest["encryption"], "mac": ""}
    body = orjson.dumps({**manifest, "encryption": entry}, option=orjson.OPT_SORT_KEYS)
    return hmac_sha256_hex(bytes.fromhex(hmac_sha256_hex(key, b"medsec backup manifest")), body)


def _refuse_secrets(root: str) -> None:
    """Exit 3 while a configuration file holds a secret: a backup is copied and kept where secrets must not be."""
    found = config.literal_secrets(root)
    if found:
        raise ConfigError(f"{found[0].where}: {found[0].message}",
                          hint="a backup never carries a secret; no backup was written")


def _read_own(path: str) -> bytes:
    """A data file's bytes; not through a symbolic link, and never waiting on a FIFO put in its place."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise EnvironmentFailure(f"{path} is no longer a regular file", hint="run 'medsec check'")
        return f.read()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


# -- reading a backup -------------------------------------------------------------------
class _Damaged(InvalidInput):
    """The backup's gzip stream cannot be unpacked."""


class _Unpacked:
    """The tar stream inside a backup's gzip, for tarfile: reads of at most CHUNK
    bytes, and a failure to unpack reported as a damaged backup (exit 2)."""

    def __init__(self, gz: gzip.GzipFile, path: str):
        self._gz = gz
        self._path = path

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > CHUNK:
            raise InvalidInput(f"{self._path}: a tar header of {size} bytes, over the "
                               f"{inputs.size_text(CHUNK)} limit for a backup's headers")
        with self._damaged():
            return self._gz.read(size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        with self._damaged():
            return self._gz.seek(offset, whence)

    def tell(self) -> int:
        return self._gz.tell()

    @contextlib.contextmanager
    def _damaged(self) -> Iterator[None]:
        try:
            yield
        except (OSError, EOFError, zlib.error) as e:
            raise _Damaged(f"{self._path} is damaged: {e}") from None


@contextlib.contextmanager
def _archive(path: str) -> Iterator[tarfile.TarFile]:
    """The backup at `path` (a regular file, opened without blocking) as a tar archive."""
    with inputs.open_input(path, inputs.BACKUP) as raw, gzip.GzipFile(fileobj=raw, mode="rb") as gz, \
            _open_tar(path, _Unpacked(gz, path)) as tar:
        try:
            yield tar
        except tarfile.TarError as e:
            raise InvalidInput(f"{path} is damaged: {e}") from None


def _open_tar(path: str, stream: _Unpacked) -> tarfile.TarFile:
    """tarfile reads the first header now: an error there means this is no .tar.gz at all."""
    try:
        return tarfile.open(fileobj=cast(IO[bytes], stream), mode="r:")
    except (tarfile.TarError, _Damaged):
        raise InvalidInput(f"{path} is not a medsec backup (not a .tar.gz)") from None


def _members(path: str, tar: tarfile.TarFile) -> Iterator[tuple[str | None, tarfile.TarInfo]]:
    """Each member as (data file name, member), the manifest as (None, member).

    Its header is checked first: a kind of entry a backup never holds, a
    name a data directory does not, a size or a count over the limits is
    refused before its data is read or skipped.
    """
    seen: set[str] = set()
    total = 0
    while (member := tar.next()) is not None:
        cast(Any, tar).members.clear()  # tarfile keeps every header it read: a million would not fit
        if len(seen) >= MAX_MEMBERS:
            raise InvalidInput(f"{path} holds more than {MAX_MEMBERS} files, the limit for a backup")
        if member.name in seen:
            raise InvalidInput(f"{path}: {member.name!r} is in the archive twice")
        seen.add(member.name)
        rel = _data_name(path, member)
        total += member.size
        _check_sizes(path, member, rel, total)
        yield rel, member


def _data_name(path: str, member: tarfile.TarInfo) -> str | None:
    """The data file a member holds (None: the manifest); InvalidInput for any other entry."""
    if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE) or member.sparse is not None:
        raise InvalidInput(f"{path}: unexpected entry {member.name!r} (not a regular file)")
    if member.name == MANIFEST:
        return None
    if not member.name.startswith("data/"):
        raise InvalidInput(f"{path}: unexpected entry {member.name!r}")
    rel = member.name[len("data/"):]
    problem = backup_path_problem(rel)
    if problem is not None:
        raise InvalidInput(f"{path} holds {rel!r}: {problem}")
    return rel


def _check_sizes(path: str, member: tarfile.TarInfo, rel: str | None, total: int) -> None:
    limit = MAX_MANIFEST_BYTES if rel is None else MAX_FILE_BYTES
    if member.size > limit:
        raise InvalidInput(f"{path}: {member.name} is {inputs.size_text(member.size)}, over the "
                           f"{inputs.size_text(limit)} limit for one file of a backup")
    if total > MAX_TOTAL_BYTES:
        raise InvalidInput(f"{path} unpacks to more than {inputs.size_text(MAX_TOTAL_BYTES)}, "
                           f"the limit for a backup")


class _Contents(NamedTuple):
    """What the first pass over a backup found: its manifest, and each data file's size."""

    manifest: Manifest
    sizes: dict[str, int]


def read_manifest(path: str) -> _Contents:
    """The checked manifest of the backup at `path` and its files' sizes; InvalidInput otherwise."""
    raw: bytes | None = None
    sizes: dict[str, int] = {}
    with _archive(path) as tar:
        for rel, member in _members(path, tar):
            if rel is None:
                raw = cast(IO[bytes], tar.extractfile(member)).read()  # a regular member has a stream
            else:
                sizes[rel] = member.size
    try:
        manifest = orjson.loads(raw) if raw is not None else None
    except orjson.JSONDecodeError as e:
        raise InvalidInput(f"{path}: its manifest is not valid JSON ({e})") from None
    checked = _checked_manifest(path, manifest)
    _same_files(path, checked["files"], sizes)
    return _Contents(checked, sizes)


def _checked_manifest(path: str, manifest: Any) -> Manifest:
    """Refuse a manifest of another shape or schema, or that lists files a data directory does not hold."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidInput(f"{path} is not a medsec backup (no manifest)")
    schema = manifest.get("schema_version")
    if type(schema) is not int or not 1 <= schema <= config.SCHEMA_VERSION:
        raise InvalidInput(f"{path} has schema version {schema!r}; this medsec reads "
                           f"{config.SCHEMA_VERSION} and upgrades older ones")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise InvalidInput(f"{path}: its manifest's 'files' is not an object of names and checksums")
    for rel, sha in files.items():
        problem = backup_path_problem(rel)
        if problem is not None:
            raise InvalidInput(f"{path}: its manifest lists {rel!r}: {problem}")
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            raise InvalidInput(f"{path}: its manifest gives {rel!r} no SHA-256 checksum")
    for required in REQUIRED_FILES:
        if required not in files:
            raise InvalidInput(f"{path} holds no {required}: not a whole data directory")
    return cast(Manifest, manifest)


def _same_files(path: str, listed: dict[str, str], present: dict[str, int]) -> None:
    """Every member listed in the manifest, every listed file a member, no file also a folder."""
    unlisted = sorted(present.keys() - listed.keys())
    if unlisted:
        raise InvalidInput(f"{path}: {unlisted[0]!r} is in the archive but not in its manifest")
    absent = sorted(listed.keys() - present.keys())
    if absent:
        raise InvalidInput(f"{path}: {absent[0]!r} is in its manifest but not in the archive")
    folders = {rel.rpartition("/")[0] for rel in listed}
    both = sorted(folders & listed.keys())
    if both:
        raise InvalidInput(f"{path}: {both[0]!r} is both a file and a folder")


# -- restore ----------------------------------------------------------------------------
# What opens an encrypted backup: given its manifest's `encryption` entry, the data keys (kid -> key)
# that open it: the live practice's when it is the same key, else the recovery key's (the CLI's).
Unlock = Callable[[Encryption], dict[str, bytes]]


def restore(app: CommandContext, source: str, unlock: Unlock | None = None) -> RestoreSummary:
    """Replace the data directory with a backup once every check has passed; the old one is kept aside."""
    root = os.path.abspath(app.data_dir)
    _refuse_foreign(root)
    contents = read_manifest(source)
    keys = _opened(source, root, contents.manifest, unlock)
    _room_for(os.path.dirname(root), sum(contents.sizes.values()))
    for leftover in leftover_staging(root):  # a killed restore's copy: patient data nobody needs
        shutil.rmtree(leftover)
    manifest = contents.manifest
    schema = manifest["schema_version"]
    staging = staging_dir(root)
    try:
        _unpack(source, manifest["files"], staging)
        if keys:
            atrest.forget(staging)
            staged_vault = atrest.vault(staging)
            if staged_vault is None or staged_vault.write_kid not in keys:
                raise InvalidInput(f"{source}: its files are not under the key its manifest names")
            staged_vault.adopt(keys)
        if schema < config.SCHEMA_VERSION:
            from medsec.store.upgrade import upgrade  # yaml and the migrations (~11 ms): backup need not pay

            upgrade(staging)  # before the swap: the live directory is replaced only by a current one
        # A backup by an older medsec may hold a secret: taken out and named in the summary,
        # not refused (a restore is how a practice recovers).
        removed = config.remove_literal_secrets(staging)
        _verify_staged(source, staging)
        aside = _swap(root, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        atrest.forget()  # the live folder is another directory now
    app.audit("restore")
    summary: RestoreSummary = {
        "restored": root, "files": len(manifest["files"]), "from": os.path.abspath(source),
        "backup_created": manifest.get("created"), "previous_kept_at": aside,
        "upgraded_from_schema": schema if schema < config.SCHEMA_VERSION else None}
    if removed:
        summary["secrets_removed"] = [f"{p.where}: {p.message.split(':', 1)[0]}" for p in removed]
    return summary


def _opened(source: str, root: str, manifest: Manifest, unlock: Unlock | None) -> dict[str, bytes]:
    """The data keys of an encrypted backup, its manifest's MAC checked ({} for a plain backup);
    Refused when no key is at hand, InvalidInput when the backup was changed outside medsec."""
    entry = manifest.get("encryption")
    live = atrest.vault(root) if os.path.exists(os.path.join(root, "medsec.yaml")) else None
    if entry is None:
        if live is not None:
            raise Refused(f"{source} is not encrypted, and this practice is: restoring it would leave its "
                          "patients' data on disk in the clear",
                          hint="restore it into a new folder (medsec --data-dir DIR restore FILE), then medsec encrypt")
        return {}
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str) or not isinstance(entry.get("mac"), str):
        raise InvalidInput(f"{source}: its manifest's encryption entry is damaged")
    keys = unlock(entry) if unlock is not None else {}
    key = keys.get(entry["key"])
    if key is None:
        raise Refused(f"{source} is encrypted under key {entry['key']}, which this session does not hold",
                      hint="sign in to the practice it was made from, or give --recovery-key-file")
    if not equal(_mac(key, dict(manifest)), entry["mac"]):
        raise InvalidInput(f"{source} was changed outside medsec (its manifest does not match its MAC)",
                           hint="the data directory was not changed")
    return {entry["key"]: key}


def _refuse_foreign(root: str) -> None:
    """A folder that holds files but is not a data directory is not replaced."""
    if os.path.isdir(root) and os.listdir(root) and not os.path.exists(os.path.join(root, "medsec.yaml")):
        raise Refused(f"{root} is not a medsec data directory; not replacing it")


def _room_for(folder: str, size: int) -> None:
    """Exit 3 before unpacking when the backup cannot fit beside the data directory."""
    free = shutil.disk_usage(folder).free
    if size > free:
        raise EnvironmentFailure(f"the backup unpacks to {inputs.size_text(size)} but {folder} has "
                                 f"{inputs.size_text(free)} free", hint="free some space, then restore again")


def _unpack(path: str, files: dict[str, str], staging: str) -> None:
    """Unpack the backup into a new staging directory, each file checked against its manifest entry."""
    os.mkdir(staging, 0o700)
    for folder in RECORD_DIRS:
        make_private_dirs(os.path.join(staging, folder))
    os.close(os.open(os.path.join(staging, LOCK_NAME), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    seen: set[str] = set()
    with _archive(path) as tar:
        for rel, member in _members(path, tar):
            if rel is None:
                continue
            if rel not in files:  # the file changed since the first pass
                raise InvalidInput(f"{path}: {rel!r} is in the archive but not in its manifest")
            seen.add(rel)
            if not is_cache(rel):  # an older backup's caches: rebuilt, never trusted
                stream = cast(IO[bytes], tar.extractfile(member))  # a regular member has a stream
                _write_checked(path, stream, staging, rel, files[rel])
    if seen != files.keys():
        raise InvalidInput(f"{path} changed while it was read")


def _write_checked(path: str, stream: IO[bytes], staging: str, rel: str, sha: str) -> None:
    """Copy one member to a new private file in chunks; InvalidInput if its SHA-256 is not `sha`."""
    target = os.path.join(staging, rel)  # a checked name: relative, no '..', in a folder made here
    make_private_dirs(os.path.dirname(target))
    digest = hashlib.sha256()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(fd)
    if digest.hexdigest() != sha:
        raise InvalidInput(f"{path}: {rel} does not match its checksum")


def _verify_staged(path: str, staging: str) -> None:
    """The staged copy's configuration and the full `medsec check`; InvalidInput at the first problem."""
    from medsec.store.integrity import check  # hashlib and the index rebuild: only check and restore pay

    errors = [p for p in config.check_all(staging) if p.severity == "error"]
    if errors:
        raise InvalidInput(f"{path}: its {errors[0].where}: {errors[0].message}",
                           hint="the data directory was not changed")
    problems = check(Store(staging))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InvalidInput(f"{path} fails the integrity check: {problems[0]['problem']}: "
                           f"{problems[0]['file']}{more}", hint="the data directory was not changed")


def _swap(root: str, staging: str) -> str | None:
    """Put the staged directory in the live one's place; the live one is kept aside (its new path)."""
    if not os.path.exists(root):
        os.rename(staging, root)
        return None
    aside = _reserve_aside(root)
    try:
        with DirectoryLock(root):  # no writer is half-way through while we swap
            os.rename(root, aside)  # onto the empty folder that reserved the name
            try:
                os.rename(staging, root)
            except BaseException:
                os.rename(aside, root)
                raise
    except BaseException:
        with contextlib.suppress(OSError):
            os.rmdir(aside)  # the reservation, when the live directory never moved there
        raise
    return aside


def _reserve_aside(root: str) -> str:
    """A new empty folder `<root>.replaced-<time>[-n]`, made here: no other restore can take its name."""
    stamp = clock.now().strftime("%Y%m%dT%H%M%S")
    n = 1
    while True:
        aside = f"{root}.replaced-{stamp}" + (f"-{n}" if n > 1 else "")
        try:
            os.mkdir(aside, 0o700)
            return aside
        except FileExistsError:
            n += 1

