"""conversations and answer log

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:59:17.854354
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_key", sa.String(length=128), nullable=False),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("municipality_code", sa.String(length=3), nullable=True),
        sa.Column("form", sa.String(length=32), nullable=True),
        sa.Column("last_topic", sa.String(length=64), nullable=True),
        sa.Column("fallback_streak", sa.Integer(), nullable=False),
        sa.Column("robot_disclosed_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conversations_chat_key"), ["chat_key"], unique=True)
        batch_op.create_index(
            batch_op.f("ix_conversations_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "answer_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.String(length=64), nullable=False),
        sa.Column("topic_version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=80), nullable=False),
        sa.Column("shown_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("answer_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_answer_log_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_answer_log_shown_at"), ["shown_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("answer_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_answer_log_shown_at"))
        batch_op.drop_index(batch_op.f("ix_answer_log_conversation_id"))

    op.drop_table("answer_log")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_updated_at"))
        batch_op.drop_index(batch_op.f("ix_conversations_chat_key"))

    op.drop_table("conversations")
