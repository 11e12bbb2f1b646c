"""Encryption at rest (issue 16, Trust II, part 3): the data directory's files under one data key,
wrapped in key slots for each staff member, service token and a recovery key.

The practice is `clinic` (helpers/signin.py: S1 administrator, S2 front desk, S3 physician, S4
biller, P1 Ann Smith), given patients whose every field is a marker that must never be found on
disk once it is encrypted.
"""

import json
import os
import random
import signal
import subprocess
import time

import pytest
from helpers.cli import MEDSEC_BIN
from helpers.signin import one_line, signed_in

from medsec import atrest

PATIENTS = [("Quintessa", "Vellacourt", "617-555-0341", "MEMB-QV-90817", "allergic to kiwi-ZX41"),
            ("Bartholomew", "Oyelaran", "617-555-0342", "MEMB-BO-55120", "prefers mornings-ZX42"),
            ("Ysolde", "Trakhtenberg", "617-555-0343", "MEMB-YT-30394", "hearing aid left-ZX43")]
ATTACHMENT = b"%PDF-1.4 scanned insurance card of Quintessa Vellacourt ZX-ATTACHMENT-7781\n%%EOF\n"
MEMO = "ZX-MEMO-Fire-drill-2291"


def markers() -> list[bytes]:
    found = [ATTACHMENT[9:60], MEMO.encode()]
    for first, last, phone, member, note in PATIENTS:
        found += [first.encode(), last.encode(), phone.encode(), member.encode(), note.encode()]
    return found


def plaintext_found(home) -> list[str]:
    """Files of the data directory holding any marker in the clear."""
    hits = []
    for folder, _dirs, names in os.walk(home):
        for name in names:
            with open(os.path.join(folder, name), "rb") as f:
                data = f.read()
            hits += [f"{os.path.relpath(os.path.join(folder, name), home)}: {m!r}" for m in markers() if m in data]
    return hits


def tree(home) -> dict[str, bytes]:
    """Every file's bytes, but the audit log's (a refusal is audited) and the lock."""
    out = {}
    for folder, _dirs, names in os.walk(home):
        for name in names:
            rel = os.path.relpath(os.path.join(folder, name), home)
            if not rel.startswith("audit/") and rel != ".lock":
                with open(os.path.join(folder, name), "rb") as f:
                    out[rel] = f.read()
    return out


@pytest.fixture
def filled(clinic, secrets_dir, tmp_path):
    """The clinic with the marked patients, their coverage, notes, an attachment and an outbox memo."""
    admin = signed_in(clinic, "S1", secrets_dir)
    (clinic.home / "payers.yaml").write_text("payers:\n  - {id: AETNA, name: Aetna, payer_id: '60054'}\n")
    for first, last, phone, member, note in PATIENTS:
        pid = clinic.json("patient", "add", "--first", first, "--last", last, "--dob", "1980-02-03", "--phone", phone,
                          env=admin)["id"]
        clinic.ok("patient", "coverage", "add", pid, "--payer", "AETNA", "--member-id", member, env=admin)
        clinic.ok("patient", "note", pid, note, env=admin)
    card = tmp_path / "card.pdf"
    card.write_bytes(ATTACHMENT)
    clinic.ok("patient", "attach", "P2", card, "--label", "insurance card", env=admin)
    clinic.ok("memo", "new", "--staff", "S2", "--subject", "Drill", "--var", f"body={MEMO}", env=admin)
    assert plaintext_found(clinic.home)  # the markers are on disk in the clear before
    return admin


def encrypt(clinic, env, tmp_path, name="recovery.txt"):
    out = tmp_path / name
    clinic.ok("encrypt", "--recovery-key-out", out, env=env)
    out.chmod(0o600)
    return out


def test_encrypted_directory_holds_no_plaintext_and_reads_as_before(clinic, filled, secrets_dir, tmp_path):
    before = {p: clinic.json("patient", "show", p, env=filled) for p in ("P2", "P3", "P4")}
    doctor = signed_in(clinic, "S3", secrets_dir)
    summary = json.loads(clinic.ok("encrypt", "--recovery-key-out", tmp_path / "rk.txt", "--json", env=filled).stdout)
    assert summary["state"] == "on" and summary["files_encrypted"] > 10
    assert summary["sessions_ended"] >= 1  # the physician's session, opened before
    assert plaintext_found(clinic.home) == []
    state = json.loads((clinic.home / "meta" / "encryption.json").read_text())
    assert state["state"] == "on" and state["key"] == summary["key"]
    # The administrator's own session goes on; reads and writes give what they gave.
    for p, shown in before.items():
        assert clinic.json("patient", "show", p, env=filled) == shown
    clinic.ok("patient", "note", "P3", "second note ZX44", env=filled)
    assert b"ZX44" not in b"".join(tree(clinic.home).values())
    assert "second note ZX44" in clinic.ok("patient", "note", "P3", env=filled).stdout
    # Every member signs in again and reads; a session from before the encryption has ended.
    one_line(clinic("patient", "show", "P2", env=doctor), 1, "ended")
    doctor = signed_in(clinic, "S3", secrets_dir)
    assert clinic.json("patient", "show", "P2", env=doctor)["last"] == "Vellacourt"
    # The attachment and the outbox memo are encrypted on disk and read back whole.
    sha = clinic.json("patient", "show", "P2", env=filled)["attachments"][0]["sha256"]
    raw = (clinic.home / "files" / sha[:2] / sha).read_bytes()
    assert raw.startswith(atrest.MAGIC)
    memo = [m["name"] for m in clinic.json("outbox", "list", env=filled) if m["name"].endswith(".json")]
    assert MEMO in clinic.ok("outbox", "show", memo[0], env=filled).stdout
    assert clinic("check", env=filled).exit_code == 0
    # Without a session nothing is read (the gate refuses first), and encrypt twice is refused.
    one_line(clinic("patient", "show", "P2"), 1, "not signed in")
    one_line(clinic("encrypt", env=filled), 1, "encrypted already")
    copied = clinic("store", "copy", "--into", tmp_path / "copy", env=filled)
    assert copied.exit_code == 0 and "not encrypted at rest" in copied.stderr
    slots = {row["holder"]: row for row in clinic.json("security", "keys", env=filled)}
    assert set(slots) == {"S1", "S2", "S3", "S4", "(recovery)"} and {r["opens"] for r in slots.values()} == {"yes"}


def test_wrong_passphrase_and_damaged_slots_and_files_are_refused(clinic, filled, secrets_dir, tmp_path):
    encrypt(clinic, filled, tmp_path)
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-right-passphrase-99\n")
    wrong.chmod(0o600)
    one_line(clinic("login", "S2", "--passphrase-file", wrong), 1, "wrong passphrase")
    # A key slot changed on disk: exit 3, one line, nothing written.
    from medsec.security.sessions import credential
    from medsec.store.api import open_store
    from medsec.store.catalog import CREDENTIALS

    with open_store(str(clinic.home)).transaction() as txn:  # the credentials are plain: no key needed
        old = credential(txn, "S2")
        slots = json.loads(json.dumps(old["slots"]))
        box = next(iter(slots["boxes"].values()))
        box["box"] = box["box"][:-8] + ("AAAAAAA=" if not box["box"].endswith("AAAAAAA=") else "BBBBBBB=")
        txn.put(CREDENTIALS, {**old, "slots": slots}, old=old)
    atrest.forget()
    before = tree(clinic.home)
    one_line(clinic("login", "S2", "--passphrase-file", secrets_dir / "S2"), 3, "S2's key slot is damaged")
    # No session is made (a good passphrase may bring its hash up to date: credentials aside).
    assert {k: v for k, v in tree(clinic.home).items() if not k.startswith("credentials/")} == \
        {k: v for k, v in before.items() if not k.startswith("credentials/")}
    # A record file changed by one bit, and a plain file put in place of an encrypted one: exit 3.
    shard = clinic.home / "patients" / "00000.json"
    good = shard.read_bytes()
    shard.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    one_line(clinic("patient", "show", "P2", env=filled), 3, "does not decrypt")
    shard.write_bytes(b'{"_default": {}}')
    one_line(clinic("patient", "show", "P2", env=filled), 3, "not encrypted")
    problems = clinic("check", "--json", env=filled)
    assert problems.exit_code != 0 and "patients/00000.json" in problems.stdout
    shard.write_bytes(good)
    assert clinic("check", env=filled).exit_code == 0


def test_the_recovery_key_opens_it_and_a_wrong_one_is_refused(clinic, filled, secrets_dir, tmp_path):
    rk = encrypt(clinic, filled, tmp_path)
    assert rk.read_text().startswith("MSRK-")
    new_pass = tmp_path / "new"
    new_pass.write_text("copper-lantern-orbit-walrus-3\n")
    new_pass.chmod(0o600)
    # A mistyped key (its checksum) and another practice's key: exit 2, nothing written.
    mistyped = tmp_path / "mistyped"
    text = rk.read_text().strip()
    mistyped.write_text(text[:-3] + ("AAA" if not text.endswith("AAA") else "BBB") + "\n")
    mistyped.chmod(0o600)
    from medsec.security.vault import new_recovery_key

    other = tmp_path / "other"
    other.write_text(new_recovery_key()[0] + "\n")
    other.chmod(0o600)
    before = tree(clinic.home)
    one_line(clinic("security", "recover", "S1", "--recovery-key-file", mistyped, "--passphrase-file", new_pass),
             2, "mistyped")
    one_line(clinic("security", "recover", "S1", "--recovery-key-file", other, "--passphrase-file", new_pass),
             2, "does not open")
    assert tree(clinic.home) == before
    # The right one sets S1 a new passphrase (and a key slot) that opens the data.
    clinic.ok("security", "recover", "S1", "--recovery-key-file", rk, "--passphrase-file", new_pass)
    result = clinic("login", "S1", "--passphrase-file", new_pass)
    assert result.exit_code == 0, result.stderr
    session = result.stdout.strip().partition("=")[2].strip("'")
    env = {"MEDSEC_SESSION": session, "MEDSEC_USER": ""}
    assert clinic.json("patient", "show", "P4", env=env)["last"] == "Trakhtenberg"
    assert any(e["action"] == "recover" for e in clinic.json("audit", env=env))


def test_tokens_and_offboarding_keep_their_slots_right(clinic, filled, secrets_dir, tmp_path):
    token = clinic.json("token", "create", "reminders-cron", "--role", "front-desk", env=filled)["token"]
    encrypt(clinic, filled, tmp_path)
    cron = {"MEDSEC_TOKEN": token, "MEDSEC_USER": ""}
    assert clinic.json("patient", "show", "P3", env=cron)["first"] == "Bartholomew"
    # Deactivating S2 removes their slot; a member whose passphrase an administrator resets gets one.
    clinic.ok("staff", "deactivate", "S2", env=filled)
    holders = {row["holder"] for row in clinic.json("security", "keys", env=filled)}
    assert "S2" not in holders and "S3" in holders
    clinic.ok("staff", "passphrase", "S4", "--passphrase-file", secrets_dir / "S4", env=filled)
    biller = signed_in(clinic, "S4", secrets_dir)
    assert clinic.json("patient", "show", "P3", env=biller)["last"] == "Oyelaran"
    # Switching the practice open would leave nobody able to open it.
    one_line(clinic("security", "mode", "open", env=filled), 1, "encrypted at rest")


def test_encrypted_backups_restore_only_with_a_key_and_refuse_tampering(clinic, filled, secrets_dir, tmp_path):
    rk = encrypt(clinic, filled, tmp_path)
    backup = tmp_path / "b.tar.gz"
    clinic.ok("backup", backup, env=filled)
    import tarfile

    with tarfile.open(backup) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("MEDSEC-BACKUP.json").read())
        data = {n: tar.extractfile(n).read() for n in names}
    assert manifest["encryption"]["key"] and all(m not in b"".join(data.values()) for m in markers())
    # A backup whose record file was changed and its manifest rebuilt to match: refused, live unchanged.
    import hashlib

    forged = tmp_path / "forged.tar.gz"
    rel = "patients/00000.json"
    changed = data[f"data/{rel}"][:-1] + bytes([data[f"data/{rel}"][-1] ^ 1])
    manifest["files"][rel] = hashlib.sha256(changed).hexdigest()
    with tarfile.open(forged, "w:gz") as tar:
        for name in names:
            body = changed if name == f"data/{rel}" else json.dumps(manifest).encode() \
                if name == "MEDSEC-BACKUP.json" else data[name]
            info = tarfile.TarInfo(name)
            info.size = len(body)
            import io

            tar.addfile(info, io.BytesIO(body))
    live = tree(clinic.home)
    one_line(clinic("restore", forged, env=filled), 2, "changed outside medsec")
    assert tree(clinic.home) == live
    # The signed-in session's key restores it; so does the recovery key into an empty folder,
    # where nothing else opens it.
    clinic.ok("patient", "note", "P2", "after the backup", env=filled)
    clinic.ok("restore", backup, env=filled)
    assert "after the backup" not in clinic.ok("patient", "note", "P2", env=signed_in(clinic, "S1", secrets_dir)).stdout
    elsewhere = tmp_path / "elsewhere"
    one_line(clinic("--data-dir", elsewhere, "restore", backup), 1, "does not hold")
    clinic.ok("--data-dir", elsewhere, "restore", backup, "--recovery-key-file", rk)
    assert plaintext_found(elsewhere) == []


@pytest.mark.directory_only
def test_encrypt_and_rekey_killed_anywhere_finish_when_run_again(medsec, secrets_dir, tmp_path):
    """SIGKILL at random points of `medsec encrypt` and then of `medsec rekey` (installed command) on
    the demo practice, signed in: the data stays readable, the next run finishes, the records are
    as they were."""
    home = medsec.home
    medsec.ok("init", "--demo", "--security", "signed-in", "--rehearsal", "--admin", "Ada Admin",
              "--admin-passphrase-file", secrets_dir / "S1")
    admin_id = medsec.json("staff", "list", env=signed_in_as(medsec, "S9", secrets_dir / "S1"))[-1]["id"]
    assert admin_id == "S9"
    env = {**os.environ, **medsec.env}

    def session():
        env.update(signed_in_as(medsec, admin_id, secrets_dir / "S1"))
        return env

    expected = medsec.ok("appt", "list", "--from", "2026-01-01", "--to", "2027-12-31", "--json", env=session()).stdout
    rng = random.Random(16)
    out = tmp_path / "rk.txt"
    for command, moving in ((["encrypt", "--recovery-key-out", str(out)], "encrypting"), (["rekey"], "rekeying")):
        left_midway = 0
        for attempt in range(5):
            proc = subprocess.Popen([MEDSEC_BIN, *command], env=session(), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            if attempt == 0:  # anywhere: before it begins, while it moves files, after
                time.sleep(rng.uniform(0.02, 0.3))
            else:  # while the files move: once the state says so
                deadline = time.monotonic() + 20
                while proc.poll() is None and time.monotonic() < deadline and \
                        (atrest.state_of(str(home)) or {}).get("state") != moving:
                    time.sleep(0.001)
                time.sleep(rng.uniform(0, 0.02))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            left_midway += (atrest.state_of(str(home)) or {}).get("state") == moving
            atrest.forget()
            if out.exists():
                out.unlink()  # (the recovery key a killed run wrote: not what this test checks)
            # Whatever the kill left, every record still reads as it was.
            listed = medsec.ok("appt", "list", "--from", "2026-01-01", "--to", "2027-12-31", "--json", env=session())
            assert listed.stdout == expected
        assert left_midway, f"no kill landed while {command[0]} moved the files"
        state = atrest.state_of(str(home))["state"]
        done = subprocess.run([MEDSEC_BIN, *command, "--json"], env=session(), capture_output=True, text=True)
        if state == moving:  # the last kill left it midway: this run finishes it
            assert done.returncode == 0 and json.loads(done.stdout).get("resumed") is True, done.stderr
        else:  # it had finished before its kill: encrypt is refused, a rekey is another rekey
            assert done.returncode == (1 if command[0] == "encrypt" else 0), done.stderr
        atrest.forget()
        assert atrest.state_of(str(home))["state"] == "on"
        listed = medsec.ok("appt", "list", "--from", "2026-01-01", "--to", "2027-12-31", "--json", env=session())
        assert listed.stdout == expected
        assert medsec("check", env=session()).exit_code == 0
        assert not [n for _f, _d, names in os.walk(home) for n in names if ".tmp-" in n]
    assert len(atrest.state_of(str(home))["keys"]) == 1
    # A change of several files goes through the journal, which holds them encrypted too.
    booked = medsec.json("appt", "book", "P5", "--type", "follow-up", "--at", "next", env=session())
    assert medsec.json("appt", "show", booked["id"], env=session())["patient_id"] == "P5"
    assert plaintext_found(home) == [] and medsec("check", env=session()).exit_code == 0


def test_a_journal_carries_encrypted_files_whole():
    from medsec.store.journal import decode_journal, encode_journal

    files = [("patients/00000.json", atrest.MAGIC + os.urandom(200)), ("index/patient-name/s.json", b'{"a": ["P1"]}')]
    assert decode_journal(encode_journal(files, {"commit": "c1"})) == (files, {"commit": "c1"})


def signed_in_as(medsec, staff_id, passphrase_file):
    result = medsec("login", staff_id, "--passphrase-file", passphrase_file)
    assert result.exit_code == 0, result.stderr
    return {"MEDSEC_SESSION": result.stdout.strip().partition("=")[2].strip("'"), "MEDSEC_USER": ""}


def test_it_needs_a_signed_in_data_directory(medsec, tmp_path):
    medsec.ok("init", "--demo")
    one_line(medsec("encrypt"), 1, "signed-in practice")
    one_line(medsec("--data-dir", tmp_path / "x", "init", "--security", "open", "--encrypt"), 2, "signed-in")
    one_line(medsec("--data-dir", tmp_path / "y", "init", "--encrypt", "--admin", "Ada", "--store",
                    "postgresql://localhost/nothing"), 2, "PostgreSQL")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    one_line(medsec("rekey"), 1, "signed-in practice")


def test_on_postgresql_it_says_what_encrypts_the_data_there(pg_office):
    for command in (["encrypt"], ["rekey"]):
        one_line(pg_office(*command), 1, "PostgreSQL")
