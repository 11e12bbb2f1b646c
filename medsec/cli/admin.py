"""Admin commands: init, config, check, plugins (audit: medsec.cli.auditcmd; backup, restore and
upgrade: medsec.cli.backupcmd)."""

import os
import sys

import click

from medsec import PLUGIN_API_VERSION
from medsec.cli.common import pass_app
from medsec.cli.options import folder_path, quiet_option
from medsec.cli.output import inform, is_quiet, output_options, render, say
from medsec.config import CONFIG_FILES, Problem, check_texts
from medsec.errors import ConfigError, EnvironmentFailure, InvalidInput
from medsec.templating import check_all as check_templates


@click.command("init")
@click.option("--demo", is_flag=True, help="Fill it with a synthetic demo practice.")
@click.option("--time-zone", default="America/New_York", show_default=True, help="The practice's IANA time zone.")
@click.option("--store", "store_url", default=None, metavar="URL",
              help="Keep the practice in this PostgreSQL database (postgresql://HOST/DB) instead.")
@click.option("--password-env", default=None, metavar="NAME",
              help="With --store: the environment variable that holds the database password.")
@click.option("--security", "security_mode", type=click.Choice(["open", "signed-in"]), default=None,
              help="signed-in (the default; open with --demo): every command needs a session and a role "
                   "that allows it. open: whoever --user names acts (a one-person laptop).")
@click.option("--admin", "admin_name", default=None, metavar="NAME",
              help="Signed in: the first administrator's full name (staff member S1); else asked on the terminal.")
@click.option("--admin-passphrase-file", type=click.Path(dir_okay=False), default=None,
              help="The administrator's passphrase, first line of FILE (mode 600); else asked on the terminal.")
@click.option("--rehearsal", is_flag=True,
              help="A practice for rehearsals and tests: MEDSEC_NOW may move its clock when signed in.")
@click.option("--encrypt", is_flag=True,
              help="Encrypt the data directory at rest (signed in only); prints the recovery key once.")
@click.option("--recovery-key-out", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="With --encrypt: write the recovery key to FILE (a new file, mode 600) instead of printing it.")
@output_options
@pass_app
def init_command(app, fmt, demo, time_zone, store_url, password_env, security_mode, admin_name,
                 admin_passphrase_file, rehearsal, encrypt, recovery_key_out):
    """Create a data directory to set up a practice.

    At --data-dir, else $MEDSEC_HOME, else the user data directory: example
    configuration files to edit, or with --demo a whole synthetic practice.

    A practice is signed in unless told otherwise: every command needs a
    staff member who signed in (`medsec login`) and a role that allows it.
    init makes its first administrator, S1: the name and passphrase are
    asked on the terminal, or given with --admin and
    --admin-passphrase-file (a script, where nothing can be asked).
    --security open makes a practice where whoever --user names acts (a
    one-person laptop); --demo is open unless --security signed-in is given.

    --encrypt encrypts the data directory at rest from the start (see
    `medsec encrypt`); the recovery key is printed once, or written to
    --recovery-key-out.

    A new practice (not --demo) is followed by its next steps on stderr
    (with a table: not with --json or another --format).

    With --store (or the global --store, $MEDSEC_STORE) the practice is
    kept in a PostgreSQL database that several terminals share, and the
    folder only points to it (store.yaml). The URL must not hold a password:
    use peer authentication, a PGPASSFILE, or --password-env.

    \b
    Examples:
      medsec init
      medsec init --admin "Ada Byron" --admin-passphrase-file ./s1-passphrase
      medsec init --encrypt --recovery-key-out /media/usb/recovery-key.txt
      medsec init --demo
      medsec --data-dir ./second-clinic init --security open --time-zone America/Chicago
      medsec --data-dir ~/medsec init --store postgresql://db.clinic.lan/medsec
    """
    from medsec.practice.setup import init_data_dir, refuse_used_folder  # (the demo generator, ~8 ms)

    refuse_used_folder(app.data_dir)  # before the first administrator is asked for
    if security_mode is None:
        security_mode = "open" if demo else "signed-in"
    show_recovery = _encryption_wanted(app, encrypt, recovery_key_out, security_mode, store_url)
    admin = _first_admin(security_mode, admin_name, admin_passphrase_file, staff_id=None if demo else "S1")
    summary = init_data_dir(app.data_dir, demo=demo, tz_name=time_zone, rehearsal=rehearsal,
                            location=_init_location(app, store_url, password_env))
    if admin:
        summary.update(_signed_in_practice(app, *admin, encrypt=encrypt))
    if show_recovery is not None:
        from medsec.security.encryption import encrypt as encrypt_practice

        summary["encrypted"] = encrypt_practice(app, show_recovery)["key"]
    render(summary, fmt)
    if not demo and fmt == "table":  # for people: a script reading --json gets none
        for line in _next_steps(app.data_dir, signed_in=admin is not None):
            inform(line)


def _next_steps(data_dir: str, *, signed_in: bool) -> list[str]:
    """What to do after `init` makes a practice (on stderr): README's "Setting up your practice" in short."""
    import shlex

    from medsec.locations import default_data_dir

    steps = ['next steps (README.md, "Setting up your practice"):']
    if os.path.abspath(default_data_dir()) != data_dir:
        steps.append(f"  export MEDSEC_HOME={shlex.quote(data_dir)}")
    if signed_in:
        steps.append('  eval "$(medsec login S1)"                 sign in as the administrator')
    steps += ["  medsec config edit practice               name, NPI, address, office hours; then channels",
              "  medsec staff add --name NAME --role ROLE  then staff hours and staff passphrase",
              "  medsec config check                       checks every configuration file"]
    return steps


def _encryption_wanted(app, encrypt: bool, recovery_key_out, security_mode: str, store_url):
    """What shows the recovery key of `init --encrypt` (None without it); InvalidInput before anything is made."""
    if not encrypt:
        if recovery_key_out:
            raise InvalidInput("--recovery-key-out is for --encrypt")
        return None
    if security_mode != "signed-in":
        raise InvalidInput("--encrypt needs a signed-in practice (sign-in is what opens its key)")
    if store_url or app.store_url:
        raise InvalidInput("--encrypt is for a data directory: on PostgreSQL, encrypt the database's disk "
                           "(README: Encryption at rest)")
    from medsec.cli.encryptcmd import recovery_writer

    return recovery_writer(app, recovery_key_out)


_NO_ADMIN = ("a signed-in practice needs its first administrator: --admin NAME --admin-passphrase-file FILE "
             "(or --security open)")


def _first_admin(security_mode, name, passphrase_file, *, staff_id: str | None) -> tuple[str, str, str] | None:
    """(name, passphrase hash, passphrase) of a signed-in practice's first administrator, asked and checked
    before anything is made; None for an open practice.

    Without --admin the name is asked on the terminal (standard input), and then the passphrase
    (twice) unless --admin-passphrase-file gives it; with no terminal to ask, one line (exit 2).
    `staff_id` is the id the administrator will have (S1 in a new practice; None in the demo's,
    which has its staff already): the passphrase may not hold it."""
    if security_mode == "open":
        if name or passphrase_file:
            raise InvalidInput("--admin and --admin-passphrase-file are for --security signed-in")
        return None
    if name is None:
        if not sys.stdin.isatty():
            raise InvalidInput(_NO_ADMIN)
        name = click.prompt(f"The first administrator's full name{f' ({staff_id})' if staff_id else ''}")
    name = _admin_name(name)
    from medsec.security.passphrase import check_strength, hash_passphrase, read_passphrase

    who = f"{name} ({staff_id})" if staff_id else name
    text = read_passphrase(file=passphrase_file, fd=None, prompt=f"passphrase for {who}: ",
                           confirm=passphrase_file is None)
    check_strength(text, staff_id=staff_id or "", name=name)
    return name, hash_passphrase(text), text


def _admin_name(value: str) -> str:
    """The administrator's name as the roster will keep it; InvalidInput (exit 2) before anything is made."""
    from medsec.records.staff import TEXT_LIMITS
    from medsec.text import clean_text

    name = clean_text(value, "--admin", TEXT_LIMITS["name"]).strip()
    if not name:
        raise InvalidInput("--admin: the administrator's name cannot be empty")
    return name


def _signed_in_practice(app, name: str, passphrase_hash: str, passphrase: str, encrypt: bool) -> dict:
    """The new practice's first staff member, an administrator with a passphrase; sign-in on. To be
    encrypted, the administrator's key pair is made now (else at the first sign-in): it holds the
    first key slot."""
    from medsec import config
    from medsec.records.staff import add_staff
    from medsec.security.approval import reseal
    from medsec.security.sessions import set_passphrase

    app.command = "init"
    admin = add_staff(app, name=name, role="admin")
    keys = None
    if encrypt:
        from medsec.security.keys import new_key_pair
        from medsec.security.vault import member_slot

        public, signing, private = new_key_pair(admin["id"], passphrase, app.now().isoformat(timespec="seconds"))
        keys = {"public": public, "signing": signing, "slots": member_slot(app, admin["id"], private)}
    set_passphrase(app, admin["id"], passphrase_hash, keys)
    practice = {**app.config("practice.yaml"), "security": "signed-in"}
    with app.store.transaction() as txn:
        config.stage(txn, "practice.yaml", practice)
        reseal(app, txn, {"practice.yaml": practice})
    app.audit("init", [admin["id"]], outcome="signed-in practice, first administrator")
    return {"security": "signed-in", "admin": admin["id"]}


def _init_location(app, store_url, password_env):
    """Where `init` puts the practice: its --store, else the global one; never two different ones."""
    from medsec.store.api import StoreLocation, locate_store

    if store_url and app.store_url and store_url != app.store_url:
        raise InvalidInput("init --store and the global --store ($MEDSEC_STORE) name different stores")
    url = store_url or app.store_url
    if password_env and not url:
        raise InvalidInput("--password-env is for a PostgreSQL store: give --store too")
    if password_env and not password_env.replace("_", "").isalnum():
        raise InvalidInput(f"--password-env: {password_env!r} is not an environment variable's name")
    if url is None:
        return StoreLocation()
    return StoreLocation(locate_store(app.data_dir, url).url, password_env)


@click.group("config")
def config_group():
    """Show, check and change the configuration.

    The YAML documents (practice, staff, ...) are kept by the store: files in
    a data directory, rows in a PostgreSQL store. Change them with `config
    edit`, or `config export` to a folder and `config import` back.

    \b
    Examples:
      medsec config show practice
      medsec config check
      medsec config edit staff
    """


@config_group.command("show")
@click.argument("name", required=False)
@output_options
@pass_app
def config_show(app, fmt, name):
    """Show a configuration file as medsec reads it.

    NAME is a file such as practice or staff.yaml; without it, all of them.

    \b
    Examples:
      medsec config show practice
      medsec config show staff --json
    """
    names = [name if name.endswith(".yaml") else f"{name}.yaml"] if name else CONFIG_FILES
    unknown = [n for n in names if n not in CONFIG_FILES]
    if unknown:
        raise InvalidInput(f"unknown configuration file {unknown[0]!r}",
                           hint=f"one of {', '.join(CONFIG_FILES)}")
    data = {n: app.config(n) for n in names}
    render(data[names[0]] if name else data, "yaml" if fmt == "table" else fmt)


@config_group.command("check")
@pass_app
def config_check(app):
    """Validate every configuration file.

    The store's documents (in a data directory or a PostgreSQL store) and
    this folder's templates. Problems are printed with file and line; exit 3
    on errors (warnings do not fail).

    \b
    Examples:
      medsec config check
    """
    root = app.store.root  # through the store, so that a missing data directory is reported as such
    problems = check_texts(app.store.document_text)
    problems += [Problem(p.split(":", 1)[0], None, p.split(":", 2)[-1].strip())
                 for p in check_templates(root)]
    problems += [Problem(name, None, what) for name, what in _seal_problems(app)]
    from medsec.communications.messaging import installed_problems  # plugins: only config check pays here
    problems += installed_problems(app)
    from medsec.workflows.lab_orders import interface_problems  # labs.yaml's transports against those installed
    problems += interface_problems(app)
    for problem in problems:
        click.echo(str(problem), err=True)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ConfigError(f"{len(errors)} configuration error(s)")
    click.echo(f"configuration ok ({len(problems)} warning(s))" if problems else "configuration ok")


@config_group.command("edit")
@click.argument("name")
@output_options
@pass_app
def config_edit(app, fmt, name):
    """Edit a configuration file in your editor.

    Opens $VISUAL, else $EDITOR, else vi on a private temporary copy of NAME
    (practice, staff.yaml ...) and saves it as you wrote it once it passes
    `config check`'s checks. A YAML or validation error is refused (exit 2,
    naming file and line) and nothing is saved; so is an editor that fails
    or is abandoned with a non-zero exit (vi's :cq) (exit 3), and an edit
    made while another terminal changed NAME (exit 1). An unchanged file
    saves nothing. The copy is removed afterwards.

    \b
    Examples:
      medsec config edit practice
      EDITOR=nano medsec config edit staff.yaml
    """
    from medsec.cli.configdocs import edit_document

    result = edit_document(app, name)
    if fmt != "table":
        render(result, fmt)
    else:
        say(f"saved {result['document']}" if result["saved"] else f"{result['document']}: no change")


@config_group.command("export")
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False), callback=folder_path)
@click.option("--force", is_flag=True, help="Overwrite files already in DIR.")
@output_options
@pass_app
def config_export(app, fmt, folder, force):
    """Write the configuration files to a folder.

    Each document the store holds becomes DIR/NAME (practice.yaml ...), its
    text exactly as stored, private (0600). Files already there are refused
    (exit 2) unless --force. DIR may not be inside the data directory.

    \b
    Examples:
      medsec config export ./clinic-config
      medsec config export ./clinic-config --force --json
    """
    from medsec.cli.configdocs import export_documents

    render(export_documents(app, folder, force), fmt)


@config_group.command("import")
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False), callback=folder_path)
@click.argument("names", nargs=-1, metavar="[NAME]...")
@output_options
@pass_app
def config_import(app, fmt, folder, names):
    """Load configuration files from a folder.

    Reads DIR/NAME for each NAME (practice, staff.yaml ...), else every
    configuration file in DIR, and checks them all first: any error is exit
    2 naming file and line, and nothing is stored. Then the changed ones are
    stored together, exactly as written. A medsec.yaml of another schema
    version than the store's is refused.

    \b
    Examples:
      medsec config import ./clinic-config
      medsec config import ./clinic-config practice staff --json
    """
    from medsec.cli.configdocs import import_documents

    render(import_documents(app, folder, names), fmt)


@click.command("check")
@click.option("--repair", is_flag=True, help="Rebuild indexes, fix counters, sweep leftovers.")
@quiet_option
@output_options
@pass_app
def check_command(app, fmt, repair):
    """Verify the data directory or database.

    Records against their seals and the id counters (lost, changed outside
    medsec, or naming a patient who is not there), indexes, attachments and
    leftovers of interrupted writes; exit 3 if anything is wrong and not
    repaired. --repair rebuilds only what is derived: lost or altered records
    are reported until a backup is restored, their files left as they are.
    On PostgreSQL: the schema's constraints and triggers, every record row,
    the index entries, counters, configuration documents and attachments,
    read in one snapshot (--repair: under the writers' lock).

    \b
    Examples:
      medsec check
      medsec check --repair
    """
    store = app.store  # a store that cannot be reached or is not set up: exit 3 here
    if app.location.url:
        from medsec.store import pgcheck as checks  # psycopg's queries: only a PostgreSQL store pays
    else:
        from medsec.store import integrity as checks  # hashlib, the index rebuild (~3 ms): only check pays
    check, next_step = checks.check, checks.next_step

    from medsec.progress import on_terminal

    with on_terminal() as progress:
        problems = check(store, repair=repair, progress=progress.note if progress.enabled else None)
    # Who may do what is read from the store only once it is whole (reading rolls a journal forward).
    seal = [] if any(not p["repaired"] for p in problems) else _seal_problems(app)
    if not any(not p["repaired"] for p in problems):  # signed sign-offs that no longer hold, once whole
        from medsec.security.signoffs import check_problems

        problems += check_problems(store)
    problems += [{"problem": what, "file": name, "repaired": False, "remedy": "approve"} for name, what in seal]
    if is_quiet():  # what is wrong still shows (on stderr); what was repaired does not
        for p in problems:
            if not p["repaired"]:
                say(f"{p['problem']}: {p['file']}")
    elif fmt != "table" or problems:
        render(problems, fmt, ["problem", "file", "repaired"])
    left = [p for p in problems if not p["repaired"]]
    _guarantor_warnings(store, whole=not left)
    if left:
        found = f"{len(problems)} problem(s) found" + (f", {len(left)} not repaired" if repair else "")
        raise EnvironmentFailure(found, hint=next_step(left, repaired=repair) if len(left) > len(seal) else
                                 "an administrator looks at what changed and approves it: medsec security approve")
    if fmt == "table":
        healthy = "store ok" if app.location.url else "data directory ok"
        inform(healthy if not problems else f"repaired {len(problems)} problem(s)")
        if _rehearsal(app):
            inform("a rehearsal practice: MEDSEC_NOW may move its clock (medsec.yaml rehearsal: true)")


def _guarantor_warnings(store, whole: bool) -> None:
    """Warnings, not problems: guarantors an upgrade could not read (medsec.records.guarantors)."""
    if not whole:
        return
    from medsec.records.guarantors import needs_review

    for item in needs_review(store.snapshot()):
        say(f"warning: {item['patient_id']}: a guarantor written as free text needs review (see 'medsec "
            f"patient show {item['patient_id']}'); set it with 'medsec patient guarantor {item['patient_id']}'")


def _rehearsal(app) -> bool:
    from medsec.security.principal import rehearsal

    try:
        return rehearsal(app)
    except EnvironmentFailure:
        return False


def _seal_problems(app) -> list[tuple[str, str]]:
    """Who may do what, changed outside medsec (medsec.security.approval); nothing to say when a
    configuration document or the store cannot be read (that is for the checks to report)."""
    from medsec.security.approval import problems

    try:
        return problems(app)
    except EnvironmentFailure:
        return []


@click.command("plugins")
@output_options
@pass_app
def plugins_command(app, fmt):
    """The loaded plugins and what they register.

    \b
    Examples:
      medsec plugins
      medsec plugins --json
    """
    from medsec.plugins import describe  # pluggy (~3 ms): only this admin command needs it

    rows = describe(app.plugins)
    if fmt == "table":
        say(f"plugin API version {PLUGIN_API_VERSION}")  # JSON stays the list scripts read
        rows = [{"name": p["name"], "source": p["source"],
                 "registers": "; ".join(f"{k}: {', '.join(v)}" for k, v in p["registers"].items()),
                 "hooks": ", ".join(h for h in p["hooks"] if not h.startswith("register_"))}
                for p in rows]
    render(rows, fmt, ["name", "source", "registers", "hooks"])
