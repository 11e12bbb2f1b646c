"""The docs stay true: every hook is documented in docs/plugins.md with an
example that loads as a plugin; README documents every command group with
examples that run, its quick start is `make demo` and `make test`, and every
dependency says why."""

import importlib
import re
import shlex
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import pytest

from medsec.cli import BUILTIN_COMMANDS
from medsec.plugins import get_plugin_manager

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PLUGINS_DOC = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text under a `## title` heading, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def fenced(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.S | re.M)


def hook_signatures() -> dict[str, str]:
    pm = get_plugin_manager(disabled=[], extra=[], entry_points=False)
    return {name: f"{name}({', '.join(getattr(pm.hook, name).spec.argnames)})"
            for name in dir(pm.hook) if not name.startswith("_")}


def hook_headings() -> list[str]:
    return re.findall(r"^### (.+)$", PLUGINS_DOC, re.M)


# -- the hook reference (docs/plugins.md) and the plugin guide (README) -------------------
def test_every_hook_signature_is_a_heading_in_the_hook_reference():
    headings = set(hook_headings())
    missing = [sig for sig in hook_signatures().values() if sig not in headings]
    assert missing == [], f"hooks without a '### signature' heading in docs/plugins.md: {missing}"
    assert "### register_commands(cli)" in PLUGINS_DOC  # the form, checked once by hand


def test_the_hook_reference_documents_no_hook_that_does_not_exist():
    documented = [h for h in hook_headings() if "(" in h]
    assert sorted(documented) == sorted(hook_signatures().values())


@pytest.mark.parametrize("hook", sorted(hook_signatures()))
def test_each_hook_example_loads_as_a_plugin_implementing_that_hook(hook, tmp_path, monkeypatch):
    text = PLUGINS_DOC.split(f"### {hook_signatures()[hook]}\n", 1)[1].split("\n### ", 1)[0]
    examples = fenced(text, "python")
    assert examples, f"no python example under {hook}"
    name = f"readme_{hook}_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(examples[0])
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    try:
        pm = get_plugin_manager(disabled=[], extra=[name], entry_points=False)
        hooks = {h.name for h in pm.get_hookcallers(pm.get_plugin(name))}
        assert hooks == {hook}
    finally:
        sys.modules.pop(name, None)


def test_plugin_guide_names_the_entry_point_group_and_switches():
    guide = section("Writing a plugin")
    for needle in ("[project.entry-points.medsec]", "from medsec import hookimpl",
                   "MEDSEC_PLUGINS", "MEDSEC_DISABLE_PLUGINS", "MEDSEC_TRACE_HOOKS"):
        assert needle in guide, needle


def test_readme_links_the_references():
    for target in ("docs/plugins.md", "docs/cli.md", "docs/plugin-api.md"):
        assert f"]({target})" in README, f"README does not link {target}"
    assert "](plugin-api.md)" in PLUGINS_DOC, "docs/plugins.md does not link docs/plugin-api.md"


# -- commands ------------------------------------------------------------------------
def test_every_builtin_command_group_is_documented():
    commands = section("Commands")
    headings = " ".join(re.findall(r"^### (.+)$", commands, re.M))
    examples = "\n".join(fenced(commands, "sh"))
    for name in BUILTIN_COMMANDS:
        assert re.search(rf"\b{name}\b", headings), f"no '### {name}' in README's Commands"
        assert re.search(rf"^medsec (--\S+ \S+ )?{name}\b", examples, re.M), \
            f"no example of 'medsec {name}' in README"


def test_quick_start_is_make_demo_and_make_test():
    blocks = fenced(section("Quick start"), "sh")
    assert [line for block in blocks for line in block.splitlines() if line.strip()] == \
        ["make demo", "make test"]


def test_makefile_has_the_documented_targets():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo", "test", "bench"):
        assert re.search(rf"^{target}:", makefile, re.M), target
        assert f"make {target}" in README


def test_every_dependency_is_listed_with_a_reason():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [re.split(r"[<>=!~\[; ]", d)[0] for d in project["dependencies"]]
    names += [re.split(r"[<>=!~\[; ]", d)[0] for d in project["optional-dependencies"]["test"]]
    listed = section("Dependencies")
    for name in names:
        assert re.search(rf"\*\*{re.escape(name)}\*\*[^\n]*: \S", listed, re.I), \
            f"README's Dependencies does not say why medsec uses {name}"


def example_lines():
    """(command, expected exit code) for each line of the Commands section's sh blocks."""
    out = []
    for block in fenced(section("Commands"), "sh"):
        for line in block.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            expected = re.search(r"#\s*exit (\d+)", line)
            out.append((line, int(expected.group(1)) if expected else 0))
    return out


def test_command_examples_run(medsec, tmp_path, monkeypatch):
    """Every example, in order, on a fresh demo practice: exit 0 unless marked '# exit N'."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    # as the README's export line says
    medsec.env.update({"MEDSEC_HOME": str(work / "clinic"), "MEDSEC_USER": "maria"})
    lines = example_lines()
    assert len(lines) > 60 and lines[1] == ("medsec init --demo", 0)
    failures = []
    for line, expected in lines:
        if line.startswith("medsec "):
            args = shlex.split(line, comments=True)[1:]
            result = medsec(*args)
            code, err = result.exit_code, result.stderr
        else:  # shell lines: the export at the top, printf to make input files
            proc = subprocess.run(["bash", "-c", line], capture_output=True, text=True, cwd=work)
            code, err = proc.returncode, proc.stderr
        if code != expected:
            failures.append(f"{line}\n  exit {code}, expected {expected}: {err.strip()}")
    assert failures == [], "\n".join(failures)


def test_license_is_mit():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "2026 medsec developers" in text
    assert "[LICENSE](LICENSE)" in README


def test_changelog_has_this_version():
    from medsec import __version__

    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## \[{re.escape(__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M)



# -- the storage interface (docs/storage.md) ---------------------------------------
def test_every_member_of_the_storage_interface_is_documented():
    from medsec.store import api

    doc = (ROOT / "docs" / "storage.md").read_text(encoding="utf-8")
    members = {name for protocol in (api.Reader, api.Writer, api.Backend)
               for name in [*vars(protocol), *getattr(protocol, "__annotations__", {})]
               if not name.startswith("_")}
    members |= {"open_store", "create_store"}
    assert {"get_many", "lookup_prefix", "reserve_ids", "attach_file", "actor"} <= members
    assert sorted(m for m in members if f"`{m}" not in doc) == []
