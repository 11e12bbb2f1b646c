"""SMS length: which encoding a text needs and how many segments it takes.

A text message made only of characters of the GSM 03.38 default alphabet (3GPP TS 23.038) is
sent in GSM-7: 160 characters in one message, 153 per segment when it is split (the rest of each
segment holds the header that joins them). The characters of its extension table (``^ { } [ ] ~
\\ |``, the euro sign, form feed) take two places each (an escape and the character), and such a
pair is never split across segments. Any other character (many accented letters, such as the
Spanish á í ó ú, emoji) makes the whole message UCS-2: 70 UTF-16 units in one message, 67 per
segment; a character outside the Basic Multilingual Plane takes two units, never split.

Typographic punctuation typed into templates or instructions (curly quotes, dashes, the ellipsis,
a no-break space) would make a whole message UCS-2 for no reason a patient can see: ``plain``
writes each as its GSM-7 look-alike before a text is counted and sent.
"""

# The basic character set, in table order (0x00-0x7F); ESC (0x1B) leads to the extension table.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

LIMITS = {"GSM-7": (160, 153), "UCS-2": (70, 67)}  # one message, each segment of a split one
PLAIN = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'", "\u201c": '"', "\u201d": '"',
                       "\u201e": '"', "\u2033": '"', "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2010": "-",
                       "\u2011": "-", "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2026": "..."})


def plain(text: str) -> str:
    """`text` with typographic punctuation as its GSM-7 look-alike (’ ' – - … ... and so on)."""
    return text.translate(PLAIN)


def encoding(text: str) -> str:
    """GSM-7 when every character is in the default alphabet or its extension, else UCS-2."""
    return "GSM-7" if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text) else "UCS-2"


def _units(text: str, enc: str) -> list[int]:
    """The places each character takes: septets in GSM-7, UTF-16 units in UCS-2."""
    if enc == "GSM-7":
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def segments(text: str) -> tuple[str, int]:
    """(encoding, number of segments) of `text` as one SMS; an empty text is one segment."""
    enc = encoding(text)
    single, part = LIMITS[enc]
    units = _units(text, enc)
    if sum(units) <= single:
        return enc, 1
    count, used = 1, 0
    for size in units:  # a pair (escape + character, surrogates) is never split
        if used + size > part:
            count, used = count + 1, 0
        used += size
    return enc, count


def length(text: str) -> int:
    """Places the text takes in its encoding (septets or UTF-16 units)."""
    return sum(_units(text, encoding(text)))
