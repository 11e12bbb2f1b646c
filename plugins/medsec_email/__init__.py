"""Bundled plugin: the `email` channel, delivering through an SMTP server.

The channel's `send` lives in `channel.py`, imported only when a message
goes out (see plugin_types.lazy); it hands the message to
medsec.plugin_api.send_email. Settings are described in channel.py.
"""

from medsec import hookimpl
from medsec.plugin_types import Channel, lazy


@hookimpl
def register_channels(register):
    register(Channel("email", ("email",), "send email through an SMTP server", lazy("medsec_email.channel:send")))
