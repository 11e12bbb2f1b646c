"""`medsec check [--repair]`: verify shards, indexes, counters and files."""

import hashlib
import os

import orjson

from medsec import config
from medsec.errors import InvalidInput
from medsec.fileio import is_temp_name, temp_owner_alive
from medsec.store.catalog import ALL_KINDS, INDEXES, STAFF
from medsec.store.store import COUNTERS, JOURNAL, TABLE


def _id_order(record_id: str) -> tuple[str, int]:
    """Ids in numeric order whatever the prefix's length (P9 < P10, RF2 < RF10)."""
    prefix = record_id.rstrip("0123456789")
    return prefix, int(record_id[len(prefix):])


def _normal(index: dict) -> dict:
    return {k: sorted(v, key=_id_order) for k, v in index.items() if v}


def check(store, repair: bool = False) -> list[dict]:
    """Problems found (each {"problem", "file", "repaired"}), under the lock.

    Even a read-only check holds the lock: a lock-free look during another
    command's commit sees its journal and records ahead of their index
    entries, and would report those as damage.
    """
    with store.lock():
        if repair:
            store.recover()
        return check_locked(store, repair=repair)


def check_locked(store, repair: bool) -> list[dict]:
    """`check` for a caller that holds the lock already (`medsec upgrade`)."""
    from medsec.store import Transaction

    problems: list[dict] = []

    def report(message, rel="", fixed=False):
        problems.append({"problem": message, "file": rel, "repaired": fixed})

    root = store.root
    if os.path.exists(os.path.join(root, JOURNAL)):
        report("an interrupted commit is waiting to be rolled forward", JOURNAL)
    view = Transaction(root)  # staged repairs, committed at the end
    max_ids: dict[str, int] = {}
    # One pass over every record, each shard parsed and dropped (peek): the
    # indexes they imply and the attachments they name are gathered on the way.
    expected: dict[str, dict] = {}
    attachments: list[tuple[str, str]] = []
    for kind in ALL_KINDS:
        for rel in view.shard_files(kind):
            try:
                table = (view.peek(rel) or {}).get(TABLE, {})
            except Exception as e:
                report(f"not valid JSON: {getattr(e, 'message', e)}", rel)
                continue
            for doc_id, record in table.items():
                n = int(doc_id)
                if record.get("id") != kind.format_id(n) or _shard_of(kind, record) != rel:
                    report(f"document {doc_id} holds {record.get('id')!r}: misplaced", rel)
                max_ids[kind.prefix] = max(max_ids.get(kind.prefix, 0), n)
                for name, shard, key in _entries(kind, record):
                    expected.setdefault(f"index/{name}/{shard}.json", {}).setdefault(key, []).append(record["id"])
                attachments += [(record["id"], a["sha256"]) for a in record.get("attachments", [])]
    if any(p["problem"].startswith("not valid JSON") for p in problems):
        return problems  # indexes cannot be judged against unreadable records
    for member in config.load(root, "staff.yaml").get("staff") or []:
        try:
            max_ids["S"] = max(max_ids.get("S", 0), STAFF.number(member["id"]))
        except Exception:
            report(f"staff id {member.get('id')!r} is malformed", "staff.yaml")
    counters = view.counters()
    fixed_counters = dict(counters)
    for prefix, top in max_ids.items():
        if counters.get(prefix, 0) < top:
            report(f"id counter {prefix} is {counters.get(prefix, 0)} but {prefix}{top} exists", COUNTERS, repair)
            fixed_counters[prefix] = top
    if fixed_counters != counters:
        view.stage(COUNTERS, fixed_counters)
    present = {f"index/{name}/{shard}.json" for name in INDEXES for shard in view.index_shards(name)}
    for rel in sorted(present | set(expected)):
        try:
            actual = view.load(rel) or {}
        except Exception:
            actual = None
        if actual is None or _normal(actual) != _normal(expected.get(rel, {})):
            report("index does not match the records", rel, repair)
            if rel in expected:
                view.stage(rel, _normal(expected[rel]))
            elif repair:
                os.unlink(os.path.join(root, rel))
    for record_id, sha in attachments:
        path = os.path.join(root, "files", sha[:2], sha)
        if not os.path.exists(path):
            report(f"{record_id}: attachment {sha[:12]}... is missing", f"files/{sha[:2]}/{sha}")
        elif _sha256(path) != sha:
            report(f"{record_id}: attachment {sha[:12]}... does not match its hash", f"files/{sha[:2]}/{sha}")
    for folder, _dirs, names in os.walk(root):
        for name in names:
            if is_temp_name(name) and not temp_owner_alive(name):
                rel = os.path.relpath(os.path.join(folder, name), root)
                report("leftover temporary file from an interrupted write", rel, repair)
                if repair:
                    os.unlink(os.path.join(folder, name))
    for name in config.CONFIG_FILES:
        cache = os.path.join(root, config.cache_rel(name))
        try:
            if os.path.exists(cache):
                orjson.loads(open(cache, "rb").read())
        except orjson.JSONDecodeError:
            report("configuration cache is not valid JSON", config.cache_rel(name), repair)
            if repair:
                os.unlink(cache)
    if repair and view.touched:
        store.commit(view)
    return problems


def _shard_of(kind, record: dict) -> str | None:
    try:
        return kind.shard_for(record)
    except (InvalidInput, KeyError):
        return None  # no start, or a part that cannot name a file: misplaced wherever it is


def _entries(kind, record: dict) -> set:
    try:
        return kind.entries(record)
    except (InvalidInput, KeyError):
        return set()


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
