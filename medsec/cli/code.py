"""`medsec code`: look codes up in the registered coding tables."""

import click

from medsec.cli.choices import ListsValues
from medsec.cli.common import pass_app
from medsec.cli.options import dry_run_option, input_format_option, list_options, quiet_option
from medsec.cli.output import output_options, render
from medsec.coding import codes as svc

COLUMNS = ["code", "system", "description", "table"]


@click.group("code")
def code():
    """Look up diagnosis and procedure codes.

    In the coding tables plugins register: ICD-10-CM, HCPCS, the practice's
    CPT list (codes.yaml) ...

    \b
    Examples:
      medsec code search follow visit
      medsec code show 99213 --json
    """


@code.command("search")
@click.argument("text", nargs=-1, required=True)
@click.option("--system", default=None, help="Only this table or code system (see 'medsec code tables').",
              cls=ListsValues, values="coding-tables")
@list_options
@output_options
@pass_app
def search(app, fmt, text, system, limit):
    """Find codes by the start of their words.

    Codes whose description words start with the words of TEXT, or whose
    code starts with TEXT.

    \b
    Examples:
      medsec code search follow visit
      medsec code search dexameth --system HCPCS
      medsec code search E11 --limit 10
    """
    render(svc.search_codes(app, " ".join(text), system, limit), fmt, COLUMNS)


@code.command("show")
@click.argument("code_value", metavar="CODE")
@click.option("--system", default=None, help="Look in this table or code system only.", cls=ListsValues,
              values="coding-tables")
@output_options
@pass_app
def show(app, fmt, code_value, system):
    """One code and its description.

    \b
    Examples:
      medsec code show 99213 --json
      medsec code show J1100
    """
    render(svc.show_code(app, code_value, system), fmt)


@code.command("import")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@input_format_option("code-importers")
@dry_run_option(help="Report what would change; write nothing.")
@quiet_option
@output_options
@pass_app
def import_(app, fmt, path, input_format, dry_run):
    """Merge a code file into codes.yaml.

    FILE is the CMS HCPCS annual file, a CSV, or a format a plugin reads.

    \b
    Examples:
      medsec code import hcpcs.csv --dry-run
      medsec code import hcpcs.csv
    """
    render(svc.import_codes(app, path, input_format, dry_run), fmt)


@code.command("tables")
@list_options
@output_options
@pass_app
def tables(app, fmt, limit):
    """The coding tables plugins provide.

    \b
    Examples:
      medsec code tables --json
    """
    found = svc.list_tables(app)
    render(found[:limit] if limit else found, fmt, ["name", "system", "description", "plugin"])
