"""The rule for free text that messages, calls, faxes, mail, memos, referrals, refills and labs keep.

Every domain function that stores typed text passes it through `line` or
`body` (medsec.text.clean_text), so a plugin or an import meets the same
rule as the command line: no control or bidi characters (a body keeps its
newlines), a limit per field, errors that name the field.
"""

import os

from medsec.errors import InvalidInput
from medsec.text import clean_text

LINE = 200  # a subject, a name, a drug, a facility: one line
BODY = 20_000  # a note, a reason, a message: several lines
FILE_NAME = 255  # the longest file name common file systems allow


def line(value: str | None, field: str, limit: int = LINE, required: bool = False) -> str:
    """One line of text, stripped; InvalidInput naming `field` when it breaks the rule (or is empty, if required)."""
    text = clean_text("" if value is None else value, field, limit).strip()
    if required and not text:
        raise InvalidInput(f"{field} cannot be empty")
    return text


def body(value: str | None, field: str, limit: int = BODY, required: bool = False) -> str:
    """Text of several lines (CRLF becomes LF), stripped; InvalidInput naming `field` as `line` does."""
    text = clean_text("" if value is None else value, field, limit, multiline=True).strip()
    if required and not text:
        raise InvalidInput(f"{field} cannot be empty")
    return text


def file_name(path: str) -> str:
    """The name a stored file keeps (the last part of `path`): it is printed later, so it obeys the rule too."""
    return clean_text(os.path.basename(path), "file name", FILE_NAME)
