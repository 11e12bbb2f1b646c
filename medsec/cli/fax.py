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
from medsec.cli.output import output_options, render, say
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
@renamed_option("--number", "number", was="--to", required=True, metavar="NUMBER", help="The fax number to send to.")
@click.option("--recipient", default="", metavar="NAME", help="Who receives it (for the cover and the log).")
@click.option("--purpose", default="", metavar="TEXT",
              help="Why it is sent (kept in the fax log). treatment, payment, operations, authorized or "
                   "\"to the patient\" (alone or before a colon) keep it out of what the accounting of "
                   "disclosures requires; any other purpose is accountable.")
@patient_option(help="The patient it is about (kept with the patient's record).")
@click.option("--cover/--no-cover", default=True, show_default=True,
              help="Put the cover sheet (template fax-cover) first.")
@click.option("--subject", default="", help="Subject, for the cover sheet.")
@note_option(help="Text for the cover sheet.")
@output_options
@pass_app
def send(app, fmt, file, number, recipient, purpose, patient, cover, subject, note):
    """Send a PDF or TIFF through the fax channel.

    A cover sheet with the practice's confidentiality notice goes first
    unless --no-cover. The fax is kept in the fax log (medsec fax list).

    \b
    Examples:
      medsec fax send letter.pdf --number 617-555-0300 --recipient "Boston Cardiology" \\
        --purpose "records request"
      medsec fax send form.pdf --number 617-555-0300 --no-cover
    """
    render(svc.send(app, file, to=number, patient_id=patient, cover=cover, recipient=recipient, purpose=purpose,
                    subject=subject, note=note), fmt)


@fax.command("status")
@click.argument("fax_id", required=False)
@click.option("--callback", "callback", default=None, type=click.Path(dir_okay=False), metavar="FILE",
              help="Apply a gateway's status callback (its JSON body) instead.")
@output_options
@pass_app
def status(app, fmt, fax_id, callback):
    """Ask the gateway how outgoing faxes fared.

    Every outgoing fax still sent, busy or unanswered (or FAX_ID) is asked
    about; a busy or unanswered one is sent again, up to the fax channel's
    retries (default 3 tries in all), then marked failed with a task for
    the front desk. When the gateway could not say for some fax (down,
    an answer it does not understand), each is a warning on stderr and
    the exit status is 3; the others are still updated.

    \b
    Examples:
      medsec fax status
      medsec fax status F3 --json
      medsec fax status --callback callback.json
    """
    from medsec.workflows import fax_log

    if callback and fax_id:
        raise click.UsageError("give FAX_ID or --callback, not both")
    if callback:
        record, warning = fax_log.callback(app, callback)
        records, warnings = [record], [warning] if warning else []
    else:
        records, warnings = fax_log.poll(app, fax_id)
    for warning in warnings:
        say(f"medsec: warning: {warning}")
    render(records, fmt, svc.COLUMNS)
    if warnings and not callback:
        from medsec.errors import EnvironmentFailure

        raise EnvironmentFailure(f"the gateway could not say for {len(warnings)} fax(es); the others are up to date",
                                 hint="run 'medsec fax status' again later")


@fax.command("link")
@click.argument("fax_id")
@click.option("--referral", default=None, metavar="RF", help="The outgoing referral it answers (consult report).")
@click.option("--lab", default=None, metavar="LB", help="The lab order whose result it is.")
@click.option("--refill", default=None, metavar="RX", help="The refill request it is about.")
@note_option(help="A note for the fax and the workflow's history.")
@output_options
@pass_app
def link(app, fmt, fax_id, referral, lab, refill, note):
    """Link an incoming fax to what it answers.

    A consult report makes the referral report-received; a lab result
    results the order (the physician's review task opens); a pharmacy's fax
    is kept with the refill request. The fax is filed with that patient.

    \b
    Examples:
      medsec fax link F1 --referral RF1
      medsec fax link F2 --lab LB1
      medsec fax link F3 --refill RX1
    """
    from medsec.workflows import fax_log

    render(fax_log.link(app, fax_id, referral=referral, lab=lab, refill=refill, note=note), fmt, svc.COLUMNS)


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
