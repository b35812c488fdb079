"""A scripted HTTP peer on loopback standing in for the producer API in client edge-case tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted answer; `hang` holds the connection open until the stub is closed."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    hang: bool = False


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: Any


class ScriptedApi:
    """Answers requests with the scripted replies in order (the last one repeats)."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.received: list[Received] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _next(self, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                reply = api._next(Received(self.path, headers, json.loads(raw)))
                if reply.hang:
                    api.release.wait(timeout=30)
                    return
                payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                content_type = (
                    "application/problem+json" if reply.status >= 400 else "application/json"
                )
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def __enter__(self) -> ScriptedApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def accepted(event_id: str = "e-1", offset: int = 7) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "demo.echo.requested.v1",
        "topic": "dpp.demo.echo",
        "key": "s-1",
        "partition": 1,
        "offset": offset,
        "job": f"/v1/jobs/{event_id}",
    }


def problem(status: int, detail: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "type": f"https://dpp.dev/problems/{status}",
        "title": f"Problem {status}",
        "status": status,
        "detail": detail,
        **extra,
    }


def scripted(replies: list[Reply]) -> Iterator[ScriptedApi]:
    with ScriptedApi(replies) as api:
        yield api
