"""HL7 v2 ORU^R01 result messages: read with python-hl7, matched to lab orders, else queued.

A message is matched by order number: the placer number (ORC-2 or OBR-2,
our LB id), else the filler number (OBR-3, the lab's own: an order id
echoed back, or one an earlier result of the same order carried). A result
whose number matches nothing, whose patient does not match the order's, or
whose order was cancelled is kept in the unmatched queue until staff match
it by hand. Nothing is ever dropped; a message imported twice is skipped.
"""

import os
import re
from dataclasses import dataclass, field
from datetime import date

from medsec import clock
from medsec.errors import InvalidInput, Refused
from medsec.inputs import HL7, read_input
from medsec.records.patients import get_patient
from medsec.store.api import Record
from medsec.store.catalog import LAB_RESULTS, LABS
from medsec.text import clean_text, shown
from medsec.workflows import labs

SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")
BATCH_SEGMENTS = ("FHS", "BHS", "FTS", "BTS")
CODED = ("CE", "CWE", "CNE")
FIELD = 200  # a name, a number, a code, a unit: one line
VALUE = 20_000  # an observation's value: formatted text keeps its line breaks
# The escape sequences (HL7 v2 chapter 2.7) read as text: the separators,
# highlighting, formatting with a count of at most two digits, hex bytes.
# python-hl7 would repeat a character for any count (\.sp999999999\ is a
# gigabyte), fail on a count that is no number, and log the others to stderr:
# those are refused, naming the segment.
KNOWN_ESCAPE = re.compile(r"[FSTREHN]|\.(?:br|sp|fi|nf|in|ti|sk|ce)(?:[+-]?[0-9]{1,2})?|X(?:[0-9A-Fa-f]{2})+")
RESULT_COLUMNS = ["id", "received", "status", "order_id", "placer_number", "filler_number", "patient_name",
                  "test", "reason"]


@dataclass
class OrderGroup:
    """One OBR (an order's results) and its OBX observations."""

    placer: list[str]
    filler: str
    test: str
    result_status: str
    observations: list[dict] = field(default_factory=list)


@dataclass
class ResultMessage:
    key: str  # sending application, facility and control id: unique per message
    control_id: str
    sender: str
    sent_at: str
    patient: dict
    groups: list[OrderGroup]


# -- reading ------------------------------------------------------------------
def _value(segment, here: str, number: int, component: int = 1) -> str:
    """Field `number` (its component `component`), unescaped, as a result may keep it: one line of at most
    FIELD characters, or InvalidInput naming the segment (`here`) and the field."""
    try:
        text = str(segment.extract_field(1, number, 1, component, 1)).strip()
    except IndexError:  # the field has no such component
        return ""
    return clean_text(text, f"{here}: {str(segment[0])}-{number}", FIELD)


def _observation_value(message, segment, here: str) -> str:
    """OBX-5 as text: components joined as sent, escapes read, line breaks (\\.br\\) kept as newlines."""
    if len(segment) <= 5:
        return ""
    text = message.unescape(str(segment(5))).replace("\r\n", "\n").replace("\r", "\n")
    return clean_text(text, f"{here}: OBX-5", VALUE, multiline=True)


def _check_escapes(message, where: str) -> None:
    """Every escape sequence of the message one that KNOWN_ESCAPE allows; InvalidInput naming the segment."""
    esc = message.esc
    if not esc:
        return
    sequence = re.compile(f"{re.escape(esc)}([^{re.escape(esc)}]*){re.escape(esc)}")
    for number, segment in enumerate(message, 1):
        text = str(segment)
        if number == 1:  # MSH-1 and MSH-2 are the separators themselves, the escape character among them
            text = text.split(message.separators[1], 2)[-1]
        for found in sequence.finditer(text):
            if not KNOWN_ESCAPE.fullmatch(found.group(1)):
                raise InvalidInput(f"{where}, segment {number} ({str(segment[0])[:3]}): the escape sequence "
                                   f"{shown(found.group())} is not one medsec reads")


def _hl7_date(text: str) -> str:
    digits = text[:8]
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}" if len(digits) == 8 and digits.isdigit() else text


def _observation(message, segment, here: str) -> dict:
    value_type = _value(segment, here, 2)
    if value_type in CODED:
        value = _value(segment, here, 5, 2) or _value(segment, here, 5)
    else:
        value = _observation_value(message, segment, here)
    return {"set_id": _value(segment, here, 1), "type": value_type, "code": _value(segment, here, 3),
            "name": _value(segment, here, 3, 2), "value": value, "units": _value(segment, here, 6),
            "range": _value(segment, here, 7), "flag": _value(segment, here, 8),
            "status": _value(segment, here, 11), "observed": _value(segment, here, 14)}


def _parse(text: str, where: str):
    """The message parsed by python-hl7; InvalidInput when it cannot be."""
    import hl7  # third-party and slow to import: only lab imports pay for it

    try:
        return hl7.parse(text)
    except (hl7.HL7Exception, ValueError, IndexError, AssertionError) as e:  # python-hl7 asserts its separators
        why = shown(e, 80) if str(e) else "the separators of MSH-1 and MSH-2 are broken"
        raise InvalidInput(f"{where}: cannot parse: {why}") from None


def _check_header(msh, where: str) -> str:
    """The message control id, once MSH says this is an HL7 v2 ORU^R01 message."""
    here = f"{where}, segment 1 (MSH)"
    kind, trigger = _value(msh, here, 9, 1), _value(msh, here, 9, 2)
    if (kind, trigger) != ("ORU", "R01"):
        found = "^".join(x for x in (kind, trigger) if x) or "empty"
        raise InvalidInput(f"{here}: MSH-9 message type is {found}, not ORU^R01")
    control_id = _value(msh, here, 10)
    if not control_id:
        raise InvalidInput(f"{here}: MSH-10 (message control id) is empty")
    version = _value(msh, here, 12)
    if version and not version.startswith("2."):
        raise InvalidInput(f"{here}: MSH-12 version {shown(version)} is not HL7 v2")
    return control_id


def _order_group(segment, orc: list[str], here: str) -> OrderGroup:
    """An OBR's order numbers (its own, else those of the ORC before it) and test."""
    placer = list(dict.fromkeys(n for n in (orc[0] if orc else "", _value(segment, here, 2)) if n))
    filler = _value(segment, here, 3) or (orc[1] if orc else "")
    if not placer and not filler:
        raise InvalidInput(f"{here}: no order number (ORC-2, OBR-2 or OBR-3)")
    test = _value(segment, here, 4, 2) or _value(segment, here, 4)
    if not test:
        raise InvalidInput(f"{here}: OBR-4 (the test ordered) is empty")
    return OrderGroup(placer, filler, test, _value(segment, here, 25))


def _add_observation(message, segment, groups: list[OrderGroup], here: str) -> None:
    """An OBX's observation, added to the OBR group before it."""
    if not groups:
        raise InvalidInput(f"{here}: an OBX before any OBR")
    if not _value(segment, here, 3):
        raise InvalidInput(f"{here}: OBX-3 (what was observed) is empty")
    groups[-1].observations.append(_observation(message, segment, here))


def _read_segments(message, where: str) -> tuple[dict, list[OrderGroup]]:
    """(patient named by PID, order groups) of a message, checked segment by segment."""
    patient = {"id_in_message": "", "family": "", "given": "", "dob": ""}
    groups: list[OrderGroup] = []
    orc: list[str] = []
    for number, segment in enumerate(message, 1):
        name = str(segment[0])
        here = f"{where}, segment {number} ({name[:12]})"
        if not SEGMENT_ID.fullmatch(name):
            raise InvalidInput(f"{where}, segment {number} ({shown(name, 20)}): broken, {shown(name, 20)} "
                               "is not a segment id")
        if name == "MSH" and number > 1:
            raise InvalidInput(f"{here}: a second MSH inside one message")
        if name == "PID":
            patient = {"id_in_message": _value(segment, here, 3), "family": _value(segment, here, 5, 1),
                       "given": _value(segment, here, 5, 2), "dob": _hl7_date(_value(segment, here, 7))}
        elif name == "ORC":
            orc = [_value(segment, here, 2), _value(segment, here, 3)]
        elif name == "OBR":
            groups.append(_order_group(segment, orc, here))
            orc = []
        elif name == "OBX":
            _add_observation(message, segment, groups, here)
    if not groups:
        raise InvalidInput(f"{where}: no OBR segment, so no results")
    return patient, groups


def _read_message(text: str, where: str) -> ResultMessage:
    """One message, checked segment by segment; InvalidInput names the segment at fault."""
    message = _parse(text, where)
    _check_escapes(message, where)
    msh = message[0]
    control_id = _check_header(msh, where)
    patient, groups = _read_segments(message, where)
    here = f"{where}, segment 1 (MSH)"
    sender = "/".join(x for x in (_value(msh, here, 3), _value(msh, here, 4)) if x)
    return ResultMessage(f"{sender}|{control_id}", control_id, sender, _value(msh, here, 7), patient, groups)


def read_messages(path: str, raw: bytes) -> list[ResultMessage]:
    """Every ORU^R01 message of the file `path`, whose bytes are `raw` (one message, or a batch);
    InvalidInput on anything else."""
    import hl7  # third-party and slow to import: only lab imports pay for it

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not an HL7 v2 message (not text)") from None
    # MLLP framing and any kind of line end; HL7 itself separates segments with CR.
    text = text.strip("\x0b\x1c\r\n\t ").replace("\r\n", "\r").replace("\n", "\r")
    lines = [line for line in text.split("\r") if line.strip() and line[:3] not in BATCH_SEGMENTS]
    if not lines:
        raise InvalidInput(f"{path} is empty")
    first = lines[0]
    if not first.startswith("MSH"):
        if SEGMENT_ID.fullmatch(first[:3]) and first[3:4] == "|":
            raise InvalidInput(f"{path}: segment 1 ({first[:3]}) comes before any MSH: the message header is missing")
        raise InvalidInput(f"{path} is not an HL7 v2 message (it does not start with an MSH segment)")
    texts = hl7.split_file("\r".join(lines))
    many = len(texts) > 1
    return [_read_message(t, f"{path}: message {i}" if many else path) for i, t in enumerate(texts, 1)]


# -- matching -------------------------------------------------------------------
def _order_id(number: str) -> str | None:
    try:
        return LABS.format_id(LABS.number(number))
    except InvalidInput:
        return None


def find_order(view, group: OrderGroup) -> dict | None:
    """The order a result belongs to, by placer number, else by filler number."""
    for number in group.placer + [group.filler]:
        order_id = _order_id(number) if number else None
        found = view.get(LABS, order_id) if order_id else None
        if found:
            return found
    if group.filler:
        ids = view.lookup("lab-filler", group.filler)
        if ids:
            return view.get(LABS, ids[-1])
    return None


def patient_mismatch(patient: dict, named: dict) -> str:
    """Why the message's patient is not the order's ('' when name and birth date agree)."""
    problems = []
    if named.get("family") and named["family"].casefold() != str(patient.get("last", "")).casefold():
        problems.append(f"name {shown(named['family'])}")
    if named.get("dob") and named["dob"] != patient.get("dob"):
        problems.append(f"birth date {named['dob']}")
    return f"the message's patient ({', '.join(problems)}) is not {patient['id']}" if problems else ""


def _result_record(result_id: str, message: ResultMessage, group: OrderGroup, stamp: str, file: dict) -> dict:
    named = message.patient
    return {"id": result_id, "received": stamp, "status": "unmatched", "order_id": "", "patient_id": "",
            "reason": "", "message_key": message.key, "control_id": message.control_id,
            "sender": message.sender, "sent_at": message.sent_at, "placer_number": ", ".join(group.placer),
            "filler_number": group.filler, "test": group.test, "result_status": group.result_status,
            "patient_name": ", ".join(x for x in (named["family"], named["given"]) if x),
            "patient_in_message": named, "observations": group.observations, "file": file, "matched_by": ""}


def _attach(app, result: dict, order: dict, note: str) -> tuple[dict, dict]:
    """(result, order) once matched: the order is resulted again with this result."""
    new_order = labs.with_result(app, order, result_id=result["id"], filler=result["filler_number"], note=note)
    return {**result, "status": "matched", "order_id": order["id"], "patient_id": order["patient_id"],
            "reason": ""}, new_order


def _stored_file(app, path: str, raw: bytes, dry_run: bool) -> dict:
    """The HL7 file (its bytes as read) kept with the results by content hash; nothing on a dry run."""
    if dry_run:
        return {}
    sha, size = app.store.attach_bytes(raw)
    return {"sha256": sha, "name": os.path.basename(path), "size": size}


def _new_results(view, messages: list[ResultMessage]) -> tuple[list[tuple[ResultMessage, OrderGroup]], int]:
    """(message, order group) of each result not imported before, and how many messages were."""
    todo, skipped, seen = [], 0, set()
    for message in messages:
        if message.key in seen or view.lookup("labresult-message", message.key):
            skipped += 1
            continue
        seen.add(message.key)
        todo += [(message, group) for group in message.groups]
    return todo, skipped


def _unmatched_reason(app, view, order: Record, named: dict) -> str:
    """Why a result cannot be filed with `order` ('' when it can)."""
    if order["status"] == "cancelled":
        return f"order {order['id']} is cancelled"
    return patient_mismatch(get_patient(app, order["patient_id"], view=view), named)


def _filed(app, txn, result: Record, message: ResultMessage, group: OrderGroup,
           before: dict[str, Record], after: dict[str, Record]) -> Record:
    """`result` filed with its order, else with the reason it stays unmatched.

    A matched order's stored version goes in `before` (the first time), its
    new version in `after`, so a second result for it builds on the first.
    """
    found = find_order(txn, group)
    if found is None:
        return {**result, "reason": "no order with this number"}
    order = after.get(found["id"], found)
    reason = _unmatched_reason(app, txn, order, message.patient)
    if reason:
        return {**result, "reason": reason}
    matched, new_order = _attach(app, result, order, f"HL7 message {message.control_id}")
    before.setdefault(order["id"], found)
    after[order["id"]] = new_order
    return matched


def _with_review_tasks(app, txn, after: dict[str, Record], results: list[Record]) -> tuple[dict[str, Record], list]:
    """Each order resulted by this file with the ordering physician's review task (by the worst
    abnormal flag of its new results: critical, abnormal or normal), and the tasks' ids."""
    out, task_ids = {}, []
    for order_id, order in after.items():
        mine = [r for r in results if r["order_id"] == order_id]
        flags = [o.get("flag", "") for r in mine for o in r["observations"]]
        level = labs.flag_level(flags)
        flagged = sorted({f"{o.get('name') or o.get('code')} {o['flag']}" for r in mine for o in r["observations"]
                          if labs.flag_level([o.get("flag", "")]) != "normal"})
        what = ", ".join(flagged[:4]) + (" ..." if len(flagged) > 4 else "") if flagged else "no abnormal flag"
        known = set(order.get("tasks") or []) | set(order.get("call_tasks") or [])
        new = labs.open_review_tasks(app, txn, order, level, what)
        task_ids += [t for t in new["tasks"] + new["call_tasks"] if t not in known]
        out[order_id] = new
    return out, task_ids


def import_file(app, path: str, *, dry_run: bool = False) -> dict:
    """Import every result of an HL7 file; a malformed file writes nothing (InvalidInput)."""
    return import_data(app, path, read_input(path, HL7), dry_run=dry_run)


def import_data(app, path: str, raw: bytes, *, dry_run: bool = False) -> dict:
    """`import_file` of bytes already read (`path`: the name they are known by: a file, a lab's inbox)."""
    messages = read_messages(path, raw)
    file = _stored_file(app, path, raw, dry_run)
    stamp = clock.iso(app.now())
    with app.store.transaction() as txn:
        todo, skipped = _new_results(txn, messages)
        ids = txn.reserve_ids(LAB_RESULTS, len(todo)) if todo and not dry_run else [""] * len(todo)
        results: list[Record] = []
        before: dict[str, Record] = {}  # each order changed, as stored
        after: dict[str, Record] = {}  # and as it is after this file's results
        for result_id, (message, group) in zip(ids, todo, strict=True):
            result = _result_record(result_id, message, group, stamp, file)
            results.append(_filed(app, txn, result, message, group, before, after))
        tasks: list[str] = []
        if not dry_run:
            after, tasks = _with_review_tasks(app, txn, after, results)
            txn.put_many(LAB_RESULTS, results)
            if after:
                txn.put_many(LABS, list(after.values()), before)
    if not dry_run:
        app.audit("lab-import", [r["id"] for r in results] + list(after) + tasks
                  + sorted({o["patient_id"] for o in after.values()}))
    return {"file": path, "messages": len(messages), "results": len(results),
            "matched": sum(r["status"] == "matched" for r in results),
            "unmatched": sum(r["status"] == "unmatched" for r in results),
            "skipped_duplicates": skipped, "dry_run": dry_run,
            "items": [{k: r[k] for k in RESULT_COLUMNS} for r in results]}


def list_unmatched(app, limit: int | None = None, first: date | None = None,
                   last: date | None = None) -> list[dict]:
    """The queue of results that match no order, oldest first; `first`/`last`: received on those days."""
    view = app.store.snapshot()
    ids = view.lookup("labresult-unmatched", "unmatched")
    out = [r for r in view.get_many(LAB_RESULTS, ids)
           if r["status"] == "unmatched" and clock.on_days(r["received"], first, last)]
    out.sort(key=lambda r: LAB_RESULTS.number(r["id"]))
    out = out[:limit] if limit else out
    app.audit("list", [r["id"] for r in out])
    return out


def match(app, result_id: str, order_id: str, *, force: bool = False) -> dict:
    """File a queued result with an order by hand; a patient mismatch needs `force`."""
    LAB_RESULTS.number(result_id)  # a malformed id is bad input (exit 2) before any look-up
    LABS.number(order_id)
    with app.store.transaction() as txn:
        result = labs.get_result(app, result_id, txn)
        if result["status"] != "unmatched":
            raise Refused(f"{result['id']} is already matched to {result['order_id']}")
        order = labs.get_order(app, order_id, txn)
        reason = patient_mismatch(get_patient(app, order["patient_id"], view=txn), result["patient_in_message"])
        if reason and not force:
            raise Refused(f"{result['id']}: {reason}", hint="check the patient; --force files it anyway")
        matched, new_order = _attach(app, result, order, f"matched by hand from {result['id']}")
        matched["matched_by"] = app.user
        new_order = _with_review_tasks(app, txn, {order["id"]: new_order}, [matched])[0][order["id"]]
        txn.put(LAB_RESULTS, matched, result)
        txn.put(LABS, new_order, order)
    app.audit("lab-match", [matched["id"], new_order["id"], new_order["patient_id"]])
    return matched
