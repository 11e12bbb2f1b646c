"""The public API for plugins: what bundled and third-party plugins may rely on.

A plugin imports ``medsec`` (``hookimpl``, ``PLUGIN_API_VERSION``),
``medsec.plugin_types`` and this module, nothing else of medsec. Every name in
``__all__`` keeps its meaning while ``medsec.PLUGIN_API_VERSION`` stays the
same; docs/plugin-api.md describes each one with an example.

- Plugin types and errors: ``hookimpl``, the registration records, the
  errors a plugin raises.
- Checks and text: ``email_valid``, ``npi_valid``, ``words``.
- Channel helpers: settings (``secret``, ``positive_number``), phone numbers
  (``to_e164``), HTTP (``http_post``, ``delivery_id``) and SMTP
  (``send_email``). They raise ``DeliveryError`` labelled with the channel's
  name, permanent or temporary as the failure is.
- Files: ``write_private_file(s)`` for what a plugin keeps (caches, an
  outbox), ``write_output`` for a file a user named.
- Reading records: ``appointments``, ``patient``, ``patients``, ``claims``,
  ``reminders``, ``calls``, ``referrals``, ``tasks``. Reads only, from one
  consistent view per call; records are dicts with the keys
  ``medsec ... show --json`` prints. They do not write to the audit log:
  ``medsec report`` records each run, and a plugin command that shows patient
  records records its reads with ``app.audit("read", ids)``, as the core's
  commands do.

Importing this module is cheap, because the default plugins load it at
start-up: the network modules (urllib.request, smtplib, ssl, email) and
hashlib are imported by the functions that need them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from medsec.context import AppContext
from medsec.errors import InvalidInput, PluginError
from medsec.fileio import fsync_dir, make_private_dirs, write_atomic
from medsec.hookspecs import hookimpl
from medsec.identifiers import email_valid, npi_valid, phone_digits, phone_valid
from medsec.outputs import write_output
from medsec.plugin_types import (
    Channel,
    ClaimFormat,
    CodingTable,
    DeliveryError,
    Exporter,
    Importer,
    Message,
    RemittanceFormat,
    Report,
    lazy,
)
from medsec.store.catalog import APPOINTMENTS, CALLS, CLAIMS, PATIENTS, REFERRALS, REMINDERS, TASKS
from medsec.store.kinds import RecordKind
from medsec.text import words

if TYPE_CHECKING:
    import smtplib
    import ssl
    import urllib.error
    import urllib.request
    from email.message import EmailMessage

__all__ = [
    # plugin types and errors
    "hookimpl", "Channel", "ClaimFormat", "CodingTable", "Exporter", "Importer", "Message",
    "RemittanceFormat", "Report", "lazy", "DeliveryError", "InvalidInput", "PluginError",
    # checks and text
    "email_valid", "npi_valid", "words",
    # channel helpers
    "secret", "positive_number", "to_e164", "http_post", "delivery_id", "send_email",
    # files
    "write_private_file", "write_private_files", "write_output",
    # reading records
    "appointments", "patient", "patients", "claims", "reminders", "calls", "referrals", "tasks",
]

Settings = Mapping[str, Any]


# -- channel settings -----------------------------------------------------------
def secret(settings: Settings, key: str, label: str) -> str | None:
    """The value of the environment variable that ``settings[key]`` names.

    None when the settings name no variable; a named but unset variable is a
    permanent DeliveryError (secrets never live in channels.yaml, and
    retrying will not set it).
    """
    var = settings.get(key)
    if not var:
        return None
    value = os.environ.get(str(var))
    if value is None:
        raise DeliveryError(f"{label}: environment variable {var} (named by {key}) is not set",
                            temporary=False)
    return value


def positive_number(settings: Settings, key: str, default: float, label: str) -> float:
    """``settings[key]`` (else ``default``) as a positive number; anything else is a permanent DeliveryError."""
    raw = settings.get(key, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1
    if value <= 0:
        raise DeliveryError(f"{label}: setting {key} must be a positive number, not {settings.get(key)!r}",
                            temporary=False)
    return value


# -- phone numbers --------------------------------------------------------------
def to_e164(value: str | None, label: str) -> str:
    """A phone number in E.164 (``+16175550101``); anything else is a permanent DeliveryError.

    Ten-digit (or 1 + ten-digit) numbers are North American; other numbers
    must be written with their country code after a "+".
    """
    raw = str(value or "").strip()
    # Only digits and the usual punctuation: "call me" or "n/a" is not a number.
    if re.fullmatch(r"\+?[\d\s().-]+", raw):
        digits = re.sub(r"\D", "", raw)
        if not raw.startswith("+") or digits.startswith("1"):
            if phone_valid(raw):
                return "+1" + phone_digits(raw)
        elif 8 <= len(digits) <= 15 and digits[0] != "0":
            return "+" + digits
    raise DeliveryError(f"{label}: {value!r} is not a phone number", temporary=False)


# -- HTTP -------------------------------------------------------------------------
def http_post(url: str | None, data: bytes, headers: Mapping[str, str], timeout: float,
              label: str) -> dict[str, Any]:
    """POST ``data`` to a gateway; the parsed JSON answer of a 2xx ({} if not a JSON object).

    Redirects are not followed (that would send the credentials elsewhere).
    Every failure is a DeliveryError: HTTP 5xx, 408 and 429, timeouts and
    unreachable gateways are temporary, other answers permanent.
    """
    import http.client
    import urllib.error
    import urllib.parse
    import urllib.request

    if urllib.parse.urlsplit(str(url or "")).scheme not in ("http", "https"):
        raise DeliveryError(f"{label}: setting url must be an http(s) URL, not {url!r}",
                            temporary=False)
    request = urllib.request.Request(str(url), data=data, headers=dict(headers), method="POST")
    try:
        with _no_redirect_opener().open(request, timeout=timeout) as response:
            body: bytes = response.read()
    except urllib.error.HTTPError as e:
        temporary = e.code >= 500 or e.code in (408, 429)
        raise DeliveryError(f"{label}: gateway answered {e.code}: {_error_text(e)}", temporary) from e
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", None) or e or type(e).__name__
        raise DeliveryError(f"{label}: gateway unreachable: {reason}", temporary=True) from e
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        answer = {}
    return answer if isinstance(answer, dict) else {}


def _no_redirect_opener() -> urllib.request.OpenerDirector:
    """An opener that refuses redirects: urllib would keep the Authorization header."""
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    return urllib.request.build_opener(NoRedirect)


def _error_text(e: urllib.error.HTTPError) -> str:
    """The gateway's own explanation, short: its JSON message or the body's start."""
    try:
        raw = e.read()[:2000].decode("utf-8", "replace")
    except Exception:  # the error body is a courtesy; never fail on reading it
        raw = ""
    finally:
        e.close()
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        for key in ("message", "error", "detail", "error_message"):
            if doc.get(key):
                return str(doc[key])[:300]
    return " ".join(raw.split())[:300] or str(e.reason)


def delivery_id(answer: Mapping[str, Any], sent: bytes, prefix: str) -> str:
    """The gateway's id for a message (its "id", "sid" or "message_id"), else a hash of what was sent.

    A 2xx without an id was still accepted: raising would make medsec send
    the message again.
    """
    import hashlib

    for key in ("id", "sid", "message_id"):
        if answer.get(key) not in (None, ""):
            return str(answer[key])
    return f"{prefix}-{hashlib.sha256(sent).hexdigest()[:16]}"


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


# -- files ------------------------------------------------------------------------
def write_private_file(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new bytes, never a torn file.

    The file is readable by this user only (0600); missing folders are
    created 0700. For what a plugin keeps (a cache, an outbox), also inside
    the data directory; a file a user named goes through ``write_output``.
    """
    write_atomic(path, data)


def write_private_files(folder: str, files: Mapping[str, bytes]) -> None:
    """Write ``{file name: data}`` into ``folder``, each file as ``write_private_file`` does.

    The folder is synced once, after the last file, which makes writing a
    few hundred files much faster. The names are plain file names.
    """
    if any(os.path.basename(name) != name or name in ("", ".", "..") for name in files):
        raise ValueError(f"write_private_files takes file names, not paths: {sorted(files)!r}")
    make_private_dirs(folder)
    for name, data in files.items():
        write_atomic(os.path.join(folder, name), data, sync_dir=False)
    fsync_dir(folder)


# -- reading records --------------------------------------------------------------
_FILE_PART = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what can name a provider's file (RecordKind.place)


def appointments(app: AppContext, start: date, end: date, provider: str | None = None) -> list[dict[str, Any]]:
    """Appointments that start on a day from ``start`` to ``end`` (both included), by start time.

    Every status is included (``status`` says booked, seen, cancelled ...);
    ``provider`` (a staff id, any case) keeps one provider's. An empty
    range gives [].
    """
    part = provider.upper() if provider else None
    if part is not None and not _FILE_PART.fullmatch(part):
        return []  # no appointment can be booked for such a provider id
    view = app.store.snapshot()
    found = [a for day in _days(start, end) for a in view.day(APPOINTMENTS, day.isoformat(), part)]
    return sorted(found, key=lambda a: (a["start"], a["provider"], APPOINTMENTS.number(a["id"])))


def patient(app: AppContext, patient_id: str) -> dict[str, Any] | None:
    """The patient ``patient_id`` (``P42``, any case) as stored, or None when there is none.

    A record merged into another has ``status`` "merged" and ``merged_into``.
    An id that is not a patient id (``"X1"``) raises InvalidInput.
    """
    return app.store.snapshot().get(PATIENTS, patient_id)


def patients(app: AppContext, patient_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The patients of ``patient_ids`` that exist, in the order given (one read per file of 100)."""
    return app.store.snapshot().get_many(PATIENTS, patient_ids)


def claims(app: AppContext, start: date | None = None, end: date | None = None,
           status: str | None = None) -> list[dict[str, Any]]:
    """Claims created from ``start`` to ``end`` (both included; None: no limit), by id.

    ``status`` (draft, ready, submitted, paid ...) keeps the claims in it.
    """
    return [c for c in _created_between(app, CLAIMS, start, end) if status is None or c["status"] == status]


def reminders(app: AppContext, start: date | None = None, end: date | None = None) -> list[dict[str, Any]]:
    """Reminders created from ``start`` to ``end`` (both included; None: no limit), by id."""
    return list(_created_between(app, REMINDERS, start, end))


def calls(app: AppContext, start: date | None = None, end: date | None = None) -> list[dict[str, Any]]:
    """Phone calls logged from ``start`` to ``end`` (both included; None: no limit), by id."""
    return list(_created_between(app, CALLS, start, end))


def referrals(app: AppContext, start: date | None = None, end: date | None = None) -> list[dict[str, Any]]:
    """Referrals created from ``start`` to ``end`` (both included; None: no limit), by id."""
    return list(_created_between(app, REFERRALS, start, end))


def tasks(app: AppContext, start: date | None = None, end: date | None = None) -> list[dict[str, Any]]:
    """Tasks created from ``start`` to ``end`` (both included; None: no limit), by id."""
    return list(_created_between(app, TASKS, start, end))


def _created_between(app: AppContext, kind: RecordKind, start: date | None,
                     end: date | None) -> Iterator[dict[str, Any]]:
    """The records of ``kind`` whose ``created`` day is in the range, in id order."""
    first = start.isoformat() if start else ""
    last = end.isoformat() if end else "9999-12-31"
    for record in app.store.snapshot().scan(kind):
        if first <= record["created"][:10] <= last:
            yield record


def _days(start: date, end: date) -> Iterator[date]:
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)
