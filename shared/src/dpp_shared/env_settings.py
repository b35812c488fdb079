"""`EnvSettings`: settings models read from the environment by pydantic-settings' rules, without
importing pydantic-settings (its import is about 15 ms of a Lambda cold start).

What pydantic-settings 2 does for a model of scalar fields, and all this does: each field is
read from the first environment variable, compared case-insensitively, among its alias (when it
has one) and `env_prefix` + its name (when it has no alias, or `populate_by_name` is on); the
value goes to pydantic as the string it is; keyword arguments, matched to fields the same way,
win over the environment and keep the name they were given by.
`tests/shared/test_env_settings.py` compares it with pydantic-settings over a corpus of
environments and arguments. Fields pydantic-settings would decode as JSON
(lists, dicts, models) are refused when the class is defined, not read differently."""

from __future__ import annotations

import os
import types
import typing
from typing import Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, SecretStr
from pydantic.fields import FieldInfo

_SCALARS = (str, int, float, bool, SecretStr, type(None))


class EnvSettingsConfigDict(ConfigDict, total=False):
    """The model config plus pydantic-settings' `env_prefix`."""

    env_prefix: str


def _is_scalar(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Literal:
        return True
    if origin is Union or origin is types.UnionType:
        return all(_is_scalar(argument) for argument in get_args(annotation))
    if origin is typing.Annotated:
        return _is_scalar(get_args(annotation)[0])
    return annotation in _SCALARS


class EnvSettings(BaseModel):
    """A pydantic model whose instances read the environment, as a `BaseSettings` would."""

    # BaseSettings' own defaults that matter here: defaults are validated, extras refused.
    model_config = EnvSettingsConfigDict(extra="forbid", validate_default=True)
    _names: ClassVar[dict[str, tuple[str, list[tuple[str, str]]]]]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        by_name = bool(
            cls.model_config.get("populate_by_name") or cls.model_config.get("validate_by_name")
        )
        prefix = str(cls.model_config.get("env_prefix", ""))
        names: dict[str, tuple[str, list[tuple[str, str]]]] = {}
        for field_name, field in cls.model_fields.items():
            if not _is_scalar(field.annotation):
                raise TypeError(f"{cls.__name__}.{field_name}: only scalar fields are read")
            candidates = _candidates(field_name, field, prefix, by_name)
            names[field_name] = (_preferred_key(field_name, field), candidates)
        cls._names = names

    def __init__(self, **values: Any) -> None:
        super().__init__(**self._settings_values(values))

    @classmethod
    def _settings_values(cls, values: dict[str, Any]) -> dict[str, Any]:
        """The environment's values under the keyword arguments (matched to fields first)."""
        environment = {name.lower(): value for name, value in os.environ.items()}
        by_name = bool(
            cls.model_config.get("populate_by_name") or cls.model_config.get("validate_by_name")
        )
        found: dict[str, Any] = {}
        for field_name, (preferred, candidates) in cls._names.items():
            for key, variable in candidates:
                value = environment.get(variable)
                if value is not None:
                    found[key if by_name and key == field_name else preferred] = value
                    break
        state = {**found, **_match_arguments(cls, values, by_name)}
        if values:
            _restore_argument_names(cls, values, state, by_name)
        return state


def _preferred_key(field_name: str, field: FieldInfo) -> str:
    alias = field.validation_alias if field.validation_alias is not None else field.alias
    if alias is None:
        return field_name
    if not isinstance(alias, str):
        raise TypeError(f"{field_name}: only plain string aliases are read")
    return alias


def _candidates(
    field_name: str, field: FieldInfo, prefix: str, by_name: bool
) -> list[tuple[str, str]]:
    """(key given to pydantic, lower-case variable name) in the order they are tried."""
    alias = field.validation_alias if field.validation_alias is not None else field.alias
    names: list[tuple[str, str]] = []
    if isinstance(alias, str):
        names.append((alias, alias.lower()))  # the prefix does not apply to an alias
    if alias is None or by_name:
        names.append((field_name, (prefix + field_name).lower()))
    return names


def _match_arguments(
    cls: type[EnvSettings], values: dict[str, Any], by_name: bool
) -> dict[str, Any]:
    """Keyword arguments by field: the alias or (with populate_by_name) the name, in any case,
    given under the field's preferred key; the others unchanged."""
    provided: dict[str, list[str]] = {}
    for key in values:
        provided.setdefault(key.lower(), []).append(key)
    left = set(values)
    matched: dict[str, Any] = {}
    for field_name, (preferred, _) in cls._names.items():
        names = [preferred.lower()]
        if by_name and field_name.lower() not in names:
            names.append(field_name.lower())
        keys = [key for name in names for key in provided.get(name, []) if key in left]
        if keys:
            left.difference_update(keys)
            matched[preferred] = values[keys[0]]
    matched.update((key, value) for key, value in values.items() if key in left)
    return matched


def _restore_argument_names(
    cls: type[EnvSettings], values: dict[str, Any], state: dict[str, Any], by_name: bool
) -> None:
    """A field given as an argument is passed on under the name it was given by (so errors
    name it that way), with the value chosen above; pydantic-settings does the same."""
    for field_name, (preferred, _) in cls._names.items():
        matchable = {preferred, field_name} if by_name else {preferred}
        given = set(values) & matchable
        present = set(state) & matchable
        if given and present:
            target = next(iter(given))  # pydantic-settings' own pick when both names are given
            source = preferred if preferred in present else next(iter(present))
            value = state.pop(source)
            for key in present - {source}:
                state.pop(key, None)
            state[target] = value
