"""Reminders never lost to configuration: config check and --dry-run catch a misrouted channel, a
send that fails by configuration leaves reminders pending, and `remind retry` re-queues failed
ones; each reminder arrives once at a real SMTP server (aiosmtpd on loopback)."""

import json

import pytest
from helpers.backends import write_config
from test_remind_smtp import email_practice

pytestmark = pytest.mark.both_backends

PASSWORD = "TEST_RETRY_SMTP_PASSWORD"


def smtp_channels(port, extra=""):
    return (f"email: {{host: 127.0.0.1, port: {port}, security: none, from: 'Test Clinic <desk@example.org>',\n"
            f"        username: desk, password_env: {PASSWORD}}}\n{extra}")


def book_three(medsec):
    for i, at in enumerate(["09:00", "09:20", "09:40"], start=1):
        medsec.ok("appt", "book", f"P{i}", "--provider", "S1", "--at", f"2026-11-27 {at}", "--type", "follow-up")


def recipients(inbox):
    return sorted(r for rcpts, _ in inbox.messages for r in rcpts)


@pytest.fixture
def auth_smtp():
    """An SMTP server on loopback that accepts any login (AUTH over plain text, loopback only)."""
    from aiosmtpd.smtp import AuthResult
    from helpers.smtp import Inbox, smtp_server

    inbox = Inbox()
    with smtp_server(inbox, auth_require_tls=False,
                     authenticator=lambda *a: AuthResult(success=True)) as controller:
        yield inbox, controller.port


def test_a_route_to_a_channel_without_settings_is_caught_before_sending(medsec, smtp):
    inbox, port = smtp
    email_practice(medsec, port, 3)
    book_three(medsec)
    channels = (f"email: {{host: 127.0.0.1, port: {port}, security: none, from: desk@example.org}}\n"
                "routes: {email: email, sms: sms}\n")
    if medsec.pg is not None:  # the store refuses to import it at all
        folder = medsec.home.parent / "misrouted"
        folder.mkdir()
        (folder / "channels.yaml").write_text(channels)
        refused = medsec("config", "import", folder, "channels.yaml")
        assert refused.exit_code == 2 and "routes.sms" in refused.stderr
        return
    (medsec.home / "channels.yaml").write_text(channels)
    check = medsec("config", "check")
    assert check.exit_code == 3
    assert "channels.yaml:2: error: routes.sms: channel 'sms' has no settings in channels.yaml" in check.stderr
    dry = medsec("remind", "send", "--dry-run")
    assert dry.exit_code == 3 and "routes.sms" in dry.stderr
    assert medsec("remind", "send").exit_code == 3
    assert inbox.messages == [] and medsec.json("remind", "list") == []


def test_a_route_to_a_channel_not_installed_leaves_reminders_pending(medsec, smtp):
    inbox, port = smtp
    email_practice(medsec, port, 3)
    for pid in ("P1", "P2", "P3"):
        medsec.ok("patient", "edit", pid, "--phone", "617-555-0100", "--preferred-channel", "sms")
    book_three(medsec)
    write_config(medsec, "channels.yaml",
                 f"email: {{host: 127.0.0.1, port: {port}, security: none, from: desk@example.org}}\n"
                 "pigeon: {loft: roof}\nroutes: {sms: pigeon}\n")
    check = medsec("config", "check")
    assert check.exit_code == 3 and "channels.yaml:3: error: routes.sms: channel 'pigeon' is not installed" \
        in check.stderr
    dry = medsec("remind", "send", "--dry-run", "--json")
    assert dry.exit_code == 1
    assert {r["status"] for r in dry.json()} == {"pending"}
    assert "to fix: unknown channel 'pigeon' (3 reminder(s) would stay pending)" in dry.stderr
    table = medsec("remind", "send", "--dry-run")
    assert "pending 3" in table.stderr and '"would_send": 0' not in table.stdout
    sent = medsec("remind", "send", "--json")
    assert sent.exit_code == 1 and {r["status"] for r in sent.json()} == {"pending"}
    assert "medsec config check" in sent.stderr
    # fixed: the patients' texts go by email instead; the next run sends each once
    for pid in ("P1", "P2", "P3"):
        medsec.ok("patient", "edit", pid, "--preferred-channel", "email")
    write_config(medsec, "channels.yaml",
                 f"email: {{host: 127.0.0.1, port: {port}, security: none, from: desk@example.org}}\n")
    medsec.ok("config", "check")
    assert [r["status"] for r in medsec.json("remind", "send")] == ["sent"] * 3
    assert medsec.json("remind", "send") == []
    assert recipients(inbox) == ["p0@example.com", "p1@example.com", "p2@example.com"]


def test_an_unset_password_leaves_reminders_pending_until_it_is_set(medsec, auth_smtp):
    inbox, port = auth_smtp
    email_practice(medsec, port, 3)
    write_config(medsec, "channels.yaml", smtp_channels(port))
    book_three(medsec)
    unset = {PASSWORD: None}
    check = medsec("config", "check", env=unset)
    assert check.exit_code == 0
    assert f"warning: email.password_env: environment variable {PASSWORD} is not set (cron does not see" \
        in check.stderr
    dry = medsec("remind", "send", "--dry-run", "--json", env=unset)
    assert dry.exit_code == 1 and {r["status"] for r in dry.json()} == {"pending"}
    result = medsec("remind", "send", "--json", env=unset)
    assert result.exit_code == 1
    assert {r["status"] for r in result.json()} == {"pending"}
    assert f"to fix: email.password_env: environment variable {PASSWORD} is not set" in result.stderr
    assert "3 reminder(s) not sent" in result.stderr
    assert {r["status"] for r in medsec.json("remind", "list")} == {"pending"}
    assert medsec.json("remind", "list", "--failed") == [] and inbox.messages == []
    # a second run while it is still unset keeps them pending, and tries nothing
    assert {r["status"] for r in medsec("remind", "send", "--json", env=unset).json()} == {"pending"}
    fixed = medsec("remind", "send", "--json", env={PASSWORD: "s3cret"})
    assert fixed.exit_code == 0, fixed.stderr
    assert [(r["status"], r["attempts"]) for r in fixed.json()] == [("sent", 1)] * 3
    assert medsec.json("remind", "send", env={PASSWORD: "s3cret"}) == []
    assert recipients(inbox) == ["p0@example.com", "p1@example.com", "p2@example.com"]


def mark_failed_before_the_fix(medsec, reason, patients):
    """Turn the pending reminders of `patients` into what medsec recorded before configuration
    failures were left pending: failed for good, with the channel's reason."""
    from medsec.store.api import open_store
    from medsec.store.catalog import REMINDERS

    store = open_store(str(medsec.home), medsec.pg.url if medsec.pg else None, None)
    with store.transaction() as txn:
        old = [r for r in txn.scan(REMINDERS) if r["status"] == "pending" and r["patient_id"] in patients]
        new = [{**json.loads(json.dumps(r)), "status": "failed", "attempts": 1, "reason": reason} for r in old]
        txn.put_many(REMINDERS, new, {r["id"]: r for r in old})
    del store
    return [r["id"] for r in new]


def test_retry_requeues_failed_reminders_and_each_is_sent_once(medsec, auth_smtp):
    inbox, port = auth_smtp
    email_practice(medsec, port, 4)
    write_config(medsec, "channels.yaml", smtp_channels(port))
    book_three(medsec)
    medsec.ok("patient", "edit", "P4", "--clear", "email", "--preferred-channel", "email")
    medsec.ok("appt", "book", "P4", "--provider", "S1", "--at", "2026-11-27 10:00", "--type", "follow-up")
    unset = {PASSWORD: None}
    first = medsec("remind", "send", "--json", env=unset)
    assert first.exit_code == 1
    by_patient = {r["patient_id"]: r["status"] for r in first.json()}
    assert by_patient == {"P1": "pending", "P2": "pending", "P3": "pending", "P4": "pending"}
    ids = mark_failed_before_the_fix(
        medsec, f"email: environment variable {PASSWORD} (named by password_env) is not set", {"P1", "P2", "P3"})
    mark_failed_before_the_fix(medsec, "no email contact on file for P4", {"P4"})
    assert len(ids) == 3 and len(medsec.json("remind", "list", "--failed")) == 4
    assert medsec.json("remind", "send", env={PASSWORD: "s3cret"}) == []  # failed: nothing is due
    # retry: the three that failed by configuration; P4 (no address on file) is left as it is
    retried = medsec("remind", "retry", "--json")
    assert retried.exit_code == 0, retried.stderr
    assert sorted(r["id"] for r in retried.json()) == sorted(ids)
    assert "1 other failed reminder(s) left as they are" in retried.stderr
    again = medsec("remind", "retry", "--json")
    assert again.exit_code == 0 and again.json() == []
    sent = medsec.json("remind", "send", env={PASSWORD: "s3cret"})
    assert sorted((r["id"], r["status"]) for r in sent) == sorted((i, "sent") for i in ids)
    assert recipients(inbox) == ["p0@example.com", "p1@example.com", "p2@example.com"]
    # sent: retrying (even every failure) re-queues none of them again
    assert medsec.json("remind", "retry") == []
    assert medsec.json("remind", "send", env={PASSWORD: "s3cret"}) == []
    # P4's address is corrected: --failed re-queues it, once
    medsec.ok("patient", "edit", "P4", "--email", "p3@example.com")
    assert [r["patient_id"] for r in medsec.json("remind", "retry", "--failed", "--since", "2026-11-26")] == ["P4"]
    assert medsec.json("remind", "retry", "--failed") == []
    assert [r["status"] for r in medsec.json("remind", "send", env={PASSWORD: "s3cret"})] == ["sent"]
    assert medsec.json("remind", "send", env={PASSWORD: "s3cret"}) == []
    assert recipients(inbox) == ["p0@example.com", "p1@example.com", "p2@example.com", "p3@example.com"]
    audit = medsec.json("audit", "--limit", "50")
    assert any(e.get("action") == "remind-retry" and ids[0] in e.get("ids", []) for e in audit)


def test_retry_since_a_later_day_requeues_nothing(medsec, smtp):
    inbox, port = smtp
    email_practice(medsec, port, 1)
    medsec.ok("patient", "edit", "P1", "--clear", "email", "--preferred-channel", "email")
    medsec.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-27 09:00", "--type", "follow-up")
    assert medsec("remind", "send").exit_code == 1
    assert medsec.json("remind", "retry", "--failed", "--since", "2026-11-27") == []
    assert len(medsec.json("remind", "retry", "--failed", "--since", "2026-11-26")) == 1


def test_default_routes_to_channels_without_settings_are_warned_about(medsec):
    """Email and SMS reminders go to the channels of those names unless routed elsewhere: with no
    settings for them, `config check` warns (exit 0) that they would wait, pending."""
    medsec.ok("init", "--security", "open")
    checked = medsec("config", "check")
    assert checked.exit_code == 0
    for kind in ("email", "sms"):
        assert f"warning: {kind} reminders go to the {kind} channel" in checked.stderr
    write_config(medsec, "channels.yaml", "outbox: {folder: outbox}\nroutes: {email: outbox, sms: outbox}\n")
    checked = medsec("config", "check")
    assert checked.exit_code == 0 and "reminders go to" not in checked.stderr
