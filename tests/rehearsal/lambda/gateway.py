"""A loopback API Gateway v2 (HTTP API): Terraform's route keys, payload-2.0 events, one Lambda.

Route selection follows API Gateway's rules for HTTP APIs: a route whose path matches literally
wins over one with `{param}` segments, which wins over a greedy `{proxy+}`; a route with the
request's method wins over `ANY`; no match is API Gateway's own 404. Only the routes of the
`producer` integration reach the emulator; the others (the backend's) answer 502 here, so a
request that API Gateway would send elsewhere cannot pass by accident.
"""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
_TEXT_TYPES = ("text/", "application/json", "application/problem+json", "application/xml")


@dataclass(frozen=True)
class Route:
    key: str  # e.g. "GET /v1/jobs/{job_id}"
    integration: str
    method: str
    segments: tuple[str, ...]

    @classmethod
    def parse(cls, key: str, integration: str) -> Route:
        method, path = key.split(" ", 1)
        return cls(key, integration, method.upper(), tuple(path.strip("/").split("/")))

    @property
    def greedy(self) -> bool:
        return bool(self.segments) and self.segments[-1].endswith("+}")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method.upper()):
            return None
        parts = path.strip("/").split("/")
        params: dict[str, str] = {}
        fixed = self.segments[:-1] if self.greedy else self.segments
        if len(parts) < len(fixed) + (1 if self.greedy else 0):
            return None
        if not self.greedy and len(parts) != len(fixed):
            return None
        for pattern, part in zip(fixed, parts, strict=False):
            if placeholder := re.fullmatch(r"\{(\w+)\}", pattern):
                params[placeholder.group(1)] = part
            elif pattern != part:
                return None
        if self.greedy:
            params[self.segments[-1][1:-2]] = "/".join(parts[len(fixed) :])
        return params

    def specificity(self) -> tuple[int, int, int]:
        literal = sum(1 for s in self.segments if not s.startswith("{"))
        return (0 if self.greedy else 1, literal, 1 if self.method != "ANY" else 0)


class RouteTable:
    """Every route key of the HTTP API, by integration."""

    def __init__(self, routes: dict[str, list[str]]) -> None:
        self.routes = [Route.parse(key, name) for name, keys in routes.items() for key in keys]

    def select(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        matches = [(r, p) for r in self.routes if (p := r.match(method, path)) is not None]
        if not matches:
            return None
        return max(matches, key=lambda pair: pair[0].specificity())


def to_event(
    route: Route,
    params: dict[str, str],
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
) -> dict[str, Any]:
    """The payload-2.0 event API Gateway sends (see tests/producer/events/ for real ones)."""
    url = urlsplit(target)
    lowered: dict[str, str] = {}
    for raw_name, value in headers.items():
        name = raw_name.lower()
        lowered[name] = f"{lowered[name]},{value}" if name in lowered else value
    content_type = lowered.get("content-type", "")
    text = content_type.startswith(_TEXT_TYPES) or not content_type
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": url.path,
        "rawQueryString": url.query,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "rehearsal",
            "domainName": lowered.get("host", "rehearsal.execute-api.eu-west-1.amazonaws.com"),
            "domainPrefix": "rehearsal",
            "http": {
                "method": method.upper(),
                "path": url.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": base64.b64encode(uuid.uuid4().bytes[:10]).decode(),
            "routeKey": route.key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if url.query:
        query: dict[str, str] = {}
        for name, value in parse_qsl(url.query, keep_blank_values=True):
            query[name] = f"{query[name]},{value}" if name in query else value
        event["queryStringParameters"] = query
    if params:
        event["pathParameters"] = params
    if cookies := lowered.pop("cookie", None):
        event["cookies"] = [c.strip() for c in cookies.split(";")]
    if body:
        if text:
            event["body"] = body.decode()
        else:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


@dataclass
class GatewayAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


def from_result(result: dict[str, Any]) -> GatewayAnswer:
    """API Gateway's reading of a payload-2.0 response (or of a function error)."""
    if "errorType" in result or "errorMessage" in result:
        return GatewayAnswer(
            500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}'
        )
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for cookie in result.get("cookies") or []:
        headers["set-cookie"] = cookie
    return GatewayAnswer(int(result.get("statusCode", 200)), headers, body)


@contextmanager
def http_api(table: RouteTable, invoke: Invoke, integration: str = "producer") -> Iterator[str]:
    """Serve the HTTP API on a loopback port; yields its base URL. One request at a time, like
    one Lambda execution environment (the emulator runs one invocation at a time)."""

    class Front(BaseHTTPRequestHandler):
        def _answer(self, answer: GatewayAnswer) -> None:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                if name not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = urlsplit(self.path).path
            selected = table.select(self.command, path)
            if selected is None:
                self._answer(
                    GatewayAnswer(
                        404, {"content-type": "application/json"}, b'{"message":"Not Found"}'
                    )
                )
                return
            route, params = selected
            if route.integration != integration:
                message = f'{{"message":"route {route.key} goes to {route.integration}"}}'.encode()
                self._answer(GatewayAnswer(502, {"content-type": "application/json"}, message))
                return
            event = to_event(
                route, params, self.command, self.path, dict(self.headers.items()), body
            )
            self._answer(from_result(invoke(event)))

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _forward  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Front)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
