"""The plugin API: every hook a plugin may implement.

Plugins mark implementations with ``medsec.hookimpl`` and are found through
the ``medsec`` entry-point group. An implementation may accept fewer
arguments than its spec. Registration hooks receive a ``register`` callback:
call it once per item; the host rejects duplicate names and remembers which
plugin gave what. Event hooks run after the change is committed; an error in
one is reported as a warning and does not undo the change.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

hookspec = pluggy.HookspecMarker("medsec")
hookimpl = pluggy.HookimplMarker("medsec")

Register = Callable[..., None]


# -- registration hooks ---------------------------------------------------
@hookspec
def register_commands(cli: "click.Group") -> None:
    """Add commands or groups to the ``medsec`` command line.

    :param cli: a click group; decorate functions with ``@cli.command()`` or
        call ``cli.add_command(...)``. A name already taken is a startup error.
    """


@hookspec
def register_coding_tables(register: Register) -> None:
    """Register code systems (ICD-10-CM, HCPCS, the practice's CPT list ...).

    :param register: call ``register(medsec.plugin_types.CodingTable(...))``.
    """


@hookspec
def register_claim_formats(register: Register) -> None:
    """Register claim writers (X12 837P, CMS-1500 ...), each with its own validation.

    :param register: call ``register(medsec.plugin_types.ClaimFormat(...))``.
    """


@hookspec
def register_remittance_formats(register: Register) -> None:
    """Register remittance readers (X12 835 ...).

    :param register: call ``register(medsec.plugin_types.RemittanceFormat(...))``.
    """


@hookspec
def register_channels(register: Register) -> None:
    """Register delivery channels (email, SMS, fax, voice, print/outbox).

    :param register: call ``register(medsec.plugin_types.Channel(...))``; a
        channel says which message kinds it carries.
    """


@hookspec
def register_importers(register: Register) -> None:
    """Register formats that ``patient import`` (and later ``appt import``) read.

    :param register: call ``register(medsec.plugin_types.Importer(...))``.
    """


@hookspec
def register_exporters(register: Register) -> None:
    """Register formats that ``patient export`` (and later ``appt export``) write.

    :param register: call ``register(medsec.plugin_types.Exporter(...))``.
    """


@hookspec
def register_reports(register: Register) -> None:
    """Register reports for ``medsec report``.

    :param register: call ``register(medsec.plugin_types.Report(...))``.
    """


# -- checks -----------------------------------------------------------------
@hookspec
def validate_claim(claim: dict, payer: dict) -> list[str]:
    """Payer-specific claim edits: return a list of problems (empty when clean).

    :param claim: the claim record as ``claim show --json`` prints it.
    :param payer: the payer's entry from payers.yaml.
    """


# -- events (after commit) ------------------------------------------------
@hookspec
def appointment_booked(appointment: dict, app: Any) -> None:
    """An appointment was booked. :param app: the command's AppContext."""


@hookspec
def appointment_cancelled(appointment: dict, offers: list, app: Any) -> None:
    """An appointment was cancelled; its slot is free again.

    :param offers: waitlist entries that suit the freed slot, each a dict with
        ``waitlist_id``, ``patient_id``, ``slot``, ``provider`` and ``type``;
        a channel plugin can notify those patients.
    """


@hookspec
def appointment_rescheduled(appointment: dict, old_start: str, app: Any) -> None:
    """An appointment moved from ``old_start`` to ``appointment['start']`` (a reminder
    plugin may want to tell the patient)."""


@hookspec
def appointment_status_changed(appointment: dict, old_status: str, app: Any) -> None:
    """An appointment's status changed from ``old_status`` to ``appointment['status']``."""


@hookspec
def patient_created(patient: dict, app: Any) -> None:
    """A patient was registered (by ``patient add`` or ``patient import``).

    :param patient: the new record, with its ``id``.
    :param app: the command's AppContext (``app.data_dir``, ``app.user``).
    """


@hookspec
def claim_status_changed(claim: dict, old_status: str, app: Any) -> None:
    """A claim's status changed from ``old_status`` to ``claim['status']``."""


@hookspec
def message_created(message: dict, app: Any) -> None:
    """A phone message, fax or letter was logged."""
