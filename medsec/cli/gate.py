"""The gate every command passes before it runs: the permission it declares
(medsec.security.permissions), checked for whoever acts (medsec.security.principal).

On an open practice, a person at a terminal is also reminded once a day that nothing is
protected (medsec.security.reminder); a command whose standard error is not a terminal
(cron, a pipe, a test) pays one isatty() call for it and imports nothing more."""

import functools
import sys

import click


def gated(callback):
    """`callback`, run only once the acting person may run its command."""

    @functools.wraps(callback)
    def run(*args, **kwargs):
        from medsec.security.permissions import permission_of  # the store and config: not at start-up
        from medsec.security.principal import authorize

        ctx = click.get_current_context()
        app = ctx.find_root().obj
        if app is not None:  # (a command run on its own, as some tests do, has no root object)
            app.command = ctx.command_path.partition(" ")[2]
            principal = authorize(app, permission_of(app.command, ctx.command))
            if principal.session is None and _stderr_is_a_terminal():
                _remind_if_open(app)
        return callback(*args, **kwargs)

    return run


def _stderr_is_a_terminal() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


def _remind_if_open(app) -> None:
    """The once-a-day note that an open practice protects nothing (medsec.security.reminder)."""
    from medsec.security.reminder import OPEN_NOTE, note_due

    if note_due(app):
        click.echo(OPEN_NOTE, err=True)
