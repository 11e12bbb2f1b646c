"""Channel helpers: settings, phone numbers, HTTP gateways (see medsec.plugin_api)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from medsec.identifiers import phone_digits, phone_valid
from medsec.plugin_types import DeliveryError

if TYPE_CHECKING:
    import urllib.error
    import urllib.request

Settings = Mapping[str, Any]

# A gateway's answer is a few hundred bytes of JSON (an id, a status); more than
# this is not read (a gateway gone wrong, or an answer that never ends).
MAX_ANSWER_BYTES = 1024 * 1024


# -- channel settings -----------------------------------------------------------
def secret(settings: Settings, key: str, label: str) -> str | None:
    """The value of the environment variable that ``settings[key]`` names.

    None when the settings name no variable; a named but unset variable is a
    permanent DeliveryError (secrets never live in channels.yaml, and
    retrying will not set it). `key` must be a ``*_env`` setting: one of
    another name would hold the secret itself, which channels.yaml refuses.
    """
    if not key.endswith("_env"):
        raise DeliveryError(f"{label}: secrets are read from environment variables named by *_env settings, "
                            f"not from setting {key}", temporary=False)
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
    unreachable gateways are temporary, other answers permanent. An answer
    is read up to MAX_ANSWER_BYTES; a longer one, or one that begins as JSON
    but is not (cut short, or nested past what a parser takes), is a
    temporary failure naming the channel, as an answer cut off in transit is.
    A 2xx answer that is not JSON at all ("queued") was still accepted.
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
            body: bytes = response.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as e:
        temporary = e.code >= 500 or e.code in (408, 429)
        raise DeliveryError(f"{label}: gateway answered {e.code}: {_error_text(e)}", temporary) from e
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", None) or e or type(e).__name__
        raise DeliveryError(f"{label}: gateway unreachable: {reason}", temporary=True) from e
    answer = _json_answer(body, label)
    return answer if isinstance(answer, dict) else {}


def _json_answer(body: bytes, label: str) -> Any:
    """A gateway's 2xx answer parsed: {} for one that is not JSON; DeliveryError (temporary) for one
    over MAX_ANSWER_BYTES or that begins as JSON and is broken."""
    if len(body) > MAX_ANSWER_BYTES:
        raise DeliveryError(f"{label}: the gateway's answer is longer than {MAX_ANSWER_BYTES // 1024} KB; "
                            "it was not read", temporary=True)
    try:
        return json.loads(body or b"{}")
    except (ValueError, RecursionError) as e:  # RecursionError: nested deeper than the parser goes
        if body.lstrip()[:1] in (b"{", b"["):
            raise DeliveryError(f"{label}: the gateway's answer is not valid JSON ({type(e).__name__})",
                                temporary=True) from None
        return {}


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
        raw = e.read(2000).decode("utf-8", "replace")
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
