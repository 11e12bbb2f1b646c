"""The day sheet: every visit of a day with what the physician needs to know about it.

Cross-domain by design (scheduling, records and billing), so it lives here, above
them, and none of them imports the others for it. `day_sheet` gives the rows (a
table shows a few columns, JSON and CSV every one); `send_day_sheet` delivers a
provider's sheet as a PDF by email or to the printer outbox (for cron, the
evening before).
"""

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from medsec.billing.accounts import account
from medsec.errors import EnvironmentFailure, InvalidInput, Refused
from medsec.plugin_types import DeliveryError, Message
from medsec.records import intake as intake_forms
from medsec.records.coverage import coverage_label, coverage_on, eligibility_of
from medsec.records.patients import get_patient
from medsec.scheduling.appointments import last_seen
from medsec.scheduling.availability import is_off
from medsec.scheduling.schedule import Schedule
from medsec.store.catalog import APPOINTMENTS

# What a table of the day sheet shows (fitted to the terminal); JSON and CSV have every column.
TABLE_COLUMNS = ["time", "id", "patient", "patient_id", "type", "status", "visit", "reason", "room",
                 "balance_due", "coverage", "forms", "provider"]
AWAY_COLUMN = "provider_away"  # in the table only on a day some visit's provider is away
KEPT = "kept: provider away"  # a visit `staff off --keep` left with its provider (staff.yaml time_off)


def payer_and_eligibility(patient: dict, day: date) -> tuple[str, str]:
    """(the primary coverage's payer id, its eligibility state on `day`): the state of the
    coverage in force (active, unknown), else inactive, ended or not started; ("",
    "self-pay") without any coverage, ("", "no primary") without a primary one."""
    coverages = patient.get("coverages") or []
    if not coverages:
        return "", "self-pay"
    primary = [c for c in coverages if c.get("rank") == "primary"]
    if not primary:
        return "", "no primary"
    coverage, problem = coverage_on(patient, day)
    if coverage is not None:
        return str(coverage["payer"]), eligibility_of(coverage)["state"]
    assert problem is not None
    payer = problem.split(" coverage ", 1)[0]
    state = "inactive" if " is inactive" in problem else "ended" if " ended " in problem else "not started"
    return payer, state


def _away(member: dict | None, day: date) -> str:
    """The day sheet's mark of a visit whose provider is on time off that day."""
    if not member or not is_off(member, day):
        return ""
    iso = day.isoformat()
    span = next(s for s in member.get("time_off") or [] if str(s["from"])[:10] <= iso <= str(s["to"])[:10])
    return KEPT if span.get("stranded") == "keep" else f"provider away ({span.get('reason') or 'time off'})"


def day_sheet(app, day: date, provider: str | None = None, limit: int | None = None) -> list[dict]:
    """Every appointment of the day (the first `limit`), by time: the patient's name, the reason
    for the visit, its type and the type's description, new or established (last_seen), the
    exam room, the provider's name, what the patient owes the practice (balance_due, empty when
    nothing), the primary coverage on that day (coverage_label: "HARBOR active", "HARBOR ended
    2026-12-31", "self-pay") with its payer id and eligibility state apart, and provider_away
    when the provider is on time off that day ("kept: provider away" when `staff off --keep`
    kept the visit), and the intake forms the patient needs on that day (`forms`, short: see
    records.intake.needed_short; `forms_needed`, as check-in words them)."""
    schedule = Schedule.load(app)
    provider = schedule.member(provider)["id"] if provider else None
    view = app.store.snapshot()
    rows = []
    dues: dict[str, str] = {}
    known = intake_forms.catalog(app)  # once for the day, not once a visit
    appts = sorted(view.day(APPOINTMENTS, day.isoformat(), provider), key=lambda a: (a["start"], a["provider"]))
    for appt in appts[:limit] if limit else appts:
        name = due = covered = payer = eligibility = visit = forms = ""
        forms_needed: list[str] = []
        if appt.get("patient_id"):
            patient = get_patient(app, appt["patient_id"], view=view)
            name = f"{patient['last']}, {patient['first']}"
            covered = coverage_label(patient, day)
            payer, eligibility = payer_and_eligibility(patient, day)
            if patient["id"] not in dues:
                owed = account(view, patient["id"])["patient_due"]
                dues[patient["id"]] = owed if Decimal(owed) > 0 else ""
            due = dues[patient["id"]]
            visit = "established" if last_seen(view, patient["id"], appt["start"]) else "new"
            forms, needed = intake_forms.needed_short(app, patient, day, known)
            forms_needed = intake_forms.needed_words(needed)
        start = datetime.fromisoformat(appt["start"]).astimezone(schedule.tz)
        member = schedule.staff.get(str(appt["provider"]).upper())
        rows.append({"time": f"{start:%H:%M}", "id": appt["id"], "patient": name,
                     "patient_id": appt.get("patient_id", ""), "type": appt["type"],
                     "type_description": (schedule.types.get(appt["type"]) or {}).get("description", ""),
                     "visit": visit, "reason": appt.get("reason", ""), "note": appt.get("note", ""),
                     "status": appt["status"], "room": appt.get("room", ""), "balance_due": due,
                     "coverage": covered, "payer": payer, "eligibility": eligibility,
                     "forms": forms, "forms_needed": forms_needed,
                     "provider": appt["provider"], "provider_name": (member or {}).get("name", ""),
                     AWAY_COLUMN: _away(member, day),
                     "start": appt["start"], "end": appt["end"]})
    app.audit("list", [r["id"] for r in rows] + [r["patient_id"] for r in rows if r["patient_id"]])
    return rows


NARROW = 100  # a table narrower than this leaves out new/established to keep the provider's name
WIDE = 120  # a table narrower than this leaves out the intake forms (JSON, CSV and the printed sheet have them)


def columns(rows: list[dict], fmt: str, width: int | None = None) -> list[str] | None:
    """A table's columns (provider_away too on a day it marks a visit; no `visit` on a table
    narrower than NARROW columns, no `forms` narrower than WIDE); every one in the other formats."""
    if fmt != "table":
        return None
    chosen = [c for c in TABLE_COLUMNS if (c != "visit" or not width or width >= NARROW)
              and (c != "forms" or not width or width >= WIDE)]
    if any(r.get(AWAY_COLUMN) for r in rows):
        return chosen[:-1] + [AWAY_COLUMN, chosen[-1]]
    return chosen


def _clock_time(hhmm: str) -> str:
    hour, minute = map(int, hhmm.split(":"))
    return f"{(hour - 1) % 12 + 1}:{minute:02d} {'AM' if hour < 12 else 'PM'}"


def sheet_text(rows: list[dict], title: str) -> str:
    """The day sheet as a printed page reads it: one block of lines per visit, within 78 columns."""
    lines = [title, "=" * min(len(title), 78), ""]
    if not rows:
        lines.append("No visits.")
    for r in rows:
        who = f"{r['patient']} ({r['patient_id']})" if r["patient_id"] else "(time held)"
        lines.append(f"{_clock_time(r['time']):>8}  {who}  [{r['id']}]")
        kind = f"{r['type']}" + (f" - {r['type_description']}" if r["type_description"] else "")
        lines.append(f"{'':10}{kind}" + (f"; {r['visit']} patient" if r["visit"] else ""))
        if r["reason"]:
            lines.append(f"{'':10}Reason: {r['reason']}")
        if r["note"]:
            lines.append(f"{'':10}Note: {r['note']}")
        facts = [f"Status: {r['status']}"] + ([f"room {r['room']}"] if r["room"] else [])
        if r["patient_id"]:
            facts.append(f"coverage: {r['coverage']}")
            facts.append(f"balance due: {r['balance_due']}" if r["balance_due"] else "nothing due")
        lines.append(f"{'':10}{'; '.join(facts)}")
        if r.get("forms_needed"):
            lines.append(f"{'':10}Forms to fill: {r['forms']}")
        if r[AWAY_COLUMN]:
            lines.append(f"{'':10}!! {r[AWAY_COLUMN]}")
        lines.append("")
    return "\n".join(lines)


def send_day_sheet(app, day: date, provider: str | None, to_staff: str, printer: bool = False) -> dict:
    """Deliver the day sheet of `day` (one provider's, or everyone's) to the staff member
    `to_staff` as a PDF: by email (channels.yaml's email route, the address on the roster),
    or with `printer` to the outbox for printing. Refused (exit 1) when neither can reach
    them; a failed delivery is an environment failure (exit 3)."""
    from medsec import documents  # fpdf: only a sheet that is sent pays
    from medsec.communications import messaging
    from medsec.records.staff import get_staff

    member = get_staff(app, to_staff)
    schedule = Schedule.load(app)
    who = schedule.member(provider) if provider else None
    email_route = None
    if not printer:
        if not member.get("email"):
            raise Refused(f"{member['id']} has no email address on the roster",
                          hint=f"give --printer to send it to the printer outbox, or add one: "
                               f"medsec staff edit {member['id']} --email ADDRESS")
        try:
            email_route = messaging.route(app, "email")
        except InvalidInput as e:
            raise Refused(f"the day sheet cannot be emailed: {e.message}",
                          hint="set up the email channel in channels.yaml, or give --printer") from None
    rows = day_sheet(app, day, who["id"] if who else None)
    practice = app.config("practice.yaml").get("name") or ""
    title = (f"Day sheet {day:%A, %B} {day.day}, {day.year}"
             + (f" - {who.get('name') or who['id']} ({who['id']})" if who else "")
             + (f" - {practice}" if practice else ""))
    text = sheet_text(rows, title)
    pdf = documents.text_to_pdf(text, title)
    name = f"day-sheet-{day.isoformat()}{'-' + who['id'] if who else ''}.pdf"
    message = Message(kind="email", to="", subject=title, body=text,
                      attachments=[(name, "application/pdf", pdf)],
                      meta={"staff_id": member["id"], "day_sheet": day.isoformat()})
    if email_route is not None:
        r, message = email_route, replace(message, to=member["email"])
    else:
        r = messaging.route(app, "letter", forced="outbox")
        message = replace(message, kind="letter", to=member.get("name") or member["id"])
    try:
        delivery_id = messaging.deliver(app, r, message)
    except DeliveryError as e:
        raise EnvironmentFailure(f"the day sheet was not delivered to {member['id']}: {e}",
                                 hint="try again, or give --printer") from None
    app.audit("send", [r_["id"] for r_ in rows] + [r_["patient_id"] for r_ in rows if r_["patient_id"]]
              + [member["id"]])
    return {"day": day.isoformat(), "provider": who["id"] if who else "", "to": member["id"],
            "channel": r.name, "kind": message.kind, "address": message.to, "visits": len(rows),
            "file": name, "delivery_id": delivery_id}
