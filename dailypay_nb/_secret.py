"""`Secret`: a string that shows a mask wherever it could be printed, logged or pickled."""

from __future__ import annotations

import hashlib
import html
from typing import Any, NoReturn

__all__ = ["Secret", "fingerprint"]


def fingerprint(value: str) -> str:
    """A short, stable, non-reversible tag for a secret: 8 hex digits of its SHA-256."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:8]


class Secret:
    """Holds a client secret or a token; only `.reveal()` gives the value back.

    `repr`, `str`, f-strings, `%` formatting, notebook HTML and logging all show a mask
    such as `Secret('••••••', sha256:1a2b3c4d)`. Pickling is refused, so a secret cannot
    slip into a saved object by accident.
    """

    __slots__ = ("_fingerprint", "_label", "_value")

    def __init__(self, value: str, *, label: str = "secret") -> None:
        value = value.reveal() if isinstance(value, Secret) else value  # type: ignore[unreachable]
        if not isinstance(value, str):
            raise TypeError(f"Secret takes a str, not {type(value).__name__}")
        self._value = value
        self._label = label
        self._fingerprint = fingerprint(value) if value else "empty"

    def reveal(self) -> str:
        """The secret itself. Call it only where the value must leave the kernel (a request)."""
        return self._value

    @property
    def fingerprint(self) -> str:
        """`sha256:` plus 8 hex digits: enough to tell two secrets apart, useless to an attacker."""
        return f"sha256:{self._fingerprint}"

    @property
    def masked(self) -> str:
        """The display form: `••••••` and the fingerprint."""
        return "" if not self._value else f"•••••• ({self.fingerprint})"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", self._fingerprint))

    def __repr__(self) -> str:
        return f"Secret({self._label}, {self.masked or 'empty'})"

    def __str__(self) -> str:
        return self.masked

    def __format__(self, spec: str) -> str:
        return format(self.masked, spec)

    def _repr_html_(self) -> str:
        return f"<code>{html.escape(repr(self))}</code>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled; keep it in the kernel and call .reveal() to use it")

    def __getstate__(self) -> NoReturn:
        self.__reduce__()

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __copy__(self) -> Secret:
        return self
