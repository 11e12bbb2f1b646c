"""Acknowledgments (999, 277CA) and claim status (276 out, 277 in).

Every 999 and 277CA written here follows the implementation guides (005010X231A1,
005010X214) and is judged by pyx12 before medsec reads it; the 277s (005010X212)
and the 276s medsec writes are judged by linuxforhealth-x12, plus field checks.
Through the real CLI: claims exported as one batch, its 999, a 277CA rejecting one
claim with its reason (the claim goes back to draft), a 276 and its 277 answer, and
what matches nothing, what is malformed and what was imported already.
"""

import pytest
from helpers.lfh import lfh_judge
from helpers.x12 import pyx12_judge

from medsec_x12 import ack277ca, ack999, status277

pytestmark = pytest.mark.both_backends  # the CLI tests

ACK_VERSION, CA_VERSION, STATUS_VERSION = "005010X231A1", "005010X214", "005010X212"


def interchange(functional: str, version: str, body: list[str], control: int = 905, st: str = "") -> bytes:
    """One interchange from the clearinghouse (DEMOCH) to the demo practice (MAPLESTFP), one ST/SE."""
    transaction = st or {"FA": "999", "HN": "277"}[functional]
    segs = [f"ISA*00*          *00*          *ZZ*DEMOCH         *ZZ*MAPLESTFP      *261127*0900*^*00501*"
            f"{control:09d}*0*P*:",
            f"GS*{functional}*DEMOCH*MAPLESTFP*20261127*0900*{control}*X*{version}",
            f"ST*{transaction}*0001*{version}", *body, f"SE*{len(body) + 2}*0001", f"GE*1*{control}",
            f"IEA*1*{control:09d}"]
    return "".join(s + "~\n" for s in segs).encode()


def ack_999(group_control: int, sets: list[list[str]], result: str, accepted: int, control: int = 905) -> bytes:
    body = [f"AK1*HC*{group_control}*005010X222A1"]
    for segments in sets:
        body += segments
    body.append(f"AK9*{result}*{len(sets)}*{len(sets)}*{accepted}")
    return interchange("FA", ACK_VERSION, body, control)


def ca_277(claims: list[tuple[str, str, str, str]], control: int = 907) -> bytes:
    """A 277CA: (claim id, STC01 category:status[:entity], STC03 action, REF*1K or '') per claim."""
    body = ["BHT*0085*08*CH20261127A*20261127*0900*TH",
            "HL*1**20*1", "NM1*AY*2*DEMO CLEARINGHOUSE*****46*DEMOCH", "TRN*1*CH20261127A",
            "DTP*050*D8*20261127", "DTP*009*D8*20261127",
            "HL*2*1*21*1", "NM1*41*2*MAPLE STREET FAMILY PRACTICE*****46*MAPLESTFP", "TRN*2*1",
            "STC*A1:19:PR*20261127*WQ*250", "QTY*90*1", "QTY*AA*1", "AMT*YU*125", "AMT*YY*125",
            "HL*3*2*19*1", "NM1*85*2*MAPLE STREET FAMILY PRACTICE*****XX*1234567893", "TRN*1*0",
            "STC*A1:19:PR**WQ*250", "QTY*QA*1", "QTY*QC*1", "AMT*YU*125", "AMT*YY*125"]
    for n, (claim_id, stc, action, payer_claim) in enumerate(claims, 4):
        body += [f"HL*{n}*3*PT", "NM1*QC*1*LOPEZ*ANA****MI*BAY123456789", f"TRN*2*{claim_id}",
                 f"STC*{stc}*20261127*{action}*125"]
        body += [f"REF*1K*{payer_claim}"] if payer_claim else []
        body.append("DTP*472*D8*20261120")
    return interchange("HN", CA_VERSION, body, control)


def judged(tmp_path, data: bytes, name: str) -> bytes:
    ok, errors = pyx12_judge(data, tmp_path, name)
    assert ok and not errors, errors
    return data


# -- the readers ---------------------------------------------------------------------------
def test_999_with_a_rejected_set_reads_in_words(tmp_path):
    data = judged(tmp_path, ack_999(17, [["AK2*837*0001*005010X222A1", "IK5*A"],
                                         ["AK2*837*0002*005010X222A1", "IK3*CLM*22*2300*8", "CTX*CLM01:C13",
                                          "IK4*5:1*1331*7*99", "IK5*R*5"]], "P", 1), "p.999")
    assert ack999.detect(data) and not ack277ca.detect(data)
    (ack,) = ack999.read(data)
    assert ack["group"] == {"functional": "HC", "control": "17", "version": "005010X222A1"}
    assert (ack["result"], ack["sets_included"], ack["sets_accepted"]) == ("P", 2, 1)
    assert "partially accepted" in ack["result_words"]
    first, second = ack["sets"]
    assert (first["control"], first["result"], first["segment_errors"]) == ("0001", "A", [])
    assert (second["result"], second["errors"]) == ("R", [{"code": "5", "words": "one or more segments in error"}])
    (error,) = second["segment_errors"]
    assert (error["segment"], error["position"], error["loop"], error["claim_id"]) == ("CLM", 22, "2300", "C13")
    assert error["words"] == "segment has data element errors"
    assert error["elements"] == [{"position": "5", "component": "1", "element": "1331", "code": "7",
                                  "words": "invalid code value", "value": "99"}]


def test_277ca_reads_each_claim_with_its_status_in_words(tmp_path):
    data = judged(tmp_path, ca_277([("C12", "A2:20:PR", "WQ", "BS2611270001"), ("C13", "A7:562:85", "U", "")]),
                  "a.277")
    assert ack277ca.detect(data) and not status277.detect(data) and not ack999.detect(data)
    (answer,) = ack277ca.read(data)
    assert answer["source"]["name"] == "DEMO CLEARINGHOUSE" and answer["receiver"]["trace"] == "1"
    assert (answer["receiver"]["accepted"], answer["receiver"]["rejected_amount"]) == ("1", "125.00")
    c12, c13 = answer["claims"]
    assert (c12["claim_id"], c12["payer_claim_id"], c12["service_from"]) == ("C12", "BS2611270001", "2026-11-20")
    assert c12["statuses"][0]["words"] == ("A2 acknowledgment: accepted into the adjudication system; "
                                           "20 accepted for processing (payer)")
    (status,) = c13["statuses"]
    assert (status["category"], status["status"], status["entity"], status["action"], status["amount"]) == \
        ("A7", "562", "85", "U", "125.00")
    assert status["words"] == ("A7 acknowledgment: rejected for invalid information; "
                               "562 entity's National Provider Identifier (NPI) (billing provider)")


def status_answer(traces: list[tuple[str, str, str]], control: int = 911) -> bytes:
    """A 277 (005010X212): (trace, STC, REF*EJ or '') per claim, each under its own subscriber."""
    body = ["BHT*0010*08*2*20261210*0900*DG", "HL*1**20*1", "NM1*PR*2*BAY STATE HEALTH PLAN*****PI*BSHP1",
            "HL*2*1*21*1", "NM1*41*2*MAPLE STREET FAMILY PRACTICE*****46*MAPLESTFP",
            "HL*3*2*19*1", "NM1*1P*2*MAPLE STREET FAMILY PRACTICE*****XX*1158813992"]
    for n, (trace, stc, account) in enumerate(traces, 4):
        body += [f"HL*{n}*3*22*0", "NM1*IL*1*ZIELINSKI*QUINN****MI*BAY856103954", f"TRN*2*{trace}", f"STC*{stc}"]
        body += [f"REF*EJ*{account}"] if account else []
        body.append("DTP*472*D8*20261126")
    return interchange("HN", STATUS_VERSION, body, control)


def test_277_reads_payment_and_pending_answers():
    data = status_answer([("C1-2", "F1:65*20261208**125*98*20261208*CHK*20261209*CHK778899", "C1"),
                          ("C9-2", "P1:20*20261208**50", "")])
    ok, models = lfh_judge(data)
    assert ok and models == ["HealthCareClaimsStatusResponse"], models
    assert status277.detect(data) and not ack277ca.detect(data)
    (answer,) = status277.read(data)
    paid, pending = answer["claims"]
    assert (paid["trace"], paid["claim_id"], paid["charge"], paid["paid"]) == ("C1-2", "C1", "125.00", "98.00")
    (stc,) = paid["statuses"]
    assert (stc["category"], stc["date"], stc["adjudicated"], stc["check_number"], stc["check_date"]) == \
        ("F1", "2026-12-08", "2026-12-08", "CHK778899", "2026-12-09")
    assert stc["words"] == "F1 finalized: payment; 65 claim/line has been paid"
    assert (pending["trace"], pending["claim_id"], pending["statuses"][0]["category"]) == ("C9-2", "", "P1")


@pytest.mark.parametrize("change, message", [
    (lambda t: t[:t.index("IK5")], "expected SE"),  # cut short: no trailer
    (lambda t: t.replace("005010X231A1", "005010X231"), "line 2: segment GS: GS08 version '005010X231'"),
    (lambda t: t.replace("IK5*A", "IK5*Q"), "line 6: segment IK5: IK501"),
    (lambda t: t.replace("SE*6*0001", "SE*7*0001"), "segment SE: SE01 says 7 segments"),
])
def test_malformed_999_names_line_and_segment(change, message):
    text = ack_999(1, [["AK2*837*0001*005010X222A1", "IK5*A"]], "A", 1).decode()
    with pytest.raises(ValueError) as refused:
        ack999.read(change(text).encode())
    assert str(refused.value).startswith("line ") and message in str(refused.value)


# -- through the CLI -----------------------------------------------------------------------
@pytest.fixture
def office(demo):
    demo.env.update({"MEDSEC_PLUGINS": "helpers.billingplugins"})  # the billing tests' small ICD-10 table
    return demo


@pytest.fixture
def batch(office, tmp_path):
    """Two BAYSTATE claims (C1, C2) validated and exported as one production batch: (office, its record)."""
    for appt in ("A1", "A2"):
        office.ok("bill", "charge", appt, "--code", "99213", "--dx", "E11.9")
        (made,) = office.json("claim", "create", "--appt", appt)
        office.ok("claim", "validate", made["id"])
    sent = office.json("claim", "batch", "--payer", "BAYSTATE", "--format", "x12-837p", "-o", tmp_path / "b.837")
    assert sent["claims"] == ["C1", "C2"] and sent["marked_submitted"]
    return office, sent


def history(office, claim_id: str) -> list[dict]:
    return office.json("claim", "show", claim_id)["history"]


def test_999_accepts_the_batch_and_277ca_rejects_one_claim_with_its_reason(batch, tmp_path):
    office, sent = batch
    ack = tmp_path / "ok.999"
    ack.write_bytes(judged(tmp_path, ack_999(sent["control_number"], [["AK2*837*0001*005010X222A1", "IK5*A"]],
                                             "A", 1), "ok.999"))
    done = office.json("clearinghouse", "import", ack)
    assert (done["transaction"], done["accepted"], done["rejected"], done["unmatched"]) == \
        ("999", ["C1", "C2"], [], [])
    assert done["batches"][0]["status"] == "accepted"
    for claim_id in ("C1", "C2"):  # syntax only: still submitted, the acknowledgment in the history
        claim = office.json("claim", "show", claim_id)
        assert claim["status"] == "submitted"
        assert claim["history"][-1]["note"].startswith("999: the clearinghouse accepted transaction set 0001")
    again = office("clearinghouse", "import", ack)
    assert again.exit_code == 1 and "already imported" in again.stderr

    ca = tmp_path / "claims.277"
    ca.write_bytes(judged(tmp_path, ca_277([("C1", "A2:20:PR", "WQ", "BS2611270001"),
                                            ("C2", "A7:562:85", "U", "")]), "claims.277"))
    trial = office.json("clearinghouse", "import", ca, "--dry-run")
    assert (trial["file"], [c["claim_id"] for c in trial["rejected"]]) == ("", ["C2"])
    assert office.json("claim", "show", "C2")["status"] == "submitted"  # a dry run records nothing
    done = office.json("clearinghouse", "import", ca)
    assert [(c["claim_id"], c["status"]) for c in done["accepted"]] == [("C1", "accepted")]
    assert [(c["claim_id"], c["status"]) for c in done["rejected"]] == [("C2", "rejected")]
    c1 = office.json("claim", "show", "C1")
    assert (c1["status"], c1["payer_claim_id"]) == ("accepted", "BS2611270001")
    c2 = office.json("claim", "show", "C2")
    assert c2["status"] == "rejected"
    assert c2["history"][-1]["note"] == ("277CA from DEMO CLEARINGHOUSE: A7 acknowledgment: rejected for invalid "
                                         "information; 562 entity's National Provider Identifier (NPI) "
                                         "(billing provider)")
    assert office.json("claim", "status", "C2", "draft")["status"] == "draft"  # corrected, then sent again


def test_999_rejecting_the_set_rejects_its_claims_with_the_errors(batch, tmp_path):
    office, sent = batch
    ack = tmp_path / "r.999"
    ack.write_bytes(judged(tmp_path, ack_999(sent["control_number"], [[
        "AK2*837*0001*005010X222A1", "IK3*CLM*22*2300*8", "CTX*CLM01:C2", "IK4*5:1*1331*7*99", "IK5*R*5"]],
        "R", 0), "r.999"))
    done = office.json("clearinghouse", "import", ack)
    assert (done["rejected"], done["batches"][0]["status"]) == (["C1", "C2"], "rejected")
    c2 = history(office, "C2")[-1]
    assert c2["status"] == "rejected"
    assert "rejected transaction set 0001" in c2["note"]
    assert "CLM (segment 22, loop 2300, claim C2): segment has data element errors; CLM05-1 (1331) '99': " \
           "invalid code value" in c2["note"]
    assert "one or more segments in error" in history(office, "C1")[-1]["note"]
    office.ok("claim", "status", "C1", "draft")


def test_a_999_finds_a_sets_claims_as_the_batch_recorded_them(batch, tmp_path):
    """The batch's file record keeps the claims of each transaction set (its ST02 -> CLM01s, read from
    the file written); a 999 rejecting one set rejects those claims and no others, however a writer
    split the batch."""
    from medsec.billing import edi
    from medsec.context import AppContext
    from medsec.store.catalog import EDI_FILES

    office, sent = batch
    app = AppContext(data_dir=str(office.home), user="tester")
    (record,) = [f for f in app.store.snapshot().scan(EDI_FILES) if f["transaction"] == "837P"]
    assert record["summary"]["sets"] == {"0001": ["C1", "C2"]}
    assert edi.claim_sets((tmp_path / "b.837").read_bytes()) == {"0001": ["C1", "C2"]}
    with app.store.transaction() as txn:  # as a writer that put each claim in a set of its own would have
        txn.put(EDI_FILES, {**record, "summary": {"sets": {"0001": ["C2"], "0002": ["C1"]}}}, record)
    ack = tmp_path / "r2.999"
    ack.write_bytes(judged(tmp_path, ack_999(sent["control_number"], [
        ["AK2*837*0001*005010X222A1", "IK5*A"], ["AK2*837*0002*005010X222A1", "IK5*R*5"]], "P", 1), "r2.999"))
    done = office.json("clearinghouse", "import", ack)
    assert (done["accepted"], done["rejected"]) == (["C2"], ["C1"])
    assert office.json("claim", "show", "C2")["status"] == "submitted"


def test_what_matches_nothing_is_kept_not_dropped(batch, tmp_path):
    office, sent = batch
    unknown = tmp_path / "unknown.999"
    unknown.write_bytes(judged(tmp_path, ack_999(77, [["AK2*837*0001*005010X222A1", "IK5*A"]], "A", 1, control=906),
                               "unknown.999"))
    result = office("clearinghouse", "import", unknown, "--json")
    assert result.exit_code == 0
    assert "unmatched: no batch was sent with group control 77" in result.stderr
    summary = result.json()
    assert summary["file"] and summary["unmatched"][0]["group_control"] == "77"
    assert office("clearinghouse", "import", unknown).exit_code == 1  # the file is recorded: not imported twice

    stray = tmp_path / "stray.277"
    stray.write_bytes(judged(tmp_path, ca_277([("C999", "A7:21", "U", ""), ("C1", "A1:19:PR", "WQ", "")]),
                             "stray.277"))
    summary = office.json("clearinghouse", "import", stray)
    assert [(u["claim_id"], u["reason"]) for u in summary["unmatched"]] == [("C999", "no claim C999")]
    assert "21 missing or invalid information" in summary["unmatched"][0]["statuses"]
    assert office.json("claim", "show", "C1")["status"] == "accepted"


@pytest.mark.parametrize("cut, message", [
    (lambda t: t[:t.index("AK9")], "line 7: segment (end of file): expected SE (file cut short?)"),
    (lambda t: t.replace("005010X231A1", "004010X231A1"), "line 2: segment GS: GS08 version '004010X231A1'"),
])
def test_malformed_acknowledgment_exits_2_and_writes_nothing(batch, tmp_path, cut, message):
    office, sent = batch
    text = ack_999(sent["control_number"], [["AK2*837*0001*005010X222A1", "IK5*R*5"]], "R", 0).decode()
    bad = tmp_path / "bad.999"
    bad.write_text(cut(text))
    result = office("clearinghouse", "import", bad)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert office.json("claim", "show", "C1")["status"] == "submitted"
    bad.write_text(text)  # the same name, now whole: it was never recorded
    assert office.json("clearinghouse", "import", bad)["rejected"] == ["C1", "C2"]


def test_276_inquiry_and_its_277_answer(batch, tmp_path):
    office, sent = batch
    refused = office("claim", "inquire", "C1", "C9999", "-o", tmp_path / "no.276")
    assert refused.exit_code == 1 and not (tmp_path / "no.276").exists()
    ca = tmp_path / "ca.277"
    ca.write_bytes(ca_277([("C1", "A2:20:PR", "WQ", "BS2611270001")]))
    office.ok("clearinghouse", "import", ca)

    out = tmp_path / "status.276"
    done = office.json("claim", "inquire", "C1", "C2", "-o", out)
    number = done["control_number"]
    assert done["traces"] == {f"C1-{number}": "C1", f"C2-{number}": "C2"}
    data = out.read_bytes()
    ok, models = lfh_judge(data)
    assert ok and models == ["HealthCareClaimsStatusRequest"], models
    segs = data.decode().split("~\n")
    assert segs[1].startswith("GS*HR*") and segs[1].endswith("*X*005010X212")
    assert segs[2] == "ST*276*0001*005010X212" and segs[3].startswith("BHT*0010*13*")
    levels = [s.split("*")[3] for s in segs if s.startswith("HL*")]
    assert levels[:3] == ["20", "21", "19"] and set(levels[3:]) <= {"22", "23"}
    c1 = office.json("claim", "show", "C1")
    i = segs.index(f"TRN*1*C1-{number}")
    assert segs[i + 1:i + 5] == ["REF*1K*BS2611270001", "REF*EJ*C1", "AMT*T3*125",
                                 f"DTP*472*D8*{c1['lines'][0]['date'].replace('-', '')}"]
    assert f"NM1*PR*2*{c1['payer']['name']}*****PI*{c1['payer']['payer_id']}" in segs
    assert f"NM1*1P*2*{c1['billing_provider']['name']}*****XX*{c1['billing_provider']['npi']}" in segs
    assert any(s.startswith("NM1*IL*1*") and s.endswith(f"*MI*{c1['subscriber']['member_id']}") for s in segs)
    assert c1["history"][-1]["note"].startswith(f"276 status inquiry, trace C1-{number}")
    se = next(n for n, s in enumerate(segs) if s.startswith("SE*"))
    assert segs[se] == f"SE*{se - 2 + 1}*0001"  # SE01 counts ST..SE

    received = tmp_path / "276.999"  # the clearinghouse read the 276: its record says so, no claim moves
    body = [f"AK1*HR*{number}*005010X212", "AK2*276*0001*005010X212", "IK5*A", "AK9*A*1*1*1"]
    received.write_bytes(judged(tmp_path, interchange("FA", ACK_VERSION, body, 912), "276.999"))
    done = office.json("clearinghouse", "import", received)
    assert (done["batches"][0]["status"], done["accepted"], done["unmatched"]) == ("accepted", [], [])
    answer = tmp_path / "answer.277"
    answer.write_bytes(status_answer([(f"C1-{number}", "F1:65*20261208**125*98*20261208*CHK*20261209*CHK7788",
                                       "C1"), (f"C2-{number}", "F2:88*20261208**125*0", ""),
                                      ("C55-1", "P1:20*20261208**50", "")]))
    assert lfh_judge(answer.read_bytes())[0]
    summary = office.json("clearinghouse", "import", answer)
    assert [(a["claim_id"], a["status"]) for a in summary["answered"]] == [("C1", "accepted"), ("C2", "denied")]
    assert [u["trace"] for u in summary["unmatched"]] == ["C55-1"]
    c1 = office.json("claim", "show", "C1")
    assert (c1["status"], c1["paid"]) == ("accepted", "0.00")  # the money is the 835's to post
    assert "F1 finalized: payment" in c1["history"][-1]["note"] and "98.00 paid" in c1["history"][-1]["note"]
    assert office.json("claim", "show", "C2")["status"] == "denied"


def test_inquiry_of_claims_left_unanswered(batch, tmp_path):
    office, sent = batch
    office.ok("clearinghouse", "import", _ca_file(tmp_path, [("C1", "A2:20:PR", "WQ", "")]))
    soon = office("claim", "inquire", "--unanswered-days", "30", "-o", tmp_path / "s.276")
    assert soon.exit_code == 1  # nothing waited 30 days yet
    later = {"MEDSEC_NOW": "2027-01-05T10:00:00"}
    done = office.json("claim", "inquire", "--unanswered-days", "30", "-o", tmp_path / "s.276", env=later)
    assert done["claims"] == ["C2"]  # C1 was answered by the 277CA
    assert lfh_judge((tmp_path / "s.276").read_bytes())[0]
    again = office("claim", "inquire", "--unanswered-days", "30", "-o", tmp_path / "t.276", env=later)
    assert again.exit_code == 1  # asked already within those 30 days
    bad = office("claim", "inquire", "C1", "--unanswered-days", "30", "-o", tmp_path / "u.276")
    assert bad.exit_code == 2


def _ca_file(tmp_path, claims):
    path = tmp_path / "ack.277"
    path.write_bytes(ca_277(claims))
    return path
