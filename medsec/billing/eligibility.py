"""Eligibility: asking payers whether a patient is covered (270 out) and posting their answers (271 in).

One ELIGIBILITY record (EL12) per patient and coverage asked about; its id is the 270's trace
number (TRN02), which the payer echoes in its 271, so an answer finds its question:

    {"id": "EL12", "patient_id": "P3", "status": "sent" | "answered", "trace": "EL12", "rank": "primary",
     "payer_id": "HARBOR", "member_id": "HAR126563621", "relationship": "self",
     "service_date": "2026-11-27", "service_types": ["30"], "asked_at": ISO, "asked_by": "S4",
     "file": "/path/elig.270", "edi_file": "EF3", "control": "000000012",
     "answer": None | {"state": "active" | "inactive" | "unknown", "active": True | False | None,
                       "plan", "group", "copay", "coinsurance", "deductible", "deductible_remaining",
                       "out_of_pocket", "out_of_pocket_remaining", "reasons": ["words" ...],
                       "codes": {"rejections": ["72"], "benefits": ["1", "B"]}, "service_types", "dates",
                       "benefits": [...the reader's...], "edi_file": "EF4", "name": "answer.271"},
     "answered_at": ISO | ""}

An answer also sets the coverage's eligibility state on the patient
(medsec.records.coverage.set_eligibility), which check-in and the day sheet read.

Sending instead of writing a file: `prepare()` builds the 270's bytes and returns them with a
`commit(name, transport)` that records everything in one transaction once they are sent.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from medsec import clock
from medsec.billing.acks import read_answers
from medsec.billing.claim_export import INTERCHANGES, usage_of
from medsec.billing.claims import _billing_provider, _envelope, _payer_entry, _person_name, _upper
from medsec.billing.edi import edi_format, record_file, refuse_if_imported, sha256
from medsec.errors import InvalidInput, NotFound, Refused
from medsec.records.coverage import coverage_on, period_problem, set_eligibility
from medsec.records.patients import RANKS, get_patient
from medsec.store.catalog import APPOINTMENTS, ELIGIBILITY, PATIENTS
from medsec.text import escape_controls

STATUSES = ("sent", "answered")
SERVICE_TYPE = re.compile(r"[0-9A-Z]{1,2}")
DEFAULT_SERVICE_TYPES = ("30",)  # health benefit plan coverage
NOT_VISITS = ("cancelled",)
COLUMNS = ["id", "patient_id", "status", "rank", "payer_id", "member_id", "service_date", "state", "plan",
           "asked_at"]


def service_types_of(values: Iterable[str]) -> list[str]:
    """EQ01 service type codes, checked ('30', '98', 'AL' ...); InvalidInput for anything else."""
    codes = []
    for value in values:
        code = str(value).strip().upper()
        if not SERVICE_TYPE.fullmatch(code):
            raise InvalidInput(f"service type {value!r} is not an X12 service type code (1-2 letters or digits)",
                               hint="30 health benefit plan coverage, 98 office visit, 1 medical care ...")
        if code not in codes:
            codes.append(code)
    return codes or list(DEFAULT_SERVICE_TYPES)


@dataclass
class Prepared:
    """A 270 ready to go: its bytes, the inquiries in it, the patients skipped and why.

    `commit(name, transport="")` records the ELIGIBILITY records and the EDI_FILES "out" record
    in one transaction and returns the summary; call it once the bytes were written or sent.
    """

    data: bytes
    control: str
    inquiries: list[dict]
    skipped: list[dict]
    commit: Callable[..., dict] = field(repr=False)


def _in_force(patient: dict, day: date) -> tuple[list[dict], str]:
    """The patient's coverages in force on `day` by their dates (an earlier 'inactive' answer is what
    a new inquiry asks again), and the reason when there is none."""
    found = []
    for rank in RANKS:
        coverage, problem = coverage_on(patient, day, rank)
        if coverage is None:
            coverage = next((c for c in patient.get("coverages") or []
                             if c.get("rank") == rank and period_problem(c, day) is None), None)
        if coverage is not None:
            found.append(coverage)
    if found:
        return found, ""
    if not patient.get("coverages"):
        return [], "no coverage (self-pay)"
    return [], coverage_on(patient, day, "primary")[1] or "no coverage in force"


def _subscriber(patient: dict, coverage: dict) -> tuple[dict, dict | None]:
    """2100C subscriber and, when the patient is not the subscriber, the 2100D dependent."""
    person = {"first": _upper(patient["first"]), "last": _upper(patient["last"]), "middle": "",
              "dob": patient.get("dob", ""), "sex": patient.get("sex", "")}
    if coverage.get("relationship", "self") == "self":
        return {**person, "member_id": coverage["member_id"]}, None
    first, last = _person_name(coverage.get("subscriber") or "")
    sub = {"first": first, "last": last, "middle": "", "dob": coverage.get("subscriber_dob") or "", "sex": "",
           "member_id": coverage["member_id"]}
    return sub, {**person, "relationship": coverage.get("relationship", "")}


def _payers(app, coverages: list[dict]) -> dict[str, dict]:
    """2100A of each payer asked: its name and the clearinghouse's id (payers.yaml payer_id)."""
    payers: dict[str, dict] = {}
    for coverage in coverages:
        if coverage["payer"] not in payers:
            entry = _payer_entry(app, coverage["payer"])
            if not entry.get("payer_id"):
                raise InvalidInput(f"payer {coverage['payer']} has no payer_id in payers.yaml",
                                   hint="the clearinghouse's id of the payer goes there")
            payers[coverage["payer"]] = {"name": _upper(entry["name"]), "payer_id": str(entry["payer_id"])}
    return payers


def prepare(app, patient_ids: list[str], on: date, service_types: Iterable[str] = DEFAULT_SERVICE_TYPES, *,
            usage: str | None = None) -> Prepared:
    """The 270 asking about each patient's coverages in force on `on`.

    Reserves the EL ids (the traces) and the interchange control number (spent even if the bytes
    are never sent, as claim export does). InvalidInput for an unknown patient or bad code;
    Refused (exit 1) when nobody has a coverage to ask about.
    """
    types = service_types_of(service_types)
    usage = usage_of(app, usage)  # ISA15: T test, P production (practice.yaml billing.usage)
    practice = app.config("practice.yaml")
    provider = _billing_provider(practice)
    submitter, receiver = _envelope(practice)
    view = app.store.snapshot()
    wanted, skipped, seen = [], [], set()
    for pid in patient_ids:
        patient = get_patient(app, pid, view=view)
        if patient["id"] in seen:
            continue
        seen.add(patient["id"])
        coverages, reason = _in_force(patient, on)
        if not coverages:
            skipped.append({"patient_id": patient["id"], "reason": reason})
        wanted += [(patient, c) for c in coverages]
    if not wanted:
        raise Refused(f"nobody to ask about on {on}: no coverage in force",
                      details=[f"{s['patient_id']}: {s['reason']}" for s in skipped])
    writer = edi_format(app, "270")
    payers = _payers(app, [c for _, c in wanted])
    with app.store.transaction() as txn:  # spent before the file exists: never reused
        ids = txn.reserve_ids(ELIGIBILITY, len(wanted))
        number = INTERCHANGES.number(txn.reserve_ids(INTERCHANGES)[0])
    control = f"{number:09d}"  # ISA13 as written (edi.sent() finds it by GS06 too)
    stamp = clock.iso(app.now())
    items, records = [], []
    for el_id, (patient, coverage) in zip(ids, wanted, strict=True):
        sub, dependent = _subscriber(patient, coverage)
        items.append({"trace": el_id, "service_date": on.isoformat(), "service_types": types,
                      "payer": payers[coverage["payer"]],
                      "provider": {"name": provider["name"], "npi": provider["npi"]},
                      "subscriber": sub, "patient": dependent})
        records.append({"id": el_id, "patient_id": patient["id"], "status": "sent", "trace": el_id,
                        "rank": coverage["rank"], "payer_id": coverage["payer"], "member_id": coverage["member_id"],
                        "relationship": coverage.get("relationship", "self"), "service_date": on.isoformat(),
                        "service_types": types, "asked_at": stamp, "asked_by": app.user, "file": "",
                        "edi_file": "", "control": control, "answer": None, "answered_at": ""})
    try:
        data = writer.write(items, {"interchange_control": number, "group_control": number,
                                    "usage": usage, "now": app.now(), "sender_id": submitter["id"],
                                    "receiver_id": receiver["id"], "tax_id": provider["tax_id"]})
    except ValueError as e:
        raise InvalidInput(f"cannot write the 270: {escape_controls(str(e))}",
                           hint="fix practice.yaml, payers.yaml or the coverage") from None

    def commit(name: str, transport: str = "") -> dict:
        with app.store.transaction() as txn:
            edi = record_file(app, txn, direction="out", transaction="270", raw_sha=sha256(data), name=name,
                              control=control, status="sent", patients=sorted({r["patient_id"] for r in records}),
                              summary={"inquiries": len(records), "service_date": on.isoformat()},
                              transport=transport)
            txn.put_many(ELIGIBILITY, [{**r, "file": name, "edi_file": edi["id"]} for r in records])
        app.audit("eligibility-check", [r["id"] for r in records] + sorted({r["patient_id"] for r in records}))
        return {"file": name, "edi_file": edi["id"], "control": control, "service_date": on.isoformat(),
                "service_types": types, "bytes": len(data), "transport": transport,
                "inquiries": [{k: r[k] for k in ("id", "patient_id", "rank", "payer_id", "member_id")}
                              for r in records],
                "skipped": skipped}

    return Prepared(data, control, records, skipped, commit)


def check(app, patient_ids: list[str], on: date, service_types: Iterable[str] = DEFAULT_SERVICE_TYPES, *,
          output: str | None = None, send: bool = False, clearinghouse: str | None = None,
          usage: str | None = None) -> dict:
    """A 270 asking about the patients' coverages on `on`, written to `output` or sent to the
    clearinghouse (medsec.billing.transports.destination); the inquiries recorded once it is there."""
    from medsec.billing.transports import destination  # the transport plugins: only when sending

    with destination(app, output=output, send=send, clearinghouse=clearinghouse) as put:
        prepared = prepare(app, patient_ids, on, service_types, usage=usage)
        where, transport = put(f"elig-{prepared.control}.270", prepared.data)
    return prepared.commit(where, transport=transport)


def booked(app, day: date) -> list[str]:
    """Patients with a visit on `day` (cancelled ones left out), in visit order."""
    view = app.store.snapshot()
    appts = sorted(view.day(APPOINTMENTS, day.isoformat()), key=lambda a: (a["start"], int(a["id"][1:])))
    out: list[str] = []
    for a in appts:
        if a.get("patient_id") and a["status"] not in NOT_VISITS and a["patient_id"] not in out:
            out.append(a["patient_id"])
    return out


def batch(app, for_day: date, *, output: str | None = None, send: bool = False, clearinghouse: str | None = None,
          service_types: Iterable[str] = DEFAULT_SERVICE_TYPES, usage: str | None = None) -> dict:
    """check() everyone booked on `for_day`; nothing written (exit 0) when nobody is to be asked."""
    types = service_types_of(service_types)
    patients = booked(app, for_day)
    if not patients:
        return _nothing(for_day, types, [])
    try:
        return check(app, patients, for_day, types, output=output, send=send, clearinghouse=clearinghouse,
                     usage=usage)
    except Refused as e:
        if not str(e).startswith("nobody to ask"):
            raise
        return _nothing(for_day, types, [{"patient_id": d.split(":")[0], "reason": d.split(": ", 1)[1]}
                                         for d in (e.details or [])])


def _nothing(day: date, types: list[str], skipped: list[dict]) -> dict:
    return {"file": "", "edi_file": "", "control": "", "service_date": day.isoformat(), "service_types": types,
            "bytes": 0, "transport": "", "inquiries": [], "skipped": skipped}


# -- answers -------------------------------------------------------------------------------
def _stored_answer(answer: dict, name: str) -> dict:
    state = {"active": "active", "inactive": "inactive"}.get(answer["state"], "unknown")
    keys = ("plan", "group", "copay", "coinsurance", "deductible", "deductible_remaining", "out_of_pocket",
            "out_of_pocket_remaining", "service_types", "dates", "benefits")
    return {"state": state, "active": answer["active"], **{k: answer.get(k) for k in keys},
            "reasons": [r["words"] for r in answer["rejections"]],
            "codes": {"rejections": [r["code"] for r in answer["rejections"]],
                      "benefits": [b["code"] for b in answer["benefits"]]},
            "edi_file": "", "name": name}


def _eligibility_info(record: dict, stored: dict, stamp: str) -> dict:
    """What medsec.records.coverage.set_eligibility keeps on the coverage."""
    details = {k: stored[k] for k in ("copay", "coinsurance", "deductible", "deductible_remaining",
                                      "out_of_pocket", "out_of_pocket_remaining") if stored.get(k)}
    details.update({k: v for k, v in (stored.get("dates") or {}).items() if k in ("plan_begin", "plan_end")})
    if stored["reasons"]:
        details["reason"] = "; ".join(stored["reasons"])
        details["rejections"] = list(stored["codes"]["rejections"])
    elif stored["state"] == "inactive":
        end = (stored.get("dates") or {}).get("plan_end")
        details["reason"] = "the payer says inactive" + (f" (plan ended {end})" if end else "")
    return {"state": stored["state"], "as_of": record["service_date"], "checked": stamp,
            "source": f"271 {record['id']}", "plan": stored.get("plan") or "", "details": details}


def _unmatched(answer: dict, reason: str) -> dict:
    return {"reason": reason, "trace": answer["trace"], "member_id": answer["member_id"],
            "name": " ".join(p for p in (answer["patient"].get("first"), answer["patient"].get("last")) if p),
            "state": answer["state"], "rejections": [r["code"] for r in answer["rejections"]]}


def _match(txn, answer: dict) -> tuple[dict | None, str]:
    trace = answer["trace"].strip().upper()
    if not trace:
        why = "; ".join(r["words"] for r in answer["rejections"]) or "no trace number (TRN*2)"
        return None, f"an answer without a trace: {why}"
    try:
        record = txn.get(ELIGIBILITY, trace) if re.fullmatch(r"EL[0-9]+", trace) else None
    except InvalidInput:  # EL0, EL01 ...: not one of our ids
        record = None
    if record is None:
        return None, f"trace {answer['trace']} matches no eligibility inquiry"
    sent_id = re.sub(r"\s", "", record["member_id"]).upper()
    if answer["member_id"] and re.sub(r"\s", "", answer["member_id"]).upper() != sent_id:
        return None, f"member id {answer['member_id']} does not match {record['id']}'s {record['member_id']}"
    return record, ""


def import_271(app, raw: bytes, name: str, *, fmt: Any, dry_run: bool = False) -> dict:
    """Post a 271: each answer to its inquiry (by trace) and to the patient's coverage; answers
    matching nothing are kept on the file record's `unmatched` list. One transaction; a file
    already imported is refused (exit 1); a malformed one is InvalidInput (exit 2)."""
    answers = read_answers(fmt, raw, name)
    raw_sha = sha256(raw)
    stamp = clock.iso(app.now())
    answered: list[dict] = []
    unmatched: list[dict] = []
    with app.store.transaction() as txn:
        refuse_if_imported(txn, raw_sha, name)
        records: dict[str, tuple[dict, dict]] = {}
        patients: dict[str, tuple[dict, dict]] = {}
        for answer in answers:
            record, why = _match(txn, answer)
            if record is None:
                unmatched.append(_unmatched(answer, why))
                continue
            stored = _stored_answer(answer, name)
            old = records.get(record["id"], (None, record))[1]
            records[record["id"]] = ({**record, "status": "answered", "answer": stored, "answered_at": stamp}, old)
            row = {"id": record["id"], "patient_id": record["patient_id"], "rank": record["rank"],
                   "state": stored["state"], "plan": stored["plan"], "reasons": stored["reasons"], "applied": True}
            pid = record["patient_id"]
            before = patients[pid][0] if pid in patients else txn.get(PATIENTS, pid)
            coverage = next((c for c in (before or {}).get("coverages") or [] if c["rank"] == record["rank"]), None)
            if before is None or coverage is None or coverage["member_id"] != record["member_id"]:
                row["applied"] = False  # the coverage was removed or replaced since the question
            else:
                after = {**set_eligibility(before, record["rank"], _eligibility_info(record, stored, stamp)),
                         "updated": stamp}
                patients[pid] = (after, patients[pid][1] if pid in patients else before)
            answered.append(row)
        summary = {"file": "", "transaction": "271", "name": name, "dry_run": dry_run,
                   "answered": answered, "unmatched": unmatched}
        if not dry_run:
            edi = record_file(app, txn, direction="in", transaction="271", raw_sha=raw_sha, name=name,
                              status="imported", patients=sorted(patients),
                              summary={"answered": len(answered), "unmatched": len(unmatched)}, unmatched=unmatched)
            summary["file"] = edi["id"]
            txn.put_many(ELIGIBILITY, [{**new, "answer": {**new["answer"], "edi_file": edi["id"]}}
                                       for new, _ in records.values()],
                         {old["id"]: old for _, old in records.values()})
            txn.put_many(PATIENTS, [new for new, _ in patients.values()],
                         {old["id"]: old for _, old in patients.values()})
    if not dry_run:
        app.audit("eligibility-import", [summary["file"]] + [r["id"] for r in answered] + sorted(patients))
    return summary


# -- listing -------------------------------------------------------------------------------
def get_inquiry(app, el_id: str) -> dict:
    record = app.store.snapshot().get(ELIGIBILITY, el_id.strip().upper())
    if record is None:
        raise NotFound(f"no eligibility inquiry {el_id}")
    get_patient(app, record["patient_id"])  # a restricted chart's inquiries are refused with it
    app.audit("show", [record["id"], record["patient_id"]])
    return record


def list_inquiries(app, *, patient: str | None = None, status: str | None = None, first: date | None = None,
                   last: date | None = None, limit: int | None = None) -> list[dict]:
    """Inquiries, newest first, as table rows (state and plan from the answer)."""
    if status and status not in STATUSES:
        raise InvalidInput(f"unknown status {status!r}", hint=f"one of {', '.join(STATUSES)}")
    view = app.store.snapshot()
    if patient:
        pid = get_patient(app, patient, view=view)["id"]
        found = [r for r in view.get_many(ELIGIBILITY, view.lookup("elig-patient", pid)) if r["patient_id"] == pid]
    elif status == "sent":
        found = [r for r in view.get_many(ELIGIBILITY, view.lookup("elig-waiting", "sent")) if r["status"] == "sent"]
    else:
        found = list(view.scan(ELIGIBILITY))
    found = [r for r in found if (not status or r["status"] == status) and clock.on_days(r["asked_at"], first, last)]
    found.sort(key=lambda r: int(r["id"][2:]), reverse=True)
    if limit:
        found = found[:limit]
    rows = [{**{k: r[k] for k in COLUMNS if k in r}, "state": (r.get("answer") or {}).get("state", ""),
             "plan": (r.get("answer") or {}).get("plan", "")} for r in found]
    app.audit("list", [r["id"] for r in found] + sorted({r["patient_id"] for r in found}))
    return rows
