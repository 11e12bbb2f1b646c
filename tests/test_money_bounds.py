"""Money has bounds (issue 12): every amount people type is plain ASCII digits with at most two
decimals and at most 9,999,999.99, sums stay within their ceiling, and no amount already in the
store (however it got there) can make a balance, ledger or statement fail."""

import json
import re
from decimal import Decimal

import orjson
import pytest
from helpers.files import snapshot
from hypothesis import given
from hypothesis import strategies as st

from medsec.errors import InvalidInput
from medsec.money import AMOUNT_PATTERN, MAX_AMOUNT, MAX_TOTAL, dec, fmt, parse_amount, total

PLUGINS = {"MEDSEC_PLUGINS": "helpers.billingplugins"}
BAD = ["99999999999999999999999999.99", "1e309", "1e28", "1e100", "1e3", "1_000", "\uff11\uff10", "0.001",
       "NaN", "Infinity", "-Infinity", "10000000.00", "1,23", "12..5", "$", "", "12 50", "\u0661\u0660",
       "1\x1b[2J", "+-5", "5.", "0x10", "1" * 200_000]
GOOD = [("  12.50 ", "12.50"), ("$1,234.56", "1234.56"), ("9999999.99", "9999999.99"), ("9,999,999.99", "9999999.99"),
        (".5", "0.50"), ("+7", "7.00"), ("0012", "12.00"), ("\t3.1\t", "3.10")]


@pytest.fixture
def office(demo):
    demo.env.update(PLUGINS)
    return demo


def one_line_error(result, exit_code=2) -> str:
    assert result.exit_code == exit_code, (result.exit_code, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) in (1, 2) and lines[0].startswith("medsec: error: "), result.stderr  # an error, maybe a hint
    assert len(result.stderr) < 400, result.stderr
    return lines[0]


# -- parse_amount --------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", BAD, ids=[repr(b[:20]) for b in BAD])
def test_bad_amounts_are_refused_naming_the_field(text):
    with pytest.raises(InvalidInput) as caught:
        parse_amount(text, "--amount", allow_negative=True, allow_zero=True)
    assert caught.value.message.startswith("--amount '") and len(caught.value.message) < 200


@pytest.mark.parametrize("text,expected", GOOD)
def test_good_amounts(text, expected):
    assert str(parse_amount(text, "--amount")) == expected


def test_zero_and_negative_rules():
    for zero in ("0", "-0", "0.00", "$0"):
        with pytest.raises(InvalidInput, match="more than zero"):
            parse_amount(zero, "--amount")
        assert str(parse_amount(zero, "--amount", allow_zero=True)) == "0.00"  # never -0.00
    with pytest.raises(InvalidInput, match="must not be negative"):
        parse_amount("-5", "--amount")
    assert str(parse_amount("-$5", "--amount", allow_negative=True)) == "-5.00"
    assert str(parse_amount("-9999999.99", "x", allow_negative=True)) == "-9999999.99"
    with pytest.raises(InvalidInput, match="more than 9,999,999.99"):
        parse_amount("-10000000", "x", allow_negative=True)
    with pytest.raises(InvalidInput, match="more than two decimal places"):
        parse_amount("12.345", "x")


LANGUAGE = re.compile(AMOUNT_PATTERN, re.ASCII)
AMOUNT_LIKE = st.text(alphabet="0123456789,.$+- \t_eE\uff11\u0661NaInfity", max_size=16)


@given(st.one_of(st.text(max_size=30), AMOUNT_LIKE, st.from_regex(LANGUAGE, fullmatch=True)))
def test_parse_amount_accepts_exactly_the_pattern_and_raises_nothing_else(text):
    try:
        value = parse_amount(text, "--amount", allow_zero=True, allow_negative=True)
    except InvalidInput:
        match = LANGUAGE.fullmatch(text)
        assert match is None or Decimal(match.group(2).replace(",", "")) > MAX_AMOUNT
        return
    match = LANGUAGE.fullmatch(text)
    assert match is not None and abs(value) <= MAX_AMOUNT and value == value.quantize(Decimal("0.01"))
    assert value == (-1 if match.group(1) == "-" else 1) * Decimal(match.group(2).replace(",", ""))


@given(st.one_of(st.none(), st.text(max_size=60), st.integers(), st.floats(), st.decimals(), st.booleans(),
                 st.lists(st.integers(), max_size=2)))
def test_reading_a_stored_amount_never_raises(value):
    assert re.fullmatch(r"-?[0-9]+\.[0-9]{2}", fmt(value))
    assert re.fullmatch(r"-?[0-9]+\.[0-9]{2}", total([value, value, "9" * 40 + ".99"]))


def test_damaged_amounts_read_as_zero_and_long_ones_as_they_are():
    for value in ("abc", "NaN", "Infinity", "1e309", float("nan"), float("inf"), 1e300, "9" * 41, None, [], True):
        assert dec(value) == 0
    forty = "9" * 40 + ".99"
    assert fmt(forty) == forty and total([forty, forty]) == "1" + "9" * 40 + ".98"
    assert fmt("-0") == "0.00"


# -- through the commands ----------------------------------------------------------------------------
AMOUNT_COMMANDS = {
    "pay": ["bill", "pay", "P1", "--method", "cash", "--amount"],
    "adjust": ["bill", "adjust", "P1", "--reason", "fix", "--amount"],
    "charge": ["bill", "charge", "A1", "--code", "99213", "--dx", "I10", "--amount"],
}


@pytest.mark.parametrize("command", AMOUNT_COMMANDS)
def test_every_amount_option_refuses_bad_amounts_and_writes_nothing(office, command):
    before = snapshot(office.home)
    for text in BAD + ["-0"]:  # -0 is zero: refused by each (an adjustment may be negative, not zero)
        line = one_line_error(office(*AMOUNT_COMMANDS[command], text))
        assert line.startswith("medsec: error: --amount"), line
    assert snapshot(office.home) == before


def test_adjust_takes_negative_amounts_within_the_ceiling(office):
    assert office.json("bill", "adjust", "P1", "--amount", "-9999999.99", "--reason", "fix")["amount"] == \
        "-9999999.99"
    one_line_error(office("bill", "adjust", "P1", "--amount", "-10000000.00", "--reason", "fix"))
    one_line_error(office("bill", "adjust", "P1", "--amount", "-0", "--reason", "fix"))


def test_the_ceiling_and_sums(office, tmp_path):
    line = one_line_error(office("bill", "pay", "P1", "--method", "cash", "--amount", "10000000.00"))
    assert "more than 9,999,999.99" in line
    for _ in range(2):
        assert office.json("bill", "pay", "P1", "--method", "cash", "--amount", "9999999.99")["amount"] == \
            "9999999.99"
    bal = office.json("bill", "balance", "P1")
    assert Decimal(bal["balance"]) <= Decimal("-19999999.98") + sum(
        Decimal(c["amount"]) for c in office.json("bill", "charges", "P1"))
    assert office.json("bill", "ledger", "P1")[-1]["amount"] == "-9999999.99"
    for fmt_ in ("table", "json", "csv", "yaml"):
        office.ok("bill", "statement", "P1", "--format", fmt_)
    pdf = tmp_path / "s.pdf"
    assert office.ok("bill", "statement", "P1", "-o", pdf).stdout == ""
    assert pdf.read_bytes().startswith(b"%PDF-")
    # the account's payments may not pass MAX_TOTAL (ten maximal amounts)
    for _ in range(8):
        office.ok("bill", "pay", "P1", "--method", "cash", "--amount", "9999999.99")
    before = snapshot(office.home)
    line = one_line_error(office("bill", "pay", "P1", "--method", "cash", "--amount", "9999999.99"))
    assert f"more than {MAX_TOTAL:,}" in line and "P1's payments and adjustments" in line
    assert snapshot(office.home) == before
    assert office.json("bill", "adjust", "P1", "--amount", "-5", "--reason", "undo")["amount"] == "-5.00"


def test_a_charge_from_the_fee_schedule_is_bounded_too(office):
    before = snapshot(office.home)
    line = one_line_error(office("bill", "charge", "A1", "--code", "99213", "--dx", "I10", "--units", "10000000"))
    assert "units of 99213" in line and "more than 9,999,999.99" in line
    line = one_line_error(office("bill", "charge", "A1", "--code", "99213", "--dx", "I10",
                                 "--units", str(10 ** 30)))
    assert snapshot(office.home) == before


# -- stored amounts that are no amounts -------------------------------------------------------------
def records_file(home, record_id: str):
    """(path, data, key) of the store shard holding `record_id`."""
    for path in home.rglob("*.json"):
        rel = path.relative_to(home).parts
        if rel[0] in ("index", "meta", "audit", "cache"):
            continue
        try:
            data = json.loads(path.read_bytes())
        except ValueError:
            continue
        table = data.get("_default") if isinstance(data, dict) else None
        for key, record in (table or {}).items():
            if isinstance(record, dict) and record.get("id") == record_id:
                return path, data, key
    raise AssertionError(f"no {record_id} in the store")


def poke(home, record_id: str, **fields):
    """Write `fields` into a stored record by hand, as an older version or an editor might have."""
    path, data, key = records_file(home, record_id)
    data["_default"][key].update(fields)
    path.write_bytes(orjson.dumps(data))


STORED = ["abc", "NaN", "Infinity", "1e309", None, 1e300, "9" * 40 + ".99", "9" * 400, ["5"], {"x": 1}, True,
          "99999999999999999999999999.99"]


@pytest.mark.parametrize("value", STORED, ids=[repr(v)[:20] for v in STORED])
def test_no_stored_amount_breaks_balance_ledger_or_statement(office, tmp_path, value):
    charge = office.json("bill", "charge", "A1", "--code", "99213", "--dx", "I10")
    pid = charge["patient_id"]
    pay = office.json("bill", "pay", pid, "--method", "cash", "--amount", "20")
    second = office.json("bill", "pay", pid, "--method", "cash", "--amount", "5")
    poke(office.home, charge["id"], amount=value)
    poke(office.home, pay["id"], amount=value, unapplied=value,
         allocations=[{"charge_id": charge["id"], "amount": value}])
    poke(office.home, second["id"], amount="99999999999999999999999999.99")  # an older version took this
    for command in (["bill", "balance", pid], ["bill", "ledger", pid], ["bill", "statement", pid],
                    ["bill", "invoice", "A1"], ["bill", "charges", pid], ["report", "aging"]):
        for fmt_ in ("table", "json", "csv", "yaml"):
            result = office(*command, "--format", fmt_)
            assert result.exit_code == 0, (command, fmt_, result.stderr)
            assert "Traceback" not in result.stderr
    pdf = tmp_path / "statement.pdf"
    result = office("bill", "statement", pid, "-o", pdf)
    assert result.exit_code == 0 and result.stdout == "" and pdf.read_bytes().startswith(b"%PDF-")
    ledger = office("bill", "ledger", pid, "--json")
    rows = ledger.json()
    assert rows[-1]["balance"] and all(re.fullmatch(r"-?[0-9]+\.[0-9]{2}", r["balance"]) for r in rows)
    if fmt(value) == "0.00" and value is not None:
        assert "damaged amount" in ledger.stderr and charge["id"] in ledger.stderr
        assert any("[damaged amount" in r["description"] for r in rows)


# -- fees: fees.yaml and code import -------------------------------------------------------------------
# (YAML itself reads 1_000 as the integer 1000, a fee like any other)
@pytest.mark.parametrize("fee", ["1e309", "1e3", "'\uff11\uff10'", "10000000.00", "12.345", ".inf", "-5", "'NaN'"])
def test_a_bad_fee_in_fees_yaml_is_a_configuration_error(office, fee):
    (office.home / "fees.yaml").write_text(f"fees:\n  99213: {fee}\n")
    check = office("config", "check")
    assert check.exit_code != 0 and "fees.yaml" in check.stdout + check.stderr and "fees.99213" in \
        check.stdout + check.stderr
    before = snapshot(office.home)
    line = one_line_error(office("bill", "charge", "A1", "--code", "99213", "--dx", "I10"), exit_code=3)
    assert "fees.yaml" in line
    assert snapshot(office.home) == before


def codes_yaml(home) -> str:
    path = home / "codes.yaml"
    return path.read_text() if path.exists() else ""


@pytest.mark.parametrize("fee", ["1e309", "1e3", "1_000", "\uff11\uff10", "10000000.00", "NaN", "9" * 40])
def test_a_bad_fee_in_a_code_import_is_a_row_error(practice, tmp_path, fee):
    path = tmp_path / "codes.csv"
    path.write_text(f"code,description,fee\nA0428,Ambulance service,{fee}\n", encoding="utf-8")
    before = snapshot(practice.home)
    result = practice("code", "import", path)
    assert result.exit_code == 2 and "1 bad row(s)" in result.stderr and "codes.csv:2: fee" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(practice.home) == before


@pytest.mark.parametrize("description", ["Ambulance\x1b]52;c;ZXZpbA==\x07", "a\u202eb", "x" * 2001, "nul\x00"])
def test_a_bad_description_in_a_code_import_is_a_row_error(practice, tmp_path, description):
    path = tmp_path / "codes.csv"
    path.write_text("code,description,fee\n" + f'A0428,"{description}",10\n', encoding="utf-8")
    before = snapshot(practice.home)
    result = practice("code", "import", path)
    assert result.exit_code == 2 and "codes.csv:2: description" in result.stderr, result.stderr
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
    assert snapshot(practice.home) == before


def test_a_huge_csv_field_in_a_code_import_is_bad_input(practice, tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("code,description,fee\n" + f'A0428,"{"x" * 200_000}",10\n', encoding="utf-8")
    before = snapshot(practice.home)
    line = one_line_error(practice("code", "import", path))
    assert "codes.csv" in line and "field" in line
    assert snapshot(practice.home) == before


def test_a_good_fee_still_imports(practice, tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("code,description,fee\nA0428,Ambulance service,\"$1,350.5\"\n", encoding="utf-8")
    practice.ok("code", "import", path)
    assert "fee: '1350.50'" in codes_yaml(practice.home)


# -- remittances ---------------------------------------------------------------------------------------
def submitted_claim(office):
    office.ok("bill", "charge", "A1", "--code", "99213", "--dx", "I10")
    (made,) = office.json("claim", "create", "--appt", "A1")
    office.ok("claim", "validate", made["id"])
    office.ok("claim", "status", made["id"], "submitted")
    return office.json("claim", "show", made["id"])


def json_remit(claim, paid="125.00", charge=None, line_paid=None, cas=None, plb=None, total_paid=None):
    line = claim["lines"][0]
    return {"trace": "CHK1", "method": "CHK", "paid_date": "2026-12-05", "total_paid": total_paid or paid,
            "payer": {"name": claim["payer"]["name"], "id": claim["payer"]["payer_id"]}, "payee": {},
            "claims": [{"claim_id": claim["id"], "status_code": "1", "charge": charge or claim["total"], "paid": paid,
                        "patient_responsibility": "0.00", "payer_claim_id": "PCN", "remarks": [],
                        "adjustments": [{"group": "CO", "reason": "45", "amount": cas, "quantity": ""}] if cas else [],
                        "lines": [{"code": line["code"], "modifiers": line["modifiers"], "charge": line["amount"],
                                   "paid": line_paid or paid, "units": 1, "date": line["date"],
                                   "line_ref": str(line["line"]), "adjustments": [], "remarks": []}]}],
            "provider_adjustments": [{"reason": "L6", "reference": "", "amount": plb, "provider": "1",
                                      "period_end": "2026-12-31"}] if plb else []}


REMITS = {
    "CLP04": {"paid": "10000000.00"},
    "SVC03": {"line_paid": "1e3"},
    "CLP03": {"charge": "99999999999999999999999999.99"},
    "CAS": {"cas": "abc"},
    "PLB": {"plb": "NaN"},
    "BPR02": {"total_paid": "1" * 400},
}


@pytest.mark.parametrize("segment", REMITS)
def test_remittance_amounts_are_bounded_naming_the_segment(office, tmp_path, segment):
    claim = submitted_claim(office)
    path = tmp_path / "era.json"
    path.write_text(json.dumps(json_remit(claim, **REMITS[segment])))
    before = snapshot(office.home)
    line = one_line_error(office("claim", "post-remit", path))
    assert segment in line, line
    assert snapshot(office.home) == before


def test_a_claims_payments_are_bounded(office, tmp_path):
    claim = submitted_claim(office)
    poke(office.home, claim["id"], paid="99999900.00")  # as if many remittances had paid it
    path = tmp_path / "era.json"
    path.write_text(json.dumps(json_remit(claim, paid="100.00", line_paid="100.00")))
    before = snapshot(office.home)
    line = one_line_error(office("claim", "post-remit", path))
    assert f"{claim['id']}'s payments would come to 100000000.00, more than 99,999,999.99" in line
    assert snapshot(office.home) == before
    office.ok("bill", "balance", claim["patient_id"])


def test_x12_amounts_too_long_or_in_other_digits_name_the_segment(office, tmp_path):
    from medsec_x12 import read

    paid = (__import__("pathlib").Path(__file__).parent / "fixtures" / "x12" / "paid.835").read_text()
    for bad in ("1" * 40 + ".5", "\uff11\uff10\uff13.5"):
        with pytest.raises(ValueError, match=r"line 16: segment CLP: CLP04 \(paid\)"):
            read(paid.replace("CLP*C12*1*161*103.5*", f"CLP*C12*1*161*{bad}*").encode())
    path = tmp_path / "era.835"
    path.write_text(paid.replace("CLP*C12*1*161*103.5*", f"CLP*C12*1*161*{'1' * 40}*"))
    line = one_line_error(office("claim", "post-remit", path, "--input-format", "x12-835"))
    assert "segment CLP" in line


# -- -o: the file, and nothing else on stdout -----------------------------------------------------------
def test_dash_o_writes_the_file_and_prints_nothing_else(office, tmp_path):
    office.ok("bill", "charge", "A1", "--code", "99213", "--dx", "I10")
    pid = office.json("appt", "show", "A1")["patient_id"]
    for command in (["bill", "statement", pid], ["bill", "invoice", "A1"]):
        for name in ("doc.pdf", "doc.txt"):
            out = tmp_path / f"{command[1]}-{name}"
            result = office(*command, "-o", out)
            assert result.exit_code == 0 and result.stdout == "", result.stdout[:200]
            assert f"wrote {out}" in result.stderr and out.stat().st_size > 0
        as_json = office(*command, "-o", tmp_path / f"{command[1]}.pdf", "--json")
        assert as_json.exit_code == 0 and as_json.stdout == "", as_json.stdout[:200]
        assert "STATEMENT" in office.ok(*command).stdout or command[1] == "invoice"
