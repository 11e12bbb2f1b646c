"""`medsec referral`: referrals out to specialists and in from other practices, followed to the end."""

import click

from medsec.cli.common import pass_app
from medsec.cli.options import (
    appt_option,
    appt_type_option,
    date_range_options,
    day_span,
    direction_option,
    dx_option,
    list_options,
    note_option,
    patient_argument,
    patient_option,
    provider_option,
    renamed_option,
    status_filter_option,
    urgent_option,
    when_option,
)
from medsec.cli.output import output_options, render, say
from medsec.workflows import referrals as svc


@click.group()
def referral():
    """Referrals out and in, followed until closed.

    \b
    Examples:
      medsec referral add P1 --specialist "Boston Cardiology" --reason "chest pain" --dx R07.9 --fax 617-555-0400
      medsec referral list --overdue
    """


@referral.command("add")
@patient_argument()
@renamed_option("--specialist", "to", was="--to", required=True, metavar="NAME",
                help="The specialist or facility referred to.")
@click.option("--reason", required=True, help="Why the patient is referred.")
@dx_option(required=True)
@urgent_option(help="Mark it urgent: its next step is due sooner.")
@click.option("--auth-required", is_flag=True, help="The payer must authorize it first.")
@click.option("--fax", default=None, help="The specialist's fax number.")
@click.option("--address", default="", help="The specialist's postal address (to send it by mail).")
@provider_option(param="physician_id", was="--physician",
                 help="The referring physician (default: the physician of the patient's latest visit).")
@note_option()
@output_options
@pass_app
def add(app, fmt, patient_id, to, reason, dx, urgent, auth_required, fax, address, physician_id, note):
    """Refer a patient out.

    The referral starts as a draft, or waiting on authorization with
    --auth-required.

    \b
    Examples:
      medsec referral add P1 --specialist "Boston Cardiology" --reason "chest pain" --dx R07.9 \\
          --fax 617-555-0400 --urgent
    """
    render(svc.add(app, patient_id, to=to, reason=reason, dx=list(dx), urgent=urgent, auth_required=auth_required,
                   fax=fax, address=address, physician_id=physician_id, note=note), fmt)


@referral.command("receive")
@renamed_option("--referrer", "sender", was="--from", required=True, metavar="NAME",
                help="The referring practice or physician.")
@click.option("--referrer-npi", default="", metavar="NPI", help="The referring physician's NPI (for claims).")
@click.option("--auth", "auth_number", default="", help="The payer's authorization number (for claims).")
@click.option("--reason", required=True, help="Why the patient is referred.")
@patient_option("patient_id", help="A known patient's id ...")
@click.option("--first", default=None, help="... or the patient's first name,")
@click.option("--last", default=None, help="last name")
@click.option("--dob", default=None, help="and date of birth (matched, or registered).")
@click.option("--phone", default=None, help="The new patient's phone.")
@dx_option(required=False)
@urgent_option(help="Mark it urgent: its next step is due sooner.")
@appt_type_option(required=False, default="new-patient")
@provider_option(help="Propose a slot with this provider (a staff id or name; default: any).")
@note_option()
@output_options
@pass_app
def receive(app, fmt, sender, referrer_npi, auth_number, reason, patient_id, first, last, dob, phone, dx, urgent,
            type_name, provider, note):
    """Take a referral in; propose an appointment.

    The patient is matched by name and date of birth, or registered; the
    first free slot is printed with the command that books it.

    \b
    Examples:
      medsec referral receive --referrer "Dr. Chen, Newton Family" --reason "diabetes care" \\
          --first Ana --last Lopez --dob 1980-02-03 --phone 617-555-0142 --dx E11.9
    """
    record = svc.receive(app, sender=sender, reason=reason, patient_id=patient_id, first=first, last=last, dob=dob,
                         phone=phone, dx=list(dx), urgent=urgent, type_name=type_name, provider=provider,
                         note=note, referrer_npi=referrer_npi, auth_number=auth_number)
    slot = record["proposed"]
    if slot:
        say(f"first free slot: {slot['start']} with {slot['provider']}; book it with 'medsec appt book "
            f"{record['patient_id']} --provider {slot['provider']} --at \"{slot['start'][:16].replace('T', ' ')}\" "
            f"--type {slot['type']}'")
    else:
        say("no free slot found; see 'medsec appt slots'")
    render(record, fmt)


@referral.command("list")
@status_filter_option(svc.STATUSES + ["open", "all"], "open", "referrals")
@click.option("--overdue", is_flag=True, help="Past the due date of their next step.")
@direction_option(["out", "in"])
@patient_option("patient_id")
@date_range_options(first="no limit", last="no limit", what="a referral was made or received")
@list_options
@output_options
@pass_app
def list_(app, fmt, status, overdue, direction, patient_id, start, end, limit):
    """Open referrals, the soonest due first.

    \b
    Examples:
      medsec referral list
      medsec referral list --overdue --direction out
      medsec referral list --status all --from 2026-11-01 --to 2026-11-30 --json
    """
    first, last = day_span(app, start, end)
    render(svc.list_referrals(app, status=status, overdue=overdue, direction=direction, patient_id=patient_id,
                              limit=limit, first=first, last=last), fmt, svc.COLUMNS)


@referral.command("show")
@click.argument("referral_id")
@output_options
@pass_app
def show(app, fmt, referral_id):
    """One referral with its history.

    \b
    Examples:
      medsec referral show RF1
    """
    render(svc.show_referral(app, referral_id), fmt)


@referral.command("status")
@click.argument("referral_id")
@click.argument("status", type=click.Choice(svc.STATUSES))
@when_option("--appt-at", help="With appointment-scheduled: when the patient is seen")
@appt_option("appt_id", help="With appointment-scheduled, incoming: our appointment id.")
@note_option()
@output_options
@pass_app
def status(app, fmt, referral_id, status, appt_at, appt_id, note):
    """Move a referral to another STATUS.

    A change the referral's workflow does not allow is refused (exit 1).

    \b
    Examples:
      medsec referral status RF1 appointment-scheduled --appt-at "2026-12-08 14:00"
      medsec referral status RF1 report-received --note "consult note faxed"
    """
    render(svc.set_status(app, referral_id, status, note=note, appt_at=appt_at, appt_id=appt_id), fmt)


@referral.command("send")
@click.argument("referral_id")
@click.option("--via", type=click.Choice(svc.VIAS), default=None,
              help="How to send it (default: fax when it has a fax number, else mail).")
@click.option("--fax", default=None, help="Fax to this number (kept on the referral).")
@click.option("--address", default=None, help="Mail to this address (kept on the referral).")
@click.option("--auth", "auth_number", default=None, help="The payer's authorization number, once granted.")
@note_option()
@output_options
@pass_app
def send(app, fmt, referral_id, via, fax, address, auth_number, note):
    """Send the referral letter by fax or mail.

    A fax gets a cover sheet; the referral becomes sent.

    \b
    Examples:
      medsec referral send RF1
      medsec referral send RF1 --auth AUTH-7781 --via mail
    """
    render(svc.send(app, referral_id, via=via, fax=fax, address=address, auth_number=auth_number, note=note), fmt)
