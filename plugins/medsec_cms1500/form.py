"""The CMS-1500 (02/12) layout and its PDF renderer.

Positions are on the form's print grid: 10 characters per inch across
(column 1 at 0.25 in from the left edge) and 6 lines per inch down (line 1
at the top edge), the grid the form was designed for; data are printed in
12-point Courier, exactly one column wide per character. Values follow the
NUCC 1500 Claim Form Reference Instruction Manual: capital letters, no
punctuation in dates (``MM DD YYYY``, service dates ``MM DD YY``), amounts
with a space for the decimal point, diagnosis codes without their dot,
names as ``LAST, FIRST``.
"""

import unicodedata
from decimal import Decimal

LEFT = 0.25  # inches from the page's left edge to column 1
LINE = 1 / 6  # inches per line
BASELINE = 0.035  # inches from a line's bottom up to the text's baseline
DATA_FONT = ("Courier", 12)  # 0.1 in per character: one grid column
LABEL_FONT = ("Helvetica", 4.5)
LINES_PER_FORM = 6
MAX_DIAGNOSES = 12
MAX_MODIFIERS = 4
MAX_POINTERS = 4
MAX_LINE_AMOUNT = Decimal("99999.99")
MAX_TOTAL = Decimal("999999.99")

# Item 1: the column of each insurance type's check box.
INSURANCE_TYPES = {"medicare": 1, "medicaid": 8, "tricare": 15, "champva": 24, "group": 31,
                   "feca": 39, "other": 45}
# Item 6: the column of each relationship's check box.
RELATIONSHIPS = {"self": 33, "spouse": 38, "child": 42, "other": 47}

# The boxes: (label, top line, bottom line, first column, last column). The
# label is printed small in the box's top-left corner; draw_form outlines it.
BOXES = [
    ("CARRIER: NAME AND ADDRESS", 1, 5, 41, 80),
    ("1. MEDICARE  MEDICAID  TRICARE  CHAMPVA  GROUP HEALTH PLAN  FECA BLK LUNG  OTHER", 7, 8, 1, 48),
    ("1a. INSURED'S I.D. NUMBER", 7, 8, 49, 80),
    ("2. PATIENT'S NAME (Last Name, First Name, Middle Initial)", 9, 10, 1, 29),
    ("3. PATIENT'S BIRTH DATE  MM DD YY   SEX M / F", 9, 10, 30, 48),
    ("4. INSURED'S NAME (Last Name, First Name, Middle Initial)", 9, 10, 49, 80),
    ("5. PATIENT'S ADDRESS (No., Street) / CITY / STATE / ZIP CODE", 11, 16, 1, 29),
    ("6. PATIENT RELATIONSHIP TO INSURED", 11, 12, 30, 48),
    ("7. INSURED'S ADDRESS (No., Street) / CITY / STATE / ZIP CODE", 11, 16, 49, 80),
    ("8. RESERVED FOR NUCC USE", 13, 16, 30, 48),
    ("9. OTHER INSURED'S NAME", 17, 18, 1, 29),
    ("9a. OTHER INSURED'S POLICY OR GROUP NUMBER", 19, 20, 1, 29),
    ("9b. RESERVED FOR NUCC USE", 21, 22, 1, 29),
    ("9c. RESERVED FOR NUCC USE", 23, 24, 1, 29),
    ("9d. INSURANCE PLAN NAME OR PROGRAM NAME", 25, 26, 1, 29),
    ("10. IS PATIENT'S CONDITION RELATED TO:", 17, 18, 30, 48),
    ("10a. EMPLOYMENT? (Current or Previous)  YES  NO", 19, 20, 30, 48),
    ("10b. AUTO ACCIDENT? YES NO  PLACE (State)", 21, 22, 30, 48),
    ("10c. OTHER ACCIDENT? YES NO", 23, 24, 30, 48),
    ("10d. CLAIM CODES (Designated by NUCC)", 25, 26, 30, 48),
    ("11. INSURED'S POLICY GROUP OR FECA NUMBER", 17, 18, 49, 80),
    ("11a. INSURED'S DATE OF BIRTH  MM DD YY   SEX M / F", 19, 20, 49, 80),
    ("11b. OTHER CLAIM ID (Designated by NUCC)", 21, 22, 49, 80),
    ("11c. INSURANCE PLAN NAME OR PROGRAM NAME", 23, 24, 49, 80),
    ("11d. IS THERE ANOTHER HEALTH BENEFIT PLAN?  YES  NO", 25, 26, 49, 80),
    ("12. PATIENT'S OR AUTHORIZED PERSON'S SIGNATURE", 27, 29, 1, 48),
    ("13. INSURED'S OR AUTHORIZED PERSON'S SIGNATURE", 27, 29, 49, 80),
    ("14. DATE OF CURRENT ILLNESS, INJURY, OR PREGNANCY (LMP)", 31, 32, 1, 29),
    ("15. OTHER DATE", 31, 32, 30, 48),
    ("16. DATES PATIENT UNABLE TO WORK IN CURRENT OCCUPATION", 31, 32, 49, 80),
    ("17. NAME OF REFERRING PROVIDER OR OTHER SOURCE", 33, 34, 1, 29),
    ("17a.      17b. NPI", 33, 34, 30, 48),
    ("18. HOSPITALIZATION DATES RELATED TO CURRENT SERVICES", 33, 34, 49, 80),
    ("19. ADDITIONAL CLAIM INFORMATION (Designated by NUCC)", 35, 36, 1, 48),
    ("20. OUTSIDE LAB?  YES  NO   $ CHARGES", 35, 36, 49, 80),
    ("21. DIAGNOSIS OR NATURE OF ILLNESS OR INJURY  Relate A-L to service line below (24E)", 37, 40, 1, 48),
    ("22. RESUBMISSION CODE   ORIGINAL REF. NO.", 37, 38, 49, 80),
    ("23. PRIOR AUTHORIZATION NUMBER", 39, 40, 49, 80),
    ("24. A. DATE(S) OF SERVICE  From MM DD YY  To MM DD YY", 41, 42, 1, 18),
    ("B. POS", 41, 42, 19, 21),
    ("C. EMG", 41, 42, 22, 24),
    ("D. PROCEDURES: CPT/HCPCS    MODIFIER", 41, 42, 25, 44),
    ("E. DX PTR", 41, 42, 45, 49),
    ("F. $ CHARGES", 41, 42, 50, 58),
    ("G. UNITS", 41, 42, 59, 62),
    ("H.", 41, 42, 63, 64),
    ("I. QUAL", 41, 42, 65, 67),
    ("J. RENDERING PROVIDER ID. #", 41, 42, 68, 80),
    ("25. FEDERAL TAX I.D. NUMBER  SSN EIN", 55, 56, 1, 21),
    ("26. PATIENT'S ACCOUNT NO.", 55, 56, 22, 36),
    ("27. ACCEPT ASSIGNMENT?  YES  NO", 55, 56, 37, 49),
    ("28. TOTAL CHARGE", 55, 56, 50, 60),
    ("29. AMOUNT PAID", 55, 56, 61, 70),
    ("30. Rsvd for NUCC Use", 55, 56, 71, 80),
    ("31. SIGNATURE OF PHYSICIAN OR SUPPLIER", 57, 61, 1, 21),
    ("32. SERVICE FACILITY LOCATION INFORMATION", 57, 61, 22, 48),
    ("33. BILLING PROVIDER INFO & PH #", 57, 61, 49, 80),
]
# Smaller labels inside boxes: (line, column, text).
SUBLABELS = [(37, 38, "ICD Ind."), (61, 22, "a."), (61, 49, "a."), (61, 62, "b.")]


def clean(value) -> str:
    """Form text: capitals, accents removed, Latin-1 only, one line."""
    text = unicodedata.normalize("NFKD", str(value or ""))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).upper()
    return " ".join(text.encode("latin-1", "replace").decode("latin-1").split())


def name(person: dict | None) -> str:
    """'LAST, FIRST' (NUCC: last name, first name, middle initial, commas between)."""
    if not person:
        return ""
    return ", ".join(p for p in (clean(person.get("last")), clean(person.get("first"))) if p)


def date8(iso: str) -> tuple[str, str, str]:
    """'1980-02-03' -> ('02', '03', '1980')."""
    if not iso or len(iso) < 10:
        return "", "", ""
    return iso[5:7], iso[8:10], iso[0:4]


def money(amount) -> tuple[str, str]:
    """'125.00' -> ('125', '00'): dollars and cents, printed either side of the form's rule."""
    value = Decimal(str(amount or "0")).quantize(Decimal("0.01"))
    dollars, _, cents = f"{value:f}".partition(".")
    return dollars, cents


def zip_code(text: str) -> str:
    """'021151234' -> '02115-1234'; a 5-digit ZIP as it is."""
    digits = clean(text).replace("-", "")
    return f"{digits[:5]}-{digits[5:]}" if len(digits) == 9 and digits.isdigit() else clean(text)


def phone(text: str) -> tuple[str, str]:
    """'6175550100' -> ('617', '5550100') for the (area code) and number fields."""
    digits = "".join(ch for ch in str(text or "") if ch.isdigit())
    return (digits[:3], digits[3:]) if len(digits) == 10 else ("", digits)


def city_line(address: dict) -> str:
    return " ".join(p for p in (clean(address.get("city")), clean(address.get("state")),
                                zip_code(address.get("zip", ""))) if p)


def insurance_type(payer: dict) -> str:
    """Item 1's box: the payer's `insurance_type`, else guessed from its name, else other."""
    explicit = str(payer.get("insurance_type") or "").lower()
    if explicit in INSURANCE_TYPES:
        return explicit
    payer_name = clean(payer.get("name"))
    for kind in ("medicare", "medicaid", "tricare", "champva"):
        if kind.upper() in payer_name:
            return kind
    return "other"


def letters(pointers) -> str:
    """[1, 2] -> 'AB' (item 24E points at item 21's lines by letter)."""
    return "".join(chr(64 + int(p)) for p in pointers if 1 <= int(p) <= MAX_DIAGNOSES)


# -- what the form cannot carry -------------------------------------------------
def problems(claim: dict) -> list[str]:
    """Everything in `claim` that does not fit the CMS-1500, each naming its field."""
    found = []
    diagnoses = claim.get("diagnoses") or []
    if len(diagnoses) > MAX_DIAGNOSES:
        found.append(f"diagnoses: {len(diagnoses)} codes, item 21 holds {MAX_DIAGNOSES} (A-L)")
    if not claim.get("lines"):
        found.append("lines: no service lines to print in item 24")
    for line in claim.get("lines") or []:
        found += _line_problems(line)
    if Decimal(str(claim.get("total") or "0")) > MAX_TOTAL:
        found.append(f"total {claim['total']}: item 28 holds at most {MAX_TOTAL}")
    member = str((claim.get("subscriber") or {}).get("member_id") or "")
    if len(member) > 29:
        found.append(f"subscriber.member_id: {len(member)} characters, item 1a holds 29")
    if len(str(claim.get("id") or "")) > 14:
        found.append("id: item 26 (patient's account no.) holds 14 characters")
    return found


def _line_problems(line: dict) -> list[str]:
    where = f"lines[{line.get('line')}]"
    found = []
    modifiers = line.get("modifiers") or []
    if len(modifiers) > MAX_MODIFIERS:
        found.append(f"{where}.modifiers: {len(modifiers)}, item 24D holds {MAX_MODIFIERS}")
    pointers = line.get("dx_pointers") or []
    if len(pointers) > MAX_POINTERS:
        found.append(f"{where}.dx_pointers: {len(pointers)}, item 24E holds {MAX_POINTERS}")
    beyond = [p for p in pointers if int(p) > MAX_DIAGNOSES]
    if beyond:
        found.append(f"{where}.dx_pointers: {beyond[0]} has no letter in item 24E (A-L)")
    if len(str(line.get("code") or "")) > 6:
        found.append(f"{where}.code {line.get('code')}: item 24D holds 6 characters")
    if Decimal(str(line.get("amount") or "0")) > MAX_LINE_AMOUNT:
        found.append(f"{where}.amount {line.get('amount')}: item 24F holds at most {MAX_LINE_AMOUNT}")
    if len(str(line.get("units") or "")) > 3:
        found.append(f"{where}.units {line.get('units')}: item 24G holds 3 digits")
    return found


# -- rendering ------------------------------------------------------------------
class Sheet:
    """One PDF; puts text and boxes on the form's grid."""

    def __init__(self, options: dict):
        from fpdf import FPDF  # ~180 ms to import: only writing a form pays for it

        self.pdf = FPDF(unit="in", format="letter")
        self.pdf.set_auto_page_break(False)
        self.pdf.set_margins(0, 0, 0)
        self.pdf.set_creator("medsec cms1500")
        self.pdf.set_title("CMS-1500 claims")
        self.dx = float(options.get("offset_x") or 0)
        self.dy = float(options.get("offset_y") or 0)
        self.draw_form = bool(options.get("draw_form"))

    def x(self, col: float) -> float:
        return LEFT + (col - 1) * 0.1 + self.dx

    def y(self, line: float) -> float:
        """The baseline of `line`."""
        return line * LINE - BASELINE + self.dy

    def put(self, line: int, col: int, width: int, value) -> None:
        """Data: `value` cleaned and cut to `width` characters at (line, col)."""
        text = clean(value)[:width]
        if text:
            self.pdf.set_font(DATA_FONT[0], size=DATA_FONT[1])
            self.pdf.set_text_color(0)
            self.pdf.text(self.x(col), self.y(line), text)

    def right(self, line: int, col: int, width: int, value) -> None:
        """Data right-aligned in `width` columns (amounts)."""
        text = clean(value)[-width:] if value else ""
        self.put(line, col + width - len(text), width, text)

    def check(self, line: int, col: int) -> None:
        self.put(line, col, 1, "X")

    def label(self, line: int, col: int, text: str) -> None:
        """A field's name, small and grey, at the top of its line."""
        self.pdf.set_font(LABEL_FONT[0], size=LABEL_FONT[1])
        self.pdf.set_text_color(110)
        self.pdf.text(self.x(col) - 0.03, (line - 1) * LINE + 0.075 + self.dy, text)

    def side_label(self, line: int, col: int, text: str) -> None:
        """A small mark on a data line, left of column `col` (item 21's letters, line numbers)."""
        self.pdf.set_font(LABEL_FONT[0], size=LABEL_FONT[1])
        self.pdf.set_text_color(110)
        self.pdf.text(self.x(col) - 0.12, self.y(line), text)

    def box(self, top: int, bottom: int, first: int, last: int) -> None:
        self.pdf.set_draw_color(150)
        self.pdf.set_line_width(0.005)
        left, right = self.x(first) - 0.04, self.x(last + 1) - 0.04
        self.pdf.rect(left, (top - 1) * LINE + self.dy, right - left, (bottom - top + 1) * LINE)

    def form(self) -> None:
        """A new page with the field labels (and outlines when draw_form)."""
        self.pdf.add_page()
        for text, top, bottom, first, last in BOXES:
            self.label(top, first, text)
            if self.draw_form:
                self.box(top, bottom, first, last)
        for line, col, text in SUBLABELS:
            self.label(line, col, text)
        for n in range(1, LINES_PER_FORM + 1):
            self.side_label(44 + 2 * (n - 1), 1, str(n))
            if self.draw_form:
                self.box(43 + 2 * (n - 1), 44 + 2 * (n - 1), 1, 80)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def render(claims: list[dict], options: dict) -> bytes:
    """The PDF of `claims`: a form per claim and per six service lines."""
    sheet = Sheet(options)
    signed = _signature_date(options)
    for claim in claims:
        lines = claim.get("lines") or []
        pages = [lines[i:i + LINES_PER_FORM] for i in range(0, len(lines), LINES_PER_FORM)] or [[]]
        for number, page_lines in enumerate(pages, 1):
            sheet.form()
            if len(pages) > 1:
                sheet.put(1, 1, 20, f"PAGE {number} OF {len(pages)}")
            fill_header(sheet, claim)
            fill_lines(sheet, claim, page_lines)
            fill_footer(sheet, claim, last=number == len(pages), signed=signed)
    return sheet.output()


def _signature_date(options: dict) -> str:
    now = options.get("now")
    return now.strftime("%m %d %y") if now is not None else ""


def fill_header(sheet: Sheet, claim: dict) -> None:
    """Carrier block and items 1-23."""
    payer, sub, pat = claim.get("payer") or {}, claim.get("subscriber") or {}, claim.get("patient") or {}
    address = payer.get("address") or {}
    sheet.put(2, 41, 38, payer.get("name"))
    sheet.put(3, 41, 38, address.get("street"))
    sheet.put(4, 41, 38, city_line(address))
    sheet.check(8, INSURANCE_TYPES[insurance_type(payer)])
    sheet.put(8, 50, 29, sub.get("member_id"))
    fill_people(sheet, pat, sub)
    fill_other_insurance(sheet, claim)
    sheet.put(29, 7, 17, "SIGNATURE ON FILE")
    sheet.put(29, 55, 17, "SIGNATURE ON FILE")
    referring = claim.get("referring_provider")
    if referring:
        sheet.put(34, 1, 2, "DN")
        sheet.put(34, 4, 25, name(referring))
        sheet.put(34, 33, 10, referring.get("npi"))
    sheet.check(36, 57)  # 20: outside lab NO
    fill_diagnoses(sheet, claim.get("diagnoses") or [])
    if str(claim.get("frequency") or "1") in ("7", "8"):
        sheet.put(38, 50, 11, claim["frequency"])
        sheet.put(38, 62, 18, claim.get("original_reference"))


def fill_people(sheet: Sheet, pat: dict, sub: dict) -> None:
    """Items 2-7 and 11a: patient and insured, names, birth dates, sexes, addresses."""
    sheet.put(10, 1, 28, name(pat))
    _birth(sheet, 10, 31, pat.get("dob"))
    if pat.get("sex") in ("M", "F"):
        sheet.check(10, 42 if pat["sex"] == "M" else 47)
    sheet.put(10, 50, 29, name(sub))
    for col, person in ((1, pat), (50, sub)):
        address = person.get("address") or {}
        sheet.put(12, col, 28, address.get("street"))
        sheet.put(14, col, 23, address.get("city"))
        sheet.put(14, col + 24, 3, address.get("state"))
        sheet.put(16, col, 12, zip_code(address.get("zip", "")))
    sheet.check(12, RELATIONSHIPS.get(str(sub.get("relationship") or "self"), RELATIONSHIPS["other"]))
    sheet.put(18, 50, 29, sub.get("group"))
    _birth(sheet, 20, 53, sub.get("dob"))
    if sub.get("sex") in ("M", "F"):
        sheet.check(20, 68 if sub["sex"] == "M" else 75)


def _birth(sheet: Sheet, line: int, col: int, iso: str) -> None:
    month, day, year = date8(iso or "")
    sheet.put(line, col, 2, month)
    sheet.put(line, col + 3, 2, day)
    sheet.put(line, col + 6, 4, year)


def fill_other_insurance(sheet: Sheet, claim: dict) -> None:
    """Items 9, 10a-c and 11c-d: other coverage (from earlier payers) and accident questions."""
    prior = (claim.get("prior_payers") or [None])[0]
    if prior:
        other = prior.get("subscriber") or {}
        sheet.put(18, 1, 28, name(other))
        sheet.put(20, 1, 28, other.get("member_id") or other.get("group"))
        sheet.put(26, 1, 28, (prior.get("payer") or {}).get("name"))
    for line in (20, 22, 24):
        sheet.check(line, 41)  # 10a-c: NO
    sheet.put(24, 50, 29, (claim.get("payer") or {}).get("name"))
    sheet.check(26, 52 if prior or claim.get("rank", "primary") != "primary" else 57)


def fill_diagnoses(sheet: Sheet, diagnoses: list[str]) -> None:
    """Item 21: the ICD indicator (0 = ICD-10-CM) and up to 12 codes A-L, four to a line."""
    sheet.put(37, 42, 1, "0")
    for i, code in enumerate(diagnoses[:MAX_DIAGNOSES]):
        line, col = 38 + i // 4, 3 + 13 * (i % 4)
        sheet.side_label(line, col, f"{chr(65 + i)}.")
        sheet.put(line, col, 8, str(code).replace(".", ""))


def fill_lines(sheet: Sheet, claim: dict, lines: list[dict]) -> None:
    """Item 24: up to six service lines, each on the unshaded half of its row."""
    npi = (claim.get("rendering_provider") or {}).get("npi")
    for i, line in enumerate(lines):
        row = 44 + 2 * i
        month, day, year = date8(line.get("date", ""))
        for col in (1, 10):  # from and to: one date of service
            sheet.put(row, col, 2, month)
            sheet.put(row, col + 3, 2, day)
            sheet.put(row, col + 6, 2, year[2:])
        sheet.put(row, 19, 2, line.get("place_of_service") or claim.get("place_of_service"))
        sheet.put(row, 25, 6, line.get("code"))
        sheet.put(row, 33, 11, " ".join(str(m) for m in (line.get("modifiers") or [])[:MAX_MODIFIERS]))
        sheet.put(row, 45, 4, letters((line.get("dx_pointers") or [])[:MAX_POINTERS]))
        dollars, cents = money(line.get("amount"))
        sheet.right(row, 50, 6, dollars)
        sheet.put(row, 57, 2, cents)
        sheet.right(row, 59, 3, line.get("units") or 1)
        sheet.put(row, 68, 10, npi)


def fill_footer(sheet: Sheet, claim: dict, last: bool, signed: str) -> None:
    """Items 25-33: tax id, account number, totals, signature, facility and billing provider."""
    bp = claim.get("billing_provider") or {}
    sheet.put(56, 1, 15, bp.get("tax_id"))
    sheet.check(56, 19)  # EIN
    sheet.put(56, 23, 14, claim.get("id"))
    sheet.check(56, 38)  # 27: accept assignment YES
    if last:
        dollars, cents = money(claim.get("total"))
        sheet.right(56, 52, 6, dollars)
        sheet.put(56, 59, 2, cents)
        paid = sum((Decimal(str(p.get("paid") or "0")) for p in claim.get("prior_payers") or []), Decimal(0))
        if paid:
            dollars, cents = money(paid)
            sheet.right(56, 62, 5, dollars)
            sheet.put(56, 68, 2, cents)
    else:
        sheet.put(56, 52, 9, "CONTINUED")
    area, number = phone(bp.get("phone"))
    sheet.put(57, 66, 3, area)
    sheet.put(57, 70, 8, f"{number[:3]}-{number[3:]}" if len(number) == 7 else number)
    rp = claim.get("rendering_provider") or {}
    sheet.put(60, 1, 21, " ".join(p for p in (clean(rp.get("first")), clean(rp.get("last"))) if p))
    sheet.put(61, 6, 10, signed)
    address = bp.get("address") or {}
    for col, width in ((23, 26), (50, 29)):  # 32: the office; 33: the billing provider
        sheet.put(58, col, width, bp.get("name"))
        sheet.put(59, col, width, address.get("street"))
        sheet.put(60, col, width, city_line(address))
    sheet.put(61, 23, 10, bp.get("npi"))
    sheet.put(61, 50, 10, bp.get("npi"))
    if bp.get("taxonomy"):
        sheet.put(61, 63, 2, "ZZ")
        sheet.put(61, 65, 14, bp.get("taxonomy"))
