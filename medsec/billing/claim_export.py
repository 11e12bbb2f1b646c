"""Writing claims through the registered claim formats, with control numbers never reused."""

from medsec import clock
from medsec.billing.claims import get_claim, list_claims, moved, scrubber, store_changes
from medsec.errors import InvalidInput, Refused
from medsec.outputs import check_output, write_output
from medsec.plugins import collect
from medsec.progress import Progress
from medsec.store.api import RecordKind
from medsec.store.catalog import CLAIMS

# Interchange (ISA13) and group (GS06) control numbers: one counter, never reused.
INTERCHANGES = RecordKind("interchanges", "X")
EXPORTABLE = ("ready", "submitted", "rejected")


def _format(app, name: str):
    formats = collect(app.plugins, "register_claim_formats")
    if name not in formats:
        raise InvalidInput(f"unknown claim format {name!r}", hint=f"formats: {', '.join(sorted(formats)) or 'none'}")
    return formats[name].item


def export(app, claim_ids: list[str], fmt_name: str, output: str, *, mark: bool = True,
           usage: str = "T") -> dict:
    """Write the claims to `output` in one file; mark them submitted unless `mark` is False."""
    view = app.store.snapshot()
    found = {c["id"]: c for c in view.get_many(CLAIMS, claim_ids)}
    claims = [found.get(cid.upper()) or get_claim(app, cid, view=view) for cid in claim_ids]
    return _export(app, claims, fmt_name, output, mark=mark, usage=usage)


def _export(app, claims: list[dict], fmt_name: str, output: str, *, mark: bool, usage: str,
            progress: Progress | None = None) -> dict:
    """export() of claim records already read; empties `claims` once the file is written."""
    progress = progress or Progress.off()
    writer = _format(app, fmt_name)
    if usage not in ("T", "P"):
        raise InvalidInput("--usage is T (test) or P (production)")
    check_output(output, app.data_dir)  # before a control number is spent on it
    scrub = scrubber(app, app.today(), fmt_name)
    progress.start("checking claims", len(claims))
    for claim in claims:
        progress.advance()
        if claim["status"] not in EXPORTABLE:
            raise Refused(f"{claim['id']} is {claim['status']}; export ready claims",
                          hint=f"run 'medsec claim validate {claim['id']}'")
        problems = scrub(claim)
        if problems:
            raise Refused(f"{claim['id']} does not pass the scrubber", details=problems)
    # The control number is spent before the file exists: a failure later
    # wastes a number, never reuses one.
    with app.store.transaction() as txn:
        number = INTERCHANGES.number(txn.reserve_ids(INTERCHANGES)[0])
    progress.start(f"writing {len(claims):,} claims ({fmt_name})")
    data = writer.write(claims, {"interchange_control": number, "group_control": number, "usage": usage,
                                 "now": app.now(), "sender_id": claims[0]["submitter"]["id"],
                                 "receiver_id": claims[0]["receiver"]["id"]})
    write_output(output, data, data_dir=app.data_dir)
    ids, patients, size = [c["id"] for c in claims], [c["patient_id"] for c in claims], len(data)
    del data
    claims.clear()  # a 10,000-claim batch: let the records go before the marking transaction reads them again
    if mark:
        progress.start(f"marking {len(ids):,} claims submitted")
        stamp = clock.iso(app.now())
        submission = {"at": stamp, "format": fmt_name, "control": number, "file": output}
        with app.store.transaction() as txn:
            store_changes(app, txn, [(moved(app, old, "submitted", f"{fmt_name} control {number}",
                                            {"submissions": old["submissions"] + [submission]}, stamp), old)
                                     for old in txn.get_many(CLAIMS, ids)])
    app.audit("claim-export", ids + patients)
    return {"file": output, "format": fmt_name, "claims": ids, "control_number": number,
            "bytes": size, "marked_submitted": mark}


def batch(app, payer: str, fmt_name: str, output: str, *, mark: bool = True, usage: str = "T",
          progress: Progress | None = None) -> dict:
    """Every ready claim of `payer` in one file; `progress` shows each stage on the terminal."""
    _format(app, fmt_name)  # bad usage (exit 2) before "nothing to do" (exit 1)
    ready = list_claims(app, status="ready", payer=payer)
    if not ready:
        raise Refused(f"no ready claims for payer {payer}", hint="validate draft claims first")
    return _export(app, ready, fmt_name, output, mark=mark, usage=usage, progress=progress)
