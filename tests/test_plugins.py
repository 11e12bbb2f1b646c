"""Third-party plugins, for real: a plugin distribution installed with pip and
found by the `medsec` console script through its entry point.

tests/plugin_pkg is a small plugin (`medsec-hello`, plugin name `hello`) that
adds a command, a channel, a coding table and a patient_created hook. It is
built from a copy (so no build/ is left in the checkout) and installed with
`pip install --target` into a temporary folder that the subprocesses see on
PYTHONPATH, exactly as a site-packages folder would be seen.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN_PKG = Path(__file__).resolve().parent / "plugin_pkg"
MEDSEC_BIN = str(Path(sys.executable).with_name("medsec"))
NOW = "2026-11-26T10:00:00"


@pytest.fixture(scope="module")
def hello_site(tmp_path_factory) -> Path:
    """A folder holding medsec-hello installed by pip (not editable)."""
    base = tmp_path_factory.mktemp("hello")
    source = base / "src"
    shutil.copytree(PLUGIN_PKG, source,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = base / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--no-cache-dir", "--disable-pip-version-check", "--quiet", "--target", str(target),
         str(source)],
        capture_output=True, text=True, cwd=base)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (target / "medsec_hello.py").is_file()
    return target


class Env:
    """Runs the installed `medsec` console script in a subprocess."""

    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.home = tmp_path / "data"
        self.paths: list[Path] = []  # PYTHONPATH entries
        self.vars = {"MEDSEC_HOME": str(self.home), "MEDSEC_NOW": NOW, "MEDSEC_USER": "tester",
                     "MEDSEC_PLUGINS": "", "MEDSEC_DISABLE_PLUGINS": ""}

    def __call__(self, *args, expect=0, **extra_env) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDSEC_")}
        env.update(self.vars)
        env["PYTHONPATH"] = os.pathsep.join(map(str, self.paths))
        env.update(extra_env)
        proc = subprocess.run([MEDSEC_BIN, *map(str, args)], capture_output=True, text=True,
                              env=env, cwd=self.tmp)
        if expect is not None:
            assert proc.returncode == expect, (
                f"medsec {' '.join(map(str, args))}: exit {proc.returncode}\n{proc.stderr}")
        return proc

    def plugins(self, **extra_env) -> dict:
        return {p["name"]: p for p in json.loads(self("plugins", "--json", **extra_env).stdout)}

    def module(self, name: str, source: str) -> str:
        """Write an uninstalled plugin module and put its folder on PYTHONPATH."""
        folder = self.tmp / "modules"
        folder.mkdir(exist_ok=True)
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
        if folder not in self.paths:
            self.paths.append(folder)
        return name

    def dist_info(self, dist: str, entry_points: str) -> None:
        """A bare installed distribution: just dist-info with entry_points.txt."""
        folder = self.tmp / "site2"
        info = folder / f"{dist}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist.split('-')[0]}\n")
        (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
        if folder not in self.paths:
            self.paths.append(folder)


@pytest.fixture
def env(tmp_path, hello_site) -> Env:
    e = Env(tmp_path)
    e.paths.append(hello_site)
    e("init", "--security", "open")
    return e


def one_error_line(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("medsec: error: "), proc.stderr
    return lines[-1]


# -- the installed plugin works ---------------------------------------------------
def test_installed_plugin_adds_its_command(env):
    assert env("hello", "Maria").stdout == "hello, Maria\n"
    assert "hello" in env("--help").stdout
    env.paths.clear()  # without the installed distribution there is no such command
    proc = env("hello", expect=2)
    assert "no such command 'hello'" in proc.stderr.lower()


def test_installed_plugin_is_listed_with_what_it_registers(env):
    hello = env.plugins()["hello"]
    assert hello["source"] == "medsec_hello 0.1.0"  # the distribution it came from
    assert hello["registers"] == {"commands": ["hello"], "channels": ["pigeon"],
                                  "coding_tables": ["greetings"]}
    assert hello["hooks"] == ["patient_created", "register_channels", "register_coding_tables",
                              "register_commands"]
    table = env("plugins").stdout  # the human table names it too
    assert "hello" in table and "medsec_hello 0.1.0" in table and "channels: pigeon" in table


def test_installed_coding_table_answers_code_lookups(env):
    found = json.loads(env("code", "show", "hello2", "--json").stdout)
    assert found == {"code": "HELLO2", "system": "HELLO", "description": "Greeting by phone",
                     "table": "greetings"}
    tables = json.loads(env("code", "tables", "--json").stdout)
    assert {"name": "greetings", "system": "HELLO", "description": "greetings (example table)",
            "plugin": "hello"} in tables
    hits = json.loads(env("code", "search", "phone", "--system", "HELLO", "--json").stdout)
    assert [h["code"] for h in hits] == ["HELLO2"]


def test_installed_patient_created_hook_fires_on_add_and_import(env, tmp_path):
    log = tmp_path / "created.log"
    env("patient", "add", "--first", "Ana", "--last", "Lopez", "--dob", "1980-02-03",
        MEDSEC_HELLO_LOG=str(log))
    assert log.read_text() == "P1\n"
    csv = tmp_path / "new.csv"
    csv.write_text("first,last,dob\nBo,Lind,1971-05-06\nCy,Moss,1962-07-08\n")
    env("patient", "import", csv, MEDSEC_HELLO_LOG=str(log))
    assert log.read_text() == "P1\nP2\nP3\n"
    # a refused add commits nothing and fires nothing
    env("patient", "add", "--first", "Ana", "--last", "Lopez", "--dob", "1980-02-03", expect=1,
        MEDSEC_HELLO_LOG=str(log))
    assert log.read_text() == "P1\nP2\nP3\n"


def contributes_nothing(listed: dict, name: str) -> bool:
    """A disabled plugin has no hooks and registers nothing (whether or not it is listed)."""
    entry = listed.get(name, {"hooks": [], "registers": {}})
    return entry["hooks"] == [] and entry["registers"] == {}


def test_disable_plugins_removes_an_installed_plugin(env, tmp_path):
    off = {"MEDSEC_DISABLE_PLUGINS": "hello"}
    listed = env.plugins(**off)
    assert contributes_nothing(listed, "hello") and listed["synthea"]["hooks"]
    assert "no such command 'hello'" in env("hello", expect=2, **off).stderr.lower()
    env("code", "show", "HELLO1", expect=1, **off)
    log = tmp_path / "created.log"
    env("patient", "add", "--first", "Ana", "--last", "Lopez", "--dob", "1980-02-03",
        MEDSEC_HELLO_LOG=str(log), **off)
    assert not log.exists()
    # several names, with spaces; bundled and default plugins are disabled the same way
    listed = env.plugins(MEDSEC_DISABLE_PLUGINS="hello, synthea,csv")
    assert all(contributes_nothing(listed, name) for name in ("hello", "synthea", "csv"))
    assert listed["outbox"]["registers"] == {"channels": ["outbox"]}
    csv = tmp_path / "new.csv"
    csv.write_text("first,last,dob\nBo,Lind,1971-05-06\n")
    proc = env("patient", "import", csv, expect=2, MEDSEC_DISABLE_PLUGINS="csv")
    assert "cannot tell the format" in proc.stderr


def test_a_disabled_plugin_is_not_listed_as_loaded(env):
    assert "hello" not in env.plugins(MEDSEC_DISABLE_PLUGINS="hello")


# -- conflicts and failures are exit 3, naming the plugins ------------------------------
@pytest.mark.parametrize("source,command,name,without_hello", [
    pytest.param("""
        from medsec import hookimpl
        from medsec.plugin_types import Channel

        @hookimpl
        def register_channels(register):
            register(Channel("pigeon", ("letter",), "another pigeon", lambda m, s, d: "x"))
     """, ["plugins"], "pigeon", 0, id="channel"),
    pytest.param("""
        from medsec import hookimpl
        from medsec.plugin_types import CodingTable

        @hookimpl
        def register_coding_tables(register):
            register(CodingTable("greetings", "HI", "more greetings", lambda d, c: None,
                                 lambda d, t, n: []))
     """, ["code", "show", "HELLO1"], "greetings", 1, id="coding-table"),
    pytest.param("""
        import click
        from medsec import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.command()
            def hello():
                click.echo("another hello")
     """, ["hello"], "hello", 0, id="command"),
])
def test_a_duplicate_name_is_exit_3_naming_both_plugins(env, source, command, name, without_hello):
    env.module("medsec_dupe", source)
    proc = env(*command, expect=3, MEDSEC_PLUGINS="medsec_dupe")
    line = one_error_line(proc)
    assert f"{name!r} is registered by both" in line, line
    assert "'hello'" in line and "'medsec_dupe'" in line, line
    assert "Traceback" not in proc.stderr
    # disabling either plugin resolves it
    env(*command, MEDSEC_PLUGINS="medsec_dupe", MEDSEC_DISABLE_PLUGINS="medsec_dupe")
    env(*command, expect=without_hello, MEDSEC_PLUGINS="medsec_dupe", MEDSEC_DISABLE_PLUGINS="hello")


def test_a_duplicate_of_a_default_plugins_name_is_exit_3(env):
    env.module("medsec_csv2", """
        from medsec import hookimpl
        from medsec.plugin_types import Importer

        @hookimpl
        def register_importers(register):
            register(Importer("csv", "patient", "my csv", lambda path, options: iter(())))
    """)
    line = one_error_line(env("plugins", expect=3, MEDSEC_PLUGINS="medsec_csv2"))
    assert "register_importers" in line and "'csv'" in line and "'medsec_csv2'" in line
    assert "MEDSEC_DISABLE_PLUGINS=" in line  # the hint


def test_a_plugin_cannot_take_a_built_in_command(env):
    env.module("medsec_takeover", """
        import click
        from medsec import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.command()
            def patient():
                click.echo("mine now")
    """)
    line = one_error_line(env("--help", expect=3, MEDSEC_PLUGINS="medsec_takeover"))
    assert "'patient'" in line and "'medsec'" in line and "'medsec_takeover'" in line


def test_the_same_plugin_name_twice_is_exit_3(env):
    env.module("other_hello", "")
    line = one_error_line(env("plugins", expect=3, MEDSEC_PLUGINS="hello=other_hello"))
    assert "'hello'" in line and "medsec_hello 0.1.0" in line and "MEDSEC_PLUGINS" in line


def test_medsec_plugins_loads_an_uninstalled_module(env, tmp_path):
    env.module("clinic_extras", """
        import click
        from medsec import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.command("extras")
            def extras():
                click.echo("extras loaded")
    """)
    assert "clinic_extras" not in env.plugins()  # not installed: needs MEDSEC_PLUGINS
    listed = env.plugins(MEDSEC_PLUGINS="clinic_extras")
    assert listed["clinic_extras"]["source"] == "MEDSEC_PLUGINS"
    assert listed["clinic_extras"]["registers"] == {"commands": ["extras"]}
    assert "hello" in listed  # installed plugins still load alongside
    assert env("extras", MEDSEC_PLUGINS="clinic_extras").stdout == "extras loaded\n"


def test_medsec_plugins_name_equals_module_attr(env):
    env.module("clinic_bundle", """
        import click
        from medsec import hookimpl

        class Reminders:
            @hookimpl
            def register_commands(self, cli):
                @cli.command("bundle")
                def bundle():
                    click.echo("from an object")

        plugin = Reminders()
    """)
    extra = {"MEDSEC_PLUGINS": "bundle=clinic_bundle:plugin"}
    listed = env.plugins(**extra)
    assert listed["bundle"]["source"] == "MEDSEC_PLUGINS"
    assert env("bundle", **extra).stdout == "from an object\n"
    assert contributes_nothing(env.plugins(MEDSEC_DISABLE_PLUGINS="bundle", **extra), "bundle")
    assert "no such command" in env("bundle", expect=2, MEDSEC_DISABLE_PLUGINS="bundle", **extra).stderr


def test_an_installed_plugin_that_fails_to_import_is_exit_3_with_a_hint(env):
    env.dist_info("medsec_broken-1.0", """
        [medsec]
        broken = medsec_broken_missing_module
    """)
    proc = env("plugins", expect=3)
    line = one_error_line(proc)
    assert "plugin 'broken'" in line and "failed to load" in line
    assert "medsec_broken_missing_module" in line
    assert line.endswith("(disable it with MEDSEC_DISABLE_PLUGINS=broken)")
    assert "Traceback" not in proc.stderr
    # following the hint works
    assert contributes_nothing(env.plugins(MEDSEC_DISABLE_PLUGINS="broken"), "broken")
    # --debug shows the traceback for the plugin author
    proc = env("--debug", "plugins", expect=3)
    assert "Traceback" in proc.stderr and "ModuleNotFoundError" in proc.stderr


def test_a_plugin_module_that_raises_on_import_is_exit_3_with_a_hint(env):
    env.module("medsec_raises", """
        raise RuntimeError("gateway settings missing")
    """)
    line = one_error_line(env("plugins", expect=3, MEDSEC_PLUGINS="medsec_raises"))
    assert "plugin 'medsec_raises'" in line and "RuntimeError: gateway settings missing" in line
    assert "MEDSEC_DISABLE_PLUGINS=medsec_raises" in line


def test_an_implementation_of_an_unknown_hook_is_rejected(env):
    env.module("medsec_typo", """
        from medsec import hookimpl

        @hookimpl
        def patient_registered(patient):  # the hook is patient_created
            pass
    """)
    proc = env("plugins", expect=3, MEDSEC_PLUGINS="medsec_typo")
    line = one_error_line(proc)
    assert "'medsec_typo'" in line and "unknown hook" in line and "patient_registered" in line
    assert "Traceback" not in proc.stderr


def test_a_broken_plugin_stops_a_change_before_it_is_written(env):
    env.module("medsec_typo", """
        from medsec import hookimpl

        @hookimpl
        def patient_registered(patient):
            pass
    """)
    env("patient", "add", "--first", "A", "--last", "B", "--dob", "1990-01-01", expect=3,
        MEDSEC_PLUGINS="medsec_typo")
    assert json.loads(env("patient", "list", "--json").stdout) == []


def test_trace_hooks_prints_hook_calls(env):
    proc = env("plugins", MEDSEC_TRACE_HOOKS="1")
    assert "register_channels" in proc.stderr and "hello" in proc.stderr
