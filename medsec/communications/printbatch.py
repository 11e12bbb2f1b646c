"""A print batch: documents for the mail room (statements now, letters later) written as one
PDF for printing, each document starting on a new page, and a mail-merge CSV with one row
per document (who it goes to, the address lines, and the batch's own columns).

    batch = PrintBatch(title="Statements 2026-12-01", columns=["amount_due", "statement_date", "patient"])
    batch.add(text, to={"name": ..., "address": ..., "city": ..., "state": ..., "zip": ...},
              amount_due="42.00", statement_date="2026-12-01", patient="Ada Lovelace (P3)")
    batch.write(app, pdf="statements.pdf", csv="statements.csv")

`pdf` may name a directory: the PDF (and the CSV unless named) are written there.
`check_paths` judges those paths before anything is done (bad input, exit 2); `to_outbox`
writes a batch into the practice's outbox instead (the reminder letters of a cron run), where
`medsec outbox list` and `outbox show NAME -o FILE` find it (encrypted there in a practice
encrypted at rest, as every outbox file).
"""

import io
import os
from dataclasses import dataclass, field

from medsec.errors import InvalidInput

ADDRESS_COLUMNS = ["name", "address_line1", "address_line2", "city", "state", "zip"]


@dataclass
class PrintBatch:
    title: str
    columns: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)

    def add(self, text: str, *, to: dict, **values: str) -> None:
        """One document and its mail-merge row: `to` is the addressee (name, address, city, state,
        zip; an address of two lines is split at its first line break or ' / ')."""
        unknown = set(values) - set(self.columns)
        if unknown:
            raise ValueError(f"print batch columns not declared: {sorted(unknown)}")
        street = str(to.get("address") or "").replace(" / ", "\n").split("\n", 1)
        zip_code = str(to.get("zip") or "")
        if len(zip_code) == 9 and zip_code.isdigit():
            zip_code = f"{zip_code[:5]}-{zip_code[5:]}"
        row = {"name": to.get("name") or "", "address_line1": street[0].strip(),
               "address_line2": street[1].strip() if len(street) > 1 else "",
               "city": to.get("city") or "", "state": to.get("state") or "", "zip": zip_code}
        self.texts.append(text)
        self.rows.append({**row, **{c: values.get(c, "") for c in self.columns}})

    def __len__(self) -> int:
        return len(self.texts)

    def pdf_bytes(self) -> bytes:
        from medsec import documents  # fpdf: only a batch that is printed pays

        return documents.texts_to_pdf(self.texts, self.title)

    def csv_text(self) -> str:
        """The mail-merge CSV (medsec.spreadsheet: no cell a spreadsheet takes for a formula)."""
        from medsec.spreadsheet import csv_writer

        out = io.StringIO()
        writer = csv_writer(out)
        header = ADDRESS_COLUMNS + self.columns
        writer.writerow(header)
        for row in self.rows:
            writer.writerow([row[k] for k in header])
        return out.getvalue()

    def write(self, app, *, pdf: str | None = None, csv: str | None = None, name: str = "batch") -> dict:
        """Write the PDF (a FILE.pdf, or a directory: DIR/NAME.pdf, with the CSV as DIR/NAME.csv
        unless `csv` names one) and the CSV; the paths written."""
        from medsec.outputs import write_output

        written: dict = {"documents": len(self)}
        target, csv = check_paths(app, pdf=pdf, csv=csv, name=name)
        if target:
            write_output(target, self.pdf_bytes(), data_dir=app.data_dir)
            written["pdf"] = target
        if csv:
            write_output(csv, self.csv_text().encode(), data_dir=app.data_dir)
            written["csv"] = csv
        return written

    def to_outbox(self, app, name: str) -> dict:
        """Write NAME.pdf and NAME.csv into the practice's outbox (medsec.plugin_api.write_outbox_file)."""
        from medsec.plugin_api import write_outbox_file

        pdf = write_outbox_file(app.store.root, f"{name}.pdf", self.pdf_bytes())
        csv = write_outbox_file(app.store.root, f"{name}.csv", self.csv_text().encode())
        return {"documents": len(self), "pdf": pdf, "csv": csv}


def check_paths(app, *, pdf: str | None, csv: str | None, name: str,
                pdf_option: str = "-o", csv_option: str = "--csv") -> tuple[str | None, str | None]:
    """The PDF and CSV paths a batch will be written to (`pdf` may be a directory), both judged
    before either is written (a bad CSV path leaves no PDF behind); InvalidInput (exit 2)."""
    from medsec.outputs import check_output

    target = None
    if pdf:
        folder = os.path.isdir(pdf) or pdf.endswith(os.sep)
        target = os.path.join(pdf, f"{name}.pdf") if folder else pdf
        csv = csv or (os.path.join(pdf, f"{name}.csv") if folder else None)
        if not target.lower().endswith(".pdf"):
            raise InvalidInput(f"{pdf_option} {pdf}: give a directory or a FILE.pdf")
    if target and csv and check_output(target, app.data_dir) == check_output(csv, app.data_dir):
        raise InvalidInput(f"{csv_option} {csv} is the PDF's own path: name another file")
    for path in (target, csv):
        if path:
            check_output(path, app.data_dir)
    return target, csv
