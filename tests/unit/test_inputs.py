"""Input objects of scalars and enums are built in one step (schema/inputs.py, issue 8), and
the result is exactly what strawberry's field-by-field conversion builds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from strawberry.types.arguments import convert_argument
from strawberry.types.base import StrawberryObjectDefinition, StrawberryOptional
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition

from accessgraph.schema import build_schema
from accessgraph.schema.inputs import build_inputs_in_one_step

SCHEMA = build_schema()
BUILT = build_inputs_in_one_step(SCHEMA)


def _definition(name: str) -> StrawberryObjectDefinition:
    definition = SCHEMA.schema_converter.type_map[name].definition
    assert isinstance(definition, StrawberryObjectDefinition)
    return definition


def _sample(field_type: Any) -> Any:
    """A value as graphql-core hands it over (an enum as its Python member)."""
    inner = field_type.of_type if isinstance(field_type, StrawberryOptional) else field_type
    if isinstance(inner, StrawberryEnumDefinition) or has_enum_definition(inner):
        enum = (
            inner
            if isinstance(inner, StrawberryEnumDefinition)
            else inner.__strawberry_definition__
        )
        return next(iter(enum.wrapped_cls))
    samples: dict[Any, Any] = {
        int: 7,
        bool: True,
        float: 1.5,
        datetime: datetime(2026, 1, 2, tzinfo=UTC),
    }
    return samples.get(inner, "value")


def _values(name: str, *, optional_too: bool) -> dict[str, Any]:
    definition = _definition(name)
    config = SCHEMA.config
    values = {}
    for field in definition.fields:
        field_type = field.resolve_type(type_definition=definition)
        if optional_too or not isinstance(field_type, StrawberryOptional):
            values[config.name_converter.from_field(field)] = _sample(field_type)
    return values


def _by_strawberry(name: str, value: dict[str, Any]) -> Any:
    definition = _definition(name)
    hook, definition.from_input = definition.from_input, None
    try:
        return convert_argument(
            value, definition.origin, SCHEMA.schema_converter.scalar_registry, SCHEMA.config
        )
    finally:
        definition.from_input = hook


def _in_one_step(name: str, value: dict[str, Any]) -> Any:
    definition = _definition(name)
    return convert_argument(
        value, definition.origin, SCHEMA.schema_converter.scalar_registry, SCHEMA.config
    )


def test_the_hot_inputs_are_built_in_one_step() -> None:
    assert {"CheckAccessInput", "UserFilter", "TokenFilter", "CreateTokenInput"} <= set(BUILT)
    # Nested inputs and lists keep strawberry's conversion.
    assert "CreatePermissionTargetInput" not in BUILT
    assert "UpdateGroupMembersInput" not in BUILT


@pytest.mark.parametrize("name", BUILT)
@pytest.mark.parametrize("optional_too", [True, False], ids=["every field", "required only"])
def test_an_input_built_in_one_step_is_strawberrys(name: str, optional_too: bool) -> None:
    value = _values(name, optional_too=optional_too)
    assert _in_one_step(name, value) == _by_strawberry(name, value)
