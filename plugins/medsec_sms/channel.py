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
unreachable gateways are temporary (medsec.plugin_api.http_post).
"""

import base64
import json
import re
import urllib.parse

from medsec.plugin_api import DeliveryError, Message, delivery_id, http_post, positive_number, secret, to_e164

TWILIO_URL = "https://api.twilio.com/2010-04-01/Accounts/{account_sid}/Messages.json"


def _request(message: Message, settings: dict) -> tuple[str, bytes, dict]:
    """(url, body, headers) for the configured preset."""
    preset = str(settings.get("preset") or "json").lower()
    to = to_e164(message.to, "sms")
    sender = settings.get("from")
    if sender and re.fullmatch(r"[\d\s().+-]+", str(sender)):
        sender = to_e164(sender, "sms")  # a number is normalised like the recipient's
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
        answer = http_post(url, body, headers, positive_number(settings, "timeout", 30, "sms"), "sms")
        return delivery_id(answer, body, "sms")
    except DeliveryError:
        raise
    except Exception as e:
        # The contract: no traceback from a send; a bug is not cured by retrying.
        raise DeliveryError(f"sms: {type(e).__name__}: {e}", temporary=False) from e

