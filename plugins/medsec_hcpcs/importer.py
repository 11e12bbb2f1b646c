"""Reading HCPCS code files and merging them into codes.yaml.

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
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

CODES_FILE = "codes.yaml"
LEVEL2 = re.compile(r"[A-Z][0-9]{4}")
CPT = re.compile(r"[0-9]{4}[0-9A-Z]")
MODIFIER = re.compile(r" {3}[0-9A-Z]{2}")
CSV_COLUMNS = ("code", "description", "fee", "system")
SYSTEMS = {"HCPCS": LEVEL2, "CPT": CPT}
MAX_PROBLEMS = 50


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
    """The file's text; a zip or spreadsheet is refused with a hint."""
    from medsec.errors import InvalidInput

    with open(path, "rb") as f:
        raw = f.read()
    if raw.startswith(b"PK\x03\x04"):
        raise InvalidInput(f"{path} is a zip file (or a spreadsheet)",
                           hint="unzip the CMS download and import its fixed-width .txt file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def detect(text: str) -> str | None:
    """'csv', 'hcpcs' or None, from the first non-blank line."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    header = [c.strip().lower() for c in first.split(",")]
    if "code" in header and "description" in header:
        return "csv"
    if len(first) >= 11 and first[10] in "3478" and first[5:10].strip().isdigit():
        return "hcpcs"
    return None


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
        _csv_row(out, number, dict(zip(columns, (cell.strip() for cell in row))))
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
    """'125' or '$1,250.5' -> '125.00' / '1250.50'; None when it is no amount."""
    try:
        amount = Decimal(text.replace("$", "").replace(",", "").strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        return None
    return str(amount.quantize(Decimal("0.01")))


# -- merging --------------------------------------------------------------
def merge(entries: list[dict], codes: dict) -> tuple[list[dict], dict]:
    """codes.yaml's entries with `codes` merged in, and counts of what changed.

    An imported code replaces its entry's description (and system, and fee
    when the file gives one); the practice's other entries and fees stay.
    New codes follow the existing entries, in code order.
    """
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    position = {str(e.get("code", "")).upper(): i for i, e in enumerate(entries)}
    merged = [dict(e) for e in entries]
    for code in sorted(codes):
        item = codes[code]
        new = {"system": item["system"], "description": item["description"]}
        if "fee" in item:
            new["fee"] = item["fee"]
        if code in position:
            old = merged[position[code]]
            updated = {**old, **new}
            counts["unchanged" if updated == old else "updated"] += 1
            merged[position[code]] = updated
        else:
            merged.append({"code": code, **new})
            counts["added"] += 1
    return merged, counts


def _header(root: str) -> str:
    """The comment lines at the top of codes.yaml (kept when it is rewritten)."""
    lines = []
    try:
        with open(os.path.join(root, CODES_FILE), encoding="utf-8") as f:
            for line in f:
                if not line.startswith("#"):
                    break
                lines.append(line)
    except FileNotFoundError:
        pass
    return "".join(lines)


def _refuse(path: str, found: Read) -> None:
    from medsec.errors import InvalidInput

    problems = sorted(found.problems)
    details = [f"{path}:{line}: {message}" for line, message in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        details.append(f"... and {len(problems) - MAX_PROBLEMS} more")
    raise InvalidInput(f"{len(problems)} bad row(s) in {os.path.basename(path)}; nothing was imported",
                       hint="fix them and import again", details=details)


def read_file(path: str, fmt: str | None = None) -> Read:
    """Read `path` as `fmt` ('hcpcs' or 'csv'; detected when None)."""
    from medsec.errors import InvalidInput

    text = read_text(path)
    fmt = fmt or detect(text)
    if fmt is None:
        raise InvalidInput(f"cannot tell the format of {path}",
                           hint="give --input-format hcpcs (the CMS fixed-width file) or csv")
    if fmt not in ("hcpcs", "csv"):
        raise InvalidInput(f"unknown code file format {fmt!r}", hint="hcpcs or csv")
    found = read_hcpcs(text) if fmt == "hcpcs" else read_csv(text)
    if found.problems:
        _refuse(path, found)
    if not found.codes:
        raise InvalidInput(f"{path} holds no codes to import")
    return found


def import_codes(app, path: str, fmt: str | None = None, dry_run: bool = False) -> dict:
    """Merge the codes of `path` into the data directory's codes.yaml.

    Bad rows raise InvalidInput (exit 2) naming each line, and nothing is
    written; with `dry_run` nothing is written either.
    """
    from medsec import config

    found = read_file(path, fmt)
    with app.store.transaction() as txn:
        current = config.load(app.store.root, CODES_FILE) or {}
        entries = [e for e in current.get("codes") or [] if isinstance(e, dict)]
        merged, counts = merge(entries, found.codes)
        if not dry_run and (counts["added"] or counts["updated"]):
            config.stage(txn, CODES_FILE, {**current, "codes": merged}, _header(app.store.root))
    if not dry_run:
        app.audit("code-import")
    return {"file": path, "format": found.format, "codes_read": len(found.codes), **counts,
            "skipped_cpt_codes": found.skipped.get("cpt_codes", 0),
            "skipped_modifiers": found.skipped.get("modifiers", 0),
            "codes_in_codes_yaml": len(merged), "dry_run": dry_run}
