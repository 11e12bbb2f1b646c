"""Default plugin: the practice's own code list from codes.yaml.

CPT descriptions belong to the AMA and are never shipped; a practice lists
the codes it licenses and uses, with its own descriptions and fees.
"""

from medsec import config
from medsec.plugin_api import CodingTable, hookimpl, words
from medsec.text import matches


def _codes(data_dir: str) -> list[dict]:
    return [c for c in config.load(data_dir, "codes.yaml").get("codes") or [] if isinstance(c, dict)]


def lookup(data_dir: str, code: str) -> dict | None:
    for entry in _codes(data_dir):
        if str(entry.get("code", "")).upper() == code.strip().upper():
            return _row(entry)
    return None


def search(data_dir: str, text: str, limit: int = 20) -> list[dict]:
    query = words(text)
    out = []
    for entry in _codes(data_dir):
        code = str(entry.get("code", ""))
        if code.upper().startswith(text.strip().upper()) or (
            query and matches(query, words(entry.get("description", "")))
        ):
            out.append(_row(entry))
    return out[:limit]


def _row(entry: dict) -> dict:
    return {"code": str(entry["code"]), "system": entry.get("system", ""),
            "description": entry.get("description", ""),
            "fee": str(entry["fee"]) if entry.get("fee") is not None else ""}


@hookimpl
def register_coding_tables(register):
    register(CodingTable("practice", "CPT/HCPCS", "the practice's own code list (codes.yaml)",
                         lookup, search))
