"""medsec.plugin_api, the helpers plugins may rely on, against real behaviour:
a loopback HTTP gateway and SMTP server, real files, a real practice's records,
and a third-party report plugin that uses nothing but the public API."""

import importlib
import os
import stat
import sys
import textwrap
import uuid
from datetime import date
from pathlib import Path

import pytest
from helpers.smtp import Keeper, smtp_server

import medsec
from medsec import plugin_api
from medsec.context import AppContext
from medsec.plugin_api import (
    DeliveryError,
    InvalidInput,
    Message,
    appointments,
    calls,
    claims,
    delivery_id,
    http_post,
    patient,
    patients,
    positive_number,
    secret,
    send_email,
    to_e164,
    words,
    write_output,
    write_private_file,
    write_private_files,
)
from medsec.plugins import collect, get_plugin_manager


def test_version_and_every_public_name_is_documented():
    assert medsec.PLUGIN_API_VERSION == 2
    assert len(set(plugin_api.__all__)) == len(plugin_api.__all__)
    guide = (Path(__file__).resolve().parents[1] / "docs" / "plugin-api.md").read_text(encoding="utf-8")
    for name in plugin_api.__all__:
        assert (getattr(plugin_api, name).__doc__ or "").strip(), f"{name} has no docstring"
        assert f"`{name}" in guide, f"{name} is not in docs/plugin-api.md"


def test_medsec_plugins_shows_the_api_version_and_keeps_its_json_list(practice):
    table = practice.ok("plugins")
    assert table.stderr == f"plugin API version {medsec.PLUGIN_API_VERSION}\n"
    listed = practice.json("plugins")
    assert isinstance(listed, list) and {"name", "source", "registers", "hooks"} <= set(listed[0])


# -- settings ---------------------------------------------------------------------------
def test_secret_reads_the_variable_a_setting_names(monkeypatch):
    monkeypatch.setenv("TEST_API_TOKEN", "tok-9")
    assert secret({"token_env": "TEST_API_TOKEN"}, "token_env", "pager") == "tok-9"
    assert secret({}, "token_env", "pager") is None


def test_an_unset_secret_is_permanent_and_named(monkeypatch):
    monkeypatch.delenv("TEST_API_UNSET", raising=False)
    with pytest.raises(DeliveryError) as caught:
        secret({"token_env": "TEST_API_UNSET"}, "token_env", "pager")
    assert str(caught.value) == "pager: environment variable TEST_API_UNSET (named by token_env) is not set"
    assert caught.value.temporary is False


def test_positive_number():
    assert positive_number({}, "timeout", 30, "pager") == 30
    assert positive_number({"timeout": "2.5"}, "timeout", 30, "pager") == 2.5
    for bad in ("soon", 0, -1, None):
        with pytest.raises(DeliveryError) as caught:
            positive_number({"timeout": bad}, "timeout", 30, "pager")
        assert str(caught.value) == f"pager: setting timeout must be a positive number, not {bad!r}"
        assert caught.value.temporary is False


# -- phone numbers ------------------------------------------------------------------------
@pytest.mark.parametrize("number, e164", [
    ("617-555-0101", "+16175550101"), ("1 (617) 555-0101", "+16175550101"),
    ("+1 617.555.0101", "+16175550101"), ("+44 20 7946 0958", "+442079460958"),
])
def test_to_e164(number, e164):
    assert to_e164(number, "pager") == e164


@pytest.mark.parametrize("number", ["call me", "", None, "555-0101", "012-345-6789", "617-555-0101 x12",
                                    "+0 123 456 789"])
def test_not_a_phone_number_is_permanent(number):
    with pytest.raises(DeliveryError) as caught:
        to_e164(number, "pager")
    assert str(caught.value) == f"pager: {number!r} is not a phone number" and caught.value.temporary is False


# -- HTTP (the `gateway` fixture: helpers.gateway on 127.0.0.1) ------------------------------
def test_http_post_sends_and_returns_the_json_answer(gateway):
    answer = http_post(gateway.url + "/send", b'{"to": "+16175550101"}', {"Content-Type": "application/json",
                       "Authorization": "Bearer tok"}, 5, "pager")
    assert answer == {"id": "msg-1"}
    (request,) = gateway.requests
    assert (request["method"], request["path"], request["body"]) == ("POST", "/send", b'{"to": "+16175550101"}')
    assert request["headers"]["Authorization"] == "Bearer tok"
    gateway.answer = (202, b"queued")
    assert http_post(gateway.url, b"x", {}, 5, "pager") == {}  # accepted, not JSON


@pytest.mark.parametrize("status, temporary", [(400, False), (404, False), (408, True), (429, True),
                                               (500, True), (503, True), (302, False)])
def test_http_post_failures_say_whether_to_retry(gateway, status, temporary):
    gateway.answer = (status, {"message": "the gateway says no"})
    with pytest.raises(DeliveryError) as caught:
        http_post(gateway.url, b"x", {}, 5, "pager")
    assert str(caught.value) == f"pager: gateway answered {status}: the gateway says no"
    assert caught.value.temporary is temporary
    assert len(gateway.requests) == 1  # a redirect is not followed


def test_http_post_timeout_is_temporary(gateway):
    gateway.answer = ("slow", None)
    with pytest.raises(DeliveryError) as caught:
        http_post(gateway.url, b"x", {}, 0.3, "pager")
    assert caught.value.temporary is True and str(caught.value).startswith("pager: gateway unreachable")


@pytest.mark.parametrize("url", [None, "", "file:///etc/passwd", "ftp://example.org/x"])
def test_http_post_takes_only_http_urls(url):
    with pytest.raises(DeliveryError) as caught:
        http_post(url, b"x", {}, 5, "pager")
    assert str(caught.value) == f"pager: setting url must be an http(s) URL, not {url!r}"
    assert caught.value.temporary is False


def test_delivery_id():
    assert delivery_id({"sid": "SM1", "status": "queued"}, b"x", "pager") == "SM1"
    assert delivery_id({"id": ""}, b"body", "pager") == delivery_id({}, b"body", "pager")
    hashed = delivery_id({}, b"body", "pager")  # accepted without an id: a hash of what was sent
    assert hashed.startswith("pager-") and hashed != delivery_id({}, b"other", "pager")


# -- SMTP (helpers.smtp: aiosmtpd on 127.0.0.1) -------------------------------------------------
@pytest.fixture
def mailserver():
    """A Keeper that refuses nobody@refused.example, its server running; `settings` to reach it."""
    keeper = Keeper(refuse={"nobody@refused.example": "550 5.1.1 no such mailbox"})
    with smtp_server(keeper) as controller:
        keeper.settings = {"host": "127.0.0.1", "port": controller.port, "security": "none",
                           "from": "Front Desk <frontdesk@clinic.example>", "timeout": 10}
        yield keeper


def test_send_email_delivers_and_labels_failures(mailserver):
    page = Message(kind="fax", to="16175550101@fax.example", subject="Referral", body="",
                   attachments=[("page.pdf", "application/pdf", b"%PDF-1.4\n")])
    message_id = send_email(page, mailserver.settings, "fax")
    ((_sender, recipients, content),) = mailserver.mails
    assert recipients == ["16175550101@fax.example"] and message_id.encode() in content
    page.to = "nobody@refused.example"
    with pytest.raises(DeliveryError) as caught:
        send_email(page, mailserver.settings, "fax")
    assert str(caught.value).startswith("fax: 127.0.0.1:") and "refused recipient nobody@refused.example: 550" \
        in str(caught.value)
    assert caught.value.temporary is False
    with pytest.raises(DeliveryError) as caught:
        send_email(page, {**mailserver.settings, "from": "front desk"}, "fax")
    assert str(caught.value) == "fax: setting 'from' must be an email address, not 'front desk'"


# -- files ----------------------------------------------------------------------------------
def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_write_private_file_replaces_whole_and_private(tmp_path):
    path = tmp_path / "cache" / "deep" / "table.json"
    write_private_file(str(path), b"one")
    write_private_file(str(path), b"two")
    assert path.read_bytes() == b"two"
    assert mode(path) == 0o600 and mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700
    assert sorted(os.listdir(path.parent)) == ["table.json"]  # no temp file left behind


def test_write_private_files_writes_every_file(tmp_path):
    folder = tmp_path / "index"
    write_private_files(str(folder), {"A0.json": b"{}", "search.txt": b"A00\n"})
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == {"A0.json": b"{}", "search.txt": b"A00\n"}
    assert {mode(p) for p in folder.iterdir()} == {0o600}
    for bad in ("../escape.json", "sub/file.json", ".."):
        with pytest.raises(ValueError):
            write_private_files(str(folder), {bad: b"x"})
    assert not (tmp_path / "escape.json").exists()


def test_write_output_keeps_out_of_the_data_directory(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    written = write_output(str(tmp_path / "out.csv"), b"a,b\n", data_dir=str(data_dir))
    assert written == str(tmp_path / "out.csv") and mode(written) == 0o600
    with pytest.raises(InvalidInput):
        write_output(str(data_dir / "patients.csv"), b"x", data_dir=str(data_dir))


# -- checks and text ------------------------------------------------------------------------
def test_checks_and_words():
    assert plugin_api.npi_valid("1234567893") and not plugin_api.npi_valid("1234567890")
    assert plugin_api.email_valid("ada@example.org") and not plugin_api.email_valid("ada at example")
    assert words("Quiñonez-Zyzzyva, MARÍA") == ["quinonez", "zyzzyva", "maria"]


# -- reading records --------------------------------------------------------------------------
@pytest.fixture
def clinic(practice):
    """Dr A (S1) and Dr B (S2), weekday mornings; P1, P2; three visits. Today is Thu 2026-11-26."""
    for name, npi in (("Dr A", "1234567893"), ("Dr B", "1245319599")):
        practice.ok("staff", "add", "--name", name, "--role", "physician", "--npi", npi)
    for staff in ("S1", "S2"):
        practice.ok("staff", "hours", staff, "--day", "mon-fri", "--from", "08:00", "--to", "12:00")
    practice.ok("patient", "add", "--first", "Ana", "--last", "Lopez", "--dob", "1980-02-03")
    practice.ok("patient", "add", "--first", "Bo", "--last", "Lind", "--dob", "1971-05-06")
    for who, provider, at in (("P1", "S1", "2026-11-30 10:00"), ("P2", "S2", "2026-11-30 09:00"),
                              ("P1", "S1", "2026-12-03 09:00")):
        practice.ok("appt", "book", who, "--provider", provider, "--at", at, "--type", "follow-up")
    return practice


def app_for(practice) -> AppContext:
    return AppContext(data_dir=str(practice.home), user="tester")


def test_appointments_in_a_range_by_start(clinic):
    app = app_for(clinic)
    found = appointments(app, date(2026, 11, 30), date(2026, 12, 3))
    assert [(a["id"], a["start"][:16], a["provider"]) for a in found] == [
        ("A2", "2026-11-30T09:00", "S2"), ("A1", "2026-11-30T10:00", "S1"), ("A3", "2026-12-03T09:00", "S1")]
    assert [a["id"] for a in appointments(app, date(2026, 11, 30), date(2026, 11, 30), provider="s1")] == ["A1"]
    assert appointments(app, date(2026, 12, 1), date(2026, 12, 2)) == []
    assert appointments(app, date(2026, 12, 3), date(2026, 11, 30)) == []  # an empty range
    assert appointments(app, date(2026, 11, 30), date(2026, 12, 3), provider="../S1") == []
    clinic.ok("appt", "cancel", "A3", "--reason", "patient asked")
    assert appointments(app, date(2026, 12, 3), date(2026, 12, 3))[0]["status"] == "cancelled"


def test_patients_by_id(clinic):
    app = app_for(clinic)
    assert patient(app, "p2")["last"] == "Lind"
    assert patient(app, "P99") is None
    with pytest.raises(InvalidInput):
        patient(app, "X1")
    assert [p["id"] for p in patients(app, ["P2", "P99", "p1"])] == ["P2", "P1"]


def test_reads_write_nothing(clinic):
    before = {p: p.read_bytes() for p in clinic.home.rglob("*") if p.is_file()}
    app = app_for(clinic)
    appointments(app, date(2026, 11, 1), date(2026, 12, 31))
    patients(app, ["P1", "P2"])
    claims(app)
    assert {p: p.read_bytes() for p in clinic.home.rglob("*") if p.is_file()} == before


def test_claims_and_calls_by_creation_day(demo):
    demo.ok("bill", "charge", "A1", "--code", "99213", "--dx", "E11.9")
    demo.ok("claim", "create", "--appt", "A1")
    demo.ok("call", "log", "--from", "P1", "--reason", "billing question")
    app = app_for(demo)
    today = date(2026, 11, 26)
    assert [c["id"] for c in claims(app)] == ["C1"]
    assert [c["id"] for c in claims(app, today, today, status="draft")] == ["C1"]
    assert claims(app, status="paid") == [] and claims(app, start=date(2026, 11, 27)) == []
    assert [c["patient_id"] for c in calls(app, today, today)] == ["P1"]
    assert calls(app, end=date(2026, 11, 25)) == []


# -- a third-party report plugin, written against the public API only -------------------------
VISITS_PLUGIN = """
    from medsec import hookimpl
    from medsec.plugin_api import Report, appointments, patients

    def build(app, options):
        found = appointments(app, options["start"], options["end"])
        names = {p["id"]: p["last"] for p in patients(app, [a["patient_id"] for a in found])}
        return ["id", "day", "provider", "patient"], [
            {"id": a["id"], "day": a["start"][:10], "provider": a["provider"], "patient": names[a["patient_id"]]}
            for a in found]

    @hookimpl
    def register_reports(register):
        register(Report("visits", "visits in the period, with the patient's last name", build))
"""


@pytest.fixture
def visits_plugin(tmp_path, monkeypatch):
    """The plugin as an uninstalled module; its name, for MEDSEC_PLUGINS."""
    name = f"visits_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(VISITS_PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield name
    sys.modules.pop(name, None)


def test_a_report_plugin_reads_appointments_in_a_range(clinic, visits_plugin):
    pm = get_plugin_manager(disabled=[], extra=[visits_plugin], entry_points=False)
    report = collect(pm, "register_reports")["visits"].item
    columns, rows = report.build(app_for(clinic), {"start": date(2026, 11, 30), "end": date(2026, 12, 1)})
    assert columns == ["id", "day", "provider", "patient"]
    assert rows == [{"id": "A2", "day": "2026-11-30", "provider": "S2", "patient": "Lind"},
                    {"id": "A1", "day": "2026-11-30", "provider": "S1", "patient": "Lopez"}]
    # and through the command line, as the practice would run it
    assert clinic.json("report", "visits", "--from", "2026-12-01", "--to", "2026-12-05",
                       env={"MEDSEC_PLUGINS": visits_plugin}) == [
        {"id": "A3", "day": "2026-12-03", "provider": "S1", "patient": "Lopez"}]
