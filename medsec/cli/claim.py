"""`medsec claim`: insurance claims from charges to payment."""

import click

from medsec.billing import claims as svc
from medsec.cli.choices import ListsValues
from medsec.cli.common import pass_app
from medsec.cli.names import PAYER
from medsec.cli.options import (
    appt_option,
    date_range_options,
    day_span,
    destination_options,
    dry_run_option,
    input_format_option,
    list_options,
    note_option,
    output_file_option,
    patient_option,
    quiet_option,
)
from medsec.cli.output import inform, output_options, render, say
from medsec.errors import InvalidInput


def claim_file_options(func):
    """The options `claim export` and `claim batch` share: which format, where, and how."""
    decorators = [
        click.option("--format", "fmt_name", required=True, metavar="NAME", cls=ListsValues, values="claim-formats",
                     help="The claim format: x12-837p, cms1500 ... (see 'medsec plugins')."),
        output_file_option(help="The file to write ('-': standard output).", required=True),
        click.option("--no-mark", is_flag=True, help="Do not mark the claims submitted."),
        click.option("--test", "test_file", is_flag=True,
                     help="A test file (X12 ISA15 T): the claims are not marked submitted."),
        click.option("--usage", type=click.Choice(["T", "P"]), default=None, hidden=True,
                     help="Deprecated: --test for T; P is the default (practice.yaml billing.usage)."),
        click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (--format names the document)."),
        quiet_option,
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _usage(test_file: bool, usage: str | None) -> str | None:
    """ISA15 from --test (T) or the deprecated --usage; None: the practice's (P unless billing.usage T)."""
    if usage is not None:
        say("medsec: note: --usage T|P is deprecated: use --test (it goes in the next release)")
        if test_file and usage != "T":
            raise InvalidInput("--test and --usage P contradict each other")
    return "T" if test_file else usage


@click.group()
def claim():
    """Insurance claims from charges to payment.

    Create, scrub, export and track claims; post remittances.

    \b
    Examples:
      medsec claim create --appt A1
      medsec claim validate C1
      medsec claim export C1 --format x12-837p -o ./C1.837
    """


@claim.command("create")
@patient_option("patient_id", help="Claim this patient's unbilled charges.")
@appt_option("appt_id", help="Claim this visit's unbilled charges.")
@click.option("--rank", type=click.Choice(["primary", "secondary", "tertiary"]), default="primary",
              show_default=True, help="Which of the patient's coverages to bill.")
@output_options
@pass_app
def create(app, fmt, patient_id, appt_id, rank):
    """Create claims for unbilled charges.

    One claim per provider, for a patient's or a visit's unbilled charges;
    the scrubber's findings are printed on stderr.

    \b
    Examples:
      medsec claim create --appt A1
      medsec claim create --patient P140 --rank secondary
    """
    created = svc.create_claims(app, patient_id=patient_id, appt_id=appt_id, rank=rank)
    for record in created:
        for problem in svc.scrub(app, record, app.today()):
            say(f"{record['id']}: {problem}")
    render([svc.summary_row(c) for c in created], fmt, svc.COLUMNS)


@claim.command("validate")
@click.argument("claim_id")
@output_options
@pass_app
def validate(app, fmt, claim_id):
    """Scrub a claim; a clean draft becomes ready.

    A claim with problems stays a draft: exit 1, with every problem listed.

    \b
    Examples:
      medsec claim validate C1
    """
    render(svc.summary_row(svc.validate(app, claim_id)), fmt, svc.COLUMNS)


@claim.command("export")
@click.argument("claim_id")
@claim_file_options
@pass_app
def export(app, claim_id, fmt_name, output, no_mark, test_file, usage, as_json):
    """Write one claim in a claim format.

    \b
    Examples:
      medsec claim export C1 --format x12-837p -o ./C1.837
      medsec claim export C1 --format cms1500 -o ./C1.pdf --no-mark
    """
    from medsec.billing.claim_export import export as run  # pluggy (~4 ms): claim list and show need not pay

    result = run(app, [claim_id], fmt_name, output, mark=not no_mark, usage=_usage(test_file, usage))
    if as_json:
        render(result, "json")
    else:
        inform(f"wrote {result['file']} ({result['format']}, control {result['control_number']})")


@claim.command("batch")
@click.option("--payer", type=PAYER, required=True, help="Payer: its id or name from payers.yaml.", cls=ListsValues,
              values="payers")
@claim_file_options
@pass_app
def batch(app, payer, fmt_name, output, no_mark, test_file, usage, as_json):
    """Every ready claim for a payer, in one file.

    One file, one interchange.

    \b
    Examples:
      medsec claim batch --payer HARBOR --format x12-837p -o ./harbor.837
    """
    from medsec.billing.claim_export import batch as run  # pluggy (~4 ms): claim list and show need not pay
    from medsec.progress import on_terminal

    with on_terminal() as progress:
        result = run(app, payer, fmt_name, output, mark=not no_mark, usage=_usage(test_file, usage),
                     progress=progress)
    if as_json:
        render(result, "json")
    else:
        inform(f"wrote {result['file']} ({result['format']}, {len(result['claims'])} claims, "
               f"control {result['control_number']})")


@claim.command("send")
@click.option("--payer", type=PAYER, required=True, help="Payer: its id or name from payers.yaml.", cls=ListsValues,
              values="payers")
@click.option("--clearinghouse", "clearinghouse_id", metavar="ID", default=None,
              help="Which clearinghouse (an id of clearinghouses.yaml; default: the first).")
@click.option("--test", "test_usage", is_flag=True,
              help="An X12 test interchange (ISA15 T): the claims are not marked submitted.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@quiet_option
@pass_app
def send(app, payer, clearinghouse_id, test_usage, as_json):
    """Send a payer's ready claims (one 837P).

    The batch is put in the clearinghouse's outbox; the claims are marked
    submitted only once it is there (not with --test). A failed connection or put is exit 3:
    the claims stay ready (the control number is spent, never reused).

    \b
    Examples:
      medsec claim send --payer HARBOR --test
      medsec claim send --payer BAYSTATE --clearinghouse AVAILITY --json
    """
    from medsec.billing.claim_export import batch as run  # pluggy and the transport: loaded only here
    from medsec.billing.transports import session

    safe = "".join(ch for ch in payer if ch.isalnum() or ch in "-_") or "claims"
    with session(app, clearinghouse_id) as s:
        result = run(app, payer, "x12-837p", "", usage="T" if test_usage else None,
                     deliver=lambda data, control: s.send(f"{safe}-{control}.837", data))
    result.update(clearinghouse=s.id, transport=s.transport)
    if as_json:
        render(result, "json")
    else:
        inform(f"sent {result['file']} to {s.id} ({len(result['claims'])} claims, control {result['control_number']})")


# -- corrections: drafts rebuilt or deleted, replacement and void claims (medsec.billing.claimfix) --
@claim.command("regenerate")
@click.argument("claim_id")
@output_options
@pass_app
def regenerate(app, fmt, claim_id):
    """Rebuild a draft claim from its charges.

    Voided charges leave it, the charges that corrected them come in; a
    ready or rejected claim is rebuilt too and becomes a draft again.

    \b
    Examples:
      medsec claim regenerate C1
    """
    from medsec.billing.claimfix import regenerate as run

    record = run(app, claim_id)
    for problem in svc.scrub(app, record, app.today()) if record["status"] == "draft" else []:
        say(f"{record['id']}: {problem}")
    render(svc.summary_row(record), fmt, svc.COLUMNS)


@claim.command("delete")
@click.argument("claim_id")
@output_options
@pass_app
def delete(app, fmt, claim_id):
    """Delete a draft claim; its charges reopen.

    The claim is kept, marked deleted; its charges can be claimed again.

    \b
    Examples:
      medsec claim delete C1
    """
    from medsec.billing.claimfix import delete as run

    render(svc.summary_row(run(app, claim_id)), fmt, svc.COLUMNS)


@claim.command("replace")
@click.argument("claim_id")
@note_option(help="A note for the new claim's history.")
@output_options
@pass_app
def replace(app, fmt, claim_id, note):
    """A corrected claim replacing a paid one.

    A new draft (frequency 7, REF*F8 the payer's claim number from its 835)
    from the claim's charges as they are now; correct them on it with
    'medsec bill correct'.

    \b
    Examples:
      medsec claim replace C1 --note "wrong units"
    """
    from medsec.billing.claimfix import replace as run

    render(svc.summary_row(run(app, claim_id, note)), fmt, svc.COLUMNS)


@claim.command("void")
@click.argument("claim_id")
@click.option("--reason", required=True, help="Why the payer should cancel the claim.")
@output_options
@pass_app
def void(app, fmt, claim_id, reason):
    """A void claim cancelling an adjudicated one.

    A new draft (frequency 8, REF*F8 the payer's claim number from its 835)
    repeating the claim as sent; its charges can then be voided.

    \b
    Examples:
      medsec claim void C1 --reason "billed to the wrong patient"
    """
    from medsec.billing.claimfix import void as run

    render(svc.summary_row(run(app, claim_id, reason)), fmt, svc.COLUMNS)


@claim.command("list")
@click.option("--status", default=None, help=f"Only this status: {', '.join(svc.STATUSES)}.")
@click.option("--payer", type=PAYER, default=None, help="Only this payer's (an id or name from payers.yaml).",
              cls=ListsValues, values="payers")
@patient_option()
@date_range_options(first="no limit", last="no limit", what="a claim was created")
@list_options
@output_options
@pass_app
def list_(app, fmt, status, payer, patient, start, end, limit):
    """Claims, filtered by status, payer or patient.

    \b
    Examples:
      medsec claim list --status ready
      medsec claim list --patient P140 --json
      medsec claim list --from 2026-11-01 --to 2026-11-30 --format csv -o november.csv
    """
    first, last = day_span(app, start, end)
    render([svc.summary_row(c) for c in svc.list_claims(app, status=status, payer=payer, patient=patient,
                                                        first=first, last=last, limit=limit)], fmt, svc.COLUMNS)


@claim.command("show")
@click.argument("claim_id")
@output_options
@pass_app
def show(app, fmt, claim_id):
    """One claim: lines, history and adjudications.

    \b
    Examples:
      medsec claim show C1 --json
    """
    record = svc.get_claim(app, claim_id)
    app.audit("read", [record["id"], record["patient_id"]])
    render(record, fmt)


@claim.command("status")
@click.argument("claim_id")
@click.argument("status", type=click.Choice(svc.STATUSES))
@note_option(help="A note for the claim's history.")
@output_options
@pass_app
def status(app, fmt, claim_id, status, note):
    """Move a claim to another STATUS.

    Each change is kept in the claim's history; a change the claim's
    workflow does not allow is refused (exit 1).

    \b
    Examples:
      medsec claim status C1 submitted --note "sent through the payer portal"
    """
    render(svc.summary_row(svc.set_status(app, claim_id, status, note)), fmt, svc.COLUMNS)


@claim.command("post-remit")
@click.argument("path", type=click.Path(dir_okay=False))
@input_format_option("remittance-formats")
@dry_run_option(help="Match and report every payment; post nothing.")
@quiet_option
@output_options
@pass_app
def post_remit(app, fmt, path, input_format, dry_run):
    """Post a remittance file (an X12 835).

    Payments, write-offs, patient shares and denials go to their claims;
    payments that match no claim are listed on stderr.

    \b
    Examples:
      medsec claim post-remit ./era.835 --dry-run
      medsec claim post-remit ./era.835
    """
    from medsec.billing.remittances import post  # pluggy (~4 ms): claim list and show need not pay

    summary = post(app, path, input_format=input_format, dry_run=dry_run)
    for miss in summary["unmatched"]:
        say(f"unmatched: {miss['claim_id']} ({miss['reason']}), paid {miss['paid']}")
    if fmt == "table":
        render(summary["posted"], fmt, ["claim_id", "status", "paid", "written_off", "patient_responsibility",
                                        "reasons"])
    else:
        render(summary, fmt)


# -- claim status inquiries (276 out; the 277 answer comes in through 'clearinghouse import') --
@claim.command("inquire")
@click.argument("claim_ids", nargs=-1, metavar="[CLAIM]...")
@click.option("--unanswered-days", type=click.IntRange(min=1), default=None, metavar="N",
              help="Ask about every submitted claim unanswered for N days.")
@destination_options("276")
@click.option("--test", "test_file", is_flag=True, help="A test file (X12 ISA15 T).")
@output_options
@pass_app
def inquire(app, fmt, claim_ids, unanswered_days, output, send, clearinghouse, test_file):
    """Ask payers about claims (an X12 276).

    One status request per claim, submitted or accepted claims only; each
    claim's history notes the inquiry and its trace. Import the payer's
    277 answer with 'medsec clearinghouse import'.

    \b
    Examples:
      medsec claim inquire C1 -o ./status.276
      medsec claim inquire --unanswered-days 30 --send
    """
    from medsec.billing.claimstatus import inquire as run  # pluggy: loaded only here

    result = run(app, list(claim_ids) or None, unanswered_days=unanswered_days, output=output, send=send,
                 clearinghouse=clearinghouse, usage="T" if test_file else None)
    if fmt == "table":
        verb = "sent" if send else "wrote"
        inform(f"{verb} {result['file']} (276, {len(result['claims'])} claims, control {result['control_number']})")
    else:
        render(result, fmt)
