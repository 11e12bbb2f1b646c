"""The plugin manager factory, entry-point discovery and the registries."""

import importlib
import os
import sys
from typing import Any, NamedTuple

import pluggy

from medsec import hookspecs
from medsec.errors import PluginError

GROUP = "medsec"

# Built-in features with a plugin shape, registered through the same hooks
# third parties use (so they can be disabled the same way).
DEFAULT_PLUGINS = {
    "csv": "medsec.builtin.csv_format",
    "outbox": "medsec.builtin.outbox",
    "yaml-codes": "medsec.builtin.yaml_codes",
    "reports": "medsec.builtin.reports",
    "practice-reports": "medsec.builtin.practice_reports",
    "workflow-reports": "medsec.builtin.workflow_reports",
}


class Registered(NamedTuple):
    name: str
    item: Any
    plugin: str


def _split_env(name: str) -> list[str]:
    return [p.strip() for p in os.environ.get(name, "").split(",") if p.strip()]


def discover_entry_points(group: str = GROUP) -> list[tuple[str, str, str]]:
    """(name, "module:attr", distribution) for each entry point in `group`.

    Reads the installed distributions' entry_points.txt directly: importing
    importlib.metadata costs tens of ms of start-up on every command. One
    distribution found twice on sys.path counts once (the first, as with
    importlib.metadata); two distributions using one name are both returned,
    so the manager can refuse the clash.
    """
    found: dict[tuple[str, str], tuple[str, str, str]] = {}
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for dist in sorted(names):
            if not dist.endswith((".dist-info", ".egg-info")):
                continue
            path = os.path.join(folder, dist, "entry_points.txt")
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                continue
            label = dist.rsplit(".", 1)[0].replace("-", " ", 1)
            project = label.split(" ")[0].lower().replace("-", "_")
            for name, ref in _entry_points_in(text, group):
                found.setdefault((name, project), (name, ref, label))
    return list(found.values())


def _entry_points_in(text: str, group: str):
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, ref = line.partition("=")
            yield name.strip(), ref.split("[")[0].strip()


def _load(ref: str):
    module, _, attr = ref.partition(":")
    obj = importlib.import_module(module.strip())
    for part in filter(None, attr.strip().split(".")):
        obj = getattr(obj, part)
    return obj


def get_plugin_manager(disabled: list[str] | None = None, extra: list[str] | None = None,
                       entry_points: bool = True) -> pluggy.PluginManager:
    """A new plugin manager: default plugins, installed plugins, MEDSEC_PLUGINS.

    `disabled` (default: $MEDSEC_DISABLE_PLUGINS) blocks plugins by name;
    `extra` (default: $MEDSEC_PLUGINS) names modules to load as plugins
    without installing them, "module" or "name=module:attr".
    """
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    pm.medsec_sources = {}
    for name in _split_env("MEDSEC_DISABLE_PLUGINS") if disabled is None else disabled:
        pm.set_blocked(name)

    def add(name: str, ref: str, source: str):
        if pm.is_blocked(name):
            return
        if pm.has_plugin(name):
            raise PluginError(f"plugin name {name!r} is used twice ({pm.medsec_sources[name]} and {source})")
        try:
            plugin = _load(ref)
            pm.register(plugin, name=name)
        except PluginError:
            raise
        except pluggy.PluginValidationError as e:
            raise PluginError(f"plugin {name!r} ({source}): {' '.join(str(e).split())}",
                              hint=f"disable it with MEDSEC_DISABLE_PLUGINS={name}") from e
        except Exception as e:
            raise PluginError(f"plugin {name!r} ({ref}) failed to load: {type(e).__name__}: {e}",
                              hint=f"disable it with MEDSEC_DISABLE_PLUGINS={name}") from e
        pm.medsec_sources[name] = source

    for name, ref in DEFAULT_PLUGINS.items():
        add(name, ref, "default")
    if entry_points:
        for name, ref, dist in discover_entry_points():
            add(name, ref, dist)
    for spec in _split_env("MEDSEC_PLUGINS") if extra is None else extra:
        name, _, ref = spec.rpartition("=")
        add(name or ref.partition(":")[0], ref, "MEDSEC_PLUGINS")
    for hook_name, caller in vars(pm.hook).items():
        if hook_name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            plugin = pm.get_name(impl.plugin)
            raise PluginError(f"plugin {plugin!r} implements an unknown hook {hook_name!r}",
                              hint=f"fix the plugin or disable it with MEDSEC_DISABLE_PLUGINS={plugin}")
    pm.medsec_trace = bool(os.environ.get("MEDSEC_TRACE_HOOKS"))
    return pm


def _call(pm: pluggy.PluginManager, hook: str, impl, kwargs: dict):
    """Call one implementation with the arguments it asks for.

    medsec calls implementations one by one (to know which plugin gave what
    and to keep one plugin's failure from hiding the others), so it traces
    them itself: MEDSEC_TRACE_HOOKS=1 prints every call to stderr.
    """
    if getattr(pm, "medsec_trace", False):
        print(f"medsec: hook {hook}({', '.join(impl.argnames)}) -> plugin {pm.get_name(impl.plugin)!r}",
              file=sys.stderr)
    return impl.function(*[kwargs[a] for a in impl.argnames])


def collect(pm: pluggy.PluginManager, hook: str) -> dict[str, Registered]:
    """Items registered through a `register_*` hook, by name, in plugin order.

    Two plugins registering one name is an error naming both.
    """
    found: dict[str, Registered] = {}
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        plugin = pm.get_name(impl.plugin)

        def register(item, name: str | None = None, _plugin=plugin):
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


def plugin_commands(pm: pluggy.PluginManager, reserved=()) -> dict:
    """Commands that plugins add, by name; a clash with any other is an error."""
    import click

    owners: dict[str, str] = {}
    commands: dict = {}
    for impl in reversed(pm.hook.register_commands.get_hookimpls()):
        plugin = pm.get_name(impl.plugin)
        scratch = click.Group()
        try:
            _call(pm, "register_commands", impl, {"cli": scratch})
        except Exception as e:
            raise PluginError(f"plugin {plugin!r} failed in register_commands: {e}") from e
        for name, command in scratch.commands.items():
            if name in reserved or name in owners:
                other = owners.get(name, "medsec")
                raise PluginError(f"command {name!r} is registered by both {other!r} and plugin {plugin!r}")
            owners[name] = plugin
            commands[name] = command
            command.medsec_plugin = plugin
    return commands


def fire(pm: pluggy.PluginManager, hook: str, **kwargs) -> None:
    """Call an event hook after a commit; a failing plugin is a warning only."""
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        try:
            _call(pm, hook, impl, kwargs)
        except Exception as e:
            print(f"medsec: warning: plugin {pm.get_name(impl.plugin)!r} failed in {hook}: {e}",
                  file=sys.stderr)


def hook_results(pm: pluggy.PluginManager, hook: str, **kwargs) -> list:
    """Every implementation's answer to a checking hook (e.g. validate_claim), flattened.

    A plugin that raises is a plugin error, not a silent pass.
    """
    out = []
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        try:
            result = _call(pm, hook, impl, kwargs)
        except Exception as e:
            raise PluginError(f"plugin {pm.get_name(impl.plugin)!r} failed in {hook}: {e}") from e
        out.extend(result or [])
    return out


def describe(pm: pluggy.PluginManager) -> list[dict]:
    """Every loaded plugin: name, source, hooks and what it registered."""
    registered: dict[str, dict[str, list[str]]] = {}
    for hook in ("register_coding_tables", "register_claim_formats", "register_remittance_formats",
                 "register_channels", "register_importers", "register_exporters", "register_reports"):
        for item in collect(pm, hook).values():
            kind = hook.removeprefix("register_")
            registered.setdefault(item.plugin, {}).setdefault(kind, []).append(item.name)
    for name, command in plugin_commands(pm).items():
        registered.setdefault(command.medsec_plugin, {}).setdefault("commands", []).append(name)
    out = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # a name blocked by MEDSEC_DISABLE_PLUGINS
            continue
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        out.append({
            "name": name,
            "source": pm.medsec_sources.get(name, ""),
            "hooks": hooks,
            "registers": registered.get(name, {}),
        })
    return sorted(out, key=lambda p: (p["source"] != "default", p["name"]))
