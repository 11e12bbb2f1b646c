"""HL7 v2.5.1 ORM^O01 order messages for lab orders (the order a lab's interface receives).

One message per order: MSH, PID, PV1, then for each test an ORC (NW, the placer number is the
order's LB id) and an OBR (the test as LOINC^name^LN, or local text with no code) followed by the
order's note (NTE, comment source P: the placer) and a DG1 per diagnosis (I10). The ordering
provider (NPI^family^given) is in ORC-12 and OBR-16.
Every value is escaped (HL7 v2 chapter 2.7): the separators | ^ & ~ and the escape character.
"""

from datetime import datetime

ENCODING = "^~\\&"
VERSION = "2.5.1"
_ESCAPES = {"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "&": "\\T\\", "~": "\\R\\"}


def escape(value) -> str:
    """`value` as HL7 text: separators escaped, line breaks as \\.br\\."""
    text = "".join(_ESCAPES.get(ch, ch) for ch in str(value if value is not None else ""))
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\.br\\")


def _components(*parts) -> str:
    return "^".join(escape(p) for p in parts).rstrip("^")


def _segment(name: str, *fields: str) -> str:
    return "|".join((name, *fields)).rstrip("|")


def _stamp(when: datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S%z")


def _name_parts(name: str) -> tuple[str, str]:
    """(family, given) of a staff name such as "Dr Ann Lee" or "Lee, Ann"."""
    if "," in name:
        family, _, given = name.partition(",")
        return family.strip(), given.strip()
    words = [w for w in name.split() if w.rstrip(".").lower() not in ("dr", "md", "do")]
    if not words:
        return name.strip(), ""
    return words[-1], " ".join(words[:-1])


def provider(member: dict) -> str:
    """XCN of the ordering provider: NPI^family^given."""
    family, given = _name_parts(str(member.get("name") or member.get("id") or ""))
    return _components(member.get("npi") or member.get("id", ""), family, given)


def _pid(patient: dict) -> str:
    dob = str(patient.get("dob") or "").replace("-", "")
    address = _components(patient.get("address", ""), "", patient.get("city", ""), patient.get("state", ""),
                          patient.get("zip", ""))
    sex = {"F": "F", "M": "M", "X": "O"}.get(str(patient.get("sex") or "U"), "U")  # HL7 table 0001
    return _segment("PID", "1", "", _components(patient["id"], "", "", "MEDSEC", "MR"), "",
                    _components(patient.get("last", ""), patient.get("first", "")), "", dob, sex, "", "",
                    address, "", escape(patient.get("phone", "")))


def _obr(number: int, order: dict, test: dict, ordered: str, ordering: str) -> str:
    code = _components(test["loinc"], test["name"], "LN") if test.get("loinc") else _components("", test["name"])
    fields = [str(number), escape(order["id"]), "", code] + [""] * 11 + [ordering]
    if order.get("fasting"):
        fields[12] = "Patient fasting"  # OBR-13, relevant clinical information
    return _segment("OBR", *fields[:6], ordered, *fields[7:])


def _dg1(number: int, dx: dict) -> str:
    return _segment("DG1", str(number), "", _components(dx["code"], dx.get("description", ""), "I10"), "", "", "W")


def orm_message(order: dict, patient: dict, physician: dict, *, sender: tuple[str, str],
                receiver: tuple[str, str], control_id: str, now: datetime, production: bool = True) -> str:
    """The ORM^O01 message of `order` (segments joined by CR, a final CR)."""
    ordered = _stamp(datetime.fromisoformat(order["ordered"])) if order.get("ordered") else _stamp(now)
    ordering = provider(physician)
    segments = [
        _segment("MSH", ENCODING, escape(sender[0]), escape(sender[1]), escape(receiver[0]), escape(receiver[1]),
                 _stamp(now), "", "ORM^O01^ORM_O01", escape(control_id), "P" if production else "T", VERSION),
        _pid(patient),
        _segment("PV1", "1", "O"),
    ]
    tests = order.get("tests") or [{"key": "", "loinc": "", "name": order.get("test", "")}]
    for number, test in enumerate(tests, 1):
        segments.append(_segment("ORC", "NW", escape(order["id"]), "", "", "", "", "", "", ordered, "", "",
                                 ordering))
        segments.append(_obr(number, order, test, ordered, ordering))
        if order.get("note"):
            segments.append(_segment("NTE", "1", "P", escape(order["note"])))
        segments += [_dg1(i, dx) for i, dx in enumerate(order.get("diagnoses") or [], 1)]
    return "\r".join(segments) + "\r"
