"""outbox: partial indexes for the pending and the in-flight rows

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")
INFLIGHT = sa.text("status IN ('claimed', 'sending')")


def upgrade() -> None:
    op.create_index("ix_outbox_pending", "outbox", ["id"], postgresql_where=PENDING,
                    sqlite_where=PENDING)
    op.create_index("ix_outbox_pending_subject", "outbox", ["subject", "id"],
                    postgresql_where=PENDING, sqlite_where=PENDING)
    op.create_index("ix_outbox_inflight", "outbox", ["lease_until"],
                    postgresql_where=INFLIGHT, sqlite_where=INFLIGHT)


def downgrade() -> None:
    op.drop_index("ix_outbox_inflight", table_name="outbox")
    op.drop_index("ix_outbox_pending_subject", table_name="outbox")
    op.drop_index("ix_outbox_pending", table_name="outbox")
