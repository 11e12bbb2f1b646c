"""Shared fixtures: every test gets its own data directory and a fixed clock.

The practices tests start from (helpers/practices.py) are built once per run
and copied into each test's data directory (helpers/templates.py). Loopback
servers for the channel tests: `smtp` (aiosmtpd) and `gateway` (HTTP). A real
PostgreSQL server for the PostgreSQL backend's tests: `pg_server`, `pg_url` (helpers/pg.py),
and `pg_office`, a practice kept there.

A module marked `pytest.mark.both_backends` runs its tests that use `medsec` (and the
fixtures built on it) on the data directory and on PostgreSQL: `backend_name`,
helpers/backends.py.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from helpers.backends import MARKERS, POSTGRESQL, backend_params, new_database, write_config
from helpers.cli import MEDSEC_BIN, Medsec, cli_env
from helpers.clitree import tree  # noqa: F401 (a fixture: the command tree)
from helpers.forks import Forker
from helpers.gateway import http_gateway
from helpers.pg import PgServer, require_postgres, skip_or_fail, start_server
from helpers.practices import init_demo, init_practice, setup_office, setup_practice, use_test_channel
from helpers.signin import FAST_ARGON2, clinic, secrets_dir  # noqa: F401 (fixtures: a signed-in practice)
from helpers.smtp import inbox_server
from helpers.templates import Templates

from medsec.security import passphrase

REAL_ARGON2 = {name: getattr(passphrase, name) for name in FAST_ARGON2}  # medsec's own, before fast_argon2


@pytest.fixture(scope="session", autouse=True)
def fast_argon2():
    """Passphrases hashed (and signing keys wrapped) in this process use FAST_ARGON2, as Django's
    test settings use a fast password hasher: the real parameters (t=3, 64 MiB, p=4) cost a
    tenth of a second or more for each sign-in and each passphrase set, and the signed-in
    fixtures do dozens. Only this process's module constants are patched (for the whole run, so
    that practices built by session- and module-scoped fixtures are cheap too): nothing in the
    environment or on disk, so every medsec started as a process of its own hashes with the
    real ones. A hash records its own parameters (the PHC string, a wrapped key's t/m/p), so
    either side checks the other's: a real process signs in with a passphrase set here (and
    rehashes it with the real parameters, as after any change of them); test_passphrase.py
    shows both. A module or test marked `real_argon2` gets the real parameters back
    (`real_argon2_where_marked`)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAST_ARGON2.items():
            patch.setattr(passphrase, name, value)
        yield


@pytest.fixture(autouse=True)
def real_argon2_where_marked(request, monkeypatch):
    """The real Argon2 parameters for the length of a test marked `real_argon2` (tests/test_passphrase.py)."""
    if request.node.get_closest_marker("real_argon2"):
        for name, value in REAL_ARGON2.items():
            monkeypatch.setattr(passphrase, name, value)


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def backend_name(request) -> str:
    """Where the test's practice is kept: "directory" (the data directory), or "postgresql" in
    a both_backends module's second run (pytest_generate_tests)."""
    return getattr(request, "param", "directory")


@pytest.fixture
def medsec(home, backend_name, monkeypatch, request) -> Medsec:
    """medsec on the test's practice: the data directory `home`; on PostgreSQL `home` is the
    terminal's folder and MEDSEC_STORE a database of the test's own (dropped afterwards)."""
    env = cli_env(home)
    pg = None
    if backend_name == POSTGRESQL:
        pg = new_database(request.getfixturevalue("pg_server"))
        request.addfinalizer(pg.drop)
        env["MEDSEC_STORE"] = pg.url
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Medsec(home, env, pg)


@pytest.fixture
def practice(medsec, templates) -> Medsec:
    """An empty open practice (`init --security open`) with two payers; made in the test on the data
    directory, a copy of one made once on PostgreSQL (a database's init takes a fifth of a second)."""
    return templates.copy(medsec, init_practice) if medsec.pg else init_practice(medsec)


@pytest.fixture
def two_patients(practice) -> Medsec:
    """The empty practice with P1 Ann Smith and P2 Bob Jones."""
    practice.ok("patient", "add", "--first", "Ann", "--last", "Smith", "--dob", "1970-01-01")
    practice.ok("patient", "add", "--first", "Bob", "--last", "Jones", "--dob", "1971-01-01")
    return practice


@pytest.fixture(scope="session")
def templates(tmp_path_factory) -> Templates:
    """Practices built once per run, copied into a test's data directory on request."""
    return Templates(tmp_path_factory.mktemp("templates"))


@pytest.fixture
def demo(medsec, templates) -> Medsec:
    """The demo practice (`medsec init --demo`)."""
    return templates.copy(medsec, init_demo)


@pytest.fixture
def small_practice(medsec, templates):
    """small_practice(patients=4): the scheduling tests' practice (helpers.practices.setup_practice)."""
    return lambda patients=4: templates.copy(medsec, setup_practice, patients)


@pytest.fixture
def front_office(medsec, tmp_path, templates) -> Medsec:
    """The workflow tests' office (helpers.practices.setup_office); the test channel's
    messages land in tmp_path/sent.jsonl, `front_office.sent()` lists them."""
    return use_test_channel(templates.copy(medsec, setup_office), tmp_path / "sent.jsonl")


@pytest.fixture
def forks():
    """forks(env, cwd=None, timeout=120): a fork server running commands in processes of their own
    (helpers/forks.py: the console script's entry point, without Python's start-up for each); each
    one made is stopped at the test's end."""
    made: list[Forker] = []

    def make(env: dict, cwd=None, timeout: float = 120) -> Forker:
        made.append(Forker(env, cwd, timeout))
        return made[-1]

    yield make
    for forker in made:
        forker.close()


@pytest.fixture
def smtp():
    """(inbox, port): an SMTP server on 127.0.0.1 that keeps every message (helpers.smtp.Inbox)."""
    with inbox_server() as server:
        yield server


@pytest.fixture
def staffed(small_practice, smtp):
    """Dr A (S1), Dr B (S2), Nurse C (S3) with email; the email channel is a real SMTP server
    (`.inbox`, `.inbox_port`)."""
    inbox, port = smtp
    medsec = small_practice(2)
    for sid, address in (("S1", "dra@example.org"), ("S2", "drb@example.org"), ("S3", "nursec@example.org")):
        medsec.ok("staff", "edit", sid, "--email", address)
    write_config(medsec, "channels.yaml",
                 f"email: {{host: 127.0.0.1, port: {port}, security: none, from: 'Test Clinic <desk@example.org>'}}\n")
    medsec.ok("config", "show")
    medsec.inbox, medsec.inbox_port = inbox, port
    return medsec


@pytest.fixture
def gateway(monkeypatch):
    """An HTTP gateway on 127.0.0.1 (helpers.gateway.Gateway) that records each POST."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)  # talk to 127.0.0.1 directly
    with http_gateway() as gw:
        yield gw


@pytest.fixture(scope="session")
def pg_server(request) -> PgServer:
    """A real PostgreSQL server (helpers.pg.PgServer) started once per session (per xdist worker).
    Skipped without PostgreSQL or psycopg, failed instead when MEDSEC_REQUIRE_SERVICES=1 (CI)."""
    reason = require_postgres()
    if reason:
        skip_or_fail(reason)
    server = start_server()
    request.addfinalizer(server.close)  # at the session's end, and after a Ctrl-C too
    return server


@pytest.fixture
def pg_url(pg_server) -> str:
    """The URL (psycopg conninfo, the superuser over the Unix socket, no password) of a new empty
    database on pg_server, one per test."""
    return pg_server.url(pg_server.create_database())


@pytest.fixture
def pg_office(tmp_path, pg_url, monkeypatch) -> Medsec:
    """A practice kept in a fresh PostgreSQL database, this terminal's folder in tmp_path."""
    env = {**cli_env(tmp_path / "terminal"), "MEDSEC_STORE": pg_url}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    office = Medsec(tmp_path / "terminal", env)
    office.ok("init", "--security", "open")
    return office


def pytest_generate_tests(metafunc):
    """A both_backends module's tests that use `medsec` run on each backend (helpers/backends.py)."""
    if "backend_name" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("backend_name", backend_params(metafunc.definition), indirect=True)


def pytest_configure(config):
    """Hypothesis keeps its caches (unicode data, constants, any example database) in a temporary
    folder: no .hypothesis folder in the tree. Set before collection, which already writes them."""
    from hypothesis.configuration import set_hypothesis_home_dir

    for line in MARKERS:
        config.addinivalue_line("markers", line)
    config.addinivalue_line("markers", "real_argon2: hash passphrases with medsec's real Argon2 parameters "
                                       "in this process too (tests/conftest.py: fast_argon2)")
    config.hypothesis_home = tempfile.mkdtemp(prefix="medsec-hypothesis-")
    set_hypothesis_home_dir(config.hypothesis_home)


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "hypothesis_home", ""), ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def agents_of_their_own():
    """The agents the tests start (medsec.agent: `agent start`, the README's examples) listen in a
    runtime folder of the session's, never the developer's; any left are stopped at the end."""
    folder = tempfile.mkdtemp(prefix="msa-session-")
    previous = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = folder
    yield
    subprocess.run([MEDSEC_BIN, "agent", "stop"], capture_output=True, timeout=60, check=False)
    if previous is None:
        del os.environ["XDG_RUNTIME_DIR"]
    else:
        os.environ["XDG_RUNTIME_DIR"] = previous
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def nothing_written_where_the_tests_run():
    """No command a test runs writes into the folder the tests are run from (a relative
    path a test or the fuzzer hands a command must be the test's own)."""
    before = set(os.listdir())
    yield
    left = sorted(name for name in set(os.listdir()) - before if not name.startswith("."))
    assert left == [], f"written into {os.getcwd()} by a test: {left}"
