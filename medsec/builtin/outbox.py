"""Default plugin: the outbox channel writes rendered messages to outbox/.

Letters to print, and every message of a dry run, end up here as files a
person can read. The file name is the delivery id. Voice messages are not
carried: a JSON file is not a phone call (the voice channel places them).
"""

import os
import re

import orjson

from medsec.plugin_api import OUTBOX, Channel, Message, hookimpl, write_private_file


def send(message: Message, settings: dict, data_dir: str) -> str:
    """Write the message (and each attachment) as files named by its delivery id."""
    import hashlib  # loads OpenSSL (~4 ms): only when a message is written

    folder = os.path.join(data_dir, settings.get("folder") or OUTBOX)
    body = orjson.dumps({
        "kind": message.kind, "to": message.to, "subject": message.subject,
        "body": message.body, "html": message.html, "meta": message.meta,
        "attachments": [{"name": n, "mime": m, "size": len(d)} for n, m, d in message.attachments],
    }, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(body).hexdigest()[:16]
    slug = re.sub(r"[^a-z0-9]+", "-", message.kind.lower()).strip("-") or "message"
    delivery_id = f"{slug}-{digest}"
    write_private_file(os.path.join(folder, delivery_id + ".json"), body)
    for name, _mime, data in message.attachments:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.basename(name)) or "attachment"
        write_private_file(os.path.join(folder, f"{delivery_id}-{safe}"), data)
    return delivery_id


@hookimpl
def register_channels(register):
    register(Channel("outbox", ("email", "sms", "fax", "letter"),
                     "write messages to the data directory's outbox/ (print, dry runs)", send))
