"""`Secret`: a string that shows a mask wherever it could be printed, logged or pickled."""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
from typing import Any, NoReturn

__all__ = ["MASK", "Secret", "fingerprint"]

MASK = "••••••"

#: Fingerprints are keyed with a random key that lives only in this process: two fingerprints
#: still match within a kernel (to compare tokens), but one cannot be brute-forced offline,
#: not even for a secret of six digits.
_FINGERPRINT_KEY = secrets.token_bytes(32)


def fingerprint(value: str) -> str:
    """A short tag of `value`, stable within this process: 10 hex digits of an HMAC-SHA256."""
    return hmac.new(_FINGERPRINT_KEY, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:10]


class Secret:
    """Holds a client secret or a token; only `.reveal()` gives the value back.

    `repr`, `str`, f-strings, `%` formatting, notebook HTML and logging all show a mask
    such as `Secret(client_secret, •••••• (fp:1a2b3c4d5e))`. Pickling is refused, so a secret
    cannot slip into a saved object by accident.
    """

    __slots__ = ("_fingerprint", "_label", "_value")

    def __init__(self, value: str | Secret, *, label: str = "secret") -> None:
        value = value.reveal() if isinstance(value, Secret) else value
        if not isinstance(value, str):
            raise TypeError(f"Secret takes a str, not {type(value).__name__}")
        self._value = value
        self._label = label
        self._fingerprint = fingerprint(value) if value else "empty"

    def reveal(self) -> str:
        """The secret itself. Call it only where the value must leave the kernel (a request)."""
        return self._value

    @property
    def label(self) -> str:
        """What the secret is (`client_secret`, `access_token`, …)."""
        return self._label

    @property
    def fingerprint(self) -> str:
        """`fp:` plus 10 hex digits of a keyed hash: tells two secrets apart within this kernel."""
        return f"fp:{self._fingerprint}"

    @property
    def masked(self) -> str:
        """The display form: the mask and the fingerprint (empty for an empty secret)."""
        return "" if not self._value else f"{MASK} ({self.fingerprint})"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return hmac.compare_digest(
                self._value.encode("utf-8", "surrogatepass"), other._value.encode("utf-8", "surrogatepass")
            )
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
