"""The plugin API: every hook a plugin may implement.

Plugins mark implementations with ``medsec.hookimpl`` and are found through
the ``medsec`` entry-point group. An implementation may accept fewer
arguments than its spec. Registration hooks receive a ``register`` callback:
call it once per item; the host rejects duplicate names and remembers which
plugin gave what. Event hooks run after the change is committed; an error in
one is reported as a warning and does not undo the change.

Annotations are not evaluated at run time (pluggy reads only the argument
names), so the types they name cost nothing to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypedDict, TypeVar

import pluggy

if TYPE_CHECKING:
    import click

    from medsec.context import AppContext
    from medsec.plugin_types import (
        Channel,
        ClaimFormat,
        CodingTable,
        EdiFormat,
        Exporter,
        Importer,
        RemittanceFormat,
        Report,
        Transcriber,
        Transport,
    )
    from medsec.store.kinds import Record

hookspec = pluggy.HookspecMarker("medsec")
hookimpl = pluggy.HookimplMarker("medsec")

Item = TypeVar("Item", contravariant=True)


class Register(Protocol[Item]):
    """The callback a registration hook receives: call it once per item.

    ``name`` defaults to the item's ``name``; the host refuses a name that
    another plugin registered in the same hook.
    """

    def __call__(self, item: Item, name: str | None = None) -> None: ...


class WaitlistOffer(TypedDict):
    """A waitlist entry that suits a freed slot (see ``appointment_cancelled``)."""

    waitlist_id: str
    patient_id: str
    slot: str  # the freed appointment's start, ISO 8601
    provider: str
    type: str


# -- registration hooks ---------------------------------------------------
@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands or groups to the ``medsec`` command line.

    :param cli: a click group; decorate functions with ``@cli.command()`` or
        call ``cli.add_command(...)``. A name already taken is a startup error.
    """


@hookspec
def register_coding_tables(register: Register[CodingTable]) -> None:
    """Register code systems (ICD-10-CM, HCPCS, the practice's CPT list ...).

    :param register: call ``register(medsec.plugin_types.CodingTable(...))``.
    """


@hookspec
def register_claim_formats(register: Register[ClaimFormat]) -> None:
    """Register claim writers (X12 837P, CMS-1500 ...), each with its own validation.

    :param register: call ``register(medsec.plugin_types.ClaimFormat(...))``.
    """


@hookspec
def register_remittance_formats(register: Register[RemittanceFormat]) -> None:
    """Register remittance readers (X12 835 ...).

    :param register: call ``register(medsec.plugin_types.RemittanceFormat(...))``.
    """


@hookspec
def register_edi_formats(register: Register[EdiFormat]) -> None:
    """Register eligibility, acknowledgment and claim-status exchanges (X12 270/271, 999,
    277CA, 276/277 ...), one transaction each.

    :param register: call ``register(medsec.plugin_types.EdiFormat(...))``.
    """


@hookspec
def register_transports(register: Register[Transport]) -> None:
    """Register ways to send files to and fetch them from a clearinghouse (SFTP ...).

    :param register: call ``register(medsec.plugin_types.Transport(...))``; a
        clearinghouse in clearinghouses.yaml names its transport.
    """


@hookspec
def register_channels(register: Register[Channel]) -> None:
    """Register delivery channels (email, SMS, fax, voice, print/outbox).

    :param register: call ``register(medsec.plugin_types.Channel(...))``; a
        channel says which message kinds it carries.
    """


@hookspec
def register_transcribers(register: Register[Transcriber]) -> None:
    """Register speech-to-text engines for ``medsec dictation add`` (the bundled
    ``pocketsphinx`` runs offline; a practice may add a local Whisper server, or a
    vendor's service under a business associate agreement).

    :param register: call ``register(medsec.plugin_types.Transcriber(...))``;
        dictation.yaml's ``engine`` names the one used (``--engine`` overrides).
    """


@hookspec
def register_importers(register: Register[Importer]) -> None:
    """Register formats that ``patient import`` (and later ``appt import``) read.

    :param register: call ``register(medsec.plugin_types.Importer(...))``.
    """


@hookspec
def register_exporters(register: Register[Exporter]) -> None:
    """Register formats that ``patient export`` (and later ``appt export``) write.

    :param register: call ``register(medsec.plugin_types.Exporter(...))``.
    """


@hookspec
def register_reports(register: Register[Report]) -> None:
    """Register reports for ``medsec report``.

    :param register: call ``register(medsec.plugin_types.Report(...))``.
    """


# -- checks -----------------------------------------------------------------
@hookspec
def validate_claim(claim: Record, payer: dict[str, Any]) -> list[str]:  # type: ignore[empty-body]  # a spec has no body
    """Payer-specific claim edits: return a list of problems (empty when clean).

    :param claim: the claim record as ``claim show --json`` prints it.
    :param payer: the payer's entry from payers.yaml.
    """


# -- events (after commit) ------------------------------------------------
@hookspec
def appointment_booked(appointment: Record, app: AppContext) -> None:
    """An appointment was booked. :param app: the command's AppContext."""


@hookspec
def appointment_cancelled(appointment: Record, offers: list[WaitlistOffer], app: AppContext) -> None:
    """An appointment was cancelled; its slot is free again.

    :param offers: waitlist entries that suit the freed slot, each a dict with
        ``waitlist_id``, ``patient_id``, ``slot``, ``provider`` and ``type``;
        a channel plugin can notify those patients.
    """


@hookspec
def appointment_rescheduled(appointment: Record, old_start: str, app: AppContext) -> None:
    """An appointment moved from ``old_start`` to ``appointment['start']`` (a reminder
    plugin may want to tell the patient)."""


@hookspec
def appointment_status_changed(appointment: Record, old_status: str, app: AppContext) -> None:
    """An appointment's status changed from ``old_status`` to ``appointment['status']``."""


@hookspec
def patient_created(patient: Record, app: AppContext) -> None:
    """A patient was registered (by ``patient add`` or ``patient import``).

    :param patient: the new record, with its ``id``.
    :param app: the command's AppContext (``app.data_dir``, ``app.user``).
    """


@hookspec
def claim_status_changed(claim: Record, old_status: str, app: AppContext) -> None:
    """A claim's status changed from ``old_status`` to ``claim['status']``."""


@hookspec
def message_created(message: Record, app: AppContext) -> None:
    """A phone message, fax or letter was logged."""
