"""Exchanging files with a clearinghouse through its transport (SFTP ...): send and poll.

clearinghouses.yaml lists the practice's clearinghouses; the first is the
default. Each names a transport (a plugin's, `register_transports`) and its
settings. A transport failure (refused login, unknown host key, no answer
within `timeout`) is exit 3, one line. `poll` imports each waiting file once
(by its bytes' SHA-256, medsec.billing.edi): a file already imported is
skipped and counted; a file that cannot be fetched (gone, too large) or
imported is reported and the poll goes on. Remote files are deleted only
when the clearinghouse's settings say `delete_after_import: true`.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import date
from typing import Any

from medsec import clock
from medsec.billing import edi
from medsec.errors import EnvironmentFailure, InvalidInput, MedsecError, Refused
from medsec.records.patients import opened

CONFIG = "clearinghouses.yaml"
# The order a poll imports what it fetched: acknowledgments before the claim status and the
# payments that follow them (each importer queues what it cannot match yet, whatever the order).
IMPORT_ORDER = {"999": 0, "277CA": 1, "277": 2, "271": 3, "835": 4}


def settings(app, clearinghouse: str | None = None) -> dict[str, Any]:
    """The clearinghouse's section of clearinghouses.yaml (the first when `clearinghouse` is None)."""
    entries = [e for e in (app.config(CONFIG) or {}).get("clearinghouses") or [] if isinstance(e, dict)]
    if not entries:
        raise InvalidInput(f"no clearinghouse is set up in {CONFIG}",
                           hint="add one under 'clearinghouses:' (README: ### clearinghouse)")
    if clearinghouse is None:
        return entries[0]
    for entry in entries:
        if str(entry.get("id", "")).upper() == clearinghouse.upper():
            return entry
    raise InvalidInput(f"unknown clearinghouse {clearinghouse[:40]!r}",
                       hint=f"{CONFIG} has {', '.join(str(e.get('id')) for e in entries)}")


def _transport(app, name: str):
    from medsec.plugins import transport  # pluggy: loaded only by the commands that move files

    return transport(app.plugins, name)


class Session:
    """An open connection to a clearinghouse: `conf` its settings, and the transport's session's
    send/inbox/fetch (a TransportError inside `session()` is exit 3)."""

    def __init__(self, conf: dict[str, Any], transport: str, opened: Any) -> None:
        self.conf, self.transport, self.opened = conf, transport, opened
        self.id = str(conf.get("id", ""))

    def send(self, name: str, data: bytes) -> str:
        return self.opened.send(name, data)

    def inbox(self) -> list[str]:
        return list(self.opened.inbox())

    def fetch(self, name: str) -> bytes:
        return self.opened.fetch(name)

    def remove(self, name: str) -> None:
        remove = getattr(self.opened, "remove", None)
        if remove is None:
            raise Refused(f"the {self.transport} transport cannot delete files",
                          hint=f"set delete_after_import: false for {self.id}")
        remove(name)


@contextmanager
def session(app, clearinghouse: str | None = None) -> Iterator[Session]:
    """A session with the clearinghouse, closed on the way out; a TransportError is exit 3."""
    from medsec.plugin_types import TransportError

    conf = settings(app, clearinghouse)
    transport = _transport(app, str(conf.get("transport") or ""))
    try:
        opened = transport.connect(dict(conf), app.data_dir)
    except TransportError as e:
        raise _failure(conf, e) from None
    try:
        yield Session(conf, transport.name, opened)
    except TransportError as e:
        raise _failure(conf, e) from None
    finally:
        with suppress(Exception):  # closing a broken connection must not hide why it broke
            opened.close()


def _failure(conf: dict, error: Exception) -> EnvironmentFailure:
    temporary = getattr(error, "temporary", True)
    return EnvironmentFailure(f"clearinghouse {conf.get('id', '')}: {error}",
                              hint="try again later" if temporary else "check clearinghouses.yaml and the credentials")


@contextmanager
def destination(app, *, output: str | None, send: bool = False,
                clearinghouse: str | None = None) -> Iterator[Callable[[str, bytes], tuple[str, str]]]:
    """Where an outbound file (270, 276) goes: `put(name, data) -> (where, transport)`.

    With `send`, the clearinghouse, connected before anything is prepared (a refused login spends no
    control number and records nothing); else the file `output`, checked before (medsec.outputs).
    """
    from medsec.outputs import check_output, write_output

    if send == bool(output):
        raise InvalidInput("give -o FILE or --send" if not send else "-o FILE and --send contradict each other")
    if clearinghouse is not None and not send:
        raise InvalidInput("--clearinghouse goes with --send")
    if output:
        check_output(output, app.data_dir)
        yield lambda name, data: (write_output(output, data, data_dir=app.data_dir), "")
        return
    with session(app, clearinghouse) as s:
        yield lambda name, data: (s.send(name, data), s.transport)


def poll(app, clearinghouse: str | None = None, dry_run: bool = False) -> dict:
    """Fetch every file waiting in the clearinghouse's inbox and import each once.

    The summary: ``imported`` (name, file, transaction, unmatched count),
    ``skipped`` (already imported: name and the earlier file), ``failed``
    (name and why; the rest were still imported), ``deleted`` (remote files
    removed, only with delete_after_import).
    """
    from medsec.plugin_types import TransportError

    summary: dict[str, Any] = {"clearinghouse": "", "dry_run": dry_run, "waiting": 0, "imported": [],
                               "skipped": [], "failed": [], "deleted": []}
    with session(app, clearinghouse) as s:
        summary["clearinghouse"] = s.id
        names = s.inbox()
        summary["waiting"] = len(names)
        fetched = []
        for name in names:
            try:
                raw = s.fetch(name)
            except TransportError as e:
                if e.temporary:  # the connection, not the file: the poll stops (exit 3)
                    raise
                summary["failed"].append({"name": name, "error": str(e)})  # gone, too large ...
                continue
            done = edi.imported(app.store.snapshot(), edi.sha256(raw))
            if done:
                summary["skipped"].append({"name": name, "file": done["id"]})
                continue
            try:
                transaction = edi.transaction_of(app, raw)[0]
            except MedsecError as e:
                summary["failed"].append({"name": name, "error": e.message})
                continue
            fetched.append((IMPORT_ORDER.get(transaction, 9), name, raw))
        for _order, name, raw in sorted(fetched, key=lambda f: (f[0], f[1])):
            _import_one(app, name, raw, dry_run, summary)
        if s.conf.get("delete_after_import") is True and not dry_run:
            for name in [d["name"] for d in summary["imported"] + summary["skipped"]]:
                try:
                    s.remove(name)
                    summary["deleted"].append(name)
                except TransportError as e:
                    summary["failed"].append({"name": name, "error": f"not deleted: {e}"})
    return summary


def _import_one(app, name: str, raw: bytes, dry_run: bool, summary: dict) -> None:
    """Import one fetched file into `summary`; an error is the file's (reported), not the poll's."""
    try:
        done = edi.import_file(app, name, raw=raw, name=name, dry_run=dry_run)
    except MedsecError as e:
        earlier = edi.imported(app.store.snapshot(), edi.sha256(raw))
        if isinstance(e, Refused) and earlier:  # another poll imported it meanwhile
            summary["skipped"].append({"name": name, "file": earlier["id"]})
        else:
            summary["failed"].append({"name": name, "error": e.message})
        return
    summary["imported"].append({"name": name, "file": done.get("file", ""), "transaction": done.get("transaction", ""),
                                "unmatched": len(done.get("unmatched") or [])})


def files(app, *, direction: str | None = None, transaction: str | None = None, status: str | None = None,
          unmatched: bool = False, first: date | None = None, last: date | None = None,
          limit: int | None = None) -> list[dict]:
    """The EDI_FILES records, newest first, filtered; each as `clearinghouse list` shows it."""
    from medsec.store.catalog import EDI_FILES

    view = app.store.snapshot()
    if unmatched:
        records = view.get_many(EDI_FILES, view.lookup("edi-unmatched", "unmatched"))
    else:
        records = list(view.scan(EDI_FILES))
    rows = []
    for r in sorted(records, key=lambda r: (r.get("at", ""), int(r["id"][2:])), reverse=True):
        if direction and r["direction"] != direction:
            continue
        if transaction and r["transaction"].upper() != transaction.upper():
            continue
        if status and r.get("status") != status:
            continue
        if (unmatched and not r.get("unmatched")) or not clock.on_days(r.get("at", ""), first, last):
            continue
        rows.append(row(r))
        if limit and len(rows) >= limit:
            break
    return rows


COLUMNS = ["id", "direction", "transaction", "control", "status", "name", "unmatched", "at"]


def row(record: dict) -> dict:
    return {"id": record["id"], "direction": record["direction"], "transaction": record["transaction"],
            "control": record.get("control", ""), "status": record.get("status", ""), "name": record.get("name", ""),
            "unmatched": len(record.get("unmatched") or []), "at": record.get("at", "")[:16]}


def show(app, file_id: str) -> dict:
    from medsec.store.catalog import EDI_FILES

    ident = file_id.strip().upper()
    if not (ident.startswith("EF") and ident[2:].isdigit()):
        raise InvalidInput(f"{file_id[:40]!r} is not a clearinghouse file id (EF1 ...)")
    view = app.store.snapshot()
    record = view.require(EDI_FILES, ident, "clearinghouse file", "see 'medsec clearinghouse list'")
    for patient_id in record.get("patients") or []:  # it names them (and its unmatched answers may too):
        opened(app, {"patient_id": patient_id}, view=view)  # a restricted chart's file is refused with it
    app.audit("read", [record["id"], *(record.get("patients") or [])])
    return dict(record)
