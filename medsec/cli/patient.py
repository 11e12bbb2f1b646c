"""`medsec patient`: register, find and keep patients' records."""

import sys

import click

from medsec.cli.common import limit_option, pass_app
from medsec.cli.output import output_options, render, say
from medsec.config import CHANNEL_KINDS
from medsec.records import patients as svc

DETAIL_FIELDS = ["first", "last", "dob", "sex", "phone", "email", "address", "city", "state", "zip",
                 "language", "guarantor"]


def demographic_options(func):
    for name in reversed(DETAIL_FIELDS):
        func = click.option(f"--{name}", default=None, help=f"Patient's {name}.")(func)
    func = click.option("--preferred-channel", type=click.Choice(CHANNEL_KINDS), default=None,
                        help="How the patient wants reminders.")(func)
    func = click.option("--reminders/--no-reminders", default=None,
                        help="Whether the patient gets reminders (opt-out).")(func)
    return func


def _fields(kwargs) -> dict:
    fields = {k: kwargs.pop(k) for k in DETAIL_FIELDS + ["preferred_channel", "reminders"]}
    return {k: v for k, v in fields.items() if v is not None}


@click.group()
def patient():
    """Register, find and keep patients' records."""


@patient.command("add")
@demographic_options
@click.option("--allow-duplicate", is_flag=True, help="Register even if name and birth date match.")
@output_options
@pass_app
def add(app, fmt, allow_duplicate, **kwargs):
    """Register a patient (--first, --last and --dob are required)."""
    record = svc.add_patient(app, _fields(kwargs), allow_duplicate=allow_duplicate)
    render(record, fmt)


@patient.command("show")
@click.argument("patient_id")
@output_options
@pass_app
def show(app, fmt, patient_id):
    """Show one patient (a merged id shows its survivor)."""
    record = svc.show_patient(app, patient_id)
    if record["id"] != patient_id.upper():
        say(f"note: {patient_id.upper()} was merged into {record['id']}")
    render(record, fmt)


@patient.command("edit")
@click.argument("patient_id")
@demographic_options
@click.option("--clear", multiple=True, metavar="FIELD", help="Empty a field (repeatable).")
@output_options
@pass_app
def edit(app, fmt, patient_id, clear, **kwargs):
    """Change a patient's details."""
    render(svc.edit_patient(app, patient_id, _fields(kwargs), clear), fmt)


@patient.command("find")
@click.argument("query", nargs=-1)
@click.option("--name", default=None, help="Words that start the patient's name.")
@click.option("--dob", default=None, help="Date of birth.")
@click.option("--phone", default=None, help="Phone number, or its last digits.")
@click.option("--archived", is_flag=True, help="Include archived patients.")
@limit_option
@output_options
@pass_app
def find(app, fmt, query, name, dob, phone, archived, limit):
    """Find patients by name, date of birth, phone or id.

    QUERY is read as an id (P42), a date of birth, a phone number or the
    start of any words of the name ('quin zyz').
    """
    found = svc.find_patients(app, " ".join(query) or None, name=name, dob=dob, phone=phone,
                              include_archived=archived, limit=limit)
    render(found, fmt, svc.SUMMARY_COLUMNS)


@patient.command("list")
@click.option("--status", type=click.Choice(["active", "archived", "merged", "all"]), default="active")
@limit_option
@output_options
@pass_app
def list_(app, fmt, status, limit):
    """List patients (active ones unless --status)."""
    render(svc.list_patients(app, status, limit), fmt, svc.SUMMARY_COLUMNS)


@patient.command("archive")
@click.argument("patient_id")
@click.option("--reason", default="", help="Why (moved away, deceased ...).")
@click.option("--restore", is_flag=True, help="Make an archived patient active again.")
@output_options
@pass_app
def archive(app, fmt, patient_id, reason, restore):
    """Archive a patient (records are never deleted)."""
    render(svc.archive_patient(app, patient_id, reason, restore), fmt, svc.SUMMARY_COLUMNS)


@patient.command("merge")
@click.argument("duplicate_id")
@click.option("--into", "survivor_id", required=True, help="The record that stays.")
@output_options
@pass_app
def merge(app, fmt, duplicate_id, survivor_id):
    """Merge a duplicate record into the one that stays."""
    render(svc.merge_patients(app, duplicate_id, survivor_id), fmt)


@patient.group("coverage")
def coverage():
    """A patient's insurance coverages."""


COVERAGE_COLUMNS = ["rank", "payer", "member_id", "group", "relationship", "subscriber", "start", "end"]


@coverage.command("add")
@click.argument("patient_id")
@click.option("--payer", required=True, help="Payer id from payers.yaml.")
@click.option("--member-id", required=True, help="Member (subscriber) id on the card.")
@click.option("--group", default="", help="Group number.")
@click.option("--rank", type=click.Choice(svc.RANKS), default="primary")
@click.option("--relationship", type=click.Choice(svc.RELATIONSHIPS), default="self",
              help="Patient's relationship to the subscriber.")
@click.option("--subscriber", default="", help="Subscriber's name when not the patient.")
@click.option("--subscriber-dob", default="", help="Subscriber's date of birth.")
@click.option("--start", default="", help="Coverage start date.")
@click.option("--end", default="", help="Coverage end date.")
@click.option("--replace", is_flag=True, help="Replace the coverage of the same rank.")
@output_options
@pass_app
def coverage_add(app, fmt, patient_id, **kwargs):
    """Add an insurance coverage."""
    render(svc.add_coverage(app, patient_id, **kwargs), fmt)


@coverage.command("list")
@click.argument("patient_id")
@output_options
@pass_app
def coverage_list(app, fmt, patient_id):
    """List a patient's coverages, primary first."""
    render(svc.show_patient(app, patient_id)["coverages"], fmt, COVERAGE_COLUMNS)


@coverage.command("remove")
@click.argument("patient_id")
@click.option("--rank", type=click.Choice(svc.RANKS), required=True)
@output_options
@pass_app
def coverage_remove(app, fmt, patient_id, rank):
    """Remove a coverage."""
    render(svc.remove_coverage(app, patient_id, rank)["coverages"], fmt, COVERAGE_COLUMNS)


@patient.command("note")
@click.argument("patient_id")
@click.argument("text", required=False)
@output_options
@pass_app
def note(app, fmt, patient_id, text):
    """Add a note to a patient's record, or list the notes without TEXT."""
    if text is None:
        render(svc.show_patient(app, patient_id)["notes"], fmt, ["at", "by", "text"])
    else:
        render(svc.add_note(app, patient_id, text), fmt)


@patient.command("attach")
@click.argument("patient_id")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--label", default="", help="What it is (insurance card, referral ...).")
@output_options
@pass_app
def attach(app, fmt, patient_id, file, label):
    """Attach a scan or document (stored by content hash)."""
    render(svc.attach_file(app, patient_id, file, label), fmt)


@patient.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--input-format", default=None, help="Force a format (see 'medsec plugins').")
@click.option("--map", "mappings", multiple=True, metavar="FIELD=COLUMN",
              help="Read FIELD from COLUMN (repeatable), e.g. --map dob=BirthDate.")
@click.option("--dry-run", is_flag=True, help="Check every row; write nothing.")
@click.option("--skip-bad", is_flag=True, help="Import the good rows, report the bad ones.")
@click.option("--allow-duplicate", is_flag=True, help="Import rows that match an existing patient.")
@output_options
@pass_app
def import_(app, fmt, file, input_format, mappings, dry_run, skip_bad, allow_duplicate):
    """Import patients from CSV or Synthea's patients.csv; all rows or none."""
    from medsec.records import patient_io

    summary = patient_io.import_patients(
        app, file, input_format=input_format, mapping=patient_io.parse_mapping(mappings),
        dry_run=dry_run, skip_bad=skip_bad, allow_duplicate=allow_duplicate,
        progress=sys.stderr.isatty(),
    )
    for problem in summary["problems"]:
        say(f"{file}:{problem['line']}: {problem['message']}")
    render({k: v for k, v in summary.items() if k != "problems"}, fmt)


@patient.command("export")
@click.option("--format", "fmt", default="csv", help="csv, json, or a plugin's format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write to FILE (default: standard output).")
@click.option("--status", type=click.Choice(["active", "archived", "all"]), default="active")
@pass_app
def export(app, fmt, output, status):
    """Export patients (CSV cells are safe to open in a spreadsheet)."""
    from medsec.records import patient_io

    count = patient_io.export_patients(app, fmt, output, status)
    if output:
        say(f"wrote {count} patients to {output}")
