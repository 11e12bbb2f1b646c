"""Writing claims through the registered claim formats, with control numbers never reused."""

from collections.abc import Callable

from medsec import clock
from medsec.billing import edi
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


def usage_of(app, usage: str | None = None) -> str:
    """ISA15: `usage` when given, else practice.yaml `billing: {usage: T}`, else P (production)."""
    if usage is None:
        usage = str((app.config("practice.yaml").get("billing") or {}).get("usage") or "P")
    if usage not in ("T", "P"):
        raise InvalidInput(f"usage {usage!r}: T (test) or P (production)")
    return usage


def export(app, claim_ids: list[str], fmt_name: str, output: str, *, mark: bool = True,
           usage: str | None = None) -> dict:
    """Write the claims to `output` in one file; mark them submitted unless `mark` is False or
    the file is a test file (usage T: never marked)."""
    view = app.store.snapshot()
    found = {c["id"]: c for c in view.get_many(CLAIMS, claim_ids)}
    claims = [found.get(cid.upper()) or get_claim(app, cid, view=view) for cid in claim_ids]
    return _export(app, claims, fmt_name, output, mark=mark, usage=usage)


def _export(app, claims: list[dict], fmt_name: str, output: str, *, mark: bool, usage: str | None,
            progress: Progress | None = None, deliver: Callable[[bytes, int], str] | None = None) -> dict:
    """export() of claim records already read; empties `claims` once the file is written.

    `deliver(data, control_number) -> where` replaces writing the file at `output` (`claim send`
    puts it through a clearinghouse's transport); the claims are marked only after it returned.
    """
    progress = progress or Progress.off()
    writer = _format(app, fmt_name)
    usage = usage_of(app, usage)
    mark = mark and usage == "P"  # a test file (ISA15 T) never marks a claim submitted
    if deliver is None:
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
    if deliver is None:
        write_output(output, data, data_dir=app.data_dir)
    else:
        output = deliver(data, number)
    ids, patients, size = [c["id"] for c in claims], [c["patient_id"] for c in claims], len(data)
    raw_sha, sets = edi.sha256(data), edi.claim_sets(data)  # {} for a paper form's PDF: no clearinghouse file
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
            if sets:  # the batch a 999 answers (AK1 = its GS06, AK2 its sets): found by edi.sent(view, control)
                edi.record_file(app, txn, direction="out",
                                transaction="837P" if fmt_name == "x12-837p" else fmt_name, raw_sha=raw_sha,
                                name=output, control=str(number), status="sent", claims=ids,
                                patients=list(dict.fromkeys(patients)), summary={"sets": sets})
    app.audit("claim-export", ids + patients)
    return {"file": output, "format": fmt_name, "claims": ids, "control_number": number,
            "bytes": size, "usage": usage, "marked_submitted": mark}


def batch(app, payer: str, fmt_name: str, output: str, *, mark: bool = True, usage: str | None = None,
          progress: Progress | None = None, deliver: Callable[[bytes, int], str] | None = None) -> dict:
    """Every ready claim of `payer` in one file; `progress` shows each stage on the terminal."""
    _format(app, fmt_name)  # bad usage (exit 2) before "nothing to do" (exit 1)
    ready = list_claims(app, status="ready", payer=payer)
    if not ready:
        raise Refused(f"no ready claims for payer {payer}", hint="validate draft claims first")
    return _export(app, ready, fmt_name, output, mark=mark, usage=usage, progress=progress, deliver=deliver)
