"""Name matching (accent- and case-insensitive word prefixes), and the rules for text
people type and text printed back (no control characters either way)."""

import re
import unicodedata

from medsec.errors import InvalidInput

_WORD = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """'Quiñonez-Zyzzyva' -> 'quinonez-zyzzyva' (no accents, case folded)."""
    text = str(text)
    if text.isascii():
        return text.lower()  # nothing to decompose; for ASCII casefold is lower
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()


def words(text: str) -> list[str]:
    """The searchable words of a name: folded, split on anything not a letter or digit."""
    return _WORD.findall(fold(text))


def matches(query_words: list[str], name_words: list[str]) -> bool:
    """Every query word starts some word of the name."""
    return all(any(w.startswith(q) for w in name_words) for q in query_words)


# -- text people type, and text printed back ---------------------------------
# Characters no typed field may hold: C0 controls (ESC starts terminal escape
# sequences, CR overwrites a line, NUL truncates in C consumers), DEL, C1
# controls (U+0080-U+009F, U+009B is a one-character CSI), the line and
# paragraph separators, and the bidirectional formatting controls that make
# text display in another order than it is stored (U+202E and friends). Lone
# surrogates too: Python's stand-ins for bytes that were not UTF-8 (an argument
# typed in another encoding), which no file or terminal can take as text.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_SURROGATES = "\ud800-\udfff"
# Patterns are left to re's cache: most text is printable (str.isprintable, in C, says
# so first), and a command that never meets a control character never compiles them.
_UNPRINTABLE = f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI}{_SURROGATES}]"
_UNPRINTABLE_BUT_NEWLINE = f"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029{_BIDI}{_SURROGATES}]"


def clean_text(value, field: str, limit: int, multiline: bool = False) -> str:
    """`value` as text a record may keep, or InvalidInput naming `field`.

    Refuses control and bidi characters (a multi-line field keeps newlines;
    CRLF becomes LF) and more than `limit` characters.
    """
    text = str(value)
    if multiline:
        text = text.replace("\r\n", "\n")
    bad = None if text.isprintable() else re.search(_UNPRINTABLE_BUT_NEWLINE if multiline else _UNPRINTABLE, text)
    if bad:
        code = f"U+{ord(bad.group()):04X}"
        what = f"a byte that is not UTF-8 ({code})" if "\ud800" <= bad.group() <= "\udfff" \
            else f"the control character {code}"
        raise InvalidInput(f"{field}: {shown(text)} holds {what} at position {bad.start() + 1}")
    if len(text) > limit:
        raise InvalidInput(f"{field}: {shown(text)} is longer than {limit} characters")
    return text


def escape_controls(text: str, keep_newlines: bool = False) -> str:
    """`text` with every control or bidi character shown as an escape (`\\x1b`, `\\u202e`),
    so printing it cannot move the cursor, retitle the terminal or reorder a line."""
    if text.isprintable():
        return text
    pattern = _UNPRINTABLE_BUT_NEWLINE if keep_newlines else _UNPRINTABLE
    return re.sub(pattern, lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def shown(value, limit: int = 40) -> str:
    """A bad value as an error message quotes it: a short prefix, escaped, with its length when cut."""
    text = str(value)
    if len(text) <= limit:
        return f"'{escape_controls(text)}'"
    return f"'{escape_controls(text[:limit])}...' ({len(text)} characters)"
