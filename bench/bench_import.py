"""P6: `python -c "import dailypay_nb"` cold start against `python -c "import pandas, httpx"`
(and, P6b, against `python -c "import httpx"` alone: dailypay_nb needs httpx at import, pandas
only when a frame is built).

Each side is a fresh interpreter (`-c`, no site tweaks), run alternately many times after a
warm-up of each (so both read their files from the page cache, like any second run); the
figure is the ratio of the medians. A separate run checks that the heavy optional stacks
(ipywidgets, matplotlib, starlette, uvicorn) are not imported, and `-X importtime` lists the
largest imports of `dailypay_nb` itself beyond pandas and httpx.

    .venv/bin/python bench/bench_import.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from typing import Any

OURS = "import dailypay_nb"
BASELINE = "import pandas, httpx"
HTTPX = "import httpx"
LAZY = (
    "ipywidgets", "matplotlib", "starlette", "uvicorn", "tqdm",
    "aiohttp", "pyarrow", "pandas", "numpy", "stamina",
)  # fmt: skip
MUST_BE_LAZY = ("ipywidgets", "matplotlib", "starlette", "uvicorn", "aiohttp", "pyarrow", "pandas", "numpy")


HERE = os.path.dirname(os.path.abspath(__file__))


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    """This venv's python in the bench folder (so `-c` cannot pick up a stray module)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAILYPAY_")}
    return subprocess.run(
        [sys.executable, *args], check=True, capture_output=True, text=True, env=env, cwd=HERE
    )


def _once(code: str) -> float:
    started = time.perf_counter()
    _python("-c", code)
    return (time.perf_counter() - started) * 1000.0


def loaded(code: str = OURS) -> dict[str, bool]:
    """Which of LAZY are in sys.modules after `code` in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {LAZY!r} if m in sys.modules))"
    out = _python("-c", probe).stdout.split()
    return {name: name in out for name in LAZY}


def importtime(top: int = 12) -> list[tuple[float, str]]:
    """The slowest cumulative imports (ms) under `import dailypay_nb` not already in the baseline."""
    result = _python("-X", "importtime", "-c", f"{BASELINE}; {OURS}")
    rows: list[tuple[float, str]] = []
    seen_baseline = False
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if not match:
            continue
        cumulative, depth, name = int(match.group(2)), len(match.group(3)), match.group(4)
        if name == "httpx" and depth == 1:
            seen_baseline = True  # everything after this line is what dailypay_nb adds
            continue
        if seen_baseline:
            rows.append((cumulative / 1000.0, ("  " * ((depth - 1) // 2)) + name))
    return sorted(rows, reverse=True)[:top]


def run(quick: bool = False) -> dict[str, Any]:
    rounds = 7 if quick else 21
    _once(OURS)
    _once(BASELINE)
    _once(HTTPX)
    ours: list[float] = []
    base: list[float] = []
    alone: list[float] = []
    ratios: list[float] = []
    httpx_ratios: list[float] = []
    for index in range(rounds):
        if index % 2 == 0:
            a, b, c = _once(OURS), _once(BASELINE), _once(HTTPX)
        else:
            c, b, a = _once(HTTPX), _once(BASELINE), _once(OURS)
        ours.append(a)
        base.append(b)
        alone.append(c)
        ratios.append(a / b)
        httpx_ratios.append(a / c)
    modules = loaded()
    q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    return {
        "value": statistics.median(ours),
        "baseline": statistics.median(base),
        "ratio": statistics.median(ours) / statistics.median(base),
        "ratio_q1": q1,
        "ratio_q3": q3,
        "httpx_ms": statistics.median(alone),
        "httpx_ratio": statistics.median(httpx_ratios),
        "httpx_ratio_iqr": statistics.quantiles(httpx_ratios, n=4, method="inclusive")[::2],
        "rounds": rounds,
        "loaded": modules,
        "lazy_ok": not any(modules[name] for name in MUST_BE_LAZY),
        "importtime": importtime(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    result = run(quick=parser.parse_args().quick)
    print(
        f"{OURS!r}: {result['value']:.0f} ms   {BASELINE!r}: {result['baseline']:.0f} ms   "
        f"ratio {result['ratio']:.3f} (per-pair IQR {result['ratio_q1']:.3f}-{result['ratio_q3']:.3f})"
    )
    print(f"{HTTPX!r}: {result['httpx_ms']:.0f} ms   ratio {result['httpx_ratio']:.3f}")
    print("imported by `import dailypay_nb`:", result["loaded"])
    print("largest imports beyond pandas + httpx (cumulative ms):")
    for ms, name in result["importtime"]:
        print(f"  {ms:7.1f}  {name}")


if __name__ == "__main__":
    main()
