"""`medsec fax`: incoming faxes filed, outgoing faxes sent."""

import click

from medsec.cli.common import limit_option, pass_app
from medsec.cli.output import output_options, render
from medsec.communications import faxes as svc


@click.group()
def fax():
    """Receive, file and send faxes."""


@fax.command("receive")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--from", "sender", required=True, help="The sending fax number.")
@click.option("--patient", default=None, help="File it with this patient (else: unassigned queue).")
@click.option("--subject", default="")
@output_options
@pass_app
def receive(app, fmt, file, sender, patient, subject):
    """File an incoming fax (PDF or TIFF), stored by content hash."""
    render(svc.receive(app, file, sender=sender, patient_id=patient, subject=subject), fmt)


@fax.command("assign")
@click.argument("fax_id")
@click.option("--patient", required=True)
@output_options
@pass_app
def assign(app, fmt, fax_id, patient):
    """File an unassigned fax with a patient."""
    render(svc.assign(app, fax_id, patient), fmt, svc.COLUMNS)


@fax.command("send")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--to", "to", required=True, help="Fax number.")
@click.option("--patient", default=None)
@click.option("--cover", is_flag=True, help="Add a cover sheet (template fax-cover).")
@click.option("--subject", default="")
@click.option("--note", default="", help="Text for the cover sheet.")
@output_options
@pass_app
def send(app, fmt, file, to, patient, cover, subject, note):
    """Send a PDF or TIFF through the fax channel."""
    render(svc.send(app, file, to=to, patient_id=patient, cover=cover, subject=subject, note=note), fmt)


@fax.command("list")
@click.option("--unassigned", is_flag=True, help="Only incoming faxes not yet filed.")
@click.option("--direction", type=click.Choice(["in", "out"]), default=None)
@limit_option
@output_options
@pass_app
def list_(app, fmt, unassigned, direction, limit):
    """Faxes in and out, with their status."""
    render(svc.list_faxes(app, status="unassigned" if unassigned else None, direction=direction, limit=limit),
           fmt, svc.COLUMNS)


@fax.command("show")
@click.argument("fax_id")
@output_options
@pass_app
def show(app, fmt, fax_id):
    """One fax."""
    record = svc.get_fax(app, fax_id)
    app.audit("read", [record["id"]] + ([record["patient_id"]] if record["patient_id"] else []))
    render(record, fmt)
