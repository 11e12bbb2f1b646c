"""Intake links sent like reminders: the visits of a day whose patients have forms to fill, and
each patient's one-time link made and delivered by the channel they chose for reminders.

A patient gets one link a day for all their visits, and none while one sent still works (unless
asked again); a link works only once its message went (a failed delivery retires it), and the
desk's output never holds a link's URL or code. The message is the template `intake-link`
(English and Spanish; `sms` true for a text message); it names the link only where intake.yaml
publishes the kiosk (`kiosk.url`), else the code to type on the waiting-room tablet.
"""

from datetime import date, datetime

from medsec import clock
from medsec.errors import InvalidInput

TEMPLATE = "intake-link"
LINK_KINDS = ("email", "sms")  # a link is read and followed: no voice call, no letter for a one-day link
ACTIVE = ("booked", "confirmed")


def _live_sent(app, link: dict) -> bool:
    """Whether a link was delivered by 'intake send' and still works."""
    return bool(link.get("sent")) and not link.get("used") and not link.get("retired") \
        and clock.stored_moment(link["expires"], app.tz) > app.now()


def _links_sent(view, app, appts: list[dict]) -> dict[str, dict]:
    """Each patient's live link that 'intake send' delivered for one of `appts` (the visits of a
    day), the one lasting longest, by patient id: one link serves every visit of the patient."""
    from medsec.store.catalog import KIOSK_LINKS

    found: dict[str, dict] = {}
    for appt in appts:
        for link in view.get_many(KIOSK_LINKS, view.lookup("kiosklink-appt", appt["id"])):
            kept = found.get(appt["patient_id"])
            if _live_sent(app, link) and (kept is None or link["expires"] > kept["expires"]):
                found[appt["patient_id"]] = link
    return found


def _sent_words(app, link: dict | None, appt_id: str) -> str:
    if link is None:
        return "no"
    until = clock.stored_moment(link["expires"], app.tz)
    return f"yes{'' if link['appt_id'] == appt_id else ' (for ' + link['appt_id'] + ')'}, until {until:%H:%M %Y-%m-%d}"


def _channel_word(patient: dict) -> str:
    kind = _link_kind(patient)
    if not patient.get("reminders", True):
        return "reminders off"
    return kind or "no email or mobile"


def _link_kind(patient: dict) -> str:
    """The kind of message a link goes by: the patient's preferred one when it is email or SMS
    and the address is on file; else SMS or email, whichever is on file; '' when neither is."""
    from medsec.communications import messaging

    preferred = messaging.preferred_kind(patient)
    kinds = [preferred] + [k for k in LINK_KINDS if k != preferred] if preferred in LINK_KINDS else ["sms", "email"]
    return next((k for k in kinds if messaging.address_for(patient, k)), "")


def _with_patient(view, day: date) -> list[dict]:
    from medsec.store.catalog import APPOINTMENTS

    return [a for a in view.day(APPOINTMENTS, day.isoformat()) if a.get("patient_id")]


def due_visits(app, day: date, provider: str | None = None, known=None) -> list[dict]:
    """The booked visits of `day` whose patient has required forms not current on that day
    (`known`: the forms as the command read them, records.intake.catalog)."""
    from medsec.records import intake as forms_of
    from medsec.records.patients import get_patient
    from medsec.scheduling.schedule import Schedule

    schedule = Schedule.load(app)
    provider = schedule.member(provider)["id"] if provider else None
    view = app.store.snapshot()
    visits = _with_patient(view, day)
    sent = _links_sent(view, app, visits)
    known = known or forms_of.catalog(app)  # once for the day, not once a visit
    rows = []
    for appt in sorted(visits, key=lambda a: (a["start"], a["id"])):
        if appt["status"] not in ACTIVE or provider and appt["provider"] != provider:
            continue
        patient = get_patient(app, appt["patient_id"], view=view)
        short, needed = forms_of.needed_short(app, patient, day, known)
        if not needed or patient.get("status") != "active":
            continue
        link = sent.get(appt["patient_id"])
        start = datetime.fromisoformat(appt["start"]).astimezone(schedule.tz)
        rows.append({"time": f"{start:%H:%M}", "appt_id": appt["id"], "patient_id": patient["id"],
                     "patient": f"{patient['last']}, {patient['first']}", "forms": short,
                     "forms_needed": forms_of.needed_words(needed), "form_ids": [r["form"] for r in needed],
                     "link_sent": _sent_words(app, link, appt["id"]),
                     "link_expires": link["expires"] if link else "", "channel": _channel_word(patient),
                     "start": appt["start"], "provider": appt["provider"]})
    app.audit("list", [r["appt_id"] for r in rows] + [r["patient_id"] for r in rows])
    return rows


def _message(app, appt: dict, patient: dict, kind: str, link: dict, known: dict):
    """The link's message in the link's language (template intake-link; `sms` true for a text)."""
    from medsec.communications import messaging, sms
    from medsec.intakeforms import text_in
    from medsec.plugin_types import Message
    from medsec.scheduling.schedule import Schedule
    from medsec.workflows.kiosk_links import kiosk_settings

    language = link["language"]
    # The URL only when intake.yaml names the address patients reach (kiosk.url): the kiosk's
    # loopback default works on the kiosk's own computer, never on a patient's phone.
    url = link["url"] if kiosk_settings(app).get("url") else ""
    expires = clock.stored_moment(link["expires"], app.tz)
    context = {"practice": messaging.practice_context(app), "patient": messaging.patient_context(patient),
               "appointment": messaging.appointment_context(app, appt, Schedule.load(app)),
               "forms": [text_in(known[f].title, language) for f in link["forms"] if f in known],
               "link": {"url": url, "code": link["code"], "expires": link["expires"],
                        "expires_day": f"{expires:%A}, {expires:%B} {expires.day}",
                        "expires_time": f"{expires:%I:%M %p}".lstrip("0")},
               "sms": kind == "sms"}
    rendered = messaging.render(app, TEMPLATE, context, language)
    body = sms.plain(rendered.text.strip()) if kind == "sms" else rendered.text
    return Message(kind=kind, to=messaging.address_for(patient, kind), subject="" if kind == "sms" else
                   rendered.subject, body=body, html=None, attachments=[],
                   meta={"appointment_id": appt["id"], "patient_id": patient["id"], "template": rendered.template,
                         "language": rendered.language, "intake_link": link["id"]})


def _settle(app, link_id: str, changes: dict) -> None:
    """The link marked sent, or retired (its message did not go): a link works only once its
    patient was sent it."""
    from medsec.store.catalog import KIOSK_LINKS

    with app.store.transaction() as txn:
        record = txn.get(KIOSK_LINKS, link_id)
        if record is not None and not record.get("used"):
            txn.put(KIOSK_LINKS, {**record, **changes}, record)


def _deliver(app, r, appt: dict, patient: dict, kind: str, link: dict, known: dict) -> str:
    """Deliver the link's message: '' when it went (the link is marked sent), else why not (the
    link retired, the reason without the link's URL or code)."""
    from medsec.communications import messaging
    from medsec.errors import MedsecError
    from medsec.plugin_types import DeliveryError

    try:
        messaging.deliver(app, r, _message(app, appt, patient, kind, link, known))
    except BaseException as e:
        _settle(app, link["id"], {"retired": clock.iso(app.now())})
        if not isinstance(e, (DeliveryError, MedsecError)):
            raise
        reason = e.message if isinstance(e, MedsecError) else str(e)
        return reason.replace(link["url"], "<link>").replace(link["code"], "<code>")
    _settle(app, link["id"], {"sent": clock.iso(app.now()), "sent_by": kind})
    return ""


def _send_one(app, appt: dict, day: date, dry_run: bool, known) -> dict:
    """One visit's link made and sent; every failure is in the result, none stops the others."""
    from medsec.communications import messaging, reminders
    from medsec.errors import MedsecError
    from medsec.records import intake as forms_of
    from medsec.records.patients import get_patient
    from medsec.workflows import kiosk_links

    result = {"appt_id": appt["id"], "patient_id": appt["patient_id"], "kind": "", "channel": "",
              "to": "", "status": "failed", "reason": "", "link": "", "expires": ""}
    try:
        patient = get_patient(app, appt["patient_id"])
        kind = _link_kind(patient)
        skip = ("patient opted out of reminders" if not patient.get("reminders", True)
                else "" if kind else f"no email or mobile phone on file for {patient['id']}")
        if skip:
            return {**result, "status": "skipped", "reason": skip}
        r = messaging.route(app, kind)
        result.update(kind=kind, channel=r.name, to=messaging.address_for(patient, kind))
        problems = reminders.route_problems(r)
        if problems:
            return {**result, "reason": reminders.NOT_CONFIGURED + "; ".join(problems)}
        if dry_run:
            return {**result, "status": "would-send"}
        needed = [row["form"] for row in forms_of.needed(app, patient, day, known)]
        link = kiosk_links.create_link(app, appt["id"], needed or None)
        result.update(link=link["id"], expires=link["expires"])
        failed = _deliver(app, r, appt, patient, kind, link, known.forms)
        return {**result, "reason": failed} if failed else {**result, "status": "sent"}
    except MedsecError as e:
        return {**result, "reason": e.message}


def appointments(app, appt_ids: tuple[str, ...], day: date | None, known) -> tuple[list[dict], dict[str, date]]:
    """The visits to send links for, and each one's day: those named, or those `due` on `day`."""
    from medsec.scheduling.appointments import get_appointment
    from medsec.workflows.kiosk_links import LINKABLE

    if bool(appt_ids) == (day is not None):
        raise InvalidInput("give appointment ids or --for DATE (one of them)")
    if day is not None:
        appt_ids = tuple(row["appt_id"] for row in due_visits(app, day, known=known))
    appts = [get_appointment(app, a) for a in dict.fromkeys(appt_ids)]  # an unknown id: nothing is sent
    for appt in appts:
        if not appt.get("patient_id"):
            raise InvalidInput(f"{appt['id']} has no patient (time held)")
        if appt["status"] not in LINKABLE:
            raise InvalidInput(f"{appt['id']} is {appt['status']}: links are for booked, confirmed or arrived visits")
    return appts, {a["id"]: clock.stored_moment(a["start"], app.tz).date() for a in appts}


def _sent_before(app, appts: list[dict], days: dict[str, date]) -> dict[tuple[str, date], dict]:
    """The live links sent before, by (patient, day), for the patients of `appts` on their days."""
    view = app.store.snapshot()
    found = {}
    for day in set(days.values()):
        for patient_id, link in _links_sent(view, app, _with_patient(view, day)).items():
            found[(patient_id, day)] = link
    return found


def send_all(app, appts: list[dict], days: dict[str, date], dry_run: bool, again: bool, known) -> list[dict]:
    """Each visit's result: a patient gets one link a day, and none while one sent works (unless `again`)."""
    before = _sent_before(app, appts, days)
    this_run: dict[tuple[str, date], str] = {}
    results = []
    for appt in appts:
        key = (appt["patient_id"], days[appt["id"]])
        skip = {"appt_id": appt["id"], "patient_id": appt["patient_id"], "kind": "", "channel": "", "to": "",
                "status": "skipped", "link": "", "expires": ""}
        if key in this_run:
            results.append({**skip, "reason": f"one link for the day: the one for {this_run[key]}"})
            continue
        if key in before and not again:
            link = before[key]
            results.append({**skip, "reason": f"a link sent for {link['appt_id']} works until "
                                              f"{clock.stored_moment(link['expires'], app.tz):%H:%M %Y-%m-%d} "
                                              "(--again sends a new one)"})
            continue
        result = _send_one(app, appt, key[1], dry_run, known)
        if result["status"] in ("sent", "would-send"):
            this_run[key] = appt["id"]
        results.append(result)
    return results


