"""Bundled plugin: the `voice` channel, spoken reminders through an HTTP voice gateway.

The sending code lives in `channel.py`, imported only when a message goes
out (see plugin_types.lazy). Settings are described in channel.py.
"""

from medsec import hookimpl
from medsec.plugin_types import Channel, lazy


@hookimpl
def register_channels(register):
    register(Channel("voice", ("voice",), "call patients through an HTTP text-to-speech voice gateway",
                     lazy("medsec_voice.channel:send")))
