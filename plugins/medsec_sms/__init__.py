"""Bundled plugin: the `sms` channel, through an HTTP SMS gateway.

The sending code (and the standard library modules it needs) lives in
`channel.py`, imported only when a message goes out (see plugin_types.lazy).
Settings are described in channel.py.
"""

from medsec import hookimpl
from medsec.plugin_types import Channel, lazy


@hookimpl
def register_channels(register):
    register(Channel("sms", ("sms",), "send text messages through an HTTP SMS gateway",
                     lazy("medsec_sms.channel:send")))
