"""`medsec patient`: register, find and keep patients' records."""

import click

from medsec.cli.choices import ListsValues
from medsec.cli.common import pass_app
from medsec.cli.names import PATIENT, PAYER
from medsec.cli.options import (
    dry_run_option,
    input_format_option,
    json_option,
    list_options,
    output_file_option,
    patient_argument,
    quiet_option,
)
from medsec.cli.output import inform, output_options, render, say
from medsec.records import patients as svc
from medsec.vocabulary import CHANNEL_KINDS

# The patient's details, each an option of `add` and `edit`, with its help text.
DETAIL_FIELDS = {
    "first": "First name.",
    "last": "Last name.",
    "dob": "Date of birth (a date as people type it).",
    "sex": "M, F, X or U (male, female, other, unknown).",
    "phone": "Phone number, 10 digits in any layout, or +country code; an extension may follow "
             "(617-555-0100 ext 12).",
    "email": "Email address.",
    "address": "Street address.",
    "city": "City.",
    "state": "Two-letter USPS code: a state, DC, a territory (PR, GU ...) or AA, AE, AP.",
    "zip": "5- or 9-digit ZIP code.",
    "language": "Preferred language, a code like en or es.",
    "guarantor": "Who pays the patient's bills: a registered patient's id (P42), or 'self'.",
}


def demographic_options(func):
    """The detail options of `patient add` and `patient edit`."""
    for name, help_text in reversed(DETAIL_FIELDS.items()):
        func = click.option(f"--{name}", default=None, help=help_text)(func)
    func = click.option("--preferred-channel", type=click.Choice(CHANNEL_KINDS), default=None,
                        help="How the patient wants reminders.")(func)
    func = click.option("--reminders/--no-reminders", default=None,
                        help="Whether the patient gets reminders (opt-out).")(func)
    return func


def _fields(kwargs) -> dict:
    fields = {k: kwargs.pop(k) for k in [*DETAIL_FIELDS, "preferred_channel", "reminders"]}
    return {k: v for k, v in fields.items() if v is not None}


@click.group()
def patient():
    """Register, find and keep patients' records.

    \b
    Examples:
      medsec patient add --first Ada --last Lovelace --dob 1990-12-10
      medsec patient find ada love
      medsec patient show P301
    """


@patient.command("add")
@demographic_options
@click.option("--allow-duplicate", is_flag=True, help="Register even if name and birth date match.")
@output_options
@pass_app
def add(app, fmt, allow_duplicate, **kwargs):
    """Register a patient.

    --first, --last and --dob are required. A patient with the same name and
    date of birth is refused (exit 1) unless --allow-duplicate.

    \b
    Examples:
      medsec patient add --first Ada --last Lovelace --dob 1990-12-10 \\
          --phone 617-555-0199 --email ada@example.org --preferred-channel email
    """
    record = svc.add_patient(app, _fields(kwargs), allow_duplicate=allow_duplicate)
    render(record, fmt)


@patient.command("show")
@patient_argument()
@output_options
@pass_app
def show(app, fmt, patient_id):
    """Show one patient's record.

    A merged id shows the record it was merged into.

    \b
    Examples:
      medsec patient show P301 --json
    """
    record = svc.show_patient(app, patient_id)
    if record["id"] != patient_id.upper():
        say(f"note: {patient_id.upper()} was merged into {record['id']}")
    render(record, fmt)


@patient.command("edit")
@patient_argument()
@demographic_options
@click.option("--clear", multiple=True, metavar="FIELD", help="Empty a field (repeatable).")
@output_options
@pass_app
def edit(app, fmt, patient_id, clear, **kwargs):
    """Change a patient's details.

    \b
    Examples:
      medsec patient edit P301 --city Boston --zip 02115
      medsec patient edit P301 --clear email
    """
    render(svc.edit_patient(app, patient_id, _fields(kwargs), clear), fmt)


@patient.command("find")
@click.argument("query", nargs=-1)
@click.option("--name", default=None, help="Words that start the patient's name.")
@click.option("--dob", default=None, help="Date of birth (a date as people type it).")
@click.option("--phone", default=None, help="Phone number, or its last digits.")
@click.option("--archived", is_flag=True, help="Include archived patients.")
@list_options
@output_options
@pass_app
def find(app, fmt, query, name, dob, phone, archived, limit):
    """Find patients by name, birth date or phone.

    QUERY is read as an id (P42), a date of birth, a phone number or the
    start of any words of the name ('quin zyz').

    \b
    Examples:
      medsec patient find ada love
      medsec patient find 1990-12-10 --json
      medsec patient find --phone 0199
    """
    asked = {"name": name, "dob": dob, "phone": phone, "include_archived": archived, "limit": limit}
    found = svc.find_patients(app, " ".join(query) or None, **asked)
    if not found and fmt == "table":  # for people, not scripts: the names a typo away, said so
        found = svc.find_patients(app, " ".join(query) or None, **asked, close_spellings=True)
        if found:
            say("no name starts so; these are close spellings")
    render(found, fmt, svc.SUMMARY_COLUMNS)


@patient.command("list")
@click.option("--status", type=click.Choice(["active", "archived", "merged", "all"]), default="active",
              show_default=True, help="Only patients with this status.")
@list_options
@output_options
@pass_app
def list_(app, fmt, status, limit):
    """List patients (active ones unless --status).

    \b
    Examples:
      medsec patient list --limit 5 --format csv
      medsec patient list --status archived
    """
    render(svc.list_patients(app, status, limit), fmt, svc.SUMMARY_COLUMNS)


@patient.command("archive")
@patient_argument()
@click.option("--reason", default="", help="Why (moved away, deceased ...).")
@click.option("--restore", is_flag=True, help="Make an archived patient active again.")
@output_options
@pass_app
def archive(app, fmt, patient_id, reason, restore):
    """Archive a patient (nothing is deleted).

    \b
    Examples:
      medsec patient archive P303 --reason "moved away"
      medsec patient archive P303 --restore
    """
    render(svc.archive_patient(app, patient_id, reason, restore), fmt, svc.SUMMARY_COLUMNS)


@patient.command("merge")
@click.argument("duplicate_id", type=PATIENT, metavar="DUPLICATE")
@click.option("--into", "survivor_id", type=PATIENT, required=True, metavar="PATIENT",
              help="The record that stays (an id or a name).")
@output_options
@pass_app
def merge(app, fmt, duplicate_id, survivor_id):
    """Merge a duplicate into the record that stays.

    \b
    Examples:
      medsec patient merge P305 --into P302
    """
    render(svc.merge_patients(app, duplicate_id, survivor_id), fmt)


@patient.group("coverage")
def coverage():
    """A patient's insurance coverages.

    \b
    Examples:
      medsec patient coverage add P301 --payer HARBOR --member-id HAR555 --group G1
      medsec patient coverage list P301
    """


COVERAGE_COLUMNS = ["rank", "payer", "member_id", "group", "relationship", "subscriber", "start", "end",
                    "eligibility"]


def _coverage_rows(coverages: list[dict], fmt: str) -> list[dict]:
    """Coverages with their eligibility state: every key in JSON and YAML, words in a table or CSV."""
    from medsec.records.coverage import eligibility_of

    rows = []
    for c in coverages:
        elig = eligibility_of(c)
        if fmt in ("table", "csv"):
            words = elig["state"] + (f" as of {elig['as_of']}" if elig["as_of"] else "")
            rows.append({**c, "eligibility": words + (f" ({elig['source']})" if elig["source"] else "")})
        else:
            rows.append({**c, "eligibility": elig})
    return rows


@coverage.command("add")
@patient_argument()
@click.option("--payer", type=PAYER, required=True, help="Payer: its id or name from payers.yaml.",
              cls=ListsValues, values="payers")
@click.option("--member-id", required=True, help="Member (subscriber) id on the card.")
@click.option("--group", default="", help="Group number.")
@click.option("--rank", type=click.Choice(svc.RANKS), default="primary", show_default=True,
              help="Order of billing: primary first.")
@click.option("--relationship", type=click.Choice(svc.RELATIONSHIPS), default="self", show_default=True,
              help="Patient's relationship to the subscriber.")
@click.option("--subscriber", default="", help="Subscriber's name when not the patient.")
@click.option("--subscriber-dob", default="", help="Subscriber's date of birth.")
@click.option("--start", default="", metavar="DATE", help="Coverage start date (a date as people type it).")
@click.option("--end", default="", metavar="DATE", help="Coverage end date (a date as people type it).")
@click.option("--replace", is_flag=True, help="Replace the coverage of the same rank.")
@output_options
@pass_app
def coverage_add(app, fmt, patient_id, **kwargs):
    """Add an insurance coverage.

    \b
    Examples:
      medsec patient coverage add P301 --payer HARBOR --member-id HAR555 --group G1
      medsec patient coverage add P301 --payer ACME --member-id A77 --rank secondary \\
          --relationship spouse --subscriber "Sam Lovelace"
    """
    render(svc.add_coverage(app, patient_id, **kwargs), fmt)


@coverage.command("list")
@patient_argument()
@list_options
@output_options
@pass_app
def coverage_list(app, fmt, patient_id, limit):
    """List a patient's coverages, primary first.

    \b
    Examples:
      medsec patient coverage list P301
    """
    coverages = svc.show_patient(app, patient_id)["coverages"]
    render(_coverage_rows(coverages[:limit] if limit else coverages, fmt), fmt, COVERAGE_COLUMNS)


@coverage.command("edit")
@patient_argument()
@click.option("--rank", type=click.Choice(svc.RANKS), required=True, help="The coverage to change.")
@click.option("--payer", type=PAYER, default=None, help="Payer: its id or name from payers.yaml.",
              cls=ListsValues, values="payers")
@click.option("--member-id", default=None, help="Member (subscriber) id on the card.")
@click.option("--group", default=None, help="Group number ('' clears it).")
@click.option("--relationship", type=click.Choice(svc.RELATIONSHIPS), default=None,
              help="Patient's relationship to the subscriber.")
@click.option("--subscriber", default=None, help="Subscriber's name when not the patient.")
@click.option("--subscriber-dob", default=None, help="Subscriber's date of birth.")
@click.option("--start", default=None, metavar="DATE", help="Coverage start date ('' clears it).")
@click.option("--end", default=None, metavar="DATE", help="Coverage end date ('' clears it).")
@output_options
@pass_app
def coverage_edit(app, fmt, patient_id, rank, **kwargs):
    """Change fields of a coverage.

    Only the options given change; the coverage is checked as `coverage add`
    checks it. A new payer or member id forgets the eligibility state.

    \b
    Examples:
      medsec patient coverage edit P301 --rank primary --member-id HAR556 --start 2026-01-01
      medsec patient coverage edit P301 --rank primary --group "" --end ""
    """
    render(svc.edit_coverage(app, patient_id, rank, **kwargs), fmt)


@coverage.command("end")
@patient_argument()
@click.option("--rank", type=click.Choice(svc.RANKS), required=True, help="The coverage that ends.")
@click.option("--on", "on", required=True, metavar="DATE", help="Its last day (a date as people type it).")
@output_options
@pass_app
def coverage_end(app, fmt, patient_id, rank, on):
    """End a coverage on a day.

    Visits after that day are flagged at check-in, on the day sheet and by
    the claim scrubber. An end before the coverage's start is refused (exit 2).

    \b
    Examples:
      medsec patient coverage end P301 --rank primary --on 2026-12-31
    """
    render(svc.end_coverage(app, patient_id, rank, on), fmt)


@coverage.command("remove")
@patient_argument()
@click.option("--rank", type=click.Choice(svc.RANKS), required=True, help="The coverage to remove.")
@output_options
@pass_app
def coverage_remove(app, fmt, patient_id, rank):
    """Remove a coverage.

    \b
    Examples:
      medsec patient coverage remove P301 --rank secondary
    """
    render(svc.remove_coverage(app, patient_id, rank)["coverages"], fmt, COVERAGE_COLUMNS)


@patient.command("note")
@patient_argument()
@click.argument("text", required=False)
@output_options
@pass_app
def note(app, fmt, patient_id, text):
    """Add a note to a patient, or list the notes.

    Without TEXT, lists the patient's notes.

    \b
    Examples:
      medsec patient note P301 "Prefers morning appointments"
      medsec patient note P301
    """
    if text is None:
        render(svc.show_patient(app, patient_id)["notes"], fmt, ["at", "by", "text"])
    else:
        render(svc.add_note(app, patient_id, text), fmt)


@patient.command("attach")
@patient_argument()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--label", default="", help="What it is (insurance card, referral ...).")
@output_options
@pass_app
def attach(app, fmt, patient_id, file, label):
    """Attach a scan or document to a patient.

    The file is stored by content hash in the data directory.

    \b
    Examples:
      medsec patient attach P301 card.pdf --label "insurance card"
    """
    render(svc.attach_file(app, patient_id, file, label), fmt)


@patient.command("restrict")
@patient_argument()
@click.option("--to-role", "roles", multiple=True, metavar="ROLE",
              help="A role whose members may open the chart (repeatable).")
@click.option("--clear", is_flag=True, help="Lift the restriction.")
@output_options
@pass_app
def restrict(app, fmt, patient_id, roles, clear):
    """Restrict a patient's chart to some roles.

    For a staff member's chart, or a VIP's. On a signed-in practice, a
    member whose role is not listed is refused (exit 1, audited) by every
    command that opens this patient by id: show, edit, notes, coverages,
    attachments, booking and listing their appointments, their bills and
    claims, refills, labs, referrals. Searches and lists across patients
    (patient find and list, appt day, appt export, remind followups) still
    show the name and id, so that the front desk sees the patient on the
    day and does not register them twice. In an emergency a physician or
    nurse opens the chart with medsec --break-glass "REASON" ...: granted,
    audited with the reason, listed by report break-glass. An open practice
    keeps the restriction but does not enforce it.

    \b
    Examples:
      medsec patient restrict P12 --to-role physician
      medsec patient restrict P12 --to-role physician --to-role nurse
      medsec patient restrict P12 --clear
    """
    render(svc.restrict_patient(app, patient_id, roles, clear), fmt)


@patient.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@input_format_option("patient-importers")
@click.option("--map", "mappings", multiple=True, metavar="FIELD=COLUMN",
              help="Read FIELD from COLUMN (repeatable), e.g. --map dob=BirthDate.")
@dry_run_option(help="Check every row; write nothing.")
@click.option("--skip-bad", is_flag=True, help="Import the good rows, report the bad ones.")
@click.option("--allow-duplicate", is_flag=True, help="Import rows that match an existing patient.")
@quiet_option
@output_options
@pass_app
def import_(app, fmt, file, input_format, mappings, dry_run, skip_bad, allow_duplicate):
    """Import patients: all rows or none.

    FILE is a CSV with a header, Synthea's patients.csv, or a format a plugin
    reads; '-' reads standard input. With --skip-bad the good rows go in and
    the bad ones are reported.

    \b
    Examples:
      medsec patient import new.csv --dry-run
      medsec patient import other.csv --map first=Given --map last=Family --map dob=Born
      medsec patient export --format csv | medsec patient import - --dry-run
    """
    from medsec.progress import on_terminal
    from medsec.records import patient_io  # pluggy (~4 ms): find and show must not pay for it

    with on_terminal() as progress:
        summary = patient_io.import_patients(
            app, file, input_format=input_format, mapping=patient_io.parse_mapping(mappings),
            dry_run=dry_run, skip_bad=skip_bad, allow_duplicate=allow_duplicate, progress=progress,
        )
    for problem in summary["problems"]:
        say(f"{file}:{problem['line']}: {problem['message']}")
    render({k: v for k, v in summary.items() if k != "problems"}, fmt)


@patient.command("export")
@click.option("--format", "fmt", default="csv", show_default=True, help="csv, json, or a plugin's format.",
              cls=ListsValues, values="patient-exporters")
@json_option
@output_file_option()
@click.option("--status", type=click.Choice(["active", "archived", "all"]), default="active", show_default=True,
              help="Only patients with this status.")
@quiet_option
@pass_app
def export(app, fmt, as_json, output, status):
    """Export patients (CSV, JSON or a plugin's).

    CSV cells are safe to open in a spreadsheet.

    \b
    Examples:
      medsec patient export --format csv -o ./patients.csv
      medsec patient export --json --status all -o ./patients.json
    """
    from medsec.records import patient_io  # pluggy (~4 ms): find and show must not pay for it

    fmt = "json" if as_json else fmt

    count = patient_io.export_patients(app, fmt, output, status)
    if output:
        inform(f"wrote {count} patients to {output}")


# -- who pays the patient's bills (responsible party) ------------------------------------
@patient.command("guarantor")
@patient_argument()
@click.option("--patient", "guarantor_id", type=PATIENT, default=None, metavar="PATIENT",
              help="A registered patient who pays (a parent's record).")
@click.option("--self", "self_pay", is_flag=True, help="The patient pays their own bills.")
@click.option("--name", default=None, help="A responsible party who is not a patient: full name.")
@click.option("--relationship", default="", help="With --name: parent, spouse, guardian, other ...")
@click.option("--address", default=None, help="With --name: street address.")
@click.option("--city", default=None, help="With --name: city.")
@click.option("--state", default=None, help="With --name: two-letter USPS code.")
@click.option("--zip", "zip_code", default=None, help="With --name: ZIP code.")
@click.option("--phone", default=None, help="With --name: phone number.")
@click.option("--email", default=None, help="With --name: email address.")
@output_options
@pass_app
def guarantor(app, fmt, patient_id, guarantor_id, self_pay, name, **party):
    """Set who pays the patient's bills.

    A registered patient (--patient), a responsible party with an address
    (--name ... --address ... --city ... --zip ...), or the patient (--self).
    Statements and invoices are addressed to them.

    \b
    Examples:
      medsec patient guarantor P301 --self
      medsec patient guarantor P301 --patient P300
      medsec patient guarantor P301 --name "Ann Byrne" --address "1 Elm St" --city Boston --zip 02115
    """
    from medsec.errors import InvalidInput
    from medsec.records.guarantors import set_guarantor

    given = {k: v for k, v in party.items() if v not in (None, "")}
    if given and name is None:
        raise InvalidInput("--relationship, --address ... describe a responsible party: give --name too")
    details = {**{k: v or "" for k, v in party.items()}, "zip": party["zip_code"] or "", "name": name}
    details.pop("zip_code")
    render(set_guarantor(app, patient_id, patient=guarantor_id, party=details if name is not None else None,
                         self_pay=self_pay), fmt)
