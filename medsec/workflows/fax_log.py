"""The fax log's loops: delivery status from the gateway (busy or unanswered faxes tried again, up to
the fax channel's `retries:`, then failed with a task for the front desk), and incoming faxes linked
to the referral, lab order or refill request they answer, which moves that workflow on."""

import json
from datetime import timedelta

from medsec import clock
from medsec.communications import faxes, messaging
from medsec.errors import InvalidInput, Refused
from medsec.inputs import ATTACHMENT, read_input
from medsec.plugin_types import DeliveryError
from medsec.store.catalog import FAXES, LABS, REFERRALS, REFILLS
from medsec.text import shown
from medsec.workflows.tasks import open_task

PENDING = ("sent", "busy", "no-answer")  # outgoing faxes whose fate the gateway may still tell
REPORTED = ("delivered", "sent", "busy", "no-answer", "failed")
DEFAULT_RETRIES = 3
STALE_CLAIM = timedelta(minutes=15)  # a claim to send a fax again left by a run that died
# A callback body's words (the gateway's), as medsec's.
CALLBACK_WORDS = {**{w: w for w in REPORTED}, "success": "delivered", "completed": "delivered",
                  "queued": "sent", "pending": "sent", "in-progress": "sent", "line-busy": "busy",
                  "noanswer": "no-answer", "no_answer": "no-answer", "error": "failed", "undeliverable": "failed"}


def retries(app) -> int:
    """How many times in all a busy or unanswered fax is tried (channels.yaml fax: retries)."""
    settings = messaging.channel_settings(app).get("fax")
    value = settings.get("retries", DEFAULT_RETRIES) if isinstance(settings, dict) else DEFAULT_RETRIES
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else DEFAULT_RETRIES


def _event(app, status: str, **extra) -> dict:
    return {"at": clock.iso(app.now()), "by": app.user, "status": status, **extra}


def _outgoing(app, fax_id: str) -> dict:
    record = faxes.get_fax(app, fax_id)
    if record["direction"] != "out":
        raise Refused(f"{record['id']} is an incoming fax; only outgoing faxes have a delivery status")
    return record


def _same(old: dict, record: dict) -> bool:
    """Whether `old` (as stored now) is still the fax `record` was read as: no other run has acted on it."""
    return all(old.get(k) == record.get(k) for k in ("status", "attempts", "delivery_id", "retrying"))


def _claim(app, record: dict) -> dict | None:
    """Claim `record` for sending again (its "retrying" stamp), unless another run (a second cron job)
    has acted on it or holds a claim younger than STALE_CLAIM; the claimed record, or None."""
    now = app.now()
    with app.store.transaction() as txn:
        old = faxes.get_fax(app, record["id"], view=txn)
        held = old.get("retrying") and old["retrying"] > clock.iso(now - STALE_CLAIM)
        if not _same(old, record) or held:
            return None
        claimed = {**old, "retrying": clock.iso(now)}
        txn.put(FAXES, claimed, old)
    return claimed


def apply(app, record: dict, reported: str, *, limit: int | None = None) -> tuple[dict, str]:
    """What the gateway reported for `record`, applied: delivered and failed are final; busy and
    no-answer send it again while it has tries left, else it fails; a failure opens a front-desk task.
    (the record as saved, a warning or ''). A fax another run has acted on meanwhile is left as it is:
    two status runs at once send it again once, and open one task."""
    limit = limit or retries(app)
    warning = ""
    if reported == "sent" or (reported == record["status"] == "sent"):
        return record, ""
    change: dict = {}
    events = [_event(app, reported, attempt=record["attempts"])]
    status = reported
    if reported in ("busy", "no-answer"):
        if record["attempts"] < limit:
            claimed = _claim(app, record)
            if claimed is None:
                return faxes.get_fax(app, record["id"]), ""
            record = claimed
            try:
                delivery = faxes.resend(app, record)
            except DeliveryError as e:
                warning = f"{record['id']} not sent again: {e}"
                if e.temporary:  # tried again at the next status run
                    events.append(_event(app, reported, note=warning))
                else:
                    status = "failed"
            else:
                attempt = record["attempts"] + 1
                status = "sent"
                change = {"attempts": attempt, "delivery_id": delivery}
                events.append(_event(app, "sent", attempt=attempt, delivery_id=delivery))
        else:
            status = "failed"
    with app.store.transaction() as txn:
        old = faxes.get_fax(app, record["id"], view=txn)
        if not _same(old, record):
            return old, ""
        new = {**old, **change, "status": status, "history": old["history"] + events}
        new.pop("retrying", None)
        if status == "failed":
            why = reported if reported != "failed" else "the gateway reports it failed"
            task = open_task(app, txn, text=f"fax {old['id']} to {old['recipient'] or old['number']} failed "
                                            f"({why}, {new['attempts']} attempt(s)): send it again or another way",
                             owner="front-desk", due=app.today(), patient_id=old["patient_id"], priority="high",
                             source=old["id"])
            new["task"] = task["id"]
        txn.put(FAXES, new, old)
    app.audit("fax", [new["id"]] + ([new["patient_id"]] if new["patient_id"] else []))
    return new, warning


def poll(app, fax_id: str | None = None) -> tuple[list[dict], list[str]]:
    """Ask the channel about one outgoing fax, or every one still sent, busy or unanswered; the faxes
    asked about as they are now, and warnings (a gateway that could not say; a channel that reports
    no status at all, such as the outbox or an email-to-fax gateway, only when asked about one fax)."""
    if fax_id:
        waiting = [_outgoing(app, fax_id)]
    else:
        waiting = [f for f in faxes.list_faxes(app, direction="out") if f["status"] in PENDING]
    known = messaging.channels(app)
    settings = messaging.channel_settings(app)
    limit = retries(app)
    out, warnings = [], []
    for record in waiting:
        if record["status"] not in PENDING:
            out.append(record)
            continue
        found = known.get(record["channel"])
        check = found.item.status if found is not None else None
        if check is None:  # said when asked about this fax; a cron run over them all stays quiet
            if fax_id:
                warnings.append(f"{record['id']}: channel {record['channel'] or '?'} reports no delivery status")
            out.append(record)
            continue
        try:
            reported = str(check(record["delivery_id"], settings.get(record["channel"]) or {}, app.store.root))
        except DeliveryError as e:
            warnings.append(f"{record['id']}: {e}")
            out.append(record)
            continue
        except Exception as e:  # a plugin's bug must not stop the run
            warnings.append(f"{record['id']}: channel {record['channel']} failed: {type(e).__name__}: {e}")
            out.append(record)
            continue
        if reported not in REPORTED:
            warnings.append(f"{record['id']}: channel {record['channel']} reported {shown(reported)}")
            out.append(record)
            continue
        new, warning = apply(app, record, reported, limit=limit)
        out.append(new)
        if warning:
            warnings.append(warning)
    return out, warnings


def callback(app, path: str) -> tuple[dict, str]:
    """A gateway's status callback (its JSON body saved to `path`: {"id": DELIVERY_ID, "status": WORD})
    applied to the outgoing fax it names."""
    raw = read_input(path, ATTACHMENT)
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidInput(f"{shown(path)} is not JSON (a fax gateway's status callback)") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f'{shown(path)}: a status callback is a JSON object {{"id": ..., "status": ...}}')
    delivery = next((str(doc[k]) for k in ("id", "delivery_id", "fax_id") if doc.get(k) not in (None, "")), "")
    word = str(doc.get("status") or "").strip().lower().replace(" ", "-")
    if not delivery:
        raise InvalidInput(f"{shown(path)}: the callback names no fax (\"id\")")
    if word not in CALLBACK_WORDS:
        raise InvalidInput(f"{shown(path)}: status {shown(doc.get('status'))} is not one of "
                           f"{', '.join(REPORTED)}")
    matches = [f for f in faxes.list_faxes(app, direction="out") if delivery in f["delivery_id"].split(",")]
    if not matches:
        raise InvalidInput(f"no outgoing fax has the delivery id {shown(delivery)}", hint="see 'medsec fax list'")
    record = matches[-1]
    if record["status"] not in PENDING:
        return record, f"{record['id']} is already {record['status']}; the callback changes nothing"
    return apply(app, record, CALLBACK_WORDS[word])


def link(app, fax_id: str, *, referral: str | None = None, lab: str | None = None, refill: str | None = None,
         note: str = "") -> dict:
    """File an incoming fax as the answer to a referral (its consult report), a lab order (its result)
    or a refill request (the pharmacy's fax), and move that workflow on."""
    from medsec.communications import fields

    note = fields.body(note, "--note")
    given = [(kind, value) for kind, value in (("referral", referral), ("lab", lab), ("refill", refill)) if value]
    if len(given) != 1:
        raise InvalidInput("give one of --referral, --lab or --refill")
    kind, target = given[0]
    number_of = {"referral": REFERRALS, "lab": LABS, "refill": REFILLS}[kind]
    target = target.strip().upper()
    number_of.number(target)  # a malformed id is bad input
    fax = faxes.get_fax(app, fax_id)
    if fax["direction"] != "in":
        raise Refused(f"{fax['id']} is an outgoing fax; only an incoming one answers a {kind}")
    if fax["link"]:
        raise Refused(f"{fax['id']} is already linked to {fax['link']}")
    if kind == "lab":
        return _link_lab(app, fax, target, note)
    with app.store.transaction() as txn:
        old_fax = faxes.get_fax(app, fax["id"], view=txn)
        if old_fax["link"]:
            raise Refused(f"{old_fax['id']} is already linked to {old_fax['link']}")
        if kind == "referral":
            from medsec.workflows import referrals

            _old, moved = referrals.report_by_fax(app, txn, target, old_fax["id"], note)
            purpose = "consult report"
        else:
            from medsec.workflows import refills

            _old, moved = refills.attach_fax(app, txn, target, old_fax, note)
            purpose = "pharmacy fax"
        patient = moved["patient_id"]
        if old_fax["patient_id"] and old_fax["patient_id"] != patient:
            raise Refused(f"{old_fax['id']} is filed with {old_fax['patient_id']}, {moved['id']} is "
                          f"{patient}'s")
        record = {**old_fax, "patient_id": patient, "status": "filed", "link": moved["id"],
                  "purpose": old_fax["purpose"] or purpose,
                  "history": old_fax["history"] + [_event(app, "filed", link=moved["id"], note=note)]}
        txn.put(FAXES, record, old_fax)
    app.audit("fax", [record["id"], moved["id"], patient])
    return record


def _link_lab(app, fax: dict, lab_id: str, note: str) -> dict:
    from medsec.workflows import labs

    order = app.store.snapshot().require(LABS, lab_id, "lab order", "see 'medsec lab list'")
    if fax["patient_id"] and fax["patient_id"] != order["patient_id"]:
        raise Refused(f"{fax['id']} is filed with {fax['patient_id']}, {order['id']} is {order['patient_id']}'s")
    labs.result_document(app, order["id"], files=fax["files"], source=f"fax {fax['id']} from {fax['number']}",
                         note=note)
    with app.store.transaction() as txn:
        old = faxes.get_fax(app, fax["id"], view=txn)
        record = {**old, "patient_id": order["patient_id"], "status": "filed", "link": order["id"],
                  "purpose": old["purpose"] or "lab result",
                  "history": old["history"] + [_event(app, "filed", link=order["id"], note=note)]}
        txn.put(FAXES, record, old)
    app.audit("fax", [record["id"], order["id"], order["patient_id"]])
    return record
