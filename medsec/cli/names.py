"""Parameters that take an id or a name: a patient, a staff member, a payer, an appointment type.

A parameter whose click type is one of these `Named` types is parsed as the text typed (so the
text check of medsec.cli.textsafety applies to it as to any string) and resolved to an id by
`resolve_params`, which `pass_app` calls once the gate has let the command run: a name is never
looked up for someone who may not run the command, and the look-up is audited under the command's
name. The rules are medsec.records.lookup's; the command's function receives ids, exactly as
when ids were typed (an id is passed through untouched).

An exact, unique match is echoed on stderr ("P2 Luis O'Connell, 1971-03-02"). Several matches,
or only close ones, are exit 1 listing them; a person at a terminal (standard input and standard
error both terminals, and not --json or another machine format) picks one by number instead.
"""

import re
import sys
from collections.abc import Sequence

import click


class Named(click.types.StringParamType):
    """Text naming one `kind` of thing (patient, staff, payer, type), resolved after the gate."""

    resolved_after_gate = True  # what pass_app looks for (without importing this module)

    def __init__(self, kind: str):
        self.kind = kind

    def __repr__(self) -> str:
        return f"Named({self.kind!r})"

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
        """Ids the shell may put in place of what was typed (`-U`: not filtered by it), each with the
        name it stands for. Patients are a patient search: permission-checked and audited as one
        (nothing is offered to someone who may not read patients). Never an error: nothing offered."""
        from click.shell_completion import CompletionItem

        from medsec.errors import MedsecError

        try:
            found = _completions(ctx, self.kind, incomplete)
        except (MedsecError, OSError, ValueError):
            return []
        return [CompletionItem(value, help=label) for value, label in found]


# Text that is an id as typed (P42, s3, LB7) or a number: never looked up as a name.
ID_SHAPED = re.compile(r"[A-Za-z]{0,3}[0-9]+")

ECHO_LIMIT = 300  # an echoed match is one line: its label cut past this (names from files people edit)

PATIENT = Named("patient")
STAFF = Named("staff")
PAYER = Named("payer")
APPT_TYPE = Named("type")


COMPLETIONS = 20  # at most this many offered


def _completions(ctx: click.Context, kind: str, incomplete: str) -> list[tuple[str, str]]:
    """(value, label) pairs for completing a `kind` parameter from `incomplete`."""
    from medsec.cli import app_context

    app = app_context(ctx.find_root().params)  # as the root command would make it; nothing is run
    typed = incomplete.strip().lower()
    if kind == "patient":
        from medsec.records.patients import find_patients, newest_patients
        from medsec.security.principal import authorize

        app.command = f"{ctx.command_path.partition(' ')[2]} (completion)"
        authorize(app, "patients.read")
        # Nothing typed yet: the patients registered last (whom the desk is most often booking).
        found = find_patients(app, incomplete, limit=COMPLETIONS) if typed else newest_patients(app, COMPLETIONS)
        return [(p["id"], f"{p.get('first', '')} {p.get('last', '')}, {p.get('dob', '')}") for p in found]
    if kind == "staff":
        entries = {str(m["id"]): str(m.get("name") or "") for m in app.config("staff.yaml").get("staff") or []
                   if isinstance(m, dict) and m.get("active") is not False}
    elif kind == "payer":
        entries = {str(p["id"]): str(p.get("name") or "") for p in app.config("payers.yaml").get("payers") or []
                   if isinstance(p, dict)}
    else:
        entries = {str(name): str(t.get("description") or "") if isinstance(t, dict) else ""
                   for name, t in (app.config("appointment-types.yaml").get("types") or {}).items()}
    return [(value, label) for value, label in entries.items()
            if value.lower().startswith(typed) or any(w.startswith(typed) for w in label.lower().split())
            ][:COMPLETIONS]


def interactive(ctx: click.Context) -> bool:
    """Whether a person at a terminal may be asked: standard input and standard error are
    terminals, and the output is for people (not --json, csv or yaml)."""
    if ctx.params.get("as_json") or ctx.params.get("fmt") not in (None, "table"):
        return False
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


def choose(question: str, options: Sequence, describe=lambda option: option.label):
    """Ask a person at a terminal to pick one of `options` by number; None when they give up
    (an empty answer). Everything is written to standard error, so standard output stays the
    command's."""
    click.echo(f"{question}:", err=True)
    for n, option in enumerate(options, 1):
        click.echo(f"  {n}) {describe(option)}", err=True)
    for _attempt in range(3):
        answer = click.prompt(f"Which one? [1-{len(options)}, Enter to cancel]", default="", show_default=False,
                              err=True).strip()
        if not answer:
            return None
        if answer.isdigit() and 1 <= int(answer) <= len(options):
            return options[int(answer) - 1]
        click.echo(f"  type a number from 1 to {len(options)}", err=True)
    return None


def resolve_params(ctx: click.Context, app, kwargs: dict) -> dict:
    """`kwargs` with each value of a Named parameter resolved to the id it names (a repeatable
    option item by item); each name resolved is echoed on stderr."""
    chooser = choose if interactive(ctx) else None
    for param in ctx.command.params:
        if not isinstance(param.type, Named) or param.name not in kwargs or kwargs[param.name] is None:
            continue

        def one(text, kind=param.type.kind):
            if not isinstance(text, str) or ID_SHAPED.fullmatch(text):
                return text  # an id (or a number): the command judges it, as it always has
            from medsec.cli.textsafety import printable
            from medsec.records.lookup import RESOLVERS  # only a name pays for the look-up's modules

            match = RESOLVERS[kind](app, text, chooser)
            if match is None:
                return text
            click.echo(printable(match.label, ECHO_LIMIT), err=True)
            return match.id

        value = kwargs[param.name]
        kwargs[param.name] = tuple(one(v) for v in value) if isinstance(value, tuple) else one(value)
    return kwargs
