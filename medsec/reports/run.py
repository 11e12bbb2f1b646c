"""Running registered reports."""

from datetime import date

from medsec.errors import InvalidInput, NotFound
from medsec.plugins import collect


def run_report(app, name: str, start: date, end: date) -> tuple[list[str], list[dict]]:
    if end < start:
        raise InvalidInput(f"--to {end} is before --from {start}")
    found = collect(app.plugins, "register_reports").get(name)
    if found is None:
        raise NotFound(f"no report {name!r}")
    columns, rows = found.item.build(app, {"start": start, "end": end})
    app.audit("report")
    return columns, rows
