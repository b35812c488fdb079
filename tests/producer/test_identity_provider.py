"""RS256/ES256 tokens verified against a JWKS served on loopback, which rotates its keys."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from dpp_producer.auth import mint_token
from dpp_producer.errors import AuthenticationError
from dpp_producer.jwks import JwksKeys
from dpp_producer.settings import ProducerSettings
from tests.producer import factories
from tests.producer.conftest import AppFactory

ISSUER = "https://idp.example.test/pool-1"
AUDIENCE = "dpp-events-api"


@dataclass
class SigningKey:
    kid: str
    algorithm: str
    private: Any

    def jwk(self) -> dict[str, Any]:
        exporter = RSAAlgorithm if self.algorithm == "RS256" else ECAlgorithm
        document: dict[str, Any] = json.loads(exporter.to_jwk(self.private.public_key()))
        return {**document, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "sub": "idp-user",
            "scope": "events:*",
            "iss": ISSUER,
            "aud": AUDIENCE,
        }
        body |= {"iat": now, "exp": now + 600, **claims}
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(body, self.private, algorithm=self.algorithm, headers={"kid": self.kid})


def rsa_key(kid: str) -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str) -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


@dataclass
class JwksServer:
    """A JWKS endpoint on loopback whose key set the test replaces (a rotation)."""

    keys: list[SigningKey]
    requests: int = 0
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def document(self) -> bytes:
        with self.lock:
            self.requests += 1
            return json.dumps({"keys": [key.jwk() for key in self.keys]}).encode()

    def rotate(self, keys: list[SigningKey]) -> None:
        with self.lock:
            self.keys = keys


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server_state = JwksServer([rsa_key("rsa-1"), ec_key("ec-1")])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = server_state.document()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return None

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{httpd.server_address[1]}/.well-known/jwks.json"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()


def _idp_settings(server: JwksServer, **extra: Any) -> dict[str, Any]:
    return {
        "JWT_JWKS_URL": server.url,
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
        "JWT_JWKS_MIN_REFETCH_S": 60,
        **extra,
    }


def _post(client: TestClient, token: str) -> int:
    response = client.post(
        "/v1/events", json=factories.demo_event(), headers={"Authorization": f"Bearer {token}"}
    )
    status: int = response.status_code
    return status


def test_identity_provider_tokens_are_checked_for_signature_issuer_and_audience(
    make_app: AppFactory, jwks_server: JwksServer
) -> None:
    rsa_1, ec_1 = jwks_server.keys
    with TestClient(make_app(**_idp_settings(jwks_server))) as client:
        assert _post(client, rsa_1.token()) == 202
        assert _post(client, ec_1.token()) == 202
        # A Cognito access token: no `aud`, the app client id in `client_id`.
        cognito = rsa_1.token(aud=None, token_use="access", client_id=AUDIENCE)
        assert _post(client, cognito) == 202
        assert _post(client, rsa_1.token(iss="https://evil.example.test")) == 401
        assert _post(client, rsa_1.token(aud="another-api")) == 401
        assert _post(client, rsa_1.token(aud=None, token_use="id", client_id=AUDIENCE)) == 401
        assert _post(client, rsa_1.token(exp=int(time.time()) - 5)) == 401
        # A key the issuer does not publish, under a published kid: the signature fails.
        impostor = SigningKey("rsa-1", "RS256", rsa_key("x").private)
        assert _post(client, impostor.token()) == 401
        # Scopes still apply to identity-provider tokens.
        assert _post(client, rsa_1.token(scope="events:persona.embedding")) == 403
        # HS256 stays for simple setups (with the configured audience).
        hs256 = mint_token(
            factories.TEST_SECRET, subject="svc", scope="events:*", audience=AUDIENCE
        )
        assert _post(client, hs256) == 202
        # The keys were fetched once, at startup, for all of this.
        assert jwks_server.requests == 1


def test_a_rotated_key_is_fetched_once_and_unknown_kids_are_rate_limited(
    make_app: AppFactory, jwks_server: JwksServer
) -> None:
    with TestClient(make_app(**_idp_settings(jwks_server, JWT_JWKS_MIN_REFETCH_S=0))) as client:
        assert _post(client, jwks_server.keys[0].token()) == 202
        assert jwks_server.requests == 1
        rotated = rsa_key("rsa-2")
        jwks_server.rotate([rotated])
        for _ in range(5):
            assert _post(client, rotated.token()) == 202
        assert jwks_server.requests == 2  # the new kid was fetched once, not per request

    clock = [1000.0]
    keys = JwksKeys(jwks_server.url, min_refetch_s=30.0, clock=lambda: clock[0])
    assert keys.key_for("rsa-2").key_id == "rsa-2"
    fetched = jwks_server.requests
    for kid in ("made-up-1", "made-up-2", "made-up-3"):  # within 30 s of the last fetch
        with pytest.raises(AuthenticationError, match="unknown key id"):
            keys.key_for(kid)
    assert jwks_server.requests == fetched
    clock[0] += 31.0
    for kid in ("made-up-4", "made-up-5", "made-up-6"):
        with pytest.raises(AuthenticationError, match="unknown key id"):
            keys.key_for(kid)
    assert jwks_server.requests == fetched + 1  # one refetch in the window, not three
    clock[0] += 31.0
    jwks_server.rotate([rotated, rsa_key("rsa-3")])
    assert keys.key_for("rsa-3").key_id == "rsa-3"
    assert jwks_server.requests == fetched + 2


def test_the_jwks_fetch_is_bounded_in_time() -> None:
    # A server that accepts the connection and never answers.
    silent = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/jwks.json"
    try:
        keys = JwksKeys(url, timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(AuthenticationError, match="unknown key id"):
            keys.key_for("any")
        assert time.monotonic() - started < 2.0
    finally:
        silent.close()


def test_outside_local_environments_a_jwks_url_needs_issuer_and_audience() -> None:
    with pytest.raises(ValueError, match="JWT_ISSUER and JWT_AUDIENCE"):
        ProducerSettings.model_validate(
            {"DPP_ENV": "prod", "JWT_JWKS_URL": "https://idp.example.test/jwks.json"}
        )
    settings = ProducerSettings.model_validate(
        {
            "DPP_ENV": "prod",
            "JWT_JWKS_URL": "https://idp.example.test/jwks.json",
            "JWT_ISSUER": ISSUER,
            "JWT_AUDIENCE": AUDIENCE,
            # A deployed environment also needs its database and, with no HS256 secret, the
            # event id key (tests/producer/test_settings_and_auth.py).
            "DATABASE_URL": "postgresql://dpp@db.example.test:5432/dpp",
            "DPP_EVENT_ID_SECRET": "e" * 48,
        }
    )
    assert settings.jwks_algorithms == ("RS256", "ES256")
