"""Money as exact decimals: parsed strictly, printed with two places, never a float."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from medsec.errors import InvalidInput

CENT = Decimal("0.01")


def parse_amount(text, field: str = "amount", allow_zero: bool = False, allow_negative: bool = False) -> Decimal:
    """'125', '125.5', '125.50' -> Decimal; '12.345', 'abc', '-1' (unless allowed) -> InvalidInput."""
    raw = str(text).strip().replace(",", "")
    if raw.startswith("$"):
        raw = raw[1:]
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InvalidInput(f"{field} {text!r} is not an amount (e.g. 125.00)") from None
    if not value.is_finite():
        raise InvalidInput(f"{field} {text!r} is not an amount (e.g. 125.00)")
    if value != value.quantize(CENT):
        raise InvalidInput(f"{field} {text!r} has more than two decimal places")
    if value < 0 and not allow_negative:
        raise InvalidInput(f"{field} {text!r} must not be negative")
    if value == 0 and not allow_zero:
        raise InvalidInput(f"{field} {text!r} must be more than zero")
    return value.quantize(CENT)


def dec(value) -> Decimal:
    """A stored money string (or number) as a Decimal."""
    return Decimal(str(value or "0")).quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(value) -> str:
    """Two decimal places, as stored and printed: '125.00'."""
    return str(dec(value))


def total(values) -> str:
    return fmt(sum((dec(v) for v in values), Decimal("0")))
