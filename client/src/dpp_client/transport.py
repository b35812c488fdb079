"""One HTTP POST of a JSON body with the standard library, so the client imports fast."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, headers (lower-case names) and the JSON body, if any."""

    status: int
    headers: dict[str, str]
    body: Any

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would follow a 301/302 from a POST as a GET without the body; an API that moved
    is a configuration error to report, not something to paper over."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_RefuseRedirects)


class TransportFailure(Exception):  # noqa: N818 - internal signal, never leaves the client
    """No HTTP answer at all: connection refused or reset, timeout, TLS failure."""


def post_json(url: str, body: Any, headers: dict[str, str], timeout_s: float) -> Answer:
    """POST `body` as JSON; every HTTP status comes back as an `Answer`."""
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 - the URL is the configured API endpoint
        url, data=data, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with _opener.open(request, timeout=timeout_s) as response:
            return _answer(response.status, response.headers.items(), response.read())
    except urllib.error.HTTPError as error:
        with error:
            return _answer(error.code, error.headers.items(), error.read())
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        raise TransportFailure(f"{type(error).__name__}: {error}") from error


def _answer(status: int, headers: Any, raw: bytes) -> Answer:
    lowered = {str(name).lower(): str(value) for name, value in headers}
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = {"detail": raw[:500].decode("utf-8", "replace")}
    return Answer(status, lowered, body)
