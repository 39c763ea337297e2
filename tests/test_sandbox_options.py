"""Sandbox options and fault rules are defined once; start(), the CLI, inject() and admin use them."""

from __future__ import annotations

import dataclasses
import inspect

import httpx
import pytest

from dailypay_nb import sandbox as sb
from dailypay_nb.sandbox._cli import CLI_DEFAULTS, parser


def _names(func: object) -> list[str]:
    return [p for p in inspect.signature(func).parameters if p != "self"]  # type: ignore[arg-type]


def test_start_takes_exactly_the_option_fields() -> None:
    """start()'s keywords and defaults are SandboxOptions'; the handle keeps the options."""
    fields = {f.name: f.default for f in dataclasses.fields(sb.SandboxOptions)}
    params = inspect.signature(sb.start).parameters
    assert {n: p.default for n, p in params.items()} == fields
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    with sb.start(seed=4, token_ttl=90, size=9) as h:
        assert h.options == sb.SandboxOptions(seed=4, token_ttl=90, size=9)
        assert h.token_ttl == 90
        assert len(h.data.person_ids) == 9


@pytest.mark.parametrize(
    ("options", "error"),
    [({"colour": "red"}, TypeError), ({"token_ttl": 0}, ValueError), ({"size": "huge"}, ValueError),
     ({"latency_ms": -1}, ValueError), ({"size": "0"}, ValueError)],
)  # fmt: skip
def test_bad_options_fail_before_anything_starts(options: dict[str, object], error: type) -> None:
    with pytest.raises(error):
        sb.start(**options)  # type: ignore[arg-type]


def test_command_line_has_one_flag_per_option() -> None:
    """Every option a shell can spell is a flag, with start()'s default unless CLI_DEFAULTS says."""
    cli_fields = [f for f in dataclasses.fields(sb.SandboxOptions) if f.metadata["cli"]]
    parsed = vars(parser().parse_args([]))
    assert list(parsed) == [f.name for f in cli_fields]
    for f in cli_fields:
        assert parsed[f.name] == CLI_DEFAULTS.get(f.name, f.default)
    args = parser().parse_args(["--latency-ms", "1.5", "--size", "30", "--error-code-field", "--seed", "2"])
    options = sb.SandboxOptions(**vars(args))
    assert (options.latency_ms, options.size, options.error_code_field, options.seed) == (1.5, "30", True, 2)


def test_inject_takes_exactly_the_fault_fields(sandbox: sb.Sandbox) -> None:
    """inject()'s parameters are FaultSpec's fields; an unknown keyword is a TypeError."""
    assert _names(sb.Sandbox.inject) == [f.name for f in dataclasses.fields(sb.FaultSpec)]
    with pytest.raises(TypeError):
        sandbox.inject("/rest", colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="prefix"):
        sandbox.inject("rest", status=500)
    assert sandbox.faults() == []


def test_admin_faults_take_every_fault_field(fresh_sandbox: sb.Sandbox) -> None:
    """POST /_sandbox/faults takes the same fields as inject(), all of them, and nothing else."""
    full = {
        "prefix": "/rest/health", "status": 503, "body": {"errors": []}, "headers": {"Retry-After": "1"},
        "content_type": "application/vnd.api+json", "times": 1, "rate": 1.0, "delay_ms": 0,
        "jitter_ms": 0, "drop": False, "malformed": False, "method": "GET",
    }  # fmt: skip
    assert set(full) == {f.name for f in dataclasses.fields(sb.FaultSpec)}
    url = f"{fresh_sandbox.url}/_sandbox/faults"
    assert httpx.post(url, json=full).status_code == 200
    bearer = {"Authorization": f"Bearer {fresh_sandbox.client_token()}"}
    health = httpx.get(f"{fresh_sandbox.url}/rest/health", headers=bearer)
    assert (health.status_code, health.headers["retry-after"]) == (503, "1")
    assert httpx.post(url, json={**full, "colour": "red"}).status_code == 400
    assert httpx.post(url, json={"status": 500}).status_code == 400  # no prefix
