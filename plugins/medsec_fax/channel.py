"""Bundled plugin: the `fax` channel, through an HTTP fax API, an
email-to-fax service or a local command (HylaFAX's sendfax, for instance).

The message's attachments are the PDF/TIFF files to fax, in order (medsec
builds the cover sheet as the first one); the message body is not sent.
Settings (the `fax:` section of channels.yaml)::

    gateway: http | email | command

    # http: POST JSON {"to", "from", "files": [{"name", "mime", "data" (base64)}]}
    url: https://fax.example.org/api/faxes
    token_env: MEDSEC_FAX_TOKEN    # sent as "Authorization: Bearer <token>"
    from: "+16175550100"
    timeout: 60
    status_url: https://fax.example.org/api/faxes   # GET <status_url>/<id>; default: url
    retries: 3                     # tries in all when the line is busy or does not answer (medsec fax status)

    # email: mail the files to <number digits>@<domain>
    domain: fax.example.org
    smtp: {host, port, security, username, password_env, from, timeout}  # as the email channel

    # command: run once per file; "{files}" as a whole argument runs it once with all files
    command: ["sendfax", "-n", "-d", "{number}", "{file}"]
    timeout: 120

Numbers are normalised to E.164: "+16175550101" in the http request, the
digits "16175550101" for email and {number}.
"""

import base64
import hashlib
import json
import os
import re
import shlex
import subprocess
import tempfile

from medsec.plugin_api import (
    DeliveryError,
    Message,
    delivery_id,
    http_post,
    positive_number,
    secret,
    send_email,
    to_e164,
)


def via_http(message: Message, to: str, settings: dict) -> str:
    """POST the files as JSON to the fax API; same status rules as sms."""
    token = secret(settings, "token_env", "fax")
    doc = {"to": to, "from": settings.get("from"), "files": [
        {"name": name, "mime": mime, "data": base64.b64encode(data).decode("ascii")}
        for name, mime, data in message.attachments]}
    body = json.dumps(doc).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    timeout = positive_number(settings, "timeout", 60, "fax")
    answer = http_post(settings.get("url"), body, headers, timeout, "fax")
    return delivery_id(answer, body, "fax")


def via_email(message: Message, to: str, settings: dict) -> str:
    """Mail the files to <digits>@<domain> through the SMTP server of the smtp: settings."""
    domain = str(settings.get("domain") or "")
    if not re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", domain):
        raise DeliveryError(f"fax: setting domain must be a mail domain, not {domain!r}", temporary=False)
    if not isinstance(settings.get("smtp"), dict):
        raise DeliveryError("fax: the email gateway needs an smtp: section (as the email channel's)",
                            temporary=False)
    # No body text: email-to-fax services may render it as an extra page,
    # and the cover sheet is already the first attachment.
    mail = Message(kind="email", to=f"{to.lstrip('+')}@{domain}", subject=message.subject,
                   body="", attachments=list(message.attachments))
    return send_email(mail, settings["smtp"], "fax")


def via_command(message: Message, to: str, settings: dict) -> str:
    """Write the files to a private temporary folder and run the command on them."""
    argv = settings.get("command")
    if isinstance(argv, str):
        argv = shlex.split(argv)
    if (not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv)
            or not any("{file}" in a or a == "{files}" for a in argv)):
        raise DeliveryError("fax: setting command must be a list of strings using {file} or {files}",
                            temporary=False)
    timeout = positive_number(settings, "timeout", 120, "fax")
    digits = to.lstrip("+")
    # TemporaryDirectory is created 0700 and removed afterwards: the pages
    # carry patient information.
    with tempfile.TemporaryDirectory(prefix="medsec-fax-") as folder:
        paths = [_write(folder, i, name, data)
                 for i, (name, _mime, data) in enumerate(message.attachments, 1)]
        batches = [paths] if "{files}" in argv else [[p] for p in paths]
        ids: list[str] = []
        for batch in batches:
            args = []
            for arg in argv:
                if arg == "{files}":
                    args.extend(batch)
                else:
                    args.append(arg.replace("{number}", digits).replace("{file}", batch[0]))
            ids.append(_run(args, timeout, digits, batch, sent=len(ids)))
    return ",".join(ids)


def _write(folder: str, index: int, name: str, data: bytes) -> str:
    """One attachment as a private file; its name is sanitised (no user paths)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.basename(name or "")).lstrip(".") or "page"
    path = os.path.join(folder, f"{index:02d}-{safe}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def _run(args: list[str], timeout: float, digits: str, files: list[str], sent: int) -> str:
    """Run the fax command once; its first output line, else a hash of the fax, is the id."""
    already = f" ({sent} earlier job(s) already sent)" if sent else ""
    try:
        proc = subprocess.run(args, capture_output=True, text=True, errors="replace",
                              stdin=subprocess.DEVNULL, timeout=timeout)
    except (FileNotFoundError, PermissionError) as e:
        raise DeliveryError(f"fax: cannot run {args[0]}: {e.strerror}", temporary=False) from e
    except subprocess.TimeoutExpired as e:
        raise DeliveryError(f"fax: {args[0]} did not finish within {timeout:g} s{already}",
                            temporary=True) from e
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        why = lines[-1].strip() if lines else f"exit status {proc.returncode}"
        raise DeliveryError(f"fax: {args[0]} failed: {why}{already}", temporary=True)
    first = proc.stdout.strip().splitlines()
    if first and first[0].strip():
        return first[0].strip()
    digest = hashlib.sha256(digits.encode())
    for path in files:
        with open(path, "rb") as f:
            digest.update(f.read())
    return f"fax-{digest.hexdigest()[:16]}"


GATEWAYS = {"http": via_http, "email": via_email, "command": via_command}

# The words fax gateways use for a fax's fate, as medsec's delivered|sent|busy|no-answer|failed.
STATUS_WORDS = {
    "delivered": "delivered", "success": "delivered", "succeeded": "delivered", "completed": "delivered",
    "complete": "delivered", "done": "delivered", "ok": "delivered",
    "sent": "sent", "queued": "sent", "pending": "sent", "sending": "sent", "in-progress": "sent",
    "processing": "sent", "dialing": "sent", "accepted": "sent",
    "busy": "busy", "line-busy": "busy",
    "no-answer": "no-answer", "noanswer": "no-answer", "no-response": "no-answer", "unanswered": "no-answer",
    "failed": "failed", "failure": "failed", "error": "failed", "undeliverable": "failed", "cancelled": "failed",
    "canceled": "failed", "rejected": "failed",
}


def status_word(word) -> str:
    """A gateway's word for a fax's fate as medsec's; DeliveryError (permanent) for one it does not know."""
    key = re.sub(r"[\s_]+", "-", str(word or "").strip().lower())
    if key not in STATUS_WORDS:
        raise DeliveryError(f"fax: the gateway's status {str(word)[:60]!r} is not one medsec knows",
                            temporary=False)
    return STATUS_WORDS[key]


def status(delivery: str, settings: dict, data_dir: str) -> str:
    """How the fax `delivery` fared: the http gateway answers GET {status_url or url}/{id} with
    JSON {"status": WORD}; the email and command gateways cannot say (DeliveryError)."""
    import http.client
    import urllib.error
    import urllib.parse
    import urllib.request

    settings = settings or {}
    if settings.get("gateway") != "http":
        raise DeliveryError(f"fax: the {settings.get('gateway')} gateway reports no delivery status",
                            temporary=False)
    base = str(settings.get("status_url") or settings.get("url") or "")
    if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
        raise DeliveryError(f"fax: setting status_url must be an http(s) URL, not {base!r}", temporary=False)
    url = base.rstrip("/") + "/" + urllib.parse.quote(str(delivery), safe="")
    headers = {"Accept": "application/json"}
    token = secret(settings, "token_env", "fax")
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    timeout = positive_number(settings, "timeout", 60, "fax")

    class NoRedirect(urllib.request.HTTPRedirectHandler):  # a redirect would carry the token elsewhere
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=timeout) as response:
            body = response.read(64 * 1024 + 1)
    except urllib.error.HTTPError as e:
        raise DeliveryError(f"fax: gateway answered {e.code} for fax {delivery}",
                            temporary=e.code >= 500 or e.code in (408, 429)) from e
    except (OSError, http.client.HTTPException) as e:
        raise DeliveryError(f"fax: gateway unreachable: {getattr(e, 'reason', None) or e}", temporary=True) from e
    try:
        doc = json.loads(body) if len(body) <= 64 * 1024 else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or "status" not in doc:
        raise DeliveryError('fax: the gateway\'s status answer is not JSON {"status": ...}', temporary=True)
    return status_word(doc["status"])


def send(message: Message, settings: dict, data_dir: str) -> str:
    """Fax the message's attachments to message.to; returns a delivery id."""
    settings = settings or {}
    try:
        gateway = GATEWAYS.get(str(settings.get("gateway") or ""))
        if gateway is None:
            raise DeliveryError(f"fax: setting gateway must be http, email or command, "
                                f"not {settings.get('gateway')!r}", temporary=False)
        if not message.attachments:
            raise DeliveryError("fax: nothing to send (the message has no attachments)", temporary=False)
        return gateway(message, to_e164(message.to, "fax"), settings)
    except DeliveryError:
        raise
    except Exception as e:
        # The contract: no traceback from a send; a bug is not cured by retrying.
        raise DeliveryError(f"fax: {type(e).__name__}: {e}", temporary=False) from e

