"""Issue 20 end to end, through the CLI of a signed-in practice: a consult letter dictated by the
physician (two espeak-ng voices: the committed WAV, and a second voice spoken at run time) becomes a
draft at the front desk, is corrected there, is signed by its author only (the front desk is refused,
and the refusal is audited), is faxed to the referring provider through the loopback fax gateway with
a cover sheet, and is filed in the patient's chart.

The practice has its own past letters (typed at the desk, signed by their author), codes.yaml
descriptions and a formulary (dictation.yaml); none of them is the dictation.
"""

import base64
import io
import json
import re
import subprocess
from pathlib import Path

import pytest
from helpers.backends import write_config
from helpers.signin import PASS, signed_in
from helpers.tools import need_tool
from pypdf import PdfReader

FIXTURES = Path(__file__).parent / "fixtures" / "dictation"
CODES = """\
codes:
  - {code: "93350", system: CPT, description: Stress echocardiogram with interpretation and report}
  - {code: "93000", system: CPT, description: Electrocardiogram with interpretation and report}
"""
DICTATION_YAML = "formulary:\n  - aspirin\n  - tirzepatide\nwords:\n  - echocardiogram\n"
PAST_LETTERS = ["01_consult_whitaker_afib", "03_lab_letter_lipids", "07_referral_ortho"]


def spoken(text: str) -> list[str]:
    from medsec_dictation import lm

    return lm.spoken(re.sub(r"\[\?([^\]]*)\]", r"\1", text)).split()


@pytest.fixture
def office(clinic, secrets_dir, gateway):
    """The signed-in clinic with Dr Helena Voss (S5, physician), Daniel Brooks (P2) referred by Dr Alan
    Whitaker (RF1), faxes to the loopback gateway, and the practice's own letters, codes and formulary."""
    admin = signed_in(clinic, "S1", secrets_dir)
    clinic.ok("staff", "add", "--name", "Dr Helena Voss", "--role", "physician", "--npi", "1245319599", env=admin)
    (secrets_dir / "S5").write_text(PASS["S4"] + "x\n")
    (secrets_dir / "S5").chmod(0o600)
    clinic.ok("staff", "passphrase", "S5", "--passphrase-file", secrets_dir / "S5", env=admin)
    write_config(clinic, "channels.yaml",
                 f"fax:\n  gateway: http\n  url: {gateway.url}/faxes\n  from: '+16175550100'\n  timeout: 10\n"
                 "routes: {fax: fax}\n")
    write_config(clinic, "codes.yaml", CODES)
    write_config(clinic, "dictation.yaml", DICTATION_YAML)
    desk, doctor = signed_in(clinic, "S2", secrets_dir), signed_in(clinic, "S5", secrets_dir)
    clinic.ok("patient", "add", "--first", "Daniel", "--last", "Brooks", "--dob", "1961-04-12", env=desk)
    clinic.ok("referral", "receive", "--referrer", "Dr. Alan Whitaker", "--reason", "chest pain on exertion",
              "--patient", "P2", env=desk)
    for name in PAST_LETTERS:  # typed at the desk for Dr Voss, signed by her
        letter = clinic.json("doc", "new", "--patient", "P1", "--author", "S5", "--kind", "letter",
                             "--file", FIXTURES / "practice" / f"{name}.txt", env=desk)
        clinic.ok("doc", "sign", letter["id"], env=doctor)
    gateway.numbered = "FX"
    clinic.desk, clinic.doctor, clinic.admin, clinic.gateway = desk, doctor, admin, gateway
    return clinic


def second_voice(tmp_path: Path) -> Path:
    """The consult letter spoken by espeak-ng's en-us+m3 at 130 words a minute, as 16 kHz mono."""
    espeak, sox = need_tool("espeak-ng", "espeak-ng"), need_tool("sox", "sox")
    raw, wav = tmp_path / "m3-22k.wav", tmp_path / "consult-m3.wav"
    text = (FIXTURES / "consult.txt").read_text()
    subprocess.run([espeak, "-v", "en-us+m3", "-s", "130", "-w", str(raw), text], check=True, timeout=60)
    subprocess.run([sox, str(raw), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", str(wav)],
                   check=True, timeout=60)
    return wav


@pytest.mark.parametrize("voice", ["default", "m3"])
def test_a_dictated_consult_letter_reaches_the_referring_provider(office, voice, tmp_path):
    m = office
    audio = FIXTURES / "consult.wav" if voice == "default" else second_voice(tmp_path)
    reference = (FIXTURES / "consult.txt").read_text()

    # the front desk transcribes the physician's dictation into a draft addressed to the referrer
    draft = m.json("dictation", "add", audio, "--patient", "P2", "--author", "S5", "--kind", "consult",
                   "--recipient", "RF1", "--fax", "617-555-0199", env=m.desk)
    assert (draft["status"], draft["source"], draft["author"]) == ("draft", "dictation", "S5")
    assert draft["to"]["name"] == "Dr. Alan Whitaker" and draft["to"]["referral"] == "RF1"
    import jiwer

    heard = " ".join(spoken(draft["text"]))
    assert jiwer.wer(" ".join(spoken(reference)), heard) <= 0.7, heard
    assert {"whitaker", "aspirin", "echocardiogram"} <= set(heard.split()), heard
    doc_id = draft["id"]
    assert m.json("doc", "list", "--unsigned", "--staff", "S5", env=m.desk)[0]["id"] == doc_id
    assert any(t["source"] == doc_id for t in m.json("task", "list", "--staff", "S5", env=m.doctor))

    # the secretary corrects it; a word still marked unsure would stop the signature
    corrected = tmp_path / "corrected.txt"
    corrected.write_text("Dear Dr. Whitaker,\n\n" + reference.split("whitaker ", 1)[1].capitalize()
                         .replace(" sincerely helena voss", ".\n\nSincerely,\nHelena Voss, MD") + "\n")
    assert m.json("doc", "edit", doc_id, "--file", corrected, env=m.desk)["changed"] is True
    edited = m.json("doc", "show", doc_id, env=m.desk)
    assert edited["text"].startswith("Dear Dr. Whitaker,") and len(edited["edits"]) == 1

    # only its author signs it: the front desk is refused (audited), Dr Voss signs
    refused = m("doc", "sign", doc_id, env=m.desk)
    assert refused.exit_code == 1 and "documents.sign" in refused.stderr
    assert m.json("doc", "show", doc_id, env=m.desk)["status"] == "draft"
    signed = m.json("doc", "sign", doc_id, env=m.doctor)
    assert signed["status"] == "signed" and signed["signature"]["by"] == "S5" and "sig" in signed["signature"]
    assert m.json("verify", doc_id, env=m.admin)["valid"] is True
    denials = [e for e in m.json("audit", env=m.admin) if e.get("action") == "refused" and e.get("user") == "S2"]
    assert any(doc_id in e.get("ids", []) or "doc sign" in json.dumps(e) for e in denials), denials
    assert not any(t["source"] == doc_id and t["status"] == "open"
                   for t in m.json("task", "list", "--status", "all", "--staff", "S5", env=m.doctor))
    # its text is frozen: a correction now is an addendum
    frozen = m("doc", "edit", doc_id, "--file", corrected, env=m.desk)
    assert frozen.exit_code == 1 and "addendum" in frozen.stderr

    # faxed to the referring provider behind a cover sheet, through the loopback gateway
    sent = m.json("doc", "send", doc_id, env=m.desk)
    assert sent["sends"][-1]["via"] == "fax" and sent["sends"][-1]["to"] == "617-555-0199"
    posts = [json.loads(r["body"]) for r in m.gateway.requests if r["method"] == "POST"]
    assert len(posts) == 1 and posts[0]["to"] == "+16175550199"
    text = "\n".join(page.extract_text() or "" for f in posts[0]["files"]
                     for page in PdfReader(io.BytesIO(base64.b64decode(f["data"]))).pages)
    assert "CONFIDENTIAL" in text.upper() and "Dear Dr. Whitaker," in text and "Daniel Brooks" in text
    assert "Electronically signed by Dr Helena Voss" in text
    (logged,) = [f for f in m.json("fax", "list", "--direction", "out", env=m.desk) if f.get("link") == doc_id]
    assert logged["recipient"] == "Dr. Alan Whitaker"

    # filed in the chart: the signed letter is among the patient's attachments
    chart = m.json("patient", "show", "P2", env=m.desk)
    assert any(a["sha256"] == signed["filed"]["sha256"] for a in chart["attachments"]), chart["attachments"]
