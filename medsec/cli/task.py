"""`medsec task`: the next steps staff owe, by owner, due date and priority."""

import click

from medsec.cli.common import pass_app
from medsec.cli.options import (
    date_option,
    date_range_options,
    day_span,
    list_options,
    mine_option,
    note_option,
    patient_option,
    staff_option,
    status_filter_option,
)
from medsec.cli.output import output_options, render
from medsec.workflows import tasks as svc


@click.group()
def task():
    """Staff tasks: add, list, mark done.

    \b
    Examples:
      medsec task add "Call back about the bill" --staff S5 --due +2d --patient P1
      medsec task list --mine --overdue
    """


@task.command("add")
@click.argument("text")
@staff_option("owner", help="Who owes it: a staff id or name, or a role's queue (e.g. front-desk).", required=True,
              was="--for")
@date_option("--due", help="Due date")
@patient_option("patient_id", help="The patient it is about.")
@click.option("--priority", type=click.Choice(svc.PRIORITIES), default="normal", show_default=True,
              help="Higher priorities are listed first.")
@output_options
@pass_app
def add(app, fmt, text, owner, due, patient_id, priority):
    """Give a staff member (or a role) a task.

    \b
    Examples:
      medsec task add "Call back about the bill" --staff S5 --due +2d --patient P1 --priority high
      medsec task add "Restock the flu vaccine" --staff front-desk
    """
    render(svc.add_task(app, text, owner=owner, due=due, patient_id=patient_id, priority=priority), fmt)


@task.command("list")
@mine_option("mine and my role's")
@staff_option("owner", help="Only this staff member's (a staff id or name) or role's tasks.", was="--for")
@click.option("--overdue", is_flag=True, help="Open and due before today.")
@status_filter_option(svc.STATUSES + ["all"], "open", "tasks")
@patient_option("patient_id")
@date_range_options(first="no limit", last="no limit", what="a task was added")
@list_options
@output_options
@pass_app
def list_(app, fmt, mine, owner, overdue, status, patient_id, start, end, limit):
    """Tasks by priority, due date, then age.

    \b
    Examples:
      medsec task list --overdue
      medsec task list --mine
      medsec task list --staff front-desk --status all
    """
    first, last = day_span(app, start, end)
    render(svc.list_tasks(app, status=status, mine=mine, owner=owner, overdue=overdue, patient_id=patient_id,
                          limit=limit, first=first, last=last), fmt, svc.COLUMNS)


@task.command("show")
@click.argument("task_id")
@output_options
@pass_app
def show(app, fmt, task_id):
    """One task.

    \b
    Examples:
      medsec task show K1
    """
    render(svc.show_task(app, task_id), fmt)


@task.command("done")
@click.argument("task_id")
@note_option(help="What was done, for whoever asked.")
@output_options
@pass_app
def done(app, fmt, task_id, note):
    """Mark a task done.

    \b
    Examples:
      medsec task done K1 --note "called, paid by card"
    """
    render(svc.done(app, task_id, note), fmt, svc.COLUMNS)
