"""Code lookups across every registered coding table, and code files merged into codes.yaml."""

import csv
import os
import re

from medsec import config
from medsec.errors import InvalidInput, NotFound
from medsec.inputs import CODE_TABLE, open_input
from medsec.money import fmt, parse_amount
from medsec.plugins import collect
from medsec.text import clean_text, escape_controls, shown

CODES_FILE = "codes.yaml"
MAX_PROBLEMS = 50
# Longest text an imported code may carry: CMS's longest HCPCS descriptions
# (several 80-character continuation records) stay well under these.
CODE_LIMIT = 16
DESCRIPTION_LIMIT = 2000
# What people type for a system, and the systems a table's name covers ("CPT/HCPCS" -> CPT, HCPCS).
ICD10_SHAPE = re.compile(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?")
ALIASES = {"ICD10": "ICD-10-CM", "ICD-10": "ICD-10-CM", "ICD10CM": "ICD-10-CM", "HCPCS LEVEL II": "HCPCS"}


def tables(app) -> dict:
    return collect(app.plugins, "register_coding_tables")


def diagnoses(app, codes, option: str = "--dx") -> list[dict]:
    """ICD-10-CM codes as typed (each once) with their descriptions from the ICD-10-CM table; a code
    of another shape, or one that table lacks, is bad input naming `option`."""
    icd10 = [r.item for r in tables(app).values() if r.item.system.upper() == "ICD-10-CM"]
    out: list[dict] = []
    for raw in codes:
        code = str(raw).strip().upper()
        if not ICD10_SHAPE.fullmatch(code):
            raise InvalidInput(f"{option} {shown(raw)} is not an ICD-10-CM code (like E78.5 or I10)")
        found = icd10[0].lookup(app.store.root, code) if icd10 else None
        if icd10 and not found:
            raise InvalidInput(f"{option} {code} is not in ICD-10-CM", hint=f"search with 'medsec code search {code}'")
        if not any(d["code"] == code for d in out):
            out.append({"code": code, "description": (found or {}).get("description", "")})
    return out


def list_tables(app) -> list[dict]:
    return [{"name": r.name, "system": r.item.system, "description": r.item.description,
             "plugin": r.plugin} for r in tables(app).values()]


def _systems(system: str) -> set[str]:
    """'CPT/HCPCS' -> {'CPT/HCPCS', 'CPT', 'HCPCS'}: a table answers to each system it lists."""
    name = system.upper()
    return {name, *(part.strip() for part in name.split("/") if part.strip())}


def _wanted(system: str | None) -> str | None:
    if system is None:
        return None
    wanted = system.strip().upper()
    return ALIASES.get(wanted, wanted)


def _chosen(app, system: str | None):
    found = tables(app)
    wanted = _wanted(system)
    if wanted is None:
        return list(found.values())
    chosen = [r for r in found.values() if wanted == r.name.upper() or wanted in _systems(r.item.system)]
    if not chosen:
        systems = sorted({s for r in found.values() for s in _systems(r.item.system)} | set(found))
        raise InvalidInput(f"unknown coding table {system!r}", hint=f"known: {', '.join(systems)}")
    return chosen


def _rows(app, system: str | None, ask) -> list[dict]:
    """Each chosen table's rows from `ask(table)`; with a system such as HCPCS asked of a
    table that holds several (the practice's CPT/HCPCS list), only the rows of that system."""
    wanted = _wanted(system)
    out = []
    for reg in _chosen(app, system):
        mixed = wanted is not None and wanted != reg.name.upper() and wanted != reg.item.system.upper()
        for row in ask(reg.item):
            if not (mixed and row.get("system") and row["system"].upper() != wanted):
                out.append({**row, "table": reg.name})
    return out


def search_codes(app, text: str, system: str | None = None, limit: int | None = None) -> list[dict]:
    if not text.strip():
        raise InvalidInput("give some text or the start of a code to search for")
    out = _rows(app, system, lambda table: table.search(app.store.root, text, limit or 10 ** 6))
    return out[:limit] if limit else out


def show_code(app, code: str, system: str | None = None) -> dict:
    """The code as typed in the first table that has it exactly; else the first that knows it.

    A table may read a code loosely (ICD-10-CM takes 'J1100' for J11.00), so
    an exact match anywhere (the practice's HCPCS J1100) wins over a loose one.
    """
    rows = _rows(app, system, lambda table: [r for r in [table.lookup(app.store.root, code)] if r])
    exact = [r for r in rows if str(r.get("code", "")).upper() == code.strip().upper()]
    if exact or rows:
        return (exact or rows)[0]
    raise NotFound(f"no code {code!r} in {system or 'any coding table'}")


# -- importing code files -----------------------------------------------------
def code_importers(app) -> dict:
    """Formats `code import` reads: importers of kind "codes" (register_importers)."""
    return {k: r.item for k, r in collect(app.plugins, "register_importers").items() if r.item.kind == "codes"}


def _first_cells(path: str) -> list[str]:
    """The first non-blank line's CSV cells (what an importer's detect() looks at)."""
    with open_input(path, CODE_TABLE) as f:  # a regular file within the code file limit, else InvalidInput
        head = f.read(64 * 1024)
    if head.startswith(b"PK\x03\x04"):
        raise InvalidInput(f"{path} is a zip file (or a spreadsheet)",
                           hint="unzip it (the CMS download holds a fixed-width .txt file) or save the sheet as CSV")
    text = head.decode("utf-8-sig", errors="replace")
    first = next((line for line in text.splitlines() if line.strip()), "")
    return next(csv.reader([first]), [])


def _importer(app, path: str, fmt: str | None):
    importers = code_importers(app)
    names = ", ".join(sorted(importers)) or "none (enable a plugin that reads code files, e.g. hcpcs)"
    header = _first_cells(path)
    if fmt:
        if fmt not in importers:
            raise InvalidInput(f"unknown code file format {fmt!r}", hint=f"formats: {names}")
        return fmt, importers[fmt]
    for name, importer in importers.items():
        if importer.detect(header):
            return name, importer
    raise InvalidInput(f"cannot tell the format of {path}", hint=f"give --input-format: {names}")


def read_codes(app, path: str, fmt: str | None = None) -> tuple[str, dict, dict]:
    """(format, {code: entry}, skipped counts) of a code file; every bad row refused at once."""
    name, importer = _importer(app, path, fmt)
    options: dict = {"skipped": {}}
    codes: dict = {}
    problems: list[tuple[int, str]] = []
    for line, row in _importer_rows(importer, path, options):
        try:
            entry = _checked(row)
        except (InvalidInput, ValueError) as e:
            problems.append((line, escape_controls(str(e))))
            continue
        code = entry["code"]
        if code in codes:
            problems.append((line, f"{code} is listed twice (first on line {codes[code]['line']})"))
        else:
            codes[code] = {**entry, "line": line}
    if problems:
        details = [f"{path}:{line}: {message}" for line, message in sorted(problems)[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            details.append(f"... and {len(problems) - MAX_PROBLEMS} more")
        raise InvalidInput(f"{len(problems)} bad row(s) in {os.path.basename(path)}; nothing was imported",
                           hint="fix them and import again", details=details)
    if not codes:
        raise InvalidInput(f"{path} holds no codes to import")
    return name, codes, options["skipped"]


def _importer_rows(importer, path: str, options: dict) -> list:
    """The importer's (line, row or ValueError) pairs; a file it cannot get through (a CSV field
    past csv's size limit, an amount too large to hold) is InvalidInput naming the file."""
    try:
        return list(importer.read(path, options))
    except (csv.Error, ArithmeticError, ValueError) as e:
        raise InvalidInput(f"{os.path.basename(path)}: {escape_controls(str(e))}; nothing was imported") from None


def _checked(row) -> dict:
    """An importer's row as codes.yaml keeps it: code, system and description clean text within
    their limits, the fee an amount medsec takes; the importer's own refusal (an exception) raised."""
    if isinstance(row, Exception):
        raise ValueError(str(row))
    code = clean_text(str(row.get("code", "")).strip().upper(), "code", CODE_LIMIT)
    entry = {**row, "code": code, "system": clean_text(str(row.get("system", "")), "system", CODE_LIMIT),
             "description": clean_text(str(row.get("description", "")), "description", DESCRIPTION_LIMIT)}
    if row.get("fee") not in (None, ""):
        entry["fee"] = fmt(parse_amount(row["fee"], "fee", allow_zero=True))
    return entry


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
        if item.get("fee") not in (None, ""):
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


def _header(text: str | None) -> str:
    """The comment lines at the top of codes.yaml (kept when it is rewritten)."""
    lines = []
    for line in (text or "").splitlines(keepends=True):
        if not line.startswith("#"):
            break
        lines.append(line)
    return "".join(lines)


def import_codes(app, path: str, fmt: str | None = None, dry_run: bool = False) -> dict:
    """Merge the codes of `path` into codes.yaml; bad rows refuse the whole file (exit 2)."""
    name, codes, skipped = read_codes(app, path, fmt)
    with app.store.transaction() as txn:
        current = app.config(CODES_FILE) or {}
        entries = [e for e in current.get("codes") or [] if isinstance(e, dict)]
        merged, counts = merge(entries, codes)
        if not dry_run and (counts["added"] or counts["updated"]):
            config.stage(txn, CODES_FILE, {**current, "codes": merged}, _header(app.store.document_text(CODES_FILE)))
    if not dry_run:
        app.audit("code-import")
    return {"file": path, "format": name, "codes_read": len(codes), **counts,
            "skipped_cpt_codes": skipped.get("cpt_codes", 0), "skipped_modifiers": skipped.get("modifiers", 0),
            "codes_in_codes_yaml": len(merged), "dry_run": dry_run}
