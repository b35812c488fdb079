"""Resolves the Apache Kafka jars from Maven Central once, into a per-version cache folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from dpp_cli.sandbox.errors import MissingToolError, SandboxError

KAFKA_VERSION = "4.1.1"
SLF4J_VERSION = "2.0.17"
LOG4J_VERSION = "2.24.3"
MIN_JAVA_MAJOR = 17

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dpp.sandbox</groupId><artifactId>kafka-sandbox</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId>
      <version>{slf4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j2-impl</artifactId><version>{log4j}</version></dependency>
  </dependencies>
</project>
"""


def cache_root() -> Path:
    """`$DPP_CACHE_DIR`, else `$XDG_CACHE_HOME/dpp`, else `~/.cache/dpp`."""
    if explicit := os.environ.get("DPP_CACHE_DIR"):
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "dpp"


def java_executable() -> str:
    """The `java` to run the broker with, checked to be Java 17 or newer."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not candidate or not Path(candidate).exists():
        raise MissingToolError(
            "Java 17+ is required to run the Kafka sandbox but `java` was not found. "
            "Install it with `sudo apt-get install -y openjdk-17-jre-headless` "
            "(or set JAVA_HOME)."
        )
    output = subprocess.run(
        [candidate, "-version"], capture_output=True, text=True, check=False
    ).stderr
    major = _java_major(output)
    if major is not None and major < MIN_JAVA_MAJOR:
        raise MissingToolError(
            f"Kafka {KAFKA_VERSION} needs Java {MIN_JAVA_MAJOR}+, found Java {major} at "
            f"{candidate}. Install openjdk-17-jre-headless or point JAVA_HOME at a newer JDK."
        )
    return candidate


def _java_major(version_output: str) -> int | None:
    for token in version_output.split('"')[1:2]:
        head = token.split(".")[0]
        if head == "1":  # 1.8-style versions
            return int(token.split(".")[1])
        if head.isdigit():
            return int(head)
    return None


def kafka_libs(version: str = KAFKA_VERSION) -> Path:
    """Folder of the Kafka broker's jars, resolving them with Maven on first use."""
    libs = cache_root() / f"kafka-{version}" / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MissingToolError(
            "Maven is required once, to fetch the Kafka jars from Maven Central, but `mvn` was "
            "not found. Install it with `sudo apt-get install -y maven`."
        )
    libs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dpp-kafka-pom-") as workdir:
        pom = Path(workdir) / "pom.xml"
        pom.write_text(_POM.format(kafka=version, slf4j=SLF4J_VERSION, log4j=LOG4J_VERSION))
        result = subprocess.run(
            [
                mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
                f"-DoutputDirectory={libs}", "-DincludeScope=runtime",
            ],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    if result.returncode != 0:
        raise SandboxError(
            f"Maven could not resolve Apache Kafka {version} from Maven Central:\n"
            f"{(result.stdout + result.stderr)[-2000:]}"
        )
    marker.write_text(version)
    return libs
