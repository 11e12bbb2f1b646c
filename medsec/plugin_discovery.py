"""Which plugins a command would load, found without importing them (or pluggy).

Entry points are read from the installed distributions' entry_points.txt:
importing importlib.metadata costs tens of ms of start-up on every command.
"""

import os
import sys
from collections.abc import Iterator

GROUP = "medsec"

# Built-in features with a plugin shape, registered through the same hooks
# third parties use (so they can be disabled the same way).
DEFAULT_PLUGINS = {
    "csv": "medsec.builtin.csv_format",
    "outbox": "medsec.builtin.outbox",
    "folder": "medsec.builtin.folder_transport",
    "yaml-codes": "medsec.builtin.yaml_codes",
    "reports": "medsec.builtin.reports",
    "practice-reports": "medsec.builtin.practice_reports",
    "workflow-reports": "medsec.builtin.workflow_reports",
}


# The plugins installed with medsec itself (its entry points in pyproject.toml).
SHIPPED_PLUGINS = frozenset({"medsec_synthea", "medsec_email", "medsec_sms", "medsec_fax", "medsec_icd10",
                             "medsec_hcpcs", "medsec_cms1500", "medsec_x12", "medsec_sftp",
                             "medsec_voice", "medsec_dictation"})

# The event hooks (hookspecs' "events" section): called after a commit, by `fire`.
EVENT_HOOKS = frozenset({"appointment_booked", "appointment_cancelled", "appointment_rescheduled",
                         "appointment_status_changed", "patient_created", "claim_status_changed",
                         "message_created"})


def split_env(name: str) -> list[str]:
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


def _entry_points_in(text: str, group: str) -> Iterator[tuple[str, str]]:
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


def events_may_be_heard() -> bool:
    """Whether a plugin that would load may implement an event hook: one that medsec does
    not ship (installed, or named in MEDSEC_PLUGINS). Neither the default plugins nor the
    shipped ones implement any (tests/test_hooks.py holds them to it), so a command that
    fires events builds the plugin manager (~10 ms of imports) only when this is true."""
    shipped = set(DEFAULT_PLUGINS.values()) | SHIPPED_PLUGINS
    return any(ref.partition(":")[0].strip() not in shipped
               for _name, ref, _source in plugins_to_load(None, entry_points=True))


def plugins_to_load(extra: list[str] | None, entry_points: bool) -> Iterator[tuple[str, str, str]]:
    """(name, ref, source) of every plugin, in load order: defaults, installed, MEDSEC_PLUGINS."""
    for name, ref in DEFAULT_PLUGINS.items():
        yield name, ref, "default"
    if entry_points:
        yield from discover_entry_points()
    for spec in split_env("MEDSEC_PLUGINS") if extra is None else extra:
        name, _, ref = spec.rpartition("=")
        yield name or ref.partition(":")[0], ref, "MEDSEC_PLUGINS"


