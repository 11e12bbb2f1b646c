"""Writing claims through the registered claim formats, with control numbers never reused."""

from medsec import clock
from medsec.errors import InvalidInput, Refused
from medsec.services.claims import get_claim, scrub, set_status
from medsec.services.records import CLAIMS
from medsec.store.files import write_atomic
from medsec.store.kinds import RecordKind

# Interchange (ISA13) and group (GS06) control numbers: one counter, never reused.
INTERCHANGES = RecordKind("interchanges", "X")
EXPORTABLE = ("ready", "submitted", "rejected")


def _format(app, name: str):
    from medsec.plugins import collect

    formats = collect(app.plugins, "register_claim_formats")
    if name not in formats:
        raise InvalidInput(f"unknown claim format {name!r}", hint=f"formats: {', '.join(sorted(formats)) or 'none'}")
    return formats[name].item


def export(app, claim_ids: list[str], fmt_name: str, output: str, *, mark: bool = True,
           usage: str = "T") -> dict:
    """Write the claims to `output` in one file; mark them submitted unless `mark` is False."""
    writer = _format(app, fmt_name)
    if usage not in ("T", "P"):
        raise InvalidInput("--usage is T (test) or P (production)")
    view = app.store.snapshot()
    claims = [get_claim(app, cid, view=view) for cid in claim_ids]
    today = app.today()
    for claim in claims:
        if claim["status"] not in EXPORTABLE:
            raise Refused(f"{claim['id']} is {claim['status']}; export ready claims",
                          hint=f"run 'medsec claim validate {claim['id']}'")
        problems = scrub(app, claim, today) + [f"{fmt_name}: {p}" for p in writer.validate(claim)]
        if problems:
            raise Refused(f"{claim['id']} does not pass the scrubber", details=problems)
    # The control number is spent before the file exists: a failure later
    # wastes a number, never reuses one.
    with app.store.transaction() as txn:
        number = INTERCHANGES.number(txn.reserve_ids(INTERCHANGES)[0])
    data = writer.write(claims, {"interchange_control": number, "group_control": number, "usage": usage,
                                 "now": app.now(), "sender_id": claims[0]["submitter"]["id"],
                                 "receiver_id": claims[0]["receiver"]["id"]})
    write_atomic(output, data)
    if mark:
        stamp = clock.iso(app.now())
        with app.store.transaction() as txn:
            for claim in claims:
                current = txn.get(CLAIMS, claim["id"])
                submission = {"at": stamp, "format": fmt_name, "control": number, "file": output}
                set_status(app, claim["id"], "submitted", f"{fmt_name} control {number}",
                           {"submissions": current["submissions"] + [submission]}, txn=txn)
    app.audit("claim-export", [c["id"] for c in claims] + [c["patient_id"] for c in claims])
    return {"file": output, "format": fmt_name, "claims": [c["id"] for c in claims], "control_number": number,
            "bytes": len(data), "marked_submitted": mark}


def batch(app, payer: str, fmt_name: str, output: str, *, mark: bool = True, usage: str = "T") -> dict:
    from medsec.services.claims import list_claims

    ready = [c["id"] for c in list_claims(app, status="ready", payer=payer)]
    if not ready:
        raise Refused(f"no ready claims for payer {payer}", hint="validate draft claims first")
    return export(app, ready, fmt_name, output, mark=mark, usage=usage)
