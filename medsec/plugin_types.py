"""What plugins register: small typed records the host collects by name.

The registration records are NamedTuples, not dataclasses: every command
imports this module while loading plugins, and a NamedTuple class costs a
tenth of a dataclass to create (about 0.03 ms against 0.25 ms each).
Annotations are not evaluated at run time, so the types they name cost
nothing to import.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

if TYPE_CHECKING:
    from medsec.context import AppContext
    from medsec.store.kinds import Record


def lazy(ref: str) -> Callable[..., Any]:
    """A stand-in for the function "module:name" that imports it on first call.

    Every command loads every plugin, so a plugin registers its heavy parts
    lazily: ``Channel("email", ("email",), "...", lazy("medsec_email.channel:send"))``.
    """
    module, _, name = ref.partition(":")

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__, call.__qualname__ = name, ref
    return call


class CodingTable(NamedTuple):
    """A code system. ``lookup(data_dir, code)`` returns a dict with at least
    ``code`` and ``description`` (or None); ``search(data_dir, text, limit)``
    returns such dicts, best first."""

    name: str
    system: str
    description: str
    lookup: Callable[[str, str], Record | None]
    search: Callable[[str, str, int], list[Record]]


@dataclass
class Message:
    """A rendered message ready for a channel."""

    kind: str  # email, sms, fax, voice, letter
    to: str
    subject: str
    body: str
    html: str | None = None
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)  # (name, mime, data)
    meta: dict[str, Any] = field(default_factory=dict)


class DeliveryError(Exception):
    """A channel could not deliver; ``temporary`` says whether a retry may work."""

    def __init__(self, message: str, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


class Channel(NamedTuple):
    """A delivery channel. ``send(message, settings, data_dir)`` returns a
    delivery id or raises DeliveryError; ``settings`` is the channel's
    section of channels.yaml. ``status(delivery_id, settings, data_dir)``,
    optional, asks the gateway how a message it took has fared: one of
    delivered, sent (still under way), busy, no-answer or failed; it raises
    DeliveryError when the gateway cannot say."""

    name: str
    kinds: tuple[str, ...]
    description: str
    send: Callable[[Message, dict[str, Any], str], str]
    status: Callable[[str, dict[str, Any], str], str] | None = None


class Importer(NamedTuple):
    """Reads records of ``kind`` from a file.

    ``detect(header)`` says whether a CSV header (list of column names) is
    this format; ``read(path, options)`` yields ``(line_number, fields)``
    pairs, fields named as ``patient add`` names them; a row it cannot read
    yields ``(line_number, ValueError)`` instead.
    """

    name: str
    kind: str
    description: str
    read: Callable[[str, dict[str, Any]], Iterator[tuple[int, Record | ValueError]]]
    detect: Callable[[list[str]], bool] = lambda header: False


class Exporter(NamedTuple):
    """Writes records of ``kind``: ``write(records, stream)`` (text stream)."""

    name: str
    kind: str
    description: str
    write: Callable[[Iterable[Record], TextIO], None]


class ClaimFormat(NamedTuple):
    """A claim writer: ``write(claims, options) -> bytes`` and
    ``validate(claim) -> list[str]`` problems."""

    name: str
    description: str
    write: Callable[[Sequence[Record], dict[str, Any]], bytes]
    validate: Callable[[Record], list[str]] = lambda claim: []


class RemittanceFormat(NamedTuple):
    """A remittance reader: ``detect(raw) -> bool``, ``read(raw) -> list[dict]``."""

    name: str
    description: str
    detect: Callable[[bytes], bool]
    read: Callable[[bytes], list[Record]]


class EdiFormat(NamedTuple):
    """An electronic exchange with payers other than claims and remittances, one
    transaction each: eligibility (``270`` out, ``271`` in), acknowledgments
    (``999``, ``277CA`` in) and claim status (``276`` out, ``277`` in).

    Outbound: ``write(items, options) -> bytes`` (``options``: the interchange
    and group control numbers, ``usage`` T or P, ``now``, sender and receiver).
    Inbound: ``detect(raw) -> bool`` and ``read(raw) -> list[dict]``, raising
    ``ValueError("line N: segment XX: ...")`` for a malformed file. The dicts
    exchanged are in docs/claim-model.md.
    """

    name: str
    transaction: str
    description: str
    write: Callable[[Sequence[Record], dict[str, Any]], bytes] | None = None
    detect: Callable[[bytes], bool] | None = None
    read: Callable[[bytes], list[Record]] | None = None


class TransportError(Exception):
    """A transport could not connect, sign in or move a file; ``temporary``
    says whether trying again later may work (a refused login does not)."""

    def __init__(self, message: str, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


class Transport(NamedTuple):
    """A way to exchange files with a clearinghouse or payer (SFTP ...).

    ``connect(settings, data_dir)`` opens a session from the clearinghouse's
    section of clearinghouses.yaml; the session has ``send(name, data) -> str``
    (where it was put), ``inbox() -> list[str]`` (file names waiting),
    ``fetch(name) -> bytes``, ``close()`` and optionally ``remove(name)`` (only
    with ``delete_after_import: true``), and raises TransportError.
    """

    name: str
    description: str
    connect: Callable[[dict[str, Any], str], Any]


class Word(NamedTuple):
    """One recognised word: its spelling, where it is in the audio (seconds from the start) and
    how sure the engine is of it (0 to 1; medsec marks words below dictation.yaml's
    ``unsure_below`` for the secretary's attention)."""

    text: str
    start: float
    end: float
    confidence: float


class Transcript(NamedTuple):
    """What a transcriber heard: the words in order (``Word``); ``text`` is the engine's
    own rendering when it has one (punctuation, capitals), else empty (medsec joins the words)."""

    words: list[Word]
    text: str = ""


class TranscriptionError(Exception):
    """A transcriber could not run (its model is missing, its server did not answer ...).
    medsec reports it as one line (exit 3) and writes nothing."""


class TranscriptionJob(NamedTuple):
    """What medsec hands a transcriber with the audio.

    - ``settings``: the engine's section of dictation.yaml (``engines: {NAME: {...}}``), or {}.
    - ``vocabulary()``: the practice's own language, read when called: ``{"sentences": [...],
      "terms": [...], "pronunciations": {word: "ARPAbet phones"}}`` from its templates, signed
      documents, codes.yaml descriptions, dictation.yaml's formulary and words, and the names of
      its staff and referring providers. An engine that adapts to a practice builds from it.
    - ``load(name) -> bytes | None`` and ``keep(name, data)``: the engine's cache in the data
      directory (``cache/<engine>/``), encrypted at rest like every record when the practice
      encrypts (a model built from letters holds patients' names).
    - ``progress(seconds)``: call with the seconds of audio done so far (medsec shows progress).
    """

    settings: dict[str, Any]
    vocabulary: Callable[[], dict[str, Any]]
    load: Callable[[str], bytes | None]
    keep: Callable[[str, bytes], None]
    progress: Callable[[float], None]


class Transcriber(NamedTuple):
    """A speech-to-text engine for dictation: ``transcribe(wav_path, job) -> Transcript``.

    ``wav_path`` is always 16 kHz mono 16-bit PCM WAV: medsec converts WAV, FLAC and MP3 (with
    sox), refuses what is not audio, silence and files over the configured length before any
    engine runs. Raise ``TranscriptionError`` when the engine cannot run. An engine that sends
    audio off the machine must say so in its description (a vendor needs a business associate
    agreement).
    """

    name: str
    description: str
    transcribe: Callable[[str, TranscriptionJob], Transcript]


class Report(NamedTuple):
    """A report: ``build(app, options) -> (columns, rows)``."""

    name: str
    description: str
    build: Callable[[AppContext, dict[str, Any]], tuple[list[str], list[Record]]]
