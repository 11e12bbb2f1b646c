"""Help that lists the values an option takes here: the practice's appointment types and
payers, the channels set up in channels.yaml, the formats and coding tables the installed
plugins register.

`--type TYPE` in `medsec appt book --help` then ends "This practice's types: new-patient,
follow-up, annual-physical, surgery." The values are looked up when the help is shown, in
the practice `medsec` runs in (--data-dir, $MEDSEC_HOME): a data directory's configuration
files (their cached parse, well under a millisecond) and the plugins (the plugin manager,
tens of milliseconds, only for the options that list plugins' names). The help stays as
written where there is nothing to look in, and never fails for want of it: no practice, a
practice kept in PostgreSQL (help does not connect to a database), a broken file, a broken
plugin. The command tree docs/cli.md and the man pages are made from has no practice, so
they stay the same wherever they are generated.
"""

from collections.abc import Callable

import click

# At most this many values in a help line: a practice may have a hundred payers.
SHOWN = 12


class ListsValues(click.Option):
    """A click option whose help ends with the values it takes here (`values`: a key of SOURCES)."""

    def __init__(self, *args, values: str, **kwargs):
        super().__init__(*args, **kwargs)
        if values not in SOURCES:
            raise ValueError(f"no source of values {values!r}")
        self.values = values

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        listed = listing(ctx, self.values)
        if record is None or not listed:
            return record
        spec, text = record
        head, bracket, extra = text.partition("  [")  # click's "[default: ...; required]" stays last
        return spec, f"{head} {listed}" + (f"  [{extra}" if bracket else "")


def listing(ctx: click.Context, source: str) -> str | None:
    """"This practice's types: a, b." for the practice of `ctx`'s command, or None."""
    app = ctx.find_root().obj
    if app is None or not hasattr(app, "data_dir"):  # the tree docs/cli.md is made from: no practice
        return None
    sentence, in_practice = SOURCES[source]
    try:
        if in_practice and not _folder_practice(app):
            return None
        return sentence(app)
    except Exception:  # noqa: BLE001 -- help is shown as written when the values cannot be had
        return None


def _sentence(label: str, values: list[str]) -> str | None:
    """"Label: a, b, c." (None for no values), escaped, at most SHOWN values."""
    from medsec.cli.textsafety import printable  # (names from files people edit)

    if not values:
        return None
    names = [printable(str(v), 40) for v in values[:SHOWN]]
    more = f" and {len(values) - SHOWN} more" if len(values) > SHOWN else ""
    return f"{label}: {', '.join(names)}{more}."


def _folder_practice(app) -> bool:
    """A practice kept in a data directory (its configuration read from its files)."""
    return app.location.url is None and app.initialized


def _document(app, name: str) -> dict:
    from medsec import config  # (the parse cached beside the records: no YAML parsed here)

    data = config.load(app.data_dir, name)
    return data if isinstance(data, dict) else {}


def _appointment_types(app) -> str | None:
    return _sentence("This practice's types", list(_document(app, "appointment-types.yaml").get("types") or {}))


def _payers(app) -> str | None:
    payers = _document(app, "payers.yaml").get("payers") or []
    return _sentence("This practice's payers", [str(p.get("id")) for p in payers if isinstance(p, dict)])


def _names(app, hook: str, kind: str | None = None) -> list[str]:
    """The names plugins register through `hook` (of items of `kind`), sorted."""
    from medsec.plugins import collect  # pluggy: only the help of these options pays for it

    found = collect(app.plugins, hook)
    return sorted(name for name, r in found.items() if kind is None or getattr(r.item, "kind", None) == kind)


def _installed(hook: str, kind: str | None = None, label: str = "Installed") -> Callable[[object], str | None]:
    return lambda app: _sentence(label, _names(app, hook, kind))


def _channels(app) -> str | None:
    """The installed channels set up here (`outbox` needs no settings), then the others."""
    installed = _names(app, "register_channels")
    if not _folder_practice(app):
        return _sentence("Installed", installed)
    settings = _document(app, "channels.yaml")
    ready = [name for name in installed if name == "outbox" or name in settings]
    waiting = _sentence(" Installed, not set up in channels.yaml", [n for n in installed if n not in ready]) or ""
    return ((_sentence("Set up here", ready) or "") + waiting).strip() or None


# Source -> (its sentence for a command's practice, whether it needs the practice's files).
SOURCES: dict[str, tuple[Callable[..., str | None], bool]] = {
    "appointment-types": (_appointment_types, True),
    "payers": (_payers, True),
    "channels": (_channels, False),
    "claim-formats": (_installed("register_claim_formats"), False),
    "remittance-formats": (_installed("register_remittance_formats"), False),
    "patient-importers": (_installed("register_importers", "patient"), False),
    "code-importers": (_installed("register_importers", "codes"), False),
    "patient-exporters": (_installed("register_exporters", "patient"), False),
    "coding-tables": (_installed("register_coding_tables", label="Tables installed"), False),
}
