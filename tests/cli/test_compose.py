"""docker-compose.yml checked statically (no Docker engine here): names, ports, health, images."""

from __future__ import annotations

import importlib
import pkgutil
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from dpp_shared.env_settings import EnvSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
OUR_SERVICES = ("topics", "producer", "consumer")
# Variables read by third-party images, not by our settings classes.
IMAGE_VARIABLE = re.compile(r"^(KAFKA_(?!BOOTSTRAP_SERVERS|SECURITY_MODE)|POSTGRES_)")


def _settings_env_names() -> set[str]:
    """Every environment variable any settings class of ours reads."""
    names: set[str] = set()
    for package_name in ("dpp_shared", "dpp_producer", "dpp_consumer", "dpp_cli"):
        package = importlib.import_module(package_name)
        for module in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            if ".ml" in module.name or "migrations" in module.name:
                continue
            importlib.import_module(module.name)
    classes: list[type[BaseSettings | EnvSettings]] = []
    pending: list[type[BaseSettings | EnvSettings]] = [BaseSettings, EnvSettings]
    while pending:
        for subclass in pending.pop().__subclasses__():
            classes.append(subclass)
            pending.append(subclass)
    for settings_class in classes:
        prefix = str(settings_class.model_config.get("env_prefix", ""))
        for field_name, field in settings_class.model_fields.items():
            alias = field.validation_alias or field.alias
            names.add((alias if isinstance(alias, str) else prefix + field_name).upper())
    return names


@pytest.mark.parametrize("service", OUR_SERVICES)
def test_every_variable_of_our_services_is_a_setting(service: str) -> None:
    known = _settings_env_names()
    environment = SERVICES[service].get("environment", {})
    unknown = [name for name in environment if name not in known]
    assert not unknown, f"{service} sets variables no settings class reads: {unknown}"


def test_host_ports_do_not_clash() -> None:
    host_ports = [
        str(mapping).split(":")[0]
        for service in SERVICES.values()
        for mapping in service.get("ports", [])
    ]
    assert len(host_ports) == len(set(host_ports)), host_ports


def test_health_checks_and_start_order() -> None:
    for name in ("kafka", "postgres", "producer", "consumer"):
        assert "test" in SERVICES[name].get("healthcheck", {}), f"{name} has no health check"
    assert SERVICES["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert SERVICES["topics"]["command"] == ["dpp", "topics", "apply"]
    for name in ("producer", "consumer"):
        depends = SERVICES[name]["depends_on"]
        assert depends["topics"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
    assert SERVICES["kafka-ui"]["profiles"] == ["ui"]
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:4.")
    assert SERVICES["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


@pytest.mark.parametrize("service", ["producer", "consumer", "topics"])
def test_dockerfiles_exist_and_are_multi_stage_uv_non_root(service: str) -> None:
    build = SERVICES[service]["build"]
    dockerfile = ROOT / build["context"] / build["dockerfile"]
    assert dockerfile.exists(), dockerfile
    text = dockerfile.read_text()
    assert len(re.findall(r"^FROM ", text, flags=re.MULTILINE)) >= 2, "multi-stage build"
    assert "uv sync" in text or "uv pip" in text or "uv export" in text, "built with uv"
    users = re.findall(r"^USER (\S+)", text, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0"), "runs as a non-root user"


def _build_stage(dockerfile: Path) -> str:
    text = dockerfile.read_text()
    start = text.index("# ---- build stage")
    return text[start : text.index("# ---- end of the build stage", start)]


def test_the_two_dockerfiles_share_one_build_stage() -> None:
    """Byte for byte, so the producer and consumer builds share its cached layers."""
    assert _build_stage(ROOT / "producer" / "Dockerfile") == _build_stage(
        ROOT / "consumer" / "Dockerfile"
    )


def test_the_consumer_image_installs_the_dpp_cli_and_the_producer_image_does_not() -> None:
    """Defect 1 (issue 13): ECS runs `dpp consumer run` and `dpp topics apply` in this image."""

    def packages(dockerfile: Path) -> list[str]:
        found = re.search(r'^ARG DPP_PACKAGES="([^"]*)"', dockerfile.read_text(), re.MULTILINE)
        assert found, f"{dockerfile} declares no DPP_PACKAGES default"
        return found[1].split()

    root_project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    assert "dpp" in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert root_project in packages(ROOT / "consumer" / "Dockerfile")
    assert root_project not in packages(ROOT / "producer" / "Dockerfile")


def test_the_compose_producer_accepts_what_the_token_command_signs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`dpp producer token` and `dpp demo` on the host sign with JWT_SECRET, else the sandbox
    secret; the compose producer must verify with that same secret."""
    from dpp_producer.jwt_secret import jwt_secret
    from dpp_producer.settings import ProducerSettings

    for name in ("JWT_SECRET", "JWT_SECRET_ARN", "DPP_ENV"):
        monkeypatch.delenv(name, raising=False)
    signer = jwt_secret(ProducerSettings())
    for name, value in SERVICES["producer"]["environment"].items():
        monkeypatch.setenv(name, str(value))
    assert jwt_secret(ProducerSettings()) == signer
