"""Bundled plugin: the `fax` channel, through an HTTP fax API, an email-to-fax gateway or a command.

The sending code (and the standard library modules it needs) lives in
`channel.py`, imported only when a message goes out (see plugin_types.lazy).
Settings are described in channel.py.
"""

from medsec import hookimpl
from medsec.plugin_types import Channel, lazy


@hookimpl
def register_channels(register):
    register(Channel("fax", ("fax",), "send faxes through an HTTP API, email-to-fax or a command",
                     lazy("medsec_fax.channel:send"), lazy("medsec_fax.channel:status")))
