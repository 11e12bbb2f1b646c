"""Time off that handles its consequences: `staff off` and the visits it strands.

A provider's time off over booked visits is refused (exit 1, the visits listed) until the user
chooses what happens to them:

- reschedule: each visit moves to the patient's first free slot of its type, with another
  provider who performs it or with the same provider on another day (planned together by
  medsec.scheduling.timeoff; all or nothing: a visit with no slot refuses the whole), moved as
  `appt reschedule` moves a visit (its id and history kept), and the patient is told once through
  their preferred channel (template visit-moved);
- cancel: each visit is cancelled as `appt cancel` does (reason "provider unavailable") and the
  patient is told once (template visit-cancelled-provider) to call to rebook;
- keep: nothing moves; the choice is recorded on the span (stranded: keep, kept: [ids], by, at),
  and `report coverage` lists those visits as kept while their provider is away.

The span in staff.yaml keeps the choice and the appointment ids (no patient data). A notice that
cannot be delivered never undoes the move: it opens a front-desk task to tell the patient.
"""

from collections.abc import Callable
from datetime import date

from medsec import clock, documents
from medsec.communications import messaging
from medsec.errors import InvalidInput, MedsecError, Refused
from medsec.plugin_types import DeliveryError, Message
from medsec.records.patients import get_patient
from medsec.records.staff import add_time_off, amend_time_off, time_off_entry
from medsec.scheduling import appointments as appts
from medsec.scheduling import timeoff as plan
from medsec.scheduling.schedule import Schedule
from medsec.store.catalog import APPOINTMENTS
from medsec.workflows.tasks import open_task

CHOICES = ("reschedule", "cancel", "keep")
CANCEL_REASON = "provider unavailable"
MOVE_REASON = "provider time off"
TEMPLATES = {"reschedule": "visit-moved", "cancel": "visit-cancelled-provider"}
DONE = {"reschedule": "moved", "cancel": "cancelled", "keep": "kept"}  # the span's list of the visits handled


class Stranded(Refused):
    """Time off over visits still booked, with no choice made: the visits are in `visits`."""

    def __init__(self, message: str, visits: list[dict], hint: str | None = None):
        super().__init__(message, hint=hint)
        self.visits = visits


# Asked before the moves are booked: the plan -> whether to go ahead (medsec.cli.staff `off`).
Confirm = Callable[[list[dict]], bool]


def plan_rows(moves: list[plan.Move], schedule: Schedule) -> list[dict]:
    """The plan as rows: each visit, where it is and where it would go."""
    return [{"id": m.visit["id"], "patient_id": m.visit["patient_id"], "patient": m.visit.get("patient", ""),
             "type": m.visit["type"], "was": m.visit["start"], "was_provider": m.visit["provider"],
             "start": clock.iso(m.start), "provider": m.provider,
             "provider_name": str(schedule.staff.get(m.provider, {}).get("name", "")), "room": m.room}
            for m in moves]


def take_time_off(app, staff_id: str, start: str, end: str | None, reason: str = "", *,
                  choice: str | None = None, confirm: Confirm | None = None) -> dict:
    """Record time off for `staff_id`, doing `choice` about the visits it strands (see the module).

    Bad input (dates, a reversed range) is InvalidInput before anything is read; visits stranded
    with no choice are Stranded (exit 1, nothing written); with `reschedule`, `confirm` is asked
    with the plan before anything is booked (None: go ahead), and a refusal writes nothing. The
    time off is recorded before the visits move (refused, nothing written, when they changed since
    they were listed), so nothing is booked into it meanwhile. A visit taken since it was planned
    is left booked, with action "not moved" and its reason (the caller says so: exit 1).
    """
    if choice is not None and choice not in CHOICES:
        raise InvalidInput(f"unknown choice {choice!r} (use {', '.join(CHOICES)})")
    member, entry = time_off_entry(app, staff_id, start, end, reason)
    first, last = date.fromisoformat(entry["from"]), date.fromisoformat(entry["to"])
    visits = plan.stranded(app, member["id"], first, last)
    summary = {"staff_id": member["id"], **entry, "stranded": choice if visits else "", "visits": []}
    if visits and choice is None:
        raise Stranded(f"{member['id']}'s time off {entry['from']}..{entry['to']} strands {len(visits)} booked "
                       "visit(s): choose one of --reschedule, --cancel-and-notify, --keep; nothing changed",
                       visits)
    moves: list[plan.Move] = []
    if visits and choice == "reschedule":
        moves = _plan(app, member["id"], first, last, visits, confirm)
    extra = {"stranded": choice, DONE[choice]: [v["id"] for v in visits], "by": app.user,
             "at": clock.iso(app.now())} if visits and choice else {}
    # recorded before anything moves, in the transaction that checks the visits are still those
    # listed: from then on nothing can be booked with the provider in the span
    updated = add_time_off(app, member["id"], entry["from"], entry["to"], entry["reason"], extra,
                           check=lambda txn: _unchanged(app, txn, member["id"], first, last, visits))
    if choice in ("reschedule", "cancel") and visits:
        summary["visits"] = _reschedule(app, moves, Schedule.load(app)) if moves else _cancel(app, visits)
        done, missed = DONE[choice], f"not {DONE[choice]}"
        left = [v["id"] for v in summary["visits"] if v["action"] == missed]
        if left:
            updated = amend_time_off(app, member["id"], entry, {
                done: [v["id"] for v in summary["visits"] if v["action"] == done], missed.replace(" ", "_"): left})
    elif visits and choice == "keep":
        summary["visits"] = [{**_row(v), "action": "kept"} for v in visits]
    outcome = f"ok: {entry['from']}..{entry['to']}"
    if visits:
        outcome += f"; {len(visits)} stranded visit(s): {choice}"
    app.audit("time-off", [member["id"]] + [v["id"] for v in visits], outcome=outcome)
    summary["time_off"] = updated.get("time_off") or []
    return summary


def _unchanged(app, txn, staff_id: str, first: date, last: date, visits: list[dict]) -> None:
    """Refuse (nothing written) when the visits the time off strands are no longer those listed
    and planned: one booked, moved or cancelled meanwhile (another desk)."""
    now = {a["id"]: a["start"] for a in plan.open_visits(app, txn, staff_id, first, last)}
    if now != {v["id"]: v["start"] for v in visits}:
        raise Refused("the visits in that time off changed meanwhile (booked, moved or cancelled at another "
                      "desk); nothing changed", hint="run it again to see them")


def _row(visit: dict) -> dict:
    return {"id": visit["id"], "patient_id": visit["patient_id"], "patient": visit.get("patient", ""),
            "type": visit["type"], "was": visit["start"], "was_provider": visit["provider"],
            "start": visit["start"], "provider": visit["provider"]}


# -- reschedule ------------------------------------------------------------------------------
def _plan(app, staff_id: str, first: date, last: date, visits: list[dict],
          confirm: Confirm | None) -> list[plan.Move]:
    """The moves, all placed and confirmed (Refused otherwise: nothing written)."""
    moves, unplaced = plan.plan_moves(app, staff_id, first, last, visits)
    if unplaced:
        raise Refused(f"no free slot for {len(unplaced)} stranded visit(s): "
                      f"{', '.join(v['id'] for v in unplaced)}; nothing changed",
                      hint="choose --cancel-and-notify or --keep, or open more hours (staff hours)",
                      details=[f"{v['id']} {v['start'][:16]} {v['type']}" for v in unplaced])
    if confirm is not None and not confirm(plan_rows(moves, Schedule.load(app))):
        raise Refused("the moves were not confirmed; nothing changed")
    return moves


def _reschedule(app, moves: list[plan.Move], schedule: Schedule) -> list[dict]:
    done: list[dict] = []
    for move, row in zip(moves, plan_rows(moves, schedule), strict=True):
        try:
            (record,) = appts.reschedule(app, move.visit["id"], clock.iso(move.start), MOVE_REASON,
                                         provider=move.provider if move.provider != move.visit["provider"] else None)
        except MedsecError as e:  # taken since it was planned (another desk): left booked, named
            done.append({**row, "start": move.visit["start"], "provider": move.visit["provider"],
                         "action": "not moved", "reason": e.message})
            continue
        done.append({**row, "start": record["start"], "provider": record["provider"], "room": record.get("room", ""),
                     "action": "moved", "record": record, "old": move.visit})
    _notify_all(app, [d for d in done if d["action"] == "moved"], "reschedule")
    return [_public(d) for d in done]


# -- cancel ----------------------------------------------------------------------------------
def _cancel(app, visits: list[dict]) -> list[dict]:
    done: list[dict] = []
    for visit in visits:
        try:
            (record,) = appts.cancel(app, visit["id"], CANCEL_REASON)
        except MedsecError as e:  # changed since it was listed (another desk): left as it is, named;
            done.append({**_row(visit), "action": "not cancelled", "reason": e.message})  # the rest go on
            continue
        done.append({**_row(visit), "action": "cancelled", "record": record, "old": visit})
    _notify_all(app, [d for d in done if d["action"] == "cancelled"], "cancel")
    return [_public(d) for d in done]


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("record", "old")}


# -- telling the patients --------------------------------------------------------------------
def _notify_all(app, rows: list[dict], choice: str) -> None:
    """Tell each row's patient once; the notice on the row, in the visit's history, and a front-desk
    task for each that failed (one commit)."""
    if not rows:
        return
    schedule = Schedule.load(app)
    for row in rows:
        row["notice"] = notify(app, schedule, row["old"], row["record"], TEMPLATES[choice])
    with app.store.transaction() as txn:
        for row in rows:
            notice = row["notice"]
            old = txn.get(APPOINTMENTS, row["id"])
            if old is not None:
                entry = {"at": notice["at"], "by": app.user, "action": "patient-notified", "status": old["status"],
                         "template": notice["template"], "kind": notice["kind"], "channel": notice["channel"],
                         "notice": notice["status"]}
                txn.put(APPOINTMENTS, {**old, "history": list(old.get("history") or []) + [entry]}, old)
            if notice["status"] != "sent":
                what = "moved to " + _when(row["start"], schedule) if choice == "reschedule" \
                    else "cancelled (provider unavailable)"
                task = open_task(app, txn, text=f"tell the patient that {row['id']} on {_when(row['was'], schedule)} "
                                 f"was {what}: the {notice['kind']} notice failed ({notice['reason']})",
                                 owner="front-desk", due=app.today(), patient_id=row["patient_id"],
                                 priority="high", source=row["id"])
                notice["task"] = task["id"]
    app.audit("notify", [r["id"] for r in rows] + [r["patient_id"] for r in rows],
              outcome=f"ok: {sum(r['notice']['status'] == 'sent' for r in rows)} of {len(rows)} sent")


def _when(stamp: str, schedule: Schedule) -> str:
    return f"{clock.stored_moment(stamp, schedule.tz):%a %Y-%m-%d %H:%M}"


def _refuse_late_letter(app, old: dict, record: dict) -> None:
    """A letter must reach the patient before the visit it is about (the old time, or the new one if
    sooner): within practice.yaml's reminders.letter_lead_days it would not, and someone calls instead."""
    from medsec.communications.reminders import Settings

    settings = Settings.load(app)
    first = min(clock.stored_moment(old["start"], app.tz), clock.stored_moment(record["start"], app.tz))
    if first - app.now() < settings.letter_lead:
        raise Refused(f"a letter would not arrive before {first:%Y-%m-%d} "
                      f"(reminders.letter_lead_days {settings.letter_lead_days}): call the patient")


def notify(app, schedule: Schedule, old: dict, record: dict, template: str) -> dict:
    """Render and deliver one notice about `record` (as it is now; `old`: as it was) through the
    patient's preferred channel; its outcome as a dict to keep, failures included (never raises
    for a channel, a template or a contact missing)."""
    notice = {"at": clock.iso(app.now()), "template": template, "kind": "", "to": "", "channel": "",
              "delivery_id": "", "status": "failed", "reason": ""}
    try:
        patient = get_patient(app, record["patient_id"])
        kind = messaging.preferred_kind(patient)
        to = messaging.address_for(patient, kind)
        notice.update(kind=kind, to=to)
        if not to:
            raise Refused(f"no {kind} contact on file")
        if kind == "letter":
            _refuse_late_letter(app, old, record)
        r = messaging.route(app, kind)
        context = {"practice": messaging.practice_context(app), "patient": messaging.patient_context(patient),
                   "appointment": messaging.appointment_context(app, record, schedule),
                   "previous": messaging.appointment_context(app, old, schedule)}
        rendered = messaging.render(app, template, context, patient.get("language") or "en")
        attachments = [(f"{template}.pdf", "application/pdf", documents.text_to_pdf(rendered.text, rendered.subject))] \
            if kind in ("letter", "fax") else []
        message = Message(kind=kind, to=to, subject=rendered.subject, body=rendered.text, html=rendered.html,
                          attachments=attachments, meta={"appointment_id": record["id"], "patient_id": patient["id"],
                                                         "template": template, "language": rendered.language})
        notice.update(channel=r.name, delivery_id=messaging.deliver(app, r, message), status="sent")
    except (MedsecError, DeliveryError) as e:
        notice["reason"] = getattr(e, "message", None) or str(e)
    return notice
