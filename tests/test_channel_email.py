"""The email channel against a real SMTP server (aiosmtpd) on 127.0.0.1."""

import email
import shutil
import socket
import ssl
import subprocess
from datetime import UTC, datetime

import icalendar
import pytest
import vobject
from aiosmtpd.smtp import AuthResult, LoginPassword
from helpers.smtp import Keeper, closed_port, smtp_server

from medsec.plugin_types import DeliveryError, Message
from medsec_email import channel as medsec_email

SENDER = "Front Desk <frontdesk@clinic.example>"

# AUTH without TLS is what these loopback tests ask for; aiosmtpd warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def settings_for(controller, **extra):
    return {"host": "127.0.0.1", "port": controller.port, "security": "none",
            "from": SENDER, "timeout": 10, **extra}


def calendar_bytes(method="REQUEST") -> bytes:
    """A small real VCALENDAR, as icalendar writes it."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//medsec tests//EN")
    cal.add("version", "2.0")
    if method:
        cal.add("method", method)
    event = icalendar.Event()
    event.add("uid", "A17@clinic.example")
    event.add("dtstamp", datetime(2026, 11, 26, 10, 0, tzinfo=UTC))
    event.add("dtstart", datetime(2026, 12, 1, 14, 30, tzinfo=UTC))
    event.add("dtend", datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    event.add("summary", "Follow-up visit")
    cal.add_component(event)
    return cal.to_ical()


PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def appointment_message(to="jane.doe@patients.example"):
    return Message(kind="email", to=to, subject="Your appointment\non Tuesday",
                   body="See you on Tuesday at 9:30.",
                   html="<p>See you on <b>Tuesday</b> at 9:30.</p>",
                   attachments=[("appointment.ics", "text/calendar", calendar_bytes()),
                                ("directions.pdf", "application/pdf", PDF)],
                   meta={"ics_method": "request"})


def test_delivers_text_html_and_calendar(tmp_path):
    keeper = Keeper()
    with smtp_server(keeper) as server:
        delivery_id = medsec_email.send(appointment_message(), settings_for(server), str(tmp_path))
    assert len(keeper.mails) == 1
    mail_from, rcpt_tos, _ = keeper.mails[0]
    assert mail_from == "frontdesk@clinic.example"
    assert rcpt_tos == ["jane.doe@patients.example"]
    msg = keeper.parsed()
    assert msg["To"] == "jane.doe@patients.example"
    assert msg["Subject"] == "Your appointment on Tuesday"  # the line break is folded away
    assert msg["Message-ID"] == delivery_id and delivery_id.endswith("@clinic.example>")
    assert email.utils.parsedate_to_datetime(msg["Date"]) is not None
    assert msg.get_body(("plain",)).get_content().strip() == "See you on Tuesday at 9:30."
    assert "<b>Tuesday</b>" in msg.get_body(("html",)).get_content()

    attachments = {part.get_filename(): part for part in msg.iter_attachments()}
    assert set(attachments) == {"appointment.ics", "directions.pdf"}
    ics = attachments["appointment.ics"]
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_param("method") == "REQUEST"
    calendar = vobject.readOne(ics.get_content(), validate=True)
    assert calendar.vevent.uid.value == "A17@clinic.example"
    assert calendar.vevent.summary.value == "Follow-up visit"
    assert attachments["directions.pdf"].get_content() == PDF


@pytest.mark.parametrize("method, meta, expected", [
    (None, {}, None),                              # a plain calendar file
    ("CANCEL", {}, "CANCEL"),                      # the calendar's own METHOD
    (None, {"ics_method": "publish"}, "PUBLISH"),  # the message says so
])
def test_calendar_method_parameter(tmp_path, method, meta, expected):
    keeper = Keeper()
    message = appointment_message()
    message.attachments = [("appointment.ics", "text/calendar", calendar_bytes(method))]
    message.meta = meta
    with smtp_server(keeper) as server:
        medsec_email.send(message, settings_for(server), str(tmp_path))
    (ics,) = keeper.parsed().iter_attachments()
    assert ics.get_param("method") == expected


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login == b"frontdesk" and auth_data.password == b"s3cret")
    # JUDGES.md: a failure must be handled=False, or the client hangs 300 s.
    return AuthResult(success=True) if ok else AuthResult(success=False, handled=False)


@pytest.mark.parametrize("password, delivered", [("s3cret", True), ("wrong", False)])
def test_auth(tmp_path, monkeypatch, password, delivered):
    keeper = Keeper()
    monkeypatch.setenv("TEST_SMTP_PASSWORD", password)
    with smtp_server(keeper, authenticator=_authenticator, auth_required=True,
                     auth_require_tls=False) as server:
        settings = settings_for(server, username="frontdesk", password_env="TEST_SMTP_PASSWORD")
        if delivered:
            medsec_email.send(appointment_message(), settings, str(tmp_path))
        else:
            with pytest.raises(DeliveryError) as caught:
                medsec_email.send(appointment_message(), settings, str(tmp_path))
            assert caught.value.temporary is False
            assert "535" in str(caught.value)
    assert len(keeper.mails) == (1 if delivered else 0)


def test_server_requiring_auth_refuses_anonymous_sender(tmp_path):
    keeper = Keeper()
    with smtp_server(keeper, authenticator=_authenticator, auth_required=True,
                     auth_require_tls=False) as server, pytest.raises(DeliveryError) as caught:
        medsec_email.send(appointment_message(), settings_for(server), str(tmp_path))
    assert caught.value.temporary is False and "530" in str(caught.value)
    assert keeper.mails == []


def test_unset_password_variable_is_permanent_and_named(tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_SMTP_UNSET", raising=False)
    with closed_port() as port:
        settings = {"host": "127.0.0.1", "port": port, "security": "none", "from": SENDER,
                    "username": "frontdesk", "password_env": "TEST_SMTP_UNSET"}
        with pytest.raises(DeliveryError) as caught:
            medsec_email.send(appointment_message(), settings, str(tmp_path))
    assert caught.value.temporary is False
    assert "TEST_SMTP_UNSET" in str(caught.value)


@pytest.mark.parametrize("reply, temporary", [("550 no such user", False),
                                              ("451 mailbox busy, try later", True)])
def test_refused_recipient(tmp_path, reply, temporary):
    keeper = Keeper(refuse={"gone@patients.example": reply})
    with smtp_server(keeper) as server, pytest.raises(DeliveryError) as caught:
        medsec_email.send(appointment_message("gone@patients.example"), settings_for(server),
                          str(tmp_path))
    assert caught.value.temporary is temporary
    assert reply.split()[0] in str(caught.value) and "gone@patients.example" in str(caught.value)
    assert keeper.mails == []


def test_nothing_listening_is_temporary(tmp_path):
    with closed_port() as port:
        settings = {"host": "127.0.0.1", "port": port, "security": "none", "from": SENDER}
        with pytest.raises(DeliveryError) as caught:
            medsec_email.send(appointment_message(), settings, str(tmp_path))
    assert caught.value.temporary is True


def test_silent_server_times_out_temporarily(tmp_path):
    """A server that accepts the connection but never greets."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        settings = {"host": "127.0.0.1", "port": listener.getsockname()[1], "security": "none",
                    "from": SENDER, "timeout": 0.3}
        with pytest.raises(DeliveryError) as caught:
            medsec_email.send(appointment_message(), settings, str(tmp_path))
    assert caught.value.temporary is True


@pytest.mark.parametrize("change", [
    {"security": "tls-please"},
    {"port": "twenty-five"},
    {"timeout": 0},
    {"from": None},
    {"from": "not an address"},
    {"to": "not an address"},
    {"to": "jane@patients.example\r\nBcc: everyone@patients.example"},
])
def test_bad_input_is_a_permanent_failure_not_a_crash(tmp_path, change):
    with closed_port() as port:
        settings = {"host": "127.0.0.1", "port": port, "security": "none", "from": SENDER}
        settings.update({k: v for k, v in change.items() if k != "to"})
        message = appointment_message(change.get("to", "jane@patients.example"))
        with pytest.raises(DeliveryError) as caught:
            medsec_email.send(message, settings, str(tmp_path))
    assert caught.value.temporary is False


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made with the openssl tool."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return str(cert), context


def test_starttls_with_trusted_certificate(tmp_path, certificate, monkeypatch):
    cafile, context = certificate
    keeper = Keeper()
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    with smtp_server(keeper, tls_context=context, require_starttls=True,
                     authenticator=_authenticator, auth_required=True) as server:
        settings = settings_for(server, security="starttls", cafile=cafile,
                                username="frontdesk", password_env="TEST_SMTP_PASSWORD")
        medsec_email.send(appointment_message(), settings, str(tmp_path))
    assert len(keeper.mails) == 1


def test_untrusted_certificate_is_refused(tmp_path, certificate):
    _cafile, context = certificate
    keeper = Keeper()
    with (smtp_server(keeper, tls_context=context, require_starttls=True) as server,
          pytest.raises(DeliveryError) as caught):
        medsec_email.send(appointment_message(), settings_for(server, security="starttls"), str(tmp_path))
    assert caught.value.temporary is False and "certificate" in str(caught.value)
    assert keeper.mails == []


def test_implicit_tls(tmp_path, certificate):
    cafile, context = certificate
    keeper = Keeper()
    with smtp_server(keeper, ssl_context=context) as server:
        medsec_email.send(appointment_message(), settings_for(server, security="ssl", cafile=cafile),
                          str(tmp_path))
    assert len(keeper.mails) == 1


def test_plugins_lists_the_channels(medsec):
    medsec.ok("init", "--security", "open")
    plugins = {p["name"]: p for p in medsec.json("plugins")}
    for name in ("email", "sms", "fax"):
        assert plugins[name]["registers"].get("channels") == [name]
        assert "register_channels" in plugins[name]["hooks"]
