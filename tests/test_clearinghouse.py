"""Clearinghouse transports over a real SFTP server on loopback (tests/helpers/sftp.py): `claim send`
puts a payer's ready claims as one judged 837P and marks them only once it is there; `clearinghouse
poll` imports each answer once (polled twice, arriving out of order, one bad file among good ones);
a refused login, a closed port, a silent port and an unknown host key are each exit 3 in one line
with nothing marked; a password written in clearinghouses.yaml is refused by `config check`. The
answers come from the payer simulator (tests/helpers/payersim.py), its files judged by pyx12."""

import pytest
import yaml
from helpers import payersim
from helpers.sftp import PASSWORD, PASSWORD_ENV, SftpServer, closed_port, silent_port
from helpers.x12 import pyx12_judge


@pytest.fixture
def sftp_server(tmp_path):
    server = SftpServer(tmp_path / "sftp-root").start()
    yield server
    server.stop()


def set_up(office, server: SftpServer, **changes) -> dict:
    entry = server.settings(office.home, **changes)
    (office.home / "clearinghouses.yaml").write_text(yaml.safe_dump({"clearinghouses": [entry]}))
    office.env[PASSWORD_ENV] = PASSWORD
    return entry


@pytest.fixture
def office(demo):
    demo.env.update({"MEDSEC_PLUGINS": "helpers.billingplugins"})  # the billing tests' small ICD-10 table
    return demo


def ready_claims(office, *appts: str) -> list[dict]:
    """A ready claim for each visit (99213, E11.9), as `claim show` has it."""
    made = []
    for appt in appts:
        office.ok("bill", "charge", appt, "--code", "99213", "--dx", "E11.9")
        (claim,) = office.json("claim", "create", "--appt", appt)
        office.ok("claim", "validate", claim["id"])
        made.append(office.json("claim", "show", claim["id"]))
    return made


def test_claim_send_puts_one_judged_837p_and_marks_the_claims(office, sftp_server, tmp_path):
    set_up(office, sftp_server)
    claim, = ready_claims(office, "A1")
    sent = office.json("claim", "send", "--payer", claim["payer_id"])
    (put,) = sorted(sftp_server.outbox.iterdir())
    assert sent["file"] == f"/inbound/{put.name}" and sent["claims"] == [claim["id"]]
    raw = put.read_bytes()
    ok, errors = pyx12_judge(raw, tmp_path, "sent.837")
    assert ok and not errors, errors
    assert office.json("claim", "show", claim["id"])["status"] == "submitted"
    assert sftp_server.logins == [("medsec", "password")]
    assert office("claim", "send", "--payer", claim["payer_id"]).exit_code == 1  # nothing ready is left


def test_a_test_send_is_usage_t_and_marks_nothing(office, sftp_server):
    set_up(office, sftp_server)
    claim, = ready_claims(office, "A1")
    sent = office.json("claim", "send", "--payer", claim["payer_id"], "--test")
    assert sent["usage"] == "T" and sent["marked_submitted"] is False
    (put,) = sftp_server.outbox.iterdir()
    assert payersim.read_837(put.read_bytes())["usage"] == "T"
    assert office.json("claim", "show", claim["id"])["status"] == "ready"


def one_line_exit_3(result) -> str:
    assert result.exit_code == 3, result.stderr
    assert result.stdout == ""
    return result.stderr.splitlines()[0]


def test_a_refused_login_is_exit_3_in_one_line_and_nothing_is_marked(office, sftp_server):
    set_up(office, sftp_server)
    claim, = ready_claims(office, "A1")
    refused = office("claim", "send", "--payer", claim["payer_id"], env={PASSWORD_ENV: "not-the-password"})
    assert "the server refused the login" in one_line_exit_3(refused)
    assert len(refused.stderr.strip().splitlines()) <= 2  # the error and its hint
    assert list(sftp_server.outbox.iterdir()) == []
    assert office.json("claim", "show", claim["id"])["status"] == "ready"
    assert office("clearinghouse", "poll", env={PASSWORD_ENV: "not-the-password"}).exit_code == 3


def test_a_failed_put_keeps_the_claims_ready_and_spends_the_control_number(office, sftp_server):
    set_up(office, sftp_server, outbox="/no-such-folder")
    claim, = ready_claims(office, "A1")
    failed = office("claim", "send", "--payer", claim["payer_id"])
    assert "put /no-such-folder/" in one_line_exit_3(failed)
    assert office.json("claim", "show", claim["id"])["status"] == "ready"
    set_up(office, sftp_server)
    sent = office.json("claim", "send", "--payer", claim["payer_id"])
    assert sent["control_number"] == 2  # 1 was spent on the failed put, never reused
    (put,) = sftp_server.outbox.iterdir()
    assert payersim.read_837(put.read_bytes())["interchange"] == "000000002"


def test_a_closed_port_and_a_silent_one_are_exit_3_without_hanging(office, sftp_server):
    set_up(office, sftp_server, port=closed_port())
    assert "connect" in one_line_exit_3(office("clearinghouse", "test"))
    with silent_port() as port:
        set_up(office, sftp_server, port=port, timeout=1)
        assert "no answer within 1 s" in one_line_exit_3(office("clearinghouse", "poll"))


def test_a_host_key_not_in_known_hosts_is_refused(office, sftp_server):
    import asyncssh

    set_up(office, sftp_server)
    (office.home / "known_hosts").write_text(sftp_server.known_hosts(key=asyncssh.generate_private_key("ssh-ed25519")))
    assert "host key not accepted" in one_line_exit_3(office("clearinghouse", "test"))
    (office.home / "known_hosts").write_text("")
    assert "host key not accepted" in one_line_exit_3(office("clearinghouse", "test"))
    assert sftp_server.logins == []  # no password was ever offered to the impostor


def test_clearinghouse_test_signs_in_by_key_too(office, sftp_server):
    key = sftp_server.write_client_key(office.home / "sftp_key")
    set_up(office, sftp_server, password_env=None, key_path="sftp_key")  # relative: the data directory
    (sftp_server.inbox / "waiting.835").write_bytes(b"x")
    assert office.json("clearinghouse", "test") == {"clearinghouse": "LOOPBACK", "transport": "sftp",
                                                    "connected": True, "waiting": ["waiting.835"]}
    assert key.exists() and sftp_server.logins == []  # (password logins only are counted)


@pytest.mark.parametrize("setting, value", [("password", "hunter2"), ("private_key", "abc"),
                                            ("key_path", "-----BEGIN OPENSSH PRIVATE KEY-----")])
def test_config_check_refuses_a_secret_written_in_clearinghouses_yaml(office, sftp_server, setting, value):
    set_up(office, sftp_server, **{setting: value})
    result = office("config", "check")
    assert result.exit_code == 3 and f"clearinghouses.0.{setting}" in result.stderr  # as for every file
    assert value not in result.stderr + result.stdout
    assert office("clearinghouse", "test").exit_code == 3  # every command that reads the file refuses it


def test_config_check_names_what_an_sftp_clearinghouse_lacks(office, sftp_server):
    set_up(office, sftp_server, known_hosts=None, port=70000)
    result = office("config", "check")
    assert result.exit_code == 3
    assert "clearinghouses.0.known_hosts is required" in result.stderr
    assert "clearinghouses.0.port must be a whole number" in result.stderr


# -- poll ---------------------------------------------------------------------------------------
def sent_claims(office, server, *appts) -> list[dict]:
    """Claims for `appts`, sent over SFTP (submitted), as the simulator reads them from the 837P."""
    claims = ready_claims(office, *appts)
    office.ok("claim", "send", "--payer", claims[0]["payer_id"])
    (put,) = server.outbox.iterdir()
    return payersim.read_837(put.read_bytes())["claims"]


def test_poll_imports_each_file_once_in_whatever_order_they_arrive(office, sftp_server, tmp_path):
    set_up(office, sftp_server)
    first, second = sent_claims(office, sftp_server, "A1", "A2")
    # The later payment arrives under a name that sorts first; a file that is no X12 sits among them.
    later = payersim.remit_835([second], "CHK2", control=9012)
    earlier = payersim.remit_835([first], "CHK1", control=9011)
    for data in (later, earlier):
        assert pyx12_judge(data, tmp_path)[0]
    (sftp_server.inbox / "a-remit.835").write_bytes(later)
    (sftp_server.inbox / "b-remit.835").write_bytes(earlier)
    (sftp_server.inbox / "c-notes.txt").write_bytes(b"not an X12 file\n")
    dry = office("clearinghouse", "poll", "--dry-run", "--json")
    assert dry.exit_code == 1 and [i["file"] for i in dry.json()["imported"]] == ["", ""]
    assert office.json("claim", "show", first["id"])["status"] == "submitted"  # a dry run posts nothing

    polled = office("clearinghouse", "poll", "--json")
    assert polled.exit_code == 1 and "c-notes.txt: not a file medsec imports" in polled.stderr
    summary = polled.json()
    assert [(i["name"], i["transaction"], i["unmatched"]) for i in summary["imported"]] == [
        ("a-remit.835", "835", 0), ("b-remit.835", "835", 0)]
    assert [f["name"] for f in summary["failed"]] == ["c-notes.txt"]
    assert {office.json("claim", "show", c["id"])["status"] for c in (first, second)} == {"paid"}

    again = office("clearinghouse", "poll", "--json")  # the same files again: skipped, not an error
    assert again.exit_code == 1 and again.json()["imported"] == []  # (still exit 1: the bad file)
    assert [s["name"] for s in again.json()["skipped"]] == ["a-remit.835", "b-remit.835"]
    (sftp_server.inbox / "c-notes.txt").unlink()
    assert office("clearinghouse", "poll", "-q").exit_code == 0
    assert sorted(p.name for p in sftp_server.inbox.iterdir()) == ["a-remit.835", "b-remit.835"]  # never deleted
    payments = office.json("bill", "ledger", office.json("claim", "show", first["id"])["patient_id"])
    assert payments  # posted once: a second post would have been refused as the same trace

    listed = office.json("clearinghouse", "list", "--direction", "in")
    assert [(r["transaction"], r["name"], r["status"], r["unmatched"]) for r in listed] == [
        ("835", "b-remit.835", "posted", 0), ("835", "a-remit.835", "posted", 0)]
    shown = office.json("clearinghouse", "show", listed[0]["id"])
    assert shown["claims"] == [first["id"]] and shown["control"] == "000009011" and shown["unmatched"] == []


def test_an_answer_for_a_claim_not_sent_is_queued_as_unmatched(office, sftp_server):
    set_up(office, sftp_server)
    claim, = ready_claims(office, "A1")  # ready, never sent: its payment arrives first
    read = {"id": claim["id"], "billing_provider": claim["billing_provider"], "patient": claim["patient"],
            "subscriber": claim["subscriber"], "lines": claim["lines"]}
    (sftp_server.inbox / "early.835").write_bytes(payersim.remit_835([read], "CHK7"))
    summary = office.json("clearinghouse", "poll")
    assert [(i["name"], i["unmatched"]) for i in summary["imported"]] == [("early.835", 1)]
    (queued,) = office.json("clearinghouse", "list", "--unmatched")
    assert office.json("clearinghouse", "show", queued["id"])["unmatched"][0]["reason"] == "claim is ready"
    assert office.json("claim", "show", claim["id"])["status"] == "ready"


def test_delete_after_import_removes_only_what_was_imported(office, sftp_server):
    set_up(office, sftp_server, delete_after_import=True)
    (claim,) = sent_claims(office, sftp_server, "A1")
    (sftp_server.inbox / "paid.835").write_bytes(payersim.remit_835([claim], "CHK3"))
    (sftp_server.inbox / "junk.txt").write_bytes(b"junk")
    result = office("clearinghouse", "poll", "--json")
    assert result.exit_code == 1 and result.json()["deleted"] == ["paid.835"]
    assert [p.name for p in sftp_server.inbox.iterdir()] == ["junk.txt"]


# -- the simulator's answers, judged ------------------------------------------------------------
def test_the_simulators_answers_pass_pyx12(office, sftp_server, tmp_path):
    set_up(office, sftp_server)
    ready_claims(office, "A1", "A2")
    office.ok("claim", "send", "--payer", "BAYSTATE")
    (put,) = sftp_server.outbox.iterdir()
    raw = put.read_bytes()
    sent = payersim.read_837(raw)
    answers = {"accepted.999": payersim.ack_999(raw), "rejected.999": payersim.ack_999(raw, (sent["sets"][0],)),
               "accepted.277ca": payersim.ack_277ca(raw),
               "rejected.277ca": payersim.ack_277ca(raw, (sent["claims"][0]["id"],)),
               "paid.835": payersim.remit_835(sent["claims"])}
    for name, data in answers.items():
        ok, errors = pyx12_judge(data, tmp_path, name)
        assert ok and not errors, (name, errors)
    assert b"IK5*R*5~" in answers["rejected.999"] and b"AK9*R*1*1*0~" in answers["rejected.999"]
    assert b"STC*A7:21*" in answers["rejected.277ca"] and answers["accepted.277ca"].count(b"STC*A2:20*") == 2
    assert f"AK1*HC*{sent['group']}*".encode() in answers["accepted.999"]

    sim = payersim.PayerSim(sftp_server.outbox, sftp_server.inbox, reject_claims=(sent["claims"][1]["id"],))
    assert sim.step() == [f"{put.stem}.999", f"{put.stem}.277ca"] and sim.step() == []
    assert [c["id"] for c in sim.accepted] == [sent["claims"][0]["id"]]
    assert sim.remit("CHK5") == "CHK5.835" and sim.remit() is None

    # a transaction set the 999 rejects never reaches the payer: no 277CA, nothing to pay
    folders = tmp_path / "out", tmp_path / "in"
    for folder in folders:
        folder.mkdir()
    (folders[0] / put.name).write_bytes(raw)
    rejecting = payersim.PayerSim(*folders, reject_sets=(sent["sets"][0],))
    assert rejecting.step() == [f"{put.stem}.999"] and rejecting.accepted == []


def test_acknowledgments_and_payment_through_poll(office, sftp_server):
    """The whole round once the 999/277CA importers exist (medsec.billing.acks)."""
    pytest.importorskip("medsec.billing.acks")
    set_up(office, sftp_server)
    ready_claims(office, "A1")
    office.ok("claim", "send", "--payer", "BAYSTATE")
    sim = payersim.PayerSim(sftp_server.outbox, sftp_server.inbox)
    sim.step()
    sim.remit("CHK8")
    summary = office.json("clearinghouse", "poll")
    assert [i["transaction"] for i in summary["imported"]] == ["999", "277CA", "835"] and not summary["failed"]
