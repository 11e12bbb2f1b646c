"""The 999 implementation acknowledgment reader (005010X231A1).

A 999 says whether the clearinghouse could read the functional group (GS..GE) it
answers, set by set: AK1 names the group (its GS01 and GS06), each AK2 a transaction
set (its ST02) with IK3/IK4 errors and its IK5 result, AK9 the group's result. One
dict per 999 transaction set (docs/claim-model.md), every code also in words.
"""

from medsec_x12.codes import (
    ACK_RESULTS,
    ELEMENT_ERRORS,
    GROUP_ERRORS,
    SEGMENT_ERRORS,
    SET_ERRORS,
    words,
)
from medsec_x12.segments import Segment, detect_set, transaction_sets

VERSIONS = ("005010X231A1",)


def detect(raw: bytes) -> bool:
    """A functional group FA (the version is checked by read, which names GS08 when wrong)."""
    return detect_set(raw, "FA", "999")


def read(raw: bytes) -> list[dict]:
    """One dict per 999 transaction set; ValueError("line N: segment XX: ...") when malformed."""
    return [_acknowledgment(ts.isa, ts.st, ts.body, ts.se) for ts in transaction_sets(raw, "FA", "999", VERSIONS)]


def _result(seg: Segment, i: int, what: str) -> tuple[str, str]:
    code = seg.need(i, what)
    if code not in ACK_RESULTS:
        raise seg.fail(f"{seg.id}{i:02d} ({what}) {code!r} is not A, E, M, P, R, W or X")
    return code, ACK_RESULTS[code]


def _count(seg: Segment, i: int, what: str) -> int:
    value = seg.need(i, what)
    if not value.isdigit():
        raise seg.fail(f"{seg.id}{i:02d} ({what}) {value!r} is not a number")
    return int(value)


def _codes(seg: Segment, first: int, last: int, table: dict[str, str], what: str) -> list[dict]:
    return [{"code": seg.get(i), "words": words(table, seg.get(i), what)}
            for i in range(first, last + 1) if seg.get(i)]


class _Reader:
    """One 999 transaction set read segment by segment: AK2 opens a set's response, IK3 an
    error in it (CTX its context, IK4 its elements), IK5 closes the set, AK9 ends the group."""

    def __init__(self, ack: dict):
        self.ack = ack
        self.current: dict | None = None
        self.error: dict | None = None

    def segment(self, seg: Segment) -> None:
        handler = getattr(self, seg.id.lower(), None) if seg.id in ("AK2", "IK3", "CTX", "IK4", "IK5", "AK9") else None
        if handler is None:
            raise seg.fail(f"segment {seg.id} does not belong in a 999")
        if "result" in self.ack:
            raise seg.fail(f"{seg.id} after AK9")
        handler(seg)

    def _set(self, seg: Segment) -> dict:
        if self.current is None:
            raise seg.fail(f"{seg.id} outside an AK2 transaction set response")
        return self.current

    def _error(self, seg: Segment) -> dict:
        if self.error is None:
            raise seg.fail(f"{seg.id} outside an IK3 error")
        return self.error

    def ak2(self, seg: Segment) -> None:
        self.current = {"transaction": seg.need(1, "transaction set identifier code"),
                        "control": seg.need(2, "transaction set control number"), "version": seg.get(3),
                        "result": "", "result_words": "", "errors": [], "segment_errors": []}
        self.ack["sets"].append(self.current)
        self.error = None

    def ik3(self, seg: Segment) -> None:
        code = seg.need(4, "segment syntax error code")
        self.error = {"segment": seg.need(1, "segment id code"), "position": _count(seg, 2, "segment position"),
                      "loop": seg.get(3), "code": code, "words": words(SEGMENT_ERRORS, code, "segment error"),
                      "claim_id": "", "context": [], "elements": []}
        self._set(seg)["segment_errors"].append(self.error)

    def ctx(self, seg: Segment) -> None:
        error = self._error(seg)
        parts = seg.parts(1)
        if parts[0] == "CLM01" and len(parts) > 1:  # the business unit: the claim in error
            error["claim_id"] = parts[1]
        error["context"].append(seg.delimiters.element.join(seg.elements[1:]))

    def ik4(self, seg: Segment) -> None:
        error = self._error(seg)
        code = seg.need(3, "data element syntax error code")
        position = seg.parts(1)
        error["elements"].append({"position": position[0], "component": position[1] if len(position) > 1 else "",
                                  "element": seg.get(2), "code": code,
                                  "words": words(ELEMENT_ERRORS, code, "element error"), "value": seg.get(4)})

    def ik5(self, seg: Segment) -> None:
        current = self._set(seg)
        current["result"], current["result_words"] = _result(seg, 1, "transaction set acknowledgment code")
        current["errors"] = _codes(seg, 2, 6, SET_ERRORS, "transaction set error")
        self.current, self.error = None, None

    def ak9(self, seg: Segment) -> None:
        ack = self.ack
        ack["result"], ack["result_words"] = _result(seg, 1, "functional group acknowledge code")
        ack["sets_included"] = _count(seg, 2, "number of transaction sets included")
        ack["sets_received"] = _count(seg, 3, "number of received transaction sets")
        ack["sets_accepted"] = _count(seg, 4, "number of accepted transaction sets")
        ack["group_errors"] = _codes(seg, 5, 9, GROUP_ERRORS, "functional group error")


def _acknowledgment(isa: Segment, st: Segment, body: list[Segment], se: Segment) -> dict:
    if not body or body[0].id != "AK1":
        raise (body[0] if body else se).fail("expected AK1 (the functional group acknowledged) after ST")
    ak1 = body[0]
    ack: dict = {"interchange_control": isa.get(13), "sender": isa.get(6), "control": st.get(2),
                 "group": {"functional": ak1.need(1, "functional identifier code"),
                           "control": ak1.need(2, "group control number"), "version": ak1.get(3)},
                 "sets": []}
    reader = _Reader(ack)
    for seg in body[1:]:
        reader.segment(seg)
    unfinished = next((s for s in ack["sets"] if not s["result"]), None)
    if unfinished:
        raise se.fail(f"the response to transaction set {unfinished['control']} has no IK5")
    if "result" not in ack:
        raise se.fail("the 999 has no AK9 (functional group result)")
    return ack
