"""`medsec help [COMMAND]...`, `medsec man [COMMAND]...` and `medsec completion SHELL`: the help and
manual page of any command, and the shell's completion script (click's, which asks `medsec`
itself: see MedsecCLI.main)."""

import click

from medsec.cli.options import folder_path
from medsec.errors import InvalidInput

# The installed command and the variable its completion script sets (click's _<PROG>_COMPLETE).
PROG_NAME = "medsec"
COMPLETE_VAR = "_MEDSEC_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


@click.command("help")
@click.argument("words", nargs=-1, metavar="[COMMAND]...")
@click.option("--man", "as_man", is_flag=True,
              help="The command's manual page instead: shown by man(1) on a terminal, else its roff source.")
@click.option("--install-man", "man_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              callback=folder_path,
              help="Write every command's manual page to DIR/man1 (e.g. ~/.local/share/man), for "
                   "'man medsec-appt-book'.")
@click.pass_context
def help_command(ctx, words, as_man, man_dir):
    """Show the help of a command or group.

    The same text as 'medsec COMMAND... --help'; with no command, medsec's own.
    --man shows the command's manual page (medsec-appt-book(1) for 'appt
    book'), made from the same help; --install-man writes the pages of every
    command where man(1) finds them.

    \b
    Examples:
      medsec help appt book
      medsec help remind
      medsec help
      medsec help --man appt book
      medsec help --install-man ~/.local/share/man
    """
    if man_dir is not None:
        _install_man(ctx, man_dir, words, as_man)
        return
    target = _resolve(ctx.find_root(), words)
    if as_man:
        _show_man(words)
        return
    click.echo(target.get_help(), color=target.color)


def _resolve(target: click.Context, words) -> click.Context:
    """The context of command `WORDS...` under `target` (the root); exit 2 naming a word that is none."""
    for word in words:
        group = target.command
        if not isinstance(group, click.Group):
            raise InvalidInput(f"'{target.command_path}' has no subcommands",
                               hint=f"try 'medsec help {' '.join(target.command_path.split()[1:])}'")
        command = group.get_command(target, word)
        if command is None:
            raise InvalidInput(f"no such command '{word}' in '{target.command_path}'",
                               hint=_did_you_mean(word, group.list_commands(target))
                               or f"try '{target.command_path} --help'")
        target = click.Context(command, info_name=word, parent=target, **command.context_settings)
    return target


def _show_man(words) -> None:
    """The manual page of `medsec WORDS...`: through `man -l -` (its pager) when standard output is a
    terminal, else (or when there is no man) its roff source, for a file or another formatter."""
    import shutil
    import subprocess
    import sys

    from medsec.cli import manpage  # only --man pays for it

    roff = manpage.render(manpage.resolve(words))
    man = shutil.which("man")
    if man and sys.stdout.isatty():
        sys.stdout.flush()
        if subprocess.run([man, "-l", "-"], input=roff.encode("ascii"), check=False).returncode == 0:
            return
    click.echo(roff, nl=False)


def _install_man(ctx: click.Context, folder: str, words, as_man: bool) -> None:
    from medsec.cli import manpage  # only --install-man pays for it
    from medsec.cli.output import say

    if words or as_man:
        raise InvalidInput("--install-man writes the page of every command: give it alone",
                           hint="medsec help --install-man DIR")
    target, count = manpage.install(folder, getattr(ctx.find_root().obj, "data_dir", None))
    say(f"wrote {count} manual pages to {target}")


@click.command("man")
@click.argument("words", nargs=-1, metavar="[COMMAND]...")
@click.pass_context
def man_command(ctx, words):
    """Show the manual page of a command.

    The same as 'medsec help --man COMMAND...': the page of 'appt book' is
    medsec-appt-book(1), made from its --help and shown by man(1) on a
    terminal, else printed as roff source; with no command, medsec(1).
    'medsec help --install-man DIR' writes every page where man(1) finds them.

    \b
    Examples:
      medsec man appt book
      medsec man
      medsec man remind send > medsec-remind-send.1
    """
    _resolve(ctx.find_root(), words)  # exit 2 naming a word that is no command
    _show_man(words)


def _did_you_mean(word: str, names: list[str]) -> str | None:
    import difflib  # only a mistyped name pays for it

    close = difflib.get_close_matches(word, names, n=3)
    return "did you mean " + " or ".join(f"'{name}'" for name in close) + "?" if close else None


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion_command(ctx, shell):
    """Print the shell completion script.

    It completes commands, subcommands, options and the values an option
    lists. Save it where your shell looks for completions, or load it from
    your shell's start-up file (zsh: after compinit).

    \b
    Examples:
      medsec completion bash
      medsec completion bash > ~/.local/share/bash-completion/completions/medsec
      medsec completion fish > ~/.config/fish/completions/medsec.fish
      eval "$(medsec completion zsh)"    # in ~/.zshrc
    """
    from click.shell_completion import get_completion_class  # only this command pays for it

    complete = get_completion_class(shell)
    assert complete is not None  # (click registers all three)
    click.echo(complete(ctx.find_root().command, {}, PROG_NAME, COMPLETE_VAR).source(), nl=False)
