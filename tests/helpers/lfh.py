"""linuxforhealth-x12, the judge of 270/271 and 276/277 (005010X279A1, 005010X212).

It needs pydantic 1, so it lives in a virtual environment of its own
(`make judges` builds .venv-judges; `make test` does it first) and is called
as a subprocess, as JUDGES.md says. A structural error raises inside it: the
verdict is (True, [model names]) or (False, [the error line]).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JUDGE_PYTHON = ROOT / ".venv-judges" / "bin" / "python"

_SCRIPT = r"""
import json, sys
from linuxforhealth.x12.io import X12ModelReader
text = sys.stdin.read()
try:
    with X12ModelReader(text) as reader:
        names = [type(m).__name__ for m in reader.models()]
    print(json.dumps({"ok": bool(names), "models": names}))
except Exception as exc:  # the judge's verdict, whatever it raised
    first = str(exc).splitlines()[0] if str(exc) else ""
    print(json.dumps({"ok": False, "models": [f"{type(exc).__name__}: {first}"]}))
"""


def lfh_judge(data: bytes | str) -> tuple[bool, list[str]]:
    """linuxforhealth-x12's verdict on one interchange: (parsed, model names or the error)."""
    if not JUDGE_PYTHON.exists():
        from helpers.pg import skip_or_fail

        skip_or_fail("linuxforhealth-x12 judge missing: run 'make judges'")
    text = data.decode() if isinstance(data, bytes) else data
    done = subprocess.run([str(JUDGE_PYTHON), "-c", _SCRIPT], input=text, capture_output=True, text=True,
                          timeout=120, check=False)
    if done.returncode != 0:
        pytest.fail(f"linuxforhealth-x12 judge crashed: {done.stderr.strip()[-500:]}", pytrace=False)
    verdict = json.loads(done.stdout)
    return verdict["ok"], verdict["models"]


if __name__ == "__main__":  # judge a file by hand: python tests/helpers/lfh.py FILE
    print(lfh_judge(Path(sys.argv[1]).read_bytes()))
