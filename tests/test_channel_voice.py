"""The voice channel (plugins/medsec_voice): reminders spoken by a loopback HTTP voice gateway,
and `config check` on voice routes that lead nowhere."""

import pytest
from helpers.backends import write_config
from helpers.files import snapshot

from medsec.plugin_types import DeliveryError, Message
from medsec_voice import channel as medsec_voice

VOICE = """\
voice:
  url: {url}/v1/calls
  token_env: TEST_VOICE_TOKEN
  from: "617-555-0100"
  timeout: 10
  voices: {{en: en-US-1, es: es-US-1}}
"""


@pytest.fixture
def office(small_practice, gateway, monkeypatch):
    """The small practice; P1 prefers voice calls; channels.yaml routes voice to the loopback gateway."""
    monkeypatch.setenv("TEST_VOICE_TOKEN", "tok-voice")
    m = small_practice(2)
    m.env["TEST_VOICE_TOKEN"] = "tok-voice"
    m.ok("patient", "edit", "P1", "--preferred-channel", "voice")
    write_config(m, "channels.yaml", VOICE.format(url=gateway.url))
    return m


def surgery(m, patient="P1", at="2026-11-27 09:00"):
    """A surgery 23 hours ahead of the test clock: its 24-hour reminder is due."""
    return m.json("appt", "book", patient, "--provider", "S1", "--at", at, "--type", "surgery")


def test_a_voice_reminder_reaches_the_gateway_as_a_script(office, gateway):
    surgery(office)
    result = office("remind", "send", "--json")
    assert result.exit_code == 0, result.stderr
    [reminder] = result.json()
    assert (reminder["channel"], reminder["kind"], reminder["status"]) == ("voice", "voice", "sent")
    assert reminder["delivery_id"] == "msg-1"
    request = gateway.last
    assert request["path"] == "/v1/calls" and request["headers"]["Authorization"] == "Bearer tok-voice"
    call = gateway.json()
    assert (call["to"], call["from"], call["language"], call["voice"]) == ("+16175550100", "+16175550100",
                                                                           "en", "en-US-1")
    script = call["script"]
    assert "Test Clinic" in script and "Dr A" in script
    assert script.count("Friday, November 27 at 9:00 AM") == 2  # the date in words, said twice
    assert script.count("Nothing to eat after midnight.") == 2  # the visit's instructions
    assert "Once again:" in script
    assert "{" not in script and "<" not in script


def test_spanish_patients_hear_spanish(office, gateway):
    office.ok("patient", "edit", "P1", "--language", "es")
    surgery(office)
    assert office.json("remind", "send")[0]["status"] == "sent"
    call = gateway.json()
    assert (call["language"], call["voice"]) == ("es", "es-US-1")
    assert call["script"].count("viernes 27 de noviembre") == 2
    assert "Le repito:" in call["script"] and "Hola" in call["script"]


def test_a_gateway_error_is_retried_like_other_channels(office, gateway):
    surgery(office)
    gateway.answer = (503, {"error": "all lines busy"})
    first = office("remind", "send", "--json")
    [reminder] = first.json()
    assert reminder["status"] == "retry" and "503" in reminder["reason"] and "all lines busy" in reminder["reason"]
    assert reminder["next_try"]
    gateway.answer = (200, {"id": "call-7"})
    later = office.json("remind", "send", env={"MEDSEC_NOW": "2026-11-26T10:30:00"})
    assert [(r["status"], r["delivery_id"]) for r in later] == [("sent", "call-7")]
    assert len(gateway.requests) == 2


def test_a_refused_call_fails_for_good(office, gateway):
    surgery(office)
    gateway.answer = (400, {"error": "number cannot receive calls"})
    result = office("remind", "send", "--json")
    assert result.exit_code == 1
    [reminder] = result.json()
    assert reminder["status"] == "failed" and "number cannot receive calls" in reminder["reason"]


def test_without_a_voice_gateway_reminders_wait_and_nothing_lands_in_the_outbox(office, gateway):
    write_config(office, "channels.yaml", "outbox: {folder: outbox}\nroutes: {sms: outbox, email: outbox}\n")
    surgery(office)
    result = office("remind", "send", "--json")
    assert result.exit_code != 0
    [reminder] = result.json()
    assert reminder["status"] == "pending"
    assert "channel 'voice' is not set up in channels.yaml" in reminder["reason"]
    assert "voice" in result.stderr
    assert not (office.home / "outbox").exists() or not any((office.home / "outbox").iterdir())
    assert gateway.requests == []


def test_the_outbox_does_not_carry_voice(office):
    write_config(office, "channels.yaml", "outbox: {}\nroutes: {voice: outbox}\n")
    result = office("config", "check")
    assert result.exit_code == 3
    assert "routes.voice: channel 'outbox' does not carry voice messages" in result.stderr


def test_config_check_catches_a_voice_route_without_its_channel(office):
    write_config(office, "channels.yaml", "routes: {voice: voice}\n")
    before = snapshot(office.home)
    result = office("config", "check")
    assert result.exit_code == 3
    assert "routes.voice: channel 'voice' has no settings in channels.yaml" in result.stderr
    assert snapshot(office.home) == before


def test_config_check_needs_the_gateway_url(office):
    write_config(office, "channels.yaml", "voice: {from: '617-555-0100'}\nroutes: {voice: voice}\n")
    result = office("config", "check")
    assert result.exit_code == 3 and "voice.url is required" in result.stderr


def test_config_check_warns_of_patients_who_prefer_voice_with_no_gateway(office):
    write_config(office, "channels.yaml", "outbox: {}\nroutes: {sms: outbox, email: outbox}\n")
    result = office("config", "check")
    assert result.exit_code == 0
    assert "1 patient(s) prefer voice calls (P1)" in result.stderr
    assert "voice channel (no routes.voice)" in result.stderr
    office.ok("patient", "edit", "P1", "--preferred-channel", "sms")
    assert "prefer voice" not in office("config", "check").stderr


def call(body="Hello. Your visit is on Friday, November 27 at 9:00 AM.", **meta):
    return Message(kind="voice", to="(617) 555-0101", subject="", body=body, meta=meta)


def test_the_script_asks_for_a_key_when_the_message_does(gateway, tmp_path):
    settings = {"url": gateway.url + "/calls"}
    medsec_voice.send(call(confirm=True), settings, str(tmp_path))
    script = gateway.json()["script"]
    assert script.count("Press 1 to confirm, or 2 to cancel.") == 2
    assert "Authorization" not in gateway.last["headers"]


@pytest.mark.parametrize("message, settings", [
    (call(body="  "), {}), (call(), {"url": "file:///etc/passwd"}), (call(), {"timeout": "soon"}),
    (Message(kind="voice", to="call me", subject="", body="hi"), {}), (call(), {"token_env": "TEST_VOICE_UNSET"}),
    (call(), {"voices": "en-US-1"}), (call(body="x" * 2000), {}),
])
def test_bad_messages_and_settings_are_permanent_and_send_nothing(gateway, tmp_path, monkeypatch, message, settings):
    monkeypatch.delenv("TEST_VOICE_UNSET", raising=False)
    with pytest.raises(DeliveryError) as caught:
        medsec_voice.send(message, {"url": gateway.url + "/calls", **settings}, str(tmp_path))
    assert caught.value.temporary is False and str(caught.value).startswith("voice: ")
    assert gateway.requests == []
