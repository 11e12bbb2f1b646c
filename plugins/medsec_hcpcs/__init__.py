"""Bundled plugin: import HCPCS Level II codes into the practice's codes.yaml.

``medsec code-import FILE [--input-format hcpcs|csv] [--dry-run]`` reads either

- the CMS HCPCS Level II annual file (``HCPC<year>_<MON>_ANWEB...txt``,
  fixed-width records; see ``importer.py`` for the columns read), or
- a CSV with a header row and the columns ``code,description[,fee][,system]``
  (system ``HCPCS`` by default, or ``CPT`` for the practice's own CPT list),

and merges the codes into codes.yaml: imported codes get the file's
description (and the CSV's fee, when it gives one); every other entry, the
practice's fees and its CPT list stay as they are. Level I (CPT) codes in a
CMS file are skipped: CPT text is the AMA's and medsec never ships it. A bad
row stops the import (exit 2, each problem with its line number) and nothing
is written; ``--dry-run`` reports what would change and writes nothing.

The work is done by ``medsec_hcpcs.importer.import_codes(app, path, fmt,
dry_run)``, which the core can call from ``medsec code import``. Only the
command definition lives here, so loading this plugin costs next to nothing.
"""

from medsec import hookimpl

FORMATS = ("hcpcs", "csv")


def import_codes(app, path: str, fmt: str | None = None, dry_run: bool = False) -> dict:
    """Merge the codes in `path` into codes.yaml; see importer.import_codes."""
    from medsec_hcpcs.importer import import_codes as run

    return run(app, path, fmt, dry_run)


@hookimpl
def register_commands(cli):
    import click

    from medsec.cli.common import pass_app
    from medsec.cli.output import output_options, render

    @cli.command("code-import")
    @click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
    @click.option("--input-format", type=click.Choice(FORMATS), default=None,
                  help="hcpcs (the CMS annual fixed-width file) or csv (default: detected).")
    @click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
    @output_options
    @pass_app
    def code_import(app, fmt, path, input_format, dry_run):
        """Import HCPCS Level II codes (CMS annual file or CSV) into codes.yaml."""
        render(import_codes(app, path, input_format, dry_run), fmt)
