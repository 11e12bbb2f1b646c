"""Intake submissions: what a patient filled, pending the desk's review, then applied or rejected.

Paper (`intake import`) and the kiosk both end here: `submit` checks every answer against its
form (medsec.records.intake), keeps the photos' bytes, and writes one pending submission
(record kind `intake`, ids IN1, IN2 ...) holding the answers and the changes they propose. Nothing
touches the patient's record until someone who may change it reviews the diff (computed again
against the record as it is then) and applies it: the demographics and the primary coverage
change as `patient edit` and `patient coverage` would change them, the photos and drawn
signatures attach to the chart, and each form's status (received, signed, by whom, expires) is
kept on the patient. Applying, rejecting and every submission are audited.
"""

from collections.abc import Callable
from datetime import date
from typing import Any

from medsec import clock
from medsec.errors import InvalidInput, Refused
from medsec.intakeforms import Form, text_in
from medsec.records import intake as forms_of
from medsec.records.intake import Upload
from medsec.records.patients import RANKS, clean, clean_fields, get_patient, opened
from medsec.store.api import Writer
from medsec.store.catalog import INTAKE, PATIENTS
from medsec.text import shown

SOURCES = ("paper", "kiosk")


def submit(app, patient_id: str, form_ids: list[str], raw: dict[str, str], uploads: dict[str, Upload] | None = None,
           *, source: str, language: str = "en", appt_id: str | None = None, origin: dict | None = None,
           within: Callable[[Writer], None] | None = None) -> dict:
    """A pending submission of the forms `form_ids` for the patient; InvalidInput (exit 2, its
    `details` one line per field) when an answer does not pass, and then nothing is written.
    `origin` says where it came from (the packet's id, the kiosk link); `within(txn)` runs in the
    submission's transaction first (the kiosk consumes its one-time link there)."""
    if source not in SOURCES:
        raise InvalidInput(f"source {shown(source)} is not one of {', '.join(SOURCES)}")
    patient = get_patient(app, patient_id)
    if patient.get("status") != "active":
        raise Refused(f"{patient['id']} is {patient.get('status')}: intake is for active patients")
    chosen = forms_of.pick_forms(app, form_ids)
    checked = forms_of.check_answers(app, chosen, raw, uploads or {}, patient, language)
    if checked.problems:
        first, reason = next(iter(checked.problems.items()))
        raise InvalidInput(f"{first}: {reason}", details=[f"{k}: {v}" for k, v in checked.problems.items()])
    files = {}
    for name, upload in checked.files.items():  # the bytes land first: a crash leaves at most an unreferenced file
        sha, size = app.store.attach_bytes(upload.data)
        files[name] = {"sha256": sha, "size": size, "name": upload.name, "content_type": upload.content_type}
    with app.store.transaction() as txn:
        if within is not None:
            within(txn)
        (submission_id,) = txn.reserve_ids(INTAKE)
        record = {"id": submission_id, "patient_id": patient["id"], "appt_id": appt_id, "source": source,
                  "language": language, "forms": [f.id for f in chosen], "versions": {f.id: f.version for f in chosen},
                  "answers": checked.answers, "files": files,
                  "changes": forms_of.changes(app, chosen, checked.answers, patient),
                  "origin": origin or {}, "received": clock.iso(app.now()), "status": "pending",
                  "reviewed_by": None, "reviewed_at": None, "reason": ""}
        txn.put(INTAKE, record)
    app.audit("intake-submit", [submission_id, patient["id"]])
    return record


def get_submission(app, submission_id: str, view=None) -> dict:
    record = (view or app.store.snapshot()).require(INTAKE, submission_id, "intake submission",
                                                    "see the pending ones with 'medsec intake review'")
    return opened(app, record, view)


def list_submissions(app, status: str | None = "pending", patient_id: str | None = None) -> list[dict]:
    """Submissions, oldest first: the pending ones by default, or a patient's."""
    view = app.store.snapshot()
    if patient_id:
        patient = get_patient(app, patient_id, view=view)
        ids = view.lookup("intake-patient", patient["id"])
    elif status == "pending":
        ids = view.lookup("intake-pending", "pending")
    else:
        ids = [r["id"] for r in view.scan(INTAKE)]
    records = [opened(app, r, view) for r in view.get_many(INTAKE, ids) if status is None or r["status"] == status]
    app.audit("list", [r["patient_id"] for r in records])
    return sorted(records, key=lambda r: INTAKE.number(r["id"]))


def review(app, submission_id: str) -> dict:
    """The submission with the changes its answers make to the record as it is now (`changes`),
    and those it proposed when received that the record has since changed (`stale`)."""
    submission = get_submission(app, submission_id)
    patient = get_patient(app, submission["patient_id"])
    chosen = _forms(app, submission)
    now = forms_of.changes(app, chosen, submission["answers"], patient)
    then = {c["field"]: c for c in submission["changes"]}
    stale = [c for c in now if c["field"] in then and str(then[c["field"]]["old"]) != str(c["old"])]
    app.audit("read", [submission["id"], patient["id"]])
    return {**submission, "changes": now, "stale": stale, "patient_name": f"{patient['first']} {patient['last']}"}


def _forms(app, submission: dict) -> list[Form]:
    known = forms_of.forms(app)
    missing = [f for f in submission["forms"] if f not in known]
    if missing:
        raise Refused(f"{submission['id']}: the practice no longer has the form {missing[0]}",
                      hint="reject it, or restore the form in intake.yaml")
    return [known[f] for f in submission["forms"]]


def _pending(txn, app, submission_id: str) -> dict:
    submission = get_submission(app, submission_id, view=txn)
    if submission["status"] != "pending":
        raise Refused(f"{submission['id']} was already {submission['status']} by {submission.get('reviewed_by')} "
                      f"at {submission.get('reviewed_at')}")
    return submission


def apply(app, submission_id: str) -> dict:
    """Apply a pending submission to its patient's record, in one transaction: demographics,
    the primary coverage, the photos and drawn signatures attached, each form's status."""
    stamp = clock.iso(app.now())
    with app.store.transaction() as txn:
        submission = _pending(txn, app, submission_id)
        patient = get_patient(app, submission["patient_id"], view=txn)
        if patient.get("status") == "merged":
            raise Refused(f"{patient['id']} was merged into {patient.get('merged_into')}")
        chosen = _forms(app, submission)
        updated = _applied(app, patient, chosen, submission, stamp)
        txn.put(PATIENTS, updated, patient)
        done = {**submission, "status": "applied", "reviewed_by": app.user, "reviewed_at": stamp,
                "patient_id": patient["id"], "applied": forms_of.changes(app, chosen, submission["answers"], patient)}
        txn.put(INTAKE, done, submission)
    app.audit("intake-apply", [done["id"], patient["id"]])
    return done


def _applied(app, patient: dict, chosen: list[Form], submission: dict, stamp: str) -> dict:
    """The patient record with the submission applied (pure: `patient` is not changed)."""
    answers = submission["answers"]
    fields: dict[str, Any] = {}
    coverage: dict[str, Any] = {}
    for form in chosen:
        for field in form.fields:
            part, _, key = (field.fills or "").partition(".")
            value = answers.get(form.id, {}).get(field.id)
            if value in (None, "") or part not in ("patient", "coverage"):
                continue
            (fields if part == "patient" else coverage)[key] = value
    record = {**patient, **clean_fields(fields, app.today(), partial=True), "updated": stamp}
    if coverage:
        record["coverages"] = _with_coverage(patient, coverage)
    attachments = list(patient.get("attachments", []))
    for name, info in submission.get("files", {}).items():
        form_id, _, field_id = name.partition(".")
        owner = next((f for f in chosen if f.id == form_id), None)
        asked = owner.field(field_id) if owner else None
        label = text_in(asked.label, "en") if asked else "signature"
        attachments.append({"sha256": info["sha256"], "name": clean("file name", info["name"]), "size": info["size"],
                            "label": f"{form_id}: {label} ({submission['id']})", "added": stamp, "by": app.user})
    record["attachments"] = attachments
    intake = dict(patient.get("intake") or {})
    for form in chosen:
        intake[form.id] = _status_entry(form, answers.get(form.id, {}), submission, stamp)
    record["intake"] = intake
    return record


def _with_coverage(patient: dict, changes: dict) -> list[dict]:
    """The coverages with the primary one changed (or added) by a form's answers."""
    coverages = list(patient.get("coverages", []))
    old = next((c for c in coverages if c.get("rank") == "primary"), None)
    if old is None:
        if not changes.get("payer") or not changes.get("member_id"):
            raise Refused("the insurance form gives no insurer and member id, and the patient has no coverage",
                          hint="add the coverage with 'medsec patient coverage add', or reject the submission")
        new = {"rank": "primary", "payer": "", "member_id": "", "group": "", "relationship": "self",
               "subscriber": "", "subscriber_dob": "", "start": "", "end": "", **changes}
    else:
        new = {**old, **changes}
        if any(new.get(k) != old.get(k) for k in ("payer", "member_id")):
            new.pop("eligibility", None)  # it answered for the old policy
    if new.get("relationship", "self") != "self" and not new.get("subscriber"):
        raise Refused("the insurance form says the patient is not the policy holder but names none",
                      hint="add the holder with 'medsec patient coverage edit', or reject the submission")
    kept = [c for c in coverages if c.get("rank") != "primary"]
    return sorted(kept + [new], key=lambda c: RANKS.index(c["rank"]))


def _status_entry(form: Form, answers: dict, submission: dict, stamp: str) -> dict:
    signed = str(answers.get("signed_on") or submission["received"][:10]) if form.signature else ""
    day = date.fromisoformat(signed or submission["received"][:10])
    by = ""
    if form.signature:
        by = str(answers.get("signer_name", ""))
        if answers.get("signer") == "guardian":
            by += f" ({answers.get('signer_relationship', 'guardian')})"
    return {"received": submission["received"], "signed": signed, "signed_by": by,
            "expires": forms_of.expires_on(form, day) or "", "version": submission.get("versions", {}).get(form.id, 1),
            "source": submission["source"], "submission": submission["id"], "reviewed": stamp}


def reject(app, submission_id: str, reason: str) -> dict:
    reason = clean("reason", reason).strip()
    if not reason:
        raise InvalidInput("--reason: say why the submission is rejected")
    stamp = clock.iso(app.now())
    with app.store.transaction() as txn:
        submission = _pending(txn, app, submission_id)
        done = {**submission, "status": "rejected", "reviewed_by": app.user, "reviewed_at": stamp, "reason": reason}
        txn.put(INTAKE, done, submission)
    app.audit("intake-reject", [done["id"], done["patient_id"]])
    return done


def mark_received(app, patient_id: str, form_id: str, signed: date, source: str, attachment: dict | None = None,
                  signed_by: str = "") -> dict:
    """Record a form as received and signed on `signed` without answers (a scanned paper form,
    attached as `attachment`); the patient's record as written."""
    (form,) = forms_of.pick_forms(app, [form_id])
    if signed > app.today():
        raise InvalidInput(f"the form cannot be signed in the future ({signed})")
    stamp = clock.iso(app.now())
    by = clean("label", signed_by).strip()

    def change(old: dict) -> dict:
        intake = dict(old.get("intake") or {})
        intake[form.id] = {"received": stamp, "signed": signed.isoformat() if form.signature else "",
                           "signed_by": by, "expires": forms_of.expires_on(form, signed) or "",
                           "version": form.version, "source": source, "submission": "", "reviewed": stamp}
        attachments = old.get("attachments", []) + ([attachment] if attachment else [])
        return {**old, "intake": intake, "attachments": attachments, "updated": stamp}

    with app.store.transaction() as txn:
        old = get_patient(app, patient_id, follow=False, view=txn)
        if old.get("status") != "active":
            raise Refused(f"{old['id']} is {old.get('status')}: intake is for active patients")
        record = change(old)
        txn.put(PATIENTS, record, old)
    app.audit("intake-received", [record["id"]])
    return record


def find(app, submission_id: str) -> dict:
    """A submission as `intake show` prints it (audited as a read)."""
    submission = get_submission(app, submission_id)
    app.audit("read", [submission["id"], submission["patient_id"]])
    return submission
