"""Plain documents: text to PDF (letters, fax covers), and telling PDFs and TIFFs apart."""

import re
from datetime import UTC

from medsec.text import escape_controls

PDF_MAGIC = b"%PDF-"
TIFF_MAGIC = (b"II*\x00", b"MM\x00*")


def kind_of(data: bytes) -> str | None:
    """'pdf', 'tiff' or None, from the file's first bytes (not its name)."""
    if data.startswith(PDF_MAGIC):
        return "pdf"
    if data.startswith(TIFF_MAGIC):
        return "tiff"
    return None


def pdf_pages(data: bytes) -> int:
    """Pages of a PDF, counted from its page objects (1 when unsure)."""
    return max(1, len(re.findall(rb"/Type\s*/Page(?!s)", data)))


def plain_text(text: str) -> str:
    """`text` as a plain document shows it: lines kept (CRLF as LF), tabs as spaces,
    every other control character escaped (`\\x1b`), whatever put it there."""
    return escape_controls(text.replace("\r\n", "\n").expandtabs(), keep_newlines=True)


def text_to_pdf(text: str, title: str = "") -> bytes:
    """A letter-size PDF of monospaced text, one line per line, pages as needed."""
    return texts_to_pdf([text], title)


def texts_to_pdf(texts: list[str], title: str = "") -> bytes:
    """One letter-size PDF of several documents of monospaced text, each starting on a new page
    (a print batch: statements, letters)."""
    from fpdf import FPDF  # ~180 ms to import: only commands that write a PDF pay for it

    from medsec import clock

    pdf = FPDF(format="letter")
    pdf.set_title(escape_controls(title))
    pdf.set_creator("medsec")
    # medsec's clock, not the wall's: the same document is the same bytes (a fax's files are kept and
    # compared by their hash), and a test's fixed clock makes a PDF that does not change run to run
    pdf.set_creation_date(clock.now().astimezone(UTC).replace(microsecond=0))
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_margins(20, 18, 20)
    font = _font(pdf, texts)
    for text in texts or [""]:
        pdf.add_page()
        pdf.set_font(font, size=10.5)
        for line in plain_text(text).splitlines() or [""]:
            pdf.multi_cell(0, 5.2, line or " ", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _font(pdf, texts: list[str]) -> str:
    """Courier, the PDF's own font, for text within Latin-1 (most: small and quick); else DejaVu Sans
    Mono, embedded (templates/fonts), so that a name in Polish, Greek or Cyrillic is printed as
    written, not as '?'. A character neither has is drawn as the font's empty box."""
    if all(ord(c) < 256 for text in texts for c in text):
        return "Courier"
    import logging
    import os

    import medsec_templates

    logging.getLogger("fpdf.output").setLevel(logging.ERROR)  # not a warning per glyph the font lacks
    pdf.add_font("DejaVuSansMono", fname=os.path.join(os.path.dirname(medsec_templates.__file__), "fonts",
                                                      "DejaVuSansMono.ttf"))
    return "DejaVuSansMono"
