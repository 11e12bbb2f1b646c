"""`medsec staff`: the roster, working hours and time off."""

import click

from medsec.cli.common import pass_app
from medsec.cli.output import output_options, render
from medsec.config import ROLES
from medsec.records import staff as svc


@click.group()
def staff():
    """The staff roster: roles, NPIs, working hours, time off."""


@staff.command("add")
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--npi", default="", help="10-digit NPI (required for physicians).")
@click.option("--email", default="")
@click.option("--phone", default="")
@output_options
@pass_app
def add(app, fmt, **fields):
    """Add a staff member."""
    render(svc.add_staff(app, **fields), fmt)


@staff.command("list")
@click.option("--role", type=click.Choice(ROLES), default=None)
@output_options
@pass_app
def list_(app, fmt, role):
    """List the staff."""
    members = [m for m in svc.roster(app) if role is None or m.get("role") == role]
    render(members, fmt, svc.LIST_COLUMNS)


@staff.command("show")
@click.argument("staff_id")
@output_options
@pass_app
def show(app, fmt, staff_id):
    """Show one staff member."""
    render(svc.get_staff(app, staff_id), fmt)


@staff.command("edit")
@click.argument("staff_id")
@click.option("--name", default=None)
@click.option("--role", type=click.Choice(ROLES), default=None)
@click.option("--npi", default=None)
@click.option("--email", default=None)
@click.option("--phone", default=None)
@click.option("--active/--inactive", default=None, help="Inactive staff stay on record.")
@output_options
@pass_app
def edit(app, fmt, staff_id, **fields):
    """Change a staff member's details."""
    render(svc.edit_staff(app, staff_id, **fields), fmt)


@staff.command("hours")
@click.argument("staff_id")
@click.option("--day", "days", multiple=True, help="mon, mon-fri or mon,wed (repeatable).")
@click.option("--from", "starts", multiple=True, help="Block start HH:MM (repeat with --to for a split day).")
@click.option("--to", "ends", multiple=True, help="Block end HH:MM.")
@click.option("--off", is_flag=True, help="Not working on these days.")
@output_options
@pass_app
def hours(app, fmt, staff_id, days, starts, ends, off):
    """Show or set weekly working hours.

    \b
    medsec staff hours S1 --day mon-fri --from 08:00 --to 12:00 --from 13:00 --to 17:00
    medsec staff hours S1 --day wed --off
    """
    if days or starts or ends or off:
        member = svc.set_hours(app, staff_id, svc.parse_days(days), list(starts), list(ends), off)
    else:
        member = svc.get_staff(app, staff_id)
    render(svc.hours_rows(member), fmt, ["day", "hours"])


@staff.command("off")
@click.argument("staff_id")
@click.option("--from", "start", default=None, help="First day off.")
@click.option("--to", "end", default=None, help="Last day off (default: the first).")
@click.option("--reason", default="")
@click.option("--remove", default=None, metavar="DATE", help="Remove the time off starting DATE.")
@output_options
@pass_app
def off(app, fmt, staff_id, start, end, reason, remove):
    """Show, add or remove time off."""
    if remove:
        member = svc.remove_time_off(app, staff_id, remove)
    elif start:
        member = svc.add_time_off(app, staff_id, start, end, reason)
    else:
        member = svc.get_staff(app, staff_id)
    render(member.get("time_off") or [], fmt, ["from", "to", "reason"])
