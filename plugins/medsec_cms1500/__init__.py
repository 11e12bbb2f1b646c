"""Bundled plugin: the claim format ``cms1500``, a printable CMS-1500 (02/12) PDF.

``medsec claim export C12 --format cms1500 -o claim.pdf`` writes one form
per claim (six service lines per form; a claim with more lines continues on
further pages, the total in item 28 on its last page). Data are placed per
the NUCC 1500 instructions on the form's 10-characters-per-inch, 6-lines-
per-inch grid, for printing on the red pre-printed stock: the red form is not
drawn, only each field's item number and name in small grey type so that a
person (or a test) can read the page. Options:

- ``draw_form``: also draw the boxes' outlines (for plain paper);
- ``offset_x`` / ``offset_y``: move everything by that many inches, to
  align a printer with the stock.

``validate(claim)`` lists what the form cannot carry (more than 12
diagnoses, more than 4 modifiers or pointers on a line ...). The renderer
(fpdf2) is imported only when a form is written.
"""

from medsec import hookimpl
from medsec.plugin_types import ClaimFormat


def write(claims: list[dict], options: dict) -> bytes:
    """The claims as one PDF, each claim on its own page(s)."""
    from medsec_cms1500.form import render  # every command loads this plugin: the form loads when used

    return render(claims, options or {})


def validate(claim: dict) -> list[str]:
    """What the CMS-1500 cannot carry for this claim, each naming its field."""
    from medsec_cms1500.form import problems  # every command loads this plugin: the form loads when used

    return problems(claim)


@hookimpl
def register_claim_formats(register):
    register(ClaimFormat("cms1500", "CMS-1500 (02/12) paper claim, PDF for pre-printed forms",
                         write, validate))
