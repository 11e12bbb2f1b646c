"""The command tree as a reader sees it: every command's --help, in tree order.

docs/cli.md is generated from `markdown()` by cog (`make docs`), and
tests/test_cli_help.py walks the same tree to check that every command and
option has help text.
"""

from collections.abc import Iterator

import click

from medsec.cli import cli

# What click prints in an 80-column terminal, fixed so that the reference
# does not depend on the terminal it was generated in.
HELP_WIDTH = 78


def walk(ctx: click.Context) -> Iterator[click.Context]:
    """`ctx` and the context of every command below it, depth first, in listing order."""
    yield ctx
    group = ctx.command
    if not isinstance(group, click.Group):
        return
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is not None and not command.hidden:
            yield from walk(click.Context(command, info_name=name, parent=ctx))


def command_tree() -> list[click.Context]:
    """Every command and group of `medsec`, plugin commands included, root first."""
    root = click.Context(cli, info_name="medsec", terminal_width=HELP_WIDTH, max_content_width=HELP_WIDTH)
    return list(walk(root))


def _anchor(ctx: click.Context) -> str:
    return ctx.command_path.replace(" ", "-")


def _heading(ctx: click.Context) -> str:
    depth = ctx.command_path.count(" ")
    return "#" * min(depth + 2, 4) + " " + ctx.command_path


def markdown(tree: list[click.Context]) -> str:
    """An index of the commands, then each command's --help under a heading of its own."""
    index = [f"{'  ' * (ctx.command_path.count(' ') - 1)}- [{ctx.command_path}](#{_anchor(ctx)}): "
             f"{ctx.command.get_short_help_str(limit=HELP_WIDTH)}" for ctx in tree[1:]]
    sections = [f"{_heading(ctx)}\n\n```text\n{ctx.get_help()}\n```\n" for ctx in tree]
    return "\n".join(index) + "\n\n" + "\n".join(sections)
