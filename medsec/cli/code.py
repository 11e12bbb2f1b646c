"""`medsec code`: look codes up in the registered coding tables."""

import click

from medsec.cli.common import limit_option, pass_app
from medsec.cli.output import output_options, render
from medsec.services import codes as svc

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


@code.command("tables")
@output_options
@pass_app
def tables(app, fmt):
    """The coding tables plugins provide."""
    render(svc.list_tables(app), fmt, ["name", "system", "description", "plugin"])
