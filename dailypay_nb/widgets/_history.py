"""What the token form remembers per environment, and the frames it shows across sessions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._config import Settings
from .._secret import Secret

if TYPE_CHECKING:
    import pandas as pd

    from .._token import Token

__all__ = ["EnvHistory", "merge_timings", "merge_tokens"]


@dataclass
class EnvHistory:
    """What the form remembers for one environment: never wiped by a new secret or a switch."""

    #: Every session this environment's submits used, oldest first; the last one is current.
    sessions: list[Any] = field(default_factory=list)
    #: The settings the current session was made for.
    key: Settings | None = None
    token: Token | None = None
    token_html: str = ""
    result_html: str = ""
    error: BaseException | None = None
    #: Fields outlined because the latest failure names them.
    invalid: frozenset[str] = frozenset()
    typed_secret: Secret | None = None
    #: What the client id field said when the user left this environment (None: never shown).
    client_id: str | None = None

    @property
    def session(self) -> Any:
        return self.sessions[-1] if self.sessions else None


def merge_tokens(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Token frames of several sessions as one, oldest first (same columns and dtypes)."""
    from .._frames import tokens_frame

    return _concat(frames) if frames else tokens_frame([])


def merge_timings(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Timing frames of several sessions as one: same columns in the same order, `seq`
    continuing from one session to the next (1, 2, 3 … across the environment's history)."""
    from .._frames import timings_frame

    if not frames:
        return timings_frame([])
    if len(frames) == 1:
        return frames[0]
    shifted, offset = [], 0
    for frame in frames:
        if not frame.empty:
            shifted.append(frame.assign(seq=frame["seq"] + offset))
            offset += int(frame["seq"].max())
    return _concat(shifted) if shifted else frames[0]


def _concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    import pandas as pd

    filled = [f for f in frames if not f.empty]
    if len(filled) <= 1:
        return filled[0] if filled else frames[0]
    out = pd.concat(filled, ignore_index=True)
    for name, dtype in filled[0].dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype):
            out[name] = out[name].astype("category")  # differing categories fall back to object
    return out
