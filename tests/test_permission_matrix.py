"""The permission matrix (issue 15): each role, signed in, over the whole command tree.

Every command that declares a permission is run, as each role, with the first example its own
help shows (every command has one: tests/test_cli_help.py), on a signed-in demo-like practice:
- a role without the permission is refused: exit 1, one line naming the permission, and the data
  directory unchanged but for the audit log (the refusal is audited);
- a role with it gets past the gate (the command may still fail on the example's made-up ids,
  but never for want of a permission).
Commands anyone may run (login, whoami, the agent ...) are covered by test_signin.py.
"""

import re
import shlex
import shutil

import pytest
from helpers.fuzz import _ignored_in_data, leaf_commands, tree_changes, tree_of

from medsec.security.permissions import DEFAULT_ROLES, permission_of

PASSPHRASE = "violet-harbor-lantern-42"
ROLES = sorted(DEFAULT_ROLES)
LEAVES = [leaf for leaf in leaf_commands() if permission_of(leaf.name, leaf.command) is not None]


def first_example(leaf) -> list[str]:
    """The first `medsec ...` example of a command's help (continuation lines joined), as words."""
    text = re.sub(r"\\\n\s*", " ", leaf.command.help or "")
    for line in text.splitlines():
        words = shlex.split(line.strip(), comments=True) if line.strip().startswith("medsec ") else []
        for i in range(1, len(words)):
            if tuple(words[i:i + len(leaf.path)]) == leaf.path:
                return words[i:]  # (global options before the command: the test gives its own)
    raise AssertionError(f"{leaf.name}: no example in its help")


@pytest.fixture(scope="module")
def signed_in_practice(tmp_path_factory):
    """A signed-in rehearsal practice with the demo's records, one member of each role (S1 the
    administrator), each with the same passphrase; built once, copied per role."""
    from helpers.cli import Medsec, cli_env

    root = tmp_path_factory.mktemp("matrix")
    home = root / "data"
    env = {**cli_env(home), "EDITOR": "true", "VISUAL": "true"}
    medsec = Medsec(home, env)
    secret = root / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    secret.chmod(0o600)
    medsec.ok("init", "--demo", "--rehearsal")
    staff = medsec.json("staff", "list")
    members = {}
    for role in ROLES:
        found = [m["id"] for m in staff if m["role"] == role]
        if not found:
            extra = ["--npi", "1234567893"] if role == "physician" else []
            found = [medsec.json("staff", "add", "--name", f"Member {role}", "--role", role, *extra)["id"]]
        members[role] = found[0]
        medsec.ok("staff", "passphrase", found[0], "--passphrase-file", secret)
    medsec.ok("security", "mode", "signed-in")
    return root, env, members, secret


@pytest.mark.parametrize("role", ROLES)
def test_each_role_over_the_command_tree(signed_in_practice, role, tmp_path, monkeypatch):
    from helpers.cli import Medsec

    root, env, members, secret = signed_in_practice
    home = tmp_path / "data"
    shutil.copytree(root / "data", home, symlinks=True)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # examples that write files write them here
    env = {**env, "MEDSEC_HOME": str(home), "MEDSEC_USER": ""}
    medsec = Medsec(home, env)
    login = medsec("login", members[role], "--passphrase-file", secret)
    assert login.exit_code == 0, login.stderr
    env["MEDSEC_SESSION"] = login.stdout.strip().partition("=")[2].strip("'")
    from medsec.security.permissions import role_permissions

    held = role_permissions(None)[role]
    problems = []
    for leaf in LEAVES:
        permission = permission_of(leaf.name, leaf.command)
        args = first_example(leaf)
        before = tree_of(home)
        result = medsec(*args, env=env)
        denied = f"needs the permission '{permission}'" in result.stderr
        if permission in held:
            if denied:
                problems.append(f"{role} refused {leaf.name}: {result.stderr.strip()}")
            continue
        changed = tree_changes(before, tree_of(home), _ignored_in_data)
        if result.exit_code != 1 or not denied or result.stderr.count("\n") != 1 or changed:
            problems.append(f"{role} ran {' '.join(args)}: exit {result.exit_code}, {result.stderr.strip()[:150]}, "
                            f"changed {changed[:3]}")
    assert problems == [], "\n".join(problems)
    refused = [leaf for leaf in LEAVES if permission_of(leaf.name, leaf.command) not in held]
    admin = medsec("login", members["admin"], "--passphrase-file", secret)
    entries = medsec.json("audit", env={**env, "MEDSEC_SESSION": admin.stdout.strip().partition("=")[2].strip("'")})
    audited = [e for e in entries if e["user"] == members[role] and e["outcome"] == "exit 1"]
    assert len(audited) >= len(refused), (len(audited), len(refused))
