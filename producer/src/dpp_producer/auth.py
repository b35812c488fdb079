"""Bearer-token authentication (HS256 JWT, or an identity provider's RS256/ES256 JWT verified
against its JWKS: `dpp_producer.jwks`) and per-event-type scopes.

HS256 tokens are checked with hmac and hashlib (`_accept_hs256`), which accepts only tokens
PyJWT accepts; every token it does not accept goes to PyJWT, imported then, which rejects it with
its own error (or, in a case the fast check is stricter about, accepts it). A cold start
therefore imports neither PyJWT nor `cryptography` (about 40 ms)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from dpp_producer.errors import AuthenticationError, ScopeError
from dpp_producer.jwks import IdentityProvider, scopes_of

ALL_EVENTS_SCOPE = "events:*"
ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    """Who called: the token's subject and the scopes it grants."""

    subject: str
    scopes: frozenset[str]

    def may_publish(self, scope: str) -> bool:
        return ALL_EVENTS_SCOPE in self.scopes or scope in self.scopes

    def require(self, scope: str, event_type: str) -> None:
        if not self.may_publish(scope):
            raise ScopeError(
                f"token for {self.subject!r} lacks scope {scope!r} needed to publish {event_type}",
                required_scope=scope,
            )


class VerifiedTokens:
    """A bounded LRU of tokens that passed verification, by (raw token, secret, audience), each
    until its `exp`. HS256 verification is deterministic, so a token verified once with a secret
    verifies again until it expires; only successes are kept and expiry is checked on every hit.
    Saves the signature check and claim parsing on every request of a client reusing a token."""

    def __init__(self, max_size: int = 4096) -> None:
        self._max_size = max_size
        self._entries: OrderedDict[tuple[str, str, str | None], tuple[Principal, float]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def get(self, token: str, secret: str, audience: str | None) -> Principal | None:
        key = (token, secret, audience)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            principal, expires_at = entry
            if time.time() >= expires_at:  # PyJWT's rule: expired once exp <= now
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return principal

    def put(
        self, token: str, secret: str, audience: str | None, principal: Principal, exp: float
    ) -> None:
        with self._lock:
            self._entries[(token, secret, audience)] = (principal, exp)
            self._entries.move_to_end((token, secret, audience))
            while len(self._entries) > self._max_size:
                self._entries.popitem(last=False)


def authenticate(
    authorization: str | None,
    secret: str | None,
    audience: str | None = None,
    verified: VerifiedTokens | None = None,
    provider: IdentityProvider | None = None,
) -> Principal:
    """Verify the `Authorization: Bearer <jwt>` header; `sub`, `scope` and `exp` are required.
    With `verified`, a token already verified with the same secret and audience is not checked
    again until its `exp`. With `provider`, a token signed with one of its algorithms is checked
    against its JWKS instead; `secret` None refuses HS256 tokens (identity-provider only)."""
    if not authorization:
        raise AuthenticationError("missing Authorization: Bearer <token> header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("Authorization header must be 'Bearer <token>'")
    token = token.strip()
    idp = provider is not None and provider.handles(token)
    cache_key = provider.cache_key if idp and provider is not None else secret
    if cache_key is None:
        raise AuthenticationError("HS256 tokens are not accepted: use the identity provider's")
    if verified is not None:
        known = verified.get(token, cache_key, audience)
        if known is not None:
            return known
    if idp and provider is not None:
        principal, exp = _verify_with_provider(token, provider)
    else:
        principal, exp = _verify(token, cache_key, audience)
    if verified is not None:
        verified.put(token, cache_key, audience, principal, exp)
    return principal


def _verify_with_provider(token: str, provider: IdentityProvider) -> tuple[Principal, float]:
    subject, claims = provider.verify(token)
    return Principal(subject=subject, scopes=scopes_of(claims)), float(claims["exp"])


def _verify(token: str, secret: str, audience: str | None) -> tuple[Principal, float]:
    claims = _accept_hs256(token, secret, audience)
    if claims is None:
        claims = _decode_with_pyjwt(token, secret, audience)
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise AuthenticationError("claim 'scope' must be a space-separated string")
    principal = Principal(subject=str(claims["sub"]), scopes=frozenset(scope.split()))
    return principal, float(claims["exp"])


def _decode_with_pyjwt(token: str, secret: str, audience: str | None) -> dict[str, Any]:
    """The claims PyJWT accepts, or AuthenticationError with PyJWT's reason."""
    import jwt  # noqa: PLC0415 - off the cold path: only tokens `_accept_hs256` passes on

    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=audience,
            options={"require": ["exp", "sub"], "verify_aud": audience is not None},
        )
    except jwt.ExpiredSignatureError:
        raise AuthenticationError("token has expired") from None
    except jwt.InvalidTokenError as error:
        raise AuthenticationError(f"invalid token: {error}") from None
    return claims


_BASE64URL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
# Secrets PyJWT's HMAC key check could refuse (PEM, SSH or DER keys, JWKs) or warn about
# (shorter than SHA-256's 32 bytes) never take the fast path.
_MIN_FAST_SECRET_BYTES = 32
_SSH_PREFIXES = (b"ssh-", b"ecdsa-")
_fast_secrets: dict[str, bytes | None] = {}


def _fast_secret(secret: str) -> bytes | None:
    """The secret's bytes when it is plainly an HMAC secret PyJWT takes without a word: at least
    32 printable ASCII characters, no JSON or PEM punctuation, not DER- or SSH-shaped."""
    known = _fast_secrets.get(secret, b"")
    if known != b"":
        return known
    key = secret.encode("utf-8", "surrogatepass")
    plain = (
        len(key) >= _MIN_FAST_SECRET_BYTES
        and all(0x21 <= byte <= 0x7E for byte in key)
        and not any(mark in key for mark in (b"-----", b"{", b"[", b'"'))
        and not key.startswith(b"0")  # 0x30 opens a DER SEQUENCE
        and not key.startswith(_SSH_PREFIXES)
    )
    fast = key if plain else None
    if len(_fast_secrets) < 64:  # a process has one or two secrets; bound it all the same
        _fast_secrets[secret] = fast
    return fast


def _segment(segment: str) -> bytes | None:
    """A base64url segment as PyJWT decodes it, but only in its canonical unpadded form."""
    raw = segment.encode("ascii")
    if len(raw) % 4 == 1 or not _BASE64URL.issuperset(raw):
        return None
    try:
        decoded = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        return None
    if base64.urlsafe_b64encode(decoded).rstrip(b"=") != raw:
        return None  # non-canonical trailing bits: let PyJWT say why
    return decoded


def _json_object(data: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _int_claim(claims: dict[str, Any], name: str) -> int | None:
    try:
        return int(claims[name])  # PyJWT's reading: int() of whatever the claim holds
    except (ValueError, TypeError, OverflowError):
        return None


def _accept_hs256(token: str, secret: str, audience: str | None) -> dict[str, Any] | None:
    """The claims of a token PyJWT would accept with `algorithms=["HS256"]`, `require=["exp",
    "sub"]`, no leeway and the audience checked only when given; None for anything else (PyJWT
    then decides). Every test below is one PyJWT makes, or stricter."""
    key = _fast_secret(secret)
    if key is None or not token.isascii():
        return None
    parts = token.split(".")
    if len(parts) != 3:
        return None
    header_data, payload_data, signature = (_segment(part) for part in parts)
    if header_data is None or payload_data is None or signature is None:
        return None
    header = _json_object(header_data)
    # alg confusion: only HS256 is allowed, whatever the header says; `crit`/`b64` (RFC 7797)
    # and a non-string `kid` are left to PyJWT.
    if header is None or header.get("alg") != ALGORITHM or "crit" in header or "b64" in header:
        return None
    if "kid" in header and not isinstance(header["kid"], str):
        return None
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    expected = hmac.new(key, signing_input, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        return None
    claims = _json_object(payload_data)
    if claims is None or claims.get("exp") is None or claims.get("sub") is None:
        return None
    now = time.time()
    for name in ("iat", "nbf"):
        if name in claims:
            value = _int_claim(claims, name)
            if value is None or value > now:
                return None
    exp = _int_claim(claims, "exp")
    if exp is None or exp <= now:
        return None
    if audience is not None and not _audience_accepted(claims, audience):
        return None
    if not isinstance(claims["sub"], str):
        return None
    if "jti" in claims and not isinstance(claims["jti"], str):
        return None
    return claims


def _audience_accepted(claims: dict[str, Any], audience: str) -> bool:
    aud = claims.get("aud")
    if not aud:
        return False
    names = [aud] if isinstance(aud, str) else aud
    return isinstance(names, list) and all(isinstance(n, str) for n in names) and audience in names


def mint_token(
    secret: str, *, subject: str, scope: str, ttl_s: int = 3600, audience: str | None = None
) -> str:
    """A signed token (for the sandbox, demos and tests; production tokens come from the IdP)."""
    now = int(time.time())
    claims: dict[str, object] = {"sub": subject, "scope": scope, "iat": now, "exp": now + ttl_s}
    if audience is not None:
        claims["aud"] = audience
    import jwt  # noqa: PLC0415 - minting is for tests and the sandbox, not the request path

    return jwt.encode(claims, secret, algorithm=ALGORITHM)
