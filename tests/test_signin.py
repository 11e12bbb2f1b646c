"""Signed-in mode (issue 15, Trust I): sign-in, sessions that expire, lockout, the gate that makes
the session decide who acts and the role decide what they may do, and switching a practice to it.

The practices here are rehearsal practices (`init --rehearsal`) where the test moves the clock
(MEDSEC_NOW), except where the test is that a normal one refuses a moved clock."""

import pytest
from helpers.signin import login, one_line, signed_in


def audit_of(medsec, env, *args):
    return medsec.json("audit", *args, env=env)


# -- who acts ----------------------------------------------------------------------------------

def test_without_a_session_nothing_runs(clinic):
    one_line(clinic("patient", "show", "P1", env={"MEDSEC_USER": ""}), 1, "not signed in", "medsec login")
    one_line(clinic("patient", "list", env={"MEDSEC_SESSION": "SN1.forged", "MEDSEC_USER": ""}), 1,
             "not a session of this practice")


def test_the_session_decides_who_acts(clinic, secrets_dir):
    desk = signed_in(clinic, "S2", secrets_dir)
    shown = clinic.json("patient", "show", "P1", env=desk)
    assert shown["last"] == "Smith"
    # --user naming someone else is refused, and audited as who really asked.
    one_line(clinic("--user", "S3", "patient", "show", "P1", env=desk), 1, "signed in as S2", "S3")
    one_line(clinic("patient", "show", "P1", env={**desk, "MEDSEC_USER": "S3"}), 1, "signed in as S2")
    assert clinic("--user", "S2", "patient", "show", "P1", env=desk).exit_code == 0
    admin = signed_in(clinic, "S1", secrets_dir)
    entries = audit_of(clinic, admin, "--patient", "P1")
    assert {e["user"] for e in entries if e["action"] == "read"} >= {"S2"}
    refused = [e for e in audit_of(clinic, admin) if e["outcome"].startswith("exit 1")]
    assert refused and all(e["user"] in ("S2", "S3", "tester", "") for e in refused)


def test_roles_decide_what_runs(clinic, secrets_dir):
    desk = signed_in(clinic, "S2", secrets_dir)
    one_line(clinic("refill", "approve", "RX1", env=desk), 1, "S2 (front-desk)", "refills.approve")
    one_line(clinic("staff", "edit", "S3", "--role", "front-desk", env=desk), 1, "staff.manage")
    one_line(clinic("staff", "edit", "S3", "--npi", "1245319599", env=desk), 1, "staff.manage")
    one_line(clinic("audit", env=desk), 1, "audit.read")
    doctor = signed_in(clinic, "S3", secrets_dir)
    result = clinic("refill", "approve", "RX1", env=doctor)  # past the gate: there is no RX1
    assert result.exit_code == 1 and "refills.approve" not in result.stderr and "RX1" in result.stderr
    # What was refused changed nothing.
    admin = signed_in(clinic, "S1", secrets_dir)
    assert clinic.json("staff", "show", "S3", env=admin)["role"] == "physician"


def test_a_member_sets_their_own_passphrase_only(clinic, secrets_dir, tmp_path):
    desk = signed_in(clinic, "S2", secrets_dir)
    new = tmp_path / "new"
    new.write_text("lively-pepper-garden-55\n")
    new.chmod(0o600)
    assert clinic("staff", "passphrase", "S2", "--passphrase-file", new, env=desk).exit_code == 0
    one_line(clinic("staff", "passphrase", "S3", "--passphrase-file", new, env=desk), 1, "staff.manage")
    assert clinic("login", "S2", "--passphrase-file", new).exit_code == 0


# -- sessions end ------------------------------------------------------------------------------

def test_a_session_expires_when_idle_and_at_its_longest(clinic, secrets_dir):
    env = signed_in(clinic, "S2", secrets_dir, now="2026-11-26T08:00:00")
    for minute in ("08:10", "08:24", "08:38"):  # used within 15 minutes each time
        assert clinic("patient", "show", "P1", env={**env, "MEDSEC_NOW": f"2026-11-26T{minute}:00"}).exit_code == 0
    one_line(clinic("patient", "show", "P1", env={**env, "MEDSEC_NOW": "2026-11-26T08:54:00"}), 1,
             "expired after 15 min", "sign in again")
    env = signed_in(clinic, "S2", secrets_dir, now="2026-11-26T08:00:00")
    moment = 8 * 60
    while moment < 20 * 60 - 10:
        moment += 10
        now = f"2026-11-26T{moment // 60:02d}:{moment % 60:02d}:00"
        assert clinic("patient", "show", "P1", env={**env, "MEDSEC_NOW": now}).exit_code == 0, now
    one_line(clinic("patient", "show", "P1", env={**env, "MEDSEC_NOW": "2026-11-26T20:00:00"}), 1, "expired at")


def test_logout_ends_the_session_everywhere(clinic, secrets_dir):
    env = signed_in(clinic, "S2", secrets_dir)
    out = clinic("logout", env=env)
    assert out.exit_code == 0 and out.stdout == "unset MEDSEC_SESSION\n"
    one_line(clinic("patient", "show", "P1", env=env), 1, "ended (signed out)")


def test_wrong_passphrases_lock_the_account(clinic, secrets_dir, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-right-one-at-all\n")
    wrong.chmod(0o600)
    for _ in range(4):
        one_line(clinic("login", "S2", "--passphrase-file", wrong), 1, "wrong passphrase")
    one_line(clinic("login", "S2", "--passphrase-file", wrong), 1, "locked until")
    one_line(login(clinic, "S2", secrets_dir), 1, "locked")  # the right one, too, for a while
    later = {"MEDSEC_NOW": "2026-11-26T10:16:00"}
    assert login(clinic, "S2", secrets_dir, env=later).exit_code == 0
    admin = signed_in(clinic, "S1", secrets_dir, now="2026-11-26T10:16:00")
    logins = [e for e in audit_of(clinic, admin) if e["action"] == "login"]
    assert len([e for e in logins if e["outcome"].startswith("refused")]) >= 6


def test_a_moved_clock_is_refused_on_a_real_practice(medsec, secrets_dir):
    medsec.ok("init", "--security", "signed-in", "--admin", "Ada Admin", "--admin-passphrase-file",
              secrets_dir / "S1", env={"MEDSEC_NOW": ""})
    real = {"MEDSEC_NOW": ""}
    result = login(medsec, "S1", secrets_dir, env=real)
    assert result.exit_code == 0, result.stderr
    env = {"MEDSEC_SESSION": result.stdout.strip().partition("=")[2].strip("'"), "MEDSEC_USER": ""}
    assert medsec("patient", "list", env={**env, **real}).exit_code == 0
    one_line(medsec("patient", "list", env={**env, "MEDSEC_NOW": "2026-11-26T10:00:00"}), 1, "MEDSEC_NOW")
    who = medsec.json("whoami", env={**env, **real})
    assert who["user"] == "S1" and who["role"] == "admin" and who["rehearsal"] is False
    checked = medsec("check", env={**env, **real})
    assert checked.exit_code == 0 and "rehearsal" not in checked.stdout + checked.stderr


def test_check_and_whoami_show_a_rehearsal_practice(clinic, secrets_dir):
    admin = signed_in(clinic, "S1", secrets_dir)
    assert clinic.json("whoami", env=admin)["rehearsal"] is True
    checked = clinic("check", env=admin)
    assert checked.exit_code == 0 and "a rehearsal practice: MEDSEC_NOW may move its clock" in checked.stderr


# -- setting it up -----------------------------------------------------------------------------

@pytest.mark.parametrize("weak", ["", "short-1", "aaaaaaaaaaaaaaaa", "password1234", "ada-admin-is-great"])
def test_a_weak_first_passphrase_makes_no_practice(medsec, tmp_path, weak):
    path = tmp_path / "weak"
    path.write_text(weak + "\n")
    path.chmod(0o600)
    result = medsec("init", "--security", "signed-in", "--admin", "Ada Admin", "--admin-passphrase-file", path)
    one_line(result, 2)
    assert weak == "" or weak not in result.stderr
    assert not medsec.home.exists() or not any(medsec.home.iterdir())


def test_switching_an_open_practice_to_sign_in(practice, secrets_dir):
    one_line(practice("security", "mode", "signed-in"), 1, "no administrator")
    practice.ok("staff", "add", "--name", "Ada Admin", "--role", "admin")
    practice.ok("staff", "passphrase", "S1", "--passphrase-file", secrets_dir / "S1")
    assert practice.json("security", "mode") == {"mode": "open"}
    assert practice.json("security", "mode", "signed-in") == {"mode": "signed-in"}
    one_line(practice("patient", "list", env={"MEDSEC_NOW": ""}), 1, "not signed in")
    one_line(practice("patient", "list"), 1, "MEDSEC_NOW")  # not a rehearsal practice


def test_open_mode_is_as_before(practice):
    who = practice.json("whoami")
    assert who == {"user": "tester", "mode": "open", "rehearsal": False, "signed_in": False}
    assert practice("--user", "anyone", "patient", "list").exit_code == 0
    practice.ok("staff", "add", "--name", "Ada Admin", "--role", "admin")
    one_line(practice("login", "S1"), 1, "does not use sign-in")


def test_the_store_keeps_a_digest_not_the_token(clinic, secrets_dir):
    env = signed_in(clinic, "S2", secrets_dir)
    secret = env["MEDSEC_SESSION"].partition(".")[2]
    kept = "".join(p.read_text(errors="replace") for p in clinic.home.rglob("*") if p.is_file())
    assert len(secret) >= 40 and secret not in kept
    assert "secret_sha256" in "".join(p.read_text() for p in (clinic.home / "sessions").rglob("*") if p.is_file())
