"""The import boundaries are contracts (import-linter, in pyproject.toml).

`make lint` runs them on the real tree. These tests prove that the contracts
bite: a copy of the tree with one deliberately broken import fails, naming
that import; and that the contracts' module lists cover every module, so a
new one cannot slip past them unchecked.
"""

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = {c["id"]: c for c in
             tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]}
# What a bundled or third-party plugin may import from medsec (docs/plugin-api.md).
PUBLIC = {"medsec.plugin_api", "medsec.plugin_types"}


def top_level_modules() -> set[str]:
    names = set()
    for entry in (ROOT / "medsec").iterdir():
        if entry.suffix == ".py" and not entry.name.startswith("__"):
            names.add(f"medsec.{entry.stem}")
        elif (entry / "__init__.py").is_file():
            names.add(f"medsec.{entry.name}")
    return names


def layered() -> set[str]:
    return {name.strip() for layer in CONTRACTS["layers"]["layers"] for name in layer.split("|")}


def test_every_module_is_in_a_layer_or_the_kernel():
    kernel = set(CONTRACTS["kernel"]["source_modules"])
    assert layered() & kernel == set()
    assert sorted(top_level_modules() - layered() - kernel - PUBLIC) == []


def test_plugins_are_forbidden_every_module_but_the_public_api():
    forbidden = set(CONTRACTS["plugins-public-api"]["forbidden_modules"])
    assert forbidden == top_level_modules() - PUBLIC


# The storage interface: what a domain may import of medsec.store (docs/storage.md).
STORE_INTERFACE = {"medsec.store.api", "medsec.store.catalog", "medsec.store.kinds"}
DOMAINS = ["records", "coding", "scheduling", "communications", "billing", "workflows", "reports", "practice"]


def test_domains_are_forbidden_every_store_module_but_the_interface():
    store = {f"medsec.store.{p.stem}" for p in (ROOT / "medsec" / "store").glob("*.py") if p.stem != "__init__"}
    assert set(CONTRACTS["store-interface"]["forbidden_modules"]) == store - STORE_INTERFACE
    # the default plugins too (the outbox channel writes its own folder, as any channel may)
    assert {f"medsec.{d}" for d in [*DOMAINS, "builtin"]} <= set(CONTRACTS["store-interface"]["source_modules"])


# What would name a file of the data directory: its folders, shard and index file names.
DATA_PATH = re.compile(r"(^|/)(index|meta|files|audit|outbox|appointments|patients)/|\.json$")


def test_no_domain_names_a_file_of_the_data_directory():
    """String literals in the domains never spell a path in the data directory (a
    backend decides where things are kept): only user-chosen files, by argument."""
    found = []
    for domain in DOMAINS:
        for path in sorted((ROOT / "medsec" / domain).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and DATA_PATH.search(node.value):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert found == []


def test_the_kernel_may_not_import_any_domain():
    domains = layered() - {"medsec.store"}
    assert set(CONTRACTS["kernel"]["forbidden_modules"]) == domains


@pytest.fixture
def tree(tmp_path):
    """A copy of the code a contract checks, importable from tmp_path first."""
    if not LINT_IMPORTS.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    for name in ("medsec", "plugins", "templates"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "_index"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    os.symlink(tmp_path / "templates", tmp_path / "medsec_templates")

    def lint() -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(tmp_path / "plugins")])}
        return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)

    lint.root = tmp_path
    return lint


def add_import(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_unchanged_tree_keeps_every_contract(tree):
    result = tree()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_a_plugin_importing_store_internals_is_caught_and_named(tree):
    (tree.root / "plugins" / "medsec_sms" / "leak.py").write_text("from medsec.store import catalog\n")
    result = tree()
    assert result.returncode == 1
    assert "medsec_sms is not allowed to import medsec.store" in result.stdout
    assert "medsec_sms.leak -> medsec.store.catalog (l.1)" in result.stdout


def test_a_plugin_importing_another_plugin_is_caught(tree):
    add_import(tree.root / "plugins" / "medsec_fax" / "__init__.py", "import medsec_email  # noqa")
    result = tree()
    assert result.returncode == 1
    assert "medsec_fax is not allowed to import medsec_email" in result.stdout


def test_a_domain_importing_upwards_is_caught_and_named(tree):
    add_import(tree.root / "medsec" / "scheduling" / "waitlist.py", "from medsec.billing import accounts  # noqa")
    result = tree()
    assert result.returncode == 1
    assert "medsec.scheduling.waitlist -> medsec.billing.accounts" in result.stdout


def test_sibling_domains_may_not_import_each_other(tree):
    add_import(tree.root / "medsec" / "billing" / "claims.py", "from medsec.workflows import tasks  # noqa")
    result = tree()
    assert result.returncode == 1
    assert "medsec.billing.claims -> medsec.workflows.tasks" in result.stdout


def test_the_kernel_importing_a_domain_is_caught(tree):
    add_import(tree.root / "medsec" / "clock.py", "from medsec.records import patients  # noqa")
    result = tree()
    assert result.returncode == 1
    assert "medsec.clock -> medsec.records.patients" in result.stdout


def test_a_cycle_inside_a_domain_is_caught(tree):
    add_import(tree.root / "medsec" / "scheduling" / "availability.py",
               "from medsec.scheduling import walkins  # noqa")
    result = tree()
    assert result.returncode == 1
    assert "No cycles are allowed in medsec.scheduling" in result.stdout


def test_a_plugin_reaching_past_the_public_surface_is_caught(tree):
    add_import(tree.root / "plugins" / "medsec_email" / "__init__.py",
               "from medsec.plugin_api._email import send_email  # noqa")
    result = tree()
    assert result.returncode == 1
    assert "medsec_email -> medsec.plugin_api._email" in result.stdout


def test_a_domain_reaching_into_the_data_directory_backend_is_caught(tree):
    add_import(tree.root / "medsec" / "records" / "patients.py", "from medsec.store import indexfiles  # noqa")
    result = tree()
    assert result.returncode == 1
    assert "medsec.records.patients -> medsec.store.indexfiles" in result.stdout
