"""Permissions: every command declares one (medsec.security.permissions), roles grant them as a
clinic would, and roles.yaml and practice.yaml's sign-in settings are checked with file and line."""

import re
from pathlib import Path

import click
import pytest
from helpers.backends import write_config

from medsec.cli import BUILTIN_COMMANDS, cli
from medsec.errors import PluginError
from medsec.security.permissions import (
    COMMANDS,
    DEFAULT_ROLES,
    PERMISSIONS,
    REGISTRY_GROUPS,
    permission_of,
    role_permissions,
)
from medsec.vocabulary import ROLES

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "config" / "roles.yaml"
# Held by the admin role alone: the powers that could undo the controls themselves.
ADMIN_ONLY = {"roles.manage", "tokens.manage", "restore", "store.manage", "admin"}


def leaves(group: click.Group, ctx: click.Context, path: tuple[str, ...] = ()):
    """(path, command) of every runnable command under `group`, hidden ones and `agent` included
    (tests/helpers/fuzz.py's walk leaves those out: they still run, so they need a permission)."""
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None:
            continue
        if isinstance(command, click.Group):
            yield from leaves(command, click.Context(command, info_name=name, parent=ctx), (*path, name))
        else:
            yield " ".join((*path, name)), command


def tree() -> dict[str, click.Command]:
    return dict(leaves(cli, click.Context(cli, info_name="medsec")))


# -- every command declares its permission ---------------------------------------------------------
def test_every_command_of_the_tree_declares_a_permission():
    commands = tree()
    assert {path.split(" ")[0] for path in commands} >= set(BUILTIN_COMMANDS)  # the walk reached every group
    for path, command in commands.items():
        permission = permission_of(path, command)  # KeyError: a command nobody declared
        assert permission is None or permission in PERMISSIONS, path
        first = path.split(" ")[0]
        if first in BUILTIN_COMMANDS:
            assert path in COMMANDS or first in REGISTRY_GROUPS, path
    reports = [path for path in commands if path.startswith("report ")]
    assert reports and all(permission_of(path) == "reports.read" for path in reports if path not in COMMANDS)


def test_an_undeclared_built_in_command_fails_loudly():
    with pytest.raises(KeyError, match="patient frobnicate"):
        permission_of("patient frobnicate")
    with pytest.raises(KeyError):
        permission_of("not-a-command")  # a plugin's path, without its command


def test_only_signing_in_and_the_agent_are_open():
    open_commands = {path for path, permission in COMMANDS.items() if permission is None}
    # `staff passphrase` checks for itself: your own, or anyone's with staff.manage (test_signin.py);
    # `help`, `man` and `completion` print only the commands' help (test_completion.py,
    # test_readme_setup.py); `security recover` asks for the recovery key, which is its credential
    # (test_encryption.py).
    assert {path for path in open_commands if not path.startswith("agent ")} == \
        {"login", "logout", "whoami", "init", "staff passphrase", "help", "man", "completion", "security recover"}
    for path in ("patient show", "patient list", "appt day", "lab show", "audit", "report break-glass"):
        assert COMMANDS[path] is not None, path


def test_the_permission_names_are_known_and_dotted():
    for name in PERMISSIONS:
        assert re.fullmatch(r"[a-z]+(\.[a-z]+)?", name), name
    assert 25 <= len(PERMISSIONS) <= 40
    used = {permission for permission in COMMANDS.values() if permission is not None}
    assert used <= set(PERMISSIONS), used - set(PERMISSIONS)
    for role, granted in DEFAULT_ROLES.items():
        assert granted <= set(PERMISSIONS), (role, granted - set(PERMISSIONS))
    assert list(DEFAULT_ROLES) == ROLES  # the roles staff.yaml accepts


def test_every_permission_is_granted_and_admin_holds_all():
    assert DEFAULT_ROLES["admin"] == set(PERMISSIONS)
    others = set().union(*(granted for role, granted in DEFAULT_ROLES.items() if role != "admin"))
    assert set(PERMISSIONS) - others == ADMIN_ONLY
    # every permission guards a command (documents.sign: `doc sign`)
    unused = set(PERMISSIONS) - set(COMMANDS.values()) - {"admin"}
    assert unused == set()


def test_the_default_roles_make_clinical_sense():
    front_desk = DEFAULT_ROLES["front-desk"]
    for denied in ("refills.approve", "labs.review", "roles.manage", "audit.read", "patients.export",
                   "staff.manage"):
        assert denied not in front_desk, denied
    assert {"patients.write", "schedule.book", "schedule.checkin", "refills.request"} <= front_desk
    physician = DEFAULT_ROLES["physician"]
    assert {"refills.approve", "labs.review", "documents.sign"} <= physician
    nurse = DEFAULT_ROLES["nurse"]
    assert "refills.request" in nurse and not {"refills.approve", "labs.review"} & nurse  # roles.yaml may grant
    biller = DEFAULT_ROLES["biller"]
    assert {"remittances.post", "claims.submit", "billing.charge", "patients.read"} <= biller
    assert not {"refills.approve", "patients.write", "labs.review"} & biller
    manager = DEFAULT_ROLES["manager"]
    assert {"reports.read", "audit.read", "staff.manage", "backup"} <= manager
    assert not {"roles.manage", "restore", "refills.approve", "tokens.manage"} & manager
    # who may do what the issue names
    assert COMMANDS["refill approve"] == "refills.approve" and COMMANDS["staff edit"] == "staff.manage"
    assert COMMANDS["lab review"] == "labs.review" and COMMANDS["lab status"] == "labs.order"  # 'reviewed'
    # through `lab status` needs labs.review too (medsec.workflows.labs.may_review; tests/test_lab_loop.py)


# -- plugin commands -------------------------------------------------------------------------------
def test_a_plugin_command_declares_its_permission_or_needs_admin():
    undeclared = click.Command("ring")
    assert permission_of("ring", undeclared) == "admin"
    declared = click.Command("recall-list")
    declared.medsec_permission = "patients.read"
    assert permission_of("front recall-list", declared) == "patients.read"
    unknown = click.Command("oops")
    unknown.medsec_permission = "patients.everything"
    with pytest.raises(PluginError, match="patients.everything"):
        permission_of("oops", unknown)
    # a built-in's permission is COMMANDS', whatever its command says
    assert permission_of("patient show", declared) == "patients.read"
    assert permission_of("backup", undeclared) == "backup"


def test_plugin_commands_in_the_tree(tmp_path, monkeypatch):
    folder = tmp_path / "modules"
    folder.mkdir()
    (folder / "medsec_permtest.py").write_text(
        "import click\n"
        "from medsec import hookimpl\n\n\n"
        "@hookimpl\n"
        "def register_commands(cli):\n"
        "    @cli.group()\n"
        "    def front():\n"
        "        'Front-desk extras.'\n\n"
        "    @front.command()\n"
        "    def ring():\n"
        "        click.echo('ring')\n\n"
        "    @front.command()\n"
        "    def recalls():\n"
        "        click.echo('recalls')\n\n"
        "    recalls.medsec_permission = 'patients.read'\n")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("MEDSEC_PLUGINS", "medsec_permtest")
    commands = tree()
    assert permission_of("front ring", commands["front ring"]) == "admin"
    assert permission_of("front recalls", commands["front recalls"]) == "patients.read"


# -- roles.yaml ------------------------------------------------------------------------------------
def test_init_writes_a_roles_yaml_that_keeps_the_defaults(practice):
    assert (practice.home / "roles.yaml").read_text().startswith("#")
    assert practice("config", "check").exit_code == 0
    doc = practice.json("config", "show", "roles")
    assert role_permissions(doc) == DEFAULT_ROLES
    template = TEMPLATE.read_text()
    for name in PERMISSIONS:  # the example lists every permission a role may be given
        assert re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", template), name


def test_a_valid_roles_yaml_replaces_and_adds_roles(practice):
    write_config(practice, "roles.yaml",
                 "roles:\n"
                 "  scribe: [patients.read, patients.write, schedule.read]\n"
                 "  front-desk: [patients.read, schedule.read, schedule.book]\n"
                 "  senior-nurse: {like: nurse, add: [refills.approve], remove: [labs.order]}\n"
                 "  biller: {like: biller, remove: [codes.manage]}\n"
                 "  night-desk: {like: scribe, add: [calls]}\n")
    assert practice("config", "check").exit_code == 0
    roles = role_permissions(practice.json("config", "show", "roles"))
    assert roles["scribe"] == {"patients.read", "patients.write", "schedule.read"}
    assert roles["front-desk"] == {"patients.read", "schedule.read", "schedule.book"}
    assert roles["senior-nurse"] == DEFAULT_ROLES["nurse"] - {"labs.order"} | {"refills.approve"}
    assert roles["biller"] == DEFAULT_ROLES["biller"] - {"codes.manage"}
    assert roles["night-desk"] == roles["scribe"] | {"calls"}
    assert roles["physician"] == DEFAULT_ROLES["physician"] and roles["admin"] == set(PERMISSIONS)
    assert role_permissions(None) == DEFAULT_ROLES


def test_a_bad_roles_yaml_is_named_with_file_and_line(practice):
    (practice.home / "roles.yaml").write_text(
        "roles:\n"
        "  scribe:\n"
        "    - patients.read\n"
        "    - patient.write\n"
        "  nurse: everything\n"
        "  senior-nurse: {like: doctor}\n"
        "  night-nurse: {like: nurse, add: [calls], grant: [admin]}\n"
        "  admin: [patients.read]\n"
        "  Front Desk: []\n"
        "grants: {}\n")
    result = practice("config", "check")
    assert result.exit_code == 3
    err = result.stderr
    assert "roles.yaml:4: error: roles.scribe: unknown permission 'patient.write' (did you mean patients.write?)" in err
    assert "roles.yaml:5: error: roles.nurse must be a list of permissions" in err
    assert "roles.yaml:6: error: roles.senior-nurse.like: 'doctor' must be a default role" in err
    # nurse is changed by this file with `like` but not listed: another role cannot start from it
    assert "roles.yaml:7: error: roles.night-nurse.like: 'nurse' must be a default role" in err
    assert "roles.yaml:7: error: roles.night-nurse.grant: unknown setting (use like, add, remove)" in err
    assert "roles.yaml:8: error: roles.admin: the admin role always holds every permission" in err
    assert "roles.yaml:9: error: roles.Front Desk: a role's name is lower-case letters" in err
    assert "roles.yaml:10: error: grants: unknown setting" in err
    shown = practice("config", "show", "roles")  # a command that reads it refuses it: one line, exit 3
    assert shown.exit_code == 3 and shown.stdout == ""
    assert re.fullmatch(r"medsec: error: roles\.yaml:\d+: .*\n", shown.stderr)


# -- practice.yaml: security and sign_in -----------------------------------------------------------
def practice_yaml(extra: str) -> str:
    return "name: Test Clinic\ntime_zone: America/New_York\n" + extra


def test_sign_in_settings_within_their_bounds_are_accepted(practice):
    write_config(practice, "practice.yaml", practice_yaml(
        "security: open\n"
        "sign_in: {idle_minutes: 480, absolute_hours: 1, lockout_attempts: 3, lockout_minutes: 1440}\n"))
    assert practice("config", "check").exit_code == 0
    assert practice.json("config", "show", "practice")["sign_in"]["idle_minutes"] == 480


@pytest.mark.parametrize(("setting", "line", "message"), [
    ("security: locked\n", 3, "security must be open or signed-in, not 'locked'"),
    ("security: true\n", 3, "security must be open or signed-in, not True"),
    ("sign_in:\n  idle_minutes: 0\n", 4, "sign_in.idle_minutes must be a whole number from 1 to 480"),
    ("sign_in:\n  idle_minutes: 481\n", 4, "sign_in.idle_minutes must be a whole number from 1 to 480"),
    ("sign_in:\n  absolute_hours: 12.5\n", 4, "sign_in.absolute_hours must be a whole number from 1 to 24"),
    ("sign_in:\n  lockout_attempts: 2\n", 4, "sign_in.lockout_attempts must be a whole number from 3 to 20"),
    ("sign_in:\n  lockout_attempts: yes\n", 4, "sign_in.lockout_attempts must be a whole number from 3 to 20"),
    ("sign_in:\n  lockout_minutes: '15'\n", 4, "sign_in.lockout_minutes must be a whole number from 1 to 1440"),
    ("sign_in:\n  idle_minute: 5\n", 4, "sign_in.idle_minute: unknown setting"),
    ("sign_in: 15\n", 3, "sign_in must be a mapping"),
])
def test_a_bad_sign_in_setting_is_named_and_refused(practice, setting, line, message):
    (practice.home / "practice.yaml").write_text(practice_yaml(setting))
    listing = practice("patient", "list")  # every command reads practice.yaml: exit 3, one line
    assert listing.exit_code == 3 and listing.stdout == ""
    assert listing.stderr.strip().splitlines() == [listing.stderr.strip()]
    assert listing.stderr.startswith(f"medsec: error: practice.yaml:{line}: {message}")


def test_config_check_lists_every_sign_in_problem(practice):
    (practice.home / "practice.yaml").write_text(practice_yaml(
        "security: signed_in\n"
        "sign_in:\n"
        "  idle_minutes: 0\n"
        "  absolute_hours: 25\n"
        "  lockout_attempts: 5\n"
        "  lockout_minutes: 15.5\n"))
    check = practice("config", "check")
    assert check.exit_code == 3
    assert "practice.yaml:3: error: security must be open or signed-in, not 'signed_in'" in check.stderr
    assert "practice.yaml:5: error: sign_in.idle_minutes must be a whole number from 1 to 480" in check.stderr
    assert "practice.yaml:6: error: sign_in.absolute_hours must be a whole number from 1 to 24" in check.stderr
    assert "practice.yaml:8: error: sign_in.lockout_minutes must be a whole number from 1 to 1440" in check.stderr
    assert "lockout_attempts" not in check.stderr
