"""Phone calls and messages taken: logged, assigned, returned, closed."""

from datetime import date

from medsec import clock
from medsec.communications import fields
from medsec.errors import InvalidInput, Refused
from medsec.identifiers import format_phone, phone_valid
from medsec.records.patients import find_patients, get_patient, opened
from medsec.records.staff import acting_members, get_staff
from medsec.store.catalog import CALLS
from medsec.text import shown

COLUMNS = ["id", "created", "urgent", "line", "from_number", "patient_id", "for_staff", "reason", "status",
           "attempts"]
OUTCOMES = ["reached", "left-message", "no-answer", "wrong-number"]
MAX_LINE = 99  # phone lines of the practice's switchboard


def _find_patient_by_phone(app, digits: str) -> str:
    found = find_patients(app, phone=digits)
    return found[0]["id"] if len(found) == 1 else ""


def log_call(app, *, caller: str, reason: str, for_staff: str | None = None, line: int | None = None,
             urgent: bool = False) -> dict:
    """`caller` is a phone number or a patient id; a known number finds its patient."""
    reason = fields.body(reason, "--reason", required=True)
    caller = fields.line(caller, "--phone", required=True)
    if line is not None and not 1 <= line <= MAX_LINE:
        raise InvalidInput(f"--line {shown(line)} is not a phone line (1 to {MAX_LINE})")
    patient_id, number = "", ""
    if caller[:1].upper() == "P" and caller[1:].isdigit():
        patient = get_patient(app, caller)
        patient_id, number = patient["id"], patient.get("phone", "")
    elif phone_valid(caller):
        number = format_phone(caller)
        patient_id = _find_patient_by_phone(app, number)
    else:
        raise InvalidInput(f"--phone {shown(caller)} is not a phone number")
    staff_id = get_staff(app, for_staff)["id"] if for_staff else ""
    with app.store.transaction() as txn:
        (call_id,) = txn.reserve_ids(CALLS)
        record = {"id": call_id, "created": clock.iso(app.now()), "taken_by": app.user, "from_number": number,
                  "patient_id": patient_id, "reason": reason, "for_staff": staff_id, "line": line or "",
                  "urgent": urgent, "status": "open", "attempts": [], "closed": "", "close_note": ""}
        txn.put(CALLS, record)
        app.after_commit(txn, "message_created", [{**record, "kind": "call"}], "message")
    app.audit("call", [call_id] + ([patient_id] if patient_id else []))
    return record


def get_call(app, call_id: str, view=None) -> dict:
    return opened(app, (view or app.store.snapshot()).require(CALLS, call_id, "call", "see 'medsec call list'"), view)


def list_calls(app, *, status: str = "open", mine: bool = False, for_staff: str | None = None,
               limit: int | None = None, first: date | None = None, last: date | None = None,
               line: int | None = None) -> list[dict]:
    """Urgent first, then oldest first; `first`/`last`: taken on those days; `line`: came in on it."""
    if line is not None and not 1 <= line <= MAX_LINE:
        raise InvalidInput(f"--line {shown(line)} is not a phone line (1 to {MAX_LINE})")
    view = app.store.snapshot()
    wanted: set[str] | None  # whose calls are asked for; None: everyone's
    if mine:
        wanted = {m["id"] for m in acting_members(app)}
    else:
        wanted = {get_staff(app, for_staff)["id"]} if for_staff else None
    out = [c for c in view.scan(CALLS)
           if (status == "all" or c["status"] == status) and (wanted is None or c["for_staff"] in wanted)
           and clock.on_days(c["created"], first, last) and (line is None or c.get("line") == line)]
    out = [{**c, "line": c.get("line", "")} for c in out]  # calls logged before lines were listed
    out.sort(key=lambda c: (not c["urgent"], c["created"], int(c["id"][1:])))
    out = out[:limit] if limit else out
    app.audit("list", [c["id"] for c in out] + [c["patient_id"] for c in out if c["patient_id"]])
    return out


def _change(app, call_id: str, change) -> dict:
    with app.store.transaction() as txn:
        old = get_call(app, call_id, view=txn)
        record = change(old)
        txn.put(CALLS, record, old)
    app.audit("call", [record["id"]] + ([record["patient_id"]] if record["patient_id"] else []))
    return record


def assign(app, call_id: str, staff_id: str) -> dict:
    member = get_staff(app, staff_id)

    def change(old):
        if old["status"] != "open":
            raise Refused(f"{old['id']} is closed")
        return {**old, "for_staff": member["id"]}

    return _change(app, call_id, change)


def return_call(app, call_id: str, note: str, outcome: str = "reached") -> dict:
    if outcome not in OUTCOMES:
        raise InvalidInput(f"outcome {shown(outcome)} is not one of {', '.join(OUTCOMES)}")
    note = fields.body(note, "--note")
    attempt = {"at": clock.iso(app.now()), "by": app.user, "outcome": outcome, "note": note}

    def change(old):
        if old["status"] != "open":
            raise Refused(f"{old['id']} is closed")
        return {**old, "attempts": old["attempts"] + [attempt]}

    return _change(app, call_id, change)


def close(app, call_id: str, note: str = "") -> dict:
    note = fields.body(note, "--note")

    def change(old):
        if old["status"] != "open":
            raise Refused(f"{old['id']} is already closed")
        return {**old, "status": "closed", "closed": clock.iso(app.now()), "close_note": note}

    return _change(app, call_id, change)


def link_patient(app, call_id: str, patient_id: str) -> dict:
    """Set the patient of a call taken from a caller not known then (registered since); audited.

    Refused (exit 1) when the call already names another patient: a wrong link is not replaced
    silently. Linking it to the patient it names already changes nothing. A closed call may be
    linked: it is the patient's record of the call.
    """
    with app.store.transaction() as txn:
        old = get_call(app, call_id, view=txn)
        patient = get_patient(app, patient_id, view=txn)
        if old["patient_id"] == patient["id"]:
            record = old
        elif old["patient_id"]:
            raise Refused(f"{old['id']} is already linked to {old['patient_id']}",
                          hint="a call names one patient; see 'medsec call show " + old["id"] + "'")
        else:
            record = {**old, "patient_id": patient["id"], "linked": clock.iso(app.now()), "linked_by": app.user}
            txn.put(CALLS, record, old)
    app.audit("call", [record["id"], patient["id"]],
              outcome="ok: already linked" if record is old else f"ok: linked to {patient['id']}")
    return record
