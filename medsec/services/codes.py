"""Code lookups across every registered coding table."""

from medsec.errors import InvalidInput, NotFound
from medsec.plugins import collect


def tables(app) -> dict:
    return collect(app.plugins, "register_coding_tables")


def list_tables(app) -> list[dict]:
    return [{"name": r.name, "system": r.item.system, "description": r.item.description,
             "plugin": r.plugin} for r in tables(app).values()]


def _chosen(app, system: str | None):
    found = tables(app)
    if system is None:
        return list(found.values())
    chosen = [r for r in found.values() if system.lower() in (r.name.lower(), r.item.system.lower())]
    if not chosen:
        raise InvalidInput(f"unknown coding table {system!r}", hint=f"known: {', '.join(sorted(found))}")
    return chosen


def search_codes(app, text: str, system: str | None = None, limit: int | None = None) -> list[dict]:
    if not text.strip():
        raise InvalidInput("give some text or the start of a code to search for")
    out = []
    for reg in _chosen(app, system):
        for row in reg.item.search(app.store.root, text, limit or 10 ** 6):
            out.append({**row, "table": reg.name})
    return out[:limit] if limit else out


def show_code(app, code: str, system: str | None = None) -> dict:
    for reg in _chosen(app, system):
        row = reg.item.lookup(app.store.root, code)
        if row:
            return {**row, "table": reg.name}
    raise NotFound(f"no code {code!r} in {system or 'any coding table'}")
