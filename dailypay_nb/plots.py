"""Plots of timing frames: latency histogram, latency ECDF and a phase waterfall.

```python
from dailypay_nb import plots
run = session.bench("/rest/health", n=200, concurrency=8)
plots.latency_histogram(run.timings)      # one histogram per endpoint
plots.latency_ecdf(session.timings)       # one ECDF line per endpoint
plots.waterfall(run.timings)              # per-phase median of the run
plots.waterfall(session.timings, row=0)   # one request (an index label of the frame)
```

Every function takes a timings frame (`session.timings`, `run.timings`, or anything with a
`.timings` frame such as a `BenchRun`), draws into `ax` when given (else a new figure), and
returns the matplotlib `Figure`, which a notebook displays on its own. matplotlib is imported
on first use, never by `import dailypay_nb`.

Colours are the Okabe-Ito palette (safe for the common colour-vision deficiencies) and every
other colour comes from the active matplotlib style, so the plots read in light notebooks and
under a dark style (`plt.style.use("dark_background")`) alike.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING, Any, Literal

from ._exceptions import ArgumentError, DailyPayError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["PALETTE", "PHASES", "PHASE_COLORS", "latency_ecdf", "latency_histogram", "waterfall"]

#: Okabe-Ito colours, ordered so the first ones read on white and on black backgrounds.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
    "#999999",  # grey
)

#: The waterfall's phases, in the order an exchange goes through them.
PHASES: tuple[str, ...] = ("connect", "tls", "send", "wait", "download")
PHASE_COLORS: dict[str, str] = {
    "connect": "#E69F00",
    "tls": "#CC79A7",
    "send": "#56B4E9",
    "wait": "#0072B2",
    "download": "#009E73",
}
_OTHER_COLOR = "#999999"
_MAX_GROUPS = len(PALETTE)


def _frame(timings: Any) -> pd.DataFrame:
    """The timings frame of `timings` (a frame, or an object with a `.timings` frame)."""
    import pandas as pd

    frame = getattr(timings, "timings", timings)
    if not isinstance(frame, pd.DataFrame):
        raise ArgumentError(
            f"expected a timings DataFrame, got {type(timings).__name__}",
            hint="pass session.timings or the BenchRun that session.bench() returned",
        )
    if frame.empty:
        raise DailyPayError(
            "no timings to plot: the frame is empty",
            hint="make some requests first (session.get(...) or session.bench(...))",
        )
    return frame


def _column(frame: pd.DataFrame, column: str) -> None:
    if column not in frame.columns:
        numeric = [c for c in frame.columns if str(c).endswith("_ms")]
        raise ArgumentError(f"no column {column!r} in the timings", hint=f"use one of {', '.join(numeric)}")


def _groups(frame: pd.DataFrame, column: str, by: str | None) -> list[tuple[str, Any]]:
    """(label, finite values as a float array) per group, largest groups first, at most 8."""
    import numpy as np

    if by is not None and by not in frame.columns:
        raise ArgumentError(f"no column {by!r} to group by", hint="use by='endpoint', 'kind', ... or None")
    values = frame[column].astype("float64")
    keys = frame[by].astype("string").fillna("<NA>") if by is not None else None
    pieces: list[tuple[str, Any]] = []
    grouped: Iterator[tuple[Hashable, Any]] = (
        iter(values.groupby(keys, sort=True)) if keys is not None else iter([("all", values)])
    )
    for key, series in grouped:
        data = series.to_numpy(dtype=np.float64)
        data = data[np.isfinite(data)]
        if data.size:
            pieces.append((str(key), data))
    if not pieces:
        raise DailyPayError(
            f"no {column} values to plot: every row is NaN",
            hint="failed exchanges and reused connections leave some phases empty; try column='total_ms'",
        )
    pieces.sort(key=lambda piece: -len(piece[1]))
    return pieces[:_MAX_GROUPS]


def _axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        figure = ax.get_figure(root=True)
        if figure is None:  # pragma: no cover - an Axes always belongs to a figure
            raise ArgumentError("ax does not belong to a figure")
        return figure, ax
    from matplotlib.figure import Figure

    # A bare Figure (not pyplot): nothing is registered globally, so no figure piles up or
    # shows twice in a notebook; the returned Figure is displayed through IPython's formatters.
    _show_figures_in_ipython(Figure)
    figure = Figure(figsize=size, layout="constrained")
    return figure, figure.add_subplot()


_FIGURE_MIMES = ("image/png", "image/svg+xml", "image/jpeg", "application/pdf")


def _show_figures_in_ipython(figure_type: type) -> None:
    """In IPython, make a returned Figure display as PNG unless a figure format is already set.

    `%matplotlib inline` (or `%config InlineBackend.figure_formats`) registers these; without it a
    fresh kernel would show `<Figure size 640x480 with 1 Axes>`. A format the user chose is kept.
    """
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    formatters = shell.display_formatter.formatters
    if any(figure_type in formatters[mime].type_printers for mime in _FIGURE_MIMES if mime in formatters):
        return
    from functools import partial

    from IPython.core.pylabtools import print_figure

    formatters["image/png"].for_type(figure_type, partial(print_figure, fmt="png", base64=True))


def _unit_label(column: str) -> str:
    return f"{column[:-3]} (ms)" if column.endswith("_ms") else column


def latency_histogram(
    timings: Any,
    column: str = "total_ms",
    by: str | None = "endpoint",
    ax: Axes | None = None,
    bins: int = 40,
    clip: bool = True,
) -> Figure:
    """A histogram of `column` (ms) per group of `by` (None: all rows together).

    Groups share one set of bins and are drawn as translucent filled steps, each labelled
    with its count and median (of every value). With `clip` (the default) far outliers do not
    set the axis: it ends at the largest value within twice the bulk's reach (see
    `_robust_high`), and the x label says how many values lie beyond and the largest one.
    `clip=False` spans every value. Returns the Figure.
    """
    import numpy as np

    frame = _frame(timings)
    _column(frame, column)
    pieces = _groups(frame, column, by)
    figure, axes = _axes(ax, (8.5, 4.0))
    everything = np.concatenate([data for _, data in pieces])
    low = float(everything.min())
    high = _robust_high(everything) if clip else float(everything.max())
    beyond = int((everything > high).sum())
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, max(1, bins) + 1)
    for index, (label, data) in enumerate(pieces):
        color = PALETTE[index % len(PALETTE)]
        axes.hist(
            data,
            bins=edges.tolist(),
            histtype="stepfilled",
            alpha=0.35,
            color=color,
            edgecolor=color,
            linewidth=1.5,
            label=f"{label} (n={data.size}, p50 {np.median(data):.2f} ms)",
        )
    label = _unit_label(column)
    if beyond:
        label += (
            f"\n{beyond} value{'s' if beyond > 1 else ''} above {high:.3g} ms not shown"
            f" (max {everything.max():.4g} ms; clip=False shows all)"
        )
    axes.set_xlabel(label)
    axes.set_ylabel("requests")
    axes.set_title(f"{column} per {by}" if by else f"{column} distribution")
    axes.grid(True, axis="y", alpha=0.3)
    _legend_outside(axes, by)
    return figure


#: Outliers are left off the histogram's axis only when they would squeeze every other value
#: into less than this fraction of it.
SQUEEZE = 0.2


def _robust_high(values: Any) -> float:
    """Where the histogram's axis ends: at the largest value within twice the bulk's reach
    (Tukey's far fence Q3 + 3×IQR, or the p99 if further), but only when the values beyond
    would squeeze the rest into less than `SQUEEZE` of the axis; else at the maximum. So one
    stray second does not turn a millisecond distribution into a single bar, and an ordinary
    tail (a cold connection, a token request) stays on the axis."""
    import numpy as np

    top = float(values.max())
    q1, q3 = np.quantile(values, [0.25, 0.75])
    reach = max(float(q3 + 3.0 * (q3 - q1)), float(np.quantile(values, 0.99, method="lower")))
    kept = values[values <= 2.0 * reach]
    high = float(kept.max()) if kept.size else top
    return high if high < SQUEEZE * top else top


def _legend_outside(axes: Axes, title: str | None) -> None:
    """The legend to the right of the axes, where it cannot cover a curve or a bar (constrained
    layout, which our own figures use, makes room for it)."""
    axes.legend(
        title=title,
        fontsize="small",
        frameon=False,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
    )


def latency_ecdf(
    timings: Any,
    column: str = "total_ms",
    by: str | None = "endpoint",
    ax: Axes | None = None,
    log: bool = False,
) -> Figure:
    """The empirical CDF of `column` (ms) per group of `by`: one step line per group.

    Read a percentile off the y axis (0.5 = median, 0.99 = p99); `log=True` puts the
    latency axis on a log scale for long tails. Returns the Figure.
    """
    import numpy as np

    frame = _frame(timings)
    _column(frame, column)
    pieces = _groups(frame, column, by)
    figure, axes = _axes(ax, (8.5, 4.0))
    for index, (label, data) in enumerate(pieces):
        xs = np.sort(data)
        ys = np.arange(1, xs.size + 1) / xs.size
        axes.step(
            xs,
            ys,
            where="post",
            color=PALETTE[index % len(PALETTE)],
            linewidth=1.8,
            label=f"{label} (n={xs.size}, p99 {np.quantile(xs, 0.99):.2f} ms)",
        )
    if log and float(min(data.min() for _, data in pieces)) > 0:
        axes.set_xscale("log")
    axes.set_ylim(0, 1.02)
    axes.set_yticks([0, 0.25, 0.5, 0.75, 0.9, 0.99])
    axes.set_xlabel(_unit_label(column))
    axes.set_ylabel("fraction of requests ≤ x")
    axes.set_title(f"{column} ECDF per {by}" if by else f"{column} ECDF")
    axes.grid(True, alpha=0.3)
    _legend_outside(axes, by)
    return figure


def _missing(value: Any) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value))


def _phase_values(
    frame: pd.DataFrame, row: Hashable | Literal["median"] | None
) -> tuple[dict[str, float], float, str]:
    """Durations per phase (NaN: phase absent), the total, and a title."""
    import numpy as np

    if row is None or (isinstance(row, str) and row == "median"):
        phases = {}
        for phase in PHASES:
            values = frame[f"{phase}_ms"].to_numpy(dtype=np.float64)
            if phase in ("connect", "tls"):
                # a reused connection spends no time connecting: count it as 0, not as missing
                values = np.nan_to_num(values, nan=0.0)
            finite = values[np.isfinite(values)]
            phases[phase] = float(np.median(finite)) if finite.size else math.nan
        totals = frame["total_ms"].to_numpy(dtype=np.float64)
        totals = totals[np.isfinite(totals)]
        total = float(np.median(totals)) if totals.size else math.nan
        cold = int((~frame["reused_connection"].fillna(False).astype(bool)).sum())
        title = f"median phases of {len(frame)} requests ({cold} on a new connection)"
        return phases, total, title
    matches = frame[frame.index == row]
    if len(matches) != 1:
        raise ArgumentError(
            f"row {row!r} is not the index label of one request in the timings",
            hint='pass an index label (e.g. timings.index[-1] for the last request) or row="median"',
        )
    record = matches.iloc[0]
    phases = {phase: float(record[f"{phase}_ms"]) for phase in PHASES}
    total = float(record["total_ms"])
    what = f"{record.get('method', '')} {record.get('endpoint', '')}".strip()
    reused, status = record.get("reused_connection"), record.get("status")
    how = "" if _missing(reused) else "reused connection" if bool(reused) else "new connection"
    shown = "no response" if _missing(status) else f"HTTP {status}"
    title = f"{what} — {shown}" + (f", {how}" if how else "")
    return phases, total, title


def waterfall(
    timings: Any,
    row: Hashable | Literal["median"] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The phases of one exchange as a waterfall: connect, tls, send, wait, download.

    Each phase is a horizontal bar on the time axis (ms) starting where the previous one
    ended; phases that did not happen (no connect on a reused connection, no TLS over plain
    http) are left out. A grey `total` bar spans the whole exchange, so time spent outside
    the phases (connection pool, auth, the client itself) shows as its unfilled tail.

    `row`: an index label of the frame for one request, or None / "median" for the per-phase
    median of all rows (connect and TLS count as 0 for reused connections). Returns the Figure.
    """
    frame = _frame(timings)
    for name in (*(f"{p}_ms" for p in PHASES), "total_ms"):
        _column(frame, name)
    phases, total, title = _phase_values(frame, row)
    present = [(name, value) for name, value in phases.items() if value == value and value > 0]
    if not present and not total == total:
        raise DailyPayError("no phase timings to plot for this request", hint="it failed before sending")
    figure, axes = _axes(ax, (7.0, 0.9 + 0.45 * (len(present) + 1)))
    labels = [*(name for name, _ in present), "total"]
    positions = list(range(len(labels)))
    start = 0.0
    for position, (name, value) in zip(positions, present, strict=False):
        axes.barh(position, value, left=start, height=0.6, color=PHASE_COLORS[name], label=name)
        axes.annotate(
            f"{value:.2f} ms",
            (start + value, position),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
        )
        start += value
    if total == total:
        axes.barh(positions[-1], total, height=0.6, color=_OTHER_COLOR, alpha=0.5, label="total")
        axes.annotate(
            f"{total:.2f} ms",
            (total, positions[-1]),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
        )
    axes.set_yticks(positions, labels)
    axes.invert_yaxis()  # first phase on top, like a browser's network waterfall
    axes.set_xlabel("ms (phases laid end to end)")
    axes.set_title(title)
    axes.grid(True, axis="x", alpha=0.3)
    axes.margins(x=0.15)
    return figure
