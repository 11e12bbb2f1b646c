"""The administrator's seal on who may do what (issue 15, Trust I, part 4).

On a signed-in practice the roles on the roster (staff.yaml), roles.yaml and practice.yaml's
sign-in settings are sealed whenever medsec's commands change them. Changed any other way (by
hand here; on PostgreSQL, by an UPDATE of the documents table), every command refuses, exit 3,
until an administrator as approved before the change approves it: a hand edit grants no power.
Each test runs on the data directory and on PostgreSQL.

The practice is `clinic` (helpers/signin.py): S1 administrator, S2 front desk, S3 physician, S4
biller, P1 Ann Smith.
"""

import json

import pytest
import yaml
from helpers.signin import one_line, signed_in

pytestmark = pytest.mark.both_backends

CHANGED = "changed outside medsec; an administrator must re-approve it"


def hand_edit(medsec, name, change):
    """Change configuration document `name` outside medsec: `change(data)` edits its data."""
    if medsec.pg is None:
        path = medsec.home / name
        data = yaml.safe_load(path.read_text()) or {}
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return
    import psycopg

    with psycopg.connect(medsec.pg.url, autocommit=True) as conn:
        (data,) = conn.execute("SELECT data FROM medsec.documents WHERE name = %s", [name]).fetchone()
        change(data)
        conn.execute("UPDATE medsec.documents SET text = %s, data = %s::jsonb WHERE name = %s",
                     [yaml.safe_dump(data, sort_keys=False), json.dumps(data), name])


def member(data, staff_id):
    return next(m for m in data["staff"] if m["id"] == staff_id)


def test_a_hand_edited_roles_yaml_grants_nothing_and_stops_every_command(clinic, secrets_dir):
    desk = signed_in(clinic, "S2", secrets_dir)
    hand_edit(clinic, "roles.yaml", lambda d: d.update(roles={"front-desk": {"like": "front-desk",
                                                                            "add": ["refills.approve"]}}))
    for env in (desk, signed_in(clinic, "S1", secrets_dir)):
        for args in (("patient", "list"), ("patient", "add", "--first", "Eve", "--last", "Hand", "--dob", "1980-01-01"),
                     ("staff", "passphrase", "S3", "--passphrase-file", secrets_dir / "S3")):
            one_line(clinic(*args, env=env), 3, f"roles.yaml {CHANGED}")
    # `check` and `config check` report it; they do not call the practice healthy.
    admin = signed_in(clinic, "S1", secrets_dir)
    result = clinic("check", env=admin)
    assert result.exit_code == 3 and "roles.yaml" in result.stdout + result.stderr
    assert "security approve" in result.stderr
    result = clinic("config", "check", env=admin)
    assert result.exit_code == 3 and f"roles.yaml {CHANGED}" in result.stderr

    # The front desk cannot approve its own promotion; the administrator sees it and approves it.
    one_line(clinic("security", "approve", env=desk), 1, "roles.manage")
    rows = clinic.json("security", "approve", env=admin)
    assert [(r["document"], r["setting"]) for r in rows] == [("roles.yaml", "front-desk")]
    assert "refills.approve" in rows[0]["now"] and rows[0]["approved"] == "-"
    assert clinic.json("security", "approve", env=admin) == []
    assert clinic("patient", "list", env=desk).exit_code == 0
    assert clinic("check", env=admin).exit_code == 0
    entries = clinic.json("audit", "--user", "S1", env=admin)
    assert any(e["command"] == "security approve" and "roles.yaml front-desk" in e["outcome"] for e in entries)


def test_a_hand_promotion_on_the_roster_cannot_approve_itself(clinic, secrets_dir):
    desk = signed_in(clinic, "S2", secrets_dir)
    hand_edit(clinic, "staff.yaml", lambda d: member(d, "S2").update(role="admin"))
    one_line(clinic("staff", "edit", "S3", "--npi", "1245319599", env=desk), 3, f"staff.yaml {CHANGED}")
    # S2 is an administrator only in the edited file: as approved, a front desk.
    one_line(clinic("security", "approve", env=desk), 1, "S2 (front-desk)", "roles.manage")
    # Nor does deactivating the real administrator by hand keep them out of the approval.
    hand_edit(clinic, "staff.yaml", lambda d: member(d, "S1").update(active=False))
    admin = signed_in(clinic, "S1", secrets_dir)
    rows = clinic.json("security", "approve", env=admin)
    assert {(r["setting"], r["approved"], r["now"]) for r in rows} == {
        ("S1", "admin", "admin (inactive)"), ("S2", "front-desk", "admin")}
    # Approved: S1 is now inactive and S2 an administrator, as the administrator agreed.
    one_line(clinic("patient", "list", env=admin), 1, "S1 is not an active member")
    assert clinic("staff", "list", env=desk).exit_code == 0


def test_turning_sign_in_off_by_hand_turns_nothing_off(clinic, secrets_dir):
    hand_edit(clinic, "practice.yaml", lambda d: d.update(security="open"))
    # Nobody acts as anybody: the practice refuses everything, and only a signed-in
    # administrator may approve the change.
    one_line(clinic("--user", "S1", "patient", "list"), 3, f"practice.yaml {CHANGED}")
    one_line(clinic("--user", "S1", "security", "approve"), 1, "not signed in")
    one_line(clinic("security", "approve", env=signed_in(clinic, "S2", secrets_dir)), 1, "roles.manage")
    admin = signed_in(clinic, "S1", secrets_dir)
    rows = clinic.json("security", "approve", env=admin)
    assert [(r["setting"], r["approved"], r["now"]) for r in rows] == [("security", '"signed-in"', '"open"')]
    assert clinic("--user", "S3", "patient", "list").exit_code == 0  # open, as the administrator chose


def test_changes_made_through_medsec_keep_the_seal(clinic, secrets_dir, tmp_path):
    admin = signed_in(clinic, "S1", secrets_dir)
    clinic.ok("staff", "edit", "S4", "--role", "manager", env=admin)
    clinic.ok("staff", "deactivate", "S4", env=admin)
    clinic.ok("staff", "add", "--name", "Nina Nurse", "--role", "nurse", env=admin)
    folder = tmp_path / "config"
    clinic.ok("config", "export", folder, env=admin)
    roles = folder / "roles.yaml"
    roles.write_text("roles:\n  scribe: [patients.read, tasks]\n")
    practice = folder / "practice.yaml"
    practice.write_text(practice.read_text() + "sign_in:\n  idle_minutes: 30\n")
    clinic.ok("config", "import", folder, env=admin)
    # Audited with which settings changed, never their values.
    (entry,) = [e for e in clinic.json("audit", env=admin) if e["action"] == "config-import"]
    assert entry["outcome"] == "ok: practice.yaml sign_in; roles.yaml roles.scribe"
    clinic.ok("security", "mode", "open", env=admin)
    clinic.ok("--user", "S1", "security", "mode", "signed-in")
    admin = signed_in(clinic, "S1", secrets_dir)
    assert clinic.json("security", "approve", env=admin) == []
    assert clinic("check", env=admin).exit_code == 0
    # What is not authority may still be edited by hand: a phone number, a comment.
    hand_edit(clinic, "staff.yaml", lambda d: member(d, "S3").update(phone="555-0100"))
    assert clinic("staff", "list", env=admin).exit_code == 0


def test_a_changed_seal_is_reported_and_cannot_be_approved(clinic, secrets_dir):
    from medsec.security.approval import HOLDER, seal_of
    from medsec.store.api import open_store
    from medsec.store.catalog import CREDENTIALS

    admin, desk = signed_in(clinic, "S1", secrets_dir), signed_in(clinic, "S2", secrets_dir)
    store = open_store(str(clinic.home), clinic.pg.url if clinic.pg else None, None)
    with store.transaction() as txn:
        seal = seal_of(txn)
        assert seal["staff_id"] == HOLDER
        approved = json.loads(json.dumps(seal["approved"]))
        approved["staff.yaml"]["S2"] = ["admin", True]  # without the key: its HMAC no longer matches
        txn.put(CREDENTIALS, {**seal, "approved": approved}, old=seal)
    del store  # (its connection, on PostgreSQL)
    one_line(clinic("patient", "list", env=admin), 3, "seal was changed outside medsec")
    one_line(clinic("security", "approve", env=desk), 3, "seal was changed")
    one_line(clinic("login", "S1", "--passphrase-file", secrets_dir / "S1"), 3, "seal was changed")
    result = clinic("check", env=admin)
    assert result.exit_code == 3 and "seal was changed outside medsec" in result.stdout + result.stderr


def test_an_open_practice_is_not_sealed(practice):
    """A practice that never signed in has no seal: its files are its own to edit."""
    hand_edit(practice, "roles.yaml", lambda d: d.update(roles={"scribe": ["patients.read"]}))
    assert practice("patient", "list").exit_code == 0
    assert practice.json("security", "approve") == []
