"""`medsec fax`: incoming faxes filed, outgoing faxes sent."""

import click

from medsec.cli.common import pass_app
from medsec.cli.options import (
    date_range_options,
    day_span,
    direction_option,
    list_options,
    note_option,
    patient_option,
    renamed_option,
    unassigned_option,
)
from medsec.cli.output import output_options, render
from medsec.communications import faxes as svc


@click.group()
def fax():
    """Receive, file and send faxes.

    \b
    Examples:
      medsec fax receive referral.pdf --number 617-555-0300 --subject "referral"
      medsec fax list --unassigned
      medsec fax assign F1 --patient P1
    """


@fax.command("receive")
@click.argument("file", type=click.Path(dir_okay=False))
@renamed_option("--number", "sender", was="--from", required=True, metavar="NUMBER", help="The sending fax number.")
@patient_option(help="File it with this patient (default: the unassigned queue).")
@click.option("--subject", default="", help="What the fax is.")
@output_options
@pass_app
def receive(app, fmt, file, sender, patient, subject):
    """File an incoming fax (a PDF or TIFF FILE).

    It is stored by content hash in the data directory.

    \b
    Examples:
      medsec fax receive referral.pdf --number 617-555-0300 --subject "referral"
      medsec fax receive labs.tif --number 617-555-0300 --patient P1
    """
    render(svc.receive(app, file, sender=sender, patient_id=patient, subject=subject), fmt)


@fax.command("assign")
@click.argument("fax_id")
@patient_option(help="The patient to file it with.", required=True)
@output_options
@pass_app
def assign(app, fmt, fax_id, patient):
    """File an unassigned fax with a patient.

    \b
    Examples:
      medsec fax assign F1 --patient P1
    """
    render(svc.assign(app, fax_id, patient), fmt, svc.COLUMNS)


@fax.command("send")
@click.argument("file", type=click.Path(dir_okay=False))
@renamed_option("--number", "to", was="--to", required=True, metavar="NUMBER", help="The fax number to send to.")
@patient_option(help="The patient it is about (kept with the patient's record).")
@click.option("--cover", is_flag=True, help="Add a cover sheet (template fax-cover).")
@click.option("--subject", default="", help="Subject, for the cover sheet.")
@note_option(help="Text for the cover sheet.")
@output_options
@pass_app
def send(app, fmt, file, to, patient, cover, subject, note):
    """Send a PDF or TIFF through the fax channel.

    \b
    Examples:
      medsec fax send letter.pdf --number 617-555-0300 --cover --subject "records request"
    """
    render(svc.send(app, file, to=to, patient_id=patient, cover=cover, subject=subject, note=note), fmt)


@fax.command("list")
@unassigned_option("faxes")
@direction_option()
@date_range_options(first="no limit", last="no limit", what="a fax came in or went out")
@list_options
@output_options
@pass_app
def list_(app, fmt, unassigned, direction, start, end, limit):
    """Faxes in and out, with their status.

    \b
    Examples:
      medsec fax list --unassigned
      medsec fax list --direction out --from 2026-12-01 --to 2026-12-31 --json
    """
    first, last = day_span(app, start, end)
    render(svc.list_faxes(app, status="unassigned" if unassigned else None, direction=direction, limit=limit,
                          first=first, last=last), fmt, svc.COLUMNS)


@fax.command("show")
@click.argument("fax_id")
@output_options
@pass_app
def show(app, fmt, fax_id):
    """One fax.

    \b
    Examples:
      medsec fax show F1
    """
    record = svc.get_fax(app, fax_id)
    app.audit("read", [record["id"]] + ([record["patient_id"]] if record["patient_id"] else []))
    render(record, fmt)
