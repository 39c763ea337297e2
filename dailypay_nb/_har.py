"""HAR 1.2: a session's exchanges as an HTTP Archive, and any HAR file as a timings frame.

Strictly private (public: `Session.to_har`, `dp.read_har`). Timing rows hold no headers, so an
`ExchangeStore`, installed as the recorder's `on_exchange` hook, keeps the headers, sizes and
peer of the latest `HAR_EXCHANGES` exchanges (older ones are exported with empty header lists
and a comment). No credential is stored: `Authorization`, cookies and other credential headers
keep only their names, and request bodies are kept with credential and card members masked;
every other value is the server's, redacted by the process redactor when exported. Response
bodies are the ones `ApiResponse` holds (2xx bodies already scrubbed of live secrets) and are
redacted again on export; token answers are never kept.

Phases map to HAR `timings` (milliseconds) as follows; `time` is their sum and equals
`total_ms` (HAR's `connect` includes `ssl`, as the specification asks):

| HAR       | from the timings frame                                                  |
|-----------|-------------------------------------------------------------------------|
| blocked   | total_ms minus every phase below (pool wait, between phases)            |
| dns       | -1: DNS is inside connect_ms, not measured apart                        |
| connect   | connect_ms + tls_ms; -1 on a reused connection                          |
| ssl       | tls_ms; -1 when reused or plain HTTP                                    |
| send      | send_ms       (0 when unknown: the exchange failed before it)           |
| wait      | wait_ms       (likewise)                                                |
| receive   | download_ms   (likewise)                                                |

Each entry has a `_dailypay_nb` member (seq, kind, attempt, endpoint, run_id, and what HAR has
no field for), so `read_har(session.to_har())` gives back the session's timings.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, quote, urlencode

import httpx

from ._exceptions import DocumentError
from ._redact import REDACTOR, redact_tree
from ._secret import MASK
from ._version import __version__

if TYPE_CHECKING:
    import pandas as pd

    from ._timings import TimingRecorder

__all__ = [
    "BODY_BUDGET",
    "HAR_EXCHANGES",
    "ExchangeStore",
    "Held",
    "mask_body",
    "mask_header",
    "read_har",
    "to_har",
]

#: Exchanges whose headers, sizes and bodies are kept for HAR export (the latest ones).
HAR_EXCHANGES = 1000
#: Bytes of bodies kept across those exchanges; older bodies are dropped first.
BODY_BUDGET = 16 * 1024 * 1024
#: A body larger than this is not kept at all.
BODY_LIMIT = 1024 * 1024

#: Headers whose value is a credential: replaced by the mask (the scheme word is kept).
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-csrf-token",
        "x-amz-security-token",
    }
)
#: Body members and query parameters whose value is a credential or card data.
SECRET_MEMBERS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "generic_token",
        "client_secret",
        "secret",
        "password",
        "api_key",
        "apikey",
        "card_number",
        "cvv",
        "cvc",
        "account_number",
        "code",
    }
)
#: `code` is masked in query strings (an authorization code) but not in JSON bodies, where
#: it is JSON:API's error code.
_BODY_SECRETS = SECRET_MEMBERS - {"code"}
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_-]*)\s+\S")


def mask_header(name: str, value: str) -> str:
    """A header value as HAR shows it: credentials masked, anything else redacted."""
    if name.lower() in SECRET_HEADERS:
        scheme = _SCHEME.match(value) if name.lower().endswith("authorization") else None
        return f"{scheme.group(1)} {MASK}" if scheme else MASK
    return REDACTOR.redact(value, limit=None)


def _mask_members(value: Any, depth: int = 0) -> Any:
    if depth > 64:
        return "…"
    if isinstance(value, dict):
        return {
            k: MASK
            if isinstance(k, str) and k.lower() in _BODY_SECRETS and v is not None
            else _mask_members(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask_members(v, depth + 1) for v in value]
    return value


def mask_body(body: bytes, content_type: str = "") -> str | None:
    """A request or response body as text without secrets; None for a binary body.

    JSON: credential and card members masked, every string redacted. Forms: credential
    fields masked, the rest redacted. Other text: redacted.
    """
    if not body:
        return ""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    kind = content_type.lower()
    if "json" in kind or text.lstrip()[:1] in ("{", "["):
        try:
            tree = json.loads(text)
        except (ValueError, RecursionError):
            pass
        else:
            return json.dumps(redact_tree(_mask_members(tree), limit=None), ensure_ascii=False)
    if "x-www-form-urlencoded" in kind:
        return urlencode(_mask_params(parse_qsl(text, keep_blank_values=True)), safe=MASK)
    return REDACTOR.redact(text, limit=None)


def _mask_params(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [
        (
            REDACTOR.redact(k, limit=None),
            MASK if k.lower() in SECRET_MEMBERS else REDACTOR.redact(v, limit=None),
        )
        for k, v in pairs
    ]


def _cookie_names(name: str, value: str) -> tuple[str, ...]:
    """Names of the cookies a Cookie or Set-Cookie header carries (values are never kept)."""
    if name == "cookie":
        parts = value.split(";")
    elif name == "set-cookie":
        parts = value.split(";", 1)[:1]
    else:
        return ()
    return tuple(REDACTOR.redact(p.split("=", 1)[0].strip(), limit=80) for p in parts if "=" in p)


@dataclass(slots=True)
class Held:
    """What HAR needs of one exchange beyond its timing row; every value already masked."""

    http_version: str
    status_text: str
    request_headers: tuple[tuple[str, str], ...]
    response_headers: tuple[tuple[str, str], ...]
    request_cookies: tuple[str, ...]
    response_cookies: tuple[str, ...]
    request_headers_size: int
    response_headers_size: int
    request_body_size: int
    request_mime: str
    request_body: str | None
    server_ip: str | None
    connection: str | None
    response_mime: str = ""
    response_body: bytes | None = None
    #: True once a body was dropped to stay within BODY_BUDGET (or was never kept).
    body_note: str = ""


@dataclass(slots=True)
class _Seen:
    """One exchange as it was seen, kept cheaply on the request path; masked into `Held` on export.

    No credential is kept: credential request headers are masked at once (an Authorization
    keeps its scheme word, a Cookie its names), and so is a request body (a write or a token
    request: rare). Response header values are the server's bytes, redacted on export (with
    every secret the redactor knows by then).
    """

    method: str
    target_length: int
    request_headers: tuple[tuple[bytes, bytes], ...]
    request_body_size: int
    request_body: str | None
    #: The response's raw headers, names and values alternating in one flat tuple (None: no response).
    response: tuple[bytes, ...] | None
    http_version: str
    reason: str
    server_ip: str | None
    connection: str | None
    response_body: bytes | None = None
    body_note: str = ""


_CREDENTIAL_HEADERS = frozenset(name.encode() for name in SECRET_HEADERS)
_NO_PEER: tuple[None, None] = (None, None)
_BEARER = f"Bearer {MASK}".encode()


def _request_headers(headers: httpx.Headers) -> tuple[tuple[bytes, bytes], ...]:
    """The request's header pairs with every credential value masked now (an Authorization keeps
    its scheme word; a Cookie keeps its cookies' names), as UTF-8; the rest as sent."""
    triples: list[tuple[bytes, bytes, bytes]] = headers._list  # (name, lowercase name, value)
    return tuple(
        [
            (name, _masked(name, value)) if lower in _CREDENTIAL_HEADERS else (name, value)
            for name, lower, value in triples
        ]
    )


def _masked(name: bytes, value: bytes) -> bytes:
    if value.startswith(b"Bearer ") and value[7:].strip() and name.lower() == b"authorization":
        return _BEARER  # what `mask_header` makes of it, on every request: made once
    text_name, text = name.decode("latin-1"), value.decode("latin-1")
    if name.lower() in (b"cookie", b"set-cookie"):
        return "; ".join(f"{n}={MASK}" for n in _cookie_names(text_name.lower(), text)).encode()
    return mask_header(text_name, text).encode()


class ExchangeStore:
    """The latest `HAR_EXCHANGES` exchanges' headers, sizes and bodies, by timing `seq`.

    Installed on a `TimingRecorder` as its `on_exchange` hook (one store per recorder, so a
    user-token session and a benchmark that share a recorder share it too). Thread-safe.
    Recording keeps references and drops credentials (a few µs an exchange); decoding,
    redaction and sizes happen on export.
    """

    def __init__(self, limit: int = HAR_EXCHANGES, budget: int = BODY_BUDGET) -> None:
        self.limit = limit
        self.budget = budget
        self._seen: OrderedDict[int, _Seen] = OrderedDict()
        self._bodies: OrderedDict[int, int] = OrderedDict()  # seq -> bytes of its kept bodies, oldest first
        self._body_bytes = 0
        self._lock = threading.Lock()
        self._peers: weakref.WeakKeyDictionary[Any, tuple[str | None, str | None]] = (
            weakref.WeakKeyDictionary()
        )
        self.next: Callable[[tuple[Any, ...], httpx.Request, httpx.Response | None], None] | None = None
        self._last_headers: tuple[tuple[bytes, bytes], ...] = ()
        self._last_peer: tuple[Callable[[], Any], tuple[str | None, str | None]] = (_nothing, _NO_PEER)

    @classmethod
    def of(cls, recorder: TimingRecorder) -> ExchangeStore:
        """The recorder's store, installed on first use (after any hook already there)."""
        hook = recorder.on_exchange
        if isinstance(hook, ExchangeStore):
            return hook
        store = cls(limit=min(HAR_EXCHANGES, recorder.maxlen))  # a row gone from the timings is gone here
        store.next = hook
        recorder.on_exchange = store
        return store

    # -- recording (called once per exchange, on the request path: kept cheap) --------------

    def __call__(self, row: tuple[Any, ...], request: httpx.Request, response: httpx.Response | None) -> None:
        try:
            if row[0]:  # 0: a row not kept (its bench run was already reported)
                self._record(row[0], request, response)
        finally:
            if self.next is not None:
                self.next(row, request, response)

    def _record(self, seq: int, request: httpx.Request, response: httpx.Response | None) -> None:
        content = _content(request)
        body = None
        if content and len(content) <= BODY_LIMIT:  # writes and token requests: rare, masked now
            body = mask_body(content, request.headers.get("content-type", ""))
        seen = _Seen(
            request.method,
            len(request.url.raw_path),
            self._interned(_request_headers(request.headers)),
            len(content),
            body,
            None if response is None else tuple(chain.from_iterable(response.headers.raw)),
            "" if response is None else response.http_version,
            "" if response is None else response.reason_phrase,
            *(_NO_PEER if response is None else self._peer(response)),
        )
        with self._lock:
            self._seen[seq] = seen
            while len(self._seen) > self.limit:
                self._body_bytes -= self._bodies.pop(self._seen.popitem(last=False)[0], 0)
            if body:
                self._account(seq, len(body))

    def _interned(self, headers: tuple[tuple[bytes, bytes], ...]) -> tuple[tuple[bytes, bytes], ...]:
        """`headers`, or the equal tuple kept for the exchange before (a session sends the same
        headers again and again, token masked): fewer objects held, for the garbage collector too."""
        if headers == self._last_headers:
            return self._last_headers
        self._last_headers = headers
        return headers

    def _peer(self, response: httpx.Response) -> tuple[str | None, str | None]:
        """The peer of the response's connection: asked once per connection (two system calls)."""
        stream = response.extensions.get("network_stream")
        if stream is None:
            return None, None
        last, peer = self._last_peer
        if last() is stream:  # a kept-alive connection: the same stream as the exchange before
            return peer
        try:
            found = self._peers.get(stream)
        except TypeError:  # a stream that cannot be weakly referenced
            return _peer(stream)
        if found is None:
            found = self._peers[stream] = _peer(stream)
        self._last_peer = (weakref.ref(stream), found)
        return found

    def attach(self, seq: int, body: bytes, *, sensitive: bool = False, note: str = "") -> None:
        """Keep the response body of exchange `seq` (as `ApiResponse` holds it), or `note` why not.

        `sensitive`: the body may carry a value not yet registered as a secret (the card
        token's answer): it is masked now rather than on export.
        """
        with self._lock:
            seen = self._seen.get(seq)
            if seen is None:
                return
            if note:
                seen.body_note = note
            if not body:
                return
            if len(body) > BODY_LIMIT:
                seen.body_note = f"response body not kept: larger than {BODY_LIMIT:,} bytes"
                return
            if sensitive:
                masked = mask_body(body, _response_mime(seen))
                body = (masked or "").encode()
            seen.response_body = bytes(body) if type(body) is not bytes else body  # plain: untracked by gc
            self._account(seq, len(body))

    def _account(self, seq: int, size: int) -> None:
        self._bodies[seq] = self._bodies.get(seq, 0) + size
        self._bodies.move_to_end(seq)
        self._body_bytes += size
        while self._body_bytes > self.budget and len(self._bodies) > 1:  # the newest always stays
            old, old_size = self._bodies.popitem(last=False)
            self._body_bytes -= old_size
            seen = self._seen.get(old)
            if seen is not None:
                seen.request_body = seen.response_body = None
                seen.body_note = "bodies dropped to keep the stored bodies within the budget"

    # -- reading -----------------------------------------------------------------------------

    def get(self, seq: int) -> Held | None:
        """Exchange `seq` as HAR shows it (masked and redacted now), or None if not kept."""
        with self._lock:
            seen = self._seen.get(seq)
        return None if seen is None else _held(seen)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()
            self._bodies.clear()
            self._body_bytes = 0

    def __len__(self) -> int:
        return len(self._seen)


def _headers(
    raw: Sequence[tuple[bytes, bytes]], masked_names: bool = False
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...], str, int]:
    """(name, shown value) pairs, cookie names, the first content type, and the size on the wire.

    `masked_names`: credential headers were masked when recorded (the request's)."""
    pairs = []
    cookies: tuple[str, ...] = ()
    mime = ""
    size = 2  # the blank line
    for raw_name, raw_value in raw:
        size += len(raw_name) + len(raw_value) + 4
        name = raw_name.decode("latin-1")
        lower = name.lower()
        masked = masked_names and lower in SECRET_HEADERS  # masked when recorded, as UTF-8
        value = raw_value.decode("utf-8" if masked else "latin-1")
        if lower in ("cookie", "set-cookie"):
            cookies += _cookie_names(lower, value)
        if masked:
            shown = MASK if lower in ("cookie", "set-cookie") else value
        elif lower in SECRET_HEADERS:
            shown = mask_header(name, value)
        else:
            shown = REDACTOR.redact(value, limit=None)
        if lower == "content-type" and not mime:
            mime = shown
        pairs.append((name, shown))
    return tuple(pairs), cookies, mime, size


def _response_mime(seen: _Seen) -> str:
    for name, value in _pairs(seen.response or ()):
        if name.lower() == b"content-type":
            return REDACTOR.redact(value.decode("latin-1"), limit=None)
    return ""


def _nothing() -> None:
    return None


def _pairs(flat: tuple[bytes, ...]) -> list[tuple[bytes, bytes]]:
    return list(zip(flat[::2], flat[1::2], strict=True))


def _held(seen: _Seen) -> Held:
    req_headers, req_cookies, req_mime, req_size = _headers(seen.request_headers, masked_names=True)
    line = len(seen.method) + seen.target_length + 12  # "M target HTTP/1.1\r\n"
    if seen.response is not None:
        version, reason = seen.http_version, seen.reason
        resp_headers, resp_cookies, resp_mime, resp_size = _headers(_pairs(seen.response))
        status_line = len(version) + len(reason) + 7  # "V NNN reason\r\n"
        resp_size = resp_size + status_line if version == "HTTP/1.1" else -1
        status_text = REDACTOR.redact(reason, limit=200)
    else:
        version, resp_headers, resp_cookies, resp_size, status_text, resp_mime = "", (), (), -1, "", ""
    return Held(
        http_version=version,
        status_text=status_text,
        request_headers=req_headers,
        response_headers=resp_headers,
        request_cookies=req_cookies,
        response_cookies=resp_cookies,
        request_headers_size=req_size + line if version in ("HTTP/1.1", "") else -1,
        response_headers_size=resp_size,
        request_body_size=seen.request_body_size,
        request_mime=req_mime,
        request_body=seen.request_body,
        server_ip=seen.server_ip,
        connection=seen.connection,
        response_mime=resp_mime,
        response_body=seen.response_body,
        body_note=seen.body_note,
    )


def _content(request: httpx.Request) -> bytes:
    try:
        return request.content
    except httpx.RequestNotRead:  # a streamed upload: its size is unknown here
        return b""


def _peer(stream: Any) -> tuple[str | None, str | None]:
    """The server's IP address and our local port (HAR's connection id), when the stream tells."""
    try:
        server = stream.get_extra_info("server_addr")
        client = stream.get_extra_info("client_addr")
    except Exception:  # a closed socket, or a transport without these details
        return None, None
    ip = str(server[0]) if isinstance(server, tuple) and server else None
    port = str(client[1]) if isinstance(client, tuple) and len(client) > 1 else None
    return ip, port


# --- export ---------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """A finite float, or None for NaN/NA/None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def har_timings(row: Mapping[str, Any]) -> tuple[dict[str, float], list[str]]:
    """HAR `timings` of one timings-frame row, and the phases that were unknown."""
    connect, tls = _number(row["connect_ms"]), _number(row["tls_ms"])
    total = _number(row["total_ms"]) or 0.0
    unknown = []
    phases = {}
    for har, column in (("send", "send_ms"), ("wait", "wait_ms"), ("receive", "download_ms")):
        value = _number(row[column])
        if value is None:
            unknown.append(column)
        phases[har] = value if value is not None and value >= 0 else 0.0
    har_connect = -1.0 if connect is None and tls is None else (connect or 0.0) + (tls or 0.0)
    known = max(har_connect, 0.0) + phases["send"] + phases["wait"] + phases["receive"]
    timings = {
        "blocked": max(total - known, 0.0),
        "dns": -1.0,
        "connect": har_connect,
        "ssl": tls if tls is not None else -1.0,
        **phases,
    }
    return timings, unknown


def _har_time(timings: Mapping[str, float]) -> float:
    return sum(timings[k] for k in ("blocked", "dns", "connect", "send", "wait", "receive") if timings[k] > 0)


def _query(url: str) -> tuple[str, list[dict[str, str]]]:
    """The URL with secret query values masked (percent-encoded: a URL is ASCII), and HAR's
    queryString (plain text)."""
    parsed = httpx.URL(url)
    pairs = _mask_params([(k, v) for k, v in parsed.params.multi_items()])
    if any(v == MASK for _, v in pairs):
        url = str(parsed.copy_with(query=urlencode(pairs).encode()))
    shown = REDACTOR.redact(url, limit=None).replace(MASK, quote(MASK))
    return shown, [{"name": k, "value": v} for k, v in pairs]


def _iso(stamp: Any) -> str:
    import pandas as pd

    return str(pd.Timestamp(stamp).tz_convert("UTC").isoformat(timespec="microseconds")).replace(
        "+00:00", "Z"
    )


def _nullable(value: Any) -> Any:
    import pandas as pd

    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def _entry(row: Mapping[str, Any], held: Held | None, bodies: bool) -> dict[str, Any]:
    status = _nullable(row["status"])
    timings, unknown = har_timings(row)
    url, query = _query(str(row["url"]))
    version = held.http_version if held else ""
    notes = []
    if held is None:
        notes.append(f"headers not kept: older than the latest {HAR_EXCHANGES} exchanges")
    elif held.body_note and bodies:
        notes.append(held.body_note)
    request: dict[str, Any] = {
        "method": str(row["method"]),
        "url": url,
        "httpVersion": version,
        "cookies": [{"name": n, "value": MASK} for n in (held.request_cookies if held else ())],
        "headers": [{"name": n, "value": REDACTOR.redact(v, limit=None)} for n, v in held.request_headers]
        if held
        else [],
        "queryString": query,
        "headersSize": held.request_headers_size if held else -1,
        "bodySize": held.request_body_size if held else -1,
    }
    if bodies and held is not None and held.request_body_size:
        if held.request_body is not None:
            post: dict[str, Any] = {"mimeType": held.request_mime, "text": held.request_body}
            if "x-www-form-urlencoded" in held.request_mime:
                post["params"] = [{"name": k, "value": v} for k, v in parse_qsl(held.request_body)]
            request["postData"] = post
        elif not held.body_note:
            notes.append("request body not kept (binary, or larger than the limit)")
    nbytes = int(_nullable(row["bytes_received"]) or 0)
    body = held.response_body if held else None
    content: dict[str, Any] = {
        "size": len(body) if body is not None else nbytes,
        "mimeType": (held.response_mime if held else "") or "x-unknown",
    }
    if body is not None and len(body) > nbytes and status is not None:
        content["compression"] = len(body) - nbytes
    if bodies and body is not None:
        text = mask_body(body, content["mimeType"])
        if text is None:
            notes.append("response body is binary: not exported")
        else:
            content["text"] = text
    elif bodies and row["kind"] == "token":
        notes.append("token answers are never kept")
    response = {
        "status": int(status) if status is not None else 0,
        "statusText": held.status_text if held else "",
        "httpVersion": version,
        "cookies": [{"name": n, "value": MASK} for n in (held.response_cookies if held else ())],
        "headers": [{"name": n, "value": REDACTOR.redact(v, limit=None)} for n, v in held.response_headers]
        if held
        else [],
        "content": content,
        "redirectURL": "",
        "headersSize": held.response_headers_size if held else -1,
        "bodySize": nbytes if status is not None else -1,
    }
    entry: dict[str, Any] = {
        "startedDateTime": _iso(row["started_at"]),
        "time": _har_time(timings),
        "request": request,
        "response": response,
        "cache": {},
        "timings": timings,
    }
    if held is not None and held.server_ip:
        entry["serverIPAddress"] = held.server_ip
    if held is not None and held.connection:
        entry["connection"] = held.connection
    error = _nullable(row["error"])
    if error:
        notes.append(str(error))
    if notes:
        entry["comment"] = "; ".join(notes)
    entry["_dailypay_nb"] = {
        "seq": int(row["seq"]),
        "kind": str(row["kind"]),
        "attempt": int(row["attempt"]),
        "endpoint": _nullable(row["endpoint"]),
        "run_id": _nullable(row["run_id"]),
        "reused_connection": _nullable(row["reused_connection"]),
        "server_request_id": _nullable(row["server_request_id"]),
        "error": error,
        "unknown": unknown,
        "scheduled_at": _iso(row["scheduled_at"]),
        "latency_ms": _number(row["latency_ms"]),
    }
    return entry


def to_har(
    frame: pd.DataFrame,
    store: ExchangeStore | None,
    *,
    path: str | os.PathLike[str] | None = None,
    bodies: bool = False,
    run_id: str | None = None,
    comment: str = "",
) -> dict[str, Any]:
    """The HAR 1.2 document of `frame` (a session's timings), joined with `store` on `seq`."""
    if run_id is not None:
        frame = frame[frame["run_id"] == run_id]
    entries = [
        _entry(row, store.get(int(row["seq"])) if store is not None else None, bodies)
        for row in cast("list[dict[str, Any]]", frame.to_dict("records"))
    ]
    log: dict[str, Any] = {
        "version": "1.2",
        "creator": {"name": "dailypay_nb", "version": __version__},
        "pages": [],
        "entries": entries,
    }
    if comment:
        log["comment"] = comment
    har = {"log": log}
    if path is not None:
        target = Path(path)
        with target.open("w", encoding="utf-8") as handle:
            json.dump(har, handle, ensure_ascii=False, indent=1)
    return har


# --- import ---------------------------------------------------------------------------------


def _load(source: Mapping[str, Any] | str | os.PathLike[str]) -> list[Any]:
    if isinstance(source, Mapping):
        data: Any = source
        where = "the HAR document"
    else:
        path = Path(source)
        where = str(path)
        try:
            with path.open(encoding="utf-8-sig") as handle:  # some tools write a BOM
                data = json.load(handle)
        except FileNotFoundError:
            raise DocumentError(f"no HAR file at {where}") from None
        except (ValueError, RecursionError) as exc:
            raise DocumentError(f"{where} is not JSON: {REDACTOR.redact(exc, limit=120)}") from None
    log = data.get("log") if isinstance(data, Mapping) else None
    entries = log.get("entries") if isinstance(log, Mapping) else None
    if not isinstance(entries, list):
        raise DocumentError(f"{where} is not a HAR document: it has no log.entries list")
    return entries


def _header(headers: Any, name: str) -> str | None:
    for item in headers if isinstance(headers, list) else ():
        if isinstance(item, Mapping) and str(item.get("name", "")).lower() == name:
            value = item.get("value")
            return None if value is None else str(value)
    return None


def _ms(timings: Mapping[str, Any], name: str) -> float | None:
    value = _number(timings.get(name))
    return value if value is not None and value >= 0 else None


def _member(parent: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = parent.get(name)
    return value if isinstance(value, Mapping) else {}


def _row(index: int, entry: Any) -> dict[str, Any]:
    from ._operations import endpoint_for

    if not isinstance(entry, Mapping):
        raise DocumentError(f"HAR entry {index} is not an object")
    request, response = _member(entry, "request"), _member(entry, "response")
    timings, ext = _member(entry, "timings"), _member(entry, "_dailypay_nb")
    method = str(request.get("method", "")).upper()
    url = REDACTOR.redact(str(request.get("url", "")), limit=None)
    raw_status = _number(response.get("status"))
    status = int(raw_status) if raw_status else None  # HAR writes 0 when no answer came
    dns, connect, ssl = _ms(timings, "dns"), _ms(timings, "connect"), _ms(timings, "ssl")
    connect_ms = None
    if connect is not None or dns is not None:
        connect_ms = (dns or 0.0) + max((connect or 0.0) - (ssl or 0.0), 0.0)
    phases = {
        c: _ms(timings, h) for h, c in (("send", "send_ms"), ("wait", "wait_ms"), ("receive", "download_ms"))
    }
    for column in ext.get("unknown") or ():
        if column in phases:
            phases[column] = None
    total = _number(entry.get("time"))
    body_size = _number(response.get("bodySize"))
    if body_size is None or body_size < 0:
        body_size = _number(_member(response, "content").get("size"))
    if "reused_connection" in ext:
        reused = ext["reused_connection"]
    else:
        reused = None if status is None else connect is None
    if "error" in ext:
        error = ext["error"]
    elif status is None:
        error = str(response.get("_error") or entry.get("_error") or "no response")
    else:
        error = f"HTTP {status}" if status >= 400 else None
    request_id = (
        ext["server_request_id"]
        if "server_request_id" in ext
        else _header(response.get("headers"), "x-request-id")
    )
    endpoint = ext.get("endpoint") or endpoint_for(method, url) or httpx.URL(url).path
    return {
        "seq": int(ext.get("seq") or index + 1),
        "started_at": str(entry.get("startedDateTime", "")),
        "kind": str(ext.get("kind") or "api"),
        "method": method,
        "endpoint": endpoint,
        "url": url,
        "status": status,
        "attempt": int(ext.get("attempt") or 1),
        "reused_connection": reused,
        "connect_ms": connect_ms,
        "tls_ms": ssl,
        **phases,
        "total_ms": total if total is not None and total >= 0 else None,
        "bytes_received": int(body_size) if body_size is not None and body_size >= 0 else 0,
        "server_request_id": None if request_id is None else REDACTOR.redact(request_id, limit=100),
        "error": None if error is None else REDACTOR.redact(error, limit=160),
        "run_id": ext.get("run_id"),
        # no schedule in a HAR of another tool: the intended start is the start, latency the time
        "scheduled_at": str(ext.get("scheduled_at") or entry.get("startedDateTime", "")),
        "latency_ms": ext.get("latency_ms", total if total is not None and total >= 0 else None),
    }


def read_har(source: Mapping[str, Any] | str | os.PathLike[str]) -> pd.DataFrame:
    """A HAR file (or document) as a DataFrame with the columns and dtypes of `session.timings`.

    Works for HAR from browsers' DevTools, Postman, Charles, Fiddler or `Session.to_har`: one
    row per entry, phases mapped back (`connect_ms` = dns + connect - ssl, `tls_ms` = ssl,
    `download_ms` = receive, `total_ms` = time; -1 becomes NaN). `kind`, `attempt`, `seq`
    and `run_id` come from the `_dailypay_nb` member when there is one ("api", 1, the entry's
    position and <NA> otherwise). `started_at` is as precise as the file: microseconds for
    `to_har`, milliseconds for browsers.
    """
    import pandas as pd

    from ._frames import timings_frame
    from ._timings import COLUMNS

    rows = [_row(i, entry) for i, entry in enumerate(_load(source))]
    dates = {}
    for column in ("started_at", "scheduled_at"):
        try:
            dates[column] = pd.to_datetime(
                pd.Series([r[column] for r in rows], dtype="object"), utc=True, format="ISO8601"
            )
        except (ValueError, TypeError) as exc:
            problem = REDACTOR.redact(exc, limit=120)
            raise DocumentError(f"a startedDateTime is not an ISO 8601 date: {problem}") from None
    epochs = {c: (d - pd.Timestamp(0, tz="UTC")).dt.total_seconds().tolist() for c, d in dates.items()}
    frame = timings_frame(
        [tuple(epochs[c][i] if c in epochs else r[c] for c in COLUMNS) for i, r in enumerate(rows)]
    )
    # The epoch floats set the columns' type as for a session; the dates themselves are exact.
    for column, stamps in dates.items():
        frame[column] = stamps.astype(frame[column].dtype).array
    return frame
