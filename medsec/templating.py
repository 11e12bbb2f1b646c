"""Message templates: Jinja2 in its sandbox, practice overrides, per language.

A template is a folder `messages/<name>/` holding `<lang>.subject.j2`,
`<lang>.txt.j2` and optionally `<lang>.html.j2`. The practice's own copy
in `<data>/templates/messages/<name>/` wins over the built-in one; the
patient's language wins over the practice's default language, which wins
over English. A variable the template uses but the message lacks is an
error when rendering (and so at preview time), never a blank in a letter.
"""

import functools
import os
from dataclasses import dataclass

import medsec_templates
from medsec.errors import InvalidInput

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


@functools.lru_cache(maxsize=8)
def _environment(data_dir: str | None):
    """One environment per data directory and process, so each template is
    compiled once per batch (Jinja reloads a file whose mtime changed)."""
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(loader=FileSystemLoader(search_path(data_dir)), undefined=StrictUndefined,
                                autoescape=False, keep_trailing_newline=True, trim_blocks=True,
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
           default_language: str = "en") -> Rendered:
    """Render one message template; InvalidInput names the file and line of a problem."""
    langs = languages_of(data_dir, name)
    if not langs:
        raise InvalidInput(f"no template {name!r}", hint=f"templates: {', '.join(available(data_dir))}")
    lang = next((l for l in (language, default_language, "en") if l in langs), langs[0])
    env = _environment(data_dir)
    subject = _render_part(env, name, lang, "subject", context)
    text = _render_part(env, name, lang, "txt", context)
    if text is None:
        raise InvalidInput(f"template {name!r} has no {lang}.txt.j2")
    html = _render_part(env, name, lang, "html", context)
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
    try:
        return template.render(**context)
    except TemplateError as e:
        raise InvalidInput(f"{template.filename}: {name} ({lang}): {e}") from None


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
                except TemplateNotFound:
                    continue  # subject and html are optional
    return problems


def require_valid(data_dir: str | None, names: list[str]) -> None:
    """Stop before a batch starts when one of its templates cannot be parsed."""
    problems = check_all(data_dir, names)
    if problems:
        raise TemplateSyntaxProblem(f"{problems[0]}", hint="fix the template; nothing was sent")
