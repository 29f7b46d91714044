"""Settings: ACCESSGRAPH_* variables, the generated secret key, production refusals."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from accessgraph.settings import Settings, SettingsError


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"ACCESSGRAPH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'ag.db'}", **extra}


def test_missing_secret_is_generated_once_beside_the_database(tmp_path: Path) -> None:
    first = Settings.from_env(_env(tmp_path))
    key_file = tmp_path / "accessgraph.secret"
    assert key_file.read_text().strip() == first.secret_key
    assert len(first.secret_key) >= 48
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert Settings.from_env(_env(tmp_path)).secret_key == first.secret_key


def test_empty_secret_file_is_refused_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "accessgraph.secret").write_text("")
    with pytest.raises(SettingsError, match="empty"):
        Settings.from_env(_env(tmp_path))
    assert (tmp_path / "accessgraph.secret").read_text() == ""


def test_explicit_secret_wins_and_writes_no_file(tmp_path: Path) -> None:
    settings = Settings.from_env(_env(tmp_path, ACCESSGRAPH_SECRET_KEY="k" * 40))
    assert settings.secret_key == "k" * 40
    assert not (tmp_path / "accessgraph.secret").exists()


@pytest.mark.parametrize("secret", ["changeme", "short-secret"])
def test_production_refuses_weak_secret(tmp_path: Path, secret: str) -> None:
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env(
            _env(tmp_path, ACCESSGRAPH_ENV="production", ACCESSGRAPH_SECRET_KEY=secret)
        )


def test_production_with_postgres_requires_a_secret() -> None:
    env = {
        "ACCESSGRAPH_DATABASE_URL": "postgresql+asyncpg://u@h/db",
        "ACCESSGRAPH_ENV": "production",
    }
    with pytest.raises(SettingsError, match="required in production"):
        Settings.from_env(env)


def test_invitation_ttl_is_a_decimal_number_of_hours(tmp_path: Path) -> None:
    assert (
        Settings.from_env(
            _env(tmp_path, ACCESSGRAPH_INVITATION_TTL_HOURS="0.5")
        ).invitation_ttl_hours
        == 0.5
    )
    with pytest.raises(SettingsError, match="INVITATION_TTL_HOURS"):
        Settings.from_env(_env(tmp_path, ACCESSGRAPH_INVITATION_TTL_HOURS="soon"))
    with pytest.raises(SettingsError, match="positive"):
        Settings.from_env(_env(tmp_path, ACCESSGRAPH_INVITATION_TTL_HOURS="0"))


def test_unknown_env_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="ACCESSGRAPH_ENV"):
        Settings.from_env(_env(tmp_path, ACCESSGRAPH_ENV="staging"))


def test_public_url_trailing_slash_is_dropped(tmp_path: Path) -> None:
    settings = Settings.from_env(
        _env(tmp_path, ACCESSGRAPH_PUBLIC_URL="https://console.acme.test/")
    )
    assert settings.public_url == "https://console.acme.test"
