"""Plugins for billing tests: a tiny ICD-10-CM table, a JSON remittance format, a payer rule."""

import json

from medsec import hookimpl
from medsec.plugin_types import CodingTable, RemittanceFormat

ICD = {"E11.9": ("Type 2 diabetes mellitus without complications", True),
       "E11": ("Type 2 diabetes mellitus", False),
       "I10": ("Essential (primary) hypertension", True),
       "J06.9": ("Acute upper respiratory infection, unspecified", True)}


def lookup(data_dir, code):
    code = code.strip().upper()
    if code not in ICD:
        return None
    return {"code": code, "description": ICD[code][0], "billable": ICD[code][1], "system": "ICD-10-CM"}


def search(data_dir, text, limit):
    return [lookup(data_dir, c) for c in ICD if c.startswith(text.upper())][:limit]


def read(raw):
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise ValueError(f"line {e.lineno}: not JSON") from None
    return data if isinstance(data, list) else [data]


@hookimpl
def register_coding_tables(register):
    register(CodingTable("test-icd", "ICD-10-CM", "a few ICD-10-CM codes for tests", lookup, search))


@hookimpl
def register_remittance_formats(register):
    register(RemittanceFormat("json-remit", "remittances as JSON (tests)", lambda raw: raw.lstrip()[:1] in (b"[", b"{"),
                              read))


@hookimpl
def validate_claim(claim, payer):
    if payer.get("id") == "HARBOR" and len(claim["lines"]) > 1:
        return ["Harbor Mutual takes one service line per claim"]
    return []
