"""The kiosk server over HTTP (a real `medsec intake kiosk` process): links, submissions,
hostile input, tablets off loopback, TLS. The browser's side is test_intake_kiosk_browser.py."""

import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import uuid
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from helpers.cli import MEDSEC_BIN, Medsec, cli_env
from helpers.practices import init_demo

PATIENT_A, APPT_A = "P65", "A27"  # booked on the test day in the demo practice
PATIENT_B, APPT_B = "P181", "A19"
GONE = "expired or was already used"


# -- a practice and its kiosk for the module ------------------------------------------------
@pytest.fixture(scope="module")
def office(tmp_path_factory, templates) -> Medsec:
    home = tmp_path_factory.mktemp("kiosk") / "data"
    medsec = Medsec(home, cli_env(home))
    with pytest.MonkeyPatch.context() as patch:
        for key, value in medsec.env.items():
            patch.setenv(key, value)
        templates.copy(medsec, init_demo)
    return medsec


class Kiosk:
    def __init__(self, proc: subprocess.Popen, line: str):
        self.proc = proc
        self.url = line.removeprefix("kiosk serving on ").strip()
        parts = urlsplit(self.url)
        self.host, self.port, self.scheme = parts.hostname, parts.port, parts.scheme

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                context: ssl.SSLContext | None = None, host: str | None = None):
        if self.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(host or self.host, self.port, timeout=20,
                                                                           context=context)
        else:
            conn = http.client.HTTPConnection(host or self.host, self.port, timeout=20)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=20)
        return self.proc.returncode, err


def start(office: Medsec, *args: str, env: dict | None = None) -> Kiosk:
    proc = subprocess.Popen([MEDSEC_BIN, "intake", "kiosk", "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **office.env, **(env or {})})
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("kiosk serving on "):
        proc.kill()
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"the kiosk did not start: {line!r} {err}")
    return Kiosk(proc, line)


@pytest.fixture(scope="module")
def kiosk(office):
    server = start(office)
    yield server
    code, err = server.stop()
    assert code == 0, err
    assert "Traceback" not in err
    assert "\x1b" not in err and "\x07" not in err  # a client's bytes never reach the terminal


def link(office: Medsec, appt: str, *args: str, env: dict | None = None) -> dict:
    made = office.json("intake", "link", appt, *args, env=env)
    made["path"] = urlsplit(made["url"]).path
    return made


class Inputs(HTMLParser):
    """The form's inputs: name -> value (text inputs, hidden ones, textareas)."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}
        self._area: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name") and a.get("type") not in ("checkbox", "radio", "file", "submit"):
            self.values[a["name"]] = a.get("value") or ""
        if tag == "textarea" and a.get("name"):
            self._area = a["name"]
            self.values[self._area] = ""

    def handle_data(self, data):
        if self._area:
            self.values[self._area] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._area = None


def inputs(page: str) -> dict[str, str]:
    parser = Inputs()
    parser.feed(page)
    return parser.values


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]] | None = None) -> tuple[bytes, dict]:
    boundary = uuid.uuid4().hex
    out = b""
    for name, value in fields.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").encode()
        out += value.encode("utf-8", "surrogateescape") + b"\r\n"
    for name, (filename, data) in (files or {}).items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def filled(page: str) -> dict[str, str]:
    """What the page shows, completed with the registration's fields the record does not hold."""
    values = inputs(page)
    values.update({"registration.emergency_contact_name": "Pat <b>Kin</b>",
                   "registration.emergency_contact_phone": "617-555-0199", "lang": "en"})
    values["registration.sex"] = values.get("registration.sex") or "U"  # a select: the parser does not read it
    return values


def pending(office: Medsec, patient: str) -> list[dict]:
    return office.json("intake", "list", "--patient", patient, "--status", "all")


def healthy(kiosk: Kiosk) -> None:
    assert kiosk.get("/healthz")[:3:2] == (200, "ok")


# -- links -------------------------------------------------------------------------------------
def test_a_link_shows_only_its_patients_data(office, kiosk):
    a, b = link(office, APPT_A, "--form", "registration"), link(office, APPT_B, "--form", "registration")
    patient_a, patient_b = office.json("patient", "show", PATIENT_A), office.json("patient", "show", PATIENT_B)
    status, headers, page_a = kiosk.get(a["path"])
    assert status == 200
    assert headers["X-Frame-Options"] == "DENY" and headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in headers["Content-Security-Policy"] and "http" not in \
        headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer" and headers["X-Content-Type-Options"] == "nosniff"
    shown_a = inputs(page_a)
    assert shown_a["registration.last_name"] == patient_a["last"]
    assert shown_a["registration.phone"] == patient_a["phone"]
    _, _, page_b = kiosk.get(b["path"])
    assert inputs(page_b)["registration.last_name"] == patient_b["last"]
    for value in (patient_a["last"], patient_a["phone"], patient_a["email"], patient_a["address"]):
        assert value not in page_b
    assert kiosk.get("/k/KL1.not-the-secret-at-all")[0] == 410
    assert kiosk.get("/admin")[0] == 404
    assert kiosk.get("/static/../medsec.yaml")[0] == 404


def test_a_code_leads_to_the_forms_and_wrong_codes_are_limited(office, kiosk):
    made = link(office, APPT_B, "--form", "registration")
    status, _, start_page = kiosk.get("/")
    assert status == 200
    csrf = inputs(start_page)["csrf"]
    status, headers, _ = kiosk.request("POST", "/code", f"code={made['code'].lower()}&csrf={csrf}".encode(),
                                       {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 303
    status, _, page = kiosk.get(headers["Location"])
    assert status == 200 and inputs(page)["registration.last_name"]
    status, _, page = kiosk.request("POST", "/code", b"code=1-ABCD-EFGH&csrf=forged",
                                    {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400
    statuses = [kiosk.request("POST", "/code", f"code=9999-ABCD-EFGH&csrf={csrf}".encode(),
                              {"Content-Type": "application/x-www-form-urlencoded"})[0] for _ in range(31)]
    assert statuses[:30] == [400] * 30 and statuses[30] == 429  # kiosk.code_attempts: 30 an hour
    healthy(kiosk)


def test_a_submission_is_pending_and_its_link_then_refused(office, kiosk):
    made = link(office, APPT_A, "--form", "registration", "--form", "consent-to-treat")
    assert not [s for s in pending(office, PATIENT_A) if s["source"] == "kiosk"]
    _, _, page = kiosk.get(made["path"])
    values = filled(page)
    values.update({"consent-to-treat.agree": "on", "consent-to-treat.signer": "guardian",  # the patient is a minor
                   "consent-to-treat.signer_name": "Pat Kin", "consent-to-treat.signer_relationship": "parent",
                   "consent-to-treat.signature": "Pat Kin"})
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4 + b"\r\n--not-a-boundary\r\n"
    body, headers = multipart(values, {"registration.photo_id": ("card.png", png)}
                              if "registration.photo_id" in page else None)
    status, _, done = kiosk.request("POST", made["path"], body, headers)
    assert status == 200, re.findall(r'class="problem"[^>]*>([^<]+)<', done)
    (submission,) = [s for s in pending(office, PATIENT_A) if s["source"] == "kiosk"]
    record = office.json("intake", "show", submission["id"])
    assert record["status"] == "pending" and record["origin"] == {"link": made["id"], "device": "loopback"}
    assert record["answers"]["registration"]["emergency_contact_name"] == "Pat <b>Kin</b>"  # kept as text
    status, _, page = kiosk.request("POST", made["path"], body, headers)
    assert status == 410 and GONE in page
    assert kiosk.get(made["path"])[0] == 410
    assert len([s for s in pending(office, PATIENT_A) if s["source"] == "kiosk"]) == 1


def test_a_newer_link_retires_the_older_and_an_expired_one_is_refused(office, kiosk):
    old = link(office, APPT_B, "--form", "registration")
    new = link(office, APPT_B, "--form", "registration")
    assert kiosk.get(old["path"])[0] == 410 and kiosk.get(new["path"])[0] == 200
    early = link(office, APPT_B, "--form", "registration", env={"MEDSEC_NOW": "2026-11-24T09:00:00"})
    assert early["expires"].startswith("2026-11-26T23:59:00")  # past link_hours: to the end of the visit's day
    assert kiosk.get(early["path"])[0] == 200
    after = start(office, env={"MEDSEC_NOW": "2026-11-27T00:00:00"})
    try:
        status, _, page = after.get(early["path"])
    finally:
        after.stop()
    assert status == 410 and GONE in page


@pytest.mark.parametrize("hostile", ["markup", "control", "huge", "forged", "csrf", "not-multipart"])
def test_hostile_submissions_write_nothing_and_the_kiosk_keeps_serving(office, kiosk, hostile):
    made = link(office, APPT_B, "--form", "registration")
    _, _, page = kiosk.get(made["path"])
    values = filled(page)
    before = len(pending(office, PATIENT_B))
    expected = {"markup": "no such field", "control": "registration.city", "huge": "4000",
                "forged": "no such field", "csrf": "", "not-multipart": ""}[hostile]
    values["registration.first_name"] = "<script>alert(1)</script>"
    if hostile == "markup":
        values["registration.<img src=x onerror=alert(1)>"] = "x"
    elif hostile == "control":
        values["registration.city"] = "Boston\x1b[2J\x07"
    elif hostile == "huge":
        values["registration.city"] = "B" * (1024 * 1024)
    elif hostile == "forged":
        values["patient.status"] = "inactive"
    elif hostile == "csrf":
        values["csrf"] = "0" * 64
    body, headers = multipart(values)
    if hostile == "not-multipart":
        headers = {"Content-Type": "application/json"}
    status, response_headers, answer = kiosk.request("POST", made["path"], body, headers)
    assert status == 400
    assert "<script>alert(1)</script>" not in answer and "<img src=x" not in answer
    assert expected in answer
    if hostile not in ("not-multipart",):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer  # what was typed, shown escaped
    assert response_headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert len(pending(office, PATIENT_B)) == before
    assert kiosk.get(made["path"])[0] == 200  # the link still stands
    healthy(kiosk)


def test_broken_requests_get_a_page_and_the_kiosk_keeps_serving(kiosk):
    with socket.create_connection((kiosk.host, kiosk.port), timeout=10) as raw:
        raw.sendall(b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = raw.recv(8192)
        assert b"501" in answer.split(b"\r\n")[0] and b"Content-Security-Policy" in answer
    status, _, _ = kiosk.request("POST", "/k/KL1.abcdefghijk", b"x" * 10, {"Content-Length": "999999999999"})
    assert status in (410, 413)
    with socket.create_connection((kiosk.host, kiosk.port), timeout=10) as raw:
        raw.sendall(b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n")
        assert b"414" in raw.recv(4096).split(b"\r\n")[0]
    healthy(kiosk)


# -- off loopback: TLS and tablets -------------------------------------------------------------
def test_plain_http_off_loopback_is_refused(office):
    proc = office.run("intake", "kiosk", "--host", "0.0.0.0", "--port", "0", check=False, timeout=30)
    assert proc.returncode == 2
    assert "needs TLS" in proc.stderr and proc.stdout == ""


def test_off_loopback_only_enrolled_tablets_over_tls(office):
    token = office.json("intake", "device", "add", "lobby tablet")["token"]
    revoked = office.json("intake", "device", "add", "old tablet")
    office.ok("intake", "device", "revoke", revoked["id"])
    server = start(office, "--host", "0.0.0.0", "--self-signed")
    try:
        assert server.scheme == "https"
        (cert,) = Path(office.home, "cache", "kiosk").glob("tls-*.crt")
        context = ssl.create_default_context(cafile=str(cert))  # verified: the generated certificate
        status, _, page = server.get("/healthz", context=context, host="127.0.0.1")
        assert status == 403 and "not enrolled" in page
        assert server.get("/", context=context, host="127.0.0.1",
                          headers={"Authorization": f"Bearer {revoked['token']}"})[0] == 403
        assert server.get("/", context=context, host="127.0.0.1",
                          headers={"Authorization": f"Bearer {token}"})[0] == 200
        status, headers, _ = server.get(f"/enrol?token={token}", context=context, host="127.0.0.1")
        assert status == 303
        cookie = headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Strict" in cookie
        assert server.get("/", context=context, host="127.0.0.1",
                          headers={"Cookie": cookie.split(";")[0]})[0] == 200
        with pytest.raises(ssl.SSLCertVerificationError):
            server.get("/healthz", context=ssl.create_default_context(), host="127.0.0.1")
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as plain, \
                context.wrap_socket(plain, server_hostname="127.0.0.1") as raw:  # no token: no body is read
            raw.sendall(b"POST /code HTTP/1.1\r\nHost: x\r\nContent-Length: 20000000\r\n\r\n")
            assert b" 403 " in raw.recv(4096).split(b"\r\n")[0]
        office.ok("intake", "device", "revoke", token.partition(".")[0])
        assert server.get("/", context=context, host="127.0.0.1",
                          headers={"Authorization": f"Bearer {token}"})[0] == 403
    finally:
        code, err = server.stop()
    assert code == 0 and "Traceback" not in err
    fingerprint = re.search(r"fingerprint: ([0-9A-F:]{95})", err)
    assert fingerprint, err
    again = start(office, "--host", "0.0.0.0", "--self-signed")  # the certificate is kept and reused
    _, err_again = again.stop()
    assert fingerprint.group(1) in err_again


def test_a_phone_opens_the_link_it_was_sent_where_the_kiosk_is_published(office):
    """Off loopback, a live link's own secret admits a patient's phone to that link's page (and its
    style and script) once intake.yaml publishes the kiosk (kiosk.url); nothing else is open to it."""
    made = link(office, APPT_A, "--form", "registration")
    for published in (False, True):
        if published:
            (office.home / "intake.yaml").write_text("kiosk: {url: 'https://checkin.clinic.test:8470/'}\n")
        server = start(office, "--host", "0.0.0.0", "--self-signed")
        try:
            (cert,) = Path(office.home, "cache", "kiosk").glob("tls-*.crt")
            context = ssl.create_default_context(cafile=str(cert))
            page = server.get(made["path"], context=context, host="127.0.0.1")
            static = server.get("/static/kiosk.css", context=context, host="127.0.0.1")[0]
            start_page = server.get("/", context=context, host="127.0.0.1")[0]
            forged = server.get(made["path"][:-4] + "AAAA", context=context, host="127.0.0.1")[0]
        finally:
            server.stop()
            (office.home / "intake.yaml").unlink(missing_ok=True)
        if published:
            assert page[0] == 200 and inputs(page[2])["registration.last_name"]
            assert (static, start_page, forged) == (200, 403, 403)
        else:
            assert (page[0], static, start_page) == (403, 403, 403)


def test_device_list_and_links_refused_for_a_visit_that_is_over(office):
    rows = office.json("intake", "device", "list")
    assert {"lobby tablet", "old tablet"} <= {r["name"] for r in rows}
    assert all("secret_sha256" not in r for r in rows)
    result = office("intake", "link", "A1")
    assert result.exit_code == 1 and "checked-out" in result.stderr
    assert json.dumps(office.json("intake", "device", "list")).count("token") == 0


# -- review: what an attacker in the waiting room tries -----------------------------------------
def test_a_code_is_no_url_token_so_it_cannot_be_guessed_past_the_limit(office, kiosk):
    made = link(office, APPT_B, "--form", "registration")
    number, _, secret = made["code"].partition("-")
    assert kiosk.get(f"/k/KL{number}.{secret.replace('-', '')}")[0] == 410  # GETs are not counted: refused
    assert kiosk.get(made["path"])[0] == 200


def test_on_loopback_a_foreign_host_name_is_refused(kiosk):
    """A web page the desk's browser visits cannot rebind its name to 127.0.0.1 and read the kiosk."""
    port = kiosk.port
    assert kiosk.get("/", headers={"Host": f"evil.example:{port}"})[0] == 403
    assert kiosk.get("/healthz", headers={"Host": "evil.example"})[0] == 403
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
        assert kiosk.get("/", headers={"Host": host})[0] == 200


def test_the_log_names_only_known_routes(kiosk):
    with socket.create_connection((kiosk.host, kiosk.port), timeout=10) as raw:
        raw.sendall(b"GET /\x1b[2J\x1b]0;owned\x07 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert b"404" in raw.recv(4096).split(b"\r\n")[0]
    healthy(kiosk)  # (the module's kiosk is stopped at the end: its stderr then has no escape)


def test_localhost_that_resolves_elsewhere_is_not_loopback(monkeypatch):
    from medsec.errors import InvalidInput
    from medsec.workflows import kiosk as server

    def elsewhere(host, *args, **kw):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.7", 0))]

    monkeypatch.setattr(socket, "getaddrinfo", elsewhere)
    with pytest.raises(InvalidInput, match="needs TLS"):
        server.serve(None, "localhost", 0)
    monkeypatch.undo()
    assert server.bind_address("localhost")[1] and server.bind_address("[::1]") == ("::1", True)
    assert not server.bind_address("0.0.0.0")[1] and not server.bind_address("::")[1]


@pytest.fixture
def bare_server(monkeypatch):
    """A kiosk server in this process with short limits (no practice: only connections are tried)."""
    import threading

    from medsec.workflows import kiosk as server

    monkeypatch.setattr(server, "HEAD_TIME", 0.6)
    monkeypatch.setattr(server, "CONNECTIONS", 3)
    monkeypatch.setattr(server, "PER_CLIENT", 3)
    httpd = server.Server(("127.0.0.1", 0), socket.AF_INET, None)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def closed_within(raw: socket.socket, seconds: float) -> bool:
    raw.settimeout(seconds)
    try:
        while raw.recv(4096):
            pass
    except TimeoutError:
        return False
    except OSError:
        pass
    return True


def test_a_slow_client_is_cut_off_and_connections_are_bounded(bare_server):
    import time

    with socket.create_connection(("127.0.0.1", bare_server)) as slow:  # headers a byte at a time
        started = time.monotonic()
        slow.sendall(b"GET / HTTP/1.1\r\n")
        with pytest.raises(OSError):
            for _ in range(40):
                slow.sendall(b"X")
                time.sleep(0.1)
        assert time.monotonic() - started < 3
    idle = [socket.create_connection(("127.0.0.1", bare_server)) for _ in range(3)]
    try:
        with socket.create_connection(("127.0.0.1", bare_server)) as extra:
            assert closed_within(extra, 0.3)  # turned away at once
    finally:
        for one in idle:
            one.close()
    time.sleep(0.2)
    with socket.create_connection(("127.0.0.1", bare_server)) as again:
        assert not closed_within(again, 0.2)  # room again


def test_a_drawn_signature_too_long_is_told_its_own_limit():
    from medsec.workflows.kiosk import _text_limit, parse_multipart

    body, headers = multipart({"consent-to-treat.signature_drawn": "d" * (_text_limit("x.signature_drawn") + 1)})
    _, _, problems = parse_multipart(headers["Content-Type"], body)
    assert problems == {"consent-to-treat.signature_drawn": f"at most {_text_limit('x.signature_drawn')} characters"}


def test_sigterm_stops_at_once_with_a_client_half_way(office):
    import time

    server = start(office)
    with socket.create_connection((server.host, server.port), timeout=10) as slow:
        slow.sendall(b"POST /code HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # its headers never end
        time.sleep(0.2)
        started = time.monotonic()
        code, err = server.stop()
        assert time.monotonic() - started < 3
    assert code == 0 and "Traceback" not in err


def test_the_tls_key_never_touches_a_file(monkeypatch):
    import tempfile

    from medsec.workflows import kiosk_tls

    cert_pem, key_pem = kiosk_tls._generate(["127.0.0.1"])

    def no_file(*args, **kw):
        raise AssertionError("the private key was written to a temporary file")

    monkeypatch.setattr(tempfile, "mkstemp", no_file)
    context = kiosk_tls.server_context(cert_pem, key_pem)
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_a_kept_certificate_is_made_again_when_the_machines_address_changed(office, monkeypatch):
    from medsec.workflows import kiosk_tls

    monkeypatch.setattr(kiosk_tls, "_names", lambda host: ["kiosk.test", "127.0.0.1", "10.1.2.3"])
    first, _, _ = kiosk_tls.self_signed(str(office.home), "0.0.0.0")
    assert kiosk_tls.self_signed(str(office.home), "0.0.0.0")[0] == first  # kept while it fits
    monkeypatch.setattr(kiosk_tls, "_names", lambda host: ["kiosk.test", "127.0.0.1", "10.1.2.99"])  # DHCP moved it
    second, _, _ = kiosk_tls.self_signed(str(office.home), "0.0.0.0")
    assert second != first and kiosk_tls._covers(second, ["10.1.2.99"]) and not kiosk_tls._covers(first, ["10.1.2.99"])
