"""Billing at scale: one 837P batch of 10,000 claims, one 835 answering 1,000 of them.

A small data directory of its own, built fresh each run (a batch marks its
claims submitted, a remittance posts once): `medsec init --demo` (practice,
billing settings, payers, physicians with NPIs, codes and fees), 2,000
patients imported from a CSV, then, in a child process with medsec's own
code (`python billing_bench.py generate SPEC.json`), one transaction that
gives every patient a primary coverage with the payer, writes 10,000 visits'
charges shaped as `medsec bill charge` stores them, and builds one claim per
visit with `medsec.billing.claims.new_claim` (what `medsec claim create`
uses), marked ready as `medsec claim validate` leaves a clean claim.

Timed as fresh processes (bench/launcher.py: wall time and peak RSS):
- `medsec claim batch --payer BAYSTATE --format x12-837p -o FILE --no-mark`
  (the scrubber and the writer, nothing marked), then the same without
  --no-mark (the target: every claim also marked submitted). The whole file
  is judged by pyx12 (10-15 s, not timed) and its CLM count checked.
- `medsec clearinghouse import FILE.277` of a 277CA (005010X214) answering
  the whole batch: every claim accepted (A2, with the payer's claim number)
  but ten rejected (A7:21), written by `python billing_bench.py ack SPEC.json`
  and judged by pyx12 first; every claim must come out accepted or rejected.
- `medsec claim post-remit FILE.835` of an 835 (one payment) answering the
  first 1,000 claims line by line (paid, CO-45, PR-2 coinsurance, REF*6R),
  written by `python billing_bench.py remit SPEC.json`; the 835 is judged by
  pyx12 first; every claim must come out paid.
- Eligibility for 500 of the patients: `medsec elig check P.. -o FILE.270`
  (one inquiry each), then `medsec elig import FILE.271` of the payer's
  answer to all 500 (active, a copay and a deductible each; written by
  `python billing_bench.py answer SPEC.json` from the 270's trace numbers);
  every inquiry must come out answered and every coverage active.
"""

import json
import os
import random
import shutil
import sys
import time
from datetime import date, timedelta
from decimal import Decimal

from harness import DATA, MEDSEC, PYTHON, Dataset, Launcher, Target, summarize

CLAIMS = 10_000
REMITTED = 1_000
PATIENTS = 2_000
PAYER = "BAYSTATE"
TRACE = "BENCH835001"
BATCH_TARGET = Target(max_ms=20_000)
REMIT_TARGET = Target(max_ms=10_000)
ACK_TARGET = Target(max_ms=10_000)
ELIGIBILITY = 500
ELIG_TARGET = Target(max_ms=10_000)
REJECTED = 10  # of the batch, by the 277CA
# Billable ICD-10-CM codes (April 2026 release) a family practice sees every day.
DIAGNOSES = ["E11.9", "I10", "J06.9", "Z00.00", "E78.5", "F41.1", "K21.9", "J45.909", "R05.9", "N39.0",
             "M54.50", "Z23", "E66.9", "G43.909", "L30.9", "R51.9"]
VISIT_CODES = ["99213", "99213", "99213", "99214", "99214", "99212", "99396", "99215"]
EXTRA_CODES = ["36415", "81002", "90471", "93000"]
ME = os.path.abspath(__file__)


# -- in a child process, with medsec's own code ------------------------------------------
def generate(spec: dict) -> dict:
    """Coverage for every patient, CLAIMS visits' charges and their ready claims, one transaction."""
    from medsec import clock
    from medsec.billing import claims as claim_svc
    from medsec.billing.accounts import fee_for
    from medsec.context import AppContext
    from medsec.records.staff import roster
    from medsec.store.catalog import CHARGES
    from medsec.store.catalog import CLAIMS as CLAIM_KIND
    from medsec.store.catalog import PATIENTS as PATIENT_KIND

    rng = random.Random(spec["seed"])
    app = AppContext(data_dir=spec["home"], user="bench")
    practice = app.config("practice.yaml")
    doctors = [m["id"] for m in roster(app) if m.get("npi")]
    fees = {code: fee_for(app, code, PAYER) for code in set(VISIT_CODES + EXTRA_CODES)}
    today = app.today()
    stamp = clock.iso(app.now())
    with app.store.transaction() as txn:
        patients = [p for p in txn.scan(PATIENT_KIND) if not p.get("archived")]
        patients = sorted(patients, key=lambda p: int(p["id"][1:]))[-spec["patients"]:]
        covered = []
        for p in patients:
            coverage = {"rank": "primary", "payer": PAYER, "member_id": f"BAY{rng.randint(10**8, 10**9 - 1)}",
                        "group": f"G{rng.randint(1000, 9999)}", "relationship": "self", "subscriber": "",
                        "subscriber_dob": "", "start": "", "end": ""}
            covered.append({**p, "coverages": [coverage]})
        txn.put_many(PATIENT_KIND, covered, {p["id"]: p for p in patients})
        visits = []  # (patient, provider, date)
        per_patient = -(-spec["claims"] // len(covered))
        for p in covered:
            days = rng.sample(range(1, 365), per_patient)
            doctor = rng.choice(doctors)
            visits += [(p, doctor, today - timedelta(days=d)) for d in days]
        rng.shuffle(visits)
        visits = visits[:spec["claims"]]
        charges_per_visit = [[rng.choice(VISIT_CODES)] + rng.sample(EXTRA_CODES, rng.choice([0, 0, 1, 1, 2]))
                             for _ in visits]
        charge_ids = iter(txn.reserve_ids(CHARGES, sum(len(c) for c in charges_per_visit)))
        claim_ids = txn.reserve_ids(CLAIM_KIND, len(visits))
        all_charges, all_claims = [], []
        for claim_id, (patient, doctor, day), codes in zip(claim_ids, visits, charges_per_visit, strict=True):
            dx = rng.sample(DIAGNOSES, rng.choice([1, 2, 2, 3]))
            charges = [{"id": next(charge_ids), "patient_id": patient["id"], "appointment_id": "",
                        "date": day.isoformat(), "provider": doctor, "code": code, "description": "",
                        "modifiers": ["25"] if i == 0 and len(codes) > 1 and code != "99396" else [],
                        "units": 1, "amount": str(fees[code]), "dx": dx,
                        "dx_pointers": list(range(1, len(dx) + 1)), "place_of_service": "11",
                        "status": "open", "claims": [], "created": stamp, "by": "bench"}
                       for i, code in enumerate(codes)]
            claim = claim_svc.new_claim(app, txn, claim_id, patient, patient["coverages"][0], doctor, charges,
                                        "primary", stamp, practice=practice)
            claim["status"] = "ready"
            claim["history"].append({"at": stamp, "by": "bench", "status": "ready", "note": "passed the scrubber"})
            all_claims.append(claim)
            all_charges += [{**c, "status": "billed", "claims": [claim_id]} for c in charges]
        problems = claim_svc.scrub(app, all_claims[0], today)
        if problems:
            raise SystemExit(f"generated claim {all_claims[0]['id']} does not pass the scrubber: {problems}")
        txn.put_many(CHARGES, all_charges)
        txn.put_many(CLAIM_KIND, all_claims)
    return {"claims": len(all_claims), "charges": len(all_charges), "first_claim": claim_ids[0],
            "lines": sum(len(c["lines"]) for c in all_claims)}


def remit(spec: dict) -> dict:
    """An 835 (one payment, one ST/SE) answering the first REMITTED submitted claims, line by line."""
    from medsec.store import Store
    from medsec.store.catalog import CLAIMS as CLAIM_KIND

    view = Store(spec["home"]).snapshot()
    claims = sorted((c for c in view.scan(CLAIM_KIND) if c["status"] in ("submitted", "accepted")),
                    key=lambda c: int(c["id"][1:]))[:spec["remitted"]]
    npi = claims[0]["billing_provider"]["npi"]
    body = [f"TRN*1*{TRACE}*1047111222", "N1*PR*BAY STATE HEALTH PLAN", "N3*PO BOX 1001",
            "N4*BOSTON*MA*021050001", "PER*BL*EDI SUPPORT*TE*8005550199",
            f"N1*PE*MAPLE STREET FAMILY PRACTICE*XX*{npi}", "LX*1"]
    total_paid = Decimal(0)
    for n, claim in enumerate(claims):
        lines, paid, share = [], Decimal(0), Decimal(0)
        for line in claim["lines"]:
            amount = Decimal(line["amount"])
            allowed = (amount * Decimal("0.8")).quantize(Decimal("0.01"))
            line_paid = (allowed * Decimal("0.8")).quantize(Decimal("0.01"))
            coinsurance = allowed - line_paid
            paid, share = paid + line_paid, share + coinsurance
            lines += [f"SVC*HC:{':'.join([line['code'], *line['modifiers']])}*{amount}*{line_paid}",
                      f"DTM*472*{line['date'].replace('-', '')}",
                      f"CAS*CO*45*{amount - allowed}", f"CAS*PR*2*{coinsurance}",
                      f"REF*6R*{line['line']}", f"AMT*B6*{allowed}"]
        patient, sub = claim["patient"], claim["subscriber"]
        body += [f"CLP*{claim['id']}*1*{claim['total']}*{paid}*{share}*12*BS{n:08d}*11*1",
                 f"NM1*QC*1*{patient['last']}*{patient['first']}****MI*{sub['member_id']}", *lines]
        total_paid += paid
    body.insert(0, f"BPR*I*{total_paid}*C*ACH*CCP*01*011000015*DA*123456789*1047111222**01*021000021*DA*"
                   f"987654321*{date.today().strftime('%Y%m%d')}")
    stamp = date.today().strftime("%y%m%d")
    segments = ["ISA*00*          *00*          *ZZ*BSHP1          *ZZ*MAPLESTFP      *"
                f"{stamp}*0900*^*00501*000000835*0*T*:",
                f"GS*HP*BSHP1*MAPLESTFP*20{stamp}*0900*835*X*005010X221A1", "ST*835*0001", *body,
                f"SE*{len(body) + 2}*0001", "GE*1*835", "IEA*1*000000835"]
    with open(spec["out"], "w", encoding="ascii") as f:
        f.write("".join(s + "~\n" for s in segments))
    return {"claims": len(claims), "total_paid": str(total_paid)}


def _interchange(functional: str, version: str, control: int, code: str, bodies: list[list[str]], out: str) -> None:
    """One interchange, one group of `version`, one transaction set `code` per body."""
    stamp = date.today().strftime("%y%m%d")
    segments = ["ISA*00*          *00*          *ZZ*BSHP1          *ZZ*MAPLESTFP      *"
                f"{stamp}*0900*^*00501*{control:09d}*0*T*:",
                f"GS*{functional}*BSHP1*MAPLESTFP*20{stamp}*0900*{control}*X*{version}"]
    for n, body in enumerate(bodies, 1):
        segments += [f"ST*{code}*{n:04d}*{version}", *body, f"SE*{len(body) + 2}*{n:04d}"]
    segments += [f"GE*{len(bodies)}*{control}", f"IEA*1*{control:09d}"]
    with open(out, "w", encoding="ascii") as f:
        f.write("".join(s + "~\n" for s in segments))


def ack(spec: dict) -> dict:
    """A 277CA (005010X214) for every submitted claim: accepted (A2) but the last REJECTED (A7:21)."""
    from medsec.store import Store
    from medsec.store.catalog import CLAIMS as CLAIM_KIND

    view = Store(spec["home"]).snapshot()
    claims = sorted((c for c in view.scan(CLAIM_KIND) if c["status"] == "submitted"), key=lambda c: int(c["id"][1:]))
    rejected = {c["id"] for c in claims[-spec["rejected"]:]}
    today = date.today().strftime("%Y%m%d")
    total = sum((Decimal(c["total"]) for c in claims if c["id"] not in rejected), Decimal(0))
    refused = sum((Decimal(c["total"]) for c in claims if c["id"] in rejected), Decimal(0))
    body = [f"BHT*0085*08*ACK1*{today}*0900*TH", "HL*1**20*1", "NM1*PR*2*BAY STATE HEALTH PLAN*****PI*BSHP1",
            "TRN*1*ACK1", f"DTP*050*D8*{today}", f"DTP*009*D8*{today}", "HL*2*1*21*1",
            f"NM1*41*2*SUBMITTER*****46*{claims[0]['submitter']['id']}", "TRN*2*1",
            f"STC*A1:19*{today}*WQ*{total}", f"QTY*90*{len(claims) - len(rejected)}", f"QTY*AA*{len(rejected)}",
            f"AMT*YU*{total}", f"AMT*YY*{refused}"]
    hl = 2
    for claim in claims:
        provider, patient = claim["billing_provider"], claim["patient"]
        body += [f"HL*{hl + 1}*2*19*1", f"NM1*85*2*{provider['name']}*****XX*{provider['npi']}",
                 f"TRN*1*{claim['id']}", f"STC*A1:19**WQ*{claim['total']}", f"HL*{hl + 2}*{hl + 1}*PT",
                 f"NM1*QC*1*{patient['last']}*{patient['first']}****MI*{claim['subscriber']['member_id']}",
                 f"TRN*2*{claim['id']}"]
        if claim["id"] in rejected:
            body.append(f"STC*A7:21*{today}*U*{claim['total']}")
        else:
            body += [f"STC*A2:20*{today}*WQ*{claim['total']}", f"REF*1K*PCN{claim['id']}"]
        days = sorted(line["date"].replace("-", "") for line in claim["lines"])
        body.append(f"DTP*472*RD8*{days[0]}-{days[-1]}")
        hl += 2
    _interchange("HN", "005010X214", 277, "277", [body], spec["out"])
    return {"claims": len(claims), "rejected": len(rejected)}


def answer(spec: dict) -> dict:
    """A 271 answering every inquiry of a 270, one transaction set for each of the 270's: active,
    copay 25.00, deductible 1500.00 (800.00 left)."""
    with open(spec["inquiry"], encoding="ascii") as f:
        text = f.read()
    segs = [s.strip().split("*") for s in text.split("~") if s.strip()]
    today = date.today().strftime("%Y%m%d")
    bodies: list[list[str]] = []
    answered = 0
    for seg in segs:
        if seg[0] == "ST":
            bodies.append([f"BHT*0022*11*ANSWER{len(bodies) + 1}*{today}*0900"])
        elif seg[0] == "TRN":
            bodies[-1].append(f"TRN*2*{seg[2]}*{seg[3]}")
            answered += 1
        elif seg[0] == "EQ":
            bodies[-1] += [f"EB*1*IND*{seg[1]}", f"EB*B*IND*{seg[1]}***25", f"EB*C*IND*{seg[1]}**23*1500",
                           f"EB*C*IND*{seg[1]}**29*800"]
        elif seg[0] in ("HL", "NM1", "N3", "N4", "REF", "PRV", "DMG", "DTP"):
            bodies[-1].append("*".join(seg))
    _interchange("HB", "005010X279A1", 271, "271", bodies, spec["out"])
    return {"answered": answered}


def pyx12_check(path: str) -> tuple[bool, list[str], float]:
    """pyx12's verdict on a file (see X12-NOTES section 12): ok, error lines, seconds taken."""
    import io
    import logging

    import pyx12.params
    import pyx12.x12n_document

    messages: list[str] = []
    grab = logging.Handler(level=logging.ERROR)
    grab.emit = lambda record: messages.append(record.getMessage())
    root = logging.getLogger()
    root.addHandler(grab)
    start = time.perf_counter()
    try:
        ok = pyx12.x12n_document.x12n_document(param=pyx12.params.params(), src_file=path, fd_997=None,
                                               fd_html=None, fd_json=io.StringIO())
    finally:
        root.removeHandler(grab)
    return bool(ok), [m for m in messages if m.startswith("Line:")][:10], time.perf_counter() - start


def child(action: str, spec: dict, launcher: Launcher) -> dict:
    """Run generate/remit in a child process (medsec's imports stay out of the bench process)."""
    path = os.path.join(os.path.dirname(spec["home"]), f"{action}.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    run = launcher.checked([PYTHON, ME, action, path])
    return json.loads(run.out)


# -- the measurement -------------------------------------------------------------------------
def prepare(data: Dataset, launcher: Launcher, seed: int) -> dict:
    import csv

    from datagen import COLUMNS, patient_rows

    launcher.checked([MEDSEC, "--data-dir", data.home, "init", "--demo"])
    with open(data.csv, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(patient_rows(random.Random(seed), PATIENTS))
    launcher.checked([MEDSEC, "patient", "import", data.csv, "--json"])
    return child("generate", {"home": data.home, "seed": seed, "claims": CLAIMS, "patients": PATIENTS}, launcher)


def measure(seed: int) -> list[dict]:
    """Build the billing practice, time the batch (twice) and the posting; judge both files."""
    data = Dataset(os.path.join(DATA, "billing"))
    shutil.rmtree(data.folder, ignore_errors=True)
    os.makedirs(data.folder)
    print(f"billing: {CLAIMS:,} ready claims for {PATIENTS:,} patients in {data.folder} ...", flush=True)
    rows = []
    with Launcher(data.env) as launcher:
        built = prepare(data, launcher, seed)
        dry = os.path.join(data.folder, "nomark.837")
        batch = os.path.join(data.folder, "batch.837")
        era = os.path.join(data.folder, "remit.835")
        base = [MEDSEC, "claim", "batch", "--payer", PAYER, "--format", "x12-837p", "--json"]
        first = launcher.checked(base + ["-o", dry, "--no-mark"])
        rows.append(summarize(f"claim batch: {CLAIMS:,} claims to x12-837p, --no-mark (once)",
                              {"medsec": [first]}, None))
        run = launcher.spawn(base + ["-o", batch])
        row = summarize(f"claim batch: {CLAIMS:,} claims to x12-837p, marked submitted (once)",
                        {"medsec": [run]}, BATCH_TARGET)
        row.update(exit_code=run.exit_code, lines=built["lines"])
        checks = {}
        if run.exit_code == 0:
            result = json.loads(run.out)
            with open(batch, encoding="ascii") as f:
                text = f.read()
            checks["clm_segments"] = text.count("~\nCLM*")
            checks["claims_in_result"] = len(result["claims"])
            ok, errors, seconds = pyx12_check(batch)
            checks.update(pyx12_ok=ok, pyx12_errors=errors, pyx12_seconds=round(seconds, 1))
        row["checks"] = checks
        if not (run.exit_code == 0 and checks.get("pyx12_ok") and checks["clm_segments"] == CLAIMS
                and checks["claims_in_result"] == CLAIMS):
            row["result"] = "FAIL"
        rows.append(row)
        if run.exit_code != 0:
            return rows
        rows.append(_acknowledged(data, launcher))
        made = child("remit", {"home": data.home, "remitted": REMITTED, "out": era}, launcher)
        ok, errors, _ = pyx12_check(era)
        run = launcher.spawn([MEDSEC, "claim", "post-remit", era, "--json"])
        row = summarize(f"claim post-remit: 835 answering {REMITTED:,} claims (once)", {"medsec": [run]},
                        REMIT_TARGET)
        posted = json.loads(run.out)["posted"] if run.exit_code == 0 else []
        row.update(exit_code=run.exit_code, checks={
            "pyx12_ok": ok, "pyx12_errors": errors, "claims_in_835": made["claims"],
            "posted": len(posted), "paid": sum(p["status"] == "paid" for p in posted),
            "paid_total": str(sum((Decimal(p["paid"]) for p in posted), Decimal(0))),
            "bpr_total": made["total_paid"]})
        c = row["checks"]
        if not (run.exit_code == 0 and ok and c["paid"] == REMITTED and c["paid_total"] == c["bpr_total"]):
            row["result"] = "FAIL"
        rows.append(row)
        rows += _eligibility(data, launcher)
    return rows


def _acknowledged(data: Dataset, launcher: Launcher) -> dict:
    """The 277CA for the whole batch, imported: every claim accepted but REJECTED."""
    path = os.path.join(data.folder, "batch.277")
    made = child("ack", {"home": data.home, "rejected": REJECTED, "out": path}, launcher)
    ok, errors, _ = pyx12_check(path)
    run = launcher.spawn([MEDSEC, "clearinghouse", "import", path, "--json"])
    row = summarize(f"clearinghouse import: 277CA for {made['claims']:,} claims (once)", {"medsec": [run]},
                    ACK_TARGET)
    summary = json.loads(run.out) if run.exit_code == 0 else {}
    row.update(exit_code=run.exit_code, checks={
        "pyx12_ok": ok, "pyx12_errors": errors, "claims_in_277ca": made["claims"],
        "accepted": len(summary.get("accepted") or []), "rejected": len(summary.get("rejected") or []),
        "unmatched": len(summary.get("unmatched") or [])})
    c = row["checks"]
    if not (run.exit_code == 0 and ok and c["accepted"] == CLAIMS - REJECTED and c["rejected"] == REJECTED
            and c["unmatched"] == 0):
        row["result"] = "FAIL"
    return row


def _eligibility(data: Dataset, launcher: Launcher) -> list[dict]:
    """ELIGIBILITY patients asked about (the 270 written), then the 271 answering them all imported."""
    from medsec.store import Store
    from medsec.store.catalog import PATIENTS as PATIENT_KIND

    covered = sorted((p["id"] for p in Store(data.home).snapshot().scan(PATIENT_KIND) if p.get("coverages")),
                     key=lambda i: int(i[1:]))[:ELIGIBILITY]
    asked, answered = os.path.join(data.folder, "elig.270"), os.path.join(data.folder, "elig.271")
    run = launcher.spawn([MEDSEC, "elig", "check", *covered, "-o", asked, "--json"])
    row = summarize(f"elig check: 270 for {len(covered):,} patients (once)", {"medsec": [run]}, ELIG_TARGET)
    inquiries = len(json.loads(run.out)["inquiries"]) if run.exit_code == 0 else 0
    row.update(exit_code=run.exit_code, checks={"inquiries": inquiries})
    if run.exit_code != 0 or inquiries != ELIGIBILITY:
        row["result"] = "FAIL"
        return [row]
    made = child("answer", {"home": data.home, "inquiry": asked, "out": answered}, launcher)
    run = launcher.spawn([MEDSEC, "elig", "import", answered, "--json"])
    posted = summarize(f"elig import: 271 answering {made['answered']:,} inquiries (once)", {"medsec": [run]},
                       ELIG_TARGET)
    summary = json.loads(run.out) if run.exit_code == 0 else {}
    posted.update(exit_code=run.exit_code, checks={"answered": len(summary.get("answered") or []),
                                                   "unmatched": len(summary.get("unmatched") or [])})
    if run.exit_code != 0 or posted["checks"]["answered"] != ELIGIBILITY or posted["checks"]["unmatched"]:
        posted["result"] = "FAIL"
    return [row, posted]


def main() -> None:
    action, spec_path = sys.argv[1:3]
    with open(spec_path) as f:
        spec = json.load(f)
    done = {"generate": generate, "remit": remit, "ack": ack, "answer": answer}[action](spec)
    print(json.dumps(done))


if __name__ == "__main__":
    main()
