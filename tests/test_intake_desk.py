"""The front desk's side of intake paperwork (issue 21): each patient's forms and their status,
the submissions patients made reviewed as a diff against the record, applied or rejected once,
check-in and the day sheet listing the forms still needed, the visits with forms to fill, and
the one-time links sent to their patients like reminders, in the patient's language."""

import re

from helpers.backends import write_config
from helpers.signin import signed_in
from helpers.terminal import run_in_terminal, terminal_env

from medsec.context import AppContext
from medsec.workflows import intake as svc

TOMORROW = "2026-11-27"
REQUIRED = ["registration", "insurance", "consent-to-treat", "privacy-notice", "financial-policy"]


def _submit(practice, patient_id: str, street: str = "12 Elm St", name: str = "Ana Lopez") -> dict:
    """A kiosk-like submission of registration and consent to treat (in-process, as the kiosk makes it)."""
    app = AppContext(data_dir=str(practice.home), user="tester")
    first, last = name.split()
    raw = {"registration.first_name": first, "registration.last_name": last,
           "registration.date_of_birth": "1960-01-10", "registration.sex": "F",
           "registration.phone": "617-555-0100", "registration.street_address": street,
           "registration.city": "Boston", "registration.state": "MA", "registration.zip": "02110",
           "registration.emergency_contact_name": "Bo Lind", "registration.emergency_contact_phone": "617-555-0199",
           "consent-to-treat.agree": "yes", "consent-to-treat.signature": name}
    return svc.submit(app, patient_id, ["registration", "consent-to-treat"], raw, source="kiosk", language="en")


def _status(practice, patient_id, **kw):
    return {row["form"]: row for row in practice.json("intake", "status", patient_id, **kw)}


def test_status_review_apply_and_reject(front_office):
    office = front_office
    fresh = _status(office, "P1")
    assert [f for f, row in fresh.items() if row["required"]] == REQUIRED
    assert {row["status"] for row in fresh.values()} == {"missing"}
    today, later = (office.json("appt", "book", "P1", "--provider", "S1", "--at", f"2026-11-26 {at}",
                                "--type", "follow-up") for at in ("10:30", "14:00"))
    missing = office.json("appt", "checkin", today["id"])["missing_intake"]
    assert "consent-to-treat form (missing)" in missing and "registration form (missing)" in missing

    submission = _submit(office, "P1")
    assert office.json("intake", "list")[0]["id"] == submission["id"]
    office.ok("patient", "edit", "P1", "--city", "Cambridge")  # the record changes after the patient filled it
    shown = office.ok("intake", "review", submission["id"])  # no terminal: shows, applies nothing
    assert "on_file" in shown.stdout and "12 Elm St" in shown.stdout and "Cambridge" in shown.stdout
    city = next(line for line in shown.stdout.splitlines() if line.startswith("City"))
    assert "changed on the record since the patient filled it" in city
    diff = {row["record_field"]: row for row in office.json("intake", "review", submission["id"])["diff"]}
    assert diff["patient.address"]["submitted"] == "12 Elm St" and diff["patient.address"]["note"] == ""
    assert diff["patient.city"]["on_file"] == "Cambridge" and diff["patient.city"]["note"].startswith("changed")
    assert office.json("patient", "show", "P1").get("address", "") == ""

    page = office.ok("intake", "show", submission["id"]).stdout
    assert "Street address" in page and "12 Elm St" in page and "consent-to-treat" in page
    assert office.json("intake", "show", submission["id"])["answers"]["registration"]["city"] == "Boston"

    applied = office.json("intake", "apply", submission["id"])
    assert applied["status"] == "applied" and applied["reviewed_by"] == "tester"
    again = office("intake", "apply", submission["id"])
    assert again.exit_code == 1 and "already applied" in again.stderr
    record = office.json("patient", "show", "P1")
    assert (record["address"], record["city"]) == ("12 Elm St", "Boston")

    now = _status(office, "P1")
    assert now["consent-to-treat"]["status"] == "current"
    assert (now["consent-to-treat"]["signed"], now["consent-to-treat"]["expires"]) == ("2026-11-26", "2027-11-26")
    assert now["consent-to-treat"]["signed_by"] == "Ana Lopez" and now["insurance"]["status"] == "missing"
    near = _status(office, "P1", env={"MEDSEC_NOW": "2027-11-10T09:00:00"})
    assert near["consent-to-treat"]["status"] == "expiring" and near["registration"]["status"] == "expiring"
    assert _status(office, "P1", env={"MEDSEC_NOW": "2027-11-27T09:00:00"})["consent-to-treat"]["status"] == "expired"

    after = office.json("appt", "checkin", later["id"])["missing_intake"]
    assert "consent-to-treat form (missing)" not in after and "registration form (missing)" not in after
    assert "insurance form (missing)" in after

    second = _submit(office, "P1", street="1 Wrong Way")
    refused = office("intake", "reject", second["id"])
    assert refused.exit_code == 2 and "reason" in refused.stderr
    assert office.json("intake", "list")[0]["status"] == "pending"
    office.ok("intake", "reject", second["id"], "--reason", "filled for the wrong patient")
    assert office("intake", "apply", second["id"]).exit_code == 1
    assert office.json("patient", "show", "P1")["address"] == "12 Elm St"
    every = office.json("intake", "list", "--patient", "P1", "--status", "all")
    assert [(r["id"], r["status"]) for r in every] == [(submission["id"], "applied"), (second["id"], "rejected")]
    assert office.json("intake", "list") == []


def test_the_day_sheet_lists_the_forms_each_visit_needs(front_office):
    office = front_office
    for patient, at in (("P1", "09:00"), ("P2", "10:00")):
        office.ok("appt", "book", patient, "--provider", "S1", "--at", f"{TOMORROW} {at}", "--type", "follow-up")
    office.ok("intake", "apply", _submit(office, "P2", name="Bo Lind")["id"])
    rows = {r["patient_id"]: r for r in office.json("appt", "day", TOMORROW)}
    assert rows["P1"]["forms"] == "all" and "consent-to-treat form (missing)" in rows["P1"]["forms_needed"]
    assert rows["P2"]["forms"] == "insurance, privacy, financial"
    wide = office.ok("appt", "day", TOMORROW, env={"COLUMNS": "140"}).stdout
    assert wide.splitlines()[0].split()[-2:] == ["forms", "provider"] and "insurance, privacy" in wide
    narrow = office.ok("appt", "day", TOMORROW, env={"COLUMNS": "80"}).stdout
    assert max(len(line) for line in narrow.splitlines()) <= 80


def test_due_and_send_the_links_in_each_patient_s_language(front_office):
    from medsec.workflows import kiosk_links

    office = front_office
    write_config(office, "intake.yaml", "kiosk: {url: 'https://kiosk.example.org'}\n")
    office.ok("patient", "edit", "P1", "--language", "es")
    office.ok("patient", "edit", "P2", "--email", "bo@example.org", "--preferred-channel", "email")
    office.ok("patient", "edit", "P3", "--no-reminders")
    office.ok("patient", "edit", "P4", "--email", "bounce@example.org", "--preferred-channel", "email")
    for patient, at in (("P1", "09:00"), ("P2", "10:00"), ("P3", "11:00"), ("P4", "13:00")):
        office.ok("appt", "book", patient, "--provider", "S1", "--at", f"{TOMORROW} {at}", "--type", "follow-up")
    office.ok("appt", "book", "P1", "--provider", "S2", "--at", "2026-11-30 09:00", "--type", "follow-up")

    due = office.json("intake", "due", "--for", "tomorrow")
    assert [(r["appt_id"], r["patient_id"], r["link_sent"], r["channel"]) for r in due] == [
        ("A1", "P1", "no", "sms"), ("A2", "P2", "no", "email"), ("A3", "P3", "no", "reminders off"),
        ("A4", "P4", "no", "email")]
    assert due[0]["forms"] == "all" and "consent-to-treat form (missing)" in due[0]["forms_needed"]
    assert office.json("intake", "due", "--for", "tomorrow", "--provider", "S2") == []

    dry = office("intake", "send", "--for", "tomorrow", "--dry-run", "--json")
    assert dry.exit_code == 0 and office.sent() == []
    assert [r["status"] for r in dry.json()] == ["would-send", "would-send", "skipped", "would-send"]

    sent = office("intake", "send", "--for", "tomorrow", "--json")
    assert sent.exit_code == 3, sent.stderr  # P4's address bounces: reported, the others still go
    results = {r["patient_id"]: r for r in sent.json()}
    assert [results[p]["status"] for p in ("P1", "P2", "P3", "P4")] == ["sent", "sent", "skipped", "failed"]
    assert "opted out" in results["P3"]["reason"] and "no such mailbox" in results["P4"]["reason"]
    assert "A4 P4: failed" in sent.stderr

    messages = {m["meta"]["patient_id"]: m for m in office.sent()}
    assert set(messages) == {"P1", "P2"}
    spanish, english = messages["P1"], messages["P2"]
    assert spanish["kind"] == "sms" and "complete sus formularios" in spanish["body"]
    assert english["kind"] == "email" and english["subject"].startswith("Your forms before your visit")
    assert "Dear Bo," in english["body"] and "Consent to treatment" in english["body"]
    code = re.search(r"\b\d+-[A-Z0-9]{4}-[A-Z0-9]{4}\b", spanish["body"]).group(0)
    app = AppContext(data_dir=str(office.home), user="tester")
    link = kiosk_links.resolve_code(app, code)
    assert (link["patient_id"], link["appt_id"], link["language"]) == ("P1", "A1", "es")
    token = re.search(r"/k/(KL\d+\.\S+)", english["body"]).group(1)
    assert kiosk_links.resolve(app, token)["patient_id"] == "P2"
    again = {r["patient_id"]: r["link_sent"] for r in office.json("intake", "due", "--for", "tomorrow")}
    assert again["P1"].startswith("yes") and again["P3"] == "no"

    unknown = office("intake", "send", "A1", "A99")
    assert unknown.exit_code == 1 and len(office.sent()) == 2  # an unknown visit: nothing is sent
    assert office("intake", "send", "A1", "--for", "tomorrow").exit_code == 2


def test_the_desk_reviews_the_biller_may_not_and_a_restricted_chart_stays_closed(clinic, secrets_dir):
    admin, desk, biller = (signed_in(clinic, s, secrets_dir) for s in ("S1", "S2", "S4"))
    clinic.ok("patient", "edit", "P1", "--sex", "F", env=admin)
    first, second = (_submit(clinic, "P1", name="Ann Smith") for _ in range(2))
    refused = clinic("intake", "apply", first["id"], env=biller)
    assert refused.exit_code == 1 and "patients.write" in refused.stderr
    assert clinic("intake", "review", first["id"], env=biller).exit_code == 1
    refusals = [e for e in clinic.json("audit", env=admin) if e["action"] == "refused" and e["user"] == "S4"]
    assert [e["command"] for e in refusals] == ["intake apply", "intake review"], refusals
    assert "12 Elm St" in clinic.ok("intake", "review", first["id"], env=desk).stdout
    assert clinic.json("intake", "apply", first["id"], env=desk)["reviewed_by"] == "S2"

    clinic.ok("staff", "hours", "S3", "--day", "fri", "--from", "08:00", "--to", "12:00", env=admin)
    visit = clinic.json("appt", "book", "P1", "--provider", "S3", "--at", f"{TOMORROW} 09:00", "--type", "follow-up",
                        env=admin)
    clinic.ok("patient", "restrict", "P1", "--to-role", "physician", env=admin)
    for args in (["show", second["id"]], ["review", second["id"]], ["apply", second["id"]], ["status", "P1"]):
        closed = clinic("intake", *args, env=desk)
        assert closed.exit_code == 1 and "restricted to physician" in closed.stderr, (args, closed.stderr)
    # the desk's day lists (as the day sheet) still show the visit of a restricted chart
    assert [r["appt_id"] for r in clinic.json("intake", "due", env=desk)] == [visit["id"]]
    dry = clinic("intake", "send", "--for", "tomorrow", "--dry-run", "--json", env=desk)  # no channel set up here
    assert dry.json()[0]["appt_id"] == visit["id"] and "not set up" in dry.json()[0]["reason"]
    doctor = signed_in(clinic, "S3", secrets_dir)
    assert [r["status"] for r in clinic.json("intake", "list", "--status", "all", env=doctor)] == ["applied", "pending"]


def test_at_a_terminal_review_asks_then_applies_or_rejects(front_office, tmp_path):
    office = front_office
    first, second, third = (_submit(office, "P1") for _ in range(3))
    env = terminal_env(office, tmp_path)
    applied = run_in_terminal(["intake", "review", first["id"]], env, answers=[("Apply to P1? [y/N/r(eject)]", "y")])
    assert applied.exit_code == 0, applied.screen
    assert "12 Elm St" in applied.screen and f"{first['id']} applied to P1" in applied.screen
    rejected = run_in_terminal(["intake", "review", second["id"]], env,
                               answers=[("[y/N/r(eject)]", "r"), ("Reason", "a duplicate")])
    assert rejected.exit_code == 0, rejected.screen
    left = run_in_terminal(["intake", "review", third["id"]], env, answers=[("[y/N/r(eject)]", "")])
    assert "left pending" in left.screen
    statuses = [(r["status"], r["reason"]) for r in office.json("intake", "list", "--status", "all")]
    assert statuses == [("applied", ""), ("rejected", "a duplicate"), ("pending", "")]


def _live_links(practice, appt_id=None):
    from medsec.store.catalog import KIOSK_LINKS

    app = AppContext(data_dir=str(practice.home), user="tester")
    now = app.now().isoformat(timespec="seconds")
    return [k for k in app.store.snapshot().scan(KIOSK_LINKS) if (appt_id is None or k["appt_id"] == appt_id)
            and not k.get("used") and not k.get("retired") and k["expires"] > now]


def test_send_as_cron_runs_it_twice_sends_each_patient_one_link(front_office):
    office = front_office
    office.ok("patient", "edit", "P2", "--email", "bo@example.org", "--preferred-channel", "email")
    office.ok("patient", "edit", "P4", "--email", "bounce@example.org", "--preferred-channel", "email")
    for patient, at in (("P1", "09:00"), ("P1", "15:00"), ("P2", "10:00"), ("P4", "13:00")):
        office.ok("appt", "book", patient, "--provider", "S1", "--at", f"{TOMORROW} {at}", "--type", "follow-up")
    office.ok("appt", "book", "P3", "--provider", "S1", "--at", f"{TOMORROW} 11:00", "--type", "follow-up")
    office.ok("appt", "cancel", "A5", "--reason", "patient called")

    due = office.json("intake", "due", "--for", "tomorrow")
    assert [r["appt_id"] for r in due] == ["A1", "A3", "A4", "A2"]  # A5 was cancelled

    first = office("intake", "send", "--for", "tomorrow", "--json")
    assert first.exit_code == 3  # P4 bounces
    by_appt = {r["appt_id"]: r for r in first.json()}
    assert [by_appt[a]["status"] for a in ("A1", "A2", "A3", "A4")] == ["sent", "skipped", "sent", "failed"]
    assert "A1" in by_appt["A2"]["reason"]  # P1's second visit: the link sent for the first one serves
    assert len(office.sent()) == 2
    assert _live_links(office, "A4") == []  # its message never went: the link does not work
    assert "KL" not in first.stderr and "/k/" not in first.stdout + first.stderr
    text, email = (m["body"] for m in office.sent())  # no kiosk.url: the code for the tablet, no link
    assert "127.0.0.1" not in text + email and "/k/" not in text + email
    assert "type code 1-" in text and "Valid until 11:59 PM Friday, November 27" in text
    assert "Type the code 2-" in email and "The code works once and until 11:59 PM on Friday, November 27" in email
    assert "Call us" not in email  # the practice has no phone on file

    marked = {r["appt_id"]: r["link_sent"] for r in office.json("intake", "due", "--for", "tomorrow")}
    assert marked["A1"].startswith("yes") and marked["A2"].startswith("yes") and marked["A4"] == "no"

    office.ok("patient", "edit", "P4", "--email", "di@example.org")
    second = office("intake", "send", "--for", "tomorrow", "--json")
    assert second.exit_code == 0, second.stderr
    by_appt = {r["appt_id"]: r for r in second.json()}
    assert [by_appt[a]["status"] for a in ("A1", "A2", "A3", "A4")] == ["skipped", "skipped", "skipped", "sent"]
    assert "a link sent for A1 works until" in by_appt["A1"]["reason"]
    assert len(office.sent()) == 3 and len(_live_links(office, "A1")) == 1  # the first link still works

    dry = office.json("intake", "send", "--for", "tomorrow", "--again", "--dry-run")
    assert [(r["appt_id"], r["status"]) for r in dry] == [("A1", "would-send"), ("A3", "would-send"),
                                                         ("A4", "would-send"), ("A2", "skipped")]
    assert len(office.sent()) == 3 and len(_live_links(office)) == 3
    again = office.json("intake", "send", "A1", "--again")
    assert again[0]["status"] == "sent" and len(office.sent()) == 4 and len(_live_links(office, "A1")) == 1


def test_review_at_a_terminal_ended_by_eof_writes_nothing(front_office, tmp_path):
    office = front_office
    first = _submit(office, "P1")
    env = terminal_env(office, tmp_path)
    for answers in ([("[y/N/r(eject)]", "\x04")], [("[y/N/r(eject)]", "r"), ("Reason", "\x04")]):
        ended = run_in_terminal(["intake", "review", first["id"]], env, answers=answers)
        assert ended.exit_code == 1 and "interrupted" in ended.screen, ended.screen
    assert [(r["status"], r["reason"]) for r in office.json("intake", "list", "--status", "all")] == [("pending", "")]
    assert office.json("patient", "show", "P1").get("address", "") == ""


def test_status_of_a_merged_id_is_the_survivor_s_and_json_is_whole(front_office):
    office = front_office
    office.ok("intake", "apply", _submit(office, "P2", name="Bo Lind")["id"])
    office.ok("patient", "merge", "P2", "--into", "P1")
    survivor = _status(office, "P2")
    assert survivor == _status(office, "P1") and survivor["consent-to-treat"]["status"] == "current"
    rejected = office.json("intake", "reject", _submit(office, "P1")["id"], "--reason", "a duplicate")
    assert rejected["answers"]["registration"]["city"] == "Boston" and rejected["reason"] == "a duplicate"


def test_checkin_and_the_day_sheet_follow_intake_yaml(front_office):
    office = front_office
    appt = office.json("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-26 10:30", "--type", "follow-up")
    other = office.json("appt", "book", "P2", "--provider", "S1", "--at", "2026-11-26 11:00", "--type", "follow-up")
    write_config(office, "intake.yaml", "disabled: [financial-policy, privacy-notice, insurance]\n")
    words = [w for w in office.json("appt", "checkin", appt["id"])["missing_intake"] if "(" in w and "or self" not in w]
    assert words == ["registration form (missing)", "consent-to-treat form (missing)"]
    assert {r["forms"] for r in office.json("appt", "day", "2026-11-26")} == {"all"}
    write_config(office, "intake.yaml", "required: []\n")
    assert not [w for w in office.json("appt", "checkin", other["id"])["missing_intake"] if "(missing)" in w]
    assert {r["forms"] for r in office.json("appt", "day", "2026-11-26")} == {"\u2014"}
    assert office.json("intake", "due", "--for", "2026-11-26") == []


def test_due_for_is_a_day_in_the_practice_s_zone_and_forms_are_read_once(front_office, monkeypatch):
    from medsec.records import intake as records

    office = front_office
    late = {"MEDSEC_NOW": "2026-11-27T02:30:00+00:00"}  # 21:30 on the 26th in New York, the practice's zone
    office.ok("appt", "book", "P1", "--provider", "S1", "--at", f"{TOMORROW} 09:00", "--type", "follow-up")
    office.ok("appt", "book", "P2", "--provider", "S1", "--at", f"{TOMORROW} 16:30", "--type", "follow-up")
    assert [r["appt_id"] for r in office.json("intake", "due", env=late)] == ["A1", "A2"]
    assert [r["time"] for r in office.json("intake", "due", "--for", "tomorrow", env=late)] == ["09:00", "16:30"]

    reads = []
    catalog = records.catalog
    monkeypatch.setattr(records, "catalog", lambda app: reads.append(1) or catalog(app))
    office.ok("appt", "day", TOMORROW)
    office.ok("intake", "due")
    office.ok("intake", "send", "--for", "tomorrow", "--dry-run")
    assert len(reads) == 3  # once a command, not once a visit


def test_show_and_review_escape_whatever_a_stored_submission_holds(front_office, tmp_path):
    from medsec.store.catalog import INTAKE

    office = front_office
    submission = _submit(office, "P1")
    app = AppContext(data_dir=str(office.home), user="tester")
    hostile = "\x1b]0;owned\x07Elm\u202eSt"
    with app.store.transaction() as txn:  # as an older version, or a damaged record, might hold it
        record = txn.get(INTAKE, submission["id"])
        answers = {**record["answers"], "registration": {**record["answers"]["registration"], "city": hostile},
                   "x\x1b[2J": {"note\x1b[31m": hostile}}
        txn.put(INTAKE, {**record, "forms": [*record["forms"], "x\x1b[2J"], "answers": answers}, record)
    for args in (["show", submission["id"]], ["review", submission["id"]]):
        out = office("intake", *args)  # review: refused, the form is unknown; said escaped
        assert "\x1b" not in out.stdout + out.stderr and "\u202e" not in out.stdout + out.stderr, args
    assert "\\x1b]0;owned" in office.ok("intake", "show", submission["id"]).stdout
    shown = run_in_terminal(["intake", "show", submission["id"]], terminal_env(office, tmp_path)).screen
    assert "\x1b[2J" not in shown and "\x1b]0" not in shown and "x\\x1b[2J: x\\x1b[2J" in shown, shown
