"""Every file a user names as input is read through one reader (medsec.inputs).

Each command that reads such a file is driven here with the inputs that used
to hang it or worse: a FIFO nobody writes to, /dev/zero (a device that never
ends) and a directory. Each returns promptly (a watchdog, not a timing
assertion, catches a hang) with exit 2, one line, and nothing written. A file
over its kind's limit is refused naming the limit; an ordinary file still
works. Then medsec.inputs itself, case by case.
"""

import errno
import os
import signal
import socket
import stat

import pytest
from helpers.files import snapshot

from medsec import inputs
from medsec.errors import InvalidInput
from medsec.store.attachments import put_file

WATCHDOG = 20  # seconds: a command that takes this long is waiting on its input

PDF = b"%PDF-1.4 insurance card scan\n"
PATIENTS_CSV = b"first_name,last_name,birth_date,phone\nGrace,Hopper,1986-12-09,617-555-0177\n"
CODES_CSV = b"code,description,fee,system\nJ1100,Injection dexamethasone sodium phosphate 1 mg,4.50,HCPCS\n"
ICS = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other//EN\r\n"
       b"BEGIN:VEVENT\r\nUID:abc-123@other\r\nDTSTAMP:20261101T000000Z\r\n"
       b"DTSTART;TZID=America/New_York:20261201T070000\r\nDTEND;TZID=America/New_York:20261201T073000\r\n"
       b"SUMMARY:Hospital rounds\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def fixture_bytes(*parts: str) -> bytes:
    with open(os.path.join(FIXTURES, *parts), "rb") as f:
        return f.read()


# Each command that reads a file a user named: its arguments ({file} where the
# file goes), the kind of input it is, and the content of an ordinary file it
# accepts (None: its success needs more set-up than the demo has, and its own
# test file covers it).
COMMANDS = {
    "patient attach": (["patient", "attach", "P1", "{file}"], inputs.ATTACHMENT, PDF),
    "patient import": (["patient", "import", "{file}"], inputs.PATIENT_IMPORT, PATIENTS_CSV),
    "mail receive --scan": (["mail", "receive", "--sender", "Radiology", "--subject", "MRI", "--scan", "{file}"],
                            inputs.ATTACHMENT, PDF),
    "mail send --to-list": (["mail", "send", "--template", "recall-letter", "--to-list", "{file}", "--dry-run"],
                            inputs.ID_LIST, b"P1\nP2\n"),
    "fax receive": (["fax", "receive", "{file}", "--number", "617-555-0300"], inputs.ATTACHMENT, PDF),
    "fax send": (["fax", "send", "{file}", "--number", "617-555-0300"], inputs.ATTACHMENT, None),
    "lab result": (["lab", "result", "LB1", "--file", "{file}"], inputs.ATTACHMENT, None),
    "lab import": (["lab", "import", "{file}"], inputs.HL7, fixture_bytes("hl7", "lipid_panel_LB1.hl7")),
    "claim post-remit": (["claim", "post-remit", "{file}"], inputs.REMITTANCE, fixture_bytes("x12", "paid.835")),
    "appt import": (["appt", "import", "{file}", "--provider", "S1"], inputs.ICS, ICS),
    "code import": (["code", "import", "{file}"], inputs.CODE_TABLE, CODES_CSV),
}
WORKING = [name for name, (_, _, content) in COMMANDS.items() if content is not None]


def args_for(command: str, path) -> list[str]:
    return [str(path) if a == "{file}" else a for a in COMMANDS[command][0]]


def special_file(tmp_path, what: str) -> str:
    """A FIFO no one writes to, /dev/zero (read-only here: safe), or a directory."""
    if what == "fifo":
        path = tmp_path / "pipe"
        os.mkfifo(path)
        return str(path)
    if what == "directory":
        path = tmp_path / "folder"
        path.mkdir()
        return str(path)
    return "/dev/zero"


# -- the commands ------------------------------------------------------------------
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("what", ["fifo", "/dev/zero", "directory"])
def test_a_file_that_is_not_regular_is_refused_promptly(demo, tmp_path, command, what):
    path = special_file(tmp_path, what)
    before = snapshot(demo.home)
    # The installed command in its own process: a hang is killed by the watchdog and fails the test.
    proc = demo.run(*args_for(command, path), check=False, timeout=WATCHDOG)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and path in lines[0], proc.stderr
    assert proc.stdout == ""
    assert snapshot(demo.home) == before


@pytest.mark.parametrize("command", COMMANDS)
def test_a_file_over_its_limit_is_refused_naming_the_limit(demo, tmp_path, command, monkeypatch):
    _, kind, content = COMMANDS[command]
    path = tmp_path / "input.bin"
    path.write_bytes(content or PDF)
    limit = path.stat().st_size - 1  # one byte too many
    monkeypatch.setitem(inputs.LIMITS, kind, limit)
    before = snapshot(demo.home)
    result = demo(*args_for(command, path))
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert f"over the {limit} bytes limit for {inputs.NAMES[kind]}" in result.stderr
    assert snapshot(demo.home) == before


@pytest.mark.parametrize("command", WORKING)
def test_an_ordinary_file_still_works(demo, tmp_path, command):
    path = tmp_path / "input.bin"
    path.write_bytes(COMMANDS[command][2])
    result = demo(*args_for(command, path))
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_file_is_named(demo, tmp_path, command):
    path = tmp_path / "nowhere.pdf"
    result = demo(*args_for(command, path))
    assert result.exit_code == 2
    assert result.stderr == f"medsec: error: cannot read {str(path)!r}: no such file or directory\n"


def test_an_attachment_is_kept_whole_and_once(demo, tmp_path):
    path = tmp_path / "card.pdf"
    path.write_bytes(PDF * 100_000)  # 2.9 MB: several blocks of the streamed copy
    first = demo.json("patient", "attach", "P1", path)
    again = demo.json("patient", "attach", "P2", path)
    assert first["sha256"] == again["sha256"] and first["size"] == path.stat().st_size
    kept = [p for p in (demo.home / "files").rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in kept] == [path.read_bytes()]  # one copy, no temp file left
    assert stat.S_IMODE(kept[0].stat().st_mode) == 0o600
    assert demo("check").exit_code == 0


def test_an_attachment_that_grows_past_the_limit_while_copied_leaves_nothing(medsec, tmp_path, monkeypatch):
    root = tmp_path / "root"
    root.mkdir()
    path = tmp_path / "scan.pdf"
    path.write_bytes(PDF * 10)
    monkeypatch.setitem(inputs.LIMITS, inputs.ATTACHMENT, 100)
    # The file was within the limit when it was opened and grew since: only the streamed count can tell.
    monkeypatch.setattr(inputs, "_check_size", lambda path, kind, size: None)
    with pytest.raises(InvalidInput, match="grew past the 100 bytes limit for an attachment"):
        put_file(str(root), str(path))
    assert [p for p in root.rglob("*") if p.is_file()] == []


# -- medsec.inputs itself ----------------------------------------------------------
@pytest.fixture
def watchdog():
    """Interrupts the test with TimeoutError if it blocks for WATCHDOG seconds (e.g. opening a FIFO)."""
    def expire(signum, frame):
        raise TimeoutError(f"blocked for {WATCHDOG} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, WATCHDOG)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_regular_file_is_read_whole_or_streamed(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_bytes("id\r\nP1\r\nPé\r\n".encode())
    assert inputs.read_input(str(path), inputs.ID_LIST) == "id\r\nP1\r\nPé\r\n".encode()
    with inputs.open_text(str(path), inputs.ID_LIST) as f:
        assert f.read() == "id\r\nP1\r\nPé\r\n"  # newlines as they are, for the csv module
    with inputs.open_input(str(path), inputs.ID_LIST) as f:
        assert os.get_blocking(f.fileno())  # O_NONBLOCK is cleared once the file is known to be regular
        assert f.read(2) == b"id"


def test_a_fifo_is_refused_without_waiting(tmp_path, watchdog):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    before = open_fds()
    with pytest.raises(InvalidInput, match=r"pipe is a FIFO \(named pipe\), not a regular file"):
        inputs.read_input(str(fifo), inputs.ATTACHMENT)
    assert open_fds() == before


def test_a_symlink_to_a_fifo_is_refused(tmp_path, watchdog):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "innocent.pdf"
    link.symlink_to(fifo)
    with pytest.raises(InvalidInput, match="innocent.pdf is a FIFO"):
        inputs.open_input(str(link), inputs.ATTACHMENT)


def test_a_device_node_is_refused_without_being_read(tmp_path, watchdog):
    node = tmp_path / "null-like"
    try:
        os.mknod(node, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # inside this test's own folder only
    except PermissionError:
        pytest.skip("creating a device node needs root")
    with pytest.raises(InvalidInput, match="null-like is a character device, not a regular file"):
        inputs.read_input(str(node), inputs.HL7)


def test_a_directory_is_refused(tmp_path):
    before = open_fds()
    with pytest.raises(InvalidInput, match="is a directory, not a regular file"):
        inputs.read_input(str(tmp_path), inputs.CODE_TABLE)
    assert open_fds() == before


def test_a_socket_is_refused(tmp_path, watchdog):
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as server:
        try:
            server.bind(str(path))
        except OSError as exc:  # a temporary folder too deep for a socket's name
            pytest.skip(f"cannot bind a socket here: {exc}")
        with pytest.raises(InvalidInput, match="is a socket, not a regular file"):
            inputs.read_input(str(path), inputs.ICS)


@pytest.mark.parametrize("name, reason", [("missing.csv", "no such file or directory"),
                                          ("file/inside", "not a directory")])
def test_a_file_that_cannot_be_opened_is_named(tmp_path, name, reason):
    (tmp_path / "file").write_text("x")
    path = str(tmp_path / name)
    with pytest.raises(InvalidInput) as caught:
        inputs.read_input(path, inputs.PATIENT_IMPORT)
    assert caught.value.message == f"cannot read {path!r}: {reason}"


def test_a_name_with_a_nul_is_invalid_input():
    with pytest.raises(InvalidInput, match="NUL"):
        inputs.read_input("card\0.pdf", inputs.ATTACHMENT)


def test_an_environment_failure_to_open_is_not_blamed_on_the_user(tmp_path, monkeypatch):
    path = tmp_path / "ok.txt"
    path.write_text("x")

    def no_descriptors(*args, **kwargs):
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(inputs.os, "open", no_descriptors)
    with pytest.raises(OSError) as caught:
        inputs.read_input(str(path), inputs.ATTACHMENT)
    assert not isinstance(caught.value, InvalidInput) and caught.value.errno == errno.EMFILE


def test_the_limit_is_the_largest_size_read(tmp_path, monkeypatch):
    monkeypatch.setitem(inputs.LIMITS, inputs.REMITTANCE, 100)
    path = tmp_path / "era.835"
    path.write_bytes(b"x" * 100)
    assert len(inputs.read_input(str(path), inputs.REMITTANCE)) == 100
    path.write_bytes(b"x" * 101)
    before = open_fds()
    with pytest.raises(InvalidInput) as caught:
        inputs.read_input(str(path), inputs.REMITTANCE)
    assert caught.value.message == f"{path} is 101 bytes, over the 100 bytes limit for a remittance file"
    assert open_fds() == before


def test_a_file_that_grows_while_read_stops_at_the_limit(tmp_path, monkeypatch):
    monkeypatch.setitem(inputs.LIMITS, inputs.HL7, 100)
    path = tmp_path / "results.hl7"
    path.write_bytes(b"x" * 60)
    with inputs.open_input(str(path), inputs.HL7) as f:
        with open(path, "ab") as writer:  # another process appending after the size was checked
            writer.write(b"y" * 1000)
        with pytest.raises(InvalidInput, match="grew past the 100 bytes limit for an HL7 file while it was read"):
            f.read()


def test_every_kind_has_a_limit_and_a_name():
    assert set(inputs.LIMITS) == set(inputs.NAMES)
    assert all(limit >= inputs.MB for limit in inputs.LIMITS.values())


@pytest.mark.parametrize("size, text", [(100, "100 bytes"), (50 * inputs.MB, "50 MB"),
                                        (int(60.5 * inputs.MB), "60.5 MB"), (256 * 1024 * inputs.MB, "256 GB")])
def test_sizes_read_as_people_say_them(size, text):
    assert inputs.size_text(size) == text


def test_the_plugin_api_reads_through_the_same_rules(tmp_path, watchdog):
    from medsec import plugin_api

    fifo = tmp_path / "patients.csv"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInput, match="is a FIFO"):
        plugin_api.open_text(str(fifo), "patient-import")
