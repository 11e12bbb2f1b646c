"""Running registered reports."""

from datetime import date

from medsec import clock
from medsec.errors import NotFound
from medsec.plugins import collect
from medsec.text import shown


def run_report(app, name: str, start: date, end: date) -> tuple[list[str], list[dict]]:
    clock.check_range(start, end)  # in order, and a span of days a report may scan
    found = collect(app.plugins, "register_reports").get(name)
    if found is None:
        raise NotFound(f"no report {shown(name)}")
    columns, rows = found.item.build(app, {"start": start, "end": end})
    app.audit("report")
    return columns, rows
