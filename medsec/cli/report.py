"""`medsec report NAME`: every report that a plugin registers, as a command."""

import click

from medsec.cli.common import pass_app
from medsec.cli.output import FORMATS, render_text, say
from medsec.outputs import write_output


def _make(name: str, description: str) -> click.Command:
    @click.command(name, help=description)
    @click.option("--from", "start", default=None, help="First day (default: 30 days ago).")
    @click.option("--to", "end", default=None, help="Last day (default: today).")
    @click.option("--format", "fmt", type=click.Choice(FORMATS + ["html"]), default="table",
                  help="Output format; html is a page with an SVG chart.")
    @click.option("--json", "as_json", is_flag=True, help="Short for --format json.")
    @click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to FILE.")
    @pass_app
    def run(app, fmt, as_json, start, end, output):
        from datetime import timedelta

        from medsec.errors import InvalidInput
        from medsec.reports.run import run_report

        fmt = "json" if as_json else fmt
        last = app.parse_date(end, "--to") if end else app.today()
        first = app.parse_date(start, "--from") if start else last - timedelta(days=30)
        columns, rows = run_report(app, name, first, last)
        if fmt == "html":
            from medsec.reports.html import render_page

            text = render_page(f"{name.capitalize()} report", f"{description}; {first} to {last}", columns, rows)
        else:
            text = render_text(rows, fmt, columns)
        if output:
            write_output(output, text.encode(), data_dir=app.data_dir)
            say(f"wrote {output}")
        elif fmt == "html":
            raise InvalidInput("--format html needs -o FILE")
        else:
            click.echo(text, nl=False)

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
