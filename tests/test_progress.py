"""Progress on a terminal for long jobs (issue 17, part 8).

- medsec.progress draws one line on standard error, redrawn in place (throttled, cut to the
  terminal's width) and erased when the job ends; nothing when standard error is not a
  terminal, or with --quiet;
- each long job reports its stages: patient import, appointment (.ics) import, claim batch,
  remind send and store copy (in-process, with a terminal stood in for standard error);
- through the installed command in a pseudo-terminal: the line appears on the terminal, and
  not when standard error is a pipe or --quiet is given.
"""

import io

import click
import pytest
from helpers.terminal import run_in_terminal, terminal_env

from medsec import progress as progress_module
from medsec.progress import Progress, asked_to_be_quiet, on_terminal

ERASE = "\x1b[K"


class Terminal(io.StringIO):
    """Standard error as a terminal (80 columns: it has no real size to ask)."""

    def isatty(self) -> bool:
        return True


def drawn(stream: io.StringIO) -> list[str]:
    """The lines drawn, in order, without the terminal's control characters ('' for an erase)."""
    return [part.removesuffix(ERASE) for part in stream.getvalue().split("\r")[1:]]


def test_a_stage_is_drawn_at_once_redrawn_in_place_and_erased_at_the_end():
    out = Terminal()
    with Progress(enabled=True, stream=out, interval=0) as bar:
        bar.start("checking rows", 3)
        bar.advance()
        bar.advance(2)
        bar.start("writing 3 patients")
    assert drawn(out) == ["checking rows: 0 of 3 (0%)", "checking rows: 1 of 3 (33%)",
                          "checking rows: 3 of 3 (100%)", "writing 3 patients ...", ""]
    assert "\n" not in out.getvalue()  # one line, redrawn: nothing scrolls


def test_redraws_are_throttled_but_the_end_of_a_stage_is_shown():
    out = Terminal()
    bar = Progress(enabled=True, stream=out, interval=3600)
    bar.start("sending reminders", 1000)
    for _ in range(1000):
        bar.advance()
    bar.start("reading rows")
    for _ in range(5):
        bar.advance()
    assert drawn(out) == ["sending reminders: 0 of 1,000 (0%)", "sending reminders: 1,000 of 1,000 (100%)",
                          "reading rows ..."]
    assert bar.text() == "reading rows: 5"


def test_a_line_never_wraps_and_a_lost_terminal_stops_the_drawing_not_the_job():
    out = Terminal()
    bar = Progress(enabled=True, stream=out)
    bar.start("x" * 300)
    assert len(drawn(out)[0]) == 79  # the terminal's 80 columns, less one

    class Gone(Terminal):
        def write(self, text):
            raise OSError(5, "Input/output error")

    lost = Progress(enabled=True, stream=Gone())
    lost.start("checking rows", 2)
    lost.advance(2)
    lost.close()
    assert lost.enabled is False and lost.done == 2


def test_off_draws_nothing_and_counts():
    out = Terminal()
    bar = Progress(enabled=False, stream=out)
    bar.start("checking rows", 2)
    bar.advance(2)
    bar.close()
    assert out.getvalue() == "" and bar.done == 2
    assert Progress.off().enabled is False


def test_only_a_terminal_and_not_when_quiet():
    assert on_terminal(stream=Terminal()).enabled
    assert not on_terminal(stream=io.StringIO()).enabled
    assert not on_terminal(quiet=True, stream=Terminal()).enabled
    group = click.Context(click.Group("medsec"))
    group.params["quiet"] = True  # a --quiet given to a group reaches its commands
    with click.Context(click.Command("send"), parent=group):
        assert asked_to_be_quiet() and not on_terminal(stream=Terminal()).enabled
    with click.Context(click.Command("send")):
        assert not asked_to_be_quiet()


@pytest.fixture
def terminal(monkeypatch) -> Terminal:
    """Standard error stood in by a terminal for the commands' progress (the rest of the command
    runs in-process as in every test); what was drawn is read back from it."""
    out = Terminal()
    monkeypatch.setattr(progress_module, "on_terminal",
                        lambda quiet=None, stream=None: Progress(enabled=not quiet, stream=out, interval=0))
    return out


def patients_csv(path, count: int):
    rows = [f"Pat{n},Progress{chr(97 + n % 26)}{n},1980-01-{1 + n % 28:02d}" for n in range(count)]
    path.write_text("first,last,dob\n" + "\n".join(rows) + "\n")
    return path


def test_each_long_job_reports_its_stages(demo, terminal, tmp_path):
    demo.ok("patient", "import", patients_csv(tmp_path / "new.csv", 30))
    assert drawn(terminal)[:1] == ["checking rows ..."]
    assert {"checking rows: 30", "looking for registered duplicates: 30 of 30 (100%)",
            "writing 30 patients ..."} <= set(drawn(terminal))
    assert drawn(terminal)[-1] == ""  # erased before the summary is printed

    terminal.seek(0)
    terminal.truncate()
    demo.ok("remind", "send", "--dry-run")
    assert "checking reminders: 55 of 55 (100%)" in drawn(terminal)

    terminal.seek(0)
    terminal.truncate()
    demo.ok("appt", "export", "--ics", tmp_path / "week.ics", "--from", "2026-11-30", "--to", "2026-12-04")
    demo.ok("appt", "import", tmp_path / "week.ics", "--dry-run")  # (every UID known: each skipped)
    lines = drawn(terminal)
    assert lines[0] == "reading the calendar ..." and lines[-2].startswith("placing events: ") \
        and lines[-2].endswith("(100%)")

    terminal.seek(0)
    terminal.truncate()
    demo.ok("store", "copy", "--into", tmp_path / "copy")
    assert any(line.startswith("patients: ") and line.endswith(" copied") for line in drawn(terminal)), drawn(terminal)

    terminal.seek(0)
    terminal.truncate()
    demo.ok("check")
    assert {"checking patients", "checking appointments", "checking indexes, counters and attachments"} \
        <= set(drawn(terminal)) and drawn(terminal)[-1] == ""


def test_a_claim_batch_reports_its_stages(demo, terminal, tmp_path):
    demo.env.update({"MEDSEC_PLUGINS": "helpers.billingplugins"})  # the billing tests' small ICD-10 table
    demo.ok("bill", "charge", "A1", "--code", "99213", "--dx", "E11.9")
    (made,) = demo.json("claim", "create", "--appt", "A1")
    demo.ok("claim", "validate", made["id"])
    demo.ok("claim", "batch", "--payer", made["payer_id"], "--format", "x12-837p", "-o", tmp_path / "b.837")
    assert drawn(terminal) == ["checking claims: 0 of 1 (0%)", "checking claims: 1 of 1 (100%)",
                               "writing 1 claims (x12-837p) ...", "marking 1 claims submitted ...", ""]


def test_nothing_is_drawn_when_standard_error_is_not_a_terminal(demo, tmp_path):
    imported = demo("patient", "import", patients_csv(tmp_path / "new.csv", 30))
    sent = demo("remind", "send", "--dry-run")
    assert imported.exit_code == 0 and sent.exit_code == 0
    for stderr in (imported.stderr, sent.stderr):
        assert "\r" not in stderr and ERASE not in stderr and "checking" not in stderr


def test_on_a_real_terminal_and_not_with_quiet_or_a_pipe(demo, tmp_path):
    """The installed command in a pseudo-terminal: the line is drawn on it and erased; with
    standard error a pipe, or with --quiet, it is not."""
    env = terminal_env(demo, tmp_path, MEDSEC_PAGER="cat", PAGER="cat")
    shown = run_in_terminal(["remind", "send", "--dry-run", "--no-pager"], env)
    assert shown.exit_code == 0, shown.screen
    assert "\rchecking reminders: " in shown.screen and ERASE in shown.screen
    piped = run_in_terminal(["remind", "send", "--dry-run", "--no-pager"], env, stderr_tty=False)
    assert piped.exit_code == 0 and "checking reminders" not in piped.screen + piped.stderr
    quiet = run_in_terminal(["remind", "send", "--dry-run", "--quiet"], env)
    assert quiet.exit_code == 0 and "checking reminders" not in quiet.screen
