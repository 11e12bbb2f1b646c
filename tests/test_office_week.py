"""A week of the office through the CLI, the clock moved day by day (issue 19): a physician's time off
strands visits, which are rescheduled and each patient told once (counted at a real SMTP server and a
loopback SMS gateway); a lab order goes out as HL7 ORM^O01 (python-hl7 reads it back), its abnormal
ORU^R01 result opens the physician's review task, the front desk cannot mark it reviewed, and the
patient hears only after the review; referral and refill faxes are in the fax log behind cover sheets
with delivery status from the loopback gateway; letter reminders print as one PDF, none for visits
inside the mail lead time; a surgery's SMS keeps its instructions within its segments in English and
Spanish; and `report disclosures` accounts for the week's faxes and letters."""

import json

import hl7
import pytest
from helpers.backends import write_config
from helpers.files import snapshot
from pypdf import PdfReader

from medsec.communications.sms import segments

MON, TUE, WED, FRI = "2026-11-30", "2026-12-01", "2026-12-02", "2026-12-04"
TYPES = """\
types:
  follow-up: {duration: 20}
  physical: {duration: 40}
  surgery:
    duration: 90
    description: Outpatient surgery
    instructions: Nothing to eat or drink after midnight. Bring your insurance card.
    translations:
      es:
        description: Cirugía ambulatoria
        instructions: Nada de comer ni beber después de la medianoche. Traiga su tarjeta de identificación.
"""


def at(day: str, hour: str = "08:00") -> dict:
    return {"MEDSEC_NOW": f"{day}T{hour}:00"}


@pytest.fixture
def week(small_practice, smtp, gateway, monkeypatch, tmp_path):
    """Dr A (S1), Dr B (S2), Nurse C (S3), Fran Desk (S4); P1, P2 by email (the SMTP server), P3, P4 by
    SMS and P5, P6 by letter; faxes and SMS to the loopback gateway; QUESTLAB's interface a folder."""
    medsec = small_practice(6)
    inbox, port = smtp
    monkeypatch.setenv("TEST_SMS_TOKEN", "tok")
    write_config(medsec, "channels.yaml",
                 f"email: {{host: 127.0.0.1, port: {port}, security: none, from: 'Test Clinic <desk@example.org>'}}\n"
                 f"sms: {{url: '{gateway.url}/v1/messages', token_env: TEST_SMS_TOKEN, from: 617-555-0100}}\n"
                 f"fax: {{gateway: http, url: '{gateway.url}/faxes', from: '+16175550100'}}\n"
                 "routes: {email: email, sms: sms, fax: fax}\n")
    write_config(medsec, "appointment-types.yaml", TYPES)
    (tmp_path / "lab-out").mkdir()
    write_config(medsec, "labs.yaml", "labs:\n  - id: QUESTLAB\n    name: Quest Diagnostics Boston\n"
                 f"    interface: {{transport: folder, folder: {tmp_path / 'lab-out'}}}\n")
    medsec.ok("staff", "add", "--name", "Fran Desk", "--role", "front-desk")
    for pid in ("P1", "P2"):
        medsec.ok("patient", "edit", pid, "--email", f"{pid.lower()}@example.com", "--preferred-channel", "email")
    for pid in ("P3", "P4"):
        medsec.ok("patient", "edit", pid, "--preferred-channel", "sms")
    for n, pid in ((5, "P5"), (6, "P6")):
        medsec.ok("patient", "edit", pid, "--preferred-channel", "letter", "--address", f"{n} Elm Street",
                  "--city", "Boston", "--state", "MA", "--zip", "02118")
    medsec.ok("patient", "edit", "P4", "--language", "es")
    gateway.numbered = "GW"
    medsec.inbox, medsec.gateway, medsec.lab_out = inbox, gateway, tmp_path / "lab-out"
    return medsec


def posted(gateway, path: str) -> list[dict]:
    return [json.loads(r["body"]) for r in gateway.requests if r["method"] == "POST" and r["path"] == path]


def test_a_week_of_the_office(week, tmp_path):
    m = week
    # -- Thursday: the week's visits are booked; Dr B (S2) then takes Monday and Tuesday off
    for pid, when in (("P1", f"{MON} 09:00"), ("P2", f"{MON} 14:00"), ("P3", f"{TUE} 09:00"),
                      ("P4", f"{TUE} 10:00")):
        m.ok("appt", "book", pid, "--provider", "S2", "--at", when, "--type", "follow-up")
    before = snapshot(m.home)
    stranded = m("staff", "off", "S2", "--from", MON, "--to", TUE, "--reason", "conference")
    assert stranded.exit_code == 1 and "strands 4 booked visit(s)" in stranded.stderr
    assert snapshot(m.home) == before
    moved = m.json("staff", "off", "S2", "--from", MON, "--to", TUE, "--reason", "conference",
                   "--reschedule", "--yes")
    assert [(v["id"], v["action"]) for v in moved["visits"]] == [(a, "moved") for a in ("A1", "A2", "A3", "A4")]
    for visit in moved["visits"]:
        appt = m.json("appt", "show", visit["id"])
        assert appt["provider"] != "S2" or appt["start"][:10] not in (MON, TUE)
    # each patient told once: two emails at the SMTP server, two texts at the gateway
    assert sorted(r for rcpts, _ in m.inbox.messages for r in rcpts) == ["p1@example.com", "p2@example.com"]
    assert len(posted(m.gateway, "/v1/messages")) == 2
    m.gateway.requests.clear()
    m.inbox.messages.clear()

    # -- Thursday: Dr A orders a lipid panel; the order goes to the lab as HL7 ORM^O01
    order = m.json("lab", "order", "P1", "--physician", "S1", "--dx", "E78.5", "--test", "LIPID",
                   "--lab", "QUESTLAB", "--fasting", "--send")
    (sent,) = [p for p in m.lab_out.iterdir() if p.is_file()]
    message = hl7.parse(sent.read_bytes().decode().replace("\n", "\r"))
    assert str(message.segment("MSH")[9]) == "ORM^O01^ORM_O01" and str(message.segment("ORC")[1]) == "NW"
    assert str(message.segment("ORC")[2]).split("^")[0] == order["id"]
    assert str(message.segment("OBR")[4]).startswith("57698-3^") and str(message.segment("DG1")[3]).startswith("E78.5")
    assert str(message.segment("PID")[5]).startswith(m.json("patient", "show", "P1")["last"])

    # -- Friday: the result comes back with a high cholesterol
    result = tmp_path / "result.hl7"
    result.write_text("\r".join([
        "MSH|^~\\&|QUESTHL7|QUEST-BOS|MEDSEC|TEST CLINIC|20261127093000||ORU^R01^ORU_R01|QL1|P|2.5.1",
        "PID|1||P1", f"ORC|RE|{order['id']}|QB-1||CM",
        f"OBR|1|{order['id']}|QB-1|57698-3^Lipid panel^LN|||20261127071500",
        "OBX|1|NM|2093-3^Cholesterol^LN||262|mg/dL||H|||F"]) + "\r")
    m.ok("lab", "import", result, env=at("2026-11-27", "09:30"))
    (review,) = [t for t in m.json("task", "list") if t["source"] == order["id"]]
    assert (review["owner"], review["priority"]) == ("S1", "high")
    before = snapshot(m.home)
    refused = m("lab", "review", order["id"], "--wording", "normal", env={**at("2026-11-27", "09:40"),
                                                                           "MEDSEC_USER": "S4"})
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert any(e["action"] == "refused" and e.get("user") == "S4" for e in m.json("audit"))
    too_early = m("lab", "notify", order["id"], env=at("2026-11-27", "09:45"))
    assert too_early.exit_code == 1 and m.inbox.messages == []
    m.ok("lab", "review", order["id"], "--wording", "abnormal-followup",
         env={**at("2026-11-27", "10:00"), "MEDSEC_USER": "S1"})
    m.ok("lab", "notify", order["id"], env=at("2026-11-27", "10:05"))
    assert [rcpts for rcpts, _ in m.inbox.messages] == [["p1@example.com"]]

    # -- Friday: a referral and a refill decision go out by fax, each behind a cover sheet
    m.ok("referral", "add", "P1", "--to", "Boston Cardiology", "--reason", "chest pain on exertion", "--dx", "I10",
         "--fax", "617-555-0190", env=at("2026-11-27", "11:00"))
    m.ok("referral", "send", "RF1", env=at("2026-11-27", "11:05"))
    m.ok("refill", "request", "P1", "--drug", "Atorvastatin", "--dose", "20 mg daily", "--pharmacy", "CVS Main St",
         "--via", "phone", "--pharmacy-fax", "617-555-0177", env=at("2026-11-27", "11:10"))
    m.ok("refill", "approve", "RX1", env={**at("2026-11-27", "11:20"), "MEDSEC_USER": "S1"})
    faxes = posted(m.gateway, "/faxes")
    assert len(faxes) == 2 and all(f["files"][0]["name"] == "cover.pdf" for f in faxes)
    m.gateway.statuses = ["delivered"]
    m.ok("fax", "status", env=at("2026-11-27", "12:00"))
    log = m.json("fax", "list")
    assert [(f["link"], f["cover"], f["status"]) for f in log] == [("RF1", True, "delivered"),
                                                                    ("RX1", True, "delivered")]

    # -- Friday: reminders. Letters print for visits far enough ahead; a surgery's SMS keeps its instructions.
    m.ok("appt", "book", "P5", "--provider", "S1", "--at", f"{WED} 09:00", "--type", "follow-up")
    m.ok("appt", "book", "P6", "--provider", "S1", "--at", "2026-11-30 11:00", "--type", "follow-up")
    m.ok("appt", "book", "P3", "--provider", "S1", "--at", f"{FRI} 09:00", "--type", "surgery")
    m.ok("appt", "book", "P4", "--provider", "S2", "--at", f"{FRI} 09:00", "--type", "surgery")
    letters = tmp_path / "letters.pdf"
    rows = {r["appointment_id"]: r for r in m.json("remind", "send", "--within", "7d", "--letters-pdf", letters,
                                                    env=at("2026-11-27", "16:00"))}
    p5, p6 = (next(a["id"] for a in m.json("appt", "list", "--patient", pid)) for pid in ("P5", "P6"))
    assert rows[p5]["status"] == "sent" and rows[p5]["channel"] == "print"
    assert rows[p6]["status"] == "skipped" and "would not arrive" in rows[p6]["reason"]
    pages = PdfReader(letters).pages
    assert len(pages) == 1 and "5 Elm Street" in pages[0].extract_text()
    texts = {t["to"]: t["body"] for t in posted(m.gateway, "/v1/messages")}
    english, spanish = texts["+16175550102"], texts["+16175550103"]
    assert "Nothing to eat or drink after midnight." in english and segments(english)[1] <= 2
    assert "medianoche" in spanish and segments(spanish) == ("UCS-2", segments(spanish)[1])
    assert segments(spanish)[1] <= 3

    # -- the patient asks who received her information
    disclosures = m.json("report", "disclosures", "P1", env=at(FRI))
    assert {(d["via"], d["link"]) for d in disclosures} >= {("fax", "RF1"), ("fax", "RX1")}
    assert all(d["date"][:10] == "2026-11-27" and d["recipient"] and d["purpose"] for d in disclosures
               if d["via"] == "fax")
    assert m.json("report", "disclosures", "P2", env=at(FRI)) == []
