"""`medsec intake kiosk`: the waiting-room tablet's web server (standard library only).

What it serves (nothing else: 404): `GET /` the start page (type your code), `POST /code` (a
code -> the link's page), `GET /k/<token>` one patient's forms pre-filled from their record,
`POST /k/<token>` the forms filled (multipart/form-data), `GET /static/<file>` the page's CSS
and JS, `GET /healthz`. The pages are medsec.workflows.kiosk_page's; the links and tablets
medsec.workflows.kiosk_links'. A submission becomes a pending intake submission
(workflows.intake.submit, source "kiosk") that consumes its link in the same transaction;
the desk reviews it before it touches the record.

On loopback (the default: the address bound, a name resolved, is 127.x or ::1) anyone on this
machine may reach it, by a loopback name only (another Host is refused, so a web page cannot
rebind its name to 127.0.0.1 and read the kiosk). Off loopback it refuses to start without TLS,
and every request but `GET /enrol?token=...` must carry an enrolled tablet's token (the enrol
cookie, or `Authorization: Bearer KD<n>.<secret>`): 403 otherwise, before any body is read.

A typed code is tried only by `POST /code` (limited per client); it leads to `/k/KL<n>.<ticket>`,
the ticket a keyed digest of the link's id that this process alone makes, never the code.

Each connection is handled in a thread of its own, at most CONNECTIONS at once (PER_CLIENT from
one address; more are closed at once), with deadlines (HEAD_TIME for a request's line and
headers, TLS handshake included; BODY_TIME for its body and answer), a body limit, and every
failure answered by a page: nothing a client sends stops the server, and its one-line log on
stderr names no patient, no token and no byte the client chose. The process acts as the member
who started it; reads and submissions are audited as usual.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import signal
import sys
import threading
import time
from collections import defaultdict, deque
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # (imported only by `intake kiosk`)
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from medsec.digests import equal, hmac_sha256_hex
from medsec.errors import InvalidInput, NotFound, Refused

BODY_LIMIT = 25 * 1024 * 1024
TEXT_LIMIT = 4000  # a text part's characters (a drawn signature's data URL excepted)
PARTS_LIMIT = 400
FORM_LIMIT = 16 * 1024  # the start page's urlencoded body
TIMEOUT = 15  # seconds a client may take between bytes
HEAD_TIME = 15.0  # seconds for a request's line and headers (and the TLS handshake before the first)
BODY_TIME = 300.0  # seconds for a request's body and its answer (25 MB of photos on slow Wi-Fi)
CONNECTIONS = 64  # connections served at once
PER_CLIENT = 16  # of them from one address
ROUTES = ("/", "/code", "/healthz", "/enrol")  # what the log names as is (/k/... and /static/... aside)
COOKIE = "medsec_kiosk"
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY", "Cache-Control": "no-store",
           "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
LANGS = ("en", "es")
_TOKEN = re.compile(r"KL[0-9]{1,12}\.[A-Za-z0-9_-]{8,64}")
_MESSAGES = {
    "gone": {"en": ("Link not valid", "this link has expired or was already used"),
             "es": ("Enlace no válido", "este enlace ha caducado o ya se utilizó")},
    "tablet": {"en": ("Not allowed", "this device is not enrolled to use the kiosk"),
               "es": ("No permitido", "este dispositivo no está autorizado para el quiosco")},
    "busy": {"en": ("Too many tries", "too many wrong codes: ask the front desk"),
             "es": ("Demasiados intentos", "demasiados códigos incorrectos: pregunte en recepción")},
    "missing": {"en": ("Not found", "there is nothing here"), "es": ("No encontrado", "aquí no hay nada")},
    "error": {"en": ("Something went wrong", "please ask the front desk"),
              "es": ("Algo salió mal", "por favor pregunte en recepción")},
    "bad": {"en": ("Not accepted", "the form could not be read: please try again"),
            "es": ("No aceptado", "no se pudo leer el formulario: inténtelo de nuevo")},
    "host": {"en": ("Not allowed", "open the kiosk at its address on this computer, 127.0.0.1"),
             "es": ("No permitido", "abra el quiosco en su dirección en este equipo, 127.0.0.1")},
    "large": {"en": ("Too large", "what was sent is too large (photos at most 10 MB)"),
              "es": ("Demasiado grande", "lo enviado es demasiado grande (fotos de 10 MB como máximo)")},
}


class Answer(Exception):
    """A request answered by a page (status, HTML) or a redirect (status, location)."""

    def __init__(self, status: int, body: str | bytes = "", location: str | None = None, cookie: str | None = None,
                 content_type: str = "text/html; charset=utf-8"):
        super().__init__(status)
        self.status, self.body, self.location, self.cookie = status, body, location, cookie
        self.content_type = content_type


def bind_address(host: str) -> tuple[str, bool]:
    """(the address to bind, whether it is loopback): a name is resolved here, so that a
    "localhost" that resolves to a network address is not taken for loopback."""
    import socket

    bare = host.strip().strip("[]")
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        try:
            found = socket.getaddrinfo(bare, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise InvalidInput(f"cannot serve on {host}: no such address") from None
        addresses = [ipaddress.ip_address(str(row[4][0]).partition("%")[0]) for row in found]
        return str(addresses[0]), all(a.is_loopback for a in addresses)
    return str(address), address.is_loopback


def _loopback_name(host: str) -> bool:
    """Whether a request's Host header names this machine's loopback."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].partition("]")[0]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if name in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _page():
    from medsec.workflows import kiosk_page

    return kiosk_page


def message(kind: str, lang: str, status: int, text: str | None = None) -> Answer:
    title, default = _MESSAGES[kind].get(lang, _MESSAGES[kind]["en"])
    return Answer(status, _page().message_page(title, text or default, lang))


# -- the state shared by the request threads ---------------------------------------------
class Kiosk:
    """The app, its lock (the store is used by one request at a time), the CSRF key, whether
    tablets must prove themselves, and the wrong codes per client."""

    def __init__(self, app, guarded: bool, secure: bool):
        from medsec.workflows.kiosk_links import kiosk_settings

        self.app = app
        self.guarded = guarded
        self.secure = secure
        # intake.yaml kiosk.url publishes the kiosk to patients' phones: a live link's own secret
        # then lets a phone open that link's page (its style and script too) without a tablet's token
        self.phones = bool(kiosk_settings(app).get("url"))
        self.lock = threading.Lock()
        self.key = os.urandom(32)
        self.attempts = int(kiosk_settings(app).get("code_attempts") or 30)
        self.failures: dict[str, deque[float]] = defaultdict(deque)

    def csrf(self, what: str) -> str:
        return hmac_sha256_hex(self.key, b"kiosk-csrf:" + what.encode())

    def csrf_ok(self, what: str, given: str) -> bool:
        return equal(self.csrf(what).encode(), str(given).encode("utf-8", "replace"))

    def ticket(self, link_id: str) -> str:
        """What `/k/<link>.` carries once its code was typed: this process's alone, not the code."""
        return hmac_sha256_hex(self.key, b"kiosk-ticket:" + link_id.encode())

    def ticket_ok(self, token: str) -> bool:
        link_id, _, given = token.partition(".")
        return len(given) == 64 and equal(self.ticket(link_id).encode(), given.encode())

    def blocked(self, client: str) -> bool:
        recent = self.failures[client]
        while recent and recent[0] < time.monotonic() - 3600:
            recent.popleft()
        return len(recent) >= self.attempts

    def failed(self, client: str) -> None:
        self.failures[client].append(time.monotonic())


# -- reading a request's body --------------------------------------------------------------
def _text_limit(name: str) -> int:
    from medsec.records.intake import DRAWN_LIMIT

    return DRAWN_LIMIT * 4 // 3 + 64 if name.endswith(".signature_drawn") else TEXT_LIMIT


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """(text fields, uploads, problems) of a multipart/form-data body, parsed by the email package."""
    from email import policy
    from email.parser import BytesParser
    from email.utils import collapse_rfc2231_value

    from medsec.records.intake import PHOTO_LIMIT, Upload

    message_ = BytesParser(policy=policy.HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1")
                                                          + b"\r\n\r\n" + body)
    if not message_.is_multipart():
        raise InvalidInput("not multipart/form-data")
    raw: dict[str, str] = {}
    uploads: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for number, part in enumerate(message_.iter_parts()):
        if number >= PARTS_LIMIT:
            raise InvalidInput("too many fields")
        name = collapse_rfc2231_value(part.get_param("name", "", header="content-disposition"))[:200]
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            if len(data) > PHOTO_LIMIT:
                problems[name] = "the photo is over 10 MB"
            elif data:
                uploads[name] = Upload(str(filename)[:255], part.get_content_type(), data)
            continue
        text = data.decode("utf-8", "surrogateescape")
        if len(text) > _text_limit(name):
            problems[name] = f"at most {_text_limit(name)} characters"
            continue
        raw[name] = text
    return raw, uploads, problems


def parse_urlencoded(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(body.decode("utf-8", "surrogateescape"), keep_blank_values=True,
                          max_num_fields=PARTS_LIMIT)
    except ValueError:
        raise InvalidInput("too many fields") from None
    return {k[:200]: v for k, v in pairs}


# -- the routes ----------------------------------------------------------------------------
class Routes:
    """One request's answer: everything here runs under the kiosk's lock."""

    def __init__(self, kiosk: Kiosk, request: BaseHTTPRequestHandler, device: str | None):
        self.kiosk, self.app, self.request, self.device = kiosk, kiosk.app, request, device
        parts = urlsplit(request.path)
        self.path, self.query = parts.path, parse_qs(parts.query, max_num_fields=20)
        self.lang = self._lang(self.query.get("lang", [""])[0])

    @staticmethod
    def _lang(asked: str, default: str = "en") -> str:
        return asked if asked in LANGS else default

    def get(self) -> Answer:
        if self.path == "/healthz":
            raise Answer(200, "ok", content_type="text/plain; charset=utf-8")
        if self.path == "/":
            raise Answer(200, _page().start_page(self.lang, self.kiosk.csrf("start")))
        if self.path.startswith("/static/"):
            asset = _page().ASSETS.get(self.path)
            if asset is None:
                raise message("missing", self.lang, 404)
            raise Answer(200, asset[1], content_type=asset[0])
        token = self._token()
        link = self._link(token)
        lang = self._lang(self.query.get("lang", [""])[0], link.get("language", "en"))
        raise Answer(200, self._forms_page(link, token, lang, None, None))

    def _token(self) -> str:
        token = self.path.removeprefix("/k/")
        if not self.path.startswith("/k/") or not _TOKEN.fullmatch(token):
            raise message("missing", self.lang, 404)
        return token

    def _link(self, token: str) -> dict:
        from medsec.workflows.kiosk_links import live, resolve

        try:
            return live(self.app, token.partition(".")[0]) if self.kiosk.ticket_ok(token) else resolve(self.app, token)
        except (Refused, NotFound):
            raise message("gone", self.lang, 410) from None

    def _forms_page(self, link: dict, token: str, lang: str, values: dict | None, problems: dict | None) -> str:
        from medsec.records import intake as records
        from medsec.records.patients import get_patient

        patient = get_patient(self.app, link["patient_id"])
        chosen = records.pick_forms(self.app, link["forms"])
        shown_values = records.prefill(self.app, chosen, patient) if values is None else values
        if values is None:
            self.app.audit("read", [link["id"], patient["id"]])
        payers = [(str(p["id"]), str(p.get("name") or p["id"]))
                  for p in self.app.config("payers.yaml").get("payers", [])]
        return _page().forms_page(chosen, shown_values, lang, self.kiosk.csrf(link["id"]), f"/k/{token}",
                                  patient.get("first", ""), problems, payers=payers, today=self.app.today(),
                                  dob=patient.get("dob", ""))

    # -- POST
    def post(self, body: bytes) -> Answer:
        if self.path == "/code":
            return self._code(body)
        token = self._token()
        link = self._link(token)
        return self._submit(link, token, body)

    def _client(self) -> str:
        return self.device or self.request.client_address[0]

    def _code(self, body: bytes) -> Answer:
        from medsec.workflows.kiosk_links import resolve_code

        fields = parse_urlencoded(body)
        lang = self._lang(fields.get("lang", ""), self.lang)
        if not self.kiosk.csrf_ok("start", fields.get("csrf", "")):
            raise Answer(400, _page().start_page(lang, self.kiosk.csrf("start"), _bad_form(lang)))
        client = self._client()
        if self.kiosk.blocked(client):
            raise message("busy", lang, 429)
        try:
            link = resolve_code(self.app, fields.get("code", ""))
        except (Refused, NotFound):
            self.kiosk.failed(client)
            raise Answer(400, _page().start_page(lang, self.kiosk.csrf("start"),
                                                 _MESSAGES["gone"][lang][1])) from None
        raise Answer(303, location=f"/k/{link['id']}.{self.kiosk.ticket(link['id'])}?lang={link.get('language', lang)}")

    def _submit(self, link: dict, token: str, body: bytes) -> Answer:
        from medsec.workflows.intake import submit

        content_type = self.request.headers.get("Content-Type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            raise message("bad", self.lang, 400)
        raw, uploads, problems = parse_multipart(content_type, body)
        csrf, lang = raw.pop("csrf", ""), self._lang(raw.pop("lang", ""), link.get("language", "en"))
        if not self.kiosk.csrf_ok(link["id"], csrf):
            return self._again(link, token, lang, raw, {"csrf": _bad_form(lang)})
        if problems:
            return self._again(link, token, lang, raw, problems)
        origin = {"link": link["id"], "device": self.device or "loopback"}
        try:
            submit(self.app, link["patient_id"], link["forms"], raw, uploads, source="kiosk", language=lang,
                   appt_id=link.get("appt_id"), origin=origin, within=lambda txn: _consumed(txn, self.app, link["id"]))
        except InvalidInput as e:
            return self._again(link, token, lang, raw, _problems(e))
        except Refused:
            raise message("gone", lang, 410) from None
        raise Answer(200, _page().done_page(lang))

    def _again(self, link: dict, token: str, lang: str, raw: dict, problems: dict) -> Answer:
        """The forms shown again with what was typed and what is wrong (400): nothing written."""
        kept = {k: v for k, v in raw.items() if len(v) <= TEXT_LIMIT and not k.endswith(".signature_drawn")}
        raise Answer(400, self._forms_page(link, token, lang, kept, problems))


def _consumed(txn, app, link_id: str) -> None:
    from medsec.workflows.kiosk_links import consume

    consume(txn, app, link_id)


def _bad_form(lang: str) -> str:
    return _MESSAGES["bad"].get(lang, _MESSAGES["bad"]["en"])[1]


def _problems(e: InvalidInput) -> dict[str, str]:
    problems: dict[str, str] = {}
    for line in getattr(e, "details", None) or [e.message]:
        name, _, reason = str(line).partition(": ")
        problems[name] = reason or str(line)
    return problems


# -- the handler ---------------------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    """One request: the kiosk's routes, answered by pages, with the kiosk's headers."""

    server: Server
    server_version = "medsec-kiosk"
    timeout = TIMEOUT
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return self.server_version

    def _device(self) -> str | None:
        from medsec.workflows.kiosk_links import device_of

        token = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[7:].strip()
        else:
            try:
                morsel = SimpleCookie(self.headers.get("Cookie", "")).get(COOKIE)
            except CookieError:
                morsel = None
            token = morsel.value if morsel else None
        record = device_of(self.server.kiosk.app, token) if token else None
        return record["id"] if record else None

    def _enrol(self) -> Answer:
        from medsec.workflows.kiosk_links import device_of

        token = parse_qs(urlsplit(self.path).query).get("token", [""])[0]
        if not device_of(self.server.kiosk.app, token):
            return message("tablet", "en", 403)
        flags = "; Secure" if self.server.kiosk.secure else ""
        cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=157680000{flags}"
        return Answer(303, location="/", cookie=cookie)

    def _admit(self, method: str) -> str | None:
        """The tablet the request comes from (None on loopback), before any body is read; a
        request that may not come in is answered (and its connection closed) here."""
        kiosk = self.server.kiosk
        if not kiosk.guarded and not _loopback_name(self.headers.get("Host", "localhost")):
            self.close_connection = True
            raise message("host", "en", 403)
        if method == "GET" and urlsplit(self.path).path == "/enrol":
            raise self._enrol()
        device = self._device()
        if kiosk.guarded and device is None and not self._phone(method):
            self.close_connection = True
            raise message("tablet", "en", 403)
        return device

    def _phone(self, method: str) -> bool:
        """A patient's phone reaching a live link it was sent (its 256-bit secret, not a typed
        code or a tablet's ticket), or that page's style and script; only where the practice
        publishes the kiosk (kiosk.url)."""
        from medsec.workflows.kiosk_links import resolve

        kiosk = self.server.kiosk
        path = urlsplit(self.path).path
        if not kiosk.phones:
            return False
        if method == "GET" and path in _page().ASSETS:
            return True
        token = path.removeprefix("/k/")
        if not path.startswith("/k/") or not _TOKEN.fullmatch(token) or kiosk.ticket_ok(token):
            return False
        try:
            resolve(kiosk.app, token)
        except (Refused, NotFound):
            return False
        return True

    def _route(self, method: str, device: str | None, body: bytes) -> Answer:
        routes = Routes(self.server.kiosk, self, device)
        try:
            routes.get() if method == "GET" else routes.post(body)
        except InvalidInput:
            return message("bad", routes.lang, 400)
        return message("error", routes.lang, 500)

    def _answer(self, method: str) -> None:
        self.server.limit(self.connection, BODY_TIME)
        try:
            with self.server.kiosk.lock:
                device = self._admit(method)
            body = self._body() if method == "POST" else b""
            with self.server.kiosk.lock:
                answer = self._route(method, device, body)
        except Answer as a:
            answer = a
        except Exception as e:  # noqa: BLE001 - every failure is a page; the server keeps serving
            self._note(f"failed: {type(e).__name__}")
            answer = message("error", "en", 500)
        self._send(answer)

    def _body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            raise message("bad", "en", 411) from None
        if length < 0 or length > BODY_LIMIT:
            self.close_connection = True
            raise message("large", "en", 413)
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            raise message("bad", "en", 400)
        return body

    def _send(self, answer: Answer) -> None:
        data = answer.body.encode("utf-8") if isinstance(answer.body, str) else answer.body
        self.send_response(answer.status)
        for name, value in HEADERS.items():
            self.send_header(name, value)
        if answer.location:
            self.send_header("Location", answer.location)
        if answer.cookie:
            self.send_header("Set-Cookie", answer.cookie)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - http.server's names
        self._answer("GET")

    def do_POST(self):  # noqa: N802
        self._answer("POST")

    def send_error(self, code, message_=None, explain=None):
        """http.server's own refusals (a bad request line, headers too long) as a short page."""
        self.close_connection = True
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":  # a request line that did not parse
            self.request_version = "HTTP/1.0"
        try:
            self._send(message("bad", "en", code))
        except Exception:  # noqa: BLE001 - the page module itself failed: plain text
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def handle_one_request(self):
        self.server.limit(self.connection, HEAD_TIME)
        super().handle_one_request()

    def log_request(self, code="-", size="-"):
        path = getattr(self, "path", None)
        route = urlsplit(path).path if isinstance(path, str) else "-"
        route = route if route in ROUTES or route in _page().ASSETS else \
            "/k/..." if route.startswith("/k/") else "(other)"
        method = getattr(self, "command", "-")
        self._note(f"{method if method in ('GET', 'POST') else '(other)'} {route} {code}")

    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        self._note("request refused")

    def _note(self, text: str) -> None:
        sys.stderr.write(f"kiosk: {text}\n")
        sys.stderr.flush()


# -- serving -------------------------------------------------------------------------------
def _tls(app, host: str, cert: str | None, key: str | None, self_signed: bool):
    """The SSL context to serve with, or None (plain HTTP)."""
    from medsec.workflows import kiosk_tls

    if bool(cert) != bool(key):
        raise InvalidInput("--cert and --key go together")
    if cert and self_signed:
        raise InvalidInput("--self-signed or --cert/--key, not both")
    if cert and key:
        cert_pem, key_pem = kiosk_tls.given(cert, key)
    elif self_signed:
        cert_pem, key_pem, path = kiosk_tls.self_signed(app.data_dir, host)
        sys.stderr.write(f"kiosk certificate: {path}\n")
    else:
        return None
    context = kiosk_tls.server_context(cert_pem, key_pem)
    sys.stderr.write(f"kiosk certificate SHA-256 fingerprint: {kiosk_tls.fingerprint(cert_pem)}\n")
    return context


class Server(ThreadingHTTPServer):
    """A thread a connection, at most CONNECTIONS (PER_CLIENT from one address), each cut off at
    its deadline (a reaper thread shuts its socket down: a slow client frees its thread)."""

    daemon_threads = True
    request_queue_size = 32

    def __init__(self, address: tuple[str, int], family: int, kiosk: Kiosk):
        self.address_family = family
        self.kiosk = kiosk
        self.guard = threading.Lock()
        self.deadlines: dict[Any, tuple[float, str]] = {}  # socket -> (deadline, client address)
        super().__init__(address, Handler)
        threading.Thread(target=self._reap, daemon=True).start()

    def process_request(self, request, client_address):
        client = str(client_address[0])
        with self.guard:
            full = len(self.deadlines) >= CONNECTIONS or \
                sum(1 for _, c in self.deadlines.values() if c == client) >= PER_CLIENT
            if not full:
                self.deadlines[request] = (time.monotonic() + HEAD_TIME, client)
        if full:
            sys.stderr.write("kiosk: connection refused: too many\n")
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.guard:
                self.deadlines.pop(request, None)

    def limit(self, request, seconds: float) -> None:
        with self.guard:
            if request in self.deadlines:
                self.deadlines[request] = (time.monotonic() + seconds, self.deadlines[request][1])

    def _reap(self) -> None:
        import socket

        while self.socket.fileno() != -1:
            time.sleep(0.1)
            now = time.monotonic()
            with self.guard:
                late = [r for r, (deadline, _) in self.deadlines.items() if deadline < now]
                for request in late:
                    self.deadlines[request] = (float("inf"), self.deadlines[request][1])
            for request in late:
                with contextlib.suppress(OSError):  # (the plain socket's: a TLS socket's own would pull
                    socket.socket.shutdown(request, socket.SHUT_RDWR)  # its state from under its thread)

    def handle_error(self, request, client_address):
        """A client that broke off (a TLS handshake refused, a reset): one line, no traceback."""
        sys.stderr.write(f"kiosk: connection failed: {type(sys.exc_info()[1]).__name__}\n")


def serve(app, host: str = "127.0.0.1", port: int = 8470, cert: str | None = None, key: str | None = None,
          self_signed: bool = False) -> int:
    """Serve until SIGTERM or SIGINT; 0 then."""
    import socket

    address, loopback = bind_address(host)
    if not loopback and not (cert or self_signed):
        raise InvalidInput(f"serving on {host} (off this machine) needs TLS",
                           hint="add --self-signed, or --cert FILE --key FILE (README: serving the kiosk)")
    context = _tls(app, host, cert, key, self_signed)
    kiosk = Kiosk(app, guarded=not loopback, secure=context is not None)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        server = Server((address, port), family, kiosk)
    except OSError as e:
        raise InvalidInput(f"cannot serve on {host}:{port}: {e.strerror or e}") from None
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    bare = host.strip().strip("[]")
    shown_host = f"[{bare}]" if ":" in bare else bare
    scheme = "https" if context is not None else "http"
    stop = threading.Event()

    def on_signal(signum, frame):
        if not stop.is_set():
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"kiosk serving on {scheme}://{shown_host}:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0
