"""HS256 tokens checked with hmac/hashlib answer exactly as PyJWT does, over good and bad tokens."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any

import jwt
import pytest

from dpp_producer import auth
from dpp_producer.auth import Principal, authenticate
from dpp_producer.errors import AuthenticationError

SECRET = "fast-path-test-secret-" + "q" * 32
OTHER_SECRET = "another-fast-path-secret-" + "w" * 32
AUDIENCE = "dpp-api"
# The corpus is minted at collection; the whole suite may run for many minutes before these
# tests do, so "valid" and "in the future" are a day ahead, not minutes.
AHEAD_S = 86_400


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "svc-a",
        "scope": "events:demo",
        "iat": now,
        "exp": now + AHEAD_S,
    }
    claims.update(extra)
    return {name: value for name, value in claims.items() if value is not None}


def _signed(claims: dict[str, Any], secret: str = SECRET, **headers: Any) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers=headers or None)


def _raw(header: Any, payload: Any, secret: str = SECRET) -> str:
    """A token with exactly this header and payload JSON, HS256-signed over them."""
    import hashlib
    import hmac

    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


@dataclass(frozen=True)
class Case:
    name: str
    token: str
    secret: str = SECRET
    audience: str | None = None
    fast: bool = False
    """True when the hmac path itself must accept it (PyJWT is only the fallback)."""


def _corpus() -> list[Case]:
    now = int(time.time())
    good = _signed(_claims())
    head, body, signature = good.split(".")
    none_header = _b64(json.dumps({"alg": "none"}).encode())
    jwk = '{"kty":"oct","k":"' + "a" * 40 + '"}'
    pem = "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----"
    return [
        Case("plain", good, fast=True),
        Case("with typ and kid", _signed(_claims(), typ="JWT", kid="k1"), fast=True),
        Case("audience given and matching", _signed(_claims(aud=AUDIENCE)), audience=AUDIENCE,
             fast=True),
        Case("audience in a list", _signed(_claims(aud=["x", AUDIENCE])), audience=AUDIENCE,
             fast=True),
        Case("aud claim but no audience asked", _signed(_claims(aud="other")), fast=True),
        Case("nbf and iat in the past", _signed(_claims(nbf=now - 5, iat=now - 5)), fast=True),
        Case("jti string", _signed(_claims(jti="abc")), fast=True),
        Case("exp as a digit string", _signed(_claims(exp=str(now + AHEAD_S))), fast=True),
        Case("exp as a float", _signed(_claims(exp=now + AHEAD_S + 0.5)), fast=True),
        Case("no scope", _signed(_claims(scope=None)), fast=True),
        Case("scope not a string", _signed(_claims(scope=["events:*"])), fast=True),
        Case("wrong secret", good, secret=OTHER_SECRET),
        Case("expired", _signed(_claims(exp=now - 1))),
        Case("exp now", _signed(_claims(exp=now - 0))),
        Case("exp not a number", _signed(_claims(exp="soon"))),
        Case("exp a list", _signed(_claims(exp=[now + AHEAD_S]))),
        Case("exp infinite", _raw({"alg": "HS256"}, {"sub": "a", "exp": 1e400})),
        Case("nbf in the future", _signed(_claims(nbf=now + AHEAD_S))),
        Case("nbf not a number", _signed(_claims(nbf="later"))),
        Case("iat in the future", _signed(_claims(iat=now + AHEAD_S))),
        Case("iat not a number", _signed(_claims(iat={"x": 1}))),
        Case("missing exp", _signed(_claims(exp=None))),
        Case("missing sub", _signed(_claims(sub=None))),
        Case("exp null", _raw({"alg": "HS256"}, {"sub": "a", "exp": None})),
        Case("sub a number", _signed(_claims(sub=42))),
        Case("jti a number", _signed(_claims(jti=7))),
        Case("audience mismatch", _signed(_claims(aud="other")), audience=AUDIENCE),
        Case("audience missing", _signed(_claims()), audience=AUDIENCE),
        Case("audience empty", _signed(_claims(aud="")), audience=AUDIENCE),
        Case("aud list with a number", _signed(_claims(aud=[AUDIENCE, 3])), audience=AUDIENCE),
        Case("aud a dict", _signed(_claims(aud={"a": AUDIENCE})), audience=AUDIENCE),
        Case("alg none", f"{none_header}.{body}."),
        Case("alg HS512", jwt.encode(_claims(), SECRET, algorithm="HS512")),
        Case("alg RS256 header, HMAC signature", _raw({"alg": "RS256"}, _claims())),
        Case("alg hs256 lower case", _raw({"alg": "hs256"}, _claims())),
        Case("no alg", _raw({"typ": "JWT"}, _claims())),
        Case("kid a number", _raw({"alg": "HS256", "kid": 5}, _claims())),
        Case("crit unknown", _raw({"alg": "HS256", "crit": ["exp"], "exp": 1}, _claims())),
        Case("b64 false", _raw({"alg": "HS256", "b64": False, "crit": ["b64"]}, _claims())),
        Case("header a list", _raw(["HS256"], _claims())),
        Case("payload a list", _raw({"alg": "HS256"}, ["svc-a"])),
        Case("payload a string", _raw({"alg": "HS256"}, "svc-a")),
        Case("header not JSON", f"{_b64(b'not json')}.{body}.{signature}"),
        Case("payload not JSON", _raw({"alg": "HS256"}, {}).split(".")[0] + "." + _b64(b"{")
             + "." + signature),
        Case("signature tampered", f"{head}.{body}.{signature[:-2]}AA"),
        Case("signature truncated", f"{head}.{body}.{signature[:10]}"),
        Case("signature empty", f"{head}.{body}."),
        Case("padding added", f"{head}.{body}.{signature}="),
        Case("non-canonical last character", f"{head}.{body}.{signature[:-1]}"
             + ("B" if signature[-1] == "A" else chr(ord(signature[-1]) + 1))),
        Case("characters outside base64url", f"{head}.{body}!.{signature}"),
        Case("standard base64 characters", f"{head}.{body.replace('-', '+')}+.{signature}"),
        Case("two segments", f"{head}.{body}"),
        Case("four segments", f"{good}.{signature}"),
        Case("one segment", head),
        Case("not ascii", f"{head}.{body}é.{signature}"),
        Case("short secret", _signed(_claims(), secret="short-secret"), secret="short-secret"),
        Case("pem-shaped secret", _raw({"alg": "HS256"}, _claims(), secret=pem), secret=pem),
        Case("jwk-shaped secret", _raw({"alg": "HS256"}, _claims(), secret=jwk), secret=jwk),
    ]  # fmt: skip


def _by_pyjwt(case: Case) -> tuple[str, Any]:
    """What the producer answered when PyJWT alone verified HS256 tokens (the code before)."""
    try:
        claims = jwt.decode(
            case.token,
            case.secret,
            algorithms=["HS256"],
            audience=case.audience,
            options={"require": ["exp", "sub"], "verify_aud": case.audience is not None},
        )
    except jwt.ExpiredSignatureError:
        return "refused", "token has expired"
    except jwt.InvalidTokenError as error:
        return "refused", f"invalid token: {error}"
    except Exception as error:
        return "raised", (type(error).__name__, str(error))
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        return "refused", "claim 'scope' must be a space-separated string"
    return "accepted", (Principal(str(claims["sub"]), frozenset(scope.split())), claims["exp"])


def _by_producer(case: Case) -> tuple[str, Any]:
    try:
        principal = authenticate(f"Bearer {case.token}", case.secret, case.audience)
    except AuthenticationError as error:
        return "refused", str(error)
    except Exception as error:
        return "raised", (type(error).__name__, str(error))
    claims = jwt.decode(case.token, options={"verify_signature": False})
    return "accepted", (principal, claims["exp"])


CASES = _corpus()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_authenticate_answers_as_pyjwt_did(case: Case) -> None:
    with warnings.catch_warnings(record=True) as before:
        warnings.simplefilter("always")
        expected = _by_pyjwt(case)
    with warnings.catch_warnings(record=True) as now:
        warnings.simplefilter("always")
        answered = _by_producer(case)
    assert answered == expected
    # PyJWT's short-key warning is still given where it was.
    assert [type(w.message) for w in now] == [type(w.message) for w in before]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_hmac_path_accepts_only_what_pyjwt_accepts(case: Case) -> None:
    fast = auth._accept_hs256(case.token, case.secret, case.audience)
    if case.fast:
        assert fast is not None, "an ordinary good token must not need PyJWT"
        assert fast == jwt.decode(
            case.token, case.secret, algorithms=["HS256"], audience=case.audience,
            options={"require": ["exp", "sub"], "verify_aud": case.audience is not None},
        )  # fmt: skip
    else:
        assert fast is None


def test_the_handler_imports_neither_pyjwt_nor_cryptography() -> None:
    code = (
        "import sys, dpp_producer.lambda_handler; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'jwt', 'cryptography'}))"
    )
    env = {**os.environ, "DPP_ENV": "sandbox"}
    env.pop("LAMBDA_TASK_ROOT", None)
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert completed.stdout.strip() == "[]"
