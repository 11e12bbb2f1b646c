"""`medsec dictation`: transcribe a physician's dictation into a draft document."""

import click

from medsec.cli.common import pass_app
from medsec.cli.doc import author_option, kind_option, recipient_options
from medsec.cli.options import list_options, patient_option, quiet_option
from medsec.cli.output import output_options, render


@click.group()
def dictation():
    """Transcribe dictations into draft documents.

    The audio stays on this machine with the bundled engine (pocketsphinx:
    pip install 'medsec[dictation]'); the draft is corrected with
    'medsec doc edit' and signed by its author with 'medsec doc sign'.

    \b
    Examples:
      medsec dictation engines
      medsec dictation add consult.wav --patient P1 --author S1 --kind consult --recipient RF1
    """


@dictation.command("add")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@patient_option("patient_id", help="The patient the dictation is about (an id or a name).", required=True)
@author_option(help="Who dictated it, and signs it (a staff id or name).")
@kind_option()
@click.option("--title", default="", help="A title (default: the kind).")
@recipient_options
@click.option("--engine", default=None, metavar="NAME",
              help="The transcriber (default: dictation.yaml's engine, else pocketsphinx).")
@click.option("--again", is_flag=True, help="Transcribe audio that was transcribed before once more.")
@quiet_option
@output_options
@pass_app
def add(app, fmt, path, patient_id, author_id, kind, title, to, to_fax, to_email, to_address, engine, again):
    """Transcribe a dictation into a draft.

    FILE is WAV, FLAC or MP3 (sox converts FLAC, MP3 and WAV that is not
    16 kHz mono). It is refused when it is not audio, silent, longer than
    dictation.yaml's max_minutes (default 60) or over the 50 MB limit for
    an attachment (some 26 minutes of 16 kHz mono WAV: record longer ones
    as MP3 or FLAC), and when the same audio was transcribed before
    (--again). Words the transcriber was unsure of are written [?word]:
    correct them with 'medsec doc edit'.

    \b
    Examples:
      medsec dictation add consult.wav --patient P1 --author S1 --kind consult --recipient RF1
      medsec dictation add note.mp3 --patient P2 --author S1 --kind note --engine pocketsphinx
    """
    from medsec.progress import on_terminal
    from medsec.workflows import dictation as svc

    with on_terminal() as progress:
        record = svc.add(app, path, patient_id=patient_id, author_id=author_id, kind=kind, title=title, to=to,
                         to_fax=to_fax, to_email=to_email, to_address=to_address, engine=engine, again=again,
                         progress=progress)
    render(record, fmt)


@dictation.command("engines")
@list_options
@output_options
@pass_app
def engines(app, fmt, limit):
    """The installed transcribers.

    \b
    Examples:
      medsec dictation engines
      medsec dictation engines --json
    """
    from medsec.workflows import dictation as svc

    found = svc.list_engines(app)
    render(found[:limit] if limit else found, fmt, ["name", "plugin", "description", "default"])
