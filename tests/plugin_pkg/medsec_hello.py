"""medsec-hello: an example third-party plugin.

It adds one of each kind of thing a plugin can add:

- a command, ``medsec hello [NAME]``;
- a delivery channel, ``pigeon``, that appends messages to pigeon.log in the
  data directory;
- a coding table, ``greetings`` (system ``HELLO``), with two codes;
- a ``patient_created`` hook that appends each new patient's id to the file
  named by $MEDSEC_HELLO_LOG (when set).
"""

import json
import os

import click

from medsec import hookimpl
from medsec.plugin_types import Channel, CodingTable, Message

GREETINGS = {
    "HELLO1": "Greeting in person",
    "HELLO2": "Greeting by phone",
}


@hookimpl
def register_commands(cli):
    @cli.command()
    @click.argument("name", default="world")
    def hello(name):
        """Say hello (from the medsec-hello plugin)."""
        click.echo(f"hello, {name}")


def _row(code: str) -> dict:
    return {"code": code, "system": "HELLO", "description": GREETINGS[code]}


def lookup(data_dir: str, code: str) -> dict | None:
    code = code.strip().upper()
    return _row(code) if code in GREETINGS else None


def search(data_dir: str, text: str, limit: int) -> list[dict]:
    text = text.strip().lower()
    found = [_row(c) for c, d in GREETINGS.items() if c.lower().startswith(text) or text in d.lower()]
    return found[:limit]


@hookimpl
def register_coding_tables(register):
    register(CodingTable("greetings", "HELLO", "greetings (example table)", lookup, search))


def send(message: Message, settings: dict, data_dir: str) -> str:
    path = os.path.join(data_dir, settings.get("log") or "pigeon.log")
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"to": message.to, "subject": message.subject}) + "\n")
    return f"pigeon-{os.path.getsize(path)}"


@hookimpl
def register_channels(register):
    register(Channel("pigeon", ("letter",), "carrier pigeon (appends to pigeon.log)", send))


@hookimpl
def patient_created(patient):
    # An implementation may take fewer arguments than the hook offers.
    log = os.environ.get("MEDSEC_HELLO_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(patient["id"] + "\n")
