"""`medsec verify`: check the signature on a sign-off and name who signed it."""

import click

from medsec.cli.common import pass_app
from medsec.cli.output import output_options, render


@click.command("verify")
@click.argument("record_id")
@output_options
@pass_app
def verify_command(app, fmt, record_id):
    """Check a sign-off's signature and its signer.

    RECORD_ID is a refill request (its decision), a lab order (its result
    review), a claim (its submission) or a clinical document (its
    signing by its author). The signature is checked against
    the signer's public key, and the approver the record names must be the
    signer. Exit 0 when it holds, naming who signed (id, name, role) and
    when; a record a patient merge moved since shows the patient it was
    signed for and the merge ("merged": P7 -> P3, when, by whom), and
    holds only if its patient now really absorbed that one. Exit 3, one line, when the record was changed since it was
    signed, or the key is not the approver's or is damaged; exit 1 when it
    is not signed, with the reason (an open practice, a service token, a
    session from before signing keys, or not decided yet).

    \b
    Examples:
      medsec verify RX1
      medsec verify LB2 --json
    """
    from medsec.errors import MedsecError
    from medsec.records.patients import opened
    from medsec.records.staff import get_staff
    from medsec.security.signoffs import verify

    proof = verify(app, record_id, lambda record, view: opened(app, record, view))
    try:
        member = get_staff(app, proof["by"])
    except MedsecError:  # a signer no longer on the roster: the key still proves who signed
        member = {}
    result = {"id": proof["id"], "sign-off": proof["sign-off"], "valid": True, "signed_by": proof["by"],
              "name": member.get("name"), "role": member.get("role"), "at": proof["at"], "key": proof["key"]}
    merged = proof.get("merged")
    if merged:  # signed for one patient, moved to the one it was merged into
        result["signed_for"] = merged["from"]
        result["patient"] = merged["into"]
        first = "first merged" if len(merged["path"]) > 2 else "merged"
        result["merged"] = f"{' -> '.join(merged['path'])} ({first} by {merged['by']} at {merged['at']})"
    app.audit("verify", [result["id"]], outcome=f"ok: signed by {result['signed_by']}")
    render(result, fmt)
