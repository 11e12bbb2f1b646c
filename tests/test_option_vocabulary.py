"""One vocabulary of options (README, Conventions), checked on the whole command tree, and the old
spellings renamed to follow it: still read for one release, with a note on stderr and the same result.

- `--from/--to` say when (a DATE, a WHEN, or a time of day in `staff hours`), `--for DATE` names
  a day, `--since` is a day too; people are `--patient`, `--provider` or `--staff`; numbers are
  `--phone` or `--number`.
- Every command that lists records takes `--limit`, `-o` and `--json` (and `--from/--to` when its
  records are dated).
- An old spelling (medsec.cli.options.Renamed) does what the new one does, says so on stderr,
  and is a usage error (exit 2, nothing written) together with the new one.
"""

import json
import re

import click
import pytest
from helpers.cli import Medsec, cli_env
from helpers.files import snapshot
from helpers.practices import setup_office, use_test_channel

from medsec.cli import cli
from medsec.cli.names import Named
from medsec.cli.options import DEPRECATION_NOTE, Renamed

# The words of the vocabulary, and the metavars that say "when".
WHEN_WORDS = {"--from", "--to", "--for", "--since", "--until"}
WHEN_METAVARS = {"DATE", "WHEN"}
PEOPLE = {"--patient", "--provider", "--staff"}
NUMBERS = {"--phone", "--number"}
# A time of day is a "when" only where the command-line contract says so.
TIMES_OF_DAY = {("medsec staff hours", "--from"), ("medsec staff hours", "--to")}
# A person named by their part in what the command does, not a filter: the patient who survives a merge.
PEOPLE_BY_PART = {("medsec patient merge", "--into"),
                  ("medsec appt day", "--send"),  # the staff member the day sheet is sent to
                  ("medsec lab order", "--physician"),  # the ordering physician
                  # the author of a document, who signs it
                  ("medsec doc new", "--author"), ("medsec doc addendum", "--author"),
                  ("medsec dictation add", "--author")}
# `audit --patient` takes any record id (an appointment's, a claim's): a patient's is what it is for.
ANY_RECORD = {("medsec audit", "--patient")}

# Commands that list records, and (None: undated records) the day their --from/--to compare.
LISTS = {
    "medsec appt list": "start", "medsec appt day": None, "medsec appt slots": "start",
    "medsec appt waitlist list": "created", "medsec audit": "at", "medsec bill charges": "date",
    "medsec bill ledger": "date", "medsec call list": "created", "medsec claim list": "created",
    "medsec code search": None, "medsec code tables": None, "medsec fax list": "created",
    "medsec lab list": "ordered", "medsec mail list": "created", "medsec meeting list": "start",
    "medsec memo list": "created", "medsec patient coverage list": None, "medsec patient find": None,
    "medsec patient list": None, "medsec referral list": "created", "medsec refill list": "created",
    "medsec remind followups": None, "medsec remind list": "created", "medsec staff list": None,
    "medsec task list": "created", "medsec outbox list": None, "medsec token list": None,
    "medsec clearinghouse list": "at", "medsec elig list": "asked_at", "medsec dictation engines": None,
    "medsec doc list": "created", "medsec intake list": None, "medsec intake due": None,
    "medsec intake device list": None,
}


def _options(ctx: click.Context) -> list[click.Option]:
    return [p for p in ctx.command.params if isinstance(p, click.Option)]


def _long(option: click.Option) -> str:
    return max(option.opts, key=len)


def test_from_to_for_and_since_always_say_when(tree):
    wrong = []
    for ctx in tree:
        for option in _options(ctx):
            for name in set(option.opts) & WHEN_WORDS:
                when = option.metavar in WHEN_METAVARS or (ctx.command_path, name) in TIMES_OF_DAY
                if not when:
                    wrong.append(f"{ctx.command_path} {name} {option.metavar or option.type.name}")
    assert wrong == []


def test_people_and_numbers_are_named_as_the_rule_says(tree):
    wrong = []
    for ctx in tree:
        for option in _options(ctx):
            name = _long(option)
            person = isinstance(option.type, Named) and option.type.kind in ("patient", "staff") \
                or option.metavar in ("PATIENT", "STAFF", "STAFF_ID")
            if person and name not in PEOPLE and (ctx.command_path, name) not in PEOPLE_BY_PART:
                wrong.append(f"{ctx.command_path} {name}: a person")
            if option.metavar == "NUMBER" and name not in NUMBERS:
                wrong.append(f"{ctx.command_path} {name}: a number")
            if name in PEOPLE and not person and (ctx.command_path, name) not in ANY_RECORD:
                wrong.append(f"{ctx.command_path} {name}: named for a person, takes {option.metavar}")
    assert wrong == []


def test_every_list_has_limit_output_json_and_its_dates(tree):
    by_path = {ctx.command_path: ctx for ctx in tree}
    missing = []
    for path, dated in LISTS.items():
        names = {name for option in _options(by_path[path]) for name in option.opts}
        wanted = {"--limit", "-o", "--output", "--json"} | ({"--from", "--to"} if dated else set())
        missing += [f"{path} {name}" for name in sorted(wanted - names)]
    assert missing == []
    # every command named `list` is one of them
    named_list = {path for path in by_path if path.endswith(" list")}
    assert named_list - set(LISTS) == set()


def test_no_help_teaches_an_old_spelling(tree):
    """The examples (and every word of help) use the new names; the old ones are in no help."""
    stale = []
    for ctx in tree:
        text = ctx.command.help or ""
        for option in _options(ctx):
            if isinstance(option, Renamed) and re.search(rf"(?<![\w-]){re.escape(option.was)}(?![\w-])", text):
                stale.append(f"{ctx.command_path}: {option.was}")
    assert stale == []
    helped = "\n".join(ctx.get_help() for ctx in tree if any(isinstance(o, Renamed) for o in _options(ctx)))
    assert "deprecated" not in helped


# -- the old spellings --------------------------------------------------------------------------
@pytest.fixture
def twins(tmp_path, templates) -> tuple[Medsec, Medsec]:
    """Two copies of the workflow tests' office: the new spellings run on one, the old on the other
    (by Fran Desk, S4, who has an email address: a meeting's organizer)."""
    made = []
    for name in ("new", "old"):
        home = tmp_path / name / "data"
        office = templates.copy(Medsec(home, {**cli_env(home), "MEDSEC_USER": "fran@example.org"}), setup_office)
        made.append(use_test_channel(office, tmp_path / name / "sent.jsonl"))
    return made[0], made[1]


@pytest.fixture
def pdf(tmp_path):
    doc = tmp_path / "letter.pdf"
    doc.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
                    b"2 0 obj << /Type /Pages /Count 1 >> endobj\n3 0 obj << /Type /Page >> endobj\n%%EOF\n")
    return doc


# Each rename: (the command with its NEW spelling, {new: old}), run in this order on both offices.
CASES = [
    (["call", "log", "--phone", "617-555-0101", "--reason", "refill question", "--staff", "S2"],
     {"--phone": "--from", "--staff": "--for"}),
    (["call", "list", "--staff", "S2"], {"--staff": "--for"}),
    (["call", "assign", "T1", "--staff", "S1"], {"--staff": "--to"}),
    (["task", "add", "Call P1 back", "--staff", "S4", "--patient", "P1"], {"--staff": "--for"}),
    (["task", "list", "--staff", "S4"], {"--staff": "--for"}),
    (["refill", "request", "P1", "--drug", "atorvastatin", "--dose", "20 mg", "--pharmacy", "CVS", "--via", "phone",
      "--provider", "S1"], {"--provider": "--for"}),
    (["refill", "list", "--provider", "S1"], {"--provider": "--for"}),
    (["fax", "receive", "PDF", "--number", "617-555-0199"], {"--number": "--from"}),
    (["fax", "send", "PDF", "--number", "617-555-0150"], {"--number": "--to"}),
    (["mail", "receive", "--sender", "Boston Radiology", "--subject", "MRI report"], {"--sender": "--from"}),
    (["memo", "new", "--staff", "S1,S4", "--var", "body=Fire drill at 3pm"], {"--staff": "--to"}),
    (["referral", "add", "P1", "--specialist", "Boston Cardiology", "--reason", "chest pain", "--dx", "I10",
      "--provider", "S2"], {"--specialist": "--to", "--provider": "--physician"}),
    (["referral", "receive", "--referrer", "Dr. Chen", "--reason", "diabetes care", "--patient", "P2"],
     {"--referrer": "--from"}),
    (["meeting", "schedule", "--title", "Huddle", "--at", "2026-11-27 08:00", "--duration", "30", "--staff", "S1,S2"],
     {"--staff": "--attendees"}),
    (["meeting", "list", "--staff", "S2"], {"--staff": "--attendee"}),
    (["audit", "--from", "2026-11-26", "--limit", "3"], {"--from": "--since"}),
]


def _command_path(words: list[str]) -> str:
    """'medsec call log' of ["call", "log", "--phone", ...]: the words that name the command."""
    command: click.Command = cli
    ctx = click.Context(cli, info_name="medsec")
    for word in words:
        found = command.get_command(ctx, word) if isinstance(command, click.Group) else None
        if found is None:
            break
        command, ctx = found, click.Context(found, info_name=word, parent=ctx)
    return ctx.command_path


def _spelled(words: list[str], renames: dict[str, str]) -> list[str]:
    return [renames.get(word, word) for word in words]


def _as_compared(stdout: str):
    """A command's JSON, without an audit entry's `commit` (a commit's own id, different in each office)."""
    data = json.loads(stdout)
    if isinstance(data, list):
        return [{k: v for k, v in row.items() if k != "commit"} if isinstance(row, dict) else row for row in data]
    return data


def _note(old: str, option: Renamed) -> str:
    return DEPRECATION_NOTE.format(old=old, metavar=option.metavar or option.type.name.upper(), new=_long(option))


def test_every_old_spelling_has_a_case(tree):
    renamed = {(ctx.command_path, option.was, _long(option)) for ctx in tree for option in _options(ctx)
               if isinstance(option, Renamed)}
    covered = {(_command_path(words), old, new) for words, renames in CASES for new, old in renames.items()}
    covered.add(("medsec store copy", "--to", "--into"))  # test_store_copy_reads_its_old_spelling
    assert renamed - covered == set()


def test_old_spellings_do_what_the_new_ones_do(twins, pdf, tree):
    new_office, old_office = twins
    options = {(ctx.command_path, name): option for ctx in tree for option in _options(ctx) for name in option.opts}
    for words, renames in CASES:
        words = [str(pdf) if w == "PDF" else w for w in words]
        new = new_office(*words, "--json")
        old = old_office(*_spelled(words, renames), "--json")
        assert new.exit_code == 0, (words, new.stderr)
        assert old.exit_code == 0, (words, old.stderr)
        assert _as_compared(old.stdout) == _as_compared(new.stdout), words
        notes = [_note(renames[name], options[(_command_path(words), name)]) for name in words if name in renames]
        assert old.stderr.splitlines() == notes + new.stderr.splitlines(), words
        assert "deprecated" not in new.stderr


def test_old_and_new_together_are_a_usage_error(twins, pdf):
    _, office = twins
    before = snapshot(office.home)
    for words, renames in CASES:
        words = [str(pdf) if w == "PDF" else w for w in words]
        for new, old in renames.items():
            value = words[words.index(new) + 1]
            both = office(*words, old, value)
            assert both.exit_code == 2, (words, old, both.stderr)
            assert both.stderr.startswith(f"medsec: error: {old} is the old spelling of {new}: give {new} only"), \
                both.stderr
            assert len(both.stderr.splitlines()) == 1 and both.stdout == ""
    assert snapshot(office.home) == before


def test_old_spellings_take_names_too(twins):
    """Name resolution (medsec.cli.names) works through the old spelling as through the new."""
    new_office, old_office = twins
    new = new_office("task", "add", "Sign the forms", "--staff", "Dr A", "--json")
    old = old_office("task", "add", "Sign the forms", "--for", "Dr A", "--json")
    assert new.exit_code == old.exit_code == 0, (new.stderr, old.stderr)
    assert new.json()["owner"] == old.json()["owner"] == "S1"
    assert "S1 Dr A" in new.stderr and "S1 Dr A" in old.stderr


def test_call_log_takes_a_phone_or_a_patient(twins):
    office, _ = twins
    by_phone = office.json("call", "log", "--phone", "617-555-0101", "--reason", "bill")
    by_patient = office.json("call", "log", "--patient", "P2", "--reason", "bill")
    assert by_phone["patient_id"] == by_patient["patient_id"] == "P2"
    assert by_patient["from_number"] == "617-555-0101"
    for args in ([], ["--phone", "617-555-0101", "--patient", "P2"]):
        refused = office("call", "log", "--reason", "x", *args)
        assert refused.exit_code == 2 and "--phone NUMBER or --patient PATIENT" in refused.stderr


def test_store_copy_reads_its_old_spelling(twins, tmp_path):
    new_office, old_office = twins
    new = new_office("store", "copy", "--into", tmp_path / "copy-new", "--json")
    old = old_office("store", "copy", "--to", tmp_path / "copy-old", "--json")
    assert new.exit_code == old.exit_code == 0, (new.stderr, old.stderr)
    assert old.stdout.replace("copy-old", "copy-new") == new.stdout
    assert old.stderr.startswith("medsec: note: --to TARGET is deprecated: use --into (it goes in the next release)")


# -- the lists ----------------------------------------------------------------------------------
def test_lists_take_dates_limits_and_a_file(twins, tmp_path):
    office, _ = twins
    for day in ("2026-11-24", "2026-11-25", "2026-11-26"):
        office.ok("call", "log", "--phone", "617-555-0101", "--reason", f"call of {day}",
                  env={"MEDSEC_NOW": f"{day}T09:00:00"})
    assert [c["reason"] for c in office.json("call", "list", "--from", "2026-11-25")] == \
        ["call of 2026-11-25", "call of 2026-11-26"]
    assert [c["reason"] for c in office.json("call", "list", "--to", "2026-11-24")] == ["call of 2026-11-24"]
    assert len(office.json("call", "list", "--limit", "2")) == 2
    reversed_range = office("call", "list", "--from", "2026-11-26", "--to", "2026-11-24")
    assert reversed_range.exit_code == 2 and "before --from" in reversed_range.stderr
    out = tmp_path / "calls.csv"
    wrote = office.ok("call", "list", "--from", "2026-11-25", "--format", "csv", "-o", out)
    assert wrote.stdout == "" and f"wrote 2 records to {out}" in wrote.stderr
    assert out.read_text().splitlines()[0].startswith("id,created,") and len(out.read_text().splitlines()) == 3
    to_stdout = office.ok("call", "list", "--format", "jsonl", "-o", "-")
    assert len(to_stdout.stdout.splitlines()) == 3
    inside = office("staff", "list", "-o", office.home / "staff.csv")
    assert inside.exit_code == 2 and "inside the data directory" in inside.stderr
    assert len(office.json("staff", "list", "--limit", "2")) == 2
    assert [e["action"] for e in office.json("audit", "--from", "2026-11-26", "--to", "2026-11-26", "--limit", "1")]
    assert office.json("audit", "--to", "2026-11-01") == []
    slots = office.json("appt", "slots", "--provider", "S1", "--type", "follow-up", "--from", "2026-11-30",
                        "--to", "2026-11-30")
    assert slots and {s["start"][:10] for s in slots} == {"2026-11-30"}
    both = office("appt", "slots", "--provider", "S1", "--type", "follow-up", "--to", "fri", "--days", "3")
    assert both.exit_code == 2 and "--to or --days" in both.stderr


def test_patient_export_takes_json(twins, tmp_path):
    office, _ = twins
    out = tmp_path / "patients.json"
    office.ok("patient", "export", "--json", "-o", out)
    assert [p["id"] for p in json.loads(out.read_text())] == ["P1", "P2", "P3", "P4"]
