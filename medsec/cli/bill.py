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
from medsec.cli.output import inform, output_options, render, say
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


def _pointer_list(pointers: str | None) -> list[int] | None:
    """--pointer 1,2 as [1, 2] (None when not given)."""
    try:
        return [int(p) for p in pointers.split(",")] if pointers else None
    except ValueError:
        raise InvalidInput(f"--pointer {pointers!r}: numbers like 1,2") from None


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
@click.option("--again", is_flag=True, help="Charge a code the visit already has once more.")
@output_options
@pass_app
def charge(app, fmt, target, code, modifiers, units, dx, pointers, provider, date, amount, place_of_service, again):
    """Add a charge for a visit or a patient.

    APPT|PATIENT is an appointment id (A12) or a patient id (P42).

    \b
    Examples:
      medsec bill charge A1 --code 99213 --dx E11.9 --dx I10
      medsec bill charge A1 --code 96372 --modifier 25 --dx E11.9 --pointer 1
    """
    record = svc.add_charge(app, target, code=code, dx=list(dx), modifiers=list(modifiers), units=units,
                            provider=provider, date=date, amount=amount, pointers=_pointer_list(pointers),
                            place_of_service=place_of_service, again=again)
    for warning in record.pop("warnings"):
        say(f"warning: {warning}; the claim scrubber will refuse it")
    render(record, fmt, svc.CHARGE_COLUMNS)


@bill.command("charges")
@patient_argument()
@click.option("--status", type=click.Choice(["open", "billed", "void"]), default=None,
              help="Only open (not yet on a claim), billed or void charges (default: all).")
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


# -- corrections: void a charge, correct one (medsec.billing.corrections) ----------------
@bill.command("void")
@click.argument("charge_id", metavar="CHARGE")
@reason_option(required=True, help="Why the charge is void, kept with it.")
@output_options
@pass_app
def void(app, fmt, charge_id, reason):
    """Void a charge posted by mistake.

    The charge stays on record but leaves the balance, the ledger's total,
    claims and reports; money paid on it becomes credit. A charge on a claim
    the payer has is refused (exit 1): replace or void the claim first.

    \b
    Examples:
      medsec bill void H1 --reason "charged twice"
    """
    from medsec.billing.corrections import void_charge

    render(void_charge(app, charge_id, reason=reason), fmt, svc.CHARGE_COLUMNS)


@bill.command("correct")
@click.argument("charge_id", metavar="CHARGE")
@click.option("--code", default=None, help="The right procedure code.")
@click.option("--modifier", "modifiers", multiple=True, help="The right modifiers (all of them; up to 4).")
@click.option("--no-modifiers", is_flag=True, help="The charge has no modifiers.")
@click.option("--units", type=click.IntRange(min=1), default=None, help="The right number of units.")
@dx_option(required=False, help="The right diagnosis codes (all of them, in order).")
@click.option("--pointer", "pointers", default=None, help="Which diagnoses the line points to, e.g. 1,2.")
@click.option("--amount", default=None, help="The right fee (default: the old one, or the fee schedule's "
                                             "when --code or --units change).")
@click.option("--pos", "place_of_service", default=None, help="The right place of service code.")
@output_options
@pass_app
def correct(app, fmt, charge_id, code, modifiers, no_modifiers, units, dx, pointers, amount, place_of_service):
    """Replace a charge with a corrected one.

    The old charge is voided ("corrected by H9"); the new one says which it
    replaces. A draft claim holding it is rebuilt with the new charge.

    \b
    Examples:
      medsec bill correct H1 --code 99214
      medsec bill correct H1 --units 2 --dx I10
    """
    from medsec.billing.corrections import correct_charge

    if no_modifiers and modifiers:
        raise InvalidInput("give --modifier or --no-modifiers, not both")
    record = correct_charge(app, charge_id, code=code, dx=list(dx) or None, units=units,
                            modifiers=[] if no_modifiers else (list(modifiers) or None), amount=amount,
                            pointers=_pointer_list(pointers), place_of_service=place_of_service)
    for warning in record.pop("warnings"):
        say(f"warning: {warning}; the claim scrubber will refuse it")
    render(record, fmt, svc.CHARGE_COLUMNS)


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


@bill.command("journal")
@date_range_options(first="January 1 of --to's year", last="today", what="of an entry")
@click.option("--format", "fmt_name", type=click.Choice(["beancount", "hledger"]), required=True,
              help="The journal's format: beancount or hledger.")
@output_file_option(help="The journal file to write ('-': standard output).", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (--format names the journal).")
@pass_app
def journal(app, start, end, fmt_name, output, as_json):
    """The books as a double-entry journal.

    Every charge, payment, adjustment and refund from --from to --to, for
    beancount or hledger; what came before --from opens the asset accounts.
    Accounts and currency: practice.yaml `accounts` and `currency`.

    \b
    Examples:
      medsec bill journal --from 2026-01-01 --to 2026-11-26 --format beancount -o ./books.beancount
      medsec bill journal --format hledger -o ./books.journal
    """
    from medsec.billing.journal import export  # only the bookkeeper's export reads every payment

    first, last = day_span(app, start, end)
    result = export(app, output, fmt_name, first, last)
    if as_json:
        render(result, "json")
    else:
        inform(f"wrote {result['file']} ({result['format']}, {result['transactions']} transactions, "
               f"{result['from']} to {result['to']})")


# -- patient billing: statements in a batch, receipts, refunds --------------------------
@bill.command("statements")
@click.option("--due", is_flag=True, required=True, help="Everyone with a patient balance due (required).")
@click.option("--min-balance", default="5.00", show_default=True, help="Leave out smaller amounts due.")
@date_option("--as-of", help="Statement date", default_text="today")
@click.option("-o", "--output", type=click.Path(), default=None, metavar="DIR|FILE.pdf",
              help="One PDF of every statement, for printing (a DIR gets the PDF and the CSV).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="The mail-merge CSV: name, address lines, amount due, date, patients.")
@click.option("--send", is_flag=True, help="Send each statement through the person's channel instead.")
@click.option("--channel", default=None, help="With --send: this channel for every statement.")
@output_options
@pass_app
def statements(app, fmt, due, min_balance, as_of, output, csv_path, send, channel):
    """Statements for everyone who owes.

    One statement per responsible person: a guarantor gets one for every
    patient they pay for. Written as one PDF (each statement on a new page)
    and a mail-merge CSV, or sent with --send.

    \b
    Examples:
      medsec bill statements --due --json
      medsec bill statements --due --min-balance 10.00 -o ./statements.pdf --csv ./statements.csv
      medsec bill statements --due --send
    """
    from medsec.billing.statements import due_statements  # documents and messaging: balance need not pay

    if send and (output or csv_path):
        raise InvalidInput("--send sends the statements: leave out -o and --csv")
    if channel and not send:
        raise InvalidInput("--channel goes with --send")
    result = due_statements(app, as_of=app.parse_date(as_of, "--as-of") if as_of else None,
                            min_balance=min_balance, output=output, csv_path=csv_path, send=send, channel=channel)
    for path in (result.get("pdf"), result.get("csv")):
        if path:
            say(f"wrote {path}")
    render(result if fmt != "table" else result["statements"], fmt,
           ["to", "via", "patients", "amount_due", "status", "reason"] if send else
           ["to", "via", "patients", "amount_due"])


@bill.command("receipt")
@click.argument("payment_id", metavar="PAYMENT")
@output_file_option(help="Write a PDF (or text, for FILE.txt).")
@output_options
@pass_app
def receipt(app, fmt, payment_id, output):
    """A receipt for a patient's payment.

    \b
    Examples:
      medsec bill receipt Y1
      medsec bill receipt Y1 -o ./receipt-Y1.pdf
    """
    from medsec.billing.statements import receipt as build  # documents and messaging: balance need not pay

    _show_document(build(app, payment_id, output, as_pdf=not (output or "").endswith(".txt")), fmt)


@bill.command("refund")
@patient_argument()
@click.option("--amount", required=True, help="The amount paid back, at most the credit.")
@click.option("--method", type=click.Choice(svc.METHODS), required=True, help="How it is paid back.")
@reason_option(required=True)
@click.option("--ref", default="", help="Check number, card reference ...")
@output_options
@pass_app
def refund(app, fmt, patient_id, amount, method, reason, ref):
    """Pay back a patient's credit.

    Refused (exit 1) for more than the credit 'bill balance' shows.

    \b
    Examples:
      medsec bill refund P140 --amount 17.00 --method check --reason "overpaid copay" --ref 1043
    """
    from medsec.billing.refunds import refund as pay_back

    render(pay_back(app, patient_id, amount=amount, method=method, reason=reason, ref=ref), fmt)
