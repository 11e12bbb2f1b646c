"""Appointment reminders: due now, sent once, retried with backoff, reported.

Sending happens in three steps so that a reminder goes out exactly once
even when two cron jobs run together: claim the due reminders in one
locked transaction (each becomes a "sending" record owned by this run),
send them with no lock held (the network is slow), then record the results
in a second transaction. A run that dies mid-way leaves "sending" claims;
after STALE_CLAIM they are claimed again (at least once, never silently lost).

A reminder that cannot go out because of the practice's configuration (its
route names a channel that is not installed or has no settings, a setting
the channel needs is missing, a `*_env` variable is not set) is left
"pending": nothing was tried, and the next run sends it once the
configuration is fixed. `remind retry` puts reminders that failed back in
the queue, each once.

Reminders suit their channel. A letter goes out only when the post can bring
it before the visit: a letter patient's reminder is due LETTER_EARLY_DAYS
days before practice.yaml's `reminders: {letter_lead_days: N}` (default 3),
and one that would go out later than N days before the visit is skipped with
that reason. Letters routed to the built-in outbox are printed: every letter
of a run goes into one PDF (a page per letter, the address in the window) with
a mail-merge CSV (medsec.communications.printbatch). An SMS carries the
appointment type's instructions; when the text would take more than
`reminders: {sms_max_segments: N}` (default 3) it is rendered again brief
(without the optional parts: the provider's name and the closing sentence),
never without the date, time or instructions (medsec.communications.sms).
"""

import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from medsec import clock, templating
from medsec.communications import messaging
from medsec.communications.reminder_letters import PRINT, Letters, letters_to
from medsec.communications.reminder_letters import printed as is_printed
from medsec.errors import InvalidInput, MedsecError, Refused
from medsec.plugin_types import DeliveryError, Message
from medsec.progress import Progress
from medsec.records.patients import get_patient
from medsec.scheduling.appointments import get_appointment
from medsec.scheduling.schedule import Schedule
from medsec.store.catalog import APPOINTMENTS, PATIENTS, REMINDERS
from medsec.text import shown

STALE_CLAIM = timedelta(minutes=15)
MAX_ATTEMPTS = 5
MAX_WITHIN = timedelta(days=366)  # reminders further ahead than a year are not reminders
DEFAULT_LEAD_HOURS = [24]
ACTIVE = ("booked", "confirmed")
TEMPLATES = {"email": "reminder-email", "sms": "reminder-sms", "voice": "reminder-voice",
             "letter": "reminder-email"}
# What a configuration problem's reason starts with (`remind retry` re-queues failures so caused).
NOT_CONFIGURED = "configuration: "
# Reasons of failures recorded before configuration problems left reminders pending (and of a
# channel that reports its settings wrong when it sends): `remind retry` re-queues these too.
CONFIGURATION_REASONS = re.compile(
    r"unknown channel |is not set up in channels\.yaml|does not carry \w+ messages|environment variable \S+ "
    r"\(named by \S+\) is not set|: setting \S+ must be|preset needs |is set but password_env is not|"
    r"secrets are read from environment variables|preset must be json or twilio")
DEFAULT_LETTER_LEAD_DAYS = 3  # days the post may take: no letter for a visit sooner than that
DEFAULT_SMS_MAX_SEGMENTS = 3
LETTER_EARLY_DAYS = 2  # a letter reminder is due this many days before the lead time ends
LETTER_KEY = "letter"  # the key of a letter patient's one reminder
COLUMNS = ["id", "appointment_id", "patient_id", "key", "channel", "status", "attempts", "reason", "sent_at"]


def backoff(attempts: int) -> timedelta:
    """5, 10, 20, 40 ... minutes, at most 6 hours."""
    return min(timedelta(minutes=5 * 2 ** max(attempts - 1, 0)), timedelta(hours=6))


@dataclass
class Plan:
    """What one run will do: new claims, and retries of earlier failures."""

    new: list[tuple[dict, str]] = field(default_factory=list)  # (appointment, key)
    again: list[dict] = field(default_factory=list)  # reminder records


@dataclass(frozen=True)
class Settings:
    """practice.yaml `reminders:` (checked by `config check`)."""

    letter_lead_days: int = DEFAULT_LETTER_LEAD_DAYS
    sms_max_segments: int = DEFAULT_SMS_MAX_SEGMENTS

    @classmethod
    def load(cls, app) -> "Settings":
        section = (app.config("practice.yaml") or {}).get("reminders") or {}
        return cls(int(section.get("letter_lead_days", DEFAULT_LETTER_LEAD_DAYS)),
                   int(section.get("sms_max_segments", DEFAULT_SMS_MAX_SEGMENTS)))

    @property
    def letter_lead(self) -> timedelta:
        return timedelta(days=self.letter_lead_days)

    @property
    def letter_due(self) -> timedelta:
        """How long before the visit a letter reminder is due (the lead time and some days to spare)."""
        return timedelta(days=self.letter_lead_days + LETTER_EARLY_DAYS)


def _leads(schedule: Schedule, appt: dict) -> list[float]:
    spec = schedule.types.get(appt["type"]) or {}
    return sorted(spec.get("lead_hours") or DEFAULT_LEAD_HOURS)


def due_key(schedule: Schedule, appt: dict, now: datetime) -> str | None:
    """The smallest lead time that has come (a 72h reminder missed is superseded by the 24h one)."""
    start = datetime.fromisoformat(appt["start"])
    if start <= now:
        return None
    for lead in _leads(schedule, appt):
        if start - timedelta(hours=lead) <= now:
            return f"{lead:g}h"
    return None


def _existing(view, appt_id: str, start: str | None = None) -> list[dict]:
    """The reminders of `appt_id` (with `start`: those for the visit at that time; a visit moved
    since gets its reminders again for its new time)."""
    ids = view.lookup("reminder-appt", appt_id)
    return [r for r in view.get_many(REMINDERS, ids) if r["appointment_id"] == appt_id
            and (start is None or r.get("appointment_start", start) == start)]


def _kind_planned(view, patient_id: str, forced_kinds: tuple | None) -> str:
    """The kind of message the patient will get (as _pick_route chooses it), for planning."""
    found = view.get_many(PATIENTS, [patient_id])
    kind = messaging.preferred_kind(found[0]) if found else "sms"
    if forced_kinds and kind not in forced_kinds:
        kind = forced_kinds[0]
    return kind


def plan(view, schedule: Schedule, now: datetime, *, for_day=None, within: timedelta | None = None,
         settings: Settings | None = None, forced_kinds: tuple | None = None) -> Plan:
    """Due reminders: by lead time (cron), for one day, or within a window. A letter patient's
    one reminder (key "letter") is due `settings.letter_due` before the visit whatever the mode
    (a daily `--for tomorrow` prints the letters of the days the post needs)."""
    out = Plan()
    settings = settings or Settings()
    manual = for_day is not None or within is not None
    if for_day is not None:
        days = {for_day}
        horizon = settings.letter_due
    else:
        horizon = max(within or timedelta(hours=max(
            [h for spec in schedule.types.values() for h in spec.get("lead_hours") or []] + DEFAULT_LEAD_HOURS)),
            settings.letter_due)
        days = set()
    days |= {now.date() + timedelta(days=i) for i in range((now + horizon).date().toordinal()
                                                           - now.date().toordinal() + 1)}
    for day in sorted(days):
        for appt in view.day(APPOINTMENTS, day.isoformat()):
            if appt["status"] not in ACTIVE or not appt.get("patient_id"):
                continue
            in_mode = (day == for_day) if for_day is not None else within is None or \
                datetime.fromisoformat(appt["start"]) <= now + within
            key = _key_due(view, schedule, appt, now, manual, in_mode, settings, forced_kinds)
            if key is None or any(r["key"] == key for r in _existing(view, appt["id"], appt["start"])):
                continue
            out.new.append((appt, key))
    return out


def _key_due(view, schedule: Schedule, appt: dict, now: datetime, manual: bool, in_mode: bool,
             settings: Settings, forced_kinds: tuple | None) -> str | None:
    """Which reminder of `appt` is due: "letter" for a letter patient from `settings.letter_due`
    before the visit; else "manual" (--for, --within: `in_mode` says the visit is in what they
    name), or the lead time that has come ("24h"); None when none is."""
    start = datetime.fromisoformat(appt["start"])
    if start <= now:
        return None
    if _kind_planned(view, appt["patient_id"], forced_kinds) == "letter":
        return LETTER_KEY if start - settings.letter_due <= now else None
    if manual:
        return "manual" if in_mode else None
    return due_key(schedule, appt, now)


def _retries(view, now: datetime) -> list[dict]:
    """Earlier failures whose time has come, and claims left by a run that died."""
    ids = sorted(set(view.lookup("reminder-pending", "retry") + view.lookup("reminder-pending", "sending")
                     + view.lookup("reminder-pending", "pending")), key=lambda i: int(i[1:]))
    return [r for r in view.get_many(REMINDERS, ids) if _due_again(r, now)]


def _due_again(reminder: dict, now: datetime) -> bool:
    if reminder["status"] == "pending":  # waiting for its configuration: every run tries it
        return True
    if reminder["status"] == "retry":
        return reminder["next_try"] <= clock.iso(now)
    return reminder["status"] == "sending" and reminder["claimed_at"] <= clock.iso(now - STALE_CLAIM)


def _pick_route(app, patient: dict, forced: str | None) -> tuple[str, messaging.Route]:
    """The patient's preferred kind of message, on its channel or on the one forced."""
    kind = messaging.preferred_kind(patient)
    if forced:
        carried = _channel(app, forced).kinds
        if kind not in carried:
            kind = carried[0]
    return kind, messaging.route(app, kind, forced)


def _channel(app, name: str):
    """The registered channel `name`; InvalidInput (exit 2) for a name no plugin registers."""
    known = messaging.channels(app)
    if name not in known:
        raise InvalidInput(f"unknown channel {shown(name)}", hint=f"channels: {', '.join(sorted(known))}")
    return known[name].item


def route_problems(r: messaging.Route) -> list[str]:
    """What stops channel `r` from sending, by its settings and this environment (`config check`'s
    checks of a route): settings it needs that are missing, `*_env` variables that are not set."""
    from medsec import configcheck  # the configuration checks: only for a route that is used

    found = [problem for _, problem in configcheck.channel_needs(r.name, r.settings)]
    found += [f"{r.name}.{key}: environment variable {var} is not set ({configcheck.CRON_ENV})"
              for key, var in configcheck.unset_env(r.settings)]
    return found


def _appointment_context(app, schedule: Schedule, appt: dict, language: str) -> dict:
    """The appointment as templates see it, with its type's `translations` for the patient's
    language (appointment-types.yaml: `translations: {es: {description: ..., instructions: ...}}`)."""
    context = messaging.appointment_context(app, appt, schedule)
    spec = schedule.types.get(appt["type"]) or {}
    translated = (spec.get("translations") or {}).get(language) or {}
    if translated.get("description"):
        context["type_description"] = translated["description"]
    if translated.get("instructions"):
        context["instructions"] = translated["instructions"]
    return context


def compose(app, schedule: Schedule, appt: dict, patient: dict, kind: str,
            settings: Settings | None = None) -> Message:
    """The reminder as it will go out (also what `remind preview` shows). Every kind carries the
    appointment type's instructions; an SMS longer than `sms_max_segments` is rendered brief
    (`brief` is true in the template: optional parts left out), its meta says its encoding and
    segments."""
    from medsec.communications import sms

    settings = settings or Settings.load(app)
    language = patient.get("language") or "en"
    context: dict = {"practice": messaging.practice_context(app), "patient": messaging.patient_context(patient),
               "appointment": _appointment_context(app, schedule, appt, language), "brief": False}
    rendered = messaging.render(app, TEMPLATES[kind], context, language)
    body = rendered.text
    meta: dict = {}
    if kind == "sms":
        body = sms.plain(body)
        encoding, count = sms.segments(body)
        brief = count > settings.sms_max_segments
        if brief:
            rendered = messaging.render(app, TEMPLATES[kind], {**context, "brief": True}, language)
            body = sms.plain(rendered.text)
            encoding, count = sms.segments(body)
        meta = {"encoding": encoding, "segments": count, "brief": brief,
                "max_segments": settings.sms_max_segments}
    attachments = []
    if kind == "email":
        ics = messaging.appointment_ics(app, appt, schedule, f"{context['appointment']['type_description']} "
                                                              f"at {context['practice']['name']}")
        attachments.append(("appointment.ics", "text/calendar", ics))
    return Message(kind=kind, to=messaging.address_for(patient, kind), subject=rendered.subject,
                   body=body, html=rendered.html, attachments=attachments,
                   meta={"appointment_id": appt["id"], "patient_id": patient["id"], "template": rendered.template,
                         "language": rendered.language, **meta})


def preview(app, appt_id: str, channel: str | None = None) -> dict:
    schedule = Schedule.load(app)
    appt = get_appointment(app, appt_id)
    if not appt.get("patient_id"):
        raise Refused(f"{appt['id']} has no patient to remind")
    patient = get_patient(app, appt["patient_id"])
    kind, r = _pick_route(app, patient, channel)
    settings = Settings.load(app)
    message = compose(app, schedule, appt, patient, kind, settings)
    app.audit("read", [appt["id"], patient["id"]])
    shown = {"appointment_id": appt["id"], "patient_id": patient["id"],
             "channel": PRINT if is_printed(kind, r) else r.name, "kind": kind,
             "to": message.to, "subject": message.subject, "text": message.body, "html": message.html,
             "attachments": [name for name, _, _ in message.attachments],
             "opted_out": not patient.get("reminders", True)}
    if kind == "sms":
        shown.update({k: message.meta[k] for k in ("encoding", "segments", "max_segments", "brief")})
    if kind == "letter":
        shown["letter_lead_days"] = settings.letter_lead_days
        shown["too_late_for_letter"] = datetime.fromisoformat(appt["start"]) - schedule.now < settings.letter_lead
    return shown


def send(app, *, for_day=None, within: timedelta | None = None, channel: str | None = None,
         dry_run: bool = False, progress: Progress | None = None, letters_pdf: str | None = None,
         letters_csv: str | None = None) -> dict:
    """Send every due reminder once; the summary says what happened to each. `progress`
    counts them on the terminal (medsec.progress). Letters to print go into one PDF and CSV:
    `letters_pdf`/`letters_csv`, else the outbox (the summary's `letters`)."""
    progress = progress or Progress.off()
    schedule = Schedule.load(app)
    settings = Settings.load(app)
    letters = letters_to(app, letters_pdf, letters_csv)
    forced_kinds = None
    if channel:
        forced_kinds = tuple(_channel(app, channel).kinds)
    templating.require_valid(app.store.root, sorted(set(TEMPLATES.values())))
    # A broken channels.yaml (a secret written in it ...) fails the command (exit 3) before
    # anything is claimed, instead of failing every reminder one by one.
    messaging.channel_settings(app)
    now = schedule.now
    token = secrets.token_hex(4)
    stamp = clock.iso(now)
    if dry_run:
        view = app.store.snapshot()
        p = plan(view, schedule, now, for_day=for_day, within=within, settings=settings, forced_kinds=forced_kinds)
        claims = [_new_record("R?", appt, key, token, stamp) for appt, key in p.new]
    else:
        with app.store.transaction() as txn:
            p = plan(txn, schedule, now, for_day=for_day, within=within, settings=settings,
                     forced_kinds=forced_kinds)
            ids = txn.reserve_ids(REMINDERS, len(p.new)) if p.new else []
            claims = [_new_record(rid, appt, key, token, stamp) for rid, (appt, key) in zip(ids, p.new, strict=True)]
            waiting = _retries(txn, now)
            retry = [{**r, "status": "sending", "claimed_by": token, "claimed_at": stamp} for r in waiting]
            txn.put_many(REMINDERS, claims + retry, {r["id"]: r for r in waiting})
            claims += retry
    progress.start("checking reminders" if dry_run else "sending reminders", len(claims))
    results = []
    for claim in claims:
        results.append(_attempt(app, schedule, claim, channel, now, dry_run, settings, letters))
        progress.advance()
    printed: dict = {"documents": 0}
    if letters.entries and not dry_run:
        printed, results = _print_letters(app, letters, results, token, now)
    if not dry_run and results:
        with app.store.transaction() as txn:
            current = {r["id"]: r for r in txn.get_many(REMINDERS, [r["id"] for r in results])}
            mine = [r for r in results if current.get(r["id"], {}).get("claimed_by") == token]
            txn.put_many(REMINDERS, mine, {r["id"]: current[r["id"]] for r in mine})
        app.audit("remind", [r["id"] for r in results] + [r["patient_id"] for r in results])
    counts = {s: sum(r["status"] == s for r in results) for s in ("sent", "skipped", "retry", "pending", "failed")}
    if dry_run:
        counts["would_send"] = sum(r["status"] == "would-send" for r in results)
    return {"due": len(results), **counts, "dry_run": dry_run, "letters": {**printed, "count": len(letters.entries)},
            "reminders": results}


def _print_letters(app, letters: Letters, results: list[dict], token: str, now: datetime) -> tuple[dict, list]:
    """The run's letters printed (medsec.communications.reminder_letters), and the results with each
    letter's page; a batch that cannot be written leaves its letters to retry."""
    try:
        written, pages = letters.print(app, now, token)
    except (OSError, MedsecError) as e:  # the letters wait for a later run; what went out is recorded
        ids = {rid for rid, _, _, _ in letters.entries}
        return {"documents": 0}, [_not_printed(r, e, now) if r["id"] in ids else r for r in results]
    return written, [{**r, "delivery_id": Letters.page_id(written, pages[r["id"]])} if r["id"] in pages else r
                     for r in results]


def _not_printed(result: dict, error: Exception, now: datetime) -> dict:
    """A letter of a batch that could not be written: tried again later, as a channel's
    temporary failure is."""
    reason = f"the letters could not be written: {getattr(error, 'message', None) or error}"
    if result["attempts"] < MAX_ATTEMPTS:
        return {**result, "status": "retry", "reason": reason, "sent_at": "",
                "next_try": clock.iso(now + backoff(result["attempts"]))}
    return {**result, "status": "failed", "reason": reason, "sent_at": ""}


def _new_record(rid: str, appt: dict, key: str, token: str, stamp: str) -> dict:
    return {"id": rid, "appointment_id": appt["id"], "patient_id": appt["patient_id"], "key": key,
            "appointment_start": appt["start"], "channel": "", "kind": "", "to": "", "status": "sending",
            "reason": "", "attempts": 0, "next_try": "", "delivery_id": "", "claimed_by": token,
            "claimed_at": stamp, "sent_at": "", "created": stamp}


def _attempt(app, schedule: Schedule, claim: dict, forced: str | None, now: datetime, dry_run: bool,
             settings: Settings, letters: Letters | None) -> dict:
    """One reminder: every failure is recorded on it, none stops the batch. A letter to print
    is added to `letters` (printed by the caller) and recorded sent."""
    result = {**claim, "attempts": claim["attempts"] + (0 if dry_run else 1)}
    try:
        appt = get_appointment(app, claim["appointment_id"])
        patient = get_patient(app, claim["patient_id"])
        skip = _skip_reason(appt, patient, now)
        if skip:
            return {**result, "status": "skipped", "reason": skip}
        try:
            kind, r = _pick_route(app, patient, forced)
        except InvalidInput as e:  # an unknown channel, one not set up, one that does not carry the kind
            return _pending(claim, result, e.message)
        result.update(channel=r.name, kind=kind)
        problems = route_problems(r)
        if problems:
            return _pending(claim, result, "; ".join(problems))
        message = compose(app, schedule, appt, patient, kind, settings)
        return _send_one(app, result, r, message, (patient, appt), now, dry_run, settings, letters)
    except DeliveryError as e:
        if not e.temporary and CONFIGURATION_REASONS.search(str(e)):  # the channel's settings, as it says
            return _pending(claim, result, str(e))
        if e.temporary and result["attempts"] < MAX_ATTEMPTS:
            return {**result, "status": "retry", "reason": str(e),
                    "next_try": clock.iso(now + backoff(result["attempts"]))}
        return {**result, "status": "failed", "reason": str(e)}
    except MedsecError as e:
        return {**result, "status": "failed", "reason": e.message}


def _send_one(app, result: dict, r: messaging.Route, message: Message, who: tuple[dict, dict], now: datetime,
              dry_run: bool, settings: Settings, letters: Letters | None) -> dict:
    """The composed reminder to its address (DeliveryError from the channel is the caller's)."""
    if not message.to:
        return {**result, "status": "failed", "reason": f"no {message.kind} contact on file for {who[0]['id']}"}
    result["to"] = message.to  # kept on the record when the channel fails
    if message.kind == "letter":
        return _letter(app, result, r, message, who, now, dry_run, settings, letters)
    if dry_run:
        return {**result, "status": "would-send"}
    delivery = messaging.deliver(app, r, message)
    return {**result, "status": "sent", "delivery_id": delivery, "sent_at": clock.iso(now), "reason": ""}


def _letter(app, result: dict, r: messaging.Route, message: Message, who: tuple[dict, dict], now: datetime,
            dry_run: bool, settings: Settings, letters: Letters | None) -> dict:
    """A letter: skipped when the post cannot bring it before the visit; printed in the run's
    batch when routed to the outbox; else through its channel (a mail-house plugin)."""
    patient, appt = who
    if datetime.fromisoformat(appt["start"]) - now < settings.letter_lead:
        return {**result, "status": "skipped",
                "reason": f"a letter would not arrive in time: the visit is less than "
                          f"{settings.letter_lead_days} days away (reminders.letter_lead_days)"}
    printed = is_printed("letter", r)
    if dry_run:
        return {**result, "channel": PRINT if printed else r.name, "status": "would-send"}
    if not printed:
        delivery = messaging.deliver(app, r, message)
        return {**result, "status": "sent", "delivery_id": delivery, "sent_at": clock.iso(now), "reason": ""}
    if letters is not None:
        letters.entries.append((result["id"], message, patient, appt))
    return {**result, "channel": PRINT, "status": "sent", "sent_at": clock.iso(now), "reason": ""}


def _skip_reason(appt: dict, patient: dict, now: datetime) -> str:
    if appt["status"] not in ACTIVE:
        return f"appointment is {appt['status']}"
    if datetime.fromisoformat(appt["start"]) <= now:  # a retry, or a re-queued one, come too late
        return "the appointment has begun"
    if not patient.get("reminders", True):
        return "patient opted out of reminders"
    return ""


def _pending(claim: dict, result: dict, problem: str) -> dict:
    """Not sent because of the configuration: nothing was tried, the next run tries again."""
    return {**result, "status": "pending", "attempts": claim["attempts"], "next_try": "",
            "reason": NOT_CONFIGURED + problem}


def caused_by_configuration(reminder: dict) -> bool:
    reason = reminder.get("reason") or ""
    return reason.startswith(NOT_CONFIGURED) or bool(CONFIGURATION_REASONS.search(reason))


QUEUED = ("sent", "sending", "retry", "pending")  # an appointment with one of these needs no re-queued reminder


def retry(app, *, every_failed: bool = False, since: date | None = None) -> dict:
    """Put failed reminders back in the queue: the next `remind send` sends each once.

    Without `every_failed`, only failures caused by the configuration (those
    recorded before such failures were left pending); with it, every failed
    reminder (a bad address since corrected). `since`: only those last tried
    on or after that day. One reminder per appointment, and none for an
    appointment that has begun, is no longer booked, or has a reminder sent
    or in the queue: running it again re-queues nothing twice.
    """
    now = Schedule.load(app).now
    stamp = clock.iso(now)

    def choose(view) -> tuple[list[dict], int, int]:
        failed = [r for r in view.scan(REMINDERS) if r["status"] == "failed"
                  and (since is None or r["claimed_at"][:10] >= since.isoformat())]
        chosen = [r for r in failed if every_failed or caused_by_configuration(r)]
        others = len(failed) - len(chosen)
        latest: dict[str, dict] = {}
        for r in chosen:  # the newest failure of each appointment
            if r["appointment_id"] not in latest or int(r["id"][1:]) > int(latest[r["appointment_id"]]["id"][1:]):
                latest[r["appointment_id"]] = r
        keep, passed = [], 0
        for r in sorted(latest.values(), key=lambda r: int(r["id"][1:])):
            appts = view.get_many(APPOINTMENTS, [r["appointment_id"]])
            if (not appts or appts[0]["status"] not in ACTIVE
                    or datetime.fromisoformat(appts[0]["start"]) <= now):
                passed += 1
            elif not any(o["status"] in QUEUED for o in _existing(view, r["appointment_id"])):
                keep.append(r)
        return keep, others, passed

    chosen, others, passed = choose(app.store.snapshot())
    if chosen:
        with app.store.transaction() as txn:
            chosen, others, passed = choose(txn)  # as it stands now: another retry may have run
            queued = [{**r, "status": "pending", "attempts": 0, "next_try": "", "claimed_by": "",
                       "reason": f"re-queued by remind retry at {stamp}"} for r in chosen]
            if queued:
                txn.put_many(REMINDERS, queued, {r["id"]: r for r in chosen})
    app.audit("remind-retry", [r["id"] for r in chosen] + [r["patient_id"] for r in chosen])
    return {"requeued": len(chosen), "not_configuration": 0 if every_failed else others,
            "appointment_passed": passed,
            "reminders": [{**r, "status": "pending"} for r in chosen]}


def list_reminders(app, *, failed: bool = False, status: str | None = None, limit: int | None = None,
                   first: date | None = None, last: date | None = None) -> list[dict]:
    """Reminders in the order first tried (the last `limit`); `first`/`last`: first tried on those days."""
    view = app.store.snapshot()
    out = [r for r in view.scan(REMINDERS)
           if (not failed or r["status"] == "failed") and (not status or r["status"] == status)
           and clock.on_days(r.get("created"), first, last)]
    out = out[-limit:] if limit else out
    app.audit("list", [r["id"] for r in out] + [r["patient_id"] for r in out])
    return out


def parse_within(text: str) -> timedelta:
    """`48h` or `2d` as a window of at most MAX_WITHIN; anything else is bad input."""
    m = re.fullmatch(r"0*([0-9]{1,6})\s*([hd])", text.strip().lower())
    if not m or int(m.group(1)) == 0:
        raise InvalidInput(f"--within {shown(text)}: use hours or days, e.g. 48h or 2d")
    window = timedelta(hours=int(m.group(1)) * (24 if m.group(2) == "d" else 1))
    if window > MAX_WITHIN:
        raise InvalidInput(f"--within {shown(text)}: at most {MAX_WITHIN.days} days ahead")
    return window
