"""The bundled offline transcriber: pocketsphinx (US English) with the practice's own language model.

``transcribe(wav_path, job)`` decodes a 16 kHz mono 16-bit WAV file on this machine. The language
model is built (``lm.py``, pocketsphinx's ArpaBoLM) from the practice's vocabulary
(``job.vocabulary()``: its letters, templates, codes, names, formulary), the bundled formulary
(data/formulary.txt, drug names in carrier sentences) and the bundled generic medical corpus
(data/medical.txt); words the decoder's dictionary lacks get pronunciations (``pronounce.py``).
The model is kept in the engine's cache (``job.keep("model", ...)``) keyed by a SHA-256 of all
its inputs, and rebuilt when any of them changes.

Settings (dictation.yaml ``engines: {pocketsphinx: {...}}``), all optional:

- ``lw``: language weight (pocketsphinx's default 6.5); higher trusts the model over the sound.
- ``beam``: the decoder's main beam (default 1e-48); wider (1e-60) is slower and sometimes better.
- ``bundled_corpus``: false leaves the bundled generic medical corpus out of the model
  (the practice's own sentences, terms and the formulary stay).
- ``stock_model``: true decodes with pocketsphinx's stock US-English model instead (for comparison).

Confidence of a word is its posterior probability in the decoder's word lattice (0 to 1). On the
six test dictations (tests/fixtures/dictation, 361 words decoded, 37% of them wrong) a word below 0.2
was wrong 64% of the time, one above 0.8 16%; between, 25-58% with no trend: words from 0.4 to 0.5
were wrong 29% of the time, less than the average word, so dictation.yaml's `unsure_below` stays 0.4
(0.5 marks a fifth more words, most of them right).
"""

import hashlib
import io
import json
import os
import shutil
import tempfile
import time
import wave
import zipfile
from pathlib import Path
from typing import Any

from medsec.plugin_types import Transcript, TranscriptionError, TranscriptionJob, Word

from . import lm, pronounce

VERSION = "1"  # bump when the way the model is built changes: cached models are rebuilt
CACHE_NAME = "model"
MAGIC = b"medsec-pocketsphinx-model\n"
MAX_MODEL_BYTES = 64 * 1024 * 1024  # a cached model unpacking to more is not ours (2,400 sentences: 0.6 MB)
SAMPLE_RATE = 16000
CHUNK_SECONDS = 1.0
PRIME_SECONDS = 60.0
UTTERANCE_SECONDS = 45.0  # longer recordings are decoded in utterances cut at a pause ...
PAUSE_SECONDS = 0.2
MAX_UTTERANCE_SECONDS = 90.0  # ... or, without one, at this length
INSTALL = "install the dictation extra: pip install 'medsec[dictation]'"
SETTINGS = {"lw", "beam", "bundled_corpus", "stock_model"}


def _pocketsphinx() -> Any:
    try:
        import pocketsphinx
    except ImportError as exc:
        raise TranscriptionError(f"pocketsphinx is not installed; {INSTALL}") from exc
    return pocketsphinx


def model_files() -> dict[str, str]:
    """The stock acoustic model, language model and dictionary shipped in pocketsphinx's wheel."""
    ps = _pocketsphinx()
    files = {"hmm": ps.get_model_path("en-us/en-us"), "lm": ps.get_model_path("en-us/en-us.lm.bin"),
             "dict": ps.get_model_path("en-us/cmudict-en-us.dict")}
    missing = [path for path in files.values() if not os.path.exists(path)]
    if missing or not os.path.exists(os.path.join(files["hmm"], "mdef")):
        where = missing[0] if missing else files["hmm"]
        raise TranscriptionError(f"pocketsphinx's US-English model files are missing ({where}); "
                                 "reinstall it: pip install --force-reinstall 'medsec[dictation]'")
    return files


def read_dictionary(path: str) -> dict[str, list[str]]:
    """A pocketsphinx dictionary: word -> its pronunciations ("word(2)" alternates folded in)."""
    entries: dict[str, list[str]] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split(maxsplit=1)
            if len(parts) != 2:
                continue
            word = parts[0].split("(", 1)[0]
            phones = parts[1].split("#", 1)[0].strip()
            entries.setdefault(word, []).append(phones)
    return entries


def _check_settings(settings: dict[str, Any]) -> None:
    unknown = sorted(set(settings) - SETTINGS)
    if unknown:
        raise TranscriptionError(f"dictation.yaml: engines.pocketsphinx has unknown setting {unknown[0]!r} "
                                 f"(known: {', '.join(sorted(SETTINGS))})")
    for key in ("lw", "beam"):
        if key in settings and (isinstance(settings[key], bool) or not isinstance(settings[key], int | float)
                                or settings[key] <= 0):
            raise TranscriptionError(f"dictation.yaml: engines.pocketsphinx.{key} must be a positive number")


# -- the model: inputs, key, build, cache ---------------------------------------------------------

def model_inputs(job: TranscriptionJob) -> dict[str, Any]:
    """Everything the model is built from (its SHA-256 is the cache key)."""
    vocabulary = job.vocabulary() or {}
    use_corpus = job.settings.get("bundled_corpus", True) is not False
    return {
        "engine": VERSION,
        "vocabulary": {"sentences": [str(s) for s in vocabulary.get("sentences", [])],
                       "terms": [str(t) for t in vocabulary.get("terms", [])],
                       "pronunciations": {str(k): str(v) for k, v in
                                          sorted((vocabulary.get("pronunciations") or {}).items())}},
        "formulary": lm.bundled("formulary.txt"),
        "corpus": lm.bundled("medical.txt") if use_corpus else "",
        "espeak": pronounce.espeak_version(),  # its pronunciations change with its version
        "pocketsphinx": _version(),  # its dictionary and phones are copied into the model
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pocketsphinx")
    except PackageNotFoundError:
        return ""


def model_key(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def build_model(inputs: dict[str, Any], dictionary: dict[str, list[str]]) -> dict[str, Any]:
    """The language model (ARPA text), the dictionary for its words (the model's entries plus
    pronunciations for the missing ones) and what was added."""
    lines = lm.corpus(inputs["vocabulary"], inputs["formulary"], inputs["corpus"])
    if not lines:
        raise TranscriptionError("the practice's language model has no text to be built from")
    words = lm.words_of(lines)
    missing = [w for w in words if w not in dictionary]
    added, source = pronounce.pronunciations(missing, inputs["vocabulary"]["pronunciations"])
    given = {k.lower(): pronounce.clean(v) for k, v in inputs["vocabulary"]["pronunciations"].items()}
    dict_lines = []
    for word in words:
        variants = list(dictionary.get(word, []))
        if word in added:
            variants = [added[word]]
        elif given.get(word) and given[word] not in variants:
            variants.insert(0, given[word])  # the practice's own pronunciation comes first
        for i, phones in enumerate(variants):
            dict_lines.append(f"{word if i == 0 else f'{word}({i + 1})'} {phones}")
    return {"arpa": lm.build_arpa(lines), "dict": "\n".join(dict_lines) + "\n",
            "added": {w: [added[w], source[w]] for w in sorted(added)},
            "sentences": len(lines), "words": len(words)}


def pack(key: str, model: dict[str, Any]) -> bytes:
    """The model as the cache keeps it; the same model gives the same bytes (no time stamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("lm.arpa", model["arpa"]), ("words.dict", model["dict"]),
                           ("info.json", json.dumps({k: model[k] for k in ("added", "sentences", "words")}))):
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), text, zipfile.ZIP_DEFLATED)
    return MAGIC + key.encode() + b"\n" + buf.getvalue()


def unpack(blob: bytes | None, key: str) -> dict[str, Any] | None:
    """The cached model when it was built from the same inputs (`key`), else None: also when the
    blob is damaged or not one `pack` made (its three members are read into memory, never
    extracted, and only when together they would not unpack to more than MAX_MODEL_BYTES)."""
    if not blob or not blob.startswith(MAGIC):
        return None
    head, _, body = blob[len(MAGIC):].partition(b"\n")
    if head.decode(errors="replace") != key:
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            members = {name: z.getinfo(name) for name in ("info.json", "lm.arpa", "words.dict")}
            if sum(m.file_size for m in members.values()) > MAX_MODEL_BYTES:
                return None
            text = {name: z.read(m).decode() for name, m in members.items()}
            info = json.loads(text["info.json"])
            if not isinstance(info, dict):
                return None
            return {**info, "arpa": text["lm.arpa"], "dict": text["words.dict"]}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, ValueError, EOFError, OSError, NotImplementedError):
        return None


def practice_model(job: TranscriptionJob) -> dict[str, Any]:
    """The practice's model from the cache, or built (and kept) when its inputs changed."""
    inputs = model_inputs(job)
    key = model_key(inputs)
    model = unpack(job.load(CACHE_NAME), key)
    if model is None:
        model = build_model(inputs, read_dictionary(model_files()["dict"]))
        job.keep(CACHE_NAME, pack(key, model))
    return model


# -- decoding -------------------------------------------------------------------------------------

def read_wav(wav_path: str) -> tuple[wave.Wave_read, float]:
    """The WAV file opened, and its length in seconds; refused unless 16 kHz mono 16-bit PCM."""
    try:
        w = wave.open(wav_path, "rb")  # noqa: SIM115 (the caller closes it)
    except (OSError, EOFError, wave.Error) as exc:
        raise TranscriptionError(f"{os.path.basename(wav_path)} is not a readable WAV file ({exc})") from exc
    if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (SAMPLE_RATE, 1, 2):
        found = f"{w.getframerate()} Hz, {w.getnchannels()} channel(s), {8 * w.getsampwidth()}-bit"
        w.close()
        raise TranscriptionError(f"{os.path.basename(wav_path)}: pocketsphinx needs 16 kHz mono 16-bit "
                                 f"PCM WAV, not {found}")
    return w, w.getnframes() / SAMPLE_RATE


def decoder(settings: dict[str, Any], lm_path: str | None, dict_path: str | None) -> Any:
    ps = _pocketsphinx()
    files = model_files()
    config: dict[str, Any] = {"hmm": files["hmm"], "lm": lm_path or files["lm"], "dict": dict_path or files["dict"],
                              "samprate": SAMPLE_RATE, "loglevel": "FATAL"}
    if "lw" in settings:
        config["lw"] = float(settings["lw"])
    if "beam" in settings:
        config["beam"] = float(settings["beam"])
    try:
        return ps.Decoder(**config)
    except (RuntimeError, ValueError) as exc:
        raise TranscriptionError(f"pocketsphinx could not load its model: {exc}") from exc


def words_of(dec: Any, frate: float, offset: float = 0.0) -> list[Word]:
    """The decoder's words with times (seconds from the start of the file: `offset` is where the
    utterance began) and lattice posteriors; silences, fillers and sentence marks left out, "(2)"
    alternate-pronunciation marks stripped."""
    out = []
    for seg in dec.seg() or []:
        word = seg.word
        if word.startswith(("<", "[", "+")) or not word:
            continue
        word = word.split("(", 1)[0]
        confidence = min(1.0, max(0.0, float(seg.prob)))
        out.append(Word(word, round(offset + seg.start_frame / frate, 2),
                        round(offset + (seg.end_frame + 1) / frate, 2), round(confidence, 3)))
    return out


def decode(dec: Any, w: wave.Wave_read, seconds: float, progress: Any) -> list[Word]:
    """Decode the file fed one second at a time, in utterances of about UTTERANCE_SECONDS.

    The cepstral mean is first measured on the opening minute (features only, no search): the
    decoder's live estimate starts from a generic value and misheard the first words (word error
    rate 0.47 -> 0.37 on espeak-ng dictations). A recording longer than UTTERANCE_SECONDS is cut
    into utterances at the first pause (PAUSE_SECONDS without speech, pocketsphinx's voice
    activity detector) after that length, or at most every MAX_UTTERANCE_SECONDS: one utterance
    holds its whole search and lattice in memory, and an hour's grew without bound. Word times
    stay those of the whole file."""
    frate = float(dec.config["frate"] or 100)
    dec.start_utt()
    dec.process_raw(w.readframes(int(SAMPLE_RATE * PRIME_SECONDS)), True, True)
    dec.end_utt()
    w.rewind()
    vad = _pocketsphinx().Vad(sample_rate=SAMPLE_RATE)
    pause = max(1, round(PAUSE_SECONDS / vad.frame_length))
    words: list[Word] = []
    begun = done = quiet = 0  # samples: where the utterance began, fed so far; frames without speech
    dec.start_utt()
    while True:
        length = (done - begun) / SAMPLE_RATE
        # whole seconds until the utterance is long enough to be cut, then a voice detector's frame at a time
        data = w.readframes(int(SAMPLE_RATE * CHUNK_SECONDS) if length < UTTERANCE_SECONDS else vad.frame_bytes // 2)
        if not data:
            break
        dec.process_raw(data, False, False)
        done += len(data) // 2
        if length >= UTTERANCE_SECONDS:
            quiet = quiet + 1 if len(data) == vad.frame_bytes and not vad.is_speech(data) else 0
        if quiet >= pause or (done - begun) / SAMPLE_RATE >= MAX_UTTERANCE_SECONDS:
            dec.end_utt()
            words += words_of(dec, frate, begun / SAMPLE_RATE)
            begun, quiet = done, 0
            dec.start_utt()
        progress(min(seconds, done / SAMPLE_RATE))
    dec.end_utt()
    return words + words_of(dec, frate, begun / SAMPLE_RATE)


def transcribe(wav_path: str, job: TranscriptionJob) -> Transcript:
    """Transcribe a 16 kHz mono 16-bit WAV file with the practice's language model."""
    settings = dict(job.settings or {})
    _check_settings(settings)
    _pocketsphinx()
    model_files()
    w, seconds = read_wav(wav_path)
    with w:
        if settings.get("stock_model"):
            return Transcript(decode(decoder(settings, None, None), w, seconds, job.progress))
        model = practice_model(job)
        folder = tempfile.mkdtemp(prefix="medsec-dictation-")  # 0700: the model holds patients' names
        try:
            lm_path, dict_path = Path(folder, "practice.lm"), Path(folder, "practice.dict")
            lm_path.write_text(model["arpa"], encoding="utf-8")
            dict_path.write_text(model["dict"], encoding="utf-8")
            dec = decoder(settings, str(lm_path), str(dict_path))
            return Transcript(decode(dec, w, seconds, job.progress))
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def timed(wav_path: str, job: TranscriptionJob) -> tuple[Transcript, float]:
    """`transcribe` and the seconds it took (for the real-time factor)."""
    start = time.perf_counter()
    result = transcribe(wav_path, job)
    return result, time.perf_counter() - start
