"""Invoices and statements, from templates, as text and PDF; and the A/R reports."""

from datetime import date, timedelta
from decimal import Decimal

from medsec import documents
from medsec.billing.accounts import balance, charges_of, ledger, outstanding, responsible
from medsec.communications import messaging
from medsec.errors import InvalidInput, Refused
from medsec.money import dec, exact, fmt
from medsec.outputs import write_output
from medsec.records.patients import get_patient
from medsec.scheduling.appointments import get_appointment
from medsec.scheduling.schedule import Schedule
from medsec.store.catalog import CHARGES, CLAIMS

AGING_BUCKETS = [(0, 30, "0-30"), (31, 60, "31-60"), (61, 90, "61-90"), (91, 120, "91-120"), (121, 10 ** 6, "120+")]


def _write(app, rendered, output: str | None, as_pdf: bool) -> dict:
    out = {"subject": rendered.subject, "text": rendered.text}
    if output:
        data = documents.text_to_pdf(rendered.text, rendered.subject) if as_pdf else rendered.text.encode()
        write_output(output, data, data_dir=app.data_dir)
        out["file"] = output
    return out


def statement(app, patient_id: str, start: date | None, end: date | None, output: str | None = None,
              as_pdf: bool = True) -> dict:
    end = end or app.today()
    start = start or end - timedelta(days=30)
    if end < start:
        raise InvalidInput(f"--to {end} is before --from {start}")
    patient = get_patient(app, patient_id)
    rows = ledger(app, patient["id"])
    opening = "0.00"  # the ledger's own string: re-reading a sum could only lose it
    shown = []
    for row in rows:
        if row["date"] < start.isoformat():
            opening = row["balance"]
        elif row["date"] <= end.isoformat():
            shown.append(row)
    owed = balance(app, patient["id"])
    context = {"practice": messaging.practice_context(app), "patient": messaging.patient_context(patient),
               "statement": {"period": f"{start} to {end}", "rows": shown, "opening": opening,
                             "balance": owed["balance"], "insurance_pending": owed["insurance_pending"],
                             "patient_due": owed["patient_due"]}}
    rendered = messaging.render(app, "statement", context, patient.get("language") or "en")
    result = _write(app, rendered, output, as_pdf)
    return {"patient_id": patient["id"], **context["statement"], **result}


@exact
def invoice(app, appt_id: str, output: str | None = None, as_pdf: bool = True) -> dict:
    appt = get_appointment(app, appt_id)
    patient = get_patient(app, appt["patient_id"])
    view = app.store.snapshot()
    charges = [c for c in charges_of(view, patient["id"]) if c["appointment_id"] == appt["id"]]
    if not charges:
        raise Refused(f"{appt['id']} has no charges", hint="add them with 'medsec bill charge'")
    owed = outstanding(view, patient["id"])
    schedule = Schedule.load(app)
    lines = [{"code": "-".join([c["code"], *c["modifiers"]]), "description": c.get("description", ""),
              "units": c["units"], "amount": fmt(c.get("amount"))} for c in charges]
    total_ = sum((dec(c.get("amount")) for c in charges), Decimal(0))
    left = sum((owed.get(c["id"], Decimal(0)) for c in charges), Decimal(0))
    info = {"number": f"INV-{appt['id']}", "date": appt["start"][:10],
            "provider": schedule.staff.get(appt["provider"], {}).get("name", appt["provider"]), "lines": lines,
            "total": fmt(total_), "paid": fmt(total_ - left), "owed": fmt(left)}
    rendered = messaging.render(app, "invoice", {"practice": messaging.practice_context(app),
                                                  "patient": messaging.patient_context(patient), "invoice": info},
                                patient.get("language") or "en")
    app.audit("read", [appt["id"], patient["id"]])
    return {"appointment_id": appt["id"], "patient_id": patient["id"], **info, **_write(app, rendered, output, as_pdf)}


@exact
def aging(app, as_of: date) -> list[dict]:
    """Outstanding amounts by who owes them and how old the charge is."""
    view = app.store.snapshot()
    table: dict[str, dict[str, Decimal]] = {}
    patients = {c["patient_id"] for c in view.scan(CHARGES)}
    for pid in sorted(patients):
        owed = outstanding(view, pid)
        for charge in charges_of(view, pid):
            left = owed.get(charge["id"], Decimal(0))
            if left <= 0:
                continue
            party = responsible(view, charge)
            age = (as_of - date.fromisoformat(charge["date"])).days
            label = next(lbl for low, high, lbl in AGING_BUCKETS if low <= max(age, 0) <= high)
            row = table.setdefault(party, {lbl: Decimal(0) for _, _, lbl in AGING_BUCKETS})
            row[label] += left
    rows = []
    for party in sorted(table, key=lambda p: (p == "patient", p)):
        buckets = table[party]
        rows.append({"responsible": party, **{k: fmt(v) for k, v in buckets.items()},
                     "total": fmt(sum(buckets.values(), Decimal(0)))})
    return rows


@exact
def claims_report(app, start: date, end: date) -> list[dict]:
    """Claims created in the period: count and amounts by payer and status."""
    view = app.store.snapshot()
    table: dict[tuple, dict] = {}
    for claim in view.scan(CLAIMS):
        if not start.isoformat() <= claim["created"][:10] <= end.isoformat():
            continue
        row = table.setdefault((claim["payer_id"], claim["status"]),
                               {"payer": claim["payer_id"], "status": claim["status"], "claims": 0,
                                "billed": Decimal(0), "paid": Decimal(0)})
        row["claims"] += 1
        row["billed"] += dec(claim.get("total"))
        row["paid"] += dec(claim.get("paid"))
    return [{**r, "billed": fmt(r["billed"]), "paid": fmt(r["paid"])} for _, r in sorted(table.items())]


