"""A deliberately misbehaving HTTP server on 127.0.0.1, independent of the sandbox and the client.

Raw sockets and `socketserver`: nothing here shares code with `dailypay_nb`. Each path is one
misbehaviour; `server.hits[path]` counts the requests that reached it.

| path              | behaviour                                                          |
|-------------------|--------------------------------------------------------------------|
| /drip             | 200, then the body one byte every 0.5 s, for ever                  |
| /drip-headers     | the status line and headers one byte every 0.5 s                   |
| /hang             | reads the request, never answers                                   |
| /gzip-bomb        | 200, `Content-Encoding: gzip`, ~1 MB that inflates to 1 GiB        |
| /huge             | 200, a 300 MB body sent as fast as the socket takes it             |
| /retry-after      | 503 with `Retry-After: 864000` (ten days)                          |
| /token/30         | a token answer with `expires_in: 30`                               |
| /token/0          | a token answer with `expires_in: 0`                                |
| /token/drip       | a token answer, one byte every 0.5 s                               |
| anything else     | 200 `{"status": "UP", "version": "3.0.0"}`                         |
"""

from __future__ import annotations

import collections
import socket
import socketserver
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache

GIB = 1024**3


@cache
def gzip_bomb() -> bytes:
    """~1 MB of gzip that inflates to 1 GiB of zeros.

    Each MiB of zeros, compressed and full-flushed, is the same 1 037 bytes after the first, so
    the stream is built by repeating one block (milliseconds, not the seconds a compressor takes).
    """
    zeros = bytes(1024 * 1024)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    end = packer.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(GIB // len(zeros)):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = crc.to_bytes(4, "little") + (GIB % 2**32).to_bytes(4, "little")
    return header + first + block * (GIB // len(zeros) - 1) + end + trailer


def _head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _json(status: str, body: str, **headers: str) -> bytes:
    raw = body.encode()
    return (
        _head(status, {"Content-Type": "application/json", "Content-Length": str(len(raw)), **headers}) + raw
    )


def _token(expires_in: int) -> bytes:
    return _json(
        "200 OK",
        f'{{"access_token": "bad-server-token-{time.monotonic_ns()}", "token_type": "bearer", '
        f'"expires_in": {expires_in}, "scope": "client:admin client:lookup health:read"}}',
    )


class _Handler(socketserver.BaseRequestHandler):
    server: BadServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(60)
        with suppress(OSError):
            while not self.server.stopping.is_set():
                path = self._read_request(sock)
                if path is None:
                    return
                with self.server.lock:
                    self.server.hits[path] += 1
                if not self._answer(sock, path):
                    return

    def _read_request(self, sock: socket.socket) -> str | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next(
            (
                int(v)
                for k, _, v in (line.partition(": ") for line in lines[1:])
                if k.lower() == "content-length"
            ),
            0,
        )
        while len(rest) < length:
            rest += sock.recv(65536)
        return lines[0].split(" ")[1].split("?")[0]

    def _drip(self, sock: socket.socket, data: bytes) -> None:
        for i in range(len(data)):
            if self.server.stopping.wait(0.5):
                return
            sock.sendall(data[i : i + 1])

    def _answer(self, sock: socket.socket, path: str) -> bool:
        """Answer one request; False when the connection is done with."""
        if path == "/drop":  # read the request, then close without a word
            return False
        if path == "/hang":
            self.server.stopping.wait(60)
            return False
        if path == "/drip":
            sock.sendall(_head("200 OK", {"Content-Type": "application/json", "Content-Length": "100000"}))
            self._drip(sock, b" " * 100_000)
            return False
        if path == "/drip-headers":
            self._drip(sock, _json("200 OK", "{}"))
            return False
        if path == "/token/drip":
            self._drip(sock, _token(3600))
            return False
        if path == "/gzip-bomb":
            bomb = gzip_bomb()
            head = {
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
                "Content-Length": str(len(bomb)),
            }
            sock.sendall(_head("200 OK", head) + bomb)
            return True
        if path == "/huge":
            size = 300 * 1024 * 1024
            sock.sendall(_head("200 OK", {"Content-Type": "application/json", "Content-Length": str(size)}))
            block = b" " * (1024 * 1024)
            for _ in range(size // len(block)):
                sock.sendall(block)
            return True
        if path == "/retry-after":
            sock.sendall(_json("503 Service Unavailable", '{"errors": []}', **{"Retry-After": "864000"}))
            return True
        if path.startswith("/token/"):
            sock.sendall(_token(int(path.rsplit("/", 1)[1])))
            return True
        sock.sendall(_json("200 OK", '{"status": "UP", "version": "3.0.0"}'))
        return True


class BadServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def bad_server() -> Iterator[BadServer]:
    """Run a `BadServer` in a thread for the block."""
    server = BadServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
