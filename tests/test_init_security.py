"""`medsec init` makes a signed-in practice unless told otherwise (issue 15, Trust I, "Modes"):
its first administrator is asked on the terminal, or given with --admin and
--admin-passphrase-file; with neither, nothing is made. --demo and --security open stay open."""

import pytest
from helpers.signin import PASS, login, one_line
from helpers.terminal import run_in_terminal, terminal_env

NAME_PROMPT = "The first administrator's full name (S1)"
REAL_CLOCK = {"MEDSEC_NOW": ""}  # a signed-in practice that is not a rehearsal refuses a moved clock


def made_nothing(medsec):
    return not medsec.home.exists() or not any(medsec.home.iterdir())


def mode_of(medsec, env=None):
    return medsec.json("security", "mode", env=env)["mode"]


def signs_in_as_admin(medsec, secrets_dir):
    result = login(medsec, "S1", secrets_dir, env=REAL_CLOCK)
    assert result.exit_code == 0, result.stderr
    session = {"MEDSEC_SESSION": result.stdout.strip().partition("=")[2].strip("'"), "MEDSEC_USER": "", **REAL_CLOCK}
    who = medsec.json("whoami", env=session)
    assert (who["user"], who["role"], who["mode"]) == ("S1", "admin", "signed-in")
    return session


# -- the default is signed in ------------------------------------------------------------------

def test_init_without_a_terminal_or_an_administrator_makes_nothing(medsec, secrets_dir):
    for args in ([], ["--security", "signed-in"], ["--admin-passphrase-file", secrets_dir / "S1"],
                 ["--time-zone", "America/Chicago", "--rehearsal"]):
        one_line(medsec("init", *args), 2, "a signed-in practice needs its first administrator", "--admin NAME",
                 "--admin-passphrase-file FILE", "--security open")
        assert made_nothing(medsec), args


@pytest.mark.parametrize("name", ["", "   ", "Ada\x1bAdmin"])
def test_a_bad_administrator_name_makes_nothing(medsec, secrets_dir, name):
    one_line(medsec("init", "--admin", name, "--admin-passphrase-file", secrets_dir / "S1"), 2, "--admin")
    assert made_nothing(medsec)


def test_init_with_an_administrator_is_signed_in(medsec, secrets_dir):
    made = medsec.json("init", "--admin", " Ada Admin ", "--admin-passphrase-file", secrets_dir / "S1",
                       env=REAL_CLOCK)
    assert (made["security"], made["admin"]) == ("signed-in", "S1")
    session = signs_in_as_admin(medsec, secrets_dir)
    assert mode_of(medsec, session) == "signed-in"
    assert medsec.json("staff", "show", "S1", env=session)["name"] == "Ada Admin"
    one_line(medsec("patient", "list", env={**REAL_CLOCK, "MEDSEC_USER": ""}), 1, "not signed in")


def test_security_open_is_as_before(medsec):
    made = medsec.json("init", "--security", "open")
    assert "security" not in made and mode_of(medsec) == "open"
    assert medsec("--user", "anyone", "patient", "list").exit_code == 0


def test_security_open_takes_no_administrator(medsec, secrets_dir):
    one_line(medsec("init", "--security", "open", "--admin", "Ada Admin"), 2, "--security signed-in")
    assert made_nothing(medsec)


def test_the_demo_stays_open_unless_asked(medsec, tmp_path, secrets_dir):
    medsec.ok("init", "--demo")
    assert mode_of(medsec) == "open"
    other = tmp_path / "signed-demo"
    made = medsec.json("--data-dir", other, "init", "--demo", "--security", "signed-in", "--rehearsal",
                       "--admin", "Ada Admin", "--admin-passphrase-file", secrets_dir / "S1")
    assert made["security"] == "signed-in" and made["admin"] not in ("S1", None)  # after the demo's staff
    assert medsec("--data-dir", other, "patient", "list", env={"MEDSEC_USER": ""}).exit_code == 1


# -- asked at the terminal ---------------------------------------------------------------------

def test_the_first_administrator_is_asked_at_the_terminal(medsec, tmp_path, secrets_dir):
    run = run_in_terminal(["init"], terminal_env(medsec, tmp_path, MEDSEC_NOW=""),
                          answers=[(NAME_PROMPT, "Ada Admin"), ("passphrase for Ada Admin (S1)", PASS["S1"]),
                                   ("Repeat the passphrase", PASS["S1"])])
    assert run.exit_code == 0, run.screen
    assert "Ada Admin" in run.screen and PASS["S1"] not in run.screen  # the name echoed, the passphrase not
    signs_in_as_admin(medsec, secrets_dir)


def test_a_passphrase_file_with_the_name_asked(medsec, tmp_path, secrets_dir):
    run = run_in_terminal(["init", "--admin-passphrase-file", secrets_dir / "S1"],
                          terminal_env(medsec, tmp_path, MEDSEC_NOW=""), answers=[(NAME_PROMPT, "Ada Admin")])
    assert run.exit_code == 0, run.screen
    signs_in_as_admin(medsec, secrets_dir)


@pytest.mark.parametrize("first, second, words", [
    ("short-1", "short-1", "shorter than 12"),
    (PASS["S1"], "violet-harbor-lantern-43", "differ"),
    ("ada-admin-rocks-the-clinic", "ada-admin-rocks-the-clinic", "part of the person's name"),
])
def test_a_bad_passphrase_typed_makes_nothing(medsec, tmp_path, first, second, words):
    run = run_in_terminal(["init"], terminal_env(medsec, tmp_path),
                          answers=[(NAME_PROMPT, "Ada Admin"), ("passphrase for", first), ("Repeat", second)])
    assert run.exit_code == 2 and "medsec: error: " in run.screen and words in run.screen, run.screen
    assert made_nothing(medsec)


def test_an_empty_name_typed_is_asked_again(medsec, tmp_path, secrets_dir):
    run = run_in_terminal(["init", "--admin-passphrase-file", secrets_dir / "S1"],
                          terminal_env(medsec, tmp_path, MEDSEC_NOW=""),
                          answers=[(NAME_PROMPT, ""), (NAME_PROMPT, "Ada Admin")])
    assert run.exit_code == 0, run.screen
    signs_in_as_admin(medsec, secrets_dir)


def test_init_again_is_refused_before_anything_is_asked(medsec):
    medsec.ok("init", "--security", "open")
    one_line(medsec("init"), 1, "already a medsec data directory")
