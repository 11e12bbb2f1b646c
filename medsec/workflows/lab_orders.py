"""A lab order's paper and electronic forms: the requisition PDF the patient carries, and the HL7
ORM^O01 order (medsec.workflows.hl7_orders) sent through the lab's interface in labs.yaml (a
transport plugin: the bundled folder, or sftp) or written to a file; and the results waiting in
those interfaces, fetched and imported (`poll`).
"""

from datetime import timedelta
from typing import Any

from medsec import clock, documents
from medsec.communications import messaging
from medsec.errors import EnvironmentFailure, InvalidInput, MedsecError, Refused
from medsec.records.patients import get_patient
from medsec.workflows.labs import (
    CONFIG,
    audit_ids,
    change_order,
    get_order,
    history_entry,
    lab_entries,
    lab_settings,
)

SENDING_STALE = timedelta(minutes=15)  # a claim to send older than this was a run that died


def _lab_of(app, record: dict) -> dict:
    """The order's lab of labs.yaml ({} for a free-text facility, or one no longer listed)."""
    if not record.get("lab"):
        return {}
    try:
        return lab_settings(app, record["lab"])
    except InvalidInput:
        return {}


def _physician_of(app, record: dict) -> dict:
    from medsec.records.staff import get_staff

    if not record.get("physician"):
        return {}
    try:
        return get_staff(app, record["physician"])
    except MedsecError:
        return {"id": record["physician"]}


def _insurance_lines(patient: dict) -> list[str]:
    coverages = [c for c in patient.get("coverages") or [] if isinstance(c, dict)]
    if not coverages:
        return ["Insurance:   self-pay"]
    return [f"Insurance:   {c.get('rank', '')} {c.get('payer', '')}  member {c.get('member_id', '')}"
            + (f"  group {c['group']}" if c.get("group") else "") for c in coverages]


def requisition_text(app, record: dict, patient: dict) -> str:
    """The requisition a patient carries to the lab, as text."""
    practice = messaging.practice_context(app)
    doctor, lab = _physician_of(app, record), _lab_of(app, record)
    address = ", ".join(x for x in (patient.get("address"), patient.get("city"),
                                    " ".join(x for x in (patient.get("state"), patient.get("zip")) if x)) if x)
    lines = [f"LABORATORY REQUISITION {record['id']}", "",
             f"{practice['name']}", practice["address"], f"Phone {practice['phone']}" +
             (f"   Fax {practice['fax']}" if practice["fax"] else ""), "",
             f"Date ordered: {record['ordered'][:10]}      Results due by: {record['due']}", "",
             "PATIENT",
             f"Name:        {patient.get('last', '')}, {patient.get('first', '')}   ({patient['id']})",
             f"Birth date:  {patient.get('dob', '')}      Sex: {patient.get('sex', '') or 'U'}",
             f"Address:     {address}", f"Phone:       {patient.get('phone', '')}",
             *_insurance_lines(patient), "",
             "ORDERING PHYSICIAN",
             f"{doctor.get('name', doctor.get('id', '(none on file)'))}   NPI {doctor.get('npi', '') or '(none)'}", "",
             "PERFORMING LAB", record["facility"]]
    lines += [x for x in (str(lab.get("address") or ""), f"Phone {lab['phone']}" if lab.get("phone") else "") if x]
    lines += ["", "DIAGNOSES (ICD-10-CM)"]
    lines += [f"  {d['code']:<9} {d.get('description', '')}" for d in record.get("diagnoses") or []] or ["  (none)"]
    lines += ["", "TESTS (LOINC)"]
    tests = record.get("tests") or [{"loinc": "", "name": record.get("test", "")}]
    lines += [f"  {t.get('loinc') or '(no code)':<9} {t['name']}" for t in tests]
    fasting = "YES - nothing to eat or drink but water before the test" if record["fasting"] else "no"
    lines += ["", f"Fasting:     {fasting}"]
    if record.get("note"):
        lines += ["", "Note: " + record["note"]]
    return "\n".join(lines) + "\n"


def requisition(app, lab_id: str, output: str) -> dict:
    """The requisition of an order as a PDF written to `output`."""
    from medsec.outputs import check_output, write_output

    check_output(output, app.data_dir)
    view = app.store.snapshot()
    record = get_order(app, lab_id, view)
    if record["status"] == "cancelled":
        raise Refused(f"{record['id']} is cancelled")
    patient = get_patient(app, record["patient_id"], view=view)
    data = documents.text_to_pdf(requisition_text(app, record, patient), f"Lab requisition {record['id']}")
    written = write_output(output, data, data_dir=app.data_dir)
    app.audit("export", audit_ids(record))
    return {"id": record["id"], "patient_id": record["patient_id"], "file": written, "bytes": len(data)}


def interface_problems(app) -> list:
    """`config check`'s look at labs.yaml's interfaces against the transports installed: one no plugin
    registers is an error (file and line). Nothing when the file cannot be read (other checks say so)."""
    from medsec.config import parse_yaml
    from medsec.plugins import collect
    from medsec.yamlfile import ConfigFileError, Problem, line_of

    try:
        text = app.store.document_text(CONFIG)
        if text is None:
            return []
        data, node = parse_yaml(CONFIG, text)
        known = collect(app.plugins, "register_transports")
    except (ConfigFileError, MedsecError):
        return []
    found = []
    entries = data.get("labs") if isinstance(data, dict) else None
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        interface = entry.get("interface") if isinstance(entry, dict) else None
        name = interface.get("transport") if isinstance(interface, dict) else None
        if isinstance(name, str) and name and name not in known:
            found.append(Problem(CONFIG, line_of(node, ("labs", i, "interface", "transport")),
                                 f"labs.{i}.interface.transport: transport {name!r} is not installed "
                                 f"(installed: {', '.join(sorted(known))})"))
    return found


def _transport(app, name: str):
    from medsec.plugins import transport  # pluggy: loaded only by the commands that move files

    return transport(app.plugins, name, CONFIG)


def lab_interface(app, lab: dict, what: str, error) -> tuple[dict, Any]:
    """(the interface of `lab`, its transport's connect); `error` (Refused, or InvalidInput before an
    order is written) when it has none, InvalidInput when no plugin registers its transport."""
    interface = lab.get("interface") if isinstance(lab.get("interface"), dict) else None
    if not interface:
        raise error(f"{what} has no interface in {CONFIG}",
                    hint="write the HL7 order with 'lab send ID -o FILE', or print the requisition")
    return interface, _transport(app, str(interface.get("transport") or "")).connect


def check_sendable(app, lab: str | None, facility: str | None) -> None:
    """Before `lab order --send` writes the order: its lab (`--lab`) must have an interface (InvalidInput)."""
    entry = lab_settings(app, lab) if lab else {}
    lab_interface(app, entry, str(entry.get("name") or lab or facility or "the lab"), InvalidInput)


def order_message(app, record: dict, control_id: str) -> str:
    """The ORM^O01 message of an order (medsec.workflows.hl7_orders)."""
    from medsec.workflows import hl7_orders

    view = app.store.snapshot()
    patient = get_patient(app, record["patient_id"], view=view)
    doctor = _physician_of(app, record)
    if not doctor:
        raise Refused(f"{record['id']} has no ordering physician", hint="an order made before they were recorded: "
                      "order it again with --physician")
    interface = _lab_of(app, record).get("interface") or {}
    practice = app.config("practice.yaml") or {}
    return hl7_orders.orm_message(
        record, patient, doctor, sender=("MEDSEC", str(practice.get("name") or "")),
        receiver=(str(interface.get("receiving_application") or ""),
                  str(interface.get("receiving_facility") or "")),
        control_id=control_id, now=app.now())


def _refuse_resend(record: dict, again: bool) -> None:
    """An order the interface has had goes again only with `again`."""
    earlier = [s for s in record.get("sent") or [] if s.get("transport")]  # -o FILE wrote a copy, sent nothing
    if earlier and not again:
        last = earlier[-1]
        raise Refused(f"{record['id']} was sent already as {last['control_id']} at {last['at'][:16]} to "
                      f"{last['where']}", hint=f"'medsec lab send {record['id']} --again' sends it once more: "
                      "the same order number, a new control id")


def _claim(app, lab_id: str, again: bool) -> dict:
    """Mark the order as being sent (its control id reserved) in one transaction, so that two
    terminals never send it at once; a claim older than SENDING_STALE was a run that died."""
    now = app.now()

    def claim(old):
        _refuse_resend(old, again)
        sending = old.get("sending")
        if sending and now - clock.stored_moment(sending["at"], app.tz) < SENDING_STALE:
            raise Refused(f"{old['id']} is being sent ({sending['control_id']}, by {sending['by']})",
                          hint="see 'medsec lab show' in a minute")
        control_id = f"{old['id']}-{len(old.get('sent') or []) + 1}"
        return {**old, "sending": {"control_id": control_id, "at": clock.iso(now), "by": app.user}}

    return change_order(app, lab_id, claim)


def _release(app, lab_id: str, entry: dict | None) -> None:
    """The claim done: the message sent (`entry`, kept in `sent` with a history line), or not (None)."""
    def change(old):
        new = {k: v for k, v in old.items() if k != "sending"}
        if entry is None:
            return new
        note = f"HL7 order {entry['control_id']} to {entry['where']}"
        return {**new, "sent": list(old.get("sent") or []) + [entry],
                "history": old["history"] + [history_entry(app, old["status"], note)]}

    change_order(app, lab_id, change)


def send(app, lab_id: str, *, output: str | None = None, again: bool = False) -> dict:
    """The order's HL7 ORM^O01 message, sent through its lab's interface (a transport of labs.yaml),
    or written to `output`; the order records the message's control id, when and where. An order
    the interface has had is sent again only with `again` (the same order, a new control id); one
    being sent from another terminal is refused."""
    from medsec.plugin_types import TransportError

    if output:
        from medsec.outputs import check_output, write_output

        check_output(output, app.data_dir)
    record = get_order(app, lab_id)
    if record["status"] == "cancelled":
        raise Refused(f"{record['id']} is cancelled")
    if output:
        control_id = f"{record['id']}-{len(record.get('sent') or []) + 1}"
        data = order_message(app, record, control_id).encode("utf-8")
        entry = {"at": clock.iso(app.now()), "by": app.user, "control_id": control_id, "transport": "",
                 "where": write_output(output, data, data_dir=app.data_dir), "name": f"{control_id}.hl7"}
        _release(app, lab_id, entry)
        return {"id": record["id"], "patient_id": record["patient_id"], **entry}
    _refuse_resend(record, again)
    lab = _lab_of(app, record)
    interface, connect = lab_interface(app, lab, f"{record['id']}: {record['facility']}", Refused)
    order_message(app, record, "")  # an order that cannot be written (no physician ...) claims nothing
    record = _claim(app, lab_id, again)
    control_id = record["sending"]["control_id"]
    name = f"{control_id}.hl7"
    try:
        data = order_message(app, record, control_id).encode("utf-8")
        session = connect(dict(interface), app.data_dir)
        try:
            where = session.send(name, data)
        finally:
            session.close()
    except TransportError as e:
        _release(app, lab_id, None)
        raise EnvironmentFailure(f"lab {lab.get('id') or lab.get('name')}: {e}",
                                 hint="try again later" if e.temporary else f"check {CONFIG}") from None
    except BaseException:
        _release(app, lab_id, None)
        raise
    entry = {"at": clock.iso(app.now()), "by": app.user, "control_id": control_id,
             "transport": str(interface["transport"]), "where": where, "name": name}
    _release(app, lab_id, entry)
    return {"id": record["id"], "patient_id": record["patient_id"], **entry}


def poll(app, lab: str | None = None, *, dry_run: bool = False) -> dict:
    """Fetch and import the results waiting in the labs' interfaces (`lab`: one lab of labs.yaml).

    Each file is imported as `lab import` imports it (a message already imported is skipped, so a
    file fetched twice posts nothing twice); a file that cannot be read or imported is reported in
    `failed` and the others are still imported. Files are removed from the lab's inbox only when
    its interface says `delete_after_import: true`. A transport failure of the connection stops
    the poll (EnvironmentFailure, exit 3).
    """
    from medsec.plugin_types import TransportError
    from medsec.workflows import lab_results

    labs = [lab_settings(app, lab)] if lab else [e for e in lab_entries(app) if e.get("interface")]
    summary: dict[str, Any] = {"labs": [], "dry_run": dry_run, "waiting": 0, "imported": [], "failed": [],
                               "deleted": []}
    for entry in labs:
        name = str(entry.get("id") or entry.get("name"))
        interface, connect = lab_interface(app, entry, name, Refused)
        summary["labs"].append(name)
        try:
            session = connect(dict(interface), app.data_dir)
            try:
                files = session.inbox()
                summary["waiting"] += len(files)
                for file in files:
                    try:
                        done = lab_results.import_data(app, file, session.fetch(file), dry_run=dry_run)
                    except TransportError as e:
                        if e.temporary:
                            raise
                        summary["failed"].append({"lab": name, "name": file, "error": str(e)})
                        continue
                    except MedsecError as e:
                        summary["failed"].append({"lab": name, "name": file, "error": e.message})
                        continue
                    summary["imported"].append({"lab": name, "name": file, **{k: done[k] for k in (
                        "results", "matched", "unmatched", "skipped_duplicates")}})
                    if interface.get("delete_after_import") is True and not dry_run:
                        session.remove(file)
                        summary["deleted"].append(file)
            finally:
                session.close()
        except TransportError as e:
            raise EnvironmentFailure(f"lab {name}: {e}", hint="try again later" if e.temporary else f"check {CONFIG}") \
                from None
    return summary
