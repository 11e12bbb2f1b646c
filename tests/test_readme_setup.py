"""README's walk-through for a real office stays true to the code (issue 17, part 11).

- `medsec init` of a new practice prints its next steps on stderr (never on stdout, which
  scripts parse; not with --json, not for --demo), and each step is a command medsec takes;
- every crontab line of README and docs/*.md is a crontab entry (five time fields within
  their ranges, or an @keyword; `%` written `\\%`), and each medsec command in it exists with
  those options and values: click parses it down to the command, invoking nothing;
- every `medsec` line of README's "Setting up your practice" and "Tasks by role" parses so;
- `medsec man COMMAND` is `medsec help --man COMMAND`, and README's help section shows it.
"""

import re
import shlex
from pathlib import Path

import click
import pytest
from helpers.clitree import parse

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = {"README.md": README, **{f"docs/{p.name}": p.read_text(encoding="utf-8")
                                for p in sorted((ROOT / "docs").glob("*.md"))}}
SEPARATORS = set("|&;<>")


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def fenced(text: str) -> list[tuple[str, str]]:
    """(language, body) of each fenced block."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)


# -- parsing a command line as click would, invoking nothing ---------------------------------
def medsec_words(command: str) -> list[list[str]]:
    """The words after `medsec` of each medsec command in a shell command line: `$(...)` is one
    word, pipes, redirections, `&&` and `;` end a command, `NAME=value` before it is skipped."""
    if not re.search(r"\bmedsec\b", command):
        return []
    inner = re.findall(r"\$\((medsec [^)]*)\)", command)  # eval "$(medsec login S1)"
    if inner:
        return [shlex.split(text)[1:] for text in inner]
    lexer = shlex.shlex(re.sub(r"\$\([^)]*\)", "X", command), posix=True, punctuation_chars="|&;<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    found, current = [], []
    for word in [*lexer, ";"]:
        if set(word) <= SEPARATORS:
            while current and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", current[0]):
                current.pop(0)
            if current and current[0] == "medsec":
                found.append(current[1:])
            current = []
        else:
            current.append(word)
    return found


def problems_of(lines: list[str]) -> list[str]:
    problems = []
    for line in lines:
        for words in medsec_words(line):
            try:
                parse(words)
            except click.ClickException as e:
                problems.append(f"{line}\n  {e.format_message()}")
    return problems


@pytest.fixture(autouse=True)
def no_practice(tmp_path, monkeypatch):
    """Parsing reads no practice: none where MEDSEC_HOME points, no plugins beyond the bundled."""
    monkeypatch.setenv("MEDSEC_HOME", str(tmp_path / "none"))
    monkeypatch.setenv("MEDSEC_PLUGINS", "")
    monkeypatch.setenv("MEDSEC_DISABLE_PLUGINS", "")


def test_the_parser_finds_the_commands_of_a_shell_line():
    line = ". /srv/secrets.env && X=1 medsec --token-file /t remind send --for tomorrow --quiet | mail -s \"a b\" m"
    assert medsec_words(line) == [["--token-file", "/t", "remind", "send", "--for", "tomorrow", "--quiet"]]
    assert medsec_words("medsec backup /b/c-$(date +%F).tar.gz > /dev/null") == [["backup", "/b/c-X.tar.gz"]]
    assert medsec_words('eval "$(medsec login S1)"') == [["login", "S1"]]
    assert problems_of(["medsec remind send --for tomorrow --loud"]) != []
    assert problems_of(["medsec remind sned"]) != []


# -- crontab lines -------------------------------------------------------------------------
SCHEDULE = re.compile(r"^(@(?:reboot|yearly|annually|monthly|weekly|daily|midnight|hourly))\s+(.*)$|"
                      r"^((?:\S+\s+){4}\S+)\s+(.*)$")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
FIELDS = [(0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, {m: i + 1 for i, m in enumerate(MONTHS)}),
          (0, 7, {d: i for i, d in enumerate(WEEKDAYS)})]
LOOKS_LIKE_CRON = re.compile(r"^(@[a-z]+|([0-9*/,-]+\s+){4}[0-9a-zA-Z*/,-]+)\s+\S")


def field_ok(text: str, low: int, high: int, names: dict) -> bool:
    """One time field: `*`, a number, a name, a range, a step, or a list of those."""
    def value(word: str) -> int | None:
        if word.isdigit():
            return int(word) if low <= int(word) <= high else None
        return names.get(word.lower())

    for item in text.split(","):
        span, _, step = item.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            return False
        if span == "*":
            continue
        ends = [value(end) for end in span.split("-")]
        numbers = [end for end in ends if end is not None]
        if len(numbers) != len(ends) or len(ends) > 2 or (step and len(ends) == 1):
            return False
        if len(numbers) == 2 and numbers[0] > numbers[1]:
            return False
    return True


def crontab_lines() -> list[tuple[str, str, bool]]:
    """(where, line, in a crontab block) for every crontab entry or line of a ```crontab block."""
    out = []
    for name, text in DOCS.items():
        for lang, body in fenced(text):
            for line in body.splitlines():
                if lang == "crontab" and line.strip():
                    out.append((name, line.strip(), True))
                elif LOOKS_LIKE_CRON.match(line.strip()):
                    out.append((name, line.strip(), False))
    return out


def command_of(line: str) -> str:
    """The command of a crontab entry, as cron hands it to the shell (`\\%` is `%`); "" for a
    variable or a comment."""
    match = SCHEDULE.match(line)
    if line.startswith("#") or not match:
        return ""
    return (match.group(2) if match.group(1) else match.group(4)).replace("\\%", "%")


def entry_problem(line: str) -> str | None:
    """Why `line` is no crontab line (None when it is one), after cron's own reading."""
    if line.startswith("#") or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\s*=.*", line):
        return None
    match = SCHEDULE.match(line)
    if not match:
        return "neither a schedule, a variable nor a comment"
    times, command = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    if not times.startswith("@"):
        for text, (low, high, names) in zip(times.split(), FIELDS, strict=True):
            if not field_ok(text, low, high, names):
                return f"time field {text!r} is not one cron reads ({low}-{high})"
    if re.search(r"(?<!\\)%", command):
        return "a bare % (cron ends the command there): write \\%"
    return None


def test_readme_has_the_crontab_of_the_walk_through():
    lines = "\n".join(line for where, line, block in crontab_lines() if where == "README.md" and block)
    for job in ("remind send --for tomorrow --quiet", "appt noshow --auto --quiet", " backup ", "audit anchor"):
        assert job in lines, job


def test_every_crontab_line_is_one_cron_reads():
    found = crontab_lines()
    assert len(found) >= 8
    problems = [f"{where}: {line}: {why}" for where, line, _ in found if (why := entry_problem(line))]
    assert problems == []


def test_every_medsec_command_in_a_crontab_line_exists_with_its_options():
    lines = [command_of(line) for _, line, _ in crontab_lines()]
    assert sum(len(medsec_words(line)) for line in lines) >= 8
    assert problems_of(lines) == []


def test_a_bad_crontab_line_is_caught():
    assert entry_problem("0 25 * * * medsec check") is not None
    assert entry_problem("0 7 * * mon-fri medsec check") is None
    assert entry_problem("0 7 * * * medsec backup /b/$(date +%F).tar.gz") is not None
    assert entry_problem("MEDSEC_HOME=/srv/medsec/clinic") is None
    assert entry_problem("medsec check") is not None
    assert command_of("30 1 * * *  medsec backup /b/c-$(date +\\%F).tar.gz") == "medsec backup /b/c-$(date +%F).tar.gz"
    assert command_of("MEDSEC_HOME=/srv/medsec/clinic") == ""


# -- the walk-through and the tasks by role --------------------------------------------------
@pytest.mark.parametrize("title", ["Setting up your practice", "Tasks by role"])
def test_every_command_of_the_walk_through_parses(title):
    lines = [line for lang, body in fenced(section(title)) if lang == "sh" for line in body.splitlines()]
    assert sum(len(medsec_words(line)) for line in lines) >= 10
    assert problems_of(lines) == []


def test_the_walk_through_covers_a_real_office():
    text = section("Setting up your practice")
    documented = set(re.findall(r"^\| `(\w+)` \|", text, re.M))
    template = (ROOT / "templates" / "config" / "practice.yaml").read_text(encoding="utf-8")
    in_template = set(re.findall(r"^(?:# ?)?(\w+):", template, re.M))  # its settings, commented out or not
    assert {"name", "npi", "tax_id", "time_zone", "office_hours", "date_order"} <= in_template
    # every field of the template, and those medsec reads beyond it
    assert in_template | {"language", "scheduling", "security", "sign_in", "billing", "fax"} <= documented
    for needle in ("medsec init", "medsec staff add", "medsec staff hours", "medsec staff passphrase",
                   "appointment-types", "payers", "password_env", "preset: json", "**`twilio`**",
                   "account_sid", "token_env", "medsec token create", "backup /srv/medsec/backups", "audit anchor",
                   "init\n--encrypt", "docs/security.md#encryption-at-rest", "docs/security.md#the-anchor-routine",
                   "Eligibility"):
        assert needle in text, needle
    for role in ("**Front desk**", "**Biller**", "**Manager**"):
        assert role in section("Tasks by role")
    for target in ("docs/cli.md", "docs/plugins.md", "docs/plugin-api.md", "docs/security.md"):
        assert f"]({target})" in section("Further reading")


# -- init's next steps -----------------------------------------------------------------------
def steps_of(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("next steps"))
    return lines[start:]


def test_init_prints_the_next_steps_on_stderr(medsec, secrets_dir):
    made = medsec("init", "--admin", "Ada Admin", "--admin-passphrase-file", secrets_dir / "S1")
    assert made.exit_code == 0, made.stderr
    steps = steps_of(made.stderr)
    assert 4 <= len(steps) <= 6, steps
    assert '"Setting up your practice"' in steps[0] and "## Setting up your practice\n" in README
    text = "\n".join(steps)
    for needle in ('eval "$(medsec login S1)"', "medsec config edit practice", "channels", "medsec staff add",
                   "staff hours", "medsec config check"):
        assert needle in text, needle
    assert "next steps" not in made.stdout and "data_dir" in made.stdout  # stdout: the summary, as before
    commands = [re.sub(r"\s{2,}.*$", "", line.strip()).replace("NAME", "'Ann Lee'").replace("ROLE", "front-desk")
                for line in steps[1:]]
    assert problems_of(commands) == []


def test_the_next_steps_name_the_data_directory_given(medsec, tmp_path):
    other = tmp_path / "second clinic"
    made = medsec("--data-dir", other, "init", "--security", "open")
    assert made.exit_code == 0, made.stderr
    steps = steps_of(made.stderr)
    assert steps[1].strip() == f"export MEDSEC_HOME={shlex.quote(str(other))}"
    assert "login" not in "\n".join(steps)  # an open practice signs no one in
    assert 4 <= len(steps) <= 6


def test_no_next_steps_for_scripts_or_the_demo(medsec, tmp_path):
    scripted = medsec("init", "--security", "open", "--json")
    assert scripted.exit_code == 0 and scripted.json()["demo"] is False
    assert "next steps" not in scripted.stderr
    demo = medsec("--data-dir", tmp_path / "demo", "init", "--demo")
    assert demo.exit_code == 0 and "next steps" not in demo.stderr


# -- medsec man ------------------------------------------------------------------------------
def test_man_is_help_man(medsec):
    page = medsec.ok("man", "appt", "book").stdout
    assert page == medsec.ok("help", "--man", "appt", "book").stdout and ".SH EXAMPLES\n" in page
    typo = medsec("man", "apt")
    assert typo.exit_code == 2 and typo.stdout == ""
    assert typo.stderr.startswith("medsec: error: no such command 'apt'") and typo.stderr.count("\n") == 1
    help_section = section("Commands").split("### help, man and completion\n", 1)[1]
    assert re.search(r"^medsec man appt book\b", help_section, re.M)
