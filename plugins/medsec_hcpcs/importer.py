"""Reading HCPCS code files (medsec merges what they hold into codes.yaml).

The CMS HCPCS Level II annual file ("alpha-numeric HCPCS file", e.g.
``HCPC2026_JAN_ANWEB.txt``) has one fixed-width record per line (320
characters in recent years). Per CMS's record layout, only these columns are
read (1-based, inclusive):

    1-5     HCPCS code (for a modifier record: 3 blanks and the 2-character modifier)
    6-10    sequence number of the description line (digits)
    11      record identification code:
              3 first line of a procedure, 4 its continuation lines,
              7 first line of a modifier, 8 its continuation lines
    12-91   long description (80 characters; continued on 4/8 lines)
    92-119  short description (28 characters, first line only; not used: the
            long description is what codes.yaml keeps)

The later columns (pricing, coverage, dates, action code ...) are not read,
so codes the file marks as discontinued are imported like the others.
Modifier records are counted and skipped (codes.yaml lists codes, not
modifiers). Level I codes (CPT: 5 characters starting with 4 digits) are
skipped: their descriptions are the AMA's and must not be copied.
"""

import csv
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from medsec.plugin_api import read_input

LEVEL2 = re.compile(r"[A-Z][0-9]{4}")
CPT = re.compile(r"[0-9]{4}[0-9A-Z]")
MODIFIER = re.compile(r" {3}[0-9A-Z]{2}")
CSV_COLUMNS = ("code", "description", "fee", "system")
SYSTEMS = {"HCPCS": LEVEL2, "CPT": CPT}
FEE = re.compile(r"\$?[0-9][0-9,]*(?:\.[0-9]{1,2})?", re.ASCII)


@dataclass
class Read:
    """What a file holds: codes by code, problems by line, what was skipped."""

    format: str
    codes: dict = field(default_factory=dict)  # code -> {"system", "description", "fee"?, "line"}
    problems: list = field(default_factory=list)  # (line, message)
    skipped: dict = field(default_factory=dict)  # reason -> count

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def add(self, line: int, code: str, entry: dict) -> None:
        if code in self.codes:
            self.problems.append((line, f"{code} is listed twice (first on line {self.codes[code]['line']})"))
        else:
            self.codes[code] = {**entry, "line": line}


# -- reading --------------------------------------------------------------
def read_text(path: str) -> str:
    """The file's text: UTF-8 (with or without BOM), else Windows-1252 as CMS files often are."""
    raw = read_input(path, "code-table")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def read_hcpcs(text: str) -> Read:
    """Codes of a CMS HCPCS annual file (fixed-width records)."""
    out = Read("hcpcs")
    current = None  # (code, entry) of the procedure whose description is being continued
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        problem = _record_problem(line)
        if problem:
            out.problems.append((number, problem))
            current = None
            continue
        code, kind = line[0:5], line[10]
        long = line[11:91].strip()
        if kind in "78":
            out.skip("modifiers")
            current = None
        elif kind == "4":
            current = _continue(out, number, current, code, long)
        else:
            current = _first_line(out, number, code, long)
    return out


def _record_problem(line: str) -> str | None:
    """What makes `line` unreadable as an HCPCS record, or None."""
    if len(line) < 12:
        return f"a record of {len(line)} characters is too short for the HCPCS layout"
    if line[10] not in "3478":
        return f"record identification code {line[10]!r} (column 11) is not 3, 4, 7 or 8"
    if not line[5:10].strip().isdigit():
        return f"sequence number {line[5:10]!r} (columns 6-10) is not a number"
    code = line[0:5]
    if line[10] in "78":
        return None if MODIFIER.fullmatch(code) else f"modifier {code!r} (columns 1-5) is not 3 blanks and 2 characters"
    if not (LEVEL2.fullmatch(code) or CPT.fullmatch(code)):
        return f"code {code!r} (columns 1-5) is not an HCPCS code"
    if line[10] == "3" and not line[11:91].strip():
        return f"{code} has no description (columns 12-91)"
    return None


def _first_line(out: Read, number: int, code: str, long: str):
    """A procedure's first record; returns what its continuation lines extend."""
    if CPT.fullmatch(code):
        out.skip("cpt_codes")
        return None
    entry = {"system": "HCPCS", "description": long}
    out.add(number, code, entry)
    return code, out.codes[code]


def _continue(out: Read, number: int, current, code: str, long: str):
    """A continuation record: append its text to the procedure it continues."""
    if CPT.fullmatch(code):
        return None  # continuation of a skipped CPT code
    if current is None or current[0] != code:
        out.problems.append((number, f"continuation line of {code} without its first line (record 3)"))
        return None
    if long:
        current[1]["description"] = f"{current[1]['description']} {long}"
    return current


def read_csv(text: str) -> Read:
    """Codes of a CSV with a header row: code,description[,fee][,system]."""
    out = Read("csv")
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None:
        return out
    columns = [c.strip().lower() for c in header]
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    missing = [c for c in ("code", "description") if c not in columns]
    if unknown or missing:
        what = "; ".join(filter(None, [
            f"unknown column(s) {', '.join(unknown)}" if unknown else "",
            f"missing column(s) {', '.join(missing)}" if missing else ""]))
        out.problems.append((1, f"{what} (columns: code, description[, fee][, system])"))
        return out
    for row in reader:
        number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            out.problems.append((number, f"{len(row)} fields, the header has {len(columns)}"))
            continue
        _csv_row(out, number, dict(zip(columns, (cell.strip() for cell in row), strict=True)))
    return out


def _csv_row(out: Read, number: int, row: dict) -> None:
    code, system = row["code"].upper(), (row.get("system") or "HCPCS").upper()
    if system not in SYSTEMS:
        out.problems.append((number, f"system {row['system']!r} is not HCPCS or CPT"))
        return
    if not code:
        out.problems.append((number, "the code is missing"))
        return
    if not SYSTEMS[system].fullmatch(code):
        what = "an HCPCS Level II" if system == "HCPCS" else "a CPT"
        hint = " (a CPT code: give system CPT)" if system == "HCPCS" and CPT.fullmatch(code) else ""
        out.problems.append((number, f"{row['code']!r} is not {what} code{hint}"))
        return
    if not row["description"]:
        out.problems.append((number, f"{code} has no description"))
        return
    entry = {"system": system, "description": row["description"]}
    if row.get("fee"):
        fee = _fee(row["fee"])
        if fee is None:
            out.problems.append((number, f"fee {row['fee']!r} is not an amount like 125.00"))
            return
        entry["fee"] = fee
    out.add(number, code, entry)


def _fee(text: str) -> str | None:
    """'125' or '$1,250.5' -> '125.00' / '1250.50'; None when it is no amount (medsec bounds it)."""
    if not FEE.fullmatch(text.strip()):  # ASCII digits only: no exponent, '_', NaN or other scripts' digits
        return None
    try:
        return str(Decimal(text.replace("$", "").replace(",", "").strip()).quantize(Decimal("0.01")))
    except InvalidOperation:  # more digits than a Decimal holds
        return None


# -- the Importer's read --------------------------------------------------------
def read_rows(path: str, fmt: str, options: dict):
    """(line, {"code", "system", "description"[, "fee"]}) per code, (line, ValueError) per bad row.

    Skipped rows (CPT codes of a CMS file, modifiers) are counted into
    ``options["skipped"]`` when the caller passes that dict.
    """
    text = read_text(path)
    found = read_hcpcs(text) if fmt == "hcpcs" else read_csv(text)
    for reason, count in found.skipped.items():
        skipped = options.get("skipped")
        if skipped is not None:
            skipped[reason] = skipped.get(reason, 0) + count
    rows = [(line, ValueError(message)) for line, message in found.problems]
    rows += [(entry["line"], {"code": code, **{k: v for k, v in entry.items() if k != "line"}})
             for code, entry in found.codes.items()]
    yield from sorted(rows, key=lambda row: row[0])
