"""`medsec intake`: kiosk commands (joined to the group by medsec.cli.intake)."""

import click

from medsec.cli.common import pass_app
from medsec.cli.options import list_options
from medsec.cli.output import output_options, render, say


@click.command("kiosk")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to serve on; off loopback needs TLS and enrolled tablets.")
@click.option("--port", default=8470, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0: any free one, printed when ready).")
@click.option("--cert", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="The practice's TLS certificate (PEM, with its chain).")
@click.option("--key", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="The certificate's private key (PEM).")
@click.option("--self-signed", is_flag=True, help="Make (once) and serve a certificate of medsec's own.")
@pass_app
def kiosk(app, host, port, cert, key, self_signed):
    """Serve the intake forms to the tablet.

    Patients open their one-time link (`intake link`) or type its code on
    the start page; what they submit waits for `intake review`. Serves
    until Ctrl-C. Off loopback it needs TLS and an enrolled tablet
    (`intake device add`): see README, "Serving the kiosk".

    \b
    Examples:
      medsec intake kiosk
      medsec intake kiosk --port 0
      medsec intake kiosk --host 0.0.0.0 --self-signed
      medsec intake kiosk --host 192.168.1.20 --cert kiosk.pem --key kiosk.key
    """
    from medsec.workflows.kiosk import serve

    app.audit("intake-kiosk", [], outcome=f"ok: serving on {host}")
    raise SystemExit(serve(app, host, port, cert, key, self_signed))


@click.command("link")
@click.argument("appt_id", metavar="APPT")
@click.option("--form", "forms", multiple=True, metavar="FORM",
              help="A form to fill (repeat; default: what the patient needs).")
@click.option("--lang", default=None, metavar="CODE", help="The forms' language (default: the patient's).")
@output_options
@pass_app
def link(app, fmt, appt_id, forms, lang):
    """Make a one-time kiosk link and code.

    For the appointment's patient; it lasts intake.yaml kiosk.link_hours
    (24 by default), and at least to the end of the visit's day, and ends
    at its first submission. A new link for the same appointment ends the
    older ones.

    \b
    Examples:
      medsec intake link A3
      medsec intake link A3 --form consent-to-treat --lang es
      medsec intake link A3 --json
    """
    from medsec.workflows.kiosk_links import create_link

    made = create_link(app, appt_id, list(forms) or None, lang)
    render({**made, "forms": ", ".join(made["forms"])} if fmt == "table" else made, fmt,
           ["id", "appt_id", "patient_id", "forms", "language", "expires", "code", "url"])


@click.group("device")
def device():
    """Tablets allowed to reach the kiosk.

    Off loopback the kiosk answers only enrolled tablets: open
    https://HOST:PORT/enrol?token=TOKEN once on the tablet.

    \b
    Examples:
      medsec intake device add "front desk tablet"
      medsec intake device list
      medsec intake device revoke KD1
    """


@device.command("add")
@click.argument("name")
@output_options
@pass_app
def device_add(app, fmt, name):
    """Enrol a tablet and print its token (once).

    \b
    Examples:
      medsec intake device add "front desk tablet"
      medsec intake device add lobby --json
    """
    from medsec.workflows.kiosk_links import enrol

    record, token = enrol(app, name)
    render({"id": record["id"], "name": record["name"], "token": token}, fmt)
    if fmt == "table":
        say("the token is shown this once: open https://HOST:PORT/enrol?token=TOKEN on the tablet")


@device.command("list")
@list_options
@output_options
@pass_app
def device_list(app, fmt, limit):
    """List the enrolled tablets.

    \b
    Examples:
      medsec intake device list
      medsec intake device list --json
    """
    from medsec.workflows.kiosk_links import list_devices

    render(list_devices(app)[:limit], fmt, ["id", "name", "created", "created_by", "revoked"],
           empty="no tablets enrolled")


@device.command("revoke")
@click.argument("device_id", metavar="KD")
@pass_app
def device_revoke(app, device_id):
    """Revoke a tablet, at once.

    \b
    Examples:
      medsec intake device revoke KD1
    """
    from medsec.workflows.kiosk_links import revoke

    done = revoke(app, device_id)
    key = device_id.strip().upper()
    say(f"{key} revoked" if done else f"{key} was revoked already")


COMMANDS: list[click.Command] = [kiosk, link, device]
