"""Money as exact decimals: parsed strictly, bounded, printed with two places, never a float.

Writing and reading follow different rules. An amount someone types (an
option, a fee in fees.yaml or a code file, an 835) must be plain ASCII digits
within MAX_AMOUNT, and sums it joins are kept within MAX_TOTAL; anything else
is refused (exit 2). An amount already stored is read whatever it holds: a
value that is no amount (garbage, NaN, an exponent, more than STORED_DIGITS
digits) counts as zero and `damaged` says so, and every sum runs in EXACT, a
context wide enough that stored amounts cannot overflow it.
"""

import re
from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from functools import wraps
from typing import Any, TypeVar

from medsec.errors import InvalidInput
from medsec.text import shown

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# The largest single amount medsec takes (a charge, a payment, an adjustment, a
# fee, an 835 amount). No front-office amount comes near ten million, so a
# bigger one is a typo or an attack; keeping every amount (and MAX_TOTAL, every
# sum) to a few digits keeps tables narrow and sums far from any precision limit.
MAX_AMOUNT = Decimal("9999999.99")
# The largest total of one patient's charges, or of their payments and
# adjustments, or of a claim's payments: ten maximal amounts.
MAX_TOTAL = Decimal("99999999.99")
# What people type: an optional sign, an optional "$", ASCII digits with commas
# only as whole thousands groups (1,234,567), at most two decimals; blanks and
# tabs around it. No exponent, no "_", no other script's digits, no NaN/Infinity.
AMOUNT_PATTERN = r"[ \t]*([+-]?)\$?((?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]{1,2})?|\.[0-9]{1,2})[ \t]*"
# A stored amount that still reads: a plain decimal of at most STORED_DIGITS
# digits each side of the point (an older medsec stored up to 28 and more).
STORED_DIGITS = 40
_STORED = rf"[ ]*-?[0-9]{{1,{STORED_DIGITS}}}(?:\.[0-9]{{1,{STORED_DIGITS}}})?[ ]*"
# Sums of stored amounts: 100 digits hold any count of STORED_DIGITS-digit
# amounts exactly; no trap can fire on them. A computed sum reads while it
# has fewer than SUM_DIGITS digits (room left for its two places).
EXACT = Context(prec=100, rounding=ROUND_HALF_UP, Emax=999, Emin=-999, traps=[])
SUM_DIGITS = 90

_F = TypeVar("_F", bound=Callable[..., Any])


def parse_amount(text, field: str = "amount", allow_zero: bool = False, allow_negative: bool = False) -> Decimal:
    """'125', '125.5', '$1,250.50' -> Decimal with two places; anything else -> InvalidInput naming `field`.

    Refused: other digits than ASCII, exponents ('1e3'), '_' ('1_000'), NaN and
    Infinity, misplaced commas, more than two decimals, more than MAX_AMOUNT,
    and zero or negative amounts unless allowed. '-0' is zero.
    """
    raw = str(text)
    match = re.fullmatch(AMOUNT_PATTERN, raw, re.ASCII)
    if match is None:
        if re.fullmatch(r"[ \t]*[+-]?\$?[0-9,]*\.[0-9]{3,}[ \t]*", raw, re.ASCII):
            raise InvalidInput(f"{field} {shown(raw)} has more than two decimal places")
        raise InvalidInput(f"{field} {shown(raw)} is not an amount (plain digits, e.g. 125.00)")
    sign, number = match.groups()
    value = Decimal(number.replace(",", ""))  # at most a few hundred ASCII digits here: exact, cannot raise
    if value > MAX_AMOUNT:
        raise InvalidInput(f"{field} {shown(raw)} is more than {MAX_AMOUNT:,}, the most one amount may be")
    if value == 0:
        if not allow_zero:
            raise InvalidInput(f"{field} {shown(raw)} must be more than zero")
        return ZERO
    if sign == "-":
        if not allow_negative:
            raise InvalidInput(f"{field} {shown(raw)} must not be negative")
        value = -value
    return value.quantize(CENT)


def check_total(value: Decimal, what: str) -> None:
    """Refuse (InvalidInput) a sum `what` that would pass MAX_TOTAL either way."""
    if abs(value) > MAX_TOTAL:
        raise InvalidInput(f"{what} would come to {fmt(value)}, more than {MAX_TOTAL:,}",
                           hint="nothing was recorded; check the amount")


def readable(value) -> Decimal | None:
    """The amount a stored value holds, with two places; None when it holds none (damaged)."""
    if isinstance(value, Decimal):  # a sum computed from stored amounts
        if not value.is_finite() or value.adjusted() >= SUM_DIGITS:
            return None
        return value.quantize(CENT, context=EXACT) if value else ZERO
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    if isinstance(value, int) and value.bit_length() > 4 * STORED_DIGITS:
        return None  # str() of a huge int is slow, past 4300 digits an error
    text = str(value)
    if not re.fullmatch(_STORED, text, re.ASCII):
        return None
    amount = Decimal(text).quantize(CENT, context=EXACT)
    return amount if amount else ZERO  # '-0' reads as 0.00, not -0.00


def damaged(value) -> bool:
    """A stored amount that holds no amount (None and '' are a missing zero, not damage)."""
    return value not in (None, "") and readable(value) is None


def dec(value) -> Decimal:
    """A stored money string (or number) as a Decimal; missing or damaged counts as 0.00. Never raises."""
    if value is None or value == "":
        return ZERO
    amount = readable(value)
    return ZERO if amount is None else amount


def fmt(value) -> str:
    """Two decimal places, as stored and printed: '125.00'. Never raises."""
    return format(dec(value), "f")


def total(values: Iterable) -> str:
    """The sum of stored amounts, exact whatever they hold."""
    with localcontext(EXACT):
        return fmt(sum((dec(v) for v in values), ZERO))


def exact(func: _F) -> _F:
    """Run `func` with EXACT as the decimal context, so its sums of stored amounts cannot overflow or round."""

    @wraps(func)
    def run(*args, **kwargs):
        with localcontext(EXACT):
            return func(*args, **kwargs)

    return run  # type: ignore[return-value]

