"""`medsec task`: the next steps staff owe, by owner, due date and priority."""

import click

from medsec.cli.common import limit_option, pass_app
from medsec.cli.output import output_options, render
from medsec.workflows import tasks as svc


@click.group()
def task():
    """Add tasks, list them (yours, overdue), mark them done."""


@task.command("add")
@click.argument("text")
@click.option("--for", "owner", required=True, help="Staff id (or a role's queue, e.g. front-desk).")
@click.option("--due", default=None, help="Due date (today, +3d, 2026-12-01 ...).")
@click.option("--patient", "patient_id", default=None, help="The patient it is about.")
@click.option("--priority", type=click.Choice(svc.PRIORITIES), default="normal")
@output_options
@pass_app
def add(app, fmt, text, owner, due, patient_id, priority):
    """Give a staff member a task."""
    render(svc.add_task(app, text, owner=owner, due=due, patient_id=patient_id, priority=priority), fmt)


@task.command("list")
@click.option("--mine", is_flag=True, help="Mine and my role's (--user matched to a staff id, login or email).")
@click.option("--for", "owner", default=None, help="Staff id or role.")
@click.option("--overdue", is_flag=True, help="Open and due before today.")
@click.option("--status", type=click.Choice(svc.STATUSES + ["all"]), default="open")
@click.option("--patient", "patient_id", default=None)
@limit_option
@output_options
@pass_app
def list_(app, fmt, mine, owner, overdue, status, patient_id, limit):
    """Tasks by priority, then due date, then oldest first."""
    render(svc.list_tasks(app, status=status, mine=mine, owner=owner, overdue=overdue, patient_id=patient_id,
                          limit=limit), fmt, svc.COLUMNS)


@task.command("show")
@click.argument("task_id")
@output_options
@pass_app
def show(app, fmt, task_id):
    """One task."""
    render(svc.show_task(app, task_id), fmt)


@task.command("done")
@click.argument("task_id")
@click.option("--note", default="", help="What was done, for whoever asked.")
@output_options
@pass_app
def done(app, fmt, task_id, note):
    """Mark a task done."""
    render(svc.done(app, task_id, note), fmt, svc.COLUMNS)
