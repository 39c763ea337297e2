"""DailyPay's OpenAPI document (3.0.0-beta.117), shipped with the package; see README.md here.

`load()` parses it once per process and repairs its one known defect (a duplicate `required`
entry in `JobResource`), leaving the file itself verbatim.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

__all__ = ["PATH", "SHA256", "VERSION", "load"]

PATH = Path(__file__).with_name("openapi.yaml")
VERSION = "3.0.0-beta.117"
SHA256 = "24f4c159e842c2bf1354c900db66d71f8d00ed732a1a45c2cc7818ddd8856224"


@functools.cache
def _parsed() -> dict[str, Any]:
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - the `contract` extra brings PyYAML
        raise ImportError(
            "reading the OpenAPI document needs PyYAML: pip install 'dailypay_nb[contract]'"
        ) from exc
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document: dict[str, Any] = yaml.load(PATH.read_text(encoding="utf-8"), Loader=loader)
    job = document["components"]["schemas"]["JobResource"]
    job["required"] = list(dict.fromkeys(job["required"]))  # the known defect: `attributes` twice
    return document


def load() -> dict[str, Any]:
    """The document as a dict (a fresh deep copy: callers may change it)."""
    return copy.deepcopy(_parsed())
