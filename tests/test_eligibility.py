"""Eligibility (issue 18): the 270 judged by linuxforhealth-x12 and checked field by field from the
005010X279A1 guide; a hand-written 271 read to every value; answers imported through the CLI onto
the inquiries and the patients' coverages; bad files refused with line and segment, nothing written."""

import re
from pathlib import Path

import pytest
from helpers.lfh import lfh_judge

from medsec_x12.elig271 import read

FIXTURE = Path(__file__).parent / "fixtures" / "x12" / "eligibility.271"
DAY = "2026-11-27"


def segments(text: str) -> list[str]:
    return [s.strip() for s in text.split("~") if s.strip()]


def judged_ok(raw: bytes, model: str) -> None:
    """linuxforhealth-x12 reads the file as `model`. Its 2100C/2100D AAA takes only the 2100B
    (receiver) reject codes, a bug: the guide's subscriber codes (72, 75 ...) are judged with
    AAA03 swapped to 15 (valid in both loops), after checking that the code list is its only
    complaint."""
    text = raw.decode()
    swapped = re.sub(r"AAA\*N\*\*(72|73|75|58)\*", "AAA*N**15*", text)
    if swapped != text:
        ok, why = lfh_judge(text)
        assert not ok and "ValidationError" in why[0], why
    ok, models = lfh_judge(swapped)
    assert ok and models == [model], models


@pytest.fixture
def office(demo):
    return demo


def test_the_271_fixture_is_judged_and_read_to_every_value():
    raw = FIXTURE.read_bytes()
    judged_ok(raw, "EligibilityBenefit")
    active, inactive, rejected, dependent = read(raw)
    assert {k: active[k] for k in ("trace", "member_id", "state", "active", "plan", "group", "copay", "coinsurance",
                                   "deductible", "deductible_remaining", "out_of_pocket",
                                   "out_of_pocket_remaining", "service_types", "dates")} == {
        "trace": "EL1", "member_id": "HAR100200300", "state": "active", "active": True, "plan": "HARBOR GOLD PPO",
        "group": "G7043", "copay": "25.00", "coinsurance": "0.20", "deductible": "1500.00",
        "deductible_remaining": "900.00", "out_of_pocket": "5000.00", "out_of_pocket_remaining": "4100.00",
        "service_types": ["30", "98"], "dates": {"plan_begin": "2026-01-01", "plan_end": "2026-12-31"}}
    assert active["payer"] == {"name": "HARBOR MUTUAL INSURANCE", "id": "HMI22"}
    assert active["payer_traces"] == ["HMI2611260001"]  # the payer's own TRN*1 is not our trace
    assert active["benefits"][4]["messages"] == ["DEDUCTIBLE APPLIES TO OUTPATIENT SERVICES"]
    assert (inactive["trace"], inactive["state"], inactive["active"], inactive["dates"]["plan_end"]) == \
        ("EL2", "inactive", False, "2026-06-30")
    assert rejected["state"] == "rejected" and rejected["active"] is None
    assert rejected["rejections"] == [{"code": "72", "words": "invalid or missing subscriber/insured id",
                                       "follow_up": "C", "follow_up_words": "please correct and resubmit",
                                       "loop": "2100C"}]
    # the subscriber loop that only holds the dependent is no answer of its own
    assert (dependent["level"], dependent["trace"], dependent["member_id"], dependent["patient"]["first"],
            dependent["subscriber"]["first"], dependent["copay"], dependent["dates"]["service"]) == \
        ("dependent", "EL4", "HAR700800900", "SAM", "DI", "40.00", "2026-11-27")


BAD = [
    ("GS*HB*DEMOCH*MAPLESTFP*20261126*1005*501*X*005010X279A1~",
     "GS*HB*DEMOCH*MAPLESTFP*20261126*1005*501*X*004010X092A1~",
     "line 2: segment GS: GS08 version '004010X092A1' is not 005010X279A1"),
    ("EB*B*IND*98*PR**27*25*****Y~", "EB*B*IND*98*PR**27*2x5*****Y~",
     "line 18: segment EB: EB07 (monetary amount) '2x5' is not a number"),
    ("EB*6*IND*30~", "EB*Q9*IND*30~", "segment EB: EB01 'Q9' is not an eligibility or benefit code"),
    ("HL*6*5*22*0~", "HL*6*9*22*0~", "segment HL: HL02 parent 9 of a 2000C loop is not a 2000B loop"),
    # a dependent naming a subscriber loop it is not in (not posted under the wrong subscriber)
    ("HL*13*12*23*0~", "HL*13*3*23*0~", "line 50: segment HL: HL02 parent 3 of a 2000D loop is not a 2000C loop "
                                        "(it is in HL 12)"),
    ("TRN*2*EL2*1047654321~", "TRN*7*EL2*1047654321~", "segment TRN: TRN01 '7' is not 1"),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD)
def test_malformed_271_names_line_and_segment(old, new, message):
    text = FIXTURE.read_text()
    assert old in text
    with pytest.raises(ValueError, match=re.escape(message)):
        read(text.replace(old, new).encode())


def test_a_second_receiver_rejected_with_nobody_under_it_is_an_answer():
    """A 2000B rejected (2100B AAA) with no subscriber under it, after another 2000B of the same payer
    that has one, comes back as an answer without a trace rather than being lost."""
    text = FIXTURE.read_text()
    extra = "HL*14*10*21*0~\nNM1*1P*2*OTHER CLINIC*****XX*1234567893~\nAAA*N**51*C~\n"
    text = text.replace("SE*55*0001~", extra + "SE*58*0001~")
    *_, dependent, rejected = read(text.encode())
    assert dependent["trace"] == "EL4" and dependent["rejections"] == []
    assert (rejected["level"], rejected["trace"], rejected["state"], rejected["receiver"]["npi"]) == \
        ("source", "", "rejected", "1234567893")
    assert [(r["code"], r["loop"]) for r in rejected["rejections"]] == [("51", "2100B")]


def test_truncated_271_is_refused():
    text = FIXTURE.read_text()
    with pytest.raises(ValueError, match=r"line \d+: segment .*cut short"):
        read(text[:text.index("HL*7**20*1~") + 5].encode())


# -- the 270 through the CLI -------------------------------------------------------------
def test_the_270_is_judged_and_follows_the_guide(office, tmp_path):
    office.ok("patient", "coverage", "add", "P4", "--payer", "HARBOR", "--member-id", "HAR4440001",
              "--relationship", "child", "--subscriber", "Dana Park", "--subscriber-dob", "1980-03-04", "--replace")
    out = tmp_path / "elig.270"
    result = office.json("elig", "check", "P1", "P4", "P169", "--date", DAY, "--service-type", "30",
                         "--service-type", "98", "-o", out)
    assert [i["id"] for i in result["inquiries"]] == ["EL1", "EL2"]
    assert result["skipped"] == [{"patient_id": "P169", "reason": "no coverage (self-pay)"}]
    raw = out.read_bytes()
    judged_ok(raw, "EligibilityInquiry")
    segs = segments(raw.decode())
    p1, p4 = office.json("patient", "show", "P1"), office.json("patient", "show", "P4")
    npi = "1158813992"
    assert segs[1] == f"GS*HS*MAPLESTFP*DEMOCH*20261126*1000*{int(result['control'])}*X*005010X279A1"
    assert segs[0].split("*")[13] == result["control"]
    assert segs[2:4] == ["ST*270*0001*005010X279A1", f"BHT*0022*13*{int(result['control'])}0001*20261126*1000"]
    ids = [s.split("*")[0] for s in segs]
    # 2000A payer, 2000B practice, 2000C subscriber (patient is the subscriber): TRN, NM1*IL, DMG, DTP*291, EQ
    assert segs[4:14] == [
        "HL*1**20*1", "NM1*PR*2*HARBOR MUTUAL INSURANCE*****PI*HMI22", "HL*2*1*21*1",
        f"NM1*1P*2*MAPLE STREET FAMILY PRACTICE*****XX*{npi}", "HL*3*2*22*0", "TRN*1*EL1*1047654321",
        f"NM1*IL*1*{p1['last'].upper().replace('Ñ', 'N')}*{p1['first'].upper()}****MI*"
        f"{p1['coverages'][0]['member_id']}",
        f"DMG*D8*{p1['dob'].replace('-', '')}*{p1['sex']}", f"DTP*291*D8*{DAY.replace('-', '')}", "EQ*30^98"]
    # the dependent: the subscriber's 2000C (HL04 1, no TRN), then 2000D with the trace and the question
    assert segs[14:27] == [
        "HL*4**20*1", "NM1*PR*2*HARBOR MUTUAL INSURANCE*****PI*HMI22", "HL*5*4*21*1",
        f"NM1*1P*2*MAPLE STREET FAMILY PRACTICE*****XX*{npi}", "HL*6*5*22*1",
        "NM1*IL*1*PARK*DANA****MI*HAR4440001", "DMG*D8*19800304", "HL*7*6*23*0", "TRN*1*EL2*1047654321",
        f"NM1*03*1*{p4['last'].upper()}*{p4['first'].upper()}", f"DMG*D8*{p4['dob'].replace('-', '')}*{p4['sex']}",
        f"DTP*291*D8*{DAY.replace('-', '')}", "EQ*30^98"]
    assert ids[-3:] == ["SE", "GE", "IEA"] and segs[-3] == f"SE*{len(segs) - 4}*0001"
    el1 = office.json("elig", "show", "EL1")
    assert {k: el1[k] for k in ("patient_id", "status", "trace", "rank", "payer_id", "service_date",
                                "service_types", "control", "file", "asked_by")} == {
        "patient_id": "P1", "status": "sent", "trace": "EL1", "rank": "primary", "payer_id": "HARBOR",
        "service_date": DAY, "service_types": ["30", "98"], "control": result["control"], "file": str(out),
        "asked_by": "tester"}
    sent = office.json("clearinghouse", "show", result["edi_file"])
    assert (sent["direction"], sent["transaction"], sent["control"]) == ("out", "270", result["control"])


def test_bad_requests(office, tmp_path):
    bad = office("elig", "check", "P1", "--service-type", "3x0", "-o", tmp_path / "x.270")
    assert bad.exit_code == 2 and "service type '3X0'" in bad.stderr.replace("'3x0'", "'3X0'")
    nobody = office("elig", "check", "P169", "-o", tmp_path / "y.270")
    assert nobody.exit_code == 1 and "P169: no coverage (self-pay)" in nobody.stderr
    assert not (tmp_path / "x.270").exists() and not (tmp_path / "y.270").exists()
    assert office.json("elig", "list") == []


def test_batch_asks_everyone_booked(office, tmp_path):
    out = tmp_path / "tomorrow.270"
    result = office.json("elig", "batch", "--for", "tomorrow", "-o", out)
    booked = {a["patient_id"] for a in office.json("appt", "list", "--from", DAY, "--to", DAY)
              if a["status"] != "cancelled" and a.get("patient_id")}
    asked = {i["patient_id"] for i in result["inquiries"]} | {s["patient_id"] for s in result["skipped"]}
    assert asked == booked and result["inquiries"]
    assert out.read_text().count("TRN*1*EL") == len(result["inquiries"])
    quiet = office("elig", "batch", "--for", "2026-11-28", "-o", tmp_path / "sat.270", "--quiet")  # a Saturday
    assert quiet.exit_code == 0 and quiet.stderr == ""


# -- the 271 through the CLI -------------------------------------------------------------
def answer_271(asked: list[tuple[str, str, str, str]]) -> bytes:
    """A payer's 271: (trace, member id, last, first) answered active (copay, deductible), inactive,
    then AAA*N**72 (invalid member id), in turn."""
    body = ["BHT*0022*11*R1*20261126*1005"]
    hl = 0
    for n, (trace, member, last, first) in enumerate(asked):
        body += [f"HL*{hl + 1}**20*1", "NM1*PR*2*HARBOR MUTUAL INSURANCE*****PI*HMI22", f"HL*{hl + 2}*{hl + 1}*21*1",
                 "NM1*1P*2*MAPLE STREET FAMILY PRACTICE*****XX*1158813992", f"HL*{hl + 3}*{hl + 2}*22*0",
                 f"TRN*2*{trace}*1047654321", f"NM1*IL*1*{last}*{first}****MI*{member}"]
        hl += 3
        body += [["DTP*346*D8*20260101", "EB*1*IND*30**HARBOR GOLD PPO", "EB*B*IND*98***27*25*****Y",
                  "EB*C*IND*30***23*1500*****Y", "EB*C*IND*30***29*900*****Y"],
                 ["DTP*347*D8*20261031", "EB*6*IND*30"],
                 ["AAA*N**72*C"]][n % 3]
    st = ["ST*271*0001*005010X279A1", *body]
    st.append(f"SE*{len(st) + 1}*0001")
    head = ["ISA*00*          *00*          *ZZ*DEMOCH         *ZZ*MAPLESTFP      *261126*1005*^*00501*000000901*0*T*:",
            "GS*HB*DEMOCH*MAPLESTFP*20261126*1005*901*X*005010X279A1"]
    return "".join(s + "~\n" for s in head + st + ["GE*1*901", "IEA*1*000000901"]).encode()


def asked_in(path: Path) -> list[tuple[str, str, str, str]]:
    segs = segments(path.read_text())
    out = []
    for i, s in enumerate(segs):
        if s.startswith("TRN*1*"):
            nm1 = segs[i + 1].split("*")
            out.append((s.split("*")[2], nm1[9], nm1[3], nm1[4]))
    return out


def test_answers_post_to_inquiries_and_coverages(office, tmp_path):
    booked = [r["patient_id"] for r in office.json("appt", "day", DAY) if r["coverage"] != "self-pay"]
    a, b, c = sorted(set(booked), key=booked.index)[:3]  # three patients with visits that day
    out = tmp_path / "elig.270"
    office.ok("elig", "check", a, b, c, "--date", DAY, "-o", out)
    reply = tmp_path / "elig.271"
    reply.write_bytes(answer_271(asked_in(out)))
    judged_ok(reply.read_bytes(), "EligibilityBenefit")
    dry = office.json("elig", "import", reply, "--dry-run")
    assert dry["file"] == "" and [a["state"] for a in dry["answered"]] == ["active", "inactive", "unknown"]
    assert office.json("elig", "show", "EL1")["status"] == "sent"  # a dry run writes nothing
    summary = office.json("clearinghouse", "import", reply)
    assert summary["transaction"] == "271" and summary["unmatched"] == []
    assert [(a["id"], a["state"], a["applied"]) for a in summary["answered"]] == \
        [("EL1", "active", True), ("EL2", "inactive", True), ("EL3", "unknown", True)]
    el1 = office.json("elig", "show", "EL1")
    assert el1["status"] == "answered"
    assert {k: el1["answer"][k] for k in ("state", "active", "plan", "copay", "deductible", "deductible_remaining",
                                          "reasons", "edi_file")} == {
        "state": "active", "active": True, "plan": "HARBOR GOLD PPO", "copay": "25.00", "deductible": "1500.00",
        "deductible_remaining": "900.00", "reasons": [], "edi_file": summary["file"]}
    el3 = office.json("elig", "show", "EL3")
    assert el3["answer"]["reasons"] == ["invalid or missing subscriber/insured id"]
    assert el3["answer"]["codes"]["rejections"] == ["72"]
    states = {}
    for pid in (a, b, c):
        (coverage,) = office.json("patient", "coverage", "list", pid)
        states[pid] = coverage["eligibility"]
    assert {p: (e["state"], e["source"], e["as_of"]) for p, e in states.items()} == {
        a: ("active", "271 EL1", DAY), b: ("inactive", "271 EL2", DAY), c: ("unknown", "271 EL3", DAY)}
    assert states[a]["plan"] == "HARBOR GOLD PPO" and states[a]["details"]["copay"] == "25.00"
    assert states[b]["details"]["reason"] == "the payer says inactive (plan ended 2026-10-31)"
    assert states[c]["details"]["reason"] == "invalid or missing subscriber/insured id"
    payer = {p: office.json("elig", "show", el)["payer_id"] for p, el in ((a, "EL1"), (b, "EL2"), (c, "EL3"))}
    sheet = {r["patient_id"]: r["coverage"] for r in office.json("appt", "day", DAY)}
    assert [sheet[a], sheet[b], sheet[c]] == [f"{payer[a]} active", f"{payer[b]} inactive", f"{payer[c]} unknown"]
    assert [r["id"] for r in office.json("elig", "list", "--status", "sent")] == []
    assert [r["state"] for r in office.json("elig", "list", "--patient", a)] == ["active"]

    again = office("elig", "import", reply)
    assert again.exit_code == 1 and "already imported" in again.stderr
    assert office.json("elig", "show", "EL1")["answer"]["edi_file"] == summary["file"]  # nothing posted twice


def test_unmatched_answers_are_queued(office, tmp_path):
    out = tmp_path / "elig.270"
    office.ok("elig", "check", "P1", "P2", "--date", DAY, "-o", out)
    (el1, el2) = asked_in(out)
    reply = tmp_path / "odd.271"
    reply.write_bytes(answer_271([("EL99", el1[1], el1[2], el1[3]), (el2[0], "WRONG123", el2[2], el2[3])]))
    result = office("elig", "import", reply, "--json")
    assert result.exit_code == 0
    summary = result.json()
    assert summary["answered"] == []
    assert [u["reason"] for u in summary["unmatched"]] == [
        "trace EL99 matches no eligibility inquiry", f"member id WRONG123 does not match EL2's {el2[1]}"]
    assert "unmatched: trace EL99 matches no eligibility inquiry" in result.stderr
    record = office.json("clearinghouse", "show", summary["file"])
    assert [u["trace"] for u in record["unmatched"]] == ["EL99", "EL2"]
    assert [r["status"] for r in office.json("elig", "list")] == ["sent", "sent"]
    assert (office.json("patient", "coverage", "list", "P2")[0].get("eligibility") or {}).get("source", "") == ""


@pytest.mark.parametrize(("damage", "message"), [
    (lambda t: t[:t.rindex("SE*")], "cut short"),
    (lambda t: t.replace("*X*005010X279A1", "*X*005010X279"), "line 2: segment GS: GS08 version '005010X279'"),
])
def test_bad_271_files_exit_2_and_write_nothing(office, tmp_path, damage, message):
    out = tmp_path / "elig.270"
    office.ok("elig", "check", "P1", "--date", DAY, "-o", out)
    reply = tmp_path / "bad.271"
    reply.write_text(damage(answer_271(asked_in(out)).decode()))
    result = office("elig", "import", reply)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert office.json("elig", "show", "EL1")["status"] == "sent"
    assert office.json("clearinghouse", "list", "--direction", "in") == []


def test_elig_import_of_another_transaction_is_bad_input_and_imports_nothing(office):
    """`elig import` takes a 271 only: a remittance given to it by mistake is exit 2, one line, and
    stays unimported (clearinghouse import still takes it afterwards)."""
    remit = Path(__file__).parent / "fixtures" / "x12" / "paid.835"
    result = office("elig", "import", remit)
    assert result.exit_code == 2 and "is an 835, not a 271" in result.stderr.splitlines()[0], result.stderr
    assert office.json("clearinghouse", "list", "--direction", "in") == []


def recounted(text: str) -> str:
    """The interchange with each SE01 set to its transaction set's segment count (after an edit)."""
    out, count = [], 0
    for seg in text.split("~\n"):
        count = 1 if seg.startswith("ST*") else count + 1
        out.append(f"SE*{count}*{seg.split('*')[2]}" if seg.startswith("SE*") else seg)
    return "~\n".join(out)


def test_a_291_range_is_the_plan_period_and_a_291_day_the_date_asked_about():
    """DTP*291 is "plan" in a 271: a payer's range there is the plan's period (as 346/347 would say),
    one day is the service date the 270 asked about, echoed."""
    text = FIXTURE.read_text()
    ranged = text.replace("DTP*346*D8*20260101~\nDTP*347*D8*20261231~", "DTP*291*RD8*20260101-20261231~", 1)
    assert ranged != text and recounted(text) == text
    active, *_, dependent = read(recounted(ranged).encode())
    assert active["dates"] == {"plan_begin": "2026-01-01", "plan_end": "2026-12-31"}
    assert dependent["dates"]["service"] == "2026-11-27"
