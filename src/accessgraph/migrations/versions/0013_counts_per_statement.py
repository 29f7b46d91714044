"""PostgreSQL keeps the team's size and the personal tokens' number once per statement

Migrations 0011 and 0012 kept `organizations.live_users` and `personal_tokens` with a trigger
run for each row. On PostgreSQL, every run updates the same organization row, and a transaction
that updates one row many times leaves a version behind for each: the next update walks past
all of them. Loading n users or tokens in one transaction therefore took time in n squared
(500,000 tokens did not load in 15 minutes).

Inserts and deletes are now counted once per statement, from its transition table: one update
per organization, whatever the number of rows. A change of a row's organization, deleted_at or
subscription is still counted per row, but only when it changes what is counted (a `WHEN`
clause), so every other update of a user or token (a login, a token's last use) runs no trigger.
SQLite keeps its row triggers: it updates a row in place, so they stay linear.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


class _Count(NamedTuple):
    """A number kept on `organizations`: the rows of `table` for which `counted` holds.

    (A NamedTuple: alembic loads this file without registering it as a module, which a
    dataclass needs.)"""

    column: str  # on organizations
    table: str
    counted: str  # of a row called `affected`
    columns: str  # those `counted` and the organization depend on
    changed: str  # of OLD and NEW: the row moved into or out of a count
    row_function: str  # 0011/0012's function, kept for updates

    @property
    def statement_function(self) -> str:
        return f"{self.row_function}_statement"

    def delta(self, rows: str, sign: str) -> str:
        # Every part is one of this file's constants.
        return f"""UPDATE organizations SET {self.column} = {self.column} {sign} counted.n
        FROM (SELECT affected.org_id, count(*) AS n FROM {rows} AS affected
              WHERE {self.counted} GROUP BY affected.org_id) AS counted
        WHERE organizations.id = counted.org_id;"""  # noqa: S608


_COUNTS = (
    _Count(
        column="live_users",
        table="users",
        counted="affected.deleted_at IS NULL",
        columns="deleted_at, org_id",
        changed="OLD.org_id IS DISTINCT FROM NEW.org_id"
        " OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)",
        row_function="users_live_count",
    ),
    _Count(
        column="personal_tokens",
        table="access_tokens",
        counted="affected.subscription_id IS NULL",
        columns="subscription_id, org_id",
        changed="OLD.org_id IS DISTINCT FROM NEW.org_id"
        " OR (OLD.subscription_id IS NULL) <> (NEW.subscription_id IS NULL)",
        row_function="personal_tokens_count",
    ),
)


def _upgrade_postgres(count: _Count) -> None:
    # Plpgsql plans each statement when it first runs, so each branch names only the
    # transition table its trigger declares.
    op.execute(f"""CREATE FUNCTION {count.statement_function}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {count.delta("inserted", "+")}
    ELSE
        {count.delta("deleted", "-")}
    END IF;
    RETURN NULL;
END
$$""")
    op.execute(f"DROP TRIGGER {count.row_function} ON {count.table}")
    op.execute(f"""CREATE TRIGGER {count.row_function}_insert AFTER INSERT ON {count.table}
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION {count.statement_function}()""")
    op.execute(f"""CREATE TRIGGER {count.row_function}_delete AFTER DELETE ON {count.table}
REFERENCING OLD TABLE AS deleted
FOR EACH STATEMENT EXECUTE FUNCTION {count.statement_function}()""")
    # The row function handles UPDATE as before (out of the old organization's count, into
    # the new one's); the WHEN clause spares it every update that changes neither.
    op.execute(f"""CREATE TRIGGER {count.row_function}_update
AFTER UPDATE OF {count.columns} ON {count.table}
FOR EACH ROW WHEN ({count.changed}) EXECUTE FUNCTION {count.row_function}()""")


def _downgrade_postgres(count: _Count) -> None:
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER {count.row_function}_{event} ON {count.table}")
    op.execute(f"DROP FUNCTION {count.statement_function}()")
    op.execute(f"""CREATE TRIGGER {count.row_function}
AFTER INSERT OR DELETE OR UPDATE OF {count.columns} ON {count.table}
FOR EACH ROW EXECUTE FUNCTION {count.row_function}()""")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for count in _COUNTS:
            _upgrade_postgres(count)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for count in _COUNTS:
            _downgrade_postgres(count)
