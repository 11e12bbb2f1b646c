"""The practice's own language model: text normalised to what the decoder's dictionary spells,
then an ARPA back-off trigram model built with pocketsphinx's own ``pocketsphinx.lm.ArpaBoLM``.

``spoken(text)`` is also what a word error rate is measured on: lower case, no punctuation,
numbers and units written as they are said ("500 mg" -> "five hundred milligrams").
"""

import io
import re
from importlib import resources

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
           "nine": "ninth", "twelve": "twelfth"}
# Abbreviations as they are dictated (after lower-casing; matched as whole words).
SAID = {
    "mg": "milligrams", "mcg": "micrograms", "ml": "milliliters", "kg": "kilograms", "cm": "centimeters",
    "mm": "millimeters", "mmhg": "millimeters of mercury", "bpm": "beats per minute", "dr": "doctor",
    "mr": "mister", "mrs": "missus", "ms": "miss", "st": "saint", "vs": "versus", "approx": "approximately",
    "lbs": "pounds", "lb": "pound", "hrs": "hours", "hr": "hour", "yo": "year old", "pt": "patient",
    "&": "and", "%": "percent", "+": "plus", "=": "equals", "°": "degrees", "#": "number",
}


def cardinal(n: int) -> str:
    """An integer in words: 500 -> "five hundred", 2026 -> "two thousand twenty six"."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        return ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + cardinal(n % 100))
    for size, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand")):
        if n >= size:
            return cardinal(n // size) + " " + name + ("" if n % size == 0 else " " + cardinal(n % size))
    return str(n)  # pragma: no cover - unreachable


def ordinal(n: int) -> str:
    """3 -> "third", 21 -> "twenty first", 40 -> "fortieth"."""
    words = cardinal(n).split()
    last = words[-1]
    if last in ORDINAL:
        last = ORDINAL[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join([*words[:-1], last])


def number(text: str) -> str:
    """A number as said: "12" twelve, "0.5" zero point five, "1,000" one thousand, "1990" nineteen ninety."""
    text = text.replace(",", "")
    if "." in text:
        whole, _, frac = text.partition(".")
        return cardinal(int(whole or "0")) + " point " + " ".join(ONES[int(d)] for d in frac)
    n = int(text)
    if 1100 <= n <= 1999 and n % 100:  # years and the like: nineteen ninety
        return cardinal(n // 100) + " " + (cardinal(n % 100) if n % 100 >= 10 else "oh " + ONES[n % 100])
    return cardinal(n)


_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d*\.\d+|\d+")
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")
_TIME = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_RATIO = re.compile(r"(\d)\s*/\s*(\d)")


def _time(m: re.Match[str]) -> str:
    hours, minutes = int(m.group(1)), int(m.group(2))
    if minutes == 0:
        return cardinal(hours) + " o'clock"
    return cardinal(hours) + " " + (cardinal(minutes) if minutes >= 10 else "oh " + ONES[minutes])


def spoken(text: str) -> str:
    """`text` as the words a speaker says, in the dictionary's spelling: lower case, no punctuation."""
    t = text.lower().replace("’", "'")
    t = _TIME.sub(_time, t)
    t = _ORDINAL.sub(lambda m: " " + ordinal(int(m.group(1))) + " ", t)
    t = _RATIO.sub(r"\1 over \2", t)  # blood pressure 120/80
    t = re.sub(r"(\d)([a-z%°])", r"\1 \2", t)  # 500mg -> 500 mg
    t = re.sub(r"([a-z])(\d)", r"\1 \2", t)  # b12 -> b 12
    t = _NUMBER.sub(lambda m: " " + number(m.group(0)) + " ", t)
    for sign in "%&+=°#":
        t = t.replace(sign, " " + SAID[sign] + " ")
    words = []
    for raw in re.split(r"[\s/\-–—]+", t):
        w = re.sub(r"^[^a-z']+|[^a-z']+$", "", raw)  # punctuation around a word
        w = re.sub(r"[^a-z']", "", w).strip("'")
        if w:
            words.append(SAID.get(w, w))
    return " ".join(words)


def sentences(text: str) -> list[str]:
    """Spoken sentences of a text (split at . ! ? ; : and line ends), each normalised by `spoken`."""
    # A full stop ends a sentence unless it is inside a number (0.5) or after a title (Dr.).
    parts = re.split(r"(?<!\bdr)(?<!\bmr)(?<!\bmrs)(?<!\bms)(?<!\bst)(?<![0-9])[.!?;:]+(?=\s|$)|\n+",
                     text, flags=re.IGNORECASE)
    out = []
    for part in parts:
        said = spoken(part)
        if said:
            out.append(said)
    return out


def bundled(name: str) -> str:
    """A text file shipped with the plugin (data/NAME), or "" when it is not there."""
    try:
        return (resources.files("medsec_dictation") / "data" / name).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return ""


# Carrier sentences for drug names: the way they are dictated.
CARRIERS = ["started on {}", "continue {}", "she takes {}", "he takes {}", "{} daily"]


def corpus(vocabulary: dict, formulary: str, generic: str) -> list[str]:
    """The sentences the model is built from: the practice's own sentences, its terms (each on its
    own), the bundled formulary's and the practice's drug names in carrier sentences, and the
    bundled generic medical corpus (empty when left out)."""
    lines: list[str] = []
    for text in vocabulary.get("sentences", []):
        lines.extend(sentences(str(text)))
    for term in vocabulary.get("terms", []):
        said = spoken(str(term))
        if said:
            lines.append(said)
    for drug in formulary.splitlines():
        said = spoken(drug.split("#")[0])
        if said:
            lines.extend(c.format(said) for c in CARRIERS)
    lines.extend(sentences(generic))
    return lines


def build_arpa(lines: list[str]) -> str:
    """An ARPA back-off trigram model of `lines` (pocketsphinx.lm.ArpaBoLM, discount mass 0.5)."""
    from pocketsphinx.lm import ArpaBoLM

    model = ArpaBoLM(text="\n".join(lines) + "\n", add_start=True, discount_mass=0.5)
    model.compute()
    out = io.StringIO()
    model.write(out)
    return out.getvalue()


def words_of(lines: list[str]) -> list[str]:
    """The distinct words of `lines`, sorted."""
    return sorted({w for line in lines for w in line.split()})
