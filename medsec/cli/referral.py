"""`medsec referral`: referrals out to specialists and in from other practices, followed to the end."""

import click

from medsec.cli.common import limit_option, pass_app
from medsec.cli.output import output_options, render, say
from medsec.workflows import referrals as svc


@click.group()
def referral():
    """Refer patients out, take referrals in, follow each until it is closed."""


@referral.command("add")
@click.argument("patient_id")
@click.option("--to", "to", required=True, help="The specialist or facility.")
@click.option("--reason", required=True)
@click.option("--dx", multiple=True, required=True, help="ICD-10-CM diagnosis (repeatable).")
@click.option("--urgent", is_flag=True)
@click.option("--auth-required", is_flag=True, help="The payer must authorize it first.")
@click.option("--fax", default=None, help="The specialist's fax number.")
@click.option("--address", default="", help="The specialist's postal address (to send it by mail).")
@click.option("--physician", "physician_id", default=None,
              help="The referring physician (default: the physician of the patient's latest visit).")
@click.option("--note", default="")
@output_options
@pass_app
def add(app, fmt, patient_id, to, reason, dx, urgent, auth_required, fax, address, physician_id, note):
    """Refer PATIENT out (a draft, or waiting on authorization)."""
    render(svc.add(app, patient_id, to=to, reason=reason, dx=list(dx), urgent=urgent, auth_required=auth_required,
                   fax=fax, address=address, physician_id=physician_id, note=note), fmt)


@referral.command("receive")
@click.option("--from", "sender", required=True, help="The referring practice or physician.")
@click.option("--reason", required=True)
@click.option("--patient", "patient_id", default=None, help="A known patient's id ...")
@click.option("--first", default=None, help="... or the patient's first name,")
@click.option("--last", default=None, help="last name")
@click.option("--dob", default=None, help="and date of birth (matched, or registered).")
@click.option("--phone", default=None, help="The new patient's phone.")
@click.option("--dx", multiple=True, help="ICD-10-CM diagnosis (repeatable).")
@click.option("--urgent", is_flag=True)
@click.option("--type", "type_name", default="new-patient", show_default=True,
              help="Appointment type of the proposed visit.")
@click.option("--provider", default=None, help="Propose a slot with this provider (default: any).")
@click.option("--note", default="")
@output_options
@pass_app
def receive(app, fmt, sender, reason, patient_id, first, last, dob, phone, dx, urgent, type_name, provider, note):
    """Take a referral in and propose the first free appointment."""
    record = svc.receive(app, sender=sender, reason=reason, patient_id=patient_id, first=first, last=last, dob=dob,
                         phone=phone, dx=list(dx), urgent=urgent, type_name=type_name, provider=provider,
                         note=note)
    slot = record["proposed"]
    if slot:
        say(f"first free slot: {slot['start']} with {slot['provider']}; book it with 'medsec appt book "
            f"{record['patient_id']} --provider {slot['provider']} --at \"{slot['start'][:16].replace('T', ' ')}\" "
            f"--type {slot['type']}'")
    else:
        say("no free slot found; see 'medsec appt slots'")
    render(record, fmt)


@referral.command("list")
@click.option("--status", type=click.Choice(svc.STATUSES + ["open", "all"]), default="open")
@click.option("--overdue", is_flag=True, help="Past the due date of their next step.")
@click.option("--direction", type=click.Choice(["out", "in"]), default=None)
@click.option("--patient", "patient_id", default=None)
@limit_option
@output_options
@pass_app
def list_(app, fmt, status, overdue, direction, patient_id, limit):
    """Open referrals, the soonest due first."""
    render(svc.list_referrals(app, status=status, overdue=overdue, direction=direction, patient_id=patient_id,
                              limit=limit), fmt, svc.COLUMNS)


@referral.command("show")
@click.argument("referral_id")
@output_options
@pass_app
def show(app, fmt, referral_id):
    """One referral with its history."""
    render(svc.show_referral(app, referral_id), fmt)


@referral.command("status")
@click.argument("referral_id")
@click.argument("status", type=click.Choice(svc.STATUSES))
@click.option("--appt-at", default=None, help="With appointment-scheduled: when the patient is seen.")
@click.option("--appt", "appt_id", default=None, help="With appointment-scheduled, incoming: our appointment id.")
@click.option("--note", default="")
@output_options
@pass_app
def status(app, fmt, referral_id, status, appt_at, appt_id, note):
    """Move a referral along (invalid changes are refused)."""
    render(svc.set_status(app, referral_id, status, note=note, appt_at=appt_at, appt_id=appt_id), fmt)


@referral.command("send")
@click.argument("referral_id")
@click.option("--via", type=click.Choice(svc.VIAS), default=None, help="Default: fax when it has a fax number.")
@click.option("--fax", default=None, help="Fax to this number (kept on the referral).")
@click.option("--address", default=None, help="Mail to this address (kept on the referral).")
@click.option("--auth", "auth_number", default=None, help="The payer's authorization number, once granted.")
@click.option("--note", default="")
@output_options
@pass_app
def send(app, fmt, referral_id, via, fax, address, auth_number, note):
    """Send the referral letter by fax (with a cover) or mail; it becomes sent."""
    render(svc.send(app, referral_id, via=via, fax=fax, address=address, auth_number=auth_number, note=note), fmt)
