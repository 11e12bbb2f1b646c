"""`medsec report NAME`: every report that a plugin registers, as a command."""

from datetime import timedelta

import click

from medsec.cli.common import pass_app
from medsec.cli.options import (
    date_range_options,
    no_pager_option,
    output_file_option,
    patient_argument,
    quiet_option,
)
from medsec.cli.output import FORMATS, inform, output_options, render, render_text
from medsec.clock import day_for_people
from medsec.errors import InvalidInput
from medsec.outputs import write_output
from medsec.plugins import collect, get_plugin_manager
from medsec.reports.html import render_page
from medsec.reports.run import run_report


def _make(name: str, description: str) -> click.Command:
    summary = description[:1].upper() + description[1:]  # plugins describe reports in lower case

    @click.command(name, help=f"{summary}.{_examples(name)}", short_help=summary)
    @date_range_options(first="30 days before the last", last="today")
    @click.option("--format", "fmt", type=click.Choice(FORMATS + ["html"]), default="table",
                  help="Output format; html is a page with an SVG chart (needs -o).")
    @click.option("--json", "as_json", is_flag=True, help="Short for --format json.")
    @output_file_option()
    @no_pager_option
    @quiet_option
    @pass_app
    def run(app, fmt, as_json, start, end, output, no_pager):
        fmt = "json" if as_json else fmt
        if fmt == "html" and not output:
            raise InvalidInput("--format html needs -o FILE")
        last = app.parse_date(end, "--to") if end else app.today()
        first = app.parse_date(start, "--from") if start else last - timedelta(days=30)
        columns, rows = run_report(app, name, first, last)
        if not output:  # for people (a table that fits the terminal) or a script
            render(rows, fmt, columns,
                   empty=f"nothing to report from {day_for_people(first)} to {day_for_people(last)}")
            return
        if fmt == "html":
            text = render_page(f"{name.capitalize()} report", f"{description}; {first} to {last}", columns, rows)
        else:
            text = render_text(rows, fmt, columns)
        write_output(output, text.encode(), data_dir=app.data_dir)  # the file, and nothing on stdout
        inform(f"wrote {output}")

    return run


def _examples(name: str) -> str:
    """The Examples block of report `name`'s help."""
    return (f"\n\n\b\nExamples:\n  medsec report {name} --from 2026-11-01 --to 2026-11-30"
            f"\n  medsec report {name} --format html -o ./{name}.html")


class ReportGroup(click.Group):
    """Subcommands come from the report registry, so plugins' reports appear too."""

    def _reports(self):
        return collect(get_plugin_manager(), "register_reports")

    def list_commands(self, ctx):
        return sorted({*self._reports(), *self.commands})

    def get_command(self, ctx, name):
        if name in self.commands:  # a report of its own shape (about one patient ...)
            return self.commands[name]
        found = self._reports().get(name)
        return _make(name, found.item.description) if found else None


@click.group(cls=ReportGroup)
def report():
    """Reports for the office manager.

    Each report a plugin registers is a subcommand; --format html -o FILE
    writes a page with a chart.

    \b
    Examples:
      medsec report aging
      medsec report claims --format html -o ./claims.html
    """


@report.command("disclosures")
@patient_argument()
@date_range_options(first="six years before the last", last="today", what="of a disclosure")
@click.option("--required-only", is_flag=True,
              help="Only the disclosures HIPAA 164.528 requires in the accounting (not treatment, payment, "
                   "operations, to the patient or authorized).")
@output_options
@output_file_option()
@pass_app
def disclosures(app, fmt, patient_id, start, end, required_only, output):
    """A patient's accounting of disclosures.

    Every time the patient's information left the practice (HIPAA 164.528):
    faxes from any workflow, post and email, referral letters posted. Each
    row says when, to whom, what, why, by whom and how, and whether the rule
    requires it in the accounting (`accountable`; the exemption in
    `exempt_as`). Default period: the six years the rule covers. Audited as
    a read of the patient's record.

    \b
    Examples:
      medsec report disclosures P1
      medsec report disclosures P1 --from 2026-01-01 --required-only --json
    """
    from medsec.reports.disclosures import COLUMNS
    from medsec.reports.disclosures import disclosures as build

    last = app.parse_date(end, "--to") if end else None
    first = app.parse_date(start, "--from") if start else None
    if first and not last and first > app.today():
        raise InvalidInput(f"--from {first} is after today")
    rows = build(app, patient_id, first=first, last=last, required_only=required_only)
    if not output:
        render(rows, fmt, COLUMNS, empty=f"no disclosures of {patient_id.upper()}'s information in that period")
        return
    write_output(output, render_text(rows, fmt, COLUMNS).encode(), data_dir=app.data_dir)
    inform(f"wrote {output}")
