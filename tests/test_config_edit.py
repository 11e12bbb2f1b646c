"""`config edit`, `config export` and `config import`: the configuration changed through the
store's interface, so that it works the same on a data directory and on a PostgreSQL store
(whose documents are rows no text editor reaches). The editor is a small Python script."""

import json
import os
import shlex
import stat
import sys
from pathlib import Path

import pytest
from helpers.cli import Medsec

from medsec.config import CONFIG_FILES

# A Python "editor": applies the plan in a JSON file (replacements, text to append, an exit
# code) to the file it is given, and logs that file's path and permissions.
EDITOR_SCRIPT = """\
import json, os, stat, sys
plan_path, path = sys.argv[1], sys.argv[2]
with open(plan_path) as f:
    plan = json.load(f)
folder = os.path.dirname(path)
with open(plan["log"], "a") as f:
    f.write(json.dumps({"path": path, "mode": stat.S_IMODE(os.stat(path).st_mode),
                        "folder_mode": stat.S_IMODE(os.stat(folder).st_mode)}) + "\\n")
with open(path, encoding="utf-8", newline="") as f:
    text = f.read()
for old, new in plan["replace"]:
    assert old in text, old
    text = text.replace(old, new, 1)
with open(path, "w", encoding="utf-8", newline="") as f:
    f.write(text + plan["append"])
sys.exit(plan["exit"])
"""

GOOD_NPI, BAD_NPI = "1234567893", "1234567890"


@pytest.fixture(params=["data-dir", "postgresql"])
def office(request) -> Medsec:
    """The empty practice, in a data directory and in a PostgreSQL store."""
    return request.getfixturevalue("practice" if request.param == "data-dir" else "pg_office")


class Editor:
    """Builds the environment that makes `config edit` run the script with a plan."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.script = folder / "editor.py"
        self.script.write_text(EDITOR_SCRIPT)
        self.log = folder / "editor.log"
        self.plan = folder / "plan.json"

    def env(self, replace=(), append: str = "", exit: int = 0) -> dict:
        self.plan.write_text(json.dumps({"replace": list(replace), "append": append, "exit": exit,
                                         "log": str(self.log)}))
        command = " ".join(shlex.quote(part) for part in (sys.executable, str(self.script), str(self.plan)))
        return {"EDITOR": command, "VISUAL": None}

    def calls(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []


@pytest.fixture
def editor(tmp_path) -> Editor:
    folder = tmp_path / "editor"
    folder.mkdir()
    return Editor(folder)


def stored(office: Medsec, tmp_path: Path) -> dict[str, str]:
    """Every document's text as the store holds it (through `config export`)."""
    folder = tmp_path / "stored"
    office.ok("config", "export", folder, "--force")
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.iterdir())}


def edits(office: Medsec) -> list[dict]:
    return [e for e in office.json("audit") if e["command"] == "config edit"
            and (e["outcome"] == "begun" or e["outcome"].startswith("ok"))]


# -- config edit -------------------------------------------------------------------------
def test_edit_saves_a_valid_change_as_typed_and_config_show_sees_it(office, editor, tmp_path):
    before = stored(office, tmp_path)["practice.yaml"]
    result = office("config", "edit", "practice", env=editor.env(
        replace=[("name: My Practice", "name: Harbor Family Medicine  # renamed in 2026")]))
    assert result.exit_code == 0, result.stderr
    assert "saved practice.yaml" in result.stderr
    assert office.json("config", "show", "practice")["name"] == "Harbor Family Medicine"
    after = stored(office, tmp_path)["practice.yaml"]
    assert after == before.replace("name: My Practice", "name: Harbor Family Medicine  # renamed in 2026")
    assert "# practice.yaml - who the practice is" in after  # comments kept: the text as typed
    (call,) = editor.calls()
    assert call["mode"] == 0o600 and call["folder_mode"] == 0o700  # never readable by others
    assert not os.path.exists(call["path"]) and not os.path.exists(os.path.dirname(call["path"]))
    assert [e["action"] for e in edits(office)] == ["commit", "config-edit"]
    assert edits(office)[-1]["outcome"] == "ok: name"  # the setting changed, not its value
    assert edits(office)[-1]["ids"] == ["practice.yaml"]


def test_edit_of_a_staff_member_is_what_staff_list_shows(office, editor):
    member = f"  - {{id: S1, name: Dana Reyes, role: physician, npi: '{GOOD_NPI}'}}\n"
    result = office("config", "edit", "staff.yaml", env=editor.env(replace=[("staff: []\n", "staff:\n" + member)]))
    assert result.exit_code == 0, result.stderr
    assert [(s["id"], s["name"]) for s in office.json("staff", "list")] == [("S1", "Dana Reyes")]


def test_edit_refuses_a_yaml_syntax_error_with_file_and_line(office, editor, tmp_path):
    before = stored(office, tmp_path)
    result = office("config", "edit", "practice", env=editor.env(append="rooms: [exam1\nphone: x\n"))
    assert result.exit_code == 2
    assert result.stderr.startswith("medsec: error: practice.yaml:")
    line = int(result.stderr.split(":")[3])
    assert line > 25 and "YAML syntax error" in result.stderr and "nothing was saved" in result.stderr
    assert stored(office, tmp_path) == before
    assert edits(office) == []
    assert not os.path.exists(editor.calls()[0]["path"])


def test_edit_refuses_a_validation_error_and_stores_nothing(office, editor, tmp_path):
    before = stored(office, tmp_path)
    members = (f"staff:\n  - {{id: S1, name: Dana Reyes, role: physician, npi: '{GOOD_NPI}'}}\n"
               f"  - {{id: S2, name: Lee Park, role: nurse, npi: '{BAD_NPI}'}}\n")
    result = office("config", "edit", "staff", env=editor.env(replace=[("staff: []\n", members)]))
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"medsec: error: staff.yaml:8: npi '{BAD_NPI}' is not a valid NPI "
                                     "(1 error(s); nothing was saved)")
    assert stored(office, tmp_path) == before
    assert office.json("staff", "list") == []


def test_edit_reports_every_error_and_the_first_as_the_error(office, editor):
    result = office("config", "edit", "practice", env=editor.env(
        replace=[("time_zone: America/New_York", "time_zone: Mars/Olympus"), ('zip: ""', "zip: '123'")]))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("medsec: practice.yaml:14: error: address.zip")
    assert lines[1].startswith("medsec: error: practice.yaml:8: unknown time zone 'Mars/Olympus'")


def test_edit_with_no_change_writes_nothing(office, editor, tmp_path):
    before = stored(office, tmp_path)
    result = office("config", "edit", "practice", env=editor.env())
    assert result.exit_code == 0 and "practice.yaml: no change" in result.stderr
    assert office.json("config", "edit", "practice", env=editor.env()) == {"document": "practice.yaml",
                                                                          "saved": False}
    assert edits(office) == [] and stored(office, tmp_path) == before
    assert len(editor.calls()) == 2


def test_an_editor_that_fails_saves_nothing(office, editor, tmp_path):
    before = stored(office, tmp_path)
    result = office("config", "edit", "practice",
                    env=editor.env(replace=[("name: My Practice", "name: Abandoned")], exit=1))
    assert result.exit_code == 3
    assert result.stderr.strip() == "medsec: error: the editor exited with status 1: nothing was saved"
    assert stored(office, tmp_path) == before
    assert not os.path.exists(editor.calls()[0]["path"])


def test_an_editor_that_is_not_there_is_exit_3(practice):
    result = practice("config", "edit", "practice", env={"VISUAL": "no-such-editor-here --wait", "EDITOR": None})
    assert result.exit_code == 3 and "the editor 'no-such-editor-here' cannot be run" in result.stderr


def test_visual_comes_before_editor(practice, editor):
    command = editor.env(replace=[("name: My Practice", "name: Visual Clinic")])["EDITOR"]
    practice.ok("config", "edit", "practice", env={"VISUAL": command, "EDITOR": "false"})
    assert practice.json("config", "show", "practice")["name"] == "Visual Clinic"


def test_edit_of_an_unknown_name_lists_the_valid_ones(practice, editor):
    result = practice("config", "edit", "billing", env=editor.env())
    assert result.exit_code == 2
    assert "unknown configuration file 'billing'" in result.stderr and "practice.yaml, staff.yaml" in result.stderr
    assert editor.calls() == []


def test_medsec_yaml_keeps_its_schema_version(office, editor, tmp_path):
    before = stored(office, tmp_path)
    result = office("config", "edit", "medsec", env=editor.env(replace=[("schema_version: 4", "schema_version: 2")]))
    assert result.exit_code == 2 and "medsec.yaml:2: schema_version 2" in result.stderr
    assert stored(office, tmp_path) == before


def test_a_change_made_meanwhile_by_another_terminal_is_not_overwritten(practice, editor, tmp_path):
    """The editor stands for a slow person: another command changes staff.yaml before it returns."""
    other = shlex.join([sys.executable, "-m", "medsec", "staff", "add", "--name", "Kim Ode", "--role", "nurse"])
    script = tmp_path / "slow-editor.sh"
    script.write_text(f'#!/bin/sh\n{other} >/dev/null && printf "# mine\\n" >> "$1"\n')
    script.chmod(0o700)
    result = practice("config", "edit", "staff", env={"VISUAL": str(script), "EDITOR": None})
    assert result.exit_code == 1, result.stderr
    assert "staff.yaml was changed by someone else while you edited it" in result.stderr
    assert [s["name"] for s in practice.json("staff", "list")] == ["Kim Ode"]
    assert "# mine" not in stored(practice, tmp_path)["staff.yaml"]


# -- config export -----------------------------------------------------------------------
def test_export_writes_every_document_as_stored_privately(office, tmp_path):
    folder = tmp_path / "exported"
    summary = office.json("config", "export", folder)
    assert summary["written"][:2] == ["medsec.yaml", "practice.yaml"] and len(summary["written"]) == len(CONFIG_FILES)
    assert summary["absent"] == [] and summary["folder"] == str(folder)
    for name in summary["written"]:
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert (folder / "practice.yaml").read_text().startswith("# practice.yaml - who the practice is")
    assert [e["action"] for e in office.json("audit") if e["command"] == "config export"] == ["config-export"]


def test_export_refuses_to_overwrite_without_force(office, tmp_path):
    folder = tmp_path / "exported"
    folder.mkdir()
    (folder / "staff.yaml").write_text("mine\n")
    result = office("config", "export", folder)
    assert result.exit_code == 2 and "staff.yaml exists" in result.stderr and "--force" in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["staff.yaml"]  # nothing written
    assert (folder / "staff.yaml").read_text() == "mine\n"
    office.ok("config", "export", folder, "--force")
    assert (folder / "staff.yaml").read_text().startswith("# staff.yaml")
    assert len(list(folder.iterdir())) == len(CONFIG_FILES)


def test_export_into_the_data_directory_is_refused(practice):
    result = practice("config", "export", practice.home / "copy")
    assert result.exit_code == 2 and "inside the data directory" in result.stderr
    assert not (practice.home / "copy").exists()


# -- config import -----------------------------------------------------------------------
def test_import_stores_changed_files_as_written(office, tmp_path):
    folder = tmp_path / "config"
    office.ok("config", "export", folder)
    practice_yaml = folder / "practice.yaml"
    practice_yaml.write_text(practice_yaml.read_text().replace("name: My Practice", "name: Imported Clinic # new"))
    summary = office.json("config", "import", folder)
    assert summary["imported"] == ["practice.yaml"] and len(summary["unchanged"]) == len(CONFIG_FILES) - 1
    assert office.json("config", "show", "practice")["name"] == "Imported Clinic"
    assert stored(office, tmp_path)["practice.yaml"] == practice_yaml.read_text()
    assert [e["ids"] for e in office.json("audit") if e["action"] == "config-import"] == [["practice.yaml"]]


def test_import_checks_every_file_first_and_stores_none_on_an_error(office, tmp_path):
    before = stored(office, tmp_path)
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "practice.yaml").write_text("name: Good Clinic\ntime_zone: America/Chicago\n")
    (folder / "payers.yaml").write_text("payers:\n  - {id: ACME, name: Acme}\n  - {id: ACME, name: Again}\n")
    (folder / "staff.yaml").write_text("staff:\n  - {id: S1, name: [unclosed\n")
    result = office("config", "import", folder)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"medsec: error: {folder}/staff.yaml:3: YAML syntax error")
    assert lines[0] == f"medsec: {folder}/payers.yaml:3: error: duplicate payer id ACME"
    assert "(2 error(s); nothing was imported)" in lines[-1]
    assert stored(office, tmp_path) == before


def test_import_of_named_files_only(office, tmp_path):
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "practice.yaml").write_text("name: Only This\ntime_zone: America/Chicago\n")
    (folder / "staff.yaml").write_text("staff: [oops\n")  # not named: not read
    assert office.json("config", "import", folder, "practice")["imported"] == ["practice.yaml"]
    assert office.json("config", "show", "practice") == {"name": "Only This", "time_zone": "America/Chicago"}
    result = office("config", "import", folder, "fees")
    assert result.exit_code == 2 and f"{folder}/fees.yaml does not exist" in result.stderr
    result = office("config", "import", folder, "nonsense")
    assert result.exit_code == 2 and "unknown configuration file 'nonsense'" in result.stderr


def test_import_refuses_another_schema_version(office, tmp_path):
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "medsec.yaml").write_text("schema_version: 2\ncreated_by: medsec 0.0.1\n")
    result = office("config", "import", folder)
    assert result.exit_code == 2 and f"{folder}/medsec.yaml:1: schema_version 2" in result.stderr
    assert office.json("config", "show", "medsec")["schema_version"] == 4


def test_import_reads_within_the_limits(office, tmp_path):
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "practice.yaml").write_text("name: Big\n" + "# filler\n" * 200_000)
    result = office("config", "import", folder)
    assert result.exit_code == 2 and "practice.yaml: 1.7 MB, over the 1 MB limit" in result.stderr
    os.mkfifo(folder / "fees.yaml")
    result = office("config", "import", folder, "fees")
    assert result.exit_code == 2 and "fees.yaml: not a regular file" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = office("config", "import", empty)
    assert result.exit_code == 2 and "holds no configuration file" in result.stderr


def test_round_trip_between_a_data_directory_and_postgresql(practice, pg_office, editor, tmp_path, monkeypatch):
    monkeypatch.delenv("MEDSEC_STORE")  # pg_office names its store itself; the data directory must not see it
    practice.ok("staff", "add", "--name", "Dana Reyes", "--role", "physician", "--npi", GOOD_NPI)
    practice.ok("config", "edit", "practice", env=editor.env(
        replace=[("closures: []", "closures:\n  - {date: 2026-12-25, reason: Christmas Day}")]))
    assert practice.json("config", "show") != pg_office.json("config", "show")
    practice.ok("config", "export", tmp_path / "from-dir")
    pg_office.ok("config", "import", tmp_path / "from-dir")
    shown = practice.json("config", "show")
    assert pg_office.json("config", "show") == shown
    assert shown["practice.yaml"]["closures"] == [{"date": "2026-12-25", "reason": "Christmas Day"}]
    assert stored(pg_office, tmp_path / "pg") == stored(practice, tmp_path / "dir")  # the same text too
    # and back: a change made on PostgreSQL reaches a data directory the same way
    pg_office.ok("config", "edit", "payers", env=editor.env(append="  - {id: GAMMA, name: Gamma Care}\n"))
    pg_office.ok("config", "export", tmp_path / "from-pg")
    assert practice.json("config", "import", tmp_path / "from-pg")["imported"] == ["payers.yaml"]
    assert practice.json("config", "show") == pg_office.json("config", "show")
    practice.ok("config", "check")


def test_import_refuses_a_medsec_yaml_of_another_version_than_the_stores(pg_office, pg_url, tmp_path):
    """The store's version, not only this medsec's: a store whose medsec.yaml says 2 takes no 3."""
    import psycopg

    folder = tmp_path / "config"
    pg_office.ok("config", "export", folder)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE medsec.documents SET data = jsonb_set(data, '{schema_version}', '2') "
                     "WHERE name = 'medsec.yaml'")
    result = pg_office("config", "import", folder, "medsec")
    assert result.exit_code == 2 and "schema_version 4 is not the store's (2)" in result.stderr


# -- config check reads the store's documents ---------------------------------------------
def test_config_check_reads_the_postgresql_documents(pg_office, pg_url):
    import psycopg

    assert pg_office("config", "check").exit_code == 0
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE medsec.documents SET text = %s WHERE name = 'practice.yaml'",
                     ["name: Broken\ntime_zone: Mars/Olympus\n"])
    result = pg_office("config", "check")
    assert result.exit_code == 3
    assert "practice.yaml:2: error: unknown time zone 'Mars/Olympus'" in result.stderr
    assert not (pg_office.home / "practice.yaml").exists()  # no file in the folder was read


def test_the_audit_names_the_settings_changed_never_their_values():
    from medsec.cli.configdocs import settings_changed

    old = {"staff": [{"id": "S1", "role": "admin", "phone": "555-0100"}], "fees": {"99213": "90.00"}}
    new = {"staff": [{"id": "S1", "role": "admin", "phone": "555-0199"}, {"id": "S2", "role": "nurse"}],
           "fees": {"99213": "95.00", "99214": "130.00"}}
    assert settings_changed("x.yaml", old, new) == ["fees.99213", "fees.99214", "staff.S1.phone", "staff.S2"]
    assert settings_changed("x.yaml", old, old) == []
    assert settings_changed("x.yaml", {"a": {"b": {"c": {"d": 0}}}}, {"a": {"b": {"c": {"d": 1}}}}) == ["a.b.c"]
    assert settings_changed("x.yaml", {}, {"a": {"b": 1}}) == ["a"]
