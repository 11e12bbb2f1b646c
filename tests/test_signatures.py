"""Signed sign-offs (issue 16, Trust II, part 2): refill decisions, lab result reviews and claim
submissions carry their approver's Ed25519 signature; `medsec verify ID` checks it and names the
signer; `check` reports one that no longer holds.

The practice is `clinic` (helpers/signin.py): S1 administrator, S2 front desk, S3 physician, S4
biller, P1 Ann Smith. Records are changed "outside medsec's commands" through the store's own API
from the test process (as tests/test_approval.py does), so each test runs on both backends.
"""

import json

import pytest
from helpers.backends import edit_record as edit
from helpers.backends import store_of
from helpers.signin import PASS, one_line, signed_in

pytestmark = pytest.mark.both_backends

REQUEST = ["--drug", "Atorvastatin", "--dose", "20 mg daily", "--pharmacy", "CVS Main St", "--via", "phone"]
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def credential_of(medsec, staff_id):
    from medsec.security.sessions import credential

    store = store_of(medsec)
    try:
        return credential(store.snapshot(), staff_id)
    finally:
        del store


@pytest.fixture
def signed(clinic, secrets_dir, tmp_path):
    """The clinic with a refill decided (RX1) and a lab result reviewed (LB1) by S3, signed in."""
    desk, doctor = signed_in(clinic, "S2", secrets_dir), signed_in(clinic, "S3", secrets_dir)
    clinic.ok("refill", "request", "P1", *REQUEST, "--for", "S3", env=desk)
    clinic.ok("refill", "approve", "RX1", "--note", "90 days", env=doctor)
    clinic.ok("lab", "order", "P1", "--physician", "S3", "--dx", "R05.9", "--facility", "Harbor Imaging",
              "--test", "Chest X-ray", env=doctor)
    report = tmp_path / "xray.pdf"
    report.write_bytes(PDF)
    clinic.ok("lab", "result", "LB1", "--file", report, env=desk)
    clinic.ok("lab", "status", "LB1", "reviewed", "--note", "no acute findings", env=doctor)
    return {"admin": signed_in(clinic, "S1", secrets_dir), "desk": desk, "doctor": doctor}


def test_untouched_sign_offs_verify_and_name_the_signer(clinic, signed, tmp_path):
    admin = signed["admin"]
    for record_id, kind in (("RX1", "refill decision"), ("LB1", "lab result review")):
        shown = clinic.json("verify", record_id, env=admin)
        assert shown["valid"] is True and shown["sign-off"] == kind
        assert (shown["signed_by"], shown["name"], shown["role"]) == ("S3", "Dr Phil Sician", "physician")
        assert shown["key"] == credential_of(clinic, "S3")["keys"][0]["id"]
    # What the review vouched for names the report it reviewed.
    lab = clinic.json("lab", "show", "LB1", env=admin)
    assert lab["review"]["by"] == "S3" and lab["review"]["files"] == [lab["files"][0]["sha256"]]
    # Ordinary updates after a sign-off leave it valid: a corrected report comes in (the order is
    # resulted again, to be reviewed again), the refill's notices were written after the decision.
    second = tmp_path / "second.pdf"
    second.write_bytes(PDF + b"%corrected\n")
    clinic.ok("lab", "result", "LB1", "--file", second, env=signed["desk"])
    assert clinic.json("verify", "LB1", env=admin)["valid"] is True
    assert clinic.json("refill", "show", "RX1", env=admin)["notices"]
    assert clinic("check", env=admin).exit_code == 0
    # verify is audited; it needs audit.read (the physician does not hold it).
    assert any(e["action"] == "verify" for e in clinic.json("audit", env=admin))
    one_line(clinic("verify", "RX1", env=signed["doctor"]), 1, "audit.read")


def test_a_sign_off_changed_outside_medsec_fails_verify_and_check(clinic, signed):
    from medsec.store.catalog import LABS, REFILLS

    admin = signed["admin"]
    edit(clinic, REFILLS, "RX1", lambda r: r.update(dose="80 mg daily"))
    one_line(clinic("verify", "RX1", env=admin), 3, "RX1 was changed since S3 signed it")
    edit(clinic, LABS, "LB1", lambda r: r["review"].update(note="reviewed, fine"))
    one_line(clinic("verify", "LB1", env=admin), 3, "LB1 was changed since S3 signed it")
    checked = clinic("check", "--json", env=admin)
    assert checked.exit_code == 3
    problems = {p["file"]: p["problem"] for p in json.loads(checked.stdout)}
    assert set(problems) == {"RX1", "LB1"} and "signature does not hold" in problems["RX1"]


def test_a_signature_by_a_key_that_is_not_the_approvers_fails(clinic, signed, secrets_dir):
    from medsec.store.catalog import REFILLS

    admin = signed["admin"]
    s1_key = credential_of(clinic, "S1")["keys"][0]["id"]  # S1 signed in: their key pair exists
    s3_key = credential_of(clinic, "S3")["keys"][0]["id"]
    # The signature says it is S3's, made with S1's key.
    edit(clinic, REFILLS, "RX1", lambda r: r["signature"].update(key=s1_key))
    one_line(clinic("verify", "RX1", env=admin), 3, f"signed with S1's key {s1_key}, not S3's")
    # The decision and the signature both say S1, the key is S3's.
    edit(clinic, REFILLS, "RX1", lambda r: (r["signature"].update(key=s3_key, by="S1"), r["decision"].update(by="S1")))
    one_line(clinic("verify", "RX1", env=admin), 3, f"signed with S3's key {s3_key}, not S1's")
    # The decision names someone else than the signature.
    edit(clinic, REFILLS, "RX1", lambda r: (r["signature"].update(by="S3"), r["decision"].update(by="S1")))
    one_line(clinic("verify", "RX1", env=admin), 3, "names S1 but the signature is S3's")
    # A key no one has.
    edit(clinic, REFILLS, "RX1", lambda r: (r["signature"].update(key="K0000000000000000"),
                                            r["decision"].update(by="S3")))
    one_line(clinic("verify", "RX1", env=admin), 3, "no staff member's")


def test_a_corrupted_key_or_signature_is_one_line_exit_3(clinic, signed):
    from medsec.store.catalog import CREDENTIALS, REFILLS

    admin = signed["admin"]
    record = credential_of(clinic, "S3")
    edit(clinic, CREDENTIALS, record["id"], lambda r: r["keys"][0].update(public="not base64!"))
    one_line(clinic("verify", "RX1", env=admin), 3, "S3's key", "damaged")
    other = credential_of(clinic, "S1")["keys"][0]["public"]  # a valid key, not the one its id names
    edit(clinic, CREDENTIALS, record["id"], lambda r: r["keys"][0].update(public=other))
    one_line(clinic("verify", "RX1", env=admin), 3, "damaged (the key was changed)")
    edit(clinic, CREDENTIALS, record["id"], lambda r: r["keys"][0].update(public=record["keys"][0]["public"]))
    assert clinic("verify", "RX1", env=admin).exit_code == 0
    edit(clinic, REFILLS, "RX1", lambda r: r["signature"].update(sig="%%%"))
    one_line(clinic("verify", "RX1", env=admin), 3, "signature is damaged")
    edit(clinic, REFILLS, "RX1", lambda r: r.update(signature="forged"))
    one_line(clinic("verify", "RX1", env=admin), 3, "signature is damaged")


def test_bad_ids_and_records_not_signed(clinic, signed):
    admin = signed["admin"]
    one_line(clinic("verify", "A1", env=admin), 2, "not a record that is signed off")
    one_line(clinic("verify", "RX01", env=admin), 2)
    one_line(clinic("verify", "RX9", env=admin), 1, "no refill record RX9")
    clinic.ok("refill", "request", "P1", *REQUEST, "--for", "S3", env=signed["desk"])
    one_line(clinic("verify", "RX2", env=admin), 1, "RX2 is not signed", "not decided yet")


def test_an_open_practice_stores_approvals_unsigned(medsec):
    medsec.ok("init", "--security", "open")
    medsec.ok("staff", "add", "--name", "Dr Phil Sician", "--role", "physician", "--npi", "1234567893")
    medsec.ok("patient", "add", "--first", "Ann", "--last", "Smith", "--dob", "1970-01-01")
    medsec.ok("refill", "request", "P1", *REQUEST, "--for", "S1")
    decided = medsec.json("refill", "approve", "RX1", env={"MEDSEC_USER": "S1"})
    assert decided["status"] == "approved" and "sig" not in decided["signature"]
    one_line(medsec("verify", "RX1"), 1, "RX1 is not signed", "an open practice")
    assert medsec("check").exit_code == 0


def test_passphrase_changes_keep_old_signatures_valid(clinic, signed, secrets_dir):
    admin, doctor = signed["admin"], signed["doctor"]
    first_key = credential_of(clinic, "S3")["keys"][0]["id"]
    # S3 changes their own passphrase while signed in: the same key pair, re-wrapped.
    own = secrets_dir / "S3"
    own.write_text("harbor-velvet-compass-51\n")
    clinic.ok("staff", "passphrase", "S3", "--passphrase-file", own, env=doctor)
    record = credential_of(clinic, "S3")
    assert [k["id"] for k in record["keys"]] == [first_key] and record["signing"]["key"] == first_key
    # An administrator resets it (forgotten): a new key pair; the old public key stays.
    own.write_text("lantern-pebble-orchid-73\n")
    clinic.ok("staff", "passphrase", "S3", "--passphrase-file", own, env=admin)
    record = credential_of(clinic, "S3")
    assert [k["id"] for k in record["keys"]][0] == first_key and len(record["keys"]) == 2
    new_key = record["signing"]["key"]
    assert new_key != first_key
    assert clinic.json("verify", "RX1", env=admin)["key"] == first_key
    doctor = signed_in(clinic, "S3", secrets_dir)
    clinic.ok("refill", "request", "P1", *REQUEST, "--for", "S3", env=signed["desk"])
    clinic.ok("refill", "deny", "RX2", "--note", "see me first", env=doctor)
    assert clinic.json("verify", "RX2", env=admin)["key"] == new_key
    assert clinic.json("verify", "RX1", env=admin)["valid"] is True
    # Deactivated, S3's private key is forgotten with the passphrase; their signatures still verify.
    clinic.ok("staff", "deactivate", "S3", env=admin)
    record = credential_of(clinic, "S3")
    assert record["signing"] is None and len(record["keys"]) == 2
    assert clinic.json("verify", "RX1", env=admin)["signed_by"] == "S3"
    assert clinic.json("verify", "RX2", env=admin)["valid"] is True


def test_a_copy_of_the_store_cannot_sign(clinic, signed):
    """The session carries the key wrapped under the token's secret, which the store does not hold."""
    from medsec.security.keys import CARRY_SIGNING, b64, open_carry, unwrap_signing
    from medsec.store.catalog import CREDENTIALS, SESSIONS

    token = signed["doctor"]["MEDSEC_SESSION"]
    store = store_of(clinic)
    view = store.snapshot()
    session = view.get(SESSIONS, token.partition(".")[0])
    _, private = unwrap_signing(credential_of(clinic, "S3"), PASS["S3"])
    assert open_carry(session, token, CARRY_SIGNING) == private
    # Without the token's secret nothing opens: not a guessed one, not the digest the store keeps.
    session_id = session["id"]
    for guess in (f"{session_id}.{'A' * 43}", f"{session_id}.{session['secret_sha256']}", session_id):
        assert open_carry(session, guess, CARRY_SIGNING) is None
    everything = json.dumps([list(view.scan(SESSIONS)), list(view.scan(CREDENTIALS))])
    assert b64(private) not in everything and private.hex() not in everything
    del store
    # A shell with a forged token for that session is refused before anything is signed.
    forged = {**signed["doctor"], "MEDSEC_SESSION": f"{session_id}.{'A' * 43}"}
    clinic.ok("refill", "request", "P1", *REQUEST, "--for", "S3", env=signed["desk"])
    one_line(clinic("refill", "approve", "RX2", env=forged), 1, "not a session of this practice")
    # Signing out forgets what the session carried.
    clinic.ok("logout", env=signed["doctor"])
    store = store_of(clinic)
    assert store.snapshot().get(SESSIONS, session_id)["carry"] is None
    del store


def test_a_session_from_before_keys_signs_nothing_and_says_why(clinic, signed):
    from medsec.store.catalog import SESSIONS

    session_id = signed["doctor"]["MEDSEC_SESSION"].partition(".")[0]
    edit(clinic, SESSIONS, session_id, lambda r: (r.pop("carry"), r.pop("carry_key")))
    clinic.ok("refill", "request", "P1", *REQUEST, "--for", "S3", env=signed["desk"])
    clinic.ok("refill", "approve", "RX2", env=signed["doctor"])  # the approval is made all the same
    one_line(clinic("verify", "RX2", env=signed["admin"]), 1, "not signed", "sign in again")


@pytest.fixture
def billing_office(medsec, secrets_dir):
    """The demo practice, signed in: S9 an administrator, S7 (the demo's biller) with a passphrase."""
    medsec.ok("init", "--demo", "--rehearsal")
    medsec.ok("staff", "add", "--name", "Ada Admin", "--role", "admin")
    for staff_id, secret in (("S9", "S1"), ("S7", "S4")):
        medsec.ok("staff", "passphrase", staff_id, "--passphrase-file", secrets_dir / secret)
    medsec.ok("security", "mode", "signed-in")
    for staff_id, secret in (("S9", "S1"), ("S7", "S4")):
        (secrets_dir / staff_id).write_text(PASS[secret] + "\n")
        (secrets_dir / staff_id).chmod(0o600)
    return medsec


def test_claim_submissions_are_signed(billing_office, secrets_dir, tmp_path):
    from medsec.store.catalog import CLAIMS

    office = billing_office
    biller, admin = signed_in(office, "S7", secrets_dir), signed_in(office, "S9", secrets_dir)
    office.ok("bill", "charge", "A1", "--code", "99213", "--dx", "I10", env=biller)
    (claim,) = office.json("claim", "create", "--appt", "A1", env=biller)
    office.ok("claim", "validate", claim["id"], env=biller)
    office.ok("claim", "status", claim["id"], "submitted", "--note", "sent on paper", env=biller)
    shown = office.json("verify", claim["id"], env=admin)
    assert (shown["signed_by"], shown["role"], shown["sign-off"]) == ("S7", "biller", "claim submission")
    # The payer's answer changes the claim; the submission's signature still holds.
    office.ok("claim", "status", claim["id"], "accepted", env=biller)
    assert office.json("verify", claim["id"], env=admin)["valid"] is True
    edit(office, CLAIMS, claim["id"], lambda r: r["lines"][0].update(amount="999.00"))
    one_line(office("verify", claim["id"], env=admin), 3, "was changed since S7 signed it")
    # A service token submits unsigned: only a person signs.
    token = office.json("token", "create", "clearinghouse", "--role", "biller", env=admin)["token"]
    office.ok("bill", "charge", "A2", "--code", "99213", "--dx", "I10", env=biller)  # A2: checked out today
    (second,) = office.json("claim", "create", "--appt", "A2", env=biller)
    office.ok("claim", "validate", second["id"], env=biller)
    office.ok("claim", "status", second["id"], "submitted",
              env={"MEDSEC_TOKEN": token, "MEDSEC_NOW": biller["MEDSEC_NOW"], "MEDSEC_USER": ""})
    one_line(office("verify", second["id"], env=admin), 1, "not signed", "service token")
