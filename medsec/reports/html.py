"""Reports as one self-contained HTML page: the table and a bar chart drawn in SVG.

No scripts, fonts or images are fetched: the page opens the same offline.
"""

from decimal import Decimal, InvalidOperation
from html import escape as escape_markup

from medsec.text import escape_controls

BAR_HEIGHT = 22
CHART_WIDTH = 640
LABEL_WIDTH = 180


def escape(value) -> str:
    """`value` as HTML text: markup escaped, and control characters shown as escapes
    (`\\x1b`; XML forbids most of them in the SVG, and bidi controls would reorder a cell)."""
    return escape_markup(escape_controls(str(value)))


def _number(value) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def chart_columns(columns: list[str], rows: list[dict]) -> tuple[str, str] | None:
    """The label column (first non-numeric) and value column (last numeric) to draw."""
    numeric = [c for c in columns if rows and all(_number(r.get(c)) is not None for r in rows)]
    labels = [c for c in columns if c not in numeric]
    if not numeric or not labels:
        return None
    return labels[0], numeric[-1]


def svg_bars(rows: list[dict], label: str, value: str) -> str:
    values = [max(_number(r.get(value)) or Decimal(0), Decimal(0)) for r in rows]
    top = max(values, default=Decimal(0)) or Decimal(1)
    height = BAR_HEIGHT * len(rows) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{height}" '
             f'role="img" aria-label="{escape(value)} by {escape(label)}">',
             f'<text x="0" y="14" font-size="12">{escape(value)} by {escape(label)}</text>']
    span = CHART_WIDTH - LABEL_WIDTH - 70
    for i, (row, amount) in enumerate(zip(rows, values, strict=True)):
        y = 24 + i * BAR_HEIGHT
        width = int(span * amount / top)
        parts.append(f'<text x="0" y="{y + 14}" font-size="12">{escape(str(row.get(label, ""))[:28])}</text>')
        parts.append(f'<rect x="{LABEL_WIDTH}" y="{y + 2}" width="{width}" height="{BAR_HEIGHT - 6}" '
                     f'fill="#3b6ea5"><title>{escape(str(row.get(value)))}</title></rect>')
        parts.append(f'<text x="{LABEL_WIDTH + width + 6}" y="{y + 14}" font-size="12">'
                     f'{escape(str(row.get(value)))}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def render_page(title: str, subtitle: str, columns: list[str], rows: list[dict]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "\n".join("<tr>" + "".join(f"<td>{escape(str(r.get(c, '')))}</td>" for c in columns) + "</tr>"
                     for r in rows)
    picked = chart_columns(columns, rows)
    chart = svg_bars(rows, *picked) if picked and rows else "<p>No data to chart.</p>"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin-top: 1em; }}
th, td {{ border: 1px solid #bbb; padding: 4px 8px; text-align: left; }}
th {{ background: #eef2f7; }}
</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p>{escape(subtitle)}</p>
<figure>
{chart}
</figure>
<table>
<thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody>
</table>
</body>
</html>
"""
