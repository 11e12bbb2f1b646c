"""`medsec bill`: charges, payments, adjustments, balances, ledgers, invoices, statements."""

import click

from medsec.billing import accounts as svc
from medsec.cli.common import pass_app
from medsec.cli.options import (
    date_option,
    date_range_options,
    day_span,
    dx_option,
    list_options,
    output_file_option,
    patient_argument,
    provider_option,
    reason_option,
)
from medsec.cli.output import output_options, render, say
from medsec.errors import InvalidInput


@click.group()
def bill():
    """Charge visits, take payments, keep accounts.

    Charges, payments, adjustments, balances, ledgers, invoices and statements.

    \b
    Examples:
      medsec bill charge A1 --code 99213 --dx E11.9 --dx I10
      medsec bill pay P140 --amount 20.00 --method card --ref copay
      medsec bill balance P140
    """


@bill.command("charge")
@click.argument("target", metavar="APPT|PATIENT")
@click.option("--code", required=True, help="Procedure code (CPT/HCPCS from codes.yaml).")
@click.option("--modifier", "modifiers", multiple=True, help="Modifier, e.g. 25 (up to 4).")
@click.option("--units", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many units of the procedure.")
@dx_option(required=True)
@click.option("--pointer", "pointers", default=None, help="Which diagnoses this line points to, e.g. 1,2.")
@provider_option(help="Rendering provider, a staff id or name (default: the visit's or the usual one).")
@date_option("--date", help="Service date", default_text="the visit's, else today")
@click.option("--amount", default=None, help="The fee, e.g. 125.00 (default: the fee schedule's).")
@click.option("--pos", "place_of_service", default="11", show_default=True, help="Place of service code.")
@output_options
@pass_app
def charge(app, fmt, target, code, modifiers, units, dx, pointers, provider, date, amount, place_of_service):
    """Add a charge for a visit or a patient.

    APPT|PATIENT is an appointment id (A12) or a patient id (P42).

    \b
    Examples:
      medsec bill charge A1 --code 99213 --dx E11.9 --dx I10
      medsec bill charge A1 --code 96372 --modifier 25 --dx E11.9 --pointer 1
    """
    try:
        pointer_list = [int(p) for p in pointers.split(",")] if pointers else None
    except ValueError:
        raise InvalidInput(f"--pointer {pointers!r}: numbers like 1,2") from None
    record = svc.add_charge(app, target, code=code, dx=list(dx), modifiers=list(modifiers), units=units,
                            provider=provider, date=date, amount=amount, pointers=pointer_list,
                            place_of_service=place_of_service)
    for warning in record.pop("warnings"):
        say(f"warning: {warning}; the claim scrubber will refuse it")
    render(record, fmt, svc.CHARGE_COLUMNS)


@bill.command("charges")
@patient_argument()
@click.option("--status", type=click.Choice(["open", "billed"]), default=None,
              help="Only open (not yet on a claim) or billed charges (default: both).")
@date_range_options(first="no limit", last="no limit", what="of service")
@list_options
@output_options
@pass_app
def charges(app, fmt, patient_id, status, start, end, limit):
    """A patient's charges.

    \b
    Examples:
      medsec bill charges P140 --status open
      medsec bill charges P140 --from 2026-01-01 --to 2026-12-31 --json
    """
    first, last = day_span(app, start, end)
    render(svc.list_charges(app, patient_id, status, first=first, last=last, limit=limit), fmt,
           svc.CHARGE_COLUMNS)


@bill.command("pay")
@patient_argument()
@click.option("--amount", required=True, help="The amount paid, e.g. 20.00.")
@click.option("--method", type=click.Choice(svc.METHODS), required=True, help="How it was paid.")
@click.option("--ref", default="", help="Check number, card reference ...")
@click.option("--charge", "charge_id", default=None, metavar="CHARGE_ID", help="Apply to this charge.")
@click.option("--claim", "claim_id", default=None, metavar="CLAIM_ID", help="Apply to this claim's charges.")
@output_options
@pass_app
def pay(app, fmt, patient_id, amount, method, ref, charge_id, claim_id):
    """Take a payment from a patient.

    It is applied to the oldest open charges unless --charge or --claim says
    where.

    \b
    Examples:
      medsec bill pay P140 --amount 20.00 --method card --ref copay
      medsec bill pay P140 --amount 45.00 --method check --ref 1042 --charge H8
    """
    render(svc.record_payment(app, patient_id, amount=amount, method=method, ref=ref, charge_id=charge_id,
                              claim_id=claim_id), fmt)


@bill.command("adjust")
@patient_argument()
@click.option("--amount", required=True, help="Positive reduces what is owed; negative adds to it.")
@reason_option(required=True)
@click.option("--charge", "charge_id", default=None, metavar="CHARGE_ID", help="Apply to this charge.")
@output_options
@pass_app
def adjust(app, fmt, patient_id, amount, reason, charge_id):
    """Adjust a patient's account.

    A write-off, a courtesy discount or a correction.

    \b
    Examples:
      medsec bill adjust P140 --amount 5.00 --reason "courtesy discount"
      medsec bill adjust P140 --amount -10.00 --reason "correction" --charge H8
    """
    render(svc.record_payment(app, patient_id, amount=amount, method="", reason=reason, charge_id=charge_id,
                              kind="adjustment", allow_negative=True), fmt)


@bill.command("balance")
@patient_argument()
@output_options
@pass_app
def balance(app, fmt, patient_id):
    """What a patient and insurance still owe.

    \b
    Examples:
      medsec bill balance P140 --json
    """
    render(svc.balance(app, patient_id), fmt)


@bill.command("ledger")
@patient_argument()
@date_range_options(first="no limit", last="no limit", what="of an entry")
@list_options
@output_options
@pass_app
def ledger(app, fmt, patient_id, start, end, limit):
    """Every charge, payment and adjustment.

    With the running balance after each (counting every entry before it,
    from --from or not).

    \b
    Examples:
      medsec bill ledger P140
      medsec bill ledger P140 --from 2026-12-01 --format csv -o ledger.csv
    """
    first, last = day_span(app, start, end)
    render(svc.ledger(app, patient_id, first=first, last=last, limit=limit), fmt, svc.LEDGER_COLUMNS)


@bill.command("invoice")
@click.argument("appt_id")
@output_file_option(help="Write a PDF (or text, for FILE.txt).")
@output_options
@pass_app
def invoice(app, fmt, appt_id, output):
    """The invoice for a visit, as text or a PDF.

    \b
    Examples:
      medsec bill invoice A1
      medsec bill invoice A1 -o ./invoice-A1.pdf
    """
    from medsec.billing.statements import invoice as build  # documents and messaging (~5 ms): balance need not pay

    result = build(app, appt_id, output, as_pdf=not (output or "").endswith(".txt"))
    _show_document(result, fmt)


@bill.command("statement")
@patient_argument()
@date_range_options(first="30 days ago", last="today")
@output_file_option(help="Write a PDF (or text, for FILE.txt).")
@output_options
@pass_app
def statement(app, fmt, patient_id, start, end, output):
    """A patient's statement, as text or a PDF.

    \b
    Examples:
      medsec bill statement P140 -o ./statement-P140.pdf
      medsec bill statement P140 --from 2026-10-01 --to 2026-10-31
    """
    from medsec.billing.statements import statement as build  # documents and messaging (~5 ms): balance need not pay

    result = build(app, patient_id, app.parse_date(start, "--from") if start else None,
                   app.parse_date(end, "--to") if end else None, output,
                   as_pdf=not (output or "").endswith(".txt"))
    _show_document(result, fmt)


def _show_document(result: dict, fmt: str) -> None:
    """The document on stdout, or with -o in the file alone: then stdout carries nothing."""
    if result.get("file"):
        say(f"wrote {result['file']}")
    elif fmt == "table":
        click.echo(result["text"], nl=False)
    else:
        render(result, fmt)
