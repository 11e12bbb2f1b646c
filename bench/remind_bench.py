"""Reminders: one `medsec remind send` of 1,000 due reminders to a loopback SMTP server, and one
of 1,000 letter reminders printed as one PDF batch with its mail-merge CSV.

A small data directory of its own, built fresh each run (reminders go out
once): 1,000 patients with email addresses who prefer email, imported from
a CSV; a week of visits for them (one each), written by bench/apptgen.py;
every appointment type's lead_hours set to 8 days so that the whole week is
due; channels.yaml pointing the email channel at an aiosmtpd server on
127.0.0.1 that counts what it receives. The letters: the same practice with every patient
preferring letters, `remind send --within 8d --letters-pdf FILE`; visits less than
reminders.letter_lead_days (3) ahead are skipped (the post would be late), the others printed,
and pypdf counts the PDF's pages against the letters sent.
"""

import csv
import json
import os
import random
import shutil
import socket
from datetime import datetime, timedelta

import apptgen
import yaml
from aiosmtpd.controller import Controller
from appt_bench import add_providers, generate
from datagen import COLUMNS, patient_rows
from harness import DATA, MEDSEC, Dataset, Launcher, Target, summarize

REMINDERS = 1000
LEAD_HOURS = 8 * 24  # visits on the next 7 days are all within it
TARGET = Target(max_ms=20_000)


class SmtpSink:
    """A loopback SMTP server (aiosmtpd) counting the messages it accepts."""

    def __init__(self):
        self.port = free_port()  # aiosmtpd's Controller(port=0) does not report the port it got
        self.received = 0
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.received += 1
        return "250 Message accepted"

    def __enter__(self) -> "SmtpSink":
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_patients(path: str, seed: int, channel: str = "email") -> None:
    """REMINDERS patients, each with an email address and a postal address, preferring `channel`."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS + ["preferred_channel"], lineterminator="\n")
        writer.writeheader()
        for row in patient_rows(random.Random(seed), REMINDERS):
            writer.writerow({**row, "preferred_channel": channel})


def configure(home: str, port: int) -> None:
    """Email through the sink; every type's reminders due LEAD_HOURS ahead (hand edits, as a user makes)."""
    with open(os.path.join(home, "channels.yaml"), "a", encoding="utf-8") as f:
        f.write(f"email:\n  host: 127.0.0.1\n  port: {port}\n  security: none\n  from: desk@example.org\n")
    path = os.path.join(home, "appointment-types.yaml")
    with open(path, encoding="utf-8") as f:
        types = yaml.safe_load(f)
    for spec in types["types"].values():
        spec["lead_hours"] = [LEAD_HOURS]
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(types, f, sort_keys=False)


def prepare(data: Dataset, launcher: Launcher, port: int, seed: int, channel: str = "email") -> None:
    """init, patients, configuration, providers, then a week of visits (one per patient)."""
    launcher.checked([MEDSEC, "--data-dir", data.home, "init", "--security", "open"])
    write_patients(data.csv, seed, channel)
    launcher.checked([MEDSEC, "patient", "import", data.csv, "--json"])
    configure(data.home, port)
    weekdays = 5  # among the next 7 days
    ids, _ = add_providers(launcher, apptgen.providers_needed(data.home, REMINDERS, weekdays, minimum=1))
    now = datetime.now(apptgen.zone(data.home)).replace(microsecond=0)
    generate(launcher, "medsec", {
        "home": data.home, "appointments": REMINDERS, "seed": seed,
        "first_day": (now.date() + timedelta(days=1)).isoformat(),
        "last_day": (now.date() + timedelta(days=7)).isoformat(), "providers": ids,
        "patients": [1, REMINDERS], "now": now.isoformat(), "one_each": True, "all_booked": True,
    }, data.folder)


def measure(seed: int) -> dict:
    """Build the reminder practice, then time one `remind send`; count what the server received."""
    data = Dataset(os.path.join(DATA, "remind"))
    shutil.rmtree(data.folder, ignore_errors=True)
    os.makedirs(data.folder)
    print(f"reminders: {REMINDERS:,} patients and visits in {data.folder} ...", flush=True)
    with SmtpSink() as sink, Launcher(data.env) as launcher:
        prepare(data, launcher, sink.port, seed)
        run = launcher.spawn([MEDSEC, "remind", "send", "--json"])
    sent = sum(r["status"] == "sent" for r in json.loads(run.out or b"[]"))
    row = summarize(f"remind send: {REMINDERS:,} due, email to loopback SMTP (once)", {"medsec": [run]}, TARGET)
    row.update(exit_code=run.exit_code, sent=sent, received=sink.received)
    if not (run.exit_code == 0 and sent == REMINDERS and sink.received == REMINDERS):
        row["result"] = "FAIL"
    return row



def measure_letters(seed: int) -> dict:
    """The same practice preferring letters: one `remind send --within 8d` printing them; the PDF's
    pages (pypdf) against the letters sent, and every visit either printed or skipped."""
    from pypdf import PdfReader

    data = Dataset(os.path.join(DATA, "letters"))
    shutil.rmtree(data.folder, ignore_errors=True)
    os.makedirs(data.folder)
    pdf = os.path.join(data.folder, "letters.pdf")
    print(f"letters: {REMINDERS:,} patients and visits in {data.folder} ...", flush=True)
    with SmtpSink() as sink, Launcher(data.env) as launcher:
        prepare(data, launcher, sink.port, seed, channel="letter")
        run = launcher.spawn([MEDSEC, "remind", "send", "--within", "8d", "--letters-pdf", pdf, "--json"])
    rows = json.loads(run.out or b"[]")
    printed = sum(r["status"] == "sent" and r["channel"] == "print" for r in rows)
    skipped = sum(r["status"] == "skipped" for r in rows)
    pages = len(PdfReader(pdf).pages) if os.path.exists(pdf) else 0
    row = summarize(f"remind send: {REMINDERS:,} letter patients, one PDF batch (once)", {"medsec": [run]}, TARGET)
    row.update(exit_code=run.exit_code, sent=printed, skipped=skipped, pages=pages)
    if not (run.exit_code == 0 and printed and pages == printed and printed + skipped == REMINDERS):
        row["result"] = "FAIL"
    return row
