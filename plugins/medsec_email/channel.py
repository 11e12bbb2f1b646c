"""Bundled plugin: the `email` channel, delivering through an SMTP server.

Settings (the `email:` section of channels.yaml)::

    host: smtp.example.org     # default localhost
    port: 587                  # default by security: none 25, starttls 587, ssl 465
    security: starttls         # none | starttls | ssl (default starttls)
    username: frontdesk        # optional; AUTH only when set
    password_env: MEDSEC_SMTP_PASSWORD   # the variable holding the password
    from: "Clinic <frontdesk@example.org>"
    timeout: 30                # seconds
    cafile: /etc/ssl/clinic-ca.pem       # optional: trust a private CA

Only the standard library is used. The fax plugin reuses `send_email` for
email-to-fax gateways.
"""

import os
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from medsec.identifiers import email_valid
from medsec.plugin_types import DeliveryError, Message

DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


def secret(settings: dict, key: str, label: str) -> str | None:
    """The value of the environment variable that settings[key] names.

    None when the settings name no variable; a named but unset variable is a
    permanent failure (secrets never live in channels.yaml, and retrying
    will not set it).
    """
    var = settings.get(key)
    if not var:
        return None
    value = os.environ.get(str(var))
    if value is None:
        raise DeliveryError(f"{label}: environment variable {var} (named by {key}) is not set",
                            temporary=False)
    return value


def number(settings: dict, key: str, default: float, label: str) -> float:
    """A positive numeric setting; a bad value is a permanent configuration error."""
    value = settings.get(key, default)
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = -1
    if value <= 0:
        raise DeliveryError(f"{label}: setting {key} must be a positive number, not {settings.get(key)!r}",
                            temporary=False)
    return value


def build(message: Message, settings: dict, label: str = "email") -> EmailMessage:
    """The MIME message: text body, HTML alternative, attachments."""
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
        attach(msg, name, mime, data, message.meta or {})
    return msg


def attach(msg: EmailMessage, name: str, mime: str, data: bytes, meta: dict) -> None:
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


def deliver(msg: EmailMessage, settings: dict, label: str = "email") -> None:
    """Hand the message to the SMTP server; every failure is a DeliveryError."""
    security = str(settings.get("security") or "starttls").lower()
    if security not in DEFAULT_PORTS:
        raise DeliveryError(f"{label}: security must be none, starttls or ssl, not {security!r}",
                            temporary=False)
    host = str(settings.get("host") or "localhost")
    port = int(number(settings, "port", DEFAULT_PORTS[security], label))
    timeout = number(settings, "timeout", 30, label)
    username = settings.get("username")
    password = secret(settings, "password_env", label)
    if username and password is None:
        raise DeliveryError(f"{label}: username is set but password_env is not", temporary=False)
    where = f"{host}:{port}"
    context = tls_context(settings.get("cafile"), label) if security != "none" else None
    try:
        if security == "ssl":
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if security == "starttls":
                smtp.starttls(context=context)
            if username:
                smtp.login(str(username), password)
            smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as e:
        # Permanent: a wrong password does not fix itself, and retrying it
        # every run can lock the clinic's mail account.
        raise DeliveryError(f"{label}: {where} refused the login: {_reply(e)}", temporary=False) from e
    except smtplib.SMTPRecipientsRefused as e:
        code, text = next(iter(e.recipients.values()))
        raise DeliveryError(f"{label}: {where} refused recipient {msg['To']}: {code} {_text(text)}",
                            temporary=not 500 <= code < 600) from e
    except smtplib.SMTPNotSupportedError as e:
        raise DeliveryError(f"{label}: {where}: {e} (check the security and username settings)",
                            temporary=False) from e
    except smtplib.SMTPResponseException as e:
        # 4xx: the server asks to try later; 5xx: it will not take this message.
        raise DeliveryError(f"{label}: {where} answered {_reply(e)}",
                            temporary=not 500 <= e.smtp_code < 600) from e
    except ssl.SSLCertVerificationError as e:
        raise DeliveryError(f"{label}: the certificate of {where} is not trusted: "
                            f"{e.verify_message} (set cafile for a private CA)", temporary=False) from e
    except (OSError, smtplib.SMTPException) as e:
        # Refused, timed out, disconnected, DNS failure: the network may recover.
        raise DeliveryError(f"{label}: cannot reach {where}: {e or type(e).__name__}",
                            temporary=True) from e


_contexts: dict[str | None, ssl.SSLContext] = {}


def tls_context(cafile: str | None, label: str) -> ssl.SSLContext:
    """A verifying TLS context, made once per CA file and process.

    Certificates are always verified: these messages carry patient
    information. Loading the system's CA store costs ~20 ms, which a batch
    of a thousand reminders would pay a thousand times.
    """
    key = cafile or None
    if key not in _contexts:
        try:
            _contexts[key] = ssl.create_default_context(cafile=key)
        except (OSError, ssl.SSLError) as e:
            raise DeliveryError(f"{label}: cannot use cafile {cafile}: {e}", temporary=False) from e
    return _contexts[key]


def _text(text) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _reply(e: smtplib.SMTPResponseException) -> str:
    return f"{e.smtp_code} {_text(e.smtp_error)}"


def send_email(message: Message, settings: dict, label: str = "email") -> str:
    """Build and deliver `message`; returns its Message-ID."""
    try:
        msg = build(message, settings, label)
        deliver(msg, settings, label)
    except DeliveryError:
        raise
    except Exception as e:
        # The contract: no traceback from a send. A bug here is not cured by
        # retrying, so it is permanent and visible to the staff.
        raise DeliveryError(f"{label}: {type(e).__name__}: {e}", temporary=False) from e
    return msg["Message-ID"]


def send(message: Message, settings: dict, data_dir: str) -> str:
    """The channel's send: data_dir is not needed (nothing is kept locally)."""
    return send_email(message, settings or {}, "email")

