"""`medsec bill`: charges, payments, adjustments, balances, ledgers, invoices, statements."""

import click

from medsec.billing import accounts as svc
from medsec.cli.common import pass_app
from medsec.cli.output import output_options, render, say


@click.group()
def bill():
    """Charge visits, take payments, and keep patients' accounts."""


@bill.command("charge")
@click.argument("target", metavar="APPT|PATIENT")
@click.option("--code", required=True, help="Procedure code (CPT/HCPCS from codes.yaml).")
@click.option("--modifier", "modifiers", multiple=True, help="Modifier, e.g. 25 (up to 4).")
@click.option("--units", type=int, default=1, show_default=True)
@click.option("--dx", multiple=True, required=True, help="ICD-10-CM diagnosis (repeatable, in order).")
@click.option("--pointer", "pointers", default=None, help="Which diagnoses this line points to, e.g. 1,2.")
@click.option("--provider", default=None, help="Rendering provider (default: the visit's or the usual one).")
@click.option("--date", default=None, help="Service date (default: the visit's, else today).")
@click.option("--amount", default=None, help="Override the fee schedule.")
@click.option("--pos", "place_of_service", default="11", show_default=True, help="Place of service code.")
@output_options
@pass_app
def charge(app, fmt, target, code, modifiers, units, dx, pointers, provider, date, amount, place_of_service):
    """Add a charge for a visit (A..) or a patient (P..)."""
    from medsec.errors import InvalidInput

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
@click.argument("patient_id")
@click.option("--status", type=click.Choice(["open", "billed"]), default=None)
@output_options
@pass_app
def charges(app, fmt, patient_id, status):
    """A patient's charges."""
    render(svc.list_charges(app, patient_id, status), fmt, svc.CHARGE_COLUMNS)


@bill.command("pay")
@click.argument("patient_id")
@click.option("--amount", required=True)
@click.option("--method", type=click.Choice(svc.METHODS), required=True)
@click.option("--ref", default="", help="Check number, card reference ...")
@click.option("--charge", "charge_id", default=None, help="Apply to this charge.")
@click.option("--claim", "claim_id", default=None, help="Apply to this claim's charges.")
@output_options
@pass_app
def pay(app, fmt, patient_id, amount, method, ref, charge_id, claim_id):
    """Take a payment from a patient (applied to the oldest charges unless told)."""
    render(svc.record_payment(app, patient_id, amount=amount, method=method, ref=ref, charge_id=charge_id,
                              claim_id=claim_id), fmt)


@bill.command("adjust")
@click.argument("patient_id")
@click.option("--amount", required=True, help="Positive reduces what is owed; negative adds to it.")
@click.option("--reason", required=True)
@click.option("--charge", "charge_id", default=None)
@output_options
@pass_app
def adjust(app, fmt, patient_id, amount, reason, charge_id):
    """Adjust a patient's account (write-off, courtesy discount, correction)."""
    render(svc.record_payment(app, patient_id, amount=amount, method="", reason=reason, charge_id=charge_id,
                              kind="adjustment", allow_negative=True), fmt)


@bill.command("balance")
@click.argument("patient_id")
@output_options
@pass_app
def balance(app, fmt, patient_id):
    """What the patient owes, and what insurance is still expected to pay."""
    render(svc.balance(app, patient_id), fmt)


@bill.command("ledger")
@click.argument("patient_id")
@output_options
@pass_app
def ledger(app, fmt, patient_id):
    """Every charge, payment and adjustment with the running balance."""
    render(svc.ledger(app, patient_id), fmt, svc.LEDGER_COLUMNS)


@bill.command("invoice")
@click.argument("appt_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write a PDF (or .txt).")
@output_options
@pass_app
def invoice(app, fmt, appt_id, output):
    """The invoice for a visit (printed as text; -o FILE.pdf for a PDF)."""
    from medsec.billing.statements import invoice as build

    result = build(app, appt_id, output, as_pdf=not (output or "").endswith(".txt"))
    _show_document(result, fmt)


@bill.command("statement")
@click.argument("patient_id")
@click.option("--from", "start", default=None, help="First day (default: 30 days ago).")
@click.option("--to", "end", default=None, help="Last day (default: today).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write a PDF (or .txt).")
@output_options
@pass_app
def statement(app, fmt, patient_id, start, end, output):
    """A patient's statement for a period (text; -o FILE.pdf for a PDF)."""
    from medsec.billing.statements import statement as build

    result = build(app, patient_id, app.parse_date(start, "--from") if start else None,
                   app.parse_date(end, "--to") if end else None, output,
                   as_pdf=not (output or "").endswith(".txt"))
    _show_document(result, fmt)


def _show_document(result: dict, fmt: str) -> None:
    if fmt == "table":
        click.echo(result["text"], nl=False)
        if result.get("file"):
            say(f"wrote {result['file']}")
    else:
        render(result, fmt)
