"""The command tree as the tests walk it: every command's click context, and words parsed as a run would."""

import click
import pytest

from medsec.cli import cli
from medsec.cli.reference import command_tree


@pytest.fixture(scope="module")
def tree() -> list[click.Context]:
    """Every command's context, with only the bundled plugins."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MEDSEC_PLUGINS", "")
        env.setenv("MEDSEC_DISABLE_PLUGINS", "")
        return command_tree()


def parse(words: list[str]) -> click.Context:
    """The context click makes of `medsec WORDS...`, down to the command they name, as a run would
    (values converted, choices and required options checked) but invoking nothing."""
    ctx = cli.make_context("medsec", list(words))
    while isinstance(ctx.command, click.Group):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        if not rest:
            return ctx
        name, command, args = ctx.command.resolve_command(ctx, rest)
        assert command is not None and name is not None
        ctx = command.make_context(name, args, parent=ctx)
    return ctx
