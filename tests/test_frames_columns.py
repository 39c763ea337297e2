"""Timing frames as a notebook shows them: times first, ms precision, one missing-value
convention per dtype, floats displayed to 3 decimals (the numbers themselves untouched), and
compact storage (bytes per row in the frame and in the recorder)."""

from __future__ import annotations

import math
import random
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import dailypay_nb as dp
from dailypay_nb._frames import TIMING_COLUMNS, RoundedFrame, timings_frame
from dailypay_nb._timings import COLUMNS, TimingRecorder, TimingsDroppedWarning

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bench_timings

HEALTH = "/rest/health"
SIX_DECIMALS = re.compile(r"\d\.\d{5,}")

DTYPES = {
    "seq": "int64",
    "kind": "category",
    "method": "category",
    "endpoint": "category",
    "status": "Int16",
    "total_ms": "float32",
    "wait_ms": "float32",
    "connect_ms": "float32",
    "tls_ms": "float32",
    "send_ms": "float32",
    "download_ms": "float32",
    "latency_ms": "float32",
    "attempt": "int16",
    "reused_connection": "boolean",
    "error": "category",
    "started_at": "datetime64[ms, UTC]",
    "scheduled_at": "datetime64[ms, UTC]",
    "url": "category",
    "bytes_received": "int64",
    "server_request_id": "str",
    "run_id": "category",
}


def test_the_frame_leads_with_what_was_asked_and_what_it_cost(sandbox: Any, connect_to: Any) -> None:
    session = connect_to(sandbox)
    session.get(HEALTH)
    frame = session.timings
    columns = list(frame.columns)
    assert columns == list(TIMING_COLUMNS)
    assert columns[:6] == ["seq", "kind", "method", "endpoint", "status", "total_ms"]
    assert columns.index("wait_ms") < 9
    assert columns[-4:] == ["url", "bytes_received", "server_request_id", "run_id"]
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == DTYPES
    assert set(COLUMNS) == set(TIMING_COLUMNS)  # the row and the frame name the same columns


def test_started_at_is_utc_to_the_millisecond(sandbox: Any, connect_to: Any) -> None:
    session = connect_to(sandbox)
    session.get(HEALTH)
    frame = session.timings
    started = frame["started_at"]
    assert str(started.dt.tz) == "UTC"
    assert (started.dt.microsecond % 1000 == 0).all()
    shown = frame.to_string()
    assert re.search(r"\d{2}:\d{2}:\d{2}\.\d{3}\+00:00", shown)
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d{4,}", shown)  # no µs or ns digits
    assert (frame["scheduled_at"] <= frame["started_at"]).all()


def test_one_missing_value_convention_per_dtype(sandbox: Any, connect_to: Any) -> None:
    session = connect_to(sandbox)
    session.get(HEALTH)
    dead = connect_to(sandbox, api_url="http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(dp.ApiTransportError):
        dead.get(HEALTH, retry=False)
    bad = dead.timings.query("kind == 'api'").iloc[0]
    assert bad["status"] is pd.NA  # nullable integer and boolean: <NA>
    assert not bad["reused_connection"]  # a connection was tried: not a reused one
    assert math.isnan(bad["wait_ms"])  # float: NaN
    good = session.timings.query("kind == 'api'").iloc[0]
    for name in ("error", "run_id"):  # category: NaN
        assert isinstance(good[name], float)
        assert math.isnan(good[name])
    both = pd.concat([session.timings, dead.timings], ignore_index=True)
    text = RoundedFrame(both).to_string()
    assert "None" not in text
    assert "<NA>" in text
    assert "NaN" in text


def test_floats_are_displayed_to_three_decimals_and_kept_whole(sandbox: Any, connect_to: Any) -> None:
    session = connect_to(sandbox)
    sandbox.inject("/rest/organizations", status=503, times=1)
    for _ in range(3):
        session.get(HEALTH)
    session.organizations()
    for shown in (
        session.timings,
        session.timings[["endpoint", "status", "attempt", "error", "started_at", "total_ms"]],
        session.timing_summary(),
    ):
        assert isinstance(shown, RoundedFrame)
        for text in (repr(shown), shown._repr_html_() or ""):
            assert not SIX_DECIMALS.search(text), text[:2000]
    total = session.timings["total_ms"].iloc[-1]
    assert total != round(total, 3)  # display rounding only: the value keeps its digits
    summary = session.timing_summary()
    assert summary["total_ms_p50"].iloc[0] != round(summary["total_ms_p50"].iloc[0], 3)
    run = session.bench(HEALTH, n=20, progress=False)
    assert not SIX_DECIMALS.search(run._repr_html_())
    assert not SIX_DECIMALS.search(repr(run))


def test_an_empty_summary_has_the_columns_and_dtypes_of_a_full_one(sandbox: Any, connect_to: Any) -> None:
    """Before any request, `timing_summary()` is the same table with no rows (it had 3 columns)."""
    session = connect_to(sandbox)
    empty = session.timing_summary()
    by_status = session.timing_summary(by=["endpoint", "status"])
    session.get(HEALTH)
    full = session.timing_summary()
    assert len(empty) == 0
    assert len(full) > 0
    assert list(empty.columns) == list(full.columns)
    assert empty.dtypes.to_dict() == full.dtypes.to_dict()
    assert empty.index.names == full.index.names == ["endpoint"]
    assert by_status.index.names == ["endpoint", "status"]
    assert list(by_status.columns) == list(full.columns)


def test_an_empty_tokens_frame_has_the_dtypes_of_a_full_one(sandbox: Any, connect_to: Any) -> None:
    """`session.tokens` before any token: the same columns and dtypes (its text columns were object)."""
    session = connect_to(sandbox)
    empty = session.tokens
    session.token()
    full = session.tokens
    assert len(empty) == 0
    assert len(full) == 1
    assert list(empty.columns) == list(full.columns) == list(dp._frames.TOKEN_COLUMNS)
    assert empty.dtypes.to_dict() == full.dtypes.to_dict()
    assert str(full["obtained_at"].dtype) == "datetime64[ms, UTC]"


def test_operations_table_shows_no_missing_helper() -> None:
    table = dp.operations()
    assert table.notna().all().all()
    assert "NaN" not in table.to_string()
    # "none" is an empty string: getHealth has no filter and no include
    health = table.loc[table["operation_id"] == "getHealth"].iloc[0]
    assert health["filters"] == ""
    assert health["include"] == ""


def _bench_shaped(n: int) -> TimingRecorder:
    recorder = TimingRecorder(n)
    bench_timings.fill(recorder, n)
    return recorder


def test_a_row_costs_at_most_150_bytes_in_the_recorder_and_in_the_frame() -> None:
    """Rows shaped like a session's (bench runs, a thousand records explored, a unique
    X-Request-Id each; see bench/bench_timings.py) within 150 bytes each, both ways."""
    n = 50_000
    recorder = _bench_shaped(n)
    assert recorder.nbytes() / n <= 150, recorder.nbytes() / n
    frame = timings_frame(recorder.rows())
    assert len(frame) == n
    assert frame.memory_usage(deep=True).sum() / n <= 150, frame.memory_usage(deep=True).sum() / n
    # the compact form keeps what each row said
    again = random.Random(0)
    expected = [bench_timings.realistic_row(again, i) for i in range(n)]
    for i in (0, 1, 777, n - 1):
        row, want = frame.iloc[i], dict(zip(COLUMNS, expected[i], strict=True))
        assert row["seq"] == i + 1
        for name in ("kind", "method", "endpoint", "url", "server_request_id", "error", "run_id"):
            got = None if pd.isna(row[name]) else row[name]
            assert got == want[name], (i, name)
        assert (None if row["status"] is pd.NA else row["status"]) == want["status"]
        for name in ("total_ms", "wait_ms", "latency_ms"):
            assert row[name] == pytest.approx(want[name], rel=1e-6, nan_ok=True), (i, name)
        assert row["started_at"] == pd.Timestamp(math.floor(want["started_at"] * 1000), unit="ms", tz="UTC")


def test_the_recorder_keeps_exactly_its_bound_across_chunks() -> None:
    recorder = TimingRecorder(2500)
    with pytest.warns(TimingsDroppedWarning):
        bench_timings.fill(recorder, 6000, seed=1)
    frame = timings_frame(recorder.rows())
    assert len(recorder) == len(frame) == 2500
    assert frame["seq"].tolist() == list(range(3501, 6001))
    assert frame.attrs["dropped_rows"] == 3500
    ids = frame["server_request_id"]
    assert ids.notna().sum() + frame["status"].isna().sum() == 2500  # a failed exchange has no id
    assert np.isfinite(frame["total_ms"]).all()
