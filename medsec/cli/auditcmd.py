"""`medsec audit`: the audit log, its hash chain's verification and its anchor."""


import click

from medsec.cli.common import pass_app
from medsec.cli.options import date_option, list_options
from medsec.cli.output import output_options, render
from medsec.errors import EnvironmentFailure, InvalidInput


@click.group("audit", invoke_without_command=True)
@click.option("--patient", "record_id", default=None, metavar="RECORD_ID", help="Entries naming this record id.")
@click.option("--user", "who", default=None, help="Entries by this user.")
@date_option("--from", "start", help="Entries from this day on", was="--since")
@date_option("--to", "end", help="Entries up to this day", default_text="today")
@list_options
@output_options
@click.pass_context
def audit_command(ctx, fmt, record_id, who, start, end, limit):
    """Who did what to which records, and when.

    The audit log names record ids, never their data. With --limit N, the
    latest N entries. A line of the log that is no entry is skipped, with a
    warning naming it.

    Each entry carries the hash of the one before it: `audit verify`
    checks the whole chain, `audit anchor` prints its head to keep
    elsewhere. Reading the audit log is audited too.

    \b
    Examples:
      medsec audit --patient P1 --limit 5
      medsec audit --user maria --from today --format csv
      medsec audit --from 2026-12-01 --to 2026-12-05 --json
      medsec audit verify
      medsec audit anchor
    """
    if ctx.invoked_subcommand is not None:
        if record_id or who or start or end or limit or ctx.params.get("list_file") or fmt != "table":
            raise InvalidInput(f"--patient, --user, --from, --to, --limit, -o and --format are for the listing, "
                               f"not for 'audit {ctx.invoked_subcommand}'")
        return
    from medsec.cli.gate import gated

    gated(_audit_list)(fmt, record_id, who, start, end, limit)  # a group's own callback passes the gate here


@pass_app
def _audit_list(app, fmt, record_id, who, start, end, limit):
    first = app.parse_date(start, "--from") if start else None
    last = app.parse_date(end, "--to") if end else None
    if first and last:
        from medsec.clock import check_range

        check_range(first, last)
    entries = app.store.audit_entries(record_id=record_id, user=who, since=first)
    if last:  # an entry's time is in the practice's zone: its first ten characters are its day
        entries = [e for e in entries if str(e.get("at", ""))[:10] <= last.isoformat()]
    if limit:
        entries = entries[-limit:]
    app.audit("audit-list", outcome=f"ok: {len(entries)} entries")
    render(entries, fmt, ["at", "user", "command", "action", "ids", "outcome"])


@audit_command.command("verify")
@click.option("--anchor", "anchor_file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="A head 'audit anchor' printed (kept elsewhere): the log must still extend it.")
@output_options
@pass_app
def audit_verify(app, fmt, anchor_file):
    """Check the audit log's hash chain.

    Walks every entry: each must match its hash and name the hash of the
    one before it. The first place the chain breaks is named (the file and
    line; on PostgreSQL the row's seq), exit 3: an entry edited, inserted,
    deleted or reordered, a line that is no entry, a month file removed.
    Intact: one line with the count and the head's hash, exit 0. Entries
    written by a medsec older than the chain are counted as before it.

    The chain alone cannot tell a log cut short, or deleted and begun
    again: with --anchor FILE (what `audit anchor` printed, kept
    elsewhere) the log must still hold the entry it names, with its hash.
    A FILE that holds no anchor is exit 2. The check is audited.

    \b
    Examples:
      medsec audit verify
      medsec audit verify --anchor ./audit-head.txt
    """
    anchor = _read_anchor(anchor_file) if anchor_file else None
    verdict = app.store.audit_verify(anchor)
    if not verdict.intact:
        raise EnvironmentFailure(verdict.summary())
    extends = f", extends the anchor n={anchor.n}" if anchor else ""
    app.audit("audit-verify", outcome=f"ok: {verdict.entries} entries{extends}")
    if fmt == "table":
        click.echo(verdict.summary() + extends)
        return
    head = verdict.head._asdict() if verdict.head else None
    render({"intact": True, "entries": verdict.entries, "before_chain": verdict.before, "head": head,
            "anchor": anchor._asdict() if anchor else None}, fmt)


def _read_anchor(path):
    """The head an anchor file names; InvalidInput (exit 2) when it cannot be read or holds none."""
    from medsec.audit import read_anchor
    from medsec.inputs import AUDIT_ANCHOR, read_input

    head = read_anchor(read_input(path, AUDIT_ANCHOR).decode("utf-8", errors="replace"))
    if head is None:
        raise InvalidInput(f"{path} is not an audit anchor",
                           hint="a line 'medsec-audit-anchor v1 n=N at=TIME sha256=HEX' as 'medsec audit anchor' "
                                "prints it, or its --json")
    return head


@audit_command.command("anchor")
@output_options
@pass_app
def audit_anchor(app, fmt):
    """Print the audit log's head to keep elsewhere.

    One line, `medsec-audit-anchor v1 n=N at=TIME sha256=HEX`: the number,
    time and hash of the newest entry (this command's own: it is audited
    first). Keep it where whoever can write the data directory or the
    database cannot: mail it to the practice manager daily from cron.
    `audit verify --anchor FILE` later proves that the log still extends
    it. --json prints it as an object, which --anchor reads as well.

    \b
    Examples:
      medsec audit anchor
      medsec audit anchor --json
    """
    from medsec.audit import anchor_data, anchor_line

    app.audit("audit-anchor")
    head = app.store.audit_head()
    if head is None:  # (its own entry was just written: only a log that is not medsec's)
        raise EnvironmentFailure("the audit log has no chained entry to anchor", hint="run 'medsec audit verify'")
    if fmt == "table":
        click.echo(anchor_line(head))
    else:
        render(anchor_data(head), fmt)
