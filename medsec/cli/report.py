"""`medsec report NAME`: every report that a plugin registers, as a command."""

import click

from medsec.cli.common import pass_app
from medsec.cli.output import output_options, render


def _make(name: str, description: str) -> click.Command:
    @click.command(name, help=description)
    @click.option("--from", "start", default=None, help="First day (default: 30 days ago).")
    @click.option("--to", "end", default=None, help="Last day (default: today).")
    @output_options
    @pass_app
    def run(app, fmt, start, end):
        from datetime import timedelta

        from medsec.services.reports import run_report

        last = app.parse_date(end, "--to") if end else app.today()
        first = app.parse_date(start, "--from") if start else last - timedelta(days=30)
        columns, rows = run_report(app, name, first, last)
        render(rows, fmt, columns)

    return run


class ReportGroup(click.Group):
    """Subcommands come from the report registry, so plugins' reports appear too."""

    def _reports(self):
        from medsec.plugins import collect, get_plugin_manager

        return collect(get_plugin_manager(), "register_reports")

    def list_commands(self, ctx):
        return sorted(self._reports())

    def get_command(self, ctx, name):
        found = self._reports().get(name)
        return _make(name, found.item.description) if found else None


@click.group(cls=ReportGroup)
def report():
    """Reports for the office manager."""
