"""The bundled offline transcriber (plugins/medsec_dictation/engine.py) on real speech: espeak-ng
speaks a dictation, sox makes it 16 kHz mono 16-bit, pocketsphinx decodes it with a language model
built from a small practice vocabulary. The engine is called directly (the CLI is tested elsewhere)."""

import os
import subprocess
import wave
from pathlib import Path

import pytest
from helpers.tools import need_module, need_tool

from medsec.plugin_types import TranscriptionError, TranscriptionJob

need_module("pocketsphinx", "pip install 'medsec[dictation]'")

from medsec_dictation import engine, lm, pronounce  # noqa: E402

DICTATION = "The patient was started on metformin and lisinopril. Continue atorvastatin at bedtime."
VOCABULARY = {
    "sentences": [
        "The patient was started on metformin for diabetes.",
        "Continue lisinopril for blood pressure.",
        "The patient was started on atorvastatin at bedtime.",
        "Continue metformin and atorvastatin.",
        "Dr. Okafor saw the patient in clinic today.",
    ],
    "terms": ["Okafor", "zanubrutinib"],
    "pronunciations": {"okafor": "OW K AA F AO R"},
}


class Job:
    """A TranscriptionJob over a plain dict cache, counting builds and progress calls."""

    def __init__(self, vocabulary=None, settings=None):
        self.vocabulary = dict(vocabulary or VOCABULARY)
        self.settings = {"bundled_corpus": False} if settings is None else settings
        self.cache: dict[str, bytes] = {}
        self.kept = 0
        self.progress: list[float] = []

    def keep(self, name, data):
        self.kept += 1
        self.cache[name] = data

    def job(self) -> TranscriptionJob:
        return TranscriptionJob(self.settings, lambda: self.vocabulary, self.cache.get, self.keep,
                                self.progress.append)


def speak(tmp_path: Path, text: str, name="dictation", voice="en-us", speed="150", rate="16000") -> Path:
    espeak, sox = need_tool("espeak-ng", "espeak-ng"), need_tool("sox", "sox")
    raw, out = tmp_path / f"{name}-espeak.wav", tmp_path / f"{name}.wav"
    subprocess.run([espeak, "-v", voice, "-s", speed, "-w", str(raw), text], check=True)
    subprocess.run([sox, str(raw), "-r", rate, "-c", "1", "-b", "16", "-e", "signed-integer", str(out)], check=True)
    return out


def seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def test_dictated_drug_names_are_recognised_with_increasing_timings(tmp_path):
    audio = speak(tmp_path, DICTATION)
    state = Job()
    transcript = engine.transcribe(str(audio), state.job())
    said = [w.text for w in transcript.words]
    for drug in ("metformin", "lisinopril", "atorvastatin"):
        assert drug in said, said
    length = seconds(audio)
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    for w in transcript.words:
        assert 0 <= w.start < w.end <= length + 0.05, w
        assert 0.0 <= w.confidence <= 1.0
        assert "(" not in w.text and not w.text.startswith(("<", "["))
    assert state.progress and state.progress == sorted(state.progress)
    assert state.progress[-1] == pytest.approx(length, abs=0.01)


def test_the_model_is_rebuilt_only_when_the_vocabulary_changes(tmp_path):
    audio = speak(tmp_path, "Continue metformin.")
    state = Job()
    engine.transcribe(str(audio), state.job())
    assert state.kept == 1 and set(state.cache) == {"model"}
    first = state.cache["model"]
    engine.transcribe(str(audio), state.job())
    assert state.kept == 1  # unchanged inputs: the cached model is used
    state.vocabulary["terms"] = [*VOCABULARY["terms"], "Szymanski"]
    engine.transcribe(str(audio), state.job())
    assert state.kept == 2 and state.cache["model"] != first
    # a cache that is not a model of ours (or damaged) is rebuilt, not trusted
    state.cache["model"] = b"garbage"
    engine.transcribe(str(audio), state.job())
    assert state.kept == 3


def test_changed_settings_that_shape_the_model_rebuild_it():
    a, b = Job(settings={}), Job(settings={"bundled_corpus": False})
    assert engine.model_key(engine.model_inputs(a.job())) != engine.model_key(engine.model_inputs(b.job()))


def test_another_espeak_version_rebuilds_the_model(monkeypatch):
    """Its pronunciations are in the model: a new espeak-ng (or none) is a new key."""
    state = Job()
    keys = set()
    for version in ("eSpeak NG text-to-speech: 1.51", "eSpeak NG text-to-speech: 1.52", ""):
        monkeypatch.setattr(pronounce, "espeak_version", lambda v=version: v)
        keys.add(engine.model_key(engine.model_inputs(state.job())))
    assert len(keys) == 3


def dictionary_entries(model) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in model["dict"].splitlines())


def test_out_of_dictionary_words_get_pronunciations_from_espeak(tmp_path):
    need_tool("espeak-ng", "espeak-ng")
    state = Job()
    model = engine.practice_model(state.job())
    entries = dictionary_entries(model)
    assert model["added"]["okafor"] == ["OW K AA F AO R", "practice"]
    assert model["added"]["zanubrutinib"][1] == "espeak-ng"
    assert model["added"]["metformin"][1] == "espeak-ng"
    assert entries["metformin"].startswith("M EH T F")
    words = {w for line in model["arpa"].splitlines() for w in line.split()[1:2]} - {"<s>", "</s>"}
    for word in lm.words_of(lm.corpus(state.vocabulary, lm.bundled("formulary.txt"), "")):
        assert word in entries, word
        assert all(p in pronounce.PHONES for p in entries[word].split())
    assert "zanubrutinib" in words


def test_without_espeak_a_letter_to_sound_rule_gives_every_word_one(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng on PATH
    assert not pronounce.espeak_available()
    state = Job()
    model = engine.practice_model(state.job())
    entries = dictionary_entries(model)
    assert model["added"]["zanubrutinib"][1] == "letters"
    assert model["added"]["okafor"][1] == "practice"
    for word, (phones, _source) in model["added"].items():
        assert entries[word] == phones and phones
        assert all(p in pronounce.PHONES for p in phones.split()), word
    assert pronounce.letters("gabapentin") == "G AE B AE P EH N T IH N"


def test_espeak_notation_maps_to_the_model_phones():
    assert pronounce.from_espeak("m'Etfo@m,In") == "M EH T F AO R M IH N"
    assert pronounce.from_espeak("k,oUlsI2st'Ekt@mi") == "K OW L S IH S T EH K T AH M IY"
    assert pronounce.clean("ow1 k aa0 f ao2 r") == "OW K AA F AO R"
    assert pronounce.clean("OW X Q") == ""


def test_text_is_normalised_to_spoken_words():
    assert lm.spoken("Metformin 500mg b.i.d., BP 120/80, Dr. Lee, 2.5 mg") == (
        "metformin five hundred milligrams bid bp one hundred twenty over eighty doctor lee two point five milligrams")
    assert lm.spoken("seen on the 3rd, in 1998 and 2026; 10:30") == (
        "seen on the third in nineteen ninety eight and two thousand twenty six ten thirty")
    assert lm.sentences("Dr. Lee saw her. Dose 0.5 mg!\nNext") == [
        "doctor lee saw her", "dose zero point five milligrams", "next"]


@pytest.mark.parametrize("rate,channels", [("22050", "1"), ("16000", "2")])
def test_audio_that_is_not_16k_mono_is_refused(tmp_path, rate, channels):
    audio = speak(tmp_path, "Continue metformin.", rate=rate)
    if channels == "2":
        stereo = tmp_path / "stereo.wav"
        subprocess.run([need_tool("sox", "sox"), str(audio), "-c", "2", str(stereo)], check=True)
        audio = stereo
    state = Job()
    with pytest.raises(TranscriptionError, match="16 kHz mono 16-bit"):
        engine.transcribe(str(audio), state.job())
    assert state.kept == 0 and not state.progress


def test_a_file_that_is_not_wav_is_refused(tmp_path):
    bogus = tmp_path / "note.wav"
    bogus.write_text("not audio at all")
    with pytest.raises(TranscriptionError, match="not a readable WAV"):
        engine.transcribe(str(bogus), Job().job())


def test_unknown_settings_are_refused(tmp_path):
    with pytest.raises(TranscriptionError, match="unknown setting 'bem'"):
        engine.transcribe(str(tmp_path / "x.wav"), Job(settings={"bem": 1}).job())


def test_without_pocketsphinx_the_error_says_how_to_install(monkeypatch, tmp_path):
    import builtins

    real = builtins.__import__

    def no_pocketsphinx(name, *args, **kwargs):
        if name == "pocketsphinx" or name.startswith("pocketsphinx."):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pocketsphinx)
    with pytest.raises(TranscriptionError, match=r"pip install 'medsec\[dictation\]'"):
        engine.transcribe(str(tmp_path / "x.wav"), Job().job())


def test_missing_model_files_are_reported(monkeypatch, tmp_path):
    import pocketsphinx

    monkeypatch.setattr(pocketsphinx, "get_model_path", lambda sub=None: os.path.join(str(tmp_path), sub or ""))
    with pytest.raises(TranscriptionError, match="model files are missing"):
        engine.transcribe(str(tmp_path / "x.wav"), Job().job())


def test_the_decode_directory_is_removed(tmp_path, monkeypatch):
    audio = speak(tmp_path, "Continue metformin.")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    state = Job()
    engine.transcribe(str(audio), state.job())
    assert list(scratch.iterdir()) == []

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "decode", interrupted)  # Ctrl-C while decoding
    with pytest.raises(KeyboardInterrupt):
        engine.transcribe(str(audio), state.job())
    assert list(scratch.iterdir()) == []


def test_the_same_inputs_give_the_same_model_bytes():
    first, second = Job(), Job()
    engine.practice_model(first.job())
    engine.practice_model(second.job())
    assert first.cache["model"] == second.cache["model"]


def blob(key: str, members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return engine.MAGIC + key.encode() + b"\n" + buf.getvalue()


def test_a_damaged_or_hostile_cached_model_is_not_trusted(tmp_path, monkeypatch):
    state = Job()
    key = engine.model_key(engine.model_inputs(state.job()))
    good = {"info.json": b'{"added": {}, "sentences": 1, "words": 1}', "lm.arpa": b"arpa", "words.dict": b"a AH\n"}
    assert engine.unpack(blob(key, good), key)["arpa"] == "arpa"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(engine, "MAX_MODEL_BYTES", 1 << 20)
    bomb = {**good, "lm.arpa": b"\0" * (1 << 20)}  # 1 kB packed
    hostile = [blob(key, bomb), blob(key, {**good, "../../escaped": b"x", "/tmp/absolute": b"x"}),
               blob(key, {**good, "info.json": b"[1, 2]"}), blob(key, {"lm.arpa": b"arpa"}),
               blob(key, good)[:-40], blob(key, {**good, "lm.arpa": b"\xff\xfe"})]
    assert engine.unpack(hostile[1], key)["arpa"] == "arpa"  # extra members are never extracted
    for data in hostile[:1] + hostile[2:]:
        assert engine.unpack(data, key) is None
    assert list(tmp_path.iterdir()) == [] and not (tmp_path.parent / "escaped").exists()


def test_espeak_is_given_words_on_its_input_never_as_options(tmp_path):
    need_tool("espeak-ng", "espeak-ng")
    (tmp_path / "other.txt").write_text("metformin\n")
    option = f"-f{tmp_path / 'other.txt'}"  # as an argument: "speak that file's text instead"
    # a word that makes espeak-ng's lines differ from the words asks it word by word
    found = pronounce.espeak([option, "two\nlines", "metformin"])
    assert found["metformin"].startswith("M EH T F")
    assert found[option] != found["metformin"]


def test_a_long_recording_is_decoded_in_utterances_cut_at_pauses_with_times_from_its_start(tmp_path, monkeypatch):
    audio = speak(tmp_path, DICTATION)
    offsets: list[float] = []
    real = engine.words_of

    def utterance(dec, frate, offset=0.0):
        offsets.append(offset)
        return real(dec, frate, offset)

    monkeypatch.setattr(engine, "words_of", utterance)
    monkeypatch.setattr(engine, "UTTERANCE_SECONDS", 1.0)  # an hour's recording, shrunk
    state = Job()
    transcript = engine.transcribe(str(audio), state.job())
    assert len(offsets) >= 2 and offsets == sorted(offsets) and offsets[0] == 0, offsets
    said = [w.text for w in transcript.words]
    for drug in ("metformin", "lisinopril", "atorvastatin"):
        assert drug in said, said
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts) and starts[-1] > offsets[-1]
    assert all(0 <= w.start < w.end <= seconds(audio) + 0.05 for w in transcript.words)
    assert state.progress == sorted(state.progress) and state.progress[-1] == pytest.approx(seconds(audio), abs=0.01)
