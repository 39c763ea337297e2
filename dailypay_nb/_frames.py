"""The pandas edge: tokens and timing rows become DataFrames here, and only on demand.

Timings schema (one row per HTTP exchange, each retry attempt its own row):

| column            | dtype                 | meaning                                         |
|-------------------|-----------------------|-------------------------------------------------|
| seq               | int64                 | order in which exchanges finished               |
| started_at        | datetime64[ns, UTC]   | when the exchange started (wall clock)          |
| kind              | category              | "token" or "api"                                |
| method            | category              | HTTP method                                     |
| endpoint          | category              | templated path, e.g. /rest/jobs/{job_id}        |
| url               | string                | full URL (never carries credentials)            |
| status            | Int64                 | HTTP status; <NA> when no response came         |
| attempt           | int64                 | 1 for the first try, 2.. for retries            |
| reused_connection | boolean               | True when no new TCP connection was opened      |
| connect_ms        | float64               | DNS + TCP connect; NaN when reused              |
| tls_ms            | float64               | TLS handshake; NaN when reused or plain HTTP    |
| send_ms           | float64               | writing the request                             |
| wait_ms           | float64               | request sent → response headers received        |
| download_ms       | float64               | response headers → body fully read              |
| total_ms          | float64               | the whole exchange                              |
| bytes_received    | int64                 | body bytes                                      |
| server_request_id | string                | X-Request-Id of the response, if any            |
| error             | string                | "HTTP 503", "ConnectError: …"; <NA> when fine   |
| run_id            | string                | benchmark run (Session.bench), else <NA>        |
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._timings import COLUMNS

if TYPE_CHECKING:
    from ._token import Token

__all__ = ["TOKEN_COLUMNS", "timing_summary", "timings_frame", "tokens_frame"]

_FLOATS = ("connect_ms", "tls_ms", "send_ms", "wait_ms", "download_ms", "total_ms")
_CATEGORIES = ("kind", "method", "endpoint")
_STRINGS = ("url", "server_request_id", "error", "run_id")

TOKEN_COLUMNS = (
    "environment",
    "client_id",
    "requested_scope",
    "granted_scope",
    "token_type",
    "token",
    "obtained_at",
    "expires_at",
    "expires_in",
    "seconds_left",
    "elapsed_ms",
    "status",
)


def timings_frame(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """Timing rows (tuples in `COLUMNS` order) as a typed DataFrame.

    The rows become one 2-D object array in a single C pass (transposing them with
    `zip(*rows)` cost more than all the conversions together); each column is converted from
    its view, nullable integers and booleans straight from a None mask.
    """
    n = len(rows)
    table = _object_table(rows) if n else np.empty((0, len(COLUMNS)), dtype=object)
    if table.shape != (n, len(COLUMNS)):
        raise ValueError(f"timing rows must be tuples of {len(COLUMNS)} values")
    first = COLUMNS.index(_FLOATS[0])
    floats = table[:, first : first + len(_FLOATS)].astype(np.float64)
    data: dict[str, Any] = {}
    for index, name in enumerate(COLUMNS):
        values = table[:, index]
        if name in _FLOATS:
            data[name] = floats[:, index - first]
        elif name == "started_at":
            data[name] = pd.to_datetime(values.astype(np.float64), unit="s", utc=True)
        elif name in _CATEGORIES:
            data[name] = pd.Categorical(values)
        elif name in _STRINGS:
            data[name] = pd.array(values, dtype="string")
        elif name == "status":
            missing = values == None  # noqa: E711 - elementwise
            data[name] = pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing)
        elif name == "reused_connection":
            missing = values == None  # noqa: E711 - elementwise
            data[name] = pd.arrays.BooleanArray(np.where(missing, False, values).astype(bool), missing)
        else:  # seq, attempt, bytes_received
            data[name] = values.astype(np.int64)
    return pd.DataFrame(data, columns=list(COLUMNS))


def _object_table(rows: Sequence[tuple[Any, ...]]) -> np.ndarray[Any, np.dtype[np.object_]]:
    """Rows as an (n, columns) object array in one C pass: pandas' helper (what `from_records`
    uses; about half the time of `np.array(rows, dtype=object)`), or numpy's if it is gone."""
    from pandas._libs import lib

    convert = getattr(lib, "to_object_array_tuples", None)  # not in pandas-stubs
    if convert is None:  # pragma: no cover - pandas 1.0 to 3.x all have it
        return np.array(rows, dtype=object)
    table: np.ndarray[Any, np.dtype[np.object_]] = convert(list(rows))
    return table


def tokens_frame(tokens: Iterable[Token]) -> pd.DataFrame:
    """One row per token obtained: masked fingerprint only, never the token itself."""
    rows = [
        (
            t.environment,
            t.client_id,
            " ".join(t.requested_scope),
            " ".join(t.granted_scope),
            t.token_type,
            t.access_token.masked,
            t.obtained_at,
            t.expires_at,
            t.expires_in,
            round(t.seconds_left, 1),
            t.elapsed_ms,
            t.status,
        )
        for t in tokens
    ]
    frame = pd.DataFrame.from_records(rows, columns=list(TOKEN_COLUMNS))
    frame["obtained_at"] = pd.to_datetime(frame["obtained_at"], utc=True)
    frame["expires_at"] = pd.to_datetime(frame["expires_at"], utc=True)
    frame["expires_in"] = frame["expires_in"].astype("Float64")
    frame["seconds_left"] = frame["seconds_left"].astype("float64")
    frame["elapsed_ms"] = frame["elapsed_ms"].astype("float64")
    frame["status"] = frame["status"].astype("Int64")
    return frame


def _p(q: float) -> Any:
    def quantile(s: pd.Series) -> float:
        return float(s.quantile(q)) if s.notna().any() else float("nan")

    quantile.__name__ = f"p{round(q * 100)}"
    return quantile


def timing_summary(frame: pd.DataFrame, by: str | Sequence[str] = "endpoint") -> pd.DataFrame:
    """Per group: count, error rate, mean/p50/p90/p99/max of total_ms and wait_ms, and
    how many exchanges opened a new connection (`cold`) with their mean connect time."""
    keys = [by] if isinstance(by, str) else list(by)
    if frame.empty:
        return pd.DataFrame(columns=[*keys, "count", "errors", "error_rate"]).set_index(keys)
    work = frame.assign(
        failed=frame["error"].notna(),
        cold=~frame["reused_connection"].fillna(False).astype(bool),
    )
    grouped = work.groupby(keys, observed=True, sort=True)
    stats = {
        "count": grouped.size(),
        "errors": grouped["failed"].sum().astype("int64"),
        "cold": grouped["cold"].sum().astype("int64"),
    }
    out = pd.DataFrame(stats)
    out["error_rate"] = out["errors"] / out["count"]
    for col in ("total_ms", "wait_ms"):
        agg = grouped[col].agg(["mean", _p(0.5), _p(0.9), _p(0.99), "max"])
        agg.columns = [f"{col}_{name}" for name in ("mean", "p50", "p90", "p99", "max")]
        out = out.join(agg)
    out["connect_ms_mean"] = grouped["connect_ms"].mean()
    out["reused_total_ms_p50"] = work[~work["cold"]].groupby(keys, observed=True)["total_ms"].median()
    out["cold_total_ms_p50"] = work[work["cold"]].groupby(keys, observed=True)["total_ms"].median()
    return out
