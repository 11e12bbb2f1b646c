"""Text in and out of the command line: the one check of every text a command is given
(no control characters, a bounded length), and lines for the terminal (escaped, cut).

Every string parameter of every command (built-in, plugin, or generated such as a
plugin's report, and the root's `--user`) goes through `medsec.text.clean_text`
before the command's callback runs, so a new command cannot forget it. A value
holding a control or bidi character, or longer than its limit, is refused with
exit 2 naming the option (or the argument's metavar); the callback, and so any
write, never runs.

Only parameters whose click type is a plain string are checked: paths, choices,
numbers and flags have their own types. A domain may add a tighter limit of its
own (a phone's form, a code's length); these are the outer bounds.
"""

import functools

import click

from medsec.cli.gate import gated
from medsec.text import clean_text, escape_controls

# The longest value a typed parameter may hold, by its parameter name. Generous
# on purpose: the point is that a 100,000-character argument stops here, before
# any domain sees it, not to judge what a name or note should look like.
NAME_LIMIT = 100           # a person's name, a user name
SINGLE_LINE_LIMIT = 1_000  # any other single-line value: ids, dates, addresses, subjects
MULTILINE_LIMIT = 20_000   # notes and other free text, which may hold newlines
NAMES = frozenset({"first", "last", "name", "user", "who", "caller", "subscriber"})
# Free text people may write across lines ("--var body=..." feeds a memo's body).
MULTILINE = frozenset({"note", "text", "reason", "body", "message", "details", "comment", "variables"})

_GUARDED = "_medsec_text_guarded"


def guard(command: click.Command) -> click.Command:
    """`command` with its callback checking its text parameters first; for a group, every
    subcommand it hands out is guarded the same way, when it is handed out.

    Why here: click finds every subcommand through its parent's `get_command` and then
    calls `command.callback` with the parsed parameters. Guarding what each guarded
    group hands out reaches built-in, plugin and generated commands alike (the report
    group makes its commands on demand, so a walk at start-up would miss them), costs
    nothing for commands not invoked, and a few microseconds per invoked command.
    """
    if getattr(command, _GUARDED, False):
        return command
    setattr(command, _GUARDED, True)
    if command.callback is not None:
        # A command (not a group) also passes the gate: who acts, and may they (medsec.cli.gate).
        callback = command.callback if isinstance(command, click.Group) else gated(command.callback)
        command.callback = _checked(callback)
    if isinstance(command, click.Group):
        command.get_command = _guarding(command.get_command)  # type: ignore[method-assign]
    return command


def _guarding(get_command):
    @functools.wraps(get_command)
    def get_guarded(ctx, name):
        found = get_command(ctx, name)
        return guard(found) if found is not None else None

    return get_guarded


def _checked(callback):
    @functools.wraps(callback)
    def checked(*args, **kwargs):
        kwargs.update(cleaned_text_params(click.get_current_context()))
        return callback(*args, **kwargs)

    return checked


def cleaned_text_params(ctx: click.Context) -> dict:
    """The string parameters of `ctx`'s command that cleaning changed (CRLF -> LF in
    multi-line text), by name; InvalidInput (exit 2) for the first value refused."""
    changed = {}
    for param in ctx.command.params:
        value = ctx.params.get(param.name) if param.name else None
        if value is None or not isinstance(param.type, click.types.StringParamType):
            continue
        cleaned = _clean(value, _field(param), *_rule(param))
        if cleaned != value:
            changed[param.name] = cleaned
    return changed


def _clean(value, field: str, limit: int, multiline: bool):
    """`value` cleaned; a tuple (a repeated option, nargs) item by item."""
    if isinstance(value, tuple):
        return tuple(_clean(item, field, limit, multiline) for item in value)
    if not isinstance(value, str):
        return value
    return clean_text(value, field, limit, multiline)


def _rule(param: click.Parameter) -> tuple[int, bool]:
    """(length limit, multi-line) for `param`, from its name."""
    if param.name in MULTILINE:
        return MULTILINE_LIMIT, True
    return (NAME_LIMIT if param.name in NAMES else SINGLE_LINE_LIMIT), False


def _field(param: click.Parameter) -> str:
    """How an error names `param`: its long option ('--name') or an argument's metavar."""
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    return param.human_readable_name


def printable(text: str, limit: int) -> str:
    """`text` as one line for the terminal: every control character escaped (a newline
    too), at most `limit` characters, cut with '...'."""
    text = escape_controls(text)
    if len(text) > limit:
        return text[:limit - 3] + "..."
    return text
