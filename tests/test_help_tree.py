"""Help that teaches (issue 17, part 4), over the whole command tree.

- every command and group has a summary that is not cut, examples (a command's name the
  command itself) that --help prints line for line, and help for every option;
- every example line is a command line medsec accepts: its command exists, its options are
  the command's, its values of listed choices are among them, nothing required is missing;
- the options whose values the practice or its plugins decide (appointment types, payers,
  channels, formats, coding tables) list them in --help when a practice is found
  (medsec.cli.choices), and --help stays as written, exit 0, without one or with a broken file;
  the tree docs/cli.md and the man pages are made from lists none.
"""

import re
import shlex

import click
import pytest
from helpers.clitree import parse

from medsec.cli.choices import ListsValues
from medsec.cli.reference import command_tree

SUMMARY_LIMIT = 45  # what `medsec GROUP --help` lists without cutting (tests/test_cli_help.py)
EXAMPLE_HEADINGS = ("Examples:", "Example:")
SHELL_SEPARATORS = ("|", ">", ">>", "<", "&&", "||", ";")


def examples(help_text: str) -> list[str]:
    """The `medsec ...` command lines of a help text's examples block (continuation lines joined;
    `eval "$(medsec login S3)"` gives `medsec login S3`)."""
    text = re.sub(r"\\\n\s*", " ", help_text)
    found, inside = [], False
    for line in text.splitlines():
        if line.strip() in EXAMPLE_HEADINGS:
            inside = True
        elif not line.strip():
            inside = False
        elif inside:
            substituted = re.search(r"\$\((medsec [^)]*)\)", line)
            if substituted or line.strip().startswith("medsec "):
                found.append(substituted.group(1) if substituted else line.strip())
    return found


def words_of(example: str) -> list[str]:
    """An example's words after `medsec`, up to a pipe, a redirection or a comment."""
    words = shlex.split(example, comments=True)[1:]
    for i, word in enumerate(words):
        if word in SHELL_SEPARATORS:
            return words[:i]
    return words


def test_every_command_has_a_summary_an_example_and_help_for_every_option(tree):
    problems = []
    for ctx in tree:
        command, path = ctx.command, ctx.command_path
        summary = command.get_short_help_str(limit=SUMMARY_LIMIT)
        if ctx.parent is not None and (not summary.strip() or summary.endswith("...")):  # (the root is listed nowhere)
            problems.append(f"{path}: summary missing or cut: {summary!r}")
        mine = [e for e in examples(command.help or "")
                if isinstance(command, click.Group) or words_of(e)[:len(path.split()) - 1] == path.split()[1:]]
        if not mine:
            problems.append(f"{path}: no example of {'it' if ctx.parent is None else path} in its help")
        elif not re.search(r"^ *Examples?:$", ctx.get_help(), re.MULTILINE):  # a \b not after a blank line
            problems.append(f"{path}: its examples are run into the text before them in --help")
        problems += [f"{path} {param.opts[-1]}: no help" for param in command.params
                     if isinstance(param, click.Option) and not param.hidden and not (param.help or "").strip()]
    assert len(tree) > 150
    assert problems == [], "\n".join(problems)


def test_every_example_is_a_command_line_medsec_accepts(tree):
    bad, count = [], 0
    for ctx in tree:
        for example in examples(ctx.command.help or ""):
            count += 1
            try:
                parse(words_of(example))
            except click.exceptions.Exit:  # (`--version`, `--help`)
                continue
            except click.ClickException as e:
                bad.append(f"{ctx.command_path}: {example}\n    {e.format_message()}")
    assert count > 300
    assert bad == [], "\n".join(bad)


def test_a_broken_example_would_be_caught():
    for broken in ("appt book P1 --tpye follow-up", "appt status A1 bogus", "claim batch --format x12-837p"):
        with pytest.raises(click.ClickException):
            parse(words_of(f"medsec {broken}"))
    assert parse(words_of('medsec appt day tomorrow --provider S1 | head  # a note')).command_path == "medsec appt day"


# The options whose values a practice or its plugins decide, where they are.
LISTED = {
    ("appt book", "--type"), ("appt slots", "--type"), ("appt walkin", "--type"), ("appt waitlist add", "--type"),
    ("referral receive", "--type"), ("patient coverage add", "--payer"), ("claim batch", "--payer"),
    ("claim list", "--payer"), ("claim batch", "--format"), ("claim export", "--format"),
    ("remind send", "--channel"), ("remind preview", "--channel"), ("patient import", "--input-format"),
    ("code import", "--input-format"), ("claim post-remit", "--input-format"), ("patient export", "--format"),
    ("code search", "--system"), ("code show", "--system"),
}


def test_the_options_a_practice_decides_list_their_values(tree):
    found = {(ctx.command_path.partition(" ")[2], param.opts[-1]) for ctx in tree for param in ctx.command.params
             if isinstance(param, ListsValues)}
    assert found >= LISTED, sorted(LISTED - found)
    # the statuses medsec itself fixes: a click choice (click lists it) or the help lists them
    unlisted = [f"{ctx.command_path} --status" for ctx in tree for param in ctx.command.params
                if param.name == "status" and isinstance(param, click.Option)
                and not isinstance(param.type, click.Choice) and ": " not in (param.help or "")]
    assert unlisted == []


def help_of(medsec, *words) -> str:
    result = medsec(*words, "--help")
    assert result.exit_code == 0, result.stderr
    return result.stdout


def option_line(help_text: str, option: str) -> str:
    """The help of `option` as one line (its help text unwrapped: click wraps at 80 columns,
    after a hyphen too)."""
    lines = help_text.split("\n")
    at = next(i for i, line in enumerate(lines) if line.strip().startswith(option))
    text = lines[at].rstrip()
    for line in lines[at + 1:]:
        if line.strip().startswith("-") or not line.strip():
            break
        text += ("" if text.endswith("-") else " ") + line.strip()
    return text


def test_help_lists_the_practices_types_payers_channels_and_formats(demo):
    assert ("This practice's types: new-patient, follow-up, annual-physical, surgery."
            in option_line(help_of(demo, "appt", "book"), "--type"))
    batch = help_of(demo, "claim", "batch")
    assert "This practice's payers: BAYSTATE, HARBOR, MEDICARE, SELFPAY." in option_line(batch, "--payer")
    assert "Installed: cms1500, x12-837p." in option_line(batch, "--format")
    channel = option_line(help_of(demo, "remind", "send"), "--channel")
    assert "Set up here: outbox. Installed, not set up in channels.yaml: email, fax, sms, voice." in channel
    assert "Installed: csv, synthea." in option_line(help_of(demo, "patient", "import"), "--input-format")
    # `medsec help COMMAND` is the same text
    assert demo("help", "appt", "book").stdout == help_of(demo, "appt", "book")


def test_help_follows_the_configuration_as_it_changes(demo):
    types = demo.home / "appointment-types.yaml"
    types.write_text(types.read_text() + "  telehealth:\n    duration: 15\n")
    assert "surgery, telehealth." in option_line(help_of(demo, "appt", "slots"), "--type")
    channels = demo.home / "channels.yaml"
    channels.write_text(channels.read_text() + "sms:\n  preset: twilio\n  account_env: SMS_ACCOUNT\n")
    assert "Set up here: outbox, sms." in option_line(help_of(demo, "remind", "preview"), "--channel")


def test_help_is_as_written_without_a_practice_or_with_a_broken_file(medsec, demo, tmp_path):
    nowhere = tmp_path / "nowhere"
    result = medsec("appt", "book", "--help", env={"MEDSEC_HOME": str(nowhere)})
    assert result.exit_code == 0 and result.stderr == ""
    assert "(see appointment-types.yaml).  [required]" in option_line(result.stdout, "--type")
    assert not nowhere.exists()  # help creates nothing
    (demo.home / "appointment-types.yaml").write_text("types: [unclosed\n")
    broken = demo("appt", "book", "--help")
    assert broken.exit_code == 0 and broken.stderr == ""
    assert "(see appointment-types.yaml).  [required]" in option_line(broken.stdout, "--type")


def test_the_reference_lists_no_practices_values(demo, monkeypatch):
    """docs/cli.md (and the man pages) come from the tree without a practice, even run inside one."""
    monkeypatch.setenv("MEDSEC_HOME", str(demo.home))
    book = next(ctx for ctx in command_tree() if ctx.command_path == "medsec appt book")
    assert "This practice's" not in book.get_help() and "surgery" not in book.get_help()
