"""Add the publisher of each job (jobs.owner) and the shared token buckets of the rate limiter.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Nullable: jobs recorded before this revision (and records produced around the API, with
    # no `ce_dpppublisher` header) have no known publisher; only a `jobs:read` token reads them.
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("owner", sa.String(255), nullable=True))

    op.create_table(
        "rate_limit_buckets",
        sa.Column("bucket", sa.String(512), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("refilled_at", sa.Float(), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name="pk_rate_limit_buckets"),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_buckets")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("owner")
