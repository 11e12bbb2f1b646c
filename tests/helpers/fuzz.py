"""Property-based fuzzing of the whole command tree (tests/test_fuzz.py, `make fuzz`).

- `leaf_commands()` walks the real click tree from `medsec.cli.cli` (built-in and
  plugin commands) down to every command that runs something.
- `arguments(leaf, workspace)` is a Hypothesis strategy of argument lists for one
  command, drawn from its click parameters: choices (and a wrong one), integers
  in and out of range, flags, and for strings a mix of values plausible for the
  parameter's name (ids, dates, money, phones, RRULEs ...) and hostile ones
  (terminal escapes, CR, NUL, bidi overrides, 100,000 characters ...). Paths are
  only ever the workspace's own files, never system paths.
- `Workspace` is one data directory and one folder of input files, both under
  the test's temporary directory, restored to their pristine bytes before each
  example; `Workspace.run` runs one command in-process under a watchdog.
- `contract_violations(outcome)` lists what an outcome breaks of the CLI's
  contract (no internal error, exit codes meaning what they say, refusals leaving
  the data directory as it was).
"""

import errno
import faulthandler
import json
import os
import re
import signal
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

import click
from click.testing import CliRunner
from hypothesis import strategies as st

from medsec.cli import cli
from medsec.store.layout import CACHE_FOLDERS
from medsec.store.lock import LOCK_NAME

# -- the command tree ----------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    """A command that runs something: its words after `medsec`, and the click command."""

    path: tuple[str, ...]
    command: click.Command

    @property
    def name(self) -> str:
        return " ".join(self.path)


# Not fuzzed: `agent` starts, stops and runs this user's agent, a process (`agent serve` is a server,
# running until idle), and takes no value but --format; tests/test_agent.py tests it. `intake kiosk`
# serves until stopped: tests/test_intake_kiosk.py gives it hostile requests instead.
NOT_FUZZED = {("agent",), ("intake", "kiosk")}


def leaf_commands() -> list[Leaf]:
    """Every runnable command under the root group, built-in and plugin, sorted by path
    (NOT_FUZZED aside)."""
    root = click.Context(cli, info_name="medsec")
    return sorted(_walk(cli, root, ()), key=lambda leaf: leaf.path)


def _walk(group: click.Group, ctx: click.Context, path: tuple[str, ...]):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden or (*path, name) in NOT_FUZZED:
            continue
        if isinstance(command, click.Group):
            yield from _walk(command, click.Context(command, info_name=name, parent=ctx), (*path, name))
        else:
            yield Leaf((*path, name), command)


# -- values --------------------------------------------------------------------------

# What a hostile user types: terminal escapes (retitle, OSC 52 clipboard, clear),
# line breaks, NUL, DEL, backspace, bidi overrides, line separators, undecodable
# argv bytes (as Python sees them: lone surrogates), sizes far past any field.
HOSTILE = (
    "", " ", "\t", "-", "--", "=", "-x", "'", '"', "\\",
    "\x1b]0;pwned\x07", "\x1b]52;c;ZWNobyBvd25lZA==\x07", "\x1b[2J\x1b[H", "a\x1b[31mred",
    "a\rb", "a\nb", "a\r\nb", "a\x00b", "a\x7fb", "a\x08b", "\x9b31m", "\u202eevil\u202c",
    "a\u2028b", "\ufeffbom", "\udcff\udcfe", "ünïcødé 名前 🙂", "Ｐ１", "１０",
    "x" * 10_000, "y" * 100_001, "P1" + "\x00" * 3, " P1 ", "P1\n",
    "<script>alert(1)</script>", "{{ 7*7 }}", "{% for x in range(10**9) %}x{% endfor %}",
    "%s%n%x", "=cmd|' /c calc'!A0", " =1+1", "'; DROP TABLE patients; --", "../secret", "a/../../b",
    "1e309", "-1", "0", "99999999999999999999999999", "NaN", "inf",
)

IDS = ("P1", "P2", "P3", "P4", "P5", "S1", "S2", "S3", "S4", "S5", "S9", "A1", "A2", "A3", "A99", "H1", "H2",
       "C1", "C2", "T1", "F1", "L1", "Y1", "E1", "LB1", "LR1", "MT1", "K1", "RF1", "RX1", "M1", "W1", "R1")

# Ids that look like ids but are not the canonical spelling of one (P00001 is not P1).
ODD_IDS = ("P0", "P00001", "p1", "P-1", "P99999999999999999999", "P 1", "X1", "1", "S0", "A1.5")

DATES = ("today", "tomorrow", "yesterday", "2026-11-30", "2026-12-07", "2026-12-25", "2026-11-26",
         "2026-02-30", "1970-01-01", "1899-12-31", "0001-01-01", "0000-01-01", "9999-12-30", "9999-12-31",
         "+3d", "-1d", "+2w", "+99999y", "-99999d", "monday", "next week", "2026-12-07T09:00", "12/07/2026")

WHENS = ("2026-11-30 09:00", "2026-11-30T09:00", "2026-11-30 13:20", "tomorrow 10:00", "monday 14:15",
         "2026-12-07 08:00", "2026-12-25 09:00", "2026-11-26 10:00", "2026-11-20 09:00", "9999-12-30 09:00",
         "0001-01-01 00:00", "2026-11-30 25:99", "+99999y 09:00", "2026-11-30 09:07", "2036-11-30 09:00")

TIMES = ("08:00", "12:00", "13:00", "17:00", "00:00", "23:59", "24:00", "25:00", "8", "9am", "17:00:00")

MONEY = ("125.00", "0", "0.01", "12.5", "-5", "1e309", "1e28", "1e3", "1_000", "99999999999999999999999999.99",
         "１０", "9999999.99", "10000000.00", "NaN", "inf", "-0", "12.345", ".5", "5.", "$5", "1,000.00", "0x10")

PHONES = ("617-555-0100", "(617) 555-0101", "+1 617 555 0102", "617-555-0100 ext 12",
          "617-555-0100 ext DROP TABLE", "555", "+44 20 7946 0958", "0" * 40, "flaky-617-555-0100")

EMAILS = ("ann@example.org", "bounce@example.org", "flaky@example.org", "not-an-email", "a@b",
          "x@" + "y" * 300 + ".org", "ann@example.org\nBcc: all@example.org")

RRULES = ("FREQ=WEEKLY;COUNT=4", "FREQ=WEEKLY;COUNT=0", "FREQ=DAILY;COUNT=100000", "FREQ=DAILY",
          "FREQ=WEEKLY;UNTIL=99991231T000000Z", "FREQ=YEARLY;INTERVAL=0", "FREQ=SECONDLY;COUNT=5",
          "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6", "RRULE:FREQ=DAILY;COUNT=2", "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3",
          "FREQ=WEEKLY;COUNT=-1", "garbage", "FREQ=DAILY;UNTIL=20261201")

CODES = ("99213", "99214", "99203", "J3490", "G0008", "ZZZZZ", "invalid")
DX_CODES = ("E11.9", "I10", "Z00.00", "A00", "R51.9", "R07.9", "E11", "ZZZ.99")

NAMES = ("Ann", "Smith", "Ana Lopez", "Bo", "O'Brien", "Zoë", "李", "Dr A")

# Plausible values by the parameter's name (click's `param.name`).
_BY_NAME: dict[str, tuple[str, ...]] = {
    "amount": MONEY, "repeat": RRULES, "phone": PHONES, "fax": PHONES, "pharmacy_fax": PHONES,
    "email": EMAILS, "caller": (*PHONES, *NAMES), "sender": (*PHONES, *EMAILS, *NAMES),
    "to": (*PHONES, *EMAILS, "S1", "S2,S3", "Dr Who", "all"),
    "at": WHENS, "appt_at": WHENS, "starts": TIMES, "ends": TIMES,
    "start": DATES, "end": DATES, "before": DATES, "dob": DATES, "date": DATES, "day": DATES,
    "for_day": DATES, "due": DATES, "since": DATES, "until": DATES,
    "within": ("2d", "24h", "1w", "0", "-1d", "99999d", "1e309d", "d"),
    "state": ("MA", "NY", "ZZ", "ma", "Massachusetts"), "zip": ("02139", "02139-1234", "ABCDE", "1"),
    "npi": ("1234567893", "1234567890", "123", "12345678931234567893"),
    "code": CODES, "dx": DX_CODES, "code_value": CODES + DX_CODES, "modifiers": ("25", "59", "XX", "", "2525"),
    "place_of_service": ("11", "02", "99", "x"), "pointers": ("1", "1,2", "2", "0", "5", "1,1", "A"),
    "units": ("1", "0", "-1", "999999999999"),
    "fmt_name": ("cms1500", "x12-837p", "837p", "x12", "pdf", "nope"),
    "input_format": ("csv", "json", "hl7", "835", "yaml", "x12", "hcpcs", "synthea", "nope"),
    "fmt": ("csv", "json", "yaml", "ics", "nope"),
    "channel": ("email", "sms", "fax", "letter", "voice", "testchannel", "outbox", "nope"),
    "type_name": ("follow-up", "new-patient", "physical", "surgery", "nurse-visit", "nope"),
    "room": ("exam1", "or1", "nope"), "sex": ("F", "M", "X", "U", "female", "?"),
    "language": ("en", "es", "zz", "english"), "time_zone": ("America/New_York", "UTC", "Mars/Olympus", "../x"),
    "name": (*NAMES, "practice", "channels", "payers", "appointment-types", "medsec", "nope"),
    "clear": ("phone", "email", "address", "guarantor", "first", "dob", "nope"),
    "mappings": ("First=first", "Last Name=last", "DOB=dob", "x=y", "=", "nope"),
    "days": ("mon-fri", "mon", "sat-sun", "fri-mon", "tue,thu", "xyz"),
    "variables": ("name=Ann", "x", "=", "a=" + "b" * 10_000, "subject={{ 7*7 }}"),
    "template": ("appointment-reminder", "welcome", "recall", "letter", "nope", "../x"),
    "attendees": ("S1", "S1,S2", "S1,S9", ",", "S1,,S2"), "attendee": ("S1", "S2", "S9"),
    "payer": ("ACME", "BETA", "NOPE"), "status": ("booked", "cancelled", "draft", "open", "nope"),
    "system": ("icd10", "icd10cm", "hcpcs", "cpt", "nope"), "test": ("lipid panel", "CBC"),
    "query": (*NAMES, "quin zyz", "617"), "text": ("Call back", *NAMES), "remove": ("1", "O1", "2026-12-07"),
    "duration": ("15", "0", "-15", "100000"), "member_id": ("M123", "X" * 300), "group": ("G1",),
}

# Parameter names whose values are record ids, and the kinds of ids they name.
_ID_PREFIXES = {
    "patient_id": ("P",), "patient": ("P",), "patients": ("P",), "duplicate_id": ("P",), "survivor_id": ("P",),
    "guarantor": ("P",), "provider": ("S",), "staff_id": ("S",), "owner": ("S",), "for_staff": ("S",),
    "physician_id": ("S",), "who": ("S",), "appt_id": ("A",), "appt": ("A",), "charge_id": ("H",),
    "claim_id": ("C",), "call_id": ("T",), "fax_id": ("F",), "mail_id": ("L",), "task_id": ("K",),
    "referral_id": ("RF",), "refill_id": ("RX",), "memo_id": ("M",), "meeting_id": ("MT",), "entry_id": ("W",),
    "lab_id": ("LB",), "order_id": ("LB",), "result_id": ("LR",), "record_id": ("P", "A", "LB", "LR", "C"),
    "target": ("P", "A"),
}


def _ids_for(name: str) -> tuple[str, ...]:
    prefixes = _ID_PREFIXES.get(name)
    if prefixes is None:
        return ()
    return tuple(i for i in IDS if i.rstrip("0123456789") in prefixes)


def text_values(name: str, hostile: bool) -> st.SearchStrategy[str]:
    """Strings for a parameter called `name`: plausible for it, or hostile (and sometimes random)."""
    ids = _ids_for(name)
    if hostile:
        odd = ODD_IDS if ids else IDS + DATES + MONEY
        return st.one_of(st.sampled_from(HOSTILE), st.sampled_from(odd), st.text(max_size=12))
    return st.sampled_from(_BY_NAME.get(name, ()) + ids or NAMES)


def int_values(param_type: click.ParamType, hostile: bool) -> st.SearchStrategy[str]:
    """Integers in an IntRange (or near 0), or out of it: huge, negative, non-numbers."""
    low = getattr(param_type, "min", None)
    high = getattr(param_type, "max", None)
    if not hostile:
        low = 1 if low is None else low  # counts, units, minutes: a plain int means at least one
        return st.integers(min_value=low, max_value=high if high is not None else low + 60).map(str)
    edges = [-1, 10**6, 10**30, -(10**30), 2**63]
    edges += [bound + step for bound in (low, high) if bound is not None for step in (-1, 1)]
    return st.one_of(st.sampled_from(edges).map(str), st.sampled_from(("1.5", "x", "", "１", "1e3", " 1")))


def choice_values(param_type: click.Choice, hostile: bool) -> st.SearchStrategy[str]:
    """One of the choices, or one that is not."""
    if hostile:
        return st.sampled_from(("nope", "", "JSON", "\x1b[2J"))
    return st.sampled_from(list(param_type.choices))


# -- the workspace: a data directory and the files commands may read or write --------


@dataclass(frozen=True)
class Entry:
    """One path of a tree: a file (its bytes and mode), a folder, a FIFO or a symbolic link."""

    kind: str
    data: bytes = b""
    mode: int = 0
    mtime_ns: int = 0


def tree_of(root: Path) -> dict[str, Entry]:
    """Every path under root (root itself as '.'), with what is there."""
    if not root.exists() and not root.is_symlink():
        return {}
    out = {".": Entry("dir", mode=stat.S_IMODE(root.stat().st_mode))}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            out[str(path.relative_to(root))] = _entry(path)
    return out


def _entry(path: Path) -> Entry:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return Entry("link", os.readlink(path).encode())
    if stat.S_ISDIR(info.st_mode):
        return Entry("dir", mode=stat.S_IMODE(info.st_mode))
    if stat.S_ISFIFO(info.st_mode):
        return Entry("fifo")
    if stat.S_ISREG(info.st_mode):
        return Entry("file", path.read_bytes(), stat.S_IMODE(info.st_mode), info.st_mtime_ns)
    return Entry("other")


def restore_tree(root: Path, pristine: dict[str, Entry]) -> None:
    """Make root hold exactly `pristine` again: remove what is new, rewrite what changed."""
    current = tree_of(root)
    for rel in sorted(current, key=len, reverse=True):
        if rel != "." and (rel not in pristine or pristine[rel].kind != current[rel].kind):
            _remove(root / rel)
    current = tree_of(root)
    for rel in sorted(pristine, key=lambda r: (r != ".", r.count("/"), r)):
        want = pristine[rel]
        have = current.get(rel)
        if have is None or _differs(want, have):
            _make(root if rel == "." else root / rel, want)


def _differs(want: Entry, have: Entry) -> bool:
    if want.kind == "file":
        return want.data != have.data or want.mode != have.mode or want.mtime_ns != have.mtime_ns
    return want.kind != have.kind or (want.kind == "dir" and want.mode != have.mode)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for child in path.iterdir():
            _remove(child)
        path.rmdir()
    else:
        path.unlink()


def _make(path: Path, entry: Entry) -> None:
    if entry.kind == "dir":
        path.mkdir(exist_ok=True)
        path.chmod(entry.mode)
    elif entry.kind == "fifo":
        os.mkfifo(path)
    elif entry.kind == "link":
        os.symlink(entry.data.decode(), path)
    else:
        path.write_bytes(entry.data)
        path.chmod(entry.mode)
        os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns))


def _ignored_in_data(rel: str) -> bool:
    """Paths a refused command may still change: the audit log, the lock file, rebuildable caches."""
    return (rel == "audit" or rel.startswith("audit/") or rel == LOCK_NAME
            or any(rel == folder or rel.startswith(folder + "/") for folder in CACHE_FOLDERS))


def tree_changes(before: dict[str, Entry], after: dict[str, Entry], ignore=lambda rel: False) -> list[str]:
    """What differs between two trees (paths added, removed or changed), ignored paths aside."""
    changes = []
    for rel in sorted(set(before) | set(after)):
        if ignore(rel):
            continue
        old, new = before.get(rel), after.get(rel)
        if old is None:
            changes.append(f"added {rel}")
        elif new is None:
            changes.append(f"removed {rel}")
        elif old.kind != new.kind or old.data != new.data or (old.kind == "dir" and old.mode != new.mode):
            changes.append(f"changed {rel}")
    return changes


class ExampleTimeout(BaseException):
    """Raised by the watchdog: a BaseException, so medsec's error boundary cannot swallow it."""


@dataclass
class Outcome:
    """One command's run: its argument list, exit code, streams and what it changed."""

    argv: list[str]
    exit_code: int
    stdout: str
    stderr: str
    data_changes: list[str]
    file_changes: list[str]
    escaped: BaseException | None = None

    def repro(self) -> str:
        """A shell line that reproduces it (against a copy of the fuzz practice)."""
        return "medsec " + " ".join(_shell_quote(a) for a in self.argv)


def _shell_quote(arg: str) -> str:
    if len(arg) > 200 and len(set(arg)) == 1:  # one character repeated: say how to make it
        return f"\"$(python3 -c 'print({json.dumps(arg[0])} * {len(arg)}, end=\"\")')\""
    if len(arg) > 200:
        return f"$'{_c_escape(arg[:60])}'...({len(arg)} characters)"
    if re.fullmatch(r"[A-Za-z0-9_./:=+,@%-]+", arg):
        return arg
    return f"$'{_c_escape(arg)}'"


def _c_escape(text: str) -> str:
    return "".join(c if c.isprintable() and c not in "'\\" else
                   (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}") for c in text)


class Workspace:
    """A data directory and a folder of files for one test module, both restored before each example."""

    def __init__(self, root: Path, home: Path, env: dict[str, str]):
        self.root = root
        self.home = home
        self.files = root / "files"
        self.env = env
        self.network_attempts: list[str] = []
        self.pristine_data: dict[str, Entry] = {}
        self.pristine_files: dict[str, Entry] = {}

    def freeze(self) -> None:
        """Take the current trees as the pristine ones every example starts from."""
        self.pristine_data = tree_of(self.home)
        self.pristine_files = tree_of(self.files)

    def reset(self) -> None:
        """Put both trees back as they were frozen."""
        restore_tree(self.home, self.pristine_data)
        restore_tree(self.files, self.pristine_files)

    def run(self, argv: list[str], timeout: float, fresh: bool = True) -> Outcome:
        """Run `medsec argv` in-process with the workspace's environment under a watchdog; from
        the pristine trees when `fresh`, else from whatever the previous command left."""
        if fresh:
            self.reset()
        data_before = self.pristine_data if fresh else tree_of(self.home)
        files_before = self.pristine_files if fresh else tree_of(self.files)
        result, escaped = _invoke_with_watchdog(argv, self.env, timeout)
        data_changes = tree_changes(data_before, tree_of(self.home), _ignored_in_data)
        file_changes = tree_changes(files_before, tree_of(self.files))
        if result is None:
            return Outcome(argv, -1, "", "", data_changes, file_changes, escaped)
        return Outcome(argv, result.exit_code, result.stdout, result.stderr, data_changes, file_changes, escaped)


def _invoke_with_watchdog(argv: list[str], env: dict[str, str], timeout: float):
    """(click result or None, the exception that escaped the CLI or None).

    A hang is interrupted by SIGALRM (ExampleTimeout); a hang in C code that never
    returns to Python is dumped and ends the run by faulthandler a little later.
    """
    def expire(signum, frame):
        raise ExampleTimeout(f"no answer within {timeout:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    faulthandler.dump_traceback_later(timeout + 15, exit=True)
    try:
        return CliRunner().invoke(cli, argv, input="", env=env, catch_exceptions=False), None
    except BaseException as e:  # noqa: BLE001 - anything escaping the CLI is what we report
        return None, e
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        faulthandler.cancel_dump_traceback_later()
        signal.signal(signal.SIGALRM, previous)


class NetworkGuard:
    """Refuses every socket connection and name lookup while installed; records each attempt."""

    def __init__(self, attempts: list[str]):
        self.attempts = attempts
        self.saved: dict[str, object] = {}

    def __enter__(self):
        def refuse(*args, **kwargs):
            self.attempts.append(repr(args[:2])[:200])
            raise OSError(errno.ENETUNREACH, "network disabled by the fuzz harness")

        for name in ("create_connection", "getaddrinfo"):
            self.saved[name] = getattr(socket, name)
            setattr(socket, name, refuse)
        self.saved["connect"] = socket.socket.connect
        socket.socket.connect = refuse  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc):
        for name in ("create_connection", "getaddrinfo"):
            setattr(socket, name, self.saved[name])
        socket.socket.connect = self.saved["connect"]  # type: ignore[method-assign]


# -- argument lists --------------------------------------------------------------------


def path_values(workspace: Workspace, hostile: bool) -> st.SearchStrategy[str]:
    """Only paths of the workspace: its input files of every kind and new outputs, or, when
    hostile, what must be refused (a path into the data directory, the directory itself, '')."""
    files = workspace.files
    existing = sorted(str(files / rel) for rel in workspace.pristine_files if rel != "." and "/" not in rel)
    outputs = [str(files / name) for name in ("out.csv", "out.pdf", "out.ics", "out.json", "out.txt",
                                              "out.tar.gz", "out.837", "missing/out.txt")]
    if hostile:
        refusals = [str(workspace.home / "out.txt"), str(workspace.home / "practice.yaml"), str(workspace.home),
                    str(workspace.home / "patients"), "", "-", str(workspace.files / "a\nb.csv")]
        return st.sampled_from(refusals)
    return st.one_of(st.sampled_from(existing), st.sampled_from(outputs))


def value_strategy(param: click.Parameter, workspace: Workspace, hostile: bool) -> st.SearchStrategy[str]:
    """One value for a parameter that takes one, by its click type: plausible or hostile."""
    kind = param.type
    if isinstance(kind, click.Path):
        return path_values(workspace, hostile)
    if isinstance(kind, click.Choice):
        return choice_values(kind, hostile)
    if isinstance(kind, click.types.IntParamType | click.IntRange):
        return int_values(kind, hostile)
    if isinstance(kind, click.types.FloatParamType | click.FloatRange):
        return st.sampled_from(("1e309", "nan", "inf", "x", "-1") if hostile else ("0", "1.5", "2"))
    if isinstance(kind, click.types.BoolParamType):
        return st.sampled_from(("maybe", "") if hostile else ("true", "false"))
    return text_values(param.name or "", hostile)


# Hypothesis favours small integers; a rare event drawn as the last of ten choices stays rare.
_ONE_IN_TEN = st.sampled_from([False] * 9 + [True])
_ONE_IN_THREE = st.sampled_from([False, False, True])


@dataclass(frozen=True)
class Plan:
    """How hostile one example is: `clean` (every value plausible, every required parameter
    given), one hostile parameter (named), or `wild` (any value may be hostile, any required
    parameter may be missing). Mostly plausible, so that examples get past parsing."""

    mode: str
    target: str | None = None

    def hostile(self, draw, param: click.Parameter) -> bool:
        if self.mode == "wild":
            return draw(st.booleans())
        return self.mode == "one" and param.name == self.target

    def leaves_out(self, draw, param: click.Parameter) -> bool:
        """Whether a required parameter is left out: in one wild example's parameter of ten."""
        return self.mode == "wild" and draw(_ONE_IN_TEN)


@st.composite
def plans(draw, command: click.Command) -> Plan:
    """A Plan for one example of `command`: clean 4 in 10, one hostile value 4 in 10, wild 2 in 10."""
    roll = draw(st.integers(0, 9))
    # A wrong choice only tests click's own parsing: that is left to wild examples.
    valued = [p.name for p in command.params
              if not getattr(p, "is_flag", False) and not isinstance(p.type, click.Choice)]
    if roll < 4 or (roll < 8 and not valued):
        return Plan("clean")
    if roll < 8:
        return Plan("one", draw(st.sampled_from(valued)))
    return Plan("wild")


@st.composite
def option_tokens(draw, param: click.Option, workspace: Workspace, plan: Plan) -> list[str]:
    """The tokens one option contributes: none, its flag, or `--opt value` (repeated if multiple)."""
    wanted = param.name == plan.target
    present = (not plan.leaves_out(draw, param)) if param.required else (wanted or draw(_ONE_IN_THREE))
    if not present:
        return []
    flag = draw(st.sampled_from(param.opts))
    if param.is_flag or param.count:
        return [flag]
    times = draw(st.integers(1, 3)) if param.multiple else 1
    tokens: list[str] = []
    for _ in range(times):
        values = value_strategy(param, workspace, plan.hostile(draw, param))
        tokens += [flag, *[draw(values) for _ in range(max(param.nargs, 1))]]
    return tokens


@st.composite
def argument_tokens(draw, param: click.Argument, workspace: Workspace, plan: Plan) -> list[str]:
    """The values of one positional argument: present when required (unless the plan leaves it
    out), 0-3 when variadic."""
    values = value_strategy(param, workspace, plan.hostile(draw, param))
    if param.nargs == -1:
        low = 0 if not param.required or plan.leaves_out(draw, param) else 1
        return draw(st.lists(values, min_size=low, max_size=3))
    if (param.required and plan.leaves_out(draw, param)) or (not param.required and draw(st.booleans())):
        return []
    return [draw(values) for _ in range(param.nargs)]


@st.composite
def arguments(draw, leaf: Leaf, workspace: Workspace) -> list[str]:
    """A whole argument list for `leaf`: maybe a root `--user`, the command path, options in any
    order, then the positional arguments (after `--` when one starts with '-', so it reaches them)."""
    plan = draw(plans(leaf.command))
    argv: list[str] = []
    if draw(st.integers(0, 5)) == 0:
        hostile = plan.mode == "wild" and draw(st.booleans())
        argv += ["--user", draw(st.sampled_from(HOSTILE if hostile else ("tester", "S1", "fran@example.org")))]
    argv += list(leaf.path)
    options = [p for p in leaf.command.params if isinstance(p, click.Option)]
    for option in draw(st.permutations(options)):
        argv += draw(option_tokens(option, workspace, plan))
    positionals: list[str] = []
    for param in leaf.command.params:
        if isinstance(param, click.Argument):
            positionals += draw(argument_tokens(param, workspace, plan))
    if any(value.startswith("-") for value in positionals) or (positionals and draw(st.booleans())):
        argv.append("--")
    return argv + positionals


# -- the contract ----------------------------------------------------------------------

# Exit 3 is the environment's: a channel, the lock, the configuration, a plugin, the data
# directory or the disk. Any other exit 3 is a defect (an internal error is reported on its own).
ENVIRONMENT_MESSAGES = (
    r"\bchannels?\b", r"\block(ed)?\b", r"\bconfiguration\b", r"\.ya?ml\b", r"\bplugins?\b",
    r"\bnot set up\b", r"\bmedsec data directory\b", r"\baudit log\b", r"\bdeliver", r"\bunreachable\b",
    r"\bno space\b", r"\bpermission denied\b", r"\bread-only file system\b", r"medsec check",
    r"\bthe editor\b",  # $EDITOR (config edit) is the environment's
)

# Characters that must never reach a terminal raw: C0 controls but newline and tab,
# DEL, C1 controls, bidi embeddings/overrides/isolates, line and paragraph separators.
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def contract_violations(outcome: Outcome, network_attempts: list[str]) -> list[str]:
    """What `outcome` breaks of the CLI's contract; empty when it keeps it."""
    problems: list[str] = []
    if outcome.escaped is not None:
        return [f"escaped the CLI: {type(outcome.escaped).__name__}: {str(outcome.escaped)[:300]}"]
    if network_attempts:
        problems.append(f"tried the network: {network_attempts[0]}")
    both = outcome.stdout + outcome.stderr
    if "internal error" in both or "Traceback" in both:
        problems.append("internal error or traceback: " + _last_line(outcome.stderr))
    if outcome.exit_code not in (0, 1, 2, 3):
        problems.append(f"exit {outcome.exit_code}")
    problems += _error_line_problems(outcome)
    problems += _refusal_wrote(outcome)
    problems += _terminal_problems(outcome)
    problems += _output_problems(outcome)
    return problems


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1][:300] if lines else "(nothing on stderr)"


def _error_line_problems(outcome: Outcome) -> list[str]:
    if outcome.exit_code == 0:
        return []
    lines = outcome.stderr.splitlines()
    errors = [line for line in lines if line.startswith("medsec: error: ")]
    problems = []
    if outcome.exit_code in (2, 3) and len(errors) != 1:
        problems.append(f"exit {outcome.exit_code} with {len(errors)} 'medsec: error:' lines: "
                        + _last_line(outcome.stderr))
    if any(len(line) > 1000 for line in lines):
        problems.append(f"an error line of {max(map(len, lines))} characters")
    if outcome.exit_code == 3 and errors and not any(re.search(p, errors[0], re.I) for p in ENVIRONMENT_MESSAGES):
        problems.append(f"exit 3 not about the environment: {errors[0][:300]}")
    return problems


# Batches documented to exit 1 when any item failed while the others went ahead (docs/cli.md:
# "Exit 0 only when every due reminder was sent or deliberately skipped"; "Exit 1 when any
# could not be sent; the others are sent"). Their exit 1 may record what was done.
PARTIAL_BATCHES = (("remind", "send"), ("mail", "send"))


def _refusal_wrote(outcome: Outcome) -> list[str]:
    if outcome.exit_code not in (1, 2):
        return []
    if outcome.exit_code == 1 and any(_runs(outcome.argv, batch) for batch in PARTIAL_BATCHES):
        return []
    problems = []
    if outcome.data_changes:
        problems.append(f"exit {outcome.exit_code} changed the data directory: {outcome.data_changes[:5]}")
    if outcome.file_changes:
        problems.append(f"exit {outcome.exit_code} wrote files: {outcome.file_changes[:5]}")
    return problems


def _runs(argv: list[str], path: tuple[str, ...]) -> bool:
    """Whether argv runs the command `path` (after any root options)."""
    words = [token for token in argv if not token.startswith("-")]
    return any(tuple(words[i:i + len(path)]) == path for i in range(min(len(words), 3)))


def _output_problems(outcome: Outcome) -> list[str]:
    """`-o FILE` writes the file and prints nothing else to stdout (`-o -` is standard output)."""
    argv = outcome.argv
    files = [argv[i + 1] for i, token in enumerate(argv[:-1]) if token in ("-o", "--output")]
    if outcome.exit_code != 0 or not files or "-" in files or not outcome.stdout:
        return []
    return [f"-o given, yet {len(outcome.stdout)} characters on stdout: {outcome.stdout[:80]!r}"]


def _terminal_problems(outcome: Outcome) -> list[str]:
    """Raw control characters on stderr always, on stdout when it is a table for a terminal."""
    problems = []
    if RAW_CONTROLS.search(outcome.stderr):
        problems.append(f"raw control character on stderr: {_last_line(outcome.stderr)!r}")
    if _prints_table(outcome.argv) and RAW_CONTROLS.search(outcome.stdout):
        found = RAW_CONTROLS.search(outcome.stdout).group()
        problems.append(f"raw control character {found!r} on stdout")
    return problems


def _prints_table(argv: list[str]) -> bool:
    """Whether the command prints for a terminal (not JSON, CSV, YAML or an export's bytes)."""
    if "--json" in argv or "export" in argv or "preview" in argv:
        return False
    formats = [argv[i + 1] for i, token in enumerate(argv[:-1]) if token == "--format"]
    return all(name == "table" for name in formats)
