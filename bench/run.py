"""Every figure of the performance issue (P1–P7), against its baseline in the same run.

    .venv/bin/python bench/run.py            # the full run: a few minutes on 2 cores
    .venv/bin/python bench/run.py --quick    # a smoke run with smaller samples (~1 minute)
    .venv/bin/python bench/run.py --only P1 P5 --no-write

Starts its own sandbox (in a child process, so client and server do not share a GIL), runs
each figure with the two sides interleaved, prints a table (figure, measured, baseline, ratio,
goal, pass/fail, spread) and rewrites bench/RESULTS.md with the figures, the machine and the
date. The hand-written notes at the end of RESULTS.md (after the `notes` marker) are kept.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_client  # noqa: E402
import bench_import  # noqa: E402
import bench_overhead  # noqa: E402
import bench_throughput  # noqa: E402
import bench_timings  # noqa: E402

RESULTS = HERE / "RESULTS.md"
NOTES_MARKER = "<!-- notes: everything below is kept when bench/run.py rewrites this file -->"
PACKAGES = (
    "dailypay_nb",
    "httpx",
    "httpcore",
    "h11",
    "pandas",
    "numpy",
    "stamina",
    "sniffio",
    "tqdm",
    "matplotlib",
    "starlette",
    "uvicorn",
    "aiohttp",
    "pyarrow",
)

#: The figures of the run before the open-model bench and the compact timings
#: (bench/RESULTS.md of 2026-11-29, and the issue's own measurements where that had none).
BEFORE = {
    "P1": "0.914",
    "P1-cpu": "+51.5 µs",
    "P2": "1.205 (1014 req/s)",
    "P2b": "—",
    "P5": "111.8 ms",
    "P5-bytes": "440 / ~440",
    "P6": "0.519",
    "P6b": "—",
    "P8": "≈0.05–0.07 (≈570 req/s)",
}


@dataclass
class Row:
    """One line of the table."""

    figure: str
    measure: str
    measured: str
    baseline: str
    ratio: str
    goal: str
    ok: bool | None  # None: not available
    spread: str = ""
    before: str = ""


def _f(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def _optional(module: str, quick: bool) -> dict[str, Any] | None:
    """`run(quick)` of a bench module another engineer owns, or None if it is not there."""
    try:
        return importlib.import_module(module).run(quick=quick)  # type: ignore[no-any-return]
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


def measure(quick: bool, only: set[str]) -> tuple[list[Row], dict[str, Any]]:
    """Run the selected figures; return the table rows and the raw results."""
    raw: dict[str, Any] = {}
    rows: list[Row] = []

    def want(name: str) -> bool:
        return not only or name in only

    def step(name: str, fn: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        print(f"[{name}] running…", file=sys.stderr, flush=True)
        try:
            result = fn()
        except Exception:
            traceback.print_exc()
            result = {"error": traceback.format_exc(limit=2).strip().splitlines()[-1]}
        raw[name] = result
        print(f"[{name}] {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
        return result

    if want("P1") or want("P2") or want("P3") or want("P4"):
        with bench_client.RemoteSandbox() as box:
            if want("P1"):
                r = step("P1", lambda: bench_client.p1_latency(box, quick))
                rows.append(
                    _ratio_row("P1", "session.get latency, ms (median)", r, "≤ 1.05×", 1.05, max_=True)
                )
            if want("P2"):
                r = step("P2", lambda: bench_client.p2_throughput(box, quick))
                rows.append(
                    _ratio_row(
                        "P2",
                        "session.bench c=16 vs httpx + Semaphore(16), req/s",
                        r,
                        "≥ 0.90×",
                        0.90,
                        max_=False,
                    )
                )
                if "workers" in r:
                    same = {
                        **r,
                        "baseline": r["workers"]["median"],
                        "ratio": r["worker_ratios"]["median"],
                        "spread_text": f"per-round ratio IQR {_f(r['worker_ratios']['q1'], 3)}–"
                        f"{_f(r['worker_ratios']['q3'], 3)}",
                    }
                    rows.append(
                        _ratio_row(
                            "P2b",
                            "session.bench c=16 vs httpx, 16 workers, req/s",
                            same,
                            "≥ 0.90×",
                            0.90,
                            max_=False,
                        )
                    )
            if want("P3"):
                r = step("P3", lambda: bench_client.p3_wait_accuracy(box, quick))
                rows += _p3_rows(r)
            if want("P4"):
                r = step("P4", lambda: bench_client.p4_single_flight(box, quick))
                rows.append(_p4_row(r))
    if want("P1"):
        r = step("P1-cpu", lambda: bench_overhead.run(quick))
        rows.append(
            Row(
                "P1-cpu",
                "toolkit CPU per request over tuned raw httpx, µs",
                f"{r['value']:+.1f}" if "value" in r else "error",
                "—",
                "—",
                "≤ 30 µs",
                r.get("value", 1e9) <= 30,
                f"recording {r['recording_us']:+.1f} µs, the rest of the session layer "
                f"{r['value'] - r['recording_us']:+.1f} µs"
                if "value" in r
                else r.get("error", ""),
            )
        )
    if want("P5"):
        r = step("P5", lambda: bench_timings.run(quick))
        rows.append(
            Row(
                "P5",
                "session.timings, 100 000 rows, ms",
                _f(r["value"], 1) if "value" in r else "error",
                "—",
                "—",
                "≤ 40 ms",
                r.get("value", 1e9) <= 40,
                f"IQR {_f(r['q1'], 1)}–{_f(r['q3'], 1)}" if "q1" in r else r.get("error", ""),
            )
        )
        if "frame_bytes_per_row" in r:
            frame, kept = r["frame_bytes_per_row"], r["recorder_bytes_per_row"]
            u = r["unique_urls"]
            rows.append(
                Row(
                    "P5-bytes",
                    "bytes per timing row: frame / recorder",
                    f"{frame:.0f} / {kept:.0f}",
                    "—",
                    "—",
                    "≤ 150 each",
                    frame <= 150 and kept <= 150,
                    f"every URL unique: {u['frame_bytes_per_row']:.0f} / {u['recorder_bytes_per_row']:.0f}, "
                    f"built in {u['value']:.1f} ms",
                )
            )
    if want("P5b"):
        r = step("P5b", lambda: _optional("bench_frames", quick))
        rows.append(
            _ratio_row(
                "P5b",
                "10 000 JSON:API records → frame, ms",
                _renamed(r, "ours_ms", "json_normalize_ms"),
                "≤ 1.5×",
                1.5,
                max_=True,
            )
        )
    if want("P6"):
        r = step("P6", lambda: bench_import.run(quick))
        row = _ratio_row("P6", "import dailypay_nb, ms (median)", r, "≤ 1.15×, lazy", 1.15, max_=True)
        if "loaded" in r:
            row.ok = bool(row.ok and r["lazy_ok"])
            eager = [name for name in bench_import.MUST_BE_LAZY if r["loaded"][name]]
            row.spread += "; lazy: " + ("yes" if not eager else "NO: " + ", ".join(eager))
        rows.append(row)
        if "httpx_ratio" in r:
            low, high = r["httpx_ratio_iqr"]
            rows.append(
                Row(
                    "P6b",
                    "import dailypay_nb vs import httpx alone, ms (median)",
                    _f(r["value"], 1),
                    _f(r["httpx_ms"], 1),
                    _f(r["httpx_ratio"], 3),
                    "shown",
                    None,
                    f"per-triple ratio IQR {_f(low, 3)}–{_f(high, 3)}",
                )
            )
    if want("P7"):
        r = step("P7", lambda: _optional("bench_sandbox", quick))
        rows.append(
            _ratio_row(
                "P7",
                "sandbox /rest/health, req/s",
                _renamed(r, "sandbox_rps", "baseline_rps", spread=("ratio_min", "ratio_max")),
                "≥ 0.7×",
                0.7,
                max_=False,
            )
        )
    if want("P8"):
        r = step("P8", lambda: bench_throughput.run(quick))
        row = _ratio_row(
            "P8", "session.bench c=16 vs raw aiohttp, minimal server, req/s", r, "≥ 0.5×", 0.5, max_=False
        )
        if "cpu_us" in r:
            row.spread += f"; bench CPU {r['cpu_us']:.0f} µs/request"
        rows.append(row)
    for row in rows:
        row.before = BEFORE.get(row.figure, "")
    return rows, raw


def _renamed(
    r: dict[str, Any] | None, value: str, baseline: str, spread: tuple[str, str] | None = None
) -> dict[str, Any] | None:
    if r is None or "error" in r:
        return r
    out = {**r, "value": r[value], "baseline": r[baseline]}
    if spread:
        out["spread_text"] = f"ratio range {_f(r[spread[0]], 3)}–{_f(r[spread[1]], 3)}"
    return out


def _ratio_row(
    figure: str, measure: str, r: dict[str, Any] | None, goal: str, limit: float, max_: bool
) -> Row:
    if r is None:
        return Row(figure, measure, "not available", "—", "—", goal, None)
    if "error" in r:
        return Row(figure, measure, "error", "—", "—", goal, False, str(r["error"])[:80])
    ratio = r["ratio"]
    ok = ratio <= limit if max_ else ratio >= limit
    if "spread_text" in r:
        spread = r["spread_text"]
    elif "ratios" in r:
        spread = f"per-round ratio IQR {_f(r['ratios']['q1'], 3)}–{_f(r['ratios']['q3'], 3)}"
    elif "ratio_q1" in r:
        spread = f"per-pair ratio IQR {_f(r['ratio_q1'], 3)}–{_f(r['ratio_q3'], 3)}"
    elif "ours" in r:
        spread = (
            f"IQR ours {_f(r['ours']['q1'], 3)}–{_f(r['ours']['q3'], 3)}, "
            f"raw {_f(r['raw']['q1'], 3)}–{_f(r['raw']['q3'], 3)}"
        )
    else:
        spread = ""
    digits = 3 if r["value"] < 10 else 1
    return Row(
        figure, measure, _f(r["value"], digits), _f(r["baseline"], digits), _f(ratio, 3), goal, ok, spread
    )


def _p3_rows(r: dict[str, Any]) -> list[Row]:
    if "error" in r:
        return [Row("P3", "wait_ms with 50 ms injected", "error", "—", "—", "≤ 1 ms", False, r["error"])]
    ours = r["ours"]
    return [
        Row(
            "P3a",
            "median wait_ms − 50 ms injected, ms",
            _f(r["error_vs_delay"], 3),
            _f(r["delay_ms"], 1),
            "—",
            "≤ 1 ms",
            r["error_vs_delay"] <= 1.0,
            f"wait_ms median {_f(ours['median'], 3)}, IQR {_f(ours['q1'], 3)}–{_f(ours['q3'], 3)}",
        ),
        Row(
            "P3b",
            "median wait_ms vs curl starttransfer − pretransfer, ms",
            _f(r["diff_vs_curl"], 3),
            _f(r["curl"], 3),
            "—",
            "≤ 0.5 ms",
            r["diff_vs_curl"] <= 0.5,
            f"curl IQR {_f(r['curl_spread']['q1'], 3)}–{_f(r['curl_spread']['q3'], 3)}; "
            f"send+wait vs curl {_f(r['send_wait_diff_vs_curl'], 3)}",
        ),
    ]


def _p4_row(r: dict[str, Any]) -> Row:
    if "error" in r:
        return Row("P4", "token requests (single flight)", "error", "—", "—", "1 each", False, r["error"])
    shown = f"{r['sequential']} / {r['threads']} / {r['tasks']}"
    return Row(
        "P4",
        f"token requests: {r['calls']} calls / {r['width']} threads / {r['width']} tasks",
        shown,
        "—",
        "—",
        "exactly 1 each",
        r["sequential"] == r["threads"] == r["tasks"] == 1,
    )


# -- output -------------------------------------------------------------------------------------


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "pass" if ok else "FAIL"


def table(rows: list[Row], markdown: bool) -> str:
    head = ("#", "measure", "measured", "baseline", "ratio", "before", "goal", "result", "spread")
    cells = [
        (r.figure, r.measure, r.measured, r.baseline, r.ratio, r.before, r.goal, _verdict(r.ok), r.spread)
        for r in rows
    ]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in column) for column in zip(head, *cells, strict=True)]
    widths[-1] = 0  # the spread column is last and free-form
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*line).rstrip() for line in (head, *cells))


def machine() -> dict[str, str]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        curl = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split()[1]
    except (OSError, IndexError):
        curl = "not installed"
    info = {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "curl": curl,
    }
    for name in PACKAGES:
        try:
            info[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            info[name] = "not installed"
    return info


def details(raw: dict[str, Any]) -> list[str]:
    """Supporting numbers under the table."""
    out: list[str] = []
    if "P1-cpu" in raw and "us" in raw["P1-cpu"]:
        r = raw["P1-cpu"]
        base = r["us"]["raw"]
        out.append(
            "**P1, CPU per request with the network taken out** (`bench/bench_overhead.py`: an "
            "in-memory httpcore backend, CPU time of the calling thread, median of "
            f"{r['rounds']} interleaved blocks of {r['block']}):"
        )
        out.append("")
        out.append("| layer | µs/request | vs raw |")
        out.append("|---|---|---|")
        for name, value in r["us"].items():
            out.append(f"| {name} | {value:.1f} | {value - base:+.1f} |")
        out.append("")
        if "raw, tuned" in r["us"]:
            tuned = r["us"]["raw, tuned"]
            out.append(
                f"Against `raw, tuned` (httpx with the same two shortcuts) `session.get` adds "
                f"{r['us']['session.get'] - tuned:+.1f} µs: what the toolkit itself costs per request "
                "(auth, timing row, request building, `ApiResponse`); "
                f"{r['recording_us']:+.1f} µs of it is the recording (`session.get` − `session.get, "
                "unrecorded`)."
            )
            out.append("")
    if "P2" in raw and "ours" in raw["P2"]:
        r = raw["P2"]
        out.append(
            f"**P2**: {r['rounds']} interleaved rounds of {r['n']} requests; req/s ours "
            f"{r['ours']['median']:.0f} (IQR {r['ours']['q1']:.0f}–{r['ours']['q3']:.0f}), raw "
            f"{r['raw']['median']:.0f} (IQR {r['raw']['q1']:.0f}–{r['raw']['q3']:.0f})"
            + (
                f", raw with 16 workers {r['workers']['median']:.0f} "
                f"(IQR {r['workers']['q1']:.0f}–{r['workers']['q3']:.0f})."
                if "workers" in r
                else "."
            )
        )
        out.append("")
    if "P3" in raw and "curl" in raw["P3"]:
        r = raw["P3"]
        out.append(
            f"**P3**: {r['n']} requests each side in alternating blocks; ours wait_ms median "
            f"{r['ours']['median']:.3f} ms, send_ms + wait_ms {r['ours_send_wait']['median']:.3f} ms; "
            f"curl starttransfer − pretransfer {r['curl']:.3f} ms (curl's pretransfer, which "
            f"includes its connect, was {r['curl_pretransfer_ms']['median']:.3f} ms)."
        )
        out.append("")
    if "P5" in raw and "value" in raw["P5"]:
        r = raw["P5"]
        out.append(
            f"**P5**: median of {r['repeats']} builds; the recorder snapshot is "
            f"{r['snapshot_ms']:.2f} ms of it; the frame holds {r['memory_mb']:.0f} MB. Rows as "
            f"`bench_timings.realistic_row` makes them: URLs naming one of {r.get('ids', 1000):,} records, "
            "a unique X-Request-Id each."
        )
        out.append("")
    if "P8" in raw and "others" in raw["P8"]:
        r = raw["P8"]
        others = ", ".join(f"{name} {value:.0f}" for name, value in r["others"].items())
        o = r["open"]
        out.append(
            f"**P8**: {r['rounds']} alternating rounds of {r['n']} requests, 16 in flight, against "
            f"`bench/minimal_server.py` in another process: session.bench {r['value']:.0f} req/s, raw "
            f"aiohttp {r['baseline']:.0f} req/s; for context (req/s): {others}. session.bench's own "
            f"CPU {r['cpu_us']:.0f} µs a request; it reported itself client-limited in "
            f"{r['client_limited_rounds']} of {r['rounds']} rounds (it is: the server is faster). Open "
            f"model at {o['target']:.0f} req/s: achieved {o['achieved']:.1f} req/s, start lateness p99 "
            f"{o['lateness_p99_ms']:.2f} ms, {o['late']} late, {o['dropped']} dropped, "
            f"{o['cpu_us']:.0f} µs of CPU a request."
        )
        out.append("")
    if "P5b" in raw and raw["P5b"] and "by_type" in raw["P5b"]:
        parts = [f"{k} {v['ratio']:.2f}×" for k, v in raw["P5b"]["by_type"].items()]
        out.append("**P5b** by resource type (ours / json_normalize): " + ", ".join(parts) + ".")
        out.append("")
    if "P6" in raw and "importtime" in raw["P6"]:
        r = raw["P6"]
        loaded = ", ".join(f"{k} {'loaded' if v else 'not loaded'}" for k, v in r["loaded"].items())
        out.append(
            f"**P6**: {r['rounds']} interleaved pairs of fresh interpreters. After the import: {loaded}."
        )
        out.append(
            "Largest imports `dailypay_nb` adds beyond pandas and httpx (`-X importtime`, cumulative):"
        )
        out.append("")
        out += [f"    {ms:7.1f} ms  {name}" for ms, name in r["importtime"]]
        out.append("")
    return out


DEFAULT_NOTES = """
## Notes

(Write what dominated each missed goal and what changed here; bench/run.py keeps this section.)
"""


def write_results(rows: list[Row], raw: dict[str, Any], quick: bool, seconds: float) -> None:
    notes = DEFAULT_NOTES
    if RESULTS.exists():
        text = RESULTS.read_text()
        if NOTES_MARKER in text:
            notes = text.split(NOTES_MARKER, 1)[1]
    info = machine()
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    passed = sum(1 for r in rows if r.ok)
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `python bench/run.py{' --quick' if quick else ''}` on {now} in {seconds:.0f} s "
        f"({passed} of {len(rows)} goals met). Medians; spread as interquartile range (IQR).",
        "",
        table(rows, markdown=True),
        "",
        f"Machine: {info['cores']} cores, {info['cpu']}, {info['platform']}, {info['python']}, "
        f"curl {info['curl']}.",
        "Libraries: " + ", ".join(f"{name} {info[name]}" for name in PACKAGES) + ".",
        "",
        *details(raw),
        NOTES_MARKER,
    ]
    RESULTS.write_text("\n".join(lines) + notes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller samples: a smoke run")
    parser.add_argument("--only", nargs="+", metavar="P", help="P1 P2 P3 P4 P5 P5b P6 P7 P8")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite bench/RESULTS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    rows, raw = measure(args.quick, {name.upper().replace("P5B", "P5b") for name in args.only or []})
    seconds = time.perf_counter() - started
    print()
    print(table(rows, markdown=False))
    for line in details(raw):
        print(line)
    if not args.no_write:
        write_results(rows, raw, args.quick, seconds)
        print(f"\nwrote {RESULTS.relative_to(HERE.parent)}")
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
