"""Reading X12: the delimiters an ISA declares, the segments, and the envelope around each
transaction set (ISA/GS/ST..SE/GE/IEA, every count and control number checked). Shared by
the 835, 271, 999, 277CA and 277 readers.

Errors name the segment's position the way pyx12 does: "line N" is the Nth segment of the
file (ISA is line 1): ValueError("line 12: segment CLP: CLP04 (paid) 'abc' is not a number").
"""

import re
from dataclasses import dataclass
from typing import NamedTuple

from medsec_x12.syntax import Delimiters, iso_date, money

SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}")


@dataclass
class Segment:
    """One segment: its position in the file (1 = ISA), id, and elements (0 = the id)."""

    line: int
    elements: list[str]
    delimiters: Delimiters

    @property
    def id(self) -> str:
        return self.elements[0]

    def get(self, i: int) -> str:
        return self.elements[i].strip() if i < len(self.elements) else ""

    def parts(self, i: int) -> list[str]:
        """A composite element's components."""
        return self.get(i).split(self.delimiters.component)

    def fail(self, message: str) -> ValueError:
        return ValueError(f"line {self.line}: segment {self.id}: {message}")

    def need(self, i: int, what: str) -> str:
        value = self.get(i)
        if not value:
            raise self.fail(f"{self.id}{i:02d} ({what}) is missing")
        return value

    def money(self, i: int, what: str, default: str | None = None) -> str:
        """Element i as a money string ('80' -> '80.00'); `default` when empty, else required."""
        if not self.get(i) and default is not None:
            return default
        value = self.need(i, what)
        try:
            return money(value, f"{self.id}{i:02d} ({what})")
        except ValueError as e:
            raise self.fail(str(e)) from None

    def date(self, i: int, what: str) -> str:
        value = self.need(i, what)
        try:
            return iso_date(value, f"{self.id}{i:02d} ({what})")
        except ValueError as e:
            raise self.fail(str(e)) from None


# -- tokenising -----------------------------------------------------------------------
def _decode(raw: bytes) -> str:
    """Text of the file: UTF-8 if it is, else Latin-1 (which cannot fail); no BOM or leading blanks."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.lstrip("\ufeff \t\r\n")


def delimiters(text: str) -> Delimiters:
    """The separators the ISA declares: 4th character, ISA11, ISA16 and the character after it.

    Counted rather than read at fixed offsets (ISA is 106 characters), so an
    ISA whose ids were not padded still reads.
    """
    if not text.startswith("ISA"):
        head = re.match(r"[A-Za-z0-9]{0,3}", text)  # always matches, maybe nothing
        first = (head.group() if head else "") or "(none)"
        raise ValueError(f"line 1: segment {first}: not an X12 interchange (expected ISA)")
    element = text[3:4]
    if not element or element.isalnum() or element.isspace():
        raise ValueError("line 1: segment ISA: no element separator after ISA")
    ends = [i for i, ch in enumerate(text[:200]) if ch == element]
    if len(ends) < 16 or len(text) < ends[15] + 3:
        raise ValueError("line 1: segment ISA: cut short (an ISA has 16 elements and a terminator)")
    component, terminator = text[ends[15] + 1], text[ends[15] + 2]
    isa11 = text[ends[10] + 1:ends[11]]
    # ISA11 is the repetition separator in 5010; 4010 put the standards id "U" there.
    repetition = isa11 if len(isa11) == 1 and not isa11.isalnum() else ""
    found = Delimiters(element, repetition, component, terminator)
    chars = [element, component, terminator] + ([repetition] if repetition else [])
    if len(set(chars)) != len(chars) or component.isalnum() or terminator.isalnum():
        raise ValueError(f"line 1: segment ISA: delimiters {chars!r} are not four distinct separators")
    return found


def segments(text: str, d: Delimiters) -> list[Segment]:
    """The segments in order; ValueError for a segment without its terminator or id."""
    out: list[Segment] = []
    pieces = text.split(d.segment)
    for n, piece in enumerate(pieces):
        body = piece.strip("\r\n\t ")
        if not body:
            continue
        elements = body.split(d.element)
        seg = Segment(len(out) + 1, elements, d)
        if not SEGMENT_ID.fullmatch(elements[0]):
            raise ValueError(f"line {seg.line}: segment {elements[0][:10] or '(empty)'}: not a segment id")
        if n == len(pieces) - 1:  # text after the last terminator: the file was cut short
            raise seg.fail(f"not terminated by {d.segment!r} (file cut short?)")
        out.append(seg)
    return out


# -- the envelope -----------------------------------------------------------------------
def _take(segs: list[Segment], i: int, expected: str, after: Segment) -> Segment:
    if i >= len(segs):
        raise ValueError(f"line {after.line + 1}: segment (end of file): expected {expected} (file cut short?)")
    return segs[i]


class TransactionSet(NamedTuple):
    """One ST..SE with its envelope: the ISA and GS around it, and the segments between ST and SE."""

    isa: Segment
    gs: Segment
    st: Segment
    body: list[Segment]
    se: Segment


def transaction_sets(raw: bytes, functional: str, transaction: str,
                     versions: tuple[str, ...] = ()) -> list[TransactionSet]:
    """Every ST..SE of `transaction` in the file, each group's GS01 `functional` and (when
    `versions` is given) its GS08 one of them; ISA (GS (ST..SE)* GE)* IEA repeated, every count
    and control number checked. ValueError("line N: segment XX: ...") when malformed."""
    text = _decode(raw)
    if not text:
        raise ValueError("line 1: segment (none): the file is empty")
    segs = segments(text, delimiters(text))
    found: list[TransactionSet] = []
    i = 0
    while i < len(segs):
        isa = segs[i]
        if isa.id != "ISA":
            raise isa.fail("expected ISA (a new interchange) after IEA")
        i, groups = i + 1, 0
        while True:
            seg = _take(segs, i, "GS or IEA", segs[i - 1])
            if seg.id == "IEA":
                break
            if seg.id != "GS":
                raise seg.fail("expected GS (functional group) or IEA")
            i = _group(segs, i, isa, (functional, transaction, versions), found)
            groups += 1
        if seg.get(1) != str(groups):
            raise seg.fail(f"IEA01 says {seg.get(1) or '(missing)'} groups, the interchange has {groups}")
        if seg.get(2) != isa.get(13):
            raise seg.fail(f"IEA02 {seg.get(2)!r} does not match ISA13 {isa.get(13)!r}")
        i += 1
    if not found:
        raise ValueError(f"line {segs[-1].line}: segment {segs[-1].id}: no {transaction} transaction set in the file")
    return found


def _group(segs: list[Segment], i: int, isa: Segment, wanted: tuple[str, str, tuple[str, ...]],
           found: list[TransactionSet]) -> int:
    """One GS..GE; returns the index after GE."""
    functional, transaction, versions = wanted
    gs = segs[i]
    if gs.get(1) != functional:
        raise gs.fail(f"functional group {gs.get(1) or '(missing)'} is not {functional} ({transaction})")
    if versions and gs.get(8) not in versions:
        raise gs.fail(f"GS08 version {gs.get(8) or '(missing)'!r} is not {' or '.join(versions)}")
    i, sets = i + 1, 0
    while True:
        st = _take(segs, i, "ST or GE", segs[i - 1])
        if st.id == "GE":
            break
        i, sets = _transaction_set(segs, i, isa, gs, transaction, found), sets + 1
    if st.get(1) != str(sets):
        raise st.fail(f"GE01 says {st.get(1) or '(missing)'} transaction sets, the group has {sets}")
    if st.get(2) != gs.get(6):
        raise st.fail(f"GE02 {st.get(2)!r} does not match GS06 {gs.get(6)!r}")
    return i + 1


def _transaction_set(segs: list[Segment], i: int, isa: Segment, gs: Segment, transaction: str,
                     found: list[TransactionSet]) -> int:
    """One ST..SE starting at segs[i]; returns the index after SE."""
    st = segs[i]
    if st.id != "ST":
        raise st.fail("expected ST (transaction set) or GE")
    if st.get(1) != transaction:
        article = "an" if transaction.startswith("8") else "a"  # an 835, a 999
        raise st.fail(f"transaction set {st.get(1) or '(missing)'} is not {article} {transaction}")
    end = i + 1
    while end < len(segs) and segs[end].id not in ("SE", "ST", "GE", "GS", "IEA", "ISA"):
        end += 1
    se = _take(segs, end, "SE", segs[end - 1])
    if se.id != "SE":
        raise st.fail(f"transaction set {st.get(2)} has no SE (found {se.id} on line {se.line})")
    if se.get(1) != str(end - i + 1):
        raise se.fail(f"SE01 says {se.get(1) or '(missing)'} segments, the transaction set has {end - i + 1}")
    if se.get(2) != st.get(2):
        raise se.fail(f"SE02 {se.get(2)!r} does not match ST02 {st.get(2)!r}")
    found.append(TransactionSet(isa, gs, st, segs[i + 1:end], se))
    return end + 1


def identify(raw: bytes) -> tuple[str, str, str]:
    """(GS01, ST01, GS08) of the file's first group: ('HC', '837', '005010X222A1'), ('FA', '999',
    '005010X231A1') ...; empty strings where the head of the file does not say."""
    head = _decode(raw[:4096])
    try:
        d = delimiters(head)
    except ValueError:
        return "", "", ""
    gs01 = st01 = gs08 = ""
    for piece in head.split(d.segment)[1:3]:
        elements = piece.strip().split(d.element)
        if elements[0] == "GS":
            gs01, gs08 = (elements + [""] * 9)[1], (elements + [""] * 9)[8]
        elif elements[0] == "ST":
            st01 = (elements + [""])[1]
    return gs01, st01, gs08


def detect_set(raw: bytes, functional: str, transaction: str, versions: tuple[str, ...] = ()) -> bool:
    """Whether the file's first group is `functional` (GS01) or its first set `transaction` (ST01),
    and (when `versions` is given) of one of those GS08 versions."""
    gs01, st01, gs08 = identify(raw)
    if not (gs01 == functional or (not gs01 and st01 == transaction)):
        return False
    return not versions or gs08 in versions
