"""Record kinds kept in shards, and their derived indexes."""

from collections.abc import Callable, Iterator
from typing import Any

from medsec.identifiers import phone_digits
from medsec.store.kinds import IndexKey, Record, RecordKind
from medsec.text import words


def patient_index_entries(p: Record) -> Iterator[IndexKey]:
    """Name words, date of birth and phone, for patients that are not merged away."""
    if p.get("status") == "merged":
        return
    for w in set(words(f"{p.get('first', '')} {p.get('last', '')}")):
        yield ("patient-name", w)
    if p.get("dob"):
        yield ("patient-dob", p["dob"])
    digits = phone_digits(p.get("phone") or "")
    if len(digits) >= 4:
        yield ("patient-phone", digits)


def appointment_index_entries(a: Record) -> Iterator[IndexKey]:
    """Patient -> appointments, series -> occurrences, iCalendar UID -> appointment,
    "day room" -> appointments (a room's day without reading every provider's)."""
    if a.get("room"):
        yield ("appt-room", f"{a['start'][:10]} {a['room']}")
    if a.get("patient_id"):
        yield ("appt-patient", a["patient_id"])
    if a.get("series_id"):
        yield ("appt-series", a["series_id"])
    if a.get("uid"):
        yield ("appt-uid", a["uid"])


def reminder_index_entries(r: Record) -> Iterator[IndexKey]:
    """Appointment -> reminders; and the few still in flight, so cron need not scan all."""
    yield ("reminder-appt", r["appointment_id"])
    if r["status"] in ("sending", "retry", "pending"):
        yield ("reminder-pending", r["status"])


def call_index_entries(c: Record) -> Iterator[IndexKey]:
    if c.get("patient_id"):
        yield ("call-patient", c["patient_id"])


def by_patient(index: str) -> Callable[[Record], Iterator[IndexKey]]:
    """Index entries patient -> record ids, for records that name a patient."""

    def entries(r: Record) -> Iterator[IndexKey]:
        if r.get("patient_id"):
            yield (index, r["patient_id"])

    return entries


def claim_index_entries(c: Record) -> Iterator[IndexKey]:
    yield ("claim-patient", c["patient_id"])
    yield ("claim-status", c["status"])


def remittance_index_entries(r: Record) -> Iterator[IndexKey]:
    yield ("remit-trace", r["trace_key"])


def eligibility_index_entries(e: Record) -> Iterator[IndexKey]:
    """Patient -> eligibility inquiries; the ones still waiting for a 271."""
    yield ("elig-patient", e["patient_id"])
    if e.get("status") == "sent":
        yield ("elig-waiting", "sent")


def edi_file_index_entries(f: Record) -> Iterator[IndexKey]:
    """Every X12 file sent or received: by content (a file is imported once), by the
    interchange control number it carried (a 999 finds its batch), and the ones that
    still hold answers matching nothing (the unmatched queue)."""
    yield ("edi-sha256", f["sha256"])
    if f.get("control"):
        yield ("edi-control", f"{f['direction']} {f['control']}")
    if f.get("unmatched"):
        yield ("edi-unmatched", "unmatched")


def doc_index_entries(d: Record) -> Iterator[IndexKey]:
    """Patient -> clinical documents; author -> their unsigned ones (the signing queue);
    a dictation's audio (by SHA-256) -> its document (one recording is transcribed once)."""
    yield ("doc-patient", d["patient_id"])
    if d.get("status") == "draft":
        yield ("doc-unsigned", d["author"])
    if d.get("audio"):
        yield ("doc-audio", d["audio"]["sha256"])


def intake_index_entries(s: Record) -> Iterator[IndexKey]:
    """Patient -> intake submissions; the ones waiting for the desk's review."""
    yield ("intake-patient", s["patient_id"])
    if s.get("status") == "pending":
        yield ("intake-pending", "pending")


def kiosk_link_index_entries(k: Record) -> Iterator[IndexKey]:
    """Appointment -> the kiosk links made for it (a new link retires the older ones)."""
    if k.get("appt_id"):
        yield ("kiosklink-appt", k["appt_id"])


def lab_index_entries(o: Record) -> Iterator[IndexKey]:
    """Patient -> lab orders; the lab's own (filler) order number -> order, once a result named it."""
    yield ("lab-patient", o["patient_id"])
    if o.get("filler_number"):
        yield ("lab-filler", o["filler_number"])


def lab_result_index_entries(r: Record) -> Iterator[IndexKey]:
    """HL7 message key -> results (a message imported twice is skipped); the unmatched queue."""
    yield ("labresult-message", r["message_key"])
    if r["status"] == "unmatched":
        yield ("labresult-unmatched", "unmatched")


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
# The insurance round trip: eligibility inquiries (270 out, 271 in) and every X12 file
# exchanged with a clearinghouse (837P, 270, 276 out; 999, 277CA, 277, 271, 835 in).
ELIGIBILITY = RecordKind("eligibility", "EL", 1000, eligibility_index_entries)
EDI_FILES = RecordKind("edifiles", "EF", 1000, edi_file_index_entries)
# Clinical documents: letters, consults, reports and notes, dictated (transcribed from audio) or
# typed; signed by their author, then frozen (later text is an addendum, a document of its own).
# "docs", not "documents": PostgreSQL's medsec.documents holds the configuration files.
DOCS = RecordKind("docs", "D", 500, doc_index_entries)
# Intake paperwork: what a patient filled on paper or on the kiosk, pending the desk's review
# (then applied or rejected); the kiosk's one-time links per appointment and its enrolled tablets
# (both hold only their secrets' SHA-256, as service tokens do).
INTAKE = RecordKind("intake", "IN", 500, intake_index_entries)
KIOSK_LINKS = RecordKind("kiosklinks", "KL", 1000, kiosk_link_index_entries)
KIOSK_DEVICES = RecordKind("kiosks", "KD", 100)
STAFF = RecordKind("staff", "S")  # ids only: the roster itself lives in staff.yaml


def credential_index_entries(c: Record) -> Iterator[IndexKey]:
    yield ("credential-staff", c["staff_id"])


# Sign-in (medsec.security): a staff member's passphrase hash and failed attempts; the
# sessions, each stored with the SHA-256 of its secret, never the secret.
CREDENTIALS = RecordKind("credentials", "CR", 100, credential_index_entries)
SESSIONS = RecordKind("sessions", "SN", 1000)
TOKENS = RecordKind("tokens", "TK", 100)  # service tokens (cron): a role, not a person

# Kinds whose records name a patient (patient_id), with the index that finds
# a patient's (None: few enough to scan). A merge moves them all. Reminders
# stay as sent; meetings, memos and remittances name no patient.
PATIENT_RECORDS = {APPOINTMENTS: "appt-patient", CALLS: "call-patient", CHARGES: "charge-patient",
                   CLAIMS: "claim-patient", PAYMENTS: "payment-patient", LABS: "lab-patient",
                   REFERRALS: "referral-patient", REFILLS: "refill-patient", ELIGIBILITY: "elig-patient",
                   DOCS: "doc-patient", INTAKE: "intake-patient", KIOSK_LINKS: None,
                   WAITLIST: None, TASKS: None, MAIL: None, FAXES: None, LAB_RESULTS: None}

# Every sharded kind, for `medsec check` and backups.
ALL_KINDS = [PATIENTS, APPOINTMENTS, WAITLIST, REMINDERS, CALLS, FAXES, MAIL, CHARGES, CLAIMS, PAYMENTS,
             REMITTANCES, LABS, LAB_RESULTS, MEETINGS, TASKS, REFERRALS, REFILLS, MEMOS, CREDENTIALS, SESSIONS,
             TOKENS, ELIGIBILITY, EDI_FILES, DOCS, INTAKE, KIOSK_LINKS, KIOSK_DEVICES]
INDEXES = {"patient-name": PATIENTS, "patient-dob": PATIENTS, "patient-phone": PATIENTS,
           "appt-patient": APPOINTMENTS, "appt-series": APPOINTMENTS, "appt-uid": APPOINTMENTS,
           "appt-room": APPOINTMENTS, "reminder-appt": REMINDERS,
           "reminder-pending": REMINDERS, "call-patient": CALLS, "charge-patient": CHARGES,
           "claim-patient": CLAIMS, "claim-status": CLAIMS, "payment-patient": PAYMENTS,
           "remit-trace": REMITTANCES, "lab-patient": LABS, "lab-filler": LABS,
           "labresult-message": LAB_RESULTS, "labresult-unmatched": LAB_RESULTS,
           "referral-patient": REFERRALS, "refill-patient": REFILLS, "credential-staff": CREDENTIALS,
           "elig-patient": ELIGIBILITY, "elig-waiting": ELIGIBILITY, "edi-sha256": EDI_FILES,
           "edi-control": EDI_FILES, "edi-unmatched": EDI_FILES, "doc-patient": DOCS, "doc-unsigned": DOCS,
           "doc-audio": DOCS, "intake-patient": INTAKE, "intake-pending": INTAKE, "kiosklink-appt": KIOSK_LINKS}

# The folders a new data directory starts with.
RECORD_DIRS = ["patients", "appointments", "waitlist", "index", "audit", "files", "meta", "outbox", "templates"]

# Every folder a data directory may hold at its top: those above and one per
# record kind. Anything else at the top (besides the configuration files) is
# not medsec's: a backup leaves it out and a restore refuses it.
DATA_FOLDERS = frozenset(RECORD_DIRS) | {kind.name for kind in ALL_KINDS}
