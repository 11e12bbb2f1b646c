"""Reaching the PostgreSQL store: connections (no password in a URL) and the driver's errors
as one line each (medsec.store.postgres and its check use both)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from medsec.errors import EnvironmentFailure

if TYPE_CHECKING:
    import psycopg

CONNECT_TIMEOUT = 10  # seconds to reach the server


def shown_url(url: str) -> str:
    """The URL without its query (which may name files and options), for messages."""
    return url.split("?", 1)[0]


def _quiet_driver() -> None:
    """psycopg logs what it ignores while a connection breaks (e.g. a pipeline it cannot end)
    through `logging`, which prints it to stderr when nobody configured logging: a command's
    failure is one line, which the store's own error says."""
    import logging

    logging.getLogger("psycopg").addHandler(logging.NullHandler())
    logging.getLogger("psycopg").propagate = False


def connect(url: str, password_env: str | None = None, autocommit: bool = True) -> psycopg.Connection:
    """A connection to the store at `url`; EnvironmentFailure (exit 3) with one line when
    the URL carries a password, the driver is missing or the server cannot be reached."""
    try:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        raise EnvironmentFailure("the PostgreSQL store needs psycopg, which is not installed",
                                 hint="pip install 'medsec[postgresql]'") from None
    _quiet_driver()
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as e:
        raise EnvironmentFailure(f"{shown_url(url)} is not a PostgreSQL URL ({first_line(e)})") from None
    if params.get("password"):
        raise EnvironmentFailure("the store URL carries a password: refused, as URLs end up in shell "
                                 "histories and process lists",
                                 hint="use peer authentication, a PGPASSFILE, or password_env in store.yaml")
    extra: dict[str, Any] = {}
    if password_env:
        if password_env not in os.environ:
            raise EnvironmentFailure(f"password_env names ${password_env}, which is not set")
        extra["password"] = os.environ[password_env]
    try:
        conn = psycopg.connect(url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT,
                               application_name="medsec", **extra)
    except psycopg.Error as e:
        raise EnvironmentFailure(f"cannot connect to the store at {shown_url(url)}: {first_line(e)}") from None
    return conn


def first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0].removeprefix("connection failed: ") if text else type(e).__name__


def failure(e: Exception, doing: str) -> EnvironmentFailure:
    """A driver error as one line: the server went away, refused, or the schema is not ours."""
    return EnvironmentFailure(f"the PostgreSQL store failed while {doing}: {first_line(e)}",
                              hint="run the command again once the server is back; nothing was half-written")
