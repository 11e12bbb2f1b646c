"""Staff passphrases (medsec.security.passphrase): the Argon2id hash, the strength rules, and reading one.

Hashing is judged by argon2-cffi's own parser of PHC strings and by hashes it makes
with other parameters. Each strength rule is shown refusing with one line, exit 2,
and a message that does not quote the passphrase; a good passphrase passes. Reading
goes through real files, real pipes, a real pseudo-terminal (getpass with echo off)
and a real process with no controlling terminal.
"""

import json
import os
import select
import stat
import subprocess
import sys
import time
from pathlib import Path

import argon2
import pytest
from helpers.signin import FAST_ARGON2

from medsec.errors import EnvironmentFailure, InvalidInput
from medsec.security import keys
from medsec.security import passphrase as pp

# The real parameters here: other modules' in-process tests hash with FAST_ARGON2 (tests/conftest.py).
pytestmark = pytest.mark.real_argon2

ROOT = Path(__file__).resolve().parents[1]
GOOD = "violet harbor lamp 7 tea"
OTHER = "copper kettle orbit 9 moss"
WATCHDOG = 30  # seconds: a read that takes this long is waiting on input that never comes


# -- hashing -----------------------------------------------------------------

def test_hash_and_verify_round_trip():
    stored = pp.hash_passphrase(GOOD)
    assert pp.verify(stored, GOOD) is True
    assert pp.verify(stored, OTHER) is False
    assert pp.verify(stored, GOOD.upper()) is False
    assert pp.verify(stored, "") is False
    assert GOOD not in stored


def test_each_hash_has_its_own_salt():
    first, second = pp.hash_passphrase(GOOD), pp.hash_passphrase(GOOD)
    assert first != second
    assert pp.verify(first, GOOD) and pp.verify(second, GOOD)


def test_the_phc_string_names_argon2id_and_the_chosen_parameters():
    stored = pp.hash_passphrase(GOOD)
    assert stored.startswith(f"$argon2id$v=19$m={pp.MEMORY_COST_KIB},t={pp.TIME_COST},p={pp.PARALLELISM}$")
    params = argon2.extract_parameters(stored)
    assert params.type is argon2.Type.ID
    assert (params.time_cost, params.memory_cost, params.parallelism) == (3, 64 * 1024, 4)
    assert (params.salt_len, params.hash_len) == (16, 32)
    # RFC 9106's second recommended option, which argon2-cffi ships as a profile.
    assert params == argon2.profiles.RFC_9106_LOW_MEMORY


def test_a_hash_made_with_weaker_parameters_needs_rehash_and_still_verifies():
    weaker = argon2.PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(GOOD)
    assert pp.needs_rehash(weaker) is True
    assert pp.verify(weaker, GOOD) is True
    assert pp.verify(weaker, OTHER) is False
    assert pp.needs_rehash(pp.hash_passphrase(GOOD)) is False


def test_what_the_tests_hash_with_fast_parameters_verifies_and_unwraps_with_the_real_ones(monkeypatch):
    """In-process tests hash passphrases and wrap keys with argon2's minimum parameters (conftest's
    fast_argon2); a medsec process of their own, with the real ones, must still accept what they
    stored: the PHC string's and the wrapped key's own parameters are within the stored bounds,
    and the hash is upgraded at that member's next sign-in."""
    with monkeypatch.context() as fast:
        for name, value in FAST_ARGON2.items():
            fast.setattr(pp, name, value)
        stored = pp.hash_passphrase(GOOD)
        wrapped = keys.wrap(b"k" * keys.KEY_BYTES, GOOD, b"aad")
        assert pp.needs_rehash(stored) is False
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert (wrapped["t"], wrapped["m"], wrapped["p"]) == (1, 8, 1)
    assert (pp.TIME_COST, pp.MEMORY_COST_KIB, pp.PARALLELISM) == (3, 64 * 1024, 4)
    assert pp.verify(stored, GOOD) is True and pp.verify(stored, OTHER) is False
    assert pp.needs_rehash(stored) is True
    assert keys.unwrap(wrapped, GOOD, b"aad", "a key") == b"k" * keys.KEY_BYTES
    with pytest.raises(EnvironmentFailure):
        keys.unwrap(wrapped, OTHER, b"aad", "a key")


def test_an_argon2i_hash_needs_rehash():
    argon2i = argon2.PasswordHasher(type=argon2.Type.I).hash(GOOD)
    assert pp.needs_rehash(argon2i) is True
    assert pp.verify(argon2i, GOOD) is True


def test_the_same_passphrase_typed_composed_or_decomposed_verifies():
    composed = "Café au lait, extra foam 4"
    decomposed = "Cafe\u0301 au lait, extra foam 4"
    assert pp.verify(pp.hash_passphrase(composed), decomposed) is True


def test_a_passphrase_that_is_not_text_never_verifies_and_never_raises():
    stored = pp.hash_passphrase(GOOD)
    assert pp.verify(stored, "violet\udcff harbor lamp") is False
    with pytest.raises(InvalidInput):
        pp.hash_passphrase("violet\udcff harbor lamp")


@pytest.mark.parametrize("stored", [
    "",
    "not a hash",
    "$2b$12$abcdefghijklmnopqrstuuJ3Xk2P0d0t9aQeDEsmTnE3rOUPcK0e",  # bcrypt
    "$argon2id$v=19$m=65536,t=3,p=4$onlysalt",
    "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",  # a 4-byte salt: Argon2 itself refuses it
    "$argon2id$v=19$m=lots,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA",
    "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43 + "é",
    # demands 1 TiB and a thousand passes: damage or a planted hash, refused before any work
    "$argon2id$v=19$m=1073741824,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43,
    "$argon2id$v=19$m=65536,t=1000,p=4$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43,
    "$argon2id$v=19$m=65536,t=3,p=255$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43,
])
def test_a_damaged_stored_hash_is_the_environments_failure(stored):
    started = time.monotonic()
    with pytest.raises(EnvironmentFailure) as caught:
        pp.verify(stored, GOOD)
    assert time.monotonic() - started < WATCHDOG
    assert caught.value.exit_code == 3
    assert "\n" not in caught.value.message
    assert GOOD not in caught.value.message
    assert "staff passphrase" in (caught.value.hint or "")


@pytest.mark.parametrize("stored", ["", "not a hash", "$argon2id$v=19$m=65536,t=3,p=4$onlysalt"])
def test_needs_rehash_of_a_damaged_hash_is_the_environments_failure(stored):
    with pytest.raises(EnvironmentFailure):
        pp.needs_rehash(stored)


def test_importing_the_module_loads_neither_argon2_nor_getpass():
    """Start-up of every command is guarded: only sign-in pays for argon2 (and asking, for getpass)."""
    code = ("import sys, medsec.security.passphrase; "
            "print(sorted(m for m in ('argon2', '_argon2_cffi_bindings', 'getpass') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=WATCHDOG,
                            cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


# -- strength ----------------------------------------------------------------

@pytest.mark.parametrize("passphrase, staff_id, name, expected", [
    ("", "S17", "Ana Martinez", "the passphrase is empty"),
    ("violet lamp", "S17", "Ana Martinez", "shorter than 12 characters"),
    ("viol \U0001f600 lamp", "S17", "Ana Martinez", "shorter than 12 characters"),  # 11 characters, 14 bytes
    (("violet harbor lamp 7 tea " * 50)[:1025], "S17", "Ana Martinez", "longer than 1024 characters"),
    ("violet harbor\x1b[2J lamp", "S17", "Ana Martinez", "control character"),
    ("violet harbor\tlamp 7 tea", "S17", "Ana Martinez", "control character"),
    ("violet harbor\nlamp 7 tea", "S17", "Ana Martinez", "control character"),
    ("violet harbor\u202elamp 7 tea", "S17", "Ana Martinez", "control character"),
    ("violet harbor\x85lamp 7 tea", "S17", "Ana Martinez", "control character"),
    ("abababab1212", "S17", "Ana Martinez", "fewer than 6 different characters"),
    ("aaaaaaaaaaaaaaaaaaaa", "S17", "Ana Martinez", "fewer than 6 different characters"),
    ("violet s17 harbor lamp", "S17", "Ana Martinez", "contains the staff id"),
    ("violet harbor lamp fd-2", "FD-2", "Ana Martinez", "contains the staff id"),
    ("violet harbor MARTINEZ lamp", "S17", "Ana Martínez", "part of the person's name"),
    ("violet harbor martínez lamp", "S17", "Ana Martinez", "part of the person's name"),
    ("violet harbor banana lamp", "S17", "Ana Martinez", "part of the person's name"),
    ("password1234", "S17", "Ana Martinez", "most common passwords"),
    ("Password1234", "S17", "Ana Martinez", "most common passwords"),
    ("Correct Horse Battery Staple", "S17", "Ana Martinez", "most common passwords"),
    ("correcthorsebatterystaple", "S17", "Ana Martinez", "most common passwords"),
    ("123456789012", "S17", "Ana Martinez", "most common passwords"),
    ("qwertyuiopas", "S17", "Ana Martinez", "most common passwords"),
    ("MedSec2024!!", "S17", "Ana Martinez", "most common passwords"),
    ("Welcome123456", "S17", "Ana Martinez", "most common passwords"),
    ("welcome!2026#", "S17", "Ana Martinez", "most common passwords"),
    ("P@ssw0rd!2024", "S17", "Ana Martinez", "most common passwords"),
    ("PasswordPassword", "S17", "Ana Martinez", "most common passwords"),
    ("Summer 2026 !!", "S17", "Ana Martinez", "most common passwords"),
    ("frontdesk#2026", "S17", "Ana Martinez", "most common passwords"),
])
def test_each_strength_rule_refuses_with_one_line(passphrase, staff_id, name, expected):
    with pytest.raises(InvalidInput) as caught:
        pp.check_strength(passphrase, staff_id=staff_id, name=name)
    error = caught.value
    assert error.exit_code == 2
    assert expected in error.message
    for text in (error.message, error.hint or ""):
        assert "\n" not in text
        if passphrase:
            assert passphrase not in text
            assert passphrase.casefold() not in text.casefold()


def test_the_name_rule_counts_only_parts_of_three_letters_or_more():
    # 'Jo' and 'Li' are too short to be guessable pieces; 'Lee' is not.
    pp.check_strength("jolly lighthouse leeward 7", staff_id="S17", name="Jo Li")
    with pytest.raises(InvalidInput, match="part of the person's name"):
        pp.check_strength("jolly lighthouse leeward 7", staff_id="S17", name="Jo Lee")


@pytest.mark.parametrize("passphrase", [
    GOOD,
    OTHER,
    "Kettle; orbit, moss & 19 bees",
    "été brûlant près du fjord",
    "password is not my cat's name 42",  # holds a common word, is not built on it alone
    "x" * 6 + "yz0123" + "violet" * 166,  # 1008 characters: long is fine
])
def test_a_good_passphrase_passes(passphrase):
    assert pp.check_strength(passphrase, staff_id="S17", name="Ana Martinez") is None


def test_every_common_entry_is_refused():
    for entry in pp.COMMON_PASSPHRASES:
        # Short words as people pad them out to the minimum length.
        padded = entry if len(entry) >= pp.MIN_LENGTH else entry + "#2026!" + "9" * (pp.MIN_LENGTH - len(entry))
        if len(set(padded)) < pp.MIN_DISTINCT:
            continue
        with pytest.raises(InvalidInput, match="most common"):
            pp.check_strength(padded, staff_id="S999", name="Zed Quux")


# -- reading: a file ---------------------------------------------------------

def private_file(path: Path, content: bytes, mode: int = 0o600) -> str:
    path.write_bytes(content)
    os.chmod(path, mode)
    return str(path)


def read(**kwargs) -> str:
    options = {"file": None, "fd": None, "prompt": "Passphrase: ", "confirm": False} | kwargs
    return pp.read_passphrase(**options)


def test_a_private_file_gives_its_first_line(tmp_path):
    assert read(file=private_file(tmp_path / "pp", f"{GOOD}\nsecond line\n".encode())) == GOOD
    assert read(file=private_file(tmp_path / "crlf", f"{GOOD}\r\n".encode())) == GOOD
    assert read(file=private_file(tmp_path / "bare", GOOD.encode())) == GOOD
    assert read(file=private_file(tmp_path / "bom", b"\xef\xbb\xbf" + "été brûlant".encode())) == "été brûlant"
    assert read(file=private_file(tmp_path / "owner-only", f"{GOOD}\n".encode(), 0o400), confirm=True) == GOOD


@pytest.mark.parametrize("mode, what", [(0o640, "readable"), (0o604, "readable"), (0o620, "writable"),
                                        (0o644, "readable")])
def test_a_file_others_may_use_is_refused(tmp_path, mode, what):
    path = private_file(tmp_path / "pp", f"{GOOD}\n".encode(), mode)
    with pytest.raises(InvalidInput) as caught:
        read(file=path)
    assert caught.value.exit_code == 2
    assert caught.value.message == f"{path} is {what} by others (mode {mode:04o}): chmod 600 {path}"


def test_the_chmod_advice_quotes_a_name_with_spaces(tmp_path):
    path = private_file(tmp_path / "my pass", f"{GOOD}\n".encode(), 0o644)
    with pytest.raises(InvalidInput, match=f"chmod 600 '{path}'"):
        read(file=path)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(InvalidInput) as caught:
        read(file=str(tmp_path / "nowhere"))
    assert caught.value.exit_code == 2
    assert "no such file" in caught.value.message


def test_a_file_that_is_not_regular_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    folder = tmp_path / "folder"
    folder.mkdir(mode=0o700)
    for path in (fifo, folder):
        with pytest.raises(InvalidInput, match="not a regular file"):
            read(file=str(path))


@pytest.mark.parametrize("content, expected", [
    (b"", "no passphrase on the first line"),
    (b"\nviolet harbor lamp\n", "no passphrase on the first line"),
    (b"x" * 4097, "over the 4096-byte limit"),
    (b"violet \xff harbor lamp\n", "not UTF-8 text"),
])
def test_a_file_without_a_usable_passphrase_is_refused(tmp_path, content, expected):
    with pytest.raises(InvalidInput, match=expected) as caught:
        read(file=private_file(tmp_path / "pp", content))
    assert "violet" not in caught.value.message


# -- reading: a descriptor ---------------------------------------------------

def pipe_with(data: bytes) -> int:
    """The read end of a pipe holding `data`, its write end closed."""
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    return read_end


def test_a_descriptor_is_read_to_its_first_newline_and_no_further():
    fd = pipe_with(f"{GOOD}\nwhat the next reader gets".encode())
    try:
        assert read(fd=fd) == GOOD
        assert os.read(fd, 100) == b"what the next reader gets"
    finally:
        os.close(fd)


def test_a_descriptor_without_a_newline_is_read_to_its_end():
    fd = pipe_with(f"{GOOD}\r\n".encode())
    try:
        assert read(fd=fd) == GOOD
    finally:
        os.close(fd)
    fd = pipe_with(GOOD.encode())
    try:
        assert read(fd=fd) == GOOD
    finally:
        os.close(fd)


@pytest.mark.parametrize("data, expected", [
    (b"", "no passphrase on the first line of file descriptor"),
    (b"\n" + GOOD.encode(), "no passphrase on the first line of file descriptor"),
    (b"x" * 5000 + b"\n", "more than 4096 bytes before its first newline"),
])
def test_a_descriptor_without_a_usable_passphrase_is_refused(data, expected):
    fd = pipe_with(data)
    try:
        with pytest.raises(InvalidInput, match=expected):
            read(fd=fd)
    finally:
        os.close(fd)


def test_a_closed_or_negative_descriptor_is_refused():
    fd = pipe_with(b"")
    os.close(fd)
    with pytest.raises(InvalidInput, match=f"cannot read file descriptor {fd}: bad file descriptor"):
        read(fd=fd)
    with pytest.raises(InvalidInput, match="file descriptor -1 does not exist"):
        read(fd=-1)


def test_a_descriptor_on_a_terminal_is_refused():
    controller, terminal = os.openpty()
    try:
        with pytest.raises(InvalidInput, match="is a terminal, where the passphrase would be echoed"):
            read(fd=terminal)
    finally:
        os.close(controller)
        os.close(terminal)


def test_a_file_and_a_descriptor_together_are_refused(tmp_path):
    fd = pipe_with(f"{GOOD}\n".encode())
    try:
        with pytest.raises(InvalidInput, match="not both"):
            read(file=private_file(tmp_path / "pp", f"{GOOD}\n".encode()), fd=fd)
        assert os.read(fd, 100) == f"{GOOD}\n".encode()  # neither was read
    finally:
        os.close(fd)


# -- reading: the terminal ---------------------------------------------------

ASKER = """
import json, sys
from medsec.errors import InvalidInput
from medsec.security.passphrase import read_passphrase
try:
    value = read_passphrase(file=None, fd=None, prompt="Passphrase for S17: ", confirm=sys.argv[1] == "confirm")
except InvalidInput as error:
    print(json.dumps({"error": error.message}))
    sys.exit(error.exit_code)
print(json.dumps({"value": value}))
"""


def asker(tmp_path: Path, confirm: bool, **popen) -> subprocess.Popen:
    """A process of its own session (no controlling terminal) asking for a passphrase."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", ASKER, "confirm" if confirm else "once"], cwd=tmp_path,
                            env=env, start_new_session=True, stdout=subprocess.PIPE, text=True, **popen)


@pytest.mark.parametrize("confirm", [False, True])
def test_no_terminal_is_refused_with_the_hint(tmp_path, confirm):
    process = asker(tmp_path, confirm, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stdout, stderr = process.communicate(timeout=WATCHDOG)
    assert process.returncode == 2
    assert json.loads(stdout) == {
        "error": "no terminal to ask for the passphrase: use --passphrase-file or --passphrase-fd"}
    assert "Passphrase for S17" not in stderr  # nothing was asked


def until(controller: int, text: str) -> str:
    """What the terminal shows, read until `text` appears."""
    seen = ""
    deadline = time.monotonic() + WATCHDOG
    while text not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the terminal never showed {text!r}: {seen!r}"
        if select.select([controller], [], [], remaining)[0]:
            seen += os.read(controller, 1024).decode(errors="replace")
    return seen


def typed_at_terminal(tmp_path: Path, confirm: bool, lines: list[str]) -> tuple[int, dict, str]:
    """Run the asker on a pseudo-terminal, typing `lines` at its prompts; its exit code, answer and screen."""
    controller, terminal = os.openpty()
    try:
        process = asker(tmp_path, confirm, stdin=terminal, stderr=terminal)
        screen = ""
        try:
            for number, line in enumerate(lines):
                screen += until(controller, "to confirm: " if number else "Passphrase for S17: ")
                os.write(controller, f"{line}\n".encode())
            stdout, _ = process.communicate(timeout=WATCHDOG)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        while select.select([controller], [], [], 0.2)[0]:
            try:
                screen += os.read(controller, 1024).decode(errors="replace")
            except OSError:  # the terminal's far side closed
                break
    finally:
        os.close(controller)
        os.close(terminal)
    return process.returncode, json.loads(stdout), screen


def test_a_passphrase_typed_at_the_terminal_is_not_echoed(tmp_path):
    code, answer, screen = typed_at_terminal(tmp_path, False, [GOOD])
    assert (code, answer) == (0, {"value": GOOD})
    assert GOOD not in screen


def test_confirming_asks_twice_and_refuses_a_mismatch(tmp_path):
    code, answer, _ = typed_at_terminal(tmp_path, True, [GOOD, GOOD])
    assert (code, answer) == (0, {"value": GOOD})
    code, answer, screen = typed_at_terminal(tmp_path, True, [GOOD, OTHER])
    assert (code, answer) == (2, {"error": "the two passphrases typed differ"})
    assert GOOD not in screen and OTHER not in screen


def test_nothing_typed_is_refused(tmp_path):
    code, answer, _ = typed_at_terminal(tmp_path, True, [""])
    assert (code, answer) == (2, {"error": "no passphrase was typed"})


def test_following_the_chmod_advice_makes_the_file_acceptable(tmp_path):
    """chmod 600 is what the message advises, and what it advises is accepted."""
    path = private_file(tmp_path / "pp", f"{GOOD}\n".encode(), 0o644)
    with pytest.raises(InvalidInput):
        read(file=path)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    assert read(file=path) == GOOD
