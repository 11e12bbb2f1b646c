"""pass_app: the decorator that hands every command its AppContext."""

import functools

import click


def pass_app(func):
    """Pass the AppContext first, recording the command path for the audit log."""

    @click.pass_context
    @functools.wraps(func)
    def wrapper(ctx, *args, **kwargs):
        app = ctx.find_root().obj
        app.command = ctx.command_path.partition(" ")[2]
        return func(app, *args, **kwargs)

    return wrapper

