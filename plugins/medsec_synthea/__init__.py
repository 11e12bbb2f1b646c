"""Bundled plugin: import Synthea's synthetic patients.csv (2018 and current layouts).

Synthea names carry digits (Maynard46), ZIPs may be empty or start with 0
(kept as strings), states are spelled out, and a DEATHDATE means the patient
turns reminders off. SSNs, driver's licences and passports are
not imported: the front office does not need them.
"""

import csv

from medsec import hookimpl
from medsec.plugin_api import InvalidInput, open_text
from medsec.plugin_types import Importer

STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI", "minnesota": "MN",
    "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
    "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR",
    "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC", "south dakota": "SD",
    "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA",
    "washington": "WA", "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY",
    "puerto rico": "PR", "guam": "GU", "virgin islands": "VI", "u.s. virgin islands": "VI",
    "american samoa": "AS", "northern mariana islands": "MP",
}
REQUIRED = {"BIRTHDATE", "FIRST", "LAST", "GENDER", "ADDRESS", "CITY", "STATE"}


def detect(header: list[str]) -> bool:
    names = {h.strip() for h in header}
    return names >= REQUIRED and ("Id" in names or "ID" in names)


def _state(value: str) -> str:
    """A state's code; a name Synthea does not use is kept, for the import to refuse by name."""
    v = value.strip()
    return STATES.get(v.lower(), v)


def read(path: str, options: dict):
    with open_text(path, "patient-import") as f:
        reader = csv.DictReader(f)
        try:
            yield from _read_rows(reader, path)
        except csv.Error as e:  # a field over csv's size limit: bad input naming its line
            raise InvalidInput(f"{path}:{reader.reader.line_num}: {e}; nothing was imported") from None


def _read_rows(reader: csv.DictReader, path: str):
    missing = REQUIRED - {h.strip() for h in reader.fieldnames or []}
    if missing:  # --input-format synthea on another file
        raise InvalidInput(f"{path}: not a Synthea patients.csv (no {', '.join(sorted(missing))} column); "
                           "nothing was imported")
    for row in reader:
        line = reader.line_num
        if None in row or any(v is None for v in row.values()):
            yield line, ValueError(f"expected {len(reader.fieldnames or [])} columns")
            continue
        fields = {
            "external_id": row.get("Id") or row.get("ID") or "",
            "first": row["FIRST"],
            "last": row["LAST"],
            "dob": row["BIRTHDATE"],
            "sex": row["GENDER"] or "U",
            "address": row["ADDRESS"],
            "city": row["CITY"],
            "state": _state(row["STATE"]),
            "zip": row.get("ZIP", ""),
        }
        if row.get("DEATHDATE"):
            fields["reminders"] = False
        yield line, {k: v for k, v in fields.items() if v not in ("", None)}


@hookimpl
def register_importers(register):
    register(Importer("synthea", "patient", "Synthea patients.csv (2018 and current layouts)",
                      read, detect))
