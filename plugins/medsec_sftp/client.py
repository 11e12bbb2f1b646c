"""An SFTP session with a clearinghouse (asyncssh), for the `sftp` transport.

Settings (a clearinghouse's section of clearinghouses.yaml):

    host, port (22), username
    password_env      the environment variable holding the password
    key_path          a private key file (relative paths: to the data directory)
    key_passphrase_env  the environment variable holding that key's passphrase
    known_hosts       the known_hosts file the server's host key must be in (required:
                      a host key is never accepted unchecked)
    outbox            the remote folder files are put in ("." when absent)
    inbox             the remote folder answers are fetched from ("." when absent)
    timeout           seconds any one step may take (30)

Credentials come only from the environment or a key file: a password written
in the file is refused by `medsec config check`. Every failure is a
TransportError; a refused login or an unknown host key is not temporary.
"""

import asyncio
import os
import posixpath
import warnings
from typing import Any

from medsec.plugin_types import TransportError

with warnings.catch_warnings():  # cryptography's DSA deprecation, raised on import: not the user's concern
    warnings.simplefilter("ignore")
    import asyncssh

MAX_FILE = 64 * 1024 * 1024  # an answer file larger than this is refused, not read into memory


def connect(settings: dict[str, Any], data_dir: str) -> "Session":
    """Open a session with the server `settings` describe; TransportError when it cannot."""
    return Session(settings, data_dir)


def _path(value: Any, data_dir: str) -> str:
    path = os.path.expanduser(str(value))
    return path if os.path.isabs(path) else os.path.join(data_dir, path)


def _secret(settings: dict[str, Any], key: str) -> str | None:
    var = settings.get(key)
    if not var:
        return None
    value = os.environ.get(str(var))
    if not value:
        raise TransportError(f"{key}: environment variable {var} is not set", temporary=False)
    return value


class Session:
    """put, list, fetch and remove files over one SSH connection; each step within `timeout` seconds."""

    def __init__(self, settings: dict[str, Any], data_dir: str) -> None:
        self.host = str(settings.get("host") or "")
        self.port = int(settings.get("port") or 22)
        self.timeout = float(settings.get("timeout") or 30)
        self.outbox = str(settings.get("outbox") or ".")
        self.inbox_dir = str(settings.get("inbox") or ".")
        self.where = f"{self.host}:{self.port}"
        if not self.host or not settings.get("username"):
            raise TransportError("sftp needs host and username", temporary=False)
        if not settings.get("known_hosts"):
            raise TransportError("sftp needs known_hosts: the file holding the server's host key "
                                 "(ssh-keyscan, checked by hand)", temporary=False)
        known_hosts = _path(settings["known_hosts"], data_dir)
        if not os.path.isfile(known_hosts):
            raise TransportError(f"known_hosts file {known_hosts} does not exist", temporary=False)
        options: dict[str, Any] = {
            "username": str(settings["username"]), "known_hosts": known_hosts, "agent_path": None,
            "config": None, "client_keys": None, "password": _secret(settings, "password_env"),
            "connect_timeout": self.timeout, "login_timeout": self.timeout}
        if settings.get("key_path"):
            key_path = _path(settings["key_path"], data_dir)
            try:
                options["client_keys"] = [asyncssh.read_private_key(
                    key_path, _secret(settings, "key_passphrase_env"))]
            except (OSError, asyncssh.KeyImportError) as e:
                raise TransportError(f"key_path {key_path}: {e}", temporary=False) from None
        else:
            options["client_keys"] = []  # never the user's own ~/.ssh keys
        if options["password"] is None and not options["client_keys"]:
            raise TransportError("sftp needs password_env or key_path", temporary=False)
        self._loop = asyncio.new_event_loop()
        self._conn: Any = None
        try:
            self._conn = self._run(asyncssh.connect(self.host, self.port, **options), "connect")
            self._sftp = self._run(self._conn.start_sftp_client(), "start SFTP")
        except TransportError:
            self.close()
            raise

    def _run(self, step, what: str) -> Any:
        try:
            return self._loop.run_until_complete(asyncio.wait_for(step, self.timeout))
        except TimeoutError:
            raise TransportError(f"{self.where}: no answer within {self.timeout:g} s ({what})",
                                 temporary=True) from None
        except asyncssh.HostKeyNotVerifiable as e:
            raise TransportError(f"{self.where}: host key not accepted ({e.reason}); check known_hosts",
                                 temporary=False) from None
        except asyncssh.PermissionDenied:
            raise TransportError(f"{self.where}: the server refused the login", temporary=False) from None
        except asyncssh.SFTPError as e:
            raise TransportError(f"{self.where}: {what}: {e.reason}", temporary=False) from None
        except asyncssh.Error as e:
            raise TransportError(f"{self.where}: {what}: {e.reason}", temporary=True) from None
        except OSError as e:
            raise TransportError(f"{self.where}: {what}: {e.strerror or e}", temporary=True) from None

    @staticmethod
    def _name(name: str) -> str:
        if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
            raise TransportError(f"not a plain file name: {name!r}", temporary=False)
        return name

    def send(self, name: str, data: bytes) -> str:
        """Put `data` in the outbox as `name` (written under a hidden name, then renamed); where it is."""
        final = posixpath.join(self.outbox, self._name(name))
        partial = posixpath.join(self.outbox, f".{name}.part")

        async def put() -> None:
            async with self._sftp.open(partial, "wb") as f:
                await f.write(data)
            try:
                await self._sftp.posix_rename(partial, final)
            except asyncssh.SFTPOpUnsupported:
                await self._sftp.rename(partial, final)

        self._run(put(), f"put {final}")
        return final

    def inbox(self) -> list[str]:
        """The names of the plain files waiting in the inbox, sorted; hidden (partial) files left out."""
        async def names() -> list[str]:
            return sorted(e.filename for e in await self._sftp.readdir(self.inbox_dir)
                          if e.attrs.type == asyncssh.FILEXFER_TYPE_REGULAR and not e.filename.startswith("."))

        return self._run(names(), f"list {self.inbox_dir}")

    def fetch(self, name: str) -> bytes:
        path = posixpath.join(self.inbox_dir, self._name(name))

        async def read() -> bytes:
            async with self._sftp.open(path, "rb") as f:
                data = await f.read(MAX_FILE + 1)
            if len(data) > MAX_FILE:
                raise TransportError(f"{path} is larger than {MAX_FILE // 2**20} MB", temporary=False)
            return data

        return self._run(read(), f"fetch {path}")

    def remove(self, name: str) -> None:
        """Delete a fetched file from the inbox (only when the clearinghouse's delete_after_import says so)."""
        path = posixpath.join(self.inbox_dir, self._name(name))
        self._run(self._sftp.remove(path), f"remove {path}")

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            if self._conn is not None:
                self._conn.close()
                self._loop.run_until_complete(asyncio.wait_for(self._conn.wait_closed(), self.timeout))
        except (TimeoutError, asyncssh.Error, OSError):
            pass
        finally:
            self._loop.close()
