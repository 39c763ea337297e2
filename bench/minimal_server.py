"""A minimal HTTP/1.1 server: asyncio, keep-alive, one canned answer from memory for every request.

(`POST /oauth2/token` gets a canned client-credentials token instead, so a session can use it.)

The floor for client throughput figures: it parses only what it must (the end of the headers
and a Content-Length body) and does no routing, so a client that cannot keep it busy is the
bottleneck of its own measurement. Prints `port N` once it listens.

    .venv/bin/python bench/minimal_server.py [--port 0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools

BODY = b'{"status":"ok","version":"3.0.0-beta.117"}'
HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
    b"x-request-id: 00000000-0000-4000-8000-%%012d\r\n\r\n" % len(BODY)
)
TOKEN = b'{"access_token":"dpo_minimal","token_type":"bearer","expires_in":3600,"scope":"health:read"}'
TOKEN_ANSWER = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(TOKEN)
) + TOKEN
_ids = itertools.count()


class Answer(asyncio.Protocol):
    """Answers each complete request on the connection at once, in order."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        out = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buffer[:end].lower()
            at = head.find(b"content-length:")
            size = int(head[at + 15 :].split(b"\r\n", 1)[0]) if at >= 0 else 0
            if len(self.buffer) < end + 4 + size:
                break
            token = self.buffer.startswith(b"POST /oauth2/token")
            self.buffer = self.buffer[end + 4 + size :]
            out.append(TOKEN_ANSWER if token else HEAD % next(_ids) + BODY)
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Answer, "127.0.0.1", port, backlog=1024)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
