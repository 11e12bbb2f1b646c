"""Bounded input in communications and workflows: the domain functions themselves (as a plugin calls
them) refuse control characters and over-long text naming the field; HL7 imports refuse them naming
the segment; malformed ids, far windows and gateway answers never make an internal error; `-o` keeps
stdout empty. Every refusal leaves the data directory as it was."""

import pytest
from helpers.files import snapshot

from medsec.communications import calls, faxes, mail, memos, messaging
from medsec.context import AppContext
from medsec.errors import InvalidInput
from medsec.plugin_types import Channel, DeliveryError, Message
from medsec.workflows import labs, referrals, refills

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Count 1 >> endobj\n" \
      b"3 0 obj << /Type /Page >> endobj\n%%EOF\n"
HOSTILE = {
    "ESC": "Ana\x1b[2J",
    "OSC 52": "\x1b]52;c;cm0gLXJmIH4=\x07",
    "CR": "fine\rforged",
    "NUL": "Ana\x00Lopez",
    "U+202E": "Ana\u202eepyt",
    "DEL": "Ana\x7f",
    "C1 CSI": "Ana\x9b31m",
}
CONTROLS = ("\x1b", "\x07", "\r", "\x00", "\u202e", "\x7f", "\x9b")


@pytest.fixture
def office(front_office, tmp_path):
    """The workflow office with T1 (a call), RF1 (a referral), RX1 (a refill request), LB1 (a lab order)."""
    front_office.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-20 09:00", "--type", "follow-up",
                    "--allow-past")
    front_office.ok("call", "log", "--from", "P1", "--reason", "lab results?")
    front_office.ok("referral", "add", "P1", "--to", "Boston Cardiology", "--reason", "chest pain", "--dx", "I10",
                    "--address", "1 Main St, Boston")
    front_office.ok("refill", "request", "P1", "--drug", "Atorvastatin", "--dose", "20 mg", "--pharmacy", "CVS",
                    "--via", "phone", "--for", "S1")
    front_office.ok("lab", "order", "P1", "--physician", "S1", "--dx", "E78.5", "--facility", "North Lab",
                    "--test", "Lipid panel")
    (tmp_path / "scan.pdf").write_bytes(PDF)
    front_office.scan = tmp_path / "scan.pdf"
    return front_office


@pytest.fixture
def app(office) -> AppContext:
    """The context a plugin's code gets: domain functions are called directly, no command line in between."""
    return AppContext(data_dir=str(office.home), user="S1")


def clean_refusal(error: InvalidInput, field: str) -> None:
    """One line naming the field, quoting the value escaped and short."""
    assert field in error.message, error.message
    assert not any(c in error.message for c in CONTROLS + ("\n",)), repr(error.message)
    assert len(error.message) < 300, error.message


# What each domain function stores as free text, called as a plugin would: (field named, call with the value).
def _calls(office):
    return {
        "--reason": lambda app, v: calls.log_call(app, caller="617-555-0100", reason=v),
        "--phone": lambda app, v: calls.log_call(app, caller=v, reason="question"),
        "--note": lambda app, v: calls.return_call(app, "T1", v),
        "--note ": lambda app, v: calls.close(app, "T1", v),
        "--subject": lambda app, v: faxes.receive(app, str(office.scan), sender="617-555-0300", subject=v),
        "--subject ": lambda app, v: mail.receive(app, sender="Boston Radiology", subject=v),
        "--sender": lambda app, v: mail.receive(app, sender=v, subject="MRI report"),
        "--subject  ": lambda app, v: memos.new_memo(app, template="memo", to=["S1"], subject=v,
                                                     variables={"body": "x"}),
        "--var body": lambda app, v: memos.new_memo(app, template="memo", to=["S1"], subject="s",
                                                    variables={"body": v}),
        "--specialist": lambda app, v: referrals.add(app, "P1", to=v, reason="r", dx=["I10"]),
        "--reason ": lambda app, v: referrals.add(app, "P1", to="Cardiology", reason=v, dx=["I10"]),
        "--address": lambda app, v: referrals.add(app, "P1", to="Cardiology", reason="r", dx=["I10"], address=v),
        "--referrer": lambda app, v: referrals.receive(app, sender=v, reason="r", patient_id="P1"),
        "--auth": lambda app, v: referrals.send(app, "RF1", auth_number=v),
        "--drug": lambda app, v: refills.request(app, "P1", drug=v, dose="d", pharmacy="p", via="phone"),
        "--pharmacy": lambda app, v: refills.request(app, "P1", drug="d", dose="d", pharmacy=v, via="phone"),
        "--note  ": lambda app, v: refills.decide(app, "RX1", True, v),
        "--facility": lambda app, v: labs.order(app, "P1", facility=v, test="CBC", physician="S1", dx=["E78.5"]),
        "--test": lambda app, v: labs.order(app, "P1", facility="North Lab", test=v, physician="S1", dx=["E78.5"]),
        "--note   ": lambda app, v: labs.set_status(app, "LB1", "cancelled", note=v),
    }


FIELDS = list(_calls(None))


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("kind", HOSTILE)
def test_domain_functions_refuse_control_characters(office, app, field, kind):
    before = snapshot(office.home)
    with pytest.raises(InvalidInput) as refused:
        _calls(office)[field](app, HOSTILE[kind])
    clean_refusal(refused.value, field.strip())
    assert snapshot(office.home) == before


@pytest.mark.parametrize("field", FIELDS)
def test_domain_functions_refuse_over_long_text(office, app, field):
    before = snapshot(office.home)
    with pytest.raises(InvalidInput) as refused:
        _calls(office)[field](app, "w" * 100_000)
    clean_refusal(refused.value, field.strip())
    assert "100000 characters" in refused.value.message
    assert snapshot(office.home) == before


def test_a_file_name_with_control_characters_is_not_stored(office, app, tmp_path):
    odd = tmp_path / "scan\x1b]0;owned\x07.pdf"
    odd.write_bytes(PDF)
    before = snapshot(office.home)
    for call in (lambda: faxes.receive(app, str(odd), sender="617-555-0300"),
                 lambda: mail.receive(app, sender="Radiology", subject="MRI", scan=str(odd)),
                 lambda: labs.attach_report(app, "LB1", str(odd))):
        with pytest.raises(InvalidInput) as refused:
            call()
        clean_refusal(refused.value, "file name")
    assert snapshot(office.home) == before


def test_bodies_keep_their_lines_and_single_lines_refuse_them(office, app):
    call = calls.log_call(app, caller="617-555-0100", reason="line one\r\nline two\n")
    assert call["reason"] == "line one\nline two"  # CRLF as LF, trimmed
    assert labs.order(app, "P1", facility="North Lab", test="CBC", note="fast\nfrom midnight", physician="S1",
                      dx=["E78.5"])["note"] == \
        "fast\nfrom midnight"
    with pytest.raises(InvalidInput) as refused:
        refills.request(app, "P1", drug="Atorvastatin\nand more", dose="d", pharmacy="p", via="phone")
    clean_refusal(refused.value, "--drug")


def test_through_the_command_line_the_same_rule(office):
    before = snapshot(office.home)
    for args in (["call", "log", "--patient", "P1", "--reason", "x" * 20_001],
                 ["referral", "add", "P1", "--specialist", "y" * 201, "--reason", "r", "--dx", "I10"],
                 ["lab", "order", "P1", "--physician", "S1", "--dx", "E78.5", "--facility", "North Lab",
                  "--test", "z" * 201]):
        refused = office(*args)
        assert refused.exit_code == 2 and refused.stdout == ""
        assert len(refused.stderr.strip().splitlines()) == 1 and len(refused.stderr) < 400
    assert snapshot(office.home) == before


# -- HL7 imports ----------------------------------------------------------------------------------------
def hl7(pid_name="Lopez^Ana", test="57698-3^Lipid panel^LN", value="212", control="NL0001", value_type="NM"):
    """An ORU^R01 result for LB1 with the parts under test replaced."""
    return "\r".join([
        f"MSH|^~\\&|NORTHLAB|NORTH LAB|MEDSEC|CLINIC|20261127093000||ORU^R01|{control}|P|2.5.1",
        f"PID|1||P1^^^CLINIC^MR||{pid_name}||19600110|F",
        "ORC|RE|LB1|NL-88001||CM",
        f"OBR|1|LB1|NL-88001|{test}|||20261127071500||||||||||||||||||F",
        f"OBX|1|{value_type}|2093-3^Cholesterol^LN||{value}|mg/dL|<200|H|||F|||20261127071500",
    ]).encode() + b"\r"


HL7_CASES = {
    "ESC in the patient's name": (hl7(pid_name="Lopez\x1b[2J^Ana"), "segment 2 (PID)", "PID-5"),
    "OSC 52 in the value": (hl7(value="\x1b]52;c;cm0gLXJmIH4=\x07"), "segment 5 (OBX)", "OBX-5"),
    "NUL in the test": (hl7(test="57698-3^Lipid\x00panel^LN"), "segment 4 (OBR)", "OBR-4"),
    "U+202E in the control id": (hl7(control="NL\u202e0001"), "segment 1 (MSH)", "MSH-10"),
    "ESC as an HL7 hex escape": (hl7(value="212\\X1B\\[2J"), "segment 5 (OBX)", "OBX-5"),
    "a gigabyte by repetition": (hl7(value="a\\.sp999999999\\b", value_type="FT"), "segment 5 (OBX)", "escape"),
    "a repetition that is no number": (hl7(pid_name="Lopez\\.spx\\^Ana"), "segment 2 (PID)", "escape"),
    "an escape python-hl7 only logs": (hl7(value="a\\Zfoo\\b"), "segment 5 (OBX)", "escape"),
    "an over-long name": (hl7(pid_name="L" * 201 + "^Ana"), "segment 2 (PID)", "PID-5"),
    "an over-long value": (hl7(value="9" * 20_001, value_type="FT"), "segment 5 (OBX)", "OBX-5"),
    "broken separators": (hl7().replace(b"^~\\&", b"^&", 1), "cannot parse", "MSH"),
}


@pytest.mark.parametrize("case", HL7_CASES)
def test_hl7_import_refuses_hostile_fields_naming_the_segment(office, tmp_path, case):
    data, segment, field = HL7_CASES[case]
    path = tmp_path / "results.hl7"
    path.write_bytes(data)
    before = snapshot(office.home)
    refused = office("lab", "import", path)
    assert refused.exit_code == 2, refused.stderr
    assert refused.stdout == "" and "internal error" not in refused.stderr
    assert segment in refused.stderr and field in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and len(refused.stderr) < 500
    assert not any(c in refused.stderr for c in CONTROLS)
    assert snapshot(office.home) == before


def test_hl7_line_breaks_in_formatted_text_are_kept_as_newlines(office, tmp_path):
    path = tmp_path / "results.hl7"
    path.write_bytes(hl7(value="Fasting specimen.\\.br\\Repeat in 6 months.", value_type="FT"))
    office.ok("lab", "import", path)
    (observation,) = office.json("lab", "show", "LB1")["observations"]
    assert observation["value"] == "Fasting specimen.\nRepeat in 6 months."


# -- ids, windows, gateways ---------------------------------------------------------------------------
MALFORMED = ["{p}\u00b2", "{p}" + "9" * 5000, "{p}-1", "{p}0", "{p}00001", "{p}1 OR 1=1", ""]
SHOWS = [("referral", "RF"), ("refill", "RX"), ("lab", "LB"), ("lab", "LR"), ("call", "T"), ("fax", "F"),
         ("memo", "M"), ("mail", "L")]


@pytest.mark.parametrize(("group", "prefix"), SHOWS)
def test_malformed_ids_are_bad_input_not_internal_errors(office, group, prefix):
    for pattern in MALFORMED:
        refused = office(group, "show", pattern.format(p=prefix))
        assert refused.exit_code == 2, (pattern, refused.stderr)
        assert "internal error" not in refused.stderr and len(refused.stderr.splitlines()) == 1
        assert len(refused.stderr) < 300
    missing = office(group, "show", f"{prefix}999")
    assert missing.exit_code == 1 and f"{prefix}999" in missing.stderr


def test_ids_typed_in_other_commands(office):
    before = snapshot(office.home)
    for args in (["call", "log", "--from", "P\u00b2", "--reason", "x"],
                 ["call", "close", "T" + "1" * 5000],
                 ["referral", "status", "RF\u00b2", "closed"],
                 ["refill", "approve", "RX-1"],
                 ["lab", "match", "LR1", "--order", "LB\u00b9"],
                 ["fax", "assign", "F1", "--patient", "P00001"]):
        refused = office(*args)
        assert refused.exit_code == 2, (args, refused.stderr)
        assert "internal error" not in refused.stderr
    assert snapshot(office.home) == before


def test_mail_to_list_with_control_characters_names_the_line(office, tmp_path):
    ids = tmp_path / "ids.csv"
    ids.write_text("id\nP1\nP2\x1b[2J\n")
    refused = office("mail", "send", "--to-list", ids, "--template", "recall-letter")
    assert refused.exit_code == 2 and "line 3" in refused.stderr and "\x1b" not in refused.stderr


@pytest.mark.parametrize("within", ["9" * 5000 + "d", "99999999999h", "400d", "0h"])
def test_reminder_window_is_bounded(office, within):
    before = snapshot(office.home)
    refused = office("remind", "send", "--within", within)
    assert refused.exit_code == 2 and "--within" in refused.stderr and "internal error" not in refused.stderr
    assert snapshot(office.home) == before


def test_lab_due_date_is_within_the_horizon(office):
    refused = office("lab", "order", "P1", "--physician", "S1", "--dx", "E78.5", "--facility", "North Lab",
                     "--test", "CBC", "--due", "+99999y")
    assert refused.exit_code == 2 and "--due" in refused.stderr


def test_report_range_is_bounded(office):
    refused = office("report", "noshows", "--from", "1900-01-01", "--to", "2026-11-26")
    assert refused.exit_code == 2 and "internal error" not in refused.stderr


def test_gateway_answers_are_stored_escaped_and_short(app):
    def answering(answer):
        return messaging.Route("odd", Channel("odd", ("sms",), "test", lambda m, s, d: answer), {})

    def failing(message, settings, data_dir):
        raise DeliveryError("busy\x1b]0;owned\x07" + "!" * 10_000, temporary=True)

    message = Message(kind="sms", to="617-555-0100", subject="", body="hello")
    delivered = messaging.deliver(app, answering("id-\x1b[2J" + "x" * 10_000), message)
    assert "\x1b" not in delivered and delivered.startswith("id-\\x1b[2J") and len(delivered) < 600
    with pytest.raises(DeliveryError) as failed:
        messaging.deliver(app, messaging.Route("odd", Channel("odd", ("sms",), "test", failing), {}), message)
    assert failed.value.temporary and "\x1b" not in str(failed.value) and len(str(failed.value)) < 600


# -- -o: the file, and nothing on stdout -------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "json", "html", "table"])
def test_report_to_a_file_prints_nothing_on_stdout(office, tmp_path, fmt):
    target = tmp_path / f"report.{fmt}"
    done = office.ok("report", "noshows", "--from", "2026-11-01", "--to", "2026-11-26", "--format", fmt,
                     "-o", target)
    assert done.stdout == "" and target.is_file() and "wrote" in done.stderr
    if fmt != "table":  # an empty table is no text at all
        assert target.stat().st_size > 0


def test_html_report_without_a_file_is_refused_before_it_runs(office):
    before = snapshot(office.home)
    refused = office("report", "noshows", "--format", "html")
    assert refused.exit_code == 2 and refused.stdout == "" and "-o FILE" in refused.stderr
    assert snapshot(office.home) == before
