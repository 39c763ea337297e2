"""HAR 1.2 export and import against the real sandbox.

The export is checked three ways: against a JSON Schema of HAR 1.2 written here from the
specification (http://www.softwareishard.com/blog/har-12-spec/), by a third-party reader
(`haralyzer`, from the package index), and by reading it back with `dp.read_har`, which must
give `session.timings` again. Credentials never appear in it; headers are kept for a bounded
number of exchanges.
"""

from __future__ import annotations

import base64
import functools
import json
import math
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest
from haralyzer import HarParser

import dailypay_nb as dp
from dailypay_nb._har import HAR_EXCHANGES, ExchangeStore
from dailypay_nb._secret import MASK

# --- HAR 1.2 as a JSON Schema ----------------------------------------------------------------
# Every object may carry `comment` and custom members whose names start with "_" (the spec's
# rule for extensions); anything else unknown is an error.


def _object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": {**properties, "comment": {"type": "string"}},
        "patternProperties": {"^_": {}},
        "additionalProperties": False,
    }


_STRING = {"type": "string"}
_INT = {"type": "integer"}
_SIZE = {"type": "integer", "minimum": -1}  # -1: unknown
_OPTIONAL_MS = {"type": "number", "minimum": -1}  # -1: does not apply
_MS = {"type": "number", "minimum": 0}
_DATE = {"type": "string", "format": "date-time"}
_PAIR = _object(["name", "value"], {"name": _STRING, "value": _STRING})
_COOKIE = _object(
    ["name", "value"],
    {
        "name": _STRING,
        "value": _STRING,
        "path": _STRING,
        "domain": _STRING,
        "expires": {"type": ["string", "null"]},
        "httpOnly": {"type": "boolean"},
        "secure": {"type": "boolean"},
    },
)
_POST_DATA = {
    **_object(
        ["mimeType"],
        {
            "mimeType": _STRING,
            "params": {
                "type": "array",
                "items": _object(
                    ["name"],
                    {"name": _STRING, "value": _STRING, "fileName": _STRING, "contentType": _STRING},
                ),
            },
            "text": _STRING,
        },
    ),
    "anyOf": [{"required": ["text"]}, {"required": ["params"]}],
}
_CACHE_STATE = {
    "oneOf": [
        {"type": "null"},
        _object(
            ["lastAccess", "eTag", "hitCount"],
            {"expires": _STRING, "lastAccess": _STRING, "eTag": _STRING, "hitCount": _INT},
        ),
    ]
}
HAR_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["log"],
    "properties": {
        "log": _object(
            ["version", "creator", "entries"],
            {
                "version": {"const": "1.2"},
                "creator": _object(["name", "version"], {"name": _STRING, "version": _STRING}),
                "browser": _object(["name", "version"], {"name": _STRING, "version": _STRING}),
                "pages": {
                    "type": "array",
                    "items": _object(
                        ["startedDateTime", "id", "title", "pageTimings"],
                        {
                            "startedDateTime": _DATE,
                            "id": _STRING,
                            "title": _STRING,
                            "pageTimings": _object(
                                [], {"onContentLoad": _OPTIONAL_MS, "onLoad": _OPTIONAL_MS}
                            ),
                        },
                    ),
                },
                "entries": {
                    "type": "array",
                    "items": _object(
                        ["startedDateTime", "time", "request", "response", "cache", "timings"],
                        {
                            "pageref": _STRING,
                            "startedDateTime": _DATE,
                            "time": _MS,
                            "request": _object(
                                [
                                    "method",
                                    "url",
                                    "httpVersion",
                                    "cookies",
                                    "headers",
                                    "queryString",
                                    "headersSize",
                                    "bodySize",
                                ],
                                {
                                    "method": _STRING,
                                    "url": {"type": "string", "format": "uri"},
                                    "httpVersion": _STRING,
                                    "cookies": {"type": "array", "items": _COOKIE},
                                    "headers": {"type": "array", "items": _PAIR},
                                    "queryString": {"type": "array", "items": _PAIR},
                                    "postData": _POST_DATA,
                                    "headersSize": _SIZE,
                                    "bodySize": _SIZE,
                                },
                            ),
                            "response": _object(
                                [
                                    "status",
                                    "statusText",
                                    "httpVersion",
                                    "cookies",
                                    "headers",
                                    "content",
                                    "redirectURL",
                                    "headersSize",
                                    "bodySize",
                                ],
                                {
                                    "status": _INT,
                                    "statusText": _STRING,
                                    "httpVersion": _STRING,
                                    "cookies": {"type": "array", "items": _COOKIE},
                                    "headers": {"type": "array", "items": _PAIR},
                                    "content": _object(
                                        ["size", "mimeType"],
                                        {
                                            "size": _INT,
                                            "compression": _INT,
                                            "mimeType": _STRING,
                                            "text": _STRING,
                                            "encoding": _STRING,
                                        },
                                    ),
                                    "redirectURL": _STRING,
                                    "headersSize": _SIZE,
                                    "bodySize": _SIZE,
                                },
                            ),
                            "cache": _object(
                                [], {"beforeRequest": _CACHE_STATE, "afterRequest": _CACHE_STATE}
                            ),
                            "timings": _object(
                                ["send", "wait", "receive"],
                                {
                                    "blocked": _OPTIONAL_MS,
                                    "dns": _OPTIONAL_MS,
                                    "connect": _OPTIONAL_MS,
                                    "send": _MS,
                                    "wait": _MS,
                                    "receive": _MS,
                                    "ssl": _OPTIONAL_MS,
                                },
                            ),
                            "serverIPAddress": _STRING,
                            "connection": _STRING,
                        },
                    ),
                },
            },
        )
    },
    "additionalProperties": False,
}


@functools.cache
def validator() -> Any:
    """The HAR schema's validator (jsonschema is imported here: ~2 s, which other runs need not pay)."""
    import jsonschema

    return jsonschema.Draft202012Validator(HAR_SCHEMA, format_checker=jsonschema.FormatChecker())


def validate(har: dict[str, Any]) -> None:
    errors = sorted(validator().iter_errors(har), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def test_the_schema_catches_what_the_spec_forbids() -> None:
    """The schema is strict: a wrong HAR fails it (so a pass means something)."""
    good = {
        "log": {
            "version": "1.2",
            "creator": {"name": "x", "version": "1"},
            "entries": [
                {
                    "startedDateTime": "2026-03-02T10:00:00.123Z",
                    "time": 1.5,
                    "request": {
                        "method": "GET",
                        "url": "https://a.example/x",
                        "httpVersion": "HTTP/1.1",
                        "cookies": [],
                        "headers": [],
                        "queryString": [],
                        "headersSize": -1,
                        "bodySize": 0,
                    },
                    "response": {
                        "status": 200,
                        "statusText": "OK",
                        "httpVersion": "HTTP/1.1",
                        "cookies": [],
                        "headers": [],
                        "content": {"size": 0, "mimeType": "text/plain"},
                        "redirectURL": "",
                        "headersSize": -1,
                        "bodySize": 0,
                    },
                    "cache": {},
                    "timings": {"send": 0.5, "wait": 0.5, "receive": 0.5},
                    "_custom": 1,
                }
            ],
        }
    }
    validate(good)
    for path, value in [
        (("timings", "send"), -1),  # send/wait/receive may not be -1
        (("startedDateTime",), "yesterday"),
        (("response", "content"), {"size": 0}),  # mimeType is required
        (("request", "headers"), [{"name": "a"}]),
        (("unknown",), 1),  # unknown members must start with "_"
    ]:
        bad = json.loads(json.dumps(good))
        target = bad["log"]["entries"][0]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        assert list(validator().iter_errors(bad)), path


# --- a session with a varied history ----------------------------------------------------------


@pytest.fixture
def traced(fresh_sandbox: Any, connect_to: Any) -> Any:
    """A session with token requests, API calls, a retried call, a failed one and a bench run
    (retries without waiting: the suite runs in stamina's testing mode)."""
    session = connect_to(fresh_sandbox, retry_attempts=3)
    session.health()
    session.organizations()
    session.jobs(person_id=fresh_sandbox.data.person_id)
    fresh_sandbox.inject("/rest/health", status=503, times=1)
    session.get("/rest/health")  # 503, then 200
    fresh_sandbox.inject("/rest/people", drop=True, times=3)
    with pytest.raises(dp.ApiTransportError):
        session.get(f"/rest/people/{fresh_sandbox.data.person_id}")
    fresh_sandbox.clear_faults()
    run = session.bench("/rest/health", n=6, concurrency=2, warmup=1, progress=False)
    session.run_id = run.run_id
    user = dp.sandbox.as_user(session)
    user.create_transfer(
        amount=500,
        origin_id=fresh_sandbox.data.earnings_account_id(),
        schedule="NEXT_BUSINESS_DAY",
        preview=True,
    )
    return session


def test_export_validates_against_har_1_2(traced: Any) -> None:
    """With and without bodies, the document is HAR 1.2."""
    for bodies in (False, True):
        har = traced.to_har(bodies=bodies)
        validate(har)
        assert len(har["log"]["entries"]) == len(traced.timings)


def test_entries_agree_with_the_timings(traced: Any) -> None:
    """One entry per exchange; phases, time and start agree with session.timings to 0.001 ms."""
    frame = traced.timings
    entries = traced.to_har()["log"]["entries"]
    assert [e["_dailypay_nb"]["seq"] for e in entries] == frame["seq"].tolist()
    assert set(frame["kind"]) == {"token", "api"}
    assert frame["attempt"].max() >= 2
    assert frame["status"].isna().any()

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= 0.001

    for (_, row), entry in zip(frame.iterrows(), entries, strict=True):
        t = entry["timings"]
        assert close(entry["time"], row["total_ms"])
        assert close(
            sum(t[k] for k in ("blocked", "connect", "send", "wait", "receive") if t[k] > 0), entry["time"]
        )
        assert t["dns"] == -1
        if pd.isna(row["connect_ms"]):
            assert t["connect"] == -1
        else:
            assert close(t["connect"], row["connect_ms"] + (0 if pd.isna(row["tls_ms"]) else row["tls_ms"]))
        assert t["ssl"] == -1 if pd.isna(row["tls_ms"]) else close(t["ssl"], row["tls_ms"])
        for har, column in (("send", "send_ms"), ("wait", "wait_ms"), ("receive", "download_ms")):
            assert close(t[har], 0 if pd.isna(row[column]) else row[column])
        started = pd.Timestamp(entry["startedDateTime"])
        assert abs((started - row["started_at"]).total_seconds()) < 1e-6
        ext = entry["_dailypay_nb"]
        assert (ext["kind"], ext["attempt"], ext["endpoint"]) == (
            row["kind"],
            row["attempt"],
            row["endpoint"],
        )
        assert entry["request"]["method"] == row["method"]
        assert entry["response"]["status"] == (0 if pd.isna(row["status"]) else row["status"])
        if not pd.isna(row["status"]):
            assert entry["serverIPAddress"] == "127.0.0.1"
            assert int(entry["connection"]) > 0  # our local port: one id per TCP connection


def test_read_har_gives_the_timings_back(traced: Any, tmp_path: Path) -> None:
    """read_har(to_har()) equals session.timings on every column (started_at to the microsecond)."""
    path = tmp_path / "trace.har"
    har = traced.to_har(path)
    assert json.loads(path.read_text(encoding="utf-8")) == har
    expected = traced.timings
    for back in (dp.read_har(path), dp.read_har(har)):
        assert list(back.columns) == list(expected.columns)
        assert back.dtypes.to_dict() == expected.dtypes.to_dict()
        pd.testing.assert_frame_equal(
            back.drop(columns="started_at"), expected.drop(columns="started_at"), check_exact=False, atol=1e-6
        )
        assert (back["started_at"] == expected["started_at"].dt.floor("us")).all()


def test_a_third_party_reader_reads_it(traced: Any) -> None:
    """haralyzer (from the package index) parses the export: entries, timings, headers, times."""
    frame = traced.timings
    parser = HarParser(traced.to_har(bodies=True))
    assert parser.version == "1.2"
    assert parser.creator["name"] == "dailypay_nb"
    (page,) = parser.pages  # no pages: every entry is on haralyzer's "unknown" page
    assert len(page.entries) == len(frame)
    rows = frame.set_index("seq")
    for entry in page.entries:  # haralyzer orders them by start; the frame by finish
        row = rows.loc[entry.raw_entry["_dailypay_nb"]["seq"]]
        assert entry.request.method == row["method"]
        assert entry.url == entry.request.url
        assert entry.status == (0 if pd.isna(row["status"]) else row["status"])
        assert math.isclose(entry.time, row["total_ms"], abs_tol=0.001)
        assert entry.startTime is not None
        assert abs(entry.startTime.timestamp() - row["started_at"].timestamp()) < 1e-5
        if not pd.isna(row["status"]):
            assert entry.response.get_header_value("x-request-id") == row["server_request_id"]
            assert entry.port == int(entry.raw_entry["connection"])
    assert page.get_total_size(page.entries) >= 0


def test_run_id_keeps_one_benchmark_run(traced: Any) -> None:
    """`run_id=` exports the entries of one bench run only."""
    entries = traced.to_har(run_id=traced.run_id)["log"]["entries"]
    assert len(entries) == 6
    assert {e["_dailypay_nb"]["run_id"] for e in entries} == {traced.run_id}
    assert all(e["request"]["headers"] for e in entries)  # the async bench session shares the store


def test_credentials_are_masked_everywhere(fresh_sandbox: Any, connect_to: Any) -> None:
    """Authorization (Bearer and Basic), the client secret in the token form, cookies, a token in
    a query string and a token echoed in a body: masked; the store never holds a raw credential."""
    fresh_sandbox.register_client("har-client", "har-Secret-5f2c9a11", ["health:read"])
    posted = connect_to(
        fresh_sandbox, client_id="har-client", client_secret="har-Secret-5f2c9a11", scope="health:read"
    )
    basic = connect_to(
        fresh_sandbox,
        client_id="har-client",
        client_secret="har-Secret-5f2c9a11",
        scope="health:read",
        token_auth_method="client_secret_basic",
    )
    raw_tokens = []
    for session in (posted, basic):
        token = session.token().access_token.reveal()
        raw_tokens.append(token)
        fresh_sandbox.inject(
            "/rest/health",
            status=200,
            times=1,
            headers={"Set-Cookie": "sid=cookie-value-77aa; Path=/", "X-Echo": token},
            body={"status": "ok", "echo": token},
        )
        session.get("/rest/health", params={"access_token": "query-token-value", "plain": "yes"})
        session.get("/rest/health")
    texts = []
    for session, token in zip((posted, basic), raw_tokens, strict=True):
        har = session.to_har(bodies=True)
        validate(har)
        text = json.dumps(har, ensure_ascii=False)
        texts.append(text)
        for value in (
            token,
            "har-Secret-5f2c9a11",
            base64.b64encode(b"har-client:har-Secret-5f2c9a11").decode(),
            "cookie-value-77aa",
            "query-token-value",
        ):
            assert value not in text
        entries = har["log"]["entries"]
        token_entry = next(e for e in entries if e["_dailypay_nb"]["kind"] == "token")
        api = [e for e in entries if e["_dailypay_nb"]["kind"] == "api"]
        auth = {
            h["value"] for e in api for h in e["request"]["headers"] if h["name"].lower() == "authorization"
        }
        # The scheme word stays (unless another test of this process registered it as a secret).
        assert auth <= {f"Bearer {MASK}", f"{MASK} {MASK}"}
        assert auth
        echoed = api[0]
        assert {"name": "sid", "value": MASK} in echoed["response"]["cookies"]
        assert {"name": "access_token", "value": MASK} in echoed["request"]["queryString"]
        assert {"name": "plain", "value": "yes"} in echoed["request"]["queryString"]
        assert "access_token=" + quote(MASK) in echoed["request"]["url"]
        assert json.loads(echoed["response"]["content"]["text"])["echo"] == MASK
        assert "token answers are never kept" in token_entry.get("comment", "")
        if session is posted:
            params = {p["name"]: p["value"] for p in token_entry["request"]["postData"]["params"]}
            assert params["client_secret"] == MASK
            assert params["grant_type"] == "client_credentials"
        else:
            headers = {h["name"].lower(): h["value"] for h in token_entry["request"]["headers"]}
            assert headers["authorization"] in (f"Basic {MASK}", f"{MASK} {MASK}")
        store = ExchangeStore.of(session._recorder)
        held = [store.get(int(s)) for s in session.timings["seq"]]
        stored = repr(held)
        assert token not in stored
        assert "har-Secret-5f2c9a11" not in stored
    assert raw_tokens[0] != raw_tokens[1]


def test_headers_are_kept_for_a_bounded_number_of_exchanges(sandbox: Any, connect_to: Any) -> None:
    """Beyond the store's limit, older entries are exported with empty headers and a comment."""
    assert HAR_EXCHANGES == 1000
    session = connect_to(sandbox)
    store = ExchangeStore.of(session._recorder)
    store.limit = 3
    for _ in range(5):
        session.get("/rest/health")
    entries = session.to_har()["log"]["entries"]
    assert len(entries) == 6  # the token request and five calls
    assert len(store) == 3
    old, new = entries[:3], entries[3:]
    assert all(e["request"]["headers"] == [] and "older than the latest" in e["comment"] for e in old)
    assert all(e["request"]["headers"] and "comment" not in e for e in new)
    validate(session.to_har())
    # the bodies' accounting follows the evictions: it holds only what the three entries keep
    assert len(store._bodies) <= 3
    held = store._seen.values()
    assert store._body_bytes == sum(len(e.request_body or "") + len(e.response_body or b"") for e in held)


def test_the_store_keeps_no_more_exchanges_than_the_timings_buffer(sandbox: Any, connect_to: Any) -> None:
    """An exchange whose timing row is gone cannot be exported, so it is not kept either."""
    session = connect_to(sandbox, timings_buffer=4)
    for _ in range(10):
        session.organizations()
    store = ExchangeStore.of(session._recorder)
    assert store.limit == 4
    assert len(store) == 4
    assert len(store._bodies) <= 4


def test_bodies_stay_within_the_budget(sandbox: Any, connect_to: Any) -> None:
    """Bodies beyond the byte budget are dropped oldest first, and the entry says so."""
    session = connect_to(sandbox)
    store = ExchangeStore.of(session._recorder)
    session.organizations()
    size = len(session.to_har(bodies=True)["log"]["entries"][-1]["response"]["content"]["text"])
    store.budget = int(size * 2.5)
    for _ in range(4):
        session.organizations()
    entries = session.to_har(bodies=True)["log"]["entries"]
    kept = [e for e in entries if "text" in e["response"]["content"]]
    assert 1 <= len(kept) <= 2
    assert kept == entries[-len(kept) :]
    assert "within the budget" in entries[1]["comment"]


def test_read_har_of_a_browser_trace() -> None:
    """A DevTools-style HAR (no _dailypay_nb member): phases mapped back, failures kept."""
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "WebInspector", "version": "537.36"},
            "pages": [],
            "entries": [
                {
                    "startedDateTime": "2026-03-02T10:00:00.123Z",
                    "time": 120.5,
                    "request": {
                        "method": "GET",
                        "url": "https://api.dailypay.com/rest/jobs/abc?x=1",
                        "headers": [],
                    },
                    "response": {
                        "status": 200,
                        "headers": [{"name": "X-Request-Id", "value": "rid-1"}],
                        "content": {"size": 900, "mimeType": "application/vnd.api+json"},
                        "bodySize": 300,
                    },
                    "timings": {
                        "blocked": 1.5,
                        "dns": 10,
                        "connect": 40,
                        "ssl": 25,
                        "send": 0.5,
                        "wait": 60,
                        "receive": 8.5,
                    },
                },
                {
                    "startedDateTime": "2026-03-02T10:00:01.000+01:00",
                    "time": 30,
                    "request": {"method": "post", "url": "https://api.dailypay.com/rest/transfers"},
                    "response": {"status": 0, "_error": "net::ERR_CONNECTION_RESET", "bodySize": -1},
                    "timings": {
                        "blocked": 30,
                        "dns": -1,
                        "connect": -1,
                        "ssl": -1,
                        "send": 0,
                        "wait": 0,
                        "receive": 0,
                    },
                },
                {
                    "startedDateTime": "2026-03-02T10:00:02.000Z",
                    "time": 12,
                    "request": {"method": "GET", "url": "https://api.dailypay.com/rest/health"},
                    "response": {"status": 503, "bodySize": 20},
                    "timings": {"dns": -1, "connect": -1, "ssl": -1, "send": 1, "wait": 10, "receive": 1},
                },
            ],
        }
    }
    frame = dp.read_har(har)
    first, failed, busy = (frame.iloc[i] for i in range(3))
    assert first["endpoint"] == "/rest/jobs/{job_id}"
    assert first["connect_ms"] == 10 + 40 - 25
    assert first["tls_ms"] == 25
    assert (first["send_ms"], first["wait_ms"], first["download_ms"], first["total_ms"]) == (
        0.5,
        60,
        8.5,
        120.5,
    )
    assert not first["reused_connection"]
    assert (first["status"], first["bytes_received"], first["server_request_id"]) == (200, 300, "rid-1")
    assert (first["kind"], first["attempt"], first["seq"]) == ("api", 1, 1)
    assert first["started_at"] == pd.Timestamp("2026-03-02T10:00:00.123Z")
    assert pd.isna(failed["status"])
    assert failed["error"] == "net::ERR_CONNECTION_RESET"
    assert failed["method"] == "POST"
    assert pd.isna(failed["reused_connection"])
    assert failed["started_at"] == pd.Timestamp("2026-03-02T09:00:01Z")
    assert pd.isna(busy["connect_ms"])
    assert bool(busy["reused_connection"])
    assert busy["error"] == "HTTP 503"
    assert pd.isna(frame["run_id"]).all()


def test_read_har_without_our_member_derives_the_columns(traced: Any) -> None:
    """With `_dailypay_nb` stripped (as another tool would write it), the standard fields still
    give the same phases, status, URL, endpoint, sizes and request ids."""
    har = traced.to_har()
    for entry in har["log"]["entries"]:
        del entry["_dailypay_nb"]
    back = dp.read_har(har)
    expected = traced.timings
    answered = expected["status"].notna().to_numpy()
    columns = ["method", "url", "endpoint", "status", "connect_ms", "tls_ms", "total_ms", "bytes_received"]
    pd.testing.assert_frame_equal(
        back.loc[answered, columns].reset_index(drop=True),
        expected.loc[answered, columns].reset_index(drop=True),
        check_exact=False,
        atol=1e-6,
        check_categorical=False,
    )
    for column in ("send_ms", "wait_ms", "download_ms"):
        assert back.loc[answered, column].tolist() == pytest.approx(expected.loc[answered, column].tolist())
    for column in ("server_request_id", "reused_connection"):
        assert back.loc[answered, column].tolist() == expected.loc[answered, column].tolist(), column


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"log": {"version": "1.2"}}', "is not a HAR document"),
        ('{"log": {"entries": [{"startedDateTime": "soon", "request": {}, "response": {}}]}}', "ISO 8601"),
    ],
)
def test_read_har_refuses_what_is_not_har(tmp_path: Path, content: str, message: str) -> None:
    """A typed error that says what is wrong."""
    path = tmp_path / "x.har"
    path.write_text(content)
    with pytest.raises(dp.DocumentError, match=message):
        dp.read_har(path)
    with pytest.raises(dp.DocumentError, match="no HAR file"):
        dp.read_har(tmp_path / "missing.har")


def test_async_session_exports_too(sandbox: Any) -> None:
    """AsyncSession shares SessionBase.to_har."""
    import asyncio

    async def main() -> dict[str, Any]:
        async with await dp.connect_async(
            environment="sandbox",
            api_url=sandbox.url,
            token_url=sandbox.token_url,
            client_id=sandbox.client_id,
            client_secret=sandbox.client_secret,
        ) as session:
            await session.health()
            return session.to_har(bodies=True)

    har = asyncio.run(main())
    validate(har)
    assert [e["_dailypay_nb"]["kind"] for e in har["log"]["entries"]] == ["token", "api"]
