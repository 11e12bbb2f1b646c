"""`medsec memo`: memos to staff from templates, by email or the outbox."""

import click

from medsec.cli.common import pass_app
from medsec.cli.options import date_range_options, day_span, list_options, mine_option, renamed_option
from medsec.cli.output import output_options, render, say
from medsec.communications import memos as svc


@click.group()
def memo():
    """Memos to staff from templates.

    \b
    Examples:
      medsec memo new --staff S1,S2 --subject "Fire drill" --var body="Fire drill at 3pm"
      medsec memo list --mine
    """


@memo.command("new")
@click.option("--template", default="memo", show_default=True, help="A message template (see templates/messages).")
@renamed_option("--staff", "to", was="--to", multiple=True, required=True, metavar="STAFF",
                help="Who gets it: staff ids (S1,S2), a role (front-desk) or all; repeatable.")
@click.option("--subject", default=None, help="The subject (default: the template's).")
@click.option("--var", "variables", multiple=True, metavar="KEY=VALUE",
              help="A value for the template (repeatable), e.g. --var body='Fire drill at 3pm'.")
@output_options
@pass_app
def new(app, fmt, template, to, subject, variables):
    """Write a memo and deliver it to staff.

    The memo is rendered to text and PDF and goes by email or to the outbox.
    --staff takes staff ids, roles (every active member with the role:
    front-desk, physician, nurse, biller, manager, admin) and all (every
    active member), mixed as wanted; each member gets one copy.

    \b
    Examples:
      medsec memo new --staff S1,S2 --subject "Fire drill" --var body="Fire drill at 3pm"
      medsec memo new --staff S1 --staff S3 --subject "Holiday hours" --var body="Closed Dec 25"
      medsec memo new --staff all --subject "Flu shots" --var body="Saturday 9 to 12"
      medsec memo new --staff front-desk,S3 --subject "New fax number" --var body="617-555-0199"
    """
    record = svc.new_memo(app, template=template, to=list(to), subject=subject,
                          variables=svc.parse_vars(variables))
    for entry in record["deliveries"]:
        if entry["status"] == "failed":
            say(f"medsec: warning: {entry['staff_id']} did not get the memo: {entry['reason']}")
    render(record, fmt)


@memo.command("list")
@mine_option("memos to me")
@date_range_options(first="no limit", last="no limit", what="a memo was written")
@list_options
@output_options
@pass_app
def list_(app, fmt, mine, start, end, limit):
    """Memos in the order written.

    With --limit N, the latest N.

    \b
    Examples:
      medsec memo list
      medsec memo list --mine --limit 5
      medsec memo list --from 2026-12-01 -o memos.csv --format csv
    """
    first, last = day_span(app, start, end)
    render(svc.list_memos(app, mine=mine, limit=limit, first=first, last=last), fmt, svc.COLUMNS)


@memo.command("show")
@click.argument("memo_id")
@output_options
@pass_app
def show(app, fmt, memo_id):
    """One memo: its text and who got it how.

    \b
    Examples:
      medsec memo show M1
    """
    render(svc.show_memo(app, memo_id), fmt)
