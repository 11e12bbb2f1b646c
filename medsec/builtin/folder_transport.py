"""Default plugin: the `folder` transport, files exchanged through folders (a lab's or a
clearinghouse's interface engine watching a shared folder).

Settings (a lab's `interface` in labs.yaml, or a clearinghouse's section): `folder`, where files
are put (written atomically: a temporary name in the same folder, then renamed, so a watcher
never sees half a file), and `inbox`, where answers are fetched from (default: `folder`/inbox).
A relative path is under the data directory's parent folder (never inside the data directory:
files are written as they are, not encrypted at rest, for the other side to read them).
"""

import os
from typing import Any

from medsec.plugin_api import hookimpl, write_output
from medsec.plugin_types import Transport, TransportError


def _path(value: Any, data_dir: str) -> str:
    path = os.path.expanduser(str(value))
    return path if os.path.isabs(path) else os.path.join(os.path.dirname(os.path.abspath(data_dir)), path)


class Session:
    """put, list, fetch and remove files in local folders."""

    def __init__(self, settings: dict[str, Any], data_dir: str) -> None:
        if not settings.get("folder"):
            raise TransportError("the folder transport needs folder: where files are put", temporary=False)
        self.data_dir = data_dir
        self.folder = _path(settings["folder"], data_dir)
        self.inbox_dir = _path(settings.get("inbox") or os.path.join(self.folder, "inbox"), data_dir)
        if not os.path.isdir(self.folder):
            raise TransportError(f"folder {self.folder} does not exist", temporary=True)

    @staticmethod
    def _name(name: str) -> str:
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
            raise TransportError(f"{name!r} is not a file name", temporary=False)
        return name

    def send(self, name: str, data: bytes) -> str:
        from medsec.errors import MedsecError

        path = os.path.join(self.folder, self._name(name))
        try:
            return write_output(path, data, data_dir=self.data_dir)  # atomic: a temporary name, then renamed
        except OSError as e:
            raise TransportError(f"cannot write {path}: {e.strerror or e}", temporary=True) from None
        except MedsecError as e:  # inside the data directory, or no file name
            raise TransportError(e.message, temporary=False) from None

    def inbox(self) -> list[str]:
        try:
            names = os.listdir(self.inbox_dir)
        except FileNotFoundError:
            return []
        except OSError as e:
            raise TransportError(f"cannot list {self.inbox_dir}: {e.strerror or e}", temporary=True) from None
        return sorted(n for n in names if not n.startswith(".") and ".tmp-" not in n  # one being written
                      and os.path.isfile(os.path.join(self.inbox_dir, n)))

    def fetch(self, name: str) -> bytes:
        path = os.path.join(self.inbox_dir, self._name(name))
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as e:
            raise TransportError(f"cannot read {path}: {e.strerror or e}", temporary=False) from None

    def remove(self, name: str) -> None:
        try:
            os.remove(os.path.join(self.inbox_dir, self._name(name)))
        except OSError as e:
            raise TransportError(f"cannot remove {name}: {e.strerror or e}", temporary=False) from None

    def close(self) -> None:
        pass


def connect(settings: dict[str, Any], data_dir: str) -> Session:
    return Session(settings, data_dir)


@hookimpl
def register_transports(register):
    register(Transport("folder", "put files into a folder and fetch answers from one (an interface engine's)",
                       connect))
