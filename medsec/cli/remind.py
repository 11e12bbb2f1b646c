"""`medsec remind`: appointment reminders and follow-up calls."""

import click

from medsec import clock
from medsec.cli.choices import ListsValues
from medsec.cli.common import pass_app
from medsec.cli.options import date_option, date_range_options, day_span, dry_run_option, list_options, quiet_option
from medsec.cli.output import inform, output_options, render, say
from medsec.communications.followups import COLUMNS as FOLLOWUP_COLUMNS
from medsec.communications.followups import due_followups
from medsec.errors import InvalidInput, Refused
from medsec.text import escape_controls


@click.group()
def remind():
    """Appointment reminders and follow-up calls.

    Send the reminders due (from cron), preview them, re-queue failed ones,
    list follow-up calls.

    \b
    Examples:
      medsec remind send --dry-run
      medsec remind preview A35
      medsec remind retry
      medsec remind followups
    """


@remind.command("send")
@date_option("--for", "for_day", help="Remind every appointment on this day")
@click.option("--within", default=None, metavar="DURATION",
              help="Remind appointments within this window: hours or days, e.g. 48h or 2d.")
@click.option("--channel", default=None, help="Send through this channel instead of each patient's choice.",
              cls=ListsValues, values="channels")
@click.option("--letters-pdf", type=click.Path(), default=None, metavar="FILE",
              help="Print the run's letters into this FILE.pdf or directory (default: the outbox).")
@click.option("--letters-csv", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="The mail-merge CSV of --letters-pdf (default: beside the PDF).")
@dry_run_option(help="Show what would go out; send and record nothing.")
@quiet_option
@output_options
@pass_app
def send(app, fmt, for_day, within, channel, letters_pdf, letters_csv, dry_run):
    """Send the reminders that are due.

    Due by each appointment type's lead times, unless --for or --within.
    Safe to run from several cron jobs: each reminder goes out once. Exit 0
    only when every due reminder was sent or deliberately skipped.

    A reminder that cannot go out because of the configuration (its route
    names a channel not installed or not set up, a setting the channel needs
    is missing, a *_env variable is not set) stays pending: stderr says what
    to fix, and the next run sends it. --dry-run runs the same checks.

    Letters (routed to the outbox) are printed: all the letters of a run go
    into one PDF, a page each with the address for a window envelope, and a
    mail-merge CSV, in the outbox (outbox list) unless --letters-pdf names a
    file or folder; stderr names them. A letter goes out only when the post can
    bring it: practice.yaml reminders.letter_lead_days (default 3) or more
    days before the visit; for a visit sooner it is skipped, saying so.

    \b
    Examples:
      medsec remind send --dry-run
      medsec remind send --for tomorrow
      medsec remind send --within 48h --channel sms
      medsec remind send --letters-pdf /tmp/letters.pdf --dry-run
      medsec remind send --quiet      # from cron: prints only what failed
    """
    from medsec.communications import reminders  # ~6 ms (messaging, templates, secrets): followups need not pay
    from medsec.progress import on_terminal

    if for_day and within:
        raise InvalidInput("give --for or --within, not both")
    day = clock.parse_date(for_day, app.tz, "--for", horizon=True) if for_day else None
    with on_terminal() as progress:
        summary = reminders.send(app, for_day=day,
                                 within=reminders.parse_within(within) if within else None,
                                 channel=channel, dry_run=dry_run, progress=progress,
                                 letters_pdf=letters_pdf, letters_csv=letters_csv)
    _report_letters(summary.pop("letters"), dry_run)
    to_fix: dict[str, int] = {}
    for r in summary["reminders"]:
        if r["status"] == "pending":
            problem = r["reason"].removeprefix(reminders.NOT_CONFIGURED)
            to_fix[problem] = to_fix.get(problem, 0) + 1
        elif r["status"] == "skipped":  # deliberately (an opt-out, a cancelled visit): no problem
            inform(f"{r['appointment_id']} {r['patient_id']}: {r['status']}: {r['reason']}")
        elif r["status"] not in ("sent", "would-send"):
            say(f"{r['appointment_id']} {r['patient_id']}: {r['status']}: {r['reason']}")
    for problem, count in to_fix.items():
        say(f"to fix: {problem} ({count} reminder(s) {'would stay' if dry_run else 'left'} pending)")
    rows = [_reported(r, dry_run) for r in summary.pop("reminders")]
    render(rows if fmt != "table" else summary, fmt, reminders.COLUMNS)
    if fmt == "table":
        inform(f"due {summary['due']}: sent {summary['sent']}, skipped {summary['skipped']}, "
               f"retry later {summary['retry']}, pending {summary['pending']}, failed {summary['failed']}")
    not_sent = summary["failed"] + summary["retry"] + summary["pending"]
    if not_sent:
        hint = ("fix the configuration ('medsec config check'); the next 'medsec remind send' sends the pending ones"
                if summary["pending"] else "see 'medsec remind list --failed'")
        raise Refused(f"{not_sent} reminder(s) not sent", hint=hint)


def _report_letters(letters: dict, dry_run: bool) -> None:
    """Where the run's letters to print are (stderr, also from cron with --quiet)."""
    if letters.get("pdf"):
        merge = f"; mail-merge CSV: {letters['csv']}" if letters.get("csv") else ""
        say(f"letters to print: {letters['pdf']} ({letters['documents']} letter(s)){merge}")
    elif dry_run and letters["count"]:
        inform(f"{letters['count']} letter(s) would be printed")


# The fields of each reminder `remind send` prints as JSON, JSON Lines, CSV or YAML: a contract
# (README, "remind send's output"); what the store keeps for its own work (who claimed a reminder,
# when it was made) is left out.
SENT_FIELDS = ("id", "appointment_id", "appointment_start", "patient_id", "key", "kind", "channel", "to", "status",
               "reason", "attempts", "next_try", "sent_at", "delivery_id")


def _reported(reminder: dict, dry_run: bool) -> dict:
    """A reminder as `remind send` reports it: SENT_FIELDS; no id in a dry run (none was made)."""
    shown = {field: reminder.get(field, "") for field in SENT_FIELDS}
    if dry_run:
        shown["id"] = None
    return shown


@remind.command("retry")
@click.option("--failed", "every_failed", is_flag=True,
              help="Every failed reminder, not only those failed by the configuration.")
@date_option("--since", help="Only reminders last tried on or after this day")
@quiet_option
@output_options
@pass_app
def retry(app, fmt, every_failed, since):
    """Re-queue reminders that failed.

    Reminders that failed because of the configuration (a route to a channel
    not set up, a variable not set) are put back in the queue: the next
    'remind send' sends each once. With --failed, every failed reminder (a
    patient's address since corrected). One per appointment, none for an
    appointment that has begun or was cancelled; running it again re-queues
    nothing twice.

    \b
    Examples:
      medsec remind retry --since today
      medsec remind retry --failed --since 2026-12-01
    """
    from medsec.communications import reminders  # ~6 ms: followups need not pay

    day = clock.parse_date(since, app.tz, "--since") if since else None
    summary = reminders.retry(app, every_failed=every_failed, since=day)
    rows = summary.pop("reminders")
    render(rows if fmt != "table" else summary, fmt, reminders.COLUMNS)
    if fmt == "table":
        inform(f"re-queued {summary['requeued']}: the next 'medsec remind send' sends them")
    if summary["not_configuration"]:
        say(f"{summary['not_configuration']} other failed reminder(s) left as they are "
            "(not caused by the configuration): add --failed to re-queue them too")
    if summary["appointment_passed"]:
        say(f"{summary['appointment_passed']} failed reminder(s) not re-queued: "
            "the appointment has begun or is no longer booked")


@remind.command("preview")
@click.argument("appt_id")
@click.option("--channel", default=None, help="Preview this channel instead of the patient's choice.",
              cls=ListsValues, values="channels")
@output_options
@pass_app
def preview(app, fmt, appt_id, channel):
    """What a reminder would say, and to whom.

    The reminder for APPT_ID, rendered as it would be sent; nothing is sent.
    An SMS shows its encoding (GSM-7 or UCS-2) and number of segments.

    \b
    Examples:
      medsec remind preview A35
      medsec remind preview A35 --channel sms
      medsec remind preview A35 --channel email --json
    """
    from medsec.communications import reminders  # ~6 ms: followups need not pay

    shown = reminders.preview(app, appt_id, channel)
    if fmt == "table":
        # Plain text for a terminal: what a template made of stored data is printed escaped.
        click.echo(escape_controls(f"To: {shown['to']} ({shown['channel']}, {shown['kind']})"))
        if "segments" in shown:
            brief = ", shortened" if shown["brief"] else ""
            click.echo(f"SMS: {shown['encoding']}, {shown['segments']} segment(s) "
                       f"(limit {shown['max_segments']}{brief})")
        if shown["subject"]:
            click.echo(escape_controls(f"Subject: {shown['subject']}"))
        if shown["attachments"]:
            click.echo(escape_controls(f"Attachments: {', '.join(shown['attachments'])}"))
        click.echo("")
        click.echo(escape_controls(shown["text"], keep_newlines=True))
        if shown.get("too_late_for_letter"):
            say(f"note: the visit is less than {shown['letter_lead_days']} days away: "
                "no letter would arrive in time, none will be sent")
        if shown["opted_out"]:
            say("note: this patient opted out of reminders; none will be sent")
    else:
        render(shown, fmt)


@remind.command("list")
@click.option("--failed", is_flag=True, help="Only reminders that could not be sent.")
@click.option("--status", type=click.Choice(["sending", "sent", "retry", "pending", "failed", "skipped"]), default=None,
              help="Only reminders with this status.")
@date_range_options(first="no limit", last="no limit", what="a reminder was first tried")
@list_options
@output_options
@pass_app
def list_(app, fmt, failed, status, start, end, limit):
    """Reminders sent, to retry, skipped or failed.

    \b
    Examples:
      medsec remind list --limit 3
      medsec remind list --failed --from mon
    """
    from medsec.communications import reminders  # ~6 ms: followups need not pay

    first, last = day_span(app, start, end)
    render(reminders.list_reminders(app, failed=failed, status=status, limit=limit, first=first, last=last), fmt,
           reminders.COLUMNS)


@remind.command("followups")
@list_options
@output_options
@pass_app
def followups(app, fmt, limit):
    """Follow-up calls due.

    No-shows, visits due a follow-up, and recalls not answered. The CSV's
    patient_id column feeds 'mail send --to-list' as it is.

    \b
    Examples:
      medsec remind followups --format csv
      medsec remind followups --format csv -o calls-to-make.csv
    """
    render(due_followups(app, limit=limit), fmt, FOLLOWUP_COLUMNS)
