"""`medsec intake`: paper commands (joined to the group by medsec.cli.intake)."""

import click

from medsec.cli.common import pass_app
from medsec.cli.options import appt_option, date_option, output_file_option, patient_argument
from medsec.cli.output import inform, output_options, render, say
from medsec.errors import InvalidInput

COMMANDS: list[click.Command] = []
DIFF_COLUMNS = ["field", "on file", "on the form"]


@click.command("packet")
@patient_argument()
@appt_option("appt_id", help="For this appointment (its day decides which forms are due).")
@click.option("--lang", "language", default=None, metavar="CODE",
              help="Labels and texts in this language (en, es; default: the patient's).")
@click.option("--form", "form_ids", multiple=True, metavar="FORM",
              help="Only this form (repeatable; default: the forms due, else all required).")
@output_file_option(help="Write the PDF to FILE ('-': standard output, not a terminal).", required=True)
@output_options
@pass_app
def packet(app, fmt, patient_id, appt_id, language, form_ids, output):
    """Print a fillable intake packet (PDF).

    One or more pages a form: the practice's name, the form's title and
    text, then each question with a PDF form field named <form>.<field>
    (registration.street_address ...), pre-filled with what the record
    holds. By default the forms the patient needs (on the appointment's
    day with --appt), else every required form; in the patient's language.
    A filled packet comes back with 'medsec intake import'.

    \b
    Examples:
      medsec intake packet P12 -o ./packet-P12.pdf
      medsec intake packet P12 --appt A3 --lang es -o ./paquete.pdf
      medsec intake packet P12 --form consent-to-treat -o ./consent.pdf
    """
    from medsec.workflows import intake_paper

    done = intake_paper.write_packet(app, patient_id, output, appt_id, language, list(form_ids) or None)
    if fmt == "table":
        inform(f"wrote {done['file']} ({done['patient_id']}, {', '.join(done['forms'])}; {done['language']})")
    else:
        render(done, fmt)


def _diff_rows(changes: list[dict]) -> list[dict]:
    return [{"field": c["field"], "on file": c["old"], "on the form": c["new"]} for c in changes]


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False), metavar="FILE.pdf")
@click.option("--yes", is_flag=True, help="Apply the changes without asking.")
@click.option("--again", is_flag=True, help="Import a file that was imported before once more.")
@output_options
@pass_app
def import_packet(app, fmt, file, yes, again):
    """Read a filled intake packet back.

    The packet's answers are checked and kept as a pending submission;
    the changes they make to the record are shown (field, on file, on the
    form) and applied once you confirm, or with --yes. Declined (or with
    no terminal to ask at), the submission waits for 'medsec intake
    review'. Anything that is not a packet medsec printed is refused.

    \b
    Examples:
      medsec intake import ./packet-P12.pdf
      medsec intake import ./packet-P12.pdf --yes
    """
    from medsec.cli.names import interactive
    from medsec.workflows import intake as svc
    from medsec.workflows import intake_paper

    submission = intake_paper.import_pdf(app, file, again=again)
    if fmt == "table":
        say(f"{submission['id']}: {submission['patient_id']}, {', '.join(submission['forms'])} "
            f"(packet {submission['origin'].get('packet', '')})")
        if submission["changes"]:
            render(_diff_rows(submission["changes"]), fmt, DIFF_COLUMNS)
        else:
            say("no changes to the record (the forms are marked received once applied)")
    question = f"Apply these changes to {submission['patient_id']}?"
    if yes or (interactive(click.get_current_context()) and click.confirm(question, default=False, err=True)):
        submission = svc.apply(app, submission["id"])
        inform(f"applied {submission['id']} to {submission['patient_id']}")
    else:
        inform(f"{submission['id']} is pending: 'medsec intake review {submission['id']}' will show it")
    if fmt != "table":
        render(submission, fmt)


@click.command("scan")
@patient_argument()
@click.argument("file", type=click.Path(dir_okay=False), metavar="FILE")
@click.option("--form", "form_id", required=True, metavar="FORM", help="The form scanned (see 'medsec intake forms').")
@date_option("--signed", help="The day it was signed", default_text="today")
@click.option("--signed-by", default="", metavar="NAME", help="Who signed it (default: the patient).")
@output_options
@pass_app
def scan(app, fmt, patient_id, file, form_id, signed, signed_by):
    """Attach a scanned paper form.

    The scan (PDF, JPEG or PNG) is attached to the patient labelled
    "<form> (scanned)", and the form marked received and signed (--signed,
    default today; never in the future).

    \b
    Examples:
      medsec intake scan P12 ./consent.pdf --form consent-to-treat
      medsec intake scan P12 ./card.jpg --form insurance --signed 2026-11-20
    """
    from medsec.workflows import intake_paper

    day = app.parse_date(signed, "--signed") if signed else app.today()
    if day > app.today():
        raise InvalidInput(f"--signed {day} is in the future")
    render(intake_paper.scan(app, patient_id, file, form_id, day, signed_by), fmt)


COMMANDS += [packet, import_packet, scan]
