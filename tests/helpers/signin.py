"""Signed-in practices for the tests of sign-in, tokens and offboarding (test_signin.py ...)."""

import pytest

from helpers.cli import NOW

# Argon2id's cheapest parameters (argon2's minimums: one pass, 8 KiB per lane, one lane): what the
# tests' own process hashes passphrases and wraps keys with (tests/conftest.py: fast_argon2).
FAST_ARGON2 = {"TIME_COST": 1, "MEMORY_COST_KIB": 8, "PARALLELISM": 1}

PASS = {"S1": "violet-harbor-lantern-42", "S2": "quiet-meadow-copper-17", "S3": "amber-canyon-whistle-88",
        "S4": "silver-orchard-puzzle-63"}


@pytest.fixture
def secrets_dir(tmp_path):
    return write_secrets(tmp_path / "secrets")


def write_secrets(folder):
    """A private folder with a file per member holding their passphrase (PASS)."""
    folder.mkdir(mode=0o700)
    for staff_id, text in PASS.items():
        path = folder / staff_id
        path.write_text(text + "\n")
        path.chmod(0o600)
    return folder


@pytest.fixture
def clinic(medsec, secrets_dir, templates):
    """A signed-in rehearsal practice: S1 the administrator (made by init), S2 front desk, S3 a
    physician, S4 a biller, each with a passphrase. Made in the test on the data directory; on
    PostgreSQL a clone of one made once (helpers/templates.py: built_in_store)."""
    if medsec.pg is None:
        return signed_in_clinic(medsec, secrets_dir)
    return templates.built_in_store(medsec, signed_in_clinic)


def signed_in_clinic(medsec, secrets_dir=None):
    """The `clinic` practice, made at medsec; the passphrases from `secrets_dir` (by default a
    folder of them written beside medsec.home)."""
    if secrets_dir is None:
        secrets_dir = write_secrets(medsec.home.parent / "clinic-secrets")
    medsec.ok("init", "--security", "signed-in", "--rehearsal", "--admin", "Ada Admin",
              "--admin-passphrase-file", secrets_dir / "S1")
    admin = signed_in(medsec, "S1", secrets_dir)
    for name, role, extra in (("Fred Desk", "front-desk", []), ("Dr Phil Sician", "physician", ["--npi", "1234567893"]),
                              ("Bill Ing", "biller", [])):
        medsec.ok("staff", "add", "--name", name, "--role", role, *extra, env=admin)
    for staff_id in ("S2", "S3", "S4"):
        medsec.ok("staff", "passphrase", staff_id, "--passphrase-file", secrets_dir / staff_id, env=admin)
    medsec.ok("patient", "add", "--first", "Ann", "--last", "Smith", "--dob", "1970-01-01", env=admin)
    return medsec


def login(medsec, staff_id, secrets_dir, env=None):
    return medsec("login", staff_id, "--passphrase-file", secrets_dir / staff_id, env=env)


def signed_in(medsec, staff_id, secrets_dir, now=NOW):
    """The environment of a shell that ran `eval "$(medsec login STAFF_ID)"` at `now`."""
    result = login(medsec, staff_id, secrets_dir, env={"MEDSEC_NOW": now})
    assert result.exit_code == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith("export MEDSEC_SESSION=") and "\n" not in line
    return {"MEDSEC_SESSION": line.partition("=")[2].strip("'"), "MEDSEC_NOW": now, "MEDSEC_USER": ""}


def one_line(result, code, *words):
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("medsec: error: "), result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
