"""`medsec help [COMMAND]...` and `medsec completion SHELL`: the help of any command, and the
shell's completion script (click's, which asks `medsec` itself: see MedsecCLI.main)."""

import click

from medsec.errors import InvalidInput

# The installed command and the variable its completion script sets (click's _<PROG>_COMPLETE).
PROG_NAME = "medsec"
COMPLETE_VAR = "_MEDSEC_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


@click.command("help")
@click.argument("words", nargs=-1, metavar="[COMMAND]...")
@click.pass_context
def help_command(ctx, words):
    """Show the help of a command or group.

    The same text as 'medsec COMMAND... --help'; with no command, medsec's own.

    \b
    Examples:
      medsec help appt book
      medsec help remind
      medsec help
    """
    target = ctx.find_root()
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
    click.echo(target.get_help(), color=target.color)


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
