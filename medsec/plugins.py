"""The plugin manager factory, entry-point discovery and the registries."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Container, Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, NamedTuple, TypedDict, TypeVar, overload

import pluggy

from medsec import hookspecs
from medsec.errors import PluginError
from medsec.plugin_discovery import GROUP, plugins_to_load, split_env

if TYPE_CHECKING:
    import click

    from medsec.plugin_types import (
        Channel,
        ClaimFormat,
        CodingTable,
        EdiFormat,
        Exporter,
        Importer,
        RemittanceFormat,
        Report,
        Transcriber,
        Transport,
    )

Item = TypeVar("Item")


class Registered(NamedTuple, Generic[Item]):
    """An item a plugin registered, under its name."""

    name: str
    item: Item
    plugin: str


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    obj = importlib.import_module(module.strip())
    for part in filter(None, attr.strip().split(".")):
        obj = getattr(obj, part)
    return obj


class MedsecPluginManager(pluggy.PluginManager):
    """pluggy's manager for the ``medsec`` hooks, with where each plugin came from."""

    def __init__(self, trace_hooks: bool = False) -> None:
        super().__init__(GROUP)
        self.add_hookspecs(hookspecs)
        # plugin name -> "default", the distribution that installed it, or "MEDSEC_PLUGINS"
        self.sources: dict[str, str] = {}
        # MEDSEC_TRACE_HOOKS: print every hook call medsec makes to stderr
        self.trace_hooks = trace_hooks

    def load(self, name: str, ref: str, source: str) -> None:
        """Import the plugin at `ref` ("module" or "module:attr") and register it as `name`.

        A blocked name is skipped; a name taken, a plugin that fails to import
        or to validate against the hook specs is a PluginError (exit 3).
        """
        if self.is_blocked(name):
            return
        if self.has_plugin(name):
            raise PluginError(f"plugin name {name!r} is used twice ({self.sources[name]} and {source})")
        try:
            self.register(_load(ref), name=name)
        except PluginError:
            raise
        except pluggy.PluginValidationError as e:
            raise PluginError(f"plugin {name!r} ({source}): {' '.join(str(e).split())}",
                              hint=f"disable it with MEDSEC_DISABLE_PLUGINS={name}") from e
        except Exception as e:
            raise PluginError(f"plugin {name!r} ({ref}) failed to load: {type(e).__name__}: {e}",
                              hint=f"disable it with MEDSEC_DISABLE_PLUGINS={name}") from e
        self.sources[name] = source


def get_plugin_manager(disabled: list[str] | None = None, extra: list[str] | None = None,
                       entry_points: bool = True) -> MedsecPluginManager:
    """A new plugin manager: default plugins, installed plugins, MEDSEC_PLUGINS.

    `disabled` (default: $MEDSEC_DISABLE_PLUGINS) blocks plugins by name;
    `extra` (default: $MEDSEC_PLUGINS) names modules to load as plugins
    without installing them, "module" or "name=module:attr".
    """
    pm = MedsecPluginManager(trace_hooks=bool(os.environ.get("MEDSEC_TRACE_HOOKS")))
    for name in split_env("MEDSEC_DISABLE_PLUGINS") if disabled is None else disabled:
        pm.set_blocked(name)
    for name, ref, source in plugins_to_load(extra, entry_points):
        pm.load(name, ref, source)
    _refuse_unknown_hooks(pm)
    return pm


def _refuse_unknown_hooks(pm: MedsecPluginManager) -> None:
    """A hook implementation without a spec is a typo or a plugin for another medsec: refuse it."""
    for hook_name, caller in vars(pm.hook).items():
        if hook_name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            plugin = impl.plugin_name
            raise PluginError(f"plugin {plugin!r} implements an unknown hook {hook_name!r}",
                              hint=f"fix the plugin or disable it with MEDSEC_DISABLE_PLUGINS={plugin}")


def _call(pm: MedsecPluginManager, hook: str, impl: pluggy.HookImpl, kwargs: Mapping[str, object]) -> Any:
    """Call one implementation with the arguments it asks for.

    medsec calls implementations one by one (to know which plugin gave what
    and to keep one plugin's failure from hiding the others), so it traces
    them itself: MEDSEC_TRACE_HOOKS=1 prints every call to stderr.
    """
    if pm.trace_hooks:
        print(f"medsec: hook {hook}({', '.join(impl.argnames)}) -> plugin {impl.plugin_name!r}",
              file=sys.stderr)
    return impl.function(*[kwargs[a] for a in impl.argnames])


@overload
def collect(pm: MedsecPluginManager, hook: Literal["register_coding_tables"]) -> dict[str, Registered[CodingTable]]: ...
@overload
def collect(pm: MedsecPluginManager, hook: Literal["register_claim_formats"]) -> dict[str, Registered[ClaimFormat]]: ...
@overload
def collect(pm: MedsecPluginManager,
            hook: Literal["register_remittance_formats"]) -> dict[str, Registered[RemittanceFormat]]: ...
@overload
def collect(pm: MedsecPluginManager, hook: Literal["register_edi_formats"]) -> dict[str, Registered[EdiFormat]]: ...
@overload
def collect(pm: MedsecPluginManager, hook: Literal["register_transports"]) -> dict[str, Registered[Transport]]: ...
@overload
def collect(pm: MedsecPluginManager, hook: Literal["register_transcribers"]) -> dict[str, Registered[Transcriber]]: ...
@overload
def collect(pm: MedsecPluginManager, hook: Literal["register_channels"]) -> dict[str, Registered[Channel]]: ...
@overload
def collect(pm: MedsecPluginManager, hook: Literal["register_importers"]) -> dict[str, Registered[Importer]]: ...
@overload
def collect(pm: MedsecPluginManager, hook: Literal["register_exporters"]) -> dict[str, Registered[Exporter]]: ...
@overload
def collect(pm: MedsecPluginManager, hook: Literal["register_reports"]) -> dict[str, Registered[Report]]: ...
@overload
def collect(pm: MedsecPluginManager, hook: str) -> dict[str, Registered[Any]]: ...
def collect(pm: MedsecPluginManager, hook: str) -> dict[str, Registered[Any]]:
    """Items registered through a `register_*` hook, by name, in plugin order.

    Two plugins registering one name is an error naming both.
    """
    found: dict[str, Registered[Any]] = {}
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        plugin = impl.plugin_name

        def register(item: object, name: str | None = None, _plugin: str = plugin) -> None:
            key = name or getattr(item, "name", None)
            if not key:
                raise PluginError(f"plugin {_plugin!r} registered an item without a name in {hook}")
            if key in found:
                raise PluginError(
                    f"{hook}: {key!r} is registered by both plugin {found[key].plugin!r} "
                    f"and plugin {_plugin!r}",
                    hint=f"disable one with MEDSEC_DISABLE_PLUGINS={_plugin}",
                )
            found[key] = Registered(key, item, _plugin)

        try:
            _call(pm, hook, impl, {"register": register})
        except PluginError:
            raise
        except Exception as e:
            raise PluginError(f"plugin {plugin!r} failed in {hook}: {type(e).__name__}: {e}") from e
    return found


def transport(pm: MedsecPluginManager, name: str, where: str = "") -> Transport:
    """The transport `name` (register_transports); InvalidInput naming `where` (a configuration file)
    and the transports installed when no plugin registers it."""
    from medsec.errors import InvalidInput

    transports = collect(pm, "register_transports")
    if name not in transports:
        raise InvalidInput(f"unknown transport {name!r}" + (f" in {where}" if where else ""),
                           hint=f"installed: {', '.join(sorted(transports)) or 'none'} (see 'medsec plugins')")
    return transports[name].item


class PluginCommand(NamedTuple):
    """A command a plugin added, and the plugin's name."""

    command: click.Command
    plugin: str


def plugin_commands(pm: MedsecPluginManager, reserved: Container[str] = ()) -> dict[str, click.Command]:
    """Commands that plugins add, by name; a clash with any other is an error."""
    return {name: added.command for name, added in _added_commands(pm, reserved).items()}


def _added_commands(pm: MedsecPluginManager, reserved: Container[str]) -> dict[str, PluginCommand]:
    import click  # only for plugin commands: domains collect registries without the CLI

    found: dict[str, PluginCommand] = {}
    for impl in reversed(pm.hook.register_commands.get_hookimpls()):
        plugin = impl.plugin_name
        scratch = click.Group()
        try:
            _call(pm, "register_commands", impl, {"cli": scratch})
        except Exception as e:
            raise PluginError(f"plugin {plugin!r} failed in register_commands: {e}") from e
        for name, command in scratch.commands.items():
            if name in reserved or name in found:
                other = found[name].plugin if name in found else "medsec"
                raise PluginError(f"command {name!r} is registered by both {other!r} and plugin {plugin!r}")
            found[name] = PluginCommand(command, plugin)
    return found


def fire(pm: MedsecPluginManager, hook: str, **kwargs: object) -> None:
    """Call an event hook after a commit; a failing plugin is a warning only."""
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        try:
            _call(pm, hook, impl, kwargs)
        except Exception as e:
            print(f"medsec: warning: plugin {impl.plugin_name!r} failed in {hook}: {e}",
                  file=sys.stderr)


def hook_results(pm: MedsecPluginManager, hook: str, **kwargs: object) -> list[object]:
    """Every implementation's answer to a checking hook (e.g. validate_claim), flattened.

    A plugin that raises is a plugin error, not a silent pass.
    """
    out: list[object] = []
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        try:
            result = _call(pm, hook, impl, kwargs)
        except Exception as e:
            raise PluginError(f"plugin {impl.plugin_name!r} failed in {hook}: {e}") from e
        out.extend(result or [])
    return out


class PluginInfo(TypedDict):
    """One row of `medsec plugins`."""

    name: str
    source: str
    hooks: list[str]
    registers: dict[str, list[str]]  # kind ("channels", "commands" ...) -> names


def describe(pm: MedsecPluginManager) -> list[PluginInfo]:
    """Every loaded plugin: name, source, hooks and what it registered."""
    registered: dict[str, dict[str, list[str]]] = {}
    for hook in ("register_coding_tables", "register_claim_formats", "register_remittance_formats",
                 "register_edi_formats", "register_channels", "register_importers", "register_exporters",
                 "register_reports", "register_transports", "register_transcribers"):
        for item in collect(pm, hook).values():
            kind = hook.removeprefix("register_")
            registered.setdefault(item.plugin, {}).setdefault(kind, []).append(item.name)
    for name, added in _added_commands(pm, ()).items():
        registered.setdefault(added.plugin, {}).setdefault("commands", []).append(name)
    out: list[PluginInfo] = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # a name blocked by MEDSEC_DISABLE_PLUGINS
            continue
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        out.append({
            "name": name,
            "source": pm.sources.get(name, ""),
            "hooks": hooks,
            "registers": registered.get(name, {}),
        })
    return sorted(out, key=lambda p: (p["source"] != "default", p["name"]))
