"""docs/configuration.md lists every environment variable of every settings class."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from types import ModuleType

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from dpp_shared.env_settings import EnvSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
PACKAGES = ("dpp_shared", "dpp_producer", "dpp_consumer")
SETTINGS_MODULES = ("dpp_shared.settings", "dpp_producer.settings", "dpp_consumer.settings")
OUR_ROOTS = {*PACKAGES, "dpp_cli"}
SCRIPT_MODULES = {"__main__", "migrations"}


def _import(name: str) -> ModuleType | None:
    """The module, or None when it needs an optional runtime (a third-party package) that is not
    installed. A broken import of our own code fails the test: it could hide settings."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        missing_root = (error.name or "").split(".")[0]
        if missing_root and missing_root not in OUR_ROOTS:
            return None
        raise


def _modules() -> list[ModuleType]:
    modules: list[ModuleType] = []
    for name in SETTINGS_MODULES:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as error:
            if error.name != name:  # the module exists but fails: report it
                raise
    for package_name in PACKAGES:
        modules.extend(_walk(importlib.import_module(package_name)))
    return modules


def _walk(package: ModuleType) -> list[ModuleType]:
    """The package's modules, recursively, without running scripts that only make sense when
    launched: `__main__` entry points and Alembic migration environments."""
    modules: list[ModuleType] = []
    for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
        leaf = info.name.rsplit(".", 1)[-1]
        if leaf in SCRIPT_MODULES:
            continue
        module = _import(info.name)
        if module is None:
            continue
        modules.append(module)
        if info.ispkg:
            modules.extend(_walk(module))
    return modules


def settings_classes() -> list[type[BaseSettings | EnvSettings]]:
    found: dict[str, type[BaseSettings | EnvSettings]] = {}
    for module in _modules():
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseSettings | EnvSettings)
                and value not in (BaseSettings, EnvSettings)
                and value.__module__.split(".")[0] in PACKAGES
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


def env_names(settings: type[BaseSettings | EnvSettings]) -> list[str]:
    """The environment variable each field is read from (its alias, else prefix + name)."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names = []
    for field_name, field in settings.model_fields.items():
        alias = field.validation_alias or field.alias
        if isinstance(alias, AliasChoices):
            alias = next((choice for choice in alias.choices if isinstance(choice, str)), None)
        name = alias if isinstance(alias, str) else prefix + field_name
        names.append(name.upper())
    return names


def documented_names() -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    return {match.upper() for match in re.findall(r"^\| `([A-Za-z0-9_]+)` \|", text, re.M)}


def test_settings_classes_are_discovered() -> None:
    names = {f"{cls.__module__}.{cls.__qualname__}" for cls in settings_classes()}
    assert {
        "dpp_shared.settings.KafkaSettings",
        "dpp_shared.settings.AwsSettings",
        "dpp_shared.settings.TopicSettings",
        "dpp_shared.settings.DatabaseSettings",
    } <= names


def test_every_environment_variable_is_in_the_table() -> None:
    # Discovered inside the test, not at collection: a broken module fails this test only.
    documented = documented_names()
    missing = {
        f"{cls.__module__}.{cls.__qualname__}": sorted(set(env_names(cls)) - documented)
        for cls in settings_classes()
    }
    missing = {name: variables for name, variables in missing.items() if variables}
    assert not missing, f"add these rows to docs/configuration.md: {missing}"


def test_the_table_has_one_row_per_variable() -> None:
    text = DOC.read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([A-Za-z0-9_]+)` \|", text, re.M)
    assert len(rows) == len(set(rows)), "a variable is listed twice"
    assert "DPP_API_URL" in rows  # the Lambda client's variables are documented too
