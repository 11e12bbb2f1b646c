"""Transactions: all or nothing, their own writes visible to them, what snapshots see, after_commit
callbacks, configuration documents, the audit of each commit, attachments.

What a snapshot promises (the data directory's lock-free readers, which see each committed file
atomically): never a write a transaction has not committed; every record whole, as one commit
left it; after a commit, every snapshot opened later sees all of it. A snapshot opened before a
commit is no frozen point in time: records it reads after the commit may be the committed ones.
"""

import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from store_contract.shapes import add, appointment, patient, replace

from medsec import audit
from medsec.errors import InvalidInput
from medsec.store.api import Reader
from medsec.store.catalog import APPOINTMENTS, PATIENTS

AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
PAYERS = "payers:\n- id: ACME\n  name: Acme Health\n"
PAYERS_DATA = {"payers": [{"id": "ACME", "name": "Acme Health"}]}


def everything(reader: Reader) -> dict[str, Any]:
    """What a reader can tell of the records the tests below write."""
    return {"P1": reader.get(PATIENTS, "P1"), "A1": reader.get(APPOINTMENTS, "A1"),
            "smith": reader.lookup("patient-name", "smith"), "s": reader.lookup_prefix("patient-name", "s"),
            "day": reader.day(APPOINTMENTS, "2026-12-01"), "days": reader.days(APPOINTMENTS, "2026-01-01"),
            "room": reader.lookup_range("appt-room", "2026-12-01", "2026-12-02"),
            "patients": list(reader.scan(PATIENTS)),
            "counters": {prefix: n for prefix, n in reader.counters().items() if n}}


def stage_both(txn) -> None:
    """A patient and an appointment, new ids, and the payers' document: the writes of one command."""
    [pid] = txn.reserve_ids(PATIENTS)
    [aid] = txn.reserve_ids(APPOINTMENTS)
    txn.put(PATIENTS, {"id": pid, **patient("Ann", "Smith")})
    txn.put(APPOINTMENTS, {"id": aid, **appointment("2026-12-01T09:00", room="R1", patient_id=pid)})
    txn.put_document("payers.yaml", PAYERS, PAYERS_DATA)


# -- all or nothing ------------------------------------------------------------
def test_a_transaction_that_raises_leaves_nothing(backend):
    before = everything(backend.snapshot())
    with pytest.raises(RuntimeError, match="the command failed"), backend.transaction() as txn:
        stage_both(txn)
        raise RuntimeError("the command failed")
    assert everything(backend.snapshot()) == before
    assert backend.document("payers.yaml") == {}


def test_a_transaction_that_ends_commits_all_of_it(backend):
    with backend.transaction() as txn:
        stage_both(txn)
    seen = everything(backend.snapshot())
    assert seen["P1"] == {"id": "P1", **patient("Ann", "Smith")} and seen["smith"] == ["P1"]
    assert [a["id"] for a in seen["day"]] == ["A1"] and seen["room"] == {"2026-12-01 R1": ["A1"]}
    assert seen["counters"] == {"P": 1, "A": 1}


# -- a transaction reads its own writes ------------------------------------------
# Each question is asked on a fresh store, of a write whose files (for the data directory) do
# not exist yet: a record in a new shard, a key in a new index shard, a new day or provider.
OWN_WRITES: dict[str, tuple[Callable[[Reader], Any], Any]] = {
    "get": (lambda r: (r.get(PATIENTS, "p1") or {}).get("last"), "Smith"),
    "get_many": (lambda r: [p["id"] for p in r.get_many(PATIENTS, ["P1"])], ["P1"]),
    "lookup": (lambda r: r.lookup("patient-name", "smith"), ["P1"]),
    "lookup_prefix": (lambda r: r.lookup_prefix("patient-name", "s"), {"smith": ["P1"]}),
    "lookup_suffix": (lambda r: r.lookup_suffix("patient-phone", "4"), {"5552011234": ["P1"]}),
    "lookup_range": (lambda r: r.lookup_range("appt-room", "2026-12-01", "2026-12-02"), {"2026-12-01 R1": ["A1"]}),
    "day of a provider": (lambda r: [a["id"] for a in r.day(APPOINTMENTS, "2026-12-01", "S1")], ["A1"]),
    "day": (lambda r: [a["id"] for a in r.day(APPOINTMENTS, "2026-12-01")], ["A1"]),
    "days": (lambda r: [a["id"] for a in r.days(APPOINTMENTS, "2026-11-01")], ["A1"]),
    "scan": (lambda r: [p["id"] for p in r.scan(PATIENTS)], ["P1"]),
    "counters": (lambda r: r.counters()["P"], 1),
}


@pytest.mark.parametrize("question", list(OWN_WRITES))
def test_a_transaction_reads_its_own_writes(backend, question):
    ask, answer = OWN_WRITES[question]
    with backend.transaction() as txn:
        [pid] = txn.reserve_ids(PATIENTS)
        [aid] = txn.reserve_ids(APPOINTMENTS)
        txn.put(PATIENTS, {"id": pid, **patient("Ann", "Smith", phone="555-201-1234")})
        txn.put(APPOINTMENTS, {"id": aid, **appointment("2026-12-01T09:00", "S1", room="R1")})
        assert ask(txn) == answer


def test_a_transaction_reads_its_own_replacement_of_a_committed_record(backend):
    [ann] = add(backend, PATIENTS, patient("Ann", "Smith"))
    with backend.transaction() as txn:
        txn.put(PATIENTS, {**ann, "last": "Jones"}, old=ann)
        assert txn.require(PATIENTS, "P1", "patient")["last"] == "Jones"
        assert (txn.lookup("patient-name", "smith"), txn.lookup("patient-name", "jones")) == ([], ["P1"])
        assert [p["last"] for p in txn.scan(PATIENTS)] == ["Jones"]


# -- what snapshots see ----------------------------------------------------------
def test_no_snapshot_sees_a_transaction_before_it_commits(backend):
    [ann] = add(backend, PATIENTS, patient("Ann", "Smith"))
    opened_before = backend.snapshot()
    with backend.transaction() as txn:
        stage_both(txn)
        txn.put(PATIENTS, {**ann, "last": "Jones"}, old=ann)
        for snap in (opened_before, backend.snapshot()):
            assert snap.get(PATIENTS, "P1") == ann and snap.get(PATIENTS, "P2") is None
            assert snap.lookup("patient-name", "jones") == [] and snap.day(APPOINTMENTS, "2026-12-01") == []
            assert {prefix: n for prefix, n in snap.counters().items() if n} == {"P": 1}


def test_a_snapshot_opened_before_a_commit_sees_each_record_whole(backend):
    [ann] = add(backend, PATIENTS, patient("Ann", "Smith", "1970-01-01", "555-201-1234"))
    opened_before = backend.snapshot()
    new = replace(backend, PATIENTS, ann, first="Anna", last="Jones", dob="1971-02-02", phone=None)
    assert opened_before.get(PATIENTS, "P1") in (ann, new)
    assert backend.snapshot().get(PATIENTS, "P1") == new


# -- after_commit ----------------------------------------------------------------
def test_after_commit_callbacks_run_in_order_once_the_commit_is_visible(backend):
    calls: list[tuple[str, Any]] = []
    with backend.transaction() as txn:
        stage_both(txn)
        txn.after_commit.append(lambda: calls.append(("first", backend.snapshot().get(PATIENTS, "P1"))))
        txn.after_commit.append(lambda: calls.append(("second", None)))
        assert calls == []
    assert [name for name, _ in calls] == ["first", "second"] and calls[0][1] is not None


def test_after_commit_callbacks_do_not_run_when_the_transaction_raises(backend):
    calls: list[str] = []
    with pytest.raises(RuntimeError), backend.transaction() as txn:
        stage_both(txn)
        txn.after_commit.append(lambda: calls.append("ran"))
        raise RuntimeError("the command failed")
    assert calls == []


# -- configuration documents -----------------------------------------------------
def test_a_configuration_document_is_written_with_the_records(backend):
    with backend.transaction() as txn:
        stage_both(txn)
        assert backend.document("payers.yaml") == {}
    assert backend.document("payers.yaml") == PAYERS_DATA
    assert backend.document_text("payers.yaml") == PAYERS and backend.document_text("fees.yaml") is None
    changed = "payers:\n- id: BETA\n  name: Beta Mutual\n"
    with backend.transaction() as txn:
        txn.put_document("payers.yaml", changed, {"payers": [{"id": "BETA", "name": "Beta Mutual"}]})
    assert backend.document("payers.yaml") == {"payers": [{"id": "BETA", "name": "Beta Mutual"}]}


# -- the audit of each commit ------------------------------------------------------
def commits(backend) -> list[dict]:
    return [e for e in backend.audit_entries() if e["action"] == "commit"]


def test_a_commit_is_audited_as_begun_before_it_is_made(backend):
    seen_when_audited: list[Any] = []

    def actor():
        seen_when_audited.append(backend.snapshot().get(PATIENTS, "P1"))
        return "tester", "patient add", AT

    backend.actor = actor
    with backend.transaction() as txn:
        stage_both(txn)
    assert seen_when_audited == [None]
    assert backend.committed and backend.commit_id
    assert commits(backend) == [{"at": "2026-11-26T10:00:00+00:00", "user": "tester", "command": "patient add",
                                 "action": "commit", "ids": [], "outcome": "begun", "commit": backend.commit_id}]


def test_each_commit_has_its_own_id_and_a_failed_transaction_none(backend):
    backend.actor = lambda: ("tester", "patient add", AT)
    add(backend, PATIENTS, patient("Ann", "Smith"))
    first = backend.commit_id
    with pytest.raises(RuntimeError), backend.transaction() as txn:
        stage_both(txn)
        raise RuntimeError("the command failed")
    assert backend.commit_id == first and len(commits(backend)) == 1
    add(backend, PATIENTS, patient("Bob", "Jones"))
    assert [e["commit"] for e in commits(backend)] == [first, backend.commit_id] and backend.commit_id != first


def test_a_store_without_an_actor_audits_nothing(backend):
    add(backend, PATIENTS, patient("Ann", "Smith"))
    assert commits(backend) == [] and backend.commit_id is None


def test_audit_entries_are_appended_and_found_by_record_user_and_day(backend):
    first = audit.entry(user="maria", command="patient show", action="show", ids=["P1"], at=AT)
    later = audit.entry(user="sam", command="appt book", action="book", ids=["A7", "P1"],
                        at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    backend.probe_audit(AT)
    backend.audit(first)
    backend.audit(later)
    assert backend.audit_entries() == [first, later]
    assert backend.audit_entries(record_id="p1") == [first, later]
    assert backend.audit_entries(record_id="A7") == [later]
    assert backend.audit_entries(user="maria") == [first]
    assert backend.audit_entries(since=date(2026, 11, 27)) == [later]
    assert backend.audit_entries(record_id="P2") == []


# -- attachments -------------------------------------------------------------------
def test_attachments_are_kept_by_content(backend, tmp_path):
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4 synthetic scan\n")
    sha = hashlib.sha256(scan.read_bytes()).hexdigest()
    assert backend.attach_file(str(scan)) == (sha, 24)
    assert backend.attach_file(str(scan)) == (sha, 24)
    assert backend.attach_bytes(scan.read_bytes()) == (sha, 24)
    other, size = backend.attach_bytes(b"%PDF-1.4 another scan\n")
    assert (other, size) == (hashlib.sha256(b"%PDF-1.4 another scan\n").hexdigest(), 22) and other != sha


def test_kept_attachments_are_listed_and_read_back(backend, tmp_path):
    assert list(backend.attachments()) == []
    scan, fax = b"%PDF-1.4 synthetic scan\n", b"II*\x00 synthetic fax"
    (tmp_path / "scan.pdf").write_bytes(scan)
    kept = {backend.attach_file(str(tmp_path / "scan.pdf"))[0], backend.attach_bytes(fax)[0]}
    backend.attach_bytes(fax)  # kept once
    listed = list(backend.attachments())
    assert sorted(listed) == listed and set(listed) == kept and len(listed) == 2
    assert backend.attachment(hashlib.sha256(scan).hexdigest()) == scan
    assert backend.attachment(hashlib.sha256(fax).hexdigest()) == fax
    assert backend.attachment(hashlib.sha256(b"never kept").hexdigest()) is None


def test_an_attachment_that_cannot_be_read_is_invalid_input(backend, tmp_path):
    for path in (tmp_path / "missing.pdf", tmp_path):
        with pytest.raises(InvalidInput):
            backend.attach_file(str(path))
