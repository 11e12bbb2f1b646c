"""Clinical documents after the draft (issue 20): signed by their author only (others refused and audited),
not while a word is marked unsure, signed once; the signature verified (`medsec verify D1`) and checked
(`medsec check`); addenda; the letterhead PDF; sent by fax through the loopback gateway (the fax log, the
accounting of disclosures) and by email through a loopback SMTP server with the PDF attached; filed in
the patient's chart. Bad input writes nothing.

Practices: `office` (helpers.practices.setup_office, open: S1 Dr A and S2 Dr B physicians, S3 nurse, S4
Fran Desk front desk; P1 Ana Lopez) with a letterhead and faxes to the loopback gateway; `clinic`
(helpers/signin.py, signed in: S1 administrator, S2 front desk, S3 Dr Phil Sician, P1 Ann Smith).
"""

import email
import email.policy
import io
import json
import os
from pathlib import Path

import pytest
from helpers.backends import edit_record, store_of, write_config
from helpers.files import snapshot
from helpers.signin import one_line, signed_in
from pypdf import PdfReader

pytestmark = pytest.mark.both_backends

LETTERHEAD = """\
name: Test Clinic
time_zone: America/New_York
phone: 617-555-0100
fax: 617-555-0101
address: {street: 1 Main St, city: Boston, state: MA, zip: "02110"}
rooms:
  - {id: exam1, name: Exam 1, kind: exam}
scheduling: {slot_minutes: 15}
"""
CONSULT = "Thank you for asking me to see Ms Lopez.\nHer murmur is a mild mitral regurgitation.\n"
TO_REFERRER = ["--recipient", "Dr Rita Referrer", "--fax", "617 555 0199", "--address", "9 Elm St, Boston MA 02115"]


@pytest.fixture
def office(front_office, gateway):
    """The front office on the letterhead, faxes to the loopback HTTP gateway (the rest to the test
    channel)."""
    write_config(front_office, "practice.yaml", LETTERHEAD)
    write_config(front_office, "channels.yaml",
                 f"testchannel: {{}}\nfax:\n  gateway: http\n  url: {gateway.url}/faxes\n  from: '+16175550100'\n"
                 "  timeout: 10\nroutes: {email: testchannel, sms: testchannel, letter: testchannel, fax: fax}\n")
    front_office.ok("config", "show")
    gateway.numbered = "FX"
    front_office.gateway = gateway
    return front_office


def new_doc(medsec, *args, text=CONSULT, author="S1", kind="consult", env=None) -> dict:
    return medsec.json("doc", "new", "--patient", "P1", "--author", author, "--kind", kind, *args, "--file", "-",
                       input=text, env=env)


def edit_doc(medsec, doc_id, change):
    """Change a document through the store's API, outside medsec's commands."""
    from medsec.store.catalog import DOCS

    edit_record(medsec, DOCS, doc_id, change)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def pdf_of(medsec, doc_id, tmp_path, env=None) -> str:
    out = tmp_path / f"{doc_id}.pdf"
    medsec.ok("doc", "pdf", doc_id, "-o", out, env=env)
    return " ".join(pdf_text(out.read_bytes()).split())


def test_only_the_author_signs_and_the_letter_is_filed(office, tmp_path):
    draft = new_doc(office, *TO_REFERRER)
    assert (draft["id"], draft["status"], draft["to"]["fax"]) == ("D1", "draft", "617-555-0199")
    before = snapshot(office.home)
    for user in ("fran@example.org", "S2", "S3", "someone-else"):  # front desk, another physician, a nurse
        refused = office("doc", "sign", "D1", env={"MEDSEC_USER": user})
        assert refused.exit_code == 1 and "only S1 (Dr A), the author of D1, may sign it" in refused.stderr
    assert snapshot(office.home) == before
    refusals = [(e["user"], e["command"], e["outcome"]) for e in office.json("audit") if e["action"] == "refused"]
    assert refusals == [(u, "doc sign", "exit 1") for u in ("fran@example.org", "S2", "S3", "someone-else")]

    signed = office.json("doc", "sign", "D1", env={"MEDSEC_USER": "S1"})
    assert (signed["status"], signed["signed"]) == ("signed", {"by": "S1", "at": "2026-11-26T10:00:00-05:00"})
    assert "an open practice" in signed["signature"]["unsigned"]
    assert office.json("task", "list", "--for", "S1") == []  # the signing task is done
    assert office.json("doc", "list", "--unsigned") == []
    # filed in the chart: the signed PDF, kept in the store
    attachments = office.json("patient", "show", "P1")["attachments"]
    assert [(a["name"], a["label"], a["sha256"]) for a in attachments] == \
        [("consult-D1.pdf", "consult letter D1, signed 2026-11-26", signed["filed"]["sha256"])]
    assert signed["filed"]["at"] == signed["signed"]["at"]
    stored = store_of(office).attachment(signed["filed"]["sha256"])
    assert "Electronically signed by Dr A, NPI 1234567893, on 2026-11-26 10:00" in pdf_text(stored)
    # signed once; its text is frozen
    again = office("doc", "sign", "D1", env={"MEDSEC_USER": "S1"})
    assert again.exit_code == 1 and "D1 was signed by S1" in again.stderr and "doc addendum D1" in again.stderr
    one_line(office("verify", "D1"), 1, "D1 is not signed", "an open practice")
    assert office("check").exit_code == 0
    assert {"doc new", "doc sign"} <= {e["command"] for e in office.json("audit", "--patient", "P1")}


def test_a_draft_with_unsure_words_or_no_text_is_not_signed(office):
    new_doc(office, text="Echo shows [?mitral] regurgitation and [?annular] calcification.\n")
    before = snapshot(office.home)
    refused = office("doc", "sign", "D1", env={"MEDSEC_USER": "S1"})
    assert refused.exit_code == 1
    assert "D1 still holds 2 words marked unsure, the first [?mitral]" in refused.stderr
    assert "doc edit D1" in refused.stderr and snapshot(office.home) == before
    edit_doc(office, "D1", lambda r: r.update(text="  \n"))
    refused = office("doc", "sign", "D1", env={"MEDSEC_USER": "S1"})
    assert refused.exit_code == 1 and "D1 has no text to sign" in refused.stderr
    assert office.json("doc", "show", "D1")["status"] == "draft"


def test_the_letterhead_pdf_draft_and_signed(office, tmp_path):
    new_doc(office, *TO_REFERRER, "--title", "Cardiology consult")
    text = pdf_of(office, "D1", tmp_path)
    for part in ("Test Clinic", "1 Main St, Boston, MA 02110", "Phone: 617-555-0100", "Fax: 617-555-0101",
                 "2026-11-26", "To: Dr Rita Referrer", "9 Elm St, Boston MA 02115",
                 "Re: Ana Lopez, date of birth 1960-01-10", "CARDIOLOGY CONSULT",
                 "Her murmur is a mild mitral regurgitation.", "DRAFT - not signed"):
        assert part in text, part
    assert "Electronically signed" not in text
    office.ok("doc", "sign", "D1", env={"MEDSEC_USER": "S1", "MEDSEC_NOW": "2026-11-27T15:30:00"})
    text = pdf_of(office, "D1", tmp_path)
    assert "Electronically signed by Dr A, NPI 1234567893, on 2026-11-27 15:30" in text and "DRAFT" not in text
    assert "2026-11-27" in text.split("To:")[0]  # dated the day it was signed
    # standard output; deterministic (medsec's clock)
    out = office("doc", "pdf", "D1", "-o", "-")
    assert out.exit_code == 0 and out.stdout.startswith("%PDF")
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    office.ok("doc", "pdf", "D1", "-o", first)
    office.ok("doc", "pdf", "D1", "-o", second)
    assert first.read_bytes() == second.read_bytes()
    assert [e["action"] for e in office.json("audit", "--patient", "P1")].count("export") == 5


def test_addenda(office, tmp_path):
    new_doc(office, *TO_REFERRER)
    before = snapshot(office.home)
    draft = office("doc", "addendum", "D1", "--file", "-", input="More.\n")
    assert draft.exit_code == 1 and "edit the draft instead" in draft.stderr
    assert snapshot(office.home) == before
    office.ok("doc", "sign", "D1", env={"MEDSEC_USER": "S1"})
    added = office.json("doc", "addendum", "D1", "--file", "-", input="Potassium came back normal.\n")
    assert (added["id"], added["addendum_to"], added["author"], added["patient_id"], added["kind"],
            added["status"], added["to"]["name"]) == ("D2", "D1", "S1", "P1", "consult", "draft", "Dr Rita Referrer")
    assert [t["text"] for t in office.json("task", "list", "--for", "S1")] == \
        ["sign consult letter (addendum to D1) D2"]
    by_b = office.json("doc", "addendum", "D1", "--file", "-", "--author", "S2", input="Seen again by Dr B.\n")
    assert (by_b["id"], by_b["author"]) == ("D3", "S2")
    assert office.json("doc", "show", "D1")["addenda"] == ["D2", "D3"]
    nested = office("doc", "addendum", "D2", "--file", "-", input="x\n")
    assert nested.exit_code == 1 and "edit the draft instead" in nested.stderr
    # the addendum is signed like any other document: by its author
    assert office("doc", "sign", "D2", env={"MEDSEC_USER": "S2"}).exit_code == 1
    signed = office.json("doc", "sign", "D2", env={"MEDSEC_USER": "S1", "MEDSEC_NOW": "2026-11-28T09:00:00"})
    assert signed["status"] == "signed"
    # the document's PDF: the letter, then its signed addenda (D3, a draft, is not there)
    text = pdf_of(office, "D1", tmp_path)
    assert text.index("mild mitral regurgitation") < text.index("ADDENDUM D2") < text.index("Potassium came back")
    assert text.count("Electronically signed by Dr A") == 2 and "on 2026-11-28 09:00" in text
    assert "Seen again by Dr B" not in text
    labels = [a["label"] for a in office.json("patient", "show", "P1")["attachments"]]
    assert labels == ["consult letter D1, signed 2026-11-26", "addendum to consult letter D1: D2, signed 2026-11-28"]


def test_sent_by_fax_to_the_referring_provider(office, tmp_path):
    new_doc(office, *TO_REFERRER)
    before = snapshot(office.home)
    draft = office("doc", "send", "D1")
    assert draft.exit_code == 1 and "D1 is a draft: only a signed document is sent" in draft.stderr
    assert snapshot(office.home) == before and office.gateway.requests == []
    office.ok("doc", "sign", "D1", env={"MEDSEC_USER": "S1"})
    sent = office.json("doc", "send", "D1")
    assert [(s["via"], s["to"], s["fax_id"], s["by"]) for s in sent["sends"]] == \
        [("fax", "617-555-0199", "F1", "tester")]
    posted = json.loads(office.gateway.requests[-1]["body"])
    assert [f["name"] for f in posted["files"]] == ["cover.pdf", "consult-D1.pdf"]
    faxes = office.json("fax", "list")
    assert [(f["id"], f["number"], f["recipient"], f["link"], f["patient_id"]) for f in faxes] == \
        [("F1", "617-555-0199", "Dr Rita Referrer", "D1", "P1")]
    rows = office.json("report", "disclosures", "P1")
    assert [(r["id"], r["recipient"], r["what"], r["purpose"], r["accountable"], r["exempt_as"]) for r in rows] == \
        [("F1", "Dr Rita Referrer", "consult letter D1", "treatment: consult letter D1", False, "treatment")]
    # the same destination again needs --again; another one does not
    before = snapshot(office.home)
    twice = office("doc", "send", "D1")
    assert twice.exit_code == 1 and "D1 was sent by fax to 617-555-0199" in twice.stderr and "--again" in twice.stderr
    assert snapshot(office.home) == before
    assert len(office.json("doc", "send", "D1", "--again")["sends"]) == 2
    assert office.json("doc", "send", "D1", "--fax", "617-555-0155")["sends"][-1]["fax_id"] == "F3"
    assert len(office.gateway.requests) == 3


def test_a_prior_authorization_is_payment_a_sick_note_is_accountable(office):
    new_doc(office, "--recipient", "Acme Health", "--fax", "617-555-0188", kind="prior-auth",
            text="Requesting authorization for an echocardiogram.\n")
    new_doc(office, "--recipient", "Her employer", "--fax", "617-555-0177", kind="sick-note",
            text="Ms Lopez may return to work on Monday.\n")
    for doc_id in ("D1", "D2"):
        office.ok("doc", "sign", doc_id, env={"MEDSEC_USER": "S1"})
        office.ok("doc", "send", doc_id)
    rows = office.json("report", "disclosures", "P1")
    assert [(r["link"], r["accountable"], r["exempt_as"]) for r in rows] == [("D1", False, "payment"),
                                                                             ("D2", True, "")]
    assert [r["link"] for r in office.json("report", "disclosures", "P1", "--required-only")] == ["D2"]


def test_a_fax_the_gateway_refuses_is_not_recorded(office):
    new_doc(office, *TO_REFERRER)
    office.ok("doc", "sign", "D1", env={"MEDSEC_USER": "S1"})
    office.gateway.numbered = ""
    office.gateway.answer = (422, {"message": "bad number"})
    failed = office("doc", "send", "D1")
    assert failed.exit_code == 1 and "D1 not sent by fax to 617-555-0199" in failed.stderr
    assert office.json("doc", "show", "D1")["sends"] == [] and office.json("fax", "list") == []
    assert [e["outcome"] for e in office.json("audit") if e["command"] == "doc send" and e["outcome"] != "begun"] \
        == ["not sent: the gateway refused it", "exit 1"]  # (begun: the claim and its release, each a commit)


def test_sent_by_email_with_the_pdf_attached(staffed):
    write_config(staffed, "practice.yaml", LETTERHEAD)
    new_doc(staffed, "--recipient", "Dr Rita Referrer", "--email", "rita@example.net")
    staffed.ok("doc", "sign", "D1", env={"MEDSEC_USER": "S1"})
    sent = staffed.json("doc", "send", "D1")
    assert [(s["via"], s["to"], s["mail_id"]) for s in sent["sends"]] == [("email", "rita@example.net", "L1")]
    ((recipients, raw),) = staffed.inbox.messages
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert recipients == ["rita@example.net"] and message["To"] == "rita@example.net"
    assert message["Subject"] == "Consult letter D1 from Test Clinic"  # no patient named
    body = message.get_body(("plain",)).get_content()
    assert "Please find attached consult letter D1" in body and "Lopez" not in body
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "consult-D1.pdf"
    text = " ".join(pdf_text(attachment.get_content()).split())
    assert "Re: Ana Lopez" in text and "Electronically signed by Dr A" in text
    rows = staffed.json("report", "disclosures", "P1")
    assert [(r["id"], r["recipient"], r["address"], r["accountable"]) for r in rows] == \
        [("L1", "Dr Rita Referrer", "rita@example.net", False)]
    assert staffed("doc", "send", "D1").exit_code == 1
    assert staffed.json("doc", "send", "D1", "--again")["sends"][-1]["mail_id"] == "L2"


@pytest.mark.parametrize("args,code,text", [
    (["send", "D1", "--fax", "fax me"], 2, "--fax 'fax me' is not a fax number"),
    (["send", "D1", "--email", "not an address"], 2, "is not an email address"),
    (["send", "D1", "--fax", "617-555-0199", "--email", "a@example.net"], 2, "not both"),
    (["send", "D2"], 2, "D2 names no fax number or email address"),
    (["send", "D01"], 2, ""),
    (["sign", "X1"], 2, ""),
    (["pdf", "DD", "-o", "out.pdf"], 2, ""),
    (["addendum", "D1", "--file", "-"], 2, "the text is empty"),
    (["addendum", "D1", "--file", "-", "--author", "S9"], 2, "--author 'S9': no such staff member"),
    (["send", "D99"], 1, "no document D99"),
    (["sign", "D99"], 1, "no document D99"),
])
def test_bad_input_writes_nothing(office, tmp_path, args, code, text):
    new_doc(office, *TO_REFERRER)
    new_doc(office)  # addressed to no one
    for doc_id in ("D1", "D2"):
        office.ok("doc", "sign", doc_id, env={"MEDSEC_USER": "S1"})
    before = snapshot(office.home)
    result = office("doc", *args, input=("More.\n" if "--author" in args else "") if "addendum" in args else None,
                    env={"MEDSEC_USER": "S1"})
    assert result.exit_code == code and text in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("medsec: error: ")
    assert snapshot(office.home) == before and office.gateway.requests == []


def test_signed_in_only_the_author_signs_with_their_key(clinic, secrets_dir):
    admin, desk, doctor = (signed_in(clinic, s, secrets_dir) for s in ("S1", "S2", "S3"))
    made = clinic.json("doc", "new", "--patient", "P1", "--author", "S3", "--kind", "note", "--file", "-",
                       input="Seen for a cough; lungs clear.\n", env=desk)
    assert made["id"] == "D1"
    for env in (desk, admin):  # front desk and the administrator hold no documents.sign
        assert clinic("doc", "sign", "D1", env=env).exit_code == 1
    signed = clinic.json("doc", "sign", "D1", env=doctor)
    assert signed["signed"]["by"] == "S3" and signed["signature"]["by"] == "S3" and "sig" in signed["signature"]
    proof = clinic.json("verify", "D1", env=admin)
    assert (proof["sign-off"], proof["valid"], proof["signed_by"], proof["name"]) == \
        ("document signature", True, "S3", "Dr Phil Sician")
    assert clinic("check", env=admin).exit_code == 0
    # later updates (a send, the filing) leave the signature valid; the text changed does not
    edit_doc(clinic, "D1", lambda r: r.update(sends=[{"at": "x", "via": "fax", "to": "1"}]))
    assert clinic("verify", "D1", env=admin).exit_code == 0
    edit_doc(clinic, "D1", lambda r: r["filed"].update(sha256="0" * 64))  # another PDF in the chart
    one_line(clinic("verify", "D1", env=admin), 3, "D1 was changed since S3 signed it")
    edit_doc(clinic, "D1", lambda r: r.update(filed=signed["filed"], to={"name": "Dr Elsewhere", "fax": "1"}))
    one_line(clinic("verify", "D1", env=admin), 3, "D1 was changed since S3 signed it")
    edit_doc(clinic, "D1", lambda r: r.update(text="Seen for a cough; lungs full of crackles.\n"))
    one_line(clinic("verify", "D1", env=admin), 3, "D1 was changed since S3 signed it")
    checked = clinic("check", "--json", env=admin)
    assert checked.exit_code == 3
    assert {p["file"] for p in json.loads(checked.stdout)} == {"D1"}


def test_signed_in_a_physician_who_is_not_the_author_is_refused(clinic, secrets_dir):
    admin = signed_in(clinic, "S1", secrets_dir)
    clinic.ok("staff", "add", "--name", "Dr Other", "--role", "physician", "--npi", "1245319599", env=admin)
    clinic.ok("staff", "passphrase", "S5", "--passphrase-file", secrets_dir / "S4", env=admin)
    clinic.ok("doc", "new", "--patient", "P1", "--author", "S3", "--kind", "note", "--file", "-",
              input="Seen.\n", env=admin)
    other = clinic("login", "S5", "--passphrase-file", secrets_dir / "S4", env={"MEDSEC_NOW": "2026-11-26T10:00:00"})
    env = {"MEDSEC_SESSION": other.stdout.strip().partition("=")[2].strip("'"), "MEDSEC_USER": ""}
    refused = clinic("doc", "sign", "D1", env=env)
    assert refused.exit_code == 1 and "only S3 (Dr Phil Sician), the author of D1, may sign it" in refused.stderr
    assert clinic.json("doc", "show", "D1", env=admin)["status"] == "draft"


def test_only_a_member_who_may_sign_authors_or_signs(office):
    """A front-desk author is refused when the draft is written (doc new, addendum); a draft whose
    author's role lost documents.sign, or who was deactivated, is not signed, in an open practice too."""
    new_doc(office)
    office.ok("doc", "sign", "D1", env={"MEDSEC_USER": "S1"})
    new_doc(office, author="S2")
    before = snapshot(office.home)
    one_line(office("doc", "new", "--patient", "P1", "--author", "S4", "--kind", "sick-note", "--file", "-",
                    input="May return to work.\n"), 1, "S4 (Fran Desk, front-desk) may not sign documents")
    one_line(office("doc", "addendum", "D1", "--author", "S4", "--file", "-", input="More.\n"), 1,
             "S4 (Fran Desk, front-desk) may not sign documents")
    assert snapshot(office.home) == before
    write_config(office, "roles.yaml", "roles:\n  physician: {like: physician, remove: [documents.sign]}\n")
    one_line(office("doc", "sign", "D2", env={"MEDSEC_USER": "S2"}), 1, "S2 (physician) may not sign documents")
    write_config(office, "roles.yaml", "roles: {}\n")
    office.ok("staff", "deactivate", "S2")
    one_line(office("doc", "sign", "D2", env={"MEDSEC_USER": "S2"}), 1, "S2 (Dr B) was deactivated")
    assert office.json("doc", "show", "D2")["status"] == "draft"


def test_an_overdue_draft_is_overdue_in_its_authors_tasks(office):
    new_doc(office, env={"MEDSEC_NOW": "2026-11-20T09:00:00"})
    assert [(t["text"], t["due"]) for t in office.json("task", "list", "--overdue", "--for", "S1")] == \
        [("sign consult letter D1", "2026-11-23")]
    office.ok("doc", "sign", "D1", env={"MEDSEC_USER": "S1"})
    assert office.json("task", "list", "--overdue") == []


def test_a_restricted_chart_s_documents_are_refused_by_id(clinic, secrets_dir, tmp_path):
    admin, desk, doctor = (signed_in(clinic, s, secrets_dir) for s in ("S1", "S2", "S3"))
    clinic.ok("doc", "new", "--patient", "P1", "--author", "S3", "--kind", "note", "--recipient", "Dr R", "--fax",
              "617-555-0199", "--file", "-", input="Seen for a cough.\n", env=desk)
    clinic.ok("doc", "sign", "D1", env=doctor)
    clinic.ok("patient", "restrict", "P1", "--to-role", "physician", env=admin)
    before = snapshot(clinic.home)
    for args in (["show", "D1"], ["pdf", "D1", "-o", tmp_path / "out.pdf"], ["send", "D1"], ["edit", "D1", "--file",
                 "-"], ["addendum", "D1", "--file", "-"], ["sign", "D1"]):
        refused = clinic("doc", *args, input="More.\n", env=desk)
        assert refused.exit_code == 1 and ("P1's chart is restricted to physician" in refused.stderr
                                           or "documents.sign" in refused.stderr), (args, refused.stderr)
    assert not (tmp_path / "out.pdf").exists()
    assert clinic.json("doc", "show", "D1", env=doctor)["sends"] == []
    assert snapshot(clinic.home) == before


def test_two_signs_at_once_sign_once(office, forks):
    """Two `doc sign` processes at once: one signs, the other is refused; one filing, one signature."""
    forker = forks({**os.environ, **office.env, "MEDSEC_USER": "S1"}, timeout=60)
    for round_no in range(4):
        new_doc(office)
        doc_id = f"D{round_no + 1}"
        results = [forker.wait(i) for i in forker.start_all([["doc", "sign", doc_id, "--json"]] * 2)]
        assert sorted(code for code, _, _ in results) == [0, 1], results
        (loser,) = [err for code, _, err in results if code == 1]
        assert f"{doc_id} was changed while it was being signed" in loser or f"{doc_id} was signed by S1" in loser
    attachments = office.json("patient", "show", "P1")["attachments"]
    assert [a["name"] for a in attachments] == [f"consult-D{n}.pdf" for n in range(1, 5)]
    assert office("check").exit_code == 0


def test_text_that_is_not_utf8_or_holds_control_characters_is_bad_input(office, tmp_path):
    new_doc(office)
    office.ok("doc", "sign", "D1", env={"MEDSEC_USER": "S1"})
    latin1, escape = tmp_path / "latin1.txt", tmp_path / "escape.txt"
    latin1.write_bytes("Se\xf1ora L\xf3pez\n".encode("latin-1"))
    escape.write_text("Seen \x1b[31mtoday\n")
    before = snapshot(office.home)
    for path, text in ((latin1, "is not UTF-8 text"), (escape, "control character (U+001B)"),
                       (tmp_path / "missing.txt", "missing.txt")):
        one_line(office("doc", "new", "--patient", "P1", "--author", "S1", "--kind", "note", "--file", path), 2,
                 text)
        one_line(office("doc", "addendum", "D1", "--file", path), 2, text)
    assert snapshot(office.home) == before


def test_two_sends_at_once_fax_once_and_a_send_that_died_is_not_repeated_blindly(office, forks):
    """Two `doc send` processes at once: one faxes, the other is refused (the send is claimed on the
    document first). A send whose process died (its claim left behind) may have gone out: it is sent
    again only with --again, and not while it is fresh."""
    tests = str(Path(__file__).parent)  # the test channel plugin the practice's routes name
    forker = forks({**os.environ, **office.env, "MEDSEC_USER": "S1", "PYTHONPATH": tests}, timeout=60)
    for round_no in range(3):
        new_doc(office, *TO_REFERRER)
        doc_id = f"D{round_no + 1}"
        office.ok("doc", "sign", doc_id, env={"MEDSEC_USER": "S1"})
        results = [forker.wait(i) for i in forker.start_all([["doc", "send", doc_id, "--json"]] * 2)]
        assert sorted(code for code, _, _ in results) == [0, 1], results
        (loser,) = [err for code, _, err in results if code == 1]
        assert f"{doc_id} is being sent" in loser or f"{doc_id} was sent by fax" in loser, loser
        assert len(office.json("doc", "show", doc_id)["sends"]) == 1
    assert len([r for r in office.gateway.requests if r["method"] == "POST"]) == 3
    # a claim left by a process that died: refused while fresh, then only with --again
    edit_doc(office, "D1", lambda r: r.update(sends=[], sending={"via": "fax", "to": "617-555-0199",
                                                                  "at": "2026-11-26T09:55:00-05:00", "by": "S4"}))
    one_line(office("doc", "send", "D1", "--again"), 1, "D1 is being sent by fax to 617-555-0199")
    later = {"MEDSEC_NOW": "2026-11-26T11:00:00"}
    one_line(office("doc", "send", "D1", env=later), 1, "did not finish: it may have gone out")
    assert office.json("doc", "send", "D1", "--again", env=later)["sends"][-1]["via"] == "fax"
    assert "sending" not in office.json("doc", "show", "D1")


def test_names_and_text_beyond_latin_1_are_printed_as_written(office, tmp_path):
    """The letter's PDF embeds a Unicode font when the text needs one: a Polish name, Greek and
    Cyrillic words are printed as written, not as '?' (the PDF's own fonts are Latin-1 only)."""
    office.ok("patient", "edit", "P1", "--first", "Łucja", "--last", "Żółkiewska")
    new_doc(office, "--recipient", "Dr Σοφία Παππά", text="Пациентка осмотрена. Η ασθενής είναι καλά.\n")
    office.ok("doc", "sign", "D1", env={"MEDSEC_USER": "S1"})
    office.ok("doc", "pdf", "D1", "-o", tmp_path / "d1.pdf")
    text = pdf_text((tmp_path / "d1.pdf").read_bytes())
    for words in ("Łucja Żółkiewska", "Dr Σοφία Παππά", "Пациентка осмотрена.", "Η ασθενής είναι καλά."):
        assert words in text, text
    assert "?" not in text.replace("?word", "")
