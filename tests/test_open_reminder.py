"""The once-a-day reminder on an open practice (issue 15, Trust I, "Modes"): a person at a
terminal is told that nothing is protected, once per calendar day (the practice's clock), per
user and practice; never cron or a pipe (standard error not a terminal), never a signed-in practice."""

import os
import stat
from pathlib import Path

from helpers.signin import signed_in
from helpers.terminal import run_in_terminal, terminal_env

from medsec.security.reminder import OPEN_NOTE, marker_path

NOTE = "medsec: note: this practice is open"
NEXT_DAY = "2026-11-27T08:00:00"


def notes(run) -> int:
    return (run.screen + run.stderr).count(NOTE)


def test_shown_once_a_day_at_a_terminal(practice, tmp_path):
    env = terminal_env(practice, tmp_path)
    first = run_in_terminal(["patient", "list"], env)
    assert first.exit_code == 0 and notes(first) == 1, first.screen
    assert OPEN_NOTE in first.screen and "medsec security mode signed-in" in first.screen
    again = run_in_terminal(["patient", "list"], env)
    assert again.exit_code == 0 and notes(again) == 0, again.screen
    later = run_in_terminal(["patient", "list"], {**env, "MEDSEC_NOW": "2026-11-26T23:59:00"})
    assert notes(later) == 0  # the same day, in the practice's time zone
    tomorrow = run_in_terminal(["patient", "list"], {**env, "MEDSEC_NOW": NEXT_DAY})
    assert tomorrow.exit_code == 0 and notes(tomorrow) == 1
    assert notes(run_in_terminal(["appt", "day"], {**env, "MEDSEC_NOW": NEXT_DAY})) == 0


def test_the_day_is_kept_privately_outside_the_data_directory(practice, tmp_path):
    env = terminal_env(practice, tmp_path)
    run_in_terminal(["patient", "list"], env)
    path = marker_path(str(practice.home), {"XDG_STATE_HOME": env["XDG_STATE_HOME"]})
    assert path.startswith(str(tmp_path / "state" / "medsec") + os.sep)
    assert Path(path).read_text() == "2026-11-26\n"
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert str(practice.home) not in path  # a hash of the folder, not its name


def test_each_practice_is_reminded(practice, tmp_path):
    env = terminal_env(practice, tmp_path)
    assert notes(run_in_terminal(["patient", "list"], env)) == 1
    other = tmp_path / "other"
    practice.ok("--data-dir", other, "init", "--security", "open")
    assert notes(run_in_terminal(["--data-dir", other, "patient", "list"], env)) == 1
    assert notes(run_in_terminal(["--data-dir", other, "patient", "list"], env)) == 0


def test_never_when_stderr_is_not_a_terminal(practice, tmp_path):
    env = terminal_env(practice, tmp_path)
    run = run_in_terminal(["patient", "list"], env, stderr_tty=False)
    assert run.exit_code == 0 and notes(run) == 0
    assert not (tmp_path / "state").exists()  # nothing recorded either: a terminal still gets it
    assert notes(run_in_terminal(["patient", "list"], env)) == 1
    assert practice.run("patient", "list", env={"XDG_STATE_HOME": str(tmp_path / "cron")}).stderr == "no patients\n"


def test_not_for_the_commands_that_speak_of_the_mode(practice, tmp_path):
    env = terminal_env(practice, tmp_path)
    for args in (["whoami"], ["security", "mode"], ["login", "S1"], ["logout"]):
        assert notes(run_in_terminal(args, env)) == 0, args
    assert notes(run_in_terminal(["patient", "list"], env)) == 1


def test_never_on_a_signed_in_practice(clinic, tmp_path, secrets_dir):
    env = terminal_env(clinic, tmp_path)
    desk = signed_in(clinic, "S2", secrets_dir)
    run = run_in_terminal(["patient", "list"], {**env, **desk})
    assert run.exit_code == 0 and notes(run) == 0, run.screen
    refused = run_in_terminal(["patient", "list"], {**env, "MEDSEC_USER": ""})
    assert refused.exit_code == 1 and notes(refused) == 0
    assert notes(run_in_terminal(["whoami"], {**env, **desk})) == 0
    assert not (tmp_path / "state").exists()


def test_a_state_folder_that_cannot_be_written_never_fails_the_command(practice, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    env = terminal_env(practice, tmp_path, XDG_STATE_HOME=str(blocked))
    for _ in range(2):  # not recorded, so shown again: a note too many rather than none
        run = run_in_terminal(["patient", "list"], env)
        assert run.exit_code == 0 and notes(run) == 1, run.screen
