"""The MSK IAM stand-in broker: the sandbox's Kafka jars plus the validator and authorizer jar
(built with Maven once per source hash), a SASL_SSL OAUTHBEARER listener on loopback like MSK's
port 9098, the role policies rendered from Terraform, and static test credentials."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dpp_cli.sandbox.broker import BROKER_LOG4J, broker_reachable
from dpp_cli.sandbox.distribution import KAFKA_VERSION, cache_root, java_executable, kafka_libs
from dpp_ops.children import kill_group
from dpp_ops.ports import free_port

SOURCE = Path(__file__).with_name("standin")
READY_TIMEOUT_S = 90.0
IAM_LISTENER = "IAM"
# Where the log lines of the stand-in's two classes go: WARN for refusals, INFO for each
# authenticated connection (the tests read both from the broker log).
_LOG4J = (
    BROKER_LOG4J
    + """logger.standin.name = dpp.mskiam
logger.standin.level = info
"""
)


class StandInError(RuntimeError):
    """The stand-in could not be built or started; the message carries Maven's or Kafka's
    output."""


def _source_hash() -> str:
    digest = hashlib.sha256(KAFKA_VERSION.encode())
    for path in sorted(p for p in SOURCE.rglob("*") if p.is_file() and "target" not in p.parts):
        digest.update(str(path.relative_to(SOURCE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def standin_jar() -> Path:
    """The stand-in's jar, built with Maven into a cache folder named by its sources' hash (and
    the broker's Kafka version): a session pays for `mvn package` only after a change."""
    jar = cache_root() / "msk-iam-standin" / _source_hash() / "msk-iam-standin.jar"
    if jar.exists():
        return jar
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StandInError("mvn is not installed (./dev test installs it from tests/programs.tsv)")
    with tempfile.TemporaryDirectory(prefix="dpp-msk-iam-build-") as workdir:
        project = Path(workdir) / "standin"
        shutil.copytree(SOURCE, project, ignore=shutil.ignore_patterns("target"))
        # Offline first: once ~/.m2 holds the plugins and kafka-clients, no registry is asked;
        # the first build on a machine goes to Maven Central.
        for offline in (["-o"], []):
            result = subprocess.run(
                ["mvn", "-q", "-B", *offline, "-f", str(project / "pom.xml"),
                 f"-Dkafka.version={KAFKA_VERSION}", "package"],
                capture_output=True, text=True, timeout=600, check=False,
            )  # fmt: skip
            if result.returncode == 0:
                break
        if result.returncode != 0:
            raise StandInError(f"mvn package failed:\n{(result.stdout + result.stderr)[-3000:]}")
        jar.parent.mkdir(parents=True, exist_ok=True)
        partial = jar.with_suffix(".partial")
        shutil.copy(project / "target" / "msk-iam-standin-1.jar", partial)
        partial.rename(jar)
    return jar


def write_tls_material(folder: Path) -> tuple[Path, Path]:
    """A private CA and a server certificate for 127.0.0.1/localhost, as PEM files: the
    listener's key store and the CA the clients trust (KAFKA_SSL_CA_LOCATION)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dpp MSK IAM stand-in CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    keystore = folder / "broker.pem"
    keystore.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + server.public_bytes(serialization.Encoding.PEM)
    )
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return keystore, ca_file


@dataclass(frozen=True)
class Role:
    """A role the stand-in knows: its static access key pair and its identity policy."""

    name: str
    access_key_id: str
    secret_access_key: str
    policy: dict[str, Any]

    def environment(self, region: str) -> dict[str, str]:
        """The variables botocore's default chain reads, as ECS/Lambda would provide them."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
        }


def new_role(name: str, policy: dict[str, Any]) -> Role:
    return Role(name, f"AKIA{uuid.uuid4().hex[:16].upper()}", uuid.uuid4().hex, policy)


@dataclass
class MskIamBroker:
    """One KRaft broker with a PLAINTEXT listener (the broker's own and the tests' admin, which
    stand for AWS's side) and the IAM listener (SASL_SSL, OAUTHBEARER) that every role uses."""

    home: Path
    region: str
    cluster_arn: str
    roles: list[Role]
    plaintext_port: int = 0
    iam_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        return self.home / "kafka.log"

    @property
    def ca_file(self) -> Path:
        return self.home / "ca.pem"

    @property
    def admin_bootstrap(self) -> str:
        return f"127.0.0.1:{self.plaintext_port}"

    @property
    def iam_bootstrap(self) -> str:
        return f"127.0.0.1:{self.iam_port}"

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def _write_inputs(self) -> dict[str, str]:
        keystore, _ca = write_tls_material(self.home)
        credentials = self.home / "credentials.json"
        credentials.write_text(
            json.dumps(
                {
                    "access_keys": {
                        r.access_key_id: {"secret_access_key": r.secret_access_key, "role": r.name}
                        for r in self.roles
                    }
                },
                indent=2,
            )
        )
        policies = self.home / "policies.json"
        policies.write_text(json.dumps({"roles": {r.name: r.policy for r in self.roles}}, indent=2))
        listener = IAM_LISTENER.lower()
        jaas = (
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
            f'credentialsFile="{credentials}" region="{self.region}" '
            # The login module also signs the broker in (for connections it would open itself
            # on this listener, which it never does); Kafka's unsecured login serves that.
            'unsecuredLoginStringClaim_sub="broker";'
        )
        prefix = f"listener.name.{listener}"
        return {
            "listener.security.protocol.map": (
                f"PLAINTEXT:PLAINTEXT,{IAM_LISTENER}:SASL_SSL,CONTROLLER:PLAINTEXT"
            ),
            f"{prefix}.sasl.enabled.mechanisms": "OAUTHBEARER",
            f"{prefix}.oauthbearer.sasl.jaas.config": jaas,
            f"{prefix}.oauthbearer.sasl.server.callback.handler.class": (
                "dpp.mskiam.IamTokenValidator"
            ),
            f"{prefix}.ssl.keystore.type": "PEM",
            f"{prefix}.ssl.keystore.location": str(keystore),
            "authorizer.class.name": "dpp.mskiam.IamPolicyAuthorizer",
            "msk.iam.listener": IAM_LISTENER,
            "msk.iam.cluster.arn": self.cluster_arn,
            "msk.iam.policies.file": str(policies),
        }  # fmt: skip

    def start(self) -> None:
        # The sandbox's own settings, so this broker differs from it in its listeners only.
        from dpp_cli.sandbox.broker import _server_properties

        java = java_executable()
        libs = kafka_libs()
        jar = standin_jar()
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "log4j2.properties").write_text(_LOG4J)
        self.plaintext_port, self.iam_port, controller_port = free_port(), free_port(), free_port()
        data_dir = self.home / "data"
        data_dir.mkdir()
        properties = dict(
            line.split("=", 1)
            for line in _server_properties(
                data_dir, self.plaintext_port, controller_port
            ).splitlines()
            if line
        )
        properties |= {
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.plaintext_port},"
                f"{IAM_LISTENER}://127.0.0.1:{self.iam_port},CONTROLLER://127.0.0.1:{controller_port}"
            ),
            "advertised.listeners": (
                f"PLAINTEXT://127.0.0.1:{self.plaintext_port},{IAM_LISTENER}://127.0.0.1:{self.iam_port}"
            ),
        } | self._write_inputs()
        config = data_dir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
        classpath = f"{libs}/*:{jar}"
        formatted = subprocess.run(
            [java, "-cp", classpath, "kafka.tools.StorageTool", "format",
             "-t", str(uuid.uuid4()), "-c", str(config)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if formatted.returncode != 0:
            raise StandInError(f"formatting storage failed:\n{formatted.stdout}{formatted.stderr}")
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    java, "-Xms256m", "-Xmx384m", "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1",
                    f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
                    "-cp", classpath, "kafka.Kafka", str(config),
                ],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not broker_reachable(self.admin_bootstrap, timeout_s=1.0):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise StandInError(f"the stand-in broker did not start:\n{self.log()[-4000:]}")

    def stop(self) -> None:
        if self.process is None:
            return
        kill_group(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kill_group(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None
