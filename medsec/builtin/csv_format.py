"""Default plugin: patients as CSV (import with a column mapping; export), JSON and JSON Lines."""

import csv

import orjson

from medsec.plugin_api import Exporter, Importer, InvalidInput, hookimpl, open_text
from medsec.spreadsheet import csv_writer

# Column names people's spreadsheets use for each field (compared folded).
ALIASES = {
    "first": ["first", "first_name", "firstname", "given", "given_name"],
    "last": ["last", "last_name", "lastname", "surname", "family", "family_name"],
    "dob": ["dob", "birthdate", "birth_date", "date_of_birth"],
    "sex": ["sex", "gender"],
    "phone": ["phone", "phone_number", "telephone", "mobile"],
    "email": ["email", "e_mail", "email_address"],
    "address": ["address", "street", "address1"],
    "city": ["city", "town"],
    "state": ["state"],
    "zip": ["zip", "zipcode", "zip_code", "postal_code"],
    "language": ["language"],
    "preferred_channel": ["preferred_channel", "channel"],
    "reminders": ["reminders"],
    "guarantor": ["guarantor"],
    "external_id": ["external_id", "mrn", "id"],
}
EXPORT_COLUMNS = ["id", "first", "last", "dob", "sex", "phone", "email", "address", "city", "state",
                  "zip", "language", "preferred_channel", "reminders", "guarantor", "status",
                  "primary_payer", "primary_member_id", "secondary_payer", "secondary_member_id"]


def _norm(column: str) -> str:
    return column.strip().lower().replace(" ", "_").replace("-", "_")


def _columns(header: list[str], mapping: dict) -> dict[str, int]:
    """field -> column index, from --map first, then from recognised names."""
    positions = {_norm(c): i for i, c in enumerate(header)}
    exact = {c: i for i, c in enumerate(header)}
    out: dict[str, int] = {}
    for field, column in mapping.items():
        if column in exact:
            out[field] = exact[column]
        elif _norm(column) in positions:
            out[field] = positions[_norm(column)]
        else:
            raise ValueError(f"unknown column mapping: {field}={column}: the file has no column {column!r}")
    for field, names in ALIASES.items():
        if field not in out:
            for name in names:
                if name in positions:
                    out[field] = positions[name]
                    break
    return out


def _detect(header: list[str]) -> bool:
    names = {_norm(c) for c in header}
    return all(any(a in names for a in ALIASES[f]) for f in ("first", "last", "dob"))


def _truthy(value: str):
    v = value.strip().lower()
    if v in ("", "none"):
        return None
    return v in ("1", "yes", "y", "true", "on")


def _csv_rows(reader, path: str):
    """The reader's rows; a row csv cannot read (a field over its size limit) is
    bad input naming its line, not an internal error."""
    try:
        yield from reader
    except csv.Error as e:
        raise InvalidInput(f"{path}:{reader.line_num}: {e}; nothing was imported") from None


def read_csv(path: str, options: dict):
    with open_text(path, "patient-import") as f:
        reader = csv.reader(f)
        rows = _csv_rows(reader, path)
        header = next(rows, None)
        if not header:
            raise InvalidInput(f"{path} is empty")
        try:
            columns = _columns(header, options.get("mapping") or {})
        except ValueError as e:
            raise InvalidInput(str(e)) from None
        missing = [f for f in ("first", "last", "dob") if f not in columns]
        if missing:
            raise InvalidInput(f"{path}: no column for {', '.join(missing)}",
                               hint="name it with --map FIELD=COLUMN")
        for row in rows:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                yield line, ValueError(f"expected {len(header)} columns, found {len(row)}")
                continue
            fields = {field: row[i] for field, i in columns.items()}
            if "reminders" in fields:
                fields["reminders"] = _truthy(fields["reminders"])
            yield line, {k: v for k, v in fields.items() if v not in ("", None)}


def _row(p: dict) -> dict:
    row = {c: p.get(c, "") for c in EXPORT_COLUMNS}
    for cov in p.get("coverages", []):
        if cov["rank"] in ("primary", "secondary"):
            row[f"{cov['rank']}_payer"] = cov["payer"]
            row[f"{cov['rank']}_member_id"] = cov["member_id"]
    return row


def write_csv(records, stream) -> None:
    writer = csv_writer(stream)
    writer.writerow(EXPORT_COLUMNS)
    for p in records:
        row = _row(p)
        writer.writerow([row[c] for c in EXPORT_COLUMNS])


def write_json(records, stream) -> None:
    stream.write(orjson.dumps(list(records), option=orjson.OPT_INDENT_2).decode() + "\n")


def write_jsonl(records, stream) -> None:
    for record in records:
        stream.write(orjson.dumps(record).decode() + "\n")


@hookimpl
def register_importers(register):
    register(Importer("csv", "patient", "CSV with a header row; --map FIELD=COLUMN for other names",
                      read_csv, _detect))


@hookimpl
def register_exporters(register):
    register(Exporter("csv", "patient", "CSV, one row per patient, spreadsheet-safe cells", write_csv))
    register(Exporter("json", "patient", "JSON list of full patient records", write_json))
    register(Exporter("jsonl", "patient", "JSON Lines: a full patient record a line", write_jsonl))
