"""`medsec upgrade`: bring a data directory written by an older medsec to this one's schema.

Every other command refuses a directory whose medsec.yaml names another
schema version (exit 3), so nothing reads or writes the old layout with the
new code. Each step below turns schema n into n + 1 and may be run again
after a crash: it only moves records into their new files and removes an
old file once its records are safely written. The indexes are then rebuilt
from the records, and medsec.yaml's schema_version is written last: until
then the directory is still the old version, and `medsec upgrade` can be
run again.
"""

import hashlib
import os
import re
from collections.abc import Callable
from typing import Any, TypedDict, cast

import orjson

from medsec import clock, config
from medsec.errors import EnvironmentFailure
from medsec.fileio import fsync_dir, read_bytes, write_atomic
from medsec.store.catalog import APPOINTMENTS
from medsec.store.integrity import check_locked
from medsec.store.journal import JOURNAL
from medsec.store.lock import DirectoryLock
from medsec.store.seal import TABLE
from medsec.store.store import Store

V1_JOURNAL_MAGIC = b"medsec-journal 1 "

# The JSON keys `medsec upgrade` prints ("from" is a keyword, hence this form).
UpgradeSummary = TypedDict("UpgradeSummary", {"data_dir": str, "from": int, "to": int, "steps": list[str]})


def _medsec_yaml(root: str) -> dict[str, Any]:
    """medsec.yaml's settings, read and parsed within its limits (config.read_config, config.parse_yaml:
    ConfigError naming the file and line when it is over them or is not YAML)."""
    raw = config.read_config(root, "medsec.yaml")
    if raw is None:
        raise EnvironmentFailure(f"{root} is not a medsec data directory (no medsec.yaml)",
                                 hint="run 'medsec init' there first")
    data, _node = config.parse_yaml("medsec.yaml", raw.decode("utf-8", errors="replace"))
    return data if isinstance(data, dict) else {}


def schema_of(root: str) -> int:
    """The schema_version medsec.yaml names (without refusing another one)."""
    version = _medsec_yaml(root).get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise EnvironmentFailure(f"{root}/medsec.yaml: schema_version {version!r} is not a schema version")
    return version


def upgrade(root: str) -> UpgradeSummary:
    """Upgrade in place under the lock; {"from", "to", "steps"} (steps empty when current)."""
    schema_of(root)  # not a data directory: say so before creating a lock file in it
    with DirectoryLock(root):
        found = schema_of(root)
        if found > config.SCHEMA_VERSION:
            raise EnvironmentFailure(f"{root} was written by a newer medsec (schema {found}); this one reads "
                                     f"{config.SCHEMA_VERSION}", hint="install the newer medsec")
        steps = []
        for version in range(found, config.SCHEMA_VERSION):
            steps.append(STEPS[version](root))
        if steps:
            rebuilt = check_locked(Store(root), repair=True)
            steps.append(f"rebuilt {sum(p['file'].startswith('index/') for p in rebuilt)} index file(s)")
            _write_schema(root)
    return {"data_dir": root, "from": found, "to": config.SCHEMA_VERSION, "steps": steps}


def _write_schema(root: str) -> None:
    data = _medsec_yaml(root)  # there: schema_of read it under this lock
    data.update(schema_version=config.SCHEMA_VERSION, upgraded=clock.iso(clock.now()))
    text = config.dump_yaml(data, "# medsec.yaml - written by medsec; do not edit.\n")
    write_atomic(os.path.join(root, "medsec.yaml"), text.encode())


# -- schema 1 -> 2 ----------------------------------------------------------------
def _from_1(root: str) -> str:
    """Finish a commit left by schema-1 medsec, then split each day's appointment
    file into one file per provider (appointments/YYYY/DATE/PROVIDER.json)."""
    _recover_v1_journal(root)
    moved = days = 0
    base = os.path.join(root, APPOINTMENTS.name)
    for year in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        folder = os.path.join(base, year)
        for name in sorted(os.listdir(folder)):
            old = os.path.join(folder, name)
            if not (name.endswith(".json") and os.path.isfile(old)):
                continue
            table = (orjson.loads(cast(bytes, read_bytes(old))) or {}).get(TABLE, {})  # a file: listed above
            parts: dict[str, dict[str, Any]] = {}
            for doc_id, record in table.items():
                parts.setdefault(APPOINTMENTS.shard_for(record), {})[doc_id] = record
            for rel, docs in parts.items():
                # a run cut short may have written this part already: same records, same ids
                existing = orjson.loads(read_bytes(os.path.join(root, rel)) or b"{}").get(TABLE, {})
                write_atomic(os.path.join(root, rel), orjson.dumps({TABLE: {**existing, **docs}}))
            os.unlink(old)
            fsync_dir(folder)
            moved += len(table)
            days += 1
    return f"appointments: {moved} moved from {days} day file(s) to one file per provider per day"


def _recover_v1_journal(root: str) -> None:
    """Roll forward a commit that schema-1 medsec journaled but did not finish."""
    raw = read_bytes(os.path.join(root, JOURNAL))
    if raw is None or not raw.startswith(V1_JOURNAL_MAGIC):
        Store(root).recover()  # none, or one of this version's
        return
    header, _, body = raw.partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode() == header[len(V1_JOURNAL_MAGIC):]:
        files = orjson.loads(body)
        Store(root).refuse_unsafe([rel for rel, _text in files], journal=True)  # nothing outside the layout
        for rel, text in files:
            write_atomic(os.path.join(root, rel), text.encode())
    os.unlink(os.path.join(root, JOURNAL))  # a torn one: the commit never began
    fsync_dir(root)


# -- schema 2 -> 3 ----------------------------------------------------------------
def _from_2(root: str) -> str:
    """Name-index shards past SPLIT_ABOVE ids split into longer prefixes, and medsec's own
    appointment UIDs filed by appointment number, a patient's appointments by thousands of
    patients: the index rebuild that follows every upgrade
    lays them out (medsec.store.indexfiles); no record moves."""
    Store(root).recover()
    return ("name index: shards that hold too many names split by longer prefixes; own UIDs filed by number; "
            "appointments by patient in thousands")


# -- schema 3 -> 4 ----------------------------------------------------------------
# A guarantor is 'self', a patient id, or a responsible party kept on the record. Older medsec
# versions and imports left free text ("Jane Doe, mother") in `guarantor`: it becomes a
# `responsible_party`, addressed at the patient's own address (a household's), or one marked
# needs_review (listed by `medsec check`) when the text is not a name.
_PATIENT_ID = re.compile(r"[Pp]\d+")
_NAME = re.compile(r"[^\W\d_][\w.'-]*(?:\s+[^\W\d_][\w.'-]*)+")
_RELATION = re.compile(r"[^\W\d_][\w -]{0,39}")


def parse_guarantor_text(text: str) -> dict[str, Any]:
    """'Jane Doe, mother', 'Jane Doe (mother)', 'Jane Doe - mother' or 'Jane Doe' as a responsible
    party {name, relationship}; anything else {needs_review: True, text}."""
    text = " ".join(str(text).split())
    found = re.fullmatch(r"(.+?)\s*(?:,|\(|\s-\s|;)\s*([^()]*?)\)?", text) or re.fullmatch(r"(.+)()", text)
    name, relation = (found.group(1).strip(), found.group(2).strip()) if found else ("", "")
    if not _NAME.fullmatch(name) or relation and not _RELATION.fullmatch(relation) or len(name) > 120:
        return {"needs_review": True, "text": text[:200]}
    return {"name": name, "relationship": relation.lower()}


def _from_3(root: str) -> str:
    """Free-text guarantors become responsible parties (medsec.records.guarantors)."""
    from medsec.store.catalog import PATIENTS
    from medsec.store.views import Transaction

    store = Store(root)
    store.recover()
    txn = Transaction(root)
    parsed = review = 0
    for record in list(txn.scan(PATIENTS)):
        text = record.get("guarantor")
        if not isinstance(text, str) or not text.strip() or text.strip().lower() == "self":
            continue
        if _PATIENT_ID.fullmatch(text.strip()):  # a patient's id, in medsec's own spelling (p7 -> P7)
            if text != text.strip().upper():
                txn.put(PATIENTS, {**record, "guarantor": text.strip().upper()}, record)
            continue
        party = {"name": "", "relationship": "", "address": "", "city": "", "state": "", "zip": "", "phone": "",
                 "email": "", **parse_guarantor_text(text), "converted_from": text[:200]}
        if party.get("needs_review"):
            review += 1
        else:
            parsed += 1
            party.update({k: str(record.get(k) or "") for k in ("address", "city", "state", "zip")})
        txn.put(PATIENTS, {**record, "guarantor": "", "responsible_party": party}, record)
    store.commit(txn)
    return (f"guarantors: {parsed} free-text guarantor(s) made responsible parties, "
            f"{review} marked needs_review (medsec check lists them)")


# Schema n -> the step that turns it into n + 1 (and says what it did).
STEPS: dict[int, Callable[[str], str]] = {1: _from_1, 2: _from_2, 3: _from_3}
