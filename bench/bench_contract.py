"""What `connect(validate=True)` costs per 100-record list response (goal: ≤ 1 ms).

The responses are the sandbox's own: a sandbox of 88 people (seed 0) answers listJobs with
exactly 100 jobs; 100 accounts, transfers and paychecks are gathered from its people's own
lists (each person's user token), since one person holds only a few. The sandbox runs in its
own process (`bench_client.RemoteSandbox`).

Three figures per resource type, medians of interleaved rounds:
- `validate_ms`: the schema check of a parsed body: what a session adds when the body is read
  anyway (helpers build a frame from it; the check shares the parse);
- `check_ms`: the whole answer check from the raw bytes, parse included: the cost when nothing
  else reads the body;
- `parse_ms`: `json.loads` alone, for scale.
Then end to end: `session.get("/rest/jobs").json()` with validation on and off, alternating
blocks, CPU time of the calling thread (the server's work is in another process); the
difference is the headline figure. `first_ms` is the first check of a process, which parses
the document and compiles the schema. `alternatives`: the listJobs check with `jsonschema` and
`fastjsonschema` too, when installed (how the validator was chosen).

    .venv/bin/python bench/bench_contract.py [--quick]
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_client import RemoteSandbox, spread

from dailypay_nb import sandbox as sb

GOAL_MS = 1.0
PEOPLE = 88  # with seed 0: exactly 100 jobs
RECORDS = 100
JSONAPI = "application/vnd.api+json"
LISTS = {"accounts": "listAccounts", "transfers": "listTransfers", "paychecks": "listPaychecks"}


def _bodies(box: RemoteSandbox) -> dict[str, dict[str, Any]]:
    """100 real records of each list operation, as the parsed body of a list answer."""
    with box.connect() as session:
        jobs = session.get("/rest/jobs").json()
        if len(jobs["data"]) < RECORDS:
            raise RuntimeError(f"the sandbox listed {len(jobs['data'])} jobs, not {RECORDS}")
        out = {"jobs": {**jobs, "data": jobs["data"][:RECORDS]}}
        gathered: dict[str, list[Any]] = {kind: [] for kind in LISTS}
        people = dict.fromkeys(job["relationships"]["person"]["data"]["id"] for job in jobs["data"])
        for person in people:
            if all(len(found) >= RECORDS for found in gathered.values()):
                break
            user = sb.as_user(session, person)
            for kind, found in gathered.items():
                if len(found) < RECORDS:
                    found += user.get(f"/rest/{kind}").json()["data"]
    for kind, found in gathered.items():
        if len(found) < RECORDS:
            raise RuntimeError(f"only {len(found)} {kind} in the sandbox, not {RECORDS}")
        out[kind] = {"data": found[:RECORDS]}
    return out


def _median_ms(call: Callable[[], Any], n: int) -> float:
    clock = time.perf_counter
    times = []
    for _ in range(n):
        started = clock()
        call()
        times.append((clock() - started) * 1000.0)
    return statistics.median(times)


def micro(bodies: dict[str, dict[str, Any]], quick: bool) -> dict[str, Any]:
    """validate / check / parse per resource type, interleaved round by round."""
    from dailypay_nb._contract_checks import response_violations
    from dailypay_nb._contract_document import spec_of

    rounds, n = (3, 40) if quick else (7, 150)
    started = time.perf_counter()
    spec = spec_of("listJobs")
    raw = json.dumps(bodies["jobs"]).encode()
    found = response_violations(spec, 200, JSONAPI, raw, functools.partial(json.loads, raw))
    first_ms = (time.perf_counter() - started) * 1000.0
    results: dict[str, Any] = {}
    cases = {}
    for kind, body in bodies.items():
        spec = spec_of(LISTS.get(kind, "listJobs"))
        raw = json.dumps(body).encode()
        found = response_violations(spec, 200, JSONAPI, raw, lambda body=body: body)
        if found:
            raise RuntimeError(f"the sandbox's {kind} break the contract: {found[0].describe()}")
        cases[kind] = (spec, raw, body)
        results[kind] = {"validate_ms": [], "check_ms": [], "parse_ms": [], "bytes": len(raw)}
    for _ in range(rounds):
        for kind, (spec, raw, body) in cases.items():
            r = results[kind]
            r["validate_ms"].append(
                _median_ms(
                    lambda s=spec, r=raw, b=body: response_violations(s, 200, JSONAPI, r, lambda: b), n
                )
            )
            r["check_ms"].append(
                _median_ms(
                    lambda s=spec, r=raw: response_violations(
                        s, 200, JSONAPI, r, functools.partial(json.loads, r)
                    ),
                    n,
                )
            )
            r["parse_ms"].append(_median_ms(lambda r=raw: json.loads(r), n))
    summary = {
        kind: {
            "validate_ms": statistics.median(r["validate_ms"]),
            "check_ms": statistics.median(r["check_ms"]),
            "parse_ms": statistics.median(r["parse_ms"]),
            "bytes": r["bytes"],
        }
        for kind, r in results.items()
    }
    return {"by_type": summary, "first_ms": first_ms, "rounds": rounds, "n": n}


def alternatives(body: dict[str, Any], quick: bool) -> dict[str, float | None]:
    """The same listJobs check with each candidate validator, ms (None: not installed).

    Each gets the same root schema (the response schema beside the document's components) and
    asserts formats where it can. fastjsonschema knows draft 7 at most, where a `$ref` hides
    the keywords beside it.
    """
    from dailypay_nb._contract_document import document, spec_of

    schema = spec_of("listJobs").responses["200"][JSONAPI]
    root = {**schema, "components": {"schemas": document().schemas}}
    n = 3 if quick else 10
    out: dict[str, float | None] = {}
    validator = document().validator(schema, request=False)
    out["jsonschema-rs"] = _median_ms(lambda: validator.is_valid(body), n * 20)
    try:
        import jsonschema

        slow = jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())
        out["jsonschema"] = _median_ms(lambda: slow.is_valid(body), n)
    except ImportError:
        out["jsonschema"] = None
    try:
        import fastjsonschema

        fast = fastjsonschema.compile({**root, "$schema": "http://json-schema.org/draft-07/schema#"})
        out["fastjsonschema"] = _median_ms(lambda: fast(body), n * 5)
    except ImportError:
        out["fastjsonschema"] = None
    return out


def end_to_end(box: RemoteSandbox, quick: bool) -> dict[str, Any]:
    """CPU ms per `session.get('/rest/jobs').json()`, validate on vs off, alternating blocks."""
    blocks, block = (6, 20) if quick else (20, 25)
    clock = time.thread_time
    with box.connect() as off, box.connect(validate=True) as on:
        samples: dict[str, list[float]] = {"on": [], "off": []}
        for s in (on, off):
            for _ in range(10):  # warm-up: connection, token, compiled schemas
                s.get("/rest/jobs").json()
        for index in range(blocks):
            order = [("on", on), ("off", off)]
            for name, s in order if index % 2 == 0 else reversed(order):
                started = clock()
                for _ in range(block):
                    s.get("/rest/jobs").json()
                samples[name].append((clock() - started) * 1000.0 / block)
        if not on.contract_violations.empty:
            raise RuntimeError("the sandbox's listJobs broke the contract during the run")
    a, b = spread(samples["on"]), spread(samples["off"])
    diffs = [x - y for x, y in zip(samples["on"], samples["off"], strict=True)]
    return {
        "on_ms": a["median"],
        "off_ms": b["median"],
        "added_ms": statistics.median(diffs),
        "added": spread(diffs),
        "requests": blocks * block,
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Every figure; `value` is the CPU validation adds per 100-record list response, in ms."""
    with RemoteSandbox(size=PEOPLE, seed=0) as box:
        bodies = _bodies(box)
        measured = micro(bodies, quick)
        e2e = end_to_end(box, quick)
    candidates = alternatives(bodies["jobs"], quick)
    worst = max(measured["by_type"].values(), key=lambda r: r["check_ms"])
    value = max(e2e["added_ms"], max(r["validate_ms"] for r in measured["by_type"].values()))
    return {
        "value": value,
        "goal_ms": GOAL_MS,
        "ok": value <= GOAL_MS and worst["check_ms"] <= GOAL_MS,
        "worst_check_ms": worst["check_ms"],
        "end_to_end": e2e,
        "alternatives": candidates,
        **measured,
        "validator": f"jsonschema-rs {_version('jsonschema_rs')}",
    }


def _version(name: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    r = run(parser.parse_args().quick)
    print(f"validator: {r['validator']}; first check of the process {r['first_ms']:.1f} ms")
    print(f"{'type':<10} {'bytes':>7} {'validate ms':>12} {'check ms':>9} {'parse ms':>9}")
    for kind, row in r["by_type"].items():
        print(
            f"{kind:<10} {row['bytes']:>7} {row['validate_ms']:>12.3f} {row['check_ms']:>9.3f} "
            f"{row['parse_ms']:>9.3f}"
        )
    e = r["end_to_end"]
    print(
        f"session.get('/rest/jobs').json(), CPU per request: validate on {e['on_ms']:.3f} ms, off "
        f"{e['off_ms']:.3f} ms, added {e['added_ms']:.3f} ms "
        f"(IQR {e['added']['q1']:.3f}–{e['added']['q3']:.3f}, {e['requests']} requests each)"
    )
    shown = ", ".join(
        f"{name} {ms:.3f} ms" if ms is not None else f"{name} not installed"
        for name, ms in r["alternatives"].items()
    )
    print(f"listJobs (100 records), schema check alone, by validator: {shown}")
    verdict = "pass" if r["ok"] else "FAIL"
    print(f"validation cost per {RECORDS}-record list response: {r['value']:.3f} ms (goal ≤ {GOAL_MS} ms)")
    print(verdict)
    sys.exit(0 if r["ok"] else 1)


if __name__ == "__main__":
    main()
