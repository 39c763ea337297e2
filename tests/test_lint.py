"""ruff and mypy over the repository, as tests: they run beside the rest of the suite.

Marked `lint`: the CI runs on other Pythons and on the lowest declared versions leave them out
(an older ruff or mypy reads the configuration differently; the README's command runs them).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.lint


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing() -> None:
    """`ruff check .` (the rules in pyproject.toml) and `ruff format --check .`."""
    for command in ((str(BIN / "ruff"), "check", "."), (str(BIN / "ruff"), "format", "--check", ".")):
        done = run(*command)
        assert done.returncode == 0, f"{' '.join(command[1:])}:\n{done.stdout}{done.stderr}"


def test_mypy_strict_finds_nothing() -> None:
    """`mypy` with the settings of pyproject.toml (strict, over the package)."""
    done = run(str(BIN / "mypy"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout
