"""`medsec init`: a new data directory, optionally with a synthetic demo practice."""

import os
import random
import secrets
import shlex
import stat
from datetime import date, timedelta

import medsec_templates
from medsec import __version__, clock, config
from medsec.errors import InvalidInput, Refused
from medsec.identifiers import npi_with_check_digit
from medsec.records.patients import PATIENTS, new_record
from medsec.scheduling import availability as av
from medsec.store.api import POINTER, Record, StoreLocation, create_store, write_pointer
from medsec.store.catalog import APPOINTMENTS, STAFF
from medsec.text import fold


def template_dir() -> str:
    return os.path.dirname(medsec_templates.__file__)


def example_config(name: str) -> str:
    with open(os.path.join(template_dir(), "config", name), encoding="utf-8") as f:
        return f.read()


def _header(text: str) -> str:
    """The leading comment block of an example file."""
    lines = []
    for line in text.splitlines(keepends=True):
        if not line.startswith("#"):
            break
        lines.append(line)
    return "".join(lines)


def refuse_used_folder(root: str) -> None:
    """Refused unless `root` may become a new practice's folder (absent, or empty and private)."""
    root = os.path.abspath(root)
    if os.path.exists(os.path.join(root, "medsec.yaml")):
        raise Refused(f"{root} is already a medsec data directory")
    if os.path.exists(os.path.join(root, POINTER)):
        raise Refused(f"{root} already points to a medsec store ({POINTER})")
    if os.path.isdir(root) and os.listdir(root):
        raise Refused(f"{root} is not empty", hint="choose a new folder for the data directory")
    _refuse_shared_folder(root)


def init_data_dir(root: str, demo: bool = False, tz_name: str = "America/New_York",
                  location: StoreLocation | None = None, rehearsal: bool = False) -> dict:
    """A new practice: a data directory at `root`, or (with `location.url`) a store in that
    PostgreSQL database and, at `root`, this terminal's folder pointing to it."""
    root = os.path.abspath(root)
    location = location or StoreLocation()
    refuse_used_folder(root)
    tz = clock._zone(tz_name)
    store = create_store(root, location.url, location.password_env)
    if location.url:
        write_pointer(root, location)
    now = clock.now(tz)
    summary: dict = {"data_dir": root, "demo": demo, "rehearsal": rehearsal}
    if location.url:
        summary["store"] = location.url.split("?")[0]
    with store.transaction() as txn:
        # `instance` makes this directory's iCalendar UIDs its own.
        meta = {"schema_version": config.SCHEMA_VERSION, "created_by": f"medsec {__version__}",
                "created": clock.iso(now), "instance": secrets.token_hex(6)}
        if rehearsal:  # its clock may be moved (MEDSEC_NOW) when signed in: for rehearsals and tests
            meta["rehearsal"] = True
        config.stage(txn, "medsec.yaml", meta, "# medsec.yaml - written by medsec init; do not edit.\n")
        if demo:
            summary.update(_demo(txn, now.date()))
        else:
            for name in config.CONFIG_FILES[1:]:
                text = example_config(name)
                data, _ = config.validate(name, text)
                txn.put_document(name, text, config.stored_form(data))
    return summary


def _refuse_shared_folder(root: str) -> None:
    """An existing folder that group or others may write is refused, not used: whoever
    can write it could swap the files medsec keeps there (exit 2, naming the fix)."""
    if not os.path.isdir(root):
        return  # init makes it, private
    mode = stat.S_IMODE(os.stat(root).st_mode)
    if mode & 0o022:
        raise InvalidInput(f"{root} can be written by {'others' if mode & 0o002 else 'its group'} "
                           f"(mode {mode:04o}); a data directory must be private",
                           hint=f"run 'chmod 700 {shlex.quote(root)}', then init again")


# -- the demo practice (synthetic: no real people) ----------------------------
FIRST = ["Ada", "Bruno", "Chloé", "Dmitri", "Esperanza", "Farid", "Grace", "Hiroshi", "Ines", "Jamal",
         "Kirsten", "Luis", "Maëlle", "Nikhil", "Olga", "Pedro", "Quinn", "Rosa", "Soren", "Tamika",
         "Ulrich", "Valentina", "Wen", "Xavier", "Yara", "Zoltan", "Aisha", "Björn", "Camila", "Desmond"]
LAST = ["Abernathy", "Bergström", "Castellanos", "Dubois", "Eriksen", "Fontaine", "Gallagher",
        "Halvorsen", "Ibáñez", "Jablonski", "Kowalczyk", "Lindqvist", "Moreau", "Nakamura", "O'Connell",
        "Petrov", "Quiñonez-Zyzzyva", "Rasmussen", "Santangelo", "Tremblay", "Umarov", "Villanueva",
        "Whitcombe", "Xiong", "Yamamoto", "Zielinski", "Achterberg", "Brannigan", "Cavendish", "Delacroix"]
STREETS = ["Maple St", "Oak Ave", "Elm Rd", "Harbor Way", "Chestnut St", "Beacon Ln", "Willow Ct"]
CITIES = [("Boston", "02115"), ("Cambridge", "02139"), ("Somerville", "02143"), ("Quincy", "02169"),
          ("Brookline", "02445"), ("Newton", "02458")]
PAYERS = [
    {"id": "BAYSTATE", "name": "Bay State Health Plan", "payer_id": "BSHP1",
     "address": {"street": "PO Box 1001", "city": "Boston", "state": "MA", "zip": "021050001"},
     "claim_format": "x12-837p"},
    {"id": "HARBOR", "name": "Harbor Mutual Insurance", "payer_id": "HMI22",
     "address": {"street": "PO Box 2002", "city": "Worcester", "state": "MA", "zip": "016130002"},
     "claim_format": "x12-837p"},
    {"id": "MEDICARE", "name": "Medicare Part B (demo)", "payer_id": "MCRB0",
     "address": {"street": "PO Box 3003", "city": "Hingham", "state": "MA", "zip": "020430003"},
     "claim_format": "x12-837p", "filing_indicator": "MB"},
    {"id": "SELFPAY", "name": "Self-pay", "payer_id": "", "claim_format": "none"},
]
# The practice's own short descriptions, not the AMA's CPT text.
CODES = [
    ("99202", "New patient visit, straightforward", "110.00"),
    ("99203", "New patient visit, low complexity", "165.00"),
    ("99204", "New patient visit, moderate complexity", "245.00"),
    ("99212", "Follow-up visit, straightforward", "75.00"),
    ("99213", "Follow-up visit, low complexity", "125.00"),
    ("99214", "Follow-up visit, moderate complexity", "185.00"),
    ("99215", "Follow-up visit, high complexity", "250.00"),
    ("99396", "Annual physical, age 40-64", "215.00"),
    ("36415", "Venipuncture (blood draw)", "18.00"),
    ("81002", "Urinalysis, dipstick", "12.00"),
    ("90471", "Immunization administration", "28.00"),
    ("93000", "Electrocardiogram with report", "65.00"),
]


def _npi(rng: random.Random) -> str:
    return npi_with_check_digit("1" + "".join(rng.choice("0123456789") for _ in range(8)))


def _demo(txn, today: date) -> dict:
    rng = random.Random(2026)
    practice = {
        "name": "Maple Street Family Practice",
        "npi": _npi(rng), "tax_id": "04-7654321", "time_zone": "America/New_York",
        "phone": "617-555-0100",
        "address": {"street": "100 Maple St Suite 2", "city": "Boston", "state": "MA", "zip": "021151234"},
        "locations": [{"id": "main", "name": "Maple Street office"}],
        "rooms": [{"id": f"exam{i}", "name": f"Exam room {i}", "kind": "exam"} for i in range(1, 5)]
        + [{"id": "proc1", "name": "Procedure room", "kind": "operating"}],
        "scheduling": {"slot_minutes": 15},
        "billing": {"submitter_id": "MAPLESTFP", "submitter_name": "Maple Street Family Practice",
                    "contact": "Sam Patel", "contact_phone": "617-555-0116", "receiver_id": "DEMOCH",
                    "receiver_name": "Demo Clearinghouse", "taxonomy": "207Q00000X"},
        "office_hours": {d: ["08:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        "closures": [{"date": f"{today.year}-12-25", "reason": "Christmas Day"},
                     {"date": f"{today.year + 1}-01-01", "reason": "New Year's Day"}],
    }
    weekdays = ("mon", "tue", "wed", "thu", "fri")
    clinical = {d: [["08:00", "12:00"], ["13:00", "17:00"]] for d in weekdays}
    desk = {d: [["07:30", "12:00"], ["12:30", "16:30"]] for d in weekdays}
    people = [("Dr. Helena Voss", "physician"), ("Dr. Marcus Okafor", "physician"),
              ("Dr. Priya Raman", "physician"), ("Jordan Ellis, RN", "nurse"),
              ("Casey Morgan", "front-desk"), ("Riley Chen", "front-desk"),
              ("Sam Patel", "biller"), ("Morgan Avery", "manager")]
    ids = txn.reserve_ids(STAFF, len(people))
    staff: list[Record] = []
    for sid, (name, role) in zip(ids, people, strict=True):
        handle = name.replace("Dr. ", "").split(",")[0].lower().replace(" ", ".")
        staff.append({"id": sid, "name": name, "role": role,
                      "npi": _npi(rng) if role == "physician" else "",
                      "email": f"{handle}@maplestreet.example.org",
                      "phone": f"617-555-01{10 + len(staff):02d}", "active": True,
                      "hours": desk if role == "front-desk" else clinical, "time_off": []})
    staff[1]["time_off"] = [{"from": (today + timedelta(days=21)).isoformat(),
                             "to": (today + timedelta(days=25)).isoformat(), "reason": "conference"}]
    types, _ = config.validate("appointment-types.yaml", example_config("appointment-types.yaml"))
    types = types["types"]
    files = {
        "practice.yaml": practice,
        "staff.yaml": {"staff": staff},
        "appointment-types.yaml": {"types": types},
        "payers.yaml": {"payers": PAYERS},
        "fees.yaml": {"fees": {c: fee for c, _, fee in CODES},
                      "payers": {"MEDICARE": {"99213": "92.00", "99214": "131.00"}}},
        "codes.yaml": {"codes": [{"code": c, "system": "CPT", "description": d, "fee": fee}
                                 for c, d, fee in CODES]},
        # Until the practice sets up email and SMS, every message lands in the outbox; voice calls need a
        # voice gateway (a file in the outbox would call nobody), and the demo's patients ask for none.
        "channels.yaml": {"outbox": {"folder": "outbox"},
                          "routes": {"email": "outbox", "sms": "outbox", "letter": "outbox",
                                     "fax": "outbox"}},
    }
    for name, data in files.items():
        config.stage(txn, name, data, _header(example_config(name)) + "# (demo practice: synthetic data)\n")
    patients = _demo_patients(rng, today, 300)
    patient_ids = txn.reserve_ids(PATIENTS, len(patients))
    stamp = clock.iso(clock.now(clock._zone("America/New_York")))
    records = []
    for pid, p in zip(patient_ids, patients, strict=True):
        record = new_record(pid, {k: v for k, v in p.items() if k != "coverages"}, stamp)
        record["coverages"] = p.get("coverages", [])
        records.append(record)
    txn.put_many(PATIENTS, records)
    appointments = _demo_appointments(rng, today, tz_now(practice), staff, types, patient_ids, txn)
    return {"practice": practice["name"], "staff": len(staff), "patients": len(patients),
            "payers": len(PAYERS), "appointments": appointments}


def _demo_patients(rng: random.Random, today: date, count: int) -> list[Record]:
    out: list[Record] = []
    seen = set()
    area_codes = ["617", "857", "781"]
    while len(out) < count:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        dob = today - timedelta(days=rng.randint(1 * 365, 90 * 365))
        if (first, last, dob) in seen:
            continue
        seen.add((first, last, dob))
        n = len(out)
        city, zip_code = rng.choice(CITIES)
        handle = fold(f"{first}.{last}").replace("'", "").replace("-", "")
        p: Record = {"first": first, "last": last, "dob": dob.isoformat(), "sex": rng.choice("MF"),
                     "phone": f"{area_codes[n // 100 % 3]}-555-01{n % 100:02d}",
                     "email": f"{handle}{n}@example.com",
                     "address": f"{rng.randint(1, 999)} {rng.choice(STREETS)}", "city": city, "state": "MA",
                     "zip": zip_code, "language": "es" if rng.random() < 0.15 else "en",
                     # no voice: the demo has no voice gateway (five choices still: the same draws)
                     "preferred_channel": rng.choice(["email", "sms", "sms", "sms", "letter"]),
                     "reminders": rng.random() > 0.05}
        if rng.random() < 0.88:
            payer = rng.choice(["BAYSTATE", "HARBOR", "MEDICARE"] if dob.year < today.year - 65
                               else ["BAYSTATE", "HARBOR"])
            p["coverages"] = [{"rank": "primary", "payer": payer,
                               "member_id": f"{payer[:3]}{rng.randint(10**8, 10**9 - 1)}",
                               "group": f"G{rng.randint(1000, 9999)}", "relationship": "self",
                               "subscriber": "", "subscriber_dob": "", "start": "", "end": ""}]
        out.append(p)
    return out


def tz_now(practice: dict):
    return clock.now(clock._zone(practice["time_zone"]))


def _demo_appointments(rng, today: date, now, staff, types, patient_ids, txn) -> int:
    """Two weeks of realistic bookings from today: full mornings, surgeries in the
    procedure room on one afternoon per surgeon a week, the past marked done."""
    planned = _demo_plan(rng, today, now.tzinfo, [m for m in staff if m["role"] == "physician"], types)
    if not planned:
        return 0
    ids = txn.reserve_ids(APPOINTMENTS, len(planned))
    stamp = clock.iso(now)
    records = []
    by_day: dict = {}
    for appt_id, (provider, type_name, start, room) in zip(ids, planned, strict=True):
        patient_id = _demo_patient_for(rng, patient_ids, by_day.setdefault(start.date(), set()))
        end = start + timedelta(minutes=types[type_name]["duration"])
        status = _demo_status(rng, start, end, now)
        records.append({
            "id": appt_id, "patient_id": patient_id, "provider": provider, "type": type_name,
            "start": clock.iso(start), "end": clock.iso(end), "room": room, "status": status, "note": "",
            "series_id": "", "series": None, "uid": f"{appt_id}-demo@medsec", "source": "demo",
            "created": stamp, "updated": stamp, "checked_in": "", "cancel_reason": "", "late_cancel": False,
            "history": [{"at": stamp, "by": "demo", "action": "booked", "status": status}],
        })
    txn.put_many(APPOINTMENTS, records)
    return len(records)


def _demo_plan(rng, today: date, tz, physicians: list[dict], types: dict) -> list[tuple]:
    """(provider, type, start, room) of each booking, day by day, physician by physician."""
    planned: list[tuple] = []
    for offset in range(14):
        day = today + timedelta(days=offset)
        for p_index, doc in enumerate(physicians):
            surgery_day = day.weekday() == (1 + 2 * p_index) % 5
            for block_start, block_end in av.working_spans(doc, {"closures": []}, day, tz):
                planned += _demo_block(rng, doc["id"], types, block_start, block_end,
                                       surgery=surgery_day and block_start.hour >= 12)
    return planned


def _demo_block(rng, provider: str, types: dict, start, end, *, surgery: bool) -> list[tuple]:
    """One working block filled with visits (about one slot in five left free), after a surgery if `surgery`."""
    planned = []
    moment = start
    if surgery:
        planned.append((provider, "surgery", moment, "proc1"))
        moment += timedelta(minutes=types["surgery"]["duration"] + types["surgery"].get("buffer", 0))
    while True:
        pick = _demo_visit_type(rng)
        length = timedelta(minutes=types[pick]["duration"])
        if moment + length > end:
            return planned
        if rng.random() < 0.78:
            planned.append((provider, pick, moment, ""))
            moment += length
        else:
            moment += timedelta(minutes=15)


_VISIT_WEIGHTS = [("follow-up", 0.6), ("annual-physical", 0.22), ("new-patient", 0.18)]


def _demo_visit_type(rng) -> str:
    roll = rng.random()
    for name, weight in _VISIT_WEIGHTS:
        if roll < weight:
            return name
        roll -= weight
    return "follow-up"


def _demo_patient_for(rng, patient_ids: list[str], taken: set[str]) -> str:
    """A patient not yet booked on that day (`taken`, which gets them)."""
    while True:
        patient_id = rng.choice(patient_ids)
        if patient_id not in taken:
            taken.add(patient_id)
            return patient_id


def _demo_status(rng, start, end, now) -> str:
    """Visits over are checked out, the one under way roomed, about a third of the rest confirmed."""
    if end <= now:
        return "checked-out"
    if start <= now:
        return "roomed"
    return "confirmed" if rng.random() < 0.3 else "booked"
