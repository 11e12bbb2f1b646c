"""Bundled plugin: HCPCS Level II code files for ``medsec code import``.

``medsec code import FILE [--input-format hcpcs|codes-csv] [--dry-run]``
reads either

- ``hcpcs``: the CMS HCPCS Level II annual file (``HCPC<year>_<MON>_ANWEB...txt``,
  fixed-width records; see ``importer.py`` for the columns read), or
- ``codes-csv``: a CSV with a header row and the columns
  ``code,description[,fee][,system]`` (system ``HCPCS`` by default, or
  ``CPT`` for the practice's own CPT list),

and medsec merges the codes into codes.yaml. Both are registered through
``register_importers`` as importers of kind ``codes``: ``detect(header)``
gets the first line's CSV cells, ``read(path, options)`` yields
``(line, {"code", "system", "description"[, "fee"]})`` per code and
``(line, ValueError)`` per bad row, and counts skipped rows into
``options["skipped"]``. Level I (CPT) codes in a CMS file are skipped: CPT
text is the AMA's and medsec never ships it. Modifier records are skipped too.

Only the registration lives here, so loading this plugin costs next to nothing.
"""

from medsec import hookimpl
from medsec.plugin_types import Importer


def read_annual(path: str, options: dict):
    from medsec_hcpcs.importer import read_rows  # every command loads this plugin: the reader loads when used

    return read_rows(path, "hcpcs", options)


def read_csv(path: str, options: dict):
    from medsec_hcpcs.importer import read_rows  # every command loads this plugin: the reader loads when used

    return read_rows(path, "csv", options)


def detect_annual(header: list[str]) -> bool:
    """A CMS fixed-width record: code, sequence number (columns 6-10), record id 3/4/7/8 (column 11)."""
    first = header[0] if header else ""
    return len(first) >= 11 and first[10] in "3478" and first[5:10].strip().isdigit()


def detect_csv(header: list[str]) -> bool:
    """A header row naming at least the code and description columns."""
    columns = [c.strip().lower() for c in header]
    return "code" in columns and "description" in columns


@hookimpl
def register_importers(register):
    register(Importer("hcpcs", "codes", "CMS HCPCS Level II annual file (fixed width)", read_annual,
                      detect_annual))
    register(Importer("codes-csv", "codes", "codes as CSV: code,description[,fee][,system]", read_csv,
                      detect_csv))
