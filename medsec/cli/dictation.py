"""`medsec dictation`: transcribe a physician's dictation into a draft document."""

import click


@click.group()
def dictation():
    """Transcribe dictations into draft documents.

    \b
    Examples:
      medsec dictation add consult.wav --patient P1 --author S1 --kind consult --to RF1
    """
