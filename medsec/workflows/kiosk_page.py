"""The kiosk's web page: the patient's forms as one HTML form, the start page, the done page.

Pure functions returning complete HTML5 documents (the kiosk's server, medsec.workflows.kiosk,
sends them); every value shown is escaped. The page's CSS and JavaScript are real files
(templates/kiosk/kiosk.css and kiosk.js, served as /static/...: `ASSETS`) so the strict
Content-Security-Policy the kiosk sends (no inline script or style, nothing from another
origin) holds. The forms are rendered from their definitions (medsec.intakeforms): HTML5
validation (required, type, maxlength, pattern) works without the script; the script checks as
the patient types, in the page's language, shows the guardian's fields when a guardian signs,
and turns the finger-drawn signature into the hidden `<form>.signature_drawn` (a PNG data: URL).
"""

import functools
import os
from collections.abc import Iterator, Mapping
from datetime import date
from html import escape

from medsec import clock
from medsec.intakeforms import Field, Form, text_in
from medsec.records.intake import MESSAGES, YES

LANGUAGES = ("en", "es")
STATIC = {"/static/kiosk.css": ("kiosk.css", "text/css; charset=utf-8"),
          "/static/kiosk.js": ("kiosk.js", "text/javascript; charset=utf-8")}

# The page's own words (the forms bring theirs), by language.
WORDS: dict[str, dict[str, str]] = {
    "title": {"en": "Your forms", "es": "Sus formularios"},
    "start_title": {"en": "Check-in forms", "es": "Formularios de registro"},
    "start_text": {"en": "Type the code the front desk gave you.",
                   "es": "Escriba el código que le dio la recepción."},
    "code": {"en": "Your code", "es": "Su código"},
    "continue": {"en": "Continue", "es": "Continuar"},
    "greeting": {"en": "Hello, {name}", "es": "Hola, {name}"},
    "intro": {"en": "Please check what we have on file, fill in what is missing and sign at the end of each "
                    "consent. The front desk reviews your answers before they change your record.",
              "es": "Revise los datos que tenemos, complete lo que falta y firme al final de cada consentimiento. "
                    "La recepción revisa sus respuestas antes de cambiar su expediente."},
    "submit": {"en": "Send my forms", "es": "Enviar mis formularios"},
    "required": MESSAGES["required"],
    "required_mark": {"en": "required", "es": "obligatorio"},
    "tick": MESSAGES["tick"],
    "too_long": {"en": "too long", "es": "demasiado largo"},
    "email": {"en": "enter an email address like name@example.com",
              "es": "escriba un correo como nombre@ejemplo.com"},
    "phone": {"en": "enter a phone number with its area code", "es": "escriba un teléfono con su código de área"},
    "date": {"en": "enter a date", "es": "escriba una fecha"},
    "future": MESSAGES["future"],
    "state": {"en": "two letters, like MA", "es": "dos letras, como MA"},
    "zip": {"en": "5 or 9 digits", "es": "5 o 9 dígitos"},
    "minor": MESSAGES["minor"],
    "sign": {"en": "sign by typing your full name or drawing below",
             "es": "firme escribiendo su nombre completo o dibujando abajo"},
    "summary": {"en": "Please correct these answers:", "es": "Corrija estas respuestas:"},
    "draw": {"en": "Or sign with your finger", "es": "O firme con el dedo"},
    "clear": {"en": "Clear", "es": "Borrar"},
    "self_pay": {"en": "No insurance (I pay myself)", "es": "Sin seguro (pago por mi cuenta)"},
    "choose": {"en": "Choose...", "es": "Elija..."},
    "signature": {"en": "Signature", "es": "Firma"},
    "done_title": {"en": "Thank you", "es": "Gracias"},
    "done_text": {"en": "Your forms were sent. Please return the tablet to the front desk.",
                  "es": "Sus formularios se enviaron. Devuelva la tableta a la recepción."},
    "language": {"en": "Language", "es": "Idioma"},
}
SEX_CHOICES = (("F", {"en": "Female", "es": "Femenino"}), ("M", {"en": "Male", "es": "Masculino"}),
               ("X", {"en": "Other (X)", "es": "Otro (X)"}),
               ("U", {"en": "Prefer not to say", "es": "Prefiero no decir"}))
# Messages the script shows, in the page's language (data-m-<key> attributes of the form).
SCRIPT_WORDS = ("required", "tick", "too_long", "email", "phone", "date", "future", "state", "zip", "minor", "sign",
                "summary")


def _w(key: str, lang: str) -> str:
    return text_in(WORDS[key], lang)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def page_language(lang: str | None) -> str:
    """The page's language: `lang` when the kiosk speaks it, else English."""
    return lang if lang in LANGUAGES else "en"


# -- the static files -------------------------------------------------------------------------
class _Assets(Mapping):
    """/static/<file> -> (content type, bytes), read from templates/kiosk/ on first use."""

    @functools.cached_property
    def _files(self) -> dict[str, tuple[str, bytes]]:
        import medsec_templates

        folder = os.path.join(os.path.dirname(medsec_templates.__file__), "kiosk")
        files = {}
        for path, (name, kind) in STATIC.items():
            with open(os.path.join(folder, name), "rb") as f:
                files[path] = (kind, f.read())
        return files

    def __getitem__(self, path: str) -> tuple[str, bytes]:
        return self._files[path]

    def __iter__(self) -> Iterator[str]:
        return iter(STATIC)

    def __len__(self) -> int:
        return len(STATIC)

    def __contains__(self, path: object) -> bool:
        return path in STATIC


ASSETS: Mapping[str, tuple[str, bytes]] = _Assets()


# -- the document ----------------------------------------------------------------------------
def _document(title: str, body: str, lang: str) -> str:
    return ("<!DOCTYPE html>\n"
            f'<html lang="{_e(lang)}">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="referrer" content="no-referrer">\n'
            f"<title>{_e(title)}</title>\n"
            '<link rel="stylesheet" href="/static/kiosk.css">\n'
            '<script src="/static/kiosk.js" defer></script>\n'
            f"</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n")


def _switch(lang: str) -> str:
    links = []
    for code, name in (("en", "English"), ("es", "Español")):
        current = ' aria-current="page"' if code == lang else ""
        links.append(f'<a href="?lang={code}" lang="{code}" hreflang="{code}"{current}>{name}</a>')
    return f'<nav class="languages" aria-label="{_e(_w("language", lang))}">{" ".join(links)}</nav>'


def start_page(lang: str, csrf: str, error: str | None = None) -> str:
    """The tablet's start page: the patient types the code the desk gave them."""
    lang = page_language(lang)
    problem = f'<p class="problem summary" role="alert" id="code-problem">{_e(error)}</p>' if error else ""
    described = ' aria-describedby="code-problem" aria-invalid="true"' if error else ""
    body = (f"{_switch(lang)}\n<h1>{_e(_w('start_title', lang))}</h1>\n<p>{_e(_w('start_text', lang))}</p>\n"
            f'{problem}<form method="post" action="/code" class="start">\n'
            f'<input type="hidden" name="csrf" value="{_e(csrf)}">\n'
            f'<input type="hidden" name="lang" value="{_e(lang)}">\n'
            f'<div class="field"><label for="code">{_e(_w("code", lang))}</label>\n'
            f'<input type="text" id="code" name="code" required maxlength="40" autocomplete="off" '
            f'autocapitalize="characters" spellcheck="false"{described}></div>\n'
            f'<button type="submit" id="submit">{_e(_w("continue", lang))}</button>\n</form>')
    return _document(_w("start_title", lang), body, lang)


def done_page(lang: str) -> str:
    """What the patient sees once their forms are sent."""
    lang = page_language(lang)
    return message_page(_w("done_title", lang), _w("done_text", lang), lang)


def message_page(title: str, text: str, lang: str) -> str:
    """A page with a title and a message (an expired or used link, an error)."""
    lang = page_language(lang)
    paragraphs = "\n".join(f"<p>{_e(p)}</p>" for p in text.split("\n\n") if p.strip())
    return _document(title, f'<h1 id="message-title">{_e(title)}</h1>\n<div class="message">{paragraphs}</div>', lang)


# -- the forms -------------------------------------------------------------------------------
def forms_page(forms: list[Form], values: dict[str, str], lang: str, csrf: str, action: str, greeting_name: str,
               problems: dict[str, str] | None = None, payers: list[tuple[str, str]] | tuple = (),
               today: str | date | None = None, dob: str = "") -> str:
    """The patient's forms as one form posting multipart/form-data to `action`: every field named
    `<form>.<field>` (its id the same), pre-filled from `values`, `problems` (`<form>.<field>` ->
    reason) shown beside their fields and in a summary at the top. `payers` are (id, name) for
    the insurer's list; `today` the default date of signing (the practice's today when None);
    `dob` the patient's date of birth (the script then asks for a guardian for a minor)."""
    lang = page_language(lang)
    problems = problems or {}
    day = (today.isoformat() if isinstance(today, date) else today) or clock.today().isoformat()
    ctx = _Context(values, lang, problems, tuple(payers), day)
    labels = {f.name: text_in(f.label, lang) for form in forms for f in form.fields}
    labels.update({f"{form.id}.signature_drawn": _w("signature", lang) for form in forms if form.signature})
    messages = " ".join(f'data-m-{key.replace("_", "-")}="{_e(_w(key, lang))}"' for key in SCRIPT_WORDS)
    body = (f"{_switch(lang)}\n<h1>{_e(_w('greeting', lang).format(name=greeting_name))}</h1>\n"
            f"<p class=\"intro\">{_e(_w('intro', lang))}</p>\n"
            f"{_summary(problems, labels, lang)}"
            f'<form id="intake" method="post" enctype="multipart/form-data" action="{_e(action)}" '
            f'data-today="{_e(day)}" data-dob="{_e(dob)}" {messages}>\n'
            f'<input type="hidden" name="csrf" value="{_e(csrf)}">\n'
            f'<input type="hidden" name="lang" value="{_e(lang)}">\n'
            + "\n".join(_form(form, ctx) for form in forms) +
            f'\n<button type="submit" id="submit">{_e(_w("submit", lang))}</button>\n</form>')
    return _document(_w("title", lang), body, lang)


class _Context:
    def __init__(self, values: dict[str, str], lang: str, problems: dict[str, str], payers: tuple, today: str):
        self.values, self.lang, self.problems, self.payers, self.today = values, lang, problems, payers, today

    def value(self, name: str) -> str:
        return str(self.values.get(name, "") or "")


def _summary(problems: dict[str, str], labels: dict[str, str], lang: str) -> str:
    hidden = "" if problems else " hidden"
    items = "".join(f'<li><a href="#{_e(name)}">{_e(labels.get(name, name))}</a>: {_e(reason)}</li>'
                    for name, reason in problems.items())
    return (f'<div id="summary" class="problem summary" role="alert" tabindex="-1"{hidden}>'
            f"<p>{_e(_w('summary', lang))}</p><ul>{items}</ul></div>\n")


def _form(form: Form, ctx: _Context) -> str:
    text = "".join(f"<p>{_e(p.strip())}</p>" for p in text_in(form.text, ctx.lang).split("\n\n") if p.strip()) \
        if form.text else ""
    fields = "\n".join(_field(f, ctx) for f in form.fields if not f.implicit)
    signature = _signature(form, ctx) if form.signature else ""
    body = f'<div class="text">{text}</div>\n' if text else ""
    return (f'<section class="form" id="form-{_e(form.id)}" aria-labelledby="title-{_e(form.id)}">\n'
            f'<h2 id="title-{_e(form.id)}">{_e(text_in(form.title, ctx.lang))}</h2>\n{body}{fields}\n{signature}'
            "</section>")


def _problem(name: str, ctx: _Context) -> str:
    reason = ctx.problems.get(name, "")
    return f'<p class="problem" id="{_e(name)}-problem" aria-live="polite">{_e(reason)}</p>'


def _aria(field_name: str, ctx: _Context, has_help: bool) -> str:
    described = f"{field_name}-problem" + (f" {field_name}-help" if has_help else "")
    invalid = ' aria-invalid="true"' if field_name in ctx.problems else ""
    return f' aria-describedby="{_e(described)}"{invalid}'


def _label(field: Field, ctx: _Context, tag: str = "label") -> str:
    mark = (f' <span class="req" aria-hidden="true">*</span>'
            f'<span class="sr">({_e(_w("required_mark", ctx.lang))})</span>') if field.required else ""
    target = f' for="{_e(field.name)}"' if tag == "label" else ""
    return f"<{tag}{target}>{_e(text_in(field.label, ctx.lang))}{mark}</{tag}>"


def _help(field: Field, ctx: _Context) -> str:
    return f'<p class="help" id="{_e(field.name)}-help">{_e(text_in(field.help, ctx.lang))}</p>' if field.help else ""


# The input of each one-line type: (type attribute, extra attributes).
_INPUTS = {
    "text": ("text", ""),
    "date": ("date", ""),
    "phone": ("tel", ' autocomplete="tel" inputmode="tel" data-check="phone"'),
    "email": ("email", ' autocomplete="email" inputmode="email" spellcheck="false" autocapitalize="off"'),
    "state": ("text", ' pattern="[A-Za-z]{2}" maxlength="2" autocapitalize="characters" data-check="state"'),
    "zip": ("text", ' pattern="[0-9]{5}(-?[0-9]{4})?" maxlength="10" inputmode="numeric" autocomplete="postal-code" '
                    'data-check="zip"'),
}
_AUTOCOMPLETE = {"patient.first": "given-name", "patient.last": "family-name", "patient.dob": "bday",
                 "patient.address": "street-address", "patient.city": "address-level2"}


def _field(field: Field, ctx: _Context) -> str:
    renderer = {"textarea": _textarea, "checkbox": _checkbox, "photo": _photo, "choice": _radios, "sex": _select,
                "payer": _select}.get(field.type, _input)
    return renderer(field, ctx)


def _wrap(field: Field, ctx: _Context, control: str, label: str | None = None, kind: str = "field") -> str:
    return (f'<div class="{kind}" data-field="{_e(field.name)}" data-label="{_e(text_in(field.label, ctx.lang))}">'
            f'{label if label is not None else _label(field, ctx)}'
            f"{_help(field, ctx)}{control}{_problem(field.name, ctx)}</div>")


def _common(field: Field, ctx: _Context) -> str:
    required = " required" if field.required else ""
    return f' id="{_e(field.name)}" name="{_e(field.name)}"{required}{_aria(field.name, ctx, bool(field.help))}'


def _input(field: Field, ctx: _Context) -> str:
    kind, extra = _INPUTS.get(field.type, ("text", ""))
    if field.type in ("text", "phone", "email") and 'maxlength' not in extra:
        extra += f' maxlength="{field.max}"'
    auto = _AUTOCOMPLETE.get(field.fills or "")
    if auto:
        extra += f' autocomplete="{auto}"'
    if field.type == "date" and field.fills in ("patient.dob", "coverage.subscriber_dob"):
        extra += f' max="{_e(ctx.today)}"'
    value = ctx.value(field.name)
    return _wrap(field, ctx, f'<input type="{kind}"{_common(field, ctx)} value="{_e(value)}"{extra}>')


def _textarea(field: Field, ctx: _Context) -> str:
    return _wrap(field, ctx, f'<textarea{_common(field, ctx)} maxlength="{field.max}" rows="3">'
                             f"{_e(ctx.value(field.name))}</textarea>")


def _checkbox(field: Field, ctx: _Context) -> str:
    checked = " checked" if ctx.value(field.name).strip().casefold() in YES else ""
    control = f'<input type="checkbox"{_common(field, ctx)} value="yes"{checked}>'
    return _wrap(field, ctx, "", f'<label class="check" for="{_e(field.name)}">{control}'
                                 f'<span>{_e(text_in(field.label, ctx.lang))}</span></label>', "field checkbox")


def _photo(field: Field, ctx: _Context) -> str:
    return _wrap(field, ctx, f'<input type="file"{_common(field, ctx)} accept="image/*" capture="environment">')


def _options(field: Field, ctx: _Context) -> list[tuple[str, str]]:
    if field.type == "sex":
        return [(code, text_in(label, ctx.lang)) for code, label in SEX_CHOICES]
    if field.type == "payer":
        return [("", _w("self_pay", ctx.lang))] + [(str(pid), str(name)) for pid, name in ctx.payers]
    return [(c.value, text_in(c.label, ctx.lang)) for c in field.choices]


def _select(field: Field, ctx: _Context) -> str:
    current = ctx.value(field.name)
    options = [] if field.type == "payer" else [("", _w("choose", ctx.lang))]
    options += _options(field, ctx)
    known = {value.casefold() for value, _ in options}
    if current and current.casefold() not in known:  # a value the list does not have stays visible
        options.append((current, current))
    rendered = "".join(f'<option value="{_e(value)}"'
                       f'{" selected" if value.casefold() == current.casefold() and (value or not current) else ""}>'
                       f"{_e(label)}</option>" for value, label in options)
    return _wrap(field, ctx, f"<select{_common(field, ctx)}>{rendered}</select>")


def _radios(field: Field, ctx: _Context, extra: str = "") -> str:
    current = ctx.value(field.name)
    required = " required" if field.required else ""
    buttons = []
    for i, (value, label) in enumerate(_options(field, ctx)):
        ident = field.name if i == 0 else f"{field.name}--{value}"
        checked = " checked" if value == current else ""
        buttons.append(f'<label class="choice" for="{_e(ident)}"><input type="radio" id="{_e(ident)}" '
                       f'name="{_e(field.name)}" value="{_e(value)}"{checked}{required}{extra}>'
                       f"<span>{_e(label)}</span></label>")
    legend = _label(field, ctx, "legend")
    return (f'<fieldset class="field choices" data-field="{_e(field.name)}" '
            f'data-label="{_e(text_in(field.label, ctx.lang))}"'
            f'{_aria(field.name, ctx, bool(field.help))}>{legend}'
            f'{_help(field, ctx)}{"".join(buttons)}{_problem(field.name, ctx)}</fieldset>')


def _signature(form: Form, ctx: _Context) -> str:
    """The signature block: who signs, the guardian's name and relationship (shown when a guardian
    signs), the date, the typed signature and the pad to draw one."""
    get = {f.id: f for f in form.fields if f.implicit}
    signer, name, relationship = get["signer"], get["signer_name"], get["signer_relationship"]
    guardian = ctx.value(signer.name) == "guardian"
    if not ctx.value(signer.name):
        ctx = _Context({**ctx.values, signer.name: "patient"}, ctx.lang, ctx.problems, ctx.payers, ctx.today)
    required = " required" if guardian else ""
    person = (f'<div class="guardian" data-guardian="{_e(form.id)}"{"" if guardian else " hidden"}>'
              f'{_wrap(name, ctx, _plain_input(name, ctx, required, "name"))}'
              f'{_wrap(relationship, ctx, _plain_input(relationship, ctx, required, "off"))}</div>')
    signed_on = get["signed_on"]
    day = ctx.value(signed_on.name) or ctx.today
    dated = _wrap(signed_on, ctx, f'<input type="date"{_common(signed_on, ctx)} value="{_e(day)}" '
                                  f'max="{_e(ctx.today)}">')
    typed = get["signature"]
    drawn = f"{form.id}.signature_drawn"
    has_drawn = bool(ctx.value(drawn))
    typed_input = (f'<input type="text" id="{_e(typed.name)}" name="{_e(typed.name)}"'
                   f'{"" if has_drawn else " required"} '
                   f'maxlength="{typed.max}" autocomplete="off" value="{_e(ctx.value(typed.name))}" '
                   f'class="typed-signature" data-pad="{_e(drawn)}"{_aria(typed.name, ctx, False)}>')
    pad = (f'<div class="field pad" data-field="{_e(drawn)}" data-label="{_e(_w("signature", ctx.lang))}">'
           f'<label for="{_e(drawn)}-canvas">'
           f'{_e(_w("draw", ctx.lang))}</label>'
           f'<canvas id="{_e(drawn)}-canvas" class="signature-pad" width="600" height="200" data-input="{_e(drawn)}" '
           f'data-typed="{_e(typed.name)}" role="img" aria-label="{_e(_w("signature", ctx.lang))}"></canvas>'
           f'<input type="hidden" id="{_e(drawn)}" name="{_e(drawn)}" value="{_e(ctx.value(drawn))}">'
           f'<button type="button" class="clear" data-clear="{_e(drawn)}-canvas">{_e(_w("clear", ctx.lang))}</button>'
           f"{_problem(drawn, ctx)}</div>")
    return (f'<div class="signature-block" data-form="{_e(form.id)}">'
            f'{_radios(signer, ctx, " data-signer")}{person}{dated}{_wrap(typed, ctx, typed_input)}{pad}</div>')


def _plain_input(field: Field, ctx: _Context, required: str, auto: str) -> str:
    return (f'<input type="text" id="{_e(field.name)}" name="{_e(field.name)}"{required} maxlength="{field.max}" '
            f'autocomplete="{auto}" value="{_e(ctx.value(field.name))}"{_aria(field.name, ctx, False)}>')
