"""The 277 claim status response reader (005010X212), the answer to a 276.

Levels 2000A payer, 2000B receiver, 2000C provider, 2000D subscriber, 2000E dependent;
each claim answer (2200D/E) starts with TRN*2 = the trace of the 276 inquiry it
answers, then STC category:status codes with the effective date, the charge, what was
paid and when (STC05-STC09), the payer's claim number (REF*1K) and our claim id as the
patient control number (REF*EJ). One dict per transaction set (docs/claim-model.md).
"""

from medsec_x12.ack277ca import answer
from medsec_x12.segments import detect_set, transaction_sets

VERSIONS = ("005010X212",)


def detect(raw: bytes) -> bool:
    return detect_set(raw, "HN", "277", VERSIONS)


def read(raw: bytes) -> list[dict]:
    """One dict per 277 transaction set; each claim's `claim_id` is its REF*EJ ("" when absent:
    the importer matches by `trace`). ValueError("line N: segment XX: ...") when malformed."""
    out = []
    for ts in transaction_sets(raw, "HN", "277", VERSIONS):
        found = answer(ts, ("22", "23"))
        for claim in found["claims"]:
            claim["claim_id"] = claim["patient_account"]
        out.append(found)
    return out
