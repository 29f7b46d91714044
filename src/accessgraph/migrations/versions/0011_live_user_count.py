"""organizations.live_users: the team's size, kept by the database (issue 8)

The team page shows how many members an organization has. Counting them is a scan of every
member (4 ms of CPU at 100,000 on SQLite, more on PostgreSQL), so the number is kept beside the
organization instead, by triggers on `users`: every insert, soft delete (`deleted_at` set or
cleared), move and delete of a user row adjusts it in the same transaction, whatever code (or
bulk load) made the change. The upgrade counts the members already there.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 20:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_TRIGGERS = [
    """CREATE TRIGGER users_live_count_insert AFTER INSERT ON users
    WHEN NEW.deleted_at IS NULL
    BEGIN
        UPDATE organizations SET live_users = live_users + 1 WHERE id = NEW.org_id;
    END""",
    """CREATE TRIGGER users_live_count_delete AFTER DELETE ON users
    WHEN OLD.deleted_at IS NULL
    BEGIN
        UPDATE organizations SET live_users = live_users - 1 WHERE id = OLD.org_id;
    END""",
    """CREATE TRIGGER users_live_count_update AFTER UPDATE OF deleted_at, org_id ON users
    BEGIN
        UPDATE organizations SET live_users = live_users - 1
        WHERE id = OLD.org_id AND OLD.deleted_at IS NULL;
        UPDATE organizations SET live_users = live_users + 1
        WHERE id = NEW.org_id AND NEW.deleted_at IS NULL;
    END""",
]

_POSTGRES_FUNCTION = """CREATE FUNCTION users_live_count() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.deleted_at IS NULL THEN
        UPDATE organizations SET live_users = live_users - 1 WHERE id = OLD.org_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.deleted_at IS NULL THEN
        UPDATE organizations SET live_users = live_users + 1 WHERE id = NEW.org_id;
    END IF;
    RETURN NULL;
END
$$"""

_POSTGRES_TRIGGER = """CREATE TRIGGER users_live_count
AFTER INSERT OR DELETE OR UPDATE OF deleted_at, org_id ON users
FOR EACH ROW EXECUTE FUNCTION users_live_count()"""


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("live_users", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE organizations SET live_users = (SELECT count(*) FROM users "
        "WHERE users.org_id = organizations.id AND users.deleted_at IS NULL)"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRES_FUNCTION)
        op.execute(_POSTGRES_TRIGGER)
    else:
        for trigger in _SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER users_live_count ON users")
        op.execute("DROP FUNCTION users_live_count()")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER users_live_count_{name}")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("live_users")
