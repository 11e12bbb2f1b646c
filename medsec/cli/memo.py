"""`medsec memo`: memos to staff from templates, by email or the outbox."""

import click

from medsec.cli.common import limit_option, pass_app
from medsec.cli.output import output_options, render, say
from medsec.communications import memos as svc


@click.group()
def memo():
    """Write memos to staff from templates; list and show them."""


@memo.command("new")
@click.option("--template", default="memo", show_default=True, help="A message template (see templates/messages).")
@click.option("--to", "to", multiple=True, required=True, help="Staff ids, e.g. S1,S2 (repeatable).")
@click.option("--subject", default=None, help="The subject (default: the template's).")
@click.option("--var", "variables", multiple=True, metavar="KEY=VALUE",
              help="A value for the template (repeatable), e.g. --var body='Fire drill at 3pm'.")
@output_options
@pass_app
def new(app, fmt, template, to, subject, variables):
    """Render a memo to text and PDF and deliver it to each recipient."""
    record = svc.new_memo(app, template=template, to=list(to), subject=subject,
                          variables=svc.parse_vars(variables))
    for entry in record["deliveries"]:
        if entry["status"] == "failed":
            say(f"medsec: warning: {entry['staff_id']} did not get the memo: {entry['reason']}")
    render(record, fmt)


@memo.command("list")
@click.option("--mine", is_flag=True, help="Memos to me (--user matched to a staff id, login or email).")
@limit_option
@output_options
@pass_app
def list_(app, fmt, mine, limit):
    """Memos in the order written (--limit N: the latest N)."""
    render(svc.list_memos(app, mine=mine, limit=limit), fmt, svc.COLUMNS)


@memo.command("show")
@click.argument("memo_id")
@output_options
@pass_app
def show(app, fmt, memo_id):
    """One memo: its text and who got it how."""
    render(svc.show_memo(app, memo_id), fmt)
