"""The accounting of disclosures (HIPAA 45 CFR 164.528) of one patient's information.

Every time the practice sent the patient's information outside it: outgoing
faxes (the fax log, whichever workflow sent them), outgoing post and email
(the mail log) and referral letters posted to a specialist (a referral faxed
is in the fax log already, with the referral as its link: it is counted once).
Each row says when, to whom (name and number or address), what, why, by whom,
how, and the workflow record it belongs to.

164.528(a)(1) exempts from the accounting the disclosures for treatment,
payment and health care operations, those to the patient, and those the
patient authorized: every disclosure is listed, each marked `accountable`
(yes or no, with the exemption in `exempt_as`); `required_only` keeps those
the rule requires. A workflow's fax (a referral, a refill decision, a lab
order) is treatment. A purpose the practice wrote (`fax send --purpose`) is
exempt only when it is one of EXEMPT's purposes, whole or before a colon
("treatment: records to the new physician"); any other is accountable, as
words inside a sentence mislead ("life insurance application", "lab results
for the employer", "not authorized"): when in doubt, the patient is told.
"""

import re
from datetime import date

from medsec.records.patients import get_patient
from medsec.store.catalog import FAXES, LABS, MAIL, REFERRALS, REFILLS

# What a patient reads first (a table at 80 columns leaves out the last ones; CSV and JSON have all).
COLUMNS = ["date", "recipient", "address", "what", "purpose", "accountable", "exempt_as", "via", "id", "by", "link",
           "status"]
WINDOW_YEARS = 6  # 164.528(a)(1): an accounting covers the six years before the request

# The exemptions of 164.528(a)(1), by the purposes that name them.
EXEMPT = {
    "to the patient": ("to the patient", "patient request", "patient's request", "at the patient's request"),
    "authorized": ("authorized", "authorization", "patient authorization", "authorized by the patient"),
    "treatment": ("treatment", "referral", "refill", "refill decision", "prescription", "consult", "consultation",
                  "consult report", "care coordination", "continuity of care", "lab order", "lab result",
                  "discharge"),
    "payment": ("payment", "billing", "claim", "insurance claim", "eligibility", "prior authorization", "appeal"),
    "operations": ("operations", "health care operations", "quality", "accreditation", "credentialing"),
}
_EXEMPT_AS = {purpose: name for name, purposes in EXEMPT.items() for purpose in purposes}
# A workflow's record a fax is linked to (by its id's letters): the exemption of its fax.
LINKED = {kind.prefix: "treatment" for kind in (REFERRALS, REFILLS, LABS)}


def window(today: date) -> date:
    """The first day of the default period: the same day six years back (28 February for 29 February)."""
    try:
        return today.replace(year=today.year - WINDOW_YEARS)
    except ValueError:
        return today.replace(year=today.year - WINDOW_YEARS, day=28)


def exemption(purpose: str, to_patient: bool = False, link: str = "") -> str:
    """Why 164.528 does not require this disclosure in the accounting ('' when it does)."""
    if to_patient:
        return "to the patient"
    linked = LINKED.get(re.sub(r"\d+$", "", link or ""))
    if linked:
        return linked
    text = " ".join((purpose or "").lower().replace("\u2019", "'").split())
    return _EXEMPT_AS.get(text) or _EXEMPT_AS.get(text.partition(":")[0].strip(), "")


def _row(when: str, record_id: str, via: str, recipient: str, address: str, what: str, purpose: str,
         by: str, link: str, status: str, to_patient: bool = False) -> dict:
    exempt = exemption(purpose, to_patient, link)
    return {"date": when, "id": record_id, "via": via, "recipient": recipient, "address": address, "what": what,
            "purpose": purpose, "by": by, "link": link, "status": status, "accountable": not exempt,
            "exempt_as": exempt}


def _faxes(view, pid: str) -> list[dict]:
    rows = []
    for f in view.scan(FAXES):
        if f.get("direction") != "out" or f.get("patient_id") != pid:
            continue
        rows.append(_row(f.get("created", ""), f["id"], "fax", f.get("recipient") or "", f.get("number") or "",
                         f.get("what") or f.get("subject") or "", f.get("purpose") or "", f.get("by") or "",
                         f.get("link") or "", f.get("status") or ""))
    return rows


def _mail(view, patient: dict) -> list[dict]:
    """Letters and email from `mail send`: addressed to the patient (exempt, listed all the same)."""
    name = f"{patient.get('first', '')} {patient.get('last', '')}".strip()
    rows = []
    for m in view.scan(MAIL):
        if m.get("direction") != "out" or m.get("patient_id") != patient["id"]:
            continue
        rows.append(_row(m.get("created", ""), m["id"], m.get("channel") or "mail", m.get("recipient") or name,
                         m.get("to") or "", m.get("subject") or m.get("template") or "",
                         m.get("purpose") or (f"letter {m['template']}" if m.get("template") else ""),
                         m.get("by") or "", m.get("link") or "", m.get("status") or "",
                         to_patient=not m.get("recipient")))
    return rows


def _referrals(view, pid: str, faxed: set[str]) -> list[dict]:
    """Referral letters posted (or faxed before the fax log kept them) to the specialist."""
    rows = []
    for r in view.get_many(REFERRALS, view.lookup("referral-patient", pid)):
        sent = r.get("sent") or {}
        if r.get("direction") != "out" or not sent or r["id"] in faxed or sent.get("fax_id"):
            continue
        via = sent.get("via") or "mail"
        rows.append(_row(sent.get("at", ""), r["id"], via, r.get("to") or "",
                         sent.get("to") or r.get("address") or r.get("fax") or "", f"referral letter {r['id']}",
                         "referral", next((h.get("by", "") for h in r.get("history", [])
                                           if h.get("status") == "sent"), ""), r["id"], "sent"))
    return rows


def disclosures(app, patient_id: str, *, first: date | None = None, last: date | None = None,
                required_only: bool = False) -> list[dict]:
    """The patient's disclosures from `first` (default six years back) to `last` (default today), oldest
    first. Reading them is a read of the patient's record (audited)."""
    from medsec.clock import check_range, on_days

    last = last or app.today()
    first = first or window(last)
    check_range(first, last)
    view = app.store.snapshot()
    patient = get_patient(app, patient_id, view=view)
    pid = patient["id"]
    faxes = _faxes(view, pid)
    rows = faxes + _mail(view, patient) + _referrals(view, pid, {r["link"] for r in faxes if r["link"]})
    rows = [r for r in rows if on_days(r["date"], first, last) and (r["accountable"] or not required_only)]
    rows.sort(key=lambda r: (r["date"], r["id"]))
    app.audit("read", [pid] + [r["id"] for r in rows])
    return rows
