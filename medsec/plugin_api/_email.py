"""Sending a message by SMTP, for the email channel and email-to-fax gateways (see medsec.plugin_api)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from medsec.identifiers import email_valid
from medsec.plugin_api._channels import Settings, positive_number, secret
from medsec.plugin_types import DeliveryError, Message

if TYPE_CHECKING:
    import smtplib
    import ssl
    from email.message import EmailMessage


# -- SMTP -------------------------------------------------------------------------
_SMTP_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


def send_email(message: Message, settings: Settings, label: str) -> str:
    """Build ``message`` as MIME and hand it to the SMTP server of ``settings``; returns its Message-ID.

    ``settings`` are the email channel's (host, port, security, username,
    password_env, from, timeout, cafile). Every failure is a DeliveryError:
    refusals and configuration errors permanent, 4xx answers and network
    failures temporary.
    """
    try:
        msg = _email_message(message, settings, label)
        _deliver(msg, settings, label)
    except DeliveryError:
        raise
    except Exception as e:
        # The contract: no traceback from a send. A bug here is not cured by
        # retrying, so it is permanent and visible to the staff.
        raise DeliveryError(f"{label}: {type(e).__name__}: {e}", temporary=False) from e
    return str(msg["Message-ID"])


def _email_message(message: Message, settings: Settings, label: str) -> EmailMessage:
    """The MIME message: text body, HTML alternative, attachments."""
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid, parseaddr

    sender = settings.get("from")
    if not sender or not email_valid(parseaddr(str(sender))[1]):
        raise DeliveryError(f"{label}: setting 'from' must be an email address, not {sender!r}",
                            temporary=False)
    if not email_valid(message.to or "") or any(c in message.to for c in "\r\n,;<>"):
        raise DeliveryError(f"{label}: {message.to!r} is not an email address", temporary=False)
    msg = EmailMessage()
    msg["To"] = message.to
    msg["From"] = str(sender)
    # A line break in a header would be rejected (or worse, injected): fold it.
    msg["Subject"] = " ".join((message.subject or "").split())
    msg["Date"] = formatdate(localtime=True)
    # The sender's domain, not make_msgid's default socket.getfqdn(), which
    # can block on DNS and leaks the workstation's name.
    msg["Message-ID"] = make_msgid(domain=parseaddr(str(sender))[1].rpartition("@")[2])
    msg.set_content(message.body or "")
    if message.html:
        msg.add_alternative(message.html, subtype="html")
    for name, mime, data in message.attachments:
        _attach(msg, name, mime, data, message.meta or {})
    return msg


def _attach(msg: EmailMessage, name: str, mime: str, data: bytes, meta: Mapping[str, Any]) -> None:
    """Add one attachment; text types go as text so mail clients read them."""
    maintype, _, subtype = (mime or "application/octet-stream").lower().partition("/")
    params = {}
    if (maintype, subtype) == ("text", "calendar"):
        # Calendar clients offer accept/decline only with the iTIP method, and
        # RFC 6047 wants it to match the calendar's own METHOD property.
        found = re.search(rb"^METHOD:([A-Za-z-]+)\r?$", data, re.M)
        method = meta.get("ics_method") or (found and found.group(1).decode())
        if method:
            params["method"] = str(method).upper()
    if maintype == "text":
        try:
            msg.add_attachment(data.decode("utf-8"), subtype=subtype or "plain",
                               filename=name, params=params)
            return
        except UnicodeDecodeError:
            pass  # not UTF-8 text: send the bytes as they are
    msg.add_attachment(data, maintype=maintype or "application",
                       subtype=subtype or "octet-stream", filename=name, params=params)


class _SmtpServer:
    """Where and how to deliver, read from the settings before connecting."""

    def __init__(self, settings: Settings, label: str):
        self.security = str(settings.get("security") or "starttls").lower()
        if self.security not in _SMTP_PORTS:
            raise DeliveryError(f"{label}: security must be none, starttls or ssl, not {self.security!r}",
                                temporary=False)
        self.host = str(settings.get("host") or "localhost")
        self.port = int(positive_number(settings, "port", _SMTP_PORTS[self.security], label))
        self.timeout = positive_number(settings, "timeout", 30, label)
        self.username = settings.get("username")
        self.password = secret(settings, "password_env", label)
        if self.username and self.password is None:
            raise DeliveryError(f"{label}: username is set but password_env is not", temporary=False)
        self.where = f"{self.host}:{self.port}"
        self.context = _tls_context(settings.get("cafile"), label) if self.security != "none" else None


def _deliver(msg: EmailMessage, settings: Settings, label: str) -> None:
    """Hand the message to the SMTP server; every failure is a DeliveryError."""
    import smtplib

    server = _SmtpServer(settings, label)
    try:
        _smtp_send(msg, server)
    except (OSError, smtplib.SMTPException) as e:
        raise _smtp_failure(e, server.where, str(msg["To"]), label) from e


def _smtp_send(msg: EmailMessage, server: _SmtpServer) -> None:
    """One SMTP session: connect, secure, log in when a username is set, send."""
    import smtplib

    smtp: smtplib.SMTP
    if server.security == "ssl":
        smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout, context=server.context)
    else:
        smtp = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
    with smtp:
        if server.security == "starttls":
            smtp.starttls(context=server.context)
        if server.username:
            smtp.login(str(server.username), str(server.password))
        smtp.send_message(msg)


def _smtp_failure(e: OSError, where: str, to: str, label: str) -> DeliveryError:
    """The DeliveryError for a failed SMTP session: permanent or temporary as the server's answer says."""
    import smtplib
    import ssl

    if isinstance(e, smtplib.SMTPAuthenticationError):
        # Permanent: a wrong password does not fix itself, and retrying it
        # every run can lock the clinic's mail account.
        return DeliveryError(f"{label}: {where} refused the login: {_reply(e)}", temporary=False)
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(e.recipients.values()))
        return DeliveryError(f"{label}: {where} refused recipient {to}: {code} {_text(text)}",
                             temporary=not 500 <= code < 600)
    if isinstance(e, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"{label}: {where}: {e} (check the security and username settings)",
                             temporary=False)
    if isinstance(e, smtplib.SMTPResponseException):
        # 4xx: the server asks to try later; 5xx: it will not take this message.
        return DeliveryError(f"{label}: {where} answered {_reply(e)}", temporary=not 500 <= e.smtp_code < 600)
    if isinstance(e, ssl.SSLCertVerificationError):
        return DeliveryError(f"{label}: the certificate of {where} is not trusted: "
                             f"{e.verify_message} (set cafile for a private CA)", temporary=False)
    # Refused, timed out, disconnected, DNS failure: the network may recover.
    return DeliveryError(f"{label}: cannot reach {where}: {e or type(e).__name__}", temporary=True)


_tls_contexts: dict[str | None, ssl.SSLContext] = {}


def _tls_context(cafile: str | None, label: str) -> ssl.SSLContext:
    """A verifying TLS context, made once per CA file and process.

    Certificates are always verified: these messages carry patient
    information. Loading the system's CA store costs ~20 ms, which a batch
    of a thousand reminders would pay a thousand times.
    """
    import ssl

    key = cafile or None
    if key not in _tls_contexts:
        try:
            _tls_contexts[key] = ssl.create_default_context(cafile=key)
        except (OSError, ssl.SSLError) as e:
            raise DeliveryError(f"{label}: cannot use cafile {cafile}: {e}", temporary=False) from e
    return _tls_contexts[key]


def _text(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _reply(e: smtplib.SMTPResponseException) -> str:
    return f"{e.smtp_code} {_text(e.smtp_error)}"
