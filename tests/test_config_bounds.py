"""Configuration within bounds (size, aliases, nesting), secrets never written in it,
and gateway answers read within bounds (issue 12)."""

import hashlib
import io
import json
import resource
import subprocess
import tarfile

import orjson
import pytest

from medsec import config
from medsec.plugin_api import DeliveryError, http_post, secret

MEMORY_LIMIT = 512 * 1024 * 1024
WATCHDOG = 60  # seconds: a hung or swapping parse fails the test instead of stalling the suite


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def limited(medsec, *args) -> subprocess.CompletedProcess:
    """The installed medsec in its own process with 512 MB of address space."""
    return medsec.run(*args, check=False, preexec_fn=_limit_memory, timeout=WATCHDOG)


def alias_bomb(levels: int = 10) -> str:
    """A "billion laughs": 9 ** levels values once every alias is expanded, a dozen lines as written."""
    lines = ["lol0: &l0 [" + ", ".join(["lol"] * 9) + "]"]
    lines += [f"lol{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# -- alias bombs and oversized files, in every configuration file --------------------------
@pytest.mark.parametrize("name", config.CONFIG_FILES)
def test_an_alias_bomb_is_refused_before_it_is_built(practice, name):
    path = practice.home / name
    path.write_text(path.read_text() + alias_bomb())
    result = limited(practice, "config", "check")
    assert result.returncode == 3, result.stderr
    assert f"{name}:" in result.stderr and "alias bomb" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


@pytest.mark.parametrize("name", config.CONFIG_FILES)
def test_an_oversized_file_is_refused_unread(practice, name):
    path = practice.home / name
    limit = config.limits_of(name).size
    padding = "# a comment line that makes this file bigger than any real one\n"
    path.write_text(path.read_text() + padding * (limit // len(padding) + 1))
    result = limited(practice, "config", "check")
    assert result.returncode == 3, result.stderr
    assert f"{name}: " in result.stderr and "limit for this configuration file" in result.stderr


def test_billion_laughs_practice_yaml_under_a_memory_limit(practice):
    (practice.home / "practice.yaml").write_text("name: Laughs\ntime_zone: America/New_York\n" + alias_bomb())
    check = limited(practice, "config", "check")
    assert check.returncode == 3
    assert "practice.yaml:8: error: with its aliases expanded this holds more than" in check.stderr
    listing = limited(practice, "patient", "list")
    assert listing.returncode == 3 and listing.stdout == ""
    assert one_line(listing.stderr).startswith("medsec: error: practice.yaml:8: with its aliases expanded")


def test_a_17_mb_practice_yaml_is_refused_before_it_is_parsed(practice):
    path = practice.home / "practice.yaml"
    path.write_text(path.read_text() + "notes:\n" + "  - a line of a practice.yaml grown to 17 MB\n" * 400_000)
    assert path.stat().st_size > 17_000_000
    result = limited(practice, "patient", "list")
    assert result.returncode == 3
    assert one_line(result.stderr).startswith("medsec: error: practice.yaml: 17.")
    assert "over the 1 MB limit" in result.stderr


@pytest.mark.parametrize("text, message", [
    ("hours: &h [*h]\n", "an alias refers to a value that contains it"),
    ("deep: " + "[" * 40 + "]" * 40 + "\n", "nested more than 32 levels deep"),
    ("closures: [2026-02-30]\n", "YAML value error: day is out of range for month"),
])
def test_recursive_deep_and_impossible_values_are_config_errors(practice, text, message):
    path = practice.home / "practice.yaml"
    path.write_text(path.read_text() + text)
    result = practice("patient", "list")
    assert result.exit_code == 3 and message in one_line(result.stderr) and "practice.yaml" in result.stderr


def test_anchors_used_as_people_use_them_still_work(practice):
    path = practice.home / "practice.yaml"
    text = path.read_text().replace('mon: ["08:00-17:00"]', 'mon: &day ["08:00-17:00"]')
    path.write_text(text.replace('tue: ["08:00-17:00"]', "tue: *day"))
    practice.ok("config", "check")
    shown = practice.json("config", "show", "practice")
    assert shown["office_hours"]["tue"] == ["08:00-17:00"]


def test_the_parse_cache_never_lets_a_bounded_out_file_through(practice):
    """A cache entry matching the file's bytes (even one forged with this medsec's checks)
    is not looked at when the file is over its limit."""
    path = practice.home / "practice.yaml"
    big = path.read_bytes() + b"# padding\n" * 110_000
    path.write_bytes(big)
    cache = practice.home / config.cache_rel("practice.yaml")
    cache.write_bytes(orjson.dumps(config.cache_entry(big, {"name": "Cached", "time_zone": "UTC"})))
    result = practice("patient", "list")
    assert result.exit_code == 3 and "over the 1 MB limit" in result.stderr


def test_a_cache_written_before_the_secret_check_is_parsed_again(practice):
    """An older medsec cached channels.yaml with a password in it: this one checks it again."""
    channels = practice.home / "channels.yaml"
    raw = b"email:\n  host: smtp.example.org\n  password: hunter2\n"
    channels.write_bytes(raw)
    old_entry = {"yaml": raw.decode("latin-1"), "data": {"email": {"host": "smtp.example.org",
                                                                   "password": "hunter2"}}}
    (practice.home / config.cache_rel("channels.yaml")).write_bytes(orjson.dumps(old_entry))
    result = practice("config", "show", "channels")
    assert result.exit_code == 3 and "channels.yaml:3: email.password" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr


# -- secrets --------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["password", "api_key", "auth_token", "client_secret", "credentials", "key",
                                 "smtp_password", "Token"])
def test_a_literal_secret_in_channels_yaml_is_refused_everywhere_it_is_read(small_practice, key):
    practice = small_practice(1)
    practice.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-27 09:00", "--type", "follow-up")
    (practice.home / "channels.yaml").write_text(
        f"outbox:\n  folder: outbox\nemail:\n  host: smtp.example.org\n  {key}: hunter2\n")
    expected = f"channels.yaml:5: email.{key}: a secret written in the file"
    check = practice("config", "check")
    assert check.exit_code == 3 and f"{key}_env" in check.stderr
    assert f"channels.yaml:5: error: email.{key}: a secret written in the file" in check.stderr
    for command in (["remind", "send", "--dry-run"], ["config", "show", "channels"], ["config", "show"]):
        result = practice(*command)
        assert result.exit_code == 3, command
        assert one_line(result.stderr).startswith(f"medsec: error: {expected}")
        assert "hunter2" not in result.stdout + result.stderr


def test_a_secret_in_any_configuration_file_is_refused(practice):
    path = practice.home / "practice.yaml"
    path.write_text(path.read_text() + "billing_service:\n  url: https://billing.example.org\n  api_key: s3cr3t\n")
    result = practice("patient", "list")
    assert result.exit_code == 3
    assert "practice.yaml:" in result.stderr and "billing_service.api_key" in result.stderr
    assert "api_key_env" in result.stderr and "s3cr3t" not in result.stderr


@pytest.mark.parametrize("settings, message", [
    ("sms:\n  url: https://frontdesk:s3cr3t@sms.example.org/send\n", "sms.url: a URL with a password in it"),
    ("email:\n  password_env: s3cr3t pass!\n", "email.password_env must name an environment variable"),
])
def test_secrets_hidden_elsewhere_are_refused_without_being_echoed(practice, settings, message):
    (practice.home / "channels.yaml").write_text(settings)
    result = practice("config", "check")
    assert result.exit_code == 3 and message in result.stderr and "s3cr3t" not in result.stderr


def test_env_settings_name_variables_and_are_shown(practice, monkeypatch):
    """`*_env` values are the names of variables, not secrets: `config show` prints them
    (a file holding a secret is never shown at all: it is refused, above)."""
    monkeypatch.setenv("MEDSEC_SMTP_PASSWORD", "hunter2")
    (practice.home / "channels.yaml").write_text(
        "email:\n  host: smtp.example.org\n  username: desk\n  password_env: MEDSEC_SMTP_PASSWORD\n"
        "  password:\n")  # an empty setting holds nothing
    practice.ok("config", "check")
    shown = practice.ok("config", "show", "channels")
    assert "MEDSEC_SMTP_PASSWORD" in shown.stdout and "hunter2" not in shown.stdout


def test_a_secret_in_configuration_refuses_the_backup(practice, tmp_path):
    (practice.home / "channels.yaml").write_text("email:\n  host: smtp.example.org\n  password: hunter2\n")
    target = tmp_path / "backup.tar.gz"
    result = practice("backup", target)
    assert result.exit_code == 3 and not target.exists()
    line = one_line(result.stderr)
    assert "channels.yaml:3: email.password" in line and "no backup was written" in line
    (practice.home / "channels.yaml").write_text("email:\n  host: smtp.example.org\n  password_env: SMTP_PW\n")
    practice.ok("backup", target)
    assert b"hunter2" not in _members(target)["data/channels.yaml"]


def _members(archive) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}


def _write_archive(path, members: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_restore_takes_a_secret_out_of_an_older_backup_and_says_so(practice, tmp_path):
    """A backup made before secrets were refused may carry one: the restored copy never does."""
    good = tmp_path / "good.tar.gz"
    practice.ok("backup", good)
    members = _members(good)
    channels = b"outbox:\n  folder: outbox\nemail:\n  host: smtp.example.org\n  password: hunter2\n"
    members["data/channels.yaml"] = channels
    manifest = json.loads(members["MEDSEC-BACKUP.json"])
    manifest["files"]["channels.yaml"] = hashlib.sha256(channels).hexdigest()
    members["MEDSEC-BACKUP.json"] = json.dumps(manifest).encode()
    old = tmp_path / "old.tar.gz"
    _write_archive(old, members)

    restored = practice.json("restore", old)
    assert restored["secrets_removed"] == ["channels.yaml:5: email.password"]
    text = (practice.home / "channels.yaml").read_text()
    assert "hunter2" not in text and "smtp.example.org" in text
    assert practice.json("config", "show", "channels")["email"] == {"host": "smtp.example.org"}
    practice.ok("config", "check")


# -- gateway answers --------------------------------------------------------------------------
@pytest.mark.parametrize("answer, why", [
    (b'{"id": "msg-1", "status": ', "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    (b'{"id": "' + b"x" * (2 * 1024 * 1024) + b'"}', "longer than 1024 KB"),
])
def test_a_broken_or_endless_gateway_answer_is_a_temporary_failure_naming_the_channel(gateway, answer, why):
    gateway.answer = (200, answer)
    with pytest.raises(DeliveryError) as caught:
        http_post(gateway.url, b"x", {}, 5, "pager")
    assert str(caught.value).startswith("pager: the gateway's answer") and why in str(caught.value)
    assert caught.value.temporary is True


def test_a_broken_fax_gateway_answer_is_exit_3_naming_the_channel(practice, gateway, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_FAX_TOKEN", "fax-tok")
    (practice.home / "channels.yaml").write_text(
        f"fax:\n  gateway: http\n  url: {gateway.url}/faxes\n  token_env: TEST_FAX_TOKEN\n"
        "  from: '+16175550100'\nroutes: {fax: fax}\n")
    doc = tmp_path / "letter.pdf"
    doc.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
                    b"2 0 obj << /Type /Pages /Count 1 >> endobj\n3 0 obj << /Type /Page >> endobj\n%%EOF\n")
    gateway.answer = (200, b'{"id": "FX-1", "pag')
    result = practice("fax", "send", doc, "--number", "617-555-0150")
    assert result.exit_code == 3
    assert one_line(result.stderr).startswith("medsec: error: fax to ")
    assert "fax: the gateway's answer is not valid JSON" in result.stderr


def test_secrets_are_read_only_through_env_settings(monkeypatch):
    monkeypatch.setenv("PAGER_TOKEN", "tok")
    assert secret({"token_env": "PAGER_TOKEN"}, "token_env", "pager") == "tok"
    with pytest.raises(DeliveryError) as caught:
        secret({"token": "PAGER_TOKEN"}, "token", "pager")
    assert "read from environment variables named by *_env settings" in str(caught.value)
    assert caught.value.temporary is False
