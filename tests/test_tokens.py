"""Service tokens (issue 15): cron acts with a role, not as a person; a token is shown once, kept
as a digest, and stops working at its expiry or when revoked, at once."""

import pytest
from helpers.signin import one_line, signed_in


@pytest.fixture
def admin(clinic, secrets_dir):
    return signed_in(clinic, "S1", secrets_dir)


def created(medsec, admin, *args):
    result = medsec("token", "create", *args, "--json", env=admin)
    assert result.exit_code == 0, result.stderr
    return result.json()


def as_token(token, **extra):
    return {"MEDSEC_TOKEN": token, "MEDSEC_SESSION": "", "MEDSEC_USER": "", **extra}


def test_a_token_acts_with_its_role_and_is_audited_as_itself(clinic, admin):
    token = created(clinic, admin, "nightly-reminders", "--role", "front-desk", "--expires", "30d")
    assert token["id"] == "TK1" and token["token"].startswith("TK1.") and token["role"] == "front-desk"
    assert clinic.json("patient", "show", "P1", env=as_token(token["token"]))["last"] == "Smith"
    one_line(clinic("refill", "approve", "RX1", env=as_token(token["token"])), 1, "refills.approve")
    one_line(clinic("--user", "S1", "patient", "list", env=as_token(token["token"])), 1, "acts as itself")
    reads = [e for e in clinic.json("audit", "--patient", "P1", env=admin) if e["action"] == "read"]
    assert reads[-1]["user"] == "token TK1 nightly-reminders"
    listed = clinic.json("token", "list", env=admin)
    assert [t["id"] for t in listed] == ["TK1"] and "secret_sha256" not in listed[0] and "token" not in listed[0]
    assert token["token"].partition(".")[2] not in "".join(
        p.read_text(errors="replace") for p in clinic.home.rglob("*") if p.is_file())


def test_revoked_and_expired_tokens_stop_at_once(clinic, admin):
    first = created(clinic, admin, "cron-a", "--role", "front-desk", "--expires", "1d")
    second = created(clinic, admin, "cron-b", "--role", "biller")
    clinic.ok("token", "revoke", "TK2", env=admin)
    one_line(clinic("patient", "list", env=as_token(second["token"])), 1, "revoked")
    assert clinic("patient", "list", env=as_token(first["token"])).exit_code == 0
    one_line(clinic("patient", "list", env=as_token(first["token"], MEDSEC_NOW="2026-11-27T10:00:01")), 1,
             "expired")
    one_line(clinic("patient", "list", env=as_token(first["token"] + "x")), 1, "not a token of this practice")


def test_a_token_file_must_be_private(clinic, admin, tmp_path):
    token = created(clinic, admin, "cron", "--role", "front-desk")["token"]
    path = tmp_path / "token"
    path.write_text(token + "\n")
    path.chmod(0o600)
    env = as_token("")
    assert clinic("--token-file", path, "patient", "list", env=env).exit_code == 0
    path.chmod(0o640)
    one_line(clinic("--token-file", path, "patient", "list", env=env), 2, "readable by others", "chmod 600")
    one_line(clinic("patient", "list", env={**as_token(token), "MEDSEC_SESSION": admin["MEDSEC_SESSION"]}), 2,
             "give one")


@pytest.mark.parametrize("args, words", [
    (["x", "--role", "front-desk", "--expires", "0d"], "--expires"),
    (["x", "--role", "front-desk", "--expires", "10y"], "--expires"),
    (["x", "--role", "no-such-role"], "not a role"),
    (["Bad Name", "--role", "front-desk"], "token name"),
])
def test_bad_token_requests_are_refused(clinic, admin, args, words):
    one_line(clinic("token", "create", *args, env=admin), 2, words)
    assert clinic.json("token", "list", env=admin) == []


def test_only_token_managers_create_tokens(clinic, secrets_dir):
    desk = signed_in(clinic, "S2", secrets_dir)
    one_line(clinic("token", "create", "mine", "--role", "front-desk", env=desk), 1, "tokens.manage")


def test_deactivating_a_member_revokes_the_tokens_they_made(clinic, admin, secrets_dir):
    clinic.ok("staff", "add", "--name", "Second Admin", "--role", "admin", env=admin)
    clinic.ok("staff", "passphrase", "S5", "--passphrase-file", secrets_dir / "S4", env=admin)
    second = clinic("login", "S5", "--passphrase-file", secrets_dir / "S4")
    env = {"MEDSEC_SESSION": second.stdout.strip().partition("=")[2].strip("'"), "MEDSEC_USER": ""}
    theirs = created(clinic, env, "their-cron", "--role", "front-desk")
    mine = created(clinic, admin, "my-cron", "--role", "front-desk")
    assert clinic.json("staff", "deactivate", "S5", env=admin)["tokens_revoked"] == 1
    one_line(clinic("patient", "list", env=as_token(theirs["token"])), 1, "revoked")
    assert clinic("patient", "list", env=as_token(mine["token"])).exit_code == 0
