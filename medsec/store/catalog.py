"""Record kinds kept in shards, and their derived indexes."""

import zlib
from collections.abc import Callable, Iterator
from typing import Any

from medsec.identifiers import phone_digits
from medsec.store.kinds import IndexEntry, Record, RecordKind
from medsec.text import words


def name_shard(word: str) -> str:
    """Name words are indexed by their first two letters (one letter for 'a')."""
    return word[:2]


def patient_index_entries(p: Record) -> Iterator[IndexEntry]:
    """Name words, date of birth and phone, for patients that are not merged away."""
    if p.get("status") == "merged":
        return
    for w in set(words(f"{p.get('first', '')} {p.get('last', '')}")):
        yield ("patient-name", name_shard(w), w)
    if p.get("dob"):
        yield ("patient-dob", dob_year(p["dob"]), p["dob"])
    digits = phone_digits(p.get("phone") or "")
    if len(digits) >= 4:
        yield ("patient-phone", last_two(digits), digits)


def _bucket(record_id: str, size: int) -> str:
    return f"{(int(record_id[1:]) - 1) // size:05d}"


def by_person(record_id: str) -> str:
    """Keys that are patient ids: shards of 100 patients."""
    return _bucket(record_id, 100)


def by_thousand(record_id: str) -> str:
    """Keys that are appointment or series ids: shards of 1,000."""
    return _bucket(record_id, 1000)


def dob_year(dob: str) -> str:
    return dob[:4]


def last_two(digits: str) -> str:
    return digits[-2:]


def month_of(key: str) -> str:
    """"2026-12-01 Room 1" (a day and a room) or an ISO datetime: its month."""
    return key[:7]


def uid_shard(uid: str) -> str:
    """One of 4,096 shards by CRC-32: ~250 keys each at a million appointments."""
    return f"{zlib.crc32(uid.encode()) & 0xFFF:03x}"


def appointment_index_entries(a: Record) -> Iterator[IndexEntry]:
    """Patient -> appointments, series -> occurrences, iCalendar UID -> appointment,
    "day room" -> appointments (a room's day without reading every provider's)."""
    if a.get("room"):
        yield ("appt-room", month_of(a["start"]), f"{a['start'][:10]} {a['room']}")
    if a.get("patient_id"):
        yield ("appt-patient", by_person(a["patient_id"]), a["patient_id"])
    if a.get("series_id"):
        yield ("appt-series", by_thousand(a["series_id"]), a["series_id"])
    if a.get("uid"):
        yield ("appt-uid", uid_shard(a["uid"]), a["uid"])


def reminder_index_entries(r: Record) -> Iterator[IndexEntry]:
    """Appointment -> reminders; and the few still in flight, so cron need not scan all."""
    yield ("reminder-appt", by_thousand(r["appointment_id"]), r["appointment_id"])
    if r["status"] in ("sending", "retry"):
        yield ("reminder-pending", "00000", r["status"])


def call_index_entries(c: Record) -> Iterator[IndexEntry]:
    if c.get("patient_id"):
        yield ("call-patient", by_person(c["patient_id"]), c["patient_id"])


def by_patient(index: str) -> Callable[[Record], Iterator[IndexEntry]]:
    """Index entries patient -> record ids, for records that name a patient."""

    def entries(r: Record) -> Iterator[IndexEntry]:
        if r.get("patient_id"):
            yield (index, by_person(r["patient_id"]), r["patient_id"])

    return entries


def claim_index_entries(c: Record) -> Iterator[IndexEntry]:
    yield ("claim-patient", by_person(c["patient_id"]), c["patient_id"])
    yield ("claim-status", "00000", c["status"])


def remittance_index_entries(r: Record) -> Iterator[IndexEntry]:
    yield ("remit-trace", uid_shard(r["trace_key"]), r["trace_key"])


def lab_index_entries(o: Record) -> Iterator[IndexEntry]:
    """Patient -> lab orders; the lab's own (filler) order number -> order, once a result named it."""
    yield ("lab-patient", by_person(o["patient_id"]), o["patient_id"])
    if o.get("filler_number"):
        yield ("lab-filler", uid_shard(o["filler_number"]), o["filler_number"])


def lab_result_index_entries(r: Record) -> Iterator[IndexEntry]:
    """HL7 message key -> results (a message imported twice is skipped); the unmatched queue."""
    yield ("labresult-message", uid_shard(r["message_key"]), r["message_key"])
    if r["status"] == "unmatched":
        yield ("labresult-unmatched", "00000", "unmatched")


def charge_amounts(c: Record) -> Iterator[tuple[str, Any]]:
    yield "amount", c.get("amount")


def payment_amounts(p: Record) -> Iterator[tuple[str, Any]]:
    """A payment or adjustment: its amount, what is left to apply, and each allocation."""
    yield "amount", p.get("amount")
    yield "unapplied", p.get("unapplied")
    for i, allocation in enumerate(p.get("allocations") or []):
        yield f"allocations[{i}].amount", allocation.get("amount") if isinstance(allocation, dict) else allocation


def claim_amounts(c: Record) -> Iterator[tuple[str, Any]]:
    for key in ("total", "paid", "patient_responsibility"):
        yield key, c.get(key)
    for i, line in enumerate(c.get("lines") or []):
        yield f"lines[{i}].amount", line.get("amount") if isinstance(line, dict) else line


PATIENTS = RecordKind("patients", "P", 100, patient_index_entries)
APPOINTMENTS = RecordKind("appointments", "A", 1000, appointment_index_entries, by_day=True,
                          day_part="provider")
WAITLIST = RecordKind("waitlist", "W", 100)
REMINDERS = RecordKind("reminders", "R", 1000, reminder_index_entries)
CALLS = RecordKind("calls", "T", 500, call_index_entries)
FAXES = RecordKind("faxes", "F", 500)
MAIL = RecordKind("mail", "L", 500)
CHARGES = RecordKind("charges", "H", 1000, by_patient("charge-patient"), amounts=charge_amounts)
CLAIMS = RecordKind("claims", "C", 1000, claim_index_entries, amounts=claim_amounts)
PAYMENTS = RecordKind("payments", "Y", 1000, by_patient("payment-patient"), amounts=payment_amounts)
REMITTANCES = RecordKind("remittances", "E", 1000, remittance_index_entries)
LABS = RecordKind("labs", "LB", 500, lab_index_entries)
LAB_RESULTS = RecordKind("labresults", "LR", 500, lab_result_index_entries)
MEETINGS = RecordKind("meetings", "MT", 1000, by_day=True)
TASKS = RecordKind("tasks", "K", 1000)
REFERRALS = RecordKind("referrals", "RF", 500, by_patient("referral-patient"))
REFILLS = RecordKind("refills", "RX", 500, by_patient("refill-patient"))
MEMOS = RecordKind("memos", "M", 500)
STAFF = RecordKind("staff", "S")  # ids only: the roster itself lives in staff.yaml

# Kinds whose records name a patient (patient_id), with the index that finds
# a patient's (None: few enough to scan). A merge moves them all. Reminders
# stay as sent; meetings, memos and remittances name no patient.
PATIENT_RECORDS = {APPOINTMENTS: "appt-patient", CALLS: "call-patient", CHARGES: "charge-patient",
                   CLAIMS: "claim-patient", PAYMENTS: "payment-patient", LABS: "lab-patient",
                   REFERRALS: "referral-patient", REFILLS: "refill-patient", WAITLIST: None, TASKS: None,
                   MAIL: None, FAXES: None, LAB_RESULTS: None}

# Every sharded kind, for `medsec check` and backups.
ALL_KINDS = [PATIENTS, APPOINTMENTS, WAITLIST, REMINDERS, CALLS, FAXES, MAIL, CHARGES, CLAIMS, PAYMENTS,
             REMITTANCES, LABS, LAB_RESULTS, MEETINGS, TASKS, REFERRALS, REFILLS, MEMOS]
INDEXES = {"patient-name": PATIENTS, "patient-dob": PATIENTS, "patient-phone": PATIENTS,
           "appt-patient": APPOINTMENTS, "appt-series": APPOINTMENTS, "appt-uid": APPOINTMENTS,
           "appt-room": APPOINTMENTS, APPOINTMENTS.locator: APPOINTMENTS, "reminder-appt": REMINDERS,
           "reminder-pending": REMINDERS, "call-patient": CALLS, "charge-patient": CHARGES,
           "claim-patient": CLAIMS, "claim-status": CLAIMS, "payment-patient": PAYMENTS,
           "remit-trace": REMITTANCES, "lab-patient": LABS, "lab-filler": LABS,
           "labresult-message": LAB_RESULTS, "labresult-unmatched": LAB_RESULTS, MEETINGS.locator: MEETINGS,
           "referral-patient": REFERRALS, "refill-patient": REFILLS}

# The folders a new data directory starts with.
RECORD_DIRS = ["patients", "appointments", "waitlist", "index", "audit", "files", "meta", "outbox", "templates"]

# Every folder a data directory may hold at its top: those above and one per
# record kind. Anything else at the top (besides the configuration files) is
# not medsec's: a backup leaves it out and a restore refuses it.
DATA_FOLDERS = frozenset(RECORD_DIRS) | {kind.name for kind in ALL_KINDS}

# How each index picks the shard of a key: `Snapshot.lookup(index, key)`
# finds a key's ids with it, so no domain knows how an index is sharded.
INDEX_SHARDS = {"patient-name": name_shard, "patient-dob": dob_year, "patient-phone": last_two,
                "appt-patient": by_person, "appt-series": by_thousand, "appt-uid": uid_shard,
                "appt-room": month_of, "reminder-appt": by_thousand, "call-patient": by_person,
                "charge-patient": by_person, "claim-patient": by_person, "payment-patient": by_person,
                "remit-trace": uid_shard, "lab-patient": by_person, "lab-filler": uid_shard,
                "labresult-message": uid_shard, "referral-patient": by_person, "refill-patient": by_person}
