"""Pronunciations for words the decoder's dictionary lacks (drug names, procedures, surnames).

In order: the practice's own (dictation.yaml ``words`` entries with ``phones``), espeak-ng's
phonemes (``espeak-ng -q -x -v en-us``) mapped to the acoustic model's ARPAbet phone set, and
when espeak-ng is not installed a small letter-to-sound rule set, so that no word is left
without one. Every pronunciation returned uses only the model's phones (``PHONES``).
"""

import re
import shutil
import subprocess

# The en-us acoustic model's phones (pocketsphinx's model/en-us/en-us/mdef, SIL aside).
PHONES = frozenset({
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY", "JH",
    "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH"})

# espeak-ng's phoneme mnemonics (its English phoneme tables, ph_english / ph_english_us) -> ARPAbet.
ESPEAK = {
    # vowels and diphthongs
    "a": "AE", "a#": "AH", "aa": "AE", "A:": "AA", "A@": "AA R", "A": "AA", "a2": "AH",
    "@": "AH", "@2": "AH", "@5": "AH", "@-": "AH", "@L": "AH L", "@r": "ER", "3": "ER", "3:": "ER",
    "E": "EH", "E2": "EH", "E#": "EH", "e@": "EH R", "eI": "EY", "e": "EH",
    "i": "IY", "i:": "IY", "i@": "IY AH", "i@3": "IY R", "I": "IH", "I2": "IH", "I#": "IH", "i#": "IY",
    "0": "AA", "0#": "AA", "O": "AO", "O:": "AO", "O@": "AO R", "o@": "AO R", "oU": "OW", "oU#": "OW",
    "o": "OW", "OI": "OY", "aI": "AY", "aI@": "AY ER", "aI3": "AY ER", "aU": "AW", "aU@": "AW ER",
    "V": "AH", "U": "UH", "u:": "UW", "u": "UW", "U@": "UH R", "u@": "UW ER", "j": "Y",
    # consonants
    "p": "P", "b": "B", "t": "T", "t#": "T", "d": "D", "d#": "D", "*": "T", "k": "K", "g": "G",
    "f": "F", "v": "V", "T": "TH", "D": "DH", "s": "S", "z": "Z", "S": "SH", "Z": "ZH",
    "tS": "CH", "dZ": "JH", "h": "HH", "m": "M", "n": "N", "N": "NG", "l": "L", "L": "L",
    "r": "R", "r-": "R", "w": "W", "x": "K", "?": "T", "n-": "N", "m-": "M", "l-": "L", "W": "W",
}
_TOKENS = sorted(ESPEAK, key=len, reverse=True)
ESPEAK_TIMEOUT = 120.0  # seconds for all the missing words at once
ESPEAK_WORD_TIMEOUT = 10.0  # and for one word
# Stress, syllable, length and palatalisation marks espeak-ng writes between phonemes.
_MARKS = re.compile(r"[',%=;_|!\-^]")


def from_espeak(notation: str) -> str:
    """Map one word's espeak-ng phoneme notation (``m'Etfo@m,In``) to ARPAbet (``M EH T F AO R M IH N``)."""
    out: list[str] = []
    text = notation.strip()
    i = 0
    while i < len(text):
        if text[i] in "',%=;_|!^ ":
            i += 1
            continue
        for token in _TOKENS:
            if text.startswith(token, i):
                out.extend(ESPEAK[token].split())
                i += len(token)
                break
        else:  # a mark or a phoneme this table does not know: skip it
            i += 1
    return " ".join(p for j, p in enumerate(out) if j == 0 or p != out[j - 1])  # U@r: one R


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak_version() -> str:
    """espeak-ng's version line ('' when it is not installed or does not answer): its pronunciations
    change with it, so the model's cache key names it."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return ""
    try:
        return subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10,
                              check=True).stdout.split(" Data at:")[0].strip()
    except (OSError, ValueError, subprocess.SubprocessError):
        return ""


def _espeak(exe: str, text: str, timeout: float) -> str | None:
    """espeak-ng's phonemes for `text` (given on standard input, never as an argument: a word
    such as "-w" is not an option), or None when it failed or took longer than `timeout`."""
    try:
        return subprocess.run([exe, "-q", "-x", "-v", "en-us"], input=text, capture_output=True, text=True,
                              timeout=timeout, check=True).stdout
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def espeak(words: list[str]) -> dict[str, str]:
    """ARPAbet pronunciations from espeak-ng for `words` (one call, one word a line; word by word
    when it joined or split lines, until one call fails); {} without it."""
    exe = shutil.which("espeak-ng")
    if not exe or not words:
        return {}
    out = _espeak(exe, "\n".join(words) + "\n", ESPEAK_TIMEOUT)
    if out is None:
        return {}
    lines = [line for line in out.splitlines() if line.strip()]
    if len(lines) != len(words):
        lines = []
        for word in words:
            one = _espeak(exe, word + "\n", ESPEAK_WORD_TIMEOUT)
            if one is None:
                break  # the rest get letter-to-sound pronunciations
            lines.append(" ".join(one.split()))
    result = {}
    for word, line in zip(words, lines, strict=False):
        phones = " ".join(from_espeak(part) for part in line.split())
        if phones.strip():
            result[word] = " ".join(phones.split())
    return result


# Letter-to-sound fallback: longest spelling first; vowels by a plain (short-vowel) rule.
_RULES = [
    ("tion", "SH AH N"), ("sion", "ZH AH N"), ("ough", "AO"), ("augh", "AO"), ("eigh", "EY"),
    ("tch", "CH"), ("sch", "S K"), ("igh", "AY"), ("dge", "JH"), ("que", "K"),
    ("ph", "F"), ("ch", "K"), ("sh", "SH"), ("th", "TH"), ("ck", "K"), ("qu", "K W"), ("ng", "NG"),
    ("wh", "W"), ("gh", "G"), ("kn", "N"), ("wr", "R"), ("rh", "R"),
    ("ee", "IY"), ("ea", "IY"), ("ie", "IY"), ("ei", "EY"), ("oo", "UW"), ("ai", "EY"), ("ay", "EY"),
    ("ou", "AW"), ("ow", "OW"), ("oi", "OY"), ("oy", "OY"), ("au", "AO"), ("aw", "AO"), ("ew", "UW"),
    ("ue", "UW"), ("oa", "OW"), ("ar", "AA R"), ("er", "ER"), ("ir", "ER"), ("ur", "ER"), ("or", "AO R"),
    ("x", "K S"), ("j", "JH"), ("q", "K"), ("c", "K"), ("g", "G"),
    ("a", "AE"), ("e", "EH"), ("i", "IH"), ("o", "AA"), ("u", "AH"),
    ("b", "B"), ("d", "D"), ("f", "F"), ("h", "HH"), ("k", "K"), ("l", "L"), ("m", "M"), ("n", "N"),
    ("p", "P"), ("r", "R"), ("s", "S"), ("t", "T"), ("v", "V"), ("w", "W"), ("z", "Z"),
]


def letters(word: str) -> str:
    """A rough ARPAbet pronunciation from spelling alone (the fallback without espeak-ng)."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if len(w) > 3 and w.endswith("e") and w[-2] not in "aeiou":
        w = w[:-1]  # silent final e
    w = re.sub(r"([b-df-hj-np-tv-z])\1", r"\1", w)  # double consonants sound once
    out: list[str] = []
    i = 0
    while i < len(w):
        c = w[i]
        nxt = w[i + 1] if i + 1 < len(w) else ""
        if c == "c" and nxt != "h":
            out.append("S" if nxt in ("e", "i", "y") else "K")
            i += 1
            continue
        if c == "g" and nxt in ("e", "i", "y") and not w.startswith("g", i + 2):
            out.append("JH")
            i += 1
            continue
        if c == "y":
            out.append("Y" if i == 0 else "IY" if i == len(w) - 1 else "IH")
            i += 1
            continue
        for spelling, phones in _RULES:
            if w.startswith(spelling, i):
                out.extend(phones.split())
                i += len(spelling)
                break
        else:
            i += 1
    return " ".join(out) or "AH"


def clean(phones: str) -> str:
    """A practice-given pronunciation in the model's phones: upper case, stress digits dropped;
    "" when a phone is not one of the model's."""
    out = [re.sub(r"[0-9]", "", p) for p in phones.upper().split()]
    return " ".join(out) if out and all(p in PHONES for p in out) else ""


def pronunciations(words: list[str], given: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Pronunciations for `words`: (word -> phones, word -> source "practice"|"espeak-ng"|"letters")."""
    result: dict[str, str] = {}
    source: dict[str, str] = {}
    given_clean = {k.lower(): clean(v) for k, v in given.items()}
    for word in words:
        if given_clean.get(word):
            result[word], source[word] = given_clean[word], "practice"
    rest = [w for w in words if w not in result]
    for word, phones in espeak(rest).items():
        if all(p in PHONES for p in phones.split()):
            result[word], source[word] = phones, "espeak-ng"
    for word in words:
        if word not in result:
            result[word], source[word] = letters(word), "letters"
    return result, source
