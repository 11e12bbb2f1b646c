"""A small bundled table of common lab tests with their LOINC codes, for `lab order --test`.

Only codes checked against LOINC's own names are listed; any other test is ordered as free
text, with no code (an HL7 order then sends it as local text, without the LN coding system).
A test is named by its key (LIPID), its LOINC code (57698-3) or its short name, in any case.
"""

from typing import NamedTuple


class LabTest(NamedTuple):
    key: str
    loinc: str
    name: str  # what the office calls it
    long_name: str  # LOINC's long common name


TESTS = [
    LabTest("LIPID", "57698-3", "Lipid panel", "Lipid panel with direct LDL - Serum or Plasma"),
    LabTest("CBC", "58410-2", "CBC", "CBC panel - Blood by Automated count"),
    LabTest("CMP", "24323-8", "Comprehensive metabolic panel", "Comprehensive metabolic 2000 panel - Serum or Plasma"),
    LabTest("BMP", "24321-2", "Basic metabolic panel", "Basic metabolic 2000 panel - Serum or Plasma"),
    LabTest("HEPATIC", "24325-3", "Hepatic function panel", "Hepatic function 2000 panel - Serum or Plasma"),
    LabTest("A1C", "4548-4", "Hemoglobin A1c", "Hemoglobin A1c/Hemoglobin.total in Blood"),
    LabTest("TSH", "3016-3", "TSH", "Thyrotropin [Units/volume] in Serum or Plasma"),
    LabTest("FT4", "3024-7", "Free T4", "Thyroxine (T4) free [Mass/volume] in Serum or Plasma"),
    LabTest("UA", "24356-8", "Urinalysis", "Urinalysis complete panel - Urine"),
    LabTest("URINE-CULTURE", "630-4", "Urine culture", "Bacteria identified in Urine by Culture"),
    LabTest("PSA", "2857-1", "PSA", "Prostate specific Ag [Mass/volume] in Serum or Plasma"),
    LabTest("GLUCOSE", "2345-7", "Glucose", "Glucose [Mass/volume] in Serum or Plasma"),
    LabTest("CREATININE", "2160-0", "Creatinine", "Creatinine [Mass/volume] in Serum or Plasma"),
    LabTest("FERRITIN", "2276-4", "Ferritin", "Ferritin [Mass/volume] in Serum or Plasma"),
]
_BY_NAME = {n.casefold(): t for t in TESTS for n in (t.key, t.loinc, t.name)}


def find(text: str) -> LabTest | None:
    """The bundled test named by `text` (key, LOINC code or short name), else None."""
    return _BY_NAME.get(text.strip().casefold())


def entry(text: str) -> dict:
    """A test as an order keeps it: {key, loinc, name}; free text keeps key and loinc empty."""
    found = find(text)
    if found is None:
        return {"key": "", "loinc": "", "name": text.strip()}
    return {"key": found.key, "loinc": found.loinc, "name": found.name}
