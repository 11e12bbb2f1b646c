"""Offboarding, restricted charts and break-glass (issue 15, Trust I, parts 6 and 7).

`staff deactivate` stops a member at once and keeps their history; a chart restricted to some
roles is refused to every other role by every command that opens that patient's records (while
another patient's work goes on); a physician or nurse may break the glass with a reason, which
is audited and listed by `report break-glass`; an open practice keeps restrictions but does not
enforce them.

The practice is `clinic` (helpers/signin.py): S1 administrator, S2 front desk, S3 physician, S4
biller, P1 Ann Smith. `ward` adds S5 (a nurse), P2 Bob Jones, working hours for S3, and
restricts P1 to the physicians. Each test runs on the data directory and on PostgreSQL: the
restriction, the sessions and the audit log read back by the report are the store's.
"""

import pytest
from helpers.signin import login, one_line, signed_in

pytestmark = pytest.mark.both_backends

REASON = "unconscious in the waiting room, no physician in"
FRIDAY = "2026-11-27"  # the day after helpers.cli.NOW


@pytest.fixture
def ward(clinic, secrets_dir):
    """The clinic with a nurse (S5), a second patient (P2) and P1 restricted to physicians: the
    signed-in environments by role."""
    admin = signed_in(clinic, "S1", secrets_dir)
    clinic.ok("staff", "add", "--name", "Nora Nurse", "--role", "nurse", env=admin)
    secret = secrets_dir / "S5"
    secret.write_text("copper-lantern-meadow-29\n")
    secret.chmod(0o600)
    clinic.ok("staff", "passphrase", "S5", "--passphrase-file", secret, env=admin)
    clinic.ok("staff", "hours", "S3", "--day", "mon-fri", "--from", "08:00", "--to", "17:00", env=admin)
    clinic.ok("patient", "add", "--first", "Bob", "--last", "Jones", "--dob", "1971-01-01", env=admin)
    restricted = clinic.json("patient", "restrict", "P1", "--to-role", "physician", env=admin)
    assert restricted == {"id": "P1", "restricted_to": ["physician"]}
    return {"admin": admin, "desk": signed_in(clinic, "S2", secrets_dir),
            "doctor": signed_in(clinic, "S3", secrets_dir), "biller": signed_in(clinic, "S4", secrets_dir),
            "nurse": signed_in(clinic, "S5", secrets_dir)}


def audit_of(medsec, env, *args):
    return medsec.json("audit", *args, env=env)


# -- offboarding -----------------------------------------------------------------------------------

def test_deactivation_stops_a_live_session_at_once_and_keeps_history(clinic, secrets_dir):
    admin = signed_in(clinic, "S1", secrets_dir)
    desk = signed_in(clinic, "S2", secrets_dir)
    other_shell = signed_in(clinic, "S2", secrets_dir)
    clinic.ok("patient", "note", "P1", "Asked for a morning slot", env=desk)
    assert clinic("patient", "list", env=desk).exit_code == 0

    done = clinic.json("staff", "deactivate", "S2", env=admin)
    assert done["id"] == "S2" and done["active"] is False
    assert done["sessions_ended"] == 2 and done["passphrase_forgotten"] is True
    # Both of S2's shells are refused from now on; so is signing in again.
    one_line(clinic("patient", "list", env=desk), 1, "ended (deactivated)")
    one_line(clinic("patient", "show", "P1", env=other_shell), 1, "ended (deactivated)")
    one_line(login(clinic, "S2", secrets_dir), 1)
    # History stays: on the roster (inactive), the note still theirs, the audit still naming them.
    assert clinic.json("staff", "show", "S2", env=admin)["active"] is False
    assert "S2" in {m["id"] for m in clinic.json("staff", "list", env=admin)}
    assert clinic.json("patient", "show", "P1", env=admin)["notes"][0]["by"] == "S2"
    assert any(e["action"] == "update" for e in audit_of(clinic, admin, "--user", "S2"))
    deactivations = [e for e in audit_of(clinic, admin, "--patient", "S2") if e["action"] == "staff-deactivate"]
    assert len(deactivations) == 1 and deactivations[0]["user"] == "S1"
    assert deactivations[0]["outcome"] == \
        "ok: active True -> False; 2 session(s) ended; 0 token(s) revoked; passphrase forgotten"
    # Running it again finishes nothing left, and says so.
    again = clinic.json("staff", "deactivate", "S2", env=admin)
    assert again["sessions_ended"] == 0 and again["passphrase_forgotten"] is False


def test_an_inactive_member_s_live_session_is_refused(clinic, secrets_dir):
    """The gate itself refuses an inactive member, whatever ended or did not end their sessions:
    `staff edit --inactive` ends none, and the session still stops working at once."""
    admin = signed_in(clinic, "S1", secrets_dir)
    doctor = signed_in(clinic, "S3", secrets_dir)
    assert clinic("patient", "show", "P1", env=doctor).exit_code == 0
    clinic.ok("staff", "edit", "S3", "--inactive", env=admin)
    one_line(clinic("patient", "show", "P1", env=doctor), 1, "S3 is not an active member")
    clinic.ok("staff", "edit", "S3", "--active", env=admin)  # back: the same session works again
    assert clinic("patient", "show", "P1", env=doctor).exit_code == 0


def test_no_one_deactivates_themselves_or_the_last_administrator(clinic, secrets_dir):
    admin = signed_in(clinic, "S1", secrets_dir)
    one_line(clinic("staff", "deactivate", "S1", env=admin), 1, "S1 is you")
    clinic.ok("staff", "add", "--name", "Mona Manager", "--role", "manager", env=admin)
    secret = secrets_dir / "S5"
    secret.write_text("harbor-violet-pepper-31\n")
    secret.chmod(0o600)
    clinic.ok("staff", "passphrase", "S5", "--passphrase-file", secret, env=admin)
    manager = signed_in(clinic, "S5", secrets_dir)
    # A manager may not unmake an administrator (no one acts beyond the permissions they hold).
    one_line(clinic("staff", "deactivate", "S1", env=manager), 1, "may not deactivate a member of the role admin")
    # `staff edit --inactive` is held to the same rules.
    one_line(clinic("staff", "edit", "S1", "--inactive", env=admin), 1, "S1 is you")
    one_line(clinic("staff", "edit", "S1", "--inactive", env=manager), 1, "role admin")
    one_line(clinic("staff", "deactivate", "S1", env=signed_in(clinic, "S2", secrets_dir)), 1, "staff.manage")
    assert clinic.json("staff", "show", "S1", env=admin)["active"] is True
    assert clinic("patient", "list", env=admin).exit_code == 0  # the administrator's session goes on
    # With a second administrator, the first may go.
    clinic.ok("staff", "add", "--name", "Ada Second", "--role", "admin", env=admin)
    second = secrets_dir / "S6"
    second.write_text("copper-lantern-meadow-58\n")
    second.chmod(0o600)
    clinic.ok("staff", "passphrase", "S6", "--passphrase-file", second, env=admin)
    assert clinic.json("staff", "deactivate", "S1", env=signed_in(clinic, "S6", secrets_dir))["active"] is False
    one_line(clinic("patient", "list", env=admin), 1, "ended (deactivated)")


def test_the_last_administrator_stays(practice):
    """In open mode (no ranks: whoever acts is unchecked) the last rule still holds."""
    practice.ok("staff", "add", "--name", "Ada Admin", "--role", "admin")
    one_line(practice("staff", "deactivate", "S1"), 1, "S1 is the last active administrator")
    practice.ok("staff", "add", "--name", "Ada Second", "--role", "admin")
    assert practice.json("staff", "deactivate", "S1")["active"] is False


# -- restricted charts -------------------------------------------------------------------------------

# Commands as the front desk runs them for a patient (PATIENT is replaced by the id), across the
# domains: each is refused for the restricted P1 and works for P2.
FOR_A_PATIENT = [
    ("patient", "show", "PATIENT"),
    ("patient", "edit", "PATIENT", "--city", "Boston"),
    ("patient", "note", "PATIENT", "Prefers mornings"),
    ("patient", "coverage", "list", "PATIENT"),
    ("appt", "book", "PATIENT", "--provider", "S3", "--at", "TIME", "--type", "follow-up"),
    ("appt", "list", "--patient", "PATIENT"),
    ("bill", "balance", "PATIENT"),
    ("bill", "ledger", "PATIENT"),
    ("call", "log", "--patient", "PATIENT", "--reason", "asks about a visit"),
    ("task", "add", "Call back about the visit", "--staff", "S3", "--patient", "PATIENT"),
    ("refill", "request", "PATIENT", "--drug", "atorvastatin", "--dose", "20 mg once daily",
     "--pharmacy", "CVS Main St", "--via", "phone"),
    ("referral", "add", "PATIENT", "--specialist", "Boston Cardiology", "--reason", "chest pain", "--dx", "R07.9"),
]


def test_a_restricted_chart_is_refused_to_the_front_desk_on_every_command(ward, clinic):
    desk = ward["desk"]
    for number, command in enumerate(FOR_A_PATIENT):
        at = f"{FRIDAY} {9 + number // 3:02d}:{number % 3 * 20:02d}"
        for_p1 = [at if word == "TIME" else "P1" if word == "PATIENT" else word for word in command]
        for_p2 = [at if word == "TIME" else "P2" if word == "PATIENT" else word for word in command]
        one_line(clinic(*for_p1, env=desk), 1, "P1's chart is restricted to physician", "S2 (front-desk)")
        result = clinic(*for_p2, env=desk)
        assert result.exit_code == 0, (for_p2, result.stderr)
    # Each refusal is audited with the patient's id; P1 was not changed.
    admin = ward["admin"]
    refused = [e for e in audit_of(clinic, admin, "--patient", "P1") if e["action"] == "refused"]
    assert len(refused) == len(FOR_A_PATIENT) and {e["user"] for e in refused} == {"S2"}
    assert all(e["outcome"] == "restricted to physician" for e in refused)
    doctor = ward["doctor"]
    p1 = clinic.json("patient", "show", "P1", env=doctor)
    assert p1["city"] == "" and p1["notes"] == [] and p1["restricted_to"] == ["physician"]
    assert clinic.json("appt", "list", "--patient", "P1", env=doctor) == []


def test_lists_and_searches_still_show_a_restricted_patient(ward, clinic):
    desk, doctor = ward["desk"], ward["doctor"]
    clinic.ok("appt", "book", "P1", "--provider", "S3", "--at", f"{FRIDAY} 09:00", "--type", "follow-up", env=doctor)
    # Who the patient is, not what the chart holds; the whole record for the physician.
    listed = {"id": "P1", "first": "Ann", "last": "Smith", "status": "active", "restricted_to": ["physician"]}
    assert clinic.json("patient", "find", "smith", env=desk) == [listed]
    assert clinic.json("patient", "find", "P1", env=desk) == [listed]
    assert clinic.json("patient", "find", "P1", env=doctor)[0]["dob"] == "1970-01-01"
    everyone = {p["id"]: p for p in clinic.json("patient", "list", env=desk)}
    assert everyone["P1"] == listed and everyone["P2"]["dob"] == "1971-01-01"
    day = clinic.json("appt", "day", FRIDAY, env=desk)
    assert [(row["patient_id"], row["patient"]) for row in day] == [("P1", "Smith, Ann")]
    one_line(clinic("appt", "list", "--patient", "P1", env=desk), 1, "P1's chart is restricted")


def test_an_export_and_a_patients_tasks_keep_the_restriction(ward, clinic):
    admin, desk = ward["admin"], ward["desk"]
    exported = {p["id"]: p for p in clinic.ok("patient", "export", "--format", "json", env=admin).json()}
    assert exported["P1"] == {"id": "P1", "first": "Ann", "last": "Smith", "status": "active",
                              "restricted_to": ["physician"]}
    assert exported["P2"]["dob"] == "1971-01-01"
    one_line(clinic("task", "list", "--patient", "P1", env=desk), 1, "P1's chart is restricted")
    assert clinic("task", "list", "--patient", "P2", env=desk).exit_code == 0


def test_the_listed_role_opens_the_chart_and_who_may_restrict_changes_it(ward, clinic):
    doctor, admin, desk = ward["doctor"], ward["admin"], ward["desk"]
    assert clinic.json("patient", "show", "P1", env=doctor)["last"] == "Smith"
    clinic.ok("patient", "note", "P1", "Seen privately", env=doctor)
    one_line(clinic("patient", "show", "P1", env=admin), 1, "S1 (admin) may not open it")
    one_line(clinic("patient", "restrict", "P2", "--to-role", "front-desk", env=desk), 1, "patients.restrict")
    # Restricting needs no look into the chart: the administrator widens it, then lifts it.
    assert clinic.json("patient", "restrict", "P1", "--to-role", "physician", "--to-role", "Front_Desk",
                       env=admin)["restricted_to"] == ["front-desk", "physician"]
    assert clinic("patient", "show", "P1", env=desk).exit_code == 0
    assert clinic.json("patient", "restrict", "P1", "--clear", env=admin) == {"id": "P1", "restricted_to": []}
    assert "restricted_to" not in clinic.json("patient", "show", "P1", env=admin)
    one_line(clinic("patient", "restrict", "P1", "--clear", env=admin), 1, "P1 is not restricted")
    one_line(clinic("patient", "restrict", "P1", "--to-role", "janitor", env=admin), 2, "janitor", "not a role")
    one_line(clinic("patient", "restrict", "P1", env=admin), 2, "--to-role")
    one_line(clinic("patient", "restrict", "P1", "--clear", "--to-role", "nurse", env=admin), 2, "not both")
    changes = [e["outcome"] for e in audit_of(clinic, admin, "--patient", "P1") if e["action"] == "restrict"]
    assert changes == ["ok: restricted to physician", "ok: restricted to front-desk, physician",
                       "ok: restriction lifted"]


def test_a_merge_keeps_the_restriction(ward, clinic):
    doctor, desk = ward["doctor"], ward["desk"]
    clinic.ok("patient", "merge", "P1", "--into", "P2", env=doctor)
    one_line(clinic("patient", "show", "P2", env=desk), 1, "P2's chart is restricted to physician")
    one_line(clinic("patient", "show", "P1", env=desk), 1, "restricted")  # the old id leads there too


# -- break-glass -------------------------------------------------------------------------------------

def test_a_nurse_breaks_the_glass_with_a_reason_and_it_is_audited(ward, clinic, tmp_path):
    nurse, admin = ward["nurse"], ward["admin"]
    one_line(clinic("patient", "show", "P1", env=nurse), 1, "S5 (nurse) may not open it", "--break-glass")
    shown = clinic.json("--break-glass", REASON, "patient", "show", "P1", env=nurse)
    assert shown["id"] == "P1" and shown["last"] == "Smith"
    # A command that looks the patient up more than once (attach: before the copy, and to write)
    # is one break-glass entry.
    scan = tmp_path / "ecg.pdf"
    scan.write_bytes(b"%PDF-1.4 synthetic ECG strip\n")
    clinic.ok("--break-glass", REASON, "patient", "attach", "P1", scan, "--label", "ECG", env=nurse)
    entries = [e for e in audit_of(clinic, admin, "--patient", "P1") if e["action"] == "break-glass"]
    assert [(e["user"], e["command"], e["ids"]) for e in entries] == [("S5", "patient show", ["P1"]),
                                                                     ("S5", "patient attach", ["P1"])]
    assert entries[0]["outcome"] == f"granted as nurse: {REASON}"
    # The glass is broken for that command only: the next one without it is refused again.
    one_line(clinic("patient", "show", "P1", env=nurse), 1, "restricted")
    # Another patient needs no glass, and a break-glass command for one writes no entry.
    clinic.ok("--break-glass", REASON, "patient", "show", "P2", env=nurse)
    assert not [e for e in audit_of(clinic, admin, "--patient", "P2") if e["action"] == "break-glass"]


def test_a_biller_cannot_break_the_glass(ward, clinic):
    biller, admin = ward["biller"], ward["admin"]
    one_line(clinic("--break-glass", REASON, "bill", "ledger", "P1", env=biller), 1,
             "S4 (biller) may not open it, even with --break-glass")
    assert clinic("--break-glass", REASON, "bill", "ledger", "P2", env=biller).exit_code == 0
    entries = audit_of(clinic, admin, "--patient", "P1")
    assert not [e for e in entries if e["action"] == "break-glass"]
    assert [e["outcome"] for e in entries if e["action"] == "refused"] == \
        ["restricted to physician; break-glass refused"]


@pytest.mark.parametrize("reason", ["", "too short", "x" * 201, "chest pain\x1b[2J and more"])
def test_a_break_glass_reason_is_checked_before_anything_runs(ward, clinic, reason):
    result = clinic("--break-glass", reason, "patient", "show", "P1", env=ward["nurse"])
    one_line(result, 2, "--break-glass")
    entries = audit_of(clinic, ward["admin"], "--patient", "P1")
    assert not [e for e in entries if e["action"] in ("break-glass", "read")]


def test_the_break_glass_report_lists_each_emergency_access(ward, clinic):
    nurse, admin, desk = ward["nurse"], ward["admin"], ward["desk"]
    assert clinic.json("report", "break-glass", env=admin) == []
    clinic.ok("--break-glass", REASON, "patient", "show", "P1", env=nurse)
    later = {**nurse, "MEDSEC_NOW": "2026-11-26T10:05:00"}
    clinic.ok("--break-glass", "called by the ER about allergies", "patient", "coverage", "list", "P1", env=later)
    rows = clinic.json("report", "break-glass", env={**admin, "MEDSEC_NOW": "2026-11-26T10:06:00"})
    assert [(r["user"], r["name"], r["role"], r["patient_id"], r["command"], r["reason"]) for r in rows] == [
        ("S5", "Nora Nurse", "nurse", "P1", "patient show", REASON),
        ("S5", "Nora Nurse", "nurse", "P1", "patient coverage list", "called by the ER about allergies")]
    assert rows[0]["at"].startswith("2026-11-26T10:0")
    assert clinic.json("report", "break-glass", "--from", "2026-11-01", "--to", "2026-11-25", env=admin) == []
    one_line(clinic("report", "break-glass", env=desk), 1, "audit.read")  # the manager's, not the desk's


# -- open mode ------------------------------------------------------------------------------------------

def test_an_open_practice_keeps_a_restriction_but_does_not_enforce_it(two_patients):
    m = two_patients
    assert m.json("patient", "restrict", "P1", "--to-role", "physician")["restricted_to"] == ["physician"]
    assert m.json("--user", "anyone", "patient", "show", "P1")["restricted_to"] == ["physician"]
    m.ok("patient", "edit", "P1", "--city", "Boston")
    m.ok("bill", "balance", "P1")
    m.ok("--break-glass", REASON, "patient", "show", "P1")  # accepted, and nothing to break
    entries = m.json("audit", "--patient", "P1")
    assert not [e for e in entries if e["action"] in ("refused", "break-glass")]
    assert m.json("report", "break-glass") == []
    one_line(m("--break-glass", "short", "patient", "show", "P1"), 2, "at least 10 characters")
    # Deactivation works the same way (there are no sessions to end).
    m.ok("staff", "add", "--name", "Dr Phil Sician", "--role", "physician", "--npi", "1234567893")
    done = m.json("staff", "deactivate", "S1")
    assert done["active"] is False and done["sessions_ended"] == 0


def test_a_clearinghouse_file_naming_a_restricted_patient_keeps_the_restriction(ward, clinic):
    """A file's record names its patients (and its unmatched answers may carry their names and member
    ids): `clearinghouse show` opens it only to whoever may open each of those charts, and audits it."""
    from medsec.billing import edi
    from medsec.context import AppContext

    app = AppContext(data_dir=str(clinic.home), user="S4")
    with app.store.transaction() as txn:
        for patients in (["P1", "P2"], ["P2"]):
            edi.record_file(app, txn, direction="in", transaction="271", raw_sha=str(len(patients)) * 64,
                            name="elig.271", status="imported", patients=patients)
    biller = ward["biller"]
    one_line(clinic("clearinghouse", "show", "EF1", env=biller), 1, "P1's chart is restricted to physician")
    assert clinic.json("clearinghouse", "show", "EF2", env=biller)["patients"] == ["P2"]
    shown = [e for e in audit_of(clinic, ward["admin"], "--patient", "P2") if e["command"] == "clearinghouse show"]
    assert [e["ids"] for e in shown] == [["EF2", "P2"]]
