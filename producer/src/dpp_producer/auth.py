"""Bearer-token authentication (HS256 JWT, or an identity provider's RS256/ES256 JWT verified
against its JWKS: `dpp_producer.jwks`) and per-event-type scopes."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import jwt

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
    try:
        claims = jwt.decode(
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
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise AuthenticationError("claim 'scope' must be a space-separated string")
    principal = Principal(subject=str(claims["sub"]), scopes=frozenset(scope.split()))
    return principal, float(claims["exp"])


def mint_token(
    secret: str, *, subject: str, scope: str, ttl_s: int = 3600, audience: str | None = None
) -> str:
    """A signed token (for the sandbox, demos and tests; production tokens come from the IdP)."""
    now = int(time.time())
    claims: dict[str, object] = {"sub": subject, "scope": scope, "iat": now, "exp": now + ttl_s}
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
