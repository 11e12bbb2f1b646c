"""`medsec staff`: the roster, working hours and time off."""

import click

from medsec.cli.common import pass_app
from medsec.cli.options import date_option, list_options, reason_option, staff_argument
from medsec.cli.output import inform, output_options, render, say
from medsec.cli.signin import passphrase_options
from medsec.errors import InvalidInput, Refused
from medsec.records import staff as svc
from medsec.security.principal import may_grant
from medsec.vocabulary import ROLES

NAME_HELP = "Full name as shown to patients, e.g. 'Dr. Ada Byron'."
ROLE_HELP = "The staff member's role."
NPI_HELP = "10-digit NPI (required for physicians)."
EMAIL_HELP = "Email address (memos and meeting invitations go there)."
PHONE_HELP = "Phone number; an extension may follow (617-555-0100 ext 12)."


@click.group()
def staff():
    """The roster: roles, NPIs, hours, time off.

    \b
    Examples:
      medsec staff list --role physician
      medsec staff hours S9 --day mon-fri --from 08:00 --to 17:00
      medsec staff off S9 --from 2026-12-24 --to 2026-12-31 --reason holidays
    """


@staff.command("add")
@click.option("--name", required=True, help=NAME_HELP)
@click.option("--role", required=True, type=click.Choice(ROLES), help=ROLE_HELP)
@click.option("--npi", default="", help=NPI_HELP)
@click.option("--email", default="", help=EMAIL_HELP)
@click.option("--phone", default="", help=PHONE_HELP)
@output_options
@pass_app
def add(app, fmt, **fields):
    """Add a staff member.

    \b
    Examples:
      medsec staff add --name "Dr. Ada Byron" --role physician --npi 1234567893 \\
          --email ada.byron@example.org
    """
    may_grant(app, fields["role"])
    render(svc.add_staff(app, **fields), fmt)


@staff.command("list")
@click.option("--role", type=click.Choice(ROLES), default=None, help="Only staff with this role.")
@list_options
@output_options
@pass_app
def list_(app, fmt, role, limit):
    """List the staff.

    \b
    Examples:
      medsec staff list
      medsec staff list --role physician --json
    """
    members = [m for m in svc.roster(app) if role is None or m.get("role") == role]
    render(members[:limit] if limit else members, fmt, svc.LIST_COLUMNS)


@staff.command("show")
@staff_argument()
@output_options
@pass_app
def show(app, fmt, staff_id):
    """Show one staff member.

    Hours read a day a line, e.g. "mon: 08:00-12:00, 13:00-17:00" (in
    CSV one cell, days apart by "; "); JSON and YAML keep them as data.

    \b
    Examples:
      medsec staff show S1
      medsec staff show S1 --json
    """
    member = svc.get_staff(app, staff_id)
    if fmt == "csv":  # a cell each: the table spells the nested data out a day (a span) a line itself
        member = {**member, "hours": "; ".join(svc.hours_lines(member)),
                  "time_off": " / ".join(svc.time_off_lines(member))}
    render(member, fmt)


@staff.command("edit")
@staff_argument()
@click.option("--name", default=None, help=NAME_HELP)
@click.option("--role", type=click.Choice(ROLES), default=None, help=ROLE_HELP)
@click.option("--npi", default=None, help=NPI_HELP)
@click.option("--email", default=None, help=EMAIL_HELP)
@click.option("--phone", default=None, help=PHONE_HELP)
@click.option("--active/--inactive", default=None, help="Inactive staff stay on record.")
@output_options
@pass_app
def edit(app, fmt, staff_id, **fields):
    """Change a staff member's details.

    \b
    Examples:
      medsec staff edit S9 --phone 617-555-0190
      medsec staff edit S4 --inactive
    """
    if fields.get("role"):
        may_grant(app, fields["role"])
    render(svc.edit_staff(app, staff_id, **fields), fmt)


@staff.command("deactivate")
@staff_argument()
@output_options
@pass_app
def deactivate(app, fmt, staff_id):
    """Offboard a staff member, at once.

    Marks them inactive, ends every session they have (a shell still
    signed in as them is refused from then on) and forgets their
    passphrase; audited. Their history stays: they stay on the roster,
    inactive, and the audit log keeps naming them. Deactivating yourself
    or the last active administrator is refused (exit 1). To bring them
    back: staff edit ID --active, then staff passphrase ID.

    \b
    Examples:
      medsec staff deactivate S6
    """
    render(svc.deactivate_staff(app, staff_id), fmt)


@staff.command("hours")
@staff_argument()
@click.option("--day", "days", multiple=True, metavar="DAYS", help="mon, mon-fri or mon,wed (repeatable).")
@click.option("--from", "starts", multiple=True, metavar="HH:MM",
              help="Block start (repeat with --to for a split day).")
@click.option("--to", "ends", multiple=True, metavar="HH:MM", help="Block end.")
@click.option("--off", is_flag=True, help="Not working on these days.")
@output_options
@pass_app
def hours(app, fmt, staff_id, days, starts, ends, off):
    """Show or set weekly working hours.

    Without options, shows them.

    \b
    Examples:
      medsec staff hours S1 --day mon-fri --from 08:00 --to 12:00 --from 13:00 --to 17:00
      medsec staff hours S1 --day wed --off
      medsec staff hours S1
    """
    if days or starts or ends or off:
        member = svc.set_hours(app, staff_id, svc.parse_days(days), list(starts), list(ends), off)
    else:
        member = svc.get_staff(app, staff_id)
    render(svc.hours_rows(member), fmt, ["day", "hours"])


STRANDED_COLUMNS = ["id", "start", "patient_id", "patient", "type", "status"]
PLAN_COLUMNS = ["id", "patient_id", "patient", "type", "was", "start", "provider", "room"]
DONE_COLUMNS = ["id", "patient_id", "patient", "type", "was", "action", "start", "provider", "notified"]


@staff.command("off")
@staff_argument()
@date_option("--from", "start", help="First day off")
@date_option("--to", "end", help="Last day off", default_text="the first")
@reason_option()
@click.option("--reschedule", "choice", flag_value="reschedule", default=None,
              help="Move each visit it strands to the patient's next free slot; tell each patient.")
@click.option("--cancel-and-notify", "choice", flag_value="cancel",
              help="Cancel each visit it strands; ask each patient to call to rebook.")
@click.option("--keep", "choice", flag_value="keep",
              help="Keep the visits it strands; recorded as a choice, shown in report coverage.")
@click.option("--yes", is_flag=True, help="Book the moves of --reschedule without asking.")
@date_option("--remove", help="Remove the time off starting this day")
@output_options
@pass_app
def off(app, fmt, staff_id, start, end, reason, choice, yes, remove):
    """Show, add or remove time off.

    Time off over booked visits is refused (exit 1, the visits listed)
    until you choose what happens to them: --reschedule (each moves to
    the patient's next free slot of its type, with another provider or
    on another day; booked once you confirm, or with --yes; each
    patient told once through their channel), --cancel-and-notify, or
    --keep (recorded, and listed by report coverage).

    \b
    Examples:
      medsec staff off S9 --from 2026-12-24 --to 2026-12-31 --reason holidays
      medsec staff off S9 --remove 2026-12-24
      medsec staff off S9
    """
    if (choice or yes) and not start:
        raise InvalidInput("--reschedule, --cancel-and-notify, --keep and --yes go with --from")
    if remove:
        member = svc.remove_time_off(app, staff_id, remove)
    elif start:
        _take_time_off(app, fmt, staff_id, start, end, reason, choice, yes)
        return
    else:
        member = svc.get_staff(app, staff_id)
    render(member.get("time_off") or [], fmt, ["from", "to", "reason"])


def _take_time_off(app, fmt, staff_id, start, end, reason, choice, yes) -> None:
    from medsec.cli.names import interactive
    from medsec.workflows import timeoff

    def confirm(rows: list[dict]) -> bool:
        if yes:
            return True
        render(rows, fmt, PLAN_COLUMNS)
        if not interactive(click.get_current_context()):
            raise Refused(f"{len(rows)} visit(s) would move (above); nothing changed",
                          hint="give --yes to book these moves and tell the patients")
        return click.confirm(f"Move these {len(rows)} visit(s) and tell each patient?", err=True)

    try:
        summary = timeoff.take_time_off(app, staff_id, start, end, reason, choice=choice, confirm=confirm)
    except timeoff.Stranded as e:
        render(e.visits, fmt, STRANDED_COLUMNS)
        raise
    if fmt != "table":
        render(summary, fmt)
    elif not summary["visits"]:
        render(summary["time_off"], fmt, ["from", "to", "reason"])
    else:
        render([{**v, "notified": _notified(v.get("notice"))} for v in summary["visits"]], fmt, DONE_COLUMNS)
        inform(f"time off recorded for {summary['staff_id']} {summary['from']}..{summary['to']}: "
               f"{len(summary['visits'])} visit(s) {'kept' if choice == 'keep' else 'handled'}")
    left = [v for v in summary["visits"] if v["action"] in ("not moved", "not cancelled")]
    if left:
        verb = "moved" if choice == "reschedule" else "cancelled"
        raise Refused(f"time off recorded, but {len(left)} visit(s) could not be {verb}: "
                      f"{', '.join(v['id'] for v in left)}",
                      hint="move each with 'medsec appt reschedule ID --at next --any'" if choice == "reschedule"
                      else "see each with 'medsec appt show ID'",
                      details=[f"{v['id']}: {v['reason']}" for v in left])


def _notified(notice: dict | None) -> str:
    if not notice:
        return ""
    if notice["status"] == "sent":
        return f"{notice['kind']} via {notice['channel']}"
    return f"failed: {notice['reason']}" + (f" (task {notice['task']})" if notice.get("task") else "")


@staff.command("passphrase")
@click.argument("staff_id")
@passphrase_options
@pass_app
def passphrase(app, staff_id, passphrase_file, passphrase_fd):
    """Set or reset a staff member's passphrase.

    Asked twice on the terminal (or read from --passphrase-file or
    --passphrase-fd). At least 12 characters, not a common one, and not
    holding the person's id or name. A reset forgets failed attempts; the
    member's sessions go on until they end. Your own, changed while signed
    in, keeps your signing key; set by someone else, a new key pair is made
    (the old public keys stay, so earlier signatures still verify).

    \b
    Examples:
      medsec staff passphrase S3
      medsec staff passphrase S3 --passphrase-file ./s3-passphrase
    """
    from medsec.security.passphrase import check_strength, hash_passphrase, read_passphrase
    from medsec.security.principal import SIGNED_IN, mode, signed_in
    from medsec.security.sessions import set_passphrase

    member = svc.get_staff(app, staff_id)
    me = None
    if mode(app) == SIGNED_IN:  # your own, or anyone's with staff.manage
        me = signed_in(app)
        if me.user != member["id"] and "staff.manage" not in me.permissions:
            raise Refused(f"{me.user} ({me.role}) may set only their own passphrase: setting {member['id']}'s "
                          "needs the permission 'staff.manage'")
    text = read_passphrase(file=passphrase_file, fd=passphrase_fd, prompt=f"new passphrase for {member['id']}: ",
                           confirm=passphrase_file is None and passphrase_fd is None)
    check_strength(text, staff_id=member["id"], name=str(member.get("name") or ""))
    from medsec.security.sessions import keys_for_new_passphrase

    # The signing key: re-wrapped when you change your own (your session carries it), else a new pair.
    set_passphrase(app, member["id"], hash_passphrase(text), keys_for_new_passphrase(
        app, member["id"], text, me.session if me is not None and me.user == member["id"] else None))
    app.audit("passphrase set", [member["id"]])
    say(f"passphrase set for {member['id']}")
