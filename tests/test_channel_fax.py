"""The fax channel: HTTP API, email-to-fax (real SMTP) and command gateways."""

import base64
import sys
import tempfile

import pytest
from helpers.smtp import Keeper, closed_port, smtp_server

from medsec.plugin_types import DeliveryError, Message
from medsec_fax import channel as medsec_fax

COVER = b"%PDF-1.4\n% cover sheet\n%%EOF\n"
PAGES = b"II*\x00\x08\x00\x00\x00 a tiff page \xff\x00"


def fax(to="617-555-0199"):
    return Message(kind="fax", to=to, subject="Referral for P42", body="not faxed",
                   attachments=[("cover.pdf", "application/pdf", COVER),
                                ("../../lab results.tiff", "image/tiff", PAGES)])


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("TEST_FAX_TOKEN", "fax-tok")


def http_settings(gw, **extra):
    return {"gateway": "http", "url": gw.url + "/faxes", "token_env": "TEST_FAX_TOKEN",
            "from": "+16175550100", "timeout": 10, **extra}


# --- http ---------------------------------------------------------------------------

def test_http_posts_the_files_as_json(gateway, token, tmp_path):
    gateway.answer = (200, {"id": "FX-77"})
    assert medsec_fax.send(fax(), http_settings(gateway), str(tmp_path)) == "FX-77"
    request = gateway.last
    assert request["method"] == "POST" and request["path"] == "/faxes"
    assert request["headers"]["Authorization"] == "Bearer fax-tok"
    doc = gateway.json()
    assert doc["to"] == "+16175550199" and doc["from"] == "+16175550100"
    assert [(f["name"], f["mime"], base64.b64decode(f["data"])) for f in doc["files"]] == [
        ("cover.pdf", "application/pdf", COVER), ("../../lab results.tiff", "image/tiff", PAGES)]


@pytest.mark.parametrize("status, temporary", [(400, False), (422, False), (429, True), (500, True)])
def test_http_status_codes(gateway, token, tmp_path, status, temporary):
    gateway.answer = (status, {"message": "line busy or bad number"})
    with pytest.raises(DeliveryError) as caught:
        medsec_fax.send(fax(), http_settings(gateway), str(tmp_path))
    assert caught.value.temporary is temporary
    assert "line busy or bad number" in str(caught.value)


def test_http_slow_gateway_times_out_temporarily(gateway, token, tmp_path):
    gateway.answer = ("slow", None)
    with pytest.raises(DeliveryError) as caught:
        medsec_fax.send(fax(), http_settings(gateway, timeout=0.3), str(tmp_path))
    assert caught.value.temporary is True


def test_http_unset_token_is_permanent(gateway, tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_FAX_UNSET", raising=False)
    with pytest.raises(DeliveryError) as caught:
        medsec_fax.send(fax(), http_settings(gateway, token_env="TEST_FAX_UNSET"), str(tmp_path))
    assert caught.value.temporary is False and "TEST_FAX_UNSET" in str(caught.value)
    assert gateway.requests == []


@pytest.mark.parametrize("message, settings", [
    (fax(to="fax it please"), {"gateway": "http", "url": "http://127.0.0.1:9/"}),
    (Message(kind="fax", to="617-555-0199", subject="", body=""), {"gateway": "http",
                                                                  "url": "http://127.0.0.1:9/"}),
    (fax(), {"gateway": "pigeon"}),
    (fax(), {}),
])
def test_bad_input_is_permanent(tmp_path, message, settings):
    with pytest.raises(DeliveryError) as caught:
        medsec_fax.send(message, settings, str(tmp_path))
    assert caught.value.temporary is False


# --- email-to-fax -------------------------------------------------------------------

def test_email_gateway_mails_the_files(tmp_path):
    keeper = Keeper()
    with smtp_server(keeper) as server:
        settings = {"gateway": "email", "domain": "fax.example.org",
                    "smtp": {"host": "127.0.0.1", "port": server.port, "security": "none",
                             "from": "frontdesk@clinic.example"}}
        delivery_id = medsec_fax.send(fax(), settings, str(tmp_path))
    assert len(keeper.mails) == 1
    assert keeper.mails[0][1] == ["16175550199@fax.example.org"]
    msg = keeper.parsed()
    assert msg["Message-ID"] == delivery_id
    assert msg["Subject"] == "Referral for P42"
    assert "not faxed" not in msg.get_body(("plain",)).get_content()
    parts = [(p.get_filename(), p.get_content_type(), p.get_content()) for p in msg.iter_attachments()]
    assert parts == [("cover.pdf", "application/pdf", COVER),
                     ("../../lab results.tiff", "image/tiff", PAGES)]


def test_email_gateway_refused_number_is_permanent(tmp_path):
    keeper = Keeper(refuse={"16175550199@fax.example.org": "550 no such fax number"})
    with smtp_server(keeper) as server:
        settings = {"gateway": "email", "domain": "fax.example.org",
                    "smtp": {"host": "127.0.0.1", "port": server.port, "security": "none",
                             "from": "frontdesk@clinic.example"}}
        with pytest.raises(DeliveryError) as caught:
            medsec_fax.send(fax(), settings, str(tmp_path))
    assert caught.value.temporary is False and str(caught.value).startswith("fax:")


def test_email_gateway_down_is_temporary(tmp_path):
    with closed_port() as port:
        settings = {"gateway": "email", "domain": "fax.example.org",
                    "smtp": {"host": "127.0.0.1", "port": port, "security": "none",
                             "from": "frontdesk@clinic.example"}}
        with pytest.raises(DeliveryError) as caught:
            medsec_fax.send(fax(), settings, str(tmp_path))
    assert caught.value.temporary is True


@pytest.mark.parametrize("settings", [{"gateway": "email", "smtp": {"from": "a@b.example"}},
                                      {"gateway": "email", "domain": "fax.example.org"}])
def test_email_gateway_needs_domain_and_smtp(tmp_path, settings):
    with pytest.raises(DeliveryError) as caught:
        medsec_fax.send(fax(), settings, str(tmp_path))
    assert caught.value.temporary is False


# --- command ------------------------------------------------------------------------

SENDFAX = """\
import os, shutil, stat, sys
number, path, out = sys.argv[1:4]
name = os.path.basename(path)
shutil.copy(path, os.path.join(out, name))
modes = [oct(stat.S_IMODE(os.stat(p).st_mode)) for p in (path, os.path.dirname(path))]
with open(os.path.join(out, name + ".info"), "w") as f:
    f.write(" ".join([number, *modes]))
print(f"job-{name}")
print("more output")
"""


@pytest.fixture
def sendfax(tmp_path):
    """A fake sendfax: copies its file argument into out/ and prints a job id."""
    script = tmp_path / "sendfax.py"
    script.write_text(SENDFAX)
    out = tmp_path / "out"
    out.mkdir()
    return [sys.executable, str(script), "{number}", "{file}", str(out)], out


def test_command_runs_once_per_file(sendfax, tmp_path, monkeypatch):
    command, out = sendfax
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # to see the folder go away
    delivery_id = medsec_fax.send(fax(), {"gateway": "command", "command": command}, str(tmp_path))
    # Files are numbered in order; a name carries no path ("../../lab results.tiff").
    assert delivery_id == "job-01-cover.pdf,job-02-lab_results.tiff"
    assert (out / "01-cover.pdf").read_bytes() == COVER
    assert (out / "02-lab_results.tiff").read_bytes() == PAGES
    # The number's digits; the file 0600 in a 0700 folder, removed afterwards.
    assert (out / "01-cover.pdf.info").read_text().split() == ["16175550199", "0o600", "0o700"]
    assert not list(tmp_path.glob("medsec-fax-*"))


def test_command_with_all_files_at_once(tmp_path):
    script = tmp_path / "all.py"
    script.write_text("import sys\nprint('batch', len(sys.argv) - 2, sys.argv[1])\n")
    command = [sys.executable, str(script), "{number}", "{files}"]
    delivery_id = medsec_fax.send(fax(), {"gateway": "command", "command": command}, str(tmp_path))
    assert delivery_id == "batch 2 16175550199"


def test_command_without_output_gets_a_hash_id(tmp_path):
    script = tmp_path / "quiet.py"
    script.write_text("")
    command = [sys.executable, str(script), "{file}"]
    first = medsec_fax.send(fax(), {"gateway": "command", "command": command}, str(tmp_path))
    again = medsec_fax.send(fax(), {"gateway": "command", "command": command, "timeout": 50},
                            str(tmp_path))
    other = medsec_fax.send(fax(to="617-555-0123"), {"gateway": "command", "command": command},
                            str(tmp_path))
    assert first.startswith("fax-") and first == again != other


def test_command_failure_is_temporary_with_stderr(tmp_path):
    script = tmp_path / "busy.py"
    script.write_text("import sys\nprint('dialing', file=sys.stderr)\n"
                      "print('modem busy', file=sys.stderr)\nsys.exit(1)\n")
    command = [sys.executable, str(script), "{number}", "{file}"]
    with pytest.raises(DeliveryError) as caught:
        medsec_fax.send(fax(), {"gateway": "command", "command": command}, str(tmp_path))
    assert caught.value.temporary is True
    assert "modem busy" in str(caught.value) and "dialing" not in str(caught.value)


def test_command_timeout_is_temporary(tmp_path):
    script = tmp_path / "hang.py"
    script.write_text("import time\ntime.sleep(30)\n")
    command = [sys.executable, str(script), "{file}"]
    with pytest.raises(DeliveryError) as caught:
        medsec_fax.send(fax(), {"gateway": "command", "command": command, "timeout": 0.5},
                        str(tmp_path))
    assert caught.value.temporary is True


@pytest.mark.parametrize("command", [["/nonexistent/sendfax", "{file}"], ["sendfax", "-d", "{number}"],
                                     [], "", None, [1, 2]])
def test_bad_command_is_permanent(tmp_path, command):
    with pytest.raises(DeliveryError) as caught:
        medsec_fax.send(fax(), {"gateway": "command", "command": command}, str(tmp_path))
    assert caught.value.temporary is False


# --- delivery status ----------------------------------------------------------------

def test_http_status_maps_the_gateways_words(gateway, token, tmp_path):
    for word, ours in [("completed", "delivered"), ("Line Busy", "busy"), ("no_answer", "no-answer"),
                       ("queued", "sent"), ("error", "failed")]:
        gateway.statuses = [word]
        assert medsec_fax.status("FX 7/a", http_settings(gateway), str(tmp_path)) == ours
    assert gateway.last["method"] == "GET" and gateway.last["path"] == "/faxes/FX%207%2Fa"
    assert gateway.last["headers"]["Authorization"] == "Bearer fax-tok"
    gateway.statuses = ["teleported"]
    with pytest.raises(DeliveryError) as caught:
        medsec_fax.status("FX-7", http_settings(gateway, status_url=gateway.url + "/status"), str(tmp_path))
    assert caught.value.temporary is False and gateway.last["path"] == "/status/FX-7"


def test_status_from_other_gateways_is_not_known(tmp_path):
    with pytest.raises(DeliveryError) as caught:
        medsec_fax.status("job-1", {"gateway": "command", "command": ["x", "{file}"]}, str(tmp_path))
    assert caught.value.temporary is False and "reports no delivery status" in str(caught.value)
