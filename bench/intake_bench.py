"""`bench/run.py --only intake`: intake paperwork on the demo practice (300 patients), as the desk and
the waiting room use it.

- paper: `intake packet` (the five required forms, pre-filled) and `intake import` of the filled
  packet (pypdf), wall time per command as a user runs it, and the packet's size and pages;
- the kiosk (a real `medsec intake kiosk` on loopback): the time to serve a patient's forms page and
  to take a submission, one tablet at a time, then eight tablets submitting at once (the store takes
  one submission at a time: throughput, and that no submission is lost);
- the desk: `appt checkin` and the day sheet (`appt day`), which now read each patient's forms.
"""

import http.client
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
MEDSEC = str(Path(sys.executable).with_name("medsec"))
NOW = "2026-11-26T10:00:00"
RUNS = 5


def _env(home: str) -> dict:
    return {**os.environ, "MEDSEC_HOME": home, "MEDSEC_NOW": NOW, "MEDSEC_USER": "bench", "MEDSEC_AGENT": "off"}


def _run(env: dict, *args: str, stdin: str | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([MEDSEC, *args], env=env, capture_output=True, text=True, input=stdin)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"medsec {' '.join(args)}: {done.stderr.strip()}")
    return took, done.stdout


def _median_ms(times: list[float]) -> float:
    return round(statistics.median(times) * 1000, 1)


def _p95_ms(times: list[float]) -> float:
    ordered = sorted(times)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 1)


class _Inputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name") and a.get("type") not in ("checkbox", "radio", "file", "submit"):
            self.values[a["name"]] = a.get("value") or ""


def _answers(page: str) -> dict[str, str]:
    """The page's pre-filled values completed as a patient would complete the required forms."""
    parser = _Inputs()
    parser.feed(page)
    values = parser.values
    values.update({"registration.emergency_contact_name": "Pat Example",
                   "registration.emergency_contact_phone": "617-555-0199", "lang": "en"})
    values["registration.sex"] = values.get("registration.sex") or "U"
    for form in re.findall(r'name="([a-z-]+)\.signature"', page):
        values.update({f"{form}.signature": "Pat Example", f"{form}.signer": "guardian",
                       f"{form}.signer_name": "Pat Example", f"{form}.signer_relationship": "parent"})
    for name in re.findall(r'name="([a-z-]+\.(?:agree|acknowledge))"', page):
        values[name] = "on"
    return values


def _multipart(fields: dict[str, str]) -> tuple[bytes, dict]:
    boundary = uuid.uuid4().hex
    out = b"".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
                   for k, v in fields.items())
    return out + f"--{boundary}--\r\n".encode(), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def _request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _paper(env: dict, folder: str, patient: str, appt: str) -> list[dict]:
    from pypdf import PdfReader, PdfWriter

    pdf = os.path.join(folder, "packet.pdf")
    packet = [_run(env, "intake", "packet", patient, "--appt", appt, "-o", pdf)[0] for _ in range(RUNS)]
    reader = PdfReader(pdf)
    imports = []
    for i in range(RUNS):
        writer = PdfWriter(clone_from=pdf)
        writer.set_need_appearances_writer(True)
        answers = {"registration.street_address": f"{i + 10} Elm St",
                   "registration.emergency_contact_name": "Pat Example",
                   "registration.emergency_contact_phone": "617-555-0199"}
        for form, box in (("consent-to-treat", "agree"), ("privacy-notice", "acknowledge"),
                          ("financial-policy", "agree")):
            answers.update({f"{form}.{box}": "/Yes", f"{form}.signature": "Pat Example"})
        for page in writer.pages:
            writer.update_page_form_field_values(page, answers, auto_regenerate=False)
        filled = os.path.join(folder, f"filled-{i}.pdf")
        with open(filled, "wb") as f:
            writer.write(f)
        imports.append(_run(env, "intake", "import", filled, "--json")[0])
    return [{"part": "paper", "what": "intake packet (5 forms, pre-filled)", "median_ms": _median_ms(packet),
             "detail": f"{os.path.getsize(pdf) // 1024} kB, {len(reader.pages)} pages, "
                       f"{len(reader.get_fields() or {})} fields"},
            {"part": "paper", "what": "intake import (pending, diff)", "median_ms": _median_ms(imports),
             "detail": f"{RUNS} filled packets"}]


def _kiosk(env: dict, appts: list[str]) -> list[dict]:
    proc = subprocess.Popen([MEDSEC, "intake", "kiosk", "--port", "0"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        port = urlsplit(line.removeprefix("kiosk serving on ").strip()).port
        if not port:
            raise RuntimeError(f"the kiosk did not start: {line!r}")
        links = []
        for appt in appts:
            made = subprocess.run([MEDSEC, "intake", "link", appt, "--json"], env=env, capture_output=True, text=True)
            if made.returncode == 0:
                import json

                links.append(urlsplit(json.loads(made.stdout)["url"]).path)
        pages, posts, bodies = [], [], []
        for path in links:
            start = time.perf_counter()
            status, page = _request(port, "GET", path)
            pages.append(time.perf_counter() - start)
            bodies.append((path, *_multipart(_answers(page))))
        alone, together = bodies[: len(bodies) // 2], bodies[len(bodies) // 2:]
        for path, body, headers in alone:
            start = time.perf_counter()
            status, answer = _request(port, "POST", path, body, headers)
            posts.append(time.perf_counter() - start)
            if status != 200:
                raise RuntimeError(f"submission refused ({status}): {re.findall(r'problem[^>]*>([^<]+)<', answer)}")
        statuses: list[int] = []

        def submit(item):
            statuses.append(_request(port, "POST", item[0], item[1], item[2])[0])

        start = time.perf_counter()
        threads = [threading.Thread(target=submit, args=(item,)) for item in together]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    return [{"part": "kiosk", "what": "forms page (GET, 5 forms)", "median_ms": _median_ms(pages),
             "detail": f"p95 {_p95_ms(pages)} ms over {len(pages)} links"},
            {"part": "kiosk", "what": "submission (POST), one tablet", "median_ms": _median_ms(posts),
             "detail": f"p95 {_p95_ms(posts)} ms over {len(posts)}"},
            {"part": "kiosk", "what": f"{len(together)} tablets submitting at once", "median_ms": round(wall * 1000, 1),
             "detail": f"{statuses.count(200)} of {len(together)} accepted, "
                       f"{len(together) / wall:.1f} submissions/s"}]


def _desk(env: dict, appts: list[str]) -> list[dict]:
    checkins = [_run(env, "appt", "checkin", appt)[0] for appt in appts[:RUNS]]
    sheets = [_run(env, "appt", "day", "today", "--json")[0] for _ in range(RUNS)]
    visits = len(__import__("json").loads(_run(env, "appt", "day", "today", "--json")[1]))
    return [{"part": "desk", "what": "appt checkin (lists the forms needed)", "median_ms": _median_ms(checkins),
             "detail": ""},
            {"part": "desk", "what": "day sheet with the forms column", "median_ms": _median_ms(sheets),
             "detail": f"{visits} visits"}]


def measure() -> tuple[list[dict], dict]:
    import json

    with tempfile.TemporaryDirectory() as folder:
        home = os.path.join(folder, "data")
        env = _env(home)
        _run(env, "init", "--demo")
        day = json.loads(_run(env, "appt", "day", "today", "--json")[1])
        visits = [(a["patient_id"], a["id"]) for a in day if a.get("patient_id")]
        rows = _paper(env, folder, *visits[0])
        rows += _kiosk(env, [appt for _, appt in visits[1:25]])
        rows += _desk(env, [appt for _, appt in visits[25:]])
    return rows, {"visits_today": len(visits), "runs": RUNS}


def describe(rows: list[dict], note: dict) -> str:
    lines = [f"intake on the demo practice ({note['visits_today']} visits today), median of {note['runs']} runs "
             "where repeated:"]
    lines += [f"  {r['part']:6} {r['what']:42} {r['median_ms']:>9} ms  {r['detail']}" for r in rows]
    return "\n".join(lines)
