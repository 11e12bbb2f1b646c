"""X12 syntax shared by the writers (837P, 270, 276) and the readers: delimiters, text, numbers, dates,
and the interchange envelope every file written is wrapped in."""

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")
# X12 "R" (decimal) values: an optional minus, digits, an optional point. No
# exponent, sign "+", thousands separator or currency symbol.
R_NUMBER = re.compile(r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)", re.ASCII)
# Characters outside the X12 basic character set (uppercase letters, digits,
# space and a few marks) that receivers may refuse; they become spaces.
NOT_BASIC = re.compile(r"[^A-Z0-9 !\"&'()+,\-./;?=]")
# Text already in that set, words separated by single spaces, no space at either end.
BASIC_TEXT = re.compile(r"[A-Z0-9!\"&'()+,\-./;?=]+(?: [A-Z0-9!\"&'()+,\-./;?=]+)*")


@dataclass(frozen=True)
class Delimiters:
    """The four separators an interchange declares in its ISA segment."""

    element: str = "*"
    repetition: str = "^"
    component: str = ":"
    segment: str = "~"

    def all(self) -> set[str]:
        return {self.element, self.repetition, self.component, self.segment}


WRITE = Delimiters()


def text(value, limit: int | None = None) -> str:
    """`value` as X12 data: uppercase ASCII in the basic character set, one
    space between words, cut to `limit`.

    Accents are dropped (JOSÉ -> JOSE) rather than refused, and the writer's
    delimiters can never survive (they are not in the basic set), so a name
    with '*' or '~' cannot split a segment.
    """
    raw = str(value or "")
    if BASIC_TEXT.fullmatch(raw):  # already clean (names and addresses medsec stored): the common case
        return raw[:limit].rstrip() if limit else raw
    plain = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"\s+", " ", NOT_BASIC.sub(" ", plain.upper())).strip()
    return cleaned[:limit].rstrip() if limit else cleaned


def digits(value) -> str:
    """Only the digits of `value` (ZIP codes, tax ids, phone numbers)."""
    return re.sub(r"\D", "", str(value or ""))


def segment(seg_id: str, *elements, d: Delimiters = WRITE) -> str:
    """One segment without its terminator.

    An element is a string or a list of components (a composite). Trailing
    empty components and elements are dropped, interior ones kept, because
    position carries meaning (`SV1*HC:99213*125*UN*1***1:2`).
    """
    out = []
    for element in elements:
        if isinstance(element, (list, tuple)):
            parts = [str(c or "") for c in element]
            while parts and not parts[-1]:
                parts.pop()
            element = d.component.join(parts)
        out.append(str(element if element is not None else ""))
    while out and not out[-1]:
        out.pop()
    return d.element.join([seg_id, *out])


def decimal_of(value, where: str) -> Decimal:
    """A money or quantity string as an exact Decimal; ValueError naming `where`."""
    raw = str(value).strip()
    if not R_NUMBER.fullmatch(raw):
        raise ValueError(f"{where} {value!r} is not a number")
    try:
        return Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the regex already refused it
        raise ValueError(f"{where} {value!r} is not a number") from None


def money(value, where: str) -> str:
    """An X12 amount as medsec's money string: '80' and '80.5' -> '80.00', '80.50'.

    More than two decimals is refused rather than rounded: rounding money
    silently would post a different amount than the payer paid.
    """
    amount = decimal_of(value, where)
    try:
        cents = amount.quantize(CENT)
    except InvalidOperation:  # more digits than a Decimal holds: no payer's amount
        raise ValueError(f"{where} {value!r} is too large") from None
    if amount != cents:
        raise ValueError(f"{where} {value!r} has more than two decimals")
    return str(cents)


def x12_number(value) -> str:
    """A Decimal-able value in X12's shortest form: '125.00' -> '125', '80.50' -> '80.5'.

    X12 "R" values carry no insignificant zeros; pyx12 and receivers take
    both forms, but the short one is what the implementation guides show.
    """
    amount = Decimal(str(value))
    if amount == amount.to_integral_value():
        return str(amount.quantize(Decimal(1)))
    return format(amount.normalize(), "f")


def d8(iso: str) -> str:
    """ISO date '2026-11-20' -> X12 D8 '20261120' (refusing an impossible date)."""
    return date.fromisoformat(str(iso)[:10]).strftime("%Y%m%d")


def iso_date(ccyymmdd: str, where: str) -> str:
    """X12 D8 '20261120' -> ISO '2026-11-20'; ValueError naming `where`."""
    try:
        return datetime.strptime(ccyymmdd, "%Y%m%d").date().isoformat()
    except ValueError:
        raise ValueError(f"{where} {ccyymmdd!r} is not a CCYYMMDD date") from None


def interchange_id(value, what: str) -> str:
    ident = text(value)
    if not 1 <= len(ident) <= 15:
        raise ValueError(f"{what} {value!r}: 1 to 15 characters (ISA06/ISA08)")
    return ident


def interchange(options: dict, functional: str, version: str,
                transaction_sets: Callable[[dict], list[list[str]]]) -> bytes:
    """One interchange: ISA, GS (`functional` group of `version`), the transaction sets
    `transaction_sets(options)` builds (each ST..SE; options with `now` and `group_control` filled),
    GE, IEA; one segment per line (receivers ignore the line breaks, people can read the file).

    options: interchange_control, group_control (default the interchange's), usage (T/P), now,
    sender_id, receiver_id, sender_qualifier/receiver_qualifier (ZZ), acknowledgment (ISA14, 0).
    ValueError for a control number, id or usage an interchange cannot carry.
    """
    options = dict(options)
    now = options.get("now") or datetime.now().astimezone()
    number = int(options["interchange_control"])
    group = int(options.get("group_control") or number)
    if not (0 < number < 10**9 and 0 < group < 10**9):
        raise ValueError("control numbers run from 1 to 999999999")
    sender = interchange_id(options.get("sender_id"), "sender_id")
    receiver = interchange_id(options.get("receiver_id"), "receiver_id")
    usage = str(options.get("usage") or "T")
    if usage not in ("T", "P"):
        raise ValueError(f"usage {usage!r}: T (test) or P (production)")
    options.update(now=now, group_control=group)
    sets = transaction_sets(options)
    # ISA is fixed width: 10-space authorisation fields, ids padded to 15.
    segments = [segment("ISA", "00", " " * 10, "00", " " * 10, options.get("sender_qualifier", "ZZ"),
                        sender.ljust(15), options.get("receiver_qualifier", "ZZ"), receiver.ljust(15),
                        now.strftime("%y%m%d"), now.strftime("%H%M"), WRITE.repetition, "00501",
                        f"{number:09d}", str(options.get("acknowledgment", "0")), usage, WRITE.component),
                segment("GS", functional, sender, receiver, now.strftime("%Y%m%d"), now.strftime("%H%M"), str(group),
                        "X", version),
                *(s for transaction_set in sets for s in transaction_set),
                segment("GE", str(len(sets)), str(group)), segment("IEA", "1", f"{number:09d}")]
    return "".join(s + WRITE.segment + "\n" for s in segments).encode("ascii")
