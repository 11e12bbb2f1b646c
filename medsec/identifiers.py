"""Checks for identifiers people type: NPI, tax id, ZIP, state, phone, email."""

import re

from medsec.errors import InvalidInput
from medsec.text import shown

# The two-letter codes USPS delivers to: the 50 states and DC, the inhabited
# territories (PR, VI, GU, AS, MP) and the military post offices (AA, AE, AP:
# Armed Forces Americas, Europe, Pacific). The freely associated states (FM,
# MH, PW) are left out: their mail is international for a US clinic's payers.
US_STATES = frozenset({
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY",
    "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND",
    "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
    "DC",
    "PR", "VI", "GU", "AS", "MP",
    "AA", "AE", "AP",
})


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


def state_valid(value: str) -> bool:
    """A USPS state, territory or military code (upper case)."""
    return value in US_STATES


# Where an extension starts in a phone number as stored ("617-555-0100 ext. 12")
# or as people write it ("x12", ";ext=12", "#12"): the digits after it are not dialled.
_EXTENSION = r"\s*(?:;\s*ext=|ext\b|extension\b|x|#)"


def _nanp_digits(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits


def phone_digits(value: str) -> str:
    """The digits of a North American number, without a leading 1 or an extension."""
    return _nanp_digits(re.split(_EXTENSION, str(value), maxsplit=1, flags=re.IGNORECASE)[0])


def phone_valid(value: str) -> bool:
    """A plausible NANP number and nothing else (no extension): 10 digits,
    area code and exchange not 0/1-led."""
    d = _nanp_digits(str(value))
    return len(d) == 10 and d[0] in "23456789" and d[3] in "23456789"


def format_phone(value: str) -> str:
    d = phone_digits(value)
    return f"{d[:3]}-{d[3:6]}-{d[6:]}" if len(d) == 10 else str(value)


# "617-555-0100", "(617) 555-0100", "617.555.0100", "6175550100", "+1 617 555 0100"
# (no extension): a ten-digit North American number in one of its usual layouts.
_PLAIN_NANP = re.compile(r"(?:\+?1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-]?)\d{3}[ .-]?\d{4}")


def parse_phone(value: str, field: str = "phone", region: str = "US") -> str:
    """A phone number people typed, normalised, or InvalidInput naming `field`.

    The whole value must be one number, optionally with an extension
    ("617-555-0100 ext 12", "x12", ";ext=12"); any other text is refused.
    North American numbers keep the layout records have always had
    ("617-555-0100", with an extension "617-555-0100 ext. 12"); others are
    stored in international form ("+44 20 7946 0958").
    """
    text = str(value).strip()
    if _PLAIN_NANP.fullmatch(text) and phone_valid(text):
        # The everyday shapes phonenumbers would read alike (tests hold the
        # two to the same answers): importing it and compiling its matcher
        # costs ~25 ms of every `patient add`.
        return format_phone(text)
    import phonenumbers

    found = next(iter(phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE)),
                 None)
    if found is None or (found.start, found.end) != (0, len(text)):
        raise InvalidInput(f"{field}: {shown(value)} is not a phone number (e.g. 617-555-0100, "
                           f"617-555-0100 ext 12)")
    number = found.number
    national = str(number.national_number)
    if number.country_code == 1 and phone_valid(national):
        formatted = format_phone(national)
    elif number.country_code != 1 and phonenumbers.is_valid_number(number):
        formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    else:
        raise InvalidInput(f"{field}: {shown(value)} is not a valid phone number")
    return f"{formatted} ext. {number.extension}" if number.extension else formatted


def email_valid(value: str) -> bool:
    """A plausible email address: one @, no spaces, a dot in the domain."""
    return bool(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", str(value)))
