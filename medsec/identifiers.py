"""Checks for identifiers people type: NPI, tax id, ZIP, phone, email."""

import re


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def npi_valid(npi: str) -> bool:
    """10 digits whose Luhn check over '80840' + NPI holds (CMS's NPI rule)."""
    s = str(npi)
    return len(s) == 10 and s.isdigit() and luhn_ok("80840" + s)


def npi_with_check_digit(first9: str) -> str:
    """Complete a 9-digit NPI stem with its check digit (synthetic data)."""
    for d in "0123456789":
        if npi_valid(first9 + d):
            return first9 + d
    raise ValueError(first9)


def tax_id_valid(value: str) -> bool:
    return bool(re.fullmatch(r"\d{2}-?\d{7}", str(value)))


def zip_valid(value: str) -> bool:
    return bool(re.fullmatch(r"\d{5}(-?\d{4})?", str(value)))


def phone_digits(value: str) -> str:
    """The digits of a North American number, without a leading 1."""
    digits = re.sub(r"\D", "", str(value))
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits


def phone_valid(value: str) -> bool:
    """A plausible NANP number: 10 digits, area code and exchange not 0/1-led."""
    d = phone_digits(value)
    return len(d) == 10 and d[0] in "23456789" and d[3] in "23456789"


def format_phone(value: str) -> str:
    d = phone_digits(value)
    return f"{d[:3]}-{d[3:6]}-{d[6:]}" if len(d) == 10 else str(value)


def email_valid(value: str) -> bool:
    """A plausible email address: one @, no spaces, a dot in the domain."""
    return bool(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", str(value)))
