"""A real SFTP server on loopback for the clearinghouse tests (asyncssh's own server).

`SftpServer(root)` serves the folder `root` as the whole file system (chroot-like:
"/" is root) to one user, by password and by key, with a host key generated
for the run. `known_hosts()` is the line a practice's known_hosts file needs;
`settings()` a clearinghouses.yaml entry pointing at the server. The server
runs on its own event loop in a thread, so a test's medsec commands (in
process, synchronous) talk to it as to any server. Also: `silent_port()`, a
port that accepts connections and never answers (timeouts), and
`closed_port()`, one nobody listens on.
"""

import asyncio
import contextlib
import socket
import threading
import warnings
from pathlib import Path

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import asyncssh

USER, PASSWORD = "medsec", "loopback-pass-1"
PASSWORD_ENV = "MEDSEC_TEST_SFTP_PASSWORD"


class _Auth(asyncssh.SSHServer):
    def __init__(self, server: "SftpServer") -> None:
        self.server = server

    def begin_auth(self, username: str) -> bool:
        return True  # every user must authenticate

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        self.server.logins.append((username, "password"))
        return username == self.server.user and password == self.server.password


class SftpServer:
    """An SFTP server on 127.0.0.1 serving `root`; `inbound`/`outbound` folders made in it."""

    def __init__(self, root: Path, user: str = USER, password: str = PASSWORD) -> None:
        self.root, self.user, self.password = Path(root), user, password
        self.root.mkdir(parents=True, exist_ok=True)
        for folder in ("inbound", "outbound"):
            (self.root / folder).mkdir(exist_ok=True)
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.logins: list[tuple[str, str]] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncssh.SSHAcceptor | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def outbox(self) -> Path:
        """Where medsec puts files (the clearinghouse's `/inbound`)."""
        return self.root / "inbound"

    @property
    def inbox(self) -> Path:
        """Where the clearinghouse leaves answers (`/outbound`)."""
        return self.root / "outbound"

    def start(self) -> "SftpServer":
        self._thread.start()
        authorized = asyncssh.import_authorized_keys(self.client_key.export_public_key().decode())

        async def listen() -> asyncssh.SSHAcceptor:
            return await asyncssh.create_server(
                lambda: _Auth(self), "127.0.0.1", 0, server_host_keys=[self.host_key],
                authorized_client_keys=authorized, allow_scp=False,
                sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(self.root).encode()))

        self._server = asyncio.run_coroutine_threadsafe(listen(), self._loop).result(30)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            async def close() -> None:
                assert self._server is not None
                self._server.close()
                await self._server.wait_closed()

            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def known_hosts(self, port: int | None = None, key: "asyncssh.SSHKey | None" = None) -> str:
        """The known_hosts line for this server (or `key` claimed for it: a mismatch)."""
        public = (key or self.host_key).export_public_key().decode().strip()
        return f"[127.0.0.1]:{port or self.port} {public}\n"

    def write_client_key(self, path: Path) -> Path:
        path.write_bytes(self.client_key.export_private_key())
        path.chmod(0o600)
        return path

    def settings(self, home: Path, **changes) -> dict:
        """A clearinghouses.yaml entry for this server; known_hosts written into `home`."""
        known = home / "known_hosts"
        known.write_text(self.known_hosts())
        entry = {"id": "LOOPBACK", "transport": "sftp", "host": "127.0.0.1", "port": self.port,
                 "username": self.user, "password_env": PASSWORD_ENV, "known_hosts": str(known),
                 "outbox": "/inbound", "inbox": "/outbound", "timeout": 10}
        entry.update(changes)
        return {k: v for k, v in entry.items() if v is not None}


@contextlib.contextmanager
def silent_port():
    """A port on loopback that takes connections (the kernel's backlog) and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def closed_port() -> int:
    """A loopback port nobody listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
