"""A payer and clearinghouse simulator: reads what medsec sent and writes the answers.

Functions take what was sent (bytes) or claims and return the answer's bytes,
so a test (or the end-to-end walk of issue 18) composes them as it likes:

- `read_837(raw)` -> the interchange's envelope and claims (id, total, patient,
  payer, billing provider, lines), enough to answer them;
- `ack_999(raw_837, reject_sets=())` -> a 999 accepting each transaction set
  (or rejecting those whose ST02 is listed);
- `ack_277ca(raw_837, reject_claims=(), skip_sets=())` -> a 277CA accepting each
  claim (A2) or rejecting those listed (A7), leaving out the claims of the
  transaction sets in `skip_sets` (the ones a 999 rejected);
- `remit_835(claims, trace, paid_share=...)` -> an 835 paying each claim line
  by line, the rest written off as CO-45;
- `answer_271(raw_270)` / `answer_277(raw_276)` -> an eligibility answer
  (active coverage) and a claim status answer (in process) per inquiry.

`PayerSim(outbox, inbox)` watches a server's outbox folder (tests/helpers/sftp.py):
each `step()` answers every file that arrived since the last one (an 837P with
a 999 and a 277CA, a 270 with a 271, a 276 with a 277) and `remit()` writes an
835 for the claims it accepted. The 999, 277CA and 835 pass pyx12
(tests/test_clearinghouse.py judges them).
"""

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

PAYER_ID, PAYER_NAME = "BSHP1", "BAY STATE HEALTH PLAN"
DATE, TIME = "20261206", "0900"


def _segments(raw: bytes) -> tuple[list[list[str]], str, str]:
    """(segments as element lists, element separator, component separator) of an X12 file."""
    text = raw.decode("latin-1").lstrip()
    element, component, terminator = text[3], text[104], text[105]
    segs = [s.strip().split(element) for s in text.split(terminator) if s.strip()]
    return segs, element, component


def read_837(raw: bytes) -> dict:
    """The envelope (sender, receiver, ISA13, GS06, usage) and each claim of an 837P."""
    segs, _, comp = _segments(raw)
    isa, gs = segs[0], segs[1]
    out: dict = {"sender": isa[6].strip(), "receiver": isa[8].strip(), "interchange": isa[13], "usage": isa[15],
                 "group": gs[6], "gs_sender": gs[2], "gs_receiver": gs[3], "sets": [], "claims": []}
    subscriber: dict = {}
    provider: dict = {}
    claim: dict | None = None
    for seg in segs:
        tag = seg[0]
        if tag == "ST":
            out["sets"].append(seg[2])
        elif tag == "NM1" and seg[1] == "85":
            provider = {"name": seg[3], "npi": seg[9]}
        elif tag == "NM1" and seg[1] == "IL":
            subscriber = {"last": seg[3], "first": seg[4], "member_id": seg[9]}
        elif tag == "CLM":
            claim = {"id": seg[1], "total": seg[2], "set": out["sets"][-1], "patient": dict(subscriber),
                     "billing_provider": dict(provider), "lines": []}
            out["claims"].append(claim)
        elif tag == "SV1" and claim is not None:
            code, *modifiers = seg[1].split(comp)[1:]
            claim["lines"].append({"line": len(claim["lines"]) + 1, "code": code, "modifiers": modifiers,
                                   "amount": seg[2], "units": seg[4], "date": ""})
        elif tag == "DTP" and seg[1] == "472" and claim is not None and claim["lines"]:
            day = seg[3][:8]
            claim["lines"][-1]["date"] = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    return out


def _envelope(body: list[str], functional: str, version: str, sender: str, receiver: str, control: int,
              usage: str = "T", st: str = "") -> bytes:
    isa = (f"ISA*00*          *00*          *ZZ*{sender:<15}*ZZ*{receiver:<15}*{DATE[2:]}*{TIME}*^*00501*"
           f"{control:09d}*0*{usage}*:")
    segs = [isa, f"GS*{functional}*{sender}*{receiver}*{DATE}*{TIME}*{control}*X*{version}", st, *body,
            f"SE*{len(body) + 2}*0001", f"GE*1*{control}", f"IEA*1*{control:09d}"]
    return "".join(s + "~\n" for s in segs).encode()


def ack_999(raw_837: bytes, reject_sets: tuple[str, ...] = (), control: int = 9001) -> bytes:
    """A 999 for an 837P: each transaction set accepted, or rejected when its ST02 is in `reject_sets`."""
    sent = read_837(raw_837)
    body = [f"AK1*HC*{sent['group']}*005010X222A1"]
    accepted = 0
    for st02 in sent["sets"]:
        body.append(f"AK2*837*{st02}*005010X222A1")
        if st02 in reject_sets:
            body += ["IK3*CLM*22**8", "IK4*2*1028*7", "IK5*R*5"]  # CLM02 (total): data element error
        else:
            body.append("IK5*A")
            accepted += 1
    count = len(sent["sets"])
    status = "A" if accepted == count else ("R" if accepted == 0 else "P")
    body.append(f"AK9*{status}*{count}*{count}*{accepted}")
    return _envelope(body, "FA", "005010X231A1", sent["receiver"], sent["sender"], control, sent["usage"],
                     "ST*999*0001*005010X231A1")


def ack_277ca(raw_837: bytes, reject_claims: tuple[str, ...] = (), control: int = 9002,
              skip_sets: tuple[str, ...] = ()) -> bytes:
    """A 277CA for an 837P: each claim accepted into adjudication (A2), or rejected (A7) when listed;
    the claims of the transaction sets in `skip_sets` (rejected by the 999) not answered."""
    sent = read_837(raw_837)
    claims = [c for c in sent["claims"] if c["set"] not in skip_sets]
    accepted = [c for c in claims if c["id"] not in reject_claims]
    rejected = [c for c in claims if c["id"] in reject_claims]
    total = sum((Decimal(c["total"]) for c in accepted), Decimal(0))
    body = [f"BHT*0085*08*{sent['interchange']}*{DATE}*{TIME}*TH", "HL*1**20*1",
            f"NM1*PR*2*{PAYER_NAME}*****PI*{PAYER_ID}", f"TRN*1*{sent['interchange']}", f"DTP*050*D8*{DATE}",
            f"DTP*009*D8*{DATE}", "HL*2*1*21*1", f"NM1*41*2*SUBMITTER*****46*{sent['gs_sender']}",
            f"TRN*2*{sent['group']}", f"STC*A1:19*{DATE}*WQ*{total}"]
    refused = sum((Decimal(c["total"]) for c in rejected), Decimal(0))
    body += [f"QTY*90*{len(accepted)}"] if accepted else []
    body += [f"QTY*AA*{len(rejected)}"] if rejected else []
    body += [f"AMT*YU*{total}"] if accepted else []
    body += [f"AMT*YY*{refused}"] if rejected else []
    hl = 2
    for claim in claims:
        provider, patient = claim["billing_provider"], claim["patient"]
        body += [f"HL*{hl + 1}*2*19*1", f"NM1*85*2*{provider['name']}*****XX*{provider['npi']}",
                 f"TRN*1*{claim['id']}", f"STC*A1:19**WQ*{claim['total']}", f"HL*{hl + 2}*{hl + 1}*PT",
                 f"NM1*QC*1*{patient['last']}*{patient['first']}****MI*{patient['member_id']}",
                 f"TRN*2*{claim['id']}"]
        if claim["id"] in reject_claims:
            body.append(f"STC*A7:21*{DATE}*U*{claim['total']}")
        else:
            body += [f"STC*A2:20*{DATE}*WQ*{claim['total']}", f"REF*1K*PCN{claim['id']}"]
        dates = sorted(line["date"].replace("-", "") for line in claim["lines"]) or [DATE]
        body.append(f"DTP*472*RD8*{dates[0]}-{dates[-1]}")
        hl += 2
    return _envelope(body, "HN", "005010X214", sent["receiver"], sent["sender"], control, sent["usage"],
                     "ST*277*0001*005010X214")


def remit_835(claims: list[dict], trace: str = "CHK9001", paid_share: Decimal = Decimal("0.80"),
              control: int = 9003, receiver: str = "MAPLESTFP") -> bytes:
    """An 835 paying each claim (read_837's claims, or `claim show`'s): each line `paid_share` of its
    amount, the rest written off as CO-45; REF*6R names each line."""
    body = ["BPR*C*{total}*C*CHK************" + DATE, f"TRN*1*{trace}*1047111222", f"N1*PR*{PAYER_NAME}",
            "N3*PO BOX 1001", "N4*BOSTON*MA*021050001", "PER*BL*EDI*TE*8005550199"]
    npi = claims[0]["billing_provider"]["npi"]
    body += [f"N1*PE*MAPLE STREET FAMILY PRACTICE*XX*{npi}", "LX*1"]
    total = Decimal(0)
    for claim in claims:
        lines = [(line, (Decimal(line["amount"]) * paid_share).quantize(Decimal("0.01"))) for line in claim["lines"]]
        paid = sum((p for _, p in lines), Decimal(0))
        total += paid
        charge = sum((Decimal(line["amount"]) for line, _ in lines), Decimal(0))
        patient = claim["patient"]
        member = patient.get("member_id") or claim.get("subscriber", {}).get("member_id", "")
        body += [f"CLP*{claim['id']}*1*{charge}*{paid}*0*12*PCN{claim['id']}*11*1",
                 f"NM1*QC*1*{patient['last']}*{patient['first']}****MI*{member}"]
        for line, line_paid in lines:
            body += [f"SVC*HC:{':'.join([line['code'], *line['modifiers']])}*{line['amount']}*{line_paid}",
                     f"DTM*472*{line['date'].replace('-', '')}"]
            if Decimal(line["amount"]) != line_paid:
                body.append(f"CAS*CO*45*{Decimal(line['amount']) - line_paid}")
            body.append(f"REF*6R*{line['line']}")
    body[0] = body[0].format(total=total)
    return _envelope(body, "HP", "005010X221A1", PAYER_ID, receiver, control, "T", "ST*835*0001")


def _inquiries(raw: bytes) -> tuple[dict, list[list[str]]]:
    segs, _, _ = _segments(raw)
    return {"sender": segs[0][6].strip(), "receiver": segs[0][8].strip(), "usage": segs[0][15],
            "group": segs[1][6]}, segs


def answer_271(raw_270: bytes, control: int = 9004, inactive: tuple[str, ...] = ()) -> bytes:
    """A 271 answering a 270: each subscriber's coverage active (EB*1), or inactive (EB*6) for the
    member ids in `inactive`; its TRN echoed as TRN*2."""
    env, segs = _inquiries(raw_270)
    body = [f"BHT*0022*11*{env['group']}*{DATE}*{TIME}"]
    member = ""
    for seg in segs[3:]:
        tag = seg[0]
        if tag in ("SE", "GE", "IEA", "BHT"):
            continue
        if tag == "NM1" and seg[1] == "IL":
            member = seg[9] if len(seg) > 9 else ""
        if tag == "TRN":
            body.append(f"TRN*2*{seg[2]}*{seg[3] if len(seg) > 3 else '9999999999'}")
        elif tag == "EQ":
            body.append(f"EB*{'6' if member in inactive else '1'}**{seg[1]}")
        elif tag in ("HL", "NM1", "N3", "N4", "REF", "PRV", "DMG", "DTP"):
            body.append("*".join(seg))
    return _envelope(body, "HB", "005010X279A1", env["receiver"], env["sender"], control, env["usage"],
                     "ST*271*0001*005010X279A1")


def answer_277(raw_276: bytes, control: int = 9005) -> bytes:
    """A 277 answering a 276: each claim asked about is in process (STC*A2:20), its TRN echoed as TRN*2."""
    env, segs = _inquiries(raw_276)
    body = [f"BHT*0010*08*{env['group']}*{DATE}*{TIME}*DG"]
    for seg in segs[3:]:
        tag = seg[0]
        if tag in ("SE", "GE", "IEA", "BHT"):
            continue
        if tag == "TRN":
            body += [f"TRN*2*{seg[2]}", f"STC*A2:20*{DATE}**{_amount_after(segs, seg)}"]
        elif tag in ("HL", "NM1", "REF", "DTP", "DMG"):
            body.append("*".join(seg))
    return _envelope(body, "HN", "005010X212", env["receiver"], env["sender"], control, env["usage"],
                     "ST*277*0001*005010X212")


def _amount_after(segs: list[list[str]], trn: list[str]) -> str:
    """The claim amount (AMT*T3) the inquiry gave after this TRN, or 0."""
    start = segs.index(trn)
    for seg in segs[start + 1:]:
        if seg[0] == "TRN":
            break
        if seg[0] == "AMT" and seg[1] == "T3":
            return seg[2]
    return "0"


@dataclass
class PayerSim:
    """Answers what arrives in `outbox` (the server's folder medsec puts files in) into `inbox`.

    `reject_sets` / `reject_claims`: ST02s a 999 rejects, claim ids a 277CA rejects.
    `answered` holds the names already answered; `accepted` the claims accepted, for `remit()`.
    """

    outbox: Path
    inbox: Path
    reject_sets: tuple[str, ...] = ()
    reject_claims: tuple[str, ...] = ()
    inactive: tuple[str, ...] = ()  # member ids a 271 answers inactive
    answered: set[str] = field(default_factory=set)
    accepted: list[dict] = field(default_factory=list)
    control: int = 9100

    def _write(self, name: str, data: bytes) -> str:
        self.control += 1
        (self.inbox / name).write_bytes(data)
        return name

    def step(self) -> list[str]:
        """Answer every file that arrived since the last step; the names of the answers written."""
        written = []
        for path in sorted(p for p in self.outbox.iterdir() if p.is_file() and not p.name.startswith(".")):
            if path.name in self.answered:
                continue
            self.answered.add(path.name)
            raw = path.read_bytes()
            kind = _segments(raw)[0][2][1]  # ST01
            stem = path.stem
            if kind == "837":
                written.append(self._write(f"{stem}.999", ack_999(raw, self.reject_sets, self.control)))
                # A set the 999 rejected never reaches the payer: its claims get no 277CA.
                claims = [c for c in read_837(raw)["claims"] if c["set"] not in self.reject_sets]
                if claims:
                    written.append(self._write(f"{stem}.277ca", ack_277ca(raw, self.reject_claims, self.control,
                                                                          self.reject_sets)))
                self.accepted += [c for c in claims if c["id"] not in self.reject_claims]
            elif kind == "270":
                written.append(self._write(f"{stem}.271", answer_271(raw, self.control, self.inactive)))
            elif kind == "276":
                written.append(self._write(f"{stem}.277", answer_277(raw, self.control)))
        return written

    def remit(self, trace: str = "CHK9001") -> str | None:
        """An 835 paying every claim accepted so far (then forgotten); its name, None when none waits."""
        if not self.accepted:
            return None
        claims, self.accepted = self.accepted, []
        return self._write(f"{trace}.835", remit_835(claims, trace, control=self.control))
