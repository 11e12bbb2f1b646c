"""Patient import and export through the registered formats."""

import csv
import io
import sys
from datetime import date, timedelta

from medsec import clock
from medsec.errors import InvalidInput, Refused
from medsec.inputs import PATIENT_IMPORT, open_input, open_text
from medsec.outputs import write_output
from medsec.plugins import collect
from medsec.progress import Progress
from medsec.records.patients import (
    FIELDS,
    PATIENTS,
    clean_fields,
    duplicate_key,
    find_duplicates,
    new_record,
    resolve_guarantor,
)
from medsec.records.restrictions import as_listed
from medsec.text import shown


def parse_mapping(pairs) -> dict[str, str]:
    """('dob=BirthDate', ...) -> {'dob': 'BirthDate'}; fields are checked here."""
    mapping = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not field or not column:
            raise InvalidInput(f"--map {shown(pair)}: expected FIELD=COLUMN")
        if field not in FIELDS:
            raise InvalidInput(f"--map {shown(pair)}: unknown field {shown(field)}",
                               hint=f"fields: {', '.join(FIELDS)}")
        mapping[field] = column
    return mapping


def read_header(path: str) -> list[str]:
    try:
        with open_text(path, PATIENT_IMPORT) as f:
            return next(csv.reader(f), [])
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text") from None
    except csv.Error as e:  # a header cell over csv's field size limit
        raise InvalidInput(f"{path}:1: {e}") from None


def choose_importer(app, path: str, name: str | None, mapping: dict):
    importers = {k: r.item for k, r in collect(app.plugins, "register_importers").items()
                 if r.item.kind == "patient"}
    if name:
        if name not in importers:
            raise InvalidInput(f"unknown input format {shown(name)}", hint=f"known: {', '.join(sorted(importers))}")
        return importers[name]
    if mapping and "csv" in importers:
        return importers["csv"]
    header = read_header(path)
    for importer in importers.values():
        if importer.detect(header):
            return importer
    raise InvalidInput(f"cannot tell the format of {path}",
                       hint="use --input-format, or --map FIELD=COLUMN for a CSV")


def import_patients(app, path: str, *, input_format: str | None = None, mapping: dict | None = None,
                    dry_run: bool = False, skip_bad: bool = False, allow_duplicate: bool = False,
                    progress: Progress | None = None) -> dict:
    """Validate every row, then write all of them in one commit (or none).

    Bad rows and duplicates (of existing patients or of earlier rows) stop
    the import unless `skip_bad`; the report names each row's line. `progress`
    shows each stage on the terminal (medsec.progress).
    """
    progress = progress or Progress.off()
    refuse_nul(path)  # before any importer, a plugin's too, opens it
    importer = choose_importer(app, path, input_format, mapping or {})
    rows = importer.read(path, {"mapping": mapping or {}})
    good, problems, invalid = _checked_rows(rows, app.today(), allow_duplicate, progress)
    with app.store.transaction() as txn:
        good, invalid = _with_guarantors(txn, good, problems, invalid)
        if not allow_duplicate:
            good = _without_registered(txn, good, problems, progress)
        problems.sort(key=lambda p: p["line"])
        if problems and not skip_bad:
            _refuse(path, len(good), problems, invalid)
        ids: list[str] = []
        if not dry_run and good:
            progress.start(f"writing {len(good):,} patients")
            stamp = clock.iso(app.now())
            ids = txn.reserve_ids(PATIENTS, len(good))
            records = [new_record(pid, fields, stamp) for pid, (_, fields) in zip(ids, good, strict=True)]
            txn.put_many(PATIENTS, records)
            app.after_commit(txn, "patient_created", records, "patient")
    if ids:
        app.audit("import", ids)
    return {
        "format": importer.name,
        "imported": 0 if dry_run else len(good),
        "would_import": len(good) if dry_run else 0,
        "skipped": len(problems),
        "first_id": ids[0] if ids else None,
        "last_id": ids[-1] if ids else None,
        "dry_run": dry_run,
        "problems": problems,
    }


def refuse_nul(path: str) -> None:
    """InvalidInput (exit 2) naming the line if the file holds a NUL byte: no text
    file people export has one, and a cell holding one would truncate in C
    consumers. Also refuses, through open_input, anything but a regular file
    within the size limit, so that a FIFO or a device is never handed on."""
    line = 1
    with open_input(path, PATIENT_IMPORT) as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            at = chunk.find(b"\0")
            if at >= 0:
                line += chunk.count(b"\n", 0, at)
                raise InvalidInput(f"{path}:{line}: the file holds a NUL byte; "
                                   f"it is not a text file (nothing was imported)")
            line += chunk.count(b"\n")


def _with_guarantors(txn, good: list[tuple[int, dict]], problems: list[dict], invalid: int):
    """The rows whose guarantor is a registered patient (or none), and the count of
    invalid rows; a row naming a patient no record holds becomes a problem."""
    kept = []
    for line, fields in good:
        try:
            kept.append((line, resolve_guarantor(txn, fields)))
        except InvalidInput as e:
            problems.append({"line": line, "message": e.message})
            invalid += 1
    return kept, invalid


def _clean_row(fields, today: date) -> dict:
    if isinstance(fields, Exception):  # the importer could not read this row
        raise InvalidInput(str(fields))
    return clean_fields(fields, today)


def _checked_rows(rows, today: date, allow_duplicate: bool, progress: Progress):
    """(good (line, fields) pairs, problems, how many rows were invalid) for the importer's rows.

    A row with the same name and date of birth as an earlier row is a problem
    unless `allow_duplicate`.
    """
    good: list[tuple[int, dict]] = []
    problems: list[dict] = []
    seen: dict[tuple, int] = {}
    invalid = 0
    progress.start("checking rows")
    for line, fields in rows:
        progress.advance()
        try:
            cleaned = _clean_row(fields, today)
        except InvalidInput as e:
            problems.append({"line": line, "message": e.message})
            invalid += 1
            continue
        key = duplicate_key(cleaned)
        if key in seen and not allow_duplicate:
            problems.append({"line": line, "message": f"duplicate of line {seen[key]} (same name and date of birth)"})
            continue
        seen.setdefault(key, line)
        good.append((line, cleaned))
    return good, problems, invalid


# From this many rows on, an import reads the registered patients of all its birth dates at once
# (one range look-up and one read of the records) instead of asking row by row: with a database
# store each question is a round trip (100,000 rows: 12 s of them).
_AT_ONCE_FROM = 500


def _without_registered(txn, good: list[tuple[int, dict]], problems: list[dict],
                        progress: Progress) -> list[tuple[int, dict]]:
    """The rows that duplicate no registered patient; each one that does becomes a problem."""
    if len(good) >= _AT_ONCE_FROM:
        same = _registered_by_dob(txn, {fields["dob"] for _, fields in good if fields.get("dob")})

        def duplicates(fields: dict) -> list[str]:
            key = duplicate_key(fields)
            return [p["id"] for p in same.get(fields.get("dob") or "", []) if duplicate_key(p) == key]
    else:
        def duplicates(fields: dict) -> list[str]:
            return find_duplicates(txn, fields)
    kept = []
    progress.start("looking for registered duplicates", len(good))
    for line, fields in good:
        progress.advance()
        dupes = duplicates(fields)
        if dupes:
            problems.append({"line": line, "message": f"duplicate of {', '.join(dupes)} "
                                                      f"(same name and date of birth)"})
        else:
            kept.append((line, fields))
    return kept


def _registered_by_dob(view, dobs: set[str]) -> dict[str, list[dict]]:
    """The live (not merged) registered patients born on each of `dobs`, as find_duplicates
    sees them: the birth-date index's keys from the first to the last, in one look-up."""
    if not dobs:
        return {}
    last = max(dobs)
    after = (date.fromisoformat(last) + timedelta(days=1)).isoformat() if last < "9999-12-31" else "9999-12-32"
    found = view.lookup_range("patient-dob", min(dobs), after)
    ids = [pid for dob, pids in found.items() if dob in dobs for pid in pids]
    by_dob: dict[str, list[dict]] = {}
    for p in view.get_many(PATIENTS, ids):
        if p.get("status") != "merged" and p.get("dob") in dobs:
            by_dob.setdefault(p["dob"], []).append(p)
    return by_dob


def _refuse(path: str, good: int, problems: list[dict], invalid: int):
    """Stop the import: invalid input if any row was invalid, else refused (duplicates only)."""
    details = [f"{path}:{p['line']}: {p['message']}" for p in problems[:50]]
    if len(problems) > 50:
        details.append(f"... and {len(problems) - 50} more")
    error = InvalidInput if invalid else Refused
    raise error(f"{len(problems)} of {good + len(problems)} rows cannot be imported; "
                f"nothing was imported",
                hint="fix them, or use --skip-bad to import the rest",
                details=details)


def export_patients(app, fmt: str, output: str | None, status: str = "active") -> int:
    exporters = {k: r.item for k, r in collect(app.plugins, "register_exporters").items()
                 if r.item.kind == "patient"}
    if fmt not in exporters:
        raise InvalidInput(f"unknown export format {shown(fmt)}", hint=f"known: {', '.join(sorted(exporters))}")
    view = app.store.snapshot()
    # A chart restricted to other roles goes out as a list shows it: who the patient is, not the chart.
    records = [as_listed(app, p) for p in view.scan(PATIENTS) if status == "all" or p.get("status") == status]
    if output:
        buffer = io.StringIO()
        exporters[fmt].write(records, buffer)
        write_output(output, buffer.getvalue().encode(), data_dir=app.data_dir)
    else:
        exporters[fmt].write(records, sys.stdout)
    app.audit("export", [p["id"] for p in records])
    return len(records)
