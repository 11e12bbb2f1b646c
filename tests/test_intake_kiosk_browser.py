"""The kiosk's page in a real browser: Debian's headless Chromium driven by Selenium against a real
`medsec intake kiosk` process, on a phone-sized 390x844 viewport. Patients fill registration,
insurance (a photo of the card) and the consent to treat; required fields are enforced; a guardian
signs for a minor on the signature pad; the desk reviews and applies; one patient's page shows
nothing of another's; used and expired links are refused; nothing loads from outside.

Chromium, chromedriver and selenium are skipped where missing, required under
MEDSEC_REQUIRE_SERVICES=1 (.ci/run installs Debian's chromium and chromium-driver).
"""

import os
import queue
import re
import struct
import subprocess
import threading
import zlib
from urllib.parse import urlsplit

import pytest
from helpers.cli import MEDSEC_BIN, Medsec, cli_env
from helpers.practices import setup_practice
from helpers.tools import need_module, need_tool

WIDTH, HEIGHT = 390, 844
GONE = re.compile(r"expired or (was )?already used", re.I)
FORMS = ("registration", "insurance", "consent-to-treat")


def _png(path) -> str:
    """A small real PNG (a 4x4 grey square): the insurance card's photo."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x80" * 4 for _ in range(4))
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    path.write_bytes(data)
    return str(path)


@pytest.fixture(scope="module")
def browser():
    need_tool("chromium", "chromium")
    need_tool("chromedriver", "chromium-driver")
    webdriver = need_module("selenium.webdriver", "pip install selenium")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={WIDTH},{HEIGHT}",
                "--no-proxy-server"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": True})
        driver.set_page_load_timeout(20)
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def office(tmp_path_factory, templates):
    """The small practice: P1 Ana Lopez (an adult, her address on file) and P3 Mia Lopez (a minor),
    each with an appointment today; a kiosk serving it on loopback (`office.base`)."""
    home = tmp_path_factory.mktemp("kiosk-browser") / "data"
    m = templates.copy(Medsec(home, cli_env(home)), setup_practice, 2)
    m.ok("patient", "edit", "P1", "--address", "1 Elm St", "--city", "Springfield", "--state", "MA",
         "--zip", "01101", "--sex", "F", "--email", "ana@example.org")
    m.ok("patient", "edit", "P2", "--address", "9 Secret Rd", "--city", "Hiddenville", "--state", "NH",
         "--zip", "03101")
    m.ok("patient", "add", "--first", "Mia", "--last", "Quill", "--dob", "2015-05-05", "--phone", "617-555-0190",
         "--sex", "F")
    m.appts = {p: m.json("appt", "book", p, "--provider", "S1", "--at", at, "--type", "follow-up")["id"]
               for p, at in (("P1", "2026-11-26 14:00"), ("P3", "2026-11-26 14:30"), ("P2", "2026-11-26 15:00"))}
    m.png = _png(home.parent / "card.png")
    env = {**os.environ, **m.env}
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(var, None)
    server = subprocess.Popen([MEDSEC_BIN, "intake", "kiosk", "--port", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in server.stdout], daemon=True).start()
    try:
        ready = lines.get(timeout=30)
    except queue.Empty:
        server.kill()
        pytest.fail(f"the kiosk did not start: {server.communicate(timeout=5)[1][-2000:]}")
    assert ready.startswith("kiosk serving on http://127.0.0.1:"), ready
    m.base = ready.split(" on ", 1)[1].strip().rstrip("/")
    try:
        yield m
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _link(office, patient: str, *extra, env=None) -> dict:
    link = office.ok("intake", "link", office.appts[patient], *[a for f in FORMS for a in ("--form", f)], *extra,
                     "--json", env=env).json()
    assert set(link) >= {"url", "code", "expires"}
    link["page"] = office.base + urlsplit(link["url"]).path  # the kiosk's real port, not the default one
    return link


def _field(driver, name: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, name)


def _type(driver, name: str, text: str) -> None:
    element = _field(driver, name)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.clear()
    element.send_keys(text)


def _click(driver, element) -> None:
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def _problem(driver, name: str) -> str:
    return _field(driver, f"{name}-problem").text


def _fill_registration(driver, city: str) -> None:
    from selenium.webdriver.support.ui import Select

    _type(driver, "registration.street_address", "22 Oak Ave")
    _type(driver, "registration.city", city)
    _type(driver, "registration.state", "MA")
    _type(driver, "registration.zip", "02139")
    Select(_field(driver, "registration.sex")).select_by_value("F")
    _type(driver, "registration.emergency_contact_phone", "617-555-0142")


def _submit(driver):
    from selenium.webdriver.common.by import By

    _click(driver, driver.find_element(By.ID, "submit"))


def _done(driver) -> str:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "message-title"))
    except TimeoutException:
        problems = [p.text for p in driver.find_elements(By.CSS_SELECTOR, ".problem") if p.text]
        raise AssertionError(f"still on the form at {driver.current_url}: {problems}") from None
    return driver.find_element(By.TAG_NAME, "body").text


def test_adult_completes_forms_and_desk_applies(browser, office, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    link = _link(office, "P1")
    browser.get(link["page"])
    assert "Ana" in browser.find_element(By.TAG_NAME, "h1").text
    assert _field(browser, "registration.first_name").get_attribute("value") == "Ana"
    assert _field(browser, "registration.street_address").get_attribute("value") == "1 Elm St"
    assert _field(browser, "registration.zip").get_attribute("value") == "01101"
    # (f) a phone-sized screen: nothing wider than the viewport
    assert browser.execute_script("return [innerWidth, document.documentElement.scrollWidth]") == [WIDTH, WIDTH]
    # as the patient types: a bad state is named next to its field, in the page's language
    _type(browser, "registration.state", "M1")
    assert "two letters" in _problem(browser, "registration.state")
    _type(browser, "registration.state", "MA")
    assert _problem(browser, "registration.state") == ""

    _fill_registration(browser, "Springfield")
    Select(_field(browser, "insurance.payer")).select_by_value("ACME")  # payers.yaml's insurers
    _type(browser, "insurance.member_id", "XJ-4417")
    _field(browser, "insurance.card_front").send_keys(office.png)
    _click(browser, _field(browser, "consent-to-treat.agree"))
    # required answers missing (the emergency contact's name, the signature): blocked, and the page says which
    _submit(browser)
    assert _problem(browser, "registration.emergency_contact_name") == "this is required"
    assert "sign by typing" in _problem(browser, "consent-to-treat.signature")
    summary = browser.find_element(By.ID, "summary")
    assert summary.is_displayed() and "Emergency contact name" in summary.text
    assert urlsplit(browser.current_url).path == urlsplit(link["page"]).path
    assert browser.find_element(By.ID, "submit").is_enabled()

    _type(browser, "registration.emergency_contact_name", "Luis Lopez")
    _type(browser, "consent-to-treat.signature", "Ana Lopez")
    _submit(browser)
    assert "Thank you" in _done(browser)

    pending = office.json("intake", "review")
    (mine,) = [row for row in pending if row["patient_id"] == "P1"]
    office.ok("intake", "apply", mine["id"])
    shown = office.json("patient", "show", "P1")
    assert (shown["address"], shown["city"], shown["state"]) == ("22 Oak Ave", "Springfield", "MA")
    coverage = next(c for c in shown.get("coverages", []) if c.get("rank") == "primary")
    assert (coverage["payer"], coverage["member_id"]) == ("ACME", "XJ-4417")
    assert any("card" in str(a).lower() for a in shown.get("attachments", [])), shown.get("attachments")

    # (d) the used link now shows the "expired or already used" page
    browser.get(link["page"])
    assert GONE.search(_done(browser)), browser.page_source[:500]


def test_guardian_signs_for_a_minor(browser, office):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    link = _link(office, "P3")
    browser.get(link["page"])
    page = browser.find_element(By.TAG_NAME, "body").text
    # (c) the second patient's page holds none of the first's (or anyone else's) data
    for other in ("Ana", "22 Oak Ave", "1 Elm St", "ana@example.org", "XJ-4417", "Luis", "9 Secret Rd"):
        assert other not in page and other not in browser.page_source
    assert _field(browser, "registration.first_name").get_attribute("value") == "Mia"
    _fill_registration(browser, "Boston")
    _type(browser, "registration.emergency_contact_name", "Rosa Quill")
    _click(browser, _field(browser, "consent-to-treat.agree"))
    # the patient (under 18) signing for herself is refused
    _type(browser, "consent-to-treat.signature", "Mia Quill")
    _submit(browser)
    assert "under 18" in _problem(browser, "consent-to-treat.signer"), browser.page_source[-3000:]
    assert not _field(browser, "consent-to-treat.signer_name").is_displayed()
    # a guardian signs: name and relationship appear and are required, the signature drawn with a finger
    _click(browser, _field(browser, "consent-to-treat.signer--guardian"))
    assert _problem(browser, "consent-to-treat.signer") == ""
    assert _field(browser, "consent-to-treat.signer_name").get_attribute("required") == "true"
    _field(browser, "consent-to-treat.signature").clear()
    _submit(browser)
    assert _problem(browser, "consent-to-treat.signer_name") == "this is required"
    _type(browser, "consent-to-treat.signer_name", "Rosa Quill")
    _type(browser, "consent-to-treat.signer_relationship", "mother")
    pad = _field(browser, "consent-to-treat.signature_drawn-canvas")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", pad)
    ActionChains(browser).move_to_element_with_offset(pad, -100, 0).click_and_hold().move_by_offset(60, -30) \
        .move_by_offset(60, 40).move_by_offset(60, -20).release().perform()
    drawn = _field(browser, "consent-to-treat.signature_drawn").get_attribute("value")
    assert drawn.startswith("data:image/png;base64,")
    _submit(browser)
    assert "Thank you" in _done(browser)
    (mine,) = [row for row in office.json("intake", "review") if row["patient_id"] == "P3"]
    found = office.json("intake", "review", mine["id"])
    consent = found["answers"]["consent-to-treat"]
    assert (consent["signer"], consent["signer_name"], consent["signer_relationship"]) == \
        ("guardian", "Rosa Quill", "mother")
    assert consent.get("signature_drawn") and "consent-to-treat.signature_drawn" in found["files"]


def test_expired_link_and_nothing_external(browser, office):

    # a link made two days ago for that day's visit has expired (past link_hours and its visit's day)
    then = {"MEDSEC_NOW": "2026-11-23T09:00:00"}
    visit = office.json("appt", "book", "P2", "--provider", "S1", "--at", "2026-11-24 10:00", "--type", "follow-up",
                        env=then)["id"]
    old = office.ok("intake", "link", visit, "--json", env={"MEDSEC_NOW": "2026-11-24T09:00:00"}).json()
    old["page"] = office.base + urlsplit(old["url"]).path
    browser.get(old["page"])
    assert GONE.search(_done(browser)), browser.page_source[:500]
    assert "9 Secret Rd" not in browser.page_source
    # (e) a fresh page loads only from the kiosk itself
    fresh = _link(office, "P2")
    browser.get(fresh["page"])
    assert _field(browser, "registration.street_address").get_attribute("value") == "9 Secret Rd"
    urls = browser.execute_script("""
        return performance.getEntriesByType('resource').map(e => e.name).concat(
            Array.from(document.querySelectorAll('[src],[href],[action]'))
                 .map(e => e.src || e.href || e.action).filter(Boolean));""")
    origin = office.base
    assert urls and all(u.startswith((origin + "/", "data:")) for u in urls), urls
    assert any(u.endswith("/static/kiosk.js") for u in urls) and any(u.endswith("/static/kiosk.css") for u in urls)
    browser.save_screenshot("/tmp/kiosk-forms-390x844.png")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= WIDTH
