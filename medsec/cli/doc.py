"""`medsec doc`: clinical documents, dictated or typed: correct, sign, print, send."""

import click

from medsec.cli.common import pass_app
from medsec.cli.names import STAFF
from medsec.cli.options import (
    date_range_options,
    day_span,
    list_options,
    mine_option,
    output_file_option,
    patient_option,
    staff_option,
)
from medsec.cli.output import is_quiet, output_options, render, say
from medsec.text import escape_controls
from medsec.workflows import clinical_docs as svc


def recipient_options(func):
    """`--recipient NAME|REFERRAL`, `--fax`, `--email`, `--address` (passed as `to`, `to_fax`, `to_email`,
    `to_address`): whom a document is addressed to."""
    for decorator in reversed([
        click.option("--recipient", "to", default=None, metavar="NAME|REFERRAL",
                     help="Addressed to: a name, or a referral id (its other party, fax and address)."),
        click.option("--fax", "to_fax", default=None, help="The recipient's fax number."),
        click.option("--email", "to_email", default=None, metavar="ADDRESS", help="The recipient's email address."),
        click.option("--address", "to_address", default=None, help="The recipient's postal address."),
    ]):
        func = decorator(func)
    return func


def author_option(required: bool = True,
                  help: str = "The author, who signs it (a staff id or name; a role that may sign)."):
    """`--author STAFF`, passed as `author_id`."""
    return click.option("--author", "author_id", type=STAFF, required=required, default=None, metavar="STAFF",
                        help=help)


def kind_option(required: bool = True):
    return click.option("--kind", type=click.Choice(svc.KINDS), required=required, default=None,
                        help="What the document is.")


def read_text(path: str) -> str:
    """A document's text from --file (a regular file or '-'), as UTF-8; InvalidInput (exit 2) for
    anything else (not UTF-8, a device, past the attachment limit)."""
    from medsec.errors import InvalidInput
    from medsec.inputs import ATTACHMENT, read_input
    from medsec.text import shown

    try:
        return read_input(path, ATTACHMENT).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"--file {shown(path)} is not UTF-8 text") from None


@click.group()
def doc():
    """Letters and reports: correct, sign, send.

    Dictated documents come from 'medsec dictation add'; typed ones from
    'medsec doc new'. A draft is corrected by the secretary and signed by
    its author; the signed text is frozen (later words are an addendum).

    \b
    Examples:
      medsec doc list --unsigned --mine
      medsec doc show D1
      medsec doc sign D1
    """


@doc.command("new")
@patient_option("patient_id", help="The patient the document is about (an id or a name).", required=True)
@author_option()
@kind_option()
@click.option("--title", default="", help="A title (default: the kind).")
@recipient_options
@click.option("--file", "text_file", required=True, metavar="FILE", help="The text ('-': standard input).")
@output_options
@pass_app
def new(app, fmt, patient_id, author_id, kind, title, to, to_fax, to_email, to_address, text_file):
    """Type a document for its author to sign.

    \b
    Examples:
      medsec doc new --patient P1 --author S1 --kind letter --recipient RF1 --file -
      echo "Seen today; may return to work on Monday." | \\
          medsec doc new --patient P1 --author S1 --kind sick-note --file -
    """
    render(svc.type_document(app, patient_id, author_id=author_id, kind=kind, text=read_text(text_file),
                             title=title, to=to, to_fax=to_fax, to_email=to_email, to_address=to_address), fmt)


@doc.command("list")
@click.option("--unsigned", is_flag=True, help="Only drafts not signed yet.")
@mine_option("documents I author")
@staff_option("author_id", help="Only this author's (a staff id or name).")
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
      medsec doc list --staff S1 --kind consult --from 2026-11-01
    """
    first, last = day_span(app, start, end)
    render(svc.list_docs(app, unsigned=unsigned, mine=mine, author=author_id, patient_id=patient_id, kind=kind,
                         limit=limit, first=first, last=last), fmt, svc.COLUMNS)


@doc.command("show")
@click.argument("doc_id")
@output_options
@pass_app
def show(app, fmt, doc_id):
    """One document, its signature and addenda.

    The table gives the document's particulars, then its text (its long
    lines wrapped to the terminal); --json gives everything as stored, a
    dictation's words with their timings too.

    \b
    Examples:
      medsec doc show D1
    """
    record = svc.show_doc(app, doc_id)
    if fmt != "table":
        render(record, fmt)
        return
    transcript = record.get("transcript")
    if transcript:
        transcript = {k: v for k, v in transcript.items() if k != "words"}
    render({**{k: v for k, v in record.items() if k != "text"}, "transcript": transcript}, fmt)
    if not is_quiet():
        import shutil
        import textwrap

        width = min(100, shutil.get_terminal_size().columns)  # the text's own lines, wrapped to be read
        click.echo("")
        for line in escape_controls(record["text"], keep_newlines=True).splitlines():
            click.echo(textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False) if line else "")


# -- signing, addenda, the letterhead PDF, sending (medsec.workflows.doc_signing) ------------------------


@doc.command("sign")
@click.argument("doc_id")
@output_options
@pass_app
def sign(app, fmt, doc_id):
    """Sign a draft as its author; file it.

    Only the document's author signs it (the acting user: --user or
    MEDSEC_USER, or who signed in), once no word is left marked unsure
    ([?word]). The signed text is frozen (later words are an addendum);
    the letter on the practice's letterhead is filed in the patient's
    chart and the author's task to sign it is done. In a signed-in
    practice the signature is the author's own key ('medsec verify D1').

    \b
    Examples:
      medsec doc sign D1
      MEDSEC_USER=S1 medsec doc sign D2
    """
    from medsec.workflows import doc_signing

    render(doc_signing.sign(app, doc_id), fmt)


@doc.command("addendum")
@click.argument("doc_id")
@click.option("--file", "text_file", required=True, metavar="FILE",
              help="The addendum's text ('-': standard input).")
@author_option(required=False, help="Its author, who signs it (default: the document's author).")
@output_options
@pass_app
def addendum(app, fmt, doc_id, text_file, author_id):
    """Add to a signed document (a new draft).

    The addendum is a draft of its own for the same patient and
    recipient, signed with 'medsec doc sign' like any other; the signed
    document's PDF carries its signed addenda after it.

    \b
    Examples:
      medsec doc addendum D1 --file -
      echo "Potassium came back normal." | medsec doc addendum D1 --file -
    """
    from medsec.workflows import doc_signing

    render(doc_signing.addendum(app, doc_id, read_text(text_file), author_id=author_id), fmt)


@doc.command("pdf")
@click.argument("doc_id")
@output_file_option(help="Write the PDF to FILE ('-': standard output).", required=True)
@pass_app
def pdf(app, doc_id, output):
    """Print a document on the letterhead (PDF).

    The practice's letterhead, the date, the recipient, the patient, the
    text and the signature (a draft says DRAFT), then each signed
    addendum. Template clinical-letter (a practice may override it).

    \b
    Examples:
      medsec doc pdf D1 -o ./letter-D1.pdf
    """
    from medsec.workflows import doc_signing

    say(f"wrote {doc_signing.pdf(app, doc_id, output)['file']}")


@doc.command("send")
@click.argument("doc_id")
@click.option("--fax", default=None, help="Fax it to this number (default: the recipient's fax).")
@click.option("--email", default=None, metavar="ADDRESS", help="Email it to ADDRESS (default: the recipient's).")
@click.option("--again", is_flag=True, help="Send it where it was sent before once more.")
@output_options
@pass_app
def send(app, fmt, doc_id, fax, email, again):
    """Fax or email a signed document.

    To the document's recipient (their fax, else their email) unless
    --fax or --email says where; on the letterhead with its signed
    addenda, by fax behind the cover sheet (in 'fax list') or by email
    with the PDF attached (in 'mail list'); both are in 'report
    disclosures'. The same destination twice needs --again.

    \b
    Examples:
      medsec doc send D1
      medsec doc send D1 --fax 617-555-0199
      medsec doc send D1 --email records@example.org
    """
    from medsec.workflows import doc_signing

    render(doc_signing.send(app, doc_id, fax=fax, email=email, again=again), fmt)


@doc.command("edit")
@click.argument("doc_id")
@click.option("--file", "text_file", default=None, metavar="FILE",
              help="The corrected text from FILE ('-': standard input) instead of an editor.")
@output_options
@pass_app
def edit(app, fmt, doc_id, text_file):
    """Correct a draft in $EDITOR (or from a file).

    The editor ($VISUAL, else $EDITOR, else vi) is given two files: the
    draft, and D1.timings.txt beside it: one line per dictated word with
    where it is in the audio (m:ss.s), the transcriber's confidence and a
    ? for a word it was unsure of ([?word] in the draft): play that
    passage with 'medsec doc play D1 --at 0:12'. Only the draft is read
    back, and saved only when it changed. A draft another desk saved
    meanwhile is not overwritten (exit 1; your text is kept in a file
    named on the error line). A signed document is refused: add an
    addendum.

    \b
    Examples:
      medsec doc edit D1
      medsec doc edit D1 --file corrected.txt
    """
    base = svc.get_doc(app, doc_id)
    svc.require_draft(base, "be edited")
    if text_file is not None:
        render(_save_edit(app, doc_id, read_text(text_file), base, None if text_file == "-" else text_file), fmt)
        return
    render(_edit_in_editor(app, doc_id, base), fmt)


def _save_edit(app, doc_id: str, text: str, base: dict, kept: str | None) -> dict:
    """Save an edit; when it is refused, the text stays in a file the error names (`kept`, or a
    private file written now)."""
    import os
    import tempfile

    from medsec.errors import MedsecError
    from medsec.workflows import dictation as dsvc

    try:
        return dsvc.edit(app, doc_id, text, base)
    except MedsecError as e:
        if kept is None:
            fd, kept = tempfile.mkstemp(prefix=f"medsec-{base['id']}-", suffix=".txt")  # 0600
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
        e.hint = f"your text is kept in {kept}" + (f"; {e.hint}" if e.hint else "")
        raise


def _edit_in_editor(app, doc_id: str, base: dict) -> dict:
    import os
    import shutil
    import tempfile

    from medsec.cli.configdocs import run_editor
    from medsec.errors import EnvironmentFailure
    from medsec.workflows import dictation as dsvc

    folder = tempfile.mkdtemp(prefix="medsec-edit-")  # 0700: only this user can see into it
    draft = os.path.join(folder, f"{base['id']}.txt")
    side = os.path.join(folder, f"{base['id']}.timings.txt")
    for path, content in ((draft, base["text"]), (side, dsvc.timings(base, dsvc.unsure_below(app)))):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
    keep = False
    try:
        run_editor([draft, side])
        try:
            with open(draft, encoding="utf-8") as f:
                text = f.read(svc.TEXT_LIMIT + 1)
        except FileNotFoundError:
            raise EnvironmentFailure(f"the editor removed {base['id']}.txt: nothing was saved") from None
        except UnicodeDecodeError:
            keep = True
            raise EnvironmentFailure("the edited text is not UTF-8: nothing was saved",
                                     hint=f"your text is kept in {draft}") from None
        keep = True
        result = _save_edit(app, doc_id, text, base, draft)
        keep = False
        return result
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)  # with any backup or swap file the editor left
        else:
            for name in os.listdir(folder):
                if os.path.join(folder, name) != draft:
                    os.remove(os.path.join(folder, name))


@doc.command("play")
@click.argument("doc_id")
@click.option("--at", "at", default=None, metavar="M:SS",
              help="Start this far into the audio (seconds, m:ss or h:mm:ss).")
@pass_app
def play(app, doc_id, at):
    """Play a dictated document's audio.

    With dictation.yaml's `player` (a command as a list, {file} and {at}
    replaced by the audio file and the start in seconds), else the first
    found of sox's play, ffplay and aplay (aplay cannot start at --at).

    \b
    Examples:
      medsec doc play D1
      medsec doc play D1 --at 0:12
    """
    from medsec.workflows import dictation as dsvc

    dsvc.play(app, doc_id, at)
