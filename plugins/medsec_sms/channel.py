"""Bundled plugin: the `sms` channel, through an HTTP SMS gateway.

Settings (the `sms:` section of channels.yaml)::

    preset: json               # json (default) | twilio
    url: https://sms.example.org/api/messages
    token_env: MEDSEC_SMS_TOKEN    # the variable holding the API token
    from: "+16175550100"       # sender number or the gateway's sender id
    timeout: 15                # seconds
    account_sid: AC123...      # twilio only; url defaults to Twilio's Messages API

json: POST application/json {"to", "from", "body"} with `Authorization:
Bearer <token>`; the delivery id is the answer's "id", "sid" or "message_id".
twilio: POST form-encoded To/From/Body with HTTP basic auth (account_sid,
token). 2xx is delivered; other 4xx are permanent; 5xx, 429, timeouts and
unreachable gateways are temporary. The fax plugin reuses `post` and `e164`.
"""

import base64
import hashlib
import http.client
import json
import re
import urllib.error
import urllib.parse
import urllib.request

from medsec.identifiers import phone_digits, phone_valid
from medsec.plugin_types import DeliveryError, Message

# The settings helpers are shared with the email plugin (both are bundled).
from medsec_email.channel import number, secret

TWILIO_URL = "https://api.twilio.com/2010-04-01/Accounts/{account_sid}/Messages.json"


def e164(value: str, label: str = "sms") -> str:
    """A phone number in E.164 (+16175550101); anything else is a permanent failure.

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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: following one would send the token and the message
    to another address (urllib keeps the Authorization header)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def post(url: str, data: bytes, headers: dict, timeout: float, label: str) -> dict:
    """POST to the gateway; the parsed JSON answer of a 2xx ({} if not JSON).

    Every failure becomes a DeliveryError: HTTP 5xx and 429, timeouts and
    unreachable gateways are temporary, other answers permanent.
    """
    if urllib.parse.urlsplit(str(url or "")).scheme not in ("http", "https"):
        raise DeliveryError(f"{label}: setting url must be an http(s) URL, not {url!r}",
                            temporary=False)
    request = urllib.request.Request(str(url), data=data, headers=headers, method="POST")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read()
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


def delivery_id(answer: dict, sent: bytes, prefix: str) -> str:
    """The gateway's id for the message, else a hash of what was sent.

    A 2xx without an id was still accepted: raising would make medsec send
    the text again.
    """
    for key in ("id", "sid", "message_id"):
        if answer.get(key) not in (None, ""):
            return str(answer[key])
    return f"{prefix}-{hashlib.sha256(sent).hexdigest()[:16]}"


def _request(message: Message, settings: dict) -> tuple[str, bytes, dict]:
    """(url, body, headers) for the configured preset."""
    preset = str(settings.get("preset") or "json").lower()
    to = e164(message.to)
    sender = settings.get("from")
    if sender and re.fullmatch(r"[\d\s().+-]+", str(sender)):
        sender = e164(sender)  # a number is normalised like the recipient's
    if preset == "json":
        token = secret(settings, "token_env", "sms")
        doc = {"to": to, "body": message.body or ""}
        if sender:
            doc["from"] = str(sender)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return settings.get("url"), json.dumps(doc).encode(), headers
    if preset == "twilio":
        sid = settings.get("account_sid")
        token = secret(settings, "token_env", "sms")
        if not sid or token is None:
            raise DeliveryError("sms: the twilio preset needs account_sid and token_env", temporary=False)
        form = {"To": to, "Body": message.body or ""}
        if sender:
            form["From"] = str(sender)
        basic = base64.b64encode(f"{sid}:{token}".encode()).decode()
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Accept": "application/json", "Authorization": f"Basic {basic}"}
        url = settings.get("url") or TWILIO_URL.format(account_sid=urllib.parse.quote(str(sid)))
        return url, urllib.parse.urlencode(form).encode(), headers
    raise DeliveryError(f"sms: preset must be json or twilio, not {preset!r}", temporary=False)


def send(message: Message, settings: dict, data_dir: str) -> str:
    """Send one text message; returns the gateway's message id."""
    settings = settings or {}
    try:
        if not (message.body or "").strip():
            raise DeliveryError("sms: the message is empty", temporary=False)
        url, body, headers = _request(message, settings)
        answer = post(url, body, headers, number(settings, "timeout", 30, "sms"), "sms")
        return delivery_id(answer, body, "sms")
    except DeliveryError:
        raise
    except Exception as e:
        # The contract: no traceback from a send; a bug is not cured by retrying.
        raise DeliveryError(f"sms: {type(e).__name__}: {e}", temporary=False) from e

