"""The words the configuration files are written in: roles and the permissions a role may hold,
security modes and sign-in bounds, message kinds and their default routes, days, the bookkeeper's
account names, and what marks a setting as a secret.

Kept apart from medsec.config (loading) and medsec.configcheck (each file's checks), which both
read them, as do the domains that act on them (medsec.security.permissions maps every command
and default role onto PERMISSIONS).
"""

import re

# A setting whose name says it holds a secret (`password`, `smtp_password`, `api_key`,
# `auth_token`, `client_secret` ...): its value must come from the environment.
SECRET_WORDS = ("password", "passwd", "passphrase", "pwd", "secret", "token", "credentials", "key", "apikey")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
URL_WITH_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:[^/@\s]*@")
ROLES = ["front-desk", "physician", "nurse", "biller", "manager", "admin"]
# What a role may be granted (roles.yaml): permission -> what it allows. Kept here, beside the
# roles, so that checking roles.yaml can name an unknown one; medsec.security.permissions maps
# every command and default role onto these.
PERMISSIONS: dict[str, str] = {
    "patients.read": "see patients' records: demographics, coverage, notes",
    "patients.write": "register patients and change their records, coverage and notes; import, merge, archive",
    "patients.restrict": "restrict a patient's chart to some roles (staff members, VIPs)",
    "patients.export": "write patients' records out of medsec in bulk (patient export)",
    "schedule.read": "see the schedule, open slots, the waitlist and meetings",
    "schedule.book": "book, move and cancel appointments and meetings; keep the waitlist",
    "schedule.checkin": "check patients in, fit in walk-ins, move a visit through its day, mark no-shows",
    "calls": "log, assign, return and close phone calls; the follow-up calls due",
    "messages.send": "send and read reminders, memos, post and faxes; tell patients results are ready",
    "documents.file": "file incoming faxes, post, scans and lab results with their patient or order",
    "documents.write": "transcribe dictations; type, correct, print and send clinical documents and letters",
    "documents.sign": "sign clinical documents and letters as their author",
    "referrals": "take in, write, send and follow referrals",
    "tasks": "add, see and close the office's tasks",
    "refills.request": "take refill requests and follow them",
    "refills.approve": "approve or deny refill requests (the prescriber's decision)",
    "labs.order": "order labs and follow their orders and results",
    "labs.review": "mark lab results reviewed and choose the wording of the patient's notice",
    "billing.read": "see charges, balances, ledgers, invoices, statements and claims",
    "billing.charge": "post charges and adjustments",
    "billing.pay": "take patients' payments",
    "claims.submit": "create, scrub, export and submit claims and change their status",
    "remittances.post": "post payers' remittances (835) to claims and ledgers",
    "eligibility": "ask payers whether patients are covered (270) and import their answers (271)",
    "codes.read": "look up diagnosis and procedure codes",
    "codes.manage": "import codes into the practice's code list",
    "reports.read": "run the office's reports",
    "staff.read": "see the staff list, their roles and hours",
    "staff.manage": "add, change and deactivate staff members, their hours, time off and passphrases",
    "roles.manage": "change what each role may do, and the practice's security mode",
    "tokens.manage": "create, list and revoke service tokens for automation",
    "audit.read": "read the audit log and the emergency (break-glass) accesses",
    "config.read": "see and check the practice's configuration and plugins",
    "config.change": "change the practice's configuration files",
    "backup": "back the practice up",
    "restore": "restore the practice from a backup, replacing what it holds",
    "store.manage": "verify and repair the store, upgrade it, copy it to another store",
    "admin": "run plugin commands that declare no permission of their own",
}
SECURITY_MODES = ["open", "signed-in"]  # practice.yaml `security` (absent: open)
# practice.yaml `sign_in`: setting -> (least, most); medsec.security.sessions holds the defaults
# (15 minutes idle, 12 hours in all, 5 wrong passphrases lock the account for 15 minutes).
SIGN_IN_LIMITS = {"idle_minutes": (1, 480), "absolute_hours": (1, 24), "lockout_attempts": (3, 20),
                  "lockout_minutes": (1, 1440)}
ROLE_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")
# practice.yaml `accounts`: the bookkeeper's journal's accounts (medsec.billing.journal), names both
# beancount and hledger take (a root type, then capitalised parts without spaces); `currency` its code.
JOURNAL_ACCOUNTS = {
    "receivable": "Assets:Receivable", "cash": "Assets:Cash", "card": "Assets:Card-Clearing",
    "check": "Assets:Checks", "eft": "Assets:Bank", "revenue": "Income:Patient-Services",
    "courtesy": "Expenses:Courtesy-Adjustments", "contractual": "Expenses:Contractual-Adjustments",
    "opening": "Equity:Opening-Balances"}
ACCOUNT_NAME = re.compile(r"(Assets|Liabilities|Equity|Income|Expenses)(:[A-Z0-9][A-Za-z0-9-]{0,59}){1,6}")
CURRENCY_CODE = re.compile(r"[A-Z]{3}")
CHANNEL_KINDS = ["email", "sms", "voice", "letter"]
ROUTE_KINDS = CHANNEL_KINDS + ["fax"]  # channels.yaml `routes`: kind of message -> channel
# Where a kind of message goes when channels.yaml routes it nowhere (medsec.communications.messaging).
DEFAULT_ROUTES = {"email": "email", "sms": "sms", "fax": "fax", "voice": "voice", "letter": "outbox"}
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
