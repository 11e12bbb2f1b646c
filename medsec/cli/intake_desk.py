"""`medsec intake`: desk commands (joined to the group by medsec.cli.intake).

The front desk's side of intake paperwork: each patient's forms and their status, the
submissions patients made (on paper or on the kiosk) waiting for review, the diff each one
makes to the record as it is now, applying or rejecting them, the visits of a day whose
patients have forms to fill, and sending those patients their one-time link by the channel
they chose for reminders (the message template `intake-link`, English and Spanish).
"""

from datetime import date, timedelta

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
from medsec.errors import EnvironmentFailure
from medsec.text import escape_controls

STATUS_COLUMNS = ["form", "title", "status", "required", "received", "signed", "signed_by", "expires"]
LIST_COLUMNS = ["id", "patient_id", "patient", "source", "forms", "received", "status"]
REVIEW_COLUMNS = ["field", "on_file", "submitted", "note"]
DUE_COLUMNS = ["time", "appt_id", "patient_id", "patient", "forms", "link_sent", "channel"]
SEND_COLUMNS = ["appt_id", "patient_id", "kind", "channel", "to", "status", "reason", "link", "expires"]
STALE_NOTE = "changed on the record since the patient filled it"


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
    from medsec.workflows.intake_send import due_visits

    day = _day(app, for_day)
    rows = due_visits(app, day, provider)
    render(rows[:limit] if limit else rows, fmt, DUE_COLUMNS if fmt == "table" else None,
           empty=f"no visits on {day} with forms to fill")


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
    from medsec.workflows import intake_send as svc

    known = forms_of.catalog(app)
    appts, days = svc.appointments(app, appt_ids, _day(app, for_day) if for_day else None, known)
    templating.require_valid(app.store.root, [svc.TEMPLATE])
    results = svc.send_all(app, appts, days, dry_run, again, known)
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
