"""The options commands share: one name, type, metavar and help text each.

Every group takes its dates, people, notes, dry runs, limits and output files
through these decorators, so that `--from` means the same in `appt list` and
`bill statement` and scripts can rely on it. A decorator takes the parameter
name the command's function expects (where commands differ) and the words that
differ between commands (what a default is); the rest is fixed here.
"""

import functools

import click
from click.core import ParameterSource

from medsec.cli.choices import ListsValues
from medsec.cli.names import APPT_TYPE, PATIENT, STAFF

DATE_WORDS = "a date as people type it, e.g. 'jan 5', 'next mon'"
WHEN_WORDS = "a date and time as people type it, e.g. 'tomorrow 2:30pm'"
MATCHED_USER = "--user matched to a staff id, login or email"


def _default(value, required: bool = False, multiple: bool = False) -> dict:
    """click.option's `default` argument, left out where the option is required or repeatable.

    Those keep click's own default, so that a missing required option is
    still a usage error and a repeatable one is still an empty tuple.
    """
    return {} if required or multiple else {"default": value}


# -- old spellings, read for one release ------------------------------------------------------
# The vocabulary (README, Conventions): --from/--to say when, --for DATE names a day; people are
# --patient, --provider or --staff; numbers are --phone or --number. An option renamed to follow
# it keeps its old spelling for one release, through `Renamed` alone (CHANGELOG lists them).
DEPRECATION_NOTE = "medsec: note: {old} {metavar} is deprecated: use {new} (it goes in the next release)"


class Renamed(click.Option):
    """An option that still reads its old spelling `was` for one release.

    The old spelling is parsed into a slot of its own: it is in no help, usage line or
    completion, and using it prints DEPRECATION_NOTE on stderr (once) and passes its value on
    as the new option's, through the same type, checks and name resolution. Giving both
    spellings is a usage error (exit 2). Options that take a value only: no flag was renamed.
    """

    def __init__(self, *args, was: str, **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_flag or not was.startswith("--"):
            raise TypeError(f"Renamed: {was!r} is not the old spelling of an option that takes a value")
        self.was = was

    @property
    def new(self) -> str:
        """The spelling to use: the option's long name."""
        return max(self.opts, key=len)

    def _old_slot(self) -> str:
        return f"{self.name} (as {self.was})"

    def add_to_parser(self, parser, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        parser.add_option(obj=self, opts=[self.was], dest=self._old_slot(),
                          action="append" if self.multiple else "store", nargs=self.nargs)

    def consume_value(self, ctx: click.Context, opts):
        if self._old_slot() not in opts:
            return super().consume_value(ctx, opts)
        if self.name in opts:
            raise click.UsageError(f"{self.was} is the old spelling of {self.new}: give {self.new} only", ctx)
        if not ctx.resilient_parsing:  # not while a shell asks for completions
            metavar = self.metavar or self.type.name.upper()
            click.echo(DEPRECATION_NOTE.format(old=self.was, metavar=metavar, new=self.new), err=True)
        return opts[self._old_slot()], ParameterSource.COMMANDLINE


def _renamed(was: str | None) -> dict:
    """click.option's arguments for an option whose old spelling is `was` (none when None)."""
    return {"cls": Renamed, "was": was} if was else {}


def renamed_option(*decls: str, was: str, **attrs):
    """click.option(*decls, **attrs) for an option renamed from `was` (see `Renamed`)."""
    return click.option(*decls, cls=Renamed, was=was, **attrs)


def date_option(*decls: str, help: str, default_text: str | None = None, required: bool = False,
                was: str | None = None):
    """A date option (`decls` as for click.option), parsed by the command as people type dates;
    `was`: its old spelling, still read for one release (see `Renamed`)."""
    default = f", default: {default_text}" if default_text else ""
    return click.option(*decls, **_default(None, required), required=required, metavar="DATE",
                        help=f"{help} ({DATE_WORDS}{default}).", **_renamed(was))


def when_option(*decls: str, help: str, required: bool = False):
    """A date-and-time option (`--at`, `--appt-at`), in the practice's time zone."""
    return click.option(*decls, **_default(None, required), required=required, metavar="WHEN",
                        help=f"{help} ({WHEN_WORDS}).")


def date_range_options(first: str, last: str | None, what: str = ""):
    """`--from`/`--to`, passed as `start` and `end`; `first`/`last` say the defaults, `what` the
    day of a record they compare ("a call was taken": "First day a call was taken").

    `last=None` gives `--from` alone (for a command that counts days instead).
    """
    after = f" {what}" if what else ""

    def decorate(func):
        if last is not None:
            func = date_option("--to", "end", help=f"Last day{after}", default_text=last)(func)
        return date_option("--from", "start", help=f"First day{after}", default_text=first)(func)

    return decorate


def day_span(app, start: str | None, end: str | None) -> tuple:
    """The (first, last) days of a list's --from/--to (None where not given), in order."""
    first = app.parse_date(start, "--from") if start else None
    last = app.parse_date(end, "--to") if end else None
    if first and last:
        from medsec.clock import check_range

        check_range(first, last)
    return first, last


def provider_option(help: str = "Only this provider's (a staff id or name).", required: bool = False,
                    param: str = "provider", was: str | None = None):
    """`--provider STAFF`, passed as `param`: a staff id, or a name resolved to one (medsec.cli.names);
    `was`: its old spelling, still read for one release (see `Renamed`)."""
    return click.option("--provider", param, type=STAFF, **_default(None, required), required=required,
                        metavar="STAFF", help=help, **_renamed(was))


def staff_option(param: str, help: str, required: bool = False, was: str | None = None, multiple: bool = False):
    """`--staff STAFF`, passed as `param`: whose queue, message or task (a staff id or name, or a role
    where the command says so); `was`: its old spelling, still read for one release (see `Renamed`)."""
    return click.option("--staff", param, type=STAFF, **_default(None, required, multiple), required=required,
                        multiple=multiple, metavar="STAFF", help=help, **_renamed(was))


def mine_option(what: str):
    """`--mine`: only `what` for the acting user."""
    return click.option("--mine", is_flag=True, help=f"Only {what} ({MATCHED_USER}).")


def patient_option(param: str = "patient", help: str = "Only this patient's (an id or a name).",
                   required: bool = False, multiple: bool = False, was: str | None = None):
    """`--patient PATIENT`, passed as `param`: a patient id, or a name resolved to one (medsec.cli.names);
    `was`: its old spelling, still read for one release (see `Renamed`)."""
    return click.option("--patient", param, type=PATIENT, **_default(None, required, multiple), required=required,
                        multiple=multiple, metavar="PATIENT", help=help, **_renamed(was))


def patient_argument(param: str = "patient_id"):
    """The PATIENT a command is about, passed as `param`: an id, or a name resolved to one."""
    return click.argument(param, type=PATIENT, metavar="PATIENT")


def staff_argument(param: str = "staff_id"):
    """The STAFF member a command is about, passed as `param`: an id, or a name resolved to one."""
    return click.argument(param, type=STAFF, metavar="STAFF")


def appt_option(param: str, help: str):
    """`--appt APPT_ID`: the appointment a command is about."""
    return click.option("--appt", param, default=None, metavar="APPT_ID", help=help)


def appt_type_option(required: bool = True, default: str | None = None):
    """`--type NAME`, passed as `type_name`: an appointment type from appointment-types.yaml."""
    return click.option("--type", "type_name", type=APPT_TYPE, required=required, **_default(default, required),
                        show_default=default is not None, cls=ListsValues, values="appointment-types",
                        metavar="TYPE", help="Appointment type, e.g. follow-up (see appointment-types.yaml).")


def note_option(help: str = "A note kept with the record.", required: bool = False):
    """`--note TEXT` (empty unless given)."""
    return click.option("--note", **_default("", required), required=required, help=help)


def reason_option(help: str = "Why, kept with the record.", required: bool = False):
    """`--reason TEXT` (empty unless given)."""
    return click.option("--reason", **_default("", required), required=required, help=help)


def status_filter_option(choices: list[str], default: str | None, things: str):
    """`--status` for a list command; click lists the values."""
    return click.option("--status", type=click.Choice(choices), default=default, show_default=default is not None,
                        help=f"Only {things} with this status.")


def direction_option(choices=("in", "out")):
    """`--direction in|out` for a list of things received and sent."""
    return click.option("--direction", type=click.Choice(list(choices)), default=None,
                        help="Only incoming (in) or outgoing (out) (default: both).")


def unassigned_option(what: str):
    """`--unassigned`: only items received that are not yet filed with a patient."""
    return click.option("--unassigned", is_flag=True, help=f"Only incoming {what} not yet filed with a patient.")


def dx_option(required: bool, help: str = "ICD-10-CM diagnosis code (repeatable, in order)."):
    """`--dx CODE`, repeatable, passed as `dx` (a tuple)."""
    return click.option("--dx", multiple=True, required=required, metavar="CODE", help=help)


def urgent_option(help: str = "Mark it urgent: listed first."):
    """`--urgent` flag."""
    return click.option("--urgent", is_flag=True, help=help)


def input_format_option(values: str):
    """`--input-format NAME` for imports: the file's format when it is not detected; its help
    lists the formats installed (`values`: a source of medsec.cli.choices)."""
    return click.option("--input-format", default=None, metavar="NAME", cls=ListsValues, values=values,
                        help="The file's format (default: detected from the file); see 'medsec plugins'.")


def dry_run_option(help: str = "Check everything and report what would happen; change nothing."):
    """`--dry-run` flag."""
    return click.option("--dry-run", is_flag=True, help=help)


def output_path(ctx, param, value):
    """A FILE to write: '-' is standard output where the output has a default (as for
    every Unix tool), else refused; '' is no file name. Never a file named '-'."""
    if value == "":
        raise click.BadParameter("an empty file name", ctx, param)
    if value == "-":
        if param.required:
            raise click.BadParameter("'-' (standard output) is not a file here; name a file", ctx, param)
        return None
    return value


def folder_path(ctx, param, value):
    """A FOLDER given on the command line: never '' nor '-' (which means standard input or output
    wherever a file is read or written: a folder of that name is a slip, not a choice)."""
    if value in ("", "-"):
        raise click.BadParameter(f"{value!r} is not a folder name; name a folder (./- if you mean one so named)",
                                 ctx, param)
    return value


def document_path(ctx, param, value):
    """A FILE a command writes its document to: '-' is standard output (passed on as '-': the
    document goes there through medsec.outputs, and the command's summary to stderr)."""
    if value == "":
        raise click.BadParameter("an empty file name", ctx, param)
    return value


def output_file_option(help: str = "Write to FILE (default: standard output).", required: bool = False):
    """`-o/--output FILE`, passed as `output`: a file outside the data directory ('-' is standard
    output: None where it is the default, else '-' for medsec.outputs to write there)."""
    return click.option("-o", "--output", type=click.Path(dir_okay=False), **_default(None, required),
                        required=required, metavar="FILE", callback=document_path if required else output_path,
                        help=help)


def destination_options(what: str):
    """Where a file for the clearinghouse goes: `-o/--output FILE` ('-': standard output), or
    `--send` through the clearinghouse's transport (`--clearinghouse ID`, default the first of
    clearinghouses.yaml); passed as `output`, `send`, `clearinghouse`. One of the two is needed."""
    decorators = [
        click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                     callback=document_path, help=f"The {what} file to write ('-': standard output)."),
        click.option("--send", is_flag=True, help=f"Send the {what} to the clearinghouse instead of writing a file."),
        click.option("--clearinghouse", metavar="ID", default=None,
                     help="With --send: which clearinghouse (an id of clearinghouses.yaml; default: the first)."),
    ]

    def apply(func):
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


limit_option = click.option("--limit", type=click.IntRange(min=1), default=None, metavar="N",
                            help="Print at most N records (default: all).")


def list_options(func):
    """What every command that lists records takes besides its filters: `--limit N`, passed as
    `limit`, and `-o/--output FILE`, the list written to FILE in the --format asked for (every
    row, whatever the terminal; '-' is standard output). The command's function does not take
    --output: medsec.cli.output.render reads it from the command's parameters (`list_file`)."""

    @limit_option
    @click.option("-o", "--output", "list_file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                  callback=output_path, help="Write the list to FILE instead (in --format; default: standard output).")
    @functools.wraps(func)
    def wrapper(*args, list_file=None, **kwargs):
        return func(*args, **kwargs)

    return wrapper


# -- how a command prints: formats, the pager, --quiet ------------------------------------
# The formats of `--format` on every command that prints records (medsec.cli.output renders them):
# a table for people; JSON (one document), JSON Lines (a record a line), CSV and YAML for scripts.
OUTPUT_FORMATS = ["table", "json", "jsonl", "csv", "yaml"]

format_option = click.option("--format", "fmt", type=click.Choice(OUTPUT_FORMATS), default=None,
                             help="Output format (default: table).")
json_option = click.option("--json", "as_json", is_flag=True, help="Short for --format json.")
# Read back through click's parameters (medsec.cli.output, medsec.progress): no command takes them.
no_pager_option = click.option("--no-pager", is_flag=True,
                               help="Print long output straight to the terminal (see MEDSEC_PAGER).")


def quiet_option(func):
    """`-q/--quiet` on a command that prints a summary (for cron, which mails any output): nothing is
    printed when all went well; problems still go to stderr and the exit code says how it went.

    The command's function does not take it: medsec.cli.output and medsec.progress read it from
    the command's parameters (`quiet`), which is where a group's --quiet would be read too."""

    @click.option("-q", "--quiet", is_flag=True,
                  help="Print nothing when all went well (for cron); problems still go to stderr.")
    @functools.wraps(func)
    def wrapper(*args, quiet=False, **kwargs):
        return func(*args, **kwargs)

    return wrapper
