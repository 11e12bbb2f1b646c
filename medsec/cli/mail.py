"""`medsec mail`: post received, letters and emails sent from templates."""

import click

from medsec.cli.common import pass_app
from medsec.cli.options import (
    appt_option,
    date_range_options,
    day_span,
    direction_option,
    dry_run_option,
    list_options,
    patient_option,
    quiet_option,
    renamed_option,
    unassigned_option,
)
from medsec.cli.output import is_quiet, output_options, render, say
from medsec.communications import mail as svc
from medsec.errors import Refused
from medsec.text import escape_controls


@click.group()
def mail():
    """Post in; letters and emails out.

    Log incoming post; write letters and emails from templates.

    \b
    Examples:
      medsec mail receive --sender "Boston Radiology" --subject "MRI report" --patient P1
      medsec mail send --patient P1 --template recall-letter --dry-run
    """


@mail.command("receive")
@renamed_option("--sender", "sender", was="--from", required=True, metavar="NAME",
                help="Who sent it (a practice, a lab, a person).")
@click.option("--subject", required=True, help="What it is about.")
@patient_option(help="File it with this patient (default: the unassigned queue).")
@click.option("--scan", type=click.Path(dir_okay=False), default=None, metavar="FILE", help="A scan of the letter.")
@output_options
@pass_app
def receive(app, fmt, sender, subject, patient, scan):
    """Log a piece of incoming post.

    \b
    Examples:
      medsec mail receive --sender "Boston Radiology" --subject "MRI report" --patient P1 \\
          --scan referral.pdf
    """
    render(svc.receive(app, sender=sender, subject=subject, patient_id=patient, scan=scan), fmt)


@mail.command("send")
@patient_option("patients", help="A patient to write to (repeatable).", multiple=True)
@click.option("--to-list", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="CSV with an id column (e.g. from 'patient find --format csv'), or one id per line.")
@click.option("--template", required=True, help="recall-letter, confirmation, ... (see templates/messages).")
@click.option("--channel", "kind", type=click.Choice(svc.KINDS), default="letter", show_default=True,
              help="Print a letter, or send an email.")
@appt_option("appt", help="An appointment, for templates about one.")
@click.option("--var", "variables", multiple=True, metavar="KEY=VALUE",
              help="A value for the template, as {{ vars.KEY }} (repeatable).")
@dry_run_option(help="Render every letter and report who would get it; send nothing.")
@quiet_option
@output_options
@pass_app
def send(app, fmt, patients, to_list, template, kind, appt, variables, dry_run):
    """Mail merge: a letter or email per patient.

    Exit 1 when any could not be sent; the others are sent. --to-list reads
    the patient_id column of a CSV that has one ('remind followups', 'appt
    list' --format csv), else its id column ('patient find --format csv'); a
    patient listed twice gets one.
    --var KEY=VALUE gives the template {{ vars.KEY }}. Each letter's text is
    kept: 'mail show' shows it.

    \b
    Examples:
      medsec mail send --patient P1 --patient P2 --template recall-letter --dry-run
      medsec mail send --patient P1 --template recall-letter --var clinic_day=Saturday --dry-run
      medsec mail send --to-list overdue.csv --template recall-letter --channel email
    """
    values = svc.parse_vars(variables)
    ids = list(dict.fromkeys(p.upper() for p in list(patients) + (svc.read_id_list(to_list) if to_list else [])))
    summary = svc.send(app, patients=ids, template=template, kind=kind, appointment=appt, dry_run=dry_run,
                       variables=values)
    for letter in summary["letters"]:
        if letter["status"] == "failed":
            say(f"{letter['patient_id']}: {letter['reason']}")
    rows = summary.pop("letters")
    render(rows if fmt != "table" else summary, fmt, ["id", "patient_id", "status", "to", "reason"])
    if summary["failed"]:
        raise Refused(f"{summary['failed']} of {len(rows)} not sent")


@mail.command("list")
@direction_option()
@unassigned_option("mail")
@date_range_options(first="no limit", last="no limit", what="mail was logged or sent")
@list_options
@output_options
@pass_app
def list_(app, fmt, direction, unassigned, start, end, limit):
    """Mail in and out.

    \b
    Examples:
      medsec mail list
      medsec mail list --direction in --unassigned --from mon
    """
    first, last = day_span(app, start, end)
    render(svc.list_mail(app, direction=direction, status="unassigned" if unassigned else None, limit=limit,
                         first=first, last=last), fmt, svc.COLUMNS)


@mail.command("show")
@click.argument("mail_id")
@output_options
@pass_app
def show(app, fmt, mail_id):
    """One mail item.

    A letter or email sent shows its text as sent (the body); one sent
    before medsec kept the text says so.

    \b
    Examples:
      medsec mail show L2
    """
    record = svc.get_mail(app, mail_id)
    app.audit("read", [record["id"]] + ([record["patient_id"]] if record["patient_id"] else []))
    kept = "body" in record
    if record["direction"] == "out" and not kept:
        record = {**record, "body": None}
        say(f"{record['id']} was sent before medsec kept the text of what it sends: its body is not on record")
    if fmt != "table" or not record.get("body"):
        render(record, fmt)
        return
    render({k: v for k, v in record.items() if k != "body"}, fmt)
    if not is_quiet():
        click.echo("")
        click.echo(escape_controls(record["body"], keep_newlines=True))
