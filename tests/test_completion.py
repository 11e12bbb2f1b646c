"""Help for the asking and shell completion, through the installed command (issue 17, parts 4-5).

- bare `medsec` and a bare group print their help on stdout, exit 0;
- `medsec help COMMAND...` prints exactly what `medsec COMMAND... --help` does;
- click's completion protocol (`_MEDSEC_COMPLETE=bash_complete`, `COMP_WORDS`, `COMP_CWORD`)
  completes commands, lazily loaded subcommands, options and an option's listed values, in a
  process of its own, with no data directory and without the agent;
- `medsec completion SHELL` prints click's script, and bash itself completes with it.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.cli import MEDSEC_BIN

from medsec import launch

TIMEOUT = 60


@pytest.fixture
def env(tmp_path):
    """No practice at all: help and completion need none."""
    return {**os.environ, "MEDSEC_HOME": str(tmp_path / "no-practice"), "MEDSEC_AGENT": "off",
            "MEDSEC_USER": "tester", "MEDSEC_PLUGINS": "", "MEDSEC_DISABLE_PLUGINS": "", "COLUMNS": "80"}


def medsec(env, *args, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([MEDSEC_BIN, *args], env={**env, **extra}, capture_output=True, text=True,
                          timeout=TIMEOUT)


def complete(env, shell: str, line: str) -> list[str]:
    """The completions click's protocol gives `shell` for the command line `line` (the last word
    being completed; a trailing space completes a new, empty word)."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    proc = medsec(env, _MEDSEC_COMPLETE=f"{shell}_complete", COMP_WORDS=line, COMP_CWORD=str(cword))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    if shell == "bash":  # "type,value" a line
        return [item.partition(",")[2] for item in proc.stdout.splitlines() if item]
    lines = proc.stdout.splitlines()  # zsh: type, value, help (or "_"), three lines each
    return [lines[i + 1] for i in range(0, len(lines), 3)]


@pytest.mark.parametrize("args", [[], ["appt"], ["patient", "coverage"]])
def test_bare_medsec_and_a_bare_group_print_their_help(env, args):
    proc = medsec(env, *args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.startswith(f"Usage: {' '.join(['medsec', *args])} [OPTIONS] COMMAND [ARGS]...")
    assert proc.stdout == medsec(env, *args, "--help").stdout


@pytest.mark.parametrize("words", [["appt", "book"], ["appt"], ["report", "aging"], []])
def test_help_prints_the_commands_help(env, words):
    """Built-in, group, a plugin's report and medsec's own: the same text as --help."""
    proc = medsec(env, "help", *words)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == medsec(env, *words, "--help").stdout
    assert proc.stdout.startswith(f"Usage: {' '.join(['medsec', *words])} ")


@pytest.mark.parametrize(("words", "expected"), [
    (["apt"], "medsec: error: no such command 'apt' in 'medsec' (did you mean 'appt'?)"),
    (["appt", "bok"], "medsec: error: no such command 'bok' in 'medsec appt' (did you mean 'book'?)"),
    (["appt", "zzz"], "medsec: error: no such command 'zzz' in 'medsec appt' (try 'medsec appt --help')"),
    (["appt", "book", "now"], "medsec: error: 'medsec appt book' has no subcommands (try 'medsec help appt book')"),
])
def test_help_of_an_unknown_command_is_one_line(env, words, expected):
    proc = medsec(env, "help", *words)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", expected + "\n")


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completes_commands_lazy_subcommands_and_options(env, shell):
    assert "appt" in complete(env, shell, "medsec ap")
    assert complete(env, shell, "medsec appt bo") == ["book"]
    assert "--provider" in complete(env, shell, "medsec appt book --pro")
    assert complete(env, shell, "medsec --data-dir x appt book --pro") == ["--provider"]
    assert "aging" in complete(env, shell, "medsec report ag")  # a report a bundled plugin registers
    assert complete(env, shell, "medsec completion ") == ["bash", "zsh", "fish"]  # a click.Choice


def test_zsh_completion_carries_the_summaries(env):
    proc = medsec(env, _MEDSEC_COMPLETE="zsh_complete", COMP_WORDS="medsec appt bo", COMP_CWORD="2")
    assert proc.stdout.splitlines() == ["plain", "book", "Book an appointment, or a series."]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_completion_script(env, shell):
    """`medsec completion SHELL` is click's script for `medsec`, the same the protocol's
    `SHELL_source` gives."""
    proc = medsec(env, "completion", shell)
    assert proc.returncode == 0, proc.stderr
    assert "_MEDSEC_COMPLETE" in proc.stdout and "_medsec_completion" in proc.stdout
    assert proc.stdout == medsec(env, _MEDSEC_COMPLETE=f"{shell}_source").stdout
    if shell == "fish":
        assert "complete --no-files --command medsec" in proc.stdout
    else:
        assert "compdef _medsec_completion medsec" in proc.stdout if shell == "zsh" \
            else "complete -o nosort -F _medsec_completion medsec" in proc.stdout


def test_a_shell_medsec_does_not_know_is_exit_2(env):
    proc = medsec(env, "completion", "csh")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("medsec: error: invalid value for '{bash|zsh|fish}': 'csh'")
    assert proc.stderr.count("\n") == 1


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash on this machine")
def test_bash_completes_with_the_script(env):
    """The script as a user installs it, run by bash: COMPREPLY after a <TAB> on `medsec appt bo`."""
    script = ('eval "$(medsec completion bash)"\n'
              "COMP_WORDS=(medsec appt book --pro); COMP_CWORD=3; _medsec_completion medsec\n"
              'printf "%s\\n" "${COMPREPLY[@]}"\n'
              "COMPREPLY=(); COMP_WORDS=(medsec appt bo); COMP_CWORD=2; _medsec_completion medsec\n"
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    path = f"{Path(MEDSEC_BIN).parent}{os.pathsep}{env['PATH']}"
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], env={**env, "PATH": path},
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["--provider", "book"]


def test_completion_never_goes_to_the_agent():
    """The shell runs `medsec` with no arguments for completion: never handed to an agent."""
    completing = {"MEDSEC_AGENT": "on", "_MEDSEC_COMPLETE": "bash_complete", "COMP_WORDS": "medsec appt bo",
                  "COMP_CWORD": "2", "MEDSEC_STORE": "postgresql://db.example.org/clinic"}
    assert launch._wants_agent([], completing) is False


def test_an_everyday_command_pays_nothing_for_completion(env):
    """Answering a shell costs other commands one environment look-up: no module of it is imported."""
    code = ("import sys\nfrom medsec.cli import cli\n"
            "try:\n    cli.main(args=['--version'], prog_name='medsec')\n"
            "except SystemExit:\n    pass\n"
            "print(' '.join(sorted(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    loaded = set(proc.stdout.split())
    assert "medsec.cli" in loaded
    assert {"click.shell_completion", "medsec.cli.helpcmd", "difflib"} & loaded == set()


def test_help_and_completion_need_no_sign_in(env, tmp_path):
    """On a signed-in practice, with no session: help and the script, while a read is refused."""
    secret = tmp_path / "passphrase"
    secret.write_text("violet-harbor-lantern-42\n")
    secret.chmod(0o600)
    env = {**env, "MEDSEC_USER": ""}
    init = medsec(env, "init", "--admin", "Ann Admin", "--admin-passphrase-file", str(secret))
    assert init.returncode == 0, init.stderr
    assert medsec(env, "patient", "list").returncode == 1
    assert medsec(env, "help", "appt", "book").stdout == medsec(env, "appt", "book", "--help").stdout
    assert medsec(env, "completion", "bash").stdout.startswith("_medsec_completion()")
    assert medsec(env, "appt").returncode == 0


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory):
    """The demo practice (open): what completion offers for patients, staff and types."""
    home = tmp_path_factory.mktemp("completion") / "clinic"
    env = {**os.environ, "MEDSEC_HOME": str(home), "MEDSEC_AGENT": "off", "MEDSEC_USER": "maria",
           "MEDSEC_PLUGINS": "", "MEDSEC_DISABLE_PLUGINS": ""}
    subprocess.run([MEDSEC_BIN, "init", "--demo"], env=env, check=True, capture_output=True, timeout=TIMEOUT)
    return env


def searches(env) -> list[dict]:
    entries = json.loads(medsec(env, "audit", "--json").stdout)
    return [e for e in entries if e["command"].endswith("(completion)")]


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completes_patients_staff_and_types_by_name(demo_env, shell):
    before = len(searches(demo_env))
    newest = complete(demo_env, shell, "medsec appt book ")
    assert newest[:3] == ["P300", "P299", "P298"] and len(newest) == 20  # registered last first
    named = complete(demo_env, shell, "medsec appt book oconn")  # ids in place of the name typed
    assert "P2" in named and all(v.startswith("P") for v in named)
    assert complete(demo_env, shell, "medsec appt book P2 --provider ") == ["S1", "S2", "S3", "S4", "S5", "S6",
                                                                              "S7", "S8"]
    assert complete(demo_env, shell, "medsec appt book P2 --provider voss") == ["S1"]
    assert complete(demo_env, shell, "medsec appt book P2 --type fol") == ["follow-up"]
    # A patient completion is a patient search: audited, with the ids it offered.
    found = searches(demo_env)[before:]
    assert [e["action"] for e in found] == ["search", "search"] and "P2" in found[1]["ids"]


def test_zsh_shows_whom_an_id_names(demo_env):
    proc = medsec(demo_env, _MEDSEC_COMPLETE="zsh_complete", COMP_WORDS="medsec appt book oconn", COMP_CWORD="3")
    dob = json.loads(medsec(demo_env, "patient", "show", "P2", "--json").stdout)["dob"]  # the demo's: by today
    assert f"P2\nLuis O'Connell, {dob}" in proc.stdout


def test_a_patient_is_offered_only_to_whom_may_search(tmp_path):
    """Signed in, with no session: no patient is offered, and no error reaches the shell."""
    from helpers.signin import PASS

    secret = tmp_path / "s1"
    secret.write_text(PASS["S1"] + "\n")
    secret.chmod(0o600)
    env = {**os.environ, "MEDSEC_HOME": str(tmp_path / "clinic"), "MEDSEC_AGENT": "off", "MEDSEC_USER": "",
           "MEDSEC_PLUGINS": "", "MEDSEC_DISABLE_PLUGINS": ""}
    made = medsec(env, "init", "--admin", "Ada Admin", "--admin-passphrase-file", str(secret))
    assert made.returncode == 0, made.stderr
    medsec(env, "patient", "add", "--first", "Ann", "--last", "Smith", "--dob", "1970-01-01")  # refused: no session
    assert complete(env, "bash", "medsec appt book sm") == []
    assert complete(env, "bash", "medsec appt book P1 --provider ") == ["S1"]  # the roster is not PHI
