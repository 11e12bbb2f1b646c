"""Corrections through the real CLI: a charge twice on one visit, void and corrected charges (the
balance, the ledger, the next claim and the productivity report), draft claims rebuilt and deleted,
replacement (frequency 7) and void (8) claims judged by pyx12, and ISA15 P unless a test file."""

from decimal import Decimal

import pytest
import yaml
from helpers.backends import read_config, write_config
from helpers.files import snapshot
from helpers.x12 import pyx12_judge

pytestmark = pytest.mark.both_backends
REFERRER_NPI = "1987654328"  # valid (Luhn), not the practice's
TODAY = "2026-11-26"  # the demo's day: A1 is P140's visit with S1 today, checked out


@pytest.fixture
def office(demo):
    demo.env.update({"MEDSEC_PLUGINS": "helpers.billingplugins"})  # the billing tests' ICD-10 table
    return demo


def ledger_end(m, pid: str) -> str:
    return m.json("bill", "ledger", pid)[-1]["balance"]


def productivity(m) -> dict:
    return {r["provider"]: r for r in m.json("report", "productivity", "--from", TODAY, "--to", TODAY)}


def segments(path) -> list[str]:
    return path.read_text().split("~\n")


def remit_for(claim: dict, paid_lines: list[str], trace: str, payer_claim_id: str = "BS0001") -> bytes:
    """An 835 paying each line of `claim` (`paid_lines`, the rest a CO-45 write-off), CLP07 given."""
    body = ["BPR*C*{total}*C*CHK************20261205", f"TRN*1*{trace}*1047111222", "N1*PR*BAY STATE HEALTH PLAN",
            "N3*PO BOX 1001", "N4*BOSTON*MA*021050001", "PER*BL*EDI*TE*8005550199",
            f"N1*PE*MAPLE STREET FAMILY PRACTICE*XX*{claim['billing_provider']['npi']}", "LX*1"]
    paid = sum(Decimal(p) for p in paid_lines)
    sub = claim["subscriber"]
    body += [f"CLP*{claim['id']}*1*{claim['total']}*{paid}*0*12*{payer_claim_id}*11*1",
             f"NM1*QC*1*{claim['patient']['last']}*{claim['patient']['first']}****MI*{sub['member_id']}"]
    for line, line_paid in zip(claim["lines"], paid_lines, strict=True):
        body += [f"SVC*HC:{':'.join([line['code'], *line['modifiers']])}*{line['amount']}*{line_paid}",
                 f"DTM*472*{line['date'].replace('-', '')}"]
        written_off = Decimal(line["amount"]) - Decimal(line_paid)
        body += ([f"CAS*CO*45*{written_off}"] if written_off else []) + [f"REF*6R*{line['line']}"]
    segs = ["ISA*00*          *00*          *ZZ*BSHP1          *ZZ*MAPLESTFP      *261206*0900*^*00501*000000777*0*T*:",
            "GS*HP*BSHP1*MAPLESTFP*20261206*0900*777*X*005010X221A1", "ST*835*0001"]
    segs += [s.format(total=paid) if s.startswith("BPR") else s for s in body]
    segs += [f"SE*{len(body) + 2}*0001", "GE*1*777", "IEA*1*000000777"]
    return "".join(s + "~\n" for s in segs).encode()


def exported(m, claim_id: str, tmp_path, name: str, *extra) -> list[str]:
    """Validate and export one claim as an 837P that pyx12 must pass; its segments."""
    m.ok("claim", "validate", claim_id)
    out = tmp_path / name
    m.ok("claim", "export", claim_id, "--format", "x12-837p", "-o", out, *extra)
    ok, errors = pyx12_judge(out.read_bytes(), tmp_path, name)
    assert ok and not errors, errors
    return segments(out)


def adjudicated(m, tmp_path) -> dict:
    """C1 for A1 (99213 and 36415) sent in production and paid by an 835 with CLP07 BS0001."""
    m.ok("bill", "charge", "A1", "--code", "99213", "--dx", "E11.9", "--dx", "I10")
    m.ok("bill", "charge", "A1", "--code", "36415", "--dx", "E11.9")
    (made,) = m.json("claim", "create", "--appt", "A1")
    exported(m, made["id"], tmp_path, "original.837")
    claim = m.json("claim", "show", made["id"])
    assert claim["status"] == "submitted"
    early = m("claim", "replace", claim["id"])
    assert early.exit_code == 1 and "only a claim the payer adjudicated" in early.stderr
    era = tmp_path / "era.835"
    era.write_bytes(remit_for(claim, ["90.00", "18.00"], "CHK500"))
    m.ok("claim", "post-remit", era)
    return m.json("claim", "show", claim["id"])


# -- a charge twice on one visit ------------------------------------------------------------
def test_the_same_code_twice_on_a_visit_is_refused_unless_again(office):
    first = office.json("bill", "charge", "A1", "--code", "99213", "--dx", "I10")
    before = snapshot(office.home)
    twice = office("bill", "charge", "A1", "--code", "99213", "--dx", "I10")
    assert twice.exit_code == 1 and twice.stdout == ""
    assert f"A1 already has a 99213 charge ({first['id']}): not charged again" in twice.stderr
    assert "--again" in twice.stderr
    assert snapshot(office.home) == before  # nothing written
    office.ok("bill", "charge", "A1", "--code", "36415", "--dx", "I10")  # another code is no duplicate
    again = office.json("bill", "charge", "A1", "--code", "99213", "--dx", "I10", "--again")
    assert again["code"] == "99213" and again["id"] != first["id"]
    # a voided charge is no longer there to repeat
    office.ok("bill", "void", again["id"], "--reason", "charged twice")
    office.ok("bill", "void", first["id"], "--reason", "wrong visit")
    office.ok("bill", "charge", "A1", "--code", "99213", "--dx", "I10")


def test_a_place_of_service_is_two_digits(office):
    h1 = office.json("bill", "charge", "A1", "--code", "99213", "--dx", "I10", "--pos", "02")
    assert h1["place_of_service"] == "02"
    before = snapshot(office.home)
    for pos in ("x", "1", "111", "\u0661\u0661"):  # the last: two Arabic-Indic digits, no CMS code
        bad = office("bill", "charge", "A1", "--code", "36415", "--dx", "I10", "--pos", pos)
        assert bad.exit_code == 2 and "--pos" in bad.stderr and "2-digit" in bad.stderr, pos
        bad = office("bill", "correct", h1["id"], "--pos", pos)
        assert bad.exit_code == 2 and "--pos" in bad.stderr, pos
    assert snapshot(office.home) == before
    assert office.json("bill", "correct", h1["id"], "--pos", "11")["place_of_service"] == "11"


def test_no_money_goes_on_a_void_charge(office):
    pid = office.json("appt", "show", "A1")["patient_id"]
    h1 = office.json("bill", "charge", "A1", "--code", "99213", "--dx", "I10")
    office.ok("bill", "void", h1["id"], "--reason", "wrong visit")
    before = snapshot(office.home)
    for command in (("bill", "pay", pid, "--amount", "20.00", "--method", "card", "--charge", h1["id"]),
                    ("bill", "adjust", pid, "--amount", "5.00", "--reason", "courtesy", "--charge", h1["id"])):
        refused = office(*command)
        assert refused.exit_code == 1 and f"{h1['id']} is void" in refused.stderr, command
    assert snapshot(office.home) == before
    assert office.json("bill", "balance", pid)["credit"] == "0.00"
    fixed = office.json("bill", "correct", office.json("bill", "charge", "A1", "--code", "36415", "--dx",
                                                       "I10")["id"], "--units", "2")
    refused = office("bill", "pay", pid, "--amount", "5.00", "--method", "cash", "--charge", fixed["replaces"])
    assert refused.exit_code == 1 and f"apply it to {fixed['id']}" in refused.stderr


# -- void ---------------------------------------------------------------------------------------
def test_void_leaves_the_balance_ledger_next_claim_and_productivity(office):
    pid = office.json("appt", "show", "A1")["patient_id"]
    h1 = office.json("bill", "charge", "A1", "--code", "99213", "--dx", "I10")
    h2 = office.json("bill", "charge", "A1", "--code", "99213", "--dx", "I10", "--again")
    h3 = office.json("bill", "charge", "A1", "--code", "99213", "--dx", "I10", "--again")
    lab = office.json("bill", "charge", "A1", "--code", "36415", "--dx", "I10")
    assert productivity(office)["S1"]["charges"] == "393.00"  # the mistakes counted: 3 x 125 + 18
    # the old way round a mistake: a write-off of H3, and a copay taken on H2
    office.ok("bill", "adjust", pid, "--amount", "125.00", "--reason", "charged twice", "--charge", h3["id"])
    office.ok("bill", "pay", pid, "--amount", "20.00", "--method", "card", "--charge", h2["id"])
    assert office.json("bill", "balance", pid)["balance"] == "248.00"

    voided = office.json("bill", "void", h2["id"], "--reason", "charged twice")
    assert voided["status"] == "void" and voided["voided"]["reason"] == "charged twice"
    assert voided["voided"]["by"] and voided["voided"]["at"].startswith(TODAY)
    office.ok("bill", "void", h3["id"], "--reason", "charged three times")
    again = office("bill", "void", h3["id"], "--reason", "once more")
    assert again.exit_code == 1 and "already void" in again.stderr
    assert office("bill", "void", h1["id"], "--reason", "").exit_code == 2  # a reason is needed
    before = snapshot(office.home)
    for command in (("bill", "void", h1["id"]), ("claim", "void", "C1")):
        for reason in ("x" * 201, "two\nlines"):  # one line of a ledger, within the reason's limit
            refused = office(*command, "--reason", reason)
            assert refused.exit_code == 2 and "reason" in refused.stderr, (command, reason)
    assert snapshot(office.home) == before

    balance = office.json("bill", "balance", pid)
    # 125 + 18 left; the copay on H2 is credit now; the write-off of H3 went with H3 (no credit from it)
    assert (balance["balance"], balance["credit"]) == ("123.00", "0.00")
    assert ledger_end(office, pid) == balance["balance"]
    ledger = office.json("bill", "ledger", pid)
    assert [(r["id"], r["amount"]) for r in ledger if r["kind"] == "void"] == \
        [(h2["id"], "-125.00"), (h3["id"], "-125.00")]
    assert [c["id"] for c in office.json("bill", "charges", pid, "--status", "void")] == [h2["id"], h3["id"]]
    assert productivity(office)["S1"]["charges"] == "143.00"
    assert productivity(office)["S1"]["collections"] == "0.00"  # the copay is not on a live charge

    (claim,) = office.json("claim", "create", "--appt", "A1")
    full = office.json("claim", "show", claim["id"])
    assert [line["charge_id"] for line in full["lines"]] == [h1["id"], lab["id"]] and full["total"] == "143.00"
    office.ok("claim", "validate", claim["id"])  # the scrubber takes it


def test_void_on_a_draft_rebuilds_it_on_a_sent_claim_is_refused(office):
    pid = office.json("appt", "show", "A1")["patient_id"]
    h1 = office.json("bill", "charge", "A1", "--code", "99213", "--dx", "I10")
    h2 = office.json("bill", "charge", "A1", "--code", "36415", "--dx", "E11.9")
    (claim,) = office.json("claim", "create", "--appt", "A1")
    office.ok("claim", "validate", claim["id"])  # ready
    office.ok("bill", "void", h2["id"], "--reason", "no blood drawn")
    rebuilt = office.json("claim", "show", claim["id"])
    assert rebuilt["status"] == "draft" and rebuilt["total"] == "125.00"
    assert [line["charge_id"] for line in rebuilt["lines"]] == [h1["id"]] and rebuilt["diagnoses"] == ["I10"]
    assert "regenerated" in rebuilt["history"][-1]["note"]
    office.ok("claim", "validate", claim["id"])
    office.ok("claim", "status", claim["id"], "submitted")
    before = snapshot(office.home)
    refused = office("bill", "void", h1["id"], "--reason", "oops")
    assert refused.exit_code == 1 and f"{h1['id']} is on claim {claim['id']}, which is submitted" in refused.stderr
    assert f"medsec claim replace {claim['id']}" in refused.stderr and "medsec claim void" in refused.stderr
    assert office("bill", "correct", h1["id"], "--code", "99214").exit_code == 1
    assert snapshot(office.home) == before
    assert office.json("bill", "balance", pid)["insurance_pending"] == "125.00"


# -- correct ------------------------------------------------------------------------------------
def test_correct_replaces_the_charge_and_the_draft_takes_the_new_one(office):
    pid = office.json("appt", "show", "A1")["patient_id"]
    h1 = office.json("bill", "charge", "A1", "--code", "99213", "--modifier", "25", "--dx", "E11.9", "--dx", "I10")
    (claim,) = office.json("claim", "create", "--appt", "A1")
    new = office.json("bill", "correct", h1["id"], "--code", "99214")
    assert (new["replaces"], new["code"], new["amount"], new["modifiers"], new["dx"]) == \
        (h1["id"], "99214", "185.00", ["25"], ["E11.9", "I10"])  # the fee schedule's 99214; the rest kept
    old = [c for c in office.json("bill", "charges", pid) if c["id"] == h1["id"]][0]
    assert (old["status"], old["voided"]["reason"], old["replaced_by"]) == \
        ("void", f"corrected by {new['id']}", new["id"])
    full = office.json("claim", "show", claim["id"])
    assert [(line["charge_id"], line["code"], line["amount"]) for line in full["lines"]] == \
        [(new["id"], "99214", "185.00")]
    assert office.json("bill", "balance", pid)["balance"] == "185.00" == ledger_end(office, pid)
    units = office.json("bill", "correct", new["id"], "--units", "2", "--no-modifiers", "--amount", "300")
    assert (units["replaces"], units["units"], units["amount"], units["modifiers"]) == (new["id"], 2, "300.00", [])
    assert office.json("claim", "show", claim["id"])["total"] == "300.00"
    same = office("bill", "correct", units["id"], "--units", "2", "--amount", "300.00")
    assert same.exit_code == 2 and "nothing to correct" in same.stderr
    void = office("bill", "correct", h1["id"], "--units", "3")
    assert void.exit_code == 1 and "is void" in void.stderr


# -- draft claims -------------------------------------------------------------------------------
def test_regenerate_and_delete_a_draft(office):
    pid = office.json("appt", "show", "A1")["patient_id"]
    h1 = office.json("bill", "charge", "A1", "--code", "99213", "--dx", "I10")
    (claim,) = office.json("claim", "create", "--appt", "A1")
    gone = office.json("claim", "delete", claim["id"])
    assert gone["status"] == "deleted"
    assert claim["id"] not in [c["id"] for c in office.json("claim", "list", "--patient", pid)]
    assert [c["id"] for c in office.json("claim", "list", "--status", "deleted")] == [claim["id"]]
    assert [c["status"] for c in office.json("bill", "charges", pid)] == ["open"]
    assert office("claim", "delete", claim["id"]).exit_code == 1  # deleted already
    (second,) = office.json("claim", "create", "--appt", "A1")
    assert [line["charge_id"] for line in office.json("claim", "show", second["id"])["lines"]] == [h1["id"]]
    report = office.json("report", "claims", "--from", TODAY, "--to", TODAY)  # the deleted draft billed nothing
    assert [(r["status"], r["claims"], r["billed"]) for r in report] == [("draft", 1, second["total"])]
    # a patient address fixed after the draft was made: regenerate takes it
    office.ok("patient", "edit", pid, "--address", "9 Oak St")
    rebuilt = office.json("claim", "regenerate", second["id"])
    assert rebuilt["status"] == "draft"
    assert office.json("claim", "show", second["id"])["patient"]["address"]["street"] == "9 OAK ST"
    office.ok("claim", "validate", second["id"])
    office.ok("claim", "status", second["id"], "submitted")
    for command in (("claim", "regenerate", second["id"]), ("claim", "delete", second["id"])):
        result = office(*command)
        assert result.exit_code == 1 and "is submitted" in result.stderr


# -- replacement and void claims --------------------------------------------------------------
def test_replacement_claim_carries_frequency_7_the_payer_number_and_the_referral(office, tmp_path):
    pid = office.json("appt", "show", "A1")["patient_id"]
    assert office("referral", "receive", "--referrer", "Dr. Ray Chen", "--referrer-npi", "1234567890",
                  "--reason", "diabetes care", "--patient", pid).exit_code == 2  # fails the NPI check digit
    referral = office.json("referral", "receive", "--referrer", "Dr. Ray Chen", "--referrer-npi", REFERRER_NPI,
                           "--auth", "AUTH7781", "--reason", "diabetes care", "--patient", pid)
    office.ok("referral", "status", referral["id"], "appointment-scheduled", "--appt", "A1")

    claim = adjudicated(office, tmp_path)
    assert claim["referring_provider"] == {"first": "RAY", "last": "CHEN", "npi": REFERRER_NPI}
    assert claim["prior_authorization"] == "AUTH7781" and claim["status"] == "paid"
    text = segments(tmp_path / "original.837")
    assert text[0].endswith("*P*:")  # production by default
    assert f"NM1*DN*1*CHEN*RAY****XX*{REFERRER_NPI}" in text and "REF*G1*AUTH7781" in text
    assert text.index("REF*G1*AUTH7781") < text.index(f"NM1*DN*1*CHEN*RAY****XX*{REFERRER_NPI}")
    lab = claim["lines"][1]["charge_id"]

    refused = office("bill", "correct", lab, "--units", "2")
    assert refused.exit_code == 1 and f"medsec claim replace {claim['id']}" in refused.stderr
    replacement = office.json("claim", "replace", claim["id"], "--note", "two draws")
    full = office.json("claim", "show", replacement["id"])
    assert (full["frequency"], full["original_reference"], full["replaces"], full["status"]) == \
        ("7", "BS0001", claim["id"], "draft")
    assert office.json("claim", "show", claim["id"])["replaced_by"] == replacement["id"]
    twice = office("claim", "replace", claim["id"])
    assert twice.exit_code == 1 and f"already replaced by {replacement['id']}" in twice.stderr
    fixed = office.json("bill", "correct", lab, "--units", "2")  # on the draft replacement now
    full = office.json("claim", "show", replacement["id"])
    assert [line["charge_id"] for line in full["lines"]] == [claim["lines"][0]["charge_id"], fixed["id"]]
    assert full["total"] == "161.00"  # 125 + 2 x 18

    text = exported(office, replacement["id"], tmp_path, "replacement.837")
    clm = [s for s in text if s.startswith("CLM*")]
    assert clm == [f"CLM*{replacement['id']}*161***11:B:7*Y*A*Y*Y"]
    assert "REF*F8*BS0001" in text and "REF*G1*AUTH7781" in text
    assert text.index("REF*F8*BS0001") == text.index(clm[0]) + 1
    assert f"NM1*DN*1*CHEN*RAY****XX*{REFERRER_NPI}" in text
    assert office.json("claim", "show", replacement["id"])["status"] == "submitted"


def test_void_claim_carries_frequency_8_and_frees_its_charges(office, tmp_path):
    claim = adjudicated(office, tmp_path)
    assert claim["referring_provider"] is None and claim["prior_authorization"] == ""
    text = segments(tmp_path / "original.837")
    assert not any(s.startswith(("NM1*DN", "REF*G1", "REF*F8")) for s in text)
    assert office("claim", "void", claim["id"]).exit_code == 2  # --reason is required
    void = office.json("claim", "void", claim["id"], "--reason", "billed to the wrong patient")
    full = office.json("claim", "show", void["id"])
    assert (full["frequency"], full["original_reference"], full["replaces"], full["void_reason"]) == \
        ("8", "BS0001", claim["id"], "billed to the wrong patient")
    assert full["lines"] == claim["lines"] and full["total"] == claim["total"]
    text = exported(office, void["id"], tmp_path, "void.837")
    assert f"CLM*{void['id']}*143***11:B:8*Y*A*Y*Y" in text and "REF*F8*BS0001" in text
    # the claim is voided: its charges may be voided too, and are unbilled no more for it
    for line in claim["lines"]:
        office.ok("bill", "void", line["charge_id"], "--reason", "wrong patient")
    assert office.json("bill", "balance", claim["patient_id"])["balance"] == ledger_end(office, claim["patient_id"])
    # money taken for the claim now goes to no void charge: it is credit
    paid = office.json("bill", "pay", claim["patient_id"], "--amount", "10.00", "--method", "cash",
                       "--claim", claim["id"])
    assert (paid["allocations"], paid["unapplied"]) == ([], "10.00")


def test_no_payer_claim_number_refuses_replace_and_void(office, tmp_path):
    office.ok("bill", "charge", "A1", "--code", "99213", "--dx", "I10")
    (made,) = office.json("claim", "create", "--appt", "A1")
    office.ok("claim", "validate", made["id"])
    office.ok("claim", "status", made["id"], "submitted")
    office.ok("claim", "status", made["id"], "denied", "--note", "denied on paper")
    for command in (("claim", "replace", made["id"]), ("claim", "void", made["id"], "--reason", "x")):
        result = office(*command)
        assert result.exit_code == 1 and "no payer claim number" in result.stderr and "835" in result.stderr


# -- ISA15 ------------------------------------------------------------------------------------------
def test_test_files_never_mark_claims_submitted(office, tmp_path):
    office.ok("bill", "charge", "A1", "--code", "99213", "--dx", "I10")
    (made,) = office.json("claim", "create", "--appt", "A1")
    office.ok("claim", "validate", made["id"])
    out = tmp_path / "test.837"
    result = office.json("claim", "export", made["id"], "--format", "x12-837p", "-o", out, "--test", "--json")
    assert (result["usage"], result["marked_submitted"]) == ("T", False)
    assert segments(out)[0].endswith("*T*:") and pyx12_judge(out.read_bytes(), tmp_path, "t.837")[0]
    assert office.json("claim", "show", made["id"])["status"] == "ready"
    old = office("claim", "export", made["id"], "--format", "x12-837p", "-o", out, "--usage", "T")
    assert old.exit_code == 0 and "--usage T|P is deprecated: use --test" in old.stderr
    assert office.json("claim", "show", made["id"])["status"] == "ready"
    assert office("claim", "export", made["id"], "--format", "x12-837p", "-o", out, "--test",
                  "--usage", "P").exit_code == 2

    practice = yaml.safe_load(read_config(office, "practice.yaml"))
    practice.setdefault("billing", {})["usage"] = "T"
    write_config(office, "practice.yaml", yaml.safe_dump(practice))
    batch = office.json("claim", "batch", "--payer", "BAYSTATE", "--format", "x12-837p", "-o", out, "--json")
    assert (batch["usage"], batch["marked_submitted"]) == ("T", False) and segments(out)[0].endswith("*T*:")
    assert office.json("claim", "show", made["id"])["status"] == "ready"
    practice["billing"]["usage"] = "X"
    with pytest.raises(Exception, match="billing.usage must be T"):
        write_config(office, "practice.yaml", yaml.safe_dump(practice))
        office.ok("claim", "list")

    practice["billing"].pop("usage")
    write_config(office, "practice.yaml", yaml.safe_dump(practice))
    real = office.json("claim", "export", made["id"], "--format", "x12-837p", "-o", out, "--json")
    assert (real["usage"], real["marked_submitted"]) == ("P", True) and segments(out)[0].endswith("*P*:")
    assert office.json("claim", "show", made["id"])["status"] == "submitted"
