"""`medsec intake`: desk commands (joined to the group by medsec.cli.intake).

The front desk's side of intake paperwork: each patient's forms and their status, the
submissions patients made (on paper or on the kiosk) waiting for review, the diff each one
makes to the record as it is now, applying or rejecting them, the visits of a day whose
patients have forms to fill, and sending those patients their one-time link by the channel
they chose for reminders (the message template `intake-link`, English and Spanish).
"""

from datetime import date, datetime, timedelta

import click

from medsec import clock
from medsec.cli.common import pass_app
from medsec.cli.options import (
    date_option,
    dry_run_option,
    list_options,
    patient_argument,
    patient_option,
    provider_option,
    reason_option,
)
from medsec.cli.output import inform, output_options, render, render_text, say
from medsec.errors import EnvironmentFailure, InvalidInput
from medsec.text import escape_controls

STATUS_COLUMNS = ["form", "title", "status", "required", "received", "signed", "signed_by", "expires"]
LIST_COLUMNS = ["id", "patient_id", "patient", "source", "forms", "received", "status"]
REVIEW_COLUMNS = ["field", "on_file", "submitted", "note"]
DUE_COLUMNS = ["time", "appt_id", "patient_id", "patient", "forms", "link_sent", "channel"]
SEND_COLUMNS = ["appt_id", "patient_id", "kind", "channel", "to", "status", "reason", "link", "expires"]
STALE_NOTE = "changed on the record since the patient filled it"
TEMPLATE = "intake-link"
LINK_KINDS = ("email", "sms")  # a link is read and followed: no voice call, no letter for a one-day link
ACTIVE = ("booked", "confirmed")


# -- status ------------------------------------------------------------------------------
@click.command("status")
@patient_argument()
@date_option("--for", "for_day", help="The status on this day", default_text="today")
@output_options
@pass_app
def status(app, fmt, patient_id, for_day):
    """Show the status of a patient's forms.

    Each form of the practice: missing, current, expiring (within intake.yaml
    expiring_days of its renewal), expired, or outdated (its wording changed
    since it was signed); whether every patient must keep it current; when it
    was received and signed, by whom, and when it expires.

    \b
    Examples:
      medsec intake status P12
      medsec intake status P12 --for 2026-12-15 --json
    """
    from medsec.records import intake as forms_of
    from medsec.records.patients import get_patient

    day = app.parse_date(for_day, "--for") if for_day else app.today()
    patient = get_patient(app, patient_id)
    rows = forms_of.form_status(app, patient, day)
    app.audit("read", [patient["id"]])
    if fmt == "table":
        rows = [{**r, "received": r["received"][:10]} for r in rows]
    render(rows, fmt, STATUS_COLUMNS)


# -- submissions ---------------------------------------------------------------------------
def _summary(app, record: dict, names: dict[str, str]) -> dict:
    return {"id": record["id"], "patient_id": record["patient_id"], "patient": names.get(record["patient_id"], ""),
            "source": record["source"], "language": record.get("language", ""), "appt_id": record.get("appt_id") or "",
            "forms": ", ".join(record["forms"]), "received": record["received"], "status": record["status"],
            "changes": len(record.get("changes") or []), "reviewed_by": record.get("reviewed_by") or "",
            "reviewed_at": record.get("reviewed_at") or "", "reason": record.get("reason") or ""}


def _summaries(app, records: list[dict]) -> list[dict]:
    from medsec.store.catalog import PATIENTS

    view = app.store.snapshot()
    ids = sorted({r["patient_id"] for r in records})
    names = {p["id"]: f"{p['last']}, {p['first']}" for p in view.get_many(PATIENTS, ids)}
    return [_summary(app, r, names) for r in records]


@click.command("list")
@patient_option()
@click.option("--status", type=click.Choice(["pending", "applied", "rejected", "all"]), default="pending",
              show_default=True, help="Only submissions with this status.")
@list_options
@output_options
@pass_app
def list_(app, fmt, patient, status, limit):
    """List intake submissions.

    What patients filled on a paper packet read back or on the kiosk, oldest
    first: pending ones wait for 'medsec intake review'.

    \b
    Examples:
      medsec intake list
      medsec intake list --patient P12 --status all
    """
    from medsec.workflows import intake as svc

    records = svc.list_submissions(app, None if status == "all" else status, patient)
    render(_summaries(app, records[:limit] if limit else records), fmt, LIST_COLUMNS,
           empty="no intake submissions" if status != "pending" else "no intake submissions pending review")


def _answer_text(field, value) -> str:
    """An answer as the desk reads it: a photo by its file name and size (never its bytes)."""
    if isinstance(value, dict):
        return f"photo {value.get('file', '')} ({int(value.get('size', 0)) // 1024 + 1} KB)"
    if value is True:
        return "yes"
    if field is not None and field.choices:
        from medsec.intakeforms import text_in

        return next((text_in(c.label, "en") for c in field.choices if c.value == value), str(value))
    return str(value)


def _form_rows(form, answers: dict) -> list[dict]:
    from medsec.intakeforms import text_in

    rows = []
    for field_id, value in answers.items():
        field = form.field(field_id) if form is not None else None
        label = text_in(field.label, "en") if field is not None else field_id.replace("_", " ")
        if field_id == "signature_drawn":
            label, value = "signature (drawn)", "drawn on the kiosk"
        rows.append({"field": label, "answer": _answer_text(field, value)})
    return rows


def _show_text(app, record: dict) -> str:
    from medsec.intakeforms import text_in
    from medsec.records import intake as forms_of

    known = forms_of.forms(app)
    head = {k: v for k, v in _summaries(app, [record])[0].items() if v not in ("", None)}
    head["files"] = ", ".join(f"{name} ({info.get('content_type', '')}, {info.get('size', 0)} bytes)"
                              for name, info in (record.get("files") or {}).items()) or "none"
    parts = [render_text(head, "table")]
    for form_id in record["forms"]:
        form = known.get(form_id)
        title = text_in(form.title, "en") if form is not None else form_id
        rows = _form_rows(form, record["answers"].get(form_id) or {})
        parts.append(escape_controls(f"\n{form_id}: {title}\n", keep_newlines=True))
        parts.append(render_text(rows, "table", ["field", "answer"]) if rows else "(no answers)\n")
    return "".join(parts)


@click.command("show")
@click.argument("submission_id", metavar="IN_ID")
@output_options
@pass_app
def show(app, fmt, submission_id):
    """Show a submission and its answers.

    Who filled it, which forms, when, and each form's answers as a table
    (photos by name and size). --json gives the whole record.

    \b
    Examples:
      medsec intake show IN3
      medsec intake show IN3 --json
    """
    from medsec.workflows import intake as svc

    record = svc.find(app, submission_id)
    if fmt != "table":
        render(record, fmt)
        return
    click.echo(_show_text(app, record), nl=False)


# -- review, apply, reject -------------------------------------------------------------------
def _diff_rows(found: dict) -> list[dict]:
    stale = {c["field"] for c in found["stale"]}
    return [{"field": c["label"], "record_field": c["field"], "on_file": str(c["old"]), "submitted": str(c["new"]),
             "note": STALE_NOTE if c["field"] in stale else ""} for c in found["changes"]]


def _decide(app, found: dict) -> None:
    """Ask the person at the terminal: apply, reject (with a reason), or leave it pending."""
    from medsec.workflows import intake as svc

    answer = click.prompt(f"Apply to {found['patient_id']}? [y/N/r(eject)]", default="", show_default=False,
                          err=True).strip().lower()
    if answer in ("y", "yes"):
        done = svc.apply(app, found["id"])
        say(f"{done['id']} applied to {done['patient_id']}: {len(done.get('applied') or [])} change(s)")
    elif answer in ("r", "reject"):
        reason = click.prompt("Reason", err=True)
        done = svc.reject(app, found["id"], reason)
        say(f"{done['id']} rejected")
    else:
        say(f"{found['id']} left pending")


@click.command("review")
@click.argument("submission_id", metavar="[IN_ID]", required=False)
@output_options
@pass_app
def review(app, fmt, submission_id):
    """Review a submission against the record.

    Without an id, the submissions waiting for review. With one, what it
    would change on the record as it is now: field, on file, submitted; a
    note marks fields changed on the record since the patient filled it.
    At a terminal it then asks: y applies, r rejects (asking why), anything
    else leaves it pending. Scripts use 'intake apply' and 'intake reject'.

    \b
    Examples:
      medsec intake review
      medsec intake review IN3
    """
    from medsec.cli.names import interactive
    from medsec.workflows import intake as svc

    if not submission_id:
        render(_summaries(app, svc.list_submissions(app, "pending")), fmt, LIST_COLUMNS,
               empty="no intake submissions pending review")
        return
    found = svc.review(app, submission_id)
    if fmt != "table":
        render({**found, "diff": _diff_rows(found)}, fmt)
        return
    click.echo(escape_controls(f"{found['id']}: {found['patient_name']} ({found['patient_id']}), "
                               f"{', '.join(found['forms'])}; {found['source']}, received "
                               f"{found['received'][:16].replace('T', ' ')}; {found['status']}"))
    rows = _diff_rows(found)
    render(rows, fmt, REVIEW_COLUMNS, empty="no changes to the record (the forms' status is kept when applied)")
    if found["status"] != "pending":
        say(f"{found['id']} was {found['status']} by {found.get('reviewed_by')} at {found.get('reviewed_at')}")
    elif interactive(click.get_current_context()):
        _decide(app, found)
    else:
        inform(f"apply: medsec intake apply {found['id']}; reject: medsec intake reject {found['id']} --reason TEXT")


@click.command("apply")
@click.argument("submission_id", metavar="IN_ID")
@output_options
@pass_app
def apply(app, fmt, submission_id):
    """Apply a submission to the record.

    The demographics and the primary coverage change, the photos and drawn
    signatures attach to the chart, and each form's status is kept, in one
    transaction. A submission is applied or rejected once.

    \b
    Examples:
      medsec intake apply IN3
    """
    from medsec.workflows import intake as svc

    done = svc.apply(app, submission_id)
    if fmt == "table":
        inform(f"{done['id']} applied to {done['patient_id']}: {len(done.get('applied') or [])} change(s)")
        render([{"field": c["label"], "was": str(c["old"]), "now": str(c["new"])} for c in done.get("applied") or []],
               fmt, ["field", "was", "now"], empty="no record fields changed; the forms' status is kept")
        return
    render(done, fmt)


@click.command("reject")
@click.argument("submission_id", metavar="IN_ID")
@reason_option(help="Why it is rejected (required), kept with the submission.")
@output_options
@pass_app
def reject(app, fmt, submission_id, reason):
    """Reject a submission.

    The record is unchanged; the reason is kept with the submission, which
    is then applied or rejected no more.

    \b
    Examples:
      medsec intake reject IN3 --reason "filled for the wrong patient"
    """
    from medsec.workflows import intake as svc

    done = svc.reject(app, submission_id, reason)
    if fmt != "table":
        render(done, fmt)
        return
    inform(f"{done['id']} rejected")
    render(_summaries(app, [done])[0], fmt, ["id", "patient_id", "status", "reviewed_by", "reason"])


# -- due, send -----------------------------------------------------------------------------
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
    from medsec.reports.daysheet import forms_short
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
        short, words = forms_short(app, patient, day, known)
        if not words or patient.get("status") != "active":
            continue
        link = sent.get(appt["patient_id"])
        start = datetime.fromisoformat(appt["start"]).astimezone(schedule.tz)
        rows.append({"time": f"{start:%H:%M}", "appt_id": appt["id"], "patient_id": patient["id"],
                     "patient": f"{patient['last']}, {patient['first']}", "forms": short, "forms_needed": words,
                     "form_ids": [w.split(" (")[0] for w in words], "link_sent": _sent_words(app, link, appt["id"]),
                     "link_expires": link["expires"] if link else "", "channel": _channel_word(patient),
                     "start": appt["start"], "provider": appt["provider"]})
    app.audit("list", [r["appt_id"] for r in rows] + [r["patient_id"] for r in rows])
    return rows


def _day(app, for_day: str | None) -> date:
    return clock.parse_date(for_day, app.tz, "--for", horizon=True) if for_day else app.today() + timedelta(days=1)


@click.command("due")
@date_option("--for", "for_day", help="Visits on this day", default_text="tomorrow")
@provider_option()
@list_options
@output_options
@pass_app
def due(app, fmt, for_day, provider, limit):
    """List the visits with forms to fill.

    The booked visits of a day (tomorrow by default) whose patient has
    required forms missing, expired, outdated or expiring on that day: the
    forms, whether a link that still works was sent (one link serves every
    visit of the patient that day), and the channel a link would go by
    ('medsec intake send --for DAY' sends them).

    \b
    Examples:
      medsec intake due
      medsec intake due --for mon --provider S1
    """
    day = _day(app, for_day)
    rows = due_visits(app, day, provider)
    render(rows[:limit] if limit else rows, fmt, DUE_COLUMNS if fmt == "table" else None,
           empty=f"no visits on {day} with forms to fill")


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


def _appointments(app, appt_ids: tuple[str, ...], for_day: str | None, known) -> tuple[list[dict], dict[str, date]]:
    """The visits to send links for, and each one's day: those named, or those `due` on --for."""
    from medsec.scheduling.appointments import get_appointment
    from medsec.workflows.kiosk_links import LINKABLE

    if bool(appt_ids) == bool(for_day):
        raise InvalidInput("give appointment ids or --for DATE (one of them)")
    if for_day:
        appt_ids = tuple(row["appt_id"] for row in due_visits(app, _day(app, for_day), known=known))
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


def _send_all(app, appts: list[dict], days: dict[str, date], dry_run: bool, again: bool, known) -> list[dict]:
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


@click.command("send")
@click.argument("appt_ids", nargs=-1, metavar="[APPT_ID]...")
@date_option("--for", "for_day", help="Every visit of this day with forms to fill (as 'intake due')")
@click.option("--again", is_flag=True, help="Send a new link to a patient sent one that still works.")
@dry_run_option(help="Show who would get a link and by which channel; make and send nothing.")
@output_options
@pass_app
def send(app, fmt, appt_ids, for_day, again, dry_run):
    """Send patients their forms' links.

    For each visit named (or each of 'intake due --for DAY'): a one-time link
    and code to the forms the patient needs, sent like a reminder by the
    patient's email or SMS (template intake-link, in the patient's language).
    A patient gets one link for the day's visits; one sent that still works
    is not sent again unless --again (it then stops working). Patients who
    turned reminders off, or have no email or mobile number, are skipped,
    saying so. A link whose message could not be delivered does not work; the
    failure is reported for that patient and does not stop the others; the
    exit status is 3 when any failed. Run daily, e.g. from cron.

    \b
    Examples:
      medsec intake send --for tomorrow --dry-run
      medsec intake send A31 A32
      medsec intake send A31 --again
    """
    from medsec import templating
    from medsec.records import intake as forms_of

    known = forms_of.catalog(app)
    appts, days = _appointments(app, appt_ids, for_day, known)
    templating.require_valid(app.store.root, [TEMPLATE])
    results = _send_all(app, appts, days, dry_run, again, known)
    app.audit("list" if dry_run else "intake-send", [r["appt_id"] for r in results]
              + [r["patient_id"] for r in results] + [r["link"] for r in results if r["link"]])
    for r in results:
        if r["status"] == "skipped":
            inform(f"{r['appt_id']} {r['patient_id']}: skipped: {r['reason']}")
        elif r["status"] == "failed":
            say(f"{r['appt_id']} {r['patient_id']}: failed: {r['reason']}")
    render(results, fmt, SEND_COLUMNS, empty="no links to send")
    counts = {s: sum(r["status"] == s for r in results) for s in ("sent", "would-send", "skipped", "failed")}
    if fmt == "table":
        inform(", ".join(f"{s} {n}" for s, n in counts.items() if n) or "nothing to send")
    if counts["failed"]:
        raise EnvironmentFailure(f"{counts['failed']} intake link(s) not sent",
                                 hint="see the reasons above; 'medsec intake send APPT_ID' sends one again")


COMMANDS: list[click.Command] = [status, list_, show, review, apply, reject, due, send]
