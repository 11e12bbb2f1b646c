"""Message templates: Jinja2 in its sandbox, practice overrides, per language.

A template is a folder `messages/<name>/` holding `<lang>.subject.j2`,
`<lang>.txt.j2` and optionally `<lang>.html.j2`. The practice's own copy
in `<data>/templates/messages/<name>/` wins over the built-in one; the
patient's language wins over the practice's default language, which wins
over English. A variable the template uses but the message lacks is an
error when rendering (and so at preview time), never a blank in a letter.

Practice templates are the practice's own code, so they run in Jinja's sandbox
(immutable: no list or dict changes) with limits on what one expression may build
and on each part's output (see "Limits" below). The HTML part escapes what it
prints (autoescape); every printed value has its control characters escaped.

Dates, times and money are written in the message's language by Babel's CLDR
data, through four filters (see "People's formats" below):
`{{ appointment.start | format_date("full") }}` is "martes, 5 de enero de 2027"
in a Spanish template, "Tuesday, January 5, 2027" in an English one.
"""

import contextvars
import functools
import os
import re
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal

import medsec_templates
from medsec.errors import InvalidInput
from medsec.text import escape_controls

PARTS = ("subject", "txt", "html")


class TemplateSyntaxProblem(InvalidInput):
    """A template that cannot be parsed: every message from it would fail."""


def builtin_dir() -> str:
    return os.path.dirname(medsec_templates.__file__)


def search_path(data_dir: str | None) -> list[str]:
    dirs = []
    if data_dir:
        dirs.append(os.path.join(data_dir, "templates"))
    dirs.append(builtin_dir())
    return dirs


@dataclass
class Rendered:
    template: str
    language: str
    subject: str
    text: str
    html: str | None


def _printable(value):
    """A value a template prints, control characters escaped (newlines kept): a name
    stored before input was checked cannot put ESC into a letter or an email."""
    if isinstance(value, str):
        escaped = escape_controls(value, keep_newlines=True)
        return value if escaped is value else type(value)(escaped)  # Markup stays Markup
    return value


@functools.lru_cache(maxsize=8)
def _environment(data_dir: str | None):
    """One environment per data directory and process, so each template is
    compiled once per batch (Jinja reloads a file whose mtime changed).
    HTML parts (`.html.j2`) autoescape; the subject and the text part do not."""
    from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape

    return _limited_sandbox()(loader=FileSystemLoader(search_path(data_dir)), undefined=StrictUndefined,
                          autoescape=select_autoescape(enabled_extensions=("html.j2",),
                                                       default_for_string=False, default=False),
                          finalize=_printable, keep_trailing_newline=True, trim_blocks=True,
                          lstrip_blocks=True)


def available(data_dir: str | None) -> list[str]:
    names = set()
    for base in search_path(data_dir):
        folder = os.path.join(base, "messages")
        if os.path.isdir(folder):
            names |= {n for n in os.listdir(folder) if os.path.isdir(os.path.join(folder, n))}
    return sorted(names)


def languages_of(data_dir: str | None, name: str) -> list[str]:
    langs = set()
    for base in search_path(data_dir):
        folder = os.path.join(base, "messages", name)
        if os.path.isdir(folder):
            langs |= {f.split(".")[0] for f in os.listdir(folder) if f.endswith(".txt.j2")}
    return sorted(langs)


def render(data_dir: str | None, name: str, context: dict, language: str = "en",
           default_language: str = "en", tz: tzinfo | None = None) -> Rendered:
    """Render one message template; InvalidInput names the file and line of a problem.

    Its date, time and money filters write in the language of the template
    chosen, and moments in `tz` (the practice's zone; each moment's own if None).
    """
    langs = languages_of(data_dir, name)
    if not langs:
        raise InvalidInput(f"no template {name!r}", hint=f"templates: {', '.join(available(data_dir))}")
    lang = next((l for l in (language, default_language, "en") if l in langs), langs[0])
    env = _environment(data_dir)
    token = _WRITING.set((lang, tz))
    try:
        subject = _render_part(env, name, lang, "subject", context)
        text = _render_part(env, name, lang, "txt", context)
        if text is None:
            raise InvalidInput(f"template {name!r} has no {lang}.txt.j2")
        html = _render_part(env, name, lang, "html", context)
    finally:
        _WRITING.reset(token)
    return Rendered(name, lang, (subject or "").strip(), text, html)


def _render_part(env, name: str, lang: str, part: str, context: dict) -> str | None:
    """One part (subject, txt, html) of a message in `lang`; None when the template has no such part."""
    from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError

    path = f"messages/{name}/{lang}.{part}.j2"
    try:
        template = env.get_template(path)
    except TemplateNotFound:
        return None
    except TemplateSyntaxError as e:
        raise TemplateSyntaxProblem(f"{e.filename or path}:{e.lineno}: template syntax error: {e.message}") \
            from None
    except RecursionError:
        raise TemplateSyntaxProblem(f"{path}: template syntax error: nested too deeply") from None
    try:
        return _render_bounded(template, context)
    except TemplateError as e:
        raise InvalidInput(f"{template.filename}: {name} ({lang}): {e}") from None
    except RUNAWAY as e:  # the template's own arithmetic or recursion, not medsec's
        raise InvalidInput(f"{template.filename}: {name} ({lang}): {type(e).__name__}: {e}") from None


def check_all(data_dir: str | None, names: list[str] | None = None) -> list[str]:
    """Syntax problems in every template, or in `names` (file:line: message)."""
    from jinja2 import TemplateNotFound, TemplateSyntaxError

    env = _environment(data_dir)
    problems = []
    for name in available(data_dir) if names is None else names:
        for lang in languages_of(data_dir, name):
            for part in PARTS:
                try:
                    env.get_template(f"messages/{name}/{lang}.{part}.j2")
                except TemplateSyntaxError as e:
                    problems.append(f"{e.filename}:{e.lineno}: template syntax error: {e.message}")
                except RecursionError:
                    problems.append(f"messages/{name}/{lang}.{part}.j2: template syntax error: nested too deeply")
                except TemplateNotFound:
                    continue  # subject and html are optional
    return problems


def attributes_used(data_dir: str | None, name: str, variable: str) -> set[str]:
    """The attributes of `variable` a template's parts name (`vars.day`, `vars["day"]`), in every language."""
    from jinja2 import TemplateNotFound, TemplateSyntaxError, nodes

    env = _environment(data_dir)
    found: set[str] = set()
    for lang in languages_of(data_dir, name):
        for part in PARTS:
            try:
                source, _, _ = env.loader.get_source(env, f"messages/{name}/{lang}.{part}.j2")
                tree = env.parse(source)
            except (TemplateNotFound, TemplateSyntaxError, RecursionError):
                continue  # a missing part; a broken one is require_valid's to report
            for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
                if isinstance(node.node, nodes.Name) and node.node.name == variable:
                    if isinstance(node, nodes.Getattr):
                        found.add(node.attr)
                    elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                        found.add(node.arg.value)
    return found


def require_valid(data_dir: str | None, names: list[str]) -> None:
    """Stop before a batch starts when one of its templates cannot be parsed."""
    problems = check_all(data_dir, names)
    if problems:
        raise TemplateSyntaxProblem(f"{problems[0]}", hint="fix the template; nothing was sent")


# -- Limits --------------------------------------------------------------------
# A practice template is code: `range(10**9)`, `'a' * 10**9`, `'x'.ljust(10**9)` or
# a doubling loop would otherwise exhaust memory or surface as an internal error.
# Each limit is far above what a letter, an email or a statement needs.
MAX_PART_LENGTH = 1_000_000   # characters one rendered part (subject, text, html) may hold
MAX_VALUE_LENGTH = 1_000_000  # characters (or items) one expression may build
MAX_INT_BITS = 10_000         # about 3,000 digits (Python prints at most 4,300)
MAX_JSON_INDENT = 100
# What a template's own mistakes raise (arithmetic, recursion, a missing key, memory):
# the template's problem, reported as invalid input naming it, never an internal error.
RUNAWAY = (ArithmeticError, LookupError, TypeError, ValueError, AttributeError, MemoryError, RecursionError)
# A width or precision of a million or more ('%999999999d', '{:>1000000000}'), a width
# taken from an argument ('%*d', '%.*f') or a nested field ('{:{}}').
_HUGE_OR_INDIRECT_WIDTH = re.compile(r"\d{7,}|%[-#0 +]*\d*\.?\*|\{[^{}]*:[^{}]*\{")
_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill"})
_REFUSED_METHODS = frozenset({"translate", "maketrans"})  # a table can map one character to a megabyte


def _refuse(what: str) -> None:
    from jinja2.sandbox import SecurityError

    raise SecurityError(f"template limit: {what}")


def _check_length(size: int, what: str) -> None:
    if size > MAX_VALUE_LENGTH:
        _refuse(f"{what} would hold {size:,} characters or items (at most {MAX_VALUE_LENGTH:,})")


def _check_format_string(text: str) -> None:
    if _HUGE_OR_INDIRECT_WIDTH.search(text):
        _refuse(f"format {text[:40]!r} has a width of a million or more, or a width from an argument")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_binop(operator: str, left, right) -> None:
    """`left operator right` may not build a value past the limits."""
    if operator == "%" and isinstance(left, str):
        _check_format_string(left)
    elif operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
        _check_length(len(left) + len(right), "'+'")
    elif operator == "*":
        _check_product(left, right)
    elif operator == "**" and _is_int(left) and _is_int(right) and right > 0 \
            and abs(left).bit_length() * right > MAX_INT_BITS:
        _refuse(f"'**' would build a number of more than {MAX_INT_BITS:,} bits")


def _check_product(left, right) -> None:
    if _is_int(left) and _is_int(right):
        if abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
            _refuse(f"'*' would build a number of more than {MAX_INT_BITS:,} bits")
        return
    count, sequence = (left, right) if _is_int(left) else (right, left)
    if _is_int(count) and isinstance(sequence, (str, list, tuple)):
        _check_length(len(sequence) * max(count, 0), "'*'")


def _replaced_length(text: str, old: str, new: str, count=None) -> int:
    """The length of `text.replace(old, new, count)`, without building it."""
    found = len(text) + 1 if old == "" else text.count(old)
    if _is_int(count) and count >= 0:
        found = min(found, count)
    return len(text) + found * (len(new) - len(old))


def _check_method(owner: str, name: str, args: tuple, kwargs: dict) -> tuple:
    """A call of str method `name`; returns `args` (a join's items as a list, counted once)."""
    if name in _REFUSED_METHODS:
        _refuse(f"str.{name} is not available in templates")
    if name in _WIDTH_METHODS:
        width = args[0] if args else kwargs.get("width", 0)
        if _is_int(width):
            _check_length(width, f"str.{name}")
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if _is_int(size):
            _check_length(len(owner) + owner.count("\t") * size, "str.expandtabs")
    elif name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        _check_length(_replaced_length(owner, *args[:2], *args[2:3]), "str.replace")
    elif name == "join" and args:
        items = list(args[0])
        _check_length(len(owner) * max(len(items) - 1, 0), "str.join")
        return (items, *args[1:])
    return args


def _render_bounded(template, context: dict) -> str:
    """`template` rendered, stopped once its output passes MAX_PART_LENGTH."""
    pieces, size = [], 0
    for piece in template.generate(**context):
        size += len(piece)
        if size > MAX_PART_LENGTH:
            _refuse(f"the output is longer than {MAX_PART_LENGTH:,} characters")
        pieces.append(piece)
    return "".join(pieces)


def _bounded_filters(filters: dict) -> dict:
    """Jinja's filters that take a size (a width, an indent, a separator), bounded."""
    from jinja2 import pass_eval_context

    center, indent, fmt, replace, join, tojson = (filters[n] for n in
                                                  ("center", "indent", "format", "replace", "join", "tojson"))

    def bounded_center(value, width=80):
        if _is_int(width):
            _check_length(width, "center")
        return center(value, width)

    def bounded_indent(s, width=4, first=False, blank=False):
        step = width if _is_int(width) else len(str(width))
        _check_length(len(str(s)) + step * (str(s).count("\n") + 1), "indent")
        return indent(s, width, first, blank)

    def bounded_format(value, *args, **kwargs):
        _check_format_string(str(value))
        return fmt(value, *args, **kwargs)

    @pass_eval_context
    def bounded_replace(eval_ctx, s, old, new, count=None):
        _check_length(_replaced_length(str(s), str(old), str(new), count), "replace")
        return replace(eval_ctx, s, old, new, count)

    @pass_eval_context
    def bounded_join(eval_ctx, value, d="", attribute=None):
        items = list(value)
        _check_length(len(str(d)) * max(len(items) - 1, 0), "join")
        return join(eval_ctx, items, d, attribute)

    @pass_eval_context
    def bounded_tojson(eval_ctx, value, indent=None):
        if _is_int(indent) and indent > MAX_JSON_INDENT:
            _refuse(f"tojson indent {indent} (at most {MAX_JSON_INDENT})")
        return tojson(eval_ctx, value, indent)

    return {"center": bounded_center, "indent": bounded_indent, "format": bounded_format,
            "replace": bounded_replace, "join": bounded_join, "tojson": bounded_tojson}


@functools.lru_cache(maxsize=1)
def _limited_sandbox():
    """The sandbox class, made when the first template is rendered (jinja2 costs ~20 ms
    to import; commands that render nothing do not pay for it)."""
    from jinja2.compiler import CodeGenerator
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class BoundedConcat(CodeGenerator):
        """`a ~ b` checked like `a + b`, so a loop or a recursive macro cannot double a
        string past the limit."""

        def visit_Concat(self, node, frame):
            self.write("environment.bounded(")
            super().visit_Concat(node, frame)
            self.write(")")

    class LimitedSandbox(ImmutableSandboxedEnvironment):
        """Jinja's immutable sandbox with the limits above on operators, str methods,
        format strings and filters; no `lipsum` (it makes text of any length)."""

        code_generator_class = BoundedConcat
        intercepted_binops = frozenset({"*", "**", "+", "%"})

        def __init__(self, **options):
            super().__init__(**options)
            self.filters.update(_bounded_filters(self.filters))
            self.filters.update(PEOPLE_FILTERS)
            self.globals.pop("lipsum", None)

        def call_binop(self, context, operator, left, right):
            _check_binop(operator, left, right)
            return super().call_binop(context, operator, left, right)

        def call(self, context, obj, /, *args, **kwargs):
            owner = getattr(obj, "__self__", None)
            if isinstance(owner, str):
                args = _check_method(owner, getattr(obj, "__name__", ""), args, kwargs)
            return super().call(context, obj, *args, **kwargs)

        def wrap_str_format(self, value):
            wrapped = super().wrap_str_format(value)
            if wrapped is not None:
                _check_format_string(value.__self__)
            return wrapped

        def bounded(self, value):
            _check_length(len(value), "'~'")
            return value

    return LimitedSandbox


# -- People's formats ------------------------------------------------------------
# A message's dates, times and amounts as its reader writes them, by Babel (CLDR):
#
#   {{ appointment.start | format_date("full") }}     martes, 5 de enero de 2027
#   {{ appointment.start | format_date("EEEE d 'de' MMMM") }}  martes 5 de enero
#   {{ appointment.start | format_time }}             14:30  (English: 2:30 PM)
#   {{ appointment.start | format_datetime }}         5 de enero de 2027, 14:30
#   {{ statement.balance | format_money }}            125,50 US$  (English: $125.50)
#
# A format is short, medium, long or full (the language's own), or a CLDR pattern
# of at most MAX_PATTERN characters. A value is a datetime, a date, or their ISO
# text (as records and contexts hold them); an empty value prints nothing. Moments
# are shown in the practice's zone. Babel's narrow and no-break spaces (2:30\u202fPM)
# print as plain spaces: a text message stays in the SMS alphabet and mail clients
# show no odd glyph. The language is the template's ('es' for es.txt.j2); a language
# Babel does not know writes as US English. Money is in CURRENCY.
CURRENCY = "USD"
MAX_PATTERN = 100
MAX_MONEY_DIGITS = 30  # 1e999999999 would be a billion digits
_STYLES = ("short", "medium", "long", "full")
_WRITING: contextvars.ContextVar[tuple[str, tzinfo | None]] = contextvars.ContextVar("medsec_writing",
                                                                                    default=("en", None))


def _locale():
    """Babel's Locale of the template being rendered (US English for a language it does not know)."""
    from babel import Locale, UnknownLocaleError  # ~50 ms: only messages that print a date or amount pay

    language = _WRITING.get()[0].replace("-", "_")
    try:
        return Locale.parse(language)
    except (ValueError, UnknownLocaleError):
        return Locale.parse("en_US")


def _format_of(style) -> str:
    text = str(style)
    if text not in _STYLES and len(text) > MAX_PATTERN:
        _refuse(f"a date format of {len(text):,} characters (at most {MAX_PATTERN})")
    return text


def _when(value) -> date | None:
    """A datetime (in the practice's zone) or a date from a value a template holds; None for ''."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    if not isinstance(value, date):
        raise TypeError(f"{type(value).__name__} is not a date or a time")
    tz = _WRITING.get()[1]
    if isinstance(value, datetime) and tz is not None:
        value = value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)
    return value


def _plain_spaces(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def format_date(value, style="long") -> str:
    """A date (or a moment's day) in the template's language: format_date("full")."""
    from babel.dates import format_date as babel_date

    when = _when(value)
    return "" if when is None else _plain_spaces(babel_date(when, _format_of(style), locale=_locale()))


def format_time(value, style="short") -> str:
    """A moment's time of day in the template's language: 14:30, 2:30 PM."""
    from babel.dates import format_time as babel_time

    when = _when(value)
    if when is not None and not isinstance(when, datetime):
        raise TypeError(f"{value!r} is a day, not a time")
    return "" if when is None else _plain_spaces(babel_time(when, _format_of(style), locale=_locale()))


def format_datetime(value, style=None) -> str:
    """A moment in the template's language: the long date and the short time, joined as the
    language joins them ("5 de enero de 2027, 14:30"), or `style` (a style or a pattern)."""
    from babel.dates import format_datetime as babel_datetime
    from babel.dates import get_datetime_format

    when = _when(value)
    if when is None:
        return ""
    if not isinstance(when, datetime):
        raise TypeError(f"{value!r} is a day, not a time")
    if style is not None:
        return _plain_spaces(babel_datetime(when, _format_of(style), locale=_locale()))
    joined = str(get_datetime_format("long", locale=_locale()))
    return _plain_spaces(joined.replace("{1}", format_date(when, "long")).replace("{0}", format_time(when, "short")))


def format_money(value, currency: str = CURRENCY) -> str:
    """An amount in the template's language: $1,250.00, 1.250,00 US$; '' for an empty one."""
    from babel.numbers import format_currency

    if value is None or value == "":
        return ""
    amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    if not amount.is_finite() or not -MAX_MONEY_DIGITS <= amount.adjusted() <= MAX_MONEY_DIGITS:
        raise ValueError(f"{str(value)[:40]!r} is not an amount a message prints")
    return _plain_spaces(format_currency(amount, str(currency), locale=_locale()))


PEOPLE_FILTERS = {"format_date": format_date, "format_time": format_time, "format_datetime": format_datetime,
                  "format_money": format_money}
