"""CSV that a spreadsheet reads as data: no cell run as a formula (OWASP's advice), and
no cell split into two rows.

Every CSV medsec writes goes through `csv_writer`.
"""

import csv
import re

# The characters OWASP lists as a formula's start (the ASCII ones and their
# full-width forms, which some spreadsheets fold to ASCII), also after leading
# whitespace: ' =1+1' and '\t=cmd' are formulas to a spreadsheet too.
_FORMULA_START = "[\\s\u3000]*[=+\\-@\t\r\n\uff1d\uff0b\uff0d\uff20]"
# A plain number ('-12.50', '+3') stays as it is: neutralising it would turn it into text.
_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"


def safe_cell(value) -> str:
    """`value` as a CSV cell: a formula start is neutralised with a leading apostrophe."""
    text = "" if value is None else str(value)
    if text and re.match(_FORMULA_START, text) and not re.fullmatch(_NUMBER, text):
        return "'" + text
    return text


class CsvWriter:
    """Rows of neutralised cells, one per line ('\\n'), a cell holding CR or LF quoted.

    Python's writer quotes only the characters of its line terminator, so with '\\n'
    a cell holding a bare CR would go out unquoted, and a spreadsheet that ends rows
    at CR would start a new row (and a new, un-neutralised cell) there. Such a row is
    written with every cell quoted.
    """

    def __init__(self, stream):
        self._minimal = csv.writer(stream, lineterminator="\n")
        self._quoted = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def writerow(self, values) -> None:
        cells = [safe_cell(v) for v in values]
        writer = self._quoted if any("\r" in c for c in cells) else self._minimal
        writer.writerow(cells)


def csv_writer(stream) -> CsvWriter:
    """The writer of every CSV medsec writes, onto text `stream`."""
    return CsvWriter(stream)
