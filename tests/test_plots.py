"""`dailypay_nb.plots` rendered to PNG/SVG (Agg) from real sandbox timings, plus edge cases."""

from __future__ import annotations

import io
import math
import subprocess
import sys
from typing import Any

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon, Rectangle

from dailypay_nb import ArgumentError, DailyPayError, plots
from dailypay_nb._frames import timings_frame

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def session(sandbox: Any, connect_to: Any) -> Any:
    """A session with a token request, 12 health calls and 2 jobs calls recorded."""
    session = connect_to(sandbox)
    for _ in range(12):
        session.get("/rest/health")
    for _ in range(2):
        session.get("/rest/jobs", params={"filter[person.id]": sandbox.data.person_id})
    return session


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    data = buffer.getvalue()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 5_000  # a real picture, not an empty canvas
    return data


def _bars(figure: Figure) -> dict[str, Rectangle]:
    (axes,) = figure.axes
    bars = {str(c.get_label()): c.patches[0] for c in axes.containers if isinstance(c, BarContainer)}
    assert len(bars) == len([p for p in axes.patches if isinstance(p, Rectangle)])
    return bars


def test_histogram_one_filled_step_per_endpoint(session: Any) -> None:
    timings = session.timings
    figure = plots.latency_histogram(timings)
    _png(figure)
    (axes,) = figure.axes
    steps = [p for p in axes.patches if isinstance(p, Polygon)]
    assert len(steps) == timings["endpoint"].nunique() == 3  # token, health, jobs
    legend_box = axes.get_legend()
    assert legend_box is not None
    legend = [t.get_text() for t in legend_box.get_texts()]
    assert legend[0].startswith("/rest/health (n=12,")  # largest group first
    assert {t.split(" (")[0] for t in legend} == {"/rest/health", "/rest/jobs", "/oauth2/token"}
    assert axes.get_xlabel().splitlines()[0] == "total (ms)"  # a stray slow call adds a note line
    assert axes.get_title() == "total_ms per endpoint"


def test_histogram_ungrouped_and_by_kind(session: Any) -> None:
    figure = plots.latency_histogram(session.timings, column="wait_ms", by=None)
    (axes,) = figure.axes
    assert len([p for p in axes.patches if isinstance(p, Polygon)]) == 1
    # the unit first; a stray slow wait on a busy machine is clipped with a note on a second line
    assert axes.get_xlabel().splitlines()[0] == "wait (ms)"
    figure = plots.latency_histogram(session.timings, by="kind")
    assert len([p for p in figure.axes[0].patches if isinstance(p, Polygon)]) == 2


def test_ecdf_one_line_per_endpoint_reaching_one(session: Any) -> None:
    timings = session.timings
    figure = plots.latency_ecdf(timings, log=True)
    _png(figure)
    (axes,) = figure.axes
    lines = [line for line in axes.get_lines() if isinstance(line, Line2D)]
    assert len(lines) == 3
    health = next(line for line in lines if str(line.get_label()).startswith("/rest/health"))
    xs = np.asarray(health.get_xdata(), dtype=float)
    ys = np.asarray(health.get_ydata(), dtype=float)
    assert len(xs) == 12
    assert np.all(np.diff(xs) >= 0)
    assert ys[-1] == pytest.approx(1.0)
    expected = np.sort(timings.loc[timings["endpoint"] == "/rest/health", "total_ms"].to_numpy())
    np.testing.assert_allclose(xs, expected)
    assert axes.get_xscale() == "log"


def test_waterfall_of_a_cold_request_shows_connect(session: Any) -> None:
    timings = session.timings
    first = timings.index[0]  # the token request opened its own connection
    assert not timings.loc[first, "reused_connection"]
    figure = plots.waterfall(timings, row=first)
    _png(figure)
    bars = _bars(figure)
    assert list(bars) == ["connect", "send", "wait", "download", "total"]  # plain http: no tls
    start = 0.0
    for phase in ("connect", "send", "wait", "download"):
        assert bars[phase].get_x() == pytest.approx(start)
        assert bars[phase].get_width() == pytest.approx(timings.loc[first, f"{phase}_ms"])
        start += bars[phase].get_width()
    assert bars["total"].get_width() == pytest.approx(timings.loc[first, "total_ms"])
    assert start <= bars["total"].get_width() + 1e-9  # phases fit inside the exchange
    assert figure.axes[0].get_title() == "POST /oauth2/token — HTTP 200, new connection"


def test_waterfall_of_a_reused_request_leaves_nan_phases_out(session: Any) -> None:
    timings = session.timings
    reused = timings.index[timings["reused_connection"].fillna(False).astype(bool)][-1]
    assert math.isnan(timings.loc[reused, "connect_ms"])
    assert math.isnan(timings.loc[reused, "tls_ms"])
    figure = plots.waterfall(timings, row=reused)
    _png(figure)
    assert list(_bars(figure)) == ["send", "wait", "download", "total"]
    assert "reused connection" in figure.axes[0].get_title()


def test_waterfall_median_of_a_bench_run(sandbox: Any, connect_to: Any) -> None:
    session = connect_to(sandbox)
    run = session.bench(n=40, concurrency=4, warmup=2, progress=False)
    figure = plots.waterfall(run)  # a BenchRun works as well as its frame
    _png(figure)
    bars = _bars(figure)
    cold = int((~run.timings["reused_connection"].astype(bool)).sum())
    assert cold <= 4  # at most one new connection per worker: the median connect is 0, so absent
    assert list(bars) == ["send", "wait", "download", "total"]
    for phase in ("send", "wait", "download"):
        assert bars[phase].get_width() == pytest.approx(run.timings[f"{phase}_ms"].median())
    assert bars["total"].get_width() == pytest.approx(run.timings["total_ms"].median())
    assert figure.axes[0].get_title() == f"median phases of 40 requests ({cold} on a new connection)"
    assert list(_bars(plots.waterfall(run.timings, row="median"))) == list(bars)


def test_draws_into_a_given_axes_and_renders_svg_in_dark_style(session: Any) -> None:
    import matplotlib.pyplot as plt

    with plt.style.context("dark_background"):
        figure = Figure()
        left, right = figure.subplots(1, 2)
        assert plots.latency_ecdf(session.timings, ax=left) is figure
        assert plots.waterfall(session.timings, ax=right) is figure
        svg = io.StringIO()
        figure.savefig(svg, format="svg")
    assert "<svg" in svg.getvalue()
    assert len(left.get_lines()) == 3
    assert len(right.patches) >= 4


def test_empty_frame_is_a_clear_error() -> None:
    empty = timings_frame([])
    for draw in (plots.latency_histogram, plots.latency_ecdf, plots.waterfall):
        with pytest.raises(DailyPayError, match="no timings to plot"):
            draw(empty)


def test_all_nan_column_is_a_clear_error(session: Any) -> None:
    timings = session.timings
    reused = timings[timings["reused_connection"].fillna(False).astype(bool)]
    with pytest.raises(DailyPayError, match="every row is NaN"):
        plots.latency_histogram(reused, column="connect_ms")
    with pytest.raises(DailyPayError, match="every row is NaN"):
        plots.latency_ecdf(timings, column="tls_ms")  # plain http: never a TLS handshake


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: plots.latency_histogram(t, column="nope_ms"), "no column 'nope_ms'"),
        (lambda t: plots.latency_ecdf(t, by="nope"), "no column 'nope' to group by"),
        (lambda t: plots.waterfall(t, row=10_000), "not the index label of one request"),
        (lambda t: plots.waterfall(t.to_dict()), "expected a timings DataFrame"),
    ],
)
def test_bad_arguments_are_argument_errors(session: Any, call: Any, message: str) -> None:
    with pytest.raises(ArgumentError, match=message):
        call(session.timings)


def test_failed_exchange_row_is_plotted_without_phases() -> None:
    row = [0, 1.7e9, "api", "GET", "/rest/health", "http://127.0.0.1:1/rest/health", None, 1, None]
    row += [math.nan] * 5 + [2.5, 0, None, "ConnectError: refused", None]
    frame = timings_frame([tuple(row)])
    figure = plots.waterfall(frame, row=0)
    assert list(_bars(figure)) == ["total"]
    assert figure.axes[0].get_title() == "GET /rest/health — no response"


def test_import_dailypay_nb_does_not_import_matplotlib() -> None:
    code = "import sys, dailypay_nb, dailypay_nb.plots; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


_IPYTHON_SCRIPT = """
import base64, json, sys
from IPython.core.interactiveshell import InteractiveShell
import dailypay_nb as dp
from dailypay_nb import plots

shell = InteractiveShell.instance()
if sys.argv[1] == "svg":  # the user chose a format before plotting: it is kept
    from IPython.core.pylabtools import select_figure_formats
    select_figure_formats(shell, {"svg"})
with dp.connect() as session:
    session.health()
    data, _ = shell.display_formatter.format(plots.latency_histogram(session.timings))
print(json.dumps({"mimes": sorted(data), "png": base64.b64decode(data.get("image/png", ""))[:8].hex()}))
"""


@pytest.mark.parametrize(
    ("chosen", "mimes"),
    [("none", ["image/png", "text/plain"]), ("svg", ["image/svg+xml", "text/plain"])],
)
def test_figures_display_in_a_fresh_ipython_without_matplotlib_magic(chosen: str, mimes: list[str]) -> None:
    """No `%matplotlib inline` needed: a returned figure has a PNG repr, unless a format was chosen."""
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _IPYTHON_SCRIPT, chosen], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["mimes"] == mimes
    if chosen == "none":
        assert bytes.fromhex(result["png"]) == PNG_MAGIC


def _synthetic(groups: dict[str, list[float]]) -> Any:
    """A timings frame with `total_ms` values per endpoint (other phases filled in plausibly)."""
    rows, seq = [], 0
    for endpoint, values in groups.items():
        for value in values:
            seq += 1
            row = [seq, 1.7e9 + seq, "api", "GET", endpoint, "http://127.0.0.1:1" + endpoint, 200, 1, True]
            row += [math.nan, math.nan, 0.1, value * 0.8, 0.1, value, 10, None, None, None]
            rows.append(tuple(row))
    return timings_frame(rows)


def _spread() -> Any:
    """A fast endpoint, a slower one, and a token endpoint with one far outlier."""
    rng = np.random.default_rng(7)
    return _synthetic(
        {
            "/rest/health": list(rng.gamma(4, 0.3, 200)),
            "/rest/jobs": list(6 + rng.gamma(3, 1.0, 60)),
            "/oauth2/token": [3.0, 950.0],
        }
    )


def _display_points(axes: Any) -> np.ndarray:
    """Every drawn data point of the axes (lines and patch outlines) in display coordinates."""
    points = [line.get_xydata() for line in axes.get_lines()]
    points = [axes.transData.transform(p) for p in points if len(p)]
    for patch in axes.patches:
        points.append(patch.get_transform().transform(patch.get_path().vertices))
    return np.concatenate(points)


@pytest.mark.parametrize("draw", [plots.latency_ecdf, plots.latency_histogram], ids=["ecdf", "histogram"])
def test_legend_never_covers_data(draw: Any) -> None:
    """The legend sits outside the axes, inside the figure: no curve or bar under it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = draw(_spread())
    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # lays the figure out (constrained layout) as a notebook's PNG does
    (axes,) = figure.axes
    renderer = canvas.get_renderer()
    legend = axes.get_legend().get_window_extent(renderer)
    xs, ys = _display_points(axes).T
    covered = (xs >= legend.x0) & (xs <= legend.x1) & (ys >= legend.y0) & (ys <= legend.y1)
    assert not covered.any(), "the legend covers data"
    assert not legend.overlaps(axes.get_window_extent(renderer))
    assert figure.bbox.contains(legend.x0, legend.y0)
    assert figure.bbox.contains(legend.x1, legend.y1)


def test_histogram_range_is_not_set_by_an_outlier() -> None:
    """One stray second among 200 millisecond requests: the axis covers the milliseconds and
    the label says what was left off; clip=False shows everything."""
    rng = np.random.default_rng(3)
    values = [*rng.gamma(4, 0.3, 199), 950.0]
    frame = _synthetic({"/rest/health": values})
    figure = plots.latency_histogram(frame)
    (axes,) = figure.axes
    bulk = max(values[:-1])
    assert axes.get_xlim()[1] < 2 * bulk
    assert axes.get_xlim()[1] >= bulk  # the whole tail of real values stays on the axis
    assert axes.get_xlabel() == (
        f"total (ms)\n1 value above {bulk:.3g} ms not shown (max 950 ms; clip=False shows all)"
    )
    legend = [t.get_text() for t in axes.get_legend().get_texts()]
    assert legend == [f"/rest/health (n=200, p50 {np.median(values):.2f} ms)"]  # of every value
    full = plots.latency_histogram(frame, clip=False).axes[0]
    assert full.get_xlim()[1] >= 950
    assert full.get_xlabel() == "total (ms)"


def test_histogram_keeps_an_ordinary_tail() -> None:
    """A cold token request a few times slower than the warm calls is no outlier: all shown.

    The values are a session's as measured on a quiet machine (a real session's own, on a busy
    one, may hold a stray slow call that is rightly clipped)."""
    warm = [0.45, 0.48, 0.5, 0.52, 0.47, 0.49, 0.51, 0.46, 0.5, 0.53, 0.48]
    timings = _synthetic({"/oauth2/token": [2.4], "/rest/health": [1.1, *warm], "/rest/jobs": [0.9, 0.95]})
    figure = plots.latency_histogram(timings, by=None)
    assert figure.axes[0].get_xlim()[1] >= timings["total_ms"].max()
    assert figure.axes[0].get_xlabel() == "total (ms)"
