"""Publishing through Lambda's Invoke API (SigV4-signed, stdlib only): no NAT, no public API.

Backend Lambdas in private subnets without a NAT gateway reach the producer function through the
Lambda interface VPC endpoint: `POST {endpoint}/2015-03-31/functions/{name}/invocations` with
the API Gateway v2 (payload 2.0) event the HTTP API would have sent, so the producer serves it
with the same routes, authentication and answers. IAM (`lambda:InvokeFunction` on the producer
alias) decides who may call; the bearer token still decides what they may publish.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from dpp_client.transport import Answer, TransportFailure

SERVICE = "lambda"
INVOKE_PATH = "/2015-03-31/functions/{name}/invocations"
_ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True)
class Credentials:
    """The standard AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN (Lambda sets them
    for the function's role and refreshes them with each new execution environment)."""

    access_key: str
    secret_key: str
    session_token: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials:
        return cls(
            env["AWS_ACCESS_KEY_ID"],
            env["AWS_SECRET_ACCESS_KEY"],
            env.get("AWS_SESSION_TOKEN") or None,
        )


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    credentials: Credentials,
    region: str,
    service: str = SERVICE,
    now: datetime | None = None,
) -> dict[str, str]:
    """`headers` plus the SigV4 headers (X-Amz-Date, X-Amz-Security-Token, Authorization).

    The canonical path is the request path encoded once more, as SigV4 wants for every service
    but S3; every given header and `host` are signed."""
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    parts = urlsplit(url)
    signed = {name.lower(): " ".join(str(value).split()) for name, value in headers.items()}
    signed["host"] = parts.netloc
    signed["x-amz-date"] = moment
    if credentials.session_token:
        signed["x-amz-security-token"] = credentials.session_token
    names = sorted(signed)
    query = "&".join(
        sorted(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
            for k, _, v in (pair.partition("=") for pair in parts.query.split("&") if pair)
        )
    )
    canonical = "\n".join(
        [
            method.upper(),
            quote(parts.path or "/", safe="/~"),
            query,
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{moment[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join([_ALGORITHM, moment, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{credentials.secret_key}".encode()
    for part in (moment[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    result = {**headers, "X-Amz-Date": moment}
    if credentials.session_token:
        result["X-Amz-Security-Token"] = credentials.session_token
    result["Authorization"] = (
        f"{_ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return result


def api_gateway_event(path: str, body: Any, headers: Mapping[str, str]) -> dict[str, Any]:
    """The payload-2.0 event API Gateway would send the producer for `POST {path}`."""
    lowered = {name.lower(): value for name, value in headers.items()}
    lowered.setdefault("content-type", "application/json")
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": lowered,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "lambda-invoke",
            "domainName": "lambda-invoke",
            "domainPrefix": "lambda-invoke",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"POST {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        "isBase64Encoded": False,
    }


class LambdaInvokeTransport:
    """Sends each request as a synchronous invocation of the producer function."""

    def __init__(
        self,
        function: str,
        *,
        region: str,
        endpoint_url: str | None = None,
        credentials: Callable[[], Credentials],
    ) -> None:
        self.function = function
        self.region = _region_of(function) or region
        self.endpoint_url = (endpoint_url or f"https://lambda.{self.region}.amazonaws.com").rstrip(
            "/"
        )
        self._credentials = credentials

    @property
    def url(self) -> str:
        # The name may be an ARN with a qualifier (an alias): its colons are encoded.
        return self.endpoint_url + INVOKE_PATH.format(name=quote(self.function, safe=""))

    def __call__(self, path: str, body: Any, headers: dict[str, str], timeout_s: float) -> Answer:
        payload = json.dumps(api_gateway_event(path, body, headers)).encode()
        signed = sign(
            "POST",
            self.url,
            {"Content-Type": "application/json"},
            payload,
            credentials=self._credentials(),
            region=self.region,
        )
        request = urllib.request.Request(  # noqa: S310 - the configured Lambda endpoint
            self.url, data=payload, method="POST", headers=signed
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
                raw = response.read()
                function_error = response.headers.get("X-Amz-Function-Error")
                status = response.status
        except urllib.error.HTTPError as error:
            with error:
                raw, function_error, status = (
                    error.read(),
                    error.headers.get("X-Amz-Function-Error"),
                    error.code,
                )
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise TransportFailure(f"{type(error).__name__}: {error}") from error
        return _answer(status, function_error, raw)


def _answer(status: int, function_error: str | None, raw: bytes) -> Answer:
    """The producer's HTTP answer inside Lambda's invoke answer, or the invoke failure itself."""
    try:
        document: Any = json.loads(raw) if raw else None
    except ValueError:
        document = {"message": raw[:500].decode("utf-8", "replace")}
    if function_error or (status == 200 and isinstance(document, dict) and "errorType" in document):
        # The function crashed or its init failed: API Gateway would have answered 502.
        detail = document.get("errorMessage", "") if isinstance(document, dict) else ""
        return Answer(
            502, {}, {"title": "producer function error", "status": 502, "detail": detail}
        )
    if status != 200 or not isinstance(document, dict) or "statusCode" not in document:
        # Lambda's own refusal (throttling 429, 5xx, a denied signature 403).
        message = (
            document.get("message") or document.get("Message")
            if isinstance(document, dict)
            else None
        )
        return Answer(
            status if status != 200 else 502,
            {},
            {"title": f"Lambda Invoke HTTP {status}", "status": status, "detail": message or ""},
        )
    headers = {str(k).lower(): str(v) for k, v in (document.get("headers") or {}).items()}
    body_text = document.get("body") or ""
    content = (
        base64.b64decode(body_text) if document.get("isBase64Encoded") else str(body_text).encode()
    )
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = {"detail": content[:500].decode("utf-8", "replace")}
    return Answer(int(document["statusCode"]), headers, body)


def _region_of(function: str) -> str | None:
    """The region of a function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER])."""
    parts = function.split(":")
    return parts[3] if function.startswith("arn:") and len(parts) >= 7 else None
