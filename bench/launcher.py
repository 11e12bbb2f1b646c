"""Spawn the benchmark's commands from a process smaller than any of them.

On Linux a child's ru_maxrss includes the peak RSS of the process it was
spawned from (the memory it replaced at exec). bench/run.py grows past a
bare interpreter, so it delegates here: this helper runs as `python -S -I`
with only os, sys and time (~8 MB), below every measured Python process.

Usage: python -S -I launcher.py STDOUT_FILE STDERR_FILE
Reads one command per line on stdin (arguments separated by NUL), runs it
with this process's environment, its output going to the two files, and
answers one line: wall milliseconds, peak RSS in KiB, exit code.
"""

import os
import sys
import time


def run(argv: list[str], out_path: str, err_path: str) -> tuple[float, int, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    actions = [(os.POSIX_SPAWN_OPEN, 1, out_path, flags, 0o600),
               (os.POSIX_SPAWN_OPEN, 2, err_path, flags, 0o600)]
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    return (time.perf_counter() - start) * 1000, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def main() -> None:
    out_path, err_path = sys.argv[1:3]
    for line in sys.stdin:
        ms, rss_kib, code = run(line.rstrip("\n").split("\0"), out_path, err_path)
        sys.stdout.write(f"{ms:.3f} {rss_kib} {code}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
