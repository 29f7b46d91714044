"""`User.of` and `Token.of` make their objects without the dataclass `__init__` (issue 8,
`schema.base.made`): the objects must be what `__init__` makes, every field set."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry

import accessgraph.schema  # noqa: F401  (resolves the types' lazy annotations)
from accessgraph import models
from accessgraph.resolvers.tokens import TokenRow
from accessgraph.schema.base import made
from accessgraph.schema.tokens import Token
from accessgraph.schema.users import User

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
CTX: Any = SimpleNamespace(now=NOW)


def _user() -> models.User:
    return models.User(
        id=7,
        org_id=1,
        email="ada@example.test",
        email_normalized="ada@example.test",
        first_name="Ada",
        last_name=None,
        role=models.TeamRole.DEVELOPER,
        status=models.UserStatus.ACTIVE,
        last_login_at=NOW - timedelta(days=1),
        created_at=NOW - timedelta(days=30),
    )


def _as_init_makes_it(made: Any) -> None:
    cls = type(made)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    assert set(vars(made)) == names  # every field, nothing else
    assert vars(made) == vars(cls(**vars(made)))


def test_a_user_is_what_its_init_makes() -> None:
    user = User.of(_user(), CTX)
    _as_init_makes_it(user)
    assert (user.first_name, user.last_name, user.email) == ("Ada", None, "ada@example.test")
    assert user.deleted_at is None and user.created_at == NOW - timedelta(days=30)


def test_a_user_with_a_column_not_loaded_reads_it_through_the_model() -> None:
    model = _user()
    del model.__dict__["email"]  # as an expired attribute: not in the instance's dict
    user = User.of(model, CTX)
    _as_init_makes_it(user)
    assert user.email is None  # what the attribute reads for a transient instance


@pytest.mark.parametrize("as_row", [False, True], ids=["model", "row"])
def test_a_token_is_what_its_init_makes(as_row: bool) -> None:
    model = models.AccessToken(
        id=3,
        org_id=1,
        owner_id=7,
        name="ci",
        permission=models.TokenPermission.READ_ONLY,
        username="tok-3",
        secret_hash="0" * 64,
        created_at=NOW - timedelta(days=2),
        expires_at=NOW - timedelta(days=1),
        last_used_at=None,
    )
    source = TokenRow(**{name: getattr(model, name) for name in TokenRow._fields})
    token = Token.of(source if as_row else model, CTX)
    _as_init_makes_it(token)
    assert token.status == models.TokenStatus.EXPIRED
    assert token.expires_at == NOW - timedelta(days=1)


def test_made_refuses_values_that_do_not_name_every_field() -> None:
    @strawberry.type
    class Pair:
        left: int
        right: int
        _note: strawberry.Private[str]

    with pytest.raises(TypeError, match="right"):
        made(Pair, {"left": 1, "_note": ""})
    with pytest.raises(TypeError, match="middle"):
        made(Pair, {"left": 1, "right": 2, "middle": 3, "_note": ""})
    pair = made(Pair, {"left": 1, "right": 2, "_note": "n"})
    _as_init_makes_it(pair)
