"""Review of the clearinghouse round trip (issue 18): a 999 answering a 270, odd traces in a 271."""

import pytest
from test_acks import ACK_VERSION, ack_999, interchange
from test_eligibility import DAY, answer_271, asked_in

from medsec import hookimpl
from medsec.plugin_types import Transport, TransportError


@pytest.fixture
def office(demo):
    return demo


def test_a_999_finds_the_270_it_answers(office, tmp_path):
    out = tmp_path / "elig.270"
    sent = office.json("elig", "check", "P1", "--date", DAY, "-o", out)
    number = int(sent["control"])
    body = [f"AK1*HS*{number}*005010X279A1", "AK2*270*0001*005010X279A1", "IK5*A", "AK9*A*1*1*1"]
    ack = tmp_path / "elig.999"
    ack.write_bytes(interchange("FA", ACK_VERSION, body, 913))
    done = office.json("clearinghouse", "import", ack)
    assert (done["unmatched"], [b["batch"] for b in done["batches"]]) == ([], [sent["edi_file"]])
    assert office.json("clearinghouse", "show", sent["edi_file"])["status"] == "accepted"


@pytest.mark.parametrize("trace", ["EL0", "EL01", "EL" + "9" * 30])
def test_a_271_trace_that_is_no_inquiry_id_is_unmatched_not_a_failure(office, tmp_path, trace):
    out = tmp_path / "elig.270"
    office.ok("elig", "check", "P1", "--date", DAY, "-o", out)
    (el1,) = asked_in(out)
    reply = tmp_path / "odd.271"
    reply.write_bytes(answer_271([(trace, el1[1], el1[2], el1[3])]))
    result = office("elig", "import", reply, "--json")
    assert result.exit_code == 0, result.stderr
    assert [u["trace"] for u in result.json()["unmatched"]] == [trace]


# -- a transport whose inbox holds one file it cannot fetch (gone, too large) and one it can -------
class _Inbox:
    files = {"a-gone.999": None, "b-fine.999": ack_999(77, [["AK2*837*0001*005010X222A1", "IK5*A"]], "A", 1)}

    def inbox(self):
        return sorted(self.files)

    def fetch(self, name):
        if self.files[name] is None:
            raise TransportError(f"fetch /outbound/{name}: no such file", temporary=False)
        return self.files[name]

    def send(self, name, data):
        raise TransportError("read only", temporary=False)

    def close(self):
        pass


@hookimpl
def register_transports(register):
    register(Transport("review-inbox", "an inbox for the review tests", lambda settings, data_dir: _Inbox()))


def test_a_file_that_cannot_be_fetched_fails_alone_and_the_poll_goes_on(office):
    (office.home / "clearinghouses.yaml").write_text("clearinghouses:\n- {id: FAKE, transport: review-inbox}\n")
    result = office("clearinghouse", "poll", "--json", env={"MEDSEC_PLUGINS": "test_edi_review"})
    assert result.exit_code == 1, result.stderr  # one file not imported: a refusal, not a failed connection
    summary = result.json()
    assert [(f["name"], "no such file" in f["error"]) for f in summary["failed"]] == [("a-gone.999", True)]
    assert [i["name"] for i in summary["imported"]] == ["b-fine.999"]
