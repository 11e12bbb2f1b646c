"""Property-based fuzzing of every command (issue 12): hostile and plausible argument lists
drawn from each command's click parameters (tests/helpers/fuzz.py) must keep the CLI's contract:

- no internal error and no traceback, ever;
- exit 0, 1, 2 or 3; exit 2 is bad input, exit 3 the environment (a channel, the lock, the
  configuration, a plugin), each as one `medsec: error:` line that quotes no raw control
  character and no 100 KB value;
- exit 1 and 2 leave the data directory (the audit log and rebuildable caches aside) and the
  files next to it as they were;
- nothing reaches the network, nothing hangs; `-o FILE` prints nothing else; tables print no raw
  control character (P4 of the fuzz practice holds some, as old data would).

Besides each command alone: sequences of changes and a read without restoring in between, and
each configuration file made hostile (alias bomb, deep nesting, NUL, huge numbers, oversize ...).

`make test` runs a few derandomized examples per command (profile 'ci'); `make fuzz`
runs many more with fresh randomness (profile 'fuzz', MEDSEC_FUZZ_EXAMPLES examples per
command). A failure prints the shell line that reproduces it against a copy of the fuzz
practice (`build_fuzz_practice`).
"""

import os
import shutil
from pathlib import Path

import pytest
from helpers.cli import Medsec, cli_env
from helpers.fuzz import Leaf, NetworkGuard, Outcome, Workspace, arguments, contract_violations, leaf_commands
from helpers.practices import setup_office
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from medsec.config import CONFIG_FILES, DEFAULT_LIMITS, LIMITS
from medsec.store.catalog import PATIENTS
from medsec.store.store import Store

FIXTURES = Path(__file__).parent / "fixtures"

def expect(outcome, problems: list[str]) -> None:
    """Fail, with the shell line that reproduces it, when an outcome breaks the contract."""
    assert not problems, f"{outcome.repro()}\n  exit {outcome.exit_code}\n  " + "\n  ".join(problems)


PROFILE = os.environ.get("MEDSEC_FUZZ_PROFILE", "ci")
EXAMPLES = int(os.environ.get("MEDSEC_FUZZ_EXAMPLES", "6" if PROFILE == "ci" else "200"))
# Per example: a hang is a failure with a message, not a stuck test run.
TIMEOUT = float(os.environ.get("MEDSEC_FUZZ_TIMEOUT", "20"))

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,  # timing is not a property here; the watchdog catches hangs
    database=None,  # nothing written into the repository (.hypothesis)
    derandomize=PROFILE == "ci",  # make test: the same examples every run, so a failure reproduces
    # CI stops at the first failing example (the repro line is printed); `make fuzz` shrinks it.
    phases=[Phase.explicit, Phase.generate] if PROFILE == "ci" else list(Phase),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=False,
)

COMMANDS = leaf_commands()


def build_fuzz_practice(medsec: Medsec) -> None:
    """The workflow tests' office (S1..S5, P1..P4, every message kind to the test channel) plus one
    record of most kinds, so that ids like A1, H1, C1, K1, T1 name something."""
    setup_office(medsec)
    (medsec.home / "codes.yaml").write_text(
        "codes:\n  - {code: '99213', system: CPT, description: Office visit, fee: '120.00'}\n"
        "  - {code: '99203', system: CPT, description: New patient visit, fee: '180.00'}\n"
        "  - {code: 'J3490', system: HCPCS, description: Unclassified drugs, fee: '0.00'}\n")
    steps = [
        ("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-30 09:00", "--type", "follow-up"),
        ("appt", "book", "P2", "--provider", "S2", "--at", "2026-11-27 10:00", "--type", "physical"),
        ("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-26 08:00", "--type", "follow-up", "--allow-past"),
        ("appt", "status", "A3", "arrived"), ("appt", "status", "A3", "roomed"), ("appt", "status", "A3", "seen"),
        ("patient", "coverage", "add", "P1", "--payer", "ACME", "--member-id", "M1"),
        ("bill", "charge", "A3", "--code", "99213", "--dx", "E11.9", "--amount", "125.00"),
        ("bill", "pay", "P1", "--amount", "20.00", "--method", "cash"),
        ("claim", "create", "--appt", "A3"),
        ("task", "add", "Call back", "--for", "S1", "--due", "2026-11-30", "--patient", "P1"),
        ("call", "log", "--from", "617-555-0100", "--reason", "refill question", "--for", "S3"),
        ("referral", "add", "P1", "--to", "Dr Heart", "--reason", "chest pain", "--dx", "R07.9",
         "--fax", "617-555-0199"),
        ("refill", "request", "P2", "--drug", "lisinopril", "--dose", "10 mg", "--pharmacy", "CVS",
         "--pharmacy-fax", "617-555-0198", "--via", "fax"),
        ("lab", "order", "P1", "--physician", "S1", "--dx", "E78.5", "--facility", "Quest", "--test", "lipid panel"),
        ("appt", "waitlist", "add", "P3", "--type", "follow-up"),
        ("--user", "S4", "meeting", "schedule", "--title", "Staff", "--at", "2026-12-01 13:00", "--duration", "30",
         "--attendees", "S1,S2"),
        ("memo", "new", "--to", "S1", "--subject", "Hello", "--var", "body=Fire drill at 3pm"),
    ]
    for step in steps:
        result = medsec(*step)
        if result.exit_code != 0:  # the practice is richer with it, but the fuzz needs none of it
            print(f"fuzz practice: medsec {' '.join(step)}: {result.stderr.strip()}")
    plant_old_hostile_data(medsec.home)


def plant_old_hostile_data(home: Path) -> None:
    """P4 as data written before input was checked (or by a plugin): control characters and a
    bidi override in free text. Every table that shows P4 must print them escaped."""
    store = Store(str(home))
    with store.transaction() as txn:
        old = txn.require(PATIENTS, "P4", "patient")
        txn.put(PATIENTS, {**old, "first": "Di\x1b]0;pwned\x07", "address": "1 Main St\r\x1b]52;c;b3duZWQ=\x07",
                           "city": "Boston\u202eevil"}, old)


def make_input_files(medsec: Medsec, files: Path) -> None:
    """Small files of every kind a command reads, plus what it must refuse to read or write."""
    files.mkdir()
    (files / "patients.csv").write_text("first,last,dob,phone\nCy,Nguyen,1980-02-03,617-555-0150\n"
                                        "Dee,Olsen,1990-04-05,617-555-0151\n")
    (files / "hostile.csv").write_text("first,last,dob,phone\n\x1b]0;pwned\x07,=cmd|' /c calc'!A0,1980-02-03,\r"
                                       f"\nAnn,{'z' * 200_000},1970-01-01,617-555-0100 ext DROP TABLE\n")
    (files / "codes.csv").write_text("code,description,fee\n99213,Office visit,1e309\nZZ1,Junk,-5\n")
    shutil.copy(FIXTURES / "hl7" / "lipid_panel_LB1.hl7", files / "result.hl7")
    shutil.copy(FIXTURES / "x12" / "paid.835", files / "remit.835")
    shutil.copy(FIXTURES / "hcpcs" / "HCPC2026_JAN_ANWEB_sample.txt", files / "hcpcs.txt")
    (files / "scan.pdf").write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    (files / "junk.bin").write_bytes(bytes(range(256)) * 4)
    (files / "empty.txt").write_bytes(b"")
    (files / "bomb.yaml").write_text("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)))
    (files / "folder").mkdir()
    os.mkfifo(files / "fifo")
    os.symlink(medsec.home / "practice.yaml", files / "link-into-data")
    medsec.ok("appt", "export", "--ics", str(files / "calendar.ics"))
    medsec.ok("backup", str(files / "backup.tar.gz"))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Workspace:
    """The fuzz practice and its files, built once for the module and restored before each example."""
    root = tmp_path_factory.mktemp("fuzz")
    home = root / "data"
    env = {**cli_env(home), "MEDSEC_PLUGINS": "helpers.testchannel", "MEDSEC_TEST_SENT": str(root / "sent.jsonl"),
           "MEDSEC_LOCK_TIMEOUT": "2"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        medsec = Medsec(home, env)
        build_fuzz_practice(medsec)
        make_input_files(medsec, root / "files")
    space = Workspace(root, home, env)
    space.freeze()
    return space


@pytest.mark.parametrize("leaf", COMMANDS, ids=lambda leaf: leaf.name.replace(" ", "-"))
def test_command_keeps_the_contract(workspace: Workspace, leaf: Leaf):

    @FUZZ_SETTINGS
    @given(argv=arguments(leaf, workspace))
    def keeps_the_contract(argv):
        del workspace.network_attempts[:]
        with NetworkGuard(workspace.network_attempts):
            outcome = workspace.run(argv, TIMEOUT)
        expect(outcome, contract_violations(outcome, workspace.network_attempts))

    keeps_the_contract()


# Commands that change records, for sequences: state one command leaves is what the next one meets
# (two huge payments, then the balance; a booking, then its export).
CHANGING = [leaf for leaf in COMMANDS if leaf.path[-1] in {
    "add", "book", "pay", "adjust", "charge", "edit", "import", "reschedule", "walkin", "create", "log",
    "request", "order", "schedule", "receive", "attach", "merge", "note", "hours", "off", "status"}]
READING = [leaf for leaf in COMMANDS if leaf.path[-1] in {
    "balance", "ledger", "statement", "show", "list", "day", "slots", "export", "invoice", "check"}
           or leaf.path[0] == "report"]


def test_sequences_keep_the_contract(workspace: Workspace):
    """Two to four changes and then a read, without restoring between them: every step keeps the
    contract, refusals compared with the state the step met."""

    @settings(FUZZ_SETTINGS, max_examples=EXAMPLES * 5)
    @given(data=st.data())
    def steps_keep_the_contract(data):
        changes = data.draw(st.lists(st.sampled_from(CHANGING), min_size=2, max_size=4))
        workspace.reset()
        for leaf in [*changes, data.draw(st.sampled_from(READING))]:
            argv = data.draw(arguments(leaf, workspace), label=leaf.name)
            del workspace.network_attempts[:]
            with NetworkGuard(workspace.network_attempts):
                outcome = workspace.run(argv, TIMEOUT, fresh=False)
            expect(outcome, contract_violations(outcome, workspace.network_attempts))

    steps_keep_the_contract()


def alias_bomb(levels: int) -> str:
    """A "billion laughs" YAML document, `levels` deep, nine aliases a level (9**levels leaves)."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


# Configuration files as a careless or hostile hand leaves them; `broken` ones `config check` must refuse.
HOSTILE_CONFIG = {
    "alias bomb": (alias_bomb(6), True),
    "invalid YAML": ("a: [\n  b: {\n", True),
    "NUL bytes": ("name: a\x00b\n", True),
    "junk bytes": (bytes(range(256)).decode("latin-1"), True),
    "deep nesting": ("a: " + "[" * 5000 + "]" * 5000 + "\n", True),
    "a list": ("- a\n- b\n", True),
    "huge number": ("scheduling: {slot_minutes: 99999999999999999999999999999}\nsmtp: {port: 1e309}\n", False),
    "escape in a value": ("name: \"Clinic\\e]0;pwned\\a\"\n", False),
    "literal secret": ("email: {host: 127.0.0.1, password: hunter2}\nsms: {token: abc123}\n", False),
    "empty": ("", False),
    "oversized": ("# padding\n" * (DEFAULT_LIMITS.size // 10 + 1), True),  # past the 1 MB limit
}
CONFIG_READERS = [("config", "check"), ("config", "show"), ("patient", "list"), ("appt", "day"),
                  ("remind", "send", "--dry-run"), ("staff", "list"), ("bill", "balance", "P1")]


@pytest.mark.parametrize("hostile", sorted(HOSTILE_CONFIG))
def test_hostile_configuration_keeps_the_contract(workspace: Workspace, hostile: str):
    """A hostile configuration file: `config check` and a command of the office keep the contract
    (no internal error, no hang), a failure is exit 3 naming the file, and `config check`
    refuses a broken file."""

    @settings(FUZZ_SETTINGS, max_examples=EXAMPLES)
    @given(name=st.sampled_from(CONFIG_FILES), command=st.sampled_from(CONFIG_READERS[2:]))
    def keeps_the_contract(name, command):
        check_with(name, command)

    def check_with(name, command):
        workspace.reset()
        text, broken = HOSTILE_CONFIG[hostile]
        (workspace.home / name).write_text(text, errors="surrogateescape")
        del workspace.network_attempts[:]
        with NetworkGuard(workspace.network_attempts):
            outcome = workspace.run(list(command), TIMEOUT, fresh=False)
        problems = config_violations(outcome, workspace.network_attempts, name, hostile, broken)
        outcome.argv = [f"({hostile} in {name})", *outcome.argv]
        expect(outcome, problems)

    for name in CONFIG_FILES:  # every file through `config check` and `config show`, then a sample
        check_with(name, CONFIG_READERS[0])
        check_with(name, CONFIG_READERS[1])
    keeps_the_contract()


def config_violations(outcome, attempts: list[str], name: str, hostile: str, broken: bool) -> list[str]:
    """The contract with a hostile `name`: the general one (a refusal may not write), a failure
    names the file, `config check` refuses what is broken."""
    problems = contract_violations(outcome, attempts)
    if outcome.exit_code == 3 and name not in outcome.stderr and "configuration" not in outcome.stderr:
        problems.append(f"exit 3 without naming {name}: {outcome.stderr.strip()[:200]}")
    # codes.yaml may hold a whole HCPCS list: its size limit is 16 MB (config.LIMITS), too slow to pass here.
    oversized_codes = hostile == "oversized" and name in LIMITS
    if outcome.argv[:2] == ["config", "check"] and broken and outcome.exit_code != 3 and not oversized_codes:
        problems.append(f"config check passed a {hostile} {name}: exit {outcome.exit_code}")
    return problems


@pytest.mark.parametrize(("exit_code", "stdout", "stderr", "data_changes", "expected"), [
    (3, "", "medsec: error: internal error: ValueError: x (run again with --debug)\n", [], "internal error"),
    (2, "", "medsec: error: bad\nmedsec: error: worse\n", [], "2 'medsec: error:' lines"),
    (3, "", "medsec: error: the amount is too large\n", [], "not about the environment"),
    (1, "", "medsec: error: no patient P9\n", ["changed patients/00000.json"], "changed the data directory"),
    (2, "", "medsec: error: name: '" + "x" * 5000 + "'\n", [], "an error line of"),
    (2, "", "medsec: error: name: '\x1b]0;pwned\x07'\n", [], "raw control character"),
    (0, "Di\x1b]0;x\x07\n", "", [], "raw control character"),
    (5, "", "", [], "exit 5"),
])
def test_the_contract_bites(exit_code, stdout, stderr, data_changes, expected):
    """Each property of the contract flags the outcome that breaks it."""
    outcome = Outcome(["patient", "list"], exit_code, stdout, stderr, data_changes, [])
    assert any(expected in problem for problem in contract_violations(outcome, []))
    assert contract_violations(Outcome(["patient", "list"], 3, "", "medsec: error: staff.yaml line 2: bad\n", [], []),
                               []) == []


def test_the_tree_is_covered():
    """The walk reaches every group's commands, built-in and plugin (a broken walk must not pass quietly)."""
    names = {leaf.name for leaf in COMMANDS}
    assert {"patient add", "appt book", "bill pay", "code import", "config check", "backup"} <= names
    assert len(COMMANDS) >= 100
