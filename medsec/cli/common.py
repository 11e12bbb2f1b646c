"""pass_app: the decorator that hands every command its AppContext."""

import functools

import click


def pass_app(func):
    """Pass the AppContext first, recording the command path for the audit log; a parameter
    that takes a name (medsec.cli.names) reaches `func` as the id it names."""

    @click.pass_context
    @functools.wraps(func)
    def wrapper(ctx, *args, **kwargs):
        app = ctx.find_root().obj
        app.command = ctx.command_path.partition(" ")[2]
        if any(getattr(p.type, "resolved_after_gate", False) for p in ctx.command.params):
            from medsec.cli.names import resolve_params

            kwargs = resolve_params(ctx, app, kwargs)
        return func(app, *args, **kwargs)

    return wrapper

