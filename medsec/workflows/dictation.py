"""Dictation: a physician's recording transcribed offline into a draft document; correcting it.

`add` (`medsec dictation add FILE`) checks everything it can before any engine runs: the
patient is active, the author on the roster, the kind and the recipient valid, the engine
installed, the file audio (WAV, FLAC or MP3, medsec.workflows.audio) within dictation.yaml's
`max_minutes`, not silent, and not transcribed before (the same bytes: the "doc-audio" index;
`--again` transcribes it once more). The transcriber (hook `register_transcribers`; dictation.yaml
`engine`, default pocketsphinx, or `--engine`) is given the 16 kHz mono WAV and a
`TranscriptionJob`: the engine's settings, the practice's vocabulary (`practice_vocabulary`), its
cache (`cache/<engine>/` in the data directory, encrypted at rest like records) and progress.
Only when it succeeded are the original file kept (by its SHA-256, app.store.attach_file) and the
draft written (clinical_docs.new_document); words the engine was unsure of (confidence below
`unsure_below`, default 0.4) are written `[?word]`.

`edit` (`medsec doc edit`) replaces a draft's text when it changed, compare-and-set: a draft
changed by someone else since it was read is refused (EditConflict) and the editor's text kept.
`audio_of` and `timings` serve `doc play` and the editor's side file of word timings.
"""

import os
import re
import tempfile
import textwrap
import time
from typing import Any

from medsec import clock
from medsec.errors import EnvironmentFailure, InvalidInput, Refused
from medsec.records.staff import roster
from medsec.store.catalog import DOCS, PATIENTS, REFERRALS
from medsec.text import shown
from medsec.workflows import audio as sound
from medsec.workflows.clinical_docs import (
    check_new,
    clean_text,
    get_doc,
    new_document,
    recipient,
    require_draft,
    settings,
)

DEFAULT_ENGINE = "pocketsphinx"
DEFAULT_MAX_MINUTES = 60
DEFAULT_UNSURE_BELOW = 0.4
LATEST_SIGNED = 2000  # the signed documents the vocabulary reads: the latest (some 20,000 sentences)
WRAP = 72  # a draft's lines: the words joined and wrapped for the editor
_TEMPLATE_CODE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
_ALTERNATE = re.compile(r"\(\d+\)$")  # pocketsphinx's word(2): the second pronunciation


class EditConflict(Refused):
    """The draft changed since it was read (another desk saved it): the edit is not saved."""


# -- engines ------------------------------------------------------------------------------
def transcribers(app) -> dict:
    from medsec.plugins import collect  # pluggy: only the commands that transcribe

    return collect(app.plugins, "register_transcribers")


def list_engines(app) -> list[dict]:
    """The installed transcribers: name, plugin, description (the default engine marked)."""
    default = engine_name(app, None)
    return [{"name": name, "plugin": reg.plugin, "description": reg.item.description,
             "default": name == default} for name, reg in sorted(transcribers(app).items())]


def engine_name(app, asked: str | None) -> str:
    return asked or str(settings(app).get("engine") or DEFAULT_ENGINE)


def _engine(app, asked: str | None):
    name = engine_name(app, asked)
    found = transcribers(app)
    if name not in found:
        where = "--engine" if asked else "dictation.yaml engine"
        raise InvalidInput(f"{where} {shown(name)}: no such transcriber is installed "
                           f"(installed: {', '.join(sorted(found)) or 'none'})",
                           hint="pip install 'medsec[dictation]' for the offline pocketsphinx engine")
    return name, found[name].item


# -- the practice's vocabulary -----------------------------------------------------------------
def _template_sentences(app) -> list[str]:
    """The message templates' text (the practice's own first), template code removed."""
    from medsec.templating import search_path

    seen: set[str] = set()
    out: list[str] = []
    for root in search_path(app.data_dir):
        for key, path in _template_files(os.path.join(root, "messages")):
            if key in seen:
                continue
            seen.add(key)
            try:
                with open(path, encoding="utf-8") as f:
                    out += _sentences(_TEMPLATE_CODE.sub(" ", f.read()))
            except (OSError, UnicodeDecodeError):
                continue
    return out


def _template_files(folder: str) -> list[tuple[str, str]]:
    """(template/part, path) of each text and subject part of the message templates in `folder`."""
    found = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        inner = os.path.join(folder, name)
        for part in sorted(os.listdir(inner)) if os.path.isdir(inner) else []:
            if part.endswith((".txt.j2", ".subject.j2")):
                found.append((f"{name}/{part}", os.path.join(inner, part)))
    return found


def _sentences(text: str) -> list[str]:
    return [" ".join(s.split()) for s in _SENTENCE_END.split(text or "") if any(c.isalpha() for c in s)]


def _entries(value) -> list:
    return value if isinstance(value, list) else []


def practice_vocabulary(app, patient: dict | None = None, to: dict | None = None) -> dict[str, Any]:
    """What the practice says, for an engine to build its language from (TranscriptionJob.vocabulary):
    sentences from its message templates, its latest LATEST_SIGNED signed documents, codes.yaml
    descriptions and referrals' reasons; terms: dictation.yaml's formulary and words, staff names,
    referring providers, the dictated patient's name and the recipient's; pronunciations given in
    dictation.yaml. Nothing comes from the audio being transcribed, nor from a restricted chart's
    documents and referrals: the engine's model is shared by every dictation and holds its
    sentences' words."""
    view = app.store.snapshot()
    sentences = _template_sentences(app)
    signed = sorted((d for d in view.scan(DOCS) if d.get("status") == "signed"), key=lambda d: DOCS.number(d["id"]))
    signed = signed[-LATEST_SIGNED:]  # the practice's language as it writes now; a bounded model to build
    referrals = list(view.scan(REFERRALS))
    restricted = {p["id"] for p in view.get_many(PATIENTS, sorted({r["patient_id"] for r in signed + referrals
                                                                   if r.get("patient_id")}))
                  if p.get("restricted_to")}
    for record in signed:
        if record["patient_id"] not in restricted:
            sentences += _sentences(record.get("text", ""))
    codes = app.config("codes.yaml") or {}
    for code in _entries(codes.get("codes") if isinstance(codes, dict) else None):
        if isinstance(code, dict) and isinstance(code.get("description"), str):
            sentences += _sentences(code["description"])
    terms: list[str] = []
    for referral in referrals:
        if referral.get("patient_id") not in restricted:
            sentences += _sentences(str(referral.get("reason") or ""))
        terms += [str(referral[k]) for k in ("to", "from") if referral.get(k)]
    words, pronunciations = _configured_words(settings(app))
    terms += words + [str(m["name"]) for m in roster(app) if m.get("name")]
    terms += [str(patient[k]) for k in ("first", "last") if patient and patient.get(k)]
    terms += [str(to["name"])] if to and to.get("name") else []
    return {"sentences": list(dict.fromkeys(s for s in sentences if s)),
            "terms": list(dict.fromkeys(t.strip() for t in terms if t and t.strip())),
            "pronunciations": pronunciations}


def _configured_words(conf: dict) -> tuple[list[str], dict[str, str]]:
    """dictation.yaml's formulary and words: the words, and the pronunciations given."""
    words: list[str] = []
    pronunciations: dict[str, str] = {}
    for key in ("formulary", "words"):
        for entry in _entries(conf.get(key)):
            if isinstance(entry, str):
                words.append(entry)
            elif isinstance(entry, dict) and isinstance(entry.get("word"), str):
                words.append(entry["word"])
                if isinstance(entry.get("phones"), str):
                    pronunciations[entry["word"]] = " ".join(entry["phones"].split()).upper()
    return words, pronunciations


# -- the draft -------------------------------------------------------------------------------
def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise EnvironmentFailure(f"the transcriber gave {what} {value!r}, not a number")
    return float(value)


def _clean_words(words) -> list[list]:
    """The engine's words as [text, start, end, confidence]: fillers (<sil>, [NOISE]) dropped,
    a pronunciation's number (word(2)) removed, confidence within 0..1."""
    out: list[list] = []
    for word in words or []:
        text, start, end, confidence = word
        text = _ALTERNATE.sub("", str(text).strip())
        if not text or text[0] in "<[" or any(c.isspace() for c in text):
            continue
        start, end = _number(start, "a start"), _number(end, "an end")
        confidence = min(1.0, max(0.0, _number(confidence, "a confidence")))
        out.append([text, round(start, 2), round(max(end, start), 2), round(confidence, 3)])
    return out


def draft_text(words: list[list], text: str, unsure_below: float) -> str:
    """The draft: the engine's text when it gave one, else its words joined and wrapped; each word
    it was unsure of (confidence < unsure_below) written [?word]."""
    if not text.strip():
        joined = " ".join(f"[?{w[0]}]" if w[3] < unsure_below else w[0] for w in words)
        return textwrap.fill(joined, WRAP, break_long_words=False, break_on_hyphens=False)
    out, at = [], 0
    for word in words:
        found = re.compile(rf"(?<!\w){re.escape(word[0])}(?!\w)", re.I).search(text, at)
        if found is None:
            continue
        if word[3] < unsure_below:
            out += [text[at:found.start()], f"[?{found.group(0)}]"]
        else:
            out.append(text[at:found.end()])
        at = found.end()
    return "".join(out) + text[at:]


def _job(app, engine: str, patient: dict, to: dict, progress):
    from medsec.plugin_api import read_cache_file
    from medsec.plugin_types import TranscriptionJob

    section = (settings(app).get("engines") or {}).get(engine) or {}
    return TranscriptionJob(
        settings=dict(section) if isinstance(section, dict) else {},
        vocabulary=lambda: practice_vocabulary(app, patient, to),
        load=lambda name: read_cache_file(app.data_dir, engine, name),
        keep=lambda name, data: _keep(app.data_dir, engine, name, data),
        progress=progress)


def _keep(data_dir: str, engine: str, name: str, data: bytes) -> None:
    from medsec.plugin_api import write_cache_file

    write_cache_file(data_dir, engine, name, data)


def _refuse_repeat(view, sha: str, path: str) -> None:
    before = view.lookup("doc-audio", sha)
    if before:
        raise Refused(f"{shown(path)} was transcribed before: {', '.join(before)}",
                      hint=f"see 'medsec doc show {before[-1]}', or give --again to transcribe it once more")


def add(app, path: str, *, patient_id: str, author_id: str, kind: str, title: str = "", to: str | None = None,
        to_fax: str | None = None, to_email: str | None = None, to_address: str | None = None,
        engine: str | None = None, again: bool = False, progress=None) -> dict:
    """`dictation add`: transcribe `path` into a draft (see the module's docstring); the record."""
    from medsec.plugin_types import TranscriptionError
    from medsec.progress import Progress

    progress = progress or Progress.off()
    conf = settings(app)
    view = app.store.snapshot()
    # everything a draft needs is checked before the engine runs (and again when it is written)
    patient, _, _ = check_new(app, view, patient_id=patient_id, author_id=author_id, kind=kind, title=title)
    addressed = recipient(app, view, to, to_fax, to_email, to_address)
    name, transcriber = _engine(app, engine)
    max_minutes = float(conf.get("max_minutes", DEFAULT_MAX_MINUTES))
    unsure_below = float(conf.get("unsure_below", DEFAULT_UNSURE_BELOW))
    with tempfile.TemporaryDirectory(prefix="medsec-dictation-") as folder:  # 0700, removed on any exit
        given = sound.check(path, max_minutes, folder)  # a file too long by its header: refused unread
        copy, sha, size = sound.keep_copy(path, folder)  # from here on only the copy is read
        if sound.sniff(copy) != given.format or sound.duration(copy, given.format, folder) != given.seconds:
            raise Refused(f"{shown(path)} changed while it was read: nothing was written", hint="try again")
        given = given._replace(path=copy)
        if not again:
            _refuse_repeat(view, sha, path)
        progress.note(f"converting {os.path.basename(path)}")
        wav, seconds = sound.convert(given, folder, max_minutes, path)
        given = given._replace(seconds=seconds)  # what the sound holds, whatever its header said
        sound.refuse_silence(wav, path)
        progress.start(f"transcribing {os.path.basename(path)} with {name} (seconds of audio)",
                       int(given.seconds) or None)

        def advanced(seconds: float) -> None:
            progress.advance(max(0, int(seconds) - progress.done))

        started = time.monotonic()
        try:
            heard = transcriber.transcribe(wav, _job(app, name, patient, addressed, advanced))
        except TranscriptionError as e:
            raise EnvironmentFailure(f"transcriber {name}: {' '.join(str(e).split()) or type(e).__name__}: "
                                     "nothing was written") from None
        decode_seconds = time.monotonic() - started
        progress.close()
        words = _clean_words(getattr(heard, "words", None))
        engine_text = getattr(heard, "text", "") or ""
        if not words and not engine_text.strip():
            raise InvalidInput(f"{shown(path)} holds no speech the transcriber {name} recognised")
        text = clean_text(draft_text(words, engine_text, unsure_below), "the transcript")
        app.store.attach_file(copy)
    record_audio = {"sha256": sha, "size": size, "name": os.path.basename(path), "format": given.format,
                    "seconds": round(given.seconds, 2)}
    transcript = {"engine": name, "words": words, "seconds": round(given.seconds, 2),
                  "decode_seconds": round(decode_seconds, 2), "unsure": sum(1 for w in words if w[3] < unsure_below)}
    with app.store.transaction() as txn:
        if not again:
            _refuse_repeat(txn, sha, path)
        record = new_document(app, txn, patient_id=patient["id"], author_id=author_id, kind=kind, text=text,
                              source="dictation", title=title, to=addressed, audio=record_audio,
                              transcript=transcript)
    app.audit("doc", [record["id"], record["patient_id"]])
    return record


# -- correcting and playing -----------------------------------------------------------------
def stamp(seconds: float) -> str:
    """m:ss.s (a position in the audio)."""
    return f"{int(seconds) // 60}:{seconds - int(seconds) // 60 * 60:04.1f}"


def parse_at(text: str) -> float:
    """`--at`: seconds, m:ss or h:mm:ss (decimals allowed)."""
    parts = (text or "").strip().split(":")
    try:
        if not 1 <= len(parts) <= 3 or any(p.strip() == "" for p in parts):
            raise ValueError
        values = [float(p) for p in parts]
    except ValueError:
        raise InvalidInput(f"--at {shown(text)} is not a time in the audio (seconds, m:ss or h:mm:ss)") from None
    if any(v < 0 or v != v or v == float("inf") for v in values) or any(v >= 60 for v in values[1:]):
        raise InvalidInput(f"--at {shown(text)} is not a time in the audio (seconds, m:ss or h:mm:ss)")
    total = 0.0
    for v in values:
        total = total * 60 + v
    return total


def timings(record: dict, unsure_below: float | None = None) -> str:
    """The side file `doc edit` opens beside the draft: one line per word, where it is in the audio
    (m:ss.s), the word, the engine's confidence; `?` flags a word it was unsure of."""
    transcript = record.get("transcript") or {}
    words = transcript.get("words") or []
    if unsure_below is None:
        unsure_below = DEFAULT_UNSURE_BELOW
    lines = [f"# {record['id']}: where each word is in the audio (play it: medsec doc play {record['id']} --at M:SS)",
             "# at      confidence  word  (? = the transcriber was unsure)"]
    for text, start, _end, confidence in words:
        lines.append(f"{stamp(start):>7}  {confidence:.2f}  {'?' if confidence < unsure_below else ' '} {text}")
    if not words:
        lines.append("# (typed: no audio)")
    return "\n".join(lines) + "\n"


def unsure_below(app) -> float:
    return float(settings(app).get("unsure_below", DEFAULT_UNSURE_BELOW))


def _changed_chars(old: str, new: str) -> int:
    """Characters of the lines that differ between two texts (a measure of the edit)."""
    import difflib

    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    total = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op != "equal":
            total += max(sum(map(len, a[i1:i2])), sum(map(len, b[j1:j2])))
    return total


def edit(app, doc_id: str, text: str, base: dict) -> dict:
    """Replace draft `doc_id`'s text with `text` when it differs from `base`'s (the record as read
    when the edit began). EditConflict (exit 1) when the draft changed since; require_draft's
    refusal when it was signed. {id, status, changed, chars}."""
    new = clean_text(text, "the edited text")
    if new == base["text"]:
        return {"id": base["id"], "status": base["status"], "changed": False, "chars": 0}
    with app.store.transaction() as txn:
        record = get_doc(app, doc_id, txn)
        require_draft(record, "be edited")
        if record["text"] != base["text"] or len(record.get("edits") or []) != len(base.get("edits") or []):
            last = (record.get("edits") or [{}])[-1]
            raise EditConflict(f"{record['id']} was changed meanwhile (by {last.get('by', '?')} at "
                               f"{last.get('at', '?')}): your edit was not saved")
        chars = _changed_chars(record["text"], new)
        edits = [*(record.get("edits") or []), {"at": clock.iso(app.now()), "by": app.user, "chars": chars}]
        txn.put(DOCS, {**record, "text": new, "edits": edits})
    app.audit("doc", [record["id"], record["patient_id"]])
    return {"id": record["id"], "status": record["status"], "changed": True, "chars": chars}


def audio_of(app, doc_id: str) -> tuple[dict, bytes]:
    """A dictated document's original audio (record, bytes); refused for a typed document."""
    record = get_doc(app, doc_id)
    found = record.get("audio") or {}
    if not found.get("sha256"):
        raise Refused(f"{record['id']} was typed: it has no audio")
    data = app.store.attachment(found["sha256"])
    if data is None:
        raise EnvironmentFailure(f"the audio of {record['id']} ({found['sha256'][:12]}...) is missing from the store",
                                 hint="restore the data directory from a backup")
    app.audit("read", [record["id"], record["patient_id"]])
    return record, data


# the players tried when dictation.yaml names none, in order: argv with {file} and {at} (None: cannot seek)
PLAYERS: list[tuple[str, list[str] | None, list[str]]] = [
    ("play", ["play", "-q", "{file}", "trim", "{at}"], ["play", "-q", "{file}"]),
    ("ffplay", ["ffplay", "-nodisp", "-autoexit", "-loglevel", "error", "-ss", "{at}", "{file}"],
     ["ffplay", "-nodisp", "-autoexit", "-loglevel", "error", "{file}"]),
    ("aplay", None, ["aplay", "-q", "{file}"]),
]


def player_command(app, at: float | None) -> list[str]:
    """The player's argv, {file} and {at} still to fill: dictation.yaml's `player`, else the first
    of PLAYERS found. EnvironmentFailure when none is; InvalidInput when it cannot start at --at."""
    import shutil

    configured = settings(app).get("player")
    if configured:
        argv = [str(a) for a in configured]
        if at is not None and not any("{at}" in a for a in argv):
            raise InvalidInput("--at: dictation.yaml's player has no {at} in its command, so it cannot start "
                               "part-way", hint="add {at} (seconds) to the player's command, or leave out --at")
        if at is None:  # a player given a start: from the beginning
            argv = [a.replace("{at}", "0") for a in argv]
        return argv
    for name, seeking, whole in PLAYERS:
        found = shutil.which(name)
        if not found:
            continue
        if at is not None and seeking is None:
            raise InvalidInput(f"--at: {name}, the only audio player found, cannot start part-way",
                               hint="install sox (its play command), or leave out --at")
        return [found, *(seeking if at is not None and seeking else whole)[1:]]
    raise EnvironmentFailure("no audio player found (install sox)",
                             hint="or name one in dictation.yaml: player: [mpv, --start={at}, '{file}']")


def play(app, doc_id: str, at_text: str | None) -> None:
    """`doc play`: the document's original audio, decrypted to a private temporary file, played
    from `at_text` (m:ss) with the player (player_command); refused for a typed document."""
    import shutil
    import subprocess

    at = parse_at(at_text) if at_text is not None else None
    record = get_doc(app, doc_id)
    kept = record.get("audio") or {}
    if not kept.get("sha256"):
        raise Refused(f"{record['id']} was typed: it has no audio to play")
    if at is not None and at >= float(kept.get("seconds") or 0):
        raise InvalidInput(f"--at {shown(at_text)} is past the end of {record['id']}'s audio "
                           f"({stamp(float(kept.get('seconds') or 0))} long)")
    argv = player_command(app, at)
    _, data = audio_of(app, doc_id)
    folder = tempfile.mkdtemp(prefix="medsec-play-")  # 0700
    try:
        path = os.path.join(folder, f"{record['id']}.{kept.get('format') or 'wav'}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        start = f"{at:.2f}" if at is not None else "0"
        command = [a.replace("{file}", path).replace("{at}", start) for a in argv]
        try:
            code = subprocess.run(command, check=False, timeout=float(kept.get("seconds") or 0) + 120).returncode
        except OSError as e:
            raise EnvironmentFailure(f"the audio player {shown(command[0])} cannot be run: {e.strerror or e}") from None
        except subprocess.TimeoutExpired:
            raise EnvironmentFailure(f"the audio player {shown(command[0])} did not finish") from None
        if code != 0:
            raise EnvironmentFailure(f"the audio player {os.path.basename(command[0])} exited with status {code}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
