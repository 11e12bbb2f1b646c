"""The x12 plugin's 835 reader: hand-written remittances (each also judged by pyx12) read to
every number, the shared reference files reconciled by hand, malformed files refused with
line and segment, and a claim's round trip through the real CLI (837P out, 835 in)."""

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from helpers.backends import read_config, write_config
from helpers.files import shared_data
from helpers.x12 import pyx12_judge

from medsec_x12 import detect, read

pytestmark = pytest.mark.both_backends  # the CLI tests
FIXTURES = Path(__file__).parent / "fixtures" / "x12"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def cas(group, reason, amount, quantity=""):
    return {"group": group, "reason": reason, "amount": amount, "quantity": quantity}


@pytest.mark.parametrize("name", ["paid.835", "denied.835", "plb.835"])
def test_fixtures_are_valid_835s(tmp_path, name):
    """The hand-written remittances pass pyx12 (no 999 writer for 835s: fd_997=None)."""
    ok, errors = pyx12_judge(fixture(name), tmp_path, name)
    assert ok and not errors, errors


def test_paid_claims_with_contractual_and_coinsurance_at_line_level():
    (remit,) = read(fixture("paid.835"))
    assert remit == {
        "trace": "CHK20261205001", "method": "CHK", "paid_date": "2026-12-05", "total_paid": "183.50",
        "payer": {"name": "BAY STATE HEALTH PLAN", "id": "BSHP1"},  # REF*2U wins over TRN03
        "payee": {"name": "MAPLE STREET FAMILY PRACTICE", "npi": "1234567893", "tax_id": "047654321"},
        "claims": [
            {"claim_id": "C12", "status_code": "1", "charge": "161.00", "paid": "103.50",
             "patient_responsibility": "32.00", "payer_claim_id": "BS2612050017", "adjustments": [], "remarks": [],
             "patient": {"last": "LOPEZ", "first": "ANA", "id": "BAY123456789"},
             "lines": [
                 {"code": "99213", "modifiers": ["25"], "charge": "125.00", "paid": "80.00", "units": 1,
                  "date": "2026-11-20", "line_ref": "1", "allowed": "105.00", "remarks": [],
                  "adjustments": [cas("CO", "45", "20.00"), cas("PR", "2", "25.00")]},
                 {"code": "36415", "modifiers": [], "charge": "36.00", "paid": "23.50", "units": 2,
                  "date": "2026-11-20", "line_ref": "2", "allowed": "30.50", "remarks": [],
                  "adjustments": [cas("CO", "45", "5.50"), cas("PR", "2", "7.00")]}]},
            {"claim_id": "C13", "status_code": "1", "charge": "100.00", "paid": "80.00",
             "patient_responsibility": "20.00", "payer_claim_id": "BS2612050018", "adjustments": [], "remarks": [],
             "patient": {"last": "OKAFOR", "first": "BEN", "id": "BAY555000111"},
             "lines": [{"code": "99212", "modifiers": [], "charge": "100.00", "paid": "80.00", "units": 1,
                        "date": "2026-11-21", "line_ref": "1", "remarks": [],
                        "adjustments": [cas("PR", "3", "20.00")]}]}],
        "provider_adjustments": [],
    }
    # the arithmetic the file states: 125-20-25 = 80, 36-5.5-7 = 23.5, 80+23.5 = 103.5, +80 = 183.5
    c12 = remit["claims"][0]
    assert sum(Decimal(l["paid"]) for l in c12["lines"]) == Decimal(c12["paid"]) == Decimal("103.50")
    assert sum(Decimal(a["amount"]) for l in c12["lines"] for a in l["adjustments"] if a["group"] == "PR") \
        == Decimal(c12["patient_responsibility"])


def test_denied_claims_with_remark_codes_and_six_reasons_in_one_cas():
    (remit,) = read(fixture("denied.835"))
    assert (remit["trace"], remit["method"], remit["total_paid"], remit["paid_date"]) == \
        ("NON20261210", "NON", "0.00", "2026-12-10")
    assert remit["payer"] == {"name": "HARBOR MUTUAL INSURANCE", "id": "1047333444"}  # TRN03, no REF*2U
    c20, c21 = remit["claims"]
    assert (c20["claim_id"], c20["status_code"], c20["charge"], c20["paid"], c20["patient_responsibility"]) == \
        ("C20", "4", "143.00", "0.00", "0.00")  # CLP05 empty -> 0.00
    assert c20["remarks"] == ["N130", "N54", "M51"]  # MOA, then each line's LQ once
    assert [(l["code"], l["charge"], l["paid"], l["line_ref"], l["remarks"]) for l in c20["lines"]] == [
        ("99214", "125.00", "0.00", "1", ["N54"]), ("36415", "18.00", "0.00", "2", ["M51", "N54"])]
    assert [l["adjustments"] for l in c20["lines"]] == [[cas("CO", "197", "125.00")], [cas("CO", "197", "18.00")]]
    assert c21["lines"] == [] and c21["remarks"] == ["MA130", "N382"]
    assert c21["adjustments"] == [cas("CO", "16", "50.00", "1"), cas("CO", "197", "50.00"), cas("CO", "50", "50.00"),
                                  cas("CO", "96", "50.00"), cas("CO", "109", "50.00"), cas("CO", "27", "50.00")]
    assert sum(Decimal(a["amount"]) for a in c21["adjustments"]) == Decimal(c21["charge"]) == Decimal("300.00")


def test_plb_reversal_and_other_delimiters():
    """plb.835 is written with | > and a newline as segment terminator, two payments in one group."""
    first, second = read(fixture("plb.835"))
    assert (first["trace"], first["method"], first["total_paid"], first["paid_date"]) == \
        ("EFT20261215A", "ACH", "98.00", "2026-12-15")
    assert first["provider_adjustments"] == [
        {"reason": "L6", "reference": "", "amount": "-2.50", "provider": "1234567893", "period_end": "2026-12-31"},
        {"reason": "WO", "reference": "BS2611030021", "amount": "12.50", "provider": "1234567893",
         "period_end": "2026-12-31"}]
    (c30,) = first["claims"]
    assert [(l["code"], l["modifiers"], l["charge"], l["paid"]) for l in c30["lines"]] == [
        ("99213", [], "125.00", "76.00"), ("87880", ["QW"], "50.00", "32.00")]
    # 108 - (-2.50 + 12.50) = 98 = BPR02
    assert Decimal(c30["paid"]) - sum(Decimal(p["amount"]) for p in first["provider_adjustments"]) == Decimal("98")
    reversal, correction = second["claims"]
    assert (reversal["status_code"], reversal["charge"], reversal["paid"], reversal["patient_responsibility"]) == \
        ("22", "-150.00", "-80.00", "-20.00")
    assert reversal["lines"][0]["adjustments"] == [cas("CO", "45", "-50.00"), cas("PR", "3", "-20.00")]
    assert (correction["status_code"], correction["payer_claim_id"], correction["paid"]) == \
        ("1", "BS2612150002", "95.00")
    line = correction["lines"][0]
    assert (line["code"], line["submitted_code"], line["submitted_modifiers"], line["line_ref"]) == \
        ("99213", "99214", [], "1")
    assert Decimal(reversal["paid"]) + Decimal(correction["paid"]) == Decimal(second["total_paid"]) == 15


def test_delimiters_come_from_the_isa():
    """The same payment with other separators reads the same."""
    text = fixture("paid.835").decode()
    other = text.translate(str.maketrans({"*": "|", ":": "}", "~": "!"})).replace("!\n", "!\r\n")
    assert read(other.encode()) == read(fixture("paid.835"))
    one_line = text.replace("~\n", "~")
    assert read(one_line.encode()) == read(fixture("paid.835"))


def test_detect():
    assert all(detect(fixture(n)) for n in ("paid.835", "denied.835", "plb.835"))
    assert detect(b"\xef\xbb\xbf\r\n" + fixture("paid.835"))
    eight37 = fixture("paid.835").replace(b"GS*HP*", b"GS*HC*")
    assert not detect(eight37)
    assert not detect(b'[{"trace": "CHK1"}]') and not detect(b"") and not detect(b"ISA*00*")


# -- malformed files ------------------------------------------------------------------------
def recount(text: str) -> str:
    """Fix SE01 after a test added or removed segments (so the error tested is the one meant)."""
    segs = text.split("~\n")
    start = 0
    for i, s in enumerate(segs):
        if s.startswith("ST*"):
            start = i
        if s.startswith("SE*"):
            segs[i] = re.sub(r"^SE\*\d+", f"SE*{i - start + 1}", s)
    return "~\n".join(segs)


PAID = fixture("paid.835").decode()
MALFORMED = [
    ("not X12", '{"trace": 1}', "line 1: segment (none): not an X12 interchange (expected ISA)"),
    ("starts with GS", PAID[PAID.index("GS*"):], "line 1: segment GS: not an X12 interchange (expected ISA)"),
    ("empty", "", "line 1: segment (none): the file is empty"),
    ("ISA cut short", PAID[:60], "line 1: segment ISA: cut short"),
    ("an 837 group", PAID.replace("GS*HP*", "GS*HC*"), "line 2: segment GS: functional group HC is not HP"),
    ("not an 835", PAID.replace("ST*835*", "ST*837*"), "line 3: segment ST: transaction set 837 is not an 835"),
    ("CLP paid not a number", PAID.replace("CLP*C12*1*161*103.5*", "CLP*C12*1*161*10x.5*"),
     "line 16: segment CLP: CLP04 (paid) '10x.5' is not a number"),
    ("CLP charge missing", PAID.replace("CLP*C12*1*161*", "CLP*C12*1**"),
     "line 16: segment CLP: CLP03 (charge) is missing"),
    ("CAS outside a claim", recount(PAID.replace("LX*1~\n", "LX*1~\nCAS*CO*45*5~\n")),
     "line 16: segment CAS: outside a claim (no CLP before it)"),
    ("CAS after PLB", recount(PAID.replace("REF*6R*1~\nSE", "REF*6R*1~\nPLB*1234567893*20261231*L6*0~\n"
                                                           "CAS*CO*45*5~\nSE")),
     "line 37: segment CAS: outside a claim (no CLP before it)"),
    ("CAS reason without amount", PAID.replace("CAS*PR*2*25~", "CAS*PR*2~"),
     "line 21: segment CAS: CAS03 (adjustment amount) is missing"),
    ("CAS unknown group", PAID.replace("CAS*PR*2*25~", "CAS*XX*2*25~"),
     "line 21: segment CAS: CAS01 'XX' is not an adjustment group"),
    ("CAS seven triplets", PAID.replace("CAS*PR*2*25~", "CAS*PR*2*5**1*5**1*5**1*5**1*5**1*5**1*-5~"),
     "line 21: segment CAS: more than 6 reason/amount/quantity triplets"),
    ("three decimals", PAID.replace("AMT*B6*105~", "AMT*B6*105.001~"),
     "line 23: segment AMT: AMT02 (allowed amount) '105.001' has more than two decimals"),
    ("bad payment date", PAID.replace("************20261205~", "************20261305~"),
     "line 4: segment BPR: BPR16 (payment date) '20261305' is not a CCYYMMDD date"),
    ("no BPR", recount(PAID.replace("BPR*C*183.5*C*CHK************20261205~\n", "")),
     "line 4: segment TRN: expected BPR right after ST"),
    ("no TRN", recount(PAID.replace("TRN*1*CHK20261205001*1047111222~\n", "")),
     "line 35: segment SE: the transaction set has no TRN"),
    ("line does not balance", PAID.replace("SVC*HC:99213:25*125*80**1", "SVC*HC:99213:25*125*81**1"),
     "line 18: segment SVC: service line 99213 does not balance: charge 125.00 - adjustments 45.00 != paid 81.00"),
    ("claim does not balance", PAID.replace("CLP*C13*1*100*80*", "CLP*C13*1*100*70*"),
     "line 30: segment CLP: claim C13 does not balance: charge 100.00 - adjustments 20.00 != paid 70.00"),
    ("payment does not balance", PAID.replace("BPR*C*183.5*", "BPR*C*183*"),
     "line 4: segment BPR: total paid 183.00 != claims paid 183.50 - provider adjustments 0.00"),
    ("wrong SE01", PAID.replace("SE*34*0001", "SE*40*0001"),
     "line 36: segment SE: SE01 says 40 segments, the transaction set has 34"),
    ("SE02 mismatch", PAID.replace("SE*34*0001", "SE*34*0002"), "line 36: segment SE: SE02 '0002' does not match"),
    ("no SE", PAID.replace("SE*34*0001~\n", ""), "line 3: segment ST: transaction set 0001 has no SE (found GE"),
    ("GE count", PAID.replace("GE*1*4567", "GE*2*4567"), "line 37: segment GE: GE01 says 2 transaction sets"),
    ("GE control", PAID.replace("GE*1*4567", "GE*1*4568"), "line 37: segment GE: GE02 '4568' does not match"),
    ("IEA control", PAID.replace("IEA*1*000004567", "IEA*1*000004568"),
     "line 38: segment IEA: IEA02 '000004568' does not match ISA13 '000004567'"),
    ("cut mid-segment", PAID[:PAID.index("IEA*1*") + 7], "line 38: segment IEA: not terminated by '~'"),
    ("cut after SE", PAID[:PAID.index("GE*")], "line 37: segment (end of file): expected ST or GE (file cut short?)"),
    ("cut after GE", PAID[:PAID.index("IEA*")], "line 38: segment (end of file): expected GS or IEA"),
    ("junk after IEA", PAID + "XYZ*1~\n", "line 39: segment XYZ: expected ISA (a new interchange) after IEA"),
    ("not a segment id", PAID.replace("REF*EV*", "re f*EV*"), "line 6: segment re f: not a segment id"),
]


@pytest.mark.parametrize("name,text,message", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_835_names_line_and_segment(name, text, message):
    with pytest.raises(ValueError) as caught:
        read(text.encode())
    assert str(caught.value).startswith(message), str(caught.value)
    assert re.match(r"line \d+: segment \S+", str(caught.value))


# -- the shared reference files (skipped without ../shared) -----------------------------------
def _cas_total(claim: dict) -> Decimal:
    return sum((Decimal(a["amount"]) for a in claim["adjustments"]), Decimal(0)) + \
        sum((Decimal(a["amount"]) for l in claim["lines"] for a in l["adjustments"]), Decimal(0))


def test_emedny_reconciles_by_hand():
    (remit,) = read(shared_data("x12", "835", "emedny.835").read_bytes())
    assert (remit["trace"], remit["method"], remit["paid_date"], remit["total_paid"]) == \
        ("10100000000", "ACH", "2010-01-01", "45.75")
    assert remit["payer"] == {"name": "NYSDOH", "id": "1000000000"}
    assert remit["payee"] == {"name": "MAJOR MEDICAL PROVIDER", "npi": "9999999995", "tax_id": "000000000"}
    claims = remit["claims"]
    # CLP04: 34.25 + 0 + 11.50 = 45.75 = BPR02, no PLB
    assert [c["paid"] for c in claims] == ["34.25", "0.00", "11.50"]
    assert sum(Decimal(c["paid"]) for c in claims) == Decimal(remit["total_paid"]) and not remit["provider_adjustments"]
    # CLP03 - CLP04 = the claim's CAS: 34.25-34.25 = 0 (none); 34-0 = 12+22 (CO-29); 34.25-11.50 = 2.75+20 (CO-251)
    assert [c["charge"] for c in claims] == ["34.25", "34.00", "34.25"]
    assert [_cas_total(c) for c in claims] == [Decimal("0"), Decimal("34.00"), Decimal("22.75")]
    assert all(Decimal(c["charge"]) - Decimal(c["paid"]) == _cas_total(c) for c in claims)
    assert [[(a["group"], a["reason"], a["amount"]) for l in c["lines"] for a in l["adjustments"]] for c in claims] == [
        [], [("CO", "29", "12.00"), ("CO", "29", "22.00")], [("CO", "251", "2.75"), ("CO", "251", "20.00")]]
    assert [len(c["lines"]) for c in claims] == [4, 2, 4]
    first = claims[0]["lines"]
    assert [(l["code"], l["modifiers"], l["charge"], l["paid"], l["units"]) for l in first] == [
        ("V2020", ["RB"], "6.00", "6.00", 1), ("V2700", ["RB"], "2.75", "2.75", 1),
        ("V2103", ["RB"], "5.50", "5.50", 1), ("S0580", [], "20.00", "20.00", 2)]
    assert sum(Decimal(l["paid"]) for l in first) == Decimal("34.25")
    assert claims[2]["lines"][1]["date"] == "2013-09-17" and claims[2]["remarks"] == ["N206"]
    assert [l["remarks"] for l in claims[2]["lines"]] == [[], [], ["N206"], ["N206"]]


def test_mult_loops_reconciles_by_hand():
    (remit,) = read(shared_data("x12", "835", "mult_loops.835").read_bytes())
    assert (remit["method"], remit["total_paid"], remit["paid_date"]) == ("NON", "0.00", "2004-10-28")
    assert remit["payee"] == {"name": "UNKNOWN", "npi": "", "tax_id": "444313000"}
    (claim,) = remit["claims"]
    assert (claim["claim_id"], claim["status_code"], claim["charge"], claim["paid"]) == \
        ("2005555A", "4", "915.39", "0.00")
    # 915.39 - 0 = CO-16 500.04 + OA-A7 127.80 + OA-A7 287.55
    assert [(l["charge"], l["paid"], l["units"], l["date"], l["date_end"]) for l in claim["lines"]] == [
        ("500.04", "0.00", 68, "2003-11-29", "2003-11-29"), ("127.80", "0.00", 16, "2003-10-30", "2003-10-30"),
        ("287.55", "0.00", 36, "2003-10-31", "2003-10-31")]
    assert _cas_total(claim) == Decimal("915.39") == Decimal(claim["charge"]) - Decimal(claim["paid"])
    assert claim["remarks"] == ["N14"]


def test_the_shared_837s_are_not_remittances():
    path = shared_data("x12", "837p", "example1.837")
    assert not detect(path.read_bytes())
    with pytest.raises(ValueError, match=r"^line 2: segment GS: functional group HC is not HP"):
        read(path.read_bytes())


# -- through the real CLI -----------------------------------------------------------------------
def remit_for(claim: dict, lines: list[tuple[str, list]], trace: str) -> bytes:
    """An 835 paying `claim` line by line: lines = [(paid, [(group, reason, amount)])]."""
    body = ["BPR*C*{total}*C*CHK************20261205", f"TRN*1*{trace}*1047111222", "N1*PR*BAY STATE HEALTH PLAN",
            "N3*PO BOX 1001", "N4*BOSTON*MA*021050001", "PER*BL*EDI*TE*8005550199",
            f"N1*PE*MAPLE STREET FAMILY PRACTICE*XX*{claim['billing_provider']['npi']}", "LX*1"]
    paid = sum(Decimal(p) for p, _ in lines)
    pr = sum(Decimal(a) for _, adj in lines for g, _, a in adj if g == "PR")
    sub = claim["subscriber"]
    body += [f"CLP*{claim['id']}*1*{claim['total']}*{paid}*{pr}*12*BS0001*11*1",
             f"NM1*QC*1*{claim['patient']['last']}*{claim['patient']['first']}****MI*{sub['member_id']}"]
    for line, (line_paid, adjustments) in zip(claim["lines"], lines, strict=True):
        body += [f"SVC*HC:{':'.join([line['code'], *line['modifiers']])}*{line['amount']}*{line_paid}",
                 f"DTM*472*{line['date'].replace('-', '')}"]
        body += [f"CAS*{g}*{r}*{a}" for g, r, a in adjustments] + [f"REF*6R*{line['line']}"]
    segs = ["ISA*00*          *00*          *ZZ*BSHP1          *ZZ*MAPLESTFP      *261206*0900*^*00501*000000777*0*T*:",
            "GS*HP*BSHP1*MAPLESTFP*20261206*0900*777*X*005010X221A1", "ST*835*0001"]
    segs += [s.format(total=paid) if s.startswith("BPR") else s for s in body]
    segs += [f"SE*{len(body) + 2}*0001", "GE*1*777", "IEA*1*000000777"]
    return "".join(s + "~\n" for s in segs).encode()


def judged_export(office, claim_id: str, tmp_path, name: str) -> list[str]:
    """Validate and export one claim as an 837P that must pass pyx12; its segments."""
    office.ok("claim", "validate", claim_id)
    out = tmp_path / name
    office.ok("claim", "export", claim_id, "--format", "x12-837p", "-o", out)
    ok, errors = pyx12_judge(out.read_bytes(), tmp_path, name)
    assert ok and not errors, errors
    return out.read_text().split("~\n")


@pytest.fixture
def office(demo):
    demo.env.update({"MEDSEC_PLUGINS": "helpers.billingplugins"})  # the billing tests' small ICD-10 table
    return demo


def test_claim_round_trip_through_the_cli(office, tmp_path):
    """Export an 837P (judged), post its 835 (auto-detected), bill the secondary (judged)."""
    office.ok("bill", "charge", "A1", "--code", "99213", "--modifier", "25", "--dx", "E11.9", "--dx", "I10")
    office.ok("bill", "charge", "A1", "--code", "36415", "--dx", "E11.9")
    (made,) = office.json("claim", "create", "--appt", "A1")
    office.ok("claim", "validate", made["id"])
    out = tmp_path / "claim.837"
    office.ok("claim", "export", made["id"], "--format", "x12-837p", "-o", out)
    ok, errors = pyx12_judge(out.read_bytes(), tmp_path, "claim.837")
    assert ok and not errors, errors
    claim = office.json("claim", "show", made["id"])
    assert claim["status"] == "submitted"
    assert f"CLM*{claim['id']}*143***11:B:1*Y*A*Y*Y~" in out.read_text()

    era = tmp_path / "remit.835"
    era.write_bytes(remit_for(claim, [("80.00", [("CO", "45", "25.00"), ("PR", "2", "20.00")]), ("18.00", [])],
                              "CHK900"))
    assert pyx12_judge(era.read_bytes(), tmp_path, "remit.835")[0]
    posted = office.json("claim", "post-remit", era)  # no --input-format: x12-835 detects it
    assert posted["format"] == "x12-835"
    assert posted["posted"] == [{"claim_id": claim["id"], "status": "paid", "paid": "98.00", "written_off": "25.00",
                                 "patient_responsibility": "20.00", "reasons": ["CO-45", "PR-2"]}]
    again = office("claim", "post-remit", era)
    assert again.exit_code == 1 and "already posted" in again.stderr

    pid = claim["patient_id"]
    office.ok("patient", "coverage", "add", pid, "--payer", "HARBOR", "--member-id", "HM77", "--rank", "secondary")
    (secondary,) = office.json("claim", "create", "--patient", pid, "--rank", "secondary")
    text = judged_export(office, secondary["id"], tmp_path, "secondary.837")
    # Only the line still open is billed; AMT*D is what the primary paid on it (125 - 25 - 20 = 80).
    assert "SBR*S*18*******CI" in text and "AMT*D*80" in text and "AMT*EAF*20" in text
    assert "SVD*BSHP1*80*HC:99213:25**1" in text and "CAS*CO*45*25" in text and "CAS*PR*2*20" in text
    assert "DTP*573*D8*20261205" in text


def test_malformed_835_through_the_cli(office, tmp_path):
    bad = tmp_path / "bad.835"
    bad.write_text(PAID.replace("CLP*C12*1*161*103.5*", "CLP*C12*1*161*10x.5*"))
    result = office("claim", "post-remit", bad, "--input-format", "x12-835")
    assert result.exit_code == 2
    assert "line 16: segment CLP: CLP04 (paid) '10x.5' is not a number" in result.stderr


def test_read_returns_plain_json_data():
    """Everything is str, int, list or dict: the core stores it as it comes."""
    for name in ("paid.835", "denied.835", "plb.835"):
        remits = read(fixture(name))
        assert json.loads(json.dumps(remits)) == remits


def remit_segments(body: list[str], trace: str, total: str, npi: str) -> bytes:
    """A whole 835 (envelope, BPR/TRN, payer and payee) around hand-written claim loops."""
    head = [f"BPR*C*{total}*C*ACH*CCP*01*011000015*DA*123456789*1047111222**01*021000021*DA*987654321*20261210",
            f"TRN*1*{trace}*1047111222", "N1*PR*BAY STATE HEALTH PLAN", "N3*PO BOX 1001", "N4*BOSTON*MA*021050001",
            "PER*BL*EDI*TE*8005550199", f"N1*PE*MAPLE STREET FAMILY PRACTICE*XX*{npi}", "LX*1"]
    segs = ["ISA*00*          *00*          *ZZ*BSHP1          *ZZ*MAPLESTFP      *261210*0900*^*00501*000000778*0*T*:",
            "GS*HP*BSHP1*MAPLESTFP*20261210*0900*778*X*005010X221A1", "ST*835*0001", *head, *body,
            f"SE*{len(head) + len(body) + 2}*0001", "GE*1*778", "IEA*1*000000778"]
    return "".join(s + "~\n" for s in segs).encode()


def test_reversal_and_correction_of_a_paid_claim(office, tmp_path):
    """CLP02 22 takes back an earlier payment (negated amounts, CAS groups kept) and the corrected
    adjudication follows in the same 835, its billed code found by SVC06 (no REF*6R)."""
    office.ok("bill", "charge", "A1", "--code", "99214", "--dx", "E11.9")
    office.ok("bill", "charge", "A1", "--code", "36415", "--dx", "E11.9")
    (made,) = office.json("claim", "create", "--appt", "A1")
    office.ok("claim", "validate", made["id"])
    office.ok("claim", "export", made["id"], "--format", "x12-837p", "-o", tmp_path / "c.837")
    claim = office.json("claim", "show", made["id"])
    first = tmp_path / "first.835"
    first.write_bytes(remit_for(claim, [("100.00", [("CO", "45", "65.00"), ("PR", "2", "20.00")]), ("18.00", [])],
                                "CHK901"))
    office.ok("claim", "post-remit", first)
    assert office.json("claim", "show", made["id"])["status"] == "paid"

    cid, date = claim["id"], claim["lines"][0]["date"].replace("-", "")
    member = claim["subscriber"]["member_id"]
    patient = f"NM1*QC*1*{claim['patient']['last']}*{claim['patient']['first']}****MI*{member}"
    body = [f"CLP*{cid}*22*-203*-118*-20*12*BS0001*11*1", patient,
            "SVC*HC:99214*-185*-100", f"DTM*472*{date}", "CAS*CO*45*-65", "CAS*PR*2*-20", "REF*6R*1",
            "SVC*HC:36415*-18*-18", f"DTM*472*{date}", "REF*6R*2",
            f"CLP*{cid}*1*203*128*20*12*BS0002*11*1", patient,
            "SVC*HC:99213*185*110***HC:99214", f"DTM*472*{date}", "CAS*CO*45*55", "CAS*PR*2*20",
            "SVC*HC:36415*18*18", f"DTM*472*{date}", "REF*6R*2"]
    second = tmp_path / "second.835"
    second.write_bytes(remit_segments(body, "EFT902", "10", claim["billing_provider"]["npi"]))
    ok, errors = pyx12_judge(second.read_bytes(), tmp_path, "second.835")
    assert ok and not errors, errors
    posted = office.json("claim", "post-remit", second)
    assert posted["unmatched"] == []
    assert [(p["status"], p["paid"], p["written_off"], p["patient_responsibility"]) for p in posted["posted"]] == \
        [("submitted", "-118.00", "-65.00", "-20.00"), ("paid", "128.00", "55.00", "20.00")]
    after = office.json("claim", "show", cid)
    assert (after["status"], after["paid"], after["patient_responsibility"]) == ("paid", "128.00", "20.00")
    old, reversal, new = after["adjudications"]
    assert old["reversed_by"] == "EFT902" and reversal["status_code"] == "22" and "reversed_by" not in new
    assert [line["charge_id"] for line in new["lines"]] == [line["charge_id"] for line in claim["lines"]]
    assert [h["status"] for h in after["history"]][-3:] == ["paid", "submitted", "paid"]
    balance = office.json("bill", "balance", claim["patient_id"])
    assert (balance["balance"], balance["insurance_pending"]) == ("20.00", "0.00")
    ledger = office.json("bill", "ledger", claim["patient_id"])
    for kind, amounts in (("insurance-payment", ["-118.00", "118.00", "-128.00"]),
                          ("insurance-adjustment", ["-65.00", "65.00", "-55.00"])):
        assert [r["amount"] for r in ledger if r["kind"] == kind] == amounts  # the ledger shows credits negative

    # A reversal of nothing posted (unknown CLP07) is left for a person, and nothing else moves.
    stray = tmp_path / "stray.835"
    stray.write_bytes(remit_segments([f"CLP*{cid}*22*-203*-118*-20*12*BS9999*11*1", "CAS*CO*45*-65",
                                      "CAS*PR*2*-20", patient],
                                     "EFT903", "-118", claim["billing_provider"]["npi"]).replace(b"BPR*C*-118*C",
                                                                                                  b"BPR*D*118*D"))
    result = office.json("claim", "post-remit", stray)
    assert result["posted"] == [] and result["unmatched"][0]["reason"] == "no earlier payment of it to reverse"
    assert office.json("claim", "show", cid)["paid"] == "128.00"


def test_payer_filing_indicator_and_insurance_type_reach_the_837p(office, tmp_path):
    """payers.yaml's filing_indicator (SBR09) and insurance_type (SBR05, Medicare as a secondary
    payer) go into the claim and the 837P; prior payers' lines carry their charge ids."""
    payers = yaml.safe_load(read_config(office, "payers.yaml"))
    for payer in payers["payers"]:
        if payer["id"] == "MEDICARE":
            payer.update(filing_indicator="mb", insurance_type="47")
    write_config(office, "payers.yaml", yaml.safe_dump(payers))
    office.ok("bill", "charge", "A1", "--code", "99213", "--dx", "E11.9")
    (made,) = office.json("claim", "create", "--appt", "A1")
    pid = made["patient_id"]
    claim = office.json("claim", "show", made["id"])
    assert claim["payer"]["id"] != "MEDICARE"
    assert (claim["payer"]["filing_indicator"], claim["subscriber"]["insurance_type"]) == ("CI", "")  # defaults
    office.ok("claim", "validate", made["id"])
    office.ok("claim", "export", made["id"], "--format", "x12-837p", "-o", tmp_path / "p.837")
    claim = office.json("claim", "show", made["id"])
    era = tmp_path / "p.835"
    era.write_bytes(remit_for(claim, [("80.00", [("CO", "45", "25.00"), ("PR", "2", "20.00")])], "CHK950"))
    office.ok("claim", "post-remit", era)
    office.ok("patient", "coverage", "add", pid, "--payer", "MEDICARE", "--member-id", "1EG4TE5MK73",
              "--rank", "secondary")
    (second,) = office.json("claim", "create", "--patient", pid, "--rank", "secondary")
    second = office.json("claim", "show", second["id"])
    assert (second["payer"]["filing_indicator"], second["subscriber"]["insurance_type"]) == ("MB", "47")
    assert [line["charge_id"] for line in second["prior_payers"][0]["lines"]] == [claim["lines"][0]["charge_id"]]
    sbr = [s for s in judged_export(office, second["id"], tmp_path, "s.837") if s.startswith("SBR*")]
    assert sbr[0].startswith("SBR*S*18*") and sbr[0].split("*")[5] == "47" and sbr[0].endswith("*MB")
    assert sbr[1].startswith("SBR*P*18*") and sbr[1].endswith("*CI")  # 2320: the primary, commercial


def test_claim_batch_through_the_cli(office, tmp_path):
    """`claim batch` writes every ready claim of a payer into one judged 837P and marks them
    submitted; its --format names the document (output is --json); nothing left is exit 1."""
    office.ok("bill", "charge", "A1", "--code", "99213", "--dx", "E11.9")
    (made,) = office.json("claim", "create", "--appt", "A1")
    office.ok("claim", "validate", made["id"])
    out = tmp_path / "batch.837"
    result = office.json("claim", "batch", "--payer", made["payer_id"], "--format", "x12-837p", "-o", out)
    assert result["claims"] == [made["id"]] and result["marked_submitted"] is True
    ok, errors = pyx12_judge(out.read_bytes(), tmp_path, "batch.837")
    assert ok and not errors, errors
    assert office.json("claim", "show", made["id"])["status"] == "submitted"
    again = office("claim", "batch", "--payer", made["payer_id"], "--format", "x12-837p", "-o", tmp_path / "b2")
    assert again.exit_code == 1 and "no ready claims" in again.stderr and not (tmp_path / "b2").exists()
    bad = office("claim", "batch", "--payer", made["payer_id"], "--format", "nope", "-o", tmp_path / "b3")
    assert bad.exit_code == 2 and bad.stderr.startswith("medsec: error: ")
