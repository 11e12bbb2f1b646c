"""Bundled plugin: the `email` channel, delivering through an SMTP server.

Settings (the `email:` section of channels.yaml)::

    host: smtp.example.org     # default localhost
    port: 587                  # default by security: none 25, starttls 587, ssl 465
    security: starttls         # none | starttls | ssl (default starttls)
    username: frontdesk        # optional; AUTH only when set
    password_env: MEDSEC_SMTP_PASSWORD   # the variable holding the password
    from: "Clinic <frontdesk@example.org>"
    timeout: 30                # seconds
    cafile: /etc/ssl/clinic-ca.pem       # optional: trust a private CA

The SMTP code is medsec.plugin_api.send_email, which other channels (the
fax plugin's email-to-fax gateway) use too.
"""

from medsec.plugin_api import Message, send_email


def send(message: Message, settings: dict, data_dir: str) -> str:
    """The channel's send: data_dir is not needed (nothing is kept locally)."""
    return send_email(message, settings or {}, "email")
