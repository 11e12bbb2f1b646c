"""The gate every command passes before it runs: the permission it declares
(medsec.security.permissions), checked for whoever acts (medsec.security.principal)."""

import functools

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
            authorize(app, permission_of(app.command, ctx.command))
        return callback(*args, **kwargs)

    return run
