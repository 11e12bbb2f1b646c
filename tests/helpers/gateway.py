"""An HTTP gateway on loopback for the sms and fax channel tests."""

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Gateway:
    """What the loopback gateway received, and what it answers next.

    `answer` is (status, body); status "slow" holds the answer until
    `release` is set (the test's client times out first).
    """

    def __init__(self):
        self.requests = []
        self.answer = (200, {"id": "msg-1"})
        self.release = threading.Event()
        self.url = ""
        self.numbered = ""  # "FX": each POST answered {"id": "FX-1"}, {"id": "FX-2"} ... instead of `answer`
        self.statuses: list[str] = []  # a GET answered {"status": the next word} (the last one repeats)

    @property
    def last(self):
        return self.requests[-1]

    def json(self):
        assert self.last["headers"]["Content-Type"] == "application/json"
        return json.loads(self.last["body"])


@contextlib.contextmanager
def http_gateway():
    """A ThreadingHTTPServer on 127.0.0.1 that records each request in a Gateway; stopped afterwards."""
    gw = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            gw.requests.append({"method": self.command, "path": self.path,
                                "headers": dict(self.headers), "body": body})
            status, answer = gw.answer
            if self.command == "POST" and gw.numbered:
                answer = {"id": f"{gw.numbered}-{sum(r['method'] == 'POST' for r in gw.requests)}"}
            if self.command == "GET" and gw.statuses:
                status, answer = 200, {"status": gw.statuses.pop(0) if len(gw.statuses) > 1 else gw.statuses[0]}
            if status == "slow":
                gw.release.wait(30)
                status, answer = 200, {"id": "too-late"}
            data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (the timeout test)

        do_GET = do_POST  # a followed redirect would show up as a GET; a fax status query too

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll interval: shutdown() waits for the next poll (0.5 s by default).
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    gw.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield gw
    finally:
        gw.release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)
