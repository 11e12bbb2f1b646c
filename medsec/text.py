"""Name matching: accent- and case-insensitive word prefixes."""

import re
import unicodedata

_WORD = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """'Quiñonez-Zyzzyva' -> 'quinonez-zyzzyva' (no accents, case folded)."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()


def words(text: str) -> list[str]:
    """The searchable words of a name: folded, split on anything not a letter or digit."""
    return _WORD.findall(fold(text))


def matches(query_words: list[str], name_words: list[str]) -> bool:
    """Every query word starts some word of the name."""
    return all(any(w.startswith(q) for w in name_words) for q in query_words)
