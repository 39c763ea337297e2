"""The sandbox's deliberate deviations from DailyPay's contract, as its README lists them.

The table under "## Deliberate deviations from the contract" in README.md is the one record:
the contract tests read it as their allow-list, so it cannot drift from what the sandbox does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).with_name("README.md")
HEADING = "## Deliberate deviations from the contract"
_ROW = re.compile(r"^\|\s*`?(\w+)`?\s*\|\s*(\d{3})\s*\|\s*(.+?)\s*\|\s*$")


@dataclass(frozen=True, slots=True)
class Deviation:
    """An (operation, status) pair the document does not list, answered on purpose."""

    operation: str
    status: int
    reason: str


def deviations(text: str | None = None) -> dict[tuple[str, int], Deviation]:
    """The table's rows keyed by (operationId, status); README.md's unless `text` is given."""
    lines = (README.read_text(encoding="utf-8") if text is None else text).splitlines()
    try:
        start = lines.index(HEADING)
    except ValueError:
        raise LookupError(f"{README.name} has no {HEADING!r} section") from None
    rows: dict[tuple[str, int], Deviation] = {}
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        match = _ROW.match(line)
        if match:
            operation, status, reason = match.group(1), int(match.group(2)), match.group(3)
            rows[(operation, status)] = Deviation(operation, status, reason)
    if not rows:
        raise LookupError(f"the {HEADING!r} section of {README.name} has no rows")
    return rows
