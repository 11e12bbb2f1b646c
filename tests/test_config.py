"""Configuration: init's commented examples, config show/check, line-numbered errors."""

import os
import stat

from helpers.files import snapshot

from medsec import config


def test_init_writes_commented_valid_examples(medsec):
    medsec.ok("init", "--security", "open")
    home = medsec.home
    for name in ("practice.yaml", "staff.yaml", "payers.yaml", "fees.yaml", "codes.yaml",
                 "channels.yaml", "appointment-types.yaml", "medsec.yaml"):
        assert (home / name).read_text().startswith("#"), name
    assert medsec("config", "check").exit_code == 0
    assert f"schema_version: {config.SCHEMA_VERSION}" in (home / "medsec.yaml").read_text()
    # private: folders 0700, files 0600
    for path in [home, *home.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    again = medsec("init", "--security", "open")
    assert again.exit_code == 1 and "already" in again.stderr


def test_config_show_reads_what_commands_read(practice):
    shown = practice.json("config", "show", "practice")
    assert shown["time_zone"] == "America/New_York"
    assert practice.ok("config", "show", "payers").stdout.startswith("payers:")
    assert practice("config", "show", "nope").exit_code == 2


def test_config_check_values_with_lines_and_warnings(practice):
    (practice.home / "practice.yaml").write_text(
        "name: X\n"
        "time_zone: Mars/Olympus\n"
        "npi: '1234567890'\n"
        "address:\n  zip: '123'\n"
        "office_hours:\n  mon: ['17:00-08:00']\n")
    (practice.home / "channels.yaml").write_text("sms:\n  url: http://127.0.0.1/\n  token_env: MEDSEC_TEST_UNSET\n")
    before = snapshot(practice.home)
    result = practice("config", "check")
    assert result.exit_code == 3
    err = result.stderr
    assert "practice.yaml:2: error: unknown time zone 'Mars/Olympus'" in err
    assert "practice.yaml:3: error: npi" in err
    assert "practice.yaml:5: error: address.zip" in err
    assert "practice.yaml:7: error: office_hours.mon.0: ends before it starts" in err
    assert "channels.yaml:3: warning: sms.token_env: environment variable MEDSEC_TEST_UNSET is not set" in err
    assert snapshot(practice.home, skip=("audit", "index")) == {
        k: v for k, v in before.items() if not k.startswith("index")}


def test_unset_secret_is_only_a_warning(practice):
    (practice.home / "channels.yaml").write_text("email:\n  host: localhost\n  password_env: MEDSEC_NOPE\n")
    result = practice("config", "check")
    assert result.exit_code == 0 and "warning" in result.stderr


def test_config_cache_follows_hand_edits(practice):
    practice.ok("patient", "add", "--first", "A", "--last", "B", "--dob", "1990-01-01")
    path = practice.home / "practice.yaml"
    text = path.read_text().replace("America/New_York", "America/Los_Angeles")
    path.write_text(text)
    os.utime(path, (0, 0))  # content, not mtime, decides
    record = practice.json("patient", "add", "--first", "C", "--last", "D", "--dob", "1990-01-01")
    assert record["created"].endswith("-08:00")


def test_other_schema_version_is_refused(practice):
    path = practice.home / "medsec.yaml"
    newer = config.SCHEMA_VERSION + 1
    path.write_text(path.read_text().replace(f"schema_version: {config.SCHEMA_VERSION}", f"schema_version: {newer}"))
    result = practice("patient", "list")
    assert result.exit_code == 3 and f"medsec.yaml:2: schema_version {newer}" in result.stderr
