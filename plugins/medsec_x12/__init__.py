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

- edi formats ``x12-270`` (written by ``medsec elig check``) and ``x12-271``
  (read by ``elig import`` / ``clearinghouse import``), 005010X279A1.

Standard library only; see docs/claim-model.md for the dicts exchanged.
"""

from medsec import hookimpl
from medsec.plugin_types import ClaimFormat, EdiFormat, RemittanceFormat, lazy

# Imported on first use: every medsec command loads the plugins, few touch X12.
write = lazy("medsec_x12.claim837:write")
validate = lazy("medsec_x12.checks837:validate")
detect = lazy("medsec_x12.remit835:detect")
read = lazy("medsec_x12.remit835:read")
write_270 = lazy("medsec_x12.elig270:write")
detect_271 = lazy("medsec_x12.elig271:detect")
read_271 = lazy("medsec_x12.elig271:read")
detect_999, read_999 = lazy("medsec_x12.ack999:detect"), lazy("medsec_x12.ack999:read")
detect_277ca, read_277ca = lazy("medsec_x12.ack277ca:detect"), lazy("medsec_x12.ack277ca:read")
write_276 = lazy("medsec_x12.status276:write")
detect_277, read_277 = lazy("medsec_x12.status277:detect"), lazy("medsec_x12.status277:read")


@hookimpl
def register_claim_formats(register):
    register(ClaimFormat("x12-837p", "X12 5010 837P professional claim (005010X222A1)", write, validate))


@hookimpl
def register_remittance_formats(register):
    register(RemittanceFormat("x12-835", "X12 5010 835 remittance advice (005010X221A1)", detect, read))


@hookimpl
def register_edi_formats(register):
    register(EdiFormat("x12-270", "270", "X12 5010 270 eligibility inquiry (005010X279A1)", write=write_270))
    register(EdiFormat("x12-271", "271", "X12 5010 271 eligibility response (005010X279A1)", detect=detect_271,
                       read=read_271))
    register(EdiFormat("x12-999", "999", "X12 5010 999 implementation acknowledgment (005010X231A1)",
                       detect=detect_999, read=read_999))
    register(EdiFormat("x12-277ca", "277CA", "X12 5010 277CA claim acknowledgment (005010X214)",
                       detect=detect_277ca, read=read_277ca))
    register(EdiFormat("x12-276", "276", "X12 5010 276 claim status request (005010X212)", write=write_276))
    register(EdiFormat("x12-277", "277", "X12 5010 277 claim status response (005010X212)", detect=detect_277,
                       read=read_277))
