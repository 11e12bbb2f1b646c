"""Tasks: the next step someone owes the office, with an owner, a due date and a priority.

A task's owner is a staff id, or a role (`front-desk`, `biller` ...) for a queue
that anyone in that role works. Staff add tasks by hand; referrals and refill
requests open one for their own next step (`source` names the record) in the
same commit that changes the record, and mark it done when that step is done.
A task is overdue while it is open and its due date is before today.
"""

from datetime import date

from medsec import clock
from medsec.errors import InvalidInput, Refused
from medsec.records.patients import get_patient, opened
from medsec.records.staff import acting_members, get_staff, is_valid_id
from medsec.store.catalog import TASKS
from medsec.vocabulary import ROLES

PRIORITIES = ["urgent", "high", "normal", "low"]  # the order tasks are listed in
STATUSES = ["open", "done"]
COLUMNS = ["id", "priority", "owner", "due", "patient_id", "text", "status", "source"]


def _owner(app, value: str) -> str:
    """A role name as given, else a staff id from the roster."""
    text = value.strip()
    if text.lower() in ROLES:
        return text.lower()
    if not is_valid_id(text):
        raise InvalidInput(f"--staff {value!r} is neither a staff id nor a role", hint=f"roles: {', '.join(ROLES)}")
    return get_staff(app, text)["id"]


def _patient_ids(task: dict) -> list[str]:
    return [task["patient_id"]] if task["patient_id"] else []


def open_task(app, txn, *, text: str, owner: str, due: date | None, patient_id: str = "",
              priority: str = "normal", source: str = "") -> dict:
    """Stage a new open task in `txn`, so a workflow opens its next step in its own commit."""
    (task_id,) = txn.reserve_ids(TASKS)
    record = {"id": task_id, "created": clock.iso(app.now()), "by": app.user, "text": text, "owner": owner,
              "due": due.isoformat() if due else "", "patient_id": patient_id, "priority": priority,
              "source": source, "status": "open", "done": "", "done_by": "", "note": ""}
    txn.put(TASKS, record)
    return record


def _finished(app, task: dict, note: str) -> dict:
    return {**task, "status": "done", "done": clock.iso(app.now()), "done_by": app.user, "note": note}


def finish_tasks(app, txn, task_ids: list[str], note: str) -> list[str]:
    """Mark the still-open ones of `task_ids` done in `txn` (their step is done); their ids."""
    olds = [t for t in txn.get_many(TASKS, task_ids) if t["status"] == "open"]
    txn.put_many(TASKS, [_finished(app, t, note) for t in olds], {t["id"]: t for t in olds})
    return [t["id"] for t in olds]


def add_task(app, text: str, *, owner: str, due: str | None = None, patient_id: str | None = None,
             priority: str = "normal") -> dict:
    """A task by hand: `owner` is a staff id or a role; `due` may not be in the past."""
    if not text.strip():
        raise InvalidInput("a task needs some text")
    if priority not in PRIORITIES:
        raise InvalidInput(f"--priority {priority!r} is not one of {', '.join(PRIORITIES)}")
    due_day = clock.parse_date(due, app.tz, "--due", horizon=True) if due else None
    if due_day and due_day < app.today():
        raise InvalidInput(f"--due {due_day} is in the past")
    owner_id = _owner(app, owner)
    with app.store.transaction() as txn:
        patient = get_patient(app, patient_id, view=txn)["id"] if patient_id else ""
        record = open_task(app, txn, text=text.strip(), owner=owner_id, due=due_day, patient_id=patient,
                           priority=priority)
    app.audit("task", [record["id"]] + _patient_ids(record))
    return record


def get_task(app, task_id: str, view=None) -> dict:
    return opened(app, (view or app.store.snapshot()).require(TASKS, task_id, "task", "see 'medsec task list'"), view)


def show_task(app, task_id: str) -> dict:
    record = get_task(app, task_id)
    app.audit("read", [record["id"]] + _patient_ids(record))
    return record


def is_overdue(task: dict, today: date) -> bool:
    return task["status"] == "open" and bool(task["due"]) and task["due"] < today.isoformat()


def my_owners(app) -> set[str]:
    """What the acting user answers for: their staff ids and their roles' queues."""
    members = acting_members(app)
    return {m["id"] for m in members} | {m["role"] for m in members if m.get("role")}


def list_tasks(app, *, status: str = "open", mine: bool = False, owner: str | None = None,
               overdue: bool = False, patient_id: str | None = None, limit: int | None = None,
               first: date | None = None, last: date | None = None) -> list[dict]:
    """Tasks by priority, then due date (none last), then oldest first.

    `mine`: the acting user's own tasks and those of their role's queue; `first`/`last`: added
    on those days.
    """
    if status not in STATUSES + ["all"]:
        raise InvalidInput(f"--status {status!r} is not one of open, done, all")
    wanted = my_owners(app) if mine else ({_owner(app, owner)} if owner else None)
    patient = get_patient(app, patient_id)["id"] if patient_id else None  # (its chart may be restricted)
    today = app.today()
    out = [t for t in app.store.snapshot().scan(TASKS)
           if (status == "all" or t["status"] == status) and (wanted is None or t["owner"] in wanted)
           and (not overdue or is_overdue(t, today)) and (patient is None or t["patient_id"] == patient)
           and clock.on_days(t["created"], first, last)]
    out.sort(key=lambda t: (PRIORITIES.index(t["priority"]), t["due"] or "9999-12-31", t["created"],
                            TASKS.number(t["id"])))
    out = out[:limit] if limit else out
    app.audit("list", [t["id"] for t in out] + [p for t in out for p in _patient_ids(t)])
    return out


def done(app, task_id: str, note: str = "") -> dict:
    """Mark a task done, with a note for whoever asked for it."""
    with app.store.transaction() as txn:
        old = get_task(app, task_id, view=txn)
        if old["status"] == "done":
            raise Refused(f"{old['id']} is already done")
        record = _finished(app, old, note)
        txn.put(TASKS, record, old)
    app.audit("task", [record["id"]] + _patient_ids(record))
    return record
