"""Reminder letters printed: a run's letters routed to the built-in outbox go into one PDF (a page
each, the address block for a window envelope) and a mail-merge CSV (medsec.communications.printbatch),
where `remind send --letters-pdf/--letters-csv` say or in the outbox."""

import os
from dataclasses import dataclass, field
from datetime import datetime

from medsec.communications import messaging
from medsec.errors import InvalidInput
from medsec.plugin_types import Message

PRINT = "print"  # the channel name recorded for a letter printed in the run's batch
LETTER_COLUMNS = ["patient_id", "patient", "appointment_id", "visit"]


def printed(kind: str, r: messaging.Route) -> bool:
    """A letter routed to the built-in outbox is printed in the run's batch (a mail-house
    channel a plugin registers gets it instead)."""
    return kind == "letter" and r.name == "outbox"


@dataclass
class Letters:
    """The letters of one run, to print: one PDF and its mail-merge CSV."""

    pdf: str | None = None  # --letters-pdf: a FILE.pdf or a directory (default: the outbox)
    csv: str | None = None
    entries: list[tuple[str, Message, dict, dict]] = field(default_factory=list)  # (reminder id, ...)

    def batch(self, title: str):
        from medsec.communications.printbatch import PrintBatch

        batch = PrintBatch(title, LETTER_COLUMNS)
        for _, message, patient, appt in self.entries:
            visit = f"{appt['start'][:10]} {appt['start'][11:16]}"
            batch.add(letter_text(message, patient), to={**patient, "name": f"{patient['first']} {patient['last']}"},
                      patient_id=patient["id"], patient=f"{patient['last']}, {patient['first']}",
                      appointment_id=appt["id"], visit=visit)
        return batch

    def print(self, app, now: datetime, token: str) -> tuple[dict, dict[str, int]]:
        """Write the batch (where asked, else in the outbox): what was written, and each reminder's page."""
        batch = self.batch(f"Reminder letters {now.date()}")
        name = f"reminder-letters-{now:%Y-%m-%d-%H%M}-{token}"
        pages = {rid: page for page, (rid, _, _, _) in enumerate(self.entries, 1)}
        written = batch.write(app, pdf=self.pdf, csv=self.csv, name=name) if self.pdf else batch.to_outbox(app, name)
        return written, pages

    @staticmethod
    def page_id(written: dict, page: int) -> str:
        return f"{os.path.basename(written['pdf'])}#page={page}"


def letter_text(message: Message, patient: dict) -> str:
    """A printed letter: the address block (for a window envelope), the subject, the body."""
    street = str(patient.get("address") or "").replace(" / ", "\n").split("\n")
    place = ", ".join(x for x in (patient.get("city") or "", " ".join(
        x for x in (patient.get("state") or "", str(patient.get("zip") or "")) if x)) if x)
    block = [f"{patient.get('first', '')} {patient.get('last', '')}".strip(), *[s.strip() for s in street if s.strip()]]
    if place:
        block.append(place)
    return "\n".join(block) + f"\n\n\nRe: {message.subject}\n\n{message.body}\n"


def letters_to(app, pdf: str | None, csv: str | None) -> Letters:
    """Where the run's letters go (--letters-pdf, --letters-csv), judged before anything is claimed."""
    from medsec.communications.printbatch import check_paths

    if csv and not pdf:
        raise InvalidInput("--letters-csv needs --letters-pdf: a run's letters are printed from the PDF, "
                           "the CSV beside it is their mail-merge list")
    if pdf and not csv and pdf.lower().endswith(".pdf"):
        csv = pdf[:-4] + ".csv"  # the mail-merge CSV beside the PDF
    if pdf:
        check_paths(app, pdf=pdf, csv=csv, name="reminder-letters", pdf_option="--letters-pdf",
                    csv_option="--letters-csv")
    return Letters(pdf, csv)
