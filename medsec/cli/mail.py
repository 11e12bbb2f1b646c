"""`medsec mail`: post received, letters and emails sent from templates."""

import click

from medsec.cli.common import limit_option, pass_app
from medsec.cli.output import output_options, render, say
from medsec.communications import mail as svc
from medsec.errors import Refused


@click.group()
def mail():
    """Log incoming post; write letters and emails from templates."""


@mail.command("receive")
@click.option("--from", "sender", required=True)
@click.option("--subject", required=True)
@click.option("--patient", default=None)
@click.option("--scan", type=click.Path(dir_okay=False), default=None, help="A scan of the letter.")
@output_options
@pass_app
def receive(app, fmt, sender, subject, patient, scan):
    """Log a piece of incoming post."""
    render(svc.receive(app, sender=sender, subject=subject, patient_id=patient, scan=scan), fmt)


@mail.command("send")
@click.option("--patient", "patients", multiple=True, help="A patient id (repeatable).")
@click.option("--to-list", type=click.Path(dir_okay=False), default=None,
              help="CSV with an id column (e.g. from 'patient find --format csv'), or one id per line.")
@click.option("--template", required=True, help="recall-letter, confirmation, ... (see templates/messages).")
@click.option("--channel", "kind", type=click.Choice(svc.KINDS), default="letter")
@click.option("--appt", default=None, help="An appointment, for templates about one.")
@click.option("--dry-run", is_flag=True)
@output_options
@pass_app
def send(app, fmt, patients, to_list, template, kind, appt, dry_run):
    """Generate a letter or email per patient (mail merge)."""
    ids = list(patients) + (svc.read_id_list(to_list) if to_list else [])
    summary = svc.send(app, patients=ids, template=template, kind=kind, appointment=appt, dry_run=dry_run)
    for letter in summary["letters"]:
        if letter["status"] == "failed":
            say(f"{letter['patient_id']}: {letter['reason']}")
    rows = summary.pop("letters")
    render(rows if fmt != "table" else summary, fmt, ["id", "patient_id", "status", "to", "reason"])
    if summary["failed"]:
        raise Refused(f"{summary['failed']} of {len(rows)} not sent")


@mail.command("list")
@click.option("--direction", type=click.Choice(["in", "out"]), default=None)
@click.option("--unassigned", is_flag=True)
@limit_option
@output_options
@pass_app
def list_(app, fmt, direction, unassigned, limit):
    """Mail in and out."""
    render(svc.list_mail(app, direction=direction, status="unassigned" if unassigned else None, limit=limit),
           fmt, svc.COLUMNS)


@mail.command("show")
@click.argument("mail_id")
@output_options
@pass_app
def show(app, fmt, mail_id):
    """One mail item."""
    record = svc.get_mail(app, mail_id)
    app.audit("read", [record["id"]] + ([record["patient_id"]] if record["patient_id"] else []))
    render(record, fmt)
