"""Bundled plugin: the ICD-10-CM diagnosis codes, as the coding table ``icd10cm``.

The codes come from the PyPI package ``simple-icd-10-cm`` (the CMS release it
ships, e.g. April 2026). Loading that package costs about two seconds, so it
is loaded once, at first use, to build a compact index (see ``index.py``);
every later lookup reads one small JSON shard of that index.

``lookup(data_dir, code)`` accepts ``E11.9`` or ``E119`` (any case) and
returns ``{"code": "E11.9", "description": ..., "billable": bool,
"system": "ICD-10-CM"}`` or None. A code is billable when it is a leaf of the
classification (``is_valid_item(c) and is_leaf(c)``); category and
subcategory codes that have children (``E11``, ``S52.5``) are header codes,
listed with ``billable`` false. Chapters and blocks (``A00-A09``) are not codes.

``search(data_dir, text, limit)`` matches the start of a code (``E11``,
``E11.6``, ``e116``) and description words by their beginnings, ignoring case
and accents (``diab mell`` finds "Type 2 diabetes mellitus ..."): billable
codes first, then in code order.

For the claim scrubber and other plugins there is a plain function::

    from medsec_icd10 import icd10_status
    icd10_status(data_dir, "E11.9")   # -> "billable"
    icd10_status(data_dir, "E11")     # -> "header"  (not billable: use a more specific code)
    icd10_status(data_dir, "X99.99")  # -> "unknown"

Importing this module is cheap: ``simple_icd_10_cm`` is imported only while
the index is built, and the index reader only when a code is looked up.
"""

from medsec import hookimpl
from medsec.plugin_types import CodingTable

SYSTEM = "ICD-10-CM"
TABLE = "icd10cm"


def lookup(data_dir: str, code: str) -> dict | None:
    """The ICD-10-CM code ``code`` (with or without its dot), or None."""
    from medsec_icd10 import index  # every command loads this plugin: the index reader loads when used

    found = index.find(data_dir, code)
    return _row(*found) if found else None


def search(data_dir: str, text: str, limit: int = 20) -> list[dict]:
    """Codes starting with ``text`` or whose description words start with its words."""
    from medsec_icd10 import index  # every command loads this plugin: the index reader loads when used

    return [_row(*hit) for hit in index.search(data_dir, text, limit)]


def icd10_status(data_dir: str, code: str) -> str:
    """``"billable"``, ``"header"`` (a valid code too general to bill) or ``"unknown"``."""
    found = lookup(data_dir, code)
    if found is None:
        return "unknown"
    return "billable" if found["billable"] else "header"


def _row(code: str, description: str, billable: bool) -> dict:
    return {"code": code, "description": description, "billable": bool(billable), "system": SYSTEM}


@hookimpl
def register_coding_tables(register):
    register(CodingTable(TABLE, SYSTEM, "ICD-10-CM diagnosis codes (from simple-icd-10-cm)",
                         lookup, search))
