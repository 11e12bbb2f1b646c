"""Bundled plugin: the `sms` channel, through an HTTP SMS gateway.

The sending code (and the standard library modules it needs) lives in
`channel.py` and is imported only when a message goes out: every medsec
command that loads plugins imports this module, so it stays cheap.
Settings are described in channel.py.
"""

from medsec import hookimpl
from medsec.plugin_types import Channel


def send(message, settings, data_dir):
    from medsec_sms.channel import send as deliver

    return deliver(message, settings, data_dir)


@hookimpl
def register_channels(register):
    register(Channel("sms", ("sms",), "send text messages through an HTTP SMS gateway", send))
