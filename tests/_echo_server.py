"""An independent echo server for the secrets suite: a token endpoint and an API that send back
the credential they received, encoded and placed where the test asks.

It shares no code with dailypay_nb or its sandbox (the standard library only), so it cannot agree
with a client bug. The plan is in the path, so one server serves any number of concurrent cases
(and subprocesses, and kernels):

- `POST /t/<place>/<encoding>/oauth2/token` reads the client secret from the form body
  (`client_secret_post`) or the Basic header (`client_secret_basic`) and answers with it in
  `<place>`, encoded as `<encoding>`; `/t/ok/-/…` issues a token, and the `token_*` places
  answer 200 with an unusable token (or a usable one with the echo in `scope`).
- `GET /a/<place>/<encoding>/…` reads the bearer token and echoes it the same way; `/a/ok/-/…`
  answers 200 and records the request's `Authorization` header.

Every token issued holds `/`, `+` and `=`, so its encodings all differ; every one is kept in
`issued` (the test's list of values to look for).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, quote_plus, unquote_plus

#: How each encoding turns the echoed value into text (the Basic pair is built by the caller).
ENCODINGS = ("raw", "quote", "quote_plus", "double", "base64", "json")
#: Where the token endpoint puts the client secret.
TOKEN_PLACES = (
    "error",
    "error_description",
    "error_uri",
    "body",
    "long",
    "long_body",
    "long_header",
    "location",
    "content_type",
    "request_id",
    "reason",
    "retried",
    "scope",
)
#: 200 answers whose token is refused (its value is what must not leak), and the one that is
#: usable but echoes the secret as its granted scope.
REFUSED_200 = ("token_type", "expires_in", "created_at", "control")
_200 = (*REFUSED_200, "scope")
#: Where the API puts the bearer token.
API_PLACES = (
    "detail",
    "title",
    "code",
    "source",
    "meta_request_id",
    "body",
    "long",
    "long_header",
    "location",
    "content_type",
    "request_id",
    "reason",
    "retried",
)
#: A filler that pushes the echo across every length limit the client may cut at.
FILLER = {"long": 294, "long_body": 114, "long_header": 95}


def new_token() -> str:
    """A token with `/`, `+` and `=` in it (and no run of hex digits an id could share)."""
    return f"At/{secrets.token_urlsafe(12)}+{secrets.token_urlsafe(9)}/{secrets.token_urlsafe(6)}=="


def encode(value: str, encoding: str, pair: str) -> str:
    """`value` (or, for base64, `pair`: the Basic pair or the token) in one wire form."""
    if encoding == "raw":
        return value
    if encoding == "quote":
        return quote(value, safe="")
    if encoding == "quote_plus":
        return quote_plus(value)
    if encoding == "double":
        return quote(quote(value, safe=""), safe="")
    if encoding == "base64":
        return base64.b64encode(pair.encode()).decode()
    if encoding == "json":  # what a JSON encoder that escapes everything escapable writes
        return "".join(
            f"\\u{ord(c):04x}" if c in "+=<>&'" else "\\/" if c == "/" else json.dumps(c)[1:-1] for c in value
        )
    raise ValueError(encoding)


@dataclass
class Answer:
    status: int
    body: str = ""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    reason: str | None = None


def _json_member(echo: str, encoding: str, prefix: str = "") -> str:
    """`prefix + echo` as a JSON string literal; the json encoding's escapes are written as they are
    (every other encoding's text, and every prefix, needs none)."""
    return f'"{prefix}{echo}"' if encoding == "json" else json.dumps(prefix + echo)


def token_answer(place: str, echo: str, encoding: str) -> Answer:
    """The token endpoint's answer with `echo` (the encoded secret) in `place`."""
    member = _json_member(echo, encoding)
    refused = '{"error": "invalid_client", "error_description": "client authentication failed"}'
    if place == "error":
        return Answer(401, f'{{"error": {member}}}')
    if place == "error_description":
        return Answer(401, f'{{"error": "invalid_client", "error_description": {member}}}')
    if place == "error_uri":
        uri = f'"https://errors.example/oauth?client={echo}"'
        return Answer(400, f'{{"error": "invalid_request", "error_uri": {uri}}}')
    if place == "body":
        return Answer(400, f"bad credentials {echo} refused", "text/plain")
    if place == "long":
        text = _json_member(echo, encoding, "d" * FILLER[place])
        return Answer(401, f'{{"error": "invalid_client", "error_description": {text}}}')
    if place == "long_body":
        return Answer(400, "b" * FILLER[place] + echo, "text/plain")
    if place == "long_header":
        return Answer(400, refused, headers={"X-Request-Id": "r" * FILLER[place] + echo})
    if place == "location":
        return Answer(302, "", "text/plain", headers={"Location": f"https://elsewhere.example/cb/{echo}"})
    if place == "content_type":
        return Answer(400, "refused", f"text/plain; charset=utf-8; x={echo}")
    if place == "request_id":
        return Answer(401, refused, headers={"X-Request-Id": echo})
    if place == "reason":
        return Answer(400, refused, reason=f"Bad client {echo}")
    if place == "retried":
        body = f'{{"error": "temporarily_unavailable", "error_description": {member}}}'
        return Answer(503, body, headers={"X-Request-Id": echo, "Retry-After": "0"}, reason=f"Busy {echo}")
    raise ValueError(place)


def refused_200(place: str, token: str, echo: str, encoding: str) -> Answer:
    """A 200 token answer: refused for its token_type, lifetime, created_at or a control character,
    or usable but with the echoed secret as the granted scope."""
    access = json.dumps(token)
    members = {
        "token_type": f'"token_type": "mac {token[:12]}"',
        "expires_in": '"expires_in": -300',
        "created_at": '"expires_in": 300, "created_at": 1700000000123',
        "control": '"expires_in": 300',
        "scope": f'"expires_in": 300, "scope": "client:admin {echo}"',
    }
    if place == "control":
        access = json.dumps(token[:20] + "\x07" + token[20:])
    extra = members[place]
    if place != "token_type":
        extra = '"token_type": "bearer", ' + extra
    return Answer(200, f'{{"access_token": {access}, {extra}}}')


def api_answer(place: str, echo: str, encoding: str) -> Answer:
    """The API's error answer with `echo` (the encoded bearer token) in `place`."""
    member = _json_member(echo, encoding)
    ctype = "application/vnd.api+json"

    def errors(**members: str) -> str:
        inner = ", ".join(f'"{k}": {v}' for k, v in members.items())
        return f'{{"errors": [{{"status": "400", {inner}}}]}}'

    plain = errors(code='"BAD_REQUEST"', detail='"refused"')
    if place == "detail":
        return Answer(400, errors(code='"BAD_REQUEST"', detail=member), ctype)
    if place == "title":
        return Answer(400, errors(code='"BAD_REQUEST"', title=member), ctype)
    if place == "code":
        return Answer(400, errors(code=member), ctype)
    if place == "source":
        pointer = f'"/data/attributes/{echo}"'
        return Answer(
            400, errors(code='"INVALID"', source=f'{{"parameter": {member}, "pointer": {pointer}}}'), ctype
        )
    if place == "meta_request_id":
        return Answer(400, errors(code='"BAD_REQUEST"', meta=f'{{"request_id": {member}}}'), ctype)
    if place == "body":
        return Answer(400, f"bad bearer {echo} refused", "text/plain")
    if place == "long":
        text = _json_member(echo, encoding, "d" * FILLER[place])
        return Answer(400, errors(code='"BAD_REQUEST"', detail=text), ctype)
    if place == "long_header":
        return Answer(400, plain, ctype, headers={"X-Request-Id": "r" * FILLER[place] + echo})
    if place == "location":
        return Answer(302, "", "text/plain", headers={"Location": f"https://elsewhere.example/cb/{echo}"})
    if place == "content_type":
        return Answer(400, "refused", f"text/plain; x={echo}")
    if place == "request_id":
        return Answer(400, plain, ctype, headers={"X-Request-Id": echo})
    if place == "reason":
        return Answer(400, plain, ctype, reason=f"Bad bearer {echo}")
    if place == "retried":
        body = errors(code='"UNAVAILABLE"', detail=member)
        return Answer(
            503, body, ctype, headers={"X-Request-Id": echo, "Retry-After": "0"}, reason=f"Busy {echo}"
        )
    raise ValueError(place)


class EchoServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        #: Every token this server issued (plain), oldest first.
        self.issued: list[str] = []
        #: (method, path, Authorization header or None) of every request, oldest first.
        self.requests: list[tuple[str, str, str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def token_url(self, place: str = "ok", encoding: str = "-") -> str:
        return f"{self.url}/t/{place}/{encoding}/oauth2/token"

    def api_url(self, place: str = "ok", encoding: str = "-") -> str:
        return f"{self.url}/a/{place}/{encoding}"

    def issue(self) -> str:
        token = new_token()
        with self.lock:
            self.issued.append(token)
        return token

    def count(self, prefix: str) -> int:
        with self.lock:
            return sum(1 for _, path, _ in self.requests if path.startswith(prefix))


class _Handler(BaseHTTPRequestHandler):
    server: EchoServer
    protocol_version = "HTTP/1.0"  # one request per connection: nothing to keep in step

    def log_message(self, format: str, *args: object) -> None:  # quiet: stderr is a sink under test
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, answer: Answer) -> None:
        data = answer.body.encode()
        self.send_response(answer.status, answer.reason)
        self.send_header("Content-Type", answer.content_type)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> None:
        with self.server.lock:
            self.server.requests.append((self.command, self.path, self.headers.get("Authorization")))

    def do_POST(self) -> None:
        self._record()
        parts = self.path.split("/")
        if len(parts) < 4 or parts[1] != "t":
            self._send(Answer(404, '{"error": "not_found"}'))
            return
        place, encoding = parts[2], parts[3]
        form = parse_qs(self._body().decode())
        basic = self.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            pair = base64.b64decode(basic[6:]).decode()
            client_id, _, secret = (unquote_plus(p) for p in pair.partition(":"))
        else:
            client_id, secret = form.get("client_id", [""])[0], form.get("client_secret", [""])[0]
            pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
        echo = encode(secret, encoding, pair) if encoding != "-" else ""
        if place == "ok":
            token = self.server.issue()
            self._send(
                Answer(200, json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": 600}))
            )
        elif place in _200:
            self._send(refused_200(place, self.server.issue(), echo, encoding))
        else:
            self._send(token_answer(place, echo, encoding))

    def do_GET(self) -> None:
        self._record()
        parts = self.path.split("/")
        if len(parts) < 4 or parts[1] != "a":
            self._send(Answer(404, '{"errors": [{"status": "404", "code": "NOT_FOUND"}]}'))
            return
        place, encoding = parts[2], parts[3]
        auth = self.headers.get("Authorization") or ""
        if place == "ok":
            self._send(Answer(200, '{"status": "ok"}'))
            return
        if place == "unauthorized":
            self._send(Answer(401, '{"errors": [{"status": "401", "code": "UNAUTHORIZED"}]}'))
            return
        token = auth.removeprefix("Bearer ")
        self._send(api_answer(place, encode(token, encoding, token), encoding))


@contextmanager
def serve() -> Iterator[EchoServer]:
    """A running echo server on 127.0.0.1 (a free port), shut down afterwards."""
    server = EchoServer()
    thread = threading.Thread(target=server.serve_forever, name="echo-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


if __name__ == "__main__":  # a server for a subprocess or a kernel: prints its URL, runs until killed
    with serve() as running:
        print(running.url, flush=True)
        threading.Event().wait()
