"""Invoices and statements, from templates, as text and PDF; and the A/R reports."""

import re
from datetime import date, timedelta
from decimal import Decimal

from medsec import documents
from medsec.billing.accounts import (
    _charge_event,
    _payment_event,
    account,
    charges_of,
    outstanding,
    payments_of,
    responsible,
    warn_damaged,
)
from medsec.communications import messaging
from medsec.errors import InvalidInput, MedsecError, Refused
from medsec.money import dec, exact, fmt, parse_amount
from medsec.outputs import write_output
from medsec.records.patients import get_patient
from medsec.scheduling.appointments import get_appointment
from medsec.scheduling.schedule import Schedule
from medsec.store.catalog import CHARGES, CLAIMS, PAYMENTS

AGING_BUCKETS = [(0, 30, "0-30"), (31, 60, "31-60"), (61, 90, "61-90"), (91, 120, "91-120"), (121, 10 ** 6, "120+")]


# CARC (claim adjustment reason codes) said in words on statements: the common ones.
CARC = {
    "1": "deductible", "2": "coinsurance", "3": "co-payment", "4": "modifier inconsistent with the procedure",
    "16": "claim lacks information", "18": "duplicate claim or service", "22": "covered by another payer",
    "23": "prior payer's adjudication", "24": "covered under a capitation agreement",
    "27": "expenses after coverage ended", "29": "filing time limit expired",
    "45": "charge exceeds fee schedule", "50": "not deemed medically necessary", "96": "non-covered charge",
    "97": "included in another service", "109": "not covered by this payer", "119": "benefit maximum reached",
    "197": "authorization absent", "204": "not covered under the benefit plan", "242": "out of network",
    "253": "sequestration reduction",
}
CARC_GROUPS = {"CO": "contractual", "PR": "patient responsibility", "OA": "other", "PI": "payer reduction",
               "CR": "correction"}
_CARC_TOKEN = re.compile(r"\b(CO|PR|OA|PI|CR)-?([A-Z]?\d{1,3})\b")
CREDIT_KINDS = ("insurance-payment", "insurance-adjustment", "adjustment", "payment", "refund")


def carc_words(reason: str) -> str:
    """'CO45' or 'CO-45 CO-253' said in words: 'CO-45 charge exceeds fee schedule; CO-253 ...'."""
    found = _CARC_TOKEN.findall(reason or "")
    if not found:
        return (reason or "").strip()
    return "; ".join(f"{group}-{code} {CARC.get(code, CARC_GROUPS[group] + ' adjustment')}" for group, code in found)


def _adjustment_kind(payment: dict) -> str:
    """'contractual' (every CARC group CO), 'insurance' (another payer adjustment) or 'courtesy' (the practice's)."""
    if payment["kind"] == "adjustment":
        return "courtesy"
    groups = {g for g, _ in _CARC_TOKEN.findall(payment.get("reason") or "")}
    return "contractual" if groups == {"CO"} else "insurance"


def _live(charge: dict) -> bool:
    return charge.get("status") != "void"  # a voided charge counts for nothing


@exact
def breakdown(charges: list[dict], payments: list[dict], only: set[str] | None = None) -> dict:
    """Charges, insurer payments, adjustments by kind and reason, patient payments and refunds, and
    the balance they come to: charges - insurer paid - adjustments - patient paid + refunds.
    `only`: the charge ids of an invoice (each payment counts by its allocations to them)."""
    charged = sum((dec(c.get("amount")) for c in charges if _live(c) and (only is None or c["id"] in only)),
                  Decimal(0))
    totals = {kind: Decimal(0) for kind in CREDIT_KINDS}
    other = Decimal(0)
    adjustments: dict[tuple[str, str], Decimal] = {}
    for p in payments:
        if only is None:
            amount = dec(p.get("amount"))
        else:
            amount = sum((dec(a.get("amount")) for a in p.get("allocations") or []
                          if isinstance(a, dict) and a.get("charge_id") in only), Decimal(0))
        if not amount:
            continue
        kind = p.get("kind")
        if kind in ("insurance-adjustment", "adjustment"):
            key = (_adjustment_kind(p), carc_words(p.get("reason") or "") if kind != "adjustment"
                   else (p.get("reason") or "adjustment").strip())
            adjustments[key] = adjustments.get(key, Decimal(0)) + amount
        if kind in totals:
            totals[kind] += amount
        else:
            other += amount
    refunds = totals["refund"]  # money paid back to the patient: it adds back to the balance
    adjusted = totals["insurance-adjustment"] + totals["adjustment"]
    balance = charged - totals["insurance-payment"] - adjusted - totals["payment"] + refunds - other
    order = {"contractual": 0, "insurance": 1, "courtesy": 2}
    return {"charges": fmt(charged), "insurance_paid": fmt(totals["insurance-payment"]),
            "adjustments": [{"kind": k, "reason": r, "amount": fmt(v)}
                            for (k, r), v in sorted(adjustments.items(), key=lambda i: (order[i[0][0]], i[0][1]))],
            "contractual": fmt(sum((v for (k, _), v in adjustments.items() if k == "contractual"), Decimal(0))),
            "adjusted": fmt(adjusted), "patient_paid": fmt(totals["payment"]), "refunds": fmt(refunds),
            "other": fmt(-other), "balance": fmt(balance)}


def _write(app, rendered, output: str | None, as_pdf: bool) -> dict:
    out = {"subject": rendered.subject, "text": rendered.text}
    if output:
        data = documents.text_to_pdf(rendered.text, rendered.subject) if as_pdf else rendered.text.encode()
        write_output(output, data, data_dir=app.data_dir)
        out["file"] = output
    return out


def _bill_to(view, patient: dict) -> dict:
    from medsec.records.guarantors import bill_to

    return bill_to(view, patient)


def _render_statement(app, view, patient: dict, start: date, end: date) -> tuple:
    """(statement dict, rendered message) of one patient's statement for start..end."""
    pid = patient["id"]
    opening, running, shown = Decimal(0), Decimal(0), []
    for day, _, rid, kind, text, amount in _events(view, pid):
        running += amount
        if day < start.isoformat():
            opening = running
        elif day <= end.isoformat():
            shown.append({"date": day, "id": rid, "kind": kind, "description": text, "amount": fmt(amount),
                          "balance": fmt(running)})
    owed = account(view, pid)
    summary = breakdown(charges_of(view, pid), payments_of(view, pid))
    addressee = _bill_to(view, patient)
    info = {"period": f"{start} to {end}", "date": app.today().isoformat(), "rows": shown, "opening": fmt(opening),
            "balance": owed["balance"], "insurance_pending": owed["insurance_pending"],
            "patient_due": owed["patient_due"], "credit": owed["credit"], "summary": summary,
            "bill_to": addressee}
    context = {"practice": messaging.practice_context(app), "patient": messaging.patient_context(patient),
               "statement": info, "bill_to": addressee}
    rendered = messaging.render(app, "statement", context, patient.get("language") or "en")
    return info, rendered


def _events(view, patient_id: str) -> list[tuple]:
    """The ledger's events (medsec.billing.accounts.ledger) of live charges and every payment, in order."""
    events = [_charge_event(c) for c in charges_of(view, patient_id) if _live(c)]
    events += [_payment_event(p) for p in payments_of(view, patient_id)]
    events.sort(key=lambda e: (e[0], e[1], int(e[2][1:])))
    return events


def statement(app, patient_id: str, start: date | None, end: date | None, output: str | None = None,
              as_pdf: bool = True) -> dict:
    end = end or app.today()
    start = start or end - timedelta(days=30)
    if end < start:
        raise InvalidInput(f"--to {end} is before --from {start}")
    view = app.store.snapshot()
    patient = get_patient(app, patient_id, view=view)
    warn_damaged(view, patient["id"])
    info, rendered = _render_statement(app, view, patient, start, end)
    app.audit("read", [patient["id"]])
    result = _write(app, rendered, output, as_pdf)
    return {"patient_id": patient["id"], **info, **result}


@exact
def invoice(app, appt_id: str, output: str | None = None, as_pdf: bool = True) -> dict:
    appt = get_appointment(app, appt_id)
    patient = get_patient(app, appt["patient_id"])
    view = app.store.snapshot()
    charges = [c for c in charges_of(view, patient["id"]) if c["appointment_id"] == appt["id"] and _live(c)]
    if not charges:
        raise Refused(f"{appt['id']} has no charges", hint="add them with 'medsec bill charge'")
    schedule = Schedule.load(app)
    lines = [{"code": "-".join([c["code"], *c["modifiers"]]), "description": c.get("description", ""),
              "units": c["units"], "amount": fmt(c.get("amount"))} for c in charges]
    summary = breakdown(charges, payments_of(view, patient["id"]), only={c["id"] for c in charges})
    addressee = _bill_to(view, patient)
    info = {"number": f"INV-{appt['id']}", "date": appt["start"][:10],
            "provider": schedule.staff.get(appt["provider"], {}).get("name", appt["provider"]), "lines": lines,
            "total": summary["charges"], "insurance_paid": summary["insurance_paid"],
            "adjustments": summary["adjustments"], "patient_paid": summary["patient_paid"],
            "owed": summary["balance"], "summary": summary, "bill_to": addressee,
            # everything credited to the visit, as the invoice's JSON said before it broke it down
            "paid": fmt(dec(summary["charges"]) - dec(summary["balance"]))}
    rendered = messaging.render(app, "invoice", {"practice": messaging.practice_context(app),
                                                  "patient": messaging.patient_context(patient), "invoice": info,
                                                  "bill_to": addressee},
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
    """Claims created in the period: count and amounts by payer and status (a deleted draft was
    never a claim: left out, as 'claim list' leaves it out)."""
    view = app.store.snapshot()
    table: dict[tuple, dict] = {}
    for claim in view.scan(CLAIMS):
        if claim["status"] == "deleted" or not start.isoformat() <= claim["created"][:10] <= end.isoformat():
            continue
        row = table.setdefault((claim["payer_id"], claim["status"]),
                               {"payer": claim["payer_id"], "status": claim["status"], "claims": 0,
                                "billed": Decimal(0), "paid": Decimal(0)})
        row["claims"] += 1
        row["billed"] += dec(claim.get("total"))
        row["paid"] += dec(claim.get("paid"))
    return [{**r, "billed": fmt(r["billed"]), "paid": fmt(r["paid"])} for _, r in sorted(table.items())]


# -- statements in a batch: one per responsible person --------------------------------
def due_statements(app, *, as_of: date | None = None, min_balance: str = "5.00", output: str | None = None,
                   csv_path: str | None = None, send: bool = False, channel: str | None = None) -> dict:
    """A statement for every responsible person (a guarantor gets one for all the patients they
    pay for) owed at least `min_balance` by patients: one PDF and a mail-merge CSV, or sent
    through each person's channel."""
    from medsec.communications.printbatch import PrintBatch

    least = parse_amount(min_balance, "--min-balance")
    end = as_of or app.today()
    start = end - timedelta(days=30)
    view = app.store.snapshot()
    groups: dict[str, dict] = {}
    skipped = []
    for pid in sorted({c["patient_id"] for c in view.scan(CHARGES)}, key=lambda p: int(p[1:])):
        try:
            patient = get_patient(app, pid, view=view)
        except MedsecError as e:  # a restricted chart this role may not open, a merged-away record
            skipped.append({"patient_id": pid, "reason": e.message})
            continue
        if patient["id"] != pid or dec(account(view, pid)["patient_due"]) <= 0:
            continue
        info, rendered = _render_statement(app, view, patient, start, end)
        group = groups.setdefault(info["bill_to"]["key"], {"to": info["bill_to"], "parts": []})
        group["parts"].append((patient, info, rendered))
    batch = PrintBatch(f"Statements {end}", ["amount_due", "statement_date", "patients", "account"])
    statements, sent = [], []
    for group in groups.values():
        due = sum((dec(info["patient_due"]) for _, info, _ in group["parts"]), Decimal(0))
        if due < least:
            continue
        text = "\n\n".join(r.text for _, _, r in group["parts"])
        names = "; ".join(f"{p['first']} {p['last']} ({p['id']})" for p, _, _ in group["parts"])
        ids = [p["id"] for p, _, _ in group["parts"]]
        row = {"to": group["to"]["name"], "via": group["to"]["via"], "patients": ids, "amount_due": fmt(due)}
        if send:
            row.update(_send_statement(app, group["to"], group["parts"][0][2].subject, text, channel))
            sent.append(row)
        else:
            batch.add(text, to=group["to"], amount_due=fmt(due), statement_date=end.isoformat(),
                      patients=names, account=" ".join(ids))
        statements.append(row)
    written = batch.write(app, pdf=output, csv=csv_path, name=f"statements-{end}") if not send and len(batch) \
        else {"documents": len(batch)}
    app.audit("statements", [i for s in statements for i in s["patients"]])
    return {"statement_date": end.isoformat(), "statements": statements, "skipped": skipped,
            "total_due": fmt(sum((dec(s["amount_due"]) for s in statements), Decimal(0))), **written}


def _send_statement(app, to: dict, subject: str, text: str, channel: str | None) -> dict:
    """Send one statement through the responsible person's channel (a PDF attached to an email)."""
    from medsec.plugin_types import DeliveryError, Message

    kind = messaging.preferred_kind(to)
    try:
        r = messaging.route(app, kind, channel)
        address = messaging.address_for(to, kind)
        if not address:
            return {"status": "failed", "channel": r.name, "reason": f"no {kind} address on file"}
        attachments = [("statement.pdf", "application/pdf", documents.text_to_pdf(text, subject))] \
            if kind == "email" else []
        message = Message(kind=kind, to=address, subject=subject, body=text, attachments=attachments,
                          meta={"template": "statement"})
        return {"status": "sent", "channel": r.name, "delivery_id": messaging.deliver(app, r, message)}
    except (DeliveryError, MedsecError) as e:
        return {"status": "failed", "channel": channel or "", "reason": str(getattr(e, "message", e))}


# -- receipts ----------------------------------------------------------------------
def receipt(app, payment_id: str, output: str | None = None, as_pdf: bool = True) -> dict:
    """A receipt for a patient's payment: what was paid, how, what it paid for, the balance after."""
    view = app.store.snapshot()
    payment = view.require(PAYMENTS, payment_id, "payment", "list them with 'medsec bill ledger PATIENT'")
    if payment.get("kind") != "payment":
        raise Refused(f"{payment['id']} is {payment.get('kind')}: receipts are for a patient's payments")
    patient = get_patient(app, payment["patient_id"], view=view)
    charges = {c["id"]: c for c in charges_of(view, patient["id"])}
    applied = [{"charge_id": a["charge_id"], "date": charges.get(a["charge_id"], {}).get("date", ""),
                "code": charges.get(a["charge_id"], {}).get("code", ""),
                "description": charges.get(a["charge_id"], {}).get("description", ""), "amount": fmt(a.get("amount"))}
               for a in payment.get("allocations") or [] if isinstance(a, dict) and a.get("charge_id")]
    owed = account(view, patient["id"])
    info = {"number": payment["id"], "date": payment["date"], "amount": fmt(payment.get("amount")),
            "method": payment.get("method", ""), "ref": payment.get("ref", ""), "applied": applied,
            "unapplied": fmt(payment.get("unapplied")), "balance": owed["balance"],
            "patient_due": owed["patient_due"], "credit": owed["credit"], "bill_to": _bill_to(view, patient)}
    rendered = messaging.render(app, "receipt", {"practice": messaging.practice_context(app),
                                                  "patient": messaging.patient_context(patient), "receipt": info},
                                patient.get("language") or "en")
    app.audit("read", [payment["id"], patient["id"]])
    return {"payment_id": payment["id"], "patient_id": patient["id"], **info, **_write(app, rendered, output, as_pdf)}
