"""Every user-requested output file goes through one writer (medsec.outputs).

Each command that writes a file a user named is driven here with the same
bad targets: inside the data directory (also through `..` and a symlink), a
folder and a FIFO. Each is refused with exit 2 and one line, and nothing is
written; a good target gets a whole, private file.
"""

import os
import stat

import pytest

from medsec.outputs import write_output

# Each command, with {out} where the output file's path goes.
WRITERS = {
    "patient export": ["patient", "export", "--format", "csv", "-o", "{out}"],
    "appt export": ["appt", "export", "--ics", "{out}", "--from", "2026-11-30", "--to", "2026-12-04"],
    "bill statement": ["bill", "statement", "P1", "-o", "{out}"],
    "report": ["report", "noshows", "--format", "csv", "-o", "{out}"],
    "backup": ["backup", "{out}"],
}


def files_of(root) -> dict:
    """Every file's bytes under root, the audit log aside (refusals are audited)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).parts[0] != "audit"}


def run_with(medsec, command: str, out) -> object:
    return medsec(*[str(out) if a == "{out}" else a for a in WRITERS[command]])


@pytest.mark.parametrize("command", WRITERS)
def test_a_good_target_gets_a_whole_private_file(demo, tmp_path, command):
    out = tmp_path / "out" / "file.bin"
    result = run_with(demo, command, out)
    assert result.exit_code == 0, result.stderr
    assert out.stat().st_size > 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in out.parent.iterdir()] == ["file.bin"]  # no temp file left


@pytest.mark.parametrize("command", WRITERS)
@pytest.mark.parametrize("where", ["inside", "dotdot", "symlink", "file-symlink", "practice-yaml"])
def test_a_target_inside_the_data_directory_is_refused(demo, tmp_path, command, where):
    home = demo.home
    if where == "inside":
        out = home / "patients" / "00000.json"  # would overwrite records
    elif where == "dotdot":
        out = tmp_path / "elsewhere" / ".." / home.name / "x.out"
    elif where == "symlink":
        link = tmp_path / "innocent"
        link.symlink_to(home, target_is_directory=True)
        out = link / "x.out"
    elif where == "file-symlink":
        out = tmp_path / "looks-harmless.csv"
        out.symlink_to(home / "meta" / "counters.json")
    else:
        out = tmp_path / "x" / ".." / home.name / "practice.yaml"
        (tmp_path / "x").mkdir()
    before = files_of(home)
    result = run_with(demo, command, out)
    assert result.exit_code == 2
    assert result.stderr.startswith("medsec: error: ") and "inside the data directory" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert files_of(home) == before


@pytest.mark.parametrize("command", WRITERS)
def test_a_folder_or_a_fifo_is_never_replaced(demo, tmp_path, command):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    fifo = tmp_path / "a-fifo"
    os.mkfifo(fifo)
    for target, what in ((folder, ("is a folder", "is a directory")), (fifo, ("is not a regular file",))):
        result = run_with(demo, command, target)
        assert result.exit_code == 2, result.stderr
        assert any(w in result.stderr for w in what), result.stderr
    assert folder.is_dir() and list(folder.iterdir()) == []
    assert stat.S_ISFIFO(fifo.stat().st_mode)


@pytest.mark.parametrize("command", WRITERS)
def test_a_device_node_is_never_replaced(demo, tmp_path, command):
    """A character device made in the test's own folder (never a real system device)."""
    device = tmp_path / "null-like"
    os.mknod(device, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    result = run_with(demo, command, device)
    assert result.exit_code == 2
    assert "is not a regular file" in result.stderr
    assert stat.S_ISCHR(device.stat().st_mode)


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    out = tmp_path / "report.csv"
    out.write_bytes(b"old\n")

    def fail_midway(f):
        f.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_output(str(out), produce=fail_midway)
    assert out.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.csv"]


def test_data_or_produce_not_both(tmp_path):
    with pytest.raises(TypeError):
        write_output(str(tmp_path / "x"), b"a", produce=lambda f: None)
