"""What `Session` puts on the wire: headers, URLs and cookies, seen by a recording HTTP server.

The session caches each path's absolute URL, gives its client the fixed headers once and only
extracts cookies from responses that set one (bench P1). These tests pin the behaviour those
shortcuts must keep.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import dailypay_nb as dp
from dailypay_nb._base import _URL_CACHE_SIZE


class Recorder(ThreadingHTTPServer):
    """An HTTP/1.1 server on 127.0.0.1 that records each request and answers `{}`.

    A request with `?set=name=value` gets `Set-Cookie: name=value; Path=/` back.
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[dict[str, Any]] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes
    server: Recorder

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        self.server.seen.append(
            {
                "method": self.command,
                "path": parts.path,
                "query": parse_qs(parts.query),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        for cookie in parse_qs(parts.query).get("set", []):
            self.send_header("Set-Cookie", f"{cookie}; Path=/")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def session(sandbox: Any, recorder: Recorder, connect_to: Any) -> dp.Session:
    """A session whose token comes from the sandbox and whose API calls go to the recorder."""
    return connect_to(sandbox, api_url=recorder.url, retry_attempts=1)


def test_fixed_headers_and_per_request_ones(session: dp.Session, recorder: Recorder) -> None:
    token = session.token().access_token.reveal()
    session.get("/rest/jobs")
    session.get("/rest/health")
    session.get("/rest/jobs", headers={"Accept": "text/csv", "X-Trace": "1"})
    session.request("POST", "/rest/transfers", json={"data": {"type": "transfers"}}, raise_for_status=False)
    session.get("/rest/jobs")  # nothing from the calls before sticks to the client

    jobs, health, custom, post, again = (r["headers"] for r in recorder.seen)
    for h in (jobs, health, custom, post, again):
        assert h["authorization"] == f"Bearer {token}"
        assert h["dailypay-api-version"] == str(session.settings.api_version)
        assert h["user-agent"].startswith(f"dailypay_nb/{dp.__version__} httpx/")
    assert jobs["accept"] == "application/vnd.api+json"
    assert health["accept"] == "application/json"
    assert (custom["accept"], custom["x-trace"]) == ("text/csv", "1")
    assert post["content-type"] == "application/vnd.api+json"
    assert json.loads(recorder.seen[3]["body"]) == {"data": {"type": "transfers"}}
    assert again == jobs
    assert "content-type" not in again
    assert "x-trace" not in again


def test_one_path_with_different_params(session: dp.Session, recorder: Recorder) -> None:
    session.get("/rest/jobs", params={"filter[person.id]": "a"})
    session.get("/rest/jobs", params={"filter[person.id]": "b", "page": 2})
    session.get("/rest/jobs")
    session.get("/rest/jobs?fixed=1", params={"more": "x"})
    seen = [(r["path"], r["query"]) for r in recorder.seen]
    assert seen == [
        ("/rest/jobs", {"filter[person.id]": ["a"]}),
        ("/rest/jobs", {"filter[person.id]": ["b"], "page": ["2"]}),
        ("/rest/jobs", {}),
        ("/rest/jobs", {"more": ["x"]}),  # as httpx does: params replace a query in the path
    ]
    assert session.get("/rest/jobs").url == f"{recorder.url}/rest/jobs"


def test_api_url_with_a_path_prefix_is_kept(sandbox: Any, recorder: Recorder, connect_to: Any) -> None:
    s = connect_to(sandbox, api_url=recorder.url + "/gateway")
    s.get("/rest/jobs")
    s.get("rest/jobs")
    assert [r["path"] for r in recorder.seen] == ["/gateway/rest/jobs", "/gateway/rest/jobs"]


def test_cookies_set_by_the_api_are_sent_back(session: dp.Session, recorder: Recorder) -> None:
    session.get("/rest/health", params={"set": "lb=node-7"})
    session.get("/rest/health")  # no Set-Cookie: the jar keeps what it has
    session.get("/rest/jobs")
    assert "cookie" not in recorder.seen[0]["headers"]
    assert recorder.seen[1]["headers"]["cookie"] == "lb=node-7"
    assert recorder.seen[2]["headers"]["cookie"] == "lb=node-7"
    # The jar is ours (an httpx upgrade that renamed its cookie attribute would undo the swap).
    assert type(session._client.cookies).__name__ == "_Cookies"


def test_another_origin_is_refused_every_time(session: dp.Session, recorder: Recorder) -> None:
    elsewhere = "http://localhost:9/rest/health"
    session.get("/rest/health")
    for _ in range(3):
        with pytest.raises(dp.ApiError, match="not this session's API"):
            session.get(elsewhere)
    assert elsewhere not in session._urls
    assert len(recorder.seen) == 1


def test_url_cache_is_bounded(session: dp.Session, recorder: Recorder) -> None:
    for i in range(_URL_CACHE_SIZE + 50):
        session.get(f"/rest/accounts/{i}")
    assert len(session._urls) == _URL_CACHE_SIZE
    assert recorder.seen[-1]["path"] == f"/rest/accounts/{_URL_CACHE_SIZE + 49}"
    assert len(recorder.seen) == _URL_CACHE_SIZE + 50


def test_unusable_path_and_params_are_typed_errors(session: dp.Session, recorder: Recorder) -> None:
    with pytest.raises(dp.ArgumentError, match="not a usable URL path"):
        session.get("http://[::1")
    with pytest.raises(dp.ArgumentError, match="query parameters"):
        session.get("/rest/jobs", params=5)  # type: ignore[arg-type]
    assert recorder.seen == []


def test_async_session_sends_the_same(sandbox: Any, recorder: Recorder) -> None:
    import asyncio

    async def main() -> None:
        async with await dp.connect_async(
            environment="sandbox",
            api_url=recorder.url,
            token_url=sandbox.token_url,
            client_id=sandbox.client_id,
            client_secret=sandbox.client_secret,
        ) as s:
            await s.get("/rest/health", params={"set": "a=1"})
            await s.get("/rest/jobs")
            await s.get("/rest/jobs", params={"page": 3})

    asyncio.run(main())
    health, jobs, page = recorder.seen
    assert health["headers"]["accept"] == "application/json"
    assert jobs["headers"]["accept"] == "application/vnd.api+json"
    assert jobs["headers"]["cookie"] == "a=1"
    assert (page["path"], page["query"]) == ("/rest/jobs", {"page": ["3"]})
