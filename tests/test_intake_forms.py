"""Intake forms as data (issue 21): the bundled definitions, a practice's own in intake.yaml checked
by `config check` with file and line, and the rules every answer passes whatever brought it (paper or
the kiosk): each field's type, forged names, the signer of a minor's consent; a submission waits for
review, is applied to the record in one transaction (demographics, the primary coverage, the form's
status) or rejected, once.

The demo practice (`medsec init --demo`): P1 an adult with HARBOR coverage, P4 a child (born 2016).
The rules are exercised through medsec.workflows.intake directly (the paper and kiosk tests drive the
same functions through their own media).
"""

import pytest
from helpers.backends import write_config
from helpers.cli import NOW
from helpers.files import snapshot

from medsec.context import AppContext
from medsec.errors import InvalidInput, Refused
from medsec.intakeforms import bundled_forms
from medsec.records import intake as forms_of
from medsec.records.patients import get_patient
from medsec.workflows import intake

PHOTO = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ADULT_REGISTRATION = {
    "registration.first_name": "Xavier", "registration.last_name": "Quiñonez-Zyzzyva",
    "registration.date_of_birth": "09/21/1968", "registration.sex": "f", "registration.phone": "(617) 555-0100",
    "registration.street_address": "14 Harbor Way", "registration.city": "Boston", "registration.state": "ma",
    "registration.zip": "02115", "registration.emergency_contact_name": "Yolanda Example",
    "registration.emergency_contact_phone": "617-555-0111", "registration.preferred_language": "Español",
}


def as_filled(patient: dict) -> dict:
    """The registration answers of `patient` as the record holds them, with a new street and language."""
    return {**ADULT_REGISTRATION, "registration.first_name": patient["first"],
            "registration.last_name": patient["last"], "registration.date_of_birth": patient["dob"]}


CONSENT = {"consent-to-treat.agree": "on", "consent-to-treat.signature": "Xavier Quinonez-Zyzzyva"}


@pytest.fixture
def app(demo, monkeypatch):
    monkeypatch.setenv("MEDSEC_NOW", NOW)
    monkeypatch.setenv("MEDSEC_HOME", str(demo.home))
    return AppContext(str(demo.home), "tester")


def test_the_bundled_forms_are_complete_in_english_and_spanish():
    forms = bundled_forms()
    assert list(forms) == ["registration", "insurance", "consent-to-treat", "privacy-notice", "financial-policy",
                           "release-of-information"]
    for form in forms.values():
        assert form.languages == ("en", "es")
        for field in form.fields:
            assert set(field.label) == {"en", "es"}, field.name
            assert all(set(c.label) == {"en", "es"} for c in field.choices), field.name
    assert [f.id for f in forms["consent-to-treat"].fields][-5:] == ["signer", "signer_name", "signer_relationship",
                                                                    "signed_on", "signature"]


def test_intake_yaml_is_checked_with_file_and_line(demo):
    write_config(demo, "intake.yaml", """\
required: [registration, photo-consent, nonesuch]
kiosk: {url: "http://checkin.lan/", link_hours: 0}
forms:
  - form: photo-consent
    title: {en: Consent to photographs, es: Consentimiento para fotografías}
    signature: true
    fields:
      - {id: agree, type: tickbox, label: {en: I agree, es: Acepto}}
      - {id: where, type: text, fills: patient.ssn, label: {en: Where}}
""")
    result = demo("config", "check")
    assert result.exit_code == 3
    err = result.stderr
    assert "intake.yaml:1: error: required: no form 'nonesuch'" in err
    assert "intake.yaml:2: error: kiosk.url must be the https:// address" in err
    assert "intake.yaml:2: error: link_hours must be a whole number from 1 to 720" in err
    assert "intake.yaml:8: error: type 'tickbox' is not one of" in err
    assert "intake.yaml:9: error: fills 'patient.ssn'" in err
    assert "label has no es text" in err


def test_a_practice_adds_overrides_and_disables_forms(demo):
    write_config(demo, "intake.yaml", """\
disabled: [release-of-information]
forms:
  - form: photo-consent
    title: {en: Consent to photographs, es: Consentimiento para fotografías}
    renew_months: 0
    signature: true
    fields:
      - {id: agree, type: checkbox, required: true, label: {en: I agree, es: Acepto}}
  - form: privacy-notice
    version: 2
    title: {en: Our privacy notice (2027), es: Nuestro aviso de privacidad (2027)}
    signature: true
    fields:
      - {id: acknowledge, type: checkbox, required: true, label: {en: I received it, es: Lo recibí}}
""")
    demo.ok("config", "check")
    rows = {r["form"]: r for r in demo.json("intake", "forms")}
    assert "release-of-information" not in rows
    assert rows["photo-consent"]["source"] == "intake.yaml" and rows["photo-consent"]["renews"] == "never"
    assert rows["privacy-notice"]["title"] == "Our privacy notice (2027)"
    assert demo.json("intake", "forms", "--lang", "es")[0]["title"] == "Registro del paciente"


def test_answers_pass_each_fields_rule_and_name_every_problem(app):
    patient = get_patient(app, "P1")
    chosen = forms_of.pick_forms(app, ["registration", "insurance"])
    checked = forms_of.check_answers(app, chosen, {
        **ADULT_REGISTRATION, "registration.zip": "0211", "registration.email": "not an address",
        "registration.state": "Massachusetts", "registration.city": "Boston\x1b[2J",
        "registration.street_address": "x" * 201, "registration.sex": "maybe",
        "registration.date_of_birth": "2030-01-01", "insurance.payer": "ACME", "registration.admin": "yes",
        "insurance.card_front": "not a file",
    }, {"insurance.card_back": forms_of.Upload("card.gif", "image/gif", b"GIF89a" + b"\x00" * 10)}, patient)
    problems = checked.problems
    assert problems["registration.zip"] == "'0211' is not a 5- or 9-digit ZIP"
    assert "not an email address" in problems["registration.email"]
    assert "not a US state code" in problems["registration.state"]
    assert "U+001B" in problems["registration.city"]
    assert "200" in problems["registration.street_address"]
    assert "not one of M, F, X, U" in problems["registration.sex"]
    assert "in the future" in problems["registration.date_of_birth"]
    assert "not one of the practice's insurers" in problems["insurance.payer"]
    assert problems["'registration.admin'"] == "no such field on these forms"
    assert problems["insurance.card_front"] == "a photo must be uploaded as a file"
    assert problems["insurance.card_back"] == "the photo is not a JPEG or PNG image"
    good = forms_of.check_answers(app, chosen, {**ADULT_REGISTRATION, "insurance.payer": "harbor"}, {}, patient)
    assert good.problems == {}
    registration = good.answers["registration"]
    assert (registration["date_of_birth"], registration["sex"], registration["state"]) == ("1968-09-21", "F", "MA")
    assert registration["phone"] == "617-555-0100" and registration["preferred_language"] == "es"
    assert good.answers["insurance"] == {"payer": "HARBOR"}


def test_required_fields_and_a_minors_signer(app):
    child = get_patient(app, "P4")
    (consent,) = forms_of.pick_forms(app, ["consent-to-treat"])
    problems = forms_of.check_answers(app, [consent], {"consent-to-treat.signature": "Kid"}, {}, child,
                                      "es").problems
    assert problems["consent-to-treat.agree"] == "debe marcarse"
    assert "menor de 18" in problems["consent-to-treat.signer"]
    guardian = {**CONSENT, "consent-to-treat.signer": "guardian", "consent-to-treat.signature": ""}
    problems = forms_of.check_answers(app, [consent], guardian, {}, child).problems
    assert set(problems) == {"consent-to-treat.signer_name", "consent-to-treat.signer_relationship",
                             "consent-to-treat.signature"}
    drawn = "data:image/png;base64," + __import__("base64").b64encode(PHOTO).decode()
    checked = forms_of.check_answers(app, [consent], {
        **guardian, "consent-to-treat.signer_name": "Pat Example", "consent-to-treat.signer_relationship": "mother",
        "consent-to-treat.signature_drawn": drawn}, {}, child)
    assert checked.problems == {} and checked.files["consent-to-treat.signature_drawn"].data == PHOTO
    bad = forms_of.check_answers(app, [consent], {**guardian, "consent-to-treat.signature_drawn": "javascript:x"},
                                 {}, child).problems
    assert bad["consent-to-treat.signature_drawn"] == "a drawn signature must be a PNG image"


def test_a_submission_writes_nothing_until_it_passes(app, demo):
    forms_of.forms(app)  # the bundled forms' parse, cached as any command caches the configuration's
    before = snapshot(demo.home)
    with pytest.raises(InvalidInput) as e:
        intake.submit(app, "P1", ["registration"], {**ADULT_REGISTRATION, "registration.zip": "<b>1</b>"},
                      source="kiosk")
    assert e.value.message.startswith("registration.zip: ") and len(e.value.details) == 1
    assert snapshot(demo.home) == before


def test_applied_once_in_one_transaction_with_the_forms_status(app, demo):
    submission = intake.submit(app, "P1", ["registration", "insurance", "consent-to-treat"], {
        **as_filled(get_patient(app, "P1")), **CONSENT, "insurance.member_id": "HAR-NEW-1",
        "insurance.payer": "HARBOR"},
        {"insurance.card_front": forms_of.Upload("front.png", "image/png", PHOTO)}, source="kiosk", language="es")
    assert {c["field"] for c in submission["changes"]} == {"patient.address", "patient.language",
                                                           "coverage.member_id"}
    assert get_patient(app, "P1")["address"] != "14 Harbor Way"  # pending: the record is untouched
    demo.ok("patient", "edit", "P1", "--address", "1 Changed Meanwhile Rd")
    reviewed = intake.review(app, submission["id"])
    assert [c["field"] for c in reviewed["stale"]] == ["patient.address"]
    intake.apply(app, submission["id"])
    patient = get_patient(app, "P1")
    assert (patient["address"], patient["language"]) == ("14 Harbor Way", "es")
    (primary,) = [c for c in patient["coverages"] if c["rank"] == "primary"]
    assert primary["member_id"] == "HAR-NEW-1" and "eligibility" not in primary
    assert patient["attachments"][-1]["label"] == f"insurance: Insurance card, front ({submission['id']})"
    consent = patient["intake"]["consent-to-treat"]
    assert (consent["signed"], consent["expires"], consent["submission"]) == ("2026-11-26", "2027-11-26",
                                                                             submission["id"])
    assert consent["signed_by"] == f"{patient['first']} {patient['last']}"
    with pytest.raises(Refused, match="already applied"):
        intake.apply(app, submission["id"])
    with pytest.raises(Refused, match="already applied"):
        intake.reject(app, submission["id"], "late")
    status = {r["form"]: r["status"] for r in forms_of.form_status(app, patient, app.today())}
    assert status == {"registration": "current", "insurance": "current", "consent-to-treat": "current",
                      "privacy-notice": "missing", "financial-policy": "missing", "release-of-information": "missing"}
    later = forms_of.form_status(app, patient, app.today().replace(year=2027, month=11, day=1))
    assert {r["form"]: r["status"] for r in later}["consent-to-treat"] == "expiring"
    assert forms_of.needed_words(forms_of.needed(app, patient, app.today())) == [
        "privacy-notice form (missing)", "financial-policy form (missing)"]


def test_an_insurance_form_without_a_policy_on_file_needs_insurer_and_member_id(app, demo):
    demo.ok("patient", "coverage", "remove", "P1", "--rank", "primary")
    only_group = intake.submit(app, "P1", ["insurance"], {"insurance.group_number": "G1"}, source="paper")
    with pytest.raises(Refused, match="no insurer and member id"):
        intake.apply(app, only_group["id"])
    intake.reject(app, only_group["id"], "no card")
    assert intake.get_submission(app, only_group["id"])["status"] == "rejected"
    new = intake.submit(app, "P1", ["insurance"], {"insurance.payer": "BAYSTATE", "insurance.member_id": "B-1",
                                                   "insurance.relationship": "child",
                                                   "insurance.subscriber_name": "Pat Example"}, source="paper")
    intake.apply(app, new["id"])
    (coverage,) = get_patient(app, "P1")["coverages"]
    assert (coverage["payer"], coverage["member_id"], coverage["relationship"], coverage["subscriber"]) == (
        "BAYSTATE", "B-1", "child", "Pat Example")


def test_a_merge_keeps_the_latest_status_of_each_form(app, demo):
    from datetime import date

    intake.mark_received(app, "P2", "consent-to-treat", date(2026, 11, 20), "scan", signed_by="Sam Scanned")
    intake.mark_received(app, "P1", "consent-to-treat", date(2026, 1, 5), "scan")
    intake.mark_received(app, "P2", "financial-policy", date(2026, 11, 20), "scan")
    demo.ok("patient", "merge", "P2", "--into", "P1")
    held = get_patient(app, "P1")["intake"]
    assert held["consent-to-treat"]["signed_by"] == "Sam Scanned" and "financial-policy" in held
    with pytest.raises(InvalidInput, match="signed in the future"):
        intake.mark_received(app, "P1", "registration", date(2026, 12, 1), "scan")


def test_a_signer_is_a_minor_by_the_day_signed(app, demo):
    """P4 turns 18 on 2026-11-20 here: a consent the patient signed on the 19th needed a guardian;
    signed on the 20th it is theirs."""
    demo.ok("patient", "edit", "P4", "--dob", "2008-11-20")
    patient = get_patient(app, "P4")
    (consent,) = forms_of.pick_forms(app, ["consent-to-treat"])
    early = forms_of.check_answers(app, [consent], {**CONSENT, "consent-to-treat.signed_on": "11/19/2026"}, {},
                                   patient).problems
    assert "under 18" in early["consent-to-treat.signer"]
    assert forms_of.check_answers(app, [consent], {**CONSENT, "consent-to-treat.signed_on": "2026-11-20"}, {},
                                  patient).problems == {}
    bad = forms_of.check_answers(app, [consent], {**CONSENT, "consent-to-treat.signed_on": "02/30/2026"}, {},
                                 patient).problems
    assert bad["consent-to-treat.signed_on"] == "'02/30/2026' is not a real date"


def test_an_answer_the_record_would_refuse_is_refused_on_submission(app, demo):
    """A practice's form whose field fills patient.email as plain text: what passed the form's rule
    but not the record's is named on submission, and nothing is written."""
    write_config(demo, "intake.yaml", """\
forms:
  - form: contact
    title: {en: Contact}
    fields:
      - {id: mail, type: text, fills: patient.email, label: {en: Email}}
      - {id: nickname, type: text, fills: patient.first, max: 200, label: {en: Name}}
      - {id: talk, type: choice, fills: patient.preferred_channel, label: {en: Channel},
         choices: [{value: pigeon, label: {en: Pigeon}}]}
""")
    app = AppContext(str(demo.home), "tester")
    forms_of.forms(app)
    before = snapshot(demo.home)
    with pytest.raises(InvalidInput) as e:
        intake.submit(app, "P1", ["contact"], {"contact.mail": "not-an-address", "contact.nickname": "x" * 61,
                                               "contact.talk": "pigeon"}, source="paper")
    assert {d.partition(":")[0] for d in e.value.details} == {"contact.mail", "contact.nickname", "contact.talk"}
    assert snapshot(demo.home) == before


def test_two_processes_applying_one_submission_one_wins(app, demo, forks):
    import os

    from helpers.cli import cli_env

    submission = intake.submit(app, "P1", ["registration"], {**as_filled(get_patient(app, "P1"))}, source="paper")
    forker = forks({**os.environ, **cli_env(demo.home)})
    results = [forker.wait(run) for run in forker.start_all([("intake", "apply", submission["id"])] * 2)]
    assert sorted(code for code, _, _ in results) == [0, 1], results
    assert any("already applied" in err for _, _, err in results)
    assert intake.get_submission(app, submission["id"])["status"] == "applied"
    assert get_patient(app, "P1")["address"] == "14 Harbor Way"
