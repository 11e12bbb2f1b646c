"""`medsec intake`: the forms patients fill before a visit, on paper and on the waiting-room tablet."""

import click

from medsec.cli import intake_desk, intake_kiosk, intake_paper
from medsec.cli.common import pass_app
from medsec.cli.output import output_options, render


@click.group()
def intake():
    """Intake paperwork: forms, packets, the kiosk.

    Registration, insurance (with photos of the card), consent to treat,
    the privacy-notice acknowledgment, the financial policy and releases of
    information, in English and Spanish; a practice adds its own in
    intake.yaml. Patients fill them on a pre-filled PDF or on the kiosk;
    what they fill waits for the desk's review before it changes the record.

    \b
    Examples:
      medsec intake forms
      medsec intake status P1
    """


@intake.command("forms")
@click.option("--lang", default="en", metavar="CODE", help="Titles in this language (en, es).")
@output_options
@pass_app
def forms(app, fmt, lang):
    """List the intake forms and their languages.

    \b
    Examples:
      medsec intake forms
      medsec intake forms --lang es
    """
    from medsec.intakeforms import text_in
    from medsec.records import intake as svc

    required = svc.required(app)
    rows = [{"form": form.id, "title": text_in(form.title, lang), "languages": ", ".join(form.languages),
             "signed": form.signature, "renews": f"{form.renew_months} months" if form.renew_months else "never",
             "required": form.id in required, "fields": len(form.fields), "source": form.source}
            for form in svc.forms(app).values()]
    render(rows, fmt, ["form", "title", "languages", "signed", "renews", "required", "source"])


for _module in (intake_desk, intake_paper, intake_kiosk):
    for _command in _module.COMMANDS:
        intake.add_command(_command)
