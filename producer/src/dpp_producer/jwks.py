"""Tokens from an identity provider: RS256/ES256 JWTs verified against the issuer's JWKS URL
(an Amazon Cognito user pool, any OIDC issuer), with issuer and audience checks.

Keys are cached by `kid`. A token naming a `kid` the cache lacks makes one fetch of the key set
(the issuer rotated its keys), and fetches are rate-limited: at most one per `min_refetch_s`, so
tokens with made-up `kid`s cannot turn every request into a call to the issuer. A fetch is bounded
in time (connect, each read, and the whole body), and a failed refresh keeps serving the keys
already known.

PyJWT (with `cryptography`) and urllib.request are imported only where a key set or an identity
provider's token is handled: a producer that takes only HS256 tokens never loads them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dpp_producer.errors import AuthenticationError

if TYPE_CHECKING:
    from jwt import PyJWK

DEFAULT_ALGORITHMS = ("RS256", "ES256")
MAX_JWKS_BYTES = 256 * 1024
_CHUNK_BYTES = 16 * 1024


class JwksFetchError(Exception):
    """The key set could not be read (network, timeout, status, or not a usable JWKS)."""


class JwksKeys:
    """The issuer's public keys by `kid`, fetched from `url` and refreshed on rotation."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 2.0,
        cache_s: float = 3600.0,
        min_refetch_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.cache_s = cache_s
        self.min_refetch_s = min_refetch_s
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = threading.Lock()
        self.fetches = 0
        """Fetch attempts so far (for tests and metrics)."""

    def key_for(self, kid: str) -> PyJWK:
        """The key with this `kid`: from the cache, or after one (rate-limited) fetch."""
        with self._lock:  # one fetch at a time; the others find its keys afterwards
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self.cache_s
            if (kid not in self._keys or stale) and self._may_fetch(now):
                self._refresh(now)
            key = self._keys.get(kid)
        if key is None:
            raise AuthenticationError(f"token signed with unknown key id {kid!r}")
        return key

    def prefetch(self) -> None:
        """Fetch the key set now (at startup), so the first request does not wait for it."""
        with self._lock:
            self._refresh(self._clock(), quiet=False)

    def _may_fetch(self, now: float) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= self.min_refetch_s

    def _refresh(self, now: float, *, quiet: bool = True) -> None:
        self._attempted_at = now
        self.fetches += 1
        try:
            keys = parse_key_set(fetch_document(self.url, self.timeout_s))
        except JwksFetchError:
            if quiet:
                return  # keep the keys already known; the next refetch is rate-limited
            raise
        self._keys = keys
        self._fetched_at = now


def fetch_document(url: str, timeout_s: float) -> bytes:
    """GET `url` within about `timeout_s` in all: the socket timeout bounds connect and each
    read, and the deadline is checked between reads (a server dripping bytes is cut off)."""
    import urllib.error  # noqa: PLC0415 - urllib.request (http.client, email) is ~10 ms of a
    import urllib.request  # noqa: PLC0415 - cold start that takes only HS256 tokens

    deadline = time.monotonic() + timeout_s
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            if response.status != 200:
                raise JwksFetchError(f"JWKS {url} answered {response.status}")
            body = bytearray()
            while chunk := response.read(_CHUNK_BYTES):
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise JwksFetchError(f"JWKS {url} is larger than {MAX_JWKS_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise JwksFetchError(f"JWKS {url} took longer than {timeout_s:g} s")
            return bytes(body)
    except (OSError, urllib.error.URLError, ValueError) as error:  # timeouts are OSError
        raise JwksFetchError(f"JWKS {url} could not be read: {error}") from None


def parse_key_set(document: bytes) -> dict[str, PyJWK]:
    """The signing keys of a JWKS document by `kid`; keys without a `kid`, encryption keys and
    key types PyJWT cannot use are skipped."""
    import jwt  # noqa: PLC0415 - only an identity provider's producer needs PyJWT

    try:
        data = json.loads(document)
    except ValueError as error:
        raise JwksFetchError(f"JWKS is not JSON: {error}") from None
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise JwksFetchError("JWKS has no 'keys' array")
    keys: dict[str, PyJWK] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue
    if not keys:
        raise JwksFetchError("JWKS holds no usable signing key")
    return keys


@dataclass(frozen=True)
class IdentityProvider:
    """How tokens of one issuer are checked: its keys, `iss`, audience and algorithms."""

    keys: JwksKeys
    issuer: str | None
    audience: str | None
    algorithms: Sequence[str] = DEFAULT_ALGORITHMS

    @property
    def cache_key(self) -> str:
        """Distinguishes this provider's entries in the verified-token cache."""
        return f"jwks:{self.keys.url}:{self.issuer}"

    def handles(self, token: str) -> bool:
        """Whether the token's header names one of this provider's algorithms."""
        import jwt  # noqa: PLC0415 - see the module docstring

        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.InvalidTokenError:
            return False
        return algorithm in self.algorithms

    def verify(self, token: str) -> tuple[str, dict[str, Any]]:
        """The token's subject and claims, or AuthenticationError."""
        import jwt  # noqa: PLC0415 - see the module docstring

        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as error:
            raise AuthenticationError(f"invalid token: {error}") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in self.algorithms:
            raise AuthenticationError(f"token algorithm {algorithm!r} is not accepted")
        if not isinstance(kid, str):
            raise AuthenticationError("token header has no 'kid'")
        key = self.keys.key_for(kid)
        if key.algorithm_name != algorithm:
            raise AuthenticationError(f"key {kid!r} is not a {algorithm} key")
        required = ["exp", "sub"] + (["iss"] if self.issuer is not None else [])
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                issuer=self.issuer,
                # The audience is checked below: Cognito access tokens carry `client_id`.
                options={"require": required, "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("token has expired") from None
        except jwt.InvalidTokenError as error:
            raise AuthenticationError(f"invalid token: {error}") from None
        if self.audience is not None and not _audience_matches(claims, self.audience):
            raise AuthenticationError("token is not meant for this audience")
        return str(claims["sub"]), claims


def _audience_matches(claims: dict[str, Any], audience: str) -> bool:
    """`aud` (a string or a list) names the audience; or, for an Amazon Cognito access token,
    which has no `aud`, its `client_id` does."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        return aud == audience
    if isinstance(aud, list):
        return audience in aud
    return claims.get("token_use") == "access" and claims.get("client_id") == audience


def scopes_of(claims: dict[str, Any]) -> frozenset[str]:
    """`scope` (space-separated, RFC 8693 / Cognito) or `scp` (a list, some OIDC issuers)."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, list) and all(isinstance(item, str) for item in scp):
        return frozenset(scp)
    if isinstance(scp, str):
        return frozenset(scp.split())
    if scope is not None:
        raise AuthenticationError("claim 'scope' must be a space-separated string")
    return frozenset()
