"""The front desk's side of intake paperwork (issue 21): each patient's forms and their status,
the submissions patients made reviewed as a diff against the record, applied or rejected once,
check-in and the day sheet listing the forms still needed, the visits with forms to fill, and
the one-time links sent to their patients like reminders, in the patient's language."""

import re

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
    assert "consent-to-treat (missing)" in missing and "registration (missing)" in missing

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
    assert "consent-to-treat (missing)" not in after and "registration (missing)" not in after
    assert "insurance (missing)" in after

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
    assert rows["P1"]["forms"] == "all" and "consent-to-treat (missing)" in rows["P1"]["forms_needed"]
    assert rows["P2"]["forms"] == "insurance, privacy, financial"
    wide = office.ok("appt", "day", TOMORROW, env={"COLUMNS": "140"}).stdout
    assert wide.splitlines()[0].split()[-2:] == ["forms", "provider"] and "insurance, privacy" in wide
    narrow = office.ok("appt", "day", TOMORROW, env={"COLUMNS": "80"}).stdout
    assert max(len(line) for line in narrow.splitlines()) <= 80


def test_due_and_send_the_links_in_each_patient_s_language(front_office):
    from medsec.workflows import kiosk_links

    office = front_office
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
    assert due[0]["forms"] == "all" and "consent-to-treat (missing)" in due[0]["forms_needed"]
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

    clinic.ok("patient", "restrict", "P1", "--to-role", "physician", env=admin)
    for args in (["show", second["id"]], ["review", second["id"]], ["apply", second["id"]], ["status", "P1"]):
        closed = clinic("intake", *args, env=desk)
        assert closed.exit_code == 1 and "restricted to physician" in closed.stderr, (args, closed.stderr)
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
