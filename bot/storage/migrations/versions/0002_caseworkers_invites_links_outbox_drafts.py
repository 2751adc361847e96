"""caseworkers, invites, links, outbox, drafts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:54:44.446633
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "caseworkers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("office_hours", sa.String(length=200), nullable=True),
        sa.Column("municipality_code", sa.String(length=3), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("caseworkers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_caseworkers_email"), ["email"], unique=True)

    op.create_table(
        "code_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_key", sa.String(length=128), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("code_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_code_attempts_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_code_attempts_chat_key"), ["chat_key"], unique=False)

    op.create_table(
        "municipality_contacts",
        sa.Column("code", sa.String(length=3), nullable=False),
        sa.Column("general_email", sa.String(length=254), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "child_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_key", sa.String(length=128), nullable=False),
        sa.Column("caseworker_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=True),
        sa.Column("linked_at", UTCDateTime(), nullable=False),
        sa.Column("announced_caseworker_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["caseworker_id"],
            ["caseworkers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("child_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_child_links_caseworker_id"), ["caseworker_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_child_links_chat_key"), ["chat_key"], unique=True)

    op.create_table(
        "invite_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("caseworker_id", sa.Integer(), nullable=False),
        sa.Column("child_display_name", sa.String(length=80), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["caseworker_id"],
            ["caseworkers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("invite_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invite_codes_caseworker_id"), ["caseworker_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_invite_codes_code_hash"), ["code_hash"], unique=True)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("chat_key", sa.String(length=128), nullable=True),
        sa.Column("caseworker_id", sa.Integer(), nullable=True),
        sa.Column("municipality_code", sa.String(length=3), nullable=True),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("recipient_name", sa.String(length=120), nullable=True),
        sa.Column("display_name", sa.String(length=80), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=120), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("receipt_delivered", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["caseworker_id"],
            ["caseworkers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_chat_key"), ["chat_key"], unique=False)
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["outbox.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delivery_attempts_message_id"), ["message_id"], unique=False
        )

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("draft", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("draft_urgent", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("draft_urgent")
        batch_op.drop_column("draft")

    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_attempts_message_id"))

    op.drop_table("delivery_attempts")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")
        batch_op.drop_index(batch_op.f("ix_outbox_chat_key"))

    op.drop_table("outbox")
    with op.batch_alter_table("invite_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invite_codes_code_hash"))
        batch_op.drop_index(batch_op.f("ix_invite_codes_caseworker_id"))

    op.drop_table("invite_codes")
    with op.batch_alter_table("child_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_child_links_chat_key"))
        batch_op.drop_index(batch_op.f("ix_child_links_caseworker_id"))

    op.drop_table("child_links")
    op.drop_table("municipality_contacts")
    with op.batch_alter_table("code_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_code_attempts_chat_key"))
        batch_op.drop_index(batch_op.f("ix_code_attempts_at"))

    op.drop_table("code_attempts")
    with op.batch_alter_table("caseworkers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_caseworkers_email"))

    op.drop_table("caseworkers")
