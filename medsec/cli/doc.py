"""`medsec doc`: clinical documents, dictated or typed: correct, sign, print, send."""

import click

from medsec.cli.common import pass_app
from medsec.cli.names import STAFF
from medsec.cli.options import (
    date_range_options,
    day_span,
    list_options,
    mine_option,
    patient_option,
)
from medsec.cli.output import output_options, render
from medsec.workflows import clinical_docs as svc


def recipient_options(func):
    """`--to NAME|REFERRAL`, `--to-fax`, `--to-email`, `--to-address`: whom a document is addressed to."""
    for decorator in reversed([
        click.option("--to", "to", default=None, metavar="NAME|REFERRAL",
                     help="Addressed to: a name, or a referral id (its other party, fax and address)."),
        click.option("--to-fax", default=None, metavar="NUMBER", help="The recipient's fax number."),
        click.option("--to-email", default=None, metavar="ADDRESS", help="The recipient's email address."),
        click.option("--to-address", default=None, metavar="TEXT", help="The recipient's postal address."),
    ]):
        func = decorator(func)
    return func


def author_option(required: bool = True, help: str = "The author, who signs it (a staff id or name)."):
    """`--author STAFF`, passed as `author_id`."""
    return click.option("--author", "author_id", type=STAFF, required=required, default=None, metavar="STAFF",
                        help=help)


def kind_option(required: bool = True):
    return click.option("--kind", type=click.Choice(svc.KINDS), required=required, default=None,
                        help="What the document is.")


@click.group()
def doc():
    """Letters, reports and notes: correct, sign, send.

    Dictated documents come from 'medsec dictation add'; typed ones from
    'medsec doc new'. A draft is corrected by the secretary and signed by
    its author; the signed text is frozen (later words are an addendum).

    \b
    Examples:
      medsec doc list --unsigned --mine
      medsec doc new --patient P1 --author S1 --kind sick-note --file note.txt
      medsec doc show D1
    """


@doc.command("new")
@patient_option("patient_id", help="The patient the document is about (an id or a name).", required=True)
@author_option()
@kind_option()
@click.option("--title", default="", help="A title (default: the kind).")
@recipient_options
@click.option("--file", "text_file", type=click.File("r", encoding="utf-8"), required=True, metavar="FILE",
              help="The text ('-': standard input).")
@output_options
@pass_app
def new(app, fmt, patient_id, author_id, kind, title, to, to_fax, to_email, to_address, text_file):
    """Type a document (a draft for its author to sign).

    \b
    Examples:
      medsec doc new --patient P1 --author S1 --kind sick-note --file note.txt
      echo "Seen today; may return to work on Monday." | \\
          medsec doc new --patient P1 --author S1 --kind sick-note --file -
    """
    render(svc.type_document(app, patient_id, author_id=author_id, kind=kind, text=text_file.read(svc.TEXT_LIMIT + 1),
                             title=title, to=to, to_fax=to_fax, to_email=to_email, to_address=to_address), fmt)


@doc.command("list")
@click.option("--unsigned", is_flag=True, help="Only drafts not signed yet.")
@mine_option("documents I author")
@author_option(required=False, help="Only this author's (a staff id or name).")
@patient_option("patient_id")
@kind_option(required=False)
@date_range_options(first="no limit", last="no limit", what="a document was written")
@list_options
@output_options
@pass_app
def list_(app, fmt, unsigned, mine, author_id, patient_id, kind, start, end, limit):
    """Documents, oldest first.

    \b
    Examples:
      medsec doc list --unsigned --mine
      medsec doc list --patient P1
      medsec doc list --author S1 --kind consult --from 2026-11-01
    """
    first, last = day_span(app, start, end)
    render(svc.list_docs(app, unsigned=unsigned, mine=mine, author=author_id, patient_id=patient_id, kind=kind,
                         limit=limit, first=first, last=last), fmt, svc.COLUMNS)


@doc.command("show")
@click.argument("doc_id")
@output_options
@pass_app
def show(app, fmt, doc_id):
    """One document: its text, status, signature and addenda.

    \b
    Examples:
      medsec doc show D1
    """
    render(svc.show_doc(app, doc_id), fmt)
