"""`bench/run.py --only dictation`: the bundled offline transcriber on the six test dictations
(tests/fixtures/dictation): word error rate per dictation and voice, the practice's model against
pocketsphinx's stock model, real-time factor, and the practice model's build time (cold, and
from the engine's cache).

The default voice is the committed WAVs (`espeak-ng -v en-us -s 150`); the second voice
(`-v en-us+m3 -s 130`) is spoken now when espeak-ng and sox are installed. The practice's
vocabulary is what `dictation add` hands the engine for the accuracy test's practice: its past
letters and notes (fixtures/dictation/practice), its formulary additions and its names.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "dictation"
NAMES = ["consult", "visit_note", "lab_callback", "sick_note", "prior_auth", "operative"]
VOICES = {"default": ["-v", "en-us", "-s", "150"], "m3": ["-v", "en-us+m3", "-s", "130"]}
TERMS = ["tirzepatide", "dupilumab", "semaglutide", "Maple Street Family Medicine", "Dr. Helena Voss",
         "Dr. Marcus Okafor", "Dr. Priya Raman", "Jordan Ellis, RN", "Casey Morgan", "Dr. Alan Whitaker",
         "Dr. Grace Lindholm", "Harbor Health Plan", "Daniel", "Brooks"]


def vocabulary() -> dict:
    return {"sentences": [p.read_text() for p in sorted((FIXTURES / "practice").glob("*.txt"))],
            "terms": TERMS, "pronunciations": {}}


def spoken_wavs(folder: str) -> dict[str, dict[str, str]]:
    """voice -> dictation -> 16 kHz mono WAV (the second voice only where espeak-ng and sox are)."""
    wavs = {"default": {n: str(FIXTURES / f"{n}.wav") for n in NAMES}}
    if shutil.which("espeak-ng") and shutil.which("sox"):
        wavs["m3"] = {}
        for n in NAMES:
            raw, wav = os.path.join(folder, f"{n}-raw.wav"), os.path.join(folder, f"{n}-m3.wav")
            subprocess.run(["espeak-ng", *VOICES["m3"], "-w", raw, "-f", str(FIXTURES / f"{n}.txt")], check=True)
            subprocess.run(["sox", raw, "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", wav], check=True)
            wavs["m3"][n] = wav
    return wavs


def measure() -> tuple[list[dict], dict]:
    """Rows (one per dictation, voice and model) and a note: overall WER, RTF, build times."""
    sys.path.insert(0, str(ROOT / "plugins"))
    import jiwer

    from medsec.plugin_types import TranscriptionJob
    from medsec_dictation import engine, lm

    cache: dict[str, bytes] = {}
    vocab = vocabulary()

    def job(settings: dict) -> TranscriptionJob:
        return TranscriptionJob(settings, lambda: vocab, cache.get, cache.__setitem__, lambda s: None)

    started = time.perf_counter()
    engine.practice_model(job({}))
    cold = time.perf_counter() - started
    started = time.perf_counter()
    engine.practice_model(job({}))
    cached = time.perf_counter() - started
    rows: list[dict] = []
    note: dict = {"build_cold_s": round(cold, 2), "build_cached_s": round(cached, 2), "overall": {}, "rtf": {}}
    with tempfile.TemporaryDirectory(prefix="medsec-bench-dictation-") as folder:
        for voice, wavs in spoken_wavs(folder).items():
            for model, settings in (("practice", {}), ("stock", {"stock_model": True})):
                refs, hyps, audio, spent = [], [], 0.0, 0.0
                for name, wav in wavs.items():
                    ref = lm.spoken((FIXTURES / f"{name}.txt").read_text())
                    heard, seconds = engine.timed(wav, job(settings))
                    hyp = " ".join(w.text for w in heard.words)
                    length = os.path.getsize(wav) / 32000
                    refs.append(ref)
                    hyps.append(hyp)
                    audio += length
                    spent += seconds
                    rows.append({"dictation": name, "voice": voice, "model": model,
                                 "wer": round(jiwer.wer(ref, hyp), 3), "audio_s": round(length, 1),
                                 "decode_s": round(seconds, 2), "rtf": round(seconds / length, 3)})
                note["overall"][f"{voice}/{model}"] = round(jiwer.wer(refs, hyps), 3)
                note["rtf"][f"{voice}/{model}"] = round(spent / audio, 3)
    return rows, note


def describe(rows: list[dict], note: dict) -> str:
    voices = sorted({r["voice"] for r in rows}, key=list(VOICES).index)
    wer = {(r["dictation"], r["voice"], r["model"]): r["wer"] for r in rows}
    head = "dictation      " + "  ".join(f"{v + ' practice':>16} {v + ' stock':>13}" for v in voices)
    lines = [head]
    for name in NAMES:
        lines.append(f"{name:<14} " + "  ".join(f"{wer[(name, v, 'practice')]:>16.3f} {wer[(name, v, 'stock')]:>13.3f}"
                                                for v in voices))
    lines.append(f"{'overall':<14} " + "  ".join(f"{note['overall'][v + '/practice']:>16.3f} "
                                                 f"{note['overall'][v + '/stock']:>13.3f}" for v in voices))
    lines.append("real-time factor: " + ", ".join(f"{k} {v:.2f}" for k, v in note["rtf"].items()))
    lines.append(f"practice model build: cold {note['build_cold_s']:.1f} s, cached {note['build_cached_s']:.2f} s "
                 f"(target: WER at most 0.45 overall, real-time factor below 0.5 on 2 cores)")
    return "\n".join(lines)
