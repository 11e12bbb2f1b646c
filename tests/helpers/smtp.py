"""SMTP on loopback for the tests (aiosmtpd): servers that keep what they receive, and a refused port."""

import contextlib
import email
import email.policy
import socket
import threading

from aiosmtpd.controller import Controller


class Keeper:
    """An aiosmtpd handler that keeps every message and refuses some recipients."""

    def __init__(self, refuse=None):
        self.mails = []
        self.refuse = refuse or {}  # address -> SMTP reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def parsed(self, index=-1):
        return email.message_from_bytes(self.mails[index][2], policy=email.policy.default)


class LoopbackController(Controller):
    """aiosmtpd 1.4's start() probes (host, port) before anyone reads the
    port the OS picked for port=0, so learn it first."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@contextlib.contextmanager
def smtp_server(handler, **kwargs):
    """A running SMTP server on 127.0.0.1, stopped afterwards."""
    controller = LoopbackController(handler, hostname="127.0.0.1", port=0, **kwargs)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@contextlib.contextmanager
def closed_port():
    """A loopback port that is bound but not listening: connecting is refused
    (kept bound so no one else takes it meanwhile)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


class Inbox:
    """An SMTP handler that keeps every message it accepts."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def inbox_server():
    """(inbox, port): an SMTP server on 127.0.0.1 keeping every message in an Inbox; stopped afterwards."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
