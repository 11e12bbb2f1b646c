"""The `medsec` command: a lazily loaded root group and the one error boundary."""

import contextlib
import gc
import importlib
import os
import re
import sys

import click

from medsec import __version__
from medsec.cli.options import folder_path
from medsec.cli.textsafety import NAME_LIMIT, guard, printable
from medsec.errors import MedsecError
from medsec.text import clean_text

# Built-in commands, imported only when invoked: a cron job running hundreds
# of commands should not import every domain's module each time.
BUILTIN_COMMANDS = {
    "init": "medsec.cli.admin:init_command",
    "patient": "medsec.cli.patient:patient",
    "staff": "medsec.cli.staff:staff",
    "code": "medsec.cli.code:code",
    "appt": "medsec.cli.appt:appt",
    "remind": "medsec.cli.remind:remind",
    "call": "medsec.cli.call:call",
    "fax": "medsec.cli.fax:fax",
    "mail": "medsec.cli.mail:mail",
    "report": "medsec.cli.report:report",
    "bill": "medsec.cli.bill:bill",
    "claim": "medsec.cli.claim:claim",
    "clearinghouse": "medsec.cli.clearinghouse:clearinghouse",
    "elig": "medsec.cli.elig:elig",
    "referral": "medsec.cli.referral:referral",
    "refill": "medsec.cli.refill:refill",
    "memo": "medsec.cli.memo:memo",
    "task": "medsec.cli.task:task",
    "lab": "medsec.cli.lab:lab",
    "doc": "medsec.cli.doc:doc",
    "dictation": "medsec.cli.dictation:dictation",
    "intake": "medsec.cli.intake:intake",
    "meeting": "medsec.cli.meeting:meeting",
    "config": "medsec.cli.admin:config_group",
    "check": "medsec.cli.admin:check_command",
    "verify": "medsec.cli.verify:verify_command",
    "audit": "medsec.cli.auditcmd:audit_command",
    "backup": "medsec.cli.backupcmd:backup_command",
    "restore": "medsec.cli.backupcmd:restore_command",
    "store": "medsec.cli.storecmd:store_group",
    "upgrade": "medsec.cli.backupcmd:upgrade_command",
    "plugins": "medsec.cli.admin:plugins_command",
    "agent": "medsec.cli.agentcmd:agent_group",
    "login": "medsec.cli.signin:login",
    "logout": "medsec.cli.signin:logout",
    "whoami": "medsec.cli.signin:whoami",
    "help": "medsec.cli.helpcmd:help_command",
    "man": "medsec.cli.helpcmd:man_command",
    "completion": "medsec.cli.helpcmd:completion_command",
    "security": "medsec.cli.signin:security_group",
    "token": "medsec.cli.signin:token_group",
    "encrypt": "medsec.cli.encryptcmd:encrypt_command",
    "rekey": "medsec.cli.encryptcmd:rekey_command",
    "outbox": "medsec.cli.encryptcmd:outbox_group",
}


def _import(ref: str):
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


class MedsecCLI(click.Group):
    """Root group: built-ins load on demand; plugin commands come from plugins.

    `guard(cli)` below makes every command it hands out (and theirs, at any depth)
    check its text parameters before it runs (medsec.cli.textsafety).
    """

    def list_commands(self, ctx):
        return sorted(set(BUILTIN_COMMANDS) | set(self._plugin_commands()))

    def get_command(self, ctx, name):
        if name in BUILTIN_COMMANDS:
            return _import(BUILTIN_COMMANDS[name])
        return self._plugin_commands().get(name)

    def _plugin_commands(self) -> dict:
        from medsec.plugins import get_plugin_manager, plugin_commands  # pluggy: --version must not pay for it

        return plugin_commands(get_plugin_manager(), reserved=BUILTIN_COMMANDS)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Run one command; every failure becomes one line and an exit code.

        A shell asking for completions (click's protocol: `_MEDSEC_COMPLETE=bash_complete`
        and `COMP_WORDS` in the environment) is answered first, as click's own `main` does;
        every other command pays one environment look-up for it."""
        prog_name = prog_name or "medsec"
        complete_var = complete_var or f"_{prog_name.replace('-', '_').replace('.', '_')}_COMPLETE".upper()
        instruction = os.environ.get(complete_var)
        if instruction:
            code = _complete(self, extra, prog_name, complete_var, instruction)
        else:
            args = sys.argv[1:] if args is None else list(args)
            code = run_with_error_boundary(self, args, prog_name, extra)
        if standalone_mode:
            sys.exit(code)
        return code


def _complete(group: click.Group, extra: dict, prog_name: str, complete_var: str, instruction: str) -> int:
    """click's shell completion (the script, or the words that complete a command line); nothing on
    the terminal when it fails (a broken plugin, a bug): the shell offers no completions, exit 1."""
    from click.shell_completion import shell_complete  # only a shell asking for completions pays for it

    try:
        return shell_complete(group, extra, prog_name, complete_var, instruction)
    except Exception as e:  # noqa: BLE001 -- a traceback would land in the middle of the user's prompt
        if os.environ.get("MEDSEC_DEBUG"):
            import traceback

            traceback.print_exception(e, file=sys.stderr)
        return 1


# An error's message (and its hint) longer than this is cut: one that quotes a huge
# value (a 100,000-character name, a plugin's exception) must not become a 100 KB line.
ERROR_TEXT_LIMIT = 300
# Raised by a group given no arguments since click 8.2 (before, click printed the help itself).
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def run_with_error_boundary(group: click.Group, args: list, prog_name: str, extra: dict) -> int:
    ctx = None
    try:
        try:
            with group.make_context(prog_name, args, **extra) as ctx:
                group.invoke(ctx)
            return 0
        except click.exceptions.Exit as e:
            return e.exit_code
    except click.UsageError as e:
        return _usage_error(ctx, e, prog_name)
    except click.ClickException as e:
        return _fail(ctx, None, e.format_message(), None, e.exit_code)
    except MedsecError as e:
        for detail in e.details:
            click.echo(f"medsec: {printable(str(detail), ERROR_TEXT_LIMIT)}", err=True)
        return _fail(ctx, None, e.message, e.hint, e.exit_code, e)
    except (click.Abort, KeyboardInterrupt):
        return _fail(ctx, None, "interrupted", None, 1)
    except BrokenPipeError:
        # A pager or `head` closed the pipe: not an error worth a message.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as e:
        return _fail(ctx, None, f"{e.strerror or e}: {e.filename or ''}".rstrip(": "), None, 3, e)
    except Exception as e:  # a bug: say so in one line, the traceback with --debug
        return _fail(ctx, None, f"internal error: {type(e).__name__}: {e}",
                     "run again with --debug for the traceback", 3, e)


def _usage_error(ctx, e: click.UsageError, prog_name: str) -> int:
    if isinstance(e, _NO_ARGS_IS_HELP) and e.ctx is not None:
        # A bare `medsec` or `medsec appt`: its help, as asked for (click 8.2+ makes it an error).
        click.echo(e.ctx.get_help(), color=e.ctx.color)
        return 0
    where = e.ctx.command_path if e.ctx else prog_name
    # click lays some messages out over lines ("Choose from:\n\tcash,\n\tcard"): one line here.
    message = re.sub(r"\s*\n\s*", " ", e.format_message()).rstrip(".")
    return _fail(ctx, e.ctx, message[0].lower() + message[1:], f"try '{where} --help'", 2)


def _fail(ctx, error_ctx, message, hint, code, exc=None) -> int:
    line = f"medsec: error: {printable(str(message), ERROR_TEXT_LIMIT)}"
    if hint:
        line += f" ({printable(str(hint), ERROR_TEXT_LIMIT)})"
    click.echo(line, err=True)
    app = _app_of(error_ctx) or _app_of(ctx)
    if exc is not None and (app and app.debug or "--debug" in sys.argv or os.environ.get("MEDSEC_DEBUG")):
        import traceback  # only --debug pays for it

        traceback.print_exception(exc, file=sys.stderr)
    _audit_refusal(app, error_ctx, code, getattr(exc, "state", None))
    return code


def _app_of(ctx):
    if ctx is None:
        return None
    obj = ctx.find_root().obj
    return obj if obj is not None and hasattr(obj, "audit") else None


def _audit_refusal(app, error_ctx, code, commit_state=None) -> None:
    """A refused or failed attempt is audited too (command path only, no values); a failed
    commit says what it left ("exit 3: not made", "exit 3: journaled", "exit 3: made")."""
    try:
        if app is None or not app.initialized:
            return
    except MedsecError:  # the store itself is misnamed: nowhere to audit
        return
    if error_ctx is not None:
        app.command = error_ctx.command_path.partition(" ")[2]
    if not app.command:
        return
    with contextlib.suppress(Exception):  # the error already reported matters more than its audit line
        app.audit("refused", outcome=f"exit {code}: {commit_state}" if commit_state else f"exit {code}")


def _version(ctx, param, value):
    if value and not ctx.resilient_parsing:
        click.echo(f"medsec {__version__}")
        ctx.exit(0)


@click.group(cls=MedsecCLI, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, callback=folder_path,
              help="Data directory (default: $MEDSEC_HOME, else the user data directory).")
@click.option("--store", "store_url", default=None, envvar="MEDSEC_STORE", metavar="URL",
              help="A PostgreSQL store, postgresql://HOST/DB (default: $MEDSEC_STORE, else the data "
                   "directory's store.yaml, else the data directory itself).")
@click.option("--user", default=None, help="Acting staff member (default: $MEDSEC_USER, else the login).")
@click.option("--token-file", type=click.Path(dir_okay=False), default=None,
              help="A service token's file (mode 600), for scripts on a signed-in practice (default: $MEDSEC_TOKEN).")
@click.option("--break-glass", "break_glass", default=None, metavar="REASON",
              help="Open a restricted patient's chart in an emergency, saying why (10 to 200 characters): "
                   "physicians and nurses of a signed-in practice; audited, reviewed in 'report break-glass'.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_version,
              help="Show the version and exit.")
@click.pass_context
def cli(ctx, data_dir, store_url, user, token_file, break_glass, debug):
    """medsec - the front office of a clinic, from the shell.

    Each command group below has its own --help, with examples
    ('medsec help GROUP' prints the same).

    \b
    Examples:
      medsec init --demo
      medsec patient find ada love
      medsec appt day tomorrow --provider S1
      medsec remind send --dry-run
    """
    ctx.obj = app_context(ctx.params)
    os.umask(0o077)  # every file and folder medsec creates is private


def app_context(params: dict):
    """The command's AppContext from the root command's options (`ctx.params`): what runs it, and
    what completes it (medsec.cli.names) without running it."""
    # The store, tinydb and the audit log: --version does not pay for them.
    from medsec.audit import os_user
    from medsec.context import AppContext
    from medsec.locations import default_data_dir

    user = params.get("user")
    named = user or clean_text(os.environ.get("MEDSEC_USER") or "", "$MEDSEC_USER", NAME_LIMIT) or None
    return AppContext(
        data_dir=os.path.abspath(params.get("data_dir") or default_data_dir()),
        user=named or clean_text(os_user(), "the login name", NAME_LIMIT),
        debug=bool(params.get("debug")),
        store_url=params.get("store_url") or None,
        named_user=named,
        token_file=params.get("token_file"),
        break_glass=_break_glass_reason(params.get("break_glass")),
    )


def _break_glass_reason(text: str | None) -> str | None:
    """--break-glass's reason, checked before any command runs (exit 2 when too short or long)."""
    if text is None:
        return None
    from medsec.records.restrictions import break_glass_reason  # only a command given one pays for it

    return break_glass_reason(text)


guard(cli)  # every command's text parameters, --user included, are checked before it runs


# How many more objects than were freed the cyclic garbage collector waits for (Python: 700).
# A command keeps 7,000 to 18,000 until it ends (its modules, plugins, records): at 700 the
# collector walks them 10 to 25 times and finds little (~4 ms of a `patient add`). A long
# command (an import, `check`) still collects, every 20,000.
GC_THRESHOLD = 20_000


def main() -> None:
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    cli.main(prog_name="medsec")
