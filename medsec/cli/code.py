"""`medsec code`: look codes up in the registered coding tables."""

import click

from medsec.cli.common import limit_option, pass_app
from medsec.cli.output import output_options, render
from medsec.coding import codes as svc

COLUMNS = ["code", "system", "description", "table"]


@click.group("code")
def code():
    """Search and show codes (ICD-10-CM, the practice's CPT/HCPCS list ...)."""


@code.command("search")
@click.argument("text", nargs=-1, required=True)
@click.option("--system", default=None, help="Only this table or code system.")
@limit_option
@output_options
@pass_app
def search(app, fmt, text, system, limit):
    """Codes whose description words start with TEXT, or whose code does."""
    render(svc.search_codes(app, " ".join(text), system, limit), fmt, COLUMNS)


@code.command("show")
@click.argument("code_value", metavar="CODE")
@click.option("--system", default=None)
@output_options
@pass_app
def show(app, fmt, code_value, system):
    """One code and its description."""
    render(svc.show_code(app, code_value, system), fmt)


@code.command("import")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--input-format", default=None, help="The file's format (default: detected); see 'medsec plugins'.")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@output_options
@pass_app
def import_(app, fmt, path, input_format, dry_run):
    """Merge a code file (e.g. the CMS HCPCS annual file, or a CSV) into codes.yaml."""
    render(svc.import_codes(app, path, input_format, dry_run), fmt)


@code.command("tables")
@output_options
@pass_app
def tables(app, fmt):
    """The coding tables plugins provide."""
    render(svc.list_tables(app), fmt, ["name", "system", "description", "plugin"])
