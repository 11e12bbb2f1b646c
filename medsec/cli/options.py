"""The options commands share: one name, type, metavar and help text each.

Every group takes its dates, people, notes, dry runs, limits and output files
through these decorators, so that `--from` means the same in `appt list` and
`bill statement` and scripts can rely on it. A decorator takes the parameter
name the command's function expects (where commands differ) and the words that
differ between commands (what a default is); the rest is fixed here.
"""

import click

DATE_WORDS = "a date as people type it"
WHEN_WORDS = "a date and time as people type it, e.g. 'tue 14:00'"
MATCHED_USER = "--user matched to a staff id, login or email"


def _default(value, required: bool = False, multiple: bool = False) -> dict:
    """click.option's `default` argument, left out where the option is required or repeatable.

    Those keep click's own default, so that a missing required option is
    still a usage error and a repeatable one is still an empty tuple.
    """
    return {} if required or multiple else {"default": value}


def date_option(*decls: str, help: str, default_text: str | None = None, required: bool = False):
    """A date option (`decls` as for click.option), parsed by the command as people type dates."""
    default = f", default: {default_text}" if default_text else ""
    return click.option(*decls, **_default(None, required), required=required, metavar="DATE",
                        help=f"{help} ({DATE_WORDS}{default}).")


def when_option(*decls: str, help: str, required: bool = False):
    """A date-and-time option (`--at`, `--appt-at`), in the practice's time zone."""
    return click.option(*decls, **_default(None, required), required=required, metavar="WHEN",
                        help=f"{help} ({WHEN_WORDS}).")


def date_range_options(first: str, last: str | None):
    """`--from`/`--to`, passed as `start` and `end`; `first`/`last` say the defaults.

    `last=None` gives `--from` alone (for a command that counts days instead).
    """

    def decorate(func):
        if last is not None:
            func = date_option("--to", "end", help="Last day", default_text=last)(func)
        return date_option("--from", "start", help="First day", default_text=first)(func)

    return decorate


def provider_option(help: str = "Only this provider's (a staff id).", required: bool = False):
    """`--provider STAFF_ID`, passed as `provider`."""
    return click.option("--provider", **_default(None, required), required=required, metavar="STAFF_ID", help=help)


def for_staff_option(param: str, help: str, required: bool = False):
    """`--for STAFF_ID`: whose queue or message (a staff id, or a role where the command says so)."""
    return click.option("--for", param, **_default(None, required), required=required, metavar="STAFF_ID", help=help)


def mine_option(what: str):
    """`--mine`: only `what` for the acting user."""
    return click.option("--mine", is_flag=True, help=f"Only {what} ({MATCHED_USER}).")


def patient_option(param: str = "patient", help: str = "Only this patient's (a patient id).",
                   required: bool = False, multiple: bool = False):
    """`--patient PATIENT_ID`, passed as `param`."""
    return click.option("--patient", param, **_default(None, required, multiple), required=required, multiple=multiple,
                        metavar="PATIENT_ID", help=help)


def appt_option(param: str, help: str):
    """`--appt APPT_ID`: the appointment a command is about."""
    return click.option("--appt", param, default=None, metavar="APPT_ID", help=help)


def appt_type_option(required: bool = True, default: str | None = None):
    """`--type NAME`, passed as `type_name`: an appointment type from appointment-types.yaml."""
    return click.option("--type", "type_name", required=required, **_default(default, required),
                        show_default=default is not None,
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


def input_format_option():
    """`--input-format NAME` for imports: the file's format when it is not detected."""
    return click.option("--input-format", default=None, metavar="NAME",
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


def output_file_option(help: str = "Write to FILE (default: standard output).", required: bool = False):
    """`-o/--output FILE`, passed as `output`: a file outside the data directory ('-' is standard output)."""
    return click.option("-o", "--output", type=click.Path(dir_okay=False), **_default(None, required),
                        required=required, metavar="FILE", callback=output_path, help=help)


limit_option = click.option("--limit", type=click.IntRange(min=1), default=None, metavar="N",
                            help="Print at most N records (default: all).")
