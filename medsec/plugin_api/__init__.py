"""The public API for plugins: what bundled and third-party plugins may rely on.

A plugin imports ``medsec`` (``hookimpl``, ``PLUGIN_API_VERSION``),
``medsec.plugin_types`` and this module, nothing else of medsec. Every name in
``__all__`` keeps its meaning while ``medsec.PLUGIN_API_VERSION`` stays the
same; docs/plugin-api.md describes each one with an example.

- Plugin types and errors: ``hookimpl``, the registration records, the
  errors a plugin raises.
- Checks and text: ``email_valid``, ``npi_valid``, ``words``.
- Channel helpers: settings (``secret``, ``positive_number``), phone numbers
  (``to_e164``), HTTP (``http_post``, ``delivery_id``) and SMTP
  (``send_email``). They raise ``DeliveryError`` labelled with the channel's
  name, permanent or temporary as the failure is.
- Files: ``write_private_file(s)`` for what a plugin keeps (caches, an
  outbox), ``write_outbox_file`` for a file to print in the outbox,
  ``write_output`` for a file a user named; ``read_cache_file`` and
  ``write_cache_file`` for what an engine rebuilds at will (``cache/<engine>/``); ``open_input``,
  ``open_text`` and ``read_input`` to read a file a user named (an importer's
  file): regular files only, within the size limit of their kind.
- Reading records: ``appointments``, ``patient``, ``patients``, ``claims``,
  ``reminders``, ``calls``, ``referrals``, ``tasks``. Reads only, from one
  consistent view per call; records are dicts with the keys
  ``medsec ... show --json`` prints. They do not write to the audit log:
  ``medsec report`` records each run, and a plugin command that shows patient
  records records its reads with ``app.audit("read", ids)``, as the core's
  commands do.

Importing this module is cheap, because the default plugins load it at
start-up: the network modules (urllib.request, smtplib, ssl, email) and
hashlib are imported by the functions that need them.
"""

from medsec.errors import InvalidInput, PluginError
from medsec.hookspecs import hookimpl
from medsec.identifiers import email_valid, npi_valid
from medsec.inputs import open_input, open_text, read_input
from medsec.outputs import write_output
from medsec.plugin_api._channels import delivery_id, http_post, positive_number, secret, to_e164
from medsec.plugin_api._email import send_email
from medsec.plugin_api._files import (
    CACHE,
    OUTBOX,
    read_cache_file,
    write_cache_file,
    write_outbox_file,
    write_private_file,
    write_private_files,
)
from medsec.plugin_api._records import appointments, calls, claims, patient, patients, referrals, reminders, tasks
from medsec.plugin_types import (
    Channel,
    ClaimFormat,
    CodingTable,
    DeliveryError,
    Exporter,
    Importer,
    Message,
    RemittanceFormat,
    Report,
    lazy,
)
from medsec.text import words

__all__ = [
    # plugin types and errors
    "hookimpl", "Channel", "ClaimFormat", "CodingTable", "Exporter", "Importer", "Message",
    "RemittanceFormat", "Report", "lazy", "DeliveryError", "InvalidInput", "PluginError",
    # checks and text
    "email_valid", "npi_valid", "words",
    # channel helpers
    "secret", "positive_number", "to_e164", "http_post", "delivery_id", "send_email",
    # files
    "write_private_file", "write_private_files", "read_cache_file", "write_cache_file", "CACHE",
    "write_outbox_file", "OUTBOX", "write_output", "open_input", "open_text", "read_input",
    # reading records
    "appointments", "patient", "patients", "claims", "reminders", "calls", "referrals", "tasks",
]
