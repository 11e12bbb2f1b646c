"""The X12 files a practice exchanges with its clearinghouse, and the one way in for each.

Every file sent (837P, 270, 276) or received (999, 277CA, 277, 271, 835) is kept
as an EDI_FILES record: direction, transaction, control number, SHA-256 of its
bytes, what it touched and what in it matched nothing. A received file is
imported once: its importer looks its hash up inside the transaction that
posts it, so two terminals (or two polls) importing the same bytes post them
once. `import_file` reads which transaction a file holds and hands it to that
transaction's importer; `medsec clearinghouse import` and `clearinghouse poll`
come through here.
"""

import hashlib
import importlib
from collections.abc import Callable
from typing import Any

from medsec import clock
from medsec.errors import InvalidInput, Refused
from medsec.inputs import REMITTANCE, read_input
from medsec.store.catalog import EDI_FILES

# Each inbound transaction's importer, "module:function", called as
# importer(app, raw, name, fmt=the registered format, dry_run=...) -> summary dict (see import_file).
IMPORTERS = {"999": "medsec.billing.acks:import_999", "277CA": "medsec.billing.acks:import_277ca",
             "277": "medsec.billing.claimstatus:import_277", "271": "medsec.billing.eligibility:import_271",
             "835": "medsec.billing.remittances:import_835"}


class DryRun(Exception):
    """Raised inside an importer's transaction so that a dry run commits nothing."""


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def transaction_of(app, raw: bytes) -> tuple[str, Any]:
    """(transaction, its registered format) of a received file: the first inbound EDI format
    (999, 277CA, 277, 271 ...) or remittance format (835) whose detect() claims it."""
    from medsec.plugins import collect  # pluggy: loaded only by the commands that import files

    for reg in collect(app.plugins, "register_edi_formats").values():
        fmt = reg.item
        if fmt.read and fmt.detect and fmt.transaction in IMPORTERS and fmt.detect(raw):
            return fmt.transaction, fmt
    for remit in collect(app.plugins, "register_remittance_formats").values():
        if remit.item.detect(raw):
            return "835", remit.item
    raise InvalidInput("not a file medsec imports: no installed format reads it",
                       hint=f"it imports {', '.join(sorted(IMPORTERS))} (see 'medsec plugins')")


def edi_format(app, transaction: str) -> Any:
    """The installed format of an outbound transaction ('270', '276'); InvalidInput when none is."""
    from medsec.plugins import collect  # pluggy: loaded only by the commands that write files

    for reg in collect(app.plugins, "register_edi_formats").values():
        if reg.item.transaction == transaction and reg.item.write:
            return reg.item
    raise InvalidInput(f"no installed format writes a {transaction}", hint="the x12 plugin does: see 'medsec plugins'")


def _separators(text: str) -> tuple[str, str] | None:
    """(element separator, segment terminator) the ISA at the start of `text` declares: its 4th
    character, and the one after its 16th element; None when `text` starts no interchange."""
    if not text.startswith("ISA") or len(text) < 4:
        return None
    element = text[3]
    ends = [i for i, ch in enumerate(text[:200]) if ch == element]
    if len(ends) < 16 or len(text) < ends[15] + 3:
        return None
    return element, text[ends[15] + 2]


def interchange_control(raw: bytes) -> str:
    """ISA13, the interchange control number of an X12 file, as written ("" for no interchange)."""
    text = raw.lstrip()[:200].decode("latin-1")
    found = _separators(text)
    fields = text.split(found[1], 1)[0].split(found[0]) if found else []
    return fields[13].strip() if len(fields) > 13 else ""


def claim_sets(raw: bytes) -> dict[str, list[str]]:
    """The claim ids (CLM01) of each transaction set (by its ST02) of an X12 claim interchange: what a
    999 rejecting a set refers to; {} for bytes that are no interchange."""
    text = raw.lstrip().decode("latin-1")
    found = _separators(text)
    if not found:
        return {}
    element, terminator = found
    sets: dict[str, list[str]] = {}
    current: list[str] | None = None
    for segment in text.split(terminator):
        fields = segment.strip().split(element)
        if fields[0] == "ST" and len(fields) > 2:
            current = sets.setdefault(fields[2], [])
        elif fields[0] == "CLM" and len(fields) > 1 and current is not None:
            current.append(fields[1])
    return sets


def imported(view, raw_sha: str) -> dict | None:
    """The record of a received file with these bytes, if one was imported already."""
    for file_id in view.lookup("edi-sha256", raw_sha):
        record = view.get(EDI_FILES, file_id)
        if record and record["direction"] == "in" and record["sha256"] == raw_sha:
            return record
    return None


def refuse_if_imported(view, raw_sha: str, name: str) -> None:
    """Refuse (exit 1) a file already imported; call it inside the importing transaction."""
    earlier = imported(view, raw_sha)
    if earlier:
        raise Refused(f"{name} was already imported as {earlier['id']} ({earlier['transaction']}, "
                      f"{earlier['at'][:16]})", hint="nothing was imported again")


def record_file(app, txn, *, direction: str, transaction: str, raw_sha: str, name: str, control: str = "",
                status: str = "", claims: list[str] | None = None, patients: list[str] | None = None,
                summary: dict[str, Any] | None = None, unmatched: list[dict] | None = None,
                transport: str = "") -> dict:
    """Keep one EDI_FILES record inside `txn` and return it: a file sent ("out") or received ("in")."""
    (file_id,) = txn.reserve_ids(EDI_FILES)
    record = {"id": file_id, "direction": direction, "transaction": transaction, "sha256": raw_sha,
              "name": name, "control": control, "status": status, "claims": list(claims or []),
              "patients": list(patients or []), "summary": dict(summary or {}), "unmatched": list(unmatched or []),
              "transport": transport, "at": clock.iso(app.now()), "by": app.user}
    txn.put(EDI_FILES, record)
    return record


def sent(view, control: str) -> dict | None:
    """The outbound file that carried interchange (ISA13) or group (GS06) control number `control`,
    whether its record keeps the number as written (837P, 276: "12") or zero-padded (270: "000000012")."""
    keys = [control, control.lstrip("0")] + ([f"{int(control):09d}"] if control.isdigit() else [])
    for key in dict.fromkeys(keys):
        for file_id in view.lookup("edi-control", f"out {key}"):
            record = view.get(EDI_FILES, file_id)
            if record:
                return record
    return None


def importer(transaction: str) -> Callable[..., dict]:
    module, _, function = IMPORTERS[transaction].partition(":")
    return getattr(importlib.import_module(module), function)


def import_file(app, path: str, *, dry_run: bool = False, raw: bytes | None = None, name: str = "",
                expect: str | None = None) -> dict:
    """Import one received X12 file by what it holds. `raw` (bytes fetched by a transport) or `path`.

    The summary is the importer's, with at least: ``file`` (the EDI_FILES id, "" on a dry run),
    ``transaction``, ``name``, ``unmatched`` (answers matching nothing, queued on the file record).
    `expect` refuses (bad input, nothing imported) a file holding another transaction.
    """
    if raw is None:
        raw = read_input(path, REMITTANCE)
    transaction, fmt = transaction_of(app, raw)
    if expect and transaction != expect:
        article = "an" if transaction.startswith("8") else "a"  # an 835, a 999
        raise InvalidInput(f"{name or path} is {article} {transaction}, not a {expect}",
                           hint="'medsec clearinghouse import' takes every kind")
    return importer(transaction)(app, raw, name or path, fmt=fmt, dry_run=dry_run)
