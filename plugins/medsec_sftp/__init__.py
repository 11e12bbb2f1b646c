"""Bundled plugin: the `sftp` transport, exchanging files with a clearinghouse over SFTP.

The session lives in `client.py` (asyncssh), imported only when a command
connects (see plugin_types.lazy): everyday commands never load asyncssh.
Settings are a clearinghouse's section of clearinghouses.yaml, described in
client.py.
"""

from medsec import hookimpl
from medsec.plugin_types import Transport, lazy


@hookimpl
def register_transports(register):
    register(Transport("sftp", "put files on and fetch them from an SFTP server (host key checked)",
                       lazy("medsec_sftp.client:connect")))
