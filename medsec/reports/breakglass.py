"""The break-glass review: every emergency opening of a restricted chart, for the manager.

A member who opens a restricted chart with `medsec --break-glass REASON ...` is let in and
audited (action "break-glass", the patient's id, "granted as ROLE: REASON": medsec.records.patients).
The HIPAA Security Rule asks that emergency access be possible (164.312(a)(2)(ii)) and that
activity be reviewed (164.308(a)(1)(ii)(D)): this lists those entries, read back from the audit
log (on either backend), so that someone asks about each one.
"""

from datetime import date

from medsec.records.staff import roster

COLUMNS = ["at", "user", "name", "role", "patient_id", "command", "reason"]
GRANTED = "granted as "


def accesses(app, start: date, end: date) -> list[dict]:
    """The break-glass entries of the audit log from `start` to `end` (both days included, in
    the practice's time zone, as the entries are written), oldest first."""
    members = {str(m.get("id")): m for m in roster(app)}
    rows = []
    for entry in app.store.audit_entries(since=start):
        if entry.get("action") != "break-glass" or not start.isoformat() <= entry["at"][:10] <= end.isoformat():
            continue
        outcome = str(entry.get("outcome") or "")
        role, reason = "", outcome
        if outcome.startswith(GRANTED):
            role, _, reason = outcome[len(GRANTED):].partition(": ")
        rows.append({"at": entry["at"], "user": entry.get("user", ""),
                     "name": members.get(str(entry.get("user")), {}).get("name", ""), "role": role,
                     "patient_id": ", ".join(entry.get("ids") or []), "command": entry.get("command", ""),
                     "reason": reason})
    return rows
