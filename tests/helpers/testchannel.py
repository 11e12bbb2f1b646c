"""A channel plugin for tests: records every message in $MEDSEC_TEST_SENT (JSON lines).

Recipients decide the outcome: containing "bounce" -> permanent failure,
"flaky" -> temporary failure; anything else is delivered.
"""

import json
import os

from medsec import hookimpl
from medsec.plugin_types import Channel, DeliveryError


def send(message, settings, data_dir):
    if "bounce" in message.to:
        raise DeliveryError(f"{message.to}: no such mailbox", temporary=False)
    if "flaky" in message.to:
        raise DeliveryError("gateway busy, try later", temporary=True)
    with open(os.environ["MEDSEC_TEST_SENT"], "a") as f:
        f.write(json.dumps({"kind": message.kind, "to": message.to, "subject": message.subject,
                            "body": message.body, "meta": message.meta,
                            "attachments": [n for n, _, _ in message.attachments]}) + "\n")
    return f"test-{message.meta.get('appointment_id') or message.meta.get('patient_id')}"


@hookimpl
def register_channels(register):
    register(Channel("testchannel", ("email", "sms", "voice", "letter", "fax"), "records messages for tests", send))
