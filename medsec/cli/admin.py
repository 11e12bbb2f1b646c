"""Admin commands: init, config, check, audit, backup, restore, upgrade, plugins."""

import os

import click

from medsec.cli.common import limit_option, pass_app
from medsec.cli.output import output_options, render, say
from medsec.errors import ConfigError, EnvironmentFailure


@click.command("init")
@click.option("--demo", is_flag=True, help="Fill it with a synthetic demo practice.")
@click.option("--time-zone", default="America/New_York", help="The practice's IANA time zone.")
@output_options
@pass_app
def init_command(app, fmt, demo, time_zone):
    """Create a data directory (at --data-dir / $MEDSEC_HOME)."""
    from medsec.practice.setup import init_data_dir

    render(init_data_dir(app.data_dir, demo=demo, tz_name=time_zone), fmt)


@click.group("config")
def config_group():
    """Show and check the YAML configuration."""


@config_group.command("show")
@click.argument("name", required=False)
@output_options
@pass_app
def config_show(app, fmt, name):
    """Show one configuration file (or all) as medsec reads it."""
    from medsec.config import CONFIG_FILES

    names = [name if name.endswith(".yaml") else f"{name}.yaml"] if name else CONFIG_FILES
    unknown = [n for n in names if n not in CONFIG_FILES]
    if unknown:
        from medsec.errors import InvalidInput

        raise InvalidInput(f"unknown configuration file {unknown[0]!r}",
                           hint=f"one of {', '.join(CONFIG_FILES)}")
    data = {n: app.config(n) for n in names}
    render(data[names[0]] if name else data, "yaml" if fmt == "table" else fmt)


@config_group.command("check")
@pass_app
def config_check(app):
    """Validate every YAML file; exit 3 on errors (warnings do not fail)."""
    from medsec.config import Problem, check_all
    from medsec.templating import check_all as check_templates

    app.store  # a missing data directory is reported as such
    problems = check_all(app.data_dir)
    problems += [Problem(p.split(":", 1)[0], None, p.split(":", 2)[-1].strip())
                 for p in check_templates(app.data_dir)]
    for problem in problems:
        click.echo(str(problem), err=True)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ConfigError(f"{len(errors)} configuration error(s)")
    click.echo(f"configuration ok ({len(problems)} warning(s))" if problems else "configuration ok")


@click.command("check")
@click.option("--repair", is_flag=True, help="Rebuild indexes, fix counters, sweep leftovers.")
@output_options
@pass_app
def check_command(app, fmt, repair):
    """Verify the data directory (exit 3 if anything is wrong and not repaired)."""
    from medsec.store.integrity import check

    problems = check(app.store, repair=repair)
    if fmt != "table" or problems:
        render(problems, fmt, ["problem", "file", "repaired"])
    if any(not p["repaired"] for p in problems):
        raise EnvironmentFailure(f"{len(problems)} problem(s) found",
                                 hint=None if repair else "run 'medsec check --repair'")
    if fmt == "table":
        say("data directory ok" if not problems else f"repaired {len(problems)} problem(s)")


@click.command("audit")
@click.option("--patient", "record_id", default=None, help="Entries naming this record id.")
@click.option("--user", "who", default=None, help="Entries by this user.")
@click.option("--since", default=None, help="From this date on.")
@limit_option
@output_options
@pass_app
def audit_command(app, fmt, record_id, who, since, limit):
    """Show the audit log: who did what to which records, and when."""
    from medsec import audit

    entries = audit.entries(app.store.root, record_id=record_id, user=who,
                            since=app.parse_date(since, "--since") if since else None)
    if limit:
        entries = entries[-limit:]
    render(entries, fmt, ["at", "user", "command", "action", "ids", "outcome"])


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@output_options
@pass_app
def backup_command(app, fmt, file):
    """Write a consistent snapshot of the data directory to FILE (.tar.gz)."""
    from medsec.store.backup import backup

    render(backup(app, file), fmt)


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@output_options
@pass_app
def restore_command(app, fmt, file):
    """Replace the data directory with a backup (the old one is kept aside)."""
    from medsec.store.backup import restore

    render(restore(app, file), fmt)


@click.command("upgrade")
@output_options
@pass_app
def upgrade_command(app, fmt):
    """Bring a data directory written by an older medsec to this version (safe to run again)."""
    from medsec.store.upgrade import upgrade

    result = upgrade(os.path.abspath(app.data_dir))
    if fmt != "table":
        render(result, fmt)
    elif result["steps"]:
        say(f"upgraded {result['data_dir']} from schema {result['from']} to {result['to']}")
        for step in result["steps"]:
            say(f"  {step}")
    else:
        say(f"{result['data_dir']} is at schema {result['to']}: nothing to do")


@click.command("plugins")
@output_options
@pass_app
def plugins_command(app, fmt):
    """List loaded plugins, their hooks and what they register."""
    from medsec.plugins import describe

    rows = describe(app.plugins)
    if fmt == "table":
        rows = [{"name": p["name"], "source": p["source"],
                 "registers": "; ".join(f"{k}: {', '.join(v)}" for k, v in p["registers"].items()),
                 "hooks": ", ".join(h for h in p["hooks"] if not h.startswith("register_"))}
                for p in rows]
    render(rows, fmt, ["name", "source", "registers", "hooks"])
