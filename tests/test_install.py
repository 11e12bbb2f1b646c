"""`pip install .` (not editable) gives a complete, working medsec.

The repository is copied to a temporary folder and built from there (so no
build/ or egg-info is left in the checkout), then installed with
`pip install --target`. The installed copy runs with `python -S` and a
PYTHONPATH of the target folder first, then the test environment's own path
without the checkout. No .pth file runs, so an editable install cannot lead
back to the checkout: a module, template or entry point that the wheel lacks
fails here instead of being quietly found in the source tree.
"""

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Left out of the copy: version control, environments, caches, local data.
SKIP = shutil.ignore_patterns(".git", ".venv", "venv", ".demo", "build", "dist", "*.egg-info",
                              "__pycache__", ".pytest_cache", ".data", "results", "tests")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("install")
    source = base / "src"
    shutil.copytree(ROOT, source, ignore=SKIP, symlinks=True)
    target = base / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--no-cache-dir", "--disable-pip-version-check", "--quiet", "--target", str(target),
         str(source)],
        capture_output=True, text=True, cwd=base)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # The dependencies: this interpreter's path, minus the checkout (a .venv
    # inside the checkout still counts: it holds the dependencies). Under -S no
    # .pth file runs, so an editable install of the checkout stays inert.
    venv = Path(sys.prefix).resolve()
    deps = [p for p in sys.path if p and os.path.isdir(p)
            and (not Path(p).resolve().is_relative_to(ROOT) or Path(p).resolve().is_relative_to(venv))]

    work = base / "work"  # the current directory: outside the repository
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDSEC_", "PYTHON"))}
    env.update({"PYTHONPATH": os.pathsep.join([str(target), *deps]),
                "MEDSEC_HOME": str(base / "clinic"), "MEDSEC_NOW": "2026-11-26T10:00:00",
                "MEDSEC_USER": "tester"})

    def run(*args, expect=0):
        proc = subprocess.run([sys.executable, "-S", *map(str, args)], capture_output=True,
                              text=True, env=env, cwd=work)
        assert proc.returncode == expect, proc.stderr
        return proc

    run.target = target
    return run


def test_python_m_medsec_version(installed):
    assert installed("-m", "medsec", "--version").stdout == "medsec 0.1.0\n"


def test_modules_come_from_the_installed_copy_only(installed):
    code = ("import json, medsec, medsec.cli, medsec.records.patients, medsec_synthea, "
            "medsec_templates\nprint(json.dumps([m.__file__ for m in (medsec, medsec.cli, "
            "medsec.records.patients, medsec_synthea, medsec_templates)]))")
    files = json.loads(installed("-c", code).stdout)
    for path in files:
        assert Path(path).is_relative_to(installed.target), path
    assert not any(Path(p).is_relative_to(ROOT) for p in files)
    installed("-c", f"import sys; assert {str(ROOT)!r} not in sys.path; "
                    "assert not [f for f in sys.meta_path if 'editable' in repr(f).lower()]")


def template_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


def test_templates_are_installed(installed):
    shipped = template_files(ROOT / "templates")
    assert "config/practice.yaml" in shipped
    assert template_files(installed.target / "medsec_templates") == shipped


def test_console_script_is_installed(installed):
    script = installed.target / "bin" / "medsec"
    assert script.is_file()
    assert installed(script, "--version").stdout == "medsec 0.1.0\n"


def test_bundled_plugins_are_discovered_from_the_installed_entry_points(installed):
    bundled = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["medsec"]
    assert "synthea" in bundled
    entry_points = next(installed.target.glob("medsec-*.dist-info")) / "entry_points.txt"
    for name, ref in bundled.items():
        assert f"{name} = {ref}" in entry_points.read_text()
    plugins = {p["name"]: p for p in json.loads(installed("-m", "medsec", "plugins", "--json").stdout)}
    for name in bundled:
        assert plugins[name]["source"] == "medsec 0.1.0" and plugins[name]["hooks"], name
    assert plugins["synthea"]["registers"] == {"importers": ["synthea"]}
    assert plugins["csv"]["source"] == "default"


def test_init_demo_works_from_the_installed_copy(installed):
    summary = json.loads(installed("-m", "medsec", "init", "--demo", "--json").stdout)
    assert summary["demo"] is True and summary["patients"] > 0
    assert installed("-m", "medsec", "config", "check").stdout == "configuration ok\n"
    assert installed("-m", "medsec", "check").stderr == "data directory ok\n"
    found = json.loads(installed("-m", "medsec", "patient", "find", "quin", "zyz", "--json").stdout)
    assert found and all(p["last"] == "Quiñonez-Zyzzyva" for p in found)


def tree_files(root: Path) -> set[str]:
    """The tracked source files under `root` (caches built at run time are not)."""
    listed = subprocess.run(["git", "ls-files", "--", str(root)], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: " + listed.stderr.strip())
    return {str((ROOT / f).relative_to(root)) for f in listed.stdout.splitlines()
            if f.endswith((".py", ".yaml", ".txt", ".j2"))}


def test_every_package_and_module_of_the_tree_is_installed(installed):
    """pyproject.toml lists the packages: a new subpackage left out of that
    list (or of package-dir) fails here instead of going missing from the wheel."""
    site = installed.target
    expected = {f"medsec/{f}" for f in tree_files(ROOT / "medsec")}
    for plugin in (ROOT / "plugins").iterdir():
        if (plugin / "__init__.py").is_file():
            expected |= {f"{plugin.name}/{f}" for f in tree_files(plugin)}
    shipped = {f for f in expected if (site / f).is_file()}
    assert sorted(expected - shipped) == []
