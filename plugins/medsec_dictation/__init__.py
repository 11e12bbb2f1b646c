"""The bundled offline transcriber: pocketsphinx with the practice's own language model.

Installed with ``pip install 'medsec[dictation]'``; registers the ``pocketsphinx`` transcriber
(register_transcribers). Nothing is imported until audio is transcribed.
"""

import medsec
from medsec.plugin_types import Transcriber, lazy


@medsec.hookimpl
def register_transcribers(register):
    register(Transcriber(
        "pocketsphinx",
        "offline speech recognition on this machine (pocketsphinx, US English), with a language model "
        "built from the practice's own letters, codes, formulary and names; no audio leaves the machine",
        lazy("medsec_dictation.engine:transcribe"),
    ))
