"""Practice templates are code the practice writes: hostile ones, rendered through the real commands
that preview and send messages, end in one line naming the template (exit 2, or the reminder marked
failed), never in an internal error, a huge allocation or a message sent."""

import pytest
from helpers.files import snapshot

from medsec import templating

HOSTILE = {
    "range": "{% for i in range(10**9) %}x{% endfor %}",
    "string times": "{{ 'a' * 10**9 }}",
    "list times": "{{ ([1] * 10**9) | length }}",
    "ljust": "{{ 'x'.ljust(10**9) }}",
    "format width": "{{ '{:>1000000000}'.format(1) }}",
    "nested width": "{{ '{:{}}'.format(1, 10**9) }}",
    "percent width": "{{ '%999999999d' % 1 }}",
    "star width": "{{ '%*d' % (10**9, 1) }}",
    "format filter": "{{ '%999999999d' | format(1) }}",
    "center filter": "{{ 'x' | center(10**9) }}",
    "indent filter": "{{ ('a\n' * 100000) | indent(1000) }}",
    "replace": "{{ ('a' * 1000).replace('a', 'a' * 1000).replace('a', 'a' * 1000) }}",
    "replace filter": "{{ ('a' * 1000) | replace('a', 'a' * 1000) | replace('a', 'a' * 1000) }}",
    "join": "{{ ('a' * 100000).join(range(100000) | map('string')) }}",
    "tojson indent": "{{ [[1]] | tojson(indent=10**9) }}",
    "expandtabs": "{{ ('\t' * 1000).expandtabs(10**6) }}",
    "translate": "{{ 'aaa'.translate({97: 'b' * 1000000}) }}",
    "doubling loop": "{% set ns = namespace(s='a') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
                     "{% endfor %}{{ ns.s | length }}",
    "doubling macro": "{% macro f(s, n) %}{{ f(s ~ s, n - 1) if n else s | length }}{% endmacro %}{{ f('a', 60) }}",
    "big number": "{% set ns = namespace(n=10) %}{% for i in range(100) %}{% set ns.n = ns.n * ns.n %}"
                  "{% endfor %}{{ ns.n }}",
    "power": "{{ 7 ** 100000 }}",
    "output length": "{% for i in range(100000) %}{{ 'a' * 100 }}{% endfor %}",
    "recursion": "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "lipsum": "{{ lipsum(10**6) }}",
    "list change": "{% set l = [1] %}{{ l.append(l) }}",
    "division by zero": "{{ 1 / 0 }}",
    "type error": "{{ 1 + 'a' }}",
    "deep nesting": "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
}


@pytest.fixture
def clinic(practice):
    """P1 Ann Smith (reminders by email), physician S1 with an email, A1 tomorrow; messages go to the outbox."""
    practice.ok("patient", "add", "--first", "Ann", "--last", "Smith", "--dob", "1970-01-01",
                "--email", "ann@example.org", "--preferred-channel", "email")
    practice.ok("staff", "add", "--name", "Dr A", "--role", "physician", "--npi", "1234567893",
                "--email", "dra@example.org")
    practice.ok("staff", "hours", "S1", "--day", "mon-fri", "--from", "08:00", "--to", "17:00")
    (practice.home / "channels.yaml").write_text(
        "outbox: {folder: outbox}\nroutes: {email: outbox, sms: outbox, letter: outbox}\n")
    practice.ok("config", "show")  # the configuration's cache is up to date before a test takes a snapshot
    practice.ok("appt", "book", "P1", "--provider", "S1", "--at", "2026-11-27 09:00", "--type", "follow-up")
    return practice


def override(m, name: str, body: str, part: str = "txt"):
    folder = m.home / "templates" / "messages" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"en.{part}.j2").write_text(body)


def one_error_line(result, template: str) -> str:
    (line,) = result.stderr.splitlines()
    assert line.startswith("medsec: error: ") and f"messages/{template}/en.txt.j2" in line
    assert "internal error" not in line and "Traceback" not in result.stderr and len(line) < 700
    return line


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_reminder_template_fails_in_one_line_and_sends_nothing(clinic, kind):
    override(clinic, "reminder-email", HOSTILE[kind])
    before = snapshot(clinic.home)
    preview = clinic("remind", "preview", "A1")
    assert preview.exit_code == 2
    one_error_line(preview, "reminder-email")
    dry = clinic("remind", "send", "--dry-run")
    assert dry.exit_code in (1, 2) and "internal error" not in dry.stderr
    assert snapshot(clinic.home) == before
    sent = clinic("remind", "send")
    assert sent.exit_code in (1, 2) and "internal error" not in sent.stderr
    assert not list((clinic.home / "outbox").glob("*.json"))


@pytest.mark.parametrize("kind", ["string times", "ljust", "output length", "doubling loop", "recursion"])
def test_hostile_memo_template_fails_in_one_line_and_writes_nothing(clinic, kind):
    override(clinic, "hostile", HOSTILE[kind])
    override(clinic, "hostile", "Notice\n", part="subject")
    before = snapshot(clinic.home)
    result = clinic("memo", "new", "--template", "hostile", "--staff", "S1")
    assert result.exit_code == 2
    assert "template limit" in one_error_line(result, "hostile") or kind == "recursion"
    assert snapshot(clinic.home) == before


def test_ordinary_formatting_still_works(clinic):
    override(clinic, "friendly", "{{ 'x'.ljust(5) }}|{{ '%5.2f' | format(3.14159) }}|{{ '{:>6}'.format('ab') }}|"
                                 "{{ ['a', 'b'] | join(', ') }}|{{ 'ab' * 3 }}|{{ 2 ** 10 }}|{{ 'a' | center(5) }}|"
                                 "{{ 'x-y' | replace('-', '+') }}\n")
    override(clinic, "friendly", "Hi\n", part="subject")
    memo = clinic.json("memo", "new", "--template", "friendly", "--to", "S1")
    assert memo["text"] == "x    | 3.14|    ab|a, b|ababab|1024|  a  |x+y\n"


def test_html_parts_autoescape_and_text_parts_do_not(tmp_path):
    override_dir = tmp_path / "templates" / "messages" / "greeting"
    override_dir.mkdir(parents=True)
    (override_dir / "en.subject.j2").write_text("Hello {{ name }}\n")
    (override_dir / "en.txt.j2").write_text("Dear {{ name }},\n")
    (override_dir / "en.html.j2").write_text("<p>Dear {{ name }},</p>{{ '<b>ours</b>' | safe }}\n")
    name = "<script>alert(1)</script> & \x1b]52;c;eA==\x07"
    rendered = templating.render(str(tmp_path), "greeting", {"name": name})
    assert rendered.html == ("<p>Dear &lt;script&gt;alert(1)&lt;/script&gt; &amp; \\x1b]52;c;eA==\\x07,</p>"
                             "<b>ours</b>\n")
    assert rendered.text == "Dear <script>alert(1)</script> & \\x1b]52;c;eA==\\x07,\n"
    assert rendered.subject == "Hello <script>alert(1)</script> & \\x1b]52;c;eA==\\x07"
