"""`medsec intake`: kiosk commands (joined to the group by medsec.cli.intake)."""

import click

COMMANDS: list[click.Command] = []
