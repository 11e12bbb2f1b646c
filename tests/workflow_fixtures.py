"""An office for the workflow tests: the scheduling practice plus a front desk and a biller,
every message kind routed to the recording test channel."""

import json

from sched_fixtures import setup_practice

CHANNELS = ("testchannel: {}\n"
            "routes: {email: testchannel, sms: testchannel, letter: testchannel, fax: testchannel}\n")


def setup_office(medsec, tmp_path, channels: str = CHANNELS):
    """S1 Dr A and S2 Dr B (physicians), S3 nurse, S4 front desk (fran@example.org), S5 biller; P1..P4.

    `medsec.sent()` lists the messages the test channel took, oldest first.
    """
    sent = tmp_path / "sent.jsonl"
    medsec.env.update({"MEDSEC_PLUGINS": "helpers.testchannel", "MEDSEC_TEST_SENT": str(sent)})
    setup_practice(medsec, patients=4)
    medsec.ok("staff", "add", "--name", "Fran Desk", "--role", "front-desk", "--email", "fran@example.org")
    medsec.ok("staff", "add", "--name", "Bill Biller", "--role", "biller")
    (medsec.home / "channels.yaml").write_text(channels)
    medsec.ok("config", "show")
    medsec.sent = lambda: [json.loads(x) for x in sent.read_text().splitlines()] if sent.exists() else []
    return medsec
