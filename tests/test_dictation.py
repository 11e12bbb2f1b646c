"""`medsec dictation add`, `dictation engines`, `doc edit` and `doc play` (issue 20).

Most tests transcribe with a fake engine (a plugin loaded with MEDSEC_PLUGINS that hears fixed
words and records what it was given); one runs the bundled pocketsphinx engine on an espeak-ng
dictation. Audio is written with the stdlib `wave` module (16 kHz mono: no sox needed), or by
sox where the test is about converting.
"""

import hashlib
import importlib
import json
import math
import os
import struct
import subprocess
import sys
import textwrap
import uuid
import wave

import pytest
from helpers.backends import write_config
from helpers.files import snapshot
from helpers.tools import need_module, need_tool

from medsec import atrest

ENGINE = """
    import json, wave
    from medsec import hookimpl
    from medsec.plugin_types import Transcriber, Transcript, TranscriptionError, Word

    CALLS = []
    WORDS = [("the", 0.1, 0.3, 0.95), ("patient", 0.3, 0.8, 0.9), ("takes", 0.8, 1.1, 0.85),
             ("metformin", 1.1, 1.7, 0.2), ("daily", 1.7, 2.1, 0.9)]

    def transcribe(path, job):
        with wave.open(path, "rb") as w:
            CALLS.append({"rate": w.getframerate(), "channels": w.getnchannels(), "width": w.getsampwidth(),
                          "settings": job.settings})
        if job.settings.get("fail"):
            raise TranscriptionError("the model is missing")
        if job.settings.get("empty"):
            return Transcript([])
        CALLS[-1]["vocabulary"] = job.vocabulary()
        CALLS[-1]["cached"] = job.load("model.bin")
        job.keep("model.bin", b"MODEL OF " + " ".join(CALLS[-1]["vocabulary"]["terms"]).encode())
        job.progress(1.0)
        return Transcript([Word(*w) for w in WORDS])

    @hookimpl
    def register_transcribers(register):
        register(Transcriber("fake", "words it was told to hear", transcribe))
"""


@pytest.fixture
def engine(tmp_path, monkeypatch):
    """The fake engine's plugin module name (MEDSEC_PLUGINS) and its CALLS."""
    folder = tmp_path / "plugin_modules"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    name = f"fake_engine_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text(textwrap.dedent(ENGINE))
    importlib.invalidate_caches()
    yield name
    sys.modules.pop(name, None)


def calls(name):
    return importlib.import_module(name).CALLS


def write_wav(path, seconds=2.5, rate=16000, channels=1, silent=False, frequency=440.0):
    """A tone (or silence) as 16-bit PCM WAV."""
    frames = int(seconds * rate)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        samples = (0 if silent else int(8000 * math.sin(2 * math.pi * frequency * i / rate)) for i in range(frames))
        w.writeframes(b"".join(struct.pack("<h", s) * channels for s in samples))
    return path


@pytest.fixture
def office(demo, engine):
    """The demo practice with the fake engine as dictation.yaml's engine; `office.env` loads it."""
    demo.env = {**demo.env, "MEDSEC_PLUGINS": engine}
    write_config(demo, "dictation.yaml", "engine: fake\nformulary:\n  - empagliflozin\n"
                                         "words:\n  - {word: Okafor, phones: 'OW K AA F ER'}\n")
    return demo


def add(medsec, path, *extra):
    return medsec("dictation", "add", path, "--patient", "P1", "--author", "S1", "--kind", "consult", *extra)


def files(home):
    """The data directory's files, but the parse cache of a configuration file the test just wrote."""
    return {k: v for k, v in snapshot(home).items() if not k.startswith("index/config/")}


def nothing_written(medsec, args, code, says):
    """`medsec ARGS` fails with exit `code`, one line holding `says`, and writes nothing."""
    before = files(medsec.home)
    result = medsec(*args)
    assert result.exit_code == code, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("medsec: error: ") and says in lines[0], result.stderr
    assert files(medsec.home) == before
    return result


# -- add --------------------------------------------------------------------------------------
@pytest.mark.both_backends
def test_add_transcribes_into_a_draft_marking_unsure_words(office, engine, tmp_path):
    wav = write_wav(tmp_path / "consult.wav")
    record = json.loads(add(office, wav, "--recipient", "Dr Rivera", "--fax", "617-555-0100", "--json").stdout)
    assert record["status"] == "draft" and record["source"] == "dictation" and record["kind"] == "consult"
    assert record["text"] == "the patient takes [?metformin] daily\n"
    assert record["to"]["name"] == "Dr Rivera"
    data = wav.read_bytes()
    import hashlib

    assert record["audio"] == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "name": "consult.wav",
                               "format": "wav", "seconds": 2.5}
    transcript = record["transcript"]
    assert transcript["engine"] == "fake" and transcript["unsure"] == 1 and transcript["seconds"] == 2.5
    assert transcript["words"][3] == ["metformin", 1.1, 1.7, 0.2]
    (call,) = calls(engine)
    assert (call["rate"], call["channels"], call["width"]) == (16000, 1, 2)
    vocabulary = call["vocabulary"]
    assert {"empagliflozin", "Okafor", "Dr Rivera"} <= set(vocabulary["terms"])
    assert vocabulary["pronunciations"] == {"Okafor": "OW K AA F ER"}
    assert vocabulary["sentences"] and all("{{" not in s and "{%" not in s for s in vocabulary["sentences"])
    # the original audio is kept by its hash; the draft waits in the author's queue
    if office.pg is None:  # (on PostgreSQL the attachments table keeps it)
        assert (office.home / "files" / record["audio"]["sha256"][:2] / record["audio"]["sha256"]).read_bytes() == data
    assert [d["id"] for d in office.json("doc", "list", "--unsigned", "--staff", "S1")] == [record["id"]]
    # the cache: cache/<engine>/<name>, private; read back on the next run
    cached = office.home / "cache" / "fake" / "model.bin"
    assert cached.read_bytes().startswith(b"MODEL OF ") and oct(cached.stat().st_mode & 0o777) == "0o600"
    first_model = cached.read_bytes()
    add(office, write_wav(tmp_path / "second.wav", frequency=330))
    assert calls(engine)[-1]["cached"] == first_model


def test_the_vocabulary_reads_the_latest_signed_documents(office, tmp_path, engine, monkeypatch):
    """A practice's years of letters would make a model too slow to build: the latest are read."""
    from medsec.workflows import dictation

    monkeypatch.setattr(dictation, "LATEST_SIGNED", 2)
    for text in ("Oldest letter about gout.\n", "Newer letter about asthma.\n", "Newest letter about eczema.\n"):
        doc = office.json("doc", "new", "--patient", "P1", "--author", "S1", "--kind", "letter", "--file", "-",
                          input=text)["id"]
        office.ok("doc", "sign", doc, env={"MEDSEC_USER": "S1"})
    add(office, write_wav(tmp_path / "c.wav"))
    sentences = calls(engine)[-1]["vocabulary"]["sentences"]
    assert "Newer letter about asthma." in sentences and "Newest letter about eczema." in sentences
    assert not any("gout" in s for s in sentences)


def test_a_restricted_charts_letters_do_not_feed_the_shared_vocabulary(office, tmp_path, engine):
    for patient, text in (("P1", "Whitaker tolerates apixaban well.\n"), ("P2", "Secret psychiatric history.\n")):
        doc = office.json("doc", "new", "--patient", patient, "--author", "S1", "--kind", "letter", "--file", "-",
                          input=text)["id"]
        office.ok("doc", "sign", doc, env={"MEDSEC_USER": "S1"})
    office.ok("patient", "restrict", "P2", "--to-role", "physician")
    add(office, write_wav(tmp_path / "c.wav"))
    sentences = calls(engine)[-1]["vocabulary"]["sentences"]
    assert "Whitaker tolerates apixaban well." in sentences
    assert not any("psychiatric" in s for s in sentences)


@pytest.mark.both_backends
def test_the_same_audio_twice_is_refused_unless_again(office, tmp_path):
    wav = write_wav(tmp_path / "consult.wav")
    first = json.loads(add(office, wav, "--json").stdout)["id"]
    copy = tmp_path / "renamed.wav"
    copy.write_bytes(wav.read_bytes())
    refused = nothing_written(office, ["dictation", "add", copy, "--patient", "P1", "--author", "S1", "--kind",
                                       "consult"], 1, f"was transcribed before: {first}")
    assert "--again" in refused.stderr
    again = json.loads(add(office, copy, "--again", "--json").stdout)
    assert again["id"] != first and again["audio"]["name"] == "renamed.wav"


def test_bad_audio_is_refused_with_one_line_and_nothing_written(office, tmp_path, engine):
    text = tmp_path / "notes.wav"
    text.write_text("Dear Dr Rivera, thank you for referring\n")
    nothing_written(office, ["dictation", "add", text, "--patient", "P1", "--author", "S1", "--kind", "consult"],
                    2, "is not audio (WAV, FLAC or MP3)")
    silent = write_wav(tmp_path / "silent.wav", silent=True)
    nothing_written(office, ["dictation", "add", silent, "--patient", "P1", "--author", "S1", "--kind", "consult"],
                    2, "holds no speech (silence)")
    whole = write_wav(tmp_path / "whole.wav").read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole[:30])  # the header cut short
    nothing_written(office, ["dictation", "add", cut, "--patient", "P1", "--author", "S1", "--kind", "consult"],
                    2, "is a damaged WAV file")
    short = tmp_path / "short.wav"
    short.write_bytes(whole[: len(whole) // 2])  # the header promises more sound than there is
    nothing_written(office, ["dictation", "add", short, "--patient", "P1", "--author", "S1", "--kind", "consult"],
                    2, "truncated")
    # three hours, by its FLAC header: refused before anything reads the sound
    streaminfo = (4096).to_bytes(2, "big") * 2 + bytes(6) + ((16000 << 44) | (0 << 41) | (15 << 36)
                                                              | (3 * 3600 * 16000)).to_bytes(8, "big") + bytes(16)
    long_flac = tmp_path / "long.flac"
    long_flac.write_bytes(b"fLaC" + bytes([0x80, 0, 0, 34]) + streaminfo)
    nothing_written(office, ["dictation", "add", long_flac, "--patient", "P1", "--author", "S1", "--kind",
                             "consult"], 2, "3:00:00 long; dictations are limited to 60 minutes")
    assert calls(engine) == []  # no engine ran


def test_max_minutes_refuses_a_longer_recording(office, tmp_path, engine):
    (office.home / "dictation.yaml").write_text("engine: fake\nmax_minutes: 1\n")
    wav = write_wav(tmp_path / "long.wav", seconds=120)
    nothing_written(office, ["dictation", "add", wav, "--patient", "P1", "--author", "S1", "--kind", "consult"],
                    2, "is 0:02:00 long; dictations are limited to 1 minutes")
    assert calls(engine) == []


def test_everything_is_checked_before_the_engine_runs(office, tmp_path, engine):
    wav = write_wav(tmp_path / "consult.wav")
    base = ["dictation", "add", wav, "--author", "S1", "--kind", "consult"]
    nothing_written(office, [*base, "--patient", "P1", "--engine", "whisper"], 2,
                    "--engine 'whisper': no such transcriber is installed (installed: fake, pocketsphinx)")
    office.ok("patient", "archive", "P2")
    nothing_written(office, [*base, "--patient", "P2"], 1, "P2 is archived")
    nothing_written(office, [*base, "--patient", "P1", "--fax", "617-555-0100"], 2, "need --recipient NAME")
    nothing_written(office, ["dictation", "add", wav, "--patient", "P1", "--author", "S99", "--kind", "consult"],
                    1, "no staff member S99")
    assert calls(engine) == []


@pytest.mark.both_backends
def test_an_engine_failure_or_an_empty_transcript_writes_nothing(office, tmp_path, engine):
    wav = write_wav(tmp_path / "consult.wav")
    args = ["dictation", "add", wav, "--patient", "P1", "--author", "S1", "--kind", "consult"]
    write_config(office, "dictation.yaml", "engine: fake\nengines:\n  fake: {fail: true}\n")
    nothing_written(office, args, 3, "transcriber fake: the model is missing")
    write_config(office, "dictation.yaml", "engine: fake\nengines:\n  fake: {empty: true}\n")
    nothing_written(office, args, 2, "holds no speech the transcriber fake recognised")
    assert [c["settings"] for c in calls(engine)] == [{"fail": True}, {"empty": True}]


def test_mp3_and_flac_are_converted_with_sox(office, tmp_path, engine):
    sox = need_tool("sox", "sox")
    source = write_wav(tmp_path / "tone.wav", seconds=2.0, rate=22050, channels=2)  # sox converts this one too
    converted = []
    for ext in ("wav", "flac", "mp3"):
        out = tmp_path / f"dictated.{ext}"
        if ext != "wav":
            subprocess.run([sox, str(source), "-r", "44100", str(out), "trim", "0", "2"], check=True, timeout=60)
        else:
            out = source
        bare = tmp_path / f"no-extension-{ext}"  # the format is read from the bytes, not the name
        bare.write_bytes(out.read_bytes())
        record = json.loads(add(office, bare, "--json").stdout)
        converted.append((record["audio"]["format"], round(record["audio"]["seconds"])))
        assert (calls(engine)[-1]["rate"], calls(engine)[-1]["channels"], calls(engine)[-1]["width"]) == (16000, 1, 2)
    assert converted == [("wav", 2), ("flac", 2), ("mp3", 2)]


def test_a_header_that_says_less_than_the_sound_holds_is_cut_at_the_limit(tmp_path):
    from medsec.errors import InvalidInput
    from medsec.workflows import audio

    sox = need_tool("sox", "sox")
    flac = tmp_path / "long.flac"
    subprocess.run([sox, str(write_wav(tmp_path / "tone.wav", seconds=75)), str(flac)], check=True, timeout=60)
    folder = tmp_path / "private"
    folder.mkdir()
    with pytest.raises(InvalidInput, match="is over 0:01:00 long \\(its header says 0:00:02\\); dictations are "
                                           "limited to 1 minutes"):
        audio.convert(audio.Audio(str(flac), "flac", 2.0), str(folder), 1, "long.flac")
    wav, seconds = audio.convert(audio.Audio(str(flac), "flac", 2.0), str(folder), 2)
    assert seconds == 75.0  # what the sound holds, not what the header said


def test_a_file_too_large_to_keep_or_not_a_regular_file_is_refused_before_the_engine(office, tmp_path, engine):
    big = tmp_path / "big.wav"
    write_wav(big, seconds=1)
    with open(big, "r+b") as f:  # 28 minutes of 16 kHz mono: within max_minutes, over the attachment limit
        wave_bytes = 28 * 60 * 16000 * 2
        f.seek(4)
        f.write((36 + wave_bytes).to_bytes(4, "little"))
        f.seek(40)
        f.write(wave_bytes.to_bytes(4, "little"))
        f.truncate(44 + wave_bytes)
    nothing_written(office, ["dictation", "add", big, "--patient", "P1", "--author", "S1", "--kind", "consult"],
                    2, "over the 50 MB limit")
    fifo = tmp_path / "fifo.wav"
    os.mkfifo(fifo)
    nothing_written(office, ["dictation", "add", fifo, "--patient", "P1", "--author", "S1", "--kind", "consult"],
                    2, "is not a regular file")
    assert calls(engine) == []


def test_what_is_kept_is_what_was_transcribed(office, tmp_path, engine, monkeypatch):
    """The file is read once into a private copy: changed after it was read, the copy is transcribed and kept."""
    from medsec.workflows import audio

    wav = write_wav(tmp_path / "consult.wav")
    original = wav.read_bytes()
    convert = audio.convert

    def changed_meanwhile(given, folder, *args):
        write_wav(wav, seconds=3, frequency=300)
        return convert(given, folder, *args)

    monkeypatch.setattr(audio, "convert", changed_meanwhile)
    record = json.loads(add(office, wav, "--json").stdout)
    assert record["audio"]["sha256"] == hashlib.sha256(original).hexdigest() and record["audio"]["seconds"] == 2.5
    kept = [p for p in (office.home / "files").rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in kept] == [original] and wav.read_bytes() != original


def test_dictation_engines_lists_the_installed_transcribers(office, engine):
    rows = office.json("dictation", "engines")
    assert {"name": "fake", "plugin": engine, "description": "words it was told to hear", "default": True} in rows
    assert "pocketsphinx" in [r["name"] for r in rows]


def test_the_cache_is_encrypted_when_the_practice_encrypts(clinic, secrets_dir, engine, tmp_path):
    from helpers.signin import signed_in

    admin = {**signed_in(clinic, "S1", secrets_dir), "MEDSEC_PLUGINS": engine}
    clinic.ok("encrypt", "--recovery-key-out", tmp_path / "rk.txt", env=admin)
    (clinic.home / "dictation.yaml").write_text("engine: fake\n")
    wav = write_wav(tmp_path / "consult.wav")
    record = clinic.json("dictation", "add", wav, "--patient", "P1", "--author", "S3", "--kind", "letter", env=admin)
    raw = (clinic.home / "cache" / "fake" / "model.bin").read_bytes()
    assert raw.startswith(atrest.MAGIC) and b"Sician" not in raw  # the staff names are in it, encrypted
    assert record["text"] == "the patient takes [?metformin] daily\n"
    clinic.ok("dictation", "add", write_wav(tmp_path / "two.wav", frequency=300), "--patient", "P1", "--author",
              "S3", "--kind", "letter", env=admin)
    assert calls(engine)[-1]["cached"].startswith(b"MODEL OF ") and b"Phil Sician" in calls(engine)[-1]["cached"]


# -- doc edit ---------------------------------------------------------------------------------
@pytest.mark.both_backends
def test_doc_edit_from_a_file_saves_only_a_change(office, tmp_path):
    doc = json.loads(add(office, write_wav(tmp_path / "c.wav"), "--json").stdout)["id"]
    fixed = tmp_path / "fixed.txt"
    fixed.write_text("The patient takes metformin daily.\n")
    assert office.json("doc", "edit", doc, "--file", fixed) == {"id": doc, "status": "draft", "changed": True,
                                                               "chars": 37}
    shown = office.json("doc", "show", doc)
    assert shown["text"] == "The patient takes metformin daily.\n"
    assert shown["edits"] == [{"at": "2026-11-26T10:00:00-05:00", "by": "tester", "chars": 37}]
    before = files(office.home)
    same = office.json("doc", "edit", doc, "--file", "-", input="The patient takes metformin daily.\n")
    assert same["changed"] is False
    assert files(office.home) == before
    nothing_written(office, ["doc", "edit", doc, "--file", "-"], 2, "the edited text is empty")


EDITOR = """#!{python}
import json, os, sys
with open(sys.argv[1]) as draft, open(sys.argv[2]) as side, open(os.environ["EDITOR_LOG"], "a") as f:
    f.write(json.dumps({{"args": sys.argv[1:], "timings": side.read(), "draft": draft.read()}}) + "\\n")
other = os.environ.get("EDITOR_MEANWHILE")
if other:  # another desk saves the draft while this one is in the editor
    import subprocess
    subprocess.run([sys.executable, "-m", "medsec", "doc", "edit", os.environ["EDITOR_DOC"], "--file", other],
                   check=True)
with open(sys.argv[1], "w") as f:
    f.write(os.environ["EDITOR_TEXT"])
"""


def test_doc_edit_opens_the_editor_with_the_timings_and_refuses_a_draft_changed_meanwhile(office, tmp_path):
    doc = json.loads(add(office, write_wav(tmp_path / "c.wav"), "--json").stdout)["id"]
    editor = tmp_path / "editor"
    editor.write_text(EDITOR.format(python=sys.executable))
    editor.chmod(0o755)
    log = tmp_path / "editor.log"
    env = {"VISUAL": f"{editor}", "EDITOR_LOG": str(log), "EDITOR_TEXT": "The patient takes metformin daily.\n"}
    assert office.json("doc", "edit", doc, env=env)["changed"] is True
    seen = json.loads(log.read_text().splitlines()[0])
    assert [os.path.basename(a) for a in seen["args"]] == [f"{doc}.txt", f"{doc}.timings.txt"]
    assert seen["draft"] == "the patient takes [?metformin] daily\n"
    assert "0:01.1  0.20  ? metformin" in seen["timings"] and "0:00.3  0.90    patient" in seen["timings"]
    assert not os.path.exists(seen["args"][0])  # the temporary folder is gone
    # another desk saves while this one edits: refused, the text kept in a file named on the error line
    other = tmp_path / "other.txt"
    other.write_text("Other desk's version.\n")
    env = {**env, "EDITOR_MEANWHILE": str(other), "EDITOR_DOC": doc, "EDITOR_TEXT": "My version.\n"}
    refused = office("doc", "edit", doc, env={**env, **office.env, "VISUAL": str(editor)})
    assert refused.exit_code == 1 and f"{doc} was changed meanwhile" in refused.stderr
    kept = refused.stderr.split("your text is kept in ")[1].split()[0].rstrip(";)")
    with open(kept) as f:
        assert f.read() == "My version.\n" and oct(os.stat(kept).st_mode & 0o777) == "0o600"
    assert office.json("doc", "show", doc)["text"] == "Other desk's version.\n"
    os.remove(kept)
    os.rmdir(os.path.dirname(kept))


def test_ctrl_c_in_the_editor_does_not_stop_doc_edit(office, tmp_path):
    """The terminal sends Ctrl-C to medsec and the editor alike (vi takes it as a key): medsec goes on."""
    doc = json.loads(add(office, write_wav(tmp_path / "c.wav"), "--json").stdout)["id"]
    editor = tmp_path / "editor"
    editor.write_text(f"#!{sys.executable}\nimport os, signal, sys, time\n"
                      "os.kill(os.getppid(), signal.SIGINT)\ntime.sleep(0.5)\n"
                      "open(sys.argv[1], 'w').write('Corrected after a Ctrl-C.\\n')\n")
    editor.chmod(0o755)
    done = office.run("doc", "edit", doc, "--json", env={"VISUAL": str(editor)}, check=False, timeout=120)
    assert done.returncode == 0 and json.loads(done.stdout)["changed"] is True, done.stderr
    assert office.json("doc", "show", doc)["text"] == "Corrected after a Ctrl-C.\n"


def test_doc_edit_of_a_signed_document_is_refused(office, tmp_path):
    doc = json.loads(add(office, write_wav(tmp_path / "c.wav"), "--json").stdout)["id"]
    from medsec.context import AppContext
    from medsec.store.catalog import DOCS

    app = AppContext(data_dir=str(office.home), user="tester")
    with app.store.transaction() as txn:  # signed as `doc sign` leaves it (written directly)
        record = txn.get(DOCS, doc)
        txn.put(DOCS, {**record, "status": "signed", "signed": {"by": "S1", "at": "2026-11-26T10:00:00-05:00"}})
    fixed = tmp_path / "fixed.txt"
    fixed.write_text("Changed after signing.\n")
    refused = nothing_written(office, ["doc", "edit", doc, "--file", fixed], 1, "its text is frozen")
    assert f"medsec doc addendum {doc}" in refused.stderr


# -- doc play ---------------------------------------------------------------------------------
PLAYER = """#!/bin/sh
printf '%s\\n' "$@" > "{log}"
cp "$1" "{log}.audio"
"""


def test_doc_play_uses_the_configured_player_from_a_time(office, tmp_path):
    wav = write_wav(tmp_path / "c.wav")
    doc = json.loads(add(office, wav, "--json").stdout)["id"]
    log = tmp_path / "player.log"
    player = tmp_path / "player"
    player.write_text(PLAYER.format(log=log))
    player.chmod(0o755)
    (office.home / "dictation.yaml").write_text(f"engine: fake\nplayer: ['{player}', '{{file}}', '--start={{at}}']\n")
    office.ok("doc", "play", doc, "--at", "0:01.5")
    args = log.read_text().splitlines()
    assert os.path.basename(args[0]) == f"{doc}.wav" and args[1] == "--start=1.50"
    assert (tmp_path / "player.log.audio").read_bytes() == wav.read_bytes()
    assert not os.path.exists(args[0])
    office.ok("doc", "play", doc)
    assert log.read_text().splitlines()[1] == "--start=0"
    assert office("doc", "play", doc, "--at", "9:00").exit_code == 2  # past its end
    assert office("doc", "play", doc, "--at", "soon").exit_code == 2
    (office.home / "dictation.yaml").write_text(f"engine: fake\nplayer: ['{player}', '{{file}}']\n")
    assert "cannot start part-way" in office("doc", "play", doc, "--at", "0:01").stderr


def test_doc_play_without_a_player_or_audio(office, tmp_path, monkeypatch):
    doc = json.loads(add(office, write_wav(tmp_path / "c.wav"), "--json").stdout)["id"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = office("doc", "play", doc)
    assert result.exit_code == 3 and "no audio player found (install sox)" in result.stderr
    note = tmp_path / "note.txt"
    note.write_text("May return to work on Monday.\n")
    typed = office.json("doc", "new", "--patient", "P1", "--author", "S1", "--kind", "sick-note", "--file", note)["id"]
    result = office("doc", "play", typed)
    assert result.exit_code == 1 and "has no audio" in result.stderr


# -- the real engine ----------------------------------------------------------------------------
def test_add_with_pocketsphinx_on_an_espeak_dictation(demo, tmp_path):
    need_module("pocketsphinx", "pip install 'medsec[dictation]'")
    espeak = need_tool("espeak-ng", "espeak-ng")
    need_tool("sox", "sox")
    spoken = tmp_path / "spoken.wav"  # 22,050 Hz: sox converts it
    subprocess.run([espeak, "-v", "en-us", "-s", "150", "-w", str(spoken),
                    "The patient was seen today for follow up of hypertension. Blood pressure is well controlled."],
                   check=True, timeout=60)
    record = demo.json("dictation", "add", spoken, "--patient", "P1", "--author", "S1", "--kind", "note")
    assert record["transcript"]["engine"] == "pocketsphinx" and record["transcript"]["words"]
    heard = set(record["text"].lower().replace("[?", "").replace("]", "").split())
    said = ["the", "patient", "was", "seen", "today", "for", "follow", "up", "of", "hypertension", "blood",
            "pressure", "is", "well", "controlled"]
    assert "patient" in heard and len([w for w in said if w in heard]) >= 0.4 * len(said), record["text"]
    assert record["transcript"]["decode_seconds"] < 30 and record["audio"]["format"] == "wav"
    assert list((demo.home / "cache" / "pocketsphinx").iterdir())


def test_without_sox_a_flac_is_an_environment_failure_naming_the_package(office, tmp_path, monkeypatch, engine):
    sox = need_tool("sox", "sox")
    flac = tmp_path / "dictated.flac"
    subprocess.run([sox, str(write_wav(tmp_path / "tone.wav")), str(flac)], check=True, timeout=60)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    nothing_written(office, ["dictation", "add", flac, "--patient", "P1", "--author", "S1", "--kind", "consult"],
                    3, "sox is not installed: it is needed to read FLAC audio")
    assert "install the Debian package sox" in office("dictation", "add", flac, "--patient", "P1", "--author", "S1",
                                                      "--kind", "consult").stderr
    assert calls(engine) == []


def test_config_check_names_a_bad_dictation_setting(office):
    (office.home / "dictation.yaml").write_text("engine: fake\nunsure_below: 1.5\n"
                                                "words:\n  - {word: Okafor, phones: 'OW K AA F ER QQ'}\n")
    checked = office("config", "check")
    assert checked.exit_code == 3
    assert "dictation.yaml:2: error: unsure_below must be a number from 0 to 1" in checked.stderr
    assert "dictation.yaml:4: error: words.0.phones: ARPAbet phones" in checked.stderr and "not QQ" in checked.stderr
