"""The pandas edge: tokens and timing rows become DataFrames here, and only on demand.

Timings schema: one row per HTTP exchange, each retry attempt its own row. The column names,
their order and their meanings are a public contract (`TIMING_COLUMNS`). The frame leads with
what identifies a request and what it cost, so a notebook shows the times without scrolling:

| column            | dtype                 | meaning                                                   |
|-------------------|-----------------------|-----------------------------------------------------------|
| seq               | int64                 | order in which exchanges finished (1, 2, … per session)   |
| kind              | category              | "token" or "api"                                          |
| method            | category              | HTTP method                                               |
| endpoint          | category              | templated path, e.g. /rest/jobs/{job_id}                  |
| status            | Int16                 | HTTP status; <NA> when no response came                   |
| total_ms          | float32               | service time: the whole exchange, transport call → body   |
| wait_ms           | float32               | request sent → response headers (the server's share)      |
| connect_ms        | float32               | DNS + TCP connect; NaN when the connection was reused     |
| tls_ms            | float32               | TLS handshake; NaN when reused or plain HTTP              |
| send_ms           | float32               | writing the request                                       |
| download_ms       | float32               | response headers → body fully read                        |
| latency_ms        | float32               | response time: intended start (scheduled_at) → body read  |
| attempt           | int16                 | 1 for the first try, 2.. for retries                      |
| reused_connection | boolean               | True when no new TCP connection was opened; <NA> unknown  |
| error             | category              | "HTTP 503", "ConnectError: …"; NaN when fine              |
| started_at        | datetime64[ms, UTC]   | when the exchange started (wall clock, to the ms)         |
| scheduled_at      | datetime64[ms, UTC]   | when it was meant to start: the open-model bench's slot,  |
|                   |                       | else when the call began (its first attempt)              |
| url               | category              | full URL (never carries credentials)                      |
| bytes_received    | int64                 | body bytes                                                |
| server_request_id | str                   | X-Request-Id of the response (redacted); NaN if none      |
| run_id            | category              | benchmark run (`Session.bench`), else NaN                 |

wait_ms comes right after total_ms because it is usually the phase that matters; the others
follow in the order they happen. Missing values: NaN in float, category and str columns,
<NA> in the nullable integer and boolean ones (status, reused_connection), NaT in times.

Times are float32 (about 7 significant digits: 0.1 µs at a second) and text repeated from row
to row is categorical, so a frame costs about 110 bytes a row. Frames here display floats
rounded to 3 decimals (`RoundedFrame`); the numbers themselves are not rounded.
`frame.attrs["dropped_rows"]` counts the rows the bounded recorder dropped before the snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._timings import CODED, TimingSnapshot, snapshot_of, store_dtype

if TYPE_CHECKING:
    from datetime import datetime

    from ._token import Token

__all__ = [
    "TIMING_COLUMNS",
    "TOKEN_COLUMNS",
    "RoundedFrame",
    "text_cells",
    "timing_summary",
    "timings_frame",
    "tokens_frame",
]

TIMING_COLUMNS: tuple[str, ...] = (
    "seq",
    "kind",
    "method",
    "endpoint",
    "status",
    "total_ms",
    "wait_ms",
    "connect_ms",
    "tls_ms",
    "send_ms",
    "download_ms",
    "latency_ms",
    "attempt",
    "reused_connection",
    "error",
    "started_at",
    "scheduled_at",
    "url",
    "bytes_received",
    "server_request_id",
    "run_id",
)
_FLOATS = ("total_ms", "wait_ms", "connect_ms", "tls_ms", "send_ms", "download_ms", "latency_ms")

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


def _three_decimals(value: float) -> str:
    return f"{value:.3f}"


_TABLE = '<table border="1" class="dataframe">'
_NOWRAP = "<style>.dpnb-frame td, .dpnb-frame th { white-space: nowrap; }</style>"


class RoundedFrame(pd.DataFrame):
    """A DataFrame that displays its floats to 3 decimals; computing uses the full values.

    Selections and other frames derived from it keep the display (`_constructor`).
    """

    @property
    def _constructor(self) -> type[RoundedFrame]:
        return RoundedFrame

    def _options(self) -> list[Any]:
        options: list[Any] = ["display.float_format", _three_decimals]
        shown = pd.get_option("display.max_columns")
        if shown and shown < len(self.columns) <= 30:  # a timings frame: every column, no "…"
            options += ["display.max_columns", len(self.columns)]
        return options

    def _shown(self, rows: int | None) -> pd.DataFrame:
        """This frame for display. pandas 2 prints a tz-aware `datetime64[ms]` with microseconds
        (`.145000+00:00`), pandas 3 to the millisecond: on pandas 2 such columns are shown as
        text to the millisecond, converted in the first and last `rows` rows only (all that a
        truncated display shows; None: every row)."""
        names = [name for name, dtype in self.dtypes.items() if dtype.kind == "M"] if _PANDAS_2 else []
        if not names:
            return self
        shown = self.copy(deep=False)
        n = len(shown)
        at = np.arange(n) if rows is None or n <= 2 * rows else np.r_[0:rows, n - rows : n]
        for name in names:
            text = np.full(n, "", dtype=object)
            text[at] = [_milliseconds(value) for value in shown[name].to_numpy(dtype=object)[at]]
            shown[name] = text
        return shown

    def to_string(self, *args: Any, **kwargs: Any) -> Any:
        rows = kwargs.get("max_rows")
        shown = self._shown(max(rows, kwargs.get("min_rows") or 0) if rows else None)
        return pd.DataFrame.to_string(shown, *args, **kwargs)

    def __repr__(self) -> str:
        with pd.option_context(*self._options()):
            return super().__repr__()  # through self.to_string

    def _repr_html_(self) -> str | None:
        with pd.option_context(*self._options()):
            rows = pd.get_option("display.max_rows")
            shown = self._shown(max(rows, pd.get_option("display.min_rows") or 0) if rows else None)
            html: str | None = pd.DataFrame._repr_html_(shown)  # type: ignore[attr-defined]
        if html is None or _TABLE not in html:
            return html
        # one line per row: times ("… 05:52:01.123+00:00") and request ids would wrap at their
        # spaces and hyphens and double every row's height
        return _NOWRAP + html.replace(_TABLE, '<table border="1" class="dataframe dpnb-frame">', 1)


def _milliseconds(value: Any) -> str:
    return "NaT" if pd.isna(value) else str(value.isoformat(sep=" ", timespec="milliseconds"))


_PANDAS_2 = int(pd.__version__.split(".", 1)[0]) < 3


def text_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` as text: integers as they are, floats to 3 decimals (for transposed or mixed views,
    where pandas would print every number as a float)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "NaN" if value != value else f"{value:.3f}"
        return str(value)

    return frame.astype(object).map(cell)


def timings_frame(rows: TimingSnapshot | Iterable[Sequence[Any]]) -> RoundedFrame:
    """A recorder snapshot (or row tuples in `_timings.COLUMNS` order) as a typed DataFrame in
    `TIMING_COLUMNS` order.

    The compact chunks are concatenated once; each column is then a view or a cheap
    conversion of its field (codes become categoricals without touching the text).
    """
    if not isinstance(rows, TimingSnapshot):
        rows = snapshot_of(rows)
    tail = np.array(rows.pending, dtype=store_dtype()) if rows.pending else None

    def field(name: str) -> np.ndarray[Any, Any]:
        parts = [chunk.columns[name][start:] for chunk, start in rows.chunks]
        if tail is not None:
            parts.append(tail[name])
        return np.concatenate(parts) if parts else np.empty(0, dtype=store_dtype()[name])

    records = {name: field(name) for name in store_dtype().names or ()}
    n = len(records["seq"])
    data: dict[str, Any] = {
        "seq": records["seq"].astype(np.int64, copy=False),
        "status": pd.arrays.IntegerArray(records["status"].astype(np.int16), records["status"] == 0),
        "attempt": records["attempt"].astype(np.int16, copy=False),
        "reused_connection": pd.arrays.BooleanArray(
            records["reused_connection"] == 1, records["reused_connection"] < 0
        ),
        "bytes_received": records["bytes_received"].astype(np.int64, copy=False),
        "server_request_id": _request_ids(rows, n),
    }
    for name in _FLOATS:
        data[name] = records[name].astype(np.float32, copy=False)
    for name in ("started_at", "scheduled_at"):
        data[name] = pd.DatetimeIndex(records[name].astype("datetime64[ms]")).tz_localize("UTC")
    for name in CODED:
        data[name] = _categorical(records[name].astype(np.int32, copy=False), rows.tables[name])
    frame = RoundedFrame({name: data[name] for name in TIMING_COLUMNS}, copy=False)
    frame.attrs["dropped_rows"] = rows.dropped
    frame.attrs["timings_buffer"] = rows.maxlen
    return frame


def _categorical(codes: np.ndarray[Any, Any], values: list[str]) -> pd.Categorical:
    """Codes into `values` as a Categorical of the values that occur (dropped rows leave some unused)."""
    if not len(codes):
        return pd.Categorical([], categories=pd.Index([], dtype="str"))
    counts = np.bincount(codes + 1, minlength=len(values) + 1)[1:]
    if counts.all():
        return pd.Categorical.from_codes(codes, categories=pd.Index(values, dtype=object))
    used = np.flatnonzero(counts)
    remap = np.full(len(values) + 1, -1, dtype=np.int32)
    remap[used + 1] = np.arange(len(used), dtype=np.int32)
    return pd.Categorical.from_codes(
        remap[codes + 1], categories=pd.Index([values[i] for i in used], dtype=object)
    )


def _request_ids(rows: TimingSnapshot, n: int) -> Any:
    """The request-id column: one Arrow buffer for all rows when pyarrow is there, else strings."""
    buffers: list[bytes] = []
    lengths: list[np.ndarray[Any, Any]] = []
    for chunk, start in rows.chunks:
        ends = chunk.id_ends
        first = int(ends[start - 1]) if start else 0
        buffers.append(chunk.ids[first:])
        lengths.append(np.diff(ends[start:], prepend=first))
    if rows.pending_ids:
        encoded = [text.encode("utf-8", "replace") for text in rows.pending_ids]
        buffers.append(b"".join(encoded))
        lengths.append(np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded)))
    size = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    data = b"".join(buffers)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(size, out=offsets[1:])
    dtype = pd.StringDtype(na_value=np.nan)
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        text = data.decode("utf-8", "replace") if data.isascii() else None
        values = [
            (text[a:b] if text is not None else data[a:b].decode("utf-8", "replace")) or None
            for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
        ]
        return pd.array(values, dtype=dtype)
    valid = np.packbits(size > 0, bitorder="little")
    array = pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(data), pa.py_buffer(valid)
    ).cast(pa.large_string())
    return pd.Series(pd.arrays.ArrowStringArray(array), copy=False).astype(dtype).array


#: The dtype pandas gives a column of text: `str` in pandas 3, `object` before.
_TEXT = pd.Series(["text"]).dtype


def tokens_frame(tokens: Iterable[Token]) -> RoundedFrame:
    """One row per token obtained: masked fingerprint only, never the token itself.

    Built a column at a time with its final dtype (one frame, no conversions afterwards), so an
    empty frame has the dtypes of a full one.
    """
    held = list(tokens)

    def text(values: Iterable[str]) -> Any:
        return pd.Series(list(values), dtype=_TEXT, copy=False)

    def utc(values: Iterable[datetime]) -> Any:
        return pd.DatetimeIndex(list(values), dtype="datetime64[us, UTC]").as_unit("ms")

    columns = {
        "environment": text(t.environment for t in held),
        "client_id": text(t.client_id for t in held),
        "requested_scope": text(" ".join(t.requested_scope) for t in held),
        "granted_scope": text(" ".join(t.granted_scope) for t in held),
        "token_type": text(t.token_type for t in held),
        "token": text(t.access_token.masked for t in held),
        "obtained_at": utc(t.obtained_at for t in held),
        "expires_at": utc(t.expires_at for t in held),
        "expires_in": pd.array([t.expires_in for t in held], dtype="Float64"),
        "seconds_left": np.array([round(t.seconds_left, 1) for t in held], dtype="float64"),
        "elapsed_ms": np.array([t.elapsed_ms for t in held], dtype="float64"),
        "status": pd.array([t.status for t in held], dtype="Int64"),
    }
    assert tuple(columns) == TOKEN_COLUMNS
    return RoundedFrame(columns)


def _p(q: float) -> Any:
    def quantile(s: pd.Series) -> float:
        return float(s.quantile(q)) if s.notna().any() else float("nan")

    quantile.__name__ = f"p{round(q * 100)}"
    return quantile


#: The latency columns of `timing_summary`, in order: response time, service time, server wait.
SUMMARY_TIMES = ("latency_ms", "total_ms", "wait_ms")


def timing_summary(frame: pd.DataFrame, by: str | Sequence[str] = "endpoint") -> RoundedFrame:
    """Per group: count, errors and error rate; mean/p50/p90/p99/max of latency_ms (response
    time from the intended start), total_ms (service time) and wait_ms (the server's share);
    how many exchanges opened a new connection (`cold`) with their mean connect time."""
    keys = [by] if isinstance(by, str) else list(by)
    work = frame.assign(
        failed=frame["error"].notna(),
        cold=~frame["reused_connection"].fillna(False).astype(bool),
    )
    grouped = work.groupby(keys, observed=True, sort=True)
    out = pd.DataFrame(
        {
            "count": grouped.size(),
            "errors": grouped["failed"].sum().astype("int64"),
            "cold": grouped["cold"].sum().astype("int64"),
        }
    )
    out["error_rate"] = out["errors"] / out["count"]
    for col in SUMMARY_TIMES:
        if col not in work.columns:
            continue
        agg = grouped[col].agg(["mean", _p(0.5), _p(0.9), _p(0.99), "max"]).astype("float64")
        agg.columns = [f"{col}_{name}" for name in ("mean", "p50", "p90", "p99", "max")]
        out = out.join(agg)
    out["connect_ms_mean"] = grouped["connect_ms"].mean().astype("float64")
    out["reused_total_ms_p50"] = (
        work[~work["cold"]].groupby(keys, observed=True)["total_ms"].median().astype("float64")
    )
    out["cold_total_ms_p50"] = (
        work[work["cold"]].groupby(keys, observed=True)["total_ms"].median().astype("float64")
    )
    return RoundedFrame(out)
