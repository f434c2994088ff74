"""Each peer's own virtualenv, ``.bench-venvs/<peer>`` (git-ignored), created on first use from
``requirements-<peer>.txt`` and made anew when that file changes, so that a peer's dependencies
never mix with ours."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.bench.procs import ROOT, BenchError

VENVS = ROOT / ".bench-venvs"
HERE = Path(__file__).resolve().parent
_STAMP = "bench-requirements.txt"


def requirements(peer: str) -> Path:
    return HERE / f"requirements-{peer}.txt"


def python(peer: str, say: Callable[[str], None]) -> Path:
    """The peer venv's interpreter, installing the venv first when it is missing or stale."""
    wanted = requirements(peer).read_text()
    venv = VENVS / peer
    interpreter = venv / "bin" / "python"
    stamp = venv / _STAMP
    if interpreter.exists() and stamp.exists() and stamp.read_text() == wanted:
        return interpreter
    say(f"   installing {peer} into {venv} (pinned in {requirements(peer).name}) ...")
    shutil.rmtree(venv, ignore_errors=True)
    for command in (
        [sys.executable, "-m", "venv", str(venv)],
        [str(interpreter), "-m", "pip", "install", "-q", "-r", str(requirements(peer))],
    ):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchError(
                f"could not install the {peer} peer ({' '.join(command)}): "
                f"{(done.stderr or done.stdout)[-2000:]}; check that PyPI is reachable, or run "
                "the bench without the peers"
            )
    stamp.write_text(wanted)
    return interpreter
