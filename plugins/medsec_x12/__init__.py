"""Bundled plugin: X12 5010 electronic claims (837P out) and remittances (835 in).

- claim format ``x12-837p`` (005010X222A1): ``medsec claim export C12 --format
  x12-837p -o claims.837`` writes one interchange (ISA/GS, one ST/SE per 5000
  claims, GE/IEA) with the billing provider, subscriber and patient loops
  grouped as the TR3 wants them, secondary claims carrying each earlier
  payer's adjudication (2320/2330/2430). ``validate(claim)`` lists what the
  format cannot carry or a receiver would refuse (more than 12 diagnoses or
  50 lines, a billing ZIP without its +4, an amount with 3 decimals, an
  unbalanced secondary claim ...), each naming the claim field.
- remittance format ``x12-835`` (005010X221A1): ``medsec claim post-remit
  remit.835`` reads one payment per ST/SE; delimiters come from the ISA.
  A malformed or unbalanced file is refused with the line (segment number)
  and segment: ``line 12: segment CLP: CLP04 (paid) 'abc' is not a number``.

Standard library only; see docs/claim-model.md for the dicts exchanged.
"""

from medsec import hookimpl
from medsec.plugin_types import ClaimFormat, RemittanceFormat, lazy

# Imported on first use: every medsec command loads the plugins, few touch X12.
write = lazy("medsec_x12.claim837:write")
validate = lazy("medsec_x12.checks837:validate")
detect = lazy("medsec_x12.remit835:detect")
read = lazy("medsec_x12.remit835:read")


@hookimpl
def register_claim_formats(register):
    register(ClaimFormat("x12-837p", "X12 5010 837P professional claim (005010X222A1)", write, validate))


@hookimpl
def register_remittance_formats(register):
    register(RemittanceFormat("x12-835", "X12 5010 835 remittance advice (005010X221A1)", detect, read))
