"""One test per hook in medsec/hookspecs.py (test_hook_<name>), and a test that
fails when a hook has none.

Each hook is tested through the command that calls it, with an uninstalled
plugin module loaded by MEDSEC_PLUGINS: what it registers is used and listed
by `medsec plugins`, event hooks receive the committed record (and nothing
when a command is refused), a failing event hook is a warning. For every
hook, an implementation with a wrong argument name is refused
(test_a_wrong_argument_name_is_refused).
"""

import importlib
import json
import re
import sys
import textwrap
import tomllib
import uuid
from pathlib import Path

import pluggy
import pytest

from medsec import hookspecs
from medsec.errors import PluginError
from medsec.plugin_discovery import DEFAULT_PLUGINS, EVENT_HOOKS, SHIPPED_PLUGINS, events_may_be_heard
from medsec.plugins import collect, fire, get_plugin_manager


def hook_names() -> set[str]:
    pm = get_plugin_manager(disabled=[], extra=[], entry_points=False)
    return {name for name in dir(pm.hook) if not name.startswith("_")}


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """plugin(source) -> a module name to put in MEDSEC_PLUGINS (uninstalled plugin)."""
    folder = tmp_path / "plugin_modules"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    written = []

    def write(source: str) -> str:
        name = f"hooktest_{uuid.uuid4().hex[:10]}"
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
        written.append(name)
        importlib.invalidate_caches()
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


def calls(name: str) -> list:
    """What a test plugin recorded in its module-level CALLS list."""
    return importlib.import_module(name).CALLS


def listed(medsec, name: str) -> dict:
    """The plugin's entry in `medsec plugins --json` when loaded with MEDSEC_PLUGINS."""
    entries = {p["name"]: p for p in medsec.json("plugins", env={"MEDSEC_PLUGINS": name})}
    assert entries[name]["source"] == "MEDSEC_PLUGINS"
    return entries[name]


def manager(*names: str) -> pluggy.PluginManager:
    return get_plugin_manager(disabled=[], extra=list(names), entry_points=False)


# -- the registry of tests ------------------------------------------------------------
def test_every_hook_has_a_test():
    tests = {name.removeprefix("test_hook_") for name in globals() if name.startswith("test_hook_")}
    assert sorted(hook_names() - tests) == [], "hooks without a test_hook_<name>"
    assert sorted(tests - hook_names()) == [], "test_hook_<name> for a hook that does not exist"


def test_hookspecs_module_and_manager_agree():
    specs = {name for name, f in vars(hookspecs).items()
             if callable(f) and hasattr(f, "medsec_spec")}
    assert specs == hook_names() and len(specs) >= 15


@pytest.mark.parametrize("hook", sorted(hook_names()))
def test_a_wrong_argument_name_is_refused(plugin, hook):
    """pluggy's PluginValidationError becomes a PluginError (exit 3) naming hook and argument."""
    name = plugin(f"""
        from medsec import hookimpl

        @hookimpl
        def {hook}(not_an_argument_of_this_hook):
            pass
    """)
    with pytest.raises(PluginError) as raised:
        manager(name)
    assert isinstance(raised.value.__cause__, pluggy.PluginValidationError)
    assert hook in raised.value.message and "not_an_argument_of_this_hook" in raised.value.message
    assert raised.value.exit_code == 3
    assert raised.value.hint == f"disable it with MEDSEC_DISABLE_PLUGINS={name}"


def test_a_wrong_argument_name_is_exit_3_on_the_command_line(medsec, plugin):
    name = plugin("""
        from medsec import hookimpl

        @hookimpl
        def patient_created(pateint):
            pass
    """)
    medsec.ok("init", "--security", "open")
    result = medsec("plugins", env={"MEDSEC_PLUGINS": name})
    assert result.exit_code == 3
    assert f"plugin {name!r}" in result.stderr and "pateint" in result.stderr


@pytest.fixture
def clinic(practice):
    """One physician (S1) working weekday mornings; patients P1, P2. Today is Thu 2026-11-26."""
    practice.ok("staff", "add", "--name", "Dr A", "--role", "physician", "--npi", "1234567893")
    practice.ok("staff", "hours", "S1", "--day", "mon-fri", "--from", "08:00", "--to", "12:00")
    practice.ok("patient", "add", "--first", "Ana", "--last", "Lopez", "--dob", "1980-02-03",
              "--phone", "617-555-0100")
    practice.ok("patient", "add", "--first", "Bo", "--last", "Lind", "--dob", "1971-05-06")
    return practice


# -- registration hooks -------------------------------------------------------------------
def test_hook_register_commands(practice, plugin):
    name = plugin("""
        import click
        from medsec import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.group()
            def front():
                "Front-desk extras."

            @front.command()
            @click.option("--count", type=int, default=1)
            def ring(count):
                click.echo("ring " * count)
    """)
    env = {"MEDSEC_PLUGINS": name}
    assert practice.ok("front", "ring", "--count", "2", env=env).stdout == "ring ring \n"
    assert "front" in practice.ok("--help", env=env).stdout
    assert listed(practice, name)["registers"] == {"commands": ["front"]}
    bad = practice("front", "ring", "--count", "x", env=env)  # click usage errors: exit 2
    assert bad.exit_code == 2 and bad.stderr.startswith("medsec: error: ")


def test_hook_register_coding_tables(practice, plugin):
    name = plugin("""
        from medsec import hookimpl
        from medsec.plugin_types import CodingTable

        CODES = {"Z00.00": "Encounter for general adult medical examination"}
        CALLS = []

        def lookup(data_dir, code):
            CALLS.append(("lookup", data_dir, code))
            if code.upper() in CODES:
                return {"code": code.upper(), "system": "ICD-10-CM", "description": CODES[code.upper()]}

        def search(data_dir, text, limit):
            CALLS.append(("search", data_dir, text, limit))
            return [{"code": c, "system": "ICD-10-CM", "description": d}
                    for c, d in CODES.items() if text.lower() in d.lower()][:limit]

        @hookimpl
        def register_coding_tables(register):
            register(CodingTable("mini-icd", "ICD-10-CM", "a tiny ICD-10-CM", lookup, search))
    """)
    env = {"MEDSEC_PLUGINS": name}
    shown = practice.json("code", "show", "z00.00", "--system", "ICD-10-CM", env=env)
    assert shown == {"code": "Z00.00", "system": "ICD-10-CM",
                     "description": "Encounter for general adult medical examination",
                     "table": "mini-icd"}
    found = practice.json("code", "search", "adult", "--system", "mini-icd", "--limit", "5", env=env)
    assert [f["code"] for f in found] == ["Z00.00"]
    assert calls(name) == [("lookup", str(practice.home), "z00.00"),
                           ("search", str(practice.home), "adult", 5)]
    tables = practice.json("code", "tables", env=env)
    assert {"name": "mini-icd", "system": "ICD-10-CM", "description": "a tiny ICD-10-CM",
            "plugin": name} in tables
    assert listed(practice, name)["registers"] == {"coding_tables": ["mini-icd"]}


def test_hook_register_importers(practice, plugin, tmp_path):
    name = plugin("""
        from medsec import hookimpl
        from medsec.plugin_types import Importer

        def detect(header):
            return header[:1] == ["PATIENT|NAME|BORN"]

        def read(path, options):
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    if number == 1:
                        continue
                    last, first, dob = line.strip().split("|")
                    if not dob:
                        yield number, ValueError("no birth date")
                    else:
                        yield number, {"first": first, "last": last, "dob": dob}

        @hookimpl
        def register_importers(register):
            register(Importer("pipes", "patient", "pipe-separated export of OldPMS", read, detect))
    """)
    env = {"MEDSEC_PLUGINS": name}
    data = tmp_path / "old.txt"
    data.write_text("PATIENT|NAME|BORN\nLind|Bo|1971-05-06\nMoss|Cy|1962-07-08\n")
    summary = practice.json("patient", "import", data, env=env)  # detected by its header
    assert (summary["format"], summary["imported"], summary["first_id"]) == ("pipes", 2, "P1")
    assert practice.json("patient", "show", "P2")["last"] == "Moss"
    bad = tmp_path / "bad.txt"
    bad.write_text("PATIENT|NAME|BORN\nRoy|Flo|\n")
    result = practice("patient", "import", bad, "--input-format", "pipes", env=env)
    assert result.exit_code == 2 and f"{bad}:2: no birth date" in result.stderr
    unknown = practice("patient", "import", bad, "--input-format", "nope", env=env)
    assert unknown.exit_code == 2 and "pipes" in unknown.stderr  # the hint lists it
    assert listed(practice, name)["registers"] == {"importers": ["pipes"]}


def test_hook_register_exporters(practice, plugin):
    name = plugin("""
        from medsec import hookimpl
        from medsec.plugin_types import Exporter

        def write(records, stream):
            for p in records:
                stream.write(f"{p['id']}: {p['last'].upper()}, {p['first']}\\n")

        @hookimpl
        def register_exporters(register):
            register(Exporter("roll", "patient", "a call roll", write))
    """)
    env = {"MEDSEC_PLUGINS": name}
    practice.ok("patient", "add", "--first", "Ana", "--last", "Lopez", "--dob", "1980-02-03")
    practice.ok("patient", "add", "--first", "Bo", "--last", "Lind", "--dob", "1971-05-06")
    out = practice.ok("patient", "export", "--format", "roll", env=env).stdout
    assert out == "P1: LOPEZ, Ana\nP2: LIND, Bo\n"
    assert practice("patient", "export", "--format", "roll").exit_code == 2  # not loaded: unknown
    assert listed(practice, name)["registers"] == {"exporters": ["roll"]}


def test_hook_register_channels(clinic, plugin):
    name = plugin("""
        from medsec import hookimpl
        from medsec.plugin_types import Channel

        SENT = []

        def send(message, settings, data_dir):
            SENT.append((message.kind, message.to, message.meta.get("appointment_id"), settings,
                         data_dir))
            return f"pager-{len(SENT)}"

        @hookimpl
        def register_channels(register):
            register(Channel("pager", ("sms", "voice"), "the on-call pager", send))
    """)
    env = {"MEDSEC_PLUGINS": name}
    with open(clinic.home / "channels.yaml", "a") as f:
        f.write("pager:\n  prefix: '+1'\n")
    clinic.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-30 09:00", "--type", "follow-up")
    sent = clinic.json("remind", "send", "--for", "2026-11-30", "--channel", "pager", env=env)
    assert [(r["appointment_id"], r["channel"], r["status"]) for r in sent] == [("A1", "pager", "sent")]
    assert [
        ("sms", "617-555-0100", "A1", {"prefix": "+1"}, str(clinic.home))] == importlib.import_module(name).SENT
    assert listed(clinic, name)["registers"] == {"channels": ["pager"]}
    found = collect(manager(name), "register_channels")
    assert found["pager"].plugin == name and found["outbox"].plugin == "outbox"


def test_register_channels_with_a_delivery_status(practice, plugin, tmp_path):
    name = plugin("""
        from medsec import hookimpl
        from medsec.plugin_types import Channel

        ASKED = []

        def send(message, settings, data_dir):
            return f"job-{message.to}"

        def status(delivery_id, settings, data_dir):
            ASKED.append((delivery_id, settings))
            return "delivered"

        @hookimpl
        def register_channels(register):
            register(Channel("faxer", ("fax",), "a fax service", send, status))
    """)
    env = {"MEDSEC_PLUGINS": name}
    with open(practice.home / "channels.yaml", "a") as f:
        f.write("faxer:\n  line: 2\nroutes: {fax: faxer}\n")
    doc = tmp_path / "letter.pdf"
    doc.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
                    b"2 0 obj << /Type /Pages /Count 1 >> endobj\n3 0 obj << /Type /Page >> endobj\n%%EOF\n")
    sent = practice.json("fax", "send", doc, "--number", "617-555-0150", "--no-cover", env=env)
    assert (sent["channel"], sent["status"], sent["delivery_id"]) == ("faxer", "sent", "job-617-555-0150")
    (asked,) = practice.json("fax", "status", env=env)
    assert (asked["id"], asked["status"]) == (sent["id"], "delivered")
    assert importlib.import_module(name).ASKED == [("job-617-555-0150", {"line": 2})]


def test_hook_register_reports(clinic, plugin):
    name = plugin("""
        from medsec import hookimpl
        from medsec.plugin_types import Report

        def build(app, options):
            return ["provider", "from", "to", "user"], [
                {"provider": "S1", "from": options["start"].isoformat(),
                 "to": options["end"].isoformat(), "user": app.user}]

        @hookimpl
        def register_reports(register):
            register(Report("visits-by-provider", "Visits per provider.", build))
    """)
    env = {"MEDSEC_PLUGINS": name}
    rows = clinic.json("report", "visits-by-provider", "--from", "2026-11-01", "--to", "2026-11-20",
                       env=env)
    assert rows == [{"provider": "S1", "from": "2026-11-01", "to": "2026-11-20", "user": "tester"}]
    assert "visits-by-provider" in clinic.ok("report", "--help", env=env).stdout
    assert clinic("report", "visits-by-provider").exit_code == 2  # not loaded: no such report
    assert listed(clinic, name)["registers"] == {"reports": ["visits-by-provider"]}


# -- claims ---------------------------------------------------------------------------------
@pytest.fixture
def billed(demo):
    """The demo practice with claim C1 (draft): visit A1 of P140, insured by BAYSTATE."""
    demo.ok("bill", "charge", "A1", "--code", "99213", "--dx", "E11.9", "--dx", "I10")
    assert [c["id"] for c in demo.json("claim", "create", "--appt", "A1")] == ["C1"]
    assert demo.json("claim", "show", "C1")["payer"]["id"] == "BAYSTATE"
    return demo


def test_hook_register_claim_formats(billed, plugin, tmp_path):
    name = plugin("""
        from medsec import hookimpl
        from medsec.plugin_types import ClaimFormat

        def write(claims, options):
            head = f"ACME-FLAT {options['interchange_control']} {options['usage']}\\n"
            return (head + "".join(f"{c['id']}|{c['patient']['id']}|{c['total']}\\n"
                                   for c in claims)).encode()

        def validate(claim):
            return [] if claim.get("lines") else ["a claim needs at least one service line"]

        @hookimpl
        def register_claim_formats(register):
            register(ClaimFormat("acme-flat", "Acme Health's flat file", write, validate))
    """)
    env = {"MEDSEC_PLUGINS": name}
    billed.ok("claim", "validate", "C1", env=env)
    out = tmp_path / "c1.txt"
    billed.ok("claim", "export", "C1", "--format", "acme-flat", "-o", out, env=env)
    head, line = out.read_text().splitlines()
    assert head.startswith("ACME-FLAT ") and head.endswith(" P") and line == "C1|P140|125.00"  # production
    assert billed.json("claim", "show", "C1")["status"] == "submitted"
    unknown = billed("claim", "export", "C1", "--format", "acme-flat", "-o", out)  # not loaded
    assert unknown.exit_code == 2 and "acme-flat" in unknown.stderr
    assert listed(billed, name)["registers"] == {"claim_formats": ["acme-flat"]}


def test_hook_register_remittance_formats(billed, plugin, tmp_path):
    name = plugin("""
        import json

        from medsec import hookimpl
        from medsec.plugin_types import RemittanceFormat

        CALLS = []

        def read(raw):
            CALLS.append("read")
            return [json.loads(raw.decode().partition("\\n")[2])]

        @hookimpl
        def register_remittance_formats(register):
            register(RemittanceFormat("acme-remit", "Acme Health's remittance file",
                                      lambda raw: raw.startswith(b"ACME-REMIT"), read))
    """)
    env = {"MEDSEC_PLUGINS": name}
    billed.ok("claim", "status", "C1", "ready")
    billed.ok("claim", "status", "C1", "submitted")
    remit = {"trace": "T100", "method": "CHK", "paid_date": "2026-11-26", "total_paid": "80.00",
             "payer": {"name": "BAY STATE HEALTH PLAN", "id": "BSHP1"}, "payee": {},
             "claims": [{"claim_id": "C1", "status_code": "1", "charge": "125.00", "paid": "80.00",
                         "patient_responsibility": "0.00", "payer_claim_id": "PCN1",
                         "adjustments": [{"group": "CO", "reason": "45", "amount": "45.00",
                                          "quantity": ""}],
                         "remarks": [], "lines": []}],
             "provider_adjustments": []}
    path = tmp_path / "remit.txt"
    path.write_text("ACME-REMIT 1\n" + json.dumps(remit))
    dry = billed.json("claim", "post-remit", path, "--dry-run", env=env)  # detected by the format
    assert [p["claim_id"] for p in dry["posted"]] == ["C1"]
    assert billed.json("claim", "show", "C1")["status"] == "submitted"  # a dry run writes nothing
    posted = billed.json("claim", "post-remit", path, "--input-format", "acme-remit", env=env)
    assert [(p["claim_id"], p["status"], p["paid"]) for p in posted["posted"]] == [("C1", "paid", "80.00")]
    assert calls(name) == ["read", "read"]
    assert billed("claim", "post-remit", path).exit_code == 2  # not loaded: not readable
    assert listed(billed, name)["registers"] == {"remittance_formats": ["acme-remit"]}


def test_hook_register_transports(practice, plugin):
    name = plugin("""
        from medsec import hookimpl
        from medsec.plugin_types import Transport, TransportError

        CALLS = []
        WAITING = {"a.835": b"ISA*not really"}

        class Session:
            def __init__(self, settings, data_dir):
                if settings.get("refuse"):
                    raise TransportError("the pigeon refused", temporary=False)
                CALLS.append(("connect", settings["loft"], data_dir))

            def inbox(self):
                return sorted(WAITING)

            def fetch(self, name):
                CALLS.append(("fetch", name))
                return WAITING[name]

            def send(self, name, data):
                return f"loft/{name}"

            def close(self):
                CALLS.append("close")

        @hookimpl
        def register_transports(register):
            register(Transport("pigeon", "carrier pigeons", Session))
    """)
    env = {"MEDSEC_PLUGINS": name}
    (practice.home / "clearinghouses.yaml").write_text("clearinghouses:\n  - id: COOP\n    transport: pigeon\n"
                                                       "    loft: north\n")
    assert practice.json("clearinghouse", "test", env=env) == {
        "clearinghouse": "COOP", "transport": "pigeon", "connected": True, "waiting": ["a.835"]}
    assert calls(name) == [("connect", "north", str(practice.home)), "close"]
    polled = practice("clearinghouse", "poll", "--json", env=env)  # fetched; not an X12 file: reported, exit 1
    assert polled.exit_code == 1 and [f["name"] for f in polled.json()["failed"]] == ["a.835"]
    assert calls(name)[-2:] == [("fetch", "a.835"), "close"]
    with open(practice.home / "clearinghouses.yaml", "a") as f:
        f.write("    refuse: true\n")
    refused = practice("clearinghouse", "test", env=env)
    assert refused.exit_code == 3 and "clearinghouse COOP: the pigeon refused" in refused.stderr
    assert practice("clearinghouse", "test").exit_code == 2  # not loaded: an unknown transport
    assert listed(practice, name)["registers"] == {"transports": ["pigeon"]}


def test_hook_register_transcribers(two_patients, plugin, tmp_path):
    import wave

    name = plugin("""
        import wave
        from medsec import hookimpl
        from medsec.plugin_types import Transcriber, Transcript, TranscriptionError, Word

        CALLS = []

        def transcribe(path, job):
            with wave.open(path, "rb") as w:
                CALLS.append((w.getframerate(), w.getnchannels(), w.getsampwidth(), job.settings))
            if job.settings.get("down"):
                raise TranscriptionError("the scribe is out to lunch")
            assert job.load("notes") is None or job.load("notes") == b"seen"
            job.keep("notes", b"seen")
            job.progress(0.5)
            terms = job.vocabulary()["terms"]
            return Transcript([Word("dear", 0.0, 0.2, 0.9), Word(terms[-1].split()[-1], 0.2, 0.6, 0.1)], "")

        @hookimpl
        def register_transcribers(register):
            register(Transcriber("scribe", "a scribe in the next room", transcribe))
    """)
    env = {"MEDSEC_PLUGINS": name}
    audio = tmp_path / "dictated.wav"
    with wave.open(str(audio), "wb") as w:  # 8 kHz stereo: converted to 16 kHz mono by sox
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(range(0, 256, 3)) * 2000)
    args = ["dictation", "add", audio, "--patient", "P1", "--author", "S1", "--kind", "letter",
            "--recipient", "Dr Okafor", "--engine", "scribe"]
    (two_patients.home / "staff.yaml").write_text("staff:\n  - {id: S1, name: Dr Lee, role: physician}\n")
    from helpers.tools import need_tool

    need_tool("sox", "sox")
    record = two_patients.json(*args, env=env)
    assert record["text"] == "dear [?Okafor]\n"  # the recipient's name is in the practice's vocabulary
    assert record["transcript"]["engine"] == "scribe" and calls(name)[-1][:3] == (16000, 1, 2)
    assert (two_patients.home / "cache" / "scribe" / "notes").read_bytes() == b"seen"
    (two_patients.home / "dictation.yaml").write_text("engines:\n  scribe: {down: true}\n")
    refused = two_patients(*args, "--again", env=env)
    assert refused.exit_code == 3 and refused.stderr.startswith("medsec: error: transcriber scribe: the scribe is out")
    assert calls(name)[-1][3] == {"down": True}
    assert [d["id"] for d in two_patients.json("doc", "list", env=env)] == [record["id"]]
    assert two_patients(*args).exit_code == 2  # not loaded: no such engine
    assert listed(two_patients, name)["registers"] == {"transcribers": ["scribe"]}


def test_hook_validate_claim(billed, plugin):
    name = plugin("""
        from medsec import hookimpl

        CALLS = []

        @hookimpl
        def validate_claim(claim, payer):
            CALLS.append((claim["id"], payer["id"], payer["payer_id"]))
            if payer["id"] == "BAYSTATE" and not claim.get("prior_auth"):
                return ["Bay State requires a prior authorization number"]
            return []
    """)
    env = {"MEDSEC_PLUGINS": name}
    refused = billed("claim", "validate", "C1", env=env)
    assert refused.exit_code == 1
    assert "payer rule: Bay State requires a prior authorization number" in refused.stderr
    assert calls(name) == [("C1", "BAYSTATE", "BSHP1")]
    assert billed.json("claim", "show", "C1")["status"] == "draft"
    billed.ok("claim", "validate", "C1")  # without the plugin the claim is clean
    assert billed.json("claim", "show", "C1")["status"] == "ready"
    assert listed(billed, name)["hooks"] == ["validate_claim"]


def test_a_failing_validate_claim_is_a_plugin_error(billed, plugin):
    name = plugin("""
        from medsec import hookimpl

        @hookimpl
        def validate_claim(claim):
            raise KeyError("prior_auth")
    """)
    result = billed("claim", "validate", "C1", env={"MEDSEC_PLUGINS": name})
    assert result.exit_code == 3 and f"plugin {name!r} failed in validate_claim" in result.stderr
    assert billed.json("claim", "show", "C1")["status"] == "draft"


def test_hook_claim_status_changed(billed, plugin):
    name = recorder(plugin, "claim_status_changed", "claim, old_status, app",
                    "(claim['id'], old_status, claim['status'], app.user)")
    env = {"MEDSEC_PLUGINS": name}
    billed.ok("claim", "validate", "C1", env=env)  # a clean draft becomes ready
    billed.ok("claim", "status", "C1", "submitted", env=env)
    assert billed("claim", "status", "C1", "draft", env=env).exit_code == 1  # not allowed
    assert calls(name) == [("C1", "draft", "ready", "tester"), ("C1", "ready", "submitted", "tester")]
    assert listed(billed, name)["hooks"] == ["claim_status_changed"]


# -- event hooks ---------------------------------------------------------------------------
RECORDER = """
    from medsec import hookimpl

    CALLS = []

    @hookimpl
    def {hook}({args}):
        CALLS.append({record})
"""


def recorder(plugin, hook: str, args: str, record: str) -> str:
    return plugin(RECORDER.format(hook=hook, args=args, record=record))


def test_hook_patient_created(practice, plugin, tmp_path):
    name = recorder(plugin, "patient_created", "patient, app",
                    "(patient['id'], patient['last'], app.user, app.data_dir, app.command)")
    env = {"MEDSEC_PLUGINS": name}
    practice.ok("patient", "add", "--first", "Ana", "--last", "Lopez", "--dob", "1980-02-03", env=env)
    data = tmp_path / "new.csv"
    data.write_text("first,last,dob\nBo,Lind,1971-05-06\nCy,Moss,1962-07-08\n")
    practice.ok("patient", "import", data, env=env)
    practice.ok("patient", "import", data, "--dry-run", "--allow-duplicate", env=env)  # writes nothing
    home = str(practice.home)
    assert calls(name) == [("P1", "Lopez", "tester", home, "patient add"),
                           ("P2", "Lind", "tester", home, "patient import"),
                           ("P3", "Moss", "tester", home, "patient import")]
    assert listed(practice, name)["hooks"] == ["patient_created"]


def test_a_failing_patient_created_is_a_warning(practice, plugin):
    name = plugin("""
        from medsec import hookimpl

        @hookimpl
        def patient_created(patient):
            raise RuntimeError("crm unreachable")
    """)
    result = practice("patient", "add", "--first", "Ana", "--last", "Lopez", "--dob", "1980-02-03",
                      env={"MEDSEC_PLUGINS": name})
    assert result.exit_code == 0  # the patient is registered all the same
    assert f"medsec: warning: plugin {name!r} failed in patient_created: crm unreachable" in result.stderr
    assert practice.json("patient", "show", "P1")["last"] == "Lopez"


def test_hook_appointment_booked(clinic, plugin):
    name = recorder(plugin, "appointment_booked", "appointment, app",
                    "(appointment['id'], appointment['patient_id'], appointment['start'], "
                    "appointment['status'], app.user)")
    env = {"MEDSEC_PLUGINS": name}
    clinic.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-30 09:00", "--type", "follow-up",
              env=env)
    taken = clinic("appt", "book", "P2", "--provider", "S1", "--at", "2026-11-30 09:00",
                   "--type", "follow-up", env=env)
    assert taken.exit_code == 1  # refused: nothing booked, nothing fired
    clinic.ok("appt", "book", "P2", "--provider", "S1", "--at", "2026-12-01 09:00", "--type", "follow-up",
              "--repeat", "FREQ=WEEKLY;COUNT=2", env=env)
    assert calls(name) == [
        ("A1", "P1", "2026-11-30T09:00:00-05:00", "booked", "tester"),
        ("A2", "P2", "2026-12-01T09:00:00-05:00", "booked", "tester"),  # one call per occurrence
        ("A3", "P2", "2026-12-08T09:00:00-05:00", "booked", "tester"),
    ]
    assert listed(clinic, name)["hooks"] == ["appointment_booked"]


def test_hook_appointment_cancelled(clinic, plugin):
    name = recorder(plugin, "appointment_cancelled", "appointment, offers, app",
                    "(appointment['id'], appointment['status'], appointment['cancel_reason'], "
                    "offers, app.user)")
    env = {"MEDSEC_PLUGINS": name}
    clinic.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-30 09:00", "--type", "follow-up")
    clinic.ok("appt", "waitlist", "add", "P2", "--type", "follow-up", "--provider", "S1")
    clinic.ok("appt", "cancel", "A1", "--reason", "patient called", env=env)
    assert calls(name) == [("A1", "cancelled", "patient called", [
        {"waitlist_id": "W1", "patient_id": "P2", "slot": "2026-11-30T09:00:00-05:00",
         "provider": "S1", "type": "follow-up"}], "tester")]
    assert clinic("appt", "cancel", "A1", "--reason", "again", env=env).exit_code == 1
    assert len(calls(name)) == 1
    assert listed(clinic, name)["hooks"] == ["appointment_cancelled"]


def test_hook_appointment_rescheduled(clinic, plugin):
    name = recorder(plugin, "appointment_rescheduled", "appointment, old_start",
                    "(appointment['id'], old_start, appointment['start'])")
    env = {"MEDSEC_PLUGINS": name}
    clinic.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-30 09:00", "--type", "follow-up")
    clinic.ok("appt", "reschedule", "A1", "--at", "2026-12-01 10:00", env=env)
    refused = clinic("appt", "reschedule", "A1", "--at", "2026-12-02 14:00", env=env)  # S1 works mornings
    assert refused.exit_code == 1
    assert calls(name) == [("A1", "2026-11-30T09:00:00-05:00", "2026-12-01T10:00:00-05:00")]
    assert listed(clinic, name)["hooks"] == ["appointment_rescheduled"]


def test_hook_appointment_status_changed(clinic, plugin):
    name = recorder(plugin, "appointment_status_changed", "appointment, old_status",
                    "(appointment['id'], old_status, appointment['status'])")
    env = {"MEDSEC_PLUGINS": name}
    clinic.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-30 09:00", "--type", "follow-up")
    clinic.ok("appt", "status", "A1", "confirmed", env=env)
    refused = clinic("appt", "status", "A1", "seen", env=env)  # confirmed -> seen skips arrival
    assert refused.exit_code == 1
    assert calls(name) == [("A1", "booked", "confirmed")]
    assert listed(clinic, name)["hooks"] == ["appointment_status_changed"]


def test_hook_message_created(clinic, plugin):
    name = recorder(plugin, "message_created", "message, app",
                    "(message['id'], message['kind'], message['patient_id'], message['reason'], "
                    "app.user)")
    env = {"MEDSEC_PLUGINS": name}
    clinic.ok("call", "log", "--from", "P1", "--reason", "refill question", env=env)
    assert clinic("call", "log", "--from", "P1", "--reason", " ", env=env).exit_code == 2
    assert calls(name) == [("T1", "call", "P1", "refill question", "tester")]
    assert listed(clinic, name)["hooks"] == ["message_created"]


def test_fire_passes_each_implementation_the_arguments_it_asks_for(plugin):
    """As in pluggy, the plugin loaded last runs first."""
    first = plugin("""
        from medsec import hookimpl

        @hookimpl
        def patient_created(patient):
            patient["seen"].append("first")
    """)
    second = plugin("""
        from medsec import hookimpl

        @hookimpl
        def patient_created(app, patient):
            patient["seen"].append(("second", app))
    """)
    patient = {"id": "P7", "seen": []}
    fire(manager(first, second), "patient_created", patient=patient, app="APP")
    assert patient["seen"] == [("second", "APP"), "first"]


# -- which commands build the plugin manager to fire events ----------------------
def test_event_hooks_are_the_hookspecs_events_section():
    source = Path(hookspecs.__file__).read_text(encoding="utf-8")
    events = source.split("# -- events (after commit)")[1]
    assert set(re.findall(r"^def (\w+)\(", events, flags=re.M)) == EVENT_HOOKS


def test_the_plugins_medsec_ships_implement_no_event_hook():
    """`events_may_be_heard` skips building the plugin manager for events when only the
    default and shipped plugins would load: that holds only while none of them listens."""
    pyproject = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))
    assert set(pyproject["project"]["entry-points"]["medsec"].values()) == SHIPPED_PLUGINS
    pm = get_plugin_manager(disabled=[], extra=[])  # the default and the installed (shipped) plugins
    assert len(pm.list_name_plugin()) == len(SHIPPED_PLUGINS) + len(DEFAULT_PLUGINS)
    for hook in EVENT_HOOKS:
        assert [impl.plugin_name for impl in getattr(pm.hook, hook).get_hookimpls()] == [], hook


def test_events_may_be_heard_only_when_another_plugin_would_load(monkeypatch, plugin):
    monkeypatch.delenv("MEDSEC_PLUGINS", raising=False)
    assert not events_may_be_heard()
    monkeypatch.setenv("MEDSEC_PLUGINS", plugin("def nothing():\n    pass\n"))
    assert events_may_be_heard()


def test_hook_register_edi_formats(demo, plugin, tmp_path):
    """An inbound EdiFormat (a payer's own eligibility answer file) is detected and read by
    `clearinghouse import`, whose 271 importer posts what read() returns."""
    name = plugin("""
        import json

        from medsec import hookimpl
        from medsec.plugin_types import EdiFormat

        CALLS = []

        def read(raw):
            CALLS.append("read")
            return json.loads(raw.decode().partition("\\n")[2])

        @hookimpl
        def register_edi_formats(register):
            register(EdiFormat("acme-elig", "271", "Acme Health's eligibility answers",
                               detect=lambda raw: raw.startswith(b"ACME-ELIG"), read=read))
    """)
    env = {"MEDSEC_PLUGINS": name}
    asked = demo.json("elig", "check", "P140", "--date", "2026-11-27", "-o", tmp_path / "q.270")
    (inquiry,) = asked["inquiries"]
    answer = {"trace": inquiry["id"], "member_id": inquiry["member_id"], "state": "active", "active": True,
              "plan": "ACME GOLD", "group": "", "copay": "20.00", "coinsurance": "", "deductible": "",
              "deductible_remaining": "", "out_of_pocket": "", "out_of_pocket_remaining": "",
              "service_types": ["30"], "dates": {}, "benefits": [{"code": "1"}], "messages": [],
              "rejections": [], "patient": {"first": "", "last": ""}}
    path = tmp_path / "answers.txt"
    path.write_text("ACME-ELIG 1\n" + json.dumps([answer]))
    summary = demo.json("clearinghouse", "import", path, env=env)
    assert summary["transaction"] == "271"
    assert [(a["id"], a["state"], a["plan"]) for a in summary["answered"]] == [(inquiry["id"], "active", "ACME GOLD")]
    assert calls(name) == ["read"]
    assert demo("clearinghouse", "import", path).exit_code == 2  # not loaded: nothing reads it
