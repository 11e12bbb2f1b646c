"""The checks of each configuration file: what medsec.config.validate finds wrong in a file's data.

Each file's checker walks its parsed YAML and collects (path, message, severity); medsec.config
turns the paths into lines. Every file is also searched for secrets written in it (a password,
token or key, a URL with a password): a setting names an environment variable instead
(`password_env`). `channel_needs` and `unset_env` also serve `remind send`'s pre-flight checks.
"""

import os
import re
from collections.abc import Callable
from datetime import date

from medsec.clock import DATE_ORDERS, parse_clock
from medsec.errors import InvalidInput
from medsec.identifiers import email_valid, npi_valid, tax_id_valid, zip_valid
from medsec.intakeforms import check_intake
from medsec.money import parse_amount
from medsec.vocabulary import (
    ACCOUNT_NAME,
    CURRENCY_CODE,
    DAYS,
    DEFAULT_ROUTES,
    ENV_NAME,
    JOURNAL_ACCOUNTS,
    PERMISSIONS,
    ROLE_NAME,
    ROLES,
    ROUTE_KINDS,
    SECRET_WORDS,
    SECURITY_MODES,
    SIGN_IN_LIMITS,
    URL_WITH_PASSWORD,
)


class _Checker:
    """Collects (path, message, severity) while walking a config's data."""

    def __init__(self):
        self.found: list[tuple[tuple, str, str]] = []

    def error(self, path, message):
        self.found.append((tuple(path), message, "error"))

    def warn(self, path, message):
        self.found.append((tuple(path), message, "warning"))

    def mapping(self, data, path) -> dict:
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.error(path, f"{_dotted(path) or 'the file'} must be a mapping")
            return {}
        return data

    def seq(self, data, path) -> list:
        if data is None:
            return []
        if not isinstance(data, list):
            self.error(path, f"{_dotted(path)} must be a list")
            return []
        return data

    def required(self, data: dict, key, path):
        if data.get(key) in (None, ""):
            self.error(path, f"{_dotted(path + [key])} is required")
            return False
        return True


def _dotted(path) -> str:
    return ".".join(str(p) for p in path)


def _check_clock_range(c: _Checker, value, path):
    parts = value if isinstance(value, list) else str(value).split("-")
    if len(parts) != 2:
        c.error(path, f"{_dotted(path)}: expected 'HH:MM-HH:MM' or [HH:MM, HH:MM], got {value!r}")
        return
    try:
        start, end = (parse_clock(p) for p in parts)
    except InvalidInput as e:
        c.error(path, f"{_dotted(path)}: {e.message}")
        return
    if start >= end:
        c.error(path, f"{_dotted(path)}: ends before it starts")


def _check_hours(c: _Checker, hours, path):
    for day, blocks in c.mapping(hours, path).items():
        if day not in DAYS:
            c.error(path + [day], f"{_dotted(path + [day])}: unknown day (use {', '.join(DAYS)})")
            continue
        for i, block in enumerate(c.seq(blocks, path + [day])):
            _check_clock_range(c, block, path + [day, i])


def _check_medsec(c, data, schema_version: int):
    data = c.mapping(data, [])
    if not isinstance(data.get("schema_version"), int):
        c.error(["schema_version"], "schema_version must be a whole number")
    elif data["schema_version"] != schema_version:
        older = data["schema_version"] < schema_version
        c.error(["schema_version"], f"schema_version {data['schema_version']} is not the one this medsec "
                                    f"reads ({schema_version})" + ("; run 'medsec upgrade'" if older else ""))


def _check_rooms(c, data):
    """practice.yaml `rooms`: each with an id, no id twice (`appt status ID roomed --room ID` names one)."""
    seen: set[str] = set()
    for i, room in enumerate(c.seq(data.get("rooms"), ["rooms"])):
        room = c.mapping(room, ["rooms", i])
        if c.required(room, "id", ["rooms", i]):
            if str(room["id"]) in seen:
                c.error(["rooms", i, "id"], f"rooms: duplicate room id {room['id']}")
            seen.add(str(room["id"]))


def _check_practice(c, data):
    data = c.mapping(data, [])
    c.required(data, "name", [])
    if c.required(data, "time_zone", []):
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(str(data["time_zone"]))
        except Exception:
            c.error(["time_zone"], f"unknown time zone {data['time_zone']!r} (e.g. America/New_York)")
    if data.get("npi") and not npi_valid(str(data["npi"])):
        c.error(["npi"], f"npi {data['npi']!r} is not a valid NPI (10 digits, Luhn check)")
    if data.get("tax_id") and not tax_id_valid(str(data["tax_id"])):
        c.error(["tax_id"], f"tax_id {data['tax_id']!r} must be 9 digits (NN-NNNNNNN)")
    address = c.mapping(data.get("address"), ["address"])
    if address.get("zip") and not zip_valid(str(address["zip"])):
        c.error(["address", "zip"], f"address.zip {address['zip']!r} must be a 5- or 9-digit ZIP")
    if address.get("state") and not (
        isinstance(address["state"], str) and len(address["state"]) == 2 and address["state"].isalpha()
    ):
        c.error(["address", "state"], "address.state must be a two-letter code")
    _check_hours(c, data.get("office_hours"), ["office_hours"])
    _check_rooms(c, data)
    slot = c.mapping(data.get("scheduling"), ["scheduling"]).get("slot_minutes", 15)
    if not isinstance(slot, int) or not 5 <= slot <= 120:
        c.error(["scheduling", "slot_minutes"], "scheduling.slot_minutes must be 5 to 120")
    for i, closure in enumerate(c.seq(data.get("closures"), ["closures"])):
        value = closure.get("date") if isinstance(closure, dict) else closure
        _check_date(c, value, ["closures", i])
    _check_date_order(c, data)
    _check_sign_in(c, data)
    _check_usage(c, data)
    _check_reminder_settings(c, data)


REMINDER_SETTINGS = {"letter_lead_days": (0, 60), "sms_max_segments": (1, 10)}  # whole numbers within


def _check_reminder_settings(c, data: dict) -> None:
    """practice.yaml `reminders:`: the days the post takes (no letter reminder for a visit sooner)
    and the SMS segments a reminder may take before it is shortened."""
    for key, value in c.mapping(data.get("reminders"), ["reminders"]).items():
        if key not in REMINDER_SETTINGS:
            c.error(["reminders", key], f"reminders.{key}: unknown setting (use {', '.join(REMINDER_SETTINGS)})")
            continue
        least, most = REMINDER_SETTINGS[key]
        if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
            c.error(["reminders", key], f"reminders.{key} must be a whole number from {least} to {most}, "
                                        f"not {value!r}")


def _check_usage(c, data: dict) -> None:
    """practice.yaml `billing: {usage: T}`: claim files are X12 test files (ISA15 T, never marked submitted)."""
    usage = c.mapping(data.get("billing"), ["billing"]).get("usage")
    if usage is not None and usage not in ("T", "P"):
        c.error(["billing", "usage"], f"billing.usage must be T (test files) or P (production), not {usage!r}")
    _check_accounts(c, data)


def _check_date_order(c, data: dict) -> None:
    """practice.yaml's `date_order`: how its people write 1/5 (medsec.clock reads dates so)."""
    if data.get("date_order") is not None and data["date_order"] not in DATE_ORDERS:
        c.error(["date_order"], f"date_order must be MDY (1/5 is January 5) or DMY (1/5 is May 1), "
                                f"not {data['date_order']!r}")


def _check_sign_in(c, data: dict) -> None:
    """practice.yaml's security mode and its sign-in limits (whole numbers within SIGN_IN_LIMITS):
    a mistyped setting would silently leave sessions at their defaults, so it is an error."""
    security = data.get("security")
    if security is not None and security not in SECURITY_MODES:
        c.error(["security"], f"security must be open or signed-in, not {security!r}")
    for key, value in c.mapping(data.get("sign_in"), ["sign_in"]).items():
        if key not in SIGN_IN_LIMITS:
            c.error(["sign_in", key], f"sign_in.{key}: unknown setting (use {', '.join(SIGN_IN_LIMITS)})")
            continue
        least, most = SIGN_IN_LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
            c.error(["sign_in", key], f"sign_in.{key} must be a whole number from {least} to {most}")


def _check_accounts(c, data: dict) -> None:
    """practice.yaml's `accounts` (JOURNAL_ACCOUNTS) and `currency`: a bad name would make a journal
    that beancount or hledger refuses, so it is an error here."""
    if data.get("currency") is not None and not CURRENCY_CODE.fullmatch(str(data["currency"])):
        c.error(["currency"], f"currency must be a three-letter code such as USD, not {data['currency']!r}")
    for key, value in c.mapping(data.get("accounts"), ["accounts"]).items():
        if key not in JOURNAL_ACCOUNTS:
            c.error(["accounts", key], f"accounts.{key}: unknown account (use {', '.join(JOURNAL_ACCOUNTS)})")
        elif not isinstance(value, str) or not ACCOUNT_NAME.fullmatch(value):
            c.error(["accounts", key], f"accounts.{key} {value!r} is not an account name: Assets, Liabilities, "
                                       "Equity, Income or Expenses, then parts like Receivable or Card-Clearing")


def _check_date(c, value, path):
    if isinstance(value, date):
        return
    try:
        date.fromisoformat(str(value))
    except ValueError:
        c.error(path, f"{_dotted(path)}: {value!r} is not a date (YYYY-MM-DD)")


def _check_staff(c, data):
    data = c.mapping(data, [])
    seen = set()
    for i, member in enumerate(c.seq(data.get("staff"), ["staff"])):
        path = ["staff", i]
        member = c.mapping(member, path)
        for key in ("id", "name", "role"):
            c.required(member, key, path)
        if member.get("id") in seen:
            c.error(path + ["id"], f"duplicate staff id {member['id']}")
        seen.add(member.get("id"))
        if member.get("role") and member["role"] not in ROLES:
            c.error(path + ["role"], f"unknown role {member['role']!r} (use {', '.join(ROLES)})")
        if member.get("npi") and not npi_valid(str(member["npi"])):
            c.error(path + ["npi"], f"npi {member['npi']!r} is not a valid NPI")
        if member.get("email") and not email_valid(member["email"]):
            c.error(path + ["email"], f"email {member['email']!r} is not an address")
        _check_hours(c, member.get("hours"), path + ["hours"])
        _check_time_off(c, member.get("time_off"), path + ["time_off"])


def _check_time_off(c, spans, path):
    for j, off in enumerate(c.seq(spans, path)):
        off = c.mapping(off, path + [j])
        for key in ("from", "to"):
            if c.required(off, key, path + [j]):
                _check_date(c, str(off[key])[:10], path + [j, key])
        if off.get("stranded") not in (None, "keep", "reschedule", "cancel"):  # `staff off`'s choice
            c.error(path + [j, "stranded"], f"{_dotted(path + [j, 'stranded'])}: "
                    f"{off['stranded']!r} is not keep, reschedule or cancel")


def _check_roles(c, data):
    """roles.yaml: `roles`, role name -> a list of permissions, or {like: ROLE, add: [...], remove: [...]}.

    Everything else is an error, for a file that grants power: an unknown permission or setting,
    a malformed role, or a change to admin (it always holds every permission).
    """
    data = c.mapping(data, [])
    for key in data:
        if key != "roles":
            c.error([key], f"{key}: unknown setting (roles.yaml holds only 'roles')")
    roles = c.mapping(data.get("roles"), ["roles"])
    for name, spec in roles.items():
        path = ["roles", name]
        if not isinstance(name, str) or not ROLE_NAME.fullmatch(name):
            c.error(path, f"roles.{name}: a role's name is lower-case letters, digits and -, at most 40")
        elif name == "admin":
            c.error(path, "roles.admin: the admin role always holds every permission; it cannot be changed")
        elif isinstance(spec, dict):
            _check_role_like(c, name, spec, roles)
        else:
            _check_permissions(c, spec, path)


def _check_role_like(c, name: str, spec: dict, roles: dict) -> None:
    """A role as another one changed: `like` a default role or a role listed in the file (not one
    itself made with `like`, but for a default role changed in place: `nurse: {like: nurse}`)."""
    path = ["roles", name]
    for key in spec:
        if key not in ("like", "add", "remove"):
            c.error(path + [key], f"roles.{name}.{key}: unknown setting (use like, add, remove)")
    if not c.required(spec, "like", path):
        return
    base = spec["like"] if isinstance(spec["like"], str) else None
    listed = base is not None and isinstance(roles.get(base), list)
    in_place = base == name and name in ROLES
    if not (listed or in_place or (base in ROLES and base not in roles)):
        c.error(path + ["like"], f"roles.{name}.like: {spec['like']!r} must be a default role ({', '.join(ROLES)}) "
                                 "or a role listed in this file (not one made with like)")
    for key in ("add", "remove"):
        if key in spec:
            _check_permissions(c, spec[key], path + [key])


def _check_permissions(c, items, path) -> None:
    """A role's list of permissions: each one medsec knows (PERMISSIONS), none twice."""
    if not isinstance(items, list):
        c.error(path, f"{_dotted(path)} must be a list of permissions ([] for none)")
        return
    seen: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, str) or item not in PERMISSIONS:
            import difflib  # only for a mistake

            close = difflib.get_close_matches(str(item), PERMISSIONS, n=1)
            hint = f"did you mean {close[0]}?" if close else "see the permissions in roles.yaml's comments"
            c.error(path + [i], f"{_dotted(path)}: unknown permission {item!r} ({hint})")
        elif item in seen:
            c.warn(path + [i], f"{_dotted(path)}: {item} is listed twice")
        else:
            seen.add(item)


_TYPE_MINUTES = {"duration": 1, "buffer": 0}  # the default and least number of minutes of each


def _check_types(c, data):
    data = c.mapping(data, [])
    for name, spec in c.mapping(data.get("types"), ["types"]).items():
        _check_type(c, name, c.mapping(spec, ["types", name]))


def _check_type(c, name: str, spec: dict):
    """One appointment type: minutes, follow-up days, who performs it, reminder lead hours."""
    path = ["types", name]
    for key, least in _TYPE_MINUTES.items():
        value = spec.get(key, least)
        if not isinstance(value, int) or value < least or value > 24 * 60:
            c.error(path + [key], f"types.{name}.{key} must be a number of minutes")
    follow_up_days = spec.get("follow_up_days", 0)
    if not isinstance(follow_up_days, int) or follow_up_days < 0:
        c.error(path + ["follow_up_days"], f"types.{name}.follow_up_days must be a number of days")
    if "duration" not in spec:
        c.error(path, f"types.{name}.duration is required")
    for i, who in enumerate(c.seq(spec.get("performers"), path + ["performers"])):
        if str(who) not in ROLES and not str(who).upper().startswith("S"):
            c.error(path + ["performers", i], f"types.{name}.performers: {who!r} is not a role or staff id")
    for i, hours in enumerate(c.seq(spec.get("lead_hours"), path + ["lead_hours"])):
        if not isinstance(hours, (int, float)) or hours <= 0:
            c.error(path + ["lead_hours", i], f"types.{name}.lead_hours must list positive hours")
    if not isinstance(spec.get("new_patient", False), bool):
        c.error(path + ["new_patient"], f"types.{name}.new_patient must be true or false")
    _check_type_texts(c, name, spec)


def _check_type_texts(c, name: str, spec: dict) -> None:
    """What the patient is told: `instructions` a line of text, `translations` by language
    (`translations: {es: {description: ..., instructions: ...}}`)."""
    path = ["types", name]
    for key in ("description", "instructions"):
        if spec.get(key) is not None and not isinstance(spec[key], str):
            c.error(path + [key], f"types.{name}.{key} must be text")
    for lang, texts in c.mapping(spec.get("translations"), path + ["translations"]).items():
        where = path + ["translations", lang]
        if not isinstance(lang, str) or not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?", lang):
            c.error(where, f"types.{name}.translations: {lang!r} is not a language code (e.g. es)")
            continue
        for key, text in c.mapping(texts, where).items():
            if key not in ("description", "instructions") or not isinstance(text, str):
                c.error(where + [key], f"types.{name}.translations.{lang}.{key}: use description or "
                                       f"instructions, as text")


def _check_payers(c, data):
    data = c.mapping(data, [])
    seen = set()
    for i, payer in enumerate(c.seq(data.get("payers"), ["payers"])):
        payer = c.mapping(payer, ["payers", i])
        c.required(payer, "id", ["payers", i])
        c.required(payer, "name", ["payers", i])
        if payer.get("id") in seen:
            c.error(["payers", i, "id"], f"duplicate payer id {payer['id']}")
        seen.add(payer.get("id"))


def _money(c, value, path):
    """A fee as medsec takes any amount (medsec.money.parse_amount): plain digits, two places, the ceiling."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        c.error(path, f"{_dotted(path)} is not an amount like 125.00 (a {type(value).__name__})")
        return
    try:
        parse_amount(value, _dotted(path), allow_zero=True)
    except InvalidInput as e:
        c.error(path, e.message)


def _check_fees(c, data):
    data = c.mapping(data, [])
    for code, amount in c.mapping(data.get("fees"), ["fees"]).items():
        _money(c, amount, ["fees", code])
    for payer, table in c.mapping(data.get("payers"), ["payers"]).items():
        for code, amount in c.mapping(table, ["payers", payer]).items():
            _money(c, amount, ["payers", payer, code])


def _check_codes(c, data):
    data = c.mapping(data, [])
    for i, code in enumerate(c.seq(data.get("codes"), ["codes"])):
        code = c.mapping(code, ["codes", i])
        for key in ("code", "system"):
            c.required(code, key, ["codes", i])
        if code.get("fee") is not None:
            _money(c, code["fee"], ["codes", i, "fee"])


def channel_needs(name: str, settings) -> list[tuple[str, str]]:
    """(setting, what is wrong) for each setting a bundled channel cannot send without.

    The email channel needs a sender address; the sms channel its gateway's
    url (preset json) or account_sid and token_env (preset twilio); the
    voice channel its gateway's url. A
    plugin's own channel says what it misses when it sends.
    """
    settings = settings if isinstance(settings, dict) else {}
    found: list[tuple[str, str]] = []
    if name == "email":
        sender = str(settings.get("from") or "")
        address = sender.rsplit("<", 1)[-1].rstrip(">").strip() if "<" in sender else sender.strip()
        if not email_valid(address):
            found.append(("from", "email.from is required: the sender's address, e.g. 'Clinic <desk@example.org>'"))
    elif name == "sms":
        preset = str(settings.get("preset") or "json").lower()
        needed = {"json": ["url"], "twilio": ["account_sid", "token_env"]}.get(preset, [])
        found += [(key, f"sms.{key} is required by the {preset} preset") for key in needed
                  if settings.get(key) in (None, "")]
    elif name == "voice" and settings.get("url") in (None, ""):
        found.append(("url", "voice.url is required: the voice gateway's address"))
    return found


CRON_ENV = "cron does not see what your login shell sets: set it in the crontab (or the job's environment) too"


def unset_env(settings) -> list[tuple[str, str]]:
    """(setting, variable) for each ``*_env`` setting naming an environment variable that is not set here."""
    settings = settings if isinstance(settings, dict) else {}
    return [(str(key), str(value)) for key, value in settings.items()
            if str(key).endswith("_env") and value not in (None, "") and ENV_NAME.fullmatch(str(value))
            and not os.environ.get(str(value))]


def _check_channels(c, data):
    data = c.mapping(data, [])
    for section, settings in data.items():
        settings = c.mapping(settings, [section])
        if section == "routes":
            continue
        for key, var in unset_env(settings):
            c.warn([section, key], f"{section}.{key}: environment variable {var} is not set ({CRON_ENV})")
        if section == "email" and settings.get("security") not in (None, "none", "starttls", "ssl"):
            c.error([section, "security"], "email.security must be none, starttls or ssl")
        retries = settings.get("retries")
        if section == "fax" and "retries" in settings and (
                not isinstance(retries, int) or isinstance(retries, bool) or not 1 <= retries <= 10):
            c.error([section, "retries"], "fax.retries must be a whole number of tries from 1 to 10")
    _check_routes(c, data)


def _check_routes(c, data: dict) -> None:
    """Every route names a channel that has settings here, with those it cannot send without."""
    routes = c.mapping(data.get("routes"), ["routes"])
    for kind in ("email", "sms"):  # the reminders' kinds: by default to a channel of the same name
        name = DEFAULT_ROUTES[kind]
        if kind not in routes and not isinstance(data.get(name), dict):
            c.warn([], f"{kind} reminders go to the {name} channel (no routes.{kind}), which has no settings "
                       f"here: they wait, pending, until it is set up (or add routes.{kind}: outbox)")
    for kind, name in routes.items():
        where = ["routes", kind]
        if kind not in ROUTE_KINDS:
            c.error(where, f"routes.{kind}: unknown kind of message (use {', '.join(ROUTE_KINDS)})")
        elif not isinstance(name, str) or not name:
            c.error(where, f"routes.{kind} must name a channel")
        elif name == "outbox":
            continue  # the built-in outbox needs no settings
        elif name == "routes" or not isinstance(data.get(name), dict):
            c.error(where, f"routes.{kind}: channel {name!r} has no settings in channels.yaml "
                           f"(add a {name}: section, or route {kind} to another channel)")
        else:
            for key, problem in channel_needs(name, data[name]):
                c.error([name] if key not in data[name] else [name, key], f"{problem} (routes.{kind} uses it)")


CLEARINGHOUSE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


def _check_clearinghouses(c, data):
    """clearinghouses.yaml: each clearinghouse's id (the first is the default) and transport; for
    sftp, the server, a way to sign in (password_env or key_path) and the known_hosts file."""
    data = c.mapping(data, [])
    seen: set = set()
    for i, entry in enumerate(c.seq(data.get("clearinghouses"), ["clearinghouses"])):
        where = ["clearinghouses", i]
        entry = c.mapping(entry, where)
        for key in ("id", "transport"):
            c.required(entry, key, where)
        ident = str(entry.get("id") or "")
        if ident and not CLEARINGHOUSE_ID.fullmatch(ident):
            c.error(where + ["id"], f"{_dotted(where)}.id: letters, digits, '.', '_' or '-' (at most 40)")
        if ident.upper() in seen:
            c.error(where + ["id"], f"duplicate clearinghouse id {ident}")
        seen.add(ident.upper())
        _check_clearinghouse(c, entry, where)


def _check_clearinghouse(c, entry: dict, where: list) -> None:
    """One clearinghouse's settings: bounds, no key written in the file, what sftp needs."""
    for key, (low, high) in {"port": (1, 65535), "timeout": (1, 600)}.items():
        value = entry.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high):
            c.error(where + [key], f"{_dotted(where + [key])} must be a whole number from {low} to {high}")
    if not isinstance(entry.get("delete_after_import", False), bool):
        c.error(where + ["delete_after_import"], f"{_dotted(where)}.delete_after_import is true or false")
    if "PRIVATE KEY" in str(entry.get("key_path") or ""):
        c.error(where + ["key_path"], f"{_dotted(where)}.key_path: a key written in the file: "
                                      "name the file that holds it")
    if entry.get("transport") == "sftp":
        for key in ("host", "username", "known_hosts"):
            c.required(entry, key, where)
        if not entry.get("password_env") and not entry.get("key_path"):
            c.error(where, f"{_dotted(where)}: sftp signs in with password_env or key_path")
    for key, var in unset_env(entry):
        c.warn(where + [key], f"{_dotted(where + [key])}: environment variable {var} is not set ({CRON_ENV})")


LAB_TRANSPORTS = {"folder": ("folder",)}  # bundled: what each needs (sftp's: _check_clearinghouse)


def _check_labs(c, data):
    """labs.yaml: each performing lab's id (what `lab order --lab` names) and name; its interface,
    if any: a transport (the bundled folder and sftp ones: the settings they need; another is
    a plugin's, checked by `lab send`) and MSH-5/6's receiving application and facility as text."""
    data = c.mapping(data, [])
    for key in data:
        if key != "labs":
            c.error([key], f"{key}: unknown setting (labs.yaml holds only 'labs')")
    seen: set = set()
    for i, entry in enumerate(c.seq(data.get("labs"), ["labs"])):
        where = ["labs", i]
        entry = c.mapping(entry, where)
        if c.required(entry, "id", where):
            ident = str(entry["id"])
            if not CLEARINGHOUSE_ID.fullmatch(ident):
                c.error(where + ["id"], f"{_dotted(where)}.id: letters, digits, '.', '_' or '-' (at most 40)")
            if ident.upper() in seen:
                c.error(where + ["id"], f"duplicate lab id {ident}")
            seen.add(ident.upper())
        for key in ("name", "address", "phone", "fax"):
            if entry.get(key) is not None and not isinstance(entry[key], str):
                c.error(where + [key], f"{_dotted(where + [key])} must be text")
        if entry.get("interface") is not None:
            _check_lab_interface(c, c.mapping(entry["interface"], where + ["interface"]), where + ["interface"])


def _check_lab_interface(c, interface: dict, where: list) -> None:
    for key in ("receiving_application", "receiving_facility"):
        value = interface.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > 60 or any(ch in value for ch in "|^~\\&")):
            c.error(where + [key], f"{_dotted(where + [key])}: text of at most 60 characters, no HL7 separators")
    if not c.required(interface, "transport", where):
        return
    transport = interface["transport"]
    if not isinstance(transport, str) or not CLEARINGHOUSE_ID.fullmatch(transport):
        c.error(where + ["transport"], f"{_dotted(where)}.transport: a transport's name (see 'medsec plugins')")
        return
    for key in LAB_TRANSPORTS.get(transport, ()):
        if c.required(interface, key, where) and not isinstance(interface[key], str):
            c.error(where + [key], f"{_dotted(where + [key])} must be text (a folder's path)")
    _check_clearinghouse(c, {k: v for k, v in interface.items() if k != "transport" or v == "sftp"}, where)


ARPABET = frozenset(("AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH",
                     "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW",
                     "V", "W", "Y", "Z", "ZH"))  # the phones of the US-English dictionaries (no stress digits)
DICTATION_KEYS = ("engine", "max_minutes", "unsure_below", "sign_within_days", "formulary", "words", "engines",
                  "player")
DICTATION_NUMBERS = (("max_minutes", 1, 600, False), ("unsure_below", 0, 1, False), ("sign_within_days", 1, 90, True))


def _check_dictation(c, data):
    """dictation.yaml: the transcriber (`engine`), the longest dictation (`max_minutes`, 1..600),
    when a word is marked unsure (`unsure_below`, 0..1), the days to sign (`sign_within_days`,
    1..90), the practice's words (`formulary`, `words`: text, or {word, phones} in ARPAbet), each
    engine's settings (`engines`) and the audio player (`player`: a command as a list)."""
    data = c.mapping(data, [])
    for key in data:
        if key not in DICTATION_KEYS:
            c.error([key], f"{key}: unknown setting (dictation.yaml holds {', '.join(DICTATION_KEYS)})")
    if data.get("engine") is not None and (not isinstance(data["engine"], str) or not data["engine"].strip()):
        c.error(["engine"], "engine must be the name of a transcriber (see 'medsec dictation engines')")
    for key, low, high, whole in DICTATION_NUMBERS:
        value = data.get(key)
        number = isinstance(value, int) if whole else isinstance(value, (int, float))
        if value is not None and (isinstance(value, bool) or not number or not low <= value <= high):
            c.error([key], f"{key} must be a {'whole ' if whole else ''}number from {low} to {high}")
    for key in ("formulary", "words"):
        for i, entry in enumerate(c.seq(data.get(key), [key])):
            _check_dictation_word(c, entry, [key, i])
    engines = c.mapping(data.get("engines"), ["engines"])
    for name, section in engines.items():
        c.mapping(section, ["engines", name])
    player = data.get("player")
    if player is not None and (not isinstance(player, list) or not player
                               or not all(isinstance(a, str) and a for a in player)):
        c.error(["player"], "player must be a command as a list of words, e.g. [mpv, '--start={at}', '{file}']")


def _check_dictation_word(c, entry, where: list) -> None:
    """A formulary or words entry: a word, or {word, phones} with ARPAbet phones."""
    if isinstance(entry, str) and entry.strip():
        return
    if not isinstance(entry, dict) or not isinstance(entry.get("word"), str) or not entry["word"].strip():
        c.error(where, f"{_dotted(where)} must be a word, or {{word: WORD, phones: \"P H O N E S\"}}")
        return
    for extra in set(entry) - {"word", "phones"}:
        c.error(where + [extra], f"{_dotted(where + [extra])}: unknown setting (word and phones)")
    phones = entry.get("phones")
    if phones is None:
        return
    unknown = [p for p in phones.split() if p.upper() not in ARPABET] if isinstance(phones, str) else []
    if not isinstance(phones, str) or not phones.split() or unknown:
        said = f"; not {unknown[0]}" if unknown else ""
        c.error(where + ["phones"], f"{_dotted(where)}.phones: ARPAbet phones separated by spaces "
                                    f"({' '.join(sorted(ARPABET))}){said}")


def is_secret_setting(key) -> bool:
    """Whether a setting's name says it holds a secret (`password`, `api_key`; not `password_env`)."""
    name = str(key).lower().replace("-", "_")
    return not name.endswith("_env") and any(name == w or name.endswith("_" + w) for w in SECRET_WORDS)


def _is_literal(value) -> bool:
    """A value that could be a secret itself (not empty, not a flag, not a section of settings)."""
    return value not in (None, "") and not isinstance(value, (bool, dict))


def _check_secrets(c: _Checker, data, path: list) -> None:
    """Every file: no secret written in it, and `*_env` settings that name a variable (not hold the secret).

    The messages never quote the value: it may be the secret.
    """
    if isinstance(data, list):
        for i, item in enumerate(data):
            _check_secrets(c, item, path + [i])
    elif isinstance(data, str) and URL_WITH_PASSWORD.match(data):
        c.error(path, f"{_dotted(path)}: a URL with a password in it: put the password in an environment "
                      "variable and name that variable with a *_env setting")
    elif isinstance(data, dict):
        for key, value in data.items():
            where = path + [key]
            if is_secret_setting(key) and _is_literal(value):
                c.error(where, f"{_dotted(where)}: a secret written in the file: put it in an environment variable "
                               f"and name that variable with {key}_env")
            elif str(key).endswith("_env") and value not in (None, "") and not ENV_NAME.fullmatch(str(value)):
                c.error(where, f"{_dotted(where)} must name an environment variable (letters, digits and _), "
                               "not hold the secret")
            else:
                _check_secrets(c, value, where)


VALIDATORS: dict[str, Callable] = {
    "practice.yaml": _check_practice,
    "staff.yaml": _check_staff,
    "appointment-types.yaml": _check_types,
    "payers.yaml": _check_payers,
    "fees.yaml": _check_fees,
    "codes.yaml": _check_codes,
    "channels.yaml": _check_channels,
    "roles.yaml": _check_roles,
    "clearinghouses.yaml": _check_clearinghouses,
    "labs.yaml": _check_labs,
    "dictation.yaml": _check_dictation,
    "intake.yaml": lambda c, data: check_intake(c.error, data),
}


def secrets(data) -> list[tuple[tuple, str, str]]:
    """(path, message, severity) of each secret written in a file's data."""
    checker = _Checker()
    _check_secrets(checker, data, [])
    return checker.found


def check(name: str, data, schema_version: int, store_version: int | None = None) -> list[tuple[tuple, str, str]]:
    """(path, message, severity) of every problem in configuration file `name`'s data; a medsec.yaml
    must name `schema_version` (this medsec's) and, with `store_version` (the schema_version of the
    store it would go into), that one too."""
    checker = _Checker()
    if name == "medsec.yaml":
        _check_medsec(checker, data, schema_version)
        if store_version is not None:
            _check_store_version(checker, data, store_version)
    else:
        VALIDATORS.get(name, lambda c, d: None)(checker, data)
    _check_secrets(checker, data, [])
    return checker.found


def _check_store_version(c: _Checker, data, store_version: int) -> None:
    """medsec.yaml's schema_version is the store's: another version's would describe records the store does not hold."""
    version = data.get("schema_version") if isinstance(data, dict) else None
    reported = any(path == ("schema_version",) for path, _, _ in c.found)
    if isinstance(version, int) and version != store_version and not reported:
        c.error(["schema_version"], f"schema_version {version} is not the store's ({store_version})")
