"""Staff passphrases: hashing (Argon2id), the minimum strength, and reading one without a command line.

A passphrase never appears in argv (any user on the machine can read another's
command lines in /proc), in an environment variable, in a message or in the audit
log. It comes from the terminal with echo off, or for scripts from a private file
(`--passphrase-file`) or an inherited descriptor (`--passphrase-fd`), and is kept
only as an Argon2id hash in PHC form (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`),
which records its own parameters, so stronger ones can be adopted later and old
hashes upgraded at the next sign-in (`needs_rehash`).

argon2 (argon2-cffi) and getpass are imported inside the functions that use them:
every command's start-up is guarded, and only the commands that ask for or check a
passphrase pay for them.
"""

import errno
import os
import re
import shlex
import stat
import unicodedata
from typing import TYPE_CHECKING

from medsec.errors import EnvironmentFailure, InvalidInput
from medsec.inputs import USER_ERRNOS, unreadable
from medsec.text import fold

if TYPE_CHECKING:
    from argon2 import PasswordHasher

# -- hashing -----------------------------------------------------------------
# Argon2id with RFC 9106's second recommended option (section 4): t=3 passes over
# m=64 MiB in p=4 lanes, argon2-cffi's default profile (RFC_9106_LOW_MEMORY). The
# RFC's first option (t=1, m=2 GiB) is for machines that can spare 2 GiB per sign-in,
# which a clinic's front-desk PC cannot. 64 MiB per guess is what makes a stolen
# staff file expensive to attack with GPUs; t=3 keeps a guess slow on one core; the
# 4 lanes let a 2-core PC use both cores. Measured on a 2-core AMD EPYC VM, 20 runs
# each: hash 122 ms median (154 ms worst), verify 123 ms (150 ms worst); a whole
# process that imports argon2 and verifies, 190 ms median, 274 ms held to one core.
# That leaves room for a front-desk PC several times slower to stay under a second.
TIME_COST = 3
MEMORY_COST_KIB = 64 * 1024
PARALLELISM = 4
HASH_LEN = 32  # bytes: 256 bits, RFC 9106's recommended tag length
SALT_LEN = 16  # bytes: 128 bits, RFC 9106's recommended salt length

# A stored hash that asks for far more work than medsec's own is damaged or was
# planted (a hand-edited staff record): verifying it would tie up the machine's
# memory or CPU at every sign-in attempt, so it is refused as damage instead.
MAX_STORED_TIME_COST = 16 * TIME_COST
MAX_STORED_MEMORY_KIB = 16 * MEMORY_COST_KIB
MAX_STORED_PARALLELISM = 16 * PARALLELISM

_RESET_HINT = "an administrator can set a new one with `medsec staff passphrase ID`"


def hash_passphrase(passphrase: str) -> str:
    """The Argon2id hash of `passphrase` as a PHC string, with a fresh random salt.

    The passphrase is NFKC-normalized first (NIST SP 800-63B, 5.1.1.2), so the same
    word typed with a composed or a decomposed accent, on any keyboard, matches.
    """
    from argon2.exceptions import HashingError

    secret = passphrase_bytes(passphrase)
    if secret is None:
        raise InvalidInput("the passphrase holds a character that is not valid text")
    try:
        return _hasher().hash(secret)
    except HashingError as exc:  # the library could not allocate or run: not the user's doing
        raise EnvironmentFailure(f"could not hash the passphrase: {exc}") from None


def verify(stored: str, passphrase: str) -> bool:
    """Whether `passphrase` is the one `stored` (a PHC string from hash_passphrase) was made from.

    A wrong passphrase is False, never an error. A stored hash that is not an Argon2
    hash, or asks for absurd work, is damage in the data (a broken or hand-edited
    staff record), not a wrong guess: EnvironmentFailure (exit 3), like any other
    damage `check` reports, telling the user an administrator must reset it. It is
    not a ConfigError, whose message names a configuration file and line.
    """
    from argon2.exceptions import VerificationError, VerifyMismatchError

    _check_stored(stored)
    secret = passphrase_bytes(passphrase)
    if secret is None:  # no passphrase medsec hashed can hold a lone surrogate
        return False
    try:
        return _hasher().verify(stored, secret)
    except VerifyMismatchError:
        return False
    except VerificationError:  # the library refused the stored hash's parameters or encoding
        raise _damaged() from None


def needs_rehash(stored: str) -> bool:
    """Whether `stored` was made with other parameters than medsec's current ones.

    After a successful sign-in the caller hashes the passphrase again and stores the
    new hash, so a change of the constants above reaches every account in time.
    """
    from argon2.exceptions import InvalidHashError

    try:
        return _hasher().check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        raise _damaged() from None


def _hasher() -> "PasswordHasher":
    from argon2 import PasswordHasher, Type

    return PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM,
                          hash_len=HASH_LEN, salt_len=SALT_LEN, type=Type.ID)


def passphrase_bytes(passphrase: str) -> bytes | None:
    """The bytes Argon2 hashes: NFKC-normalized UTF-8; None if the text cannot be encoded (a lone surrogate)."""
    try:
        return unicodedata.normalize("NFKC", passphrase).encode("utf-8")
    except UnicodeEncodeError:
        return None


def _check_stored(stored: str) -> None:
    """EnvironmentFailure unless `stored` is an Argon2 PHC string asking for bounded work."""
    from argon2 import extract_parameters
    from argon2.exceptions import InvalidHashError

    if not isinstance(stored, str) or not stored.isascii():
        raise _damaged()
    try:
        params = extract_parameters(stored)
    except (InvalidHashError, ValueError):
        raise _damaged() from None
    if (params.time_cost > MAX_STORED_TIME_COST or params.memory_cost > MAX_STORED_MEMORY_KIB
            or params.parallelism > MAX_STORED_PARALLELISM):
        raise _damaged()


def _damaged() -> EnvironmentFailure:
    return EnvironmentFailure("a stored passphrase hash is damaged (not an Argon2 hash medsec can check)",
                              hint=_RESET_HINT)


# -- strength ----------------------------------------------------------------
# 12 characters: between NIST SP 800-63B-4's floors (15 when a password is the only factor, 8 with a second
# one); short enough for a front desk that signs in many times a day, long enough that with the common-password
# list below and the lockout after repeated wrong passphrases an online guess gets nowhere.
MIN_LENGTH = 12
MAX_LENGTH = 1024  # characters: more is a pasted file, not a passphrase (and Argon2 would hash it all)
MIN_DISTINCT = 6  # different characters: refuses 'aaaaaaaaaaaa', 'abababababab', '121212121212'
NAME_PART_MIN = 3  # letters: a name part this long is a guessable piece ('Ann', 'Lee'); 'Dr', 'Jo' are not

_STRENGTH_HINT = "choose four or more unrelated words, or a long sentence only you would think of"

# Some of the passwords and passphrases most often found in breach lists (the
# top of the public lists of leaked passwords, the keyboard walks, the xkcd
# example everyone copied) and the words a clinic's staff reach for first. A
# passphrase is refused if it is one of them (case and spaces ignored), or if its
# letters, once digits, punctuation and look-alike substitutions (p@ssw0rd) are
# taken away, spell one of their words or one repeated ('Welcome2024!',
# 'PasswordPassword'). Short entries only serve that second check.
COMMON_PASSPHRASES = (
    # digit runs and keyboard walks
    "123456789012", "1234567890123", "12345678901234", "123456123456", "123123123123", "123412341234",
    "012345678901", "098765432109", "987654321098", "111222333444", "102030405060", "121314151617",
    "qwertyuiopas", "qwertyuiop12", "qwerty123456", "1q2w3e4r5t6y", "1qaz2wsx3edc", "zaq12wsxcde3",
    "asdfghjkl123", "zxcvbnm12345", "qazwsxedcrfv", "asdfasdfasdf", "abc123456789", "abcdefghijkl",
    "abcd1234abcd", "qwertzuiop12", "azertyuiop12", "1qazxsw23edc",
    # the classics, at twelve characters and more
    "password1234", "password12345", "password123456", "passw0rd1234", "p@ssw0rd1234", "mypassword12",
    "correcthorsebatterystaple", "correct horse battery staple", "trustno1trustno1", "iloveyou1234",
    "letmein12345", "letmeinplease", "welcome12345", "welcome2024!", "changeme1234", "administrator",
    "admin1234567", "football1234", "baseball1234", "sunshine1234", "princess1234", "monkey123456",
    "dragon123456", "superman1234", "starwars1234", "whatever1234", "computer1234", "internet1234",
    "secret123456", "passphrase12", "thisismypassword", "ilovemydog", "helloworld12",
    # their words, and words that are not passphrases
    "password", "passphrase", "letmein", "welcome", "qwerty", "qwertyuiop", "asdf", "asdfgh", "zxcvbn", "abc",
    "abcdef", "admin", "login", "secret", "changeme", "default", "guest", "master", "shadow", "monkey", "dragon",
    "iloveyou", "sunshine", "princess", "superman", "batman", "trustno", "troubador", "freedom", "whatever",
    "hello", "test", "testing",
    # the clinic's own words
    "medsec", "medsec123456", "clinic", "clinic123456", "doctor", "doctor123456", "nurse", "hospital",
    "patient", "patients", "medical", "medicine", "health", "healthcare", "frontdesk", "reception",
    "receptionist", "office", "practice", "physician", "pharmacy", "prescription", "hipaa", "emergency",
    "stethoscope", "spring", "summer", "autumn", "winter",
)

# Look-alike substitutions undone before the word check ('P@ssw0rd' -> 'password').
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s",
                       "!": "i", "|": "l", "+": "t"})
# Anything but a letter, at either end: the digits and marks people add to a word ('Welcome2024!').
_ENDS = re.compile(r"^[\W\d_]+|[\W\d_]+$")
# Characters a passphrase may not hold, as in typed text (medsec.text): C0 and C1 controls and DEL, the line and
# paragraph separators, the bidirectional controls that show text in another order than it is typed.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def check_strength(passphrase: str, *, staff_id: str, name: str) -> None:
    """Refuse a passphrase too weak to protect patient records: InvalidInput (exit 2), one line.

    The rules: not empty; MIN_LENGTH to MAX_LENGTH characters; no control character;
    at least MIN_DISTINCT different characters; not holding the staff id or a part of
    the person's name (NAME_PART_MIN letters or more), in any case; not one of the most
    common passwords or built on one (COMMON_PASSPHRASES). No message quotes the
    passphrase or any piece of it: an error line may end up in a terminal's scrollback
    or a log.
    """
    text = unicodedata.normalize("NFKC", passphrase)
    if not text:
        raise InvalidInput("the passphrase is empty", hint=_STRENGTH_HINT)
    if len(text) < MIN_LENGTH:
        raise InvalidInput(f"the passphrase is shorter than {MIN_LENGTH} characters", hint=_STRENGTH_HINT)
    if len(text) > MAX_LENGTH:
        raise InvalidInput(f"the passphrase is longer than {MAX_LENGTH} characters")
    if any(_is_control(ch) for ch in text):
        raise InvalidInput("the passphrase holds a control character",
                           hint="use letters, digits, spaces and punctuation")
    if len(set(text)) < MIN_DISTINCT:
        raise InvalidInput(f"the passphrase uses fewer than {MIN_DISTINCT} different characters",
                           hint=_STRENGTH_HINT)
    folded = fold(text)  # case and accents: 'JOSÉ2024' holds José's name as much as 'jose2024' does
    if staff_id.strip() and fold(staff_id.strip()) in folded:
        raise InvalidInput("the passphrase contains the staff id", hint=_STRENGTH_HINT)
    if any(part in folded for part in _name_parts(name)):
        raise InvalidInput("the passphrase contains part of the person's name", hint=_STRENGTH_HINT)
    if _is_common(folded):
        raise InvalidInput("the passphrase is one of the most common passwords, or built on one",
                           hint=_STRENGTH_HINT)


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in _BIDI


def _name_parts(name: str) -> set[str]:
    """The runs of letters in `name` long enough to guess from, folded ('Mary-Ann O'Neil' -> mary, ann, neil)."""
    return {part for part in re.findall(r"[^\W\d_]+", fold(name)) if len(part) >= NAME_PART_MIN}


def _letters(text: str) -> str:
    return "".join(ch for ch in text if ch.isalpha())


def _common_sets() -> tuple[set[str], set[str]]:
    """The common passphrases as compared (case folded, no whitespace), and their words (letters only)."""
    full = {re.sub(r"\s+", "", entry.casefold()) for entry in COMMON_PASSPHRASES}
    words = {_letters(entry) for entry in full}
    return full, {word for word in words if len(word) >= 3}


def _is_common(folded: str) -> bool:
    """Whether the case-folded passphrase is a common one, or spells a common word (or one repeated)
    once spaces, digits, punctuation and look-alike substitutions are taken away."""
    full, words = _common_sets()
    compact = re.sub(r"\s+", "", folded)
    if compact in full:
        return True
    candidates = {_letters(compact), _letters(_ENDS.sub("", compact).translate(_LEET))}
    return any(_repeats(candidate, word) for candidate in candidates if candidate for word in words)


def _repeats(text: str, word: str) -> bool:
    """Whether `text` is `word` once or several times over."""
    count, rest = divmod(len(text), len(word))
    return rest == 0 and text == word * count


# -- reading a passphrase ----------------------------------------------------
MAX_INPUT_BYTES = 4096  # a passphrase file or descriptor's first line: 4 KB, room for MAX_LENGTH characters

_NO_TERMINAL = "no terminal to ask for the passphrase: use --passphrase-file or --passphrase-fd"
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
# Failures that are the user's to fix (a wrong name or descriptor number, no permission): exit 2.
# Others propagate as OSError, which the CLI reports as the environment's failure (exit 3).
_USER_ERRNOS = USER_ERRNOS | {errno.EBADF, errno.EINVAL, errno.EAGAIN}


def read_passphrase(*, file: str | None, fd: int | None, prompt: str, confirm: bool) -> str:
    """The passphrase, from the file or descriptor a script named, else typed at the terminal without echo.

    Never from the command line. `file` (--passphrase-file) must be a regular file
    private to its owner, at most MAX_INPUT_BYTES, UTF-8; `fd` (--passphrase-fd) is
    read up to its first newline; in both the first line counts, without its line
    ending. Otherwise the terminal is asked with `prompt` (twice with `confirm`, for
    setting a passphrase; a file or descriptor is trusted to be what was meant). An
    empty passphrase is refused here, so a stray newline is not taken as an attempt.
    Every refusal is InvalidInput (exit 2) and none quotes what was read.
    """
    if file is not None and fd is not None:
        raise InvalidInput("give --passphrase-file or --passphrase-fd, not both")
    if file is not None:
        text = _first_line(_read_private_file(file), file)
        where = file
    elif fd is not None:
        text = _first_line(_read_descriptor(fd), f"file descriptor {fd}")
        where = f"file descriptor {fd}"
    else:
        return _ask_terminal(prompt, confirm)
    if not text:
        raise InvalidInput(f"no passphrase on the first line of {where}")
    return text


def read_secret_file(path: str) -> str:
    """The first line of `path`, a private regular file (a service token's --token-file); as
    --passphrase-file is read, and refused (InvalidInput) the same ways."""
    text = _first_line(_read_private_file(path), path)
    if not text:
        raise InvalidInput(f"nothing on the first line of {path}")
    return text


def _read_private_file(path: str) -> bytes:
    """The bytes of `path`, a regular file only its owner may read or write, at most MAX_INPUT_BYTES.

    The path is looked at first, so a device or FIFO is never opened (a FIFO with no
    writer would hang the open); then the opened descriptor is checked again, which
    is what is read, so the file cannot be swapped in between.
    """
    try:
        _check_private_file(path, os.stat(path))
        fd = os.open(path, _OPEN_FLAGS)
    except (OSError, ValueError) as exc:
        raise unreadable(f"cannot read {path!r}", exc, _USER_ERRNOS) from None
    try:
        _check_private_file(path, os.fstat(fd))
        os.set_blocking(fd, True)
        return _read_at_most(fd, path)
    finally:
        os.close(fd)


def _check_private_file(path: str, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise InvalidInput(f"{path} is not a regular file", hint="name a file holding the passphrase")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        what = "readable" if mode & 0o044 else "writable"
        raise InvalidInput(f"{path} is {what} by others (mode {mode:04o}): chmod 600 {shlex.quote(path)}")
    if st.st_size > MAX_INPUT_BYTES:
        raise InvalidInput(f"{path} is {st.st_size} bytes, over the {MAX_INPUT_BYTES}-byte limit for a passphrase file")


def _read_at_most(fd: int, path: str) -> bytes:
    """All of a regular file, refusing it if it grew past MAX_INPUT_BYTES since it was checked."""
    data = b""
    while len(data) <= MAX_INPUT_BYTES:
        chunk = os.read(fd, MAX_INPUT_BYTES + 1 - len(data))
        if not chunk:
            return data
        data += chunk
    raise InvalidInput(f"{path} grew past the {MAX_INPUT_BYTES}-byte limit for a passphrase file while it was read")


def _read_descriptor(fd: int) -> bytes:
    """Descriptor `fd` up to its first newline (kept), or its end, at most MAX_INPUT_BYTES.

    Read a byte at a time so that nothing after the newline is consumed: with
    `--passphrase-fd 0` the rest of standard input stays for whatever reads it next.
    A terminal is refused: typed there the passphrase would be echoed.
    """
    where = f"file descriptor {fd}"
    if fd < 0:
        raise InvalidInput(f"{where} does not exist")
    try:
        if os.isatty(fd):
            raise InvalidInput(f"{where} is a terminal, where the passphrase would be echoed",
                               hint="leave out --passphrase-fd to be asked for it without echo")
        data = b""
        while len(data) <= MAX_INPUT_BYTES:
            byte = os.read(fd, 1)
            if not byte:
                return data
            data += byte
            if byte == b"\n":
                return data
    except OSError as exc:
        raise unreadable(f"cannot read {where}", exc, _USER_ERRNOS) from None
    raise InvalidInput(f"{where} holds more than {MAX_INPUT_BYTES} bytes before its first newline")


def _first_line(data: bytes, where: str) -> str:
    """The first line of `data` as text, without its line ending (LF or CRLF); a UTF-8 byte-order mark is dropped."""
    line = data.split(b"\n", 1)[0].removesuffix(b"\r")
    try:
        return line.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"the passphrase in {where} is not UTF-8 text") from None


def _ask_terminal(prompt: str, confirm: bool) -> str:
    """The passphrase typed at the terminal without echo (getpass); InvalidInput when there is no terminal.

    getpass asks on /dev/tty, else on standard input if that is a terminal; with
    neither it would warn and read standard input with echo on, which is refused
    here instead (a cron job or a pipe must use --passphrase-file or --passphrase-fd).
    """
    import getpass
    import warnings

    if not _has_terminal():
        raise InvalidInput(_NO_TERMINAL)
    with warnings.catch_warnings():
        warnings.simplefilter("error", getpass.GetPassWarning)  # the echoing fallback: refuse, do not read
        try:
            first = getpass.getpass(prompt)
            if first and confirm:
                second = getpass.getpass("Repeat the passphrase to confirm: ")
                if second != first:
                    raise InvalidInput("the two passphrases typed differ")
        except getpass.GetPassWarning:
            raise InvalidInput(_NO_TERMINAL) from None
        except EOFError:
            raise InvalidInput("no passphrase was typed") from None
        except UnicodeDecodeError:
            raise InvalidInput("the passphrase typed is not valid text in the terminal's encoding") from None
    if not first:
        raise InvalidInput("no passphrase was typed")
    return first


def _has_terminal() -> bool:
    """Whether getpass can read without echo: standard input is a terminal, or /dev/tty opens."""
    if os.isatty(0):
        return True
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC))
    except OSError:
        return False
    return True
