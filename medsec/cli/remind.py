"""`medsec remind`: appointment reminders and follow-up calls."""

import click

from medsec.cli.common import limit_option, pass_app
from medsec.cli.output import output_options, render, say
from medsec.errors import InvalidInput, Refused


@click.group()
def remind():
    """Send reminders (from cron), preview them, list follow-up calls."""


@remind.command("send")
@click.option("--for", "for_day", default=None, help="Remind every appointment on this day.")
@click.option("--within", default=None, help="Remind appointments within this window, e.g. 48h.")
@click.option("--channel", default=None, help="Send through this channel instead of each patient's choice.")
@click.option("--dry-run", is_flag=True, help="Show what would go out; send and record nothing.")
@output_options
@pass_app
def send(app, fmt, for_day, within, channel, dry_run):
    """Send the reminders that are due (by each type's lead times unless --for/--within).

    Safe to run from several cron jobs: each reminder goes out once. Exit 0
    only when every due reminder was sent or deliberately skipped.
    """
    from medsec.communications import reminders

    if for_day and within:
        raise InvalidInput("give --for or --within, not both")
    summary = reminders.send(app, for_day=app.parse_date(for_day, "--for") if for_day else None,
                             within=reminders.parse_within(within) if within else None,
                             channel=channel, dry_run=dry_run)
    for r in summary["reminders"]:
        if r["status"] not in ("sent", "would-send"):
            say(f"{r['appointment_id']} {r['patient_id']}: {r['status']}: {r['reason']}")
    rows = summary.pop("reminders")
    render(rows if fmt != "table" else summary, fmt, reminders.COLUMNS)
    if fmt == "table":
        say(f"due {summary['due']}: sent {summary['sent']}, skipped {summary['skipped']}, "
            f"retry later {summary['retry']}, failed {summary['failed']}")
    if summary["failed"] or summary["retry"]:
        raise Refused(f"{summary['failed'] + summary['retry']} reminder(s) not sent",
                      hint="see 'medsec remind list --failed'")


@remind.command("preview")
@click.argument("appt_id")
@click.option("--channel", default=None)
@output_options
@pass_app
def preview(app, fmt, appt_id, channel):
    """Exactly what the reminder for APPT would say, and where it would go."""
    from medsec.communications import reminders

    shown = reminders.preview(app, appt_id, channel)
    if fmt == "table":
        click.echo(f"To: {shown['to']} ({shown['channel']}, {shown['kind']})")
        if shown["subject"]:
            click.echo(f"Subject: {shown['subject']}")
        if shown["attachments"]:
            click.echo(f"Attachments: {', '.join(shown['attachments'])}")
        click.echo("")
        click.echo(shown["text"])
        if shown["opted_out"]:
            say("note: this patient opted out of reminders; none will be sent")
    else:
        render(shown, fmt)


@remind.command("list")
@click.option("--failed", is_flag=True, help="Only reminders that could not be sent.")
@click.option("--status", type=click.Choice(["sending", "sent", "retry", "failed", "skipped"]), default=None)
@limit_option
@output_options
@pass_app
def list_(app, fmt, failed, status, limit):
    """Reminders sent, waiting for a retry, skipped or failed."""
    from medsec.communications import reminders

    render(reminders.list_reminders(app, failed=failed, status=status, limit=limit), fmt, reminders.COLUMNS)


@remind.command("followups")
@output_options
@pass_app
def followups(app, fmt):
    """Follow-up calls due: no-shows, visits due a follow-up, unanswered recalls."""
    from medsec.communications.followups import COLUMNS, due_followups

    render(due_followups(app), fmt, COLUMNS)
