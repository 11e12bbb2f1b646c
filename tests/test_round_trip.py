"""The insurance round trip of issue 18, end to end through the command line, over a real SFTP
server on loopback (tests/helpers/sftp.py) with the payer simulator answering (helpers/payersim.py):

eligibility for tomorrow's patients (270 sent) -> the 271 polled and posted -> the inactive coverage
flagged at check-in -> visits charged, claimed, sent (837P) -> the 999 accepts the batch, the 277CA
rejects one claim with its reason -> that claim corrected and sent again -> the 835 posted -> a paid
claim replaced (frequency 7, REF*F8) -> the statement goes to the patient's guarantor.

Every file medsec sends is judged (270 by linuxforhealth-x12, 837P by pyx12) and so is every file
the simulator answers with (999, 277CA, 835 by pyx12; 271 by linuxforhealth-x12); every file is
imported once, however often the inbox is polled.
"""

from collections import defaultdict

import pytest
import yaml
from helpers import payersim
from helpers.lfh import lfh_judge
from helpers.sftp import PASSWORD, PASSWORD_ENV, SftpServer
from helpers.x12 import pyx12_judge

TOMORROW = "2026-11-27"


@pytest.fixture
def sftp_server(tmp_path):
    server = SftpServer(tmp_path / "sftp-root").start()
    yield server
    server.stop()


@pytest.fixture
def office(demo, sftp_server):
    demo.env.update({"MEDSEC_PLUGINS": "helpers.billingplugins", PASSWORD_ENV: PASSWORD})
    entry = sftp_server.settings(demo.home)
    (demo.home / "clearinghouses.yaml").write_text(yaml.safe_dump({"clearinghouses": [entry]}))
    return demo


def judged(path, tmp_path) -> bytes:
    """The bytes of a file that crossed the wire, judged by the validator for its transaction."""
    raw = path.read_bytes()
    transaction = payersim._segments(raw)[0][2][1]  # ST01
    if transaction in ("270", "271", "276", "277") and b"005010X214" not in raw:
        ok, found = lfh_judge(raw)
    else:
        ok, found = pyx12_judge(raw, tmp_path, path.name)
    assert ok, (path.name, found)
    return raw


def answer(sim: payersim.PayerSim, server: SftpServer, tmp_path) -> list[str]:
    """The simulator answers what arrived; every file sent and every answer is judged."""
    for sent in sorted(server.outbox.iterdir()):
        if sent.name not in sim.answered:
            judged(sent, tmp_path)
    names = sim.step()
    for name in names:
        judged(server.inbox / name, tmp_path)
    return names


def poll(office) -> dict:
    polled = office("clearinghouse", "poll", "--json")
    assert polled.exit_code == 0, polled.stderr
    return polled.json()


def history_notes(office, claim_id: str) -> str:
    return "\n".join(h.get("note", "") for h in office.json("claim", "show", claim_id)["history"])


def test_the_insurance_round_trip_over_sftp(office, sftp_server, tmp_path):
    sim = payersim.PayerSim(sftp_server.outbox, sftp_server.inbox)

    # Eligibility for tomorrow's patients: one 270, sent; the payer answers one member inactive.
    asked = office.json("elig", "batch", "--for", "tomorrow", "--send", "--json")
    assert asked["transport"] == "sftp" and asked["inquiries"]
    by_payer = defaultdict(list)
    for inquiry in asked["inquiries"]:
        if inquiry["rank"] == "primary":
            by_payer[inquiry["payer_id"]].append(inquiry)
    payer, inquiries = max(by_payer.items(), key=lambda kv: len(kv[1]))
    assert len(inquiries) >= 3, by_payer
    lapsed, first, second = inquiries[:3]
    sim.inactive = (lapsed["member_id"],)
    assert [n.rsplit(".", 1)[1] for n in answer(sim, sftp_server, tmp_path)] == ["271"]
    polled = poll(office)
    assert [(i["transaction"], i["unmatched"]) for i in polled["imported"]] == [("271", 0)]
    assert office.json("elig", "show", lapsed["id"])["status"] == "answered"
    coverage = office.json("patient", "coverage", "list", lapsed["patient_id"])[0]
    assert coverage["eligibility"]["state"] == "inactive"
    assert office.json("patient", "coverage", "list", first["patient_id"])[0]["eligibility"]["state"] == "active"

    # Tomorrow: the lapsed coverage is flagged at check-in; two covered visits are charged and claimed.
    office.env["MEDSEC_NOW"] = f"{TOMORROW}T08:00:00"
    visits = {a["patient_id"]: a["id"] for a in office.json("appt", "list", "--from", TOMORROW, "--to", TOMORROW)}
    flagged = office.json("appt", "checkin", visits[lapsed["patient_id"]])["missing_intake"]
    assert any("coverage" in m and "inactive" in m for m in flagged), flagged
    claims = []
    for inquiry in (first, second):
        appt = visits[inquiry["patient_id"]]
        assert not [m for m in office.json("appt", "checkin", appt)["missing_intake"] if "coverage" in m]
        office.ok("bill", "charge", appt, "--code", "99213", "--dx", "E11.9")
        (claim,) = office.json("claim", "create", "--appt", appt)
        office.ok("claim", "validate", claim["id"])
        claims.append(claim["id"])
    rejected, accepted = claims

    # Sent as one 837P; the 999 accepts the batch, the 277CA rejects one claim with its reason.
    sent = office.json("claim", "send", "--payer", payer)
    assert sorted(sent["claims"]) == sorted(claims) and sent["usage"] == "P"
    sim.reject_claims = (rejected,)
    assert sorted(n.rsplit(".", 1)[1] for n in answer(sim, sftp_server, tmp_path)) == ["277ca", "999"]
    polled = poll(office)
    assert [i["transaction"] for i in polled["imported"]] == ["999", "277CA"]
    assert all(i["unmatched"] == 0 for i in polled["imported"])
    assert office.json("claim", "show", rejected)["status"] == "rejected"
    assert "invalid" in history_notes(office, rejected).lower()  # the 277CA's A7:21 in words
    assert office.json("claim", "show", accepted)["status"] == "accepted"
    again = poll(office)  # polled twice: nothing imported twice
    assert again["imported"] == [] and len(again["skipped"]) == 3

    # The rejected claim is corrected (rebuilt from its charges) and sent again; this time accepted.
    office.ok("claim", "regenerate", rejected)
    office.ok("claim", "validate", rejected)
    resent = office.json("claim", "send", "--payer", payer)
    assert resent["claims"] == [rejected] and resent["control_number"] != sent["control_number"]
    sim.reject_claims = ()
    answer(sim, sftp_server, tmp_path)
    poll(office)
    assert office.json("claim", "show", rejected)["status"] == "accepted"

    # The payer pays both (an 835 in the inbox); posted once.
    assert sim.remit("CHK7001")
    judged(sftp_server.inbox / "CHK7001.835", tmp_path)
    polled = poll(office)
    assert [i["transaction"] for i in polled["imported"]] == ["835"]
    paid = {c: office.json("claim", "show", c) for c in claims}
    assert {c["status"] for c in paid.values()} == {"paid"}
    assert poll(office)["imported"] == []

    # A paid claim corrected with the payer: a replacement claim (frequency 7) quoting its number.
    replacement = office.json("claim", "show", office.json("claim", "replace", accepted, "--note",
                                                           "wrong place of service")["id"])
    assert replacement["frequency"] == "7" and replacement["original_reference"] == f"PCN{accepted}"
    office.ok("claim", "validate", replacement["id"])
    office.ok("claim", "send", "--payer", payer)
    newest = max(sftp_server.outbox.iterdir(), key=lambda p: p.stat().st_mtime_ns)
    text = judged(newest, tmp_path).decode()
    assert f"CLM*{replacement['id']}*" in text and ":B:7*" in text and f"REF*F8*PCN{accepted}~" in text

    # The statement goes to the guarantor, and its balance is the account's.
    patient = paid[rejected]["patient_id"]
    office.ok("patient", "guarantor", patient, "--name", "Ann Byrne", "--relationship", "Parent",
              "--address", "12 Elm St", "--city", "Boston", "--state", "MA", "--zip", "02110")
    statement = office.json("bill", "statement", patient, "--from", "2026-11-01", "--to", TOMORROW)
    assert statement["bill_to"]["name"] == "Ann Byrne" and "Ann Byrne" in statement["text"]
    assert statement["balance"] == office.json("bill", "balance", patient)["balance"]

    # Every file that came back was imported exactly once.
    received = office.json("clearinghouse", "list", "--direction", "in")
    names = [f["name"] for f in received]
    assert len(names) == len(set(names)) == len(list(sftp_server.inbox.iterdir()))
