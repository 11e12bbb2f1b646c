"""The sms channel against a real HTTP gateway on 127.0.0.1."""

import base64
import urllib.parse

import pytest
from helpers.smtp import closed_port

from medsec.plugin_types import DeliveryError, Message
from medsec_sms import channel as medsec_sms


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("TEST_SMS_TOKEN", "tok-123")
    return "tok-123"


def text(to="(617) 555-0101", body="Reminder: Dr. Lee tomorrow 9:30. Reply C to confirm."):
    return Message(kind="sms", to=to, subject="", body=body)


def json_settings(gateway, **extra):
    return {"url": gateway.url + "/v1/messages", "token_env": "TEST_SMS_TOKEN",
            "from": "617-555-0100", "timeout": 10, **extra}


def test_json_preset_posts_and_returns_the_id(gateway, token, tmp_path):
    delivery_id = medsec_sms.send(text(), json_settings(gateway), str(tmp_path))
    assert delivery_id == "msg-1"
    request = gateway.last
    assert request["method"] == "POST" and request["path"] == "/v1/messages"
    assert request["headers"]["Authorization"] == "Bearer tok-123"
    assert gateway.json() == {"to": "+16175550101", "from": "+16175550100",
                              "body": "Reminder: Dr. Lee tomorrow 9:30. Reply C to confirm."}


@pytest.mark.parametrize("answer, expected", [({"sid": "SM9"}, "SM9"), ({"message_id": 42}, "42")])
def test_json_preset_reads_other_id_names(gateway, token, tmp_path, answer, expected):
    gateway.answer = (201, answer)
    assert medsec_sms.send(text(), json_settings(gateway), str(tmp_path)) == expected


def test_accepted_without_id_still_counts_as_sent(gateway, token, tmp_path):
    gateway.answer = (202, b"queued")
    delivery_id = medsec_sms.send(text(), json_settings(gateway), str(tmp_path))
    assert delivery_id.startswith("sms-")


@pytest.mark.parametrize("number, e164", [
    ("617-555-0101", "+16175550101"),
    ("1 (617) 555-0101", "+16175550101"),
    ("+1 617.555.0101", "+16175550101"),
    ("+44 20 7946 0958", "+442079460958"),
])
def test_numbers_are_normalised(gateway, token, tmp_path, number, e164):
    medsec_sms.send(text(to=number), json_settings(gateway), str(tmp_path))
    assert gateway.json()["to"] == e164


@pytest.mark.parametrize("number", ["call me", "", "555-0101", "012-345-6789", "617-555-0101 x12",
                                    "+0 123 456 789"])
def test_not_a_number_is_permanent_and_nothing_is_sent(gateway, token, tmp_path, number):
    with pytest.raises(DeliveryError) as caught:
        medsec_sms.send(text(to=number), json_settings(gateway), str(tmp_path))
    assert caught.value.temporary is False
    assert gateway.requests == []


@pytest.mark.parametrize("status, temporary", [(400, False), (404, False), (429, True),
                                               (500, True), (503, True)])
def test_status_codes(gateway, token, tmp_path, status, temporary):
    gateway.answer = (status, {"error": "the gateway says no: code 21211"})
    with pytest.raises(DeliveryError) as caught:
        medsec_sms.send(text(), json_settings(gateway), str(tmp_path))
    assert caught.value.temporary is temporary
    assert str(status) in str(caught.value)
    assert "the gateway says no: code 21211" in str(caught.value)


def test_slow_gateway_times_out_temporarily(gateway, token, tmp_path):
    gateway.answer = ("slow", None)
    with pytest.raises(DeliveryError) as caught:
        medsec_sms.send(text(), json_settings(gateway, timeout=0.3), str(tmp_path))
    assert caught.value.temporary is True
    assert len(gateway.requests) == 1


def test_unreachable_gateway_is_temporary(token, tmp_path):
    with closed_port() as port:
        settings = {"url": f"http://127.0.0.1:{port}/v1/messages", "token_env": "TEST_SMS_TOKEN"}
        with pytest.raises(DeliveryError) as caught:
            medsec_sms.send(text(), settings, str(tmp_path))
    assert caught.value.temporary is True


def test_unset_token_variable_is_permanent_and_named(gateway, tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_SMS_UNSET", raising=False)
    with pytest.raises(DeliveryError) as caught:
        medsec_sms.send(text(), json_settings(gateway, token_env="TEST_SMS_UNSET"), str(tmp_path))
    assert caught.value.temporary is False and "TEST_SMS_UNSET" in str(caught.value)
    assert gateway.requests == []


def test_redirects_are_not_followed(gateway, token, tmp_path):
    """Following one would hand the token to another address."""
    gateway.answer = (302, {"error": "moved"})
    with pytest.raises(DeliveryError) as caught:
        medsec_sms.send(text(), json_settings(gateway), str(tmp_path))
    assert caught.value.temporary is False
    assert len(gateway.requests) == 1


@pytest.mark.parametrize("change", [{"preset": "carrier-pigeon"}, {"url": "file:///etc/passwd"},
                                    {"url": None}, {"timeout": "soon"}, {"from": "555"}])
def test_bad_settings_are_permanent_not_a_crash(gateway, token, tmp_path, change):
    with pytest.raises(DeliveryError) as caught:
        medsec_sms.send(text(), {**json_settings(gateway), **change}, str(tmp_path))
    assert caught.value.temporary is False
    assert gateway.requests == []


def test_twilio_preset_form_body_and_basic_auth(gateway, token, tmp_path):
    gateway.answer = (201, {"sid": "SM0123456789abcdef", "status": "queued"})
    settings = {"preset": "twilio", "url": gateway.url + "/2010-04-01/Accounts/AC42/Messages.json",
                "account_sid": "AC42", "token_env": "TEST_SMS_TOKEN", "from": "+16175550100"}
    assert medsec_sms.send(text(), settings, str(tmp_path)) == "SM0123456789abcdef"
    request = gateway.last
    assert request["path"] == "/2010-04-01/Accounts/AC42/Messages.json"
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    scheme, _, credentials = request["headers"]["Authorization"].partition(" ")
    assert scheme == "Basic" and base64.b64decode(credentials) == b"AC42:tok-123"
    assert urllib.parse.parse_qs(request["body"].decode(), strict_parsing=True) == {
        "To": ["+16175550101"], "From": ["+16175550100"],
        "Body": ["Reminder: Dr. Lee tomorrow 9:30. Reply C to confirm."]}


def test_twilio_error_text_is_reported(gateway, token, tmp_path):
    gateway.answer = (400, {"code": 21211, "message": "The 'To' number is not a valid phone number.",
                            "status": 400})
    settings = {"preset": "twilio", "url": gateway.url + "/Messages.json", "account_sid": "AC42",
                "token_env": "TEST_SMS_TOKEN"}
    with pytest.raises(DeliveryError) as caught:
        medsec_sms.send(text(), settings, str(tmp_path))
    assert caught.value.temporary is False
    assert "not a valid phone number" in str(caught.value)


def test_twilio_needs_an_account(gateway, token, tmp_path):
    with pytest.raises(DeliveryError) as caught:
        medsec_sms.send(text(), {"preset": "twilio", "url": gateway.url, "token_env": "TEST_SMS_TOKEN"},
                        str(tmp_path))
    assert caught.value.temporary is False and "account_sid" in str(caught.value)
