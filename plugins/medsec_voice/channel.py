"""Bundled plugin: the `voice` channel, through an HTTP text-to-speech gateway.

Settings (the `voice:` section of channels.yaml)::

    url: https://voice.example.org/api/calls
    token_env: MEDSEC_VOICE_TOKEN  # the variable holding the API token
    from: "+16175550100"           # the number the call comes from (caller id)
    timeout: 15                    # seconds
    voices:                        # the gateway's voice for each language (optional)
      en: en-US-female-1
      es: es-US-female-1

The message's text (the `reminder-voice` template: the date and time said
in words, the visit's instructions) becomes a script the gateway speaks:
the text, then "Once again:" and the text a second time; "press 1 to
confirm, 2 to cancel" when the message asks for an answer (meta
``confirm``). POST application/json {"to", "from", "script", "language",
"voice"} with `Authorization: Bearer <token>`; the delivery id is the
answer's "id", "sid" or "message_id". 2xx is accepted; other 4xx are
permanent; 5xx, 429, timeouts and unreachable gateways are temporary
(medsec.plugin_api.http_post).
"""

import json
import re

from medsec.plugin_api import DeliveryError, Message, delivery_id, http_post, positive_number, secret, to_e164

# What is said between the two readings, and the keys to press, by language (English otherwise).
AGAIN = {"en": "Once again:", "es": "Le repito:"}
KEYS = {"en": "Press 1 to confirm, or 2 to cancel.", "es": "Oprima 1 para confirmar, o 2 para cancelar."}
MAX_SCRIPT = 3000  # characters: a reminder read twice is far shorter; more is not a phone call


def language_of(message: Message) -> str:
    language = str(message.meta.get("language") or "en").lower()
    return language.split("-")[0].split("_")[0] or "en"


def script(message: Message) -> str:
    """What the gateway speaks: the text (one line, no markup), the keys to press if asked, said twice."""
    language = language_of(message)
    text = re.sub(r"\s+", " ", message.body or "").strip()
    # Characters a speech engine reads aloud ("less than") or chokes on are dropped; the rest is prose.
    text = re.sub(r"[<>{}\[\]|\\^`~*_#]", " ", text)
    text = re.sub(r" {2,}", " ", text).strip()
    if not text:
        raise DeliveryError("voice: the message is empty", temporary=False)
    if message.meta.get("confirm"):
        text = f"{text} {KEYS.get(language, KEYS['en'])}"
    said = f"{text} {AGAIN.get(language, AGAIN['en'])} {text}"
    if len(said) > MAX_SCRIPT:
        raise DeliveryError(f"voice: the script is {len(said)} characters, more than {MAX_SCRIPT}", temporary=False)
    return said


def _voice(settings: dict, language: str) -> str:
    voices = settings.get("voices") or {}
    if not isinstance(voices, dict):
        raise DeliveryError("voice: setting voices must map a language to a voice name", temporary=False)
    return str(voices.get(language) or voices.get("en") or "")


def request(message: Message, settings: dict) -> tuple[str, bytes, dict]:
    """(url, body, headers) of the call request."""
    to = to_e164(message.to, "voice")
    sender = settings.get("from")
    language = language_of(message)
    doc = {"to": to, "from": to_e164(sender, "voice") if sender else "", "script": script(message),
           "language": language, "voice": _voice(settings, language)}
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    token = secret(settings, "token_env", "voice")
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return settings.get("url"), json.dumps(doc, ensure_ascii=False).encode(), headers


def send(message: Message, settings: dict, data_dir: str) -> str:
    """Ask the gateway to place one call; returns its call id."""
    settings = settings or {}
    try:
        url, body, headers = request(message, settings)
        answer = http_post(url, body, headers, positive_number(settings, "timeout", 30, "voice"), "voice")
        return delivery_id(answer, body, "voice")
    except DeliveryError:
        raise
    except Exception as e:
        # The contract: no traceback from a send; a bug is not cured by retrying.
        raise DeliveryError(f"voice: {type(e).__name__}: {e}", temporary=False) from e
