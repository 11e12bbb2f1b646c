"""How well the bundled offline transcriber hears dictation (issue 20's judge), through the CLI.

Six dictations written for this test (tests/fixtures/dictation/NAME.txt: a consult letter, a visit
note, a lab callback, a sick note, a prior-authorization letter, an operative summary), spoken by
espeak-ng and committed as 16 kHz mono WAVs (NAME.wav: results do not drift with espeak-ng's
version), are added with `medsec dictation add` to a practice that has its own past letters and
notes (fixtures/dictation/practice/*.txt, typed with `doc new` and signed with `doc sign`), staff,
referring provider and formulary (dictation.yaml). Word error rate (jiwer) of each draft against
its transcript, `[?word]` marks read as the word:

- the default voice (`-v en-us -s 150`, the committed WAVs): at most 0.6 overall (issue 20's loose
  bound; its target is 0.45);
- a second voice (`-v en-us+m3 -s 130`) spoken at run time where espeak-ng and sox exist, on the
  consult letter (the suite's time budget; bench/run.py --only dictation has all six): at most 0.7;
- the stock model (dictation.yaml `engines: {pocketsphinx: {stock_model: true}}`) on one dictation: far
  worse than the practice's model (the full stock table is bench/run.py --only dictation's).

One practice serves the module (its model is kept in the engine's cache between dictations, rebuilt
only when the recipient's name adds a word) and each recording is decoded once per model: decoding
is what the time goes to.

The practice's language model must not have been fitted to the dictations: no dictation sentence
is in its training text and few of their 4-grams are (`test_dictations_are_not_in_the_training_text`).
Figures go to standard output (pytest -s) and to dictation-accuracy.txt in the tests' temporary folders;
bench/run.py --only dictation measures the same with timings.
"""

import re
import subprocess
from pathlib import Path

import pytest
from helpers.cli import Medsec, cli_env
from helpers.practices import init_demo
from helpers.tools import need_module, need_tool

FIXTURES = Path(__file__).parent / "fixtures" / "dictation"
DATA = Path(__file__).parents[1] / "plugins" / "medsec_dictation" / "data"

# name: (kind, addressed to)
DICTATIONS = {
    "consult": ("consult", "Dr. Alan Whitaker"),
    "visit_note": ("note", None),
    "lab_callback": ("note", None),
    "sick_note": ("sick-note", None),
    "prior_auth": ("prior-auth", "Harbor Health Plan"),
    "operative": ("operative", None),
}
VOICES = {"default": ["-v", "en-us", "-s", "150"], "m3": ["-v", "en-us+m3", "-s", "130"]}
# the practice's past documents: file -> (author, kind, addressed to)
AUTHORS = {"06_operative_cyst": ("S2", "operative", None), "07_referral_ortho": ("S2", "letter", "Dr. Grace Lindholm"),
           "08_visit_note_uti": ("S3", "note", None)}
# The practice's formulary additions: tirzepatide is dictated and not in data/formulary.txt.
DICTATION_YAML = """\
formulary:
  - tirzepatide
  - dupilumab
  - semaglutide
words:
  - Maple Street Family Medicine
"""
BOUND = {"default": 0.6, "m3": 0.7}
SECOND_VOICE = ["consult"]  # the second voice: the consult letter (the bench speaks all six)
STOCK = ["consult"]  # the stock model: one dictation here, all of them in the bench


def spoken(text: str) -> str:
    """What a word error rate is measured on: `[?word]` read as the word, lower case, no punctuation."""
    from medsec_dictation import lm

    return lm.spoken(re.sub(r"\[\?([^\]]*)\]", r"\1", text))


def reference(name: str) -> str:
    return spoken((FIXTURES / f"{name}.txt").read_text())


def practice_sentences() -> list[str]:
    """The training text from the practice's side: its documents and the bundled corpus, normalised."""
    from medsec_dictation import lm

    lines = []
    for path in sorted((FIXTURES / "practice").glob("*.txt")):
        lines += lm.sentences(path.read_text())
    lines += lm.sentences((DATA / "medical.txt").read_text())
    return lines


def ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def overlap() -> dict[str, dict[int, float]]:
    """Per dictation, the share of its 3-grams and 4-grams found in the model's training text."""
    seen: dict[int, set] = {3: set(), 4: set()}
    for line in practice_sentences():
        for n in seen:
            seen[n] |= ngrams(line.split(), n)
    out = {}
    for name in DICTATIONS:
        words = reference(name).split()
        out[name] = {n: len(ngrams(words, n) & seen[n]) / len(ngrams(words, n)) for n in seen}
    return out


def report(tmp_path: Path, lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    with (tmp_path / "dictation-accuracy.txt").open("a") as f:
        f.write(text)


@pytest.fixture(scope="module")
def dictating(tmp_path_factory, templates):
    """The demo practice (S1 Dr. Helena Voss) with its formulary, a patient dictated about, and its
    past letters and notes typed and signed by their authors; one for the module (`.out`: its
    folder for the figures)."""
    need_module("pocketsphinx", "pip install 'medsec[dictation]'")
    home = tmp_path_factory.mktemp("dictation-accuracy") / "data"
    demo = templates.copy(Medsec(home, cli_env(home)), init_demo)
    (demo.home / "dictation.yaml").write_text(DICTATION_YAML)
    patient = demo.json("patient", "add", "--first", "Daniel", "--last", "Brooks", "--dob", "1961-04-12")["id"]
    for path in sorted((FIXTURES / "practice").glob("*.txt")):
        author, kind, to = AUTHORS.get(path.stem, ("S1", "letter", "Dr. Alan Whitaker"))
        doc = demo.json("doc", "new", "--patient", "P2", "--author", author, "--kind", kind, "--file", path,
                        *(["--recipient", to] if to else []))
        demo.ok("--user", author, "doc", "sign", doc["id"])
    demo.patient = patient
    demo.out = home.parent
    return demo


def dictate(medsec, wav: Path, name: str, again: bool = False) -> dict:
    kind, to = DICTATIONS[name]
    record = medsec.json("dictation", "add", wav, "--patient", medsec.patient, "--author", "S1", "--kind", kind,
                         *(["--recipient", to] if to else []), *(["--again"] if again else []))
    return record


def measure(medsec, wavs: dict[str, Path], again: bool = False) -> dict[str, dict]:
    """Each dictation added: its word error rate, audio and decoding seconds."""
    import jiwer

    out = {}
    for name, wav in wavs.items():
        record = dictate(medsec, wav, name, again)
        said = spoken(record["text"])
        out[name] = {"wer": jiwer.wer(reference(name), said), "seconds": record["transcript"]["seconds"],
                     "decode": record["transcript"]["decode_seconds"], "ref": reference(name), "hyp": said}
    return out


def overall(results: dict[str, dict]) -> float:
    import jiwer

    return jiwer.wer([r["ref"] for r in results.values()], [r["hyp"] for r in results.values()])


def rtf(results: dict[str, dict]) -> float:
    """Real-time factor with the model cached (the first dictation also builds the model)."""
    later = list(results.values())[1:] or list(results.values())
    return sum(r["decode"] for r in later) / sum(r["seconds"] for r in later)


def speak(tmp_path: Path, voice: str, names: list[str]) -> dict[str, Path]:
    """The dictations `names` spoken at run time by espeak-ng in `voice`, converted by sox."""
    espeak, sox = need_tool("espeak-ng", "espeak-ng"), need_tool("sox", "sox")
    out = {}
    for name in names:
        raw, wav = tmp_path / f"{name}-{voice}-espeak.wav", tmp_path / f"{name}-{voice}.wav"
        subprocess.run([espeak, *VOICES[voice], "-w", str(raw), "-f", str(FIXTURES / f"{name}.txt")], check=True)
        subprocess.run([sox, str(raw), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", str(wav)],
                       check=True)
        out[name] = wav
    return out


def table(voice: str, practice: dict[str, dict], stock: dict[str, dict] | None) -> list[str]:
    lines = [f"voice {voice}: dictation  practice-model WER  stock WER  decode s / audio s"]
    for name, r in practice.items():
        stock_wer = f"{stock[name]['wer']:.3f}" if stock and name in stock else "-"
        lines.append(f"  {name:<13} {r['wer']:.3f}  {stock_wer}  {r['decode']:.1f} / {r['seconds']:.1f}")
    stock_overall = f"{overall(stock):.3f} ({', '.join(stock)} only)" if stock else "-"
    lines.append(f"  overall       {overall(practice):.3f}  {stock_overall}  "
                 f"real-time factor {rtf(practice):.2f} (model cached)")
    return lines


def test_dictations_are_not_in_the_training_text(tmp_path):
    need_module("pocketsphinx", "pip install 'medsec[dictation]'")
    training = set(practice_sentences())
    for name in DICTATIONS:
        text = (FIXTURES / f"{name}.txt").read_text()
        assert 50 <= len(text.split()) <= 70, name
        assert (FIXTURES / f"{name}.wav").exists(), name
        assert text == text.lower() and not re.search(r"[^a-z' \n]", text), f"{name}: spoken form only"
    # no dictation sentence (nor any 8-word stretch of one) is in the practice's documents or the corpus
    eights = set()
    for line in training:
        eights |= ngrams(line.split(), 8)
    for name in DICTATIONS:
        words = reference(name).split()
        assert not ngrams(words, 8) & eights, name
    shares = overlap()
    report(tmp_path, ["n-gram overlap of each dictation with the model's training text (3-gram, 4-gram):"]
           + [f"  {name:<13} {s[3]:.2f}  {s[4]:.2f}" for name, s in shares.items()])
    for name, s in shares.items():
        assert s[4] < 0.35, (name, s)
        assert s[3] < 0.5, (name, s)
    # the practice's formulary matters: a dictated drug only it names
    bundled = (DATA / "formulary.txt").read_text().split()
    assert "tirzepatide" not in bundled and "tirzepatide" in reference("prior_auth")
    assert "tirzepatide" not in " ".join(training)
    assert len(bundled) >= 150 and len((DATA / "medical.txt").read_text().splitlines()) >= 1500


def test_accuracy_of_the_committed_dictations(dictating):
    wavs = {name: FIXTURES / f"{name}.wav" for name in DICTATIONS}
    practice = measure(dictating, wavs)
    drafts = dictating.json("doc", "list", "--unsigned")
    assert {d["patient_id"] for d in drafts if d.get("source", "dictation") == "dictation"} >= {dictating.patient}
    (dictating.home / "dictation.yaml").write_text(DICTATION_YAML + "engines:\n  pocketsphinx: {stock_model: true}\n")
    try:
        stock = measure(dictating, {name: wavs[name] for name in STOCK}, again=True)
    finally:
        (dictating.home / "dictation.yaml").write_text(DICTATION_YAML)
    report(dictating.out, table("default (-v en-us -s 150, committed WAVs)", practice, stock))
    assert overall(practice) <= BOUND["default"]
    same = {name: practice[name] for name in STOCK}
    assert overall(same) < overall(stock) - 0.2, "the practice's model is no better than the stock model"
    assert all(r["wer"] <= 0.8 for r in practice.values()), practice
    assert rtf(practice) < 1.0


def test_accuracy_of_a_second_voice(dictating):
    practice = measure(dictating, speak(dictating.out, "m3", SECOND_VOICE))
    report(dictating.out, table("m3 (-v en-us+m3 -s 130, spoken now)", practice, None))
    assert overall(practice) <= BOUND["m3"]
