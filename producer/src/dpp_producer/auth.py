"""Bearer-token authentication (HS256 JWT) and per-event-type scopes."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from dpp_producer.errors import AuthenticationError, ScopeError

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


def authenticate(authorization: str | None, secret: str, audience: str | None = None) -> Principal:
    """Verify the `Authorization: Bearer <jwt>` header; `sub`, `scope` and `exp` are required."""
    if not authorization:
        raise AuthenticationError("missing Authorization: Bearer <token> header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("Authorization header must be 'Bearer <token>'")
    try:
        claims = jwt.decode(
            token.strip(),
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
    return Principal(subject=str(claims["sub"]), scopes=frozenset(scope.split()))


def mint_token(
    secret: str, *, subject: str, scope: str, ttl_s: int = 3600, audience: str | None = None
) -> str:
    """A signed token (for the sandbox, demos and tests; production tokens come from the IdP)."""
    now = int(time.time())
    claims: dict[str, object] = {"sub": subject, "scope": scope, "iat": now, "exp": now + ttl_s}
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
